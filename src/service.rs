//! forkhorn as a system service: the steps the master and each worker take around their core
//! lifecycle so that logs, systemd, privileges and process hygiene work. The master and worker
//! modules call in at a few points, each marked `// service:` there; the order of the steps is
//! here, in one place.
//!
//! Master, at start-up, before binding ([`MasterService::start`]):
//! 1. `umask` (0, the default, keeps the umask forkhorn was started with);
//! 2. resolve `user`/`group` (an unknown name stops start-up);
//! 3. the logs ([`logging::configure`]); log files are given to the workers' user;
//! 4. socket activation ([`apply_activation`]): sockets passed by systemd replace `bind`.
//!
//! The master never changes directory: relative paths (logs, pidfile, sockets, `-c`) stay
//! relative to where forkhorn was started, for HUP and USR2 too. `chdir` is the application's.
//!
//! Master, running: `READY=1` once the first generation's workers are all ready
//! ([`MasterService::booted`]); `RELOADING=1` and `READY=1` around a HUP; `STOPPING=1` on
//! TERM/INT/QUIT; `MAINPID=` when a USR2 upgrade starts or ends ([`upgrade_started`],
//! [`upgrade_ended`]); the watchdog ping from the loop; the logs reopened on USR1; the statsd
//! `gunicorn.workers` gauge and the master's own metrics ([`MasterService::supervising`]).
//!
//! Worker, after fork and before the application is loaded ([`worker_start`]): its own syslog
//! connection, its access log and statsd socket (opened while still privileged, before `chdir`), `chdir`,
//! `raw_env`, then `user`/`group`.

use crate::config::BindAddr;
use crate::config::Config;
use crate::logging::{self, AccessLog, LoggingError};
use crate::metrics::MasterMetrics;
use crate::sys::activation::{self, ActivationError};
use crate::sys::daemon;
use crate::sys::notify::{self, NotifyError, Watchdog};
use crate::sys::privileges::{self, Identity, Owner, PrivilegeError};
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
    /// The sockets passed by the service manager could not be used.
    #[error(transparent)]
    Activation(#[from] ActivationError),
}

/// The workers' user and group `cfg` names (resolving the names), for files the master makes
/// for them.
pub fn owner_of(cfg: &Config) -> Result<Owner, ServiceError> {
    let identity = Identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())?;
    Ok(identity.as_ref().map(Identity::owner).unwrap_or_default())
}

/// What the master holds for the life of the service.
#[derive(Debug)]
pub struct MasterService {
    identity: Option<Identity>,
    watchdog: Watchdog,
    /// `READY=1` has been sent for the first generation.
    announced: bool,
    /// A notification failed and was logged; log again only after a success.
    notify_failing: bool,
    /// statsd, when `statsd_host` is set.
    metrics: Option<MasterMetrics>,
}

impl MasterService {
    /// Start-up steps 1 to 3 (see the module docs).
    pub fn start(cfg: &Config) -> Result<MasterService, ServiceError> {
        if cfg.umask != 0 {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(cfg.umask));
        }
        let identity = Identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())?;
        let owner = identity.as_ref().map(Identity::owner).unwrap_or_default();
        logging::configure(cfg, owner)?;
        Ok(MasterService {
            identity,
            watchdog: Watchdog::from_env(),
            announced: false,
            notify_failing: false,
            metrics: open_metrics(cfg),
        })
    }

    /// The workers' user and group, as resolved at start-up (or the last reload).
    pub fn owner(&self) -> Owner {
        self.identity.as_ref().map(Identity::owner).unwrap_or_default()
    }

    /// Every worker of the first generation is ready (`workers` of them): `READY=1` to systemd,
    /// and the started process of a daemon exits 0. Later calls do nothing.
    pub fn booted(&mut self, workers: usize) {
        if self.announced {
            return;
        }
        self.announced = true;
        log::info!("Ready: {workers} workers serving");
        let result = notify::ready(&format!("{workers} workers, generation 1"));
        self.notified(result);
        daemon::report_ready();
    }

    /// HUP received: `RELOADING=1` (with `MONOTONIC_USEC`), as `Type=notify-reload` requires.
    pub fn reload_started(&mut self) {
        let result = notify::reloading();
        self.notified(result);
    }

    /// The new configuration is accepted: the logs follow it (files, syslog, level).
    pub fn reconfigure(&mut self, cfg: &Config) -> Result<(), ServiceError> {
        let identity = Identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())?;
        logging::configure(cfg, identity.as_ref().map(Identity::owner).unwrap_or_default())?;
        self.identity = identity;
        self.metrics = open_metrics(cfg);
        Ok(())
    }

    /// Called on every turn of the master's loop with the number of worker processes and the
    /// way to count the connections waiting to be accepted: the `gunicorn.workers` gauge when it
    /// changed, the master's error-log counters (and with `enable_backlog_metric`,
    /// `gunicorn.backlog`) once a second.
    pub fn supervising(&mut self, workers: usize, backlog: &dyn Fn() -> u64) {
        if let Some(m) = &mut self.metrics {
            m.tick(workers, backlog, Instant::now());
        }
    }

    /// The reload is over (done, rolled back, or refused): `READY=1` with the generation now
    /// serving.
    pub fn reload_finished(&mut self, generation: u64, workers: usize) {
        let result = notify::ready(&format!("{workers} workers, generation {generation}"));
        self.notified(result);
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
        match logging::reopen() {
            Ok(()) => log::debug!("Reopened the log files"),
            Err(e) => log::error!("{e}"),
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

/// Start-up step 4, and again on every reload: when systemd passed sockets to this process,
/// `bind` becomes `fd://3`, `fd://4`, ... so that the master serves them instead of binding, and
/// a reloaded configuration keeps them. Returns whether it did.
pub fn apply_activation(cfg: &mut Config) -> Result<bool, ActivationError> {
    let Some(passed) = activation::passed_to_this_process()? else {
        return Ok(false);
    };
    cfg.bind = passed.iter().map(|p| BindAddr::Fd(p.fd)).collect();
    for p in passed {
        log::debug!(
            "Socket activation: fd {}{}",
            p.fd,
            p.name.map(|n| format!(" ({n})")).unwrap_or_default()
        );
    }
    Ok(true)
}

/// In the child about to exec an upgraded master: what systemd passed to this master (its
/// sockets, its watchdog) is handed to the new one.
pub fn prepare_exec() {
    activation::hand_to_exec();
    notify::hand_watchdog_to_exec();
}

/// USR2: the new master `pid` is the service's main process from now on (`MAINPID=`), so that
/// the old master's exit does not end the service.
pub fn upgrade_started(pid: i32) {
    if let Err(e) = notify::mainpid(pid) {
        log::warn!("{e}");
    }
}

/// The upgraded master exited: this master is the main process again.
pub fn upgrade_ended() {
    if let Err(e) = notify::mainpid(std::process::id() as i32) {
        log::warn!("{e}");
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
    let access = AccessLog::open(cfg)?;
    crate::sys::process::start_dir(); // remembered before it is left
    if let Some(dir) = &cfg.chdir {
        nix::unistd::chdir(dir).map_err(|source| ServiceError::Chdir {
            path: dir.clone(),
            source,
        })?;
    }
    // Again, for this worker's generation: the master's environment may already hold a newer
    // one's. Single-threaded here (just forked, no application yet).
    crate::sys::process::set_env(&cfg.raw_env);
    if let Some(id) = Identity::resolve(cfg.user.as_deref(), cfg.group.as_deref())? {
        privileges::drop_to(&id)?;
    }
    Ok(access)
}

/// The master's statsd client. Metrics are not worth refusing to start for (gunicorn runs
/// without them too): a failure is a warning.
fn open_metrics(cfg: &Config) -> Option<MasterMetrics> {
    MasterMetrics::open(cfg).unwrap_or_else(|e| {
        log::warn!("{e}; no metrics are sent");
        None
    })
}

/// The process title: `forkhorn: master [NAME]`, NAME being `proc_name` or else the app, as
/// gunicorn's `default_proc_name` is, so that `pgrep -f myproject.wsgi` finds the processes
/// and several servers on one host can be told apart.
pub fn title(role: &str, cfg: &Config) -> String {
    format!("forkhorn: {role} [{}]", cfg.proc_name.as_deref().unwrap_or(&cfg.app))
}
