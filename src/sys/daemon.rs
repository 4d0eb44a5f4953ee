//! `daemon = true`: detaching from the terminal, for init systems that expect a forking server.
//! Not for systemd (use `Type=notify` and leave `daemon` off): systemd tracks the process it
//! started, and a daemon's double fork only hides the master from it.
//!
//! Done as `daemon(7)` asks: fork, `setsid`, fork again (the daemon can never reacquire a
//! terminal), standard streams to `/dev/null`. The process that was started does not exit at
//! once: it waits on a pipe until the daemon reports that it is serving ([`report_ready`]) and
//! exits 0, or exits 1 if the daemon died first, so the command's status tells the caller whether
//! the server came up. Must run before any thread is started.

use super::process;
use nix::errno::Errno;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The daemon's end of the readiness pipe; -1 when not daemonized or already reported.
static READY_PIPE: AtomicI32 = AtomicI32::new(-1);

/// Why the process could not detach.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The readiness pipe could not be made.
    #[error("cannot create a pipe: {0}")]
    CreatePipe(Errno),
    /// fork() failed.
    #[error("cannot fork: {0}")]
    Fork(Errno),
    /// setsid() failed.
    #[error("cannot start a new session: {0}")]
    Setsid(Errno),
    /// The standard streams could not be pointed at /dev/null.
    #[error("cannot redirect the standard streams to /dev/null: {0}")]
    RedirectStdio(io::Error),
}

/// Detaches; returns only in the daemon. The process that called it exits with 0 once the daemon
/// calls `report_ready`, with 1 if the daemon exits before that.
pub fn detach() -> Result<(), DaemonError> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(DaemonError::CreatePipe)?;
    // The started process closes its copy of the daemon's end, so that the daemon's death
    // reads as the end of the pipe, waits for the daemon's word, then leaves; `read_end` goes
    // with the closure, in both processes.
    let mut write_end = Some(write_end);
    process::fork_to_child(|_| {
        drop(write_end.take());
        wait_ready(read_end)
    })
    .map_err(DaemonError::Fork)?;
    nix::unistd::setsid().map_err(DaemonError::Setsid)?;
    process::fork_to_child(|_| {
        // The session leader leaves at once: no exit handlers, no flush of buffers the started
        // process also holds.
        // SAFETY: _exit has no precondition; it ends the process.
        unsafe { libc::_exit(0) }
    })
    .map_err(DaemonError::Fork)?;
    redirect_stdio().map_err(DaemonError::RedirectStdio)?;
    if let Some(fd) = write_end {
        READY_PIPE.store(fd.into_raw_fd(), Ordering::Release);
    }
    Ok(())
}

/// The started process: 0 when the daemon reports ready, 1 when the pipe closes first.
fn wait_ready(pipe: OwnedFd) -> i32 {
    let mut byte = [0u8; 1];
    let mut file = std::fs::File::from(pipe);
    loop {
        match file.read(&mut byte) {
            Ok(1) => return 0,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            _ => {
                eprintln!("forkhorn: the daemon exited before it was ready; see the error log");
                return 1;
            }
        }
    }
}

fn redirect_stdio() -> io::Result<()> {
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null")?;
    for fd in [0, 1, 2] {
        // SAFETY: `null` is open for the call, and dup2 replaces only the file behind 0, 1 or
        // 2, numbers std's streams use without owning them (nothing closes them).
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The daemon is serving: lets the started process exit 0. Does nothing when not daemonized.
pub fn report_ready() {
    let fd: RawFd = READY_PIPE.swap(-1, Ordering::AcqRel);
    if fd >= 0 {
        // SAFETY: the descriptor came from `detach` and is owned by this call alone now.
        let pipe = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let _ = nix::unistd::write(&pipe, b"R");
    }
}
