//! The master under real load and real signals: rolling reload, broken reloads, binary
//! upgrade, worker timeouts, max_requests, crash-loop backoff, workers stopped while booting.

mod common;
use common::*;
use std::io::{BufReader, Write};
use std::process::Command;
use std::time::Instant;

fn config_file(name: &str, body: &str) -> std::path::PathBuf {
    temp_file(name, body)
}

/// Sends `count` HUPs, each as soon as the master has handled the one before (standard signals
/// do not queue: sent earlier, it could merge with that one), so that each new reload starts
/// while the reload before may still be under way.
fn hup_storm(s: &Server, count: usize) {
    for i in 1..=count {
        s.signal(Signal::SIGHUP);
        s.wait_log("Handling signal: hup", i);
    }
}

/// After a HUP storm: waits until the newest generation any reload started reports complete,
/// and returns it.
fn wait_for_last_reload(s: &Server) -> u64 {
    let mut newest = 0;
    wait_until("the newest generation a reload started is serving", || {
        let log = s.log();
        newest = log
            .iter()
            .filter_map(|l| {
                l.split("Reloading: generation ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .max()
            .expect("a reload started");
        let done = format!("Reload complete: generation {newest} is serving");
        log.iter().any(|l| l.contains(&done))
    });
    newest
}

/// Pids of the workers booted after the log line containing `marker`.
fn booted_after(s: &Server, marker: &str) -> Vec<i32> {
    let log = s.log();
    let start = log.iter().rposition(|l| l.contains(marker)).expect("marker in log");
    log[start..]
        .iter()
        .filter_map(|l| l.split("Booting worker with pid: ").nth(1))
        .filter_map(|p| p.trim().parse().ok())
        .collect()
}

#[test]
fn hup_storm_under_load_drops_nothing() {
    let cfg = config_file(
        "storm.toml",
        "workers = 2\napp = \"builtin:hello\"\nbind = \"127.0.0.1:0\"\n",
    );
    let s = Server::start(&["-c", cfg.to_str().unwrap()], 2);
    let load = Load::start(s.addr, 2);
    load.wait_served_since(&load.mark());
    hup_storm(&s, 20);
    let last_gen = wait_for_last_reload(&s);
    // The last generation serves every client.
    load.wait_served_since(&load.mark());
    let stats = load.finish();
    assert!(
        stats.failures.is_empty(),
        "{} failures: {:?}",
        stats.failures.len(),
        stats.failures
    );
    wait_until("only the last generation remains", || s.workers().len() == 2);
    let latest = booted_after(&s, &format!("Reloading: generation {last_gen} "));
    for w in s.workers() {
        assert!(latest.contains(&w), "worker {w} is not from generation {last_gen}");
    }
}

#[test]
fn hup_with_a_broken_config_keeps_serving_and_stays_reloadable() {
    let cfg = config_file("broken.toml", "workers = 2\nbind = \"127.0.0.1:0\"\n");
    let s = Server::start(&["-c", cfg.to_str().unwrap(), "builtin:hello"], 2);
    let before = s.workers();
    std::fs::write(&cfg, "workers = 2\nbind = \"127.0.0.1:0\"\nworkres = 3\n").unwrap();
    s.signal(Signal::SIGHUP);
    let line = s.wait_log("Reload failed, keeping the current configuration", 1);
    assert!(
        line.contains("workres") && line.contains("did you mean 'workers'"),
        "{line}"
    );
    assert_eq!(s.get("/").text(), "Hello, World!");
    assert_eq!(s.workers(), before, "old workers untouched");
    // Fixed file: the next HUP reloads, with the new worker count.
    std::fs::write(&cfg, "workers = 3\nbind = \"127.0.0.1:0\"\n").unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload complete: generation 2 is serving", 1);
    wait_until("3 new workers", || {
        let w = s.workers();
        w.len() == 3 && w.iter().all(|p| !before.contains(p))
    });
    assert_eq!(s.get("/").status, 200);
}

#[test]
fn hup_whose_new_workers_cannot_boot_rolls_back() {
    let cfg = config_file(
        "badapp.toml",
        "workers = 2\nbind = \"127.0.0.1:0\"\napp = \"builtin:hello\"\n",
    );
    let s = Server::start(&["-c", cfg.to_str().unwrap()], 2);
    let before = s.workers();
    std::fs::write(&cfg, "workers = 2\nbind = \"127.0.0.1:0\"\napp = \"builtin:nope\"\n").unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload failed: the new workers could not boot; keeping generation 1", 1);
    assert_eq!(s.get("/").text(), "Hello, World!");
    wait_until("the failed generation is gone", || s.workers() == before);
    // Still reloadable, and the rolled-back configuration is the one in force.
    std::fs::write(&cfg, "workers = 1\nbind = \"127.0.0.1:0\"\napp = \"builtin:echo\"\n").unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload complete: generation 3 is serving", 1);
    // The old workers were told to stop; once they are gone only the new app answers.
    wait_until("only the generation-3 worker is left", || {
        let w = s.workers();
        w.len() == 1 && !before.contains(&w[0])
    });
    assert_eq!(s.get("/").header("Content-Type"), Some("application/json"));
}

#[test]
fn hup_applies_bind_changes() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let second = probe.local_addr().unwrap();
    drop(probe);
    let cfg = config_file("bind.toml", "bind = [\"127.0.0.1:0\"]\n");
    let s = Server::start(&["-c", cfg.to_str().unwrap(), "builtin:hello"], 1);
    let first = s.addr;
    std::fs::write(&cfg, format!("bind = [\"127.0.0.1:0\", \"{second}\"]\n")).unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log(&format!("Listening at: http://{second}"), 1);
    s.wait_log("Reload complete: generation 2 is serving", 1);
    // The kept address is the same socket (same port), and the new one serves too.
    let mut c = std::net::TcpStream::connect(second).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(
        read_response(&mut BufReader::new(c), false).unwrap().text(),
        "Hello, World!"
    );
    assert_eq!(s.get("/").status, 200);
    assert_eq!(s.addr, first);
    // Removing the first address closes it once its workers are gone.
    std::fs::write(&cfg, format!("bind = [\"{second}\"]\n")).unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload complete: generation 3 is serving", 1);
    wait_until("the removed address stops listening", || {
        std::net::TcpStream::connect(first).is_err()
    });
}

#[test]
fn term_under_load_answers_every_accepted_request() {
    let mut s = Server::start(&["-w", "2", "builtin:hello"], 2);
    let load = Load::start(s.addr, 2);
    // Every client is under way when TERM comes.
    load.wait_served_since(&load.mark());
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit().code(), Some(0));
    let stats = load.finish();
    // Once the workers stopped accepting, new connections are refused ("connect:"). A request
    // on a connection that was already answered was certainly accepted: none may be lost.
    let lost: Vec<&String> = stats.failures.iter().filter(|f| f.contains("after")).collect();
    assert!(lost.is_empty(), "accepted requests lost: {lost:?}");
    // A brand-new connection can complete its handshake in the microseconds between a worker's
    // last accept() and its close() of the listening socket; the kernel then resets it. Such
    // a connection was never accepted by forkhorn, and it is rare.
    let unaccepted = stats.failures.iter().filter(|f| f.contains("new connection")).count();
    assert!(unaccepted <= 2, "{:?}", stats.failures);
}

#[test]
fn stuck_worker_is_killed_after_timeout_and_replaced() {
    let s = Server::start(&["-t", "2", "builtin:sleep"], 1);
    let stuck = s.workers()[0];
    let mut c = s.connect();
    c.write_all(b"GET /?s=60 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    let line = s.wait_log("WORKER TIMEOUT", 1);
    assert_eq!(
        line.split("WORKER TIMEOUT ").nth(1),
        Some(format!("(pid {stuck}) serving GET /?s=60").as_str())
    );
    // A replacement starts at once; the stuck worker is gone after SIGABRT (or SIGKILL).
    s.wait_log("Booting worker", 2);
    wait_until("the stuck worker is gone", || !s.workers().contains(&stuck));
    // The stuck request's connection was closed without a response; the replacement serves.
    assert!(read_response(&mut BufReader::new(c), false).is_none());
    let r = s.get("/?s=0");
    assert_eq!(r.text(), "slept 0");
}

#[test]
fn max_requests_workers_serve_ten_thousand_without_failure() {
    let s = Server::start(
        &[
            "-w",
            "2",
            "--max-requests",
            "100",
            "--max-requests-jitter",
            "10",
            "builtin:hello",
        ],
        2,
    );
    let load = Load::start(s.addr, 2);
    let start = Instant::now();
    let mut served = 0u64;
    // Sequential keep-alive requests from this thread too, counted exactly.
    let mut conn = s.connect();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    while served < 10_000 {
        conn.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        let r = read_response(&mut reader, false).expect("answered");
        assert_eq!(r.status, 200);
        served += 1;
        if r.header("Connection") == Some("close") {
            conn = s.connect();
            reader = BufReader::new(conn.try_clone().unwrap());
        }
    }
    let stats = load.finish();
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    let restarts = s.log().iter().filter(|l| l.contains("Autorestarting worker")).count();
    assert!(
        restarts >= 50,
        "{} requests in {:?} retired only {restarts} workers",
        served + stats.ok,
        start.elapsed()
    );
}

#[test]
fn upgrade_with_usr2_winch_term_drops_nothing() {
    let dir = std::env::temp_dir().join(format!("forkhorn-upgrade-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("forkhorn.pid");
    let pid_arg = pidfile.to_str().unwrap().to_owned();
    let mut old = Server::start_outside_terminal(&["-w", "2", "--pid", &pid_arg, "builtin:hello"], 2);
    let read_pid = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
    };
    assert_eq!(read_pid(&pidfile), Some(old.pid()));
    let load = Load::start(old.addr, 2);
    load.wait_served_since(&load.mark());
    old.signal(Signal::SIGUSR2);
    old.wait_log("Upgrading: started a new master", 1);
    // The new master logs to the same stream: its two workers boot.
    old.wait_log("Booting worker", 4);
    wait_until("the new master wrote the pidfile", || {
        read_pid(&pidfile).is_some_and(|p| p != old.pid())
    });
    let new_pid = read_pid(&pidfile).unwrap();
    let oldbin = dir.join("forkhorn.pid.oldbin");
    assert_eq!(read_pid(&oldbin), Some(old.pid()));
    old.signal(Signal::SIGWINCH);
    wait_until("the old master's workers are gone", || {
        children_of(old.pid()).iter().all(|p| *p == new_pid)
    });
    old.signal(Signal::SIGTERM);
    assert_eq!(old.wait_exit().code(), Some(0));
    // With the old master gone, the new one serves every client.
    load.wait_served_since(&load.mark());
    let stats = load.finish();
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    // The new master owns the sockets and the pidfile.
    assert_eq!(read_pid(&pidfile), Some(new_pid));
    assert!(!oldbin.exists());
    let mut c = std::net::TcpStream::connect(old.addr).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut BufReader::new(c), false).unwrap().status, 200);
    let new_workers = children_of(new_pid);
    assert_eq!(new_workers.len(), 2);
    kill(new_pid, Signal::SIGTERM);
    wait_until("the new master exits", || {
        !std::path::Path::new(&format!("/proc/{new_pid}")).exists() || cmdline(new_pid).is_empty()
    });
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn upgrade_rolled_back_with_hup_and_term_new_drops_nothing() {
    let mut old = Server::start_outside_terminal(&["-w", "1", "builtin:hello"], 1);
    let load = Load::start(old.addr, 2);
    load.wait_served_since(&load.mark());
    old.signal(Signal::SIGUSR2);
    let new_pid = upgraded_master_pid(&old);
    old.wait_log("Booting worker", 2);
    old.signal(Signal::SIGWINCH);
    wait_until("old workers gone", || children_of(old.pid()) == vec![new_pid]);
    // Roll back: the old master's workers come back, then the new master goes.
    old.signal(Signal::SIGHUP);
    old.wait_log("Booting worker", 3);
    wait_until("old master has a worker again", || children_of(old.pid()).len() == 2);
    kill(new_pid, Signal::SIGTERM);
    old.wait_log(
        &format!("The upgraded master (pid {new_pid}) exited with status 0; this master serves alone"),
        1,
    );
    // With the upgraded master gone, the old one serves every client alone.
    load.wait_served_since(&load.mark());
    let stats = load.finish();
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    assert_eq!(old.get("/").status, 200);
    old.signal(Signal::SIGTERM);
    assert_eq!(old.wait_exit().code(), Some(0));
}

/// A terminal's resize sends SIGWINCH to its foreground process group: a master there ignores
/// it (gunicorn ignores WINCH unless daemonized, for this reason), and its workers serve on.
#[test]
fn winch_from_a_terminal_resize_is_ignored() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let terminal = pty.slave.as_raw_fd();
    let mut cmd = Command::new(bin());
    cmd.args(["-w", "2", "--log-level", "debug", "-b", "127.0.0.1:0", "builtin:hello"]);
    // SAFETY: only setsid and ioctl, which are async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // A session of its own whose controlling terminal is the pty, in its foreground
            // process group: the master as started from an interactive shell.
            if libc::setsid() < 0 || libc::ioctl(terminal, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let s = Server::start_cmd(&mut cmd, 2);
    let workers = s.workers();
    let size = libc::winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid for the call.
    let set = unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    assert_eq!(set, 0, "{}", std::io::Error::last_os_error());
    s.wait_log("Handling signal: winch", 1);
    s.wait_log("SIGWINCH ignored: in the foreground of a terminal", 1);
    assert_eq!(s.workers(), workers);
    assert_eq!(s.get("/").status, 200);
}

#[test]
fn winch_stops_workers_and_hup_brings_them_back() {
    let s = Server::start_outside_terminal(&["-w", "2", "builtin:hello"], 2);
    s.signal(Signal::SIGWINCH);
    wait_until("no workers", || s.workers().is_empty());
    s.signal(Signal::SIGHUP);
    s.wait_log("Booting worker", 4);
    assert_eq!(s.get("/").status, 200);
}

/// The `supervised` example (built by `cargo test`): ADDR WORKERS BOOT_SECONDS FAIL_MARKER.
fn supervised(workers: usize, boot: &str, marker: &std::path::Path) -> Server {
    let mut cmd = Command::new(example("supervised"));
    cmd.args(["127.0.0.1:0", &workers.to_string(), boot, marker.to_str().unwrap()]);
    Server::start_cmd(&mut cmd, workers)
}

#[test]
fn hup_storm_with_slow_booting_workers_drops_nothing() {
    let marker = std::env::temp_dir().join(format!("forkhorn-nomarker-{}", std::process::id()));
    let s = supervised(2, "2.0", &marker);
    let first = s.workers();
    let load = Load::start(s.addr, 2);
    load.wait_served_since(&load.mark());
    hup_storm(&s, 20);
    wait_for_last_reload(&s);
    load.wait_served_since(&load.mark());
    let stats = load.finish();
    assert!(stats.failures.is_empty(), "{:?}", stats.failures);
    wait_until("two workers of the last generation", || {
        let w = s.workers();
        w.len() == 2 && w.iter().all(|p| !first.contains(p))
    });
}

#[test]
fn crash_looping_boot_backs_off_and_recovers() {
    let marker = std::env::temp_dir().join(format!("forkhorn-failboot-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let s = supervised(1, "0", &marker);
    std::fs::write(&marker, "x").unwrap();
    let worker = s.workers()[0];
    assert!(kill(worker, Signal::SIGKILL));
    for delay in ["100 ms", "200 ms", "400 ms", "800 ms", "1600 ms"] {
        s.wait_log(&format!("Worker failed to boot; next attempt in {delay}"), 1);
    }
    let ticks = cpu_ticks;
    let before = ticks(s.pid());
    let started = Instant::now();
    s.wait_log("next attempt in 3200 ms", 1);
    // A busy loop would burn the whole wait (about 160 ticks of 10 ms); a sleeping master is
    // charged a few ticks at most, for one fork and its log lines.
    let used = ticks(s.pid()) - before;
    assert!(
        used <= 10,
        "the master used {used} ticks in {:?} while backing off",
        started.elapsed()
    );
    std::fs::remove_file(&marker).unwrap();
    s.wait_log("Booting worker", 2);
    assert_eq!(s.get("/").text(), "supervised\n");
}

#[test]
fn reuse_port_gives_each_worker_its_own_socket() {
    let s = Server::start(&["-w", "2", "--reuse-port", "builtin:hello"], 2);
    for _ in 0..20 {
        assert_eq!(s.get("/").text(), "Hello, World!");
    }
    // Each worker listens on a socket of its own; the master's only holds the address. (The
    // kernel can skip /proc/net/tcp entries while the table changes, so read until it agrees.)
    let port = format!(":{:04X}", s.addr.port());
    wait_until("one listening socket per worker", || {
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
        let listening = tcp
            .lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f[1].ends_with(&port) && f[3] == "0A"
            })
            .count();
        listening == 2
    });
    let old = s.workers();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload complete: generation 2 is serving", 1);
    // A connection the kernel hashes to a retiring worker's own socket is lost when that socket
    // closes (the documented cost of reuse_port): ask once the old workers are gone.
    wait_until("the old workers are gone", || {
        s.workers().iter().all(|p| !old.contains(p))
    });
    assert_eq!(s.get("/").status, 200);
}

#[cfg(feature = "python")]
#[test]
fn boot_timeout_bounds_a_slow_import() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    // Slower than boot_timeout: killed, and at start-up that stops the master.
    let out = Command::new(bin())
        .args([
            "-b",
            "127.0.0.1:0",
            "--boot-timeout",
            "1",
            "--chdir",
            dir,
            "slow_import:application",
        ])
        .env("SLOW_IMPORT_SECONDS", "30")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not boot within 1s; killing it"), "{err}");
    // Within a generous boot_timeout, a 2 s import boots (the heartbeat timeout does not apply).
    let mut cmd = Command::new(bin());
    cmd.args([
        "-b",
        "127.0.0.1:0",
        "-t",
        "1",
        "--boot-timeout",
        "10",
        "--chdir",
        dir,
        "slow_import:application",
    ])
    .env("SLOW_IMPORT_SECONDS", "2");
    let s = Server::start_cmd(&mut cmd, 1);
    assert_eq!(s.get("/").text(), "finally booted");
}

/// `tests/python/boot_gate.py`'s workers boot until the file `gate` exists; with `first`, the
/// first of them fails to boot instead.
#[cfg(feature = "python")]
struct BootGate {
    dir: std::path::PathBuf,
    gate: std::path::PathBuf,
    first: std::path::PathBuf,
}

#[cfg(feature = "python")]
impl BootGate {
    fn new(name: &str) -> BootGate {
        let dir = std::env::temp_dir().join(format!("forkhorn-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        BootGate {
            gate: dir.join("gate"),
            first: dir.join("first"),
            dir,
        }
    }

    /// The app spec: every worker waits for the gate.
    fn spec(&self) -> String {
        format!("boot_gate:gated({:?})", self.gate.to_str().unwrap())
    }

    /// The app spec: the first worker fails to boot, the others wait for the gate.
    fn spec_failing_first(&self) -> String {
        format!(
            "boot_gate:gated({:?}, fail_first={:?})",
            self.gate.to_str().unwrap(),
            self.first.to_str().unwrap()
        )
    }

    /// Lets the waiting workers finish booting.
    fn open(&self) {
        std::fs::write(&self.gate, "").unwrap();
    }
}

#[cfg(feature = "python")]
impl Drop for BootGate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `forkhorn ARGS` run in `tests/python`, not waiting for any worker to boot.
#[cfg(feature = "python")]
fn start_booting(args: &[&str]) -> Server {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python");
    let mut cmd = Command::new(bin());
    cmd.args(["-b", "127.0.0.1:0", "--chdir", dir]).args(args);
    Server::start_cmd(&mut cmd, 0)
}

/// A worker that was still booting when the master stopped it is no stuck worker: no timeout,
/// no SIGABRT, and no boot failure of its own to back off from.
#[cfg(feature = "python")]
fn assert_no_false_timeout(log: &[String]) {
    for wrong in ["WORKER TIMEOUT", "SIGABRT", "Worker failed to boot; next attempt"] {
        assert!(
            !log.iter().any(|l| l.contains(wrong)),
            "{wrong:?} in the log:\n{}",
            log.join("\n")
        );
    }
}

/// Each of `workers` logged that it stopped gracefully.
#[cfg(feature = "python")]
fn assert_exited(log: &[String], workers: &[i32]) {
    for w in workers {
        let line = format!("Worker exiting (pid: {w})");
        assert!(
            log.iter().any(|l| l.contains(&line)),
            "no {line:?} in the log:\n{}",
            log.join("\n")
        );
    }
}

#[cfg(feature = "python")]
#[test]
fn term_while_workers_boot_stops_them_without_a_timeout() {
    let gate = BootGate::new("term-booting");
    let mut s = start_booting(&["-w", "3", &gate.spec()]);
    wait_until("three workers forked", || s.workers().len() == 3);
    let booting = s.workers();
    s.signal(Signal::SIGTERM);
    s.wait_log("Handling signal: term", 1);
    // A worker acts on TERM once its application has loaded.
    gate.open();
    assert_eq!(s.wait_exit().code(), Some(0));
    // The master writes this last, after its workers' lines.
    s.wait_log("Shutting down: Master", 1);
    assert_no_false_timeout(&s.log());
    assert_exited(&s.log(), &booting);
}

#[cfg(feature = "python")]
#[test]
fn boot_failure_at_start_up_stops_the_other_booting_workers_with_term() {
    let gate = BootGate::new("startup-fail");
    let mut s = start_booting(&["-w", "3", &gate.spec_failing_first()]);
    s.wait_log("Reason: Worker failed to boot.", 1);
    let others = s.workers();
    assert_eq!(others.len(), 2, "the other workers are still booting");
    gate.open();
    assert_eq!(s.wait_exit().code(), Some(3));
    s.wait_log("Shutting down: Master", 1);
    assert_no_false_timeout(&s.log());
    assert_exited(&s.log(), &others);
}

#[cfg(feature = "python")]
#[test]
fn rolled_back_reload_stops_the_booting_new_workers_with_term() {
    let gate = BootGate::new("rollback-booting");
    let cfg = config_file(
        "rollback-booting.toml",
        "workers = 2\nbind = \"127.0.0.1:0\"\napp = \"builtin:hello\"\n",
    );
    let mut s = start_booting(&["-c", cfg.to_str().unwrap()]);
    s.wait_log("Booting worker", 2);
    let before = s.workers();
    let app = gate.spec_failing_first().replace('"', "'");
    std::fs::write(&cfg, format!("workers = 3\nbind = \"127.0.0.1:0\"\napp = \"{app}\"\n")).unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload failed: the new workers could not boot; keeping generation 1", 1);
    let booting: Vec<i32> = s.workers().into_iter().filter(|w| !before.contains(w)).collect();
    assert_eq!(booting.len(), 2, "the other new workers are still booting");
    assert_eq!(s.get("/").text(), "Hello, World!");
    gate.open();
    wait_until("the failed generation is gone", || s.workers() == before);
    assert_eq!(s.get("/").text(), "Hello, World!");
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit().code(), Some(0));
    s.wait_log("Shutting down: Master", 1);
    let log = s.log();
    assert_no_false_timeout(&log);
    assert_exited(&log, &booting);
    assert!(
        !log.iter().any(|l| l.contains("Reload complete")),
        "generation 1 stayed in force"
    );
}

#[cfg(feature = "python")]
#[test]
fn booting_worker_that_ignores_term_is_killed_after_graceful_timeout() {
    let gate = BootGate::new("rollback-stuck");
    let cfg = config_file(
        "rollback-stuck.toml",
        "workers = 1\nbind = \"127.0.0.1:0\"\napp = \"builtin:hello\"\n",
    );
    let mut s = start_booting(&["-c", cfg.to_str().unwrap()]);
    s.wait_log("Booting worker", 1);
    let before = s.workers();
    // The gate never opens: the stopped worker never gets to act on its TERM.
    let app = gate.spec_failing_first().replace('"', "'");
    std::fs::write(
        &cfg,
        format!("workers = 2\ngraceful_timeout = 1\nbind = \"127.0.0.1:0\"\napp = \"{app}\"\n"),
    )
    .unwrap();
    s.signal(Signal::SIGHUP);
    s.wait_log("Reload failed: the new workers could not boot; keeping generation 1", 1);
    wait_until("the failed generation is gone", || s.workers() == before);
    s.signal(Signal::SIGTERM);
    assert_eq!(s.wait_exit().code(), Some(0));
    s.wait_log("Shutting down: Master", 1);
    let log = s.log();
    assert_no_false_timeout(&log);
    // Its own configuration's graceful_timeout, not the rolled-back one's (30 s).
    let killed = log.iter().find(|l| l.contains("did not stop within"));
    assert!(
        killed.is_some_and(|l| l.contains("within 1s; killing it")),
        "{}",
        log.join("\n")
    );
    assert!(log.iter().any(|l| l.contains("was sent SIGKILL")), "{}", log.join("\n"));
}
