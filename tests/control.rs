//! The control socket and `/metrics` against the real binary: `forkhorn ctl` under load, the
//! actions (add, remove, kill, reload), who may connect, bad input, answers while every worker
//! is stuck, and the Prometheus page read by prometheus_client's parser.

mod common;

use common::{bin, kill, wait_until, Load, Server, Signal};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A fresh directory every user can enter (for the `nobody` client).
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("forkhorn-ctl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts `forkhorn ARGS --control-socket DIR/f.ctl`; returns the server and the socket.
fn start(name: &str, args: &[&str], workers: usize) -> (Server, PathBuf) {
    let sock = dir(name).join("f.ctl");
    let mut all = args.to_vec();
    all.extend(["--control-socket", sock.to_str().unwrap()]);
    let s = Server::start(&all, workers);
    s.wait_log("Control socket at", 1);
    (s, sock)
}

/// `forkhorn ctl --socket SOCK --json ARGS`: the exit status and the JSON, or stderr.
fn ctl(sock: &Path, args: &[&str]) -> (i32, Result<Value, String>) {
    let out = Command::new(bin())
        .arg("ctl")
        .arg("--socket")
        .arg(sock)
        .arg("--json")
        .args(args)
        .output()
        .expect("run forkhorn ctl");
    let code = out.status.code().unwrap_or(-1);
    match code {
        0 => (code, Ok(serde_json::from_slice(&out.stdout).expect("ctl prints JSON"))),
        _ => (code, Err(String::from_utf8_lossy(&out.stderr).into_owned())),
    }
}

/// `ctl` that must succeed.
fn ctl_ok(sock: &Path, args: &[&str]) -> Value {
    match ctl(sock, args) {
        (0, Ok(v)) => v,
        (code, r) => panic!("ctl {args:?}: status {code}: {r:?}"),
    }
}

fn ready_workers(sock: &Path) -> Vec<Value> {
    let all = ctl_ok(sock, &["workers"]);
    all.as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] == "ready")
        .cloned()
        .collect()
}

fn pids(workers: &[Value]) -> Vec<i64> {
    let mut p: Vec<i64> = workers.iter().map(|w| w["pid"].as_i64().unwrap()).collect();
    p.sort_unstable();
    p
}

/// One raw exchange on the control socket: sends `bytes`, reads one answer line.
fn raw(stream: &mut UnixStream, bytes: &[u8]) -> Value {
    stream.write_all(bytes).unwrap();
    let mut line = String::new();
    BufReader::new(stream.try_clone().unwrap())
        .read_line(&mut line)
        .unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[test]
fn status_workers_stats_and_config_agree_with_the_client_under_load() {
    let (s, sock) = start("load", &["-w", "2", "--max-requests", "0", "builtin:hello"], 2);
    let load = Load::start(s.addr, 2);
    let mark = load.mark();
    load.wait_served_since(&mark);
    // Answers while the workers are busy.
    let during = ctl_ok(&sock, &["stats"]);
    assert!(during["requests_total"].as_u64().unwrap() > 0, "{during}");
    let status = ctl_ok(&sock, &["status"]);
    let stats = load.finish();
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    assert_eq!(status["pid"].as_i64(), Some(i64::from(s.pid())));
    assert_eq!(status["generation"], 1);
    assert_eq!(status["workers_target"], 2);
    assert_eq!(status["app"], "builtin:hello");
    let listener = &status["listeners"][0];
    assert_eq!(listener["address"], format!("http://{}", s.addr));
    assert_eq!(listener["queue_limit"], 2048);
    // Every request the clients had answered, and no other, is counted.
    let total = ctl_ok(&sock, &["stats"]);
    assert_eq!(total["requests_total"].as_u64(), Some(stats.ok), "{total}");
    assert_eq!(total["by_status_class"]["2xx"].as_u64(), Some(stats.ok));
    assert_eq!(total["in_flight"], 0);
    let workers = ctl_ok(&sock, &["workers"]);
    let per_worker: u64 = workers
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(per_worker, stats.ok);
    assert_eq!(pids(workers.as_array().unwrap()), {
        let mut p: Vec<i64> = s.workers().into_iter().map(i64::from).collect();
        p.sort_unstable();
        p
    });
    for w in workers.as_array().unwrap() {
        assert!(w["rss_bytes"].as_u64().unwrap() > 0, "{w}");
        assert_eq!((w["threads"].as_u64(), w["state"].as_str()), (Some(1), Some("ready")));
    }
    let config = ctl_ok(&sock, &["config"]);
    let toml = config["toml"].as_str().unwrap();
    assert!(toml.lines().any(|l| l == "workers = 2"), "{toml}");
    // The human tables too.
    let out = Command::new(bin())
        .args(["ctl", "--socket", sock.to_str().unwrap(), "workers"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("PID "), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn workers_add_remove_kill_and_reload_as_the_signals_do() {
    let d = dir("actions");
    let conf = d.join("f.toml");
    std::fs::write(&conf, "workers = 2\napp = \"builtin:hello\"\nbind = \"127.0.0.1:0\"\n").unwrap();
    let (s, sock) = start("actions-sock", &["-c", conf.to_str().unwrap()], 2);
    assert_eq!(ctl_ok(&sock, &["workers", "add", "2"])["workers"], 4);
    wait_until("4 ready workers", || ready_workers(&sock).len() == 4);
    assert_eq!(ctl_ok(&sock, &["workers", "remove", "1"])["workers"], 3);
    wait_until("3 workers", || {
        ctl_ok(&sock, &["workers"]).as_array().unwrap().len() == 3
    });

    let before = pids(&ready_workers(&sock));
    let victim = before[0];
    assert_eq!(ctl_ok(&sock, &["worker", "kill", &victim.to_string()])["pid"], victim);
    wait_until("the killed worker replaced", || {
        let now = pids(&ready_workers(&sock));
        now.len() == 3 && !now.contains(&victim)
    });
    let stats = ctl_ok(&sock, &["stats"]);
    assert_eq!(stats["worker_exits"]["killed"], 1, "{stats}");
    assert_eq!(stats["worker_exits"]["scale_down"], 1, "{stats}");
    assert_eq!(stats["worker_starts"], 5, "{stats}");
    let (code, err) = ctl(&sock, &["worker", "kill", "1"]);
    assert_eq!(code, 1);
    assert!(err.unwrap_err().contains("no worker has pid 1"));

    // reload = HUP: a new generation replaces every worker, rolling.
    let old = pids(&ready_workers(&sock));
    assert_eq!(ctl_ok(&sock, &["reload"])["generation"], 2);
    s.wait_log("Reload complete: generation 2", 1);
    // The file says 2 workers: a reload re-reads it.
    let new = ready_workers(&sock);
    assert_eq!(new.len(), 2);
    assert!(new.iter().all(|w| w["generation"] == 2));
    assert!(pids(&new).iter().all(|p| !old.contains(p)));
    assert_eq!(s.get("/").status, 200);

    // A configuration that does not load: refused, nothing changes.
    let serving = pids(&ready_workers(&sock));
    std::fs::write(&conf, "workers = \"many\"\n").unwrap();
    let (code, err) = ctl(&sock, &["reload"]);
    assert_eq!(code, 1);
    assert!(err.unwrap_err().contains("workers"));
    // An app that cannot boot: the reload starts, then rolls back to the old workers.
    std::fs::write(
        &conf,
        "workers = 2\napp = \"no_such_module_here:app\"\nbind = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    assert_eq!(ctl_ok(&sock, &["reload"])["generation"], 3);
    s.wait_log("Reload failed: the new workers could not boot", 1);
    wait_until("the failed generation gone", || {
        ctl_ok(&sock, &["workers"]).as_array().unwrap().len() == 2
    });
    assert_eq!(pids(&ready_workers(&sock)), serving);
    assert_eq!(s.get("/").status, 200);
    let stats = ctl_ok(&sock, &["stats"]);
    assert_eq!(stats["reloads"]["ok"], 1, "{stats}");
    assert_eq!(stats["reloads"]["failed"], 1, "{stats}");
    assert_eq!(stats["reloads"]["rolled_back"], 1, "{stats}");
    assert_eq!(ctl_ok(&sock, &["status"])["generation"], 2);
}

/// Runs `forkhorn ctl --socket SOCK status` as `nobody`.
fn ctl_as_nobody(sock: &Path) -> (i32, String) {
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("a nobody user");
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let mut cmd = Command::new(bin());
    cmd.args(["ctl", "--socket", sock.to_str().unwrap(), "status"]);
    // SAFETY: only setgroups, setgid and setuid, async-signal-safe calls, between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run ctl as nobody");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_socket_refuses_a_client_of_another_uid() {
    // Only root can run a client as nobody (and the master's user must not be nobody).
    let root = nix::unistd::geteuid().is_root();
    if !common::skip::met_or_skip(root, "not running as root") {
        return;
    }
    // The default mode: the file itself keeps others out.
    let (s, sock) = start("uid", &["-w", "1", "builtin:hello"], 1);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::symlink_metadata(&sock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let (code, err) = ctl_as_nobody(&sock);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
    drop(s);
    // A mode that lets anyone connect: the master still checks the peer's uid.
    let (s, sock) = start(
        "uid-open",
        &["-w", "1", "--control-socket-mode", "0666", "builtin:hello"],
        1,
    );
    let (code, err) = ctl_as_nobody(&sock);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused a client of uid"), "{err}");
    s.wait_log("control socket: refused a client of uid", 1);
    // The master's own user is still served.
    assert_eq!(ctl_ok(&sock, &["status"])["workers"], 1);
}

#[test]
fn malformed_or_oversized_commands_get_an_error_and_the_master_carries_on() {
    let (s, sock) = start("bad", &["-w", "1", "builtin:hello"], 1);
    // A client that sends half a line and waits holds nothing up.
    let mut idle = UnixStream::connect(&sock).unwrap();
    idle.write_all(b"{\"command\":").unwrap();
    let mut c = UnixStream::connect(&sock).unwrap();
    c.set_read_timeout(Some(common::WAIT)).unwrap();
    for (line, want) in [
        (&b"garbage\n"[..], "bad request"),
        (b"{\"command\":\"launch\"}\n", "unknown variant"),
        (b"{\"command\":\"add_workers\",\"count\":0}\n", "count must be"),
        (b"\xff\xfe\n", "bad request"),
    ] {
        let v = raw(&mut c, line);
        assert_eq!(v["ok"], false, "{v}");
        assert!(v["error"].as_str().unwrap().contains(want), "{v}");
    }
    // The same connection still works.
    assert_eq!(raw(&mut c, b"{\"command\":\"status\"}\n")["ok"], true);
    // Many requests in one write, more than one line's limit in all: every one is answered,
    // in order; a client that closes its side after them gets them all, then EOF.
    let mut batch = UnixStream::connect(&sock).unwrap();
    batch.set_read_timeout(Some(common::WAIT)).unwrap();
    let n = 600;
    let mut lines = Vec::new();
    for i in 0..n {
        let cmd = if i % 2 == 0 { "status" } else { "stats" };
        lines.extend_from_slice(format!("{{\"command\":\"{cmd}\"}}\n").as_bytes());
    }
    assert!(lines.len() > 4096 * 2);
    batch.write_all(&lines).unwrap();
    batch.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answers = String::new();
    batch.read_to_string(&mut answers).unwrap();
    let answers: Vec<Value> = answers.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(answers.len(), n);
    assert!(answers.iter().all(|a| a["ok"] == true));
    assert!(answers[0]["result"]["pid"].is_number() && answers[1]["result"]["requests_total"].is_number());
    // Oversized: an error, then the master closes the connection.
    let mut big = UnixStream::connect(&sock).unwrap();
    big.set_read_timeout(Some(common::WAIT)).unwrap();
    let _ = big.write_all(&vec![b'x'; 10_000]);
    let mut answer = Vec::new();
    let _ = big.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.starts_with("{\"error\":\"request longer than 4096 bytes\",\"ok\":false}\n"),
        "{text}"
    );
    // Everything still serves.
    assert_eq!(ctl_ok(&sock, &["status"])["workers"], 1);
    assert_eq!(s.get("/").status, 200);
    // At most 16 clients at once (two are connected): the 17th is told so.
    let mut extra: Vec<UnixStream> = (0..14).map(|_| UnixStream::connect(&sock).unwrap()).collect();
    let sixteenth = extra.last_mut().unwrap();
    sixteenth.set_read_timeout(Some(common::WAIT)).unwrap();
    assert_eq!(raw(sixteenth, b"{\"command\":\"status\"}\n")["ok"], true);
    let mut refused = UnixStream::connect(&sock).unwrap();
    refused.set_read_timeout(Some(common::WAIT)).unwrap();
    let mut text = String::new();
    refused.read_to_string(&mut text).unwrap();
    assert_eq!(text, "{\"error\":\"too many clients\",\"ok\":false}\n");
    extra.clear();
    drop(idle);
    drop(c);
    wait_until("a client is served again", || ctl(&sock, &["status"]).0 == 0);
}

#[test]
fn ctl_workers_answers_while_every_worker_is_stuck() {
    let (s, sock) = start("stuck", &["-w", "2", "-t", "60", "builtin:sleep"], 2);
    let mut held = Vec::new();
    for n in 1..=2 {
        let mut c = s.connect();
        c.write_all(b"GET /?s=30 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        held.push(c);
        wait_until("the request in a worker", || {
            ctl_ok(&sock, &["workers"])
                .as_array()
                .unwrap()
                .iter()
                .filter(|w| w["busy_threads"] == 1)
                .count()
                == n
        });
    }
    let began = Instant::now();
    let workers = ctl_ok(&sock, &["workers"]);
    let took = began.elapsed();
    // The 50 ms goal is timed in benches/; here, that it answers, and what it says.
    eprintln!("ctl workers answered in {took:?} with every worker stuck");
    for w in workers.as_array().unwrap() {
        assert_eq!(w["current_request"], "GET /?s=30", "{w}");
        assert_eq!(w["in_flight"], 1, "{w}");
        assert!(w["current_seconds"].as_f64().unwrap() >= 0.0);
    }
    assert_eq!(ctl_ok(&sock, &["stats"])["busy_threads"], 2);
}

/// The metrics address from the `Metrics at http://ADDR/metrics` line.
fn metrics_addr(s: &Server) -> std::net::SocketAddr {
    let line = s.wait_log("Metrics at http://", 1);
    let url = line.split("Metrics at http://").nth(1).unwrap();
    url.trim_end_matches("/metrics").trim().parse().unwrap()
}

/// GET /metrics: the status and the body.
fn scrape(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(common::WAIT)).unwrap();
    c.write_all(request).unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn metrics(addr: std::net::SocketAddr) -> String {
    let (status, body) = scrape(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, 200);
    body
}

/// The sum of the samples named `name` whose labels include `labels`.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(key, _)| {
            let (n, rest) = key.split_once('{').unwrap_or((key, ""));
            n == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

#[cfg(feature = "python")]
#[test]
fn metrics_parse_add_up_and_survive_a_worker_replacement() {
    let venv = common::python::venv();
    let s = Server::start(&["-w", "2", "--metrics-bind", "127.0.0.1:0", "builtin:hello"], 2);
    let addr = metrics_addr(&s);
    let load = Load::start(s.addr, 2);
    let mark = load.mark();
    load.wait_served_since(&mark);
    let served = load.finish();
    assert!(served.failures.is_empty(), "{:?}", served.failures);
    let page = metrics(addr);
    // A real parser reads the page.
    let mut py = Command::new(venv.join("bin").join("python"))
        .arg(common::python::apps_dir().join("parse_metrics.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(out.status.success());
    let samples: Vec<(String, serde_json::Map<String, Value>, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    let total = |name: &str| -> f64 { samples.iter().filter(|(n, _, _)| n == name).map(|(_, _, v)| v).sum() };
    let ok = served.ok as f64;
    assert_eq!(total("forkhorn_requests_total"), ok, "{page}");
    assert_eq!(total("forkhorn_request_duration_seconds_count"), ok);
    assert_eq!(total("forkhorn_app_duration_seconds_count"), ok);
    assert_eq!(total("forkhorn_workers"), 2.0);
    assert_eq!(total("forkhorn_worker_starts_total"), 2.0);
    // One sample per worker, labelled by slot.
    let mut slots: Vec<&str> = samples
        .iter()
        .filter(|(n, _, _)| n == "forkhorn_threads")
        .filter_map(|(_, l, _)| l["worker"].as_str())
        .collect();
    slots.sort_unstable();
    assert_eq!(slots, ["0", "1"]);
    assert!(samples.iter().any(|(n, l, v)| n == "forkhorn_listen_queue_limit"
        && l["listener"] == format!("http://{}", s.addr)
        && *v == 2048.0));

    // A worker killed: its counts stay, in the retired total.
    let victim = s.workers()[0];
    assert!(kill(victim, Signal::SIGKILL));
    s.wait_log("Booting worker", 3);
    wait_until("the crash counted", || {
        sample(&metrics(addr), "forkhorn_worker_exits_total", &[("cause", "crash")]) == 1.0
    });
    let after = metrics(addr);
    assert_eq!(sample(&after, "forkhorn_requests_total", &[]), ok, "{after}");
    assert_eq!(
        sample(
            &after,
            "forkhorn_requests_total",
            &[("method", "GET"), ("status_class", "2xx")]
        ),
        ok
    );
    // More requests add to what was there.
    assert_eq!(s.get("/").status, 200);
    assert_eq!(sample(&metrics(addr), "forkhorn_requests_total", &[]), ok + 1.0);
    // Anything but GET /metrics is refused, and the master goes on.
    assert_eq!(scrape(addr, b"POST /metrics HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(scrape(addr, b"GET / HTTP/1.1\r\n\r\n").0, 404);
    assert_eq!(scrape(addr, b"\x01\x02\r\n\r\n").0, 400);
    assert_eq!(scrape(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").1, "");
}

#[test]
fn the_queue_depth_gauge_rises_while_workers_are_stopped_and_falls_after() {
    let s = Server::start(&["-w", "2", "--metrics-bind", "127.0.0.1:0", "builtin:hello"], 2);
    let addr = metrics_addr(&s);
    let depth = || sample(&metrics(addr), "forkhorn_listen_queue_depth", &[]);
    assert_eq!(depth(), 0.0);
    let workers = s.workers();
    for w in &workers {
        assert!(kill(*w, Signal::SIGSTOP));
        wait_until("the worker stopped", || common::process_state(*w) == Some('T'));
    }
    // Clients arrive: the kernel completes their handshakes and queues them for nobody.
    let load = Load::start(s.addr, 3);
    wait_until("6 connections queued", || depth() == 6.0);
    for w in &workers {
        assert!(kill(*w, Signal::SIGCONT));
    }
    let mark = load.mark();
    load.wait_served_since(&mark);
    let served = load.finish();
    assert!(served.failures.is_empty(), "{:?}", served.failures);
    wait_until("the queue drained", || depth() == 0.0);
}

#[test]
fn under_systemd_the_socket_is_in_the_runtime_directory_and_one_master_owns_it() {
    let d = dir("runtime");
    let start = |extra: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.args(["-w", "1", "-b", "127.0.0.1:0"])
            .args(extra)
            .arg("builtin:hello")
            .env("RUNTIME_DIRECTORY", &d);
        cmd
    };
    let mut s = Server::start_cmd(&mut start(&[]), 1);
    let sock = d.join("forkhorn.ctl");
    assert_eq!(
        s.wait_log("Control socket at", 1).split("Control socket at ").nth(1),
        Some(sock.to_str().unwrap())
    );
    // forkhorn ctl finds it through the same variable.
    let out = Command::new(bin())
        .args(["ctl", "--json", "status"])
        .env("RUNTIME_DIRECTORY", &d)
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["pid"].as_i64(), Some(i64::from(s.pid())));
    // A second master does not steal a live socket: it stops, saying why.
    let out = start(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another server is listening there"), "{err}");
    // --no-control-socket: none, even here.
    let mut quiet = Server::start_cmd(&mut start(&["--no-control-socket"]), 1);
    assert!(!quiet.log().iter().any(|l| l.contains("Control socket")));
    quiet.signal(Signal::SIGTERM);
    quiet.wait_exit();
    assert!(sock.exists(), "the other master's socket stays");
    // A stop through the socket removes it.
    ctl_ok(&sock, &["stop", "--graceful"]);
    assert!(s.wait_exit().success());
    assert!(!sock.exists());
    // A socket left by a master that died is replaced.
    let s = Server::start_cmd(&mut start(&[]), 1);
    let pid = s.pid();
    drop(s); // SIGKILL: the file stays behind
    assert!(sock.exists());
    let s = Server::start_cmd(&mut start(&[]), 1);
    assert_ne!(s.pid(), pid);
    assert_eq!(ctl_ok(&sock, &["status"])["pid"].as_i64(), Some(i64::from(s.pid())));
}

#[test]
fn ctl_top_redraws_every_second() {
    let (_s, sock) = start("top", &["-w", "1", "builtin:hello"], 1);
    let mut top = Command::new(bin())
        .args(["ctl", "--socket", sock.to_str().unwrap(), "top"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = top.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let began = Instant::now();
    // Two screens: each starts by clearing the terminal.
    while seen.windows(4).filter(|w| w == b"\x1b[2J").count() < 2 {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "top ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(began.elapsed() >= std::time::Duration::from_millis(900));
    let _ = top.kill();
    let _ = top.wait();
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("workers 1/1") && text.contains("PID "), "{text}");
}

#[test]
fn a_binary_upgrade_hands_the_control_socket_to_the_new_master() {
    let (mut old, sock) = start("upgrade", &["-w", "1", "builtin:hello"], 1);
    old.signal(Signal::SIGUSR2);
    let new_pid = common::upgraded_master_pid(&old);
    // The new master's workers boot (their line goes to the shared stderr); then it answers.
    old.wait_log("Booting worker", 2);
    wait_until("the new master answers", || {
        ctl(&sock, &["status"])
            .1
            .is_ok_and(|v| v["pid"].as_i64() == Some(i64::from(new_pid)))
    });
    // The old master goes; the socket stays the new master's.
    old.signal(Signal::SIGTERM);
    assert!(old.wait_exit().success());
    assert_eq!(ctl_ok(&sock, &["status"])["pid"].as_i64(), Some(i64::from(new_pid)));
    ctl_ok(&sock, &["stop"]);
    wait_until("the new master gone", || {
        common::process_state(new_pid).is_none_or(|s| s == 'Z')
    });
    assert!(!sock.exists());
}

#[test]
fn reopen_reopens_the_logs_as_usr1_does() {
    let d = dir("reopen");
    let (access, conf) = common::ops::access_log_config(&d);
    let (s, sock) = start("reopen-sock", &["-c", conf.to_str().unwrap()], 2);
    assert_eq!(s.get("/before").status, 200);
    common::ops::wait_file(&access, "/before", 1);
    // Rotated away: the workers keep writing to the old file until told to reopen.
    let rotated = d.join("access.log.1");
    std::fs::rename(&access, &rotated).unwrap();
    ctl_ok(&sock, &["reopen"]);
    // Both workers (debug level) say they reopened.
    s.wait_log("Reopened the log files", 3);
    assert_eq!(s.get("/after").status, 200);
    common::ops::wait_file(&access, "/after", 1);
    assert!(!common::ops::lines(&rotated).iter().any(|l| l.contains("/after")));
}
