//! Process hygiene with the real binary: workers as another user, process titles, the
//! workers' environment and directory, umask, the pidfile, and daemon mode.

mod common;
use common::ops::*;
use common::skip::{met_or_skip, tool_or_skip};
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Gone, or a zombie nobody reaped (a daemon's parent is init, which may be slow to reap).
fn is_gone(pid: i32) -> bool {
    matches!(process_state(pid), None | Some('Z'))
}

#[test]
fn workers_run_as_nobody_reopen_their_logs_and_still_serve() {
    if !met_or_skip(is_root(), "dropping privileges needs root") {
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().expect("a nobody user");
    let dir = test_dir("nobody");
    let access = dir.join("access.log");
    let mut cmd = Command::new(ops_app());
    cmd.args([
        "-w",
        "2",
        "-b",
        "127.0.0.1:0",
        "-u",
        "nobody",
        "--log-level",
        "debug",
        "--access-logformat",
        "%(U)s %(s)s",
        "--access-logfile",
        access.to_str().unwrap(),
    ]);
    let s = Server::start_cmd(&mut cmd, 2);
    let workers = s.workers();
    assert_eq!(workers.len(), 2);
    let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
    let have_ps = tool_or_skip("ps", "procps");
    for w in &workers {
        assert_eq!(proc_status(*w, "Uid"), format!("{uid} {uid} {uid} {uid}"), "worker {w}");
        assert_eq!(proc_status(*w, "Gid"), format!("{gid} {gid} {gid} {gid}"), "worker {w}");
        assert_eq!(proc_status(*w, "Groups"), gid.to_string(), "worker {w}: initgroups");
        if have_ps {
            let (_, user) = output_of(Command::new("ps").args(["-o", "user=", "-p", &w.to_string()]));
            assert_eq!(user.trim(), "nobody");
        }
    }
    // The master keeps root: it re-binds on HUP and re-executes itself on USR2.
    assert_eq!(proc_status(s.pid(), "Uid"), "0 0 0 0");
    assert_eq!(s.get("/").status, 200);
    assert_eq!(s.get("/id").text(), format!("{uid} {uid} {uid}"));

    // The log file was given to the workers' user, so they can reopen it after rotation.
    wait_file(&access, "/id 200", 1);
    assert_eq!(std::fs::metadata(&access).unwrap().uid(), uid);
    std::fs::rename(&access, dir.join("access.log.1")).unwrap();
    // logrotate's `create`: the new file exists, owned by the user, before USR1.
    std::fs::write(&access, "").unwrap();
    nix::unistd::chown(&access, Some(nobody.uid), Some(nobody.gid)).unwrap();
    s.signal(Signal::SIGUSR1);
    s.wait_log("Reopened the log files", 3);
    assert_eq!(s.get("/after").status, 200);
    wait_file(&access, "/after 200", 1);
    assert!(!lines(&dir.join("access.log.1")).iter().any(|l| l.contains("/after")));
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_user_that_does_not_exist_is_a_configuration_error() {
    let (code, text) = output_of(Command::new(bin()).args(["--check-config", "-u", "no-such-user-forkhorn"]));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("--user") && text.contains("no-such-user-forkhorn"),
        "{text}"
    );
}

#[test]
fn proc_name_raw_env_chdir_and_umask() {
    let dir = test_dir("hygiene");
    let app_dir = dir.join("app");
    std::fs::create_dir(&app_dir).unwrap();
    let sock = dir.join("app.sock");
    let access = dir.join("access.log");
    let mut cmd = Command::new(ops_app());
    cmd.args([
        "-w",
        "1",
        "-b",
        &format!("unix:{}", sock.display()),
        "-b",
        "127.0.0.1:0",
        "-n",
        "shop",
        "-e",
        "FORKHORN_TEST_A=alpha=1",
        "-e",
        "FORKHORN_TEST_B=",
        "--chdir",
        app_dir.to_str().unwrap(),
        "--umask",
        "0o077",
        "--access-logfile",
        access.to_str().unwrap(),
    ]);
    let s = Server::start_cmd(&mut cmd, 1);
    let worker = s.workers()[0];
    assert!(
        cmdline(s.pid()).starts_with("forkhorn: master [shop]"),
        "{}",
        cmdline(s.pid())
    );
    assert!(
        cmdline(worker).starts_with("forkhorn: worker [shop]"),
        "{}",
        cmdline(worker)
    );

    assert_eq!(s.get("/env/FORKHORN_TEST_A").text(), "alpha=1");
    assert_eq!(s.get("/env/FORKHORN_TEST_B").text(), "");

    assert_eq!(
        s.get("/cwd").text(),
        app_dir.canonicalize().unwrap().display().to_string()
    );
    // The master stays where it was started, so relative paths keep their meaning.
    assert_ne!(
        std::fs::read_link(format!("/proc/{}/cwd", s.pid())).unwrap(),
        app_dir.canonicalize().unwrap()
    );

    // umask 077: what forkhorn creates is its user's alone.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&sock), 0o700, "the Unix socket");
    assert_eq!(mode(&access), 0o600, "the access log");
    drop(s);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_live_pidfile_refuses_a_second_master_a_stale_one_is_replaced() {
    let dir = test_dir("pidfile");
    let pidfile = dir.join("f.pid");
    let pid_arg = pidfile.to_str().unwrap().to_owned();
    std::fs::write(&pidfile, "999999999\n").unwrap();
    let mut s = Server::start(&["-w", "1", "--pid", &pid_arg, "builtin:hello"], 1);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        s.pid().to_string(),
        "the stale pidfile was replaced"
    );
    let (code, text) = output_of(Command::new(bin()).args(["-b", "127.0.0.1:0", "--pid", &pid_arg]));
    assert_ne!(code, Some(0));
    assert!(text.contains(&s.pid().to_string()), "{text}");
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap().trim(), s.pid().to_string());
    s.signal(Signal::SIGTERM);
    assert!(s.wait_exit().success());
    assert!(!pidfile.exists(), "removed at exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Kills a daemon (not our child) when a test ends early.
struct Daemon(i32);

impl Drop for Daemon {
    fn drop(&mut self) {
        if !is_gone(self.0) {
            for k in children_of(self.0) {
                kill(k, Signal::SIGKILL);
            }
            kill(self.0, Signal::SIGKILL);
        }
    }
}

#[test]
fn daemon_mode_detaches_after_it_is_ready_and_stops_on_term() {
    let dir = test_dir("daemon");
    let errlog = dir.join("error.log");
    let pidfile = dir.join("d.pid");
    let mut started = Command::new(bin())
        .args([
            "-D",
            "-w",
            "1",
            "-b",
            "127.0.0.1:0",
            "--pid",
            pidfile.to_str().unwrap(),
            "--error-logfile",
            errlog.to_str().unwrap(),
            "builtin:hello",
        ])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(st) = started.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the started process did not exit");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    // It exited only once the daemon was serving.
    let log = lines(&errlog);
    assert!(log.iter().any(|l| l.contains("Ready: 1 workers serving")), "{log:#?}");
    let daemon: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    let _guard = Daemon(daemon);
    assert_ne!(daemon, started.id() as i32);
    let stat = std::fs::read_to_string(format!("/proc/{daemon}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    let (ppid, sid): (i32, i32) = (fields[1].parse().unwrap(), fields[3].parse().unwrap());
    assert_ne!(ppid, std::process::id() as i32);
    assert_ne!(sid, nix::unistd::getsid(None).unwrap().as_raw(), "a session of its own");
    assert_ne!(sid, daemon, "not a session leader: it can never acquire a terminal");
    for fd in 0..3 {
        assert_eq!(
            std::fs::read_link(format!("/proc/{daemon}/fd/{fd}")).unwrap(),
            Path::new("/dev/null")
        );
    }
    let addr = listen_addr(&wait_file(&errlog, "Listening at: http://", 1));
    let r = get(addr, "/");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    assert!(kill(daemon, Signal::SIGTERM));
    wait_until("the daemon exits", || is_gone(daemon));
    wait_until("the pidfile is removed", || !pidfile.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_daemon_that_cannot_start_makes_the_command_fail() {
    let dir = test_dir("daemon-fail");
    let errlog = dir.join("error.log");
    let (code, text) = output_of(Command::new(bin()).args([
        "-D",
        "-b",
        "127.0.0.1:0",
        "--error-logfile",
        errlog.to_str().unwrap(),
        "builtin:nope",
    ]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the daemon exited before it was ready"), "{text}");
    wait_file(&errlog, "Worker failed to boot", 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The Unix socket file as gunicorn leaves it: mode 0777 less `umask` (0777 by default, as open
/// to local users as a port on loopback, so that a web server running as another user can
/// connect), owned by the workers' `user` and `group`.
#[test]
fn the_unix_socket_is_open_to_the_web_server_as_under_gunicorn() {
    let dir = test_dir("socket-access");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let start = |sock: &Path, extra: &[&str]| {
        let bind = format!("unix:{}", sock.display());
        let mut args = vec!["-w", "1", "-b", &bind, "-b", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        args.push("builtin:hello");
        let s = Server::start(&args, 1);
        assert_eq!(s.get("/").status, 200);
        s
    };
    let open = dir.join("open.sock");
    let s = start(&open, &[]);
    assert_eq!(mode(&open), 0o777);
    drop(s);
    if !met_or_skip(
        nix::unistd::geteuid().is_root(),
        "giving the socket to another user needs root",
    ) {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // A web server in group 65534 may connect; others may not.
    let group = dir.join("group.sock");
    let s = start(&group, &["-u", "65534", "-g", "65534", "-m", "007"]);
    let meta = std::fs::metadata(&group).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.uid(), meta.gid()), (0o770, 65534, 65534));
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
