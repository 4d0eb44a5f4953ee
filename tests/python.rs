//! The Python bridge end to end: the test apps of `tests/python/wsgi_apps.py` served by the real
//! binary, spoken to in raw HTTP. Covers the environ, start_response/write, bodies (lists,
//! generators, write(), file_wrapper with sendfile), wsgi.input in every reading style, errors,
//! SystemExit, app specs, the GIL between requests, and the wsgiref validator; and what gunicorn
//! adds (`tests/python/gunicorn_environ.py`): `wsgi.early_hints`, statuses without a reason,
//! SCRIPT_NAME.
#![cfg(feature = "python")]

mod common;
use base64::Engine as _;
use common::python::apps_dir;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Starts forkhorn in `tests/python` (so the test apps import), outside any virtualenv.
fn start(args: &[&str], workers: usize) -> Server {
    Server::start_cmd(&mut command(args), workers)
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(apps_dir()).env_remove("VIRTUAL_ENV").args(args);
    if !args.contains(&"-b") {
        cmd.args(["-b", "127.0.0.1:0"]);
    }
    cmd
}

fn json(r: &Response) -> serde_json::Value {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    serde_json::from_slice(&r.body).expect("JSON body")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Sends `raw` on a new connection; the parsed responses and the raw bytes.
fn exchange(s: &Server, raw: &[u8]) -> (Vec<Response>, Vec<u8>) {
    let out = s.exchange(raw);
    (parse_all(&out), out)
}

#[test]
fn list_body_gets_a_content_length() {
    let s = start(&["wsgi_apps:app"], 1);
    let r = s.get("/hello");
    assert_eq!(r.status_line, "HTTP/1.1 200 OK");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("Content-Length"), Some("13"));
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(r.text(), "Hello, World!");
    assert_eq!(s.get("/nowhere").status, 404);
}

#[test]
fn keep_alive_and_pipelining() {
    let s = start(&["wsgi_apps:app"], 1);
    let mut req = Vec::new();
    for path in ["/hello", "/stream", "/write", "/hello"] {
        req.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    req.extend_from_slice(b"GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let (all, _) = exchange(&s, &req);
    let bodies: Vec<String> = all.iter().map(Response::text).collect();
    assert_eq!(
        bodies,
        [
            "Hello, World!",
            "chunk 0\nchunk 1\nchunk 2\n",
            "one two three",
            "Hello, World!",
            "Hello, World!"
        ]
    );
}

#[test]
fn environ_has_the_wsgi_objects() {
    let s = start(&["-w", "2", "wsgi_apps:app"], 2);
    let doc = json(&s.get("/types"));
    let expect = serde_json::json!({
        "wsgi.version": ["tuple", "(1, 0)"],
        "wsgi.multithread": ["bool", "False"],
        "wsgi.multiprocess": ["bool", "True"],
        "wsgi.run_once": ["bool", "False"],
        "wsgi.input_terminated": ["bool", "True"],
        "wsgi.input": ["InputStream", null],
        "wsgi.errors": ["ErrorStream", null],
        "wsgi.file_wrapper": ["type", "<class 'forkhorn.FileWrapper'>"],
        "wsgi.early_hints": ["EarlyHints", null],
    });
    assert_eq!(doc, expect);
}

#[test]
fn python_echo_matches_builtin_echo() {
    let py = start(&["wsgi_apps:echo"], 1);
    let rust = Server::start(&["builtin:echo"], 1);
    let raw = b"POST /caf%C3%A9/%E9?q=%41&x=%E9 HTTP/1.1\r\nHost: example.test\r\nX-Multi: one\r\nx-multi: two\r\nX-Latin: \xe9t\xe9\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nConnection: close\r\n\r\nx=1&y=\xff";
    let (a, _) = exchange(&py, raw);
    let (b, _) = exchange(&rust, raw);
    let (mut a, mut b) = (json(&a[0]), json(&b[0]));
    for doc in [&mut a, &mut b] {
        let env = doc["environ"].as_object_mut().unwrap();
        // Per connection or per server; everything else must agree exactly.
        for k in ["REMOTE_PORT", "SERVER_PORT"] {
            assert!(env.remove(k).is_some(), "{k}");
        }
    }
    assert_eq!(a, b);
    let env = &a["environ"];
    assert_eq!(
        env["PATH_INFO"], "/caf\u{c3}\u{a9}/\u{e9}",
        "latin-1 decoding of the raw bytes"
    );
    assert_eq!(env["HTTP_X_LATIN"], "\u{e9}t\u{e9}");
    assert_eq!(env["QUERY_STRING"], "q=%41&x=%E9");
    assert_eq!(env["CONTENT_LENGTH"], "7");
    assert_eq!(env["HTTP_X_MULTI"], "one,two");
    assert_eq!(env["SERVER_SOFTWARE"], "forkhorn/0.1.0");
    assert_eq!(a["body_b64"], b64(b"x=1&y=\xff"));
}

#[test]
fn generator_bodies_are_chunked_or_close_delimited() {
    let s = start(&["wsgi_apps:app"], 1);
    let (r, raw) = exchange(&s, b"GET /stream?4 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(r[0].header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r[0].text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
    assert!(
        raw.ends_with(b"8\r\nchunk 3\n\r\n0\r\n\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let (_, raw) = exchange(&s, b"GET /stream?2 HTTP/1.0\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.0 200 OK\r\n"), "{text}");
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nchunk 0\nchunk 1\n"), "{text}");
    // start_response from inside the iterable, after an empty first item.
    assert_eq!(s.get("/lazy").text(), "lazy");
    assert_eq!(s.get("/iter-start").text(), "from __iter__");
}

#[test]
fn write_callable() {
    let s = start(&["wsgi_apps:app"], 1);
    let r = s.get("/write");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.text(), "one two three");
    let r = s.get("/write-only");
    assert_eq!(r.header("Content-Length"), Some("8"));
    assert_eq!(r.text(), "written!");
    // 8 MiB, more than the socket buffers hold: write() waits for this slow reader, then goes
    // on. Once its first byte has arrived the app is inside /write-big. While the client reads
    // nothing more, the single worker can answer /counts only from inside a write() that waits,
    // with some of the 128 write() calls still to return; a worker that took the whole body
    // without waiting would answer it only after all 128 had returned.
    let big_writes = |s: &Server| json(&s.get("/counts"))["big_writes"].as_u64().unwrap();
    let before = big_writes(&s);
    let mut c = s.connect();
    // A small receive buffer keeps the client's side of the 8 MiB small whatever the
    // autotuning limits are.
    nix::sys::socket::setsockopt(&c, nix::sys::socket::sockopt::RcvBuf, &65536).expect("SO_RCVBUF");
    c.write_all(b"GET /write-big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1];
    c.read_exact(&mut first).unwrap();
    let returned = big_writes(&s) - before;
    assert!(
        returned < 128,
        "all {returned} write() calls returned before the client read"
    );
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    let r = parse_all(&[&first[..], &rest].concat())
        .into_iter()
        .next()
        .expect("response");
    let block: Vec<u8> = (0..=255u8).cycle().take(65536).collect();
    assert_eq!(r.body.len(), 128 * 65536);
    assert!(r.body.chunks(65536).all(|c| c == block.as_slice()));
    assert_eq!(big_writes(&s) - before, 128);
}

#[test]
fn head_requests_get_headers_only() {
    let s = start(&["wsgi_apps:app"], 1);
    let (_, raw) = exchange(&s, b"HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 13\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "no body: {text}");
    let (_, raw) = exchange(&s, b"HEAD /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(raw.ends_with(b"\r\n\r\n") && !raw.windows(5).any(|w| w == b"chunk"));
}

#[test]
fn large_generator_body_and_close_exactly_once() {
    bodies_closed_once(&[]);
}

#[test]
fn bodies_are_closed_once_on_application_threads() {
    bodies_closed_once(&["--threads", "4"]);
}

/// A large generator body arrives whole, and every body's close() runs exactly once, also for
/// a client that leaves in the middle (on a server started with `args`).
fn bodies_closed_once(args: &[&str]) {
    let mut all = args.to_vec();
    all.push("wsgi_apps:app");
    let s = start(&all, 1);
    let r = s.get("/big");
    let block: Vec<u8> = (0..=255u8).cycle().take(65536).collect();
    assert_eq!(r.body.len(), 64 * 65536);
    assert!(r.body.chunks(65536).all(|c| c == block.as_slice()));
    for _ in 0..3 {
        assert_eq!(s.get("/closing").text(), "ab");
    }
    // A client that leaves in the middle of a large body: the iterable is still closed.
    let mut c = s.connect();
    c.write_all(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut first = [0u8; 1024];
    c.read_exact(&mut first).unwrap();
    drop(c);
    wait_until("the abandoned body is closed", || {
        let closes = json(&s.get("/counts"))["close"].as_u64().unwrap();
        // Three /closing, one whole /big, one abandoned /big.
        assert!(closes <= 5, "close() called {closes} times");
        closes == 5
    });
}

/// The pieces /post?HOW read, decoded.
fn read_as(s: &Server, how: &str, body: &[u8]) -> Vec<Vec<u8>> {
    let mut raw = format!(
        "POST /post?{how} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let (r, _) = exchange(s, &raw);
    json(&r[0])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            base64::engine::general_purpose::STANDARD
                .decode(p.as_str().unwrap())
                .unwrap()
        })
        .collect()
}

#[test]
fn wsgi_input_in_every_reading_style() {
    let body = b"line one\nline two\nline three\ntail";
    // In memory, and spooled to a temporary file (a body larger than body_buffer_size).
    for buffer in ["65536", "4"] {
        let s = start(&["--body-buffer-size", buffer, "wsgi_apps:app"], 1);
        let lines: Vec<&[u8]> = vec![b"line one\n", b"line two\n", b"line three\n", b"tail"];
        assert_eq!(read_as(&s, "read", body), [&body[..], b""], "buffer {buffer}");
        let sized: Vec<Vec<u8>> = body.chunks(7).map(<[u8]>::to_vec).collect();
        assert_eq!(read_as(&s, "read-sized", body), sized, "buffer {buffer}");
        assert_eq!(read_as(&s, "readline", body), lines, "buffer {buffer}");
        let five: Vec<&[u8]> = vec![
            b"line ", b"one\n", b"line ", b"two\n", b"line ", b"three", b"\n", b"tail",
        ];
        assert_eq!(read_as(&s, "readline-sized", body), five, "buffer {buffer}");
        assert_eq!(read_as(&s, "readlines", body), lines, "buffer {buffer}");
        // The hint stops readlines once 12 bytes are read: after the second line.
        let hinted: Vec<&[u8]> = vec![b"line one\n", b"line two\n", b"|", b"line three\n", b"tail"];
        assert_eq!(read_as(&s, "readlines-hint", body), hinted, "buffer {buffer}");
        assert_eq!(read_as(&s, "iter", body), lines, "buffer {buffer}");
        assert_eq!(read_as(&s, "iter", b""), Vec::<Vec<u8>>::new());
        let (r, _) = exchange(
            &s,
            b"POST /post-unsized HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nab\ncd\r\n3\r\nefg\r\n0\r\n\r\n",
        );
        assert_eq!(json(&r[0]), serde_json::json!(["ab\n", "cdefg", ""]));
    }
}

#[test]
fn exceptions_become_500_with_the_traceback_logged() {
    let s = start(&["wsgi_apps:app"], 1);
    for (path, needle) in [
        ("/error", "ValueError: boom before start_response"),
        ("/error-after-start", "ValueError: boom after start_response"),
        ("/bad-status", "ValueError: invalid status \"OK\""),
        (
            "/second-start",
            "AssertionError: start_response called a second time without exc_info",
        ),
        ("/not-bytes", "TypeError: the response body must yield bytes, not str"),
        (
            "/non-latin1-header",
            "ValueError: header value \"\u{20ac}\" is not latin-1",
        ),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 500, "{path}: {}", r.text());
        assert_eq!(r.header("Connection"), Some("close"));
        let line = s.wait_log(needle, 1);
        assert!(line.contains(&format!("Error handling request GET {path}")), "{line}");
        s.wait_log("Traceback (most recent call last):", 1);
    }
    s.wait_log("raise ValueError(\"boom before start_response\")", 1);
    let log = s.log().join("\n");
    assert!(
        log.contains(", in error\n    raise ValueError(\"boom before start_response\")"),
        "{log}"
    );
    // The worker survives all of them.
    assert_eq!(s.get("/hello").status, 200);
    assert_eq!(s.workers().len(), 1);
}

/// PEP 3333: the status and header values are latin-1 strings, sent one byte a character
/// (not UTF-8).
#[test]
fn status_and_header_values_go_out_as_latin1_bytes() {
    let s = start(&["wsgi_apps:app"], 1);
    // Raw bytes: the harness's response parser reads heads as UTF-8.
    let raw = s.exchange(b"GET /latin1-header HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert!(
        raw.starts_with(b"HTTP/1.1 200 Tr\xe8s bien\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let line: &[u8] = b"\r\nX-Name: caf\xe9 \xff\r\n";
    assert!(
        raw.windows(line.len()).any(|w| w == line),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn callables_kept_past_their_request_refuse_to_act() {
    let s = start(&["wsgi_apps:app"], 1);
    assert_eq!(s.get("/stash-write").text(), "stashed");
    let r = s.get("/use-stashed");
    assert_eq!(r.status, 500);
    s.wait_log(
        "RuntimeError: start_response/write called outside the request they belong to",
        1,
    );
    assert_eq!(s.get("/hello").text(), "Hello, World!");
}

#[test]
fn errors_after_the_head_abort_the_connection() {
    let s = start(&["wsgi_apps:app"], 1);
    for (path, needle) in [
        ("/error-in-body", "ValueError: boom in the body"),
        ("/exc-info-late", "KeyError: 'late'"),
    ] {
        let (_, raw) = exchange(&s, format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let text = String::from_utf8_lossy(&raw);
        // The head was committed: no 500 follows it, and the body never completes.
        assert!(text.is_empty() || text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(!text.ends_with("0\r\n\r\n") && !text.contains(" 500 "), "{text:?}");
        s.wait_log(needle, 1);
    }
}

#[test]
fn exc_info_replaces_headers_not_yet_sent() {
    let s = start(&["wsgi_apps:app"], 1);
    let r = s.get("/exc-info");
    assert_eq!(r.status_line, "HTTP/1.1 503 Service Unavailable");
    assert_eq!(r.header("X-Dropped"), None);
    assert_eq!(r.text(), "sorry");
}

#[test]
fn system_exit_and_keyboard_interrupt_replace_the_worker() {
    let s = start(&["wsgi_apps:app"], 1);
    let mut booted = 1;
    for path in ["/exit", "/interrupt"] {
        let before = json(&s.get("/pid"))["pid"].as_i64().unwrap();
        let r = s.get(path);
        assert_eq!(r.status, 500, "{path}");
        booted += 1;
        s.wait_log("Booting worker", booted);
        let after = json(&s.get("/pid"))["pid"].as_i64().unwrap();
        assert_ne!(before, after, "{path}: a new worker answers");
    }
    s.wait_log("SystemExit: 4 (the worker exits after this response)", 1);
    s.wait_log("KeyboardInterrupt (the worker exits after this response)", 1);
}

#[test]
fn wsgi_errors_go_to_the_error_log() {
    let s = start(&["wsgi_apps:app"], 1);
    assert_eq!(s.get("/errors").text(), "logged");
    // As written, without the prefix of forkhorn's own lines (gunicorn writes them raw too),
    // each a line of its own.
    for line in ["first line from the app", "second line", "unfinished"] {
        assert_eq!(s.wait_log(line, 1), line);
    }
}

/// A temporary file `forkhorn-NAME-PID.bin` of `len` bytes, byte `i` being `i * step % 251`
/// (so a body read from the wrong offset differs), and its contents.
fn patterned_file(name: &str, len: u32, step: u32) -> (std::path::PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * step % 251) as u8).collect();
    let path = std::env::temp_dir().join(format!("forkhorn-{name}-{}.bin", std::process::id()));
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

#[test]
fn file_wrapper_uses_sendfile() {
    let s = start(&["wsgi_apps:app"], 1);
    let (path, data) = patterned_file("download", 3_000_000, 7);
    let p = path.to_str().unwrap();
    let r = s.get(&format!("/file?path={p}"));
    assert_eq!(r.header("Content-Length"), Some("3000000"));
    assert!(r.body == data, "the whole file");
    let r = s.get(&format!("/file?path={p}&skip=1000"));
    assert_eq!(r.header("Content-Length"), Some("2999000"));
    assert!(r.body == data[1000..], "from the file's position");
    // The app's own shorter Content-Length wins, and the connection stays usable.
    let mut c = BufReader::new(s.connect());
    for _ in 0..2 {
        write!(c.get_mut(), "GET /file?path={p}&length=100 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let r = read_response(&mut c, false).unwrap();
        assert_eq!(r.body, data[..100]);
        assert_eq!(r.header("Connection"), None);
    }
    let (_, raw) = exchange(
        &s,
        format!("HEAD /file?path={p} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert!(String::from_utf8_lossy(&raw).contains("Content-Length: 3000000\r\n"));
    assert!(raw.ends_with(b"\r\n\r\n"));
    let counts = json(&s.get("/counts"));
    assert_eq!(counts["file_reads"], 0, "sendfile, not read(): {counts}");
    assert_eq!(counts["file_closes"], 5, "{counts}");
    // Once the body is chunked (a write() came first) the file is read and iterated.
    let r = s.get(&format!("/file-chunked?path={p}"));
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert!(r.body[..5] == *b"head:" && r.body[5..] == data);
    let counts = json(&s.get("/counts"));
    assert!(counts["file_reads"].as_u64().unwrap() > 700, "{counts}");
    assert_eq!(counts["file_closes"], 6, "{counts}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn file_wrapper_sends_from_where_the_app_has_read_to() {
    let s = start(&["wsgi_apps:app"], 1);
    let (path, data) = patterned_file("opened", 100_000, 13);
    let p = path.to_str().unwrap();
    // What open() returns for each mode: a reader that has read ahead past the app's
    // position, an unbuffered file, and a reader-writer (whose flush runs first).
    for (query, kind, read) in [
        ("mode=rb", "BufferedReader", 0),
        ("mode=rb&read=10", "BufferedReader", 10),
        ("mode=rb&read=9000", "BufferedReader", 9000),
        ("mode=rb&buffering=0&read=10", "FileIO", 10),
        ("mode=r%2Bb&read=10", "BufferedRandom", 10),
    ] {
        let r = s.get(&format!("/file-opened?path={p}&{query}"));
        assert_eq!(r.status, 200, "{query}");
        assert_eq!(r.header("X-Type"), Some(kind), "{query}");
        assert_eq!(
            r.header("Content-Length"),
            Some((data.len() - read).to_string().as_str()),
            "{query}"
        );
        assert!(r.body == data[read..], "{query}: the file from the app's position");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn file_wrapper_head_and_file_arrive_in_one_segment() {
    let (path, data) = patterned_file("segments", 10_240, 7);
    let p = path.to_str().unwrap();
    // On the loop's thread, and from an application thread (the head comes back to the loop,
    // which sends it with the file).
    for threads in ["1", "4"] {
        let s = start(&["--threads", threads, "wsgi_apps:app"], 1);
        let c = s.connect();
        for i in 0..3 {
            let before = data_segments_in(&c);
            write!(&c, "GET /file?path={p} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            let r = read_response(&mut BufReader::new(&c), false).unwrap();
            assert!(r.body == data, "the whole file");
            let segments = data_segments_in(&c) - before;
            assert_eq!(segments, 1, "response {i} with {threads} thread(s)");
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn app_threads_run_while_the_worker_waits() {
    own_threads_run(&[]);
}

#[test]
fn own_threads_run_beside_application_threads() {
    own_threads_run(&["--threads", "4"]);
}

/// An app's own thread runs while the worker (started with `args`) idles, and while `write`
/// waits for a client that does not read.
fn own_threads_run(args: &[&str]) {
    let mut all = args.to_vec();
    all.push("wsgi_apps:app");
    let s = start(&all, 1);
    // One marker per variant: the variants run at the same time.
    let marker = std::env::temp_dir().join(format!("forkhorn-thread-{}-{}", std::process::id(), args.join("")));
    let _ = std::fs::remove_file(&marker);
    assert_eq!(s.get(&format!("/thread?{}", marker.display())).text(), "started");
    // No more requests: the thread can only run if the idle worker does not hold the GIL.
    wait_until("the app's thread ran", || marker.exists());
    let _ = std::fs::remove_file(&marker);
    // Nor while write() waits for a client that does not read.
    let mut c = s.connect();
    write!(
        c,
        "GET /write-big?{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        marker.display()
    )
    .unwrap();
    wait_until("the app's thread ran during write()", || marker.exists());
    let r = read_response(&mut BufReader::new(c), false).expect("response");
    assert_eq!(r.body.len(), 128 * 65536);
    let _ = std::fs::remove_file(&marker);
}

#[test]
fn python_leaves_signals_to_forkhorn() {
    let mut s = start(&["wsgi_apps:app"], 1);
    let info = json(&s.get("/sys"));
    assert_eq!(info["sigint_default"], true, "Python installed no SIGINT handler");
    // A graceful stop lets the Python request it finds inside the app finish: TERM goes to the
    // master once the app has opened its FIFO, and the app returns only after the master
    // handled it.
    let worker = s.workers()[0];
    let mut fifo = Confirmations::new("py-term");
    let mut c = s.connect();
    write!(c, "GET /held?{} HTTP/1.1\r\nHost: t\r\n\r\n", fifo.path.display()).unwrap();
    fifo.wait_opened();
    s.signal(Signal::SIGTERM);
    s.wait_log("Handling signal: term", 1);
    fifo.confirm();
    // The whole response, then the stopping worker closes the connection.
    let mut r = BufReader::new(c);
    let resp = read_response(&mut r, false).expect("response");
    assert_eq!((resp.status, resp.text().as_str()), (200, "released"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert_eq!(s.wait_exit().code(), Some(0));
    s.wait_log("Shutting down: Master", 1);
    let log = s.log();
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("Worker exiting (pid: {worker})"))),
        "{}",
        log.join("\n")
    );
    for wrong in ["WORKER TIMEOUT", "SIGKILL", "Traceback"] {
        assert!(
            !log.iter().any(|l| l.contains(wrong)),
            "{wrong:?} in:\n{}",
            log.join("\n")
        );
    }
}

#[test]
fn app_factory_with_literal_arguments() {
    let s = start(&["wsgi_apps:create_app('Hi', punctuation='?')"], 1);
    assert_eq!(s.get("/").text(), "Hi?");
    let s = start(&["wsgi_apps:create_app()"], 1);
    assert_eq!(s.get("/").text(), "Hello!");
}

#[test]
fn sys_path_has_the_working_directory_and_argv_is_forkhorns() {
    let s = start(&["wsgi_apps:app"], 1);
    let info = json(&s.get("/sys"));
    let dir = apps_dir().canonicalize().unwrap();
    assert_eq!(info["cwd"], dir.to_str().unwrap());
    assert_eq!(info["path"][0], dir.to_str().unwrap());
    assert_eq!(info["argv"][0], bin());
    assert_eq!(info["argv"].as_array().unwrap().last().unwrap(), "127.0.0.1:0");
}

/// Runs forkhorn with `args` in `tests/python` expecting a boot failure; its stderr.
fn boot_failure(args: &[&str]) -> String {
    let out = command(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("Reason: Worker failed to boot."), "{err}");
    let attempts = err.matches("Worker failed to boot: ").count();
    assert!(
        (1..=3).contains(&attempts),
        "no respawn loop: {attempts} attempts:\n{err}"
    );
    err
}

#[test]
fn bad_app_specs_stop_the_master_with_one_line() {
    for (spec, line) in [
        ("nosuch:app", "cannot import module 'nosuch': No module named 'nosuch'"),
        ("nosuch", "cannot import module 'nosuch': No module named 'nosuch'"),
        ("wsgi_apps:nope", "cannot find attribute 'nope' in module 'wsgi_apps'"),
        (
            "wsgi_apps:IMPORT_PID",
            "cannot call the application: IMPORT_PID is not callable",
        ),
        (
            "wsgi_apps:create_app(os.getcwd())",
            "factory arguments must be literals",
        ),
        ("wsgi_apps:create_app(*[])", "factory arguments must be literals"),
        ("wsgi_apps.py:app", "did you mean 'wsgi_apps:app'?"),
        (
            "wsgi_apps:create_app(1, 2, 3)",
            "cannot call the app factory create_app(1, 2, 3): TypeError:",
        ),
    ] {
        let err = boot_failure(&["-w", "2", spec]);
        assert!(err.contains(line), "{spec}: {err}");
    }
}

#[test]
fn an_interpreter_the_worker_user_cannot_read_is_named_in_one_line() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: dropping privileges needs root");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("a nobody user");
    let prefix = Path::new(common::python::build_python())
        .parent()
        .and_then(Path::parent)
        .unwrap();
    let stdlib = prefix
        .join("lib")
        .join(concat!("python", env!("FORKHORN_PYTHON_VERSION")));
    // The first directory on the way that nobody does not own and others may not search closes
    // it (for a pyenv under root's 0700 home, /root).
    let ancestors: Vec<&Path> = stdlib.ancestors().collect();
    let closed = ancestors.iter().rev().find(|dir| {
        let meta = std::fs::metadata(dir).unwrap();
        meta.uid() != nobody.uid.as_raw() && meta.mode() & 0o001 == 0
    });
    let Some(closed) = closed else {
        eprintln!("skipped: nobody can read {}", stdlib.display());
        return;
    };
    let err = boot_failure(&["-u", "nobody", "wsgi_apps:app"]);
    let mut line = format!(
        "Worker failed to boot: cannot start Python: {} is not readable by user nobody (uid {})",
        stdlib.display(),
        nobody.uid
    );
    if *closed != stdlib {
        line += &format!(": {} is closed to it\n", closed.display());
    }
    assert!(err.contains(&line), "{err}");
    assert!(!err.contains("Python path configuration"), "CPython's dump: {err}");

    // Through a virtualenv, whose python links to that interpreter: the link's end is named.
    let venv = common::python::venv();
    let venv_arg = venv.to_str().expect("UTF-8 path");
    let err = boot_failure(&["-u", "nobody", "--virtualenv", venv_arg, "wsgi_apps:app"]);
    let mut target = venv.join("bin/python");
    while let Ok(next) = std::fs::read_link(&target) {
        target = target.parent().unwrap().join(next);
    }
    let line = format!(
        "Worker failed to boot: cannot start Python: {} is not readable by user nobody (uid {}): {} is closed to \
         it\n",
        target.display(),
        nobody.uid,
        closed.display()
    );
    assert!(err.contains(&line), "{err}");
}

#[test]
fn validator_finds_nothing_wrong() {
    validate(&[]);
}

#[test]
fn validator_finds_nothing_wrong_on_application_threads() {
    validate(&["--threads", "4"]);
}

/// Every test app through wsgiref.validate, on a server started with `args`.
fn validate(args: &[&str]) {
    let mut all = vec!["-w", "2"];
    all.extend_from_slice(args);
    all.push("wsgi_apps:validated");
    let s = start(&all, 2);
    let data = b"0123456789".repeat(1000);
    // One file per variant: the variants run at the same time.
    let path = std::env::temp_dir().join(format!(
        "forkhorn-validator-{}-{}.bin",
        std::process::id(),
        args.join("")
    ));
    std::fs::write(&path, &data).unwrap();
    for path in [
        "/hello",
        "/echo",
        "/types",
        "/stream",
        "/lazy",
        "/write",
        "/write-only",
        "/big",
        "/closing",
        "/errors",
    ] {
        assert_eq!(s.get(path).status, 200, "{path}");
    }
    assert_eq!(s.get(&format!("/file?path={}", path.display())).body, data);
    assert_eq!(s.get("/exc-info").status, 503);
    for how in [
        "read",
        "read-sized",
        "readline",
        "readline-sized",
        "readlines",
        "readlines-hint",
        "iter",
    ] {
        let pieces = read_as(&s, how, b"a\nbb\nccc");
        let joined: Vec<u8> = pieces.concat().into_iter().filter(|&b| b != b'|').collect();
        assert_eq!(joined, b"a\nbb\nccc", "{how}");
    }
    for path in ["/error", "/error-after-start"] {
        assert_eq!(s.get(path).status, 500, "{path}");
    }
    for path in ["/error-in-body", "/exc-info-late"] {
        s.exchange(format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    }
    for raw in [
        &b"HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"[..],
        b"GET /hello HTTP/1.0\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ] {
        let (r, _) = exchange(&s, raw);
        assert_eq!(r[0].status, 200);
    }
    let _ = std::fs::remove_file(&path);
    // Destructors run by now; a stop makes sure every worker's output is in.
    s.signal(Signal::SIGTERM);
    let mut s = s;
    assert_eq!(s.wait_exit().code(), Some(0));
    // The master's last line: everything before it has been read from the pipe.
    s.wait_log("Shutting down: Master", 1);
    let log = s.log().join("\n");
    assert!(!log.contains("VALIDATOR-PROBLEM"), "{log}");
    assert!(!log.contains("AssertionError"), "{log}");
    assert!(
        log.contains("ValueError: boom in the body"),
        "the error apps ran: {log}"
    );
}

const VERSIONED: &str = "def app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [VERSION]\n";

#[test]
fn chdir_and_pythonpath() {
    let lib = common::ops::test_dir("lib");
    std::fs::write(lib.join("from_lib.py"), format!("VERSION = b'from lib'\n{VERSIONED}")).unwrap();
    let elsewhere = common::ops::test_dir("elsewhere");
    let apps = apps_dir().canonicalize().unwrap();
    let mut cmd = Command::new(bin());
    cmd.current_dir(&elsewhere).env_remove("VIRTUAL_ENV").args([
        "--chdir",
        apps.to_str().unwrap(),
        "--pythonpath",
        &format!("{},relative", lib.display()),
        "-b",
        "127.0.0.1:0",
        "wsgi_apps:app",
    ]);
    let s = Server::start_cmd(&mut cmd, 1);
    let info = json(&s.get("/sys"));
    assert_eq!(info["cwd"], apps.to_str().unwrap());
    let path: Vec<&str> = info["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let relative = apps.join("relative");
    // pythonpath, chdir, then where forkhorn started (as gunicorn leaves it there).
    let started_in = elsewhere.canonicalize().unwrap();
    assert_eq!(
        path[..4],
        [
            lib.to_str().unwrap(),
            relative.to_str().unwrap(),
            apps.to_str().unwrap(),
            started_in.to_str().unwrap()
        ]
    );
    drop(s);
    // A module found only through pythonpath.
    let mut cmd = Command::new(bin());
    cmd.current_dir(&elsewhere).env_remove("VIRTUAL_ENV").args([
        "--pythonpath",
        lib.to_str().unwrap(),
        "-b",
        "127.0.0.1:0",
        "from_lib:app",
    ]);
    assert_eq!(Server::start_cmd(&mut cmd, 1).get("/").text(), "from lib");
}

#[test]
fn a_relative_chdir_is_relative_to_where_forkhorn_starts() {
    // `gunicorn --chdir backend config.wsgi`, as Procfiles have it.
    let start = common::ops::test_dir("relchdir");
    std::fs::create_dir_all(start.join("backend")).unwrap();
    std::fs::write(
        start.join("backend/in_backend.py"),
        format!("VERSION = b'backend'\n{VERSIONED}"),
    )
    .unwrap();
    let mut cmd = Command::new(bin());
    cmd.current_dir(&start).env_remove("VIRTUAL_ENV").args([
        "--chdir",
        "backend",
        "-b",
        "127.0.0.1:0",
        "in_backend:app",
    ]);
    assert_eq!(Server::start_cmd(&mut cmd, 1).get("/").text(), "backend");
}

#[test]
fn preload_imports_once_in_the_master() {
    let s = start(&["--preload", "-w", "2", "wsgi_apps:app"], 2);
    let mut pids = std::collections::HashSet::new();
    let deadline = Instant::now() + WAIT;
    while pids.len() < 2 {
        let doc = json(&s.get("/pid"));
        assert_eq!(doc["import_pid"], s.pid(), "imported in the master");
        pids.insert(doc["pid"].as_i64().unwrap());
        assert!(Instant::now() < deadline, "both workers answer");
    }
    assert!(!pids.contains(&(s.pid() as i64)));
    // Without preload each worker imports the app itself.
    let s = start(&["wsgi_apps:app"], 1);
    let doc = json(&s.get("/pid"));
    assert_eq!(doc["import_pid"], doc["pid"]);
}

#[test]
fn preload_with_app_threads_forks_working_workers() {
    let s = start(&["--preload", "-w", "2", "threaded_app:app"], 2);
    assert!(s.get("/").text().starts_with("worker "));
    // More forks while the app's thread keeps taking the GIL in the master.
    for n in 3..=6 {
        s.signal(Signal::SIGTTIN);
        s.wait_log("Booting worker", n);
    }
    // Every worker answers: each accepts in turn on the shared socket.
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + WAIT;
    while seen.len() < 6 {
        seen.insert(s.get("/").text());
        assert!(Instant::now() < deadline, "answers from {} of 6 workers", seen.len());
    }
    assert_eq!(s.workers().len(), 6);
}

#[test]
fn preload_failure_stops_the_master() {
    let out = command(&["--preload", "nosuch:app"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("Failed to preload the app: cannot import module 'nosuch': No module named 'nosuch'"),
        "{err}"
    );
    assert!(!err.contains("Booting worker"), "{err}");
}

/// Serves `reloadme:app` from a fresh directory; rewrites it and sends HUP under load.
fn reload_under_load(preload: bool) -> (String, LoadStats) {
    let dir = common::ops::test_dir(if preload { "reload-preload" } else { "reload" });
    let module = dir.join("reloadme.py");
    std::fs::write(&module, format!("VERSION = b'version one'\n{VERSIONED}")).unwrap();
    let mut args = vec!["--chdir", dir.to_str().unwrap(), "-w", "2", "reloadme:app"];
    if preload {
        args.insert(0, "--preload");
    }
    let s = start(&args, 2);
    assert_eq!(s.get("/").text(), "version one");
    let old = s.workers();
    let load = Load::start(s.addr, 2);
    // A different size, so that no cached bytecode can pass for the new source.
    std::fs::write(&module, format!("VERSION = b'version two!'\n{VERSIONED}")).unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload complete: generation 2 is serving", 1);
    // Retiring workers still answer what they had accepted; then only new ones are left.
    wait_until("the old workers exit", || !s.workers().iter().any(|w| old.contains(w)));
    let text = s.get("/").text();
    let stats = load.finish();
    (text, stats)
}

#[test]
fn hup_reloads_changed_code_under_load() {
    let (text, stats) = reload_under_load(false);
    assert_eq!(text, "version two!");
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    assert!(stats.ok > 0);
}

#[test]
fn hup_with_preload_keeps_the_code() {
    let (text, stats) = reload_under_load(true);
    assert_eq!(text, "version one", "preloaded code stays, as in gunicorn");
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
}

#[test]
fn while_write_waits_other_requests_are_served() {
    let s = start(&["wsgi_apps:app"], 1);
    // Two clients take 8 MiB through write() and do not read: their calls wait in write(),
    // nested on the single worker's thread.
    let mut slow: Vec<std::net::TcpStream> = (0..2)
        .map(|_| {
            let mut c = s.connect();
            c.write_all(b"GET /write-big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            c
        })
        .collect();
    let mut first = [0u8; 1024];
    for c in &mut slow {
        c.read_exact(&mut first).unwrap();
    }
    // The same worker answers other requests meanwhile (calling the app again, nested).
    for _ in 0..20 {
        let r = s.get("/hello");
        assert_eq!(r.status, 200);
    }
    // Then the waiting calls finish, innermost first.
    let block: Vec<u8> = (0..=255u8).cycle().take(65536).collect();
    for mut c in slow.into_iter().rev() {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).unwrap();
        let all = [first.to_vec(), rest].concat();
        let r = parse_all(&all).into_iter().next().expect("response");
        assert_eq!(r.body.len(), 128 * 65536);
        assert!(r.body.chunks(65536).all(|c| c == block.as_slice()));
    }
    assert_eq!(s.workers().len(), 1);
}

#[test]
fn generator_blocks_go_out_before_the_next_is_made() {
    let s = start(&["wsgi_apps:app"], 1);
    read_confirmed_blocks(&s, "/stream-barrier", "py-generator", 5);
}

#[test]
fn written_blocks_go_out_before_write_returns() {
    let s = start(&["wsgi_apps:app"], 1);
    read_confirmed_blocks(&s, "/write-barrier", "py-write", 5);
}

#[test]
fn an_endless_event_stream_is_read_event_by_event_and_closed_when_the_client_leaves() {
    let s = start(&["wsgi_apps:app"], 1);
    let closed_before = json(&s.get("/counts"))["close"].as_u64().unwrap();
    let mut fifo = Confirmations::new("py-events");
    let mut c = s.connect();
    write!(c, "GET /events?{} HTTP/1.1\r\nHost: t\r\n\r\n", fifo.path.display()).unwrap();
    let mut r = BufReader::new(c);
    // The head goes out with the first event.
    fifo.confirm();
    let head = read_head(&mut r);
    assert!(head.contains("Content-Type: text/event-stream"), "{head}");
    for i in 0..3 {
        if i > 0 {
            fifo.confirm();
        }
        // Each event is one chunk: its size line, then the event's lines.
        let mut size = String::new();
        r.read_line(&mut size).unwrap();
        let mut lines = String::new();
        for _ in 0..3 {
            r.read_line(&mut lines).unwrap();
        }
        assert_eq!(lines, format!("id: {i}\ndata: tick {i}\n\n"));
        let mut crlf = String::new();
        r.read_line(&mut crlf).unwrap();
        assert_eq!(crlf, "\r\n");
    }
    drop(r);
    // Events go on into the closed connection until a send fails; then the body is closed,
    // which closes the FIFO's reading end.
    wait_until("the body is closed after the client left", || {
        fifo.unread() == 0 && !fifo.try_confirm()
    });
    assert_eq!(json(&s.get("/counts"))["close"].as_u64().unwrap(), closed_before + 1);
}

#[test]
fn a_head_request_that_fails_gets_a_500_head_without_a_body() {
    for args in [&["wsgi_apps:app"][..], &["--threads", "2", "wsgi_apps:app"]] {
        let s = start(args, 1);
        let (_, raw) = exchange(&s, b"HEAD /error HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 500 "), "{args:?}: {text}");
        assert!(
            text.ends_with("\r\n\r\n"),
            "{args:?}: a body follows the head: {text:?}"
        );
    }
}

/// The response bytes with the `Date` value blanked, so that whole heads compare exactly.
fn without_date(raw: &[u8]) -> String {
    let text = String::from_utf8(raw.to_vec()).unwrap();
    match text.split_once("Date: ") {
        Some((before, after)) => {
            let rest = after.split_once("\r\n").map_or("", |(_, r)| r);
            format!("{before}Date: -\r\n{rest}")
        }
        None => text,
    }
}

#[test]
fn early_hints_send_103_heads_before_the_response() {
    for threads in ["1", "2"] {
        let s = start(&["--threads", threads, "gunicorn_environ:app"], 1);
        let raw = s.exchange(b"GET /hints HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert_eq!(
            without_date(&raw),
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n\
             HTTP/1.1 103 Early Hints\r\nLink: </app.js>; rel=preload; as=script\r\n\r\n\
             HTTP/1.1 200 OK\r\nDate: -\r\nServer: forkhorn\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            "threads {threads}"
        );
        // HTTP/1.0 clients do not expect interim responses: none is sent.
        let raw = s.exchange(b"GET /hints HTTP/1.0\r\n\r\n");
        assert_eq!(
            without_date(&raw),
            "HTTP/1.0 200 OK\r\nDate: -\r\nServer: forkhorn\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            "threads {threads}"
        );
        let raw = s.exchange(b"GET /hints-too-late HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert!(
            without_date(&raw).starts_with("HTTP/1.1 200 OK\r\n"),
            "{}",
            without_date(&raw)
        );
        assert!(raw.ends_with(b"\r\n\r\nok"));
    }
}

#[test]
fn early_hints_check_headers_as_start_response_does() {
    let s = start(&["gunicorn_environ:app"], 1);
    let raw = s.exchange(b"GET /hints-refused HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let text = String::from_utf8(raw).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "no 103 goes out: {text}");
    let (head, _) = text.split_once("\r\n\r\n").unwrap();
    assert!(!head.contains("Set-Cookie"), "{text}");
    assert!(
        text.ends_with("\r\n\r\nValueError: invalid header \"Link: </a.css>\\r\\nSet-Cookie: stolen=1\""),
        "{text}"
    );
}

#[test]
fn a_status_without_a_reason_gets_the_standard_one() {
    let s = start(&["gunicorn_environ:app"], 1);
    for (status, line) in [
        ("200", "HTTP/1.1 200 OK"),
        ("200%20", "HTTP/1.1 200 OK"),
        ("404", "HTTP/1.1 404 Not Found"),
        ("299", "HTTP/1.1 299 "),
        ("299%20Custom", "HTTP/1.1 299 Custom"),
    ] {
        let raw =
            s.exchange(format!("GET /status?{status} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
        let text = String::from_utf8(raw).unwrap();
        assert_eq!(text.split("\r\n").next(), Some(line), "{status}: {text}");
    }
}

#[test]
fn script_name_is_split_off_path_info_for_python_apps() {
    let mut cmd = command(&["gunicorn_environ:app"]);
    cmd.env("SCRIPT_NAME", "/shop");
    let s = Server::start_cmd(&mut cmd, 1);
    let r = s.get("/shop/cart/items");
    assert_eq!(
        json(&r),
        serde_json::json!({"SCRIPT_NAME": "/shop", "PATH_INFO": "/cart/items", "early_hints_callable": true})
    );
    let r = s.get("/elsewhere");
    assert_eq!(r.status, 500);
    s.wait_log(
        "request path \"/elsewhere\" does not start with SCRIPT_NAME \"/shop\"",
        1,
    );
}

/// gunicorn's error logger: an app that takes `logging.getLogger("gunicorn.error")`'s handlers
/// and level (Flask's and Django's usual set-up under gunicorn) logs into the error log at its
/// level, with its tracebacks; and the process environment names the server, as gunicorn's
/// SERVER_SOFTWARE does.
#[test]
fn the_gunicorn_error_logger_writes_to_the_error_log() {
    for (args, label) in [(&[][..], "sync"), (&["--threads", "2", "--preload"][..], "threads")] {
        let mut all = vec!["--log-level", "info"];
        all.extend_from_slice(args);
        all.push("wsgi_apps:logs");
        let mut s = start(&all, 1);
        let r = s.get("/here");
        assert_eq!(r.text(), concat!("forkhorn/", env!("CARGO_PKG_VERSION")), "{label}");
        s.wait_log("[INFO] app info /here", 1);
        s.wait_log("[WARNING] app warning /here", 1);
        // logger.exception's traceback follows its line.
        s.wait_log("[ERROR] app exception", 1);
        s.wait_log("ValueError: boom", 1);
        assert!(
            !s.log().iter().any(|l| l.contains("app debug")),
            "{label}: {:#?}",
            s.log()
        );
        s.signal(Signal::SIGTERM);
        assert!(s.wait_exit().success());
    }
}
