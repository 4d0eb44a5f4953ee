//! systemd integration with real sockets and signals: the notification socket (a path and an
//! abstract name) sees READY/RELOADING/STOPPING/MAINPID/WATCHDOG at the right moments, and
//! socket activation serves on sockets passed by the test itself and by
//! `systemd-socket-activate`.

mod common;
use common::ops::*;
use common::skip::tool_or_skip;
use common::*;
use std::io::{BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

fn monotonic_usec() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000
}

/// Starts `forkhorn ARGS` with `NOTIFY_SOCKET` (and `env`) set.
fn start_notified(socket: &str, args: &[&str], env: &[(&str, &str)], workers: usize) -> Server {
    let mut cmd = Command::new(bin());
    cmd.env("NOTIFY_SOCKET", socket).envs(env.iter().copied()).args(args);
    Server::start_cmd(&mut cmd, workers)
}

#[test]
fn ready_once_the_workers_are_up_then_stopping_on_term() {
    let dir = test_dir("notify");
    let path = dir.join("notify.sock");
    let notify = Datagrams::at(&path);
    let mut s = start_notified(
        path.to_str().unwrap(),
        &["-w", "2", "-b", "127.0.0.1:0", "--log-level", "debug", "builtin:hello"],
        &[],
        2,
    );
    let got = notify.recv_until("READY=1", |d| d.starts_with("READY=1"));
    assert_eq!(got, ["READY=1\nSTATUS=2 workers, generation 1"]);
    // The master had heard from both workers before it said so.
    s.wait_log("Ready: 2 workers serving", 1);
    let log = s.log();
    let ready_at = log.iter().position(|l| l.contains("Ready: 2 workers serving")).unwrap();
    let reported = log[..ready_at].iter().filter(|l| l.contains(") is ready")).count();
    assert_eq!(reported, 2, "{log:#?}");
    assert_eq!(s.get("/").status, 200);

    s.signal(Signal::SIGTERM);
    let got = notify.recv_until("STOPPING=1", |d| d.starts_with("STOPPING=1"));
    assert_eq!(got, ["STOPPING=1\nSTATUS=Stopping"]);
    assert!(s.wait_exit().success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_abstract_notify_socket_works_too() {
    let name = format!("forkhorn-test-notify-{}", std::process::id());
    let notify = Datagrams::abstract_name(&name);
    let s = start_notified(
        &format!("@{name}"),
        &["-w", "1", "-b", "127.0.0.1:0", "builtin:hello"],
        &[],
        1,
    );
    let got = notify.recv_until("READY=1", |d| d.starts_with("READY=1"));
    assert_eq!(got, ["READY=1\nSTATUS=1 workers, generation 1"]);
    drop(s);
}

#[test]
fn reloading_and_ready_around_a_hup_and_a_refused_one() {
    let dir = test_dir("notify-hup");
    let path = dir.join("notify.sock");
    let notify = Datagrams::at(&path);
    let cfg = dir.join("f.toml");
    std::fs::write(&cfg, "bind = \"127.0.0.1:0\"\nworkers = 2\n").unwrap();
    let s = start_notified(path.to_str().unwrap(), &["-c", cfg.to_str().unwrap()], &[], 2);
    notify.recv_until("READY=1", |d| d.starts_with("READY=1"));

    let before = monotonic_usec();
    s.signal(Signal::SIGHUP);
    let got = notify.recv_until("RELOADING=1", |d| d.starts_with("RELOADING=1"));
    let after = monotonic_usec();
    assert_eq!(got.len(), 1, "{got:?}");
    let usec: u64 = got[0]
        .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
        .unwrap_or_else(|| panic!("{got:?}"))
        .parse()
        .unwrap();
    assert!((before..=after).contains(&usec), "{before} <= {usec} <= {after}");
    let got = notify.recv_until("READY=1", |d| d.starts_with("READY=1"));
    assert_eq!(got, ["READY=1\nSTATUS=2 workers, generation 2"]);
    // READY=1 comes when the reload is complete (the master logs that just before sending it).
    s.wait_log("Reload complete: generation 2 is serving", 1);

    // A configuration that cannot be used: the reload ends at once, the old one serving.
    std::fs::write(&cfg, "bind = \"127.0.0.1:0\"\nworkers = \"many\"\n").unwrap();
    s.signal(Signal::SIGHUP);
    let got = notify.recv_until("READY=1", |d| d.starts_with("READY=1"));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("RELOADING=1\nMONOTONIC_USEC="), "{got:?}");
    assert_eq!(got[1], "READY=1\nSTATUS=2 workers, generation 2");
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mainpid_names_the_new_master_after_usr2_and_the_old_one_when_it_exits() {
    let dir = test_dir("notify-usr2");
    let path = dir.join("notify.sock");
    let notify = Datagrams::at(&path);
    let mut s = start_notified(
        path.to_str().unwrap(),
        &["-w", "1", "-b", "127.0.0.1:0", "builtin:hello"],
        &[],
        1,
    );
    notify.recv_until("READY=1", |d| d.starts_with("READY=1"));
    s.signal(Signal::SIGUSR2);
    let new_pid = upgraded_master_pid(&s);
    let got = notify.recv_until("MAINPID", |d| d.starts_with("MAINPID="));
    assert_eq!(got.last().unwrap(), &format!("MAINPID={new_pid}"));
    // The new master announces itself once its worker is up.
    notify.recv_until("the new master's READY=1", |d| d.starts_with("READY=1"));
    // Roll back: the new master goes, the old one is the main process again.
    assert!(kill(new_pid, Signal::SIGTERM));
    let got = notify.recv_until("MAINPID of the old master", |d| d.starts_with("MAINPID="));
    assert_eq!(got.last().unwrap(), &format!("MAINPID={}", s.pid()));
    assert_eq!(s.get("/").status, 200);
    s.signal(Signal::SIGTERM);
    assert!(s.wait_exit().success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_watchdog_pings_only_while_the_master_loop_turns() {
    let dir = test_dir("watchdog");
    let path = dir.join("notify.sock");
    let notify = Datagrams::at(&path);
    let s = start_notified(
        path.to_str().unwrap(),
        &["-w", "1", "-b", "127.0.0.1:0", "builtin:hello"],
        &[("WATCHDOG_USEC", "400000")],
        1,
    );
    for _ in 0..3 {
        notify.recv_until("WATCHDOG=1", |d| d == "WATCHDOG=1");
    }
    // A stopped master sends nothing: systemd's watchdog would fire.
    stop_process(s.pid());
    while notify.recv_within(Duration::from_millis(1)).is_some() {}
    assert_eq!(notify.recv_within(Duration::from_millis(1000)), None);
    s.signal(Signal::SIGCONT);
    notify.recv_until("WATCHDOG=1 again", |d| d == "WATCHDOG=1");
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_watchdog_meant_for_another_process_is_not_pinged() {
    let dir = test_dir("watchdog-other");
    let path = dir.join("notify.sock");
    let notify = Datagrams::at(&path);
    let s = start_notified(
        path.to_str().unwrap(),
        &["-w", "1", "-b", "127.0.0.1:0", "builtin:hello"],
        &[("WATCHDOG_USEC", "200000"), ("WATCHDOG_PID", "1")],
        1,
    );
    notify.recv_until("READY=1", |d| d.starts_with("READY=1"));
    // With pings due every 100 ms, a second without one means none are sent.
    assert_eq!(notify.recv_within(Duration::from_millis(1000)), None);
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sends GET / over a Unix socket; the status.
fn unix_get(path: &std::path::Path) -> u16 {
    let mut c = std::os::unix::net::UnixStream::connect(path).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: u\r\nConnection: close\r\n\r\n")
        .unwrap();
    read_response(&mut BufReader::new(c), false).unwrap().status
}

#[test]
fn socket_activation_with_tcp_and_unix_sockets_passed_by_the_harness() {
    let dir = test_dir("activation");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let unix_path = dir.join("app.sock");
    let unix = std::os::unix::net::UnixListener::bind(&unix_path).unwrap();
    let (tcp_fd, unix_fd) = (tcp.as_raw_fd(), unix.as_raw_fd());
    let mut cmd = Command::new("sh");
    // LISTEN_PID must name the process that receives the sockets: the shell's pid, kept by exec.
    cmd.args([
        "-c",
        "LISTEN_PID=$$ exec \"$0\" \"$@\"",
        bin(),
        "-w",
        "2",
        // Ignored under socket activation: the passed sockets are served instead.
        "-b",
        "127.0.0.1:1",
        "builtin:hello",
    ])
    .env("LISTEN_FDS", "2")
    .env("LISTEN_FDNAMES", "web:admin");
    // SAFETY: only fcntl(F_DUPFD) and dup2, which are async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Copies above 100 first, so that dup2 onto 3 and 4 never clobbers a source.
            let a = libc::fcntl(tcp_fd, libc::F_DUPFD, 100);
            let b = libc::fcntl(unix_fd, libc::F_DUPFD, 100);
            if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let s = Server::start_cmd(&mut cmd, 2);
    assert_eq!(s.addr.port(), port, "serves the passed TCP socket, not -b");
    assert_eq!(s.get("/").status, 200);
    assert_eq!(unix_get(&unix_path), 200);
    assert!(
        s.log().iter().any(|l| l.contains("Listening at: unix:")),
        "{:#?}",
        s.log()
    );
    drop(s);
    // The sockets were the test's; forkhorn leaves the Unix socket file alone.
    assert!(unix_path.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn systemd_socket_activate_serves_requests() {
    if !tool_or_skip("systemd-socket-activate", "systemd") {
        return;
    }
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let listen = format!("127.0.0.1:{port}");
    // systemd-socket-activate listens at once and starts forkhorn on the first connection.
    let first = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + WAIT;
        let mut conn = loop {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(c) => break c,
                Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => panic!("connect: {e}"),
            }
        };
        conn.set_read_timeout(Some(WAIT)).unwrap();
        conn.write_all(b"GET /first HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = Vec::new();
        conn.read_to_end(&mut out).unwrap();
        String::from_utf8_lossy(&out).into_owned()
    });
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["-l", &listen, "--fdname=web", bin(), "-w", "2", "builtin:hello"]);
    let s = Server::start_cmd(&mut cmd, 2);
    assert_eq!(s.addr.port(), port);
    let first = first.join().unwrap();
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    assert_eq!(s.get("/second").text(), "Hello, World!");
}

#[test]
fn a_usr2_upgrade_keeps_serving_the_sockets_systemd_passed() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let tcp_fd = tcp.as_raw_fd();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "LISTEN_PID=$$ exec \"$0\" \"$@\"",
        bin(),
        "-w",
        "1",
        "builtin:hello",
    ])
    .env("LISTEN_FDS", "1")
    // As a service runs: WINCH is meant (Server::start_outside_terminal).
    .process_group(0);
    // SAFETY: only fcntl(F_DUPFD) and dup2, which are async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let a = libc::fcntl(tcp_fd, libc::F_DUPFD, 100);
            if a < 0 || libc::dup2(a, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut old = Server::start_cmd(&mut cmd, 1);
    drop(tcp);
    old.signal(Signal::SIGUSR2);
    let new_pid = upgraded_master_pid(&old);
    old.wait_log("Booting worker", 2);
    // The old master steps down; only the new one serves the passed socket from now on.
    old.signal(Signal::SIGWINCH);
    wait_until("the old master's worker is gone", || {
        children_of(old.pid()) == vec![new_pid]
    });
    old.signal(Signal::SIGTERM);
    assert!(old.wait_exit().success());
    for _ in 0..3 {
        let r = get(([127, 0, 0, 1], port).into(), "/");
        assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    }
    assert!(kill(new_pid, Signal::SIGTERM));
    wait_until("the new master exits", || {
        matches!(process_state(new_pid), None | Some('Z'))
    });
}
