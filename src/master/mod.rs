//! The master (gunicorn's arbiter): binds, forks and supervises the workers, and turns signals
//! into lifecycle changes: reload by rolling replacement, binary upgrade, graceful and fast
//! stop; with `reload`, a change to the app's files starts the same reload as HUP. It never
//! parses HTTP, and runs application code only to import a Python app once for all workers
//! (`preload_app`) and to call the server hooks (`hooks`: `on_starting`, `pre_fork`,
//! `child_exit`, ...) at their moments. `docs/LIFECYCLE.md` draws the states.

mod control;
mod upgrade;
mod watch;

use crate::app::{AppError, Application, Loader};
use crate::config::{Config, ConfigError, WorkerClass};
use crate::hooks::{Event, ServerHooks, WorkerId};
use crate::sys::heartbeat::{monotonic_ms, Heartbeat};
use crate::sys::pidfile::{Pidfile, PidfileError};
use crate::sys::{self, Listener};
use crate::worker;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

const SIGNAL_TOKEN: Token = Token(0);
/// `reload`'s inotify descriptor; worker pipes are `Token(pid)`, which never comes near it.
const WATCH_TOKEN: Token = Token(usize::MAX);
/// The control socket; its clients take the tokens right after it (pids stay below 2^22).
const CONTROL_TOKEN: Token = Token(1 << 30);
/// The `/metrics` listener; its clients take the tokens right after it.
const SCRAPE_TOKEN: Token = Token((1 << 30) + 1024);
/// The first respawn delay after a boot failure; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a worker told to abort (SIGABRT) has before SIGKILL.
const ABORT_GRACE: Duration = Duration::from_secs(1);

/// Why the master could not run.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// A listening socket could not be set up.
    #[error(transparent)]
    Listen(#[from] sys::listen::ListenError),
    /// service: logs, privileges, chdir or socket activation could not be set up.
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
    /// The pidfile could not be written.
    #[error(transparent)]
    WritePidfile(#[from] PidfileError),
    /// Signal handling could not be set up.
    #[error("cannot set up signal handling: {0}")]
    SetupSignals(Errno),
    /// The event loop failed.
    #[error("cannot poll: {0}")]
    Poll(io::Error),
    /// A pipe to a new worker could not be made.
    #[error("cannot create worker pipe: {0}")]
    CreatePipe(Errno),
    /// The heartbeat page of a new worker could not be mapped.
    #[error("cannot map heartbeat page: {0}")]
    MapHeartbeat(Errno),
    /// fork() failed.
    #[error("cannot fork: {0}")]
    Fork(Errno),
    /// The control socket could not be opened.
    #[error(transparent)]
    OpenControlSocket(#[from] crate::control::socket::ControlError),
    /// The metrics listener could not be opened.
    #[error(transparent)]
    ServeMetrics(#[from] crate::control::scrape::ScrapeError),
    /// A worker pipe could not be watched.
    #[error("cannot register worker pipe: {0}")]
    RegisterPipe(io::Error),
    /// waitpid() failed.
    #[error("cannot reap children: {0}")]
    Reap(Errno),
    /// The TLS files of a configuration built in code cannot be used.
    #[error(transparent)]
    LoadTls(ConfigError),
}

/// What the master needs from its caller: how workers make the application, and how a HUP
/// re-reads the configuration.
pub struct Hooks<'a> {
    /// Makes the application in each worker, after fork.
    pub loader: Loader<'a>,
    /// Re-reads the configuration (the file and the command line) on HUP.
    pub reload: &'a dyn Fn() -> Result<Config, ConfigError>,
}

/// Where one worker stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Forked; loading the application. Its heartbeat has not started: `boot_timeout`, not
    /// `timeout`, bounds it.
    Booting,
    /// Serving.
    Ready,
    /// Was ready; told to stop gracefully (TERM), or retiring by itself after `max_requests`.
    /// Its loop still beats, so `timeout` still applies.
    Retiring,
    /// Told to stop at `since` before it was ready. It acts on the signal only once its
    /// application has loaded, and cannot beat until then, so its silence is no timeout:
    /// its `graceful_timeout` alone bounds it, then SIGKILL.
    Stopping { since: Instant },
    /// Sent SIGKILL for outstaying `graceful_timeout` in `Stopping`; waiting to be reaped.
    Killed,
    /// Silent past `timeout` (sent SIGABRT at `since`, SIGKILL follows), or past
    /// `boot_timeout` (sent SIGKILL).
    Aborting { since: Instant },
}

impl Life {
    /// What a worker becomes when the master tells it to stop: a ready one retires, a booting
    /// one is `Stopping`; one already on its way out stays as it is.
    fn told_to_stop(self, now: Instant) -> Life {
        match self {
            Life::Booting => Life::Stopping { since: now },
            Life::Ready => Life::Retiring,
            other => other,
        }
    }

    /// Stopping as the master asked, or retiring by itself: its exit is no failure.
    fn leaving(self) -> bool {
        matches!(self, Life::Retiring | Life::Stopping { .. } | Life::Killed)
    }
}

/// Why a worker left, as `/metrics` counts it (`forkhorn_worker_exits_total{cause}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// Silent past `timeout` (or `boot_timeout`), aborted.
    Timeout,
    /// Died on a signal or a non-zero status it was not asked for.
    Crash,
    /// Retired by itself: `max_requests` (or `max_worker_memory`) reached.
    MaxRequests,
    /// Replaced by a reload (or a rolled-back one's worker stopped).
    Reload,
    /// Fewer workers asked for (TTOU, `forkhorn ctl workers remove`).
    ScaleDown,
    /// `forkhorn ctl worker kill`.
    Killed,
    /// The master is stopping or pausing.
    Shutdown,
    /// Exited before it was ready.
    BootFailure,
}

impl Cause {
    const ALL: [Cause; 8] = [
        Cause::Timeout,
        Cause::Crash,
        Cause::MaxRequests,
        Cause::Reload,
        Cause::ScaleDown,
        Cause::Killed,
        Cause::Shutdown,
        Cause::BootFailure,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Cause::Timeout => "timeout",
            Cause::Crash => "crash",
            Cause::MaxRequests => "max_requests",
            Cause::Reload => "reload",
            Cause::ScaleDown => "scale_down",
            Cause::Killed => "killed",
            Cause::Shutdown => "shutdown",
            Cause::BootFailure => "boot_failure",
        }
    }
}

/// The lifecycle counters `forkhorn ctl stats` and `/metrics` show.
#[derive(Debug, Default)]
struct Lifecycle {
    worker_starts: u64,
    /// By [`Cause::ALL`] order.
    exits: [u64; Cause::ALL.len()],
    boot_failures: u64,
    /// Reloads that completed, rolled back, or were refused (a bad configuration).
    reloads_ok: u64,
    reloads_rolled_back: u64,
    reloads_failed: u64,
}

/// One live worker process.
#[derive(Debug)]
struct Slot {
    id: usize,
    /// Its place among the live workers (0, 1, ...): the `worker` label of `/metrics`. A new
    /// worker takes the lowest free one, so the labels stay as few as the workers.
    index: usize,
    /// Why the master told it to go, when it did.
    cause: Option<Cause>,
    generation: u64,
    pipe: std::fs::File,
    heartbeat: Heartbeat,
    life: Life,
    spawned: Instant,
    /// The `graceful_timeout` of the configuration it was started with, which it drains by.
    graceful: Duration,
}

/// The configuration a reload can fall back to until its new workers are all ready.
struct Fallback {
    cfg: Config,
    generation: u64,
    listeners: Vec<Rc<Listener>>,
}

/// What the master is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Keeping `workers` workers of the current generation alive.
    Running,
    /// WINCH: no workers; sockets kept; HUP brings workers back.
    Paused,
    /// Waiting for workers to exit; SIGKILL at `deadline`.
    Stopping { deadline: Instant, killed: bool },
}

struct Master<'h> {
    hooks: Hooks<'h>,
    cfg: Config,
    /// Run around each fork when the master has an interpreter (a preloaded app, server hooks).
    fork_hooks: Option<Box<dyn crate::app::ForkHooks>>,
    /// The server hooks (`hooks`), loaded here and inherited by the workers.
    server_hooks: Option<Box<dyn ServerHooks>>,
    /// The generation new workers are spawned in; workers of older ones are replaced.
    generation: u64,
    /// The highest generation ever started (a rolled-back number is not reused).
    newest: u64,
    listeners: Vec<Rc<Listener>>,
    /// Set while a reload is in progress.
    fallback: Option<Fallback>,
    poll: Poll,
    signals: SignalFd,
    workers: HashMap<Pid, Slot>,
    next_id: usize,
    state: State,
    exit_code: i32,
    /// Every worker of the first generation has been ready once.
    booted: bool,
    /// Respawn delay after boot failures, and when the next spawn may happen.
    backoff: Option<(Duration, Instant)>,
    pidfile: Option<Pidfile>,
    upgrade: upgrade::Upgrade,
    /// `reload`: the app's files, watched.
    watcher: Option<watch::Watcher>,
    // service: readiness, reload and watchdog notifications; the workers' identity.
    service: crate::service::MasterService,
    /// When the master started.
    started: Instant,
    /// The control socket (`forkhorn ctl`), when there is one.
    control: Option<crate::control::ControlSocket>,
    /// The `/metrics` listener, when `metrics_bind` is set.
    scrape: Option<crate::control::Scrape>,
    /// Workers keep request counters (someone can read them).
    counting: bool,
    /// The last counters of every worker that exited: what `/metrics` adds to the live ones',
    /// so that no counter goes back when a worker is replaced.
    retired: crate::metrics::tally::Snapshot,
    lifecycle: Lifecycle,
    /// The request total at the start of the current rate window, and the last window's rate.
    rate: control::Rate,
}

/// The signals the master handles; all are blocked and read from a signalfd.
fn master_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGHUP,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGCHLD,
        Signal::SIGTTIN,
        Signal::SIGTTOU,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set
}

/// Runs the master with the application the `app` setting names, re-reading the configuration
/// with `reload` on HUP (what the `forkhorn` command does); returns the process exit status.
/// With `preload_app` the app is loaded here, once, before the workers are forked.
pub fn run(cfg: Config, reload: &dyn Fn() -> Result<Config, ConfigError>) -> Result<i32, MasterError> {
    start(
        cfg,
        Hooks {
            loader: &crate::loader::load_configured,
            reload,
        },
        true,
    )
}

/// How the master binds `cfg`'s addresses; `attempts` as [`sys::BindOptions::attempts`],
/// `owner` the workers' user and group (Unix socket files are theirs).
fn bind_options(cfg: &Config, attempts: u32, owner: sys::privileges::Owner) -> sys::BindOptions<'_> {
    sys::BindOptions {
        backlog: cfg.backlog,
        reuse_port: cfg.reuse_port,
        defer_accept: cfg.defer_accept,
        all: &cfg.bind,
        unix_mode: 0o777 & !cfg.umask,
        unix_owner: owner,
        attempts,
    }
}

/// Tries at a TCP address in use at start-up, a second apart, as gunicorn makes.
const START_BIND_ATTEMPTS: u32 = 5;

/// Runs the master with the given hooks; returns the process exit status.
pub fn run_with(cfg: Config, hooks: Hooks<'_>) -> Result<i32, MasterError> {
    start(cfg, hooks, false)
}

/// Starts `reload`'s watcher and registers it with `poll`; without it (with an error logged) the
/// server still serves, without reloading: reloading is a development convenience.
fn start_watching(cfg: &Config, python: bool, poll: &Poll) -> Option<watch::Watcher> {
    if cfg.reload && python && cfg.preload_app {
        log::warn!("reload: the app is preloaded (preload_app): a change restarts the workers but not the code");
    }
    let watcher = match watch::Watcher::start(cfg, python) {
        Ok(w) => w,
        Err(e) => {
            log::error!("reload: {e}; files are not watched");
            return None;
        }
    };
    match poll
        .registry()
        .register(&mut SourceFd(&watcher.raw_fd()), WATCH_TOKEN, Interest::READABLE)
    {
        Ok(()) => Some(watcher),
        Err(e) => {
            log::error!("reload: cannot poll inotify: {e}; files are not watched");
            None
        }
    }
}

/// Sets `raw_env` in the master, so that the server hooks, a preloaded app and every worker
/// forked from now on see it (a worker sets it again for itself).
fn set_raw_env(cfg: &Config) {
    #[cfg(feature = "python")]
    crate::python::set_environ(&cfg.raw_env);
    // Without an interpreter the master runs no thread besides this one.
    #[cfg(not(feature = "python"))]
    sys::process::set_env(&cfg.raw_env);
}

/// Runs the master; `preload`: the app is the configured one (not a library user's), and
/// `preload_app` is honoured by loading it here.
fn start(mut cfg: Config, hooks: Hooks<'_>, preload: bool) -> Result<i32, MasterError> {
    // Block before binding: a signal that arrives during start-up waits in the signalfd
    // instead of killing a half-started server.
    let mask = master_signals();
    sys::process::block_signals(&mask).map_err(MasterError::SetupSignals)?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(MasterError::SetupSignals)?;
    // A configuration built in code has not read its TLS files yet; the loader's has.
    if cfg.tls.is_none() && cfg.certfile.is_some() {
        cfg.load_tls().map_err(MasterError::LoadTls)?;
    }
    let upgrade = upgrade::Upgrade::capture();
    sys::process::raise_nofile_limit();
    // service: umask, logs, user/group; sockets passed by systemd replace `bind`.
    let service = crate::service::MasterService::start(&cfg)?;
    crate::service::apply_activation(&mut cfg).map_err(crate::service::ServiceError::from)?;
    let upgrading = std::env::var_os(sys::listen::INHERIT_ENV).is_some();
    // As gunicorn's arbiter, which apps read it from to tell the server they run under; the
    // master runs no other thread yet, and raw_env may set it otherwise.
    std::env::set_var("SERVER_SOFTWARE", concat!("forkhorn/", env!("CARGO_PKG_VERSION")));
    // As gunicorn's arbiter: before the hooks or a preloaded app start an interpreter, which
    // takes its copy of the environment (os.environ) once.
    set_raw_env(&cfg);
    // After blocking signals, as for preload_app below.
    let server_hooks = match crate::loader::load_hooks(&cfg) {
        Ok(hooks) => hooks,
        Err(e) => {
            log::error!("Failed to load the server hooks: {e}");
            return Ok(worker::EXIT_BOOT_ERROR);
        }
    };
    if let Some(h) = &server_hooks {
        // As gunicorn's arbiter announces its worker count while it is built, then starts.
        h.call(
            cfg.workers,
            Event::NworkersChanged {
                new: cfg.workers,
                old: None,
            },
        );
        h.call(cfg.workers, Event::OnStarting);
    }
    let mut inherited = sys::listen::take_inherited();
    let owner = service.owner();
    let listeners = sys::bind_all(
        &cfg.bind,
        bind_options(&cfg, START_BIND_ATTEMPTS, owner),
        &mut inherited,
    )?;
    drop(inherited);
    let pidfile = cfg.pidfile.as_deref().map(Pidfile::create).transpose()?;
    // A Python app's sys.argv is the command line, which the process title overwrites.
    #[cfg(feature = "python")]
    crate::python::keep_argv();
    sys::proctitle::set(&crate::service::title("master", &cfg));
    log::info!("Starting forkhorn {}", env!("CARGO_PKG_VERSION"));
    for l in &listeners {
        log::info!("Listening at: {} ({})", l, std::process::id());
    }
    // gunicorn's line and naming: a sync worker with threads is gthread.
    let class = match cfg.worker_class {
        WorkerClass::Sync if cfg.threaded() => WorkerClass::Gthread,
        class => class,
    };
    log::info!("Using worker: {}", class.as_str());
    let poll = Poll::new().map_err(MasterError::Poll)?;
    poll.registry()
        .register(&mut SourceFd(&signals.as_raw_fd()), SIGNAL_TOKEN, Interest::READABLE)
        .map_err(MasterError::Poll)?;
    // Before a preloaded app can start threads: the control socket's bind sets the umask for a
    // moment (server hooks, loaded above, have only been imported, on this thread).
    let (control, scrape) = control::open(&cfg, upgrading, &poll)?;
    // After blocking signals: threads the app starts at import inherit the mask, so every
    // signal still reaches the signalfd.
    let fork_hooks = match preload && cfg.preload_app {
        true => match crate::loader::preload_configured(&cfg) {
            Ok(hooks) => hooks,
            Err(e) => {
                log::error!("Failed to preload the app: {e}");
                return Ok(worker::EXIT_BOOT_ERROR);
            }
        },
        false => None,
    };
    let fork_hooks = fork_hooks.or_else(|| server_hooks.as_ref().map(|h| h.fork_hooks()));
    if let Some(h) = &server_hooks {
        h.listening(&listener_addresses(&listeners));
        h.call(cfg.workers, Event::WhenReady);
    }
    // `configured`: the app the `app` setting names, whose Python files are worth watching; a
    // library user's app is Rust, and only `reload_extra_files` count for it.
    let python = preload && !cfg.app.starts_with("builtin:");
    let watcher = match cfg.reload || cfg.tls_watch {
        true => start_watching(&cfg, python, &poll),
        false => None,
    };
    let mut m = Master {
        hooks,
        cfg,
        fork_hooks,
        server_hooks,
        generation: 1,
        newest: 1,
        listeners: listeners.into_iter().map(Rc::new).collect(),
        fallback: None,
        poll,
        signals,
        workers: HashMap::new(),
        next_id: 1,
        state: State::Running,
        exit_code: 0,
        booted: false,
        backoff: None,
        pidfile,
        upgrade,
        watcher,
        service,
        started: Instant::now(),
        counting: control.is_some() || scrape.is_some(),
        control,
        scrape,
        retired: Default::default(),
        lifecycle: Lifecycle::default(),
        rate: control::Rate::default(),
    };
    let result = m.main_loop();
    if m.upgrade.handed_over() {
        if let Some(c) = m.control.as_mut() {
            c.disown();
        }
        // The new master serves these sockets now; their files must stay.
        for l in m
            .listeners
            .iter_mut()
            .chain(m.fallback.iter_mut().flat_map(|f| f.listeners.iter_mut()))
        {
            if let Some(l) = Rc::get_mut(l) {
                l.disown();
            }
        }
    }
    log::info!("Shutting down: Master");
    m.hook(Event::OnExit);
    result.map(|()| m.exit_code)
}

/// The sockets as hooks see them (`server.LISTENERS`): the address the log prints, the
/// descriptor.
fn listener_addresses<'l>(listeners: impl IntoIterator<Item = &'l Listener>) -> Vec<(String, i32)> {
    listeners.into_iter().map(|l| (l.to_string(), l.raw_fd())).collect()
}

impl Master<'_> {
    /// Calls the server hook for `event`, if there are hooks.
    fn hook(&self, event: Event) {
        if let Some(h) = &self.server_hooks {
            h.call(self.cfg.workers, event);
        }
    }

    /// A worker as hooks see it.
    fn worker_id(&self, id: usize, pid: Option<Pid>) -> WorkerId {
        WorkerId {
            age: id,
            pid: pid.map(Pid::as_raw),
            ppid: std::process::id() as i32,
        }
    }

    fn main_loop(&mut self) -> Result<(), MasterError> {
        let mut events = Events::with_capacity(64);
        loop {
            self.converge()?;
            let listeners = &self.listeners;
            let backlog = || listeners.iter().filter_map(|l| l.accept_queue()).map(u64::from).sum();
            self.service.supervising(self.workers.len(), &backlog); // service: statsd
            if let State::Stopping { .. } = self.state {
                if self.workers.is_empty() {
                    return Ok(());
                }
            }
            let timeout = self.service.poll_timeout(self.next_wakeup()); // service: watchdog
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(MasterError::Poll(e));
                }
            }
            self.service.tick(); // service: watchdog
                                 // Workers' messages first: a HUP must see the READY that came before it.
            let mut signalled = false;
            for ev in events.iter() {
                match ev.token() {
                    SIGNAL_TOKEN => signalled = true,
                    WATCH_TOKEN => {
                        if let Some(w) = self.watcher.as_mut() {
                            w.read();
                        }
                    }
                    t if self.control.as_ref().is_some_and(|c| c.owns(t)) => self.control_ready(t),
                    t if self.scrape.as_ref().is_some_and(|c| c.owns(t)) => self.scrape_ready(t),
                    Token(t) => self.read_pipe(Pid::from_raw(t as i32)),
                }
            }
            self.converge()?;
            if signalled {
                self.handle_signals()?;
            }
            self.reap()?;
            self.check_timers();
            self.check_watcher();
            self.control_tick();
        }
    }

    /// How long the master may sleep: forever with nothing timed; else until the next check.
    fn next_wakeup(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut wake: Option<Duration> = None;
        let mut at = |d: Duration| wake = Some(wake.map_or(d, |w| w.min(d)));
        match self.state {
            State::Stopping { deadline, killed } => at(if killed {
                Duration::from_millis(100)
            } else {
                deadline.saturating_duration_since(now)
            }),
            State::Running | State::Paused => {}
        }
        if let Some((_, when)) = self.backoff {
            at(when.saturating_duration_since(now));
        }
        if let Some(when) = self.watcher.as_ref().and_then(|w| w.deadline()) {
            at(when.saturating_duration_since(now));
        }
        // Heartbeat, boot, stop and abort deadlines are checked once a second while workers
        // exist: one wake-up a second is the whole cost of supervision.
        if !self.workers.is_empty() {
            at(Duration::from_secs(1));
        }
        // service: gunicorn.backlog is sent once a second, paused (WINCH) too.
        if self.cfg.enable_backlog_metric && self.cfg.statsd_host.is_some() {
            at(Duration::from_secs(1));
        }
        wake
    }

    fn handle_signals(&mut self) -> Result<(), MasterError> {
        loop {
            let info = match self.signals.read_signal() {
                Ok(Some(info)) => info,
                Ok(None) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(MasterError::SetupSignals(e)),
            };
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            if sig != Signal::SIGCHLD {
                log::info!(
                    "Handling signal: {}",
                    sig.as_str().trim_start_matches("SIG").to_lowercase()
                );
            }
            match sig {
                Signal::SIGCHLD => {} // reaped after every wake-up
                Signal::SIGTERM => self.stop(true),
                Signal::SIGINT | Signal::SIGQUIT => self.stop(false),
                Signal::SIGHUP => {
                    let _ = self.reload();
                }
                Signal::SIGTTIN => self.scale(1),
                Signal::SIGTTOU => self.scale(-1),
                Signal::SIGUSR1 => self.reopen(),
                Signal::SIGUSR2 => self.start_upgrade(),
                Signal::SIGWINCH => self.winch(),
                _ => {}
            }
        }
    }

    /// TTIN/TTOU (and `forkhorn ctl workers add/remove`): `by` more or fewer workers, never
    /// fewer than one.
    fn scale(&mut self, by: isize) {
        let target = self.cfg.workers.saturating_add_signed(by).max(1);
        let old = self.cfg.workers;
        if target != old {
            self.cfg.workers = target;
            log::info!("Number of workers: {}", self.cfg.workers);
            self.workers_changed(old);
        }
    }

    /// USR1: reopen the log files, the master's and the workers'.
    fn reopen(&mut self) {
        self.service.reopen_logs(); // service: reopen the error log
        self.signal_all(Signal::SIGUSR1)
    }

    /// `nworkers_changed`: the target is now `cfg.workers`, and was `old`.
    fn workers_changed(&self, old: usize) {
        self.hook(Event::NworkersChanged {
            new: self.cfg.workers,
            old: Some(old),
        });
    }

    /// HUP: re-read the configuration and replace the workers, one new ready worker for one old
    /// one. A bad configuration changes nothing. Returns the new generation, or why the reload
    /// was refused.
    fn reload(&mut self) -> Result<u64, String> {
        if matches!(self.state, State::Stopping { .. }) {
            return Err("the server is stopping".into());
        }
        self.service.reload_started(); // service: RELOADING=1
        let mut cfg = match (self.hooks.reload)() {
            Ok(cfg) => cfg,
            Err(e) => {
                return Err(self.refuse_reload(e));
            }
        };
        // service: sockets passed by systemd stay.
        if let Err(e) = crate::service::apply_activation(&mut cfg) {
            return Err(self.refuse_reload(e));
        }
        // The workers' user and group as the new configuration names them, for new socket files.
        let owner = match crate::service::owner_of(&cfg) {
            Ok(owner) => owner,
            Err(e) => return Err(self.refuse_reload(e)),
        };
        // Sockets for addresses that stay are kept (queued connections survive); new ones are
        // bound now; removed ones close once the old workers are gone.
        let mut reuse: Vec<Listener> = Vec::new();
        let mut listeners = Vec::with_capacity(cfg.bind.len());
        for addr in &cfg.bind {
            if let Some(l) = self
                .listeners
                .iter()
                .find(|l| l.addr == *addr && l.per_worker == cfg.reuse_port)
            {
                listeners.push(Rc::clone(l));
                continue;
            }
            // Once: a reload that waits for a port would keep the master from its workers.
            match sys::bind_all(std::slice::from_ref(addr), bind_options(&cfg, 1, owner), &mut reuse) {
                Ok(mut v) => {
                    if let Some(l) = v.pop() {
                        log::info!("Listening at: {} ({})", l, std::process::id());
                        listeners.push(Rc::new(l));
                    }
                }
                Err(e) => {
                    return Err(self.refuse_reload(e));
                }
            }
        }
        // service: the logs follow the new configuration.
        if let Err(e) = self.service.reconfigure(&cfg) {
            return Err(self.refuse_reload(e));
        }
        crate::logging::set_level(cfg.loglevel);
        // The hooks are read again, as gunicorn re-reads its config file; their failure leaves
        // nothing else changed (the logs are put back).
        match &self.server_hooks {
            Some(h) => {
                if let Err(e) = h.reload(cfg.hooks.as_deref()) {
                    // The logs were already set up for the new configuration.
                    if let Err(e) = self.service.reconfigure(&self.cfg) {
                        log::error!("{e}");
                    }
                    crate::logging::set_level(self.cfg.loglevel);
                    return Err(self.refuse_reload(e));
                }
            }
            None if cfg.hooks.is_some() => log::warn!(
                "hooks set to {}: server hooks are loaded when the master starts (restart it, or USR2)",
                cfg.hooks.as_deref().unwrap_or_default()
            ),
            None => {}
        }
        if (
            &cfg.control_socket,
            cfg.control_socket_mode,
            cfg.control_socket_disable,
            cfg.metrics_bind,
        ) != (
            &self.cfg.control_socket,
            self.cfg.control_socket_mode,
            self.cfg.control_socket_disable,
            self.cfg.metrics_bind,
        ) {
            log::warn!("control_socket and metrics_bind changes take effect when the master restarts");
        }
        let old_workers = self.cfg.workers;
        let previous = Fallback {
            cfg: std::mem::replace(&mut self.cfg, cfg),
            generation: self.generation,
            listeners: std::mem::replace(&mut self.listeners, listeners),
        };
        // A HUP during a reload falls back to the last configuration that fully booted.
        if self.fallback.is_none() {
            self.fallback = Some(previous);
        }
        self.newest += 1;
        self.generation = self.newest;
        self.backoff = None;
        if self.state == State::Paused {
            self.state = State::Running;
        }
        log::info!(
            "Reloading: generation {} with {} worker(s)",
            self.generation,
            self.cfg.workers
        );
        // As gunicorn's reload: the environment, the new settings, the worker count, then
        // on_reload, before the new workers are forked.
        self.take_in_config();
        self.workers_changed(old_workers);
        self.hook(Event::OnReload);
        Ok(self.generation)
    }

    /// Makes the configuration now in force (a reload's, or the one rolled back to) what the
    /// workers forked next inherit (`raw_env`) and what server hooks read (`server.cfg`,
    /// `server.LISTENERS`).
    fn take_in_config(&self) {
        set_raw_env(&self.cfg);
        if let Some(h) = &self.server_hooks {
            h.configure(&self.cfg);
            h.listening(&listener_addresses(self.listeners.iter().map(|l| &**l)));
        }
    }

    /// Ends a reload that cannot go on: the current configuration and workers stay. Returns
    /// the reason, for the caller's `Err`.
    fn refuse_reload(&mut self, e: impl std::fmt::Display) -> String {
        log::error!("Reload failed, keeping the current configuration: {e}");
        self.service.reload_finished(self.generation, self.cfg.workers); // service: READY=1
        self.lifecycle.reloads_failed += 1;
        e.to_string()
    }

    /// `reload`: once the changed files have gone quiet, reload as HUP does. Paused (WINCH) or
    /// stopping, the change is dropped: only HUP brings paused workers back.
    fn check_watcher(&mut self) {
        let Some(path) = self.watcher.as_mut().and_then(|w| w.take_due(Instant::now())) else {
            return;
        };
        if self.state == State::Running {
            log::info!("Worker reloading: {} modified", path.display());
            let _ = self.reload();
        }
    }

    /// New workers of a reload could not boot: go back to the configuration that served.
    fn roll_back(&mut self) {
        let Some(fb) = self.fallback.take() else {
            return;
        };
        log::error!(
            "Reload failed: the new workers could not boot; keeping generation {}",
            fb.generation
        );
        self.lifecycle.reloads_rolled_back += 1;
        let failed = self.generation;
        self.cfg = fb.cfg;
        self.generation = fb.generation;
        self.listeners = fb.listeners;
        crate::logging::set_level(self.cfg.loglevel);
        self.take_in_config();
        // service: the logs as they were; READY=1 ends the reload.
        if let Err(e) = self.service.reconfigure(&self.cfg) {
            log::error!("{e}");
        }
        self.service.reload_finished(self.generation, self.cfg.workers);
        // The failed generation's other workers did nothing wrong; most are still booting.
        self.retire_where(Cause::Reload, |s| s.generation == failed);
    }

    /// WINCH, unless a terminal's resize may have sent it: gunicorn ignores WINCH when it is
    /// not daemonized for that reason; forkhorn narrows the rule to a master in its terminal's
    /// foreground, so that WINCH still pauses a systemd service or a container (the upgrade's
    /// step, docs/LIFECYCLE.md).
    fn winch(&mut self) {
        if sys::process::in_terminal_foreground() {
            log::debug!("SIGWINCH ignored: in the foreground of a terminal, whose resizes send it");
            return;
        }
        self.pause();
    }

    /// WINCH: stop every worker gracefully but keep the master and its sockets.
    fn pause(&mut self) {
        if self.state != State::Running {
            return;
        }
        self.state = State::Paused;
        self.retire_where(Cause::Shutdown, |_| true);
    }

    /// Starts stopping: graceful (TERM to workers, SIGKILL after graceful_timeout) or fast.
    fn stop(&mut self, graceful: bool) {
        self.service.stopping(); // service: STOPPING=1
        let (sig, wait) = if graceful {
            (Signal::SIGTERM, self.cfg.graceful_timeout)
        } else {
            (Signal::SIGQUIT, Duration::from_secs(1))
        };
        if let State::Stopping { deadline, killed } = self.state {
            // A fast stop may cut a graceful one short, never the other way round.
            if graceful {
                return;
            }
            self.state = State::Stopping {
                deadline: deadline.min(Instant::now() + wait),
                killed,
            };
        } else {
            self.state = State::Stopping {
                deadline: Instant::now() + wait,
                killed: false,
            };
        }
        let now = Instant::now();
        for slot in self.workers.values_mut() {
            slot.life = slot.life.told_to_stop(now);
            slot.cause.get_or_insert(Cause::Shutdown);
        }
        self.signal_all(sig);
        // The workers take what is queued and then close their copies; the master must not keep
        // the sockets alive behind them, or connections would queue for nobody and be reset.
        // (A master that handed its sockets to an upgraded one keeps nothing alive either: the
        // new master holds its own copies.)
        self.drop_listeners();
    }

    fn drop_listeners(&mut self) {
        let handed_over = self.upgrade.handed_over();
        for mut l in self
            .listeners
            .drain(..)
            .chain(self.fallback.take().into_iter().flat_map(|f| f.listeners))
        {
            if handed_over {
                if let Some(l) = Rc::get_mut(&mut l) {
                    l.disown();
                }
            }
        }
    }

    fn signal_all(&self, sig: Signal) {
        for pid in self.workers.keys() {
            let _ = kill(*pid, sig);
        }
    }

    /// TERM to every booting or ready worker `pick` chooses, for `cause`.
    fn retire_where(&mut self, cause: Cause, pick: impl Fn(&Slot) -> bool) {
        let now = Instant::now();
        for (pid, slot) in self.workers.iter_mut() {
            if matches!(slot.life, Life::Booting | Life::Ready) && pick(slot) {
                slot.life = slot.life.told_to_stop(now);
                slot.cause.get_or_insert(cause);
                let _ = kill(*pid, Signal::SIGTERM);
            }
        }
    }

    /// Brings the worker set towards `workers` ready workers of the current generation:
    /// spawns what is missing, retires old workers as new ones become ready, and finishes a
    /// reload once only new workers remain.
    fn converge(&mut self) -> Result<(), MasterError> {
        if self.state != State::Running {
            return Ok(());
        }
        let gen = self.generation;
        let target = self.cfg.workers;
        // Old workers that are not serving yet never will: stop them now.
        self.retire_where(Cause::Reload, |s| s.generation != gen && s.life == Life::Booting);

        let current = |s: &Slot| s.generation == gen && matches!(s.life, Life::Booting | Life::Ready);
        let mut have = self.workers.values().filter(|s| current(s)).count();
        while have < target {
            if let Some((_, when)) = self.backoff {
                if Instant::now() < when {
                    break;
                }
            }
            self.spawn()?;
            have += 1;
        }
        // Too many of the current generation (TTOU): retire the oldest surplus.
        if have > target {
            let mut ids: Vec<usize> = self.workers.values().filter(|s| current(s)).map(|s| s.id).collect();
            ids.sort_unstable();
            let surplus: Vec<usize> = ids.into_iter().take(have - target).collect();
            self.retire_where(Cause::ScaleDown, |s| surplus.contains(&s.id));
        }
        // Rolling replacement: an old worker goes only when a new one can take its share.
        let ready_new = self
            .workers
            .values()
            .filter(|s| s.generation == gen && s.life == Life::Ready)
            .count();
        let mut old: Vec<(usize, Pid)> = self
            .workers
            .iter()
            .filter(|(_, s)| s.generation != gen && s.life == Life::Ready)
            .map(|(p, s)| (s.id, *p))
            .collect();
        old.sort_unstable();
        let mut serving = ready_new + old.len();
        for (_, pid) in old {
            if serving <= target {
                break;
            }
            if let Some(slot) = self.workers.get_mut(&pid) {
                slot.life = Life::Retiring;
                slot.cause.get_or_insert(Cause::Reload);
                let _ = kill(pid, Signal::SIGTERM);
                serving -= 1;
            }
        }
        if !self.booted && ready_new >= target {
            self.booted = true;
            self.service.booted(target); // service: READY=1
        }
        let others = self.workers.values().any(|s| s.generation != gen && !s.life.leaving());
        if self.fallback.is_some() && ready_new >= target && !others {
            self.fallback = None;
            self.lifecycle.reloads_ok += 1;
            log::info!("Reload complete: generation {} is serving", gen);
            self.service.reload_finished(gen, target); // service: READY=1
        }
        Ok(())
    }

    fn spawn(&mut self) -> Result<(), MasterError> {
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
            .map_err(MasterError::CreatePipe)?;
        // One slot for the loop's thread, one per application thread.
        let slots = 1 + if self.cfg.threaded() { self.cfg.threads } else { 0 };
        let heartbeat = Heartbeat::new(slots, self.counting).map_err(MasterError::MapHeartbeat)?;
        let id = self.next_id;
        self.next_id += 1;
        let mut keep: Vec<RawFd> = self.listeners.iter().map(|l| l.raw_fd()).collect();
        keep.push(write_end.as_raw_fd());
        keep.extend(crate::service::fds_for_workers()); // service: log file and syslog socket
        let listeners: Vec<&Listener> = self.listeners.iter().map(|l| &**l).collect();
        let cfg = &self.cfg;
        let loader = self.hooks.loader;
        let beat = &heartbeat;
        let ppid = std::process::id() as i32;
        self.hook(Event::PreFork(self.worker_id(id, None)));
        let server_hooks = self.server_hooks.as_deref();
        let hooks = self.fork_hooks.as_deref();
        if let Some(h) = hooks {
            h.before_fork();
        }
        let pid = sys::process::fork_child(move || {
            if let Some(h) = hooks {
                h.after_fork_child();
            }
            sys::process::close_fds_except(&keep);
            worker::run(worker::Spec {
                cfg,
                listeners: &listeners,
                to_master: write_end,
                loader,
                heartbeat: beat,
                hooks: server_hooks,
                id: WorkerId {
                    age: id,
                    pid: None,
                    ppid,
                },
            })
        });
        if let Some(h) = hooks {
            h.after_fork_parent();
        }
        let pid = pid.map_err(MasterError::Fork)?;
        if let Some(h) = &self.server_hooks {
            h.forked(self.worker_id(id, Some(pid)));
        }
        let pipe = std::fs::File::from(read_end);
        self.poll
            .registry()
            .register(
                &mut SourceFd(&pipe.as_raw_fd()),
                Token(pid.as_raw() as usize),
                Interest::READABLE,
            )
            .map_err(MasterError::RegisterPipe)?;
        self.lifecycle.worker_starts += 1;
        let index = (0..)
            .find(|i| !self.workers.values().any(|s| s.index == *i))
            .unwrap_or(0);
        self.workers.insert(
            pid,
            Slot {
                id,
                index,
                cause: None,
                generation: self.generation,
                pipe,
                heartbeat,
                life: Life::Booting,
                spawned: Instant::now(),
                graceful: self.cfg.graceful_timeout,
            },
        );
        Ok(())
    }

    fn read_pipe(&mut self, pid: Pid) {
        let Some(slot) = self.workers.get_mut(&pid) else {
            return;
        };
        let mut buf = [0u8; 64];
        loop {
            match slot.pipe.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    for &msg in &buf[..n] {
                        match msg {
                            worker::READY if slot.life == Life::Booting => {
                                slot.life = Life::Ready;
                                self.backoff = None;
                                log::debug!("worker {} (pid: {}) is ready", slot.id, pid);
                            }
                            // Told to stop while booting: it acts on that now, and its loop
                            // beats while it drains, like any retiring worker's.
                            worker::READY if matches!(slot.life, Life::Stopping { .. }) => {
                                slot.life = Life::Retiring;
                            }
                            worker::RETIRING if slot.life == Life::Ready => slot.life = Life::Retiring,
                            _ => {}
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Heartbeat, boot, stop and abort deadlines.
    fn check_timers(&mut self) {
        let now = Instant::now();
        let now_ms = monotonic_ms();
        let timeout = self.cfg.timeout;
        let boot_timeout = self.cfg.boot_timeout;
        // A stopping master has one deadline for every worker.
        let own_deadlines = !matches!(self.state, State::Stopping { .. });
        for (pid, slot) in self.workers.iter_mut() {
            match slot.life {
                Life::Booting if now.duration_since(slot.spawned) > boot_timeout => {
                    log::error!(
                        "Worker (pid:{pid}) did not boot within {}s; killing it",
                        boot_timeout.as_secs()
                    );
                    let _ = kill(*pid, Signal::SIGKILL);
                    slot.life = Life::Aborting { since: now };
                }
                Life::Ready | Life::Retiring if !timeout.is_zero() => {
                    let limit = timeout.as_millis() as u64;
                    let silent = now_ms.saturating_sub(slot.heartbeat.last_beat()) > limit;
                    // A loop that stopped beating (the application on its thread, or the loop
                    // itself, is stuck), or an application thread stuck in one request.
                    let stuck = match silent {
                        // Stuck on the loop's thread, or the loop waits for an application
                        // thread (for the GIL, say): name whichever request is in the app.
                        true => Some(
                            slot.heartbeat
                                .current_request()
                                .or_else(|| slot.heartbeat.stuck_request(now_ms, 0)),
                        ),
                        false => slot.heartbeat.stuck_request(now_ms, limit).map(Some),
                    };
                    if let Some(request) = stuck {
                        match request {
                            Some(req) => log::error!("WORKER TIMEOUT (pid {pid}) serving {req}"),
                            None => log::error!("WORKER TIMEOUT (pid {pid})"),
                        }
                        let _ = kill(*pid, Signal::SIGABRT);
                        slot.life = Life::Aborting { since: now };
                    }
                }
                Life::Stopping { since } if own_deadlines && now.duration_since(since) > slot.graceful => {
                    log::warn!(
                        "Worker (pid:{pid}) did not stop within {}s; killing it",
                        slot.graceful.as_secs_f64()
                    );
                    let _ = kill(*pid, Signal::SIGKILL);
                    slot.life = Life::Killed;
                }
                Life::Aborting { since } if now.duration_since(since) > ABORT_GRACE => {
                    let _ = kill(*pid, Signal::SIGKILL);
                }
                _ => {}
            }
        }
        if let State::Stopping {
            deadline,
            killed: false,
        } = self.state
        {
            if now >= deadline && !self.workers.is_empty() {
                log::warn!("graceful timeout: killing {} worker(s)", self.workers.len());
                self.signal_all(Signal::SIGKILL);
                self.state = State::Stopping { deadline, killed: true };
            }
        }
    }

    /// Collects every exited child: workers (respawned by `converge`), or an upgraded master.
    fn reap(&mut self) -> Result<(), MasterError> {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(MasterError::Reap(e)),
                Ok(s) => s,
            };
            let Some(pid) = status.pid() else { continue };
            let Some(slot) = self.workers.remove(&pid) else {
                self.upgrade.reaped(pid, &status, &mut self.pidfile);
                continue;
            };
            let _ = self.poll.registry().deregister(&mut SourceFd(&slot.pipe.as_raw_fd()));
            // Its last counts stay counted.
            self.retired.add(&slot.heartbeat.counters().read().counters());
            let id = self.worker_id(slot.id, Some(pid));
            self.worker_exited(pid, slot, status);
            self.hook(Event::ChildExit(id));
        }
    }

    fn worker_exited(&mut self, pid: Pid, slot: Slot, status: WaitStatus) {
        let expected = slot.life.leaving() || matches!(self.state, State::Stopping { .. });
        match status {
            // The worker said so itself ("Worker exiting"); gunicorn's master adds nothing.
            WaitStatus::Exited(_, 0) => log::debug!("Worker (pid:{pid}) exited with code 0"),
            WaitStatus::Exited(_, code) => log::error!("Worker (pid:{pid}) exited with code {code}"),
            WaitStatus::Signaled(_, sig, _) if expected && sig == Signal::SIGKILL => {
                log::warn!("Worker (pid:{pid}) was sent SIGKILL")
            }
            WaitStatus::Signaled(_, sig, _) => log::error!("Worker (pid:{pid}) was sent {}!", sig.as_str()),
            _ => {}
        }
        let failed_boot = slot.life == Life::Booting
            || matches!(slot.life, Life::Aborting { .. }) && slot.heartbeat.last_beat() == 0
            || matches!(status, WaitStatus::Exited(_, worker::EXIT_BOOT_ERROR));
        let cause = match (slot.cause, slot.life) {
            (Some(cause), _) => cause,
            _ if failed_boot => Cause::BootFailure,
            (None, Life::Aborting { .. }) => Cause::Timeout,
            (None, Life::Retiring) => Cause::MaxRequests,
            _ if expected => Cause::Shutdown,
            _ => Cause::Crash,
        };
        if let Some(i) = Cause::ALL.iter().position(|c| *c == cause) {
            self.lifecycle.exits[i] += 1;
        }
        if failed_boot && !expected {
            self.lifecycle.boot_failures += 1;
        }
        if !failed_boot || expected {
            return;
        }
        if self.fallback.is_some() && slot.generation == self.generation {
            self.roll_back();
        } else if !self.booted {
            // At start-up a boot failure is a configuration problem, not bad luck: stop. The
            // other workers did nothing wrong, and may still be loading the application: they
            // get TERM and `graceful_timeout`, as in any graceful stop.
            log::error!("Reason: Worker failed to boot.");
            self.exit_code = worker::EXIT_BOOT_ERROR;
            self.stop(true);
        } else {
            let delay = self.backoff.map_or(BACKOFF_START, |(d, _)| (d * 2).min(BACKOFF_MAX));
            log::warn!("Worker failed to boot; next attempt in {} ms", delay.as_millis());
            self.backoff = Some((delay, Instant::now() + delay));
        }
    }

    /// USR2: start the (possibly new) binary as a new master that inherits the sockets.
    fn start_upgrade(&mut self) {
        if self.state != State::Running && self.state != State::Paused {
            return;
        }
        if !self.upgrade.handed_over() {
            self.hook(Event::PreExec);
        }
        let listeners: Vec<&Listener> = self.listeners.iter().map(|l| &**l).collect();
        self.upgrade.start(&listeners, &mut self.pidfile);
    }
}

/// Builds the master hooks for a library user: `make_app` makes the application in each worker;
/// a HUP re-reads `cfg.config_file` if there is one (else keeps `cfg`) and restarts the workers.
pub fn library_hooks_reload(cfg: &Config) -> impl Fn() -> Result<Config, ConfigError> + '_ {
    move || match &cfg.config_file {
        Some(path) => crate::config::load(&crate::config::CommandLine {
            file: Some(path.clone()),
            ..Default::default()
        }),
        None => {
            // The same settings, but the TLS files re-read: a HUP rotates certificates.
            let mut again = cfg.clone();
            again.load_tls()?;
            Ok(again)
        }
    }
}

/// Boxes an application maker as a [`Loader`]-compatible closure.
pub fn loader_from<A, F>(make_app: F) -> impl Fn(&Config) -> Result<Box<dyn Application>, AppError>
where
    A: Application + 'static,
    F: Fn() -> Result<A, AppError>,
{
    move |_| Ok(Box::new(make_app()?))
}
