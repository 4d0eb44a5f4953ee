//! USR2, the binary upgrade: the master starts the (possibly replaced) forkhorn binary as a
//! new master that inherits the listening sockets, so both serve until the operator retires
//! one of them (WINCH + TERM to the old one, or HUP to the old one and TERM to the new one to
//! roll back).
//!
//! The sockets travel as open descriptors across exec, their numbers in the environment
//! variable [`sys::listen::INHERIT_ENV`]; the new master matches them to its `bind` addresses.

use crate::sys::{self, pidfile::Pidfile, process::Ended, Listener};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The upgrade state of a master.
#[derive(Debug)]
pub(super) struct Upgrade {
    /// The binary to exec: the path this master was started from.
    exe: Option<PathBuf>,
    /// The original command line (the process title overwrites argv later).
    argv: Vec<OsString>,
    /// The new master, while it runs.
    child: Option<Pid>,
}

impl Upgrade {
    /// Records how this master was started; call before the process title is changed.
    pub(super) fn capture() -> Upgrade {
        Upgrade {
            exe: std::env::current_exe().ok(),
            argv: std::env::args_os().collect(),
            child: None,
        }
    }

    /// True while a new master serves this master's sockets.
    pub(super) fn handed_over(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the new master. Failures are logged; the old master keeps serving regardless.
    pub(super) fn start(&mut self, listeners: &[&Listener], pidfile: &mut Option<Pidfile>) {
        if let Some(pid) = self.child {
            log::warn!("USR2 ignored: an upgraded master (pid {pid}) is already running");
            return;
        }
        let Some(exe) = &self.exe else {
            log::error!("USR2 ignored: the path of the forkhorn binary is unknown");
            return;
        };
        let Ok(path) = CString::new(exe.as_os_str().as_bytes()) else {
            log::error!("USR2 ignored: the binary path contains a NUL byte");
            return;
        };
        let Ok(args) = self
            .argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<CString>, _>>()
        else {
            log::error!("USR2 ignored: the command line contains a NUL byte");
            return;
        };
        if let Some(pf) = pidfile {
            if let Err(e) = pf.rename_to_oldbin() {
                log::error!("USR2: cannot rename the pidfile: {e}");
            }
        }
        let fds: Vec<String> = listeners.iter().map(|l| l.raw_fd().to_string()).collect();
        let result = sys::process::fork_child(|| {
            for l in listeners {
                if let Err(e) = l.inherit_across_exec() {
                    log::error!("USR2: cannot pass {l} to the new master: {e}");
                    return 1;
                }
            }
            // SAFETY: this runs in the child fork_child made, which has only the thread that
            // forked it: nothing else can read or write the environment meanwhile.
            unsafe { std::env::set_var(sys::listen::INHERIT_ENV, fds.join(",")) };
            // service: systemd's sockets and watchdog go along.
            crate::service::prepare_exec();
            // The new master blocks what it needs itself; a blocked mask would survive exec.
            let _ = sys::process::unblock_all_signals();
            let err = nix::unistd::execv(&path, &args).unwrap_err();
            log::error!("USR2: cannot exec {}: {err}", path.to_string_lossy());
            1
        });
        match result {
            Ok(pid) => {
                log::info!(
                    "Upgrading: started a new master (pid {pid}) with {} socket(s)",
                    fds.len()
                );
                self.child = Some(pid);
                crate::service::upgrade_started(pid.as_raw()); // service: MAINPID=new master
            }
            Err(e) => {
                log::error!("USR2: cannot fork: {e}");
                if let Some(pf) = pidfile {
                    let _ = pf.restore();
                }
            }
        }
    }

    /// A child that is not a worker exited: if it was the new master, this master owns its
    /// sockets and pidfile alone again.
    pub(super) fn reaped(&mut self, pid: Pid, status: &WaitStatus, pidfile: &mut Option<Pidfile>) {
        if self.child != Some(pid) {
            return;
        }
        self.child = None;
        log::info!(
            "The upgraded master (pid {pid}) {}; this master serves alone",
            Ended(status)
        );
        crate::service::upgrade_ended(); // service: MAINPID=this master
        if let Some(pf) = pidfile {
            if let Err(e) = pf.restore() {
                log::error!("cannot restore the pidfile: {e}");
            }
        }
    }
}
