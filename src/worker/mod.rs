//! A worker process, after fork: its own mio `Poll` over the inherited listeners; it accepts
//! connections, drives each through [`conn`], and drains gracefully when told to stop.

pub mod conn;
pub mod dispatch;
mod exclusive;
pub mod stream;

use crate::app::{self, Application, Environ};
use crate::config::Config;
use crate::http::date::DateCache;
use crate::logging::AccessLog;
use crate::sys::heartbeat::Heartbeat;
use crate::sys::{Listener, ListenerKind};
use conn::{Close, Conn};
use dispatch::{ServerName, Settings, Shared};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::cell::Cell;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};
use stream::{Listen, RecvBuf};

/// Exit status of a worker whose application could not be loaded (gunicorn's value).
pub const EXIT_BOOT_ERROR: i32 = 3;

/// The message a worker writes on its pipe once it is ready to serve.
pub const READY: u8 = b'R';

const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);
/// Tokens below this are listeners; connections are offset above it.
const CONN_BASE: usize = 1 << 16;
const POOL_MAX: usize = 256;
/// Connections taken from a shared listening socket per wake-up.
const ACCEPT_BATCH: usize = 4;

/// Set when the application asks this worker to stop (see [`request_stop`]).
static STOP_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks the worker to stop gracefully once the current request's response is out, so that the
/// master replaces it: for an application no longer fit to serve (Python's `SystemExit` and
/// `KeyboardInterrupt`).
pub fn request_stop() {
    STOP_REQUESTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Why a worker could not set itself up.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The poll could not be created.
    #[error("cannot create poll: {0}")]
    CreatePoll(io::Error),
    /// A listener could not be registered.
    #[error("cannot register listener: {0}")]
    RegisterListener(io::Error),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    InstallSignals(io::Error),
    /// The readiness message could not be sent.
    #[error("cannot notify master: {0}")]
    NotifyMaster(io::Error),
}

/// How a worker is started: the master's configuration, the listeners it bound, and the write
/// end of this worker's pipe to the master.
pub struct Spec<'a> {
    /// The worker's number (1-based, stable for a slot).
    pub id: usize,
    /// Configuration.
    pub cfg: &'a Config,
    /// Listening sockets, inherited across fork.
    pub listeners: &'a [&'a Listener],
    /// Pipe to the master.
    pub to_master: OwnedFd,
    /// Makes the application.
    pub loader: app::Loader<'a>,
    /// This worker's heartbeat page, shared with the master.
    pub heartbeat: &'a Heartbeat,
}

/// The message a worker writes on its pipe when it has served `max_requests` and is draining:
/// the master starts its replacement at once.
pub const RETIRING: u8 = b'M';

/// Runs a worker until it is told to stop; returns the process exit status.
pub fn run(spec: Spec<'_>) -> i32 {
    crate::sys::proctitle::set(&crate::service::title("worker", spec.cfg));
    // service: syslog for this pid, raw_env, the access log, then user/group, before the app.
    let access = match crate::service::worker_start(spec.cfg) {
        Ok(access) => access,
        Err(e) => {
            log::error!("Worker failed to boot: {e}");
            return EXIT_BOOT_ERROR;
        }
    };
    let app = match (spec.loader)(spec.cfg) {
        Ok(app) => app,
        Err(e) => {
            log::error!("Worker failed to boot: {e}");
            return EXIT_BOOT_ERROR;
        }
    };
    match serve(spec, &*app, access) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("Worker failed: {e}");
            EXIT_BOOT_ERROR
        }
    }
}

struct Worker<'a> {
    poll: Poll,
    listeners: Vec<Listen>,
    /// Per listener: shared with the other workers (exclusive, level-triggered registration)
    /// rather than this worker's own `reuse_port` socket (edge-triggered).
    shared: Vec<bool>,
    accepting: bool,
    /// Out of descriptors: accepting resumes at this time.
    accept_retry: Option<Instant>,
    conns: Slab<Conn>,
    pool: Vec<(RecvBuf, Vec<u8>)>,
    settings: Settings,
    servers: Vec<ServerName>,
    max_conns: usize,
    app: &'a dyn Application,
    environ: Environ,
    date: DateCache,
    stopping: Option<Instant>,
    requests_left: Cell<u64>,
    heartbeat: &'a Heartbeat,
    to_master: std::fs::File,
    /// The listening descriptors inherited across fork (the originals of `listeners`).
    inherited: Vec<std::os::fd::RawFd>,
    // service: this worker's access log.
    access: AccessLog,
}

/// `max_requests` plus up to `max_requests_jitter` more, so workers started together do not
/// all retire together (0 = unlimited).
fn request_budget(cfg: &Config) -> u64 {
    if cfg.max_requests == 0 {
        return u64::MAX;
    }
    let jitter = if cfg.max_requests_jitter == 0 {
        0
    } else {
        // Randomness without a crate: std's per-process random hash keys.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish() % (cfg.max_requests_jitter + 1)
    };
    cfg.max_requests + jitter
}

fn serve(spec: Spec<'_>, app: &dyn Application, access: AccessLog) -> Result<(), WorkerError> {
    let poll = Poll::new().map_err(WorkerError::CreatePoll)?;
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGQUIT, SIGUSR1]).map_err(WorkerError::InstallSignals)?;
    poll.registry()
        .register(&mut signals, SIGNAL_TOKEN, Interest::READABLE)
        .map_err(WorkerError::InstallSignals)?;
    // The master forks with every signal blocked; ours are handled now, so let them in.
    crate::sys::process::unblock_all_signals().map_err(|e| WorkerError::InstallSignals(e.into()))?;

    let mut listeners = Vec::with_capacity(spec.listeners.len());
    let mut shared = Vec::with_capacity(spec.listeners.len());
    let mut servers = Vec::with_capacity(spec.listeners.len());
    for (i, l) in spec.listeners.iter().enumerate() {
        let mut listen = match &l.kind {
            ListenerKind::Tcp(_) if l.per_worker => Listen::Tcp(mio::net::TcpListener::from_std(
                l.worker_socket(spec.cfg.backlog)
                    .map_err(WorkerError::RegisterListener)?,
            )),
            ListenerKind::Tcp(t) => Listen::Tcp(mio::net::TcpListener::from_std(
                t.try_clone().map_err(WorkerError::RegisterListener)?,
            )),
            ListenerKind::Unix(u) => Listen::Unix(mio::net::UnixListener::from_std(
                u.try_clone().map_err(WorkerError::RegisterListener)?,
            )),
        };
        if l.per_worker {
            poll.registry()
                .register(&mut listen, Token(i), Interest::READABLE)
                .map_err(WorkerError::RegisterListener)?;
        } else {
            exclusive::register(&poll, listen.raw_fd(), Token(i)).map_err(WorkerError::RegisterListener)?;
        }
        shared.push(!l.per_worker);
        listeners.push(listen);
        servers.push(match l.local_tcp() {
            Some(a) => ServerName {
                name: a.ip().to_string(),
                port: a.port().to_string(),
            },
            None => ServerName {
                name: l.to_string().trim_start_matches("unix:").to_owned(),
                port: "80".to_owned(),
            },
        });
    }

    let mut w = Worker {
        poll,
        listeners,
        shared,
        accepting: true,
        accept_retry: None,
        conns: Slab::with_capacity(spec.cfg.worker_connections.min(4096)),
        pool: Vec::new(),
        settings: Settings::new(spec.cfg),
        servers,
        max_conns: spec.cfg.worker_connections,
        app,
        environ: Environ::new(),
        date: DateCache::default(),
        stopping: None,
        requests_left: Cell::new(request_budget(spec.cfg)),
        heartbeat: spec.heartbeat,
        to_master: std::fs::File::from(spec.to_master),
        inherited: spec.listeners.iter().map(|l| l.raw_fd()).collect(),
        access,
    };
    let graceful = spec.cfg.graceful_timeout;
    // Beat at least twice per `timeout`, and at least once a second for the master's clock.
    let tick = match spec.cfg.timeout / 2 {
        t if t.is_zero() => Duration::from_secs(1),
        t => t.min(Duration::from_secs(1)),
    };
    w.heartbeat.beat();
    w.to_master.write_all(&[READY]).map_err(WorkerError::NotifyMaster)?;
    log::info!("Booting worker with pid: {}", std::process::id());

    let mut events = Events::with_capacity(1024);
    let mut last_sweep = Instant::now();
    loop {
        let timeout = if w.conns.is_empty() && w.stopping.is_none() {
            tick
        } else {
            tick.min(Duration::from_millis(250))
        };
        if let Err(e) = w.poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!("poll failed: {e}");
                return Ok(());
            }
        }
        w.heartbeat.beat();
        w.date.refresh();
        let now = Instant::now();
        w.access.tick(now); // service: the access log's clock; lines are at most a second old
        for ev in events.iter() {
            match ev.token() {
                SIGNAL_TOKEN => {
                    for sig in signals.pending() {
                        match sig {
                            SIGTERM => w.begin_stop(now + graceful),
                            SIGINT | SIGQUIT => return Ok(()),
                            SIGUSR1 => w.reopen_logs(), // service
                            _ => {}
                        }
                    }
                }
                Token(i) if i < CONN_BASE => {
                    if w.stopping.is_none() {
                        // A few at a time from a shared socket: the rest stay queued (and the
                        // level-triggered registration reports them again) for workers that
                        // are idle, instead of one worker taking the whole queue.
                        let shared = w.shared.get(i).copied().unwrap_or(false);
                        let batch = if shared { ACCEPT_BATCH } else { usize::MAX };
                        if w.accept(i, now, batch) > 0 && shared && w.accepting {
                            // Go to the back of the queue of waiting workers: the kernel wakes
                            // the first idle one, so this hands the next connections round.
                            w.requeue(i);
                        }
                    }
                }
                Token(t) => {
                    let key = t - CONN_BASE;
                    if let Some(c) = w.conns.get_mut(key) {
                        c.ready(
                            ev.is_readable() || ev.is_error(),
                            ev.is_writable() || ev.is_error(),
                            ev.is_read_closed() || ev.is_error(),
                        );
                        w.drive(key, now);
                    }
                }
            }
        }
        if STOP_REQUESTED.swap(false, std::sync::atomic::Ordering::Relaxed) {
            // The app asked to go: retire as after the last of max_requests.
            w.requests_left.set(0);
        }
        if w.requests_left.get() == 0 && w.stopping.is_none() {
            log::info!("Autorestarting worker after current request.");
            // Tell the master first, so the replacement boots while this one drains.
            let _ = w.to_master.write_all(&[RETIRING]);
            w.begin_stop(now + graceful);
        }
        if now.duration_since(last_sweep) >= Duration::from_secs(1) || w.stopping.is_some() {
            last_sweep = now;
            w.sweep(now);
        }
        if w.accept_retry.is_some_and(|t| now >= t) {
            w.accept_retry = None;
        }
        if !w.accepting
            && w.stopping.is_none()
            && w.accept_retry.is_none()
            && w.conns.len() < w.max_conns
            && w.requests_left.get() > 0
        {
            w.set_accepting(true);
            for i in 0..w.listeners.len() {
                w.accept(i, now, usize::MAX);
            }
        }
        if let Some(deadline) = w.stopping {
            if w.conns.is_empty() || now >= deadline {
                return Ok(());
            }
        }
    }
}

impl Worker<'_> {
    fn shared(&mut self, now: Instant) -> (Shared<'_>, &mut Slab<Conn>) {
        (
            Shared {
                app: self.app,
                environ: &mut self.environ,
                date: &self.date,
                settings: &self.settings,
                servers: &self.servers,
                stopping: self.stopping.is_some(),
                requests_left: &self.requests_left,
                heartbeat: self.heartbeat,
                now,
                access: &mut self.access,
            },
            &mut self.conns,
        )
    }

    /// Registers or removes the shared listeners: a level-triggered listener left registered
    /// while the worker cannot accept would wake it in a loop.
    fn set_accepting(&mut self, on: bool) {
        if self.accepting == on {
            return;
        }
        self.accepting = on;
        for (i, l) in self.listeners.iter().enumerate() {
            if !self.shared[i] {
                continue;
            }
            let r = if on {
                exclusive::register(&self.poll, l.raw_fd(), Token(i))
            } else {
                exclusive::deregister(&self.poll, l.raw_fd())
            };
            if let Err(e) = r {
                log::warn!("cannot {} listener: {e}", if on { "resume" } else { "pause" });
            }
        }
    }

    /// Re-registers a shared listener, which puts this worker last among the waiters.
    fn requeue(&mut self, i: usize) {
        let fd = self.listeners[i].raw_fd();
        let moved = exclusive::deregister(&self.poll, fd).and_then(|()| exclusive::register(&self.poll, fd, Token(i)));
        if let Err(e) = moved {
            log::warn!("cannot re-register listener: {e}");
        }
    }

    /// Accepts up to `limit` connections, until the listener is drained or the worker is full.
    /// Returns how many it took.
    fn accept(&mut self, listener: usize, now: Instant, limit: usize) -> usize {
        let mut taken = 0;
        for _ in 0..limit {
            if self.conns.len() >= self.max_conns || self.requests_left.get() == 0 {
                // Stop taking connections; they wait in the backlog (or go to another worker)
                // until a slot frees up.
                self.set_accepting(false);
                return taken;
            }
            match self.listeners[listener].accept() {
                Ok((mut stream, peer)) => {
                    let entry = self.conns.vacant_entry();
                    let token = Token(CONN_BASE + entry.key());
                    if let Err(e) =
                        self.poll
                            .registry()
                            .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                    {
                        log::warn!("cannot register connection: {e}");
                        continue;
                    }
                    let (rbuf, wbuf) = self
                        .pool
                        .pop()
                        .unwrap_or_else(|| (RecvBuf::new(8192), Vec::with_capacity(8192)));
                    let key = entry.key();
                    let deadline = now + self.settings.header_timeout;
                    entry.insert(Conn::new(stream, peer, listener, rbuf, wbuf, deadline));
                    taken += 1;
                    if let Some(stop) = self.stopping {
                        if let Some(c) = self.conns.get_mut(key) {
                            c.linger_until(stop.min(now + self.settings.keepalive));
                        }
                    }
                    self.drive(key, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return taken,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ECONNABORTED and friends concern one client. Out of descriptors, the
                    // worker pauses accepting for a moment rather than spin on a socket that
                    // stays readable.
                    log::debug!("accept failed: {e}");
                    if e.raw_os_error() == Some(libc::EMFILE) || e.raw_os_error() == Some(libc::ENFILE) {
                        log::warn!("accept failed: {e}; pausing accept for 100 ms");
                        self.set_accepting(false);
                        self.accept_retry = Some(now + Duration::from_millis(100));
                        return taken;
                    }
                }
            }
        }
        taken
    }

    fn drive(&mut self, key: usize, now: Instant) {
        let (mut sh, conns) = self.shared(now);
        let Some(conn) = conns.get_mut(key) else {
            return;
        };
        match conn.drive(&mut sh) {
            Ok(()) => {}
            Err(Close::Done) => self.close(key),
            Err(Close::Io(e)) => {
                log::debug!("connection error: {e}");
                self.close(key);
            }
        }
    }

    fn close(&mut self, key: usize) {
        let mut conn = self.conns.remove(key);
        conn.log_access(&mut self.access); // service: a request cut short is logged too
        let _ = self.poll.registry().deregister(&mut conn.stream);
        let bufs = conn.into_buffers();
        if self.pool.len() < POOL_MAX {
            self.pool.push(bufs);
        }
    }

    /// Closes connections whose deadline passed; while stopping, idle ones linger at most
    /// `keepalive`.
    fn sweep(&mut self, now: Instant) {
        let linger = self.stopping.map(|stop| stop.min(now + self.settings.keepalive));
        let (sh, conns) = self.shared(now);
        let expired: Vec<usize> = conns
            .iter_mut()
            .filter_map(|(k, c)| {
                if let Some(by) = linger {
                    c.linger_until(by);
                }
                c.expire(&sh).then_some(k)
            })
            .collect();
        for k in expired {
            self.close(k);
        }
    }

    /// service: USR1 reopens the error log and the access log (flushed to the old file first).
    fn reopen_logs(&mut self) {
        let errors = crate::logging::reopen().map_err(|e| e.to_string());
        let access = self
            .access
            .reopen()
            .map_err(|e| format!("cannot reopen the access log: {e}"));
        match (errors, access) {
            (Ok(()), Ok(())) => log::debug!("Reopened the log files"),
            (e, a) => {
                for msg in [e.err(), a.err()].into_iter().flatten() {
                    log::error!("{msg}");
                }
            }
        }
    }

    /// Graceful stop: take what is already queued, stop accepting, finish in-flight requests
    /// without keep-alive; idle connections linger briefly, then close.
    fn begin_stop(&mut self, deadline: Instant) {
        if self.stopping.is_some() {
            return;
        }
        log::info!("Worker exiting (pid: {})", std::process::id());
        let now = Instant::now();
        // Connections the kernel already completed are in flight from the client's view:
        // take them (with keep-alive off) before letting go of the listeners.
        self.stopping = Some(deadline);
        if self.requests_left.get() > 0 {
            for i in 0..self.listeners.len() {
                self.accept(i, now, usize::MAX);
            }
        }
        self.set_accepting(false);
        // Close every copy of the listening sockets this process holds: once the last holder
        // has stopped accepting, the kernel refuses new connections instead of queueing them
        // for nobody (and resetting them later).
        for (l, shared) in self.listeners.iter_mut().zip(&self.shared) {
            if !shared {
                let _ = self.poll.registry().deregister(l);
            }
        }
        self.listeners.clear();
        for fd in self.inherited.drain(..) {
            let _ = nix::unistd::close(fd);
        }
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.drive(k, now);
        }
        self.sweep(now);
    }
}
