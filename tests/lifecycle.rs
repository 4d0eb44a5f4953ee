//! The master's supervision with real processes and real signals: respawn, graceful and fast
//! stop, boot failure, and the listener kinds.

mod common;
use common::*;
use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// Waits until a worker holds the server side of the TCP connection whose client port is
/// `client_port`; that worker's pid. The kernel can skip entries of /proc/net/tcp while the
/// table changes under a reader (any process's sockets change it), so a miss is read again.
fn worker_holding(s: &Server, client_port: u16) -> i32 {
    let mut found = None;
    wait_until("a worker holds the connection", || {
        found = worker_holding_once(s, client_port);
        found.is_some()
    });
    found.expect("found")
}

/// The worker pid that holds the server side of the TCP connection whose client port is
/// `client_port`, found through /proc/net/tcp and the workers' descriptor tables.
fn worker_holding_once(s: &Server, client_port: u16) -> Option<i32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let want_local = format!(":{:04X}", s.addr.port());
    let want_remote = format!(":{client_port:04X}");
    // An earlier connection between the same two ports can linger in TIME_WAIT, without an
    // inode (0): only a live socket can be found in a worker.
    let inode = tcp.lines().skip(1).find_map(|l| {
        let mut f = l.split_whitespace();
        let (local, remote, inode) = (f.nth(1)?, f.next()?, f.nth(6)?);
        (local.ends_with(&want_local) && remote.ends_with(&want_remote) && inode != "0").then_some(inode)
    })?;
    let target = format!("socket:[{inode}]");
    s.workers().into_iter().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| {
                d.flatten().any(|e| {
                    std::fs::read_link(e.path())
                        .map(|p| p.to_string_lossy() == target)
                        .unwrap_or(false)
                })
            })
            .unwrap_or(false)
    })
}

fn keepalive_get(conn: &mut std::net::TcpStream) -> Option<Response> {
    conn.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").ok()?;
    read_response(&mut BufReader::new(conn.try_clone().ok()?), false)
}

#[test]
fn killed_worker_is_replaced_and_others_are_unaffected() {
    // Connections stay open while the test looks for their workers (long on a busy machine).
    let s = Server::start(&["-w", "2", "--keep-alive", "300", "builtin:hello"], 2);
    // Open connections until both workers hold at least one.
    let mut conns = Vec::new();
    let mut owners = Vec::new();
    for _ in 0..40 {
        let mut c = s.connect();
        assert_eq!(keepalive_get(&mut c).unwrap().status, 200);
        let owner = worker_holding(&s, c.local_addr().unwrap().port());
        owners.push(owner);
        conns.push(c);
        if owners.iter().any(|o| *o != owners[0]) {
            break;
        }
    }
    let victim = owners[0];
    let survivor = *owners
        .iter()
        .find(|o| **o != victim)
        .expect("connections spread over both workers");
    let killed_at = Instant::now();
    assert!(kill(victim, Signal::SIGKILL));
    // A replacement appears and serves.
    s.wait_log("Booting worker", 3);
    let workers = s.workers();
    assert_eq!(workers.len(), 2, "{workers:?}");
    assert!(!workers.contains(&victim));
    assert_eq!(s.get("/").status, 200);
    let elapsed = killed_at.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "replacement serving after {elapsed:?}"
    );
    // Connections held by the surviving worker keep working.
    for (c, owner) in conns.iter_mut().zip(&owners) {
        if *owner == survivor {
            assert_eq!(
                keepalive_get(c).expect("survivor's connection still served").status,
                200
            );
        }
    }
    assert!(s
        .log()
        .iter()
        .any(|l| l.contains(&format!("Worker (pid:{victim}) was sent SIGKILL!"))));
}

#[test]
fn term_lets_an_in_flight_request_finish() {
    let mut s = Server::start(&["builtin:echo"], 1);
    let conn = s.connect();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    w.write_all(b"POST /slow HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\nhello")
        .unwrap();
    // The interim response proves the worker is inside this request.
    assert_eq!(read_response(&mut r, false).unwrap().status, 100);
    s.signal(Signal::SIGTERM);
    s.wait_log("Handling signal: term", 1);
    s.wait_log("Worker exiting", 1);
    // The master waits for the worker, which waits for this request.
    assert_eq!(children_of(s.pid()).len(), 1);
    w.write_all(b"world").unwrap();
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("Connection"), Some("close"), "no keep-alive while stopping");
    assert!(
        resp.text().contains("\"body_b64\":\"aGVsbG93b3JsZA==\""),
        "{}",
        resp.text()
    );
    let status = s.wait_exit();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn term_waits_for_a_slow_application() {
    let mut s = Server::start(&["builtin:sleep"], 1);
    let worker = s.workers()[0];
    let mut conn = s.connect();
    conn.write_all(b"GET /?s=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    wait_until("the request sleeps in the app", || in_sleep_call(worker));
    s.signal(Signal::SIGTERM);
    // The whole response, then the stopping worker closes the connection.
    let mut r = BufReader::new(conn);
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (200, "slept 1"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert_eq!(s.wait_exit().code(), Some(0));
}

#[test]
fn int_stops_fast() {
    let mut s = Server::start(&["builtin:sleep"], 1);
    let worker = s.workers()[0];
    let mut conn = s.connect();
    conn.write_all(b"GET /?s=30 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    wait_until("the request sleeps in the app", || in_sleep_call(worker));
    let start = Instant::now();
    s.signal(Signal::SIGINT);
    assert_eq!(s.wait_exit().code(), Some(0));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "did not wait for the 30 s request"
    );
}

/// The `Worker exiting (pid: W)` lines of a stopped server, with the pid of the process that
/// wrote each.
fn exit_lines(s: &Server) -> Vec<(i32, i32)> {
    s.wait_log("Shutting down: Master", 1);
    s.log()
        .iter()
        .filter_map(|l| {
            let (_, rest) = l.split_once("] [")?;
            let (writer, rest) = rest.split_once(']')?;
            let worker = rest.split_once("Worker exiting (pid: ")?.1.strip_suffix(')')?;
            Some((writer.parse().ok()?, worker.parse().ok()?))
        })
        .collect()
}

#[test]
fn each_worker_says_once_that_it_is_exiting_on_term_and_on_int() {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut s = Server::start(&["-w", "2", "builtin:hello"], 2);
        let mut workers = s.workers();
        s.signal(signal);
        assert_eq!(s.wait_exit().code(), Some(0));
        let mut said = exit_lines(&s);
        said.sort();
        workers.sort();
        // Written by the worker itself, once; the master does not repeat it.
        let want: Vec<(i32, i32)> = workers.iter().map(|&w| (w, w)).collect();
        assert_eq!(said, want, "signal {signal}; log:\n{}", s.log().join("\n"));
    }
}

#[test]
fn unknown_app_stops_the_master_instead_of_looping() {
    let out = Command::new(bin())
        .args(["-w", "3", "-b", "127.0.0.1:0", "builtin:nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no built-in app named \"nope\""), "{err}");
    assert!(err.contains("Reason: Worker failed to boot."), "{err}");
    // No respawn loop: at most the first generation tried to boot.
    let attempts = err.matches("Worker failed to boot: ").count();
    assert!((1..=3).contains(&attempts), "{attempts} boot attempts:\n{err}");
}

#[test]
fn ttin_and_ttou_change_the_worker_count() {
    let s = Server::start(&["-w", "2", "builtin:hello"], 2);
    s.signal(Signal::SIGTTIN);
    s.wait_log("Booting worker", 3);
    assert_eq!(s.workers().len(), 3);
    // Standard signals do not queue: send the next only once the last took effect.
    s.signal(Signal::SIGTTOU);
    s.wait_log("Number of workers: 2", 1);
    s.signal(Signal::SIGTTOU);
    s.wait_log("Number of workers: 1", 1);
    wait_until("one worker is left", || s.workers().len() == 1);
    assert_eq!(s.get("/").status, 200);
    // Never fewer than one.
    s.signal(Signal::SIGTTOU);
    s.wait_log("Handling signal: ttou", 3);
    assert_eq!(s.get("/").status, 200);
    assert_eq!(s.workers().len(), 1);
}

#[test]
fn unix_socket_is_served_and_removed_at_exit() {
    let dir = std::env::temp_dir().join(format!("forkhorn-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    // A stale socket file from a dead process is replaced.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let bind = format!("unix:{}", path.display());
    let mut cmd = Command::new(bin());
    cmd.args(["-b", &bind, "-b", "127.0.0.1:0", "builtin:echo"]);
    let mut s = Server::start_cmd(&mut cmd, 1);
    assert!(s.log().iter().any(|l| l.contains(&format!("Listening at: {bind}"))));
    let mut c = UnixStream::connect(&path).unwrap();
    c.write_all(b"GET /u HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    let r = &parse_all(&out)[0];
    assert_eq!(r.status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["environ"]["PATH_INFO"], "/u");
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit().code(), Some(0));
    assert!(!path.exists(), "socket file removed at exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ipv6_loopback() {
    let mut cmd = Command::new(bin());
    cmd.args(["-b", "[::1]:0", "builtin:hello"]);
    let s = Server::start_cmd(&mut cmd, 1);
    assert!(s.addr.is_ipv6());
    assert_eq!(s.get("/").text(), "Hello, World!");
}

#[test]
fn inherited_fd_listener() {
    use std::os::fd::AsRawFd;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    // std sets close-on-exec; clear it so the child inherits the socket.
    nix::fcntl::fcntl(&listener, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty())).unwrap();
    let mut cmd = Command::new(bin());
    let bind = format!("fd://{fd}");
    cmd.args(["-b", &bind, "builtin:hello"]);
    let s = Server::start_cmd(&mut cmd, 1);
    assert_eq!(s.addr, addr);
    assert_eq!(s.get("/").text(), "Hello, World!");
    drop(listener);
}

#[test]
fn idle_master_and_workers_use_no_cpu() {
    let s = Server::start(&["-w", "2", "builtin:hello"], 2);
    let cpu = cpu_ticks;
    let pids: Vec<i32> = std::iter::once(s.pid()).chain(s.workers()).collect();
    let before: Vec<u64> = pids.iter().map(|p| cpu(*p)).collect();
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<u64> = pids.iter().map(|p| cpu(*p)).collect();
    for ((p, b), a) in pids.iter().zip(before).zip(after) {
        // Clock ticks are 10 ms: an idle process may be charged a tick, not a busy loop's 200.
        assert!(a - b <= 2, "pid {p} used {} ticks while idle", a - b);
    }
}

#[test]
fn a_full_worker_stops_accepting_until_a_slot_frees() {
    // Connections stay open while the test looks for their workers (long on a busy machine).
    let s = Server::start(
        &[
            "-w",
            "1",
            "--worker-connections",
            "2",
            "--keep-alive",
            "300",
            "builtin:echo",
        ],
        1,
    );
    // Two uploads under way: requests in progress, which a full worker never closes.
    let mut a = s.connect();
    let mut b = s.connect();
    for c in [&mut a, &mut b] {
        c.write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345")
            .unwrap();
    }
    wait_until("the worker holds both", || {
        worker_holding_once(&s, a.local_addr().unwrap().port()).is_some()
            && worker_holding_once(&s, b.local_addr().unwrap().port()).is_some()
    });
    // A third connection completes in the kernel's backlog, but the full worker leaves it there.
    let mut c = s.connect();
    c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    let port = c.local_addr().unwrap().port();
    assert_eq!(
        worker_holding_once(&s, port),
        None,
        "the worker took a third connection"
    );
    // A slot frees: the waiting connection is accepted and answered.
    a.write_all(b"67890").unwrap();
    let r = read_response(&mut BufReader::new(a.try_clone().unwrap()), false).unwrap();
    assert_eq!(r.status, 200);
    drop(a);
    let r = read_response(&mut BufReader::new(c.try_clone().unwrap()), false).unwrap();
    assert_eq!(r.status, 200);
    worker_holding(&s, port);
    drop(b);
}

#[test]
fn a_full_worker_closes_idle_and_slow_connections_to_take_new_ones() {
    // Timeouts far past the test's own wait: only making room lets new clients in.
    let s = Server::start(
        &[
            "-w",
            "1",
            "--worker-connections",
            "3",
            "--keep-alive",
            "300",
            "--header-timeout",
            "300",
            "builtin:hello",
        ],
        1,
    );
    // One idle keep-alive connection and two that never finish their head (slowloris).
    let mut idle = s.connect();
    assert_eq!(keepalive_get(&mut idle).unwrap().status, 200);
    let mut slow1 = s.connect();
    slow1.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: ").unwrap();
    let mut slow2 = s.connect();
    slow2.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nX-B: ").unwrap();
    wait_until("the worker holds all three", || {
        [&idle, &slow1, &slow2]
            .iter()
            .all(|c| worker_holding_once(&s, c.local_addr().unwrap().port()).is_some())
    });
    // A new client is served at once, not after header_timeout: the idle connection goes first.
    let mut new1 = s.connect();
    assert_eq!(keepalive_get(&mut new1).unwrap().status, 200);
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // With no idle connection left (new1 starts an upload), the slow head that began first goes.
    new1.write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345")
        .unwrap();
    let mut new2 = s.connect();
    assert_eq!(keepalive_get(&mut new2).unwrap().status, 200);
    let _ = slow1.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    worker_holding(&s, slow2.local_addr().unwrap().port());
    s.wait_log("Worker at worker_connections: closed", 1);
}

#[test]
fn a_worker_past_max_worker_memory_is_replaced_without_losing_requests() {
    // 1 MiB: any worker is past it at its first check, a second after it starts.
    let s = Server::start(&["-w", "1", "--max-worker-memory", "1", "builtin:hello"], 1);
    let first = s.workers();
    let load = Load::start(s.addr, 1);
    let line = s.wait_log("above max_worker_memory (1 MiB)", 1);
    assert!(line.contains(&format!("Worker (pid: {})", first[0])), "{line}");
    wait_until("a new worker replaces it", || {
        let now = s.workers();
        !now.is_empty() && !now.contains(&first[0])
    });
    let stats = load.finish();
    assert!(
        stats.failures.iter().all(|f| !f.contains("after")),
        "{:?}",
        stats.failures
    );
    assert_eq!(s.get("/").status, 200);
}
