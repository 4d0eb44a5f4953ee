//! The server under test as a child process: started in a process group of its own, polled until
//! it answers, stopped with TERM (then KILL for the whole group), and never left running: `Drop`
//! kills the group, and the kernel TERMs it should this process die without unwinding.

use super::procstat;
use super::response::ResponseReader;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the server's stderr kept for error messages.
const LOG_TAIL: usize = 20;

/// Why a server could not be started, checked or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No free loopback port.
    #[error("cannot find a free port: {0}")]
    FindPort(std::io::Error),
    /// The command could not be started.
    #[error("cannot start {command:?}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server exited before it answered.
    #[error("{command:?} exited with {status} before answering{}", tail(log))]
    ExitEarly {
        /// The command line.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// The last lines of its stderr.
        log: Vec<String>,
    },
    /// The server did not answer in time.
    #[error("{command:?} did not answer GET {path} on port {port} within {}s{}", START_TIMEOUT.as_secs(), tail(log))]
    Answer {
        /// The command line.
        command: String,
        /// The request target.
        path: String,
        /// The port it was told to use.
        port: u16,
        /// The last lines of its stderr.
        log: Vec<String>,
    },
    /// The server answered the readiness request with a status other than 2xx.
    #[error("{command:?} answered GET {path} with status {status}; every measured request would be an error")]
    AnswerOk {
        /// The command line.
        command: String,
        /// The request target.
        path: String,
        /// The status.
        status: u16,
    },
    /// Waiting for the server failed.
    #[error("cannot wait for the server: {0}")]
    Wait(std::io::Error),
    /// The wait was given up (Ctrl-C).
    #[error("interrupted")]
    Interrupt,
}

/// `: last log line | ...` for error messages, on one line.
fn tail(log: &[String]) -> String {
    let lines: Vec<&str> = log.iter().rev().take(3).rev().map(|l| l.trim()).collect();
    if lines.is_empty() {
        String::new()
    } else {
        format!(": {}", lines.join(" | "))
    }
}

/// A loopback port that was free a moment ago. The server binds it a few milliseconds later;
/// another process taking it in between would make the start fail, not mismeasure.
pub fn free_port() -> Result<u16, ServerError> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(ServerError::FindPort)?;
    Ok(l.local_addr().map_err(ServerError::FindPort)?.port())
}

/// A running server.
pub struct ServerProcess {
    child: Child,
    command: String,
    port: u16,
    log: Arc<Mutex<VecDeque<String>>>,
    exited: bool,
}

impl ServerProcess {
    /// Starts `argv` (program first) with stdout discarded and stderr kept for error messages.
    pub fn start(argv: &[String], port: u16) -> Result<ServerProcess, ServerError> {
        let command = argv.join(" ");
        let Some((program, args)) = argv.split_first() else {
            return Err(ServerError::Spawn {
                command,
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            });
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own group: one killpg reaches the workers too, and a Ctrl-C at the terminal
            // reaches only the bench, which then stops the server in order.
            .process_group(0);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid) run, and
        // nothing is allocated.
        unsafe {
            cmd.pre_exec(move || {
                // If the bench dies without unwinding (SIGKILL), the kernel TERMs the server.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The bench died before prctl took effect: nobody would stop this server.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| ServerError::Spawn {
            command: command.clone(),
            source,
        })?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let sink = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let Ok(mut tail) = sink.lock() else { break };
                    if tail.len() == LOG_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            });
        }
        Ok(ServerProcess {
            child,
            command,
            port,
            log,
            exited: false,
        })
    }

    /// The root process's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The port the server was told to use.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The root process and its live descendants.
    pub fn processes(&self) -> Vec<procstat::Proc> {
        procstat::process_tree(self.pid())
    }

    fn log_tail(&self) -> Vec<String> {
        self.log.lock().map(|l| l.iter().cloned().collect()).unwrap_or_default()
    }

    /// Waits until the server answers `GET path` with a 2xx status and, if `children` is given,
    /// until the root has that many child processes (forkhorn's workers). Setting `stop` ends
    /// the wait.
    pub fn wait_ready(&mut self, path: &str, children: Option<usize>, stop: &AtomicBool) -> Result<(), ServerError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if stop.load(Ordering::Relaxed) {
                return Err(ServerError::Interrupt);
            }
            if let Some(status) = self.child.try_wait().map_err(ServerError::Wait)? {
                self.exited = true;
                // Give the log reader a moment to collect the last words; they explain the exit.
                std::thread::sleep(Duration::from_millis(100));
                return Err(ServerError::ExitEarly {
                    command: self.command.clone(),
                    status,
                    log: self.log_tail(),
                });
            }
            if let Some(status) = probe(addr, path) {
                if !(200..300).contains(&status) {
                    return Err(ServerError::AnswerOk {
                        command: self.command.clone(),
                        path: path.to_owned(),
                        status,
                    });
                }
                let enough = children.is_none_or(|n| self.processes().len() > n);
                if enough {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(ServerError::Answer {
                    command: self.command.clone(),
                    path: path.to_owned(),
                    port: self.port,
                    log: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server: TERM to the root, a wait of up to `grace`, then KILL to the group.
    /// Returns how the root exited.
    pub fn stop(mut self, grace: Duration) -> Result<ExitStatus, ServerError> {
        self.exited = true;
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + grace;
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(ServerError::Wait)? {
                break status;
            }
            if Instant::now() > deadline {
                kill_group(self.pid());
                break self.child.wait().map_err(ServerError::Wait)?;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Anything the root left behind in its group goes too.
        kill_group(self.pid());
        Ok(status)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if !self.exited {
            kill_group(self.pid());
            let _ = self.child.wait();
        }
    }
}

fn signal(pid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) has no memory effects; pid is a child this process started.
    unsafe { libc::kill(pid, sig) };
}

/// KILLs every process in the group the server leads (its pid is the group id).
fn kill_group(pgid: i32) {
    // SAFETY: killpg(2) has no memory effects; the group was created for this server.
    unsafe { libc::killpg(pgid, libc::SIGKILL) };
}

/// One GET on a new connection; the status, or None if there is no complete answer yet.
fn probe(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut reader = ResponseReader::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return reader.end().ok().map(|c| c.status);
        }
        buf.extend_from_slice(&chunk[..n]);
        let fed = reader.feed(&buf).ok()?;
        buf.drain(..fed.consumed);
        if let Some(c) = fed.complete {
            return Some(c.status);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_exits_is_reported_with_its_last_words() {
        let port = free_port().unwrap();
        let argv = ["sh", "-c", "echo starting >&2; echo cannot bind >&2; exit 3"].map(String::from);
        let mut s = ServerProcess::start(&argv, port).unwrap();
        let e = s
            .wait_ready("/", None, &AtomicBool::new(false))
            .unwrap_err()
            .to_string();
        assert!(e.contains("exited with exit status: 3 before answering"), "{e}");
        assert!(e.ends_with(": starting | cannot bind"), "{e}");
    }

    #[test]
    fn stop_ends_the_whole_group() {
        let port = free_port().unwrap();
        // A root that ignores TERM and has a child: stop must still end both.
        let argv = ["sh", "-c", "trap '' TERM; sleep 300 & wait"].map(String::from);
        let s = ServerProcess::start(&argv, port).unwrap();
        let pid = s.pid();
        let deadline = Instant::now() + Duration::from_secs(5);
        while procstat::process_tree(pid).len() < 2 {
            assert!(Instant::now() < deadline, "the child never appeared");
            std::thread::sleep(Duration::from_millis(10));
        }
        let kids = procstat::pids(&procstat::process_tree(pid));
        let started = Instant::now();
        let grace = Duration::from_millis(300);
        let status = s.stop(grace).unwrap();
        assert!(!status.success());
        assert!(started.elapsed() >= grace);
        // SIGKILL is delivered asynchronously: give the group a moment to die.
        let deadline = Instant::now() + Duration::from_secs(5);
        for kid in kids {
            loop {
                let gone = std::fs::read_to_string(format!("/proc/{kid}/stat"))
                    .ok()
                    .and_then(|t| procstat::parse_stat(&t))
                    .is_none_or(|st| st.state == 'Z');
                if gone {
                    break;
                }
                assert!(Instant::now() < deadline, "{kid} survived");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
