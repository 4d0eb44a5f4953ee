//! syslog with real listeners: a Unix datagram socket (as /dev/log), UDP on 127.0.0.1 and TCP.
//! The master and every worker send RFC 3164 lines tagged with their own pid.

mod common;
use common::ops::*;
use common::*;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::time::Instant;

/// One RFC 3164 line: `<PRI>Mmm dd hh:mm:ss [HOST ]TAG[PID]: MESSAGE`.
#[derive(Debug)]
struct Line {
    pri: u32,
    host: Option<String>,
    tag: String,
    pid: i32,
    message: String,
}

fn parse(raw: &str, with_host: bool) -> Line {
    let raw = raw.trim_end_matches(['\n', '\0']);
    let rest = raw.strip_prefix('<').unwrap_or_else(|| panic!("no PRI: {raw:?}"));
    let (pri, rest) = rest.split_once('>').unwrap();
    // "Nov 20 10:00:00 " is 16 bytes.
    let (stamp, rest) = rest.split_at(16);
    let b = stamp.as_bytes();
    assert!(
        b[0].is_ascii_uppercase() && b[3] == b' ' && b[6] == b' ' && b[9] == b':' && b[12] == b':' && b[15] == b' ',
        "timestamp {stamp:?} in {raw:?}"
    );
    let (host, rest) = if with_host {
        let (h, r) = rest.split_once(' ').unwrap();
        (Some(h.to_owned()), r)
    } else {
        (None, rest)
    };
    let (tag_pid, message) = rest.split_once(": ").unwrap_or_else(|| panic!("no TAG: {raw:?}"));
    let (tag, pid) = tag_pid.trim_end_matches(']').split_once('[').unwrap();
    Line {
        pri: pri.parse().unwrap(),
        host,
        tag: tag.to_owned(),
        pid: pid.parse().unwrap(),
        message: message.to_owned(),
    }
}

/// Checks what a 2-worker server sent: the master's lines with its pid, each worker's
/// `Booting worker with pid: P` with P as its tag pid, and (when `access`) an access line from a
/// worker. `facility` is the syslog facility number.
fn check(lines: &[Line], master: i32, workers: &[i32], facility: u32, prefix: &str, access: bool) {
    let info = facility * 8 + 6;
    let listening = lines
        .iter()
        .find(|l| l.message.starts_with("[INFO] Listening at: http://"))
        .expect("the master's Listening line");
    assert_eq!(
        (listening.pid, listening.pri, listening.tag.as_str()),
        (master, info, prefix)
    );
    for w in workers {
        let booted = lines
            .iter()
            .find(|l| l.message == format!("[INFO] Booting worker with pid: {w}"))
            .unwrap_or_else(|| panic!("no boot line from worker {w}: {lines:#?}"));
        assert_eq!((booted.pid, booted.pri, booted.tag.as_str()), (*w, info, prefix));
    }
    let access_lines: Vec<&Line> = lines.iter().filter(|l| l.tag.ends_with(".access")).collect();
    if access {
        let a = access_lines.first().expect("an access line");
        assert_eq!(a.tag, format!("{prefix}.access"));
        assert_eq!(a.pri, info);
        assert!(workers.contains(&a.pid), "{a:?}");
        assert!(
            a.message.starts_with("127.0.0.1 - - [") && a.message.contains("\"GET /via-syslog HTTP/1.1\" 200 13"),
            "{a:?}"
        );
    } else {
        assert!(access_lines.is_empty(), "{access_lines:#?}");
    }
}

#[test]
fn unix_datagram_syslog_gets_lines_from_master_and_each_worker() {
    let dir = test_dir("syslog-unix");
    let log = Datagrams::at(&dir.join("log.sock"));
    let addr = format!("unix://{}#dgram", dir.join("log.sock").display());
    let s = Server::start(
        &[
            "-w",
            "2",
            "--log-syslog",
            "--log-syslog-to",
            &addr,
            "--log-syslog-facility",
            "local1",
            "--log-syslog-prefix",
            "fh-test",
            "builtin:hello",
        ],
        2,
    );
    assert_eq!(s.get("/via-syslog").status, 200);
    let received = log.recv_until("an access line", |d| d.contains("GET /via-syslog"));
    let mut lines: Vec<Line> = received.iter().map(|d| parse(d, false)).collect();
    // The boot lines of both workers may come after the access line of the first.
    let workers = s.workers();
    while workers
        .iter()
        .any(|w| !lines.iter().any(|l| l.message.ends_with(&format!("pid: {w}"))))
    {
        let more = log.recv_until("a worker's boot line", |d| d.contains("Booting worker"));
        lines.extend(more.iter().map(|d| parse(d, false)));
    }
    check(&lines, s.pid(), &workers, 17, "fh-test", true);
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn udp_syslog_with_access_lines_kept_out() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(WAIT)).unwrap();
    let addr = format!("udp://{}", server.local_addr().unwrap());
    let cfg = temp_file(
        "syslog-udp.toml",
        &format!(
            "bind = \"127.0.0.1:0\"\nworkers = 2\nsyslog = true\nsyslog_addr = \"{addr}\"\nsyslog_facility = \"daemon\"\n\
             accesslog = \"-\"\ndisable_redirect_access_to_syslog = true\n"
        ),
    );
    let mut s = Server::start(&["-c", cfg.to_str().unwrap()], 2);
    assert_eq!(s.get("/via-syslog").status, 200);
    // The access line goes to the access log (stdout here) and not to syslog.
    s.wait_stdout("\"GET /via-syslog HTTP/1.1\" 200 13", 1);
    let workers = s.workers();
    s.signal(Signal::SIGTERM);
    // Everything a worker sent precedes the master's last line, which follows their exit.
    let mut lines = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 8192];
    loop {
        assert!(Instant::now() < deadline, "no shutdown line; got {lines:#?}");
        let n = server.recv(&mut buf).expect("a datagram");
        let line = parse(&String::from_utf8_lossy(&buf[..n]), true);
        let done = line.message == "[INFO] Shutting down: Master";
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(s.wait_exit().success());
    // Network syslog lines name the host.
    let host = lines[0].host.clone().unwrap();
    assert!(!host.is_empty() && lines.iter().all(|l| l.host.as_deref() == Some(host.as_str())));
    check(&lines, s.pid(), &workers, 3, "forkhorn", false);
    assert!(lines
        .iter()
        .any(|l| l.pid == s.pid() && l.message == "[INFO] Handling signal: term"));
}

#[test]
fn tcp_syslog_lines_end_with_newlines_one_connection_per_process() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("tcp://{}", server.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for conn in server.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(conn).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let s = Server::start(
        &[
            "-w",
            "2",
            "--log-syslog",
            "--log-syslog-to",
            &addr,
            "--log-syslog-prefix",
            "fh-tcp",
            "builtin:hello",
        ],
        2,
    );
    assert_eq!(s.get("/via-syslog").status, 200);
    let workers = s.workers();
    let mut lines = Vec::new();
    let deadline = Instant::now() + WAIT;
    while !(lines.iter().any(|l: &Line| l.tag == "fh-tcp.access")
        && workers.iter().all(|w| {
            lines
                .iter()
                .any(|l| l.message == format!("[INFO] Booting worker with pid: {w}"))
        }))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let raw = rx.recv_timeout(left).unwrap_or_else(|_| panic!("got {lines:#?}"));
        lines.push(parse(&raw, true));
    }
    check(&lines, s.pid(), &workers, 1, "fh-tcp", true);
}

#[test]
fn an_unreachable_syslog_stops_start_up_with_a_clear_error() {
    let dir = test_dir("syslog-missing");
    let missing = dir.join("nothing-here.sock");
    let (code, text) = output_of(std::process::Command::new(bin()).args([
        "-b",
        "127.0.0.1:0",
        "--log-syslog",
        "--log-syslog-to",
        &format!("unix://{}", missing.display()),
    ]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("cannot connect to syslog at unix://{}", missing.display())),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
