//! Metrics to statsd (`statsd_host`), under gunicorn's names: what each process counts, and
//! the client that sends it. A process never sends a datagram per request or per log line: it
//! adds to counters in memory and sends them at most once a second, packed into datagrams of
//! many lines ([`Statsd::flush`]).
//!
//! | name | type | from |
//! | --- | --- | --- |
//! | `gunicorn.requests` | counter | each worker, per request |
//! | `gunicorn.request.status.<code>` | counter | each worker, per request |
//! | `gunicorn.request.duration` | timer (ms) | each worker, per request (sampled, see [`Requests`]) |
//! | `gunicorn.workers` | gauge | the master, when the number of workers changes |
//! | `gunicorn.backlog` | histogram | the master, once a second with `enable_backlog_metric`: connections waiting in the accept queues |
//! | `gunicorn.log.error`, `gunicorn.log.warning` | counter | every process, per error-log line |
//!
//! Each name starts with `statsd_prefix` and a dot when a prefix is set, and each line ends with
//! `|#` and `dogstatsd_tags` when tags are set (DogStatsD's form).

mod line;

use crate::config::Config;
use line::Packer;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often a process sends what it counted.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// statsd's port when `statsd_host` names none (gunicorn's default too).
const DEFAULT_PORT: u16 = 8125;

/// Error-log lines by level since the last flush: `[error, warning]`. Counted by the error log
/// of any thread, sent by the process's own flush.
static LOG_LINES: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// The error log wrote a line at `level` (gunicorn's `gunicorn.log.<level>` counters).
pub fn count_log_line(level: log::Level) {
    let i = match level {
        log::Level::Error => 0,
        log::Level::Warn => 1,
        _ => return,
    };
    LOG_LINES[i].fetch_add(1, Ordering::Relaxed);
}

/// Why the statsd client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StatsdError {
    /// The host name did not resolve.
    #[error("cannot resolve the statsd host {addr}: {source}")]
    Resolve {
        /// `statsd_host`.
        addr: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The socket could not be made.
    #[error("cannot open a socket to statsd at {addr}: {source}")]
    OpenSocket {
        /// `statsd_host`.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Where datagrams go.
#[derive(Debug)]
enum Sink {
    /// A UDP socket connected to the server's address, non-blocking.
    Udp(UdpSocket),
    /// An unbound datagram socket and the server's path: `send_to` on each flush, so that a
    /// server started after forkhorn (or restarted) is reached without reconnecting.
    Unix(UnixDatagram, PathBuf),
    /// Datagrams kept for the tests.
    #[cfg(test)]
    Memory(Vec<Vec<u8>>),
}

/// Where the statsd server is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Udp(SocketAddr),
    Unix(PathBuf),
}

/// The master's [`Target`], found at start and on reload, and inherited by the workers it forks:
/// a worker neither looks the host up again nor warns again when the master could not.
static TARGET: Mutex<Option<Target>> = Mutex::new(None);

fn target() -> MutexGuard<'static, Option<Target>> {
    // A panic while holding the lock leaves the value usable: it is always whole.
    TARGET.lock().unwrap_or_else(|p| p.into_inner())
}

impl Target {
    /// `statsd_host` looked up (a host name is resolved here, once).
    fn find(addr: &str) -> Result<Target, StatsdError> {
        if let Some(path) = addr.strip_prefix("unix:") {
            return Ok(Target::Unix(PathBuf::from(path)));
        }
        resolve(addr).map(Target::Udp).map_err(|source| StatsdError::Resolve {
            addr: addr.to_owned(),
            source,
        })
    }
}

impl Sink {
    fn open(target: &Target) -> io::Result<Sink> {
        match target {
            Target::Unix(path) => {
                let sock = UnixDatagram::unbound()?;
                sock.set_nonblocking(true)?;
                Ok(Sink::Unix(sock, path.clone()))
            }
            Target::Udp(addr) => {
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let sock = UdpSocket::bind(local)?;
                sock.connect(addr)?;
                sock.set_nonblocking(true)?;
                Ok(Sink::Udp(sock))
            }
        }
    }

    fn send(&mut self, datagram: &[u8]) -> io::Result<()> {
        match self {
            Sink::Udp(sock) => sock.send(datagram).map(drop),
            Sink::Unix(sock, path) => sock.send_to(datagram, &*path).map(drop),
            #[cfg(test)]
            Sink::Memory(sent) => {
                sent.push(datagram.to_vec());
                Ok(())
            }
        }
    }
}

/// `HOST:PORT`, `[IPv6]:PORT`, or a host alone (port 8125): its first address.
fn resolve(addr: &str) -> io::Result<SocketAddr> {
    let (host, port) = match addr.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') && (host.starts_with('[') || !host.contains(':')) => {
            let port = port
                .parse::<u16>()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            (host, port)
        }
        _ => (addr, DEFAULT_PORT),
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

/// A process's statsd client: the socket, made once per process (a worker makes its own after
/// fork), and the lines of the next flush.
#[derive(Debug)]
pub struct Statsd {
    sink: Sink,
    packer: Packer,
    /// A send failed and was logged. Only the first failure is: with no server listening,
    /// every other send to a UDP address fails (the ICMP error of one is reported by the next).
    reported: bool,
    last_flush: Instant,
}

impl Statsd {
    /// A client of `target`, with the prefix and tags of `cfg`.
    fn open(target: &Target, cfg: &Config) -> Result<Statsd, StatsdError> {
        let sink = Sink::open(target).map_err(|source| StatsdError::OpenSocket {
            addr: cfg.statsd_host.clone().unwrap_or_default(),
            source,
        })?;
        Ok(Statsd::with_sink(sink, cfg))
    }

    fn with_sink(sink: Sink, cfg: &Config) -> Statsd {
        Statsd {
            sink,
            packer: Packer::new(
                cfg.statsd_prefix.as_deref().unwrap_or(""),
                cfg.dogstatsd_tags.as_deref().unwrap_or(""),
            ),
            reported: false,
            last_flush: Instant::now(),
        }
    }

    /// Sends a gauge now (the master's `gunicorn.workers`: rare, so not batched).
    pub fn gauge(&mut self, name: &str, value: u64) {
        self.packer.gauge(name, value);
        self.send_all();
    }

    /// Whether the last flush is [`FLUSH_INTERVAL`] old.
    pub fn due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_flush) >= FLUSH_INTERVAL
    }

    /// Sends what was counted since the last flush: the error-log counters, and the requests of
    /// a worker. One `send` per full datagram; nothing when nothing was counted.
    pub fn flush(&mut self, requests: Option<&mut Requests>) {
        self.last_flush = Instant::now();
        for (i, name) in ["gunicorn.log.error", "gunicorn.log.warning"].into_iter().enumerate() {
            let n = LOG_LINES[i].swap(0, Ordering::Relaxed);
            if n > 0 {
                self.packer.counter(name, n);
            }
        }
        if let Some(r) = requests {
            r.drain_into(&mut self.packer);
        }
        self.send_all();
    }

    fn send_all(&mut self) {
        for datagram in self.packer.datagrams() {
            // Never blocks: a full socket buffer or an absent server drops the datagram.
            if let Err(e) = self.sink.send(datagram) {
                if !self.reported {
                    self.reported = true;
                    log::debug!("cannot send metrics to statsd (later failures are not logged): {e}");
                }
            }
        }
        self.packer.clear();
    }
}

/// The master's metrics: the `gunicorn.workers` gauge and its own error-log counters.
#[derive(Debug)]
pub struct MasterMetrics {
    statsd: Statsd,
    /// The last number of workers sent.
    workers: Option<usize>,
    /// `enable_backlog_metric`.
    backlog: bool,
}

impl MasterMetrics {
    /// The master's client, or None when `statsd_host` is not set. The address found is the
    /// one the workers forked from now on use.
    pub fn open(cfg: &Config) -> Result<Option<MasterMetrics>, StatsdError> {
        let found = cfg.statsd_host.as_deref().map(Target::find).transpose();
        *target() = found.as_ref().ok().cloned().flatten();
        let Some(found) = found? else {
            return Ok(None);
        };
        let statsd = Statsd::open(&found, cfg)?;
        Ok(Some(MasterMetrics {
            statsd,
            workers: None,
            backlog: cfg.enable_backlog_metric,
        }))
    }

    /// Called on every turn of the master's loop with the number of worker processes: the
    /// gauge when it changed (as gunicorn sends it), the error-log counters once a second, and
    /// with `enable_backlog_metric` the `backlog` (asked only then) once a second too.
    pub fn tick(&mut self, workers: usize, backlog: &dyn Fn() -> u64, now: Instant) {
        if self.workers != Some(workers) {
            self.workers = Some(workers);
            self.statsd.gauge("gunicorn.workers", workers as u64);
        }
        if self.statsd.due(now) {
            if self.backlog {
                self.statsd.packer.histogram("gunicorn.backlog", backlog());
            }
            self.statsd.flush(None);
        }
    }
}

impl Drop for MasterMetrics {
    fn drop(&mut self) {
        self.statsd.flush(None);
    }
}

/// A worker's metrics: its client and the requests since the last flush.
#[derive(Debug)]
pub struct WorkerMetrics {
    statsd: Statsd,
    requests: Requests,
}

impl WorkerMetrics {
    /// In a new worker: its own socket to the master's statsd address, or None when
    /// `statsd_host` is not set (or the master found no address for it: it said so). Error-log
    /// lines counted before the fork are the master's to send.
    pub fn open(cfg: &Config) -> Result<Option<WorkerMetrics>, StatsdError> {
        let found = target().clone();
        let Some(found) = found.filter(|_| cfg.statsd_host.is_some()) else {
            return Ok(None);
        };
        for n in &LOG_LINES {
            n.store(0, Ordering::Relaxed);
        }
        Ok(Some(WorkerMetrics {
            statsd: Statsd::open(&found, cfg)?,
            requests: Requests::new(std::process::id()),
        }))
    }

    /// A request ended with `status` after `elapsed`: memory only, no system call.
    pub fn request(&mut self, status: u16, elapsed: Duration) {
        self.requests.record(status, elapsed);
    }

    /// Called on every turn of the worker's loop: flushes once a second.
    pub fn tick(&mut self, now: Instant) {
        if self.statsd.due(now) {
            self.flush();
        }
    }

    /// Sends what was counted (also at exit).
    pub fn flush(&mut self) {
        self.statsd.flush(Some(&mut self.requests));
    }
}

/// The requests since the last flush. Counters are exact. Durations are a uniform sample of at
/// most [`Requests::MAX_SAMPLES`] (reservoir sampling): under that load every duration is sent
/// as its own timer line; above it, each kept line carries the statsd sample rate `|@kept/seen`
/// so that the server's count of timings stays right. Sending a mean instead would change what
/// the timer's percentiles mean.
#[derive(Debug)]
pub struct Requests {
    count: u64,
    /// (status, count) for each status seen since the worker started; few distinct values.
    statuses: Vec<(u16, u64)>,
    /// Durations in milliseconds.
    samples: Vec<f64>,
    /// Durations seen since the last flush (kept or not).
    seen: u64,
    /// xorshift64 state, for the reservoir.
    rng: u64,
}

impl Requests {
    /// Durations kept per flush: at about 40 bytes a line, 30 datagrams a second at most.
    pub const MAX_SAMPLES: usize = 1000;

    fn new(seed: u32) -> Requests {
        Requests {
            count: 0,
            statuses: Vec::new(),
            samples: Vec::new(),
            seen: 0,
            rng: u64::from(seed) | 1 << 32,
        }
    }

    fn record(&mut self, status: u16, elapsed: Duration) {
        self.count += 1;
        match self.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => self.statuses.push((status, 1)),
        }
        let ms = elapsed.as_secs_f64() * 1000.0;
        self.seen += 1;
        if self.samples.len() < Self::MAX_SAMPLES {
            self.samples.push(ms);
        } else {
            let j = self.next_random() % self.seen;
            if let Some(slot) = self.samples.get_mut(j as usize) {
                *slot = ms;
            }
        }
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn drain_into(&mut self, packer: &mut Packer) {
        if self.count == 0 {
            return;
        }
        packer.counter("gunicorn.requests", self.count);
        self.count = 0;
        for (status, n) in &mut self.statuses {
            if *n > 0 {
                packer.status_counter(*status, *n);
                *n = 0;
            }
        }
        let rate = self.samples.len() as f64 / self.seen as f64;
        for ms in self.samples.drain(..) {
            packer.timer("gunicorn.request.duration", ms, rate);
        }
        self.seen = 0;
    }
}

#[cfg(test)]
mod tests;
