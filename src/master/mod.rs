//! The master (gunicorn's arbiter): binds, forks and supervises the workers, and turns signals
//! into lifecycle changes. It never parses HTTP and never runs application code.

use crate::config::Config;
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
use std::time::{Duration, Instant};

/// Exit status when a worker could not boot.
pub const EXIT_WORKER_BOOT: i32 = 3;

const SIGNAL_TOKEN: Token = Token(0);

/// Why the master could not run.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// A listening socket could not be set up.
    #[error(transparent)]
    Listen(#[from] sys::listen::ListenError),
    /// Signal handling could not be set up.
    #[error("cannot set up signal handling: {0}")]
    SetupSignals(Errno),
    /// The event loop could not be set up.
    #[error("cannot create poll: {0}")]
    CreatePoll(io::Error),
    /// A pipe to a new worker could not be made.
    #[error("cannot create worker pipe: {0}")]
    CreatePipe(Errno),
    /// fork() failed.
    #[error("cannot fork a worker: {0}")]
    Fork(Errno),
    /// A worker pipe could not be watched.
    #[error("cannot register worker pipe: {0}")]
    RegisterPipe(io::Error),
}

/// One live worker process.
#[derive(Debug)]
struct Slot {
    id: usize,
    pipe: std::fs::File,
    ready: bool,
    /// TERM has been sent.
    retiring: bool,
}

/// What the master is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Keeping `workers` workers alive.
    Running,
    /// Waiting for workers to exit; SIGKILL at `deadline`.
    Stopping { deadline: Instant, killed: bool },
}

struct Master<'l> {
    cfg: Config,
    loader: crate::app::Loader<'l>,
    /// Run around each fork when the app was preloaded into the master.
    fork_hooks: Option<Box<dyn crate::app::ForkHooks>>,
    listeners: Vec<Listener>,
    poll: Poll,
    signals: SignalFd,
    workers: HashMap<Pid, Slot>,
    next_id: usize,
    state: State,
    exit_code: i32,
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

/// Runs the master with the application the `app` setting names (what the `forkhorn` command
/// does); returns the process exit status.
pub fn run(cfg: Config) -> Result<i32, MasterError> {
    start(cfg, &crate::app::load_configured, true)
}

/// Runs the master; each worker makes its application with `loader` after fork. Returns the
/// process exit status.
pub fn run_with(cfg: Config, loader: crate::app::Loader<'_>) -> Result<i32, MasterError> {
    start(cfg, loader, false)
}

/// Runs the master; `preload`: honour `preload_app` by loading the configured app here.
fn start(cfg: Config, loader: crate::app::Loader<'_>, preload: bool) -> Result<i32, MasterError> {
    // Block before binding: a signal that arrives during start-up waits in the signalfd
    // instead of killing a half-started server.
    let mask = master_signals();
    sys::process::block_signals(&mask).map_err(MasterError::SetupSignals)?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(MasterError::SetupSignals)?;
    sys::process::raise_nofile_limit();
    let mut listeners = sys::bind_all(&cfg.bind, cfg.backlog)?;
    // A Python app's sys.argv is the command line, which the process title overwrites.
    #[cfg(feature = "python")]
    crate::python::keep_argv();
    sys::proctitle::set("forkhorn: master");
    log::info!("Starting forkhorn {}", env!("CARGO_PKG_VERSION"));
    for l in &listeners {
        log::info!("Listening at: {} ({})", l, std::process::id());
    }
    // After blocking signals: threads the app starts at import inherit the mask, so every
    // signal still reaches the signalfd.
    let fork_hooks = match preload && cfg.preload_app {
        true => match crate::app::preload_configured(&cfg) {
            Ok(hooks) => hooks,
            Err(e) => {
                log::error!("Failed to preload the app: {e}");
                for l in &mut listeners {
                    l.remove_file();
                }
                return Ok(EXIT_WORKER_BOOT);
            }
        },
        false => None,
    };
    let poll = Poll::new().map_err(MasterError::CreatePoll)?;
    poll.registry()
        .register(&mut SourceFd(&signals.as_raw_fd()), SIGNAL_TOKEN, Interest::READABLE)
        .map_err(MasterError::CreatePoll)?;
    let mut m = Master {
        cfg,
        loader,
        fork_hooks,
        listeners,
        poll,
        signals,
        workers: HashMap::new(),
        next_id: 1,
        state: State::Running,
        exit_code: 0,
    };
    let result = m.main_loop();
    for l in &mut m.listeners {
        l.remove_file();
    }
    log::info!("Shutting down: Master");
    result.map(|()| m.exit_code)
}

impl Master<'_> {
    fn main_loop(&mut self) -> Result<(), MasterError> {
        self.spawn_missing()?;
        let mut events = Events::with_capacity(64);
        loop {
            // No timers while running: an idle master sleeps until a signal or a worker speaks.
            let timeout = match self.state {
                State::Running => None,
                State::Stopping { deadline, killed } => Some(if killed {
                    Duration::from_millis(100)
                } else {
                    deadline.saturating_duration_since(Instant::now())
                }),
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(MasterError::CreatePoll(e));
                }
            }
            for ev in events.iter() {
                match ev.token() {
                    SIGNAL_TOKEN => self.handle_signals()?,
                    Token(t) => self.read_pipe(Pid::from_raw(t as i32)),
                }
            }
            self.reap()?;
            match self.state {
                State::Running => self.spawn_missing()?,
                State::Stopping { deadline, killed } => {
                    if self.workers.is_empty() {
                        return Ok(());
                    }
                    if !killed && Instant::now() >= deadline {
                        log::warn!("graceful timeout: killing {} worker(s)", self.workers.len());
                        self.signal_all(Signal::SIGKILL);
                        self.state = State::Stopping { deadline, killed: true };
                    }
                }
            }
        }
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
                Signal::SIGTTIN => {
                    self.cfg.workers += 1;
                    log::info!("Number of workers: {}", self.cfg.workers);
                }
                Signal::SIGTTOU => {
                    if self.cfg.workers > 1 {
                        self.cfg.workers -= 1;
                        log::info!("Number of workers: {}", self.cfg.workers);
                        self.retire_surplus();
                    }
                }
                Signal::SIGUSR1 => self.signal_all(Signal::SIGUSR1),
                _ => log::warn!("{} is not handled yet; ignored", sig.as_str()),
            }
        }
    }

    /// Starts stopping: graceful (TERM to workers, SIGKILL after graceful_timeout) or fast.
    fn stop(&mut self, graceful: bool) {
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
        self.signal_all(sig);
    }

    fn signal_all(&self, sig: Signal) {
        for pid in self.workers.keys() {
            let _ = kill(*pid, sig);
        }
    }

    /// With more workers than configured (after TTOU), gracefully stops the oldest surplus.
    fn retire_surplus(&mut self) {
        let mut live: Vec<(usize, Pid)> = self
            .workers
            .iter()
            .filter(|(_, s)| !s.retiring)
            .map(|(p, s)| (s.id, *p))
            .collect();
        live.sort();
        let surplus = live.len().saturating_sub(self.cfg.workers);
        for (_, pid) in live.into_iter().take(surplus) {
            if let Some(slot) = self.workers.get_mut(&pid) {
                slot.retiring = true;
                let _ = kill(pid, Signal::SIGTERM);
            }
        }
    }

    fn spawn_missing(&mut self) -> Result<(), MasterError> {
        while self.workers.values().filter(|s| !s.retiring).count() < self.cfg.workers {
            self.spawn()?;
        }
        Ok(())
    }

    fn spawn(&mut self) -> Result<(), MasterError> {
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
            .map_err(MasterError::CreatePipe)?;
        let id = self.next_id;
        self.next_id += 1;
        let mut keep: Vec<RawFd> = self.listeners.iter().map(Listener::raw_fd).collect();
        keep.push(write_end.as_raw_fd());
        let cfg = &self.cfg;
        let listeners = &self.listeners;
        let loader = self.loader;
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
                id,
                cfg,
                listeners,
                to_master: write_end,
                loader,
            })
        });
        if let Some(h) = hooks {
            h.after_fork_parent();
        }
        let pid = pid.map_err(MasterError::Fork)?;
        let pipe = std::fs::File::from(read_end);
        self.poll
            .registry()
            .register(
                &mut SourceFd(&pipe.as_raw_fd()),
                Token(pid.as_raw() as usize),
                Interest::READABLE,
            )
            .map_err(MasterError::RegisterPipe)?;
        self.workers.insert(
            pid,
            Slot {
                id,
                pipe,
                ready: false,
                retiring: false,
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
                    if buf[..n].contains(&worker::READY) && !slot.ready {
                        slot.ready = true;
                        log::debug!("worker {} (pid: {}) is ready", slot.id, pid);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Collects every exited child; a worker that failed to boot stops the server.
    fn reap(&mut self) -> Result<(), MasterError> {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(MasterError::SetupSignals(e)),
                Ok(s) => s,
            };
            let Some(pid) = status.pid() else { continue };
            let Some(slot) = self.workers.remove(&pid) else {
                continue;
            };
            let _ = self.poll.registry().deregister(&mut SourceFd(&slot.pipe.as_raw_fd()));
            let stopping = slot.retiring || matches!(self.state, State::Stopping { .. });
            match status {
                WaitStatus::Exited(_, 0) => log::info!("Worker exiting (pid: {pid})"),
                WaitStatus::Exited(_, worker::EXIT_BOOT_ERROR) => {
                    log::error!("Worker (pid:{pid}) failed to boot.");
                    if !stopping {
                        self.exit_code = EXIT_WORKER_BOOT;
                        log::error!("Reason: Worker failed to boot.");
                        self.stop(false);
                    }
                }
                WaitStatus::Exited(_, code) => log::error!("Worker (pid:{pid}) exited with code {code}"),
                WaitStatus::Signaled(_, sig, _) if stopping && sig == Signal::SIGKILL => {
                    log::warn!("Worker (pid:{pid}) was sent SIGKILL")
                }
                WaitStatus::Signaled(_, sig, _) => log::error!("Worker (pid:{pid}) was sent {}!", sig.as_str()),
                _ => {}
            }
        }
    }
}
