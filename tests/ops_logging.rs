//! The error log and the access log with the real binary: line formats, files, captured
//! output, USR1 reopening (with `mv` first, as logrotate does) under load.

mod common;
use common::ops::*;
use common::*;
use std::collections::HashSet;
use std::io::{BufReader, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `[2026-11-20 10:00:00 +0000] [PID] [LEVEL] message` split into (pid, level, message).
fn parse_error_line(line: &str) -> Option<(i32, &str, &str)> {
    let rest = line.strip_prefix('[')?;
    let (stamp, rest) = rest.split_once("] [")?;
    let b = stamp.as_bytes();
    let stamp_ok = stamp.len() == 25
        && stamp.ends_with(" +0000")
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b' '
        && [13, 16].iter().all(|&i| b[i] == b':')
        && stamp
            .bytes()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19..=24) || c.is_ascii_digit());
    if !stamp_ok {
        return None;
    }
    let (pid, rest) = rest.split_once("] [")?;
    let (level, message) = rest.split_once("] ")?;
    matches!(level, "DEBUG" | "INFO" | "WARNING" | "ERROR").then_some(())?;
    Some((pid.parse().ok()?, level, message))
}

/// The time in an access line, `[20/Nov/2026:10:00:00 +0000]`, and the line without it.
fn split_clf_time(line: &str) -> (String, String) {
    let start = line.find('[').expect("a time");
    let end = line[start..].find(']').expect("a time") + start;
    let time = line[start + 1..end].to_owned();
    (time, format!("{}[T]{}", &line[..start], &line[end + 1..]))
}

#[test]
fn error_log_file_has_gunicorn_lines_captures_output_and_reopens_on_usr1() {
    let dir = test_dir("errorlog");
    let errlog = dir.join("error.log");
    let cfg = dir.join("f.toml");
    std::fs::write(
        &cfg,
        format!(
            "bind = \"127.0.0.1:0\"\nworkers = 2\nloglevel = \"debug\"\ncapture_output = true\nerrorlog = \"{}\"\n",
            errlog.display()
        ),
    )
    .unwrap();
    let console = dir.join("console");
    let mut m = Master::spawn(&ops_app(), &["-c", cfg.to_str().unwrap()], &console, &[]);
    let listening = wait_file(&errlog, "Listening at: http://", 1);
    let addr = listen_addr(&listening);
    wait_file(&errlog, "Booting worker with pid:", 2);
    let workers = children_of(m.pid());
    assert_eq!(workers.len(), 2);

    // Every line is gunicorn's; master lines carry the master's pid, each worker's its own.
    for line in lines(&errlog) {
        let (pid, _, message) = parse_error_line(&line).unwrap_or_else(|| panic!("not a log line: {line:?}"));
        if message.starts_with("Listening at:") || message.starts_with("Starting forkhorn") {
            assert_eq!(pid, m.pid(), "{line}");
        }
        if let Some(w) = message.strip_prefix("Booting worker with pid: ") {
            assert_eq!(w.parse::<i32>().unwrap(), pid, "{line}");
            assert!(workers.contains(&pid), "{line} not from a worker of {workers:?}");
        }
    }

    // capture_output: the application's stdout and stderr land in the error log.
    let r = get(addr, "/print");
    assert_eq!((r.status, r.text().as_str()), (200, "printed"));
    wait_file(&errlog, "ops_app stdout line", 1);
    wait_file(&errlog, "ops_app stderr line", 1);

    // logrotate: mv, then USR1; the master and both workers reopen, and everything after that
    // goes to the new file.
    let rotated = dir.join("error.log.1");
    std::fs::rename(&errlog, &rotated).unwrap();
    m.signal(Signal::SIGUSR1);
    wait_file(&errlog, "Reopened the log files", 3);
    let reopened: HashSet<i32> = lines(&errlog)
        .iter()
        .filter(|l| l.contains("Reopened the log files"))
        .map(|l| parse_error_line(l).unwrap().0)
        .collect();
    let mut everyone = workers.clone();
    everyone.push(m.pid());
    assert_eq!(reopened, everyone.iter().copied().collect());
    let r = get(addr, "/print");
    assert_eq!((r.status, r.text().as_str()), (200, "printed"));
    wait_file(&errlog, "ops_app stdout line", 1);
    wait_file(&errlog, "ops_app stderr line", 1);
    let old = lines(&rotated);
    assert!(old.iter().any(|l| l.contains("Handling signal: usr1")));
    assert!(!old.iter().any(|l| l.contains("Reopened")), "{old:#?}");
    assert_eq!(old.iter().filter(|l| l.contains("ops_app stdout line")).count(), 1);

    m.signal(Signal::SIGTERM);
    assert_eq!(m.wait_exit(), Some(0));
    assert!(lines(&errlog).iter().any(|l| l.contains("Shutting down: Master")));
    // Nothing went to the original stdout/stderr.
    let console_text = std::fs::read_to_string(&console).unwrap();
    assert!(console_text.is_empty(), "{console_text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn access_log_lines_for_get_post_head_and_errors() {
    let dir = test_dir("access");
    let access = dir.join("access.log");
    let cfg = dir.join("f.toml");
    std::fs::write(
        &cfg,
        format!(
            "bind = \"127.0.0.1:0\"\nworkers = 1\napp = \"builtin:echo\"\nlimit_request_body = 100\naccesslog = \"{}\"\n",
            access.display()
        ),
    )
    .unwrap();
    let s = Server::start(&["-c", cfg.to_str().unwrap()], 1);
    let body_len = |raw: &[u8]| -> (u16, usize) {
        let out = s.exchange(raw);
        let r = parse_all(&out).pop().expect("a response");
        (r.status, r.body.len())
    };
    let (st, get_len) = body_len(
        b"GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nReferer: http://ref/\r\nUser-Agent: ua/1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(st, 200);
    let sent = Instant::now();
    wait_file(&access, "GET /a%20b", 1);
    assert!(
        sent.elapsed() < Duration::from_millis(2500),
        "a line waited {:?} in the buffer",
        sent.elapsed()
    );
    let (st, post_len) =
        body_len(b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nx=1");
    assert_eq!(st, 200);
    let out = s.exchange(b"HEAD /h HTTP/1.0\r\n\r\n");
    assert!(out.starts_with(b"HTTP/1.0 200"), "{}", String::from_utf8_lossy(&out));
    let (st, big_len) = body_len(b"POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n");
    assert_eq!(st, 413);
    let (st, chunk_len) = body_len(b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_eq!(st, 400);
    // A request whose head cannot be parsed has no request line to log (as gunicorn).
    let out = s.exchange(b"NOT HTTP\r\n\r\n");
    assert!(out.starts_with(b"HTTP/1.1 400"));
    let (st, _) = body_len(b"GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    assert_eq!(st, 200);
    wait_file(&access, "GET /last", 1);

    let got: Vec<(String, String)> = lines(&access).iter().map(|l| split_clf_time(l)).collect();
    let want = [
        format!("127.0.0.1 - - [T] \"GET /a%20b?x=1 HTTP/1.1\" 200 {get_len} \"http://ref/\" \"ua/1\""),
        format!("127.0.0.1 - - [T] \"POST /form HTTP/1.1\" 200 {post_len} \"-\" \"-\""),
        "127.0.0.1 - - [T] \"HEAD /h HTTP/1.0\" 200 0 \"-\" \"-\"".to_owned(),
        format!("127.0.0.1 - - [T] \"POST /big HTTP/1.1\" 413 {big_len} \"-\" \"-\""),
        format!("127.0.0.1 - - [T] \"POST /c HTTP/1.1\" 400 {chunk_len} \"-\" \"-\""),
        "127.0.0.1 - - [T] \"GET /last HTTP/1.1\" 200 ".to_owned(),
    ];
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for ((_, line), w) in got.iter().zip(&want) {
        assert!(line.starts_with(w.as_str()), "{line}\n  wanted {w}");
    }
    // CLF time: dd/Mon/yyyy:hh:mm:ss +0000.
    for (time, _) in &got {
        let b = time.as_bytes();
        assert_eq!(time.len(), 26, "{time}");
        assert!(
            b[2] == b'/' && b[6] == b'/' && b[11] == b':' && time.ends_with(" +0000"),
            "{time}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_atom_of_a_custom_format() {
    let dir = test_dir("atoms");
    let access = dir.join("access.log");
    let format = "%(h)s|%(l)s|%(u)s|%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(b)s|%(B)s|%(p)s|%({x-req}i)s|\
                  %({content-type}o)s|%({remote_addr}e)s|%({SERVER_PROTOCOL}e)s|%(T)s %(M)s %(D)s %(L)s|%%";
    let s = Server::start(
        &[
            "-w",
            "1",
            "--access-logfile",
            access.to_str().unwrap(),
            "--access-logformat",
            format,
            "builtin:sleep",
        ],
        1,
    );
    let worker = s.workers()[0];
    let mut c = s.connect();
    // "bob:secret", HTTP Basic.
    c.write_all(
        b"GET /p%C3%A9?s=0.25 HTTP/1.1\r\nHost: h\r\nX-Req: r1\r\nAuthorization: Basic Ym9iOnNlY3JldA==\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let resp = read_response(&mut BufReader::new(c), false).unwrap();
    assert_eq!(resp.status, 200);
    let line = wait_file(&access, "|GET|", 1);
    let fields: Vec<&str> = line.split('|').collect();
    let body = resp.body.len().to_string();
    let pid_atom = format!("<{worker}>");
    assert_eq!(
        fields[..16],
        [
            "127.0.0.1",
            "-",
            "bob",
            "GET",
            "/p\\xc3\\xa9",
            "s=0.25",
            "HTTP/1.1",
            "200",
            body.as_str(),
            body.as_str(),
            pid_atom.as_str(),
            "r1",
            "text/plain; charset=utf-8",
            "127.0.0.1",
            "HTTP/1.1",
            fields[15],
        ]
    );
    // The app slept 0.25 s: the durations agree with each other and with that.
    let times: Vec<&str> = fields[15].split(' ').collect();
    let (t, ms, us): (u64, u64, u64) = (
        times[0].parse().unwrap(),
        times[1].parse().unwrap(),
        times[2].parse().unwrap(),
    );
    assert_eq!(t, 0);
    assert!((250..5000).contains(&ms), "{line}");
    assert_eq!(us / 1000, ms);
    assert_eq!(times[3], format!("{}.{:06}", us / 1_000_000, us % 1_000_000));
    assert_eq!(fields[16], "%");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_atom_is_a_configuration_error() {
    let (code, text) =
        output_of(std::process::Command::new(bin()).args(["--check-config", "--access-logformat", "%(h)s %(zz)s"]));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("--access-logformat") && text.contains("unknown atom %(zz)s"),
        "{text}"
    );
}

#[test]
fn access_log_dash_is_stdout_as_in_gunicorn() {
    let s = Server::start(&["--access-logfile", "-", "builtin:hello"], 1);
    assert_eq!(s.get("/dash").status, 200);
    let line = s.wait_stdout("\"GET /dash HTTP/1.1\" 200 13 \"-\" \"-\"", 1);
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    // The master's last line: every line the worker wrote to stderr before is read by now.
    s.signal(Signal::SIGTERM);
    s.wait_log("Shutting down: Master", 1);
    assert!(!s.log().iter().any(|l| l.contains("/dash")), "not on stderr too");
}

#[test]
fn dev_stdout_and_dev_stderr_are_the_process_streams_not_refused_links() {
    // On Linux both are symbolic links (to /proc/self/fd/N), which a log file may not be; in a
    // container they are the usual way to send gunicorn's logs to the console.
    let s = Server::start(
        &[
            "--access-logfile",
            "/dev/stdout",
            "--error-logfile",
            "/dev/stderr",
            "builtin:hello",
        ],
        1,
    );
    assert_eq!(s.get("/to-stdout").status, 200);
    let line = s.wait_stdout("\"GET /to-stdout HTTP/1.1\" 200 13 \"-\" \"-\"", 1);
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    s.signal(Signal::SIGTERM);
    s.wait_log("Shutting down: Master", 1);
    assert!(!s.log().iter().any(|l| l.contains("/to-stdout")), "not on stderr too");
}

/// Requests sent by the load threads: (id, sent after every process confirmed the reopen).
type Sent = Arc<Mutex<Vec<(u64, bool)>>>;

#[test]
fn after_mv_and_usr1_new_lines_go_to_the_new_file_and_none_are_lost_under_load() {
    let dir = test_dir("rotate");
    let (access, cfg) = access_log_config(&dir);
    let mut s = Server::start(&["-c", cfg.to_str().unwrap()], 2);
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reopened = Arc::new(AtomicBool::new(false));
    let answered: Sent = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (next, stop, reopened, answered, addr) =
                (next.clone(), stop.clone(), reopened.clone(), answered.clone(), s.addr);
            std::thread::spawn(move || {
                let conn = std::net::TcpStream::connect(addr).unwrap();
                conn.set_read_timeout(Some(WAIT)).unwrap();
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                while !stop.load(Ordering::Relaxed) {
                    let after = reopened.load(Ordering::SeqCst);
                    let id = next.fetch_add(1, Ordering::SeqCst);
                    w.write_all(format!("GET /r{id} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes())
                        .unwrap();
                    let resp = read_response(&mut r, false).expect("answered");
                    assert_eq!(resp.status, 200);
                    answered.lock().unwrap().push((id, after));
                    if resp.header("Connection") == Some("close") {
                        break;
                    }
                }
            })
        })
        .collect();
    let count = |a: &Sent| a.lock().unwrap().len();
    let wait_count = |n: usize| {
        let deadline = Instant::now() + WAIT;
        while count(&answered) < n {
            assert!(Instant::now() < deadline, "the load stalled");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_count(300);
    std::fs::rename(&access, dir.join("access.log.1")).unwrap();
    s.signal(Signal::SIGUSR1);
    // Each worker says so once it has written its buffer to the old file and opened the new.
    let workers = s.workers();
    s.wait_log("Reopened the log files", 3);
    reopened.store(true, Ordering::SeqCst);
    let before = count(&answered);
    wait_count(before + 300);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    // Lines are flushed at exit.
    s.signal(Signal::SIGTERM);
    assert!(s.wait_exit().success());

    let old: Vec<u64> = lines(&dir.join("access.log.1"))
        .iter()
        .map(|l| l.trim_start_matches("/r").parse().unwrap())
        .collect();
    let new: Vec<u64> = lines(&access)
        .iter()
        .map(|l| l.trim_start_matches("/r").parse().unwrap())
        .collect();
    let answered = answered.lock().unwrap();
    let mut logged: Vec<u64> = old.iter().chain(&new).copied().collect();
    logged.sort_unstable();
    let mut want: Vec<u64> = answered.iter().map(|(id, _)| *id).collect();
    want.sort_unstable();
    assert_eq!(logged, want, "every answered request logged exactly once");
    let old: HashSet<u64> = old.into_iter().collect();
    let late: Vec<u64> = answered
        .iter()
        .filter(|(id, after)| *after && old.contains(id))
        .map(|(id, _)| *id)
        .collect();
    assert!(
        late.is_empty(),
        "sent after the reopen, written to the old file: {late:?}"
    );
    assert!(answered.iter().filter(|(_, after)| *after).count() >= 300);
    assert_eq!(workers.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
