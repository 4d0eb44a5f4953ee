//! The access log of one worker: a line per request in the configured [`format`](mod@format), collected in
//! a reused buffer and written with one `write(2)` at least once a second (from the worker's
//! loop, which wakes at least that often), when the buffer fills, before a reopen and at exit.
//! No lock, and no allocation per line once the buffer has grown.
//!
//! Each connection keeps a [`RequestLog`]: when its request head was complete, the status of a
//! response the server made itself, and the environ values the format needs. The worker calls
//! [`AccessLog::begin`] when a head is parsed and [`AccessLog::finish`] when the response is
//! complete (or the connection ends first); `finish` writes at most one line per `begin`.
//!
//! The same two calls feed the worker's statsd [metrics](crate::metrics) when `statsd_host` is
//! set (as gunicorn's statsd logger takes its request metrics from the access log's call): the
//! status and the duration of each request, counted in memory.

pub mod format;

use super::file::{open_append, write_fd};
use super::{LoggingError, StdStream};
use crate::config::access_format::AccessFormat;
use crate::config::Config;
use crate::metrics::WorkerMetrics;
pub use format::Exchange;
use format::{EnvValues, Record};
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Lines wait at most this long in the buffer (checked on every loop iteration).
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// A fuller buffer is written at once: bounded memory under heavy load.
const FLUSH_SIZE: usize = 64 * 1024;

/// Where the worker's access lines go besides syslog.
#[derive(Debug)]
enum Output {
    /// `accesslog` is not set.
    Nowhere,
    /// `accesslog = "-"` (stdout, as in gunicorn, where the error log's `-` is stderr), or a
    /// name of stdout or stderr such as `/dev/stderr`.
    Stream(StdStream),
    /// A file, reopened on USR1.
    File {
        /// Absolute, so that reopening does not depend on the working directory.
        path: PathBuf,
        file: File,
    },
}

/// One worker's access log.
#[derive(Debug)]
pub struct AccessLog {
    /// None: access logging is off.
    format: Option<AccessFormat>,
    output: Output,
    /// Each line also goes to syslog.
    syslog: bool,
    buf: Vec<u8>,
    last_flush: Instant,
    /// The `t` atom of `time_sec`, refreshed by [`AccessLog::tick`] once per loop iteration
    /// rather than once per line.
    time: Vec<u8>,
    time_sec: i64,
    pid: u32,
    /// A write error was reported and not yet followed by a success (report once per streak).
    failing: bool,
    /// The worker's statsd metrics, when `statsd_host` is set.
    metrics: Option<WorkerMetrics>,
    /// The worker keeps request counters for the master ([`AccessLog::count_requests`]).
    counting: bool,
}

/// What [`AccessLog::finish`] closed: the request's status (0: no response) and duration.
#[derive(Debug, Clone, Copy)]
pub struct Finished {
    /// The status sent, 0 if none was.
    pub status: u16,
    /// From the complete head to the complete response (zero when nothing asked for timing).
    pub elapsed: Duration,
}

/// A connection's access-log state for its current request.
#[derive(Debug, Default)]
pub struct RequestLog {
    phase: Phase,
    environ: EnvValues,
}

#[derive(Debug, Default)]
enum Phase {
    /// No request to log (access log off, or already logged).
    #[default]
    Idle,
    /// A request head was parsed (at `start`, if the format shows durations or metrics are
    /// sent).
    InFlight {
        start: Option<Instant>,
        /// Set when the server answered itself (an error) instead of the application.
        answered: Option<Answered>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Answered {
    status: u16,
    body_bytes: u64,
}

impl RequestLog {
    /// The server answered the request itself with `status` and a body of `body_bytes` (a 413,
    /// a 400 for a broken chunked body, a 500 for a failed application).
    pub fn answered(&mut self, status: u16, body_bytes: u64) {
        if let Phase::InFlight { answered, .. } = &mut self.phase {
            *answered = Some(Answered { status, body_bytes });
        }
    }
}

impl AccessLog {
    /// No access log.
    pub fn disabled() -> AccessLog {
        AccessLog {
            format: None,
            output: Output::Nowhere,
            syslog: false,
            buf: Vec::new(),
            last_flush: Instant::now(),
            time: Vec::new(),
            time_sec: i64::MIN,
            pid: std::process::id(),
            failing: false,
            metrics: None,
            counting: false,
        }
    }

    /// The access log `cfg` asks for, its file opened by this process (a worker opens its own,
    /// before it drops privileges). Lines go to `accesslog`, and to syslog when `syslog` is on
    /// and `disable_redirect_access_to_syslog` is not (gunicorn's rule).
    pub fn open(cfg: &Config) -> Result<AccessLog, LoggingError> {
        let syslog = cfg.syslog && !cfg.disable_redirect_access_to_syslog;
        let output = match cfg.accesslog.as_deref().map(|p| (p, StdStream::named(p))) {
            None => Output::Nowhere,
            // gunicorn's `-` for the access log: stdout, where request lines and the error
            // log's lines can be told apart.
            Some(("-", _)) => Output::Stream(StdStream::Stdout),
            Some((_, Some(stream))) => Output::Stream(stream),
            Some((path, None)) => {
                let err = |source| LoggingError::OpenAccessLog {
                    path: path.into(),
                    source,
                };
                let path = std::path::absolute(path).map_err(err)?;
                let file = open_append(&path).map_err(err)?;
                Output::File { path, file }
            }
        };
        let mut log = AccessLog::disabled();
        log.metrics = match WorkerMetrics::open(cfg) {
            Ok(m) => m,
            // Metrics are not worth refusing to serve for (gunicorn serves without them too).
            Err(e) => {
                log::warn!("{e}; this worker sends no metrics");
                None
            }
        };
        if matches!(output, Output::Nowhere) && !syslog {
            return Ok(log);
        }
        log.format = Some(AccessFormat::parse(&cfg.access_log_format)?);
        log.output = output;
        log.syslog = syslog;
        log.buf.reserve(FLUSH_SIZE + 4096);
        log.refresh_time();
        Ok(log)
    }

    /// Every request is timed and reported by [`AccessLog::finish`]: the worker counts them
    /// for the master.
    pub fn count_requests(&mut self) {
        self.counting = true;
    }

    /// Whether lines are written at all.
    pub fn enabled(&self) -> bool {
        self.format.is_some()
    }

    /// A request head is complete: note it (and the time, if the format shows durations or
    /// metrics are sent or counted; no clock is read otherwise). Returns whether the request
    /// is open: [`AccessLog::finish`] then reports it.
    pub fn begin(&self, req: &mut RequestLog) -> bool {
        let timed = match (&self.format, &self.metrics) {
            _ if self.counting => true,
            (None, None) => return false,
            (_, Some(_)) => true,
            (Some(format), None) => format.timed(),
        };
        req.phase = Phase::InFlight {
            start: timed.then(Instant::now),
            answered: None,
        };
        true
    }

    /// Whether the format shows environ variables (`%({key}e)s`), so that the environ must
    /// have them all.
    pub fn reads_environ(&self) -> bool {
        self.format.as_ref().is_some_and(|f| !f.environ_keys().is_empty())
    }

    /// The application returned: keep the environ values the format needs, since the environ
    /// is reused for the next request before a streamed response ends.
    /// `environ` lists the environ's (key, value) pairs.
    pub fn capture_environ<'e, I>(&self, req: &mut RequestLog, environ: impl Fn() -> I)
    where
        I: Iterator<Item = (&'e str, &'e str)>,
    {
        if let (Some(f), Phase::InFlight { .. }) = (&self.format, &req.phase) {
            if !f.environ_keys().is_empty() {
                req.environ.capture(f.environ_keys(), environ);
            }
        }
    }

    /// The response is complete (or the connection ended first): writes the request's line,
    /// once; returns what it closed, if a request was open.
    pub fn finish(&mut self, req: &mut RequestLog, ex: &Exchange<'_>) -> Option<Finished> {
        let Phase::InFlight { start, answered } = std::mem::take(&mut req.phase) else {
            return None;
        };
        let (status, body_bytes, resp_head, resp_length) = match answered {
            // The server's own answer: its length is its Content-Length.
            Some(a) => (a.status, a.body_bytes, &b""[..], Some(a.body_bytes)),
            None => (ex.status, ex.body_bytes, ex.resp_head, ex.resp_length),
        };
        let elapsed = start.map(|s| s.elapsed()).unwrap_or_default();
        // Status 0: the connection ended before any response; gunicorn's statsd logger never
        // hears of such a request either.
        if let Some(m) = self.metrics.as_mut().filter(|_| status != 0) {
            m.request(status, elapsed);
        }
        let finished = Finished { status, elapsed };
        let Some(format) = &self.format else {
            return Some(finished);
        };
        let rec = Record {
            exchange: Exchange {
                status,
                body_bytes,
                resp_head,
                resp_length,
                ..*ex
            },
            elapsed,
            environ: &req.environ,
            time: &self.time,
            pid: self.pid,
        };
        let line_start = self.buf.len();
        format::render(format, &rec, &mut self.buf);
        if self.syslog {
            let line = &self.buf[line_start..self.buf.len() - 1];
            // Escaping keeps the line ASCII, so this never replaces anything.
            super::syslog_access(&String::from_utf8_lossy(line));
        }
        if matches!(self.output, Output::Nowhere) {
            self.buf.truncate(line_start);
        } else if self.buf.len() >= FLUSH_SIZE {
            self.flush();
        }
        Some(finished)
    }

    /// Called at the start of every iteration of the worker's loop: brings the `t` atom up to
    /// date and writes the buffer if its oldest line may be a second old; sends the metrics
    /// once a second.
    pub fn tick(&mut self, now: Instant) {
        if let Some(m) = &mut self.metrics {
            m.tick(now);
        }
        if self.format.is_none() {
            return;
        }
        self.refresh_time();
        if !self.buf.is_empty() && now.saturating_duration_since(self.last_flush) >= FLUSH_INTERVAL {
            self.flush();
        }
    }

    fn refresh_time(&mut self) {
        let now = crate::clock::unix_now();
        if now != self.time_sec {
            self.time_sec = now;
            self.time.clear();
            format::clf_time(now, &mut self.time);
        }
    }

    /// Writes every buffered line.
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.buf.is_empty() {
            return;
        }
        let result = match &mut self.output {
            Output::Nowhere => Ok(()),
            Output::Stream(stream) => write_fd(stream.fd(), &self.buf),
            Output::File { file, .. } => file.write_all(&self.buf),
        };
        // On failure the lines are dropped: holding them would grow without bound while a disk
        // stays full.
        self.buf.clear();
        match result {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                log::error!("cannot write the access log: {e}");
            }
            Err(_) => {}
        }
    }

    /// USR1: writes what is buffered to the old file, then opens the path again, so that no line
    /// is lost and none written after this call goes to the old file.
    pub fn reopen(&mut self) -> io::Result<()> {
        self.flush();
        if let Output::File { path, file } = &mut self.output {
            *file = open_append(path)?;
        }
        Ok(())
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.flush();
        if let Some(m) = &mut self.metrics {
            m.flush();
        }
    }
}

/// The body length of an error response the server wrote into `response` (head and body), for
/// [`RequestLog::answered`].
pub fn body_len(response: &[u8]) -> u64 {
    response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (response.len() - i - 4) as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_head, Head, Limits};

    fn cfg_with(path: &std::path::Path) -> Config {
        Config {
            accesslog: Some(path.display().to_string()),
            access_log_format: "%(m)s %(U)s %(s)s %(b)s".into(),
            ..Config::default()
        }
    }

    fn exchange<'a>(head: &'a Head, buf: &'a [u8]) -> Exchange<'a> {
        Exchange {
            head,
            buf,
            peer: None,
            status: 200,
            body_bytes: 5,
            resp_head: b"HTTP/1.1 200 OK\r\n",
            resp_length: None,
        }
    }

    #[test]
    fn one_line_per_begin_buffered_until_flush_then_reopened() {
        let dir = std::env::temp_dir().join(format!("forkhorn-access-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let mut log = AccessLog::open(&cfg_with(&path)).unwrap();
        assert!(log.enabled());
        let buf = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
        let mut head = Head::default();
        let limits = Limits {
            request_line: 100,
            fields: 10,
            field_size: 100,
        };
        parse_head(buf, &limits, &mut head).unwrap();
        let mut req = RequestLog::default();
        log.begin(&mut req);
        log.finish(&mut req, &exchange(&head, buf));
        // A second finish without a begin writes nothing.
        log.finish(&mut req, &exchange(&head, buf));
        log.begin(&mut req);
        req.answered(413, 20);
        log.finish(&mut req, &exchange(&head, buf));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "buffered");
        log.tick(Instant::now());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "less than a second old");
        log.tick(Instant::now() + FLUSH_INTERVAL);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "GET /x 200 5\nGET /x 413 20\n");

        log.begin(&mut req);
        log.finish(&mut req, &exchange(&head, buf));
        std::fs::rename(&path, dir.join("access.log.1")).unwrap();
        log.reopen().unwrap();
        log.begin(&mut req);
        log.finish(&mut req, &exchange(&head, buf));
        drop(log);
        assert_eq!(
            std::fs::read_to_string(dir.join("access.log.1")).unwrap(),
            "GET /x 200 5\nGET /x 413 20\nGET /x 200 5\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "GET /x 200 5\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn off_by_default() {
        let log = AccessLog::open(&Config::default()).unwrap();
        assert!(!log.enabled());
        let mut req = RequestLog::default();
        log.begin(&mut req);
        assert!(matches!(req.phase, Phase::Idle));
    }

    #[test]
    fn error_body_length() {
        assert_eq!(body_len(b"HTTP/1.1 413 X\r\nA: b\r\n\r\nPayload Too Large\n"), 18);
        assert_eq!(body_len(b"junk"), 0);
    }
}
