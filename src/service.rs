//! forkhorn as a system service: the steps the master and each worker take around their core
//! lifecycle so that logs, systemd, privileges and process hygiene work. The master and worker
//! modules call in at a few points, each marked `// service:` there; the order of the steps is
//! here, in one place.
//!
//! Master, at start-up ([`MasterService::start`], then [`listeners`]):
//! 1. `chdir` (first, as gunicorn: relative paths in the configuration are taken from there);
//! 2. `umask` (0, the default, keeps the umask forkhorn was started with);
//! 3. resolve `user`/`group` (an unknown name stops start-up);
//! 4. the logs ([`logging::configure`]); log files are given to the workers' user;
//! 5. the pidfile (a live one refuses start-up before anything is bound);
//! 6. the listening sockets: passed by systemd (socket activation), else bound from `bind`.
//!
//! Master, running: `READY=1` once the first generation's workers are all ready
//! ([`MasterService::worker_ready`]), `STOPPING=1` on TERM/INT/QUIT, the watchdog ping from the
//! loop, the logs reopened on USR1. The pidfile is removed when the service value is dropped.
//!
//! Worker, after fork and before the application is loaded ([`worker_start`]): its own syslog
//! connection, `raw_env`, its access log (opened while still privileged), then `user`/`group`.

use crate::config::Config;
use crate::logging::{self, AccessLog, LoggingError};
use crate::sys::activation::{self, ActivationError};
use crate::sys::listen::{ListenError, Listener};
use crate::sys::notify::{self, NotifyError, Watchdog};
use crate::sys::pidfile::{Pidfile, PidfileError};
use crate::sys::privileges::{self, Identity, PrivilegeError};
use crate::sys::{self, daemon};
use nix::errno::Errno;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Why the service steps failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// `chdir` failed.
    #[error("cannot change directory to {}: {source}", path.display())]
    Chdir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: Errno,
    },
    /// The logs could not be set up.
    #[error(transparent)]
    Logging(#[from] LoggingError),
    /// `user`/`group` could not be resolved or taken.
    #[error(transparent)]
    Privileges(#[from] PrivilegeError),
    /// The pidfile could not be written.
    #[error(transparent)]
    Pidfile(#[from] PidfileError),
    /// The sockets passed by the service manager could not be used.
    #[error(transparent)]
    Activation(#[from] ActivationError),
    /// A `bind` address could not be bound.
    #[error(transparent)]
    Listen(#[from] ListenError),
}

/// What the master holds for the life of the service.
#[derive(Debug)]
pub struct MasterService {
    identity: Option<Identity>,
    pidfile: Option<Pidfile>,
    watchdog: Watchdog,
    /// `READY=1` has been sent for the first generation.
    announced: bool,
    /// A notification failed and was logged; log again only after a success.
    notify_failing: bool,
}

impl MasterService {
    /// Start-up steps 1 to 5 (see the module docs).
    pub fn start(cfg: &Config) -> Result<MasterService, ServiceError> {
        if let Some(dir) = &cfg.chdir {
            nix::unistd::chdir(dir).map_err(|source| ServiceError::Chdir {
                path: dir.clone(),
                source,
            })?;
        }
        if cfg.umask != 0 {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(cfg.umask));
        }
        let identity = Identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())?;
        let owner = identity.as_ref().map(Identity::owner).unwrap_or_default();
        logging::configure(cfg, owner)?;
        let pidfile = match &cfg.pidfile {
            Some(path) => Some(Pidfile::create(path)?),
            None => None,
        };
        Ok(MasterService {
            identity,
            pidfile,
            watchdog: Watchdog::from_env(),
            announced: false,
            notify_failing: false,
        })
    }

    /// The pidfile, for the binary upgrade (USR2: [`Pidfile::rename_to_oldbin`]).
    pub fn pidfile_mut(&mut self) -> Option<&mut Pidfile> {
        self.pidfile.as_mut()
    }

    /// The identity workers take, if any.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// A worker became ready; `ready` of the `wanted` workers are. The first time all are:
    /// `READY=1` to systemd, and the started process of a daemon exits 0.
    pub fn worker_ready(&mut self, ready: usize, wanted: usize) {
        if self.announced || ready < wanted {
            return;
        }
        self.announced = true;
        log::info!("Ready: {ready} workers");
        let result = notify::ready(&format!("{ready} workers, generation 1"));
        self.notified(result);
        daemon::report_ready();
    }

    /// Shutdown started.
    pub fn stopping(&mut self) {
        let result = notify::stopping();
        self.notified(result);
    }

    /// The poll timeout, shortened so the loop wakes for the next watchdog ping.
    pub fn poll_timeout(&self, timeout: Option<Duration>) -> Option<Duration> {
        self.watchdog.poll_timeout(timeout, Instant::now())
    }

    /// Called on every turn of the master's loop.
    pub fn tick(&mut self) {
        let result = self.watchdog.tick(Instant::now()).map(|()| true);
        self.notified(result);
    }

    /// USR1 in the master: reopen the error log (the workers get the signal too).
    pub fn reopen_logs(&self) {
        if let Err(e) = logging::reopen() {
            log::error!("{e}");
        }
    }

    fn notified(&mut self, result: Result<bool, NotifyError>) {
        match result {
            Ok(_) => self.notify_failing = false,
            Err(e) if !self.notify_failing => {
                self.notify_failing = true;
                log::warn!("{e}");
            }
            Err(_) => {}
        }
    }
}

/// Start-up step 6: the sockets systemd passed, else `bind`'s addresses bound now.
pub fn listeners(cfg: &Config) -> Result<Vec<Listener>, ServiceError> {
    match activation::listeners()? {
        Some(passed) => {
            let mut out = Vec::with_capacity(passed.len());
            for a in passed {
                log::info!(
                    "Using socket fd {} {} from the service manager{}",
                    a.fd,
                    a.listener,
                    a.name.map(|n| format!(" ({n})")).unwrap_or_default()
                );
                out.push(a.listener);
            }
            Ok(out)
        }
        None => Ok(sys::bind_all(&cfg.bind, cfg.backlog)?),
    }
}

/// The descriptors the master must keep open in a worker it forks.
pub fn fds_for_workers() -> Vec<RawFd> {
    logging::inherited_fds()
}

/// In a new worker, before the application is loaded; returns the worker's access log.
pub fn worker_start(cfg: &Config) -> Result<AccessLog, ServiceError> {
    if let Err(e) = logging::after_fork() {
        // The master's connection worked a moment ago; serve, and say that this worker's lines
        // go to the error log only.
        log::warn!("{e}; this worker logs without syslog");
    }
    for (key, value) in &cfg.raw_env {
        // A worker is single-threaded here (just forked, no application yet), so changing the
        // environment cannot race with a reader.
        std::env::set_var(key, value);
    }
    let access = AccessLog::open(cfg)?;
    if let Some(id) = Identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())? {
        privileges::drop_to(&id)?;
    }
    Ok(access)
}

/// The process title: `forkhorn: master`, or `forkhorn: master [NAME]` with `proc_name`.
pub fn title(role: &str, cfg: &Config) -> String {
    match &cfg.proc_name {
        Some(name) => format!("forkhorn: {role} [{name}]"),
        None => format!("forkhorn: {role}"),
    }
}
