//! The `wrk` engine: the same measurement made by wrk (github.com/wg/wrk), to check the built-in
//! generator against the tool everyone quotes. Runs `wrk --latency` and parses its report; wrk's
//! own CPU time comes from `getrusage(RUSAGE_CHILDREN)` around the run.

use super::settings::Mode;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What wrk measured.
#[derive(Clone, Debug, PartialEq)]
pub struct WrkReport {
    /// Responses wrk completed (any status).
    pub requests: u64,
    /// The run's length as wrk reports it.
    pub elapsed: Duration,
    /// Latency percentiles 50, 90 and 99, and the maximum.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest latency.
    pub max: Duration,
    /// Socket errors: connect, read, write, timeout.
    pub connect_errors: u64,
    /// Read errors.
    pub read_errors: u64,
    /// Write errors.
    pub write_errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Responses with a status of 400 or more (wrk counts 3xx as success).
    pub non_success: u64,
    /// wrk's CPU time (user + system).
    pub cpu: Duration,
    /// wrk's threads.
    pub threads: usize,
}

/// Why wrk could not measure.
#[derive(Debug, thiserror::Error)]
pub enum WrkError {
    /// wrk could not be started.
    #[error("cannot run {program:?} (install wrk or give its path with --wrk): {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// wrk failed.
    #[error("wrk exited with {status}: {stderr}")]
    Exit {
        /// How it ended.
        status: std::process::ExitStatus,
        /// What it said, on one line.
        stderr: String,
    },
    /// wrk's report could not be read.
    #[error("cannot read wrk's report ({what}): {report:?}")]
    ParseReport {
        /// The missing or malformed part.
        what: &'static str,
        /// The report.
        report: String,
    },
    /// Waiting for wrk failed.
    #[error("cannot wait for wrk: {0}")]
    Wait(std::io::Error),
}

/// A wrk run.
#[derive(Clone, Debug)]
pub struct WrkSpec {
    /// The wrk program.
    pub program: String,
    /// The URL to load.
    pub url: String,
    /// Keep-alive, or `Connection: close` on every request.
    pub mode: Mode,
    /// Connections.
    pub connections: usize,
    /// Threads (wrk needs at least one connection per thread).
    pub threads: usize,
    /// Request timeout.
    pub timeout: Duration,
}

/// A wrk process in progress.
pub struct Running {
    child: Child,
    cpu_before: Duration,
    threads: usize,
    /// When wrk was started.
    pub started: Instant,
}

/// Whole seconds, rounded up: wrk's duration flags take no fractions.
fn whole_seconds(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

/// Starts wrk for `duration` (rounded up to whole seconds).
pub fn start(spec: &WrkSpec, duration: Duration) -> Result<Running, WrkError> {
    let threads = spec.threads.clamp(1, spec.connections.max(1));
    let mut cmd = Command::new(&spec.program);
    cmd.arg(format!("-t{threads}"))
        .arg(format!("-c{}", spec.connections))
        .arg(format!("-d{}s", whole_seconds(duration)))
        .arg(format!("--timeout={}s", whole_seconds(spec.timeout)))
        .arg("--latency");
    if spec.mode == Mode::NewConnection {
        cmd.args(["-H", "Connection: close"]);
    }
    cmd.arg(&spec.url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let cpu_before = children_cpu();
    let child = cmd.spawn().map_err(|source| WrkError::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    Ok(Running {
        child,
        cpu_before,
        threads,
        started: Instant::now(),
    })
}

impl Running {
    /// Waits for wrk and parses its report.
    pub fn finish(self) -> Result<WrkReport, WrkError> {
        let out = self.child.wait_with_output().map_err(WrkError::Wait)?;
        let cpu = children_cpu().saturating_sub(self.cpu_before);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            let said = format!("{}{}", String::from_utf8_lossy(&out.stderr), stdout);
            return Err(WrkError::Exit {
                status: out.status,
                stderr: said.split_whitespace().collect::<Vec<_>>().join(" "),
            });
        }
        let mut report = parse(&stdout)?;
        report.cpu = cpu;
        report.threads = self.threads;
        Ok(report)
    }

    /// Kills wrk (an interrupted sweep).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time of this process's reaped children. Only wrk is reaped during a measurement (the
/// servers are reaped when they stop, between measurements).
fn children_cpu() -> Duration {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64) + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// wrk's `394.03us`, `8.20ms`, `1.00s`, `1.00m`, `1.00h`.
fn parse_time(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// Parses the report `wrk --latency` prints.
pub fn parse(report: &str) -> Result<WrkReport, WrkError> {
    let fail = |what| WrkError::ParseReport {
        what,
        report: report.to_owned(),
    };
    let words = |prefix: &str| -> Option<Vec<&str>> {
        report
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .map(|l| l.split_whitespace().collect())
    };
    // "Latency   394.03us  180.50us   8.20ms   89.75%"
    let max = report
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&"Latency") && w.get(1) != Some(&"Distribution"))
        .and_then(|w| parse_time(w.get(3)?))
        .ok_or_else(|| fail("Latency line"))?;
    let percentile = |p: &'static str| {
        words(p)
            .and_then(|w| parse_time(w.get(1)?))
            .ok_or_else(|| fail("Latency Distribution"))
    };
    // "1599731 requests in 10.01s, 189.18MB read"
    let summary = report
        .lines()
        .map(str::trim)
        .find(|l| l.contains(" requests in "))
        .ok_or_else(|| fail("requests line"))?;
    let w: Vec<&str> = summary.split_whitespace().collect();
    let requests = w
        .first()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail("request count"))?;
    let elapsed = w
        .get(3)
        .and_then(|t| parse_time(t.trim_end_matches(',')))
        .ok_or_else(|| fail("run time"))?;
    // "Socket errors: connect 0, read 0, write 0, timeout 0" (only when there are some)
    let mut socket = [0u64; 4];
    if let Some(w) = words("Socket errors:") {
        for (i, key) in ["connect", "read", "write", "timeout"].iter().enumerate() {
            socket[i] = w
                .iter()
                .position(|x| x == key)
                .and_then(|at| w.get(at + 1)?.trim_end_matches(',').parse().ok())
                .ok_or_else(|| fail("Socket errors line"))?;
        }
    }
    // "Non-2xx or 3xx responses: 5"
    let non_success = match words("Non-2xx or 3xx responses:") {
        Some(w) => w
            .get(4)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| fail("Non-2xx line"))?,
        None => 0,
    };
    Ok(WrkReport {
        requests,
        elapsed,
        p50: percentile("50%")?,
        p90: percentile("90%")?,
        p99: percentile("99%")?,
        max,
        connect_errors: socket[0],
        read_errors: socket[1],
        write_errors: socket[2],
        timeouts: socket[3],
        non_success,
        cpu: Duration::ZERO,
        threads: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "Running 10s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   394.03us  180.50us   8.20ms   89.75%
    Req/Sec    80.38k     5.11k   91.30k    72.50%
  Latency Distribution
     50%  366.00us
     75%  431.00us
     90%  520.00us
     99%    1.13ms
  1599731 requests in 10.01s, 189.18MB read
Requests/sec: 159855.20
Transfer/sec:     18.90MB
";

    #[test]
    fn clean_report() {
        let r = parse(CLEAN).unwrap();
        assert_eq!(r.requests, 1_599_731);
        assert_eq!(r.elapsed, Duration::from_millis(10_010));
        assert_eq!(r.p50, Duration::from_micros(366));
        assert_eq!(r.p90, Duration::from_micros(520));
        assert_eq!(r.p99, Duration::from_micros(1130));
        assert_eq!(r.max, Duration::from_micros(8200));
        assert_eq!(
            (
                r.connect_errors,
                r.read_errors,
                r.write_errors,
                r.timeouts,
                r.non_success
            ),
            (0, 0, 0, 0, 0)
        );
    }

    #[test]
    fn report_with_errors() {
        let text = CLEAN.replace(
            "Requests/sec",
            "  Socket errors: connect 1, read 22, write 3, timeout 44\n  Non-2xx or 3xx responses: 5\nRequests/sec",
        );
        let r = parse(&text).unwrap();
        assert_eq!(
            (
                r.connect_errors,
                r.read_errors,
                r.write_errors,
                r.timeouts,
                r.non_success
            ),
            (1, 22, 3, 44, 5)
        );
    }

    #[test]
    fn units_and_garbage() {
        assert_eq!(parse_time("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_time("2.00m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_time("12"), None);
        assert_eq!(parse_time("1.0xs"), None);
        let e = parse("unable to connect to 127.0.0.1:1 Connection refused").unwrap_err();
        assert!(
            e.to_string().starts_with("cannot read wrk's report (Latency line)"),
            "{e}"
        );
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(300)), 1);
    }
}
