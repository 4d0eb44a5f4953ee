//! The built-in load generator: a fixed number of HTTP/1.1 connections spread over a few
//! threads, each thread a mio loop that keeps every one of its connections busy (closed loop:
//! the next request goes out as soon as the previous response's last byte is in).
//!
//! Honesty rules: latency runs from the first byte of the request written to the last byte of
//! the response read; only 2xx responses count as served; non-2xx answers, connection failures,
//! read and write errors, protocol violations and requests unanswered within the timeout are
//! counted as errors; and each thread measures its own CPU time, so a report can say when the
//! generator, not the server, was the limit. What completes during the warm-up is discarded.

use super::histogram::Histogram;
use super::response::{Complete, ResponseReader};
use super::settings::Mode;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often each thread checks its connections for timeouts and retries.
const SWEEP: Duration = Duration::from_millis(10);
/// After a failed connect, a connection waits this long before trying again, so that a server
/// that is down costs an error count per connection every few milliseconds, not a hot loop.
const RETRY_AFTER: Duration = Duration::from_millis(10);
/// Bytes read per read(2).
const READ_CHUNK: usize = 64 * 1024;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// The server.
    pub addr: SocketAddr,
    /// The request target.
    pub path: String,
    /// Keep-alive or a new connection per request.
    pub mode: Mode,
    /// Concurrent connections.
    pub connections: usize,
    /// Threads (at most one per connection).
    pub threads: usize,
    /// Load before the measured window.
    pub warmup: Duration,
    /// The measured window's length.
    pub duration: Duration,
    /// A request unanswered for this long is abandoned as a timeout error.
    pub timeout: Duration,
}

/// The measured window: responses completing in `[start, end)` count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The end of the warm-up.
    pub start: Instant,
    /// The end of the run.
    pub end: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        self.start <= t && t < self.end
    }
}

/// Errors seen in the measured window, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Errors {
    /// Connections that could not be established.
    pub connect: u64,
    /// Failed reads, and connections closed before the response was complete.
    pub read: u64,
    /// Failed writes.
    pub write: u64,
    /// Requests unanswered within the timeout.
    pub timeout: u64,
    /// Complete responses with a status other than 2xx.
    pub status: u64,
    /// Malformed responses, or bytes nobody asked for.
    pub protocol: u64,
}

impl Errors {
    /// All errors.
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.timeout + self.status + self.protocol
    }

    fn add(&mut self, o: &Errors) {
        self.connect += o.connect;
        self.read += o.read;
        self.write += o.write;
        self.timeout += o.timeout;
        self.status += o.status;
        self.protocol += o.protocol;
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// 2xx responses completed in the window.
    pub ok: u64,
    /// Latency of every response (of any status) completed in the window.
    pub latency: Histogram,
    /// Errors in the window.
    pub errors: Errors,
    /// The window's length (shorter than asked if the run was stopped).
    pub elapsed: Duration,
    /// CPU time the generator's threads used in the window.
    pub cpu: Duration,
    /// Threads that ran.
    pub threads: usize,
}

/// Why the generator could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The event loop could not be created or polled.
    #[error("load generator event loop: {0}")]
    Poll(std::io::Error),
    /// A thread could not be started.
    #[error("cannot start a load generator thread: {0}")]
    SpawnThread(std::io::Error),
    /// A thread panicked.
    #[error("a load generator thread panicked")]
    JoinThread,
}

/// A run in progress; [`Running::finish`] waits for it.
pub struct Running {
    window: Window,
    threads: Vec<JoinHandle<Result<ThreadReport, LoadError>>>,
}

/// Starts the load now: warm-up until `window().start`, measurement until `window().end`.
/// Setting `stop` ends it early.
pub fn start(spec: &LoadSpec, stop: Arc<AtomicBool>) -> Result<Running, LoadError> {
    let now = Instant::now();
    let window = Window {
        start: now + spec.warmup,
        end: now + spec.warmup + spec.duration,
    };
    let threads = spec.threads.clamp(1, spec.connections.max(1));
    let close = match spec.mode {
        Mode::KeepAlive => "",
        Mode::NewConnection => "Connection: close\r\n",
    };
    let request: Arc<[u8]> = format!("GET {} HTTP/1.1\r\nHost: {}\r\n{close}\r\n", spec.path, spec.addr)
        .into_bytes()
        .into();
    let mut handles = Vec::with_capacity(threads);
    for i in 0..threads {
        let share = spec.connections / threads + usize::from(i < spec.connections % threads);
        let job = ThreadJob {
            addr: spec.addr,
            request: request.clone(),
            mode: spec.mode,
            connections: share,
            timeout: spec.timeout,
            window,
            stop: stop.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("bench-load-{i}"))
            .spawn(move || job.run())
            .map_err(LoadError::SpawnThread);
        match handle {
            Ok(h) => handles.push(h),
            Err(e) => {
                // Stop the threads already running before reporting.
                stop.store(true, Ordering::Relaxed);
                for h in handles {
                    let _ = h.join();
                }
                return Err(e);
            }
        }
    }
    Ok(Running {
        window,
        threads: handles,
    })
}

impl Running {
    /// When the measured window starts and ends.
    pub fn window(&self) -> Window {
        self.window
    }

    /// Waits for every thread and merges what they measured.
    pub fn finish(self) -> Result<LoadReport, LoadError> {
        let mut report = LoadReport {
            ok: 0,
            latency: Histogram::new(),
            errors: Errors::default(),
            elapsed: Duration::ZERO,
            cpu: Duration::ZERO,
            threads: self.threads.len(),
        };
        let mut first_error = None;
        for h in self.threads {
            match h.join() {
                Ok(Ok(t)) => {
                    report.ok += t.ok;
                    report.latency.merge(&t.latency);
                    report.errors.add(&t.errors);
                    report.cpu += t.cpu;
                    report.elapsed = report.elapsed.max(t.elapsed);
                }
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(_) => first_error = first_error.or(Some(LoadError::JoinThread)),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

/// One thread's share of the run.
struct ThreadJob {
    addr: SocketAddr,
    request: Arc<[u8]>,
    mode: Mode,
    connections: usize,
    timeout: Duration,
    window: Window,
    stop: Arc<AtomicBool>,
}

/// One thread's measurements.
#[derive(Default)]
struct ThreadReport {
    ok: u64,
    latency: Histogram,
    errors: Errors,
    cpu: Duration,
    elapsed: Duration,
}

/// What the connections of a thread share: the loop's registry, the request, the counters.
struct Shared<'a> {
    registry: &'a Registry,
    job: &'a ThreadJob,
    report: &'a mut ThreadReport,
    scratch: &'a mut [u8],
}

impl Shared<'_> {
    /// Counts an error that happened at `now`, if that is inside the window.
    fn count(&mut self, now: Instant, kind: fn(&mut Errors) -> &mut u64) {
        if self.job.window.contains(now) {
            *kind(&mut self.report.errors) += 1;
        }
    }
}

impl ThreadJob {
    fn run(self) -> Result<ThreadReport, LoadError> {
        let mut poll = Poll::new().map_err(LoadError::Poll)?;
        let mut events = Events::with_capacity(1024);
        let mut report = ThreadReport::default();
        let mut scratch = vec![0u8; READ_CHUNK];
        let mut conns: Vec<Conn> = (0..self.connections).map(|i| Conn::new(Token(i))).collect();
        let now = Instant::now();
        {
            let mut sh = Shared {
                registry: poll.registry(),
                job: &self,
                report: &mut report,
                scratch: &mut scratch,
            };
            for c in &mut conns {
                c.open(&mut sh, now);
            }
        }
        let mut cpu_start = None;
        let mut next_sweep = now + SWEEP;
        loop {
            let now = Instant::now();
            if now >= self.window.end || self.stop.load(Ordering::Relaxed) {
                break;
            }
            if cpu_start.is_none() && now >= self.window.start {
                cpu_start = Some((thread_cpu(), now));
            }
            let mut wake = next_sweep.min(self.window.end);
            if cpu_start.is_none() {
                wake = wake.min(self.window.start);
            }
            match poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(LoadError::Poll(e)),
            }
            let now = Instant::now();
            let mut sh = Shared {
                registry: poll.registry(),
                job: &self,
                report: &mut report,
                scratch: &mut scratch,
            };
            for ev in events.iter() {
                if let Some(c) = conns.get_mut(ev.token().0) {
                    c.drive(&mut sh, now);
                }
            }
            if now >= next_sweep {
                for c in &mut conns {
                    c.sweep(&mut sh, now);
                }
                next_sweep = now + SWEEP;
            }
        }
        if let Some((cpu0, t0)) = cpu_start {
            report.cpu = thread_cpu().saturating_sub(cpu0);
            report.elapsed = Instant::now().min(self.window.end).saturating_duration_since(t0);
        }
        Ok(report)
    }
}

/// This thread's CPU time (user + system).
fn thread_cpu() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_THREAD) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64) + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// Where a connection is in its request cycle.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// connect(2) is in progress.
    Connecting { since: Instant },
    /// The request is being written; latency runs from `started`.
    Sending { sent: usize, started: Instant },
    /// The request is out; the response is being read.
    Receiving { started: Instant },
    /// The last connect failed; try again at `until`.
    Resting { until: Instant },
}

/// One client connection (reopened as often as needed).
struct Conn {
    token: Token,
    stream: Option<TcpStream>,
    phase: Phase,
    /// Received bytes the reader has not consumed yet (usually none: see [`Conn::receive`]).
    pending: Vec<u8>,
    reader: ResponseReader,
}

/// What a step of [`Conn::drive`] leads to.
enum Next {
    /// Keep going: the phase changed and may make progress at once.
    Continue,
    /// Wait for the next readiness event.
    Wait,
}

impl Conn {
    fn new(token: Token) -> Conn {
        Conn {
            token,
            stream: None,
            phase: Phase::Resting { until: Instant::now() },
            pending: Vec::new(),
            reader: ResponseReader::new(),
        }
    }

    /// Starts a new connection.
    fn open(&mut self, sh: &mut Shared<'_>, now: Instant) {
        self.close(sh);
        let opened = TcpStream::connect(sh.job.addr).and_then(|mut s| {
            sh.registry
                .register(&mut s, self.token, Interest::READABLE | Interest::WRITABLE)?;
            Ok(s)
        });
        match opened {
            Ok(s) => {
                self.stream = Some(s);
                self.phase = Phase::Connecting { since: now };
            }
            Err(_) => {
                sh.count(now, |e| &mut e.connect);
                self.phase = Phase::Resting {
                    until: now + RETRY_AFTER,
                };
            }
        }
    }

    fn close(&mut self, sh: &mut Shared<'_>) {
        if let Some(mut s) = self.stream.take() {
            let _ = sh.registry.deregister(&mut s);
        }
        self.pending.clear();
        self.reader.reset();
    }

    /// Counts a failure and starts over on a new connection.
    fn fail(&mut self, sh: &mut Shared<'_>, now: Instant, kind: fn(&mut Errors) -> &mut u64) {
        sh.count(now, kind);
        self.open(sh, now);
    }

    /// Makes all the progress the socket allows (edge-triggered: until it would block).
    fn drive(&mut self, sh: &mut Shared<'_>, now: Instant) {
        loop {
            let next = match self.phase {
                Phase::Resting { .. } => Next::Wait,
                Phase::Connecting { .. } => self.connected(sh, now),
                Phase::Sending { sent, started } => self.send(sh, now, sent, started),
                Phase::Receiving { started } => self.receive(sh, now, started),
            };
            if let Next::Wait = next {
                return;
            }
        }
    }

    /// Timeouts and retries, checked every [`SWEEP`].
    fn sweep(&mut self, sh: &mut Shared<'_>, now: Instant) {
        let timeout = sh.job.timeout;
        match self.phase {
            Phase::Resting { until } if now >= until => {
                self.open(sh, now);
            }
            Phase::Connecting { since } if now.duration_since(since) >= timeout => {
                self.fail(sh, now, |e| &mut e.connect);
            }
            Phase::Sending { started, .. } | Phase::Receiving { started } if now.duration_since(started) >= timeout => {
                self.fail(sh, now, |e| &mut e.timeout);
            }
            _ => {}
        }
    }

    fn connected(&mut self, sh: &mut Shared<'_>, now: Instant) -> Next {
        let Some(s) = &self.stream else {
            return Next::Wait;
        };
        match s.take_error() {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => {
                self.fail(sh, now, |e| &mut e.connect);
                return Next::Wait;
            }
        }
        match s.peer_addr() {
            Ok(_) => {
                // Small requests must not wait for Nagle's algorithm.
                let _ = s.set_nodelay(true);
                self.phase = Phase::Sending { sent: 0, started: now };
                Next::Continue
            }
            // A spurious wake-up: the connect is still in progress.
            Err(e) if e.kind() == ErrorKind::NotConnected => Next::Wait,
            Err(_) => {
                self.fail(sh, now, |e| &mut e.connect);
                Next::Wait
            }
        }
    }

    fn send(&mut self, sh: &mut Shared<'_>, now: Instant, sent: usize, started: Instant) -> Next {
        let Some(s) = &mut self.stream else {
            return Next::Wait;
        };
        match s.write(&sh.job.request[sent..]) {
            Ok(n) if sent + n == sh.job.request.len() => {
                self.phase = Phase::Receiving { started };
                Next::Continue
            }
            Ok(n) => {
                self.phase = Phase::Sending {
                    sent: sent + n,
                    started,
                };
                Next::Continue
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Next::Wait,
            Err(e) if e.kind() == ErrorKind::Interrupted => Next::Continue,
            Err(_) => {
                self.fail(sh, now, |e| &mut e.write);
                Next::Wait
            }
        }
    }

    fn receive(&mut self, sh: &mut Shared<'_>, now: Instant, started: Instant) -> Next {
        let Some(s) = &mut self.stream else {
            return Next::Wait;
        };
        let n = match s.read(sh.scratch) {
            Ok(0) => {
                return match self.reader.end() {
                    Ok(done) => self.complete(sh, now, started, done, false),
                    Err(_) => {
                        self.fail(sh, now, |e| &mut e.read);
                        Next::Wait
                    }
                };
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Next::Wait,
            Err(e) if e.kind() == ErrorKind::Interrupted => return Next::Continue,
            Err(_) => {
                self.fail(sh, now, |e| &mut e.read);
                return Next::Wait;
            }
        };
        // The common case, a response read whole, is parsed straight from the read buffer;
        // only a partial head or body goes through `pending`.
        let from_scratch = self.pending.is_empty();
        if !from_scratch {
            self.pending.extend_from_slice(&sh.scratch[..n]);
        }
        let data: &[u8] = if from_scratch { &sh.scratch[..n] } else { &self.pending };
        let len = data.len();
        let fed = match self.reader.feed(data) {
            Ok(fed) => fed,
            Err(_) => {
                self.fail(sh, now, |e| &mut e.protocol);
                return Next::Wait;
            }
        };
        match fed.complete {
            None => {
                if from_scratch {
                    self.pending.extend_from_slice(&sh.scratch[fed.consumed..n]);
                } else {
                    self.pending.drain(..fed.consumed);
                }
                Next::Continue
            }
            // Nothing was pipelined, so bytes after the response are the server's mistake.
            Some(_) if fed.consumed < len => {
                self.fail(sh, now, |e| &mut e.protocol);
                Next::Wait
            }
            Some(done) => {
                self.pending.clear();
                self.complete(sh, now, started, done, true)
            }
        }
    }

    /// A whole response is in: record it, then send the next request or reconnect.
    fn complete(&mut self, sh: &mut Shared<'_>, now: Instant, started: Instant, done: Complete, open: bool) -> Next {
        if sh.job.window.contains(now) {
            sh.report.latency.record(now.duration_since(started));
            if (200..300).contains(&done.status) {
                sh.report.ok += 1;
            } else {
                sh.report.errors.status += 1;
            }
        }
        self.reader.reset();
        if open && done.keep_alive && sh.job.mode == Mode::KeepAlive {
            self.phase = Phase::Sending { sent: 0, started: now };
            Next::Continue
        } else {
            // RFC 9112 §9.6: after the response to a request with `close`, the client closes.
            self.open(sh, now);
            Next::Wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// A server on a thread that answers every request on every connection with `answer`
    /// (closing after it if `close`), and counts the requests it saw.
    fn canned_server(answer: &'static [u8], close: bool) -> (SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                    let mut writer = conn;
                    let mut line = String::new();
                    loop {
                        // Read one request head.
                        loop {
                            line.clear();
                            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == "\r\n" {
                                break;
                            }
                        }
                        counter.fetch_add(1, Ordering::Relaxed);
                        if writer.write_all(answer).is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    fn spec(addr: SocketAddr, mode: Mode) -> LoadSpec {
        LoadSpec {
            addr,
            path: "/".into(),
            mode,
            connections: 4,
            threads: 2,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(400),
            timeout: Duration::from_millis(200),
        }
    }

    fn run(spec: &LoadSpec) -> LoadReport {
        start(spec, Arc::new(AtomicBool::new(false))).unwrap().finish().unwrap()
    }

    #[test]
    fn keep_alive_counts_2xx_as_served() {
        let (addr, _) = canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false);
        let r = run(&spec(addr, Mode::KeepAlive));
        assert!(r.ok > 100, "{r:?}");
        assert_eq!(r.errors, Errors::default());
        assert_eq!(r.latency.count(), r.ok);
        assert_eq!(r.threads, 2);
        assert!(
            r.elapsed >= Duration::from_millis(390) && r.elapsed <= Duration::from_millis(450),
            "{r:?}"
        );
    }

    #[test]
    fn non_2xx_answers_are_errors() {
        let (addr, _) = canned_server(
            b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n0\r\n\r\n",
            false,
        );
        let r = run(&spec(addr, Mode::KeepAlive));
        assert_eq!(r.ok, 0);
        assert!(r.errors.status > 100, "{r:?}");
        assert_eq!(r.errors.total(), r.errors.status);
        assert_eq!(r.latency.count(), r.errors.status);
    }

    #[test]
    fn new_connection_mode_opens_a_connection_per_request() {
        let (addr, seen) = canned_server(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            true,
        );
        let r = run(&spec(addr, Mode::NewConnection));
        assert!(r.ok > 50, "{r:?}");
        assert_eq!(r.errors, Errors::default());
        // Warm-up requests were served too, but not counted.
        assert!(seen.load(Ordering::Relaxed) >= r.ok);
    }

    #[test]
    fn truncated_responses_and_silence_are_errors() {
        // Promises 10 bytes, sends 2, closes.
        let (addr, _) = canned_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok", true);
        let r = run(&spec(addr, Mode::KeepAlive));
        assert_eq!(r.ok, 0);
        assert!(r.errors.read > 10, "{r:?}");
        // Reads requests, never answers.
        let (addr, _) = canned_server(b"", false);
        let r = run(&spec(addr, Mode::KeepAlive));
        assert_eq!(r.ok, 0);
        // Each of the 4 connections times out once per 200 ms; the window is 400 ms.
        assert!((4..=12).contains(&r.errors.timeout), "{r:?}");
    }

    #[test]
    fn refused_connections_are_errors() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let r = run(&spec(SocketAddr::from(([127, 0, 0, 1], port)), Mode::KeepAlive));
        assert_eq!(r.ok, 0);
        assert!(r.errors.connect > 10, "{r:?}");
        assert_eq!(r.errors.total(), r.errors.connect);
    }
}
