//! The `/metrics` page: the Prometheus text format (version 0.0.4, which OpenMetrics parsers
//! read too), rendered from what the master gathered. Pure: no I/O. Names are `forkhorn_*`;
//! labels are few and fixed (method, status class, worker slot, listener, cause, outcome),
//! never a path.

use super::tally::{Latency, Snapshot, BUCKETS_US, CLASSES, METHODS};
use std::fmt::Write;

/// One worker's gauges. `worker` is its slot (0, 1, ...): a replacement takes the slot of the
/// worker it replaces, so the label set stays as small as the worker count.
#[derive(Debug, Clone, Default)]
pub struct WorkerSample {
    /// The slot.
    pub worker: usize,
    /// Requests in flight.
    pub in_flight: u64,
    /// Threads inside the application.
    pub busy_threads: usize,
    /// Threads that call the application.
    pub threads: usize,
    /// Connections open.
    pub connections: u64,
    /// Resident memory, bytes.
    pub rss_bytes: Option<u64>,
    /// CPU seconds used.
    pub cpu_seconds: Option<f64>,
}

/// One listener's accept queue.
#[derive(Debug, Clone, Default)]
pub struct QueueSample {
    /// `http://127.0.0.1:8000`, `unix:/run/app.sock`.
    pub listener: String,
    /// Connections waiting.
    pub depth: u64,
    /// The backlog.
    pub limit: u64,
}

/// Everything on the page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Every worker's counters, dead ones included; the live ones' gauges summed.
    pub totals: Snapshot,
    /// The live workers.
    pub workers: Vec<WorkerSample>,
    /// The listeners whose queue the kernel reports.
    pub queues: Vec<QueueSample>,
    /// Workers forked.
    pub worker_starts: u64,
    /// Worker exits by cause.
    pub worker_exits: Vec<(&'static str, u64)>,
    /// Workers that failed to boot.
    pub boot_failures: u64,
    /// Reloads by outcome.
    pub reloads: Vec<(&'static str, u64)>,
}

/// Renders `page` into `out`.
pub fn render(page: &Page, out: &mut String) {
    header(
        out,
        "forkhorn_requests_total",
        "counter",
        "Requests answered, by method and status class.",
    );
    for (m, method) in METHODS.iter().enumerate() {
        for (c, class) in CLASSES.iter().enumerate() {
            let n = page.totals.requests[m * CLASSES.len() + c];
            let _ = writeln!(
                out,
                "forkhorn_requests_total{{method=\"{method}\",status_class=\"{class}\"}} {n}"
            );
        }
    }
    histogram(
        out,
        "forkhorn_request_duration_seconds",
        "From the complete request head to the complete response.",
        &page.totals.total,
    );
    histogram(
        out,
        "forkhorn_app_duration_seconds",
        "Time inside the application, response body included.",
        &page.totals.app,
    );
    let per_worker =
        |out: &mut String, name: &str, kind: &str, help: &str, value: &dyn Fn(&WorkerSample) -> Option<String>| {
            header(out, name, kind, help);
            for w in &page.workers {
                if let Some(v) = value(w) {
                    let _ = writeln!(out, "{name}{{worker=\"{}\"}} {v}", w.worker);
                }
            }
        };
    per_worker(
        out,
        "forkhorn_requests_in_flight",
        "gauge",
        "Requests read and not yet answered.",
        &|w| Some(w.in_flight.to_string()),
    );
    per_worker(
        out,
        "forkhorn_busy_threads",
        "gauge",
        "Threads inside the application.",
        &|w| Some(w.busy_threads.to_string()),
    );
    per_worker(
        out,
        "forkhorn_threads",
        "gauge",
        "Threads that call the application.",
        &|w| Some(w.threads.to_string()),
    );
    per_worker(
        out,
        "forkhorn_connections_open",
        "gauge",
        "Client connections open.",
        &|w| Some(w.connections.to_string()),
    );
    per_worker(
        out,
        "forkhorn_worker_rss_bytes",
        "gauge",
        "Resident memory of the worker process.",
        &|w| w.rss_bytes.map(|v| v.to_string()),
    );
    per_worker(
        out,
        "forkhorn_worker_cpu_seconds_total",
        "counter",
        "CPU time of the worker process in this slot (resets when a worker is replaced).",
        &|w| w.cpu_seconds.map(|v| format!("{v:.2}")),
    );
    header(
        out,
        "forkhorn_listen_queue_depth",
        "gauge",
        "Connections waiting in the listen queue.",
    );
    for q in &page.queues {
        let _ = writeln!(
            out,
            "forkhorn_listen_queue_depth{{listener=\"{}\"}} {}",
            escape(&q.listener),
            q.depth
        );
    }
    header(
        out,
        "forkhorn_listen_queue_limit",
        "gauge",
        "The listen queue's limit (backlog).",
    );
    for q in &page.queues {
        let _ = writeln!(
            out,
            "forkhorn_listen_queue_limit{{listener=\"{}\"}} {}",
            escape(&q.listener),
            q.limit
        );
    }
    header(
        out,
        "forkhorn_worker_starts_total",
        "counter",
        "Worker processes forked.",
    );
    let _ = writeln!(out, "forkhorn_worker_starts_total {}", page.worker_starts);
    header(
        out,
        "forkhorn_worker_exits_total",
        "counter",
        "Worker processes exited, by cause.",
    );
    for (cause, n) in &page.worker_exits {
        let _ = writeln!(out, "forkhorn_worker_exits_total{{cause=\"{cause}\"}} {n}");
    }
    header(
        out,
        "forkhorn_worker_boot_failures_total",
        "counter",
        "Workers that failed to boot.",
    );
    let _ = writeln!(out, "forkhorn_worker_boot_failures_total {}", page.boot_failures);
    header(
        out,
        "forkhorn_reloads_total",
        "counter",
        "Reloads (HUP, forkhorn ctl reload), by outcome.",
    );
    for (outcome, n) in &page.reloads {
        let _ = writeln!(out, "forkhorn_reloads_total{{outcome=\"{outcome}\"}} {n}");
    }
    header(out, "forkhorn_workers", "gauge", "Worker processes alive.");
    let _ = writeln!(out, "forkhorn_workers {}", page.workers.len());
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Latency) {
    header(out, name, "histogram", help);
    let mut cumulative = 0;
    for (i, n) in h.buckets.iter().enumerate() {
        cumulative += n;
        let le = match BUCKETS_US.get(i) {
            Some(us) => format!("{}", *us as f64 / 1e6),
            None => "+Inf".to_owned(),
        };
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum {}", h.sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {cumulative}");
}

/// A label value as the text format wants it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page() {
        let mut totals = Snapshot::default();
        totals.requests[1] = 7; // GET 2xx
        totals.total.buckets[0] = 5;
        totals.total.buckets[BUCKETS_US.len()] = 2;
        totals.total.sum_us = 30_000_000;
        let page = Page {
            totals,
            workers: vec![WorkerSample {
                worker: 0,
                in_flight: 1,
                busy_threads: 1,
                threads: 4,
                connections: 3,
                rss_bytes: Some(1024),
                cpu_seconds: None,
            }],
            queues: vec![QueueSample {
                listener: "unix:/a\"b".into(),
                depth: 2,
                limit: 128,
            }],
            worker_starts: 3,
            worker_exits: vec![("crash", 1)],
            boot_failures: 0,
            reloads: vec![("ok", 1)],
        };
        let mut out = String::new();
        render(&page, &mut out);
        for line in [
            "forkhorn_requests_total{method=\"GET\",status_class=\"2xx\"} 7",
            "forkhorn_request_duration_seconds_bucket{le=\"0.0001\"} 5",
            "forkhorn_request_duration_seconds_bucket{le=\"10\"} 5",
            "forkhorn_request_duration_seconds_bucket{le=\"+Inf\"} 7",
            "forkhorn_request_duration_seconds_sum 30",
            "forkhorn_request_duration_seconds_count 7",
            "forkhorn_threads{worker=\"0\"} 4",
            "forkhorn_listen_queue_depth{listener=\"unix:/a\\\"b\"} 2",
            "forkhorn_worker_exits_total{cause=\"crash\"} 1",
            "forkhorn_workers 1",
            "# TYPE forkhorn_app_duration_seconds histogram",
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line}\n{out}");
        }
        assert!(!out.contains("forkhorn_worker_cpu_seconds_total{"));
    }
}
