//! Metrics to statsd with the real binary: a UDP socket of the test stands in for the statsd
//! server; the lines must carry gunicorn's names, types, prefix and DogStatsD tags, and the
//! counters must add up to the requests made.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::Instant;

/// The test's statsd server.
struct Statsd {
    sock: UdpSocket,
    /// Every line received.
    lines: Vec<String>,
}

impl Statsd {
    fn bind() -> Statsd {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Statsd {
            sock,
            lines: Vec::new(),
        }
    }

    fn addr(&self) -> String {
        self.sock.local_addr().unwrap().to_string()
    }

    /// Receives datagrams until `done` holds for the lines received so far.
    fn recv_until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + WAIT;
        let mut buf = vec![0u8; 65536];
        while !done(&self.lines) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; received:\n{}",
                self.lines.join("\n")
            );
            self.sock.set_read_timeout(Some(left)).unwrap();
            if let Ok(n) = self.sock.recv(&mut buf) {
                let datagram = std::str::from_utf8(&buf[..n]).expect("ASCII lines");
                assert!(n <= 1400, "a datagram of {n} bytes");
                self.lines.extend(datagram.split('\n').map(str::to_owned));
            }
        }
    }
}

/// The sum of the counter `name` over `lines` (with `suffix` after `|c`).
fn counted(lines: &[String], name: &str, suffix: &str) -> u64 {
    let head = format!("{name}:");
    let tail = format!("|c{suffix}");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(&head)?.strip_suffix(&tail)?.parse::<u64>().ok())
        .sum()
}

/// The values of the timer `name` over `lines`.
fn timings(lines: &[String], name: &str, suffix: &str) -> Vec<f64> {
    let head = format!("{name}:");
    let tail = format!("|ms{suffix}");
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(&head)?.strip_suffix(&tail)?.parse::<f64>().ok())
        .collect()
}

#[test]
fn requests_statuses_durations_and_workers_reach_statsd_under_gunicorns_names() {
    let dir = std::env::temp_dir().join(format!("forkhorn-statsd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "a").unwrap();
    let mut statsd = Statsd::bind();
    let addr = statsd.addr();
    let s = Server::start(
        &[
            "-w",
            "2",
            "--statsd-host",
            &addr,
            "--statsd-prefix",
            "app",
            "--static-root",
            dir.to_str().unwrap(),
            "builtin:static",
        ],
        2,
    );
    for _ in 0..6 {
        assert_eq!(s.get("/a.txt").status, 200);
    }
    for _ in 0..4 {
        assert_eq!(s.get("/missing").status, 404);
    }
    statsd.recv_until("10 requests and 2 workers", |lines| {
        counted(lines, "app.gunicorn.requests", "") >= 10 && lines.iter().any(|l| l == "app.gunicorn.workers:2|g")
    });
    let lines = &statsd.lines;
    assert_eq!(counted(lines, "app.gunicorn.requests", ""), 10);
    assert_eq!(counted(lines, "app.gunicorn.request.status.200", ""), 6);
    assert_eq!(counted(lines, "app.gunicorn.request.status.404", ""), 4);
    let durations = timings(lines, "app.gunicorn.request.duration", "");
    assert_eq!(durations.len(), 10, "one timing per request: {lines:#?}");
    assert!(durations.iter().all(|ms| (0.0..10_000.0).contains(ms)), "{durations:?}");

    // Nothing else: every line is one of gunicorn's metrics, under the prefix.
    for l in lines {
        let (name, rest) = l.split_once(':').unwrap_or_else(|| panic!("{l:?}"));
        let kind = rest.split_once('|').map(|(_, k)| k).unwrap_or_else(|| panic!("{l:?}"));
        let name = name.strip_prefix("app.gunicorn.").unwrap_or_else(|| panic!("{l:?}"));
        assert!(
            matches!(
                (name, kind),
                ("requests", "c")
                    | ("request.status.200" | "request.status.404", "c")
                    | ("request.duration", "ms")
                    | ("workers", "g")
                    | ("log.error" | "log.warning", "c")
            ),
            "{l:?}"
        );
    }

    // One worker fewer: the master says so.
    s.signal(Signal::SIGTTOU);
    statsd.recv_until("the gauge at 1", |lines| {
        lines.iter().any(|l| l == "app.gunicorn.workers:1|g")
    });
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// With application threads too: a request is counted once its response is complete.
#[test]
fn dogstatsd_tags_end_every_line() {
    let mut statsd = Statsd::bind();
    let addr = statsd.addr();
    let s = Server::start(
        &[
            "--statsd-host",
            &addr,
            "--dogstatsd-tags",
            "env:test,role:web",
            "--threads",
            "2",
            "builtin:hello",
        ],
        1,
    );
    assert_eq!(s.get("/").status, 200);
    let tags = "|#env:test,role:web";
    statsd.recv_until("a request", |lines| counted(lines, "gunicorn.requests", tags) >= 1);
    let lines = &statsd.lines;
    assert_eq!(counted(lines, "gunicorn.requests", tags), 1, "{lines:#?}");
    assert_eq!(counted(lines, "gunicorn.request.status.200", tags), 1, "{lines:#?}");
    assert_eq!(timings(lines, "gunicorn.request.duration", tags).len(), 1, "{lines:#?}");
    assert!(lines.contains(&format!("gunicorn.workers:1|g{tags}")), "{lines:#?}");
    assert!(lines.iter().all(|l| l.ends_with(tags)), "{lines:#?}");
}

/// `enable_backlog_metric`: the connections waiting in the accept queue, once a second, as
/// gunicorn's `gunicorn.backlog` histogram.
#[test]
fn the_accept_queue_reaches_statsd_as_gunicorn_backlog() {
    let mut statsd = Statsd::bind();
    let addr = statsd.addr();
    let s = Server::start_outside_terminal(
        &[
            "-w",
            "1",
            "--statsd-host",
            &addr,
            "--enable-backlog-metric",
            "builtin:hello",
        ],
        1,
    );
    statsd.recv_until("an empty queue", |lines| {
        lines.iter().any(|l| l == "gunicorn.backlog:0|h")
    });
    // WINCH: no workers, the socket kept open: connections made now wait in its queue.
    s.signal(Signal::SIGWINCH);
    wait_until("the worker is gone", || s.workers().is_empty());
    let waiting: Vec<_> = (0..3).map(|_| s.connect()).collect();
    statsd.recv_until("three waiting", |lines| {
        lines.iter().any(|l| l == "gunicorn.backlog:3|h")
    });
    // HUP brings a worker back, which takes them.
    s.signal(Signal::SIGHUP);
    statsd.recv_until("the queue empty again", |lines| {
        lines.iter().rposition(|l| l == "gunicorn.backlog:0|h") > lines.iter().position(|l| l == "gunicorn.backlog:3|h")
    });
    drop(waiting);
}
