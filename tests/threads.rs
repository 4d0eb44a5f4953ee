//! Application threads (`threads`, gunicorn's gthread) through the real binary: concurrency
//! proved by a barrier, order on a connection, `write` back-pressure on a thread, a stuck
//! thread's timeout, reloads and stops under load, and the Python specifics.
#![cfg(feature = "python")]

mod common;
use common::python::apps_dir;
use common::*;
use std::io::{BufReader, Read, Write};
use std::process::Command;

/// Starts forkhorn in `tests/python` serving `threads_app:app` with `args` before it.
fn start(args: &[&str], workers: usize) -> Server {
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir())
        .env_remove("VIRTUAL_ENV")
        .args(args)
        .args(["-b", "127.0.0.1:0", "threads_app:app"]);
    Server::start_cmd(&mut cmd, workers)
}

/// Sends GET `path` on each of `n` connections at once, then reads the answers.
fn concurrent(s: &Server, path: &str, n: usize) -> Vec<Response> {
    let conns: Vec<_> = (0..n)
        .map(|_| {
            let mut c = s.connect();
            write!(c, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
            c
        })
        .collect();
    conns
        .into_iter()
        .map(|c| read_response(&mut BufReader::new(c), false).expect("a response"))
        .collect()
}

#[test]
fn eight_threads_run_eight_calls_at_once() {
    let s = start(&["--threads", "8"], 1);
    // Each call returns only when all eight are inside the app together.
    for r in concurrent(&s, "/barrier?8", 8) {
        assert_eq!((r.status, r.text().as_str()), (200, "all 8 inside"));
    }
}

#[test]
fn one_thread_runs_one_call_at_a_time() {
    for args in [&["--threads", "1"][..], &["-k", "sync"]] {
        let s = start(args, 1);
        let most: Vec<String> = concurrent(&s, "/inflight", 6).iter().map(Response::text).collect();
        assert!(most.iter().all(|m| m == "1"), "{args:?}: calls overlapped: {most:?}");
        // The app runs on the loop's thread, not on an application thread.
        assert_eq!(s.get("/thread-name").text(), "main", "{args:?}");
        assert_eq!(s.get("/multithread").text(), "False", "{args:?}");
    }
}

#[test]
fn gthread_with_one_thread_runs_the_app_off_the_loop() {
    let s = start(&["-k", "gthread"], 1);
    assert_eq!(s.get("/thread-name").text(), "other");
    assert_eq!(s.get("/multithread").text(), "False");
    let s = start(&["-k", "gthread", "--threads", "4"], 1);
    assert_eq!(s.get("/thread-name").text(), "other");
    assert_eq!(s.get("/multithread").text(), "True");
}

#[test]
fn pipelined_requests_keep_their_order_while_other_connections_overtake() {
    let s = start(&["--threads", "4"], 1);
    let mut fifo = Confirmations::new("threads-pipeline");
    let mut a = s.connect();
    write!(
        a,
        "GET /wait?{} HTTP/1.1\r\nHost: t\r\n\r\nGET /hello HTTP/1.1\r\nHost: t\r\n\r\n",
        fifo.path.display()
    )
    .unwrap();
    // While A's first request waits inside the app (it has opened the FIFO), other connections
    // are answered, more than once.
    fifo.wait_opened();
    for _ in 0..3 {
        assert_eq!(s.get("/hello").text(), "hello");
    }
    fifo.confirm();
    let mut r = BufReader::new(a);
    let first = read_response(&mut r, false).expect("first response");
    let second = read_response(&mut r, false).expect("second response");
    assert_eq!(first.text(), "waited");
    assert_eq!(second.text(), "hello");
}

#[test]
fn write_waits_on_its_thread_while_the_worker_serves_others() {
    let s = start(&["--threads", "2"], 1);
    let mut slow = s.connect();
    write!(slow, "GET /write?64 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    // The client reads nothing yet: 64 MiB cannot fit in the socket buffers, so the thread
    // waits in write() ...
    let mut first = [0u8; 1];
    slow.read_exact(&mut first).unwrap();
    // ... while the worker's other thread and its loop go on serving.
    for _ in 0..20 {
        assert_eq!(s.get("/hello").text(), "hello");
    }
    let mut r = BufReader::new(slow);
    let mut head = String::from(first[0] as char);
    head.push_str(&read_head(&mut r));
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let block: Vec<u8> = (0..=255u8).cycle().take(65536).collect();
    let mut buf = vec![0u8; 65536];
    for i in 0..64 * 16 {
        r.read_exact(&mut buf).unwrap_or_else(|e| panic!("block {i}: {e}"));
        assert!(buf == block, "block {i} differs");
    }
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{} bytes past the body", rest.len());
}

#[test]
fn a_stuck_thread_is_named_and_its_worker_replaced() {
    let s = start(&["--threads", "2", "--timeout", "2"], 1);
    let before = s.workers();
    let stuck = Confirmations::new("threads-stuck");
    let other = Confirmations::new("threads-stuck-other");
    let mut a = s.connect();
    write!(a, "GET /wait?{} HTTP/1.1\r\nHost: t\r\n\r\n", stuck.path.display()).unwrap();
    let mut b = s.connect();
    write!(b, "GET /wait?{} HTTP/1.1\r\nHost: t\r\n\r\n", other.path.display()).unwrap();
    // The loop keeps beating, but both threads stop making progress: the master names one.
    let line = s.wait_log("WORKER TIMEOUT", 1);
    assert!(line.contains("serving GET /wait?"), "{line}");
    wait_until("a new worker replaces the killed one", || {
        let now = s.workers();
        now.len() == 1 && now != before
    });
    assert_eq!(s.get("/hello").text(), "hello");
    // The requests in flight on the killed worker's threads are lost with it: their
    // connections end without a response (counted here, as a client sees it).
    for c in [&mut a, &mut b] {
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    }
    drop((stuck, other));
}

#[test]
fn hups_then_term_under_load_lose_no_request() {
    let mut s = start(&["-w", "2", "--threads", "4"], 2);
    // Clients whose every request waits 50 ms inside the app.
    let load = Load::start(s.addr, 4);
    for generation in 2..=21 {
        s.signal(Signal::SIGHUP);
        s.wait_log(&format!("Reload complete: generation {generation} is serving"), 1);
    }
    // TERM with requests inside the application threads: each is answered before the workers
    // exit.
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit().code(), Some(0));
    let stats = load.finish();
    assert!(stats.ok > 0);
    // After TERM new connections are refused ("connect:"); a request on a connection that was
    // already answered was certainly accepted, and none may be lost.
    let lost: Vec<&String> = stats.failures.iter().filter(|f| !f.starts_with("connect:")).collect();
    // As in the master's TERM test: a brand-new connection can complete its handshake just
    // between a worker's last accept() and its close() of the listening socket.
    let unaccepted = lost.iter().filter(|f| f.contains("new connection")).count();
    assert!(lost.len() == unaccepted && unaccepted <= 2, "{lost:?}");
}

#[test]
fn threads_that_cannot_start_fail_the_boot_at_once() {
    // 1024 threads cannot all start in 1 GiB of address space: the worker gives up at the
    // first that fails (instead of waiting, with those started, for the boot timeout), and the
    // master stops with the boot failure's status.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1048576; exec {} -b 127.0.0.1:0 --threads 1024 --boot-timeout 60 builtin:sleep",
            bin()
        ))
        .output()
        .expect("run forkhorn");
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{log}");
    assert!(log.contains("cannot start application thread"), "{log}");
    // The worker exited by itself: the master did not have to kill it at the boot timeout.
    assert!(!log.contains("did not boot within"), "{log}");
    assert!(log.contains("exited with code 3"), "{log}");
}
