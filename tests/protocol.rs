//! The start_response/write protocol through the real server, driven by the `pep3333` example
//! app (built by `cargo test`): one test per rule.

mod common;
use common::*;
use std::io::{BufReader, Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

fn probe() -> Server {
    let mut cmd = Command::new(example("pep3333"));
    cmd.arg("127.0.0.1:0");
    Server::start_cmd(&mut cmd, 1)
}

fn get_raw(s: &Server, path: &str) -> Vec<u8> {
    s.exchange(format!("GET {path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").as_bytes())
}

fn counters(s: &Server) -> (u64, u64) {
    let t = s.get("/counters").text();
    let n = |k: &str| {
        t.split_whitespace()
            .find_map(|p| p.strip_prefix(k)?.parse().ok())
            .unwrap()
    };
    (n("made="), n("closed="))
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

#[test]
fn start_response_may_be_called_lazily_from_the_body() {
    let s = probe();
    let r = s.get("/lazy");
    assert_eq!((r.status, r.text().as_str()), (200, "xxxxxx"));
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
}

#[test]
fn written_data_precedes_the_body_and_empty_writes_send_nothing() {
    let s = probe();
    let raw = String::from_utf8(get_raw(&s, "/write")).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    // One chunk per non-empty write and per yielded chunk, in order; no empty chunk mid-body.
    assert_eq!(body, "4\r\none,\r\n4\r\ntwo,\r\n6\r\nthree,\r\n4\r\nfour\r\n0\r\n\r\n");
}

#[test]
fn protocol_errors_are_raised_to_the_app() {
    let s = probe();
    assert_eq!(
        s.get("/second-start").text(),
        "second call: start_response called a second time without exc_info"
    );
    assert_eq!(
        s.get("/write-before-start").text(),
        "write: write() called before start_response()"
    );
    let statuses = s.get("/bad-status").text();
    assert_eq!(statuses.lines().count(), 5);
    assert!(statuses.lines().all(|l| l.starts_with("invalid status")), "{statuses}");
    let headers = s.get("/bad-header").text();
    assert_eq!(headers.lines().count(), 3);
    assert!(headers.lines().all(|l| l.starts_with("invalid header")), "{headers}");
}

#[test]
fn a_refused_header_never_splits_the_response() {
    let s = probe();
    let raw = String::from_utf8(get_raw(&s, "/unchecked-bad-header")).unwrap();
    assert!(raw.starts_with("HTTP/1.1 500 Internal Server Error\r\n"), "{raw}");
    assert!(!raw.contains("Injected"), "{raw}");
    assert_eq!(raw.matches("HTTP/1.1").count(), 1);
}

#[test]
fn exc_info_before_headers_replaces_them() {
    let s = probe();
    let r = s.get("/exc-before");
    assert_eq!((r.status, r.text().as_str()), (503, "replaced"));
    assert_eq!(r.header("X-Replaced"), Some("1"));
    assert_eq!(r.header("X-First"), None);
}

#[test]
fn exc_info_after_headers_aborts_the_connection() {
    let s = probe();
    let raw = String::from_utf8(get_raw(&s, "/exc-after")).unwrap();
    assert_eq!(raw.matches("HTTP/1.1 ").count(), 1, "never a second status line: {raw}");
    assert!(raw.starts_with("HTTP/1.1 200 OK"), "{raw}");
    assert!(!raw.ends_with("0\r\n\r\n"), "the body must not look complete: {raw:?}");
    s.wait_log("Error handling request GET /exc-after: failed after the headers", 1);
    assert_eq!(s.get("/lazy").status, 200, "the worker keeps serving");
}

#[test]
fn app_errors_and_panics_give_500_or_abort_and_the_worker_survives() {
    let s = probe();
    let worker = s.workers();
    for path in ["/error-before", "/panic-before"] {
        let r = s.get(path);
        assert_eq!(r.status, 500, "{path}");
        assert_eq!(r.text(), "Internal Server Error\n");
    }
    let raw = String::from_utf8(get_raw(&s, "/panic-after")).unwrap();
    assert!(
        raw.starts_with("HTTP/1.1 200 OK") && !raw.ends_with("0\r\n\r\n"),
        "{raw:?}"
    );
    s.wait_log("GET /panic-before: application panicked: the application panicked", 1);
    assert_eq!(s.workers(), worker, "no worker died");
}

#[test]
fn body_close_is_called_exactly_once_whatever_happens() {
    let s = probe();
    // Finished, failed, and abandoned by the client.
    assert_eq!(s.get("/lazy").status, 200);
    let _ = get_raw(&s, "/panic-after");
    let mut c = s.connect();
    c.write_all(b"GET /stream?mib=64 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    let mut some = [0u8; 4096];
    c.read_exact(&mut some).unwrap();
    drop(c);
    let deadline = Instant::now() + WAIT;
    loop {
        let (made, closed) = counters(&s);
        if made == 3 && closed == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "made={made} closed={closed}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn content_length_from_the_app_is_honoured() {
    let s = probe();
    // Too short: the client gets what there is and then the connection closes.
    let raw = s.exchange(b"GET /length-short HTTP/1.1\r\nHost: h\r\n\r\nGET /lazy HTTP/1.1\r\nHost: h\r\n\r\n");
    let text = String::from_utf8(raw).unwrap();
    assert!(
        text.contains("Content-Length: 10\r\n") && text.ends_with("\r\n\r\n12345"),
        "{text:?}"
    );
    // Too long: truncated, and the connection carries on.
    let all = parse_all(&s.exchange(
        b"GET /length-long HTTP/1.1\r\nHost: h\r\n\r\nGET /lazy HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ));
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].text(), "123");
    assert_eq!(all[1].text(), "xxxxxx");
}

#[test]
fn http10_streams_close_delimited() {
    let s = probe();
    let raw = String::from_utf8(s.exchange(b"GET /lazy HTTP/1.0\r\n\r\n")).unwrap();
    assert!(
        raw.starts_with("HTTP/1.0 200 OK\r\n") && raw.contains("Connection: close\r\n"),
        "{raw}"
    );
    assert!(!raw.contains("Transfer-Encoding"));
    assert!(raw.ends_with("\r\n\r\nxxxxxx"), "{raw:?}");
}

#[test]
fn a_one_gib_stream_keeps_worker_memory_flat() {
    let s = probe();
    let worker = s.workers()[0];
    let before = rss_kib(worker);
    let mut c = s.connect();
    c.write_all(b"GET /stream?mib=1024 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut r = BufReader::with_capacity(1 << 20, c);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut peak = before;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
        if total % (64 << 20) < n as u64 {
            peak = peak.max(rss_kib(worker));
        }
    }
    // 1 GiB of body plus chunk framing and the head.
    assert!(total > 1 << 30, "{total}");
    eprintln!("worker RSS: {before} KiB before, {peak} KiB peak while streaming 1 GiB");
    assert!(peak < before + 8 * 1024, "RSS grew from {before} KiB to {peak} KiB");
}

#[test]
fn memory_stays_flat_over_a_hundred_thousand_failing_requests() {
    let s = probe();
    let worker = s.workers()[0];
    let mut c = s.connect();
    let mut round = |n: usize| {
        for _ in 0..n {
            // Each failure closes the connection (a 500 is followed by close).
            c.write_all(b"GET /error-before HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
            let mut r = BufReader::new(c.try_clone().unwrap());
            assert_eq!(read_response(&mut r, false).unwrap().status, 500);
            c = s.connect();
        }
    };
    round(5_000);
    let warm = rss_kib(worker);
    round(95_000);
    let after = rss_kib(worker);
    eprintln!("worker RSS: {warm} KiB after 5,000 failures, {after} KiB after 100,000");
    assert!(after < warm + 1024, "RSS grew from {warm} KiB to {after} KiB");
    assert_eq!(s.workers(), vec![worker]);
}

#[test]
fn write_waits_for_the_client_instead_of_buffering() {
    let s = probe();
    let worker = s.workers()[0];
    let before = rss_kib(worker);
    let mut c = s.connect();
    c.write_all(b"GET /write-big?mib=256 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read slowly at first: the app's write() must wait, not pile 256 MiB up in the worker.
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let mut peak = before;
    for _ in 0..50 {
        total += c.read(&mut buf).unwrap() as u64;
        std::thread::sleep(Duration::from_millis(2));
        peak = peak.max(rss_kib(worker));
    }
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
        if total % (16 << 20) < n as u64 {
            peak = peak.max(rss_kib(worker));
        }
    }
    assert!(total > 256 << 20, "{total}");
    eprintln!("worker RSS: {before} KiB before, {peak} KiB peak during 256 MiB of write()");
    assert!(peak < before + 8 * 1024, "RSS grew from {before} KiB to {peak} KiB");
}

#[test]
fn write_fails_when_the_client_goes_away() {
    let s = probe();
    let mut c = s.connect();
    c.write_all(b"GET /write-big?mib=1024 HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    c.read_exact(&mut buf).unwrap();
    drop(c);
    let line = s.wait_log("Error handling request GET /write-big?mib=1024", 1);
    assert!(!line.is_empty());
    assert_eq!(s.get("/lazy").status, 200, "the worker goes on");
}

#[test]
fn while_write_waits_for_a_slow_client_the_worker_serves_others() {
    let s = probe();
    // Three clients that ask for 64 MiB through write() and do not read: each of their calls
    // waits in write(), one inside the other, on this single worker.
    let mut slow: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            let mut c = s.connect();
            c.write_all(b"GET /write-big?mib=64 HTTP/1.1\r\nHost: h\r\n\r\nGET /lazy HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .unwrap();
            c
        })
        .collect();
    let mut first = [0u8; 1024];
    for c in &mut slow {
        // Its response has started: the call is inside the application, waiting in write().
        c.read_exact(&mut first).unwrap();
    }
    // Meanwhile other clients are served, promptly and in full.
    for _ in 0..20 {
        let r = s.get("/lazy");
        assert_eq!((r.status, r.text().as_str()), (200, "xxxxxx"));
    }
    // The slow clients then get all of their bodies, and the request they pipelined after.
    // The waiting calls are nested on the worker's one thread, the last one innermost: it
    // has to finish before the ones around it go on, so the clients are read last first.
    for c in slow.into_iter().rev() {
        let mut rest = Vec::new();
        let mut r = BufReader::with_capacity(1 << 20, c);
        r.read_to_end(&mut rest).unwrap();
        let total = first.len() + rest.len();
        let all = [first.to_vec(), rest].concat();
        let text = String::from_utf8_lossy(&all[all.len() - 200..]).into_owned();
        assert!(total > 64 << 20, "{total}");
        assert!(
            text.ends_with("\r\n\r\n3\r\nxxx\r\n3\r\nxxx\r\n0\r\n\r\n"),
            "the pipelined request was answered: {text:?}"
        );
    }
    assert_eq!(s.workers().len(), 1);
}

#[test]
fn body_blocks_go_out_before_the_next_is_made() {
    let s = probe();
    read_confirmed_blocks(&s, "/stream-barrier", "rust-iter", 5);
}

#[test]
fn written_blocks_go_out_before_write_returns() {
    let s = probe();
    read_confirmed_blocks(&s, "/write-barrier", "rust-write", 5);
}
