//! Serving over real sockets: the built-in apps, keep-alive, pipelining, framing, concurrency.

mod common;
use common::*;
use std::io::{BufReader, Read, Write};
use std::time::Duration;

fn echo_json(r: &Response) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    serde_json::from_slice(&r.body).expect("echo body is JSON")
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn hello_with_two_workers() {
    let s = Server::start(&["-w", "2", "builtin:hello"], 2);
    let r = s.get("/anything");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("Content-Length"), Some("13"));
    assert_eq!(r.header("Server"), Some("forkhorn"));
    assert_eq!(r.header("Connection"), Some("close"));
    assert!(r.header("Date").is_some_and(|d| d.ends_with(" GMT")));
    assert_eq!(r.text(), "Hello, World!");
    let workers = s.workers();
    assert_eq!(workers.len(), 2, "exactly two workers: {workers:?}");
    // Without proc_name, the app names the processes, as gunicorn's default_proc_name does.
    assert!(
        cmdline(s.pid()).starts_with("forkhorn: master [builtin:hello]"),
        "{}",
        cmdline(s.pid())
    );
    for w in workers {
        assert!(
            cmdline(w).starts_with("forkhorn: worker [builtin:hello]"),
            "{}",
            cmdline(w)
        );
        assert!(children_of(w).is_empty(), "workers fork nothing");
    }
}

#[test]
fn default_app_is_hello() {
    let s = Server::start(&[], 1);
    assert_eq!(s.get("/").text(), "Hello, World!");
}

#[test]
fn echo_get_environ() {
    let s = Server::start(&["builtin:echo"], 1);
    let raw = b"GET /a%20b/c?x=1&y=%41 HTTP/1.1\r\nHost: example.test\r\nX-Multi: one\r\nAccept: */*\r\nx-multi: two\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\n";
    let out = s.exchange(raw);
    let all = parse_all(&out);
    assert_eq!(all.len(), 1);
    let doc = echo_json(&all[0]);
    let env = &doc["environ"];
    let port = s.addr.port().to_string();
    for (k, v) in [
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", ""),
        ("PATH_INFO", "/a b/c"),
        ("QUERY_STRING", "x=1&y=%41"),
        ("RAW_URI", "/a%20b/c?x=1&y=%41"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PORT", port.as_str()),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("HTTP_HOST", "example.test"),
        ("HTTP_X_MULTI", "one,two"),
        ("HTTP_ACCEPT", "*/*"),
        ("HTTP_CONNECTION", "close"),
        ("wsgi.url_scheme", "http"),
    ] {
        assert_eq!(env[k], v, "{k} in {env}");
    }
    assert!(env["REMOTE_PORT"].as_str().unwrap().parse::<u16>().is_ok());
    assert!(
        env.get("HTTP_X_FORWARDED_FOR").is_none(),
        "a name with '_' must not pose as one with '-'"
    );
    assert!(env.get("CONTENT_LENGTH").is_none());
    assert_eq!(doc["body_b64"], "");
}

#[test]
fn echo_post_content_length_and_chunked() {
    let s = Server::start(&["builtin:echo"], 1);
    let body = "name=forkhorn&kind=server";
    let raw = format!(
        "POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut conn = s.connect();
    conn.write_all(raw.as_bytes()).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let doc = echo_json(&read_response(&mut reader, false).unwrap());
    assert_eq!(doc["environ"]["CONTENT_TYPE"], "application/x-www-form-urlencoded");
    assert_eq!(doc["environ"]["CONTENT_LENGTH"], body.len().to_string());
    assert!(doc["environ"].get("HTTP_CONTENT_TYPE").is_none());
    assert_eq!(doc["body_b64"], b64(body));

    // Same connection: a chunked body in pieces, with an extension and a trailer.
    conn.write_all(b"PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n")
        .unwrap();
    conn.write_all(b"7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n").unwrap();
    let doc = echo_json(&read_response(&mut reader, false).unwrap());
    assert_eq!(doc["environ"]["REQUEST_METHOD"], "PUT");
    assert!(doc["environ"].get("CONTENT_LENGTH").is_none());
    assert_eq!(doc["body_b64"], b64("hello, world"));
}

#[test]
fn ten_thousand_keepalive_requests_on_one_connection() {
    let s = Server::start(&["builtin:hello"], 1);
    let conn = s.connect();
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    for i in 0..10_000 {
        writer.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let r = read_response(&mut reader, false).unwrap_or_else(|| panic!("no response to request {i}"));
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"Hello, World!"[..]),
            "request {i}"
        );
        assert_eq!(r.header("Connection"), None, "keep-alive is the HTTP/1.1 default");
    }
}

#[test]
fn thousand_concurrent_connections() {
    let s = Server::start(&["-w", "2", "builtin:hello"], 2);
    let mut conns: Vec<_> = (0..1000).map(|_| s.connect()).collect();
    for c in &mut conns {
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    }
    for (i, c) in conns.into_iter().enumerate() {
        let r = read_response(&mut BufReader::new(c), false).unwrap_or_else(|| panic!("connection {i} unanswered"));
        assert_eq!(r.status, 200, "connection {i}");
        assert_eq!(r.text(), "Hello, World!");
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = Server::start(&["builtin:echo"], 1);
    let mut raw = Vec::new();
    for i in 0..20 {
        raw.extend_from_slice(format!("GET /r{i} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
    }
    raw.extend_from_slice(b"POST /last HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nend");
    let all = parse_all(&s.exchange(&raw));
    assert_eq!(all.len(), 21);
    for (i, r) in all.iter().take(20).enumerate() {
        assert_eq!(echo_json(r)["environ"]["PATH_INFO"], format!("/r{i}"));
    }
    let last = echo_json(&all[20]);
    assert_eq!(last["environ"]["PATH_INFO"], "/last");
    assert_eq!(last["body_b64"], b64("end"));
}

#[test]
fn http10_framing_and_keepalive() {
    let s = Server::start(&["builtin:hello"], 1);
    // HTTP/1.0 without keep-alive: the server closes after the response.
    let out = s.exchange(b"GET / HTTP/1.0\r\n\r\n");
    let all = parse_all(&out);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status_line, "HTTP/1.0 200 OK");
    assert_eq!(all[0].header("Connection"), Some("close"));
    // HTTP/1.0 with keep-alive: two requests on one connection.
    let conn = s.connect();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    for _ in 0..2 {
        w.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap();
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.header("Connection"), Some("keep-alive"));
        assert_eq!(resp.text(), "Hello, World!");
    }
}

#[test]
fn head_request_has_length_but_no_body() {
    let s = Server::start(&["builtin:hello"], 1);
    let out = s.exchange(b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 13\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body after the head: {text:?}");
}

#[test]
fn malformed_head_gets_400_and_close() {
    let s = Server::start(&["builtin:hello"], 1);
    let out = s.exchange(b"GET / HTTP/1.1\r\nHost: h\r\nBad Header\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let all = parse_all(&out);
    assert_eq!(all.len(), 1, "nothing is answered after a rejected request");
    assert_eq!(all[0].status, 400);
    assert_eq!(all[0].header("Connection"), Some("close"));
    // The worker survived: a new connection is served.
    assert_eq!(s.get("/").status, 200);
}

#[test]
fn later_http_1x_minor_versions_are_http11_and_raw_non_ascii_targets_are_refused() {
    let s = Server::start(&["builtin:echo"], 1);
    // RFC 9110 §2.5: HTTP/1.2 is processed, and answered, as HTTP/1.1 (keep-alive included).
    let all = parse_all(
        &s.exchange(b"GET /one HTTP/1.2\r\nHost: h\r\n\r\nGET /two HTTP/1.2\r\nHost: h\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(all.len(), 2);
    for (resp, path) in all.iter().zip(["/one", "/two"]) {
        assert_eq!(resp.status_line, "HTTP/1.1 200 OK");
        let env = &echo_json(resp)["environ"];
        assert_eq!(env["PATH_INFO"], path);
        assert_eq!(env["SERVER_PROTOCOL"], "HTTP/1.1");
    }
    // Another major version is still a 505.
    let all = parse_all(&s.exchange(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"));
    assert_eq!(all[0].status, 505);
    // RFC 9112 §3.2: é must be sent percent-encoded, not as the raw bytes C3 A9.
    let all = parse_all(&s.exchange(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, 400);
    assert_eq!(all[0].header("Connection"), Some("close"));
    let env = &echo_json(&s.get("/caf%C3%A9"))["environ"];
    assert_eq!(env["RAW_URI"], "/caf%C3%A9");
}

#[test]
fn expect_100_continue() {
    let s = Server::start(&["builtin:echo"], 1);
    let conn = s.connect();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    w.write_all(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .unwrap();
    let interim = read_response(&mut r, false).unwrap();
    assert_eq!(interim.status_line, "HTTP/1.1 100 Continue");
    w.write_all(b"data").unwrap();
    let doc = echo_json(&read_response(&mut r, false).unwrap());
    assert_eq!(doc["body_b64"], b64("data"));
}

#[test]
fn slow_client_does_not_block_others() {
    let s = Server::start(&["builtin:hello"], 1);
    // Half a request head, then silence: the single worker must go on serving others.
    let mut slow = s.connect();
    slow.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    let mut slow_body = s.connect();
    slow_body
        .write_all(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    for _ in 0..50 {
        assert_eq!(s.get("/").text(), "Hello, World!");
    }
    // The slow one is still open and completes when it finishes its head.
    slow.write_all(b"st: h\r\nConnection: close\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::new(slow), false).unwrap();
    assert_eq!(r.status, 200);
}

/// A worker may hold finished responses to send them together at the end of its loop's turn,
/// but not behind slow application calls: right after a slow call, a fast response goes out at
/// once, while the next (slow) request is still in the application.
#[test]
fn a_fast_response_is_not_held_behind_a_slow_request() {
    let s = Server::start(&["-w", "1", "builtin:sleep"], 1);
    let worker = s.workers()[0];
    let send = |path: &str| {
        let mut c = s.connect();
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        c
    };
    // One worker: it serves these in order, the first while the others arrive (it is stopped
    // inside the first call until they have).
    let first = send("/?s=0.3");
    wait_until("the first request sleeps in the app", || in_sleep_call(worker));
    stop_process(worker);
    let fast = send("/?s=0");
    let slow = send("/?s=1.5");
    assert!(kill(worker, Signal::SIGCONT));
    fast_before_slow(worker, fast, slow);
    assert_eq!(
        read_response(&mut BufReader::new(first), false).unwrap().text(),
        "slept 0.3"
    );
}

/// `--no-batch-responses`: a response goes out as soon as it is made, even when a slow request
/// is served next in the same turn of the worker's loop (with batching it would wait for it).
#[test]
fn without_batching_a_response_does_not_wait_for_the_next_call() {
    let s = Server::start(&["-w", "1", "--no-batch-responses", "builtin:sleep"], 1);
    let worker = s.workers()[0];
    // Stopped, the worker finds both requests in one turn, the fast one first.
    stop_process(worker);
    let mut fast = s.connect();
    let mut slow = s.connect();
    fast.write_all(b"GET /?s=0 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    slow.write_all(b"GET /?s=1.5 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(kill(worker, Signal::SIGCONT));
    fast_before_slow(worker, fast, slow);
}

/// Reads `fast`'s answer to `/?s=0` and asserts that `slow` (asked for `/?s=1.5`) has had
/// nothing yet, its request still sleeping in the app of `worker` (which is stopped there for
/// the check); then reads `slow`'s answer.
fn fast_before_slow(worker: i32, fast: std::net::TcpStream, mut slow: std::net::TcpStream) {
    let r = read_response(&mut BufReader::new(fast), false).expect("fast response");
    assert_eq!(r.text(), "slept 0");
    // A worker that held the fast response behind the slow call would be done with it by now.
    wait_until("the slow request sleeps in the app", || in_sleep_call(worker));
    stop_process(worker);
    slow.set_nonblocking(true).unwrap();
    let early = slow.read(&mut [0u8; 1]);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the fast response waited for the slow one: {early:?}"
    );
    assert!(kill(worker, Signal::SIGCONT));
    slow.set_nonblocking(false).unwrap();
    assert_eq!(
        read_response(&mut BufReader::new(slow), false).unwrap().text(),
        "slept 1.5"
    );
}

/// A client that sends its request and shuts down its sending side still gets all of a
/// response too large to go out in one write.
#[test]
fn a_half_closed_client_gets_a_large_response_whole() {
    let s = Server::start(&["-w", "1", "builtin:echo"], 1);
    let body = vec![b'a'; 8 << 20];
    let mut c = s.connect();
    write!(
        c,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    c.write_all(&body).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let r = read_response(&mut BufReader::new(c), false).expect("a whole response");
    assert_eq!(r.status, 200);
    let echoed = echo_json(&r)["body_b64"].as_str().map(str::len);
    // base64 of 8 MiB
    assert_eq!(echoed, Some((8usize << 20).div_ceil(3) * 4));
}

#[test]
fn idle_keepalive_connection_is_closed_after_keepalive_timeout() {
    let s = Server::start(&["builtin:hello"], 1);
    let mut conn = s.connect();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    assert_eq!(read_response(&mut reader, false).unwrap().status, 200);
    // keepalive defaults to 2 s: the server closes the idle connection (EOF, no bytes).
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let n = reader
        .read_to_end(&mut rest)
        .expect("server closes, not the 10 s read timeout");
    assert_eq!(n, 0);
}

#[test]
fn large_bodies_are_received_whole_by_length_and_chunked() {
    // Above body_buffer_size (64 KiB) the body is spooled to a temporary file; the app must read
    // the same bytes either way.
    let s = Server::start(&["builtin:echo"], 1);
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&body)
    };
    let conn = s.connect();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    let sender = {
        let body = body.clone();
        let mut w = w.try_clone().unwrap();
        std::thread::spawn(move || {
            write!(
                w,
                "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            w.write_all(&body).unwrap();
        })
    };
    let doc = echo_json(&read_response(&mut r, false).unwrap());
    sender.join().unwrap();
    assert_eq!(doc["environ"]["CONTENT_LENGTH"], body.len().to_string());
    assert!(doc["body_b64"] == expected.as_str(), "content-length body differs");

    w.write_all(b"POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    for piece in body.chunks(100_000) {
        write!(w, "{:x}\r\n", piece.len()).unwrap();
        w.write_all(piece).unwrap();
        w.write_all(b"\r\n").unwrap();
    }
    w.write_all(b"0\r\n\r\n").unwrap();
    let doc = echo_json(&read_response(&mut r, false).unwrap());
    assert!(doc["body_b64"] == expected.as_str(), "chunked body differs");
}

fn first_response(s: &Server, raw: &[u8]) -> Response {
    parse_all(&s.exchange(raw)).into_iter().next().expect("a response")
}

#[test]
fn proxy_protocol_v1_and_v2_set_the_client_address() {
    let s = Server::start(&["--proxy-protocol", "builtin:echo"], 1);
    let r = first_response(
        &s,
        b"PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\nGET /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let env = &echo_json(&r)["environ"];
    assert_eq!(
        (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str()),
        (Some("203.0.113.7"), Some("40001"))
    );

    let mut v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24".to_vec();
    let mut src = [0u8; 16];
    src[..2].copy_from_slice(&[0x20, 0x01]);
    src[15] = 9;
    v2.extend_from_slice(&src);
    v2.extend_from_slice(&[0u8; 16]);
    v2.extend_from_slice(&5555u16.to_be_bytes());
    v2.extend_from_slice(&443u16.to_be_bytes());
    v2.extend_from_slice(b"GET /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    let env = &echo_json(&first_response(&s, &v2))["environ"];
    assert_eq!(
        (env["REMOTE_ADDR"].as_str(), env["REMOTE_PORT"].as_str()),
        (Some("2001::9"), Some("5555"))
    );

    // Without a PROXY header the connection is plain HTTP from the real peer.
    let env = &echo_json(&s.get("/"))["environ"];
    assert_eq!(env["REMOTE_ADDR"], "127.0.0.1");
    // A malformed header is a 400.
    assert_eq!(
        first_response(&s, b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\nGET / HTTP/1.1\r\n\r\n").status,
        400
    );
}

#[test]
fn proxy_header_from_an_untrusted_peer_is_refused() {
    let s = Server::start(
        &["--proxy-protocol", "--proxy-allow-from", "10.9.9.9", "builtin:echo"],
        1,
    );
    let r = first_response(
        &s,
        b"PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    assert_eq!(r.status, 403);
    // Without --proxy-protocol a PROXY line is just a malformed request line.
    let plain = Server::start(&["builtin:echo"], 1);
    assert_eq!(
        first_response(&plain, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n\r\n").status,
        400
    );
}

#[test]
fn scheme_headers_count_only_from_trusted_peers() {
    let req = |extra: &str| format!("GET / HTTP/1.1\r\nHost: h\r\n{extra}Connection: close\r\n\r\n");
    let s = Server::start(&["builtin:echo"], 1);
    let scheme = |s: &Server, extra: &str| {
        echo_json(&first_response(s, req(extra).as_bytes()))["environ"]["wsgi.url_scheme"].clone()
    };
    // 127.0.0.1 is in the default forwarded_allow_ips.
    assert_eq!(scheme(&s, ""), "http");
    assert_eq!(scheme(&s, "X-Forwarded-Proto: https\r\n"), "https");
    assert_eq!(scheme(&s, "X-Forwarded-Ssl: on\r\n"), "https");
    let contradiction = first_response(
        &s,
        req("X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: off\r\n").as_bytes(),
    );
    assert_eq!(contradiction.status, 400);
    // The peer keeps its address.
    assert_eq!(
        echo_json(&first_response(&s, req("X-Forwarded-For: 6.6.6.6\r\n").as_bytes()))["environ"]["REMOTE_ADDR"],
        "127.0.0.1"
    );
    let untrusting = Server::start(&["--forwarded-allow-ips", "10.0.0.0/8", "builtin:echo"], 1);
    assert_eq!(scheme(&untrusting, "X-Forwarded-Proto: https\r\n"), "http");
}

#[test]
fn a_trusted_proxy_sets_script_name_with_a_header() {
    let get = |s: &Server, path: &str, extra: &str| {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: h\r\n{extra}Connection: close\r\n\r\n");
        first_response(s, raw.as_bytes())
    };
    let split = |r: &Response| {
        let environ = &echo_json(r)["environ"];
        (environ["SCRIPT_NAME"].clone(), environ["PATH_INFO"].clone())
    };
    // 127.0.0.1 is in the default forwarded_allow_ips, SCRIPT_NAME in the default forwarder_headers.
    let s = Server::start(&["builtin:echo"], 1);
    let r = get(&s, "/api/x", "SCRIPT_NAME: /api\r\n");
    assert_eq!(split(&r), ("/api".into(), "/x".into()));
    assert_eq!(echo_json(&r)["environ"]["HTTP_SCRIPT_NAME"], "/api");
    assert_eq!(split(&get(&s, "/api/x", "")), ("".into(), "/api/x".into()));
    // Outside the proxy's prefix: gunicorn's 500.
    assert_eq!(get(&s, "/other", "SCRIPT_NAME: /api\r\n").status, 500);
    // Another header with an underscore stays dropped.
    let r = get(&s, "/", "X_Other: 1\r\n");
    assert_eq!(echo_json(&r)["environ"].get("HTTP_X_OTHER"), None);

    // The header wins over the environment's prefix.
    let env = Server::start(&["-e", "SCRIPT_NAME=/env", "builtin:echo"], 1);
    assert_eq!(split(&get(&env, "/env/x", "")), ("/env".into(), "/x".into()));
    assert_eq!(
        split(&get(&env, "/api/x", "SCRIPT_NAME: /api\r\n")),
        ("/api".into(), "/x".into())
    );

    // Not from an untrusted peer, nor when the name is not in forwarder_headers.
    for args in [
        &["--forwarded-allow-ips", "10.0.0.0/8", "builtin:echo"][..],
        &["--forwarder-headers", "PATH_INFO", "builtin:echo"][..],
    ] {
        let s = Server::start(args, 1);
        let r = get(&s, "/api/x", "SCRIPT_NAME: /api\r\n");
        assert_eq!(split(&r), ("".into(), "/api/x".into()), "{args:?}");
        assert_eq!(echo_json(&r)["environ"].get("HTTP_SCRIPT_NAME"), None, "{args:?}");
    }
}

#[test]
fn oversized_bodies_get_413_before_being_read() {
    let s = Server::start(&["--limit-request-body", "100", "builtin:echo"], 1);
    // Announced too large, with Expect: 413 instead of 100 Continue, and nothing is read.
    let conn = s.connect();
    let mut w = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    w.write_all(b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!((resp.status, resp.header("Connection")), (413, Some("close")));
    // Chunked: refused once the decoded body passes the limit.
    let mut raw = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(b"40\r\n");
        raw.extend_from_slice(&[b'x'; 64]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(first_response(&s, &raw).status, 413);
    // At the limit: accepted.
    let ok = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{}",
        "y".repeat(100)
    );
    assert_eq!(first_response(&s, ok.as_bytes()).status, 200);
}

#[test]
fn a_head_that_never_completes_gets_408() {
    let s = Server::start(&["--header-timeout", "1", "builtin:hello"], 1);
    let mut c = s.connect();
    c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ").unwrap();
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    let resp = &parse_all(&out)[0];
    assert_eq!((resp.status, resp.header("Connection")), (408, Some("close")));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        start.elapsed()
    );
}

#[test]
fn a_connection_that_never_speaks_is_closed_without_an_answer() {
    // With defer_accept (the default) the kernel holds it until its handshake retry is over
    // (about a second), then a worker takes it and header_timeout runs; without, at once.
    for flags in [
        &["--header-timeout", "1"][..],
        &["--header-timeout", "1", "--no-defer-accept"],
    ] {
        let s = Server::start(&[flags, &["builtin:hello"]].concat(), 1);
        let mut c = s.connect();
        let start = std::time::Instant::now();
        let mut out = Vec::new();
        c.read_to_end(&mut out).unwrap();
        assert_eq!(String::from_utf8_lossy(&out), "", "{flags:?}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{flags:?}: closed after {:?}",
            start.elapsed()
        );
        // The worker is still there and serves.
        assert_eq!(
            first_response(&s, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").status,
            200
        );
    }
}

#[test]
fn a_reader_that_stalls_is_dropped_after_timeout() {
    let dir = std::env::temp_dir().join(format!("forkhorn-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.bin"), vec![7u8; 32 << 20]).unwrap();
    std::fs::write(dir.join("small.txt"), "small").unwrap();
    let s = Server::start(
        &["-t", "2", "--static-root", dir.to_str().unwrap(), "builtin:static"],
        1,
    );
    let mut c = s.connect();
    c.write_all(b"GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    // Read nothing: the server's socket fills up and stops moving. Once `timeout` passes
    // without progress the server closes its side (its socket leaves ESTABLISHED).
    let server_side = format!(":{:04X} ", s.addr.port());
    let client_side = format!(":{:04X} ", c.local_addr().unwrap().port());
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let established = tcp.lines().skip(1).any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} ", f[1]).ends_with(&server_side) && format!("{} ", f[2]).ends_with(&client_side) && f[3] == "01"
        });
        if !established {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the stalled connection was kept");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    assert!(got.len() < 32 << 20, "the whole body could not have been sent");
    // (A small file: a client that a loaded machine keeps from reading for `timeout` would be
    // dropped too.)
    assert_eq!(s.get("/small.txt").text(), "small", "the worker serves on");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn server_header_can_be_changed_or_omitted() {
    let s = Server::start(&["--server-header", "", "builtin:hello"], 1);
    assert_eq!(s.get("/").header("Server"), None);
    let s = Server::start(&["--server-header", "edge/1", "builtin:hello"], 1);
    assert_eq!(s.get("/").header("Server"), Some("edge/1"));
}

#[test]
fn echo_of_a_large_upload_keeps_worker_memory_flat() {
    let s = Server::start(&["builtin:echo"], 1);
    let worker = s.workers()[0];
    // 32 MiB, chunked, in 64 KiB chunks of a known pattern.
    let block: Vec<u8> = (0..65536u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut c = s.connect();
    c.write_all(b"POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        .unwrap();
    for _ in 0..512 {
        write!(c, "{:x}\r\n", block.len()).unwrap();
        c.write_all(&block).unwrap();
        c.write_all(b"\r\n").unwrap();
    }
    c.write_all(b"0\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::new(c), false).expect("response");
    assert_eq!(r.status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(doc["environ"]["REQUEST_METHOD"], "POST");
    let body = b64_decode(doc["body_b64"].as_str().unwrap());
    assert_eq!(body.len(), 512 * block.len());
    assert!(body.chunks(block.len()).all(|c| c == block.as_slice()));
    // The upload went to a spool file and the echo encoded it a block at a time: the worker
    // never held the body, let alone its base64, in memory.
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(peak_kib < 24 * 1024, "worker peak RSS {peak_kib} KiB");
}

fn b64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
}

#[test]
fn a_pipelining_client_that_does_not_read_cannot_grow_the_worker() {
    let s = Server::start(&["builtin:echo"], 1);
    let worker = s.workers()[0];
    // Each request asks for a 1 MiB answer (its own body, echoed as base64); 200 of them are
    // pipelined and nothing is read until all were sent.
    let body = vec![b'x'; 1 << 20];
    let mut c = s.connect();
    c.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sent = 0;
    for _ in 0..200 {
        let head = format!("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len());
        if c.write_all(head.as_bytes()).and_then(|()| c.write_all(&body)).is_err() {
            // The worker stopped reading: the client's send buffer is full. That is the point.
            break;
        }
        sent += 1;
    }
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(sent < 200, "the worker read all 200 requests while none was answered");
    assert!(
        rss_kib < 64 * 1024,
        "worker RSS {rss_kib} KiB after {sent} unread answers"
    );
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("worker status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[test]
fn idle_keep_alive_connections_hold_no_buffers() {
    // Each connection answers one request and then stays open doing nothing, as browsers'
    // connections do. They hold a few hundred bytes each, not their receive and send buffers
    // (about 15 KiB a connection when they kept them).
    const CONNS: usize = 2000;
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).expect("getrlimit");
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    assert!(
        hard >= CONNS as u64 + 100,
        "the test needs {} descriptors, the hard limit is {hard}",
        CONNS + 100
    );
    let s = Server::start(
        &[
            "-w",
            "1",
            "--worker-connections",
            "3000",
            "--keep-alive",
            "300",
            "builtin:hello",
        ],
        1,
    );
    let worker = s.workers()[0];
    // Warm up: the worker's first requests size its pools.
    for _ in 0..3 {
        assert_eq!(s.get("/").status, 200);
    }
    let before = rss_kib(worker);
    let mut held = Vec::with_capacity(CONNS);
    for batch in 0..CONNS / 100 {
        let mut streams: Vec<std::net::TcpStream> = (0..100).map(|_| s.connect()).collect();
        for c in &mut streams {
            c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        }
        for c in streams {
            let mut r = BufReader::new(c);
            let resp = read_response(&mut r, false).unwrap_or_else(|| panic!("no response in batch {batch}"));
            assert_eq!(resp.status, 200);
            held.push(r);
        }
    }
    let after = rss_kib(worker);
    let per_conn = (after.saturating_sub(before)) * 1024 / CONNS as u64;
    assert!(
        per_conn < 3 * 1024,
        "{CONNS} idle connections grew the worker from {before} KiB to {after} KiB: {per_conn} bytes each"
    );
    // They are still served.
    let mut r = held.pop().unwrap();
    r.get_mut()
        .write_all(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r, false).unwrap().status, 200);
}

#[test]
fn script_name_from_the_environment_is_split_off_path_info() {
    let mut cmd = std::process::Command::new(bin());
    cmd.env("SCRIPT_NAME", "/app")
        .args(["-b", "127.0.0.1:0", "builtin:echo"]);
    let s = Server::start_cmd(&mut cmd, 1);
    let env = |path: &str| echo_json(&s.get(path))["environ"].clone();
    let e = env("/app/x%20y?q=1");
    assert_eq!(
        (e["SCRIPT_NAME"].as_str(), e["PATH_INFO"].as_str()),
        (Some("/app"), Some("/x y"))
    );
    assert_eq!(e["RAW_URI"], "/app/x%20y?q=1");
    let e = env("/app");
    assert_eq!(
        (e["SCRIPT_NAME"].as_str(), e["PATH_INFO"].as_str()),
        (Some("/app"), Some(""))
    );
    // Outside the prefix: gunicorn's answer, a 500, with the reason in the error log.
    for path in ["/other", "/apple"] {
        let r = s.get(path);
        assert_eq!(r.status, 500, "{path}");
        s.wait_log(
            &format!("request path \"{path}\" does not start with SCRIPT_NAME \"/app\""),
            1,
        );
    }
}

#[test]
fn script_name_from_raw_env() {
    let mut cmd = std::process::Command::new(bin());
    cmd.env_remove("SCRIPT_NAME")
        .args(["-e", "SCRIPT_NAME=/mnt/", "-b", "127.0.0.1:0", "builtin:echo"]);
    let s = Server::start_cmd(&mut cmd, 1);
    let e = echo_json(&s.get("/mnt/a/b"))["environ"].clone();
    assert_eq!(
        (e["SCRIPT_NAME"].as_str(), e["PATH_INFO"].as_str()),
        (Some("/mnt"), Some("/a/b"))
    );
}

/// A port still held at start-up (by the old process of a restart, say) is tried again each
/// second, with gunicorn's log lines; once it is free, forkhorn binds it and serves. Held
/// through all five tries, start-up fails with one line naming the address and nothing runs.
#[test]
fn a_port_in_use_at_start_up_is_tried_again_each_second() {
    use std::process::{Command, Stdio};
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = blocker.local_addr().expect("addr").to_string();
    let mut s = Server::spawn(Command::new(bin()).args(["-b", &addr, "-w", "1", "builtin:hello"]));
    assert!(s
        .wait_log("Connection in use: ", 1)
        .ends_with(&format!("Connection in use: {addr}")));
    drop(blocker);
    s.wait_log(&format!("Listening at: http://{addr}"), 1);
    s.wait_log("Booting worker", 1);
    assert_eq!(get(addr.parse().expect("addr"), "/").status, 200);
    s.signal(Signal::SIGTERM);
    assert!(s.wait_exit().success());

    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = blocker.local_addr().expect("addr").to_string();
    let out = Command::new(bin())
        .args(["-b", &addr, "builtin:hello"])
        .stdin(Stdio::null())
        .output()
        .expect("run forkhorn");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let in_use = stderr
        .lines()
        .filter(|l| l.ends_with(&format!("Connection in use: {addr}")))
        .count();
    assert_eq!(in_use, 4, "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .is_some_and(|l| l.contains(&addr) && l.contains("in use")),
        "{stderr}"
    );
    drop(blocker);
}

/// A refused request whose client is still sending (a request line or a header far past the
/// limits, a body past `limit_request_body`) gets its answer and then the end of the stream,
/// not a reset that would destroy the answer: the worker reads and drops the rest first.
#[test]
fn a_refused_request_is_answered_while_its_client_is_still_sending() {
    let s = Server::start(&["--limit-request-body", "1000", "builtin:echo"], 1);
    let big = vec![b'a'; 200_000];
    let cases: [(Vec<u8>, &str); 3] = [
        (
            [&b"GET /"[..], &big, b" HTTP/1.1\r\nHost: x\r\n\r\n"].concat(),
            "HTTP/1.1 414 URI Too Long\r\n",
        ),
        (
            [&b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "[..], &big, b"\r\n\r\n"].concat(),
            "HTTP/1.1 431 Request Header Fields Too Large\r\n",
        ),
        (
            [
                &b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"[..],
                &big,
            ]
            .concat(),
            "HTTP/1.1 413 Content Too Large\r\n",
        ),
    ];
    for (request, want) in cases {
        let mut c = s.connect();
        c.write_all(&request).expect("the whole request is taken");
        let mut answer = Vec::new();
        c.read_to_end(&mut answer)
            .expect("the answer, then the end of the stream");
        assert!(
            answer.starts_with(want.as_bytes()),
            "{want:?}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    // limit_request_line 0 is gunicorn 27's "unlimited": a request line of up to 1 MiB.
    let unlimited = Server::start(&["--limit-request-line", "0", "builtin:hello"], 1);
    let long = format!("/{}", "a".repeat(100_000));
    assert_eq!(unlimited.get(&long).status, 200);
}
