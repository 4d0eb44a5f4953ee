//! The operations tests' part of the harness: a master whose log goes to a file (which
//! [`super::Server`] cannot watch), datagram listeners standing in for syslog and systemd, log
//! files to wait on, and short commands to run.

use super::{kill_with_workers, wait_child, Signal, WAIT};
use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("forkhorn-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The `ops_app` example (built by `cargo test`).
pub fn ops_app() -> PathBuf {
    super::example("ops_app")
}

/// A config file in `dir` for 2 workers writing the access log `access.log` beside it, one
/// line per request holding the path (`%(U)s`); returns (access log, config file).
pub fn access_log_config(dir: &Path) -> (PathBuf, PathBuf) {
    let access = dir.join("access.log");
    let cfg = dir.join("f.toml");
    std::fs::write(
        &cfg,
        format!(
            "bind = \"127.0.0.1:0\"\nworkers = 2\nloglevel = \"debug\"\naccess_log_format = \"%(U)s\"\naccesslog = \"{}\"\n",
            access.display()
        ),
    )
    .unwrap();
    (access, cfg)
}

/// The lines of a file (empty if it does not exist).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits until `count` lines of the file contain `needle`; returns the last of them.
pub fn wait_file(path: &Path, needle: &str, count: usize) -> String {
    let mut found = String::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let hits: Vec<String> = lines(path).into_iter().filter(|l| l.contains(needle)).collect();
        if hits.len() >= count {
            found.clone_from(&hits[count - 1]);
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} x {needle:?} in {}:\n{}",
            path.display(),
            lines(path).join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A master started by a test, whose log is watched in a file; killed with its children when
/// dropped (unless it already exited).
pub struct Master {
    pub child: Child,
    pub exited: bool,
}

impl Master {
    /// Starts `program ARGS` with stdout and stderr to `console` (a file the test can read).
    pub fn spawn(program: &Path, args: &[&str], console: &Path, env: &[(&str, &str)]) -> Master {
        let out = std::fs::File::create(console).unwrap();
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn");
        Master { child, exited: false }
    }

    /// The master's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the master.
    pub fn signal(&self, sig: Signal) {
        assert!(super::kill(self.pid(), sig), "send {sig} to the master");
    }

    /// Waits for the master to exit; its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        let status = wait_child(&mut self.child, || "the master did not exit".to_owned());
        self.exited = true;
        status.code()
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        if !self.exited {
            kill_with_workers(&mut self.child);
        }
    }
}

/// A Unix datagram socket that stands in for syslog's /dev/log or systemd's NOTIFY_SOCKET.
pub struct Datagrams {
    pub sock: UnixDatagram,
    pub path: Option<PathBuf>,
}

impl Datagrams {
    /// Bound at `path`.
    pub fn at(path: &Path) -> Datagrams {
        let _ = std::fs::remove_file(path);
        let sock = UnixDatagram::bind(path).unwrap();
        Datagrams {
            sock,
            path: Some(path.to_owned()),
        }
    }

    /// Bound to the abstract name `name` (NOTIFY_SOCKET=@name).
    pub fn abstract_name(name: &str) -> Datagrams {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        Datagrams {
            sock: UnixDatagram::bind_addr(&addr).unwrap(),
            path: None,
        }
    }

    /// The next datagram, within `timeout`.
    pub fn recv_within(&self, timeout: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; 65536];
        let n = self.sock.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Receives until a datagram satisfies `want`; returns every datagram received, that one last.
    pub fn recv_until(&self, what: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; received:\n{}",
                seen.join("\n")
            );
            if let Some(d) = self.recv_within(left) {
                let done = want(&d);
                seen.push(d);
                if done {
                    return seen;
                }
            }
        }
    }
}

impl Drop for Datagrams {
    fn drop(&mut self) {
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Reads everything a child process wrote until it exits (for short-lived commands).
pub fn output_of(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("run");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// A field of /proc/PID/status, e.g. `Uid`.
pub fn proc_status(pid: i32, field: &str) -> String {
    let mut text = String::new();
    std::fs::File::open(format!("/proc/{pid}/status"))
        .and_then(|mut f| f.read_to_string(&mut text))
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
