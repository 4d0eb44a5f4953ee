//! File bodies (`builtin:static`, sendfile) through the real server: the head and a small file
//! reach the client in one TCP segment (one send for a file up to 8 KB), the FIN of a
//! `Connection: close` response leaves with the file's last bytes, and a worker serving a
//! static file makes no more system calls than nginx does (counted with strace).

mod common;
use common::skip::tool_or_skip;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

/// A static root with files of the sizes the tests ask for (`SIZE.bin`, bytes that vary).
struct Site {
    dir: std::path::PathBuf,
}

impl Site {
    fn new(name: &str, sizes: &[usize]) -> Site {
        let dir = std::env::temp_dir().join(format!("forkhorn-file-bodies-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for &size in sizes {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            std::fs::write(dir.join(format!("{size}.bin")), data).unwrap();
        }
        Site { dir }
    }

    fn serve(&self) -> Server {
        Server::start(&["--static-root", self.dir.to_str().unwrap(), "builtin:static"], 1)
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// GET `path` on `c` and read the whole response; returns how many data segments it took.
fn segments_of(c: &TcpStream, path: &str, close: bool, size: usize) -> u32 {
    let before = data_segments_in(c);
    let connection = if close { "Connection: close\r\n" } else { "" };
    (&*c)
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n{connection}\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut BufReader::new(c), false).expect("a response");
    assert_eq!((r.status, r.body.len()), (200, size), "{path}");
    assert!(r.body.iter().enumerate().all(|(i, &b)| b == (i * 7 % 251) as u8));
    data_segments_in(c) - before
}

#[test]
fn the_head_and_a_small_file_arrive_in_one_segment() {
    // Loopback's MSS is 64 KB, but a new connection's receive window is about 32 KB (with
    // Linux's default tcp_rmem): a file well below that, with its head, fits one segment (a
    // larger one may take two whatever the server does). With the head sent apart, every one
    // of these takes two.
    let sizes = [1, 1024, 10 * 1024, 16 * 1024];
    let site = Site::new("segments", &sizes);
    let s = site.serve();
    for size in sizes {
        let path = format!("/{size}.bin");
        // The first response of a connection (Nagle on), the ones after (Nagle off), and the
        // last before a close.
        let c = s.connect();
        for (i, close) in [false, false, false, true].into_iter().enumerate() {
            let segments = segments_of(&c, &path, close, size);
            assert_eq!(
                segments, 1,
                "{size} bytes, response {i} of the connection (close: {close})"
            );
        }
    }
}

#[test]
fn the_fin_leaves_with_the_last_bytes_of_a_file() {
    // A `Connection: close` response ends with the file and the close: its last bytes and the
    // FIN can share a segment (nginx's tcp_nopush does that), one packet fewer per request.
    // Counted on the client as segments without data: a FIN alone is one more than a
    // keep-alive response in the same place on its connection has (the kernel may acknowledge
    // a connection's first request on its own, which both count alike).
    let sizes = [1, 1024, 10 * 1024, 200 * 1024];
    let site = Site::new("fin", &sizes);
    let s = site.serve();
    // Segments without data that the response to one more request on a connection with
    // `earlier` keep-alive responses behind it takes, up to the end of the stream if closing.
    let dataless = |path: &str, size: usize, earlier: usize, close: bool| {
        let c = s.connect();
        for _ in 0..earlier {
            segments_of(&c, path, false, size);
        }
        let before = segments_in(&c);
        let data = segments_of(&c, path, close, size);
        if close {
            let mut rest = Vec::new();
            (&c).read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty(), "nothing after the response");
        }
        segments_in(&c) - before - data
    };
    for size in sizes {
        let path = format!("/{size}.bin");
        // The only response of a connection (Nagle on), and the last one after keep-alive
        // responses (TCP_NODELAY set by then).
        for earlier in [0, 2] {
            let open = dataless(&path, size, earlier, false);
            let closing = dataless(&path, size, earlier, true);
            assert!(
                closing <= open,
                "{size} bytes after {earlier}: {closing} segments without data before a close, {open} without"
            );
        }
    }
}

/// The name of the system call on a strace line.
fn call_name(line: &str) -> &str {
    line.split('(').next().unwrap_or("")
}

/// How many of the traced `calls` are one of `names`.
fn count_calls(calls: &[String], names: &[&str]) -> usize {
    calls.iter().filter(|l| names.contains(&call_name(l))).count()
}

/// Runs `client` while strace records the system calls of `s`'s one worker; returns them, one
/// a line, without the check debug builds make that a descriptor is open before closing it
/// (std's OwnedFd: not a call of a release build).
fn trace_worker(s: &Server, dir: &std::path::Path, client: impl FnOnce()) -> Vec<String> {
    let worker = s.workers()[0];
    let out = dir.join("trace");
    let mut strace = Command::new("strace")
        .args(["-p", &worker.to_string(), "-s", "64", "-o", out.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strace");
    let mut err = BufReader::new(strace.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("attached"), "strace: {line}");
    client();
    assert!(kill(strace.id() as i32, Signal::SIGINT));
    // SIGINT detaches strace, which writes out the trace and exits.
    strace.wait().unwrap();
    let trace = std::fs::read_to_string(&out).unwrap();
    trace
        .lines()
        .filter(|l| !l.starts_with("fcntl(") || !l.contains("F_GETFD"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_static_file_costs_an_open_a_stat_a_send_and_a_sendfile() {
    if !tool_or_skip("strace", "strace") {
        return;
    }
    let size = 10 * 1024;
    let site = Site::new("syscalls", &[size]);
    let s = site.serve();
    let requests = 5;
    let calls = trace_worker(&s, &site.dir, || {
        let c = s.connect();
        for _ in 0..requests {
            assert_eq!(segments_of(&c, &format!("/{size}.bin"), false, size), 1);
        }
    });
    let trace = calls.join("\n");
    // One slice per request, from the read of its head to the read of the next.
    let starts: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, l)| call_name(l) == "recvfrom" && l.contains("\"GET /"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), requests, "{trace}");
    // The first two responses of a connection also decide Nagle (see `stream::Nagle`); from
    // the third on, each request is the steady state.
    for w in starts.windows(2).skip(2) {
        let slice = &calls[w[0]..w[1]];
        let names: Vec<&str> = slice.iter().map(|l| call_name(l)).collect();
        let count = |set: &[&str]| count_calls(slice, set);
        let shown = slice.join("\n");
        assert_eq!(count(&["openat2", "openat", "open"]), 1, "one open:\n{shown}");
        assert_eq!(
            count(&["newfstatat", "fstat", "statx", "fstat64"]),
            1,
            "one stat:\n{shown}"
        );
        assert_eq!(count(&["sendfile", "sendfile64"]), 1, "one sendfile:\n{shown}");
        assert_eq!(count(&["close"]), 1, "the file's close:\n{shown}");
        // The head is one send, with MSG_MORE, just before the file: no write of its own.
        let head = names.iter().position(|n| *n == "sendto").expect("the head's send");
        assert!(slice[head].contains("MSG_MORE"), "{shown}");
        assert!(names[head + 1].starts_with("sendfile"), "{shown}");
        assert_eq!(count(&["sendto", "sendmsg", "write", "writev"]), 1, "{shown}");
        // recvfrom, openat2, fstat, sendto, sendfile, close and the wait for the next request;
        // nginx adds its cork and uncork (setsockopt) to the same.
        assert!(names.len() <= 7, "{} calls:\n{shown}", names.len());
    }
}

#[test]
fn a_small_file_goes_out_in_one_send_with_its_head() {
    if !tool_or_skip("strace", "strace") {
        return;
    }
    // Up to 8 KB the file is copied after its head (cheaper than a sendfile at that size).
    let size = 8 * 1024;
    let mid = 10 * 1024;
    let site = Site::new("small", &[size, mid]);
    let s = site.serve();
    let calls = trace_worker(&s, &site.dir, || {
        let c = s.connect();
        for close in [false, false, false, true] {
            assert_eq!(segments_of(&c, &format!("/{size}.bin"), close, size), 1);
        }
    });
    let trace = calls.join("\n");
    let count = |set: &[&str]| count_calls(&calls, set);
    assert_eq!(count(&["sendfile", "sendfile64"]), 0, "{trace}");
    assert_eq!(count(&["pread64", "pread"]), 4, "{trace}");
    assert_eq!(
        count(&["sendto", "sendmsg", "write", "writev"]),
        4,
        "one send a response:\n{trace}"
    );
    // The last response is sent with MSG_MORE, which holds it for the FIN of the close.
    let last = calls.iter().rev().find(|l| call_name(l) == "sendto").unwrap();
    assert!(last.contains("MSG_MORE"), "{trace}");

    // Up to 12 KB only before a close, where a sendfile would also need its cork.
    let calls = trace_worker(&s, &site.dir, || {
        let c = s.connect();
        for close in [false, false, true] {
            assert_eq!(segments_of(&c, &format!("/{mid}.bin"), close, mid), 1);
        }
    });
    let trace = calls.join("\n");
    let count = |set: &[&str]| count_calls(&calls, set);
    assert_eq!(count(&["sendfile", "sendfile64"]), 2, "{trace}");
    assert_eq!(count(&["pread64", "pread"]), 1, "{trace}");
}

#[test]
fn by_default_a_connection_is_accepted_with_its_request() {
    if !tool_or_skip("strace", "strace") {
        return;
    }
    let size = 1024;
    let site = Site::new("defer", &[size]);
    let root = site.dir.to_str().unwrap();
    for defer in [false, true] {
        let mut args = vec!["--static-root", root, "builtin:static"];
        if !defer {
            args.insert(0, "--no-defer-accept");
        }
        let s = Server::start(&args, 1);
        let calls = trace_worker(&s, &site.dir, || {
            // A connects and says nothing yet; B connects after it and is answered.
            let quiet = s.connect();
            let c = s.connect();
            assert_eq!(segments_of(&c, &format!("/{size}.bin"), true, size), 1);
            drop(quiet);
        });
        let trace = calls.join("\n");
        // The first connection accepted, and what the worker does next.
        let at = calls
            .iter()
            .position(|l| call_name(l) == "accept4" && !l.contains("= -1"))
            .expect("an accept");
        let fd = calls[at].rsplit("= ").next().unwrap().trim();
        let read_request = calls[at + 1].starts_with("recvfrom(") && calls[at + 1].contains("\"GET /");
        if !defer {
            // A, which came first, with nothing to read yet.
            assert!(!read_request, "{trace}");
            continue;
        }
        // B (A is not accepted before it sends, or the kernel's retries end a second later),
        // with its request in: the first read gets it, and the socket never joins the poll set.
        assert!(read_request, "{trace}");
        assert!(!trace.contains(&format!("EPOLL_CTL_ADD, {fd},")), "{trace}");
    }
}
