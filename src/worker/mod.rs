//! A worker process, after fork: its own mio `Poll` over the inherited listeners; it accepts
//! connections, drives each through [`conn`], and drains gracefully when told to stop.

mod batch;
pub(crate) mod conn;
pub(crate) mod dispatch;
mod exclusive;
mod pool;
pub(crate) mod stream;
mod tls;

use crate::app::{self, Application, Environ};
use crate::config::Config;
use crate::hooks::{Event, ServerHooks, WorkerId};
use crate::http::date::DateCache;
use crate::logging::AccessLog;
use crate::metrics::tally::TallyRef;
use crate::sys::heartbeat::Heartbeat;
use crate::sys::{Listener, ListenerKind};
use conn::{Close, Conn};
use dispatch::{ServerName, Settings};
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM, SIGUSR1};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};
use stream::Listen;

/// Exit status of a worker that could not boot, and of a master that stops because a worker
/// could not (gunicorn's `WORKER_BOOT_ERROR`).
pub const EXIT_BOOT_ERROR: i32 = 3;

/// The message a worker writes on its pipe once it is ready to serve.
pub const READY: u8 = b'R';

const SIGNAL_TOKEN: Token = Token(usize::MAX - 1);
/// Application threads woke the loop: their events wait in the pool's channel.
const WAKER_TOKEN: Token = Token(usize::MAX - 2);
/// Tokens below this are listeners; connections are offset above it.
const CONN_BASE: usize = 1 << 16;
/// Exchange storage kept for reuse by connections that have bytes to read (see `conn::Storage`):
/// enough for the connections busy at once, beyond which memory goes back to the allocator.
const POOL_MAX: usize = 256;
/// At most one line this often about connections closed to make room.
const SHED_LOG_EVERY: Duration = Duration::from_secs(10);

/// How long a connection just accepted counts as bringing a request (see `Io::recent`).
const ARRIVING: Duration = Duration::from_millis(20);

/// Connections taken from a shared listening socket per wake-up.
const ACCEPT_BATCH: usize = 4;
/// How often at most a worker that took connections goes to the back of the shared listeners'
/// queue of waiters (two `epoll_ctl` calls): often enough to hand arrivals round the workers,
/// seldom enough not to cost a system call per connection when they arrive by thousands.
const REQUEUE_EVERY: Duration = Duration::from_millis(1);

/// Whether an accept leaves connections to other workers while this one's threads are busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Defer {
    /// Yes: a wake-up from the listening socket.
    WhenBusy,
    /// No: a deferred accept's turn came, or the worker is stopping.
    Never,
}

/// Where a worker stands in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    /// Taking connections and requests.
    Serving,
    /// TERM, `max_requests`, or the application's wish to retire: no new connections and no
    /// keep-alive; requests in flight finish until `until`, then the worker exits.
    Draining {
        /// The graceful deadline.
        until: Instant,
    },
    /// INT/QUIT, or the loop failed: leave as soon as the loop unwinds.
    Quitting,
}

/// Whether the worker takes connections from its shared listening sockets (its own
/// `reuse_port` socket stays registered: nobody else would take its connections).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accepting {
    /// Registered: new connections wake this worker.
    Open,
    /// Not registered until there is room again (`worker_connections`, `max_requests`), or
    /// for good once draining.
    Full,
    /// Not registered until this time: out of descriptors, or leaving connections to the
    /// other workers while this one's application threads are busy.
    Until(Instant),
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
    /// An application thread could not be started.
    #[error("cannot start application threads: {0}")]
    StartThreads(io::Error),
}

/// How a worker is started: the master's configuration, the listeners it bound, and the write
/// end of this worker's pipe to the master.
pub struct Spec<'a> {
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
    /// The server hooks, inherited from the master.
    pub hooks: Option<&'a dyn ServerHooks>,
    /// This worker as hooks see it (its pid is filled in after fork).
    pub id: WorkerId,
}

/// The message a worker writes on its pipe when it has served `max_requests` and is draining:
/// the master starts its replacement at once.
pub const RETIRING: u8 = b'M';

/// Runs a worker until it is told to stop; returns the process exit status. Server hooks:
/// `post_fork` first, `worker_exit` last, whatever happened between, as in gunicorn.
pub fn run(mut spec: Spec<'_>) -> i32 {
    spec.id.pid = Some(std::process::id() as i32);
    let (hooks, id, workers) = (spec.hooks, spec.id, spec.cfg.workers);
    if let Some(h) = hooks {
        h.call(workers, Event::PostFork(id));
        if h.defines("worker_abort") {
            // Before the app can start threads, which would inherit SIGABRT unblocked and so
            // might receive it instead of the thread that runs the hook (see `watch_abort`).
            let _ = abort_signal().thread_block();
        }
    }
    let status = run_app(spec);
    if let Some(h) = hooks {
        h.call(workers, Event::WorkerExit(id));
    }
    status
}

/// The signal set of SIGABRT alone.
fn abort_signal() -> nix::sys::signal::SigSet {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGABRT);
    set
}

/// `worker_abort`: SIGABRT, which the master sends a worker that outstayed `timeout`, is taken
/// by a thread of its own (blocked in every other one), which runs `abort` and ends the
/// worker with status 1, as gunicorn's worker does. The loop (or the app) may be stuck: this
/// thread is what still runs. An `abort()` of the process itself unblocks SIGABRT in the
/// aborting thread and kills the process as ever. The master's SIGKILL follows a second later.
fn watch_abort(abort: Box<dyn FnOnce() + Send>) -> io::Result<()> {
    let set = abort_signal();
    set.thread_block().map_err(io::Error::from)?;
    std::thread::Builder::new().name("worker-abort".into()).spawn(move || {
        if set.wait().is_ok() {
            abort();
            log::info!("Worker exiting (pid: {})", std::process::id());
        }
        // The loop's thread is stuck or busy: leave without unwinding it or running exit
        // handlers that may wait for it.
        // SAFETY: _exit ends the process at once; it touches no memory of this process.
        unsafe { libc::_exit(1) }
    })?;
    Ok(())
}

fn run_app(spec: Spec<'_>) -> i32 {
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
        // After worker_start, so that a SCRIPT_NAME from raw_env counts.
        Ok(app) => {
            let forwarded = spec.cfg.forwarder_headers.iter().any(|h| h == "SCRIPT_NAME");
            let app = app::mount::mount(app, forwarded);
            // Outside the mount: the hooks' request is the request as it came.
            match spec.hooks {
                Some(h) => h.wrap(app, spec.id),
                None => app,
            }
        }
        Err(e) => {
            log::error!("Worker failed to boot: {e}");
            return EXIT_BOOT_ERROR;
        }
    };
    if let Some(h) = spec.hooks {
        h.call(spec.cfg.workers, Event::PostWorkerInit(spec.id));
    }
    match serve(spec, &*app, access) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("Worker failed: {e}");
            EXIT_BOOT_ERROR
        }
    }
}

/// What every request reads and nothing changes while the worker runs.
pub struct Ctx<'a> {
    /// The application.
    pub app: &'a dyn Application,
    /// Settings in the form the hot path uses.
    pub settings: Settings,
    /// SERVER_NAME / SERVER_PORT, one per listener.
    pub servers: Vec<ServerName>,
    /// Where the master sees that this worker is alive and what it serves.
    pub heartbeat: &'a Heartbeat,
    max_conns: usize,
    graceful: Duration,
    /// `max_worker_memory` in bytes (0: no limit).
    max_memory: u64,
    /// The server hooks (`worker_int`), this worker as they see it, and the worker count.
    hooks: Option<(&'a dyn ServerHooks, WorkerId, usize)>,
    /// Whether a worker whose application threads are busy leaves new connections to the
    /// others: only with other workers to take them, and threads that the app uses.
    defer_accepts: bool,
    /// With `certfile`: the TLS configuration every TCP connection starts from.
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

/// The worker's mutable state: sockets, connections and buffers. A connection whose request is
/// inside the application is taken out of its slot (`None`) for the duration, so that the
/// application's `write` can run the event loop for the others ([`Io::turn`]).
pub struct Io {
    poll: Poll,
    signals: Signals,
    listeners: Vec<Listen>,
    /// Per listener: shared with the other workers (exclusive, level-triggered registration)
    /// rather than this worker's own `reuse_port` socket (edge-triggered).
    shared: Vec<bool>,
    accepting: Accepting,
    conns: Slab<Option<Conn>>,
    /// Readiness that arrived for connections taken out of their slot; applied when they return
    /// (edge-triggered events come once).
    missed: Vec<(usize, Readiness)>,
    spares: Vec<conn::Storage>,
    /// Spare environs: one is in use per request inside the application.
    pub(crate) environs: Vec<Environ>,
    /// The cached Date header.
    pub(crate) date: DateCache,
    /// Serving, draining or quitting.
    pub(crate) life: Life,
    /// Requests this worker may still take (`max_requests`); at zero it retires.
    pub(crate) requests_left: u64,
    to_master: std::fs::File,
    /// The listening descriptors inherited across fork (the originals of `listeners`).
    inherited: Vec<std::os::fd::RawFd>,
    // service: this worker's access log.
    pub(crate) access: AccessLog,
    /// How many application calls are waiting in `write` below this turn.
    depth: usize,
    spare_events: Vec<Events>,
    last_sweep: Instant,
    /// Connections holding a finished response until the end of the turn.
    pub(crate) batch: batch::Batch,
    /// The application threads, when the application runs on them (`threads`).
    pub(crate) pool: Option<pool::Pool>,
    /// Connections whose complete request waits for room in the pool, oldest first.
    pub(crate) parked: std::collections::VecDeque<usize>,
    /// Connections accepted in the last [`ARRIVING`], oldest first: while they have sent no
    /// request yet, their first is about to arrive and counts with the pool's work when deciding
    /// to accept more (older connections that sent nothing do not: idle ones must not slow
    /// accepting).
    recent: std::collections::VecDeque<(Instant, usize)>,
    /// Connections closed to make room since the last line that said so, and when it was.
    shed_count: u64,
    shed_logged: Option<Instant>,
    /// When this worker last went to the back of the shared listeners' queue.
    requeued: Option<Instant>,
    /// The request counters in the heartbeat page, when the master reads them.
    pub(crate) tally: Option<TallyRef>,
}

/// What a connection is driven with: the worker's fixed context and its mutable state.
pub struct Shared<'s> {
    /// The application, settings, listeners' names, heartbeat.
    pub ctx: &'s Ctx<'s>,
    /// Sockets, connections, buffers, the Date cache, the access log.
    pub io: &'s mut Io,
    /// The time of this loop iteration.
    pub now: Instant,
}

/// The text of a caught panic.
pub fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("application panicked: {text}")
}

/// This process's resident memory in bytes, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read("/proc/self/statm").ok()?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok()??;
    Some(resident_pages(&statm)? * u64::try_from(page).ok()?)
}

/// The resident page count in the text of `/proc/PID/statm` (its second field).
fn resident_pages(statm: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(statm).ok()?;
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// What a poll event said about a connection.
#[derive(Clone, Copy, Debug)]
struct Readiness {
    readable: bool,
    writable: bool,
    closed: bool,
}

/// Application calls waiting in `write` that may each run a turn of the loop; deeper ones wait
/// on their own socket only.
const MAX_DEPTH: usize = 8;

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
    if let Some(abort) = spec.hooks.and_then(|h| h.abort_hook(spec.cfg.workers, spec.id)) {
        watch_abort(abort).map_err(WorkerError::InstallSignals)?;
    }

    let mut listeners = Vec::with_capacity(spec.listeners.len());
    let mut shared = Vec::with_capacity(spec.listeners.len());
    let mut servers = Vec::with_capacity(spec.listeners.len());
    for (i, l) in spec.listeners.iter().enumerate() {
        let mut listen = match &l.kind {
            ListenerKind::Tcp(_) if l.per_worker => Listen::Tcp(mio::net::TcpListener::from_std(
                l.worker_socket(spec.cfg.backlog, spec.cfg.defer_accept)
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
            Some(a) => ServerName::Socket {
                name: a.ip().to_string(),
                port: a.port().to_string(),
            },
            None => ServerName::FromHost {
                path: l.to_string().trim_start_matches("unix:").to_owned(),
            },
        });
    }

    let ctx = Ctx {
        app,
        settings: Settings::new(spec.cfg),
        servers,
        heartbeat: spec.heartbeat,
        max_conns: spec.cfg.worker_connections,
        graceful: spec.cfg.graceful_timeout,
        max_memory: spec.cfg.max_worker_memory.saturating_mul(1 << 20),
        defer_accepts: spec.cfg.workers > 1 && spec.cfg.threaded() && app.may_wait(),
        tls: spec.cfg.tls.as_ref().map(|t| std::sync::Arc::clone(&t.config)),
        hooks: spec.hooks.map(|h| (h, spec.id, spec.cfg.workers)),
    };
    let mut io = Io {
        poll,
        signals,
        listeners,
        shared,
        accepting: Accepting::Open,
        conns: Slab::with_capacity(spec.cfg.worker_connections.min(4096)),
        missed: Vec::new(),
        spares: Vec::new(),
        environs: vec![Environ::new()],
        date: DateCache::default(),
        life: Life::Serving,
        requests_left: request_budget(spec.cfg),
        to_master: std::fs::File::from(spec.to_master),
        inherited: spec.listeners.iter().map(|l| l.raw_fd()).collect(),
        access,
        depth: 0,
        spare_events: Vec::new(),
        last_sweep: Instant::now(),
        batch: batch::Batch::default(),
        pool: None,
        parked: std::collections::VecDeque::new(),
        recent: std::collections::VecDeque::new(),
        shed_count: 0,
        shed_logged: None,
        requeued: None,
        // SAFETY: the heartbeat page is borrowed for `'a`, longer than this call, and `io`,
        // which holds every copy of the handle, is dropped before it returns.
        tally: spec.heartbeat.tally().map(|t| unsafe { TallyRef::new(t) }),
    };
    if io.tally.is_some() {
        io.access.count_requests();
    }
    // Beat at least twice per `timeout`, and at least once a second for the master's clock.
    let tick = match spec.cfg.timeout / 2 {
        t if t.is_zero() => Duration::from_secs(1),
        t => t.min(Duration::from_secs(1)),
    };
    if !spec.cfg.threaded() {
        return run_loop(&mut io, &ctx, tick);
    }
    let waker = mio::Waker::new(io.poll.registry(), WAKER_TOKEN).map_err(WorkerError::CreatePoll)?;
    let threads = spec.cfg.threads.max(1);
    let (pool, shared) = pool::new(
        threads,
        app,
        spec.heartbeat,
        waker,
        &ctx.settings.server_header,
        ctx.settings.timeout,
    );
    io.pool = Some(pool);
    std::thread::scope(|scope| {
        let shared = &shared;
        for slot in 1..=threads {
            let spawned = std::thread::Builder::new()
                .name(format!("app-{slot}"))
                .spawn_scoped(scope, move || shared.run(slot));
            if let Err(e) = spawned {
                log::error!("cannot start application thread {slot}: {e}");
                // The threads started so far end once the pool is gone; the scope joins them.
                drop(io.pool.take());
                return Err(WorkerError::StartThreads(e));
            }
        }
        let result = run_loop(&mut io, &ctx, tick);
        // Closing the job channel lets idle threads end; a thread still inside the
        // application (quitting, or past the graceful timeout) is not waited for.
        let busy = io.pool.take().map_or(0, |p| p.outstanding);
        if busy > 0 {
            log::debug!("{busy} request(s) still in application threads at exit");
            io.access.flush();
            if let Some((h, id, workers)) = ctx.hooks {
                h.call(workers, Event::WorkerExit(id));
            }
            std::process::exit(0);
        }
        result
    })
}

/// The worker's loop, until it is told to stop (and has drained) or to quit.
fn run_loop(io: &mut Io, ctx: &Ctx<'_>, tick: Duration) -> Result<(), WorkerError> {
    ctx.heartbeat.beat();
    io.to_master.write_all(&[READY]).map_err(WorkerError::NotifyMaster)?;
    log::info!("Booting worker with pid: {}", std::process::id());
    loop {
        let mut timeout = if io.conns.is_empty() && io.life == Life::Serving {
            tick
        } else {
            tick.min(Duration::from_millis(250))
        };
        if let Accepting::Until(at) = io.accepting {
            timeout = timeout.min(at.saturating_duration_since(Instant::now()));
        }
        io.turn(ctx, timeout, None);
        match io.life {
            Life::Serving => {}
            Life::Draining { until } if !io.conns.is_empty() && Instant::now() < until => {}
            Life::Draining { .. } | Life::Quitting => return Ok(()),
        }
    }
}

impl Io {
    /// One turn of the event loop: wait for events (at most `timeout`), serve them, and do the
    /// housekeeping. `busy`: the connection whose application call runs this turn from inside
    /// `write`; returns whether its socket reported readiness.
    pub fn turn(&mut self, ctx: &Ctx<'_>, timeout: Duration, busy: Option<usize>) -> bool {
        // Never sleep on held responses: a turn nested in a waiting `write` starts with those
        // the turns above it held.
        self.flush_held(ctx);
        let mut events = self.spare_events.pop().unwrap_or_else(|| Events::with_capacity(1024));
        // Inside an application call (its write waits): let the application step aside.
        let paused = if self.depth > 0 { ctx.app.pause_for_wait() } else { None };
        let polled = self.poll.poll(&mut events, Some(timeout));
        drop(paused);
        if let Err(e) = polled {
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!("poll failed: {e}");
                self.life = Life::Quitting;
            }
        }
        ctx.heartbeat.beat();
        self.date.refresh();
        let now = Instant::now();
        self.access.tick(now); // service: the access log's clock; lines are at most a second old
        let mut busy_ready = false;
        for ev in events.iter() {
            match ev.token() {
                SIGNAL_TOKEN => self.on_signals(ctx, now),
                // Read below, whether or not this turn's poll saw the wake-up.
                WAKER_TOKEN => {}
                Token(i) if i < CONN_BASE => {
                    if self.life == Life::Serving {
                        // A few at a time from a shared socket: the rest stay queued (and the
                        // level-triggered registration reports them again) for workers that
                        // are idle, instead of one worker taking the whole queue.
                        let shared = self.shared.get(i).copied().unwrap_or(false);
                        let batch = if shared { ACCEPT_BATCH } else { usize::MAX };
                        let taken = self.accept(ctx, i, now, batch, Defer::WhenBusy);
                        // Before a new connection's request can hold this thread in the app.
                        if let (Some(t), true) = (self.tally, taken > 0) {
                            t.get().connections(self.conns.len());
                        }
                        if taken > 0
                            && shared
                            && self.accepting == Accepting::Open
                            && self.requeued.is_none_or(|at| now.duration_since(at) >= REQUEUE_EVERY)
                        {
                            // Go to the back of the queue of waiting workers: the kernel wakes
                            // the first idle one, so this hands the next connections round.
                            self.requeue(i);
                            self.requeued = Some(now);
                        }
                    }
                }
                Token(t) => {
                    let key = t - CONN_BASE;
                    let r = Readiness {
                        readable: ev.is_readable() || ev.is_error(),
                        writable: ev.is_writable() || ev.is_error(),
                        closed: ev.is_read_closed() || ev.is_error(),
                    };
                    match self.conns.get_mut(key) {
                        Some(Some(c)) => {
                            c.ready(r.readable, r.writable, r.closed);
                            self.drive(ctx, key, now);
                        }
                        Some(None) => {
                            busy_ready |= busy == Some(key);
                            self.missed.push((key, r));
                        }
                        None => {}
                    }
                }
            }
        }
        self.spare_events.push(events);
        self.take_thread_events(ctx, now);
        // Before housekeeping, whose sweep must not take a held response for an idle client.
        self.flush_held(ctx);
        self.housekeeping(ctx, now);
        // Housekeeping may drive connections again (stopping, resuming accept).
        self.flush_held(ctx);
        busy_ready
    }

    /// Sends the responses held for the end of the turn (see [`batch`]).
    pub(crate) fn flush_held(&mut self, ctx: &Ctx<'_>) {
        if self.batch.is_empty() {
            return;
        }
        // The time they leave, not the turn's start: the keep-alive wait begins now.
        let now = Instant::now();
        let keys = self.batch.take();
        for &key in &keys {
            // Closed since, or inside the application (a key that came back since is flushed,
            // harmlessly, and one held twice is flushed twice).
            let Some(mut conn) = self.conns.get_mut(key).and_then(Option::take) else {
                continue;
            };
            match conn.flush(&Shared { ctx, io: self, now }) {
                Ok(()) => {
                    conn.lend_storage(&mut self.spares, POOL_MAX);
                    if let Some(slot) = self.conns.get_mut(key) {
                        *slot = Some(conn);
                    }
                }
                Err(close) => {
                    if let Close::Io(e) = close {
                        log::debug!("connection error: {e}");
                    }
                    self.close_conn(key, conn);
                }
            }
        }
        self.batch.restore(keys);
    }

    fn on_signals(&mut self, ctx: &Ctx<'_>, now: Instant) {
        let mut got = [0; 8];
        let mut n = 0;
        for sig in self.signals.pending() {
            if n < got.len() {
                got[n] = sig;
                n += 1;
            }
        }
        for &sig in &got[..n] {
            match sig {
                SIGTERM => self.begin_stop(ctx, now + ctx.graceful),
                SIGINT | SIGQUIT => {
                    // worker_int first, then "Worker exiting", in gunicorn's order.
                    if self.life != Life::Quitting {
                        if let Some((h, id, workers)) = ctx.hooks {
                            h.call(workers, Event::WorkerInt(id));
                        }
                    }
                    // Said however the worker is told to go, as gunicorn's does (a graceful stop
                    // already said it in begin_stop).
                    if self.life == Life::Serving {
                        log::info!("Worker exiting (pid: {})", std::process::id());
                    }
                    self.life = Life::Quitting;
                }
                SIGUSR1 => self.reopen_logs(), // service
                _ => {}
            }
        }
    }

    /// Retiring, deadlines and resuming accept: after every turn, at any depth.
    fn housekeeping(&mut self, ctx: &Ctx<'_>, now: Instant) {
        if let Some(t) = self.tally {
            t.get().connections(self.conns.len());
        }
        if self.requests_left == 0 && self.life == Life::Serving {
            log::info!("Autorestarting worker after current request.");
            // Tell the master first, so the replacement boots while this one drains.
            let _ = self.to_master.write_all(&[RETIRING]);
            self.begin_stop(ctx, now + ctx.graceful);
        }
        if now.duration_since(self.last_sweep) >= Duration::from_secs(1) || self.life != Life::Serving {
            self.last_sweep = now;
            self.sweep(ctx, now);
            self.check_memory(ctx);
        }
        let due = match self.accepting {
            Accepting::Open => false,
            Accepting::Full => true,
            Accepting::Until(at) => now >= at,
        };
        if due && self.life == Life::Serving && self.conns.len() < ctx.max_conns && self.requests_left > 0 {
            self.open_listeners();
            // Deferred while every thread was busy: take one now whatever the load, so that
            // connections never starve when all workers are busy, then defer again.
            let (limit, defer) = match self.threads_busy(ctx, now) {
                true => (1, Defer::Never),
                false => (usize::MAX, Defer::WhenBusy),
            };
            for i in 0..self.listeners.len() {
                self.accept(ctx, i, now, limit, defer);
            }
            if self.accepting == Accepting::Open && self.threads_busy(ctx, now) {
                self.defer_accept(now);
            }
        }
    }

    /// `max_worker_memory`, once a second: past it the worker retires as after its last
    /// `max_requests` (the next housekeeping starts the drain and tells the master).
    fn check_memory(&mut self, ctx: &Ctx<'_>) {
        if ctx.max_memory == 0 || self.life != Life::Serving || self.requests_left == 0 {
            return;
        }
        let Some(rss) = resident_bytes() else {
            return;
        };
        if rss > ctx.max_memory {
            log::warn!(
                "Worker (pid: {}) uses {} MiB, above max_worker_memory ({} MiB): restarting it after current requests",
                std::process::id(),
                rss >> 20,
                ctx.max_memory >> 20
            );
            self.requests_left = 0;
        }
    }

    /// Whether all the application threads have a request, counting the connections just
    /// accepted whose first request is on its way (never while stopping: connections
    /// already queued are then taken whatever the load, since the listeners close next).
    fn threads_busy(&mut self, ctx: &Ctx<'_>, now: Instant) -> bool {
        if !ctx.defer_accepts || self.life != Life::Serving {
            return false;
        }
        let arriving = self.arriving(now);
        self.pool.as_ref().is_some_and(|p| p.saturated(arriving))
    }

    /// The connection to close for a new one when the worker is full: the one that has kept
    /// the worker waiting longest without a request (see `Conn::waiting_since`), be it idle
    /// between requests or slow to send its head.
    fn victim(&self, ctx: &Ctx<'_>) -> Option<usize> {
        let (keepalive, head) = (ctx.settings.keepalive, ctx.settings.header_timeout);
        self.conns
            .iter()
            .filter_map(|(key, c)| Some((c.as_ref()?.waiting_since(keepalive, head)?, key)))
            .min()
            .map(|(_, key)| key)
    }

    /// Closes connection `key` to make room; says so now and then (not per connection).
    fn shed(&mut self, key: usize, now: Instant) {
        if let Some(conn) = self.conns.get_mut(key).and_then(Option::take) {
            self.close_conn(key, conn);
        }
        self.shed_count += 1;
        if self
            .shed_logged
            .is_none_or(|at| now.duration_since(at) >= SHED_LOG_EVERY)
        {
            log::warn!(
                "Worker at worker_connections: closed {} idle or slow connection(s) to take new ones",
                self.shed_count
            );
            self.shed_logged = Some(now);
            self.shed_count = 0;
        }
    }

    /// Connections accepted within [`ARRIVING`] of `now` that have sent no request yet.
    fn arriving(&mut self, now: Instant) -> usize {
        while self
            .recent
            .front()
            .is_some_and(|&(at, _)| now.duration_since(at) > ARRIVING)
        {
            self.recent.pop_front();
        }
        let conns = &self.conns;
        self.recent
            .iter()
            .filter(|&&(_, key)| matches!(conns.get(key), Some(Some(c)) if c.awaiting_first_request()))
            .count()
    }

    /// Leaves the shared listeners to the other workers for a moment (see `pool`).
    fn defer_accept(&mut self, now: Instant) {
        let coming = self.arriving(now) + self.parked.len();
        let wait = self.pool.as_ref().map_or(Duration::ZERO, |p| p.defer_for(coming));
        self.close_listeners(Accepting::Until(now + wait));
    }

    /// Registers the shared listeners again.
    fn open_listeners(&mut self) {
        if self.accepting != Accepting::Open {
            self.accepting = Accepting::Open;
            self.register_shared(true);
        }
    }

    /// Removes the shared listeners until `state` says otherwise: a level-triggered listener
    /// left registered while the worker cannot accept would wake it in a loop.
    fn close_listeners(&mut self, state: Accepting) {
        if self.accepting == Accepting::Open {
            self.register_shared(false);
        }
        self.accepting = state;
    }

    fn register_shared(&self, on: bool) {
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
    fn accept(&mut self, ctx: &Ctx<'_>, listener: usize, now: Instant, limit: usize, defer: Defer) -> usize {
        let mut taken = 0;
        for _ in 0..limit {
            let mut shed = None;
            if self.conns.len() >= ctx.max_conns && self.requests_left > 0 {
                // Full: make room by closing the connection that has kept the worker waiting
                // longest (slow clients must not hold every slot).
                shed = self.victim(ctx);
            }
            if (self.conns.len() >= ctx.max_conns && shed.is_none()) || self.requests_left == 0 {
                // Stop taking connections; they wait in the backlog (or go to another worker)
                // until a slot frees up.
                self.close_listeners(Accepting::Full);
                return taken;
            }
            if defer == Defer::WhenBusy
                && self.shared.get(listener).copied().unwrap_or(false)
                && self.threads_busy(ctx, now)
            {
                // Every application thread has a request: another worker may have one free
                // (see `pool`); this one takes connections again a moment later.
                self.defer_accept(now);
                return taken;
            }
            match self.listeners[listener].accept() {
                Ok((stream, peer)) => {
                    if let Some(key) = shed {
                        self.shed(key, now);
                    }
                    let stream = match (stream, &ctx.tls) {
                        // TLS applies to every TCP listener, as gunicorn's certfile does.
                        (stream::Stream::Tcp(sock, _), Some(config)) => match tls::TlsStream::new(sock, config) {
                            Ok(t) => stream::Stream::Tls(Box::new(t)),
                            Err(e) => {
                                log::debug!("cannot start TLS: {e}");
                                continue;
                            }
                        },
                        (stream, _) => stream,
                    };
                    let entry = self.conns.vacant_entry();
                    let key = entry.key();
                    let deadline = now + ctx.settings.header_timeout;
                    let mut conn = Conn::new(key, stream, peer, listener, deadline);
                    if let Life::Draining { until: stop } = self.life {
                        conn.linger_until(stop.min(now + ctx.settings.keepalive));
                    }
                    entry.insert(Some(conn));
                    if ctx.defer_accepts {
                        self.recent.push_back((now, key));
                    }
                    taken += 1;
                    self.drive(ctx, key, now);
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
                        self.close_listeners(Accepting::Until(now + Duration::from_millis(100)));
                        return taken;
                    }
                }
            }
        }
        taken
    }

    /// Adds connection `key`'s socket to the poll set, if it is not there yet (see
    /// [`conn::Polled`]).
    pub(crate) fn watch(&self, key: usize, stream: &mut stream::Stream, polled: &mut conn::Polled) -> io::Result<()> {
        if *polled == conn::Polled::No {
            self.poll
                .registry()
                .register(stream, Token(CONN_BASE + key), Interest::READABLE | Interest::WRITABLE)?;
            *polled = conn::Polled::Yes;
        }
        Ok(())
    }

    /// Advances connection `key`, taken out of its slot meanwhile (its application call may run
    /// turns of the loop for the others).
    fn drive(&mut self, ctx: &Ctx<'_>, key: usize, now: Instant) {
        let Some(mut conn) = self.conns.get_mut(key).and_then(Option::take) else {
            // Unknown, or inside the application further down the stack.
            return;
        };
        conn.take_storage(&mut self.spares);
        loop {
            let mut sh = Shared { ctx, io: self, now };
            let result = conn.drive(&mut sh);
            match result {
                Ok(conn::Step::Call) => {
                    conn.phase = dispatch::begin_call(&mut conn, &mut sh);
                    continue;
                }
                Ok(conn::Step::Pull) => {
                    dispatch::pull_body(&mut conn, &mut sh);
                    continue;
                }
                Ok(conn::Step::Wait) | Err(_) => {}
            }
            if let Err(close) = result {
                if let Close::Io(e) = close {
                    log::debug!("connection error: {e}");
                }
                if conn.abandon() {
                    // Its slot stays taken until the application thread is done with it.
                    let _ = self.poll.registry().deregister(&mut conn.stream);
                    if let Some(slot) = self.conns.get_mut(key) {
                        *slot = Some(conn);
                    }
                } else {
                    self.close_conn(key, conn);
                }
                return;
            }
            // Events for it that came while it was out: apply them and go on.
            let mut again = false;
            while let Some(i) = self.missed.iter().position(|(k, _)| *k == key) {
                let (_, r) = self.missed.swap_remove(i);
                conn.ready(r.readable, r.writable, r.closed);
                again = true;
            }
            if !again {
                break;
            }
        }
        if let Err(e) = self.watch(key, &mut conn.stream, &mut conn.polled) {
            log::warn!("cannot register connection: {e}");
            self.close_conn(key, conn);
            return;
        }
        conn.lend_storage(&mut self.spares, POOL_MAX);
        if let Some(slot) = self.conns.get_mut(key) {
            *slot = Some(conn);
        }
        // Held responses wait for the end of the turn, but not past their time however many
        // connections this turn serves (or accepts).
        if self.batch.due(ctx.heartbeat.last_beat()) {
            self.flush_held(ctx);
        }
    }

    /// What the application threads reported: output to send, calls that ended; then parked
    /// requests take the room that freed.
    fn take_thread_events(&mut self, ctx: &Ctx<'_>, now: Instant) {
        let Some(pool) = &self.pool else {
            return;
        };
        // Cleared before reading: a thread that reports after the read wakes the next poll.
        pool.wake_pending.store(false, std::sync::atomic::Ordering::SeqCst);
        let events = pool.events.clone();
        while let Ok(event) = events.try_recv() {
            match event {
                pool::Event::Output { key, data } => {
                    let Some(Some(conn)) = self.conns.get_mut(key) else {
                        continue;
                    };
                    if conn.abandoned() {
                        continue;
                    }
                    conn.thread_output(&data);
                    self.drive(ctx, key, now);
                }
                pool::Event::Done(mut job) => {
                    let key = job.key;
                    if job.retire {
                        // Retire as after the last of max_requests.
                        self.requests_left = 0;
                    }
                    if let Some(mut conn) = self.conns.get_mut(key).and_then(Option::take) {
                        let gone = conn.abandoned();
                        pool::take_back(&mut conn, &mut job, &self.access);
                        if let Some(slot) = self.conns.get_mut(key) {
                            *slot = Some(conn);
                        }
                        if gone {
                            if let Some(conn) = self.conns.get_mut(key).and_then(Option::take) {
                                self.close_conn(key, conn);
                            }
                        } else {
                            self.drive(ctx, key, now);
                        }
                    }
                    if let Some(pool) = self.pool.as_mut() {
                        pool.recycle(job);
                    }
                }
            }
        }
        self.dispatch_parked(ctx, now);
    }

    /// Hands parked requests to the pool while it has room.
    fn dispatch_parked(&mut self, ctx: &Ctx<'_>, now: Instant) {
        while self.pool.as_ref().is_some_and(pool::Pool::has_room) {
            let Some(key) = self.parked.pop_front() else {
                return;
            };
            let Some(mut conn) = self.conns.get_mut(key).and_then(Option::take) else {
                continue;
            };
            if matches!(conn.phase, conn::Phase::Queued) {
                conn.phase = dispatch::to_thread(&mut conn, &mut Shared { ctx, io: self, now });
            }
            if let Some(slot) = self.conns.get_mut(key) {
                *slot = Some(conn);
            }
            self.drive(ctx, key, now);
        }
    }

    fn close_conn(&mut self, key: usize, mut conn: Conn) {
        self.conns.try_remove(key);
        self.missed.retain(|(k, _)| *k != key);
        conn.log_access(&mut self.access, self.tally); // service: a request cut short is logged too
                                                       // No EPOLL_CTL_DEL: closing the descriptor, which only this process holds, takes it
                                                       // out of the poll set, and a connection saves the system call.
        if let Some(storage) = conn.into_storage() {
            if self.spares.len() < POOL_MAX {
                self.spares.push(storage);
            }
        }
    }

    /// Closes connections whose deadline passed; while stopping, idle ones linger at most
    /// `keepalive`. Connections inside the application are left to their call.
    fn sweep(&mut self, ctx: &Ctx<'_>, now: Instant) {
        let linger = match self.life {
            Life::Draining { until } => Some(until.min(now + ctx.settings.keepalive)),
            Life::Serving | Life::Quitting => None,
        };
        let keys: Vec<usize> = self.conns.iter().filter_map(|(k, c)| c.as_ref().map(|_| k)).collect();
        for key in keys {
            let Some(mut conn) = self.conns.get_mut(key).and_then(Option::take) else {
                continue;
            };
            if let Some(by) = linger {
                conn.linger_until(by);
            }
            if conn.expire(&Shared { ctx, io: self, now }) {
                self.close_conn(key, conn);
            } else if let Some(slot) = self.conns.get_mut(key) {
                *slot = Some(conn);
            }
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
    fn begin_stop(&mut self, ctx: &Ctx<'_>, deadline: Instant) {
        if self.life != Life::Serving {
            return;
        }
        let now = Instant::now();
        // Connections the kernel already completed are in flight from the client's view:
        // take them (with keep-alive off) before letting go of the listeners.
        self.life = Life::Draining { until: deadline };
        if self.requests_left > 0 {
            for i in 0..self.listeners.len() {
                self.accept(ctx, i, now, usize::MAX, Defer::Never);
            }
        }
        self.close_listeners(Accepting::Full);
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
        // Said once this worker takes no more connections: what connects from now on is
        // another worker's.
        log::info!("Worker exiting (pid: {})", std::process::id());
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for k in keys {
            self.drive(ctx, k, now);
        }
        self.sweep(ctx, now);
    }

    /// For the application's `write` past its high-water mark: runs turns of the loop for the
    /// other connections until `key`'s socket may take more, or `timeout` passes. False when
    /// the worker cannot nest another turn (too deep, or quitting).
    pub(crate) fn quit_requested(&self) -> bool {
        self.life == Life::Quitting
    }

    /// See [`Io::turn`]; used by the application's `write`.
    pub(crate) fn wait_writable(&mut self, ctx: &Ctx<'_>, key: usize, timeout: Duration) -> bool {
        if self.depth >= MAX_DEPTH || self.life == Life::Quitting {
            return false;
        }
        self.depth += 1;
        self.turn(ctx, timeout, Some(key));
        self.depth -= 1;
        self.life != Life::Quitting
    }
}

#[cfg(test)]
mod tests {
    use super::resident_pages;

    #[test]
    fn statm_resident_pages() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"11873 2035 1539 222 0 1083 0\n", Some(2035)),
            (b"1 2", Some(2)),
            (b"1", None),
            (b"", None),
            (b"1 x 3", None),
            (b"\xff\xfe 2", None),
        ];
        for &(text, want) in cases {
            assert_eq!(resident_pages(text), want, "{text:?}");
        }
    }
}
