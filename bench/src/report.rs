//! The sweep's results as a reader wants them: one [`Row`] per measured point, printed as a
//! table for the terminal and written as CSV and JSON. Pure: text in, text out.

use super::load::Errors;
use serde::Serialize;
use std::fmt::Write;

/// At or above this share of its capacity, the load generator is called the bottleneck.
pub const CLIENT_BOUND: f64 = 0.9;
/// At or above this share of all CPUs busy, the machine, not either program, is the limit.
pub const MACHINE_BOUND: f64 = 0.95;

/// One measured point: a server, an engine, a worker count and a connection count.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// `forkhorn`, or the name of an `--against` server.
    pub server: String,
    /// The load generator: builtin or wrk.
    pub engine: String,
    /// keep-alive or new-connection.
    pub mode: String,
    /// Worker processes.
    pub workers: usize,
    /// Concurrent connections.
    pub connections: usize,
    /// 2xx responses completed in the measured window.
    pub requests: u64,
    /// The measured window, in seconds.
    pub seconds: f64,
    /// `requests / seconds`.
    pub requests_per_sec: f64,
    /// Median latency, ms (send of the first request byte to receipt of the last response byte).
    pub latency_p50_ms: f64,
    /// 90th percentile latency, ms.
    pub latency_p90_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// Largest latency, ms.
    pub latency_max_ms: f64,
    /// All errors: the sum of `error_kinds`.
    pub errors: u64,
    /// Errors by kind.
    pub error_kinds: Errors,
    /// Server CPU time (master and workers, user + system) per 2xx response, µs.
    pub server_cpu_us_per_request: Option<f64>,
    /// Server CPU time over the window's length: the cores the server kept busy.
    pub server_cpu_cores: f64,
    /// Resident memory of the server's processes at the end of the window, MiB (shared pages
    /// counted once per process).
    pub rss_mib: f64,
    /// Proportional memory of the server's processes (shared pages split), MiB.
    pub pss_mib: Option<f64>,
    /// Established connections held by each worker, sampled mid-window, largest first.
    pub connections_per_worker: Vec<usize>,
    /// The generator's CPU time over its capacity (window × its threads, at most the CPUs).
    pub client_cpu_busy: f64,
    /// `client_cpu_busy` reached [`CLIENT_BOUND`]: the generator may have been the limit.
    pub client_bound: bool,
    /// The share of all CPUs busy during the window, whoever used them.
    pub machine_cpu_busy: f64,
}

/// Describes the run for the JSON file, so a result can be reproduced.
#[derive(Clone, Debug, Serialize)]
pub struct Meta {
    /// forkhorn's version.
    pub forkhorn_version: &'static str,
    /// The command line of the sweep.
    pub command: String,
    /// CPUs the machine has.
    pub cpus: usize,
    /// Seconds since the epoch at the start.
    pub started_unix: u64,
    /// The app forkhorn served.
    pub app: String,
    /// Measured seconds per point.
    pub duration_s: f64,
    /// Warm-up seconds per point.
    pub warmup_s: f64,
    /// Generator threads.
    pub threads: usize,
    /// The request target.
    pub path: String,
    /// The servers, as started (forkhorn's with its worker count at `{workers}`).
    pub servers: Vec<(String, String)>,
}

/// The JSON file: the run, then its rows.
#[derive(Serialize)]
struct Json<'a> {
    run: &'a Meta,
    results: &'a [Row],
}

/// `results.json`.
pub fn json(meta: &Meta, rows: &[Row]) -> String {
    let mut text = serde_json::to_string_pretty(&Json {
        run: meta,
        results: rows,
    })
    .unwrap_or_default();
    text.push('\n');
    text
}

/// `results.csv`: one header line, one line per row; lists are `;`-separated within a field.
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "server,engine,mode,workers,connections,requests,seconds,requests_per_sec,latency_p50_ms,latency_p90_ms,\
         latency_p99_ms,latency_max_ms,errors,errors_connect,errors_read,errors_write,errors_timeout,errors_status,\
         errors_protocol,server_cpu_us_per_request,server_cpu_cores,rss_mib,pss_mib,connections_per_worker,\
         client_cpu_busy,client_bound,machine_cpu_busy\n",
    );
    for r in rows {
        let e = &r.error_kinds;
        let opt = |v: Option<f64>| v.map(|v| format!("{v:.3}")).unwrap_or_default();
        let per_worker: Vec<String> = r.connections_per_worker.iter().map(usize::to_string).collect();
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.3},{:.1},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{},{},{},{},{:.3},{:.1},{},{},{:.3},{},{:.3}",
            csv_field(&r.server),
            csv_field(&r.engine),
            csv_field(&r.mode),
            r.workers,
            r.connections,
            r.requests,
            r.seconds,
            r.requests_per_sec,
            r.latency_p50_ms,
            r.latency_p90_ms,
            r.latency_p99_ms,
            r.latency_max_ms,
            r.errors,
            e.connect,
            e.read,
            e.write,
            e.timeout,
            e.status,
            e.protocol,
            opt(r.server_cpu_us_per_request),
            r.server_cpu_cores,
            r.rss_mib,
            r.pss_mib.map(|v| format!("{v:.1}")).unwrap_or_default(),
            per_worker.join(";"),
            r.client_cpu_busy,
            r.client_bound,
            r.machine_cpu_busy,
        );
    }
    out
}

/// A CSV field, quoted if it must be (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The table printed when the sweep is done, with a note under it for every caveat that applies.
pub fn table(rows: &[Row]) -> String {
    let header = [
        "server",
        "engine",
        "workers",
        "conns",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "CPU µs/req",
        "RSS MiB",
        "conns/worker",
        "gen CPU",
        "box CPU",
    ];
    // Text columns are left-aligned, numbers right-aligned.
    let left = [
        true, true, false, false, false, false, false, false, false, false, false, false, true, false, false,
    ];
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for r in rows {
        cells.push(vec![
            r.server.clone(),
            r.engine.clone(),
            r.workers.to_string(),
            r.connections.to_string(),
            thousands(r.requests_per_sec.round() as u64),
            format!("{:.2}", r.latency_p50_ms),
            format!("{:.2}", r.latency_p90_ms),
            format!("{:.2}", r.latency_p99_ms),
            format!("{:.2}", r.latency_max_ms),
            r.errors.to_string(),
            r.server_cpu_us_per_request
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "-".into()),
            format!("{:.1}", r.rss_mib),
            per_worker(&r.connections_per_worker),
            format!(
                "{:.0}%{}",
                r.client_cpu_busy * 100.0,
                if r.client_bound { "*" } else { "" }
            ),
            format!("{:.0}%", r.machine_cpu_busy * 100.0),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| cells.iter().map(|row| row[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if left[c] {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if rows.iter().any(|r| r.client_bound) {
        let _ = writeln!(
            out,
            "* the load generator used {:.0}% or more of its threads' time: it may have been the limit, not the server",
            CLIENT_BOUND * 100.0
        );
    }
    if rows.iter().any(|r| r.machine_cpu_busy >= MACHINE_BOUND) {
        out.push_str(
            "box CPU near 100%: server and load generator shared every CPU, so each slowed the other; \
             compare rows with each other, not with a server on its own machine\n",
        );
    }
    if rows.iter().any(|r| r.errors > 0) {
        out.push_str("errors: see error_kinds in results.json (connect, read, write, timeout, status, protocol)\n");
    }
    out
}

/// `16/17`, or `30..34` for more than four workers.
fn per_worker(counts: &[usize]) -> String {
    match (counts.len(), counts.iter().min(), counts.iter().max()) {
        (0, _, _) => "-".into(),
        (n, Some(lo), Some(hi)) if n > 4 => format!("{lo}..{hi}"),
        _ => counts.iter().map(usize::to_string).collect::<Vec<_>>().join("/"),
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row with round numbers, for tests here and in the plot.
    pub(crate) fn row(server: &str, workers: usize, connections: usize, rps: f64, p99: f64) -> Row {
        Row {
            server: server.into(),
            engine: "builtin".into(),
            mode: "keep-alive".into(),
            workers,
            connections,
            requests: (rps * 3.0) as u64,
            seconds: 3.0,
            requests_per_sec: rps,
            latency_p50_ms: p99 / 4.0,
            latency_p90_ms: p99 / 2.0,
            latency_p99_ms: p99,
            latency_max_ms: p99 * 3.0,
            errors: 0,
            error_kinds: Errors::default(),
            server_cpu_us_per_request: Some(20.5),
            server_cpu_cores: 1.5,
            rss_mib: 12.25,
            pss_mib: Some(6.0),
            connections_per_worker: vec![connections / workers; workers],
            client_cpu_busy: 0.5,
            client_bound: false,
            machine_cpu_busy: 0.7,
        }
    }

    #[test]
    fn table_aligns_and_explains() {
        let mut slow = row("gunicorn", 2, 32, 1234.4, 10.0);
        slow.client_bound = true;
        slow.client_cpu_busy = 0.93;
        slow.errors = 3;
        let t = table(&[row("forkhorn", 1, 32, 41230.0, 1.3), slow]);
        let want = "\
server    engine   workers  conns   req/s  p50 ms  p90 ms  p99 ms  max ms  errors  CPU µs/req  RSS MiB  conns/worker  gen CPU  box CPU
forkhorn  builtin        1     32  41,230    0.33    0.65    1.30    3.90       0        20.5     12.2  32                50%      70%
gunicorn  builtin        2     32   1,234    2.50    5.00   10.00   30.00       3        20.5     12.2  16/16            93%*      70%
* the load generator used 90% or more of its threads' time: it may have been the limit, not the server
errors: see error_kinds in results.json (connect, read, write, timeout, status, protocol)
";
        assert_eq!(t, want);
    }

    #[test]
    fn csv_has_one_line_per_row_and_quotes() {
        let text = csv(&[row("a,b", 8, 64, 10.0, 1.0)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].split(',').count(), 27);
        assert!(
            lines[1].starts_with("\"a,b\",builtin,keep-alive,8,64,30,3.000,10.0,0.250,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(",8;8;8;8;8;8;8;8,"), "{}", lines[1]);
    }

    #[test]
    fn helpers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(per_worker(&[]), "-");
        assert_eq!(per_worker(&[9, 8, 7, 6, 5]), "5..9");
    }

    #[test]
    fn json_round_trips() {
        let meta = Meta {
            forkhorn_version: "0",
            command: "forkhorn bench".into(),
            cpus: 2,
            started_unix: 1,
            app: "builtin:hello".into(),
            duration_s: 3.0,
            warmup_s: 2.0,
            threads: 2,
            path: "/".into(),
            servers: vec![("forkhorn".into(), "forkhorn -w {workers}".into())],
        };
        let v: serde_json::Value = serde_json::from_str(&json(&meta, &[row("forkhorn", 1, 32, 5.0, 1.0)])).unwrap();
        assert_eq!(v["results"][0]["requests_per_sec"], 5.0);
        assert_eq!(v["results"][0]["error_kinds"]["timeout"], 0);
        assert_eq!(v["run"]["cpus"], 2);
    }
}
