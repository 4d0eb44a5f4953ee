//! Process creation and hygiene: the crate's only `fork()` call (`forkhorn bench` starts other
//! programs through std's `Command`, which forks and execs), closing inherited descriptors in a
//! child, and the signal mask a child starts from.

use nix::sys::signal::{SigSet, SigmaskHow};
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};
use std::fmt;
use std::os::fd::RawFd;

/// The crate's only fork() call. Its callers are the two functions below: in one the child
/// runs a closure and exits, in the other it carries on as the program and the parent exits.
fn fork() -> Result<ForkResult, nix::Error> {
    // SAFETY: fork() copies only the calling thread, so the child must not need a lock that
    // another thread held at that instant (the hazard nix marks this call unsafe for). The
    // allocator is no such lock: glibc's malloc resets its locks in the child. The callers
    // keep the child clear of the others. The daemon's forks run in main before any thread
    // exists. The master's forks (a worker, a new master on USR2) run on the one thread of
    // forkhorn code in the master, which starts no thread of its own (a worker starts its
    // application threads after fork; a program calling `forkhorn::serve` starts none before,
    // as its docs ask). With `preload_app`, the imported app may have started threads: they
    // run Python only while holding the GIL, and the master holds the GIL across the fork
    // (`python::fork`: CPython's fork protocol, what os.fork() does), so the interpreter is
    // copied with no thread inside it; a lock such a thread holds outside Python stays held
    // in the worker, as under gunicorn's preload, and can only stall a worker that takes it.
    // The unit tests that fork while libtest runs other tests on other threads give the child
    // only their own values, allocations and system calls.
    unsafe { nix::unistd::fork() }
}

/// Forks; the child runs `child` and exits with the status it returns, never returning here.
/// The parent gets the child's pid.
pub fn fork_child(child: impl FnOnce() -> i32) -> Result<Pid, nix::Error> {
    match fork()? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let code = child();
            std::process::exit(code)
        }
    }
}

/// Forks; the parent runs `parent` with the child's pid and exits with the status it returns,
/// never returning here; the child returns and carries on as the program (detaching, in
/// `sys::daemon`). Call it before any thread is started.
pub fn fork_to_child(parent: impl FnOnce(Pid) -> i32) -> Result<(), nix::Error> {
    match fork()? {
        ForkResult::Parent { child } => std::process::exit(parent(child)),
        ForkResult::Child => Ok(()),
    }
}

/// How a child ended, for a log line: `exited with status 0`, `was killed by SIGKILL`.
pub struct Ended<'a>(pub &'a WaitStatus);

impl fmt::Display for Ended<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self.0 {
            WaitStatus::Exited(_, code) => write!(f, "exited with status {code}"),
            WaitStatus::Signaled(_, sig, core) => {
                write!(f, "was killed by {}", sig.as_str())?;
                if core {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
            WaitStatus::Stopped(_, sig) => write!(f, "was stopped by {}", sig.as_str()),
            WaitStatus::Continued(_) => f.write_str("was continued"),
            WaitStatus::PtraceEvent(..) | WaitStatus::PtraceSyscall(_) => f.write_str("stopped under ptrace"),
            WaitStatus::StillAlive => f.write_str("is still running"),
        }
    }
}

/// Closes every descriptor above stderr except `keep`: a worker must not hold the master's
/// signalfd, epoll, or other workers' pipes.
pub fn close_fds_except(keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && !keep.contains(fd))
        .collect();
    // The directory's own descriptor is closed by now; closing it again just fails with EBADF.
    for fd in fds {
        let _ = nix::unistd::close(fd);
    }
}

/// Blocks `signals` for this thread (and the children it forks, until they unblock them).
pub fn block_signals(signals: &SigSet) -> Result<(), nix::Error> {
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(signals), None)
}

/// Unblocks every signal.
pub fn unblock_all_signals() -> Result<(), nix::Error> {
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
}

/// Raises the soft open-files limit to the hard limit: `worker_connections` sockets per worker
/// should not fail with EMFILE just because a shell left the soft limit at 1024.
pub fn raise_nofile_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}

/// The directory this process started in, remembered the first time it is asked, which is
/// before anything changes it: a worker asks before it enters `chdir`, and the master, which
/// forked it, never leaves it (or asks first too, for `preload_app`).
pub fn start_dir() -> Option<&'static std::path::Path> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::current_dir().ok()).as_deref()
}

/// Sets `vars` (`raw_env`) in this process's environment. Only while no other thread of the
/// process may read the environment (setenv is not safe against a concurrent getenv): a
/// master before its hooks or app start threads, a worker just forked, a check before it loads
/// anything. With an interpreter running, `os.environ` is the way (`python::set_environ`).
pub fn set_env(vars: &[(String, String)]) {
    for (key, value) in vars {
        std::env::set_var(key, value);
    }
}

/// Whether this process is in the foreground process group of its controlling terminal: the
/// group a terminal sends SIGWINCH to when it is resized (and SIGINT on Ctrl-C). False
/// without a controlling terminal (a daemon, a systemd service, a container without `-t`).
pub fn in_terminal_foreground() -> bool {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    // /dev/tty is the controlling terminal whatever the standard streams are; opening it fails
    // (ENXIO) when there is none. O_NOCTTY: never acquire one here.
    let tty = match open(
        "/dev/tty",
        OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(_) => return false,
    };
    nix::unistd::tcgetpgrp(&tty).is_ok_and(|group| group == nix::unistd::getpgrp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn an_ended_child_reads_as_a_sentence() {
        let pid = Pid::from_raw(42);
        let cases = [
            (WaitStatus::Exited(pid, 0), "exited with status 0"),
            (WaitStatus::Exited(pid, 3), "exited with status 3"),
            (
                WaitStatus::Signaled(pid, Signal::SIGKILL, false),
                "was killed by SIGKILL",
            ),
            (
                WaitStatus::Signaled(pid, Signal::SIGSEGV, true),
                "was killed by SIGSEGV (core dumped)",
            ),
            (WaitStatus::Stopped(pid, Signal::SIGSTOP), "was stopped by SIGSTOP"),
        ];
        for (status, want) in cases {
            assert_eq!(Ended(&status).to_string(), want);
        }
    }
}
