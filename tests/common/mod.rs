//! The integration-test harness: starts the real `forkhorn` binary on a free port, collects its
//! log, and speaks raw HTTP/1.1 to it; drives load, FIFO barriers and signals.
// Each test crate compiles this module for itself and uses only part of it.
#![allow(dead_code)]

pub mod ops;
#[cfg(feature = "python")]
pub mod python;
pub mod skip;

pub use nix::sys::signal::Signal;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// A running forkhorn master, killed (with its workers) when dropped.
pub struct Server {
    child: Child,
    /// The first TCP listener's address, read from the `Listening at:` log line.
    pub addr: SocketAddr,
    log: Lines,
    /// What the master and its workers write to stdout.
    stdout: Lines,
    exited: Option<ExitStatus>,
}

/// Lines read from one of the child's output streams by a thread of their own.
type Lines = Arc<(Mutex<Vec<String>>, Condvar)>;

/// Collects the lines of `stream` into new [`Lines`] (echoed when `FORKHORN_TEST_LOG` is set).
fn collect_lines(stream: impl Read + Send + 'static) -> Lines {
    let lines: Lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if std::env::var_os("FORKHORN_TEST_LOG").is_some() {
                eprintln!("{line}");
            }
            let (lines, cv) = &*sink;
            lines.lock().unwrap().push(line);
            cv.notify_all();
        }
    });
    lines
}

/// Waits until `count` of `lines` contain `needle`; returns the last of them.
fn wait_lines(lines: &Lines, needle: &str, count: usize) -> String {
    let (lines, cv) = &**lines;
    let deadline = Instant::now() + WAIT;
    let mut guard = lines.lock().unwrap();
    loop {
        let hits: Vec<&String> = guard.iter().filter(|l| l.contains(needle)).collect();
        if hits.len() >= count {
            return hits[count - 1].clone();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {count} x {needle:?}; lines:\n{}",
            guard.join("\n")
        );
        guard = cv.wait_timeout(guard, left).unwrap().0;
    }
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_forkhorn")
}

/// `forkhorn ARGS -b 127.0.0.1:0`, without `-b` when ARGS bind or name a config file.
fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    // A config file used in a test names its own `bind` (the command line would override it).
    if !args.iter().any(|a| *a == "-b" || *a == "-c" || a.starts_with("--bind")) {
        cmd.args(["-b", "127.0.0.1:0"]);
    }
    cmd
}

impl Server {
    /// Starts `forkhorn ARGS -b 127.0.0.1:0` and waits for its listening line and for
    /// `workers` workers to report that they booted.
    pub fn start(args: &[&str], workers: usize) -> Server {
        Server::start_cmd(&mut command(args), workers)
    }

    /// As [`Server::start`], in a process group of its own, as a service or a background job
    /// runs: a master in its terminal's foreground ignores WINCH (a resize sends it), so a
    /// test that sends WINCH must not depend on how the test run itself was started.
    pub fn start_outside_terminal(args: &[&str], workers: usize) -> Server {
        Server::start_cmd(command(args).process_group(0), workers)
    }

    /// Starts a prepared command (its stderr and stdout are captured) and waits as
    /// [`Server::start`] does; with `workers` 0, only for the listening line.
    pub fn start_cmd(cmd: &mut Command, workers: usize) -> Server {
        let mut server = Server::spawn(cmd);
        server.addr = listen_addr(&server.wait_log("Listening at: http://", 1));
        if workers > 0 {
            server.wait_log("Booting worker", workers);
        }
        server
    }

    /// Starts a prepared command (its stderr and stdout are captured) without waiting for
    /// anything; `addr` stays unset (0.0.0.0:0) until the caller reads it from the log.
    pub fn spawn(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn forkhorn");
        let log = collect_lines(child.stderr.take().expect("stderr"));
        let stdout = collect_lines(child.stdout.take().expect("stdout"));
        Server {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            log,
            stdout,
            exited: None,
        }
    }

    /// The master's pid.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Every log line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.0.lock().unwrap().clone()
    }

    /// Waits until `count` log lines (stderr) contain `needle`; returns the last of them.
    pub fn wait_log(&self, needle: &str, count: usize) -> String {
        wait_lines(&self.log, needle, count)
    }

    /// Every stdout line so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.0.lock().unwrap().clone()
    }

    /// Waits until `count` stdout lines contain `needle`; returns the last of them.
    pub fn wait_stdout(&self, needle: &str, count: usize) -> String {
        wait_lines(&self.stdout, needle, count)
    }

    /// Sends a signal to the master.
    pub fn signal(&self, sig: Signal) {
        assert!(kill(self.pid(), sig), "send {sig} to the master");
    }

    /// Waits for the master to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let log = self.log.clone();
        let status = wait_child(&mut self.child, || {
            format!("the master did not exit; log:\n{}", log.0.lock().unwrap().join("\n"))
        });
        self.exited = Some(status);
        status
    }

    /// The master's live children (its workers).
    pub fn workers(&self) -> Vec<i32> {
        children_of(self.pid())
    }

    /// Opens a connection.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// Sends one raw request on a new connection and reads the whole answer (until close).
    pub fn exchange(&self, raw: &[u8]) -> Vec<u8> {
        let mut s = self.connect();
        s.write_all(raw).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    /// GET `path` on a new connection; the parsed response.
    pub fn get(&self, path: &str) -> Response {
        get(self.addr, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited.is_none() {
            kill_with_workers(&mut self.child);
        }
    }
}

/// The address in a `Listening at: http://ADDR (PID)` log line.
pub fn listen_addr(line: &str) -> SocketAddr {
    let url = line.split("Listening at: http://").nth(1).expect("a Listening at line");
    url.split_whitespace().next().unwrap().parse().expect("listen address")
}

/// GET `path` from `addr` on a new connection; the parsed response.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    read_response(&mut BufReader::new(s), false).expect("response")
}

/// Waits for `child` to exit; `what` says what was expected, should it not.
fn wait_child(child: &mut Child, what: impl FnOnce() -> String) -> ExitStatus {
    let mut status = None;
    let deadline = Instant::now() + WAIT;
    while status.is_none() && Instant::now() < deadline {
        status = child.try_wait().expect("try_wait");
        if status.is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    status.unwrap_or_else(|| panic!("{}", what()))
}

/// Kills a master the test started, and the workers it leaves behind.
fn kill_with_workers(master: &mut Child) {
    let workers = children_of(master.id() as i32);
    let _ = master.kill();
    let _ = master.wait();
    for w in workers {
        kill(w, Signal::SIGKILL);
    }
}

/// Sends a signal to any process; whether it could be sent.
pub fn kill(pid: i32, sig: Signal) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig).is_ok()
}

/// A process's state letter from /proc (`R`, `S`, `T` for stopped, `Z`...); None once it is gone.
pub fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Whether `pid`'s main thread is blocked in a sleep system call (`nanosleep` or
/// `clock_nanosleep`, from /proc/PID/syscall): for a worker of a builtin app that sleeps, its
/// request is inside the app.
pub fn in_sleep_call(pid: i32) -> bool {
    let Ok(call) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return false;
    };
    let nr = call
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<libc::c_long>().ok());
    nr == Some(libc::SYS_nanosleep) || nr == Some(libc::SYS_clock_nanosleep)
}

/// Stops `pid` with SIGSTOP and waits until it is stopped.
pub fn stop_process(pid: i32) {
    assert!(kill(pid, Signal::SIGSTOP), "SIGSTOP {pid}");
    wait_until("the process is stopped", || process_state(pid) == Some('T'));
}

/// Live (non-zombie) children of `pid`, from /proc.
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 1 && fields[1] == pid.to_string() && fields[0] != "Z" {
            out.push(child);
        }
    }
    out.sort();
    out
}

/// Waits until `f` holds, or fails with `what`.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An example binary (`cargo test` builds every example before running the tests).
pub fn example(name: &str) -> std::path::PathBuf {
    // Integration tests live in target/<profile>/deps; examples in target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(path.exists(), "cargo test builds examples: {}", path.display());
    path
}

/// After USR2: the pid of the new master, from the old master's log line.
pub fn upgraded_master_pid(old: &Server) -> i32 {
    let line = old.wait_log("Upgrading: started a new master (pid ", 1);
    line.split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// CPU time (utime + stime, in clock ticks) a process has used, from /proc.
pub fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The command line of a process as `ps` shows it.
pub fn cmdline(pid: i32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ").trim().to_string()
}

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// The status line.
    pub status_line: String,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The de-framed body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Reads one response from `r`: head, then a body framed by Content-Length, chunked, or close.
/// `head_request`: the response to a HEAD has no body. None at a clean end of stream.
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> Option<Response> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status_line = line.trim_end().to_string();
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut resp = Response {
        status,
        status_line,
        headers,
        body: Vec::new(),
    };
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        return Some(resp);
    }
    if let Some(n) = resp.header("Content-Length") {
        let n: usize = n.parse().ok()?;
        resp.body.resize(n, 0);
        r.read_exact(&mut resp.body).ok()?;
    } else if resp
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            r.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim_end().split(';').next()?, 16).ok()?;
            if size == 0 {
                // Trailer section up to the empty line.
                loop {
                    line.clear();
                    r.read_line(&mut line).ok()?;
                    if line.trim_end().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = resp.body.len();
            resp.body.resize(start + size, 0);
            r.read_exact(&mut resp.body[start..]).ok()?;
            line.clear();
            r.read_line(&mut line).ok()?;
        }
    } else {
        r.read_to_end(&mut resp.body).ok()?;
    }
    Some(resp)
}

/// Parses every response in `bytes` (a whole connection's output).
pub fn parse_all(bytes: &[u8]) -> Vec<Response> {
    let mut r = BufReader::new(bytes);
    std::iter::from_fn(|| read_response(&mut r, false)).collect()
}

/// Writes `contents` to a new temporary file and returns its path.
pub fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("forkhorn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A background client that sends GET requests in a loop until stopped, counting answers and
/// failures: keep-alive (one connection, reopened only after the server said
/// `Connection: close`) or a new connection per request.
pub struct Load {
    stop: Arc<AtomicBool>,
    /// Requests answered so far, per client.
    served: Arc<Vec<AtomicU64>>,
    threads: Vec<std::thread::JoinHandle<LoadStats>>,
}

/// What a [`Load`] client saw.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    /// Requests answered with a complete 200.
    pub ok: u64,
    /// Requests that failed: connect error, reset, EOF or a non-200, with what happened.
    pub failures: Vec<String>,
}

impl Load {
    /// Starts `clients` clients of each kind against `addr`.
    pub fn start(addr: SocketAddr, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let served: Arc<Vec<AtomicU64>> = Arc::new((0..clients * 2).map(|_| AtomicU64::new(0)).collect());
        let mut threads = Vec::new();
        for i in 0..clients * 2 {
            let (stop, served) = (stop.clone(), served.clone());
            let keepalive = i % 2 == 0;
            threads.push(std::thread::spawn(move || {
                client_loop(addr, keepalive, &stop, &served[i])
            }));
        }
        Load { stop, served, threads }
    }

    /// How many requests each client has had answered so far: a mark to wait from.
    pub fn mark(&self) -> Vec<u64> {
        self.served.iter().map(|n| n.load(Ordering::SeqCst)).collect()
    }

    /// Waits until every client has had a request answered after `mark` (taken by
    /// [`Load::mark`]): whatever happened before the mark, the server serves each client since.
    pub fn wait_served_since(&self, mark: &[u64]) {
        wait_until("every load client is answered again", || {
            self.mark().iter().zip(mark).all(|(now, then)| now > then)
        });
    }

    /// Stops the clients and sums what they saw.
    pub fn finish(self) -> LoadStats {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = LoadStats::default();
        for t in self.threads {
            let s = t.join().unwrap();
            total.ok += s.ok;
            total.failures.extend(s.failures);
        }
        total
    }
}

fn client_loop(addr: SocketAddr, keepalive: bool, stop: &AtomicBool, served: &AtomicU64) -> LoadStats {
    let mut stats = LoadStats::default();
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    // Requests answered on the current connection (0: the server may never have accepted it).
    let mut answered = 0u32;
    while !stop.load(Ordering::Relaxed) {
        if conn.is_none() {
            match TcpStream::connect(addr) {
                Ok(s) => {
                    s.set_read_timeout(Some(WAIT)).unwrap();
                    let r = BufReader::new(s.try_clone().unwrap());
                    conn = Some((s, r));
                    answered = 0;
                }
                Err(e) => {
                    stats.failures.push(format!("connect: {e}"));
                    continue;
                }
            }
        }
        let Some((w, r)) = conn.as_mut() else { continue };
        let req: &[u8] = if keepalive {
            b"GET /load HTTP/1.1\r\nHost: h\r\n\r\n"
        } else {
            b"GET /load HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        };
        if let Err(e) = w.write_all(req) {
            stats.failures.push(format!("write: {e}"));
            conn = None;
            continue;
        }
        match read_response(r, false) {
            Some(resp) if resp.status == 200 => {
                stats.ok += 1;
                served.fetch_add(1, Ordering::SeqCst);
                answered += 1;
                if !keepalive
                    || resp
                        .header("Connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                {
                    conn = None;
                }
            }
            Some(resp) => {
                stats.failures.push(format!("status {}", resp.status));
                conn = None;
            }
            None if answered == 0 => {
                stats
                    .failures
                    .push(format!("no response on a new connection (keepalive={keepalive})"));
                conn = None;
            }
            None => {
                stats
                    .failures
                    .push(format!("no response after {answered} on one connection"));
                conn = None;
            }
        }
    }
    stats
}

/// A FIFO through which a test confirms each block of a streamed response it received: the
/// test apps make block N+1 only after reading a confirmation byte, so a block the server held
/// back leaves the test waiting (and failing after [`WAIT`]) instead of anyone guessing a time.
pub struct Confirmations {
    /// The FIFO's path, given to the app in the query string.
    pub path: std::path::PathBuf,
    writer: Option<std::fs::File>,
}

impl Confirmations {
    /// Makes a new FIFO.
    pub fn new(name: &str) -> Confirmations {
        let dir = std::env::temp_dir().join(format!("forkhorn-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.fifo"));
        let _ = std::fs::remove_file(&path);
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
        Confirmations { path, writer: None }
    }

    /// Waits until the app has opened the FIFO: the request is inside the app.
    pub fn wait_opened(&mut self) -> &mut std::fs::File {
        use std::os::unix::fs::OpenOptionsExt;
        if self.writer.is_none() {
            // Without a reader, a non-blocking open for writing fails with ENXIO instead of
            // waiting: the test polls for the reader with a deadline instead of hanging.
            let mut opened = None;
            wait_until("the app opens the FIFO", || {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&self.path)
                {
                    Ok(f) => opened = Some(f),
                    Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
                    Err(e) => panic!("open the FIFO: {e}"),
                }
                opened.is_some()
            });
            let f = opened.expect("opened");
            // Writes block again, as on a FIFO opened the ordinary way.
            nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty())).expect("F_SETFL");
            self.writer = Some(f);
        }
        self.writer.as_mut().expect("opened")
    }

    /// Confirms one block; the first call waits until the app has opened the FIFO.
    pub fn confirm(&mut self) {
        self.wait_opened().write_all(b"+").expect("confirm a block");
    }

    /// Confirms one more block; false once the app has closed the FIFO (its body was closed).
    pub fn try_confirm(&mut self) -> bool {
        let w = self
            .writer
            .as_mut()
            .expect("confirm() or wait_opened() opened the FIFO");
        match w.write_all(b"+") {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => false,
            Err(e) => panic!("confirm a block: {e}"),
        }
    }

    /// Confirmations the app has not read yet.
    pub fn unread(&self) -> usize {
        use std::os::fd::AsRawFd;
        let Some(w) = &self.writer else { return 0 };
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD stores one c_int through the pointer, which points at `n`.
        let r = unsafe { libc::ioctl(w.as_raw_fd(), libc::FIONREAD, &mut n) };
        assert_eq!(r, 0, "FIONREAD on the FIFO");
        n as usize
    }
}

impl Drop for Confirmations {
    fn drop(&mut self) {
        self.writer = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sends `GET path?<fifo>` and reads a chunked response of `blocks` blocks `block N\n`, each
/// one confirmed only after it arrived, then the last chunk. Fails if a block does not come
/// before the next is confirmed (within [`WAIT`]).
pub fn read_confirmed_blocks(s: &Server, path: &str, name: &str, blocks: usize) {
    let mut fifo = Confirmations::new(name);
    let mut c = s.connect();
    write!(c, "GET {path}?{} HTTP/1.1\r\nHost: t\r\n\r\n", fifo.path.display()).unwrap();
    let mut r = BufReader::new(c);
    let head = read_head(&mut r);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
    for i in 0..blocks {
        let expected = format!("block {i}\n");
        let mut size = String::new();
        r.read_line(&mut size)
            .unwrap_or_else(|e| panic!("block {i} was held back: {e}"));
        assert_eq!(size, format!("{:x}\r\n", expected.len()), "block {i}");
        let mut data = vec![0; expected.len() + 2];
        r.read_exact(&mut data).unwrap();
        assert_eq!(data, format!("{expected}\r\n").as_bytes());
        if i + 1 < blocks {
            fifo.confirm();
        }
    }
    let mut last = [0u8; 5];
    r.read_exact(&mut last).unwrap();
    assert_eq!(&last, b"0\r\n\r\n");
}

/// Reads a response head up to its blank line.
pub fn read_head(r: &mut impl BufRead) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("read the head");
        assert!(!line.is_empty(), "connection closed in the head: {head}");
        head.push_str(&line);
        if line == "\r\n" {
            return head;
        }
    }
}

/// TCP segments with data this socket has received so far (`tcpi_data_segs_in` of TCP_INFO),
/// however its reads split the bytes: read before and after a response, the difference is the
/// number of segments the server sent it in.
pub fn data_segments_in(s: &TcpStream) -> u32 {
    tcp_info(s, std::mem::offset_of!(libc::tcp_info, tcpi_data_segs_in)).tcpi_data_segs_in
}

/// Every TCP segment this socket has received so far (`tcpi_segs_in`): with data, or not (an
/// acknowledgement, a FIN of its own).
pub fn segments_in(s: &TcpStream) -> u32 {
    tcp_info(s, std::mem::offset_of!(libc::tcp_info, tcpi_segs_in)).tcpi_segs_in
}

/// TCP_INFO of `s`, which must reach at least the u32 field at `field` (newer fields are zero
/// on kernels that lack them, which the assertion catches).
fn tcp_info(s: &TcpStream, field: usize) -> libc::tcp_info {
    use std::os::fd::AsRawFd;
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is a writable tcp_info of `len` bytes; the kernel writes at most `len`
    // bytes of it and sets `len` to what it wrote.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO: {}", std::io::Error::last_os_error());
    let end = field + std::mem::size_of::<u32>();
    assert!(
        len as usize >= end,
        "this kernel's TCP_INFO is {len} bytes, short of {end}"
    );
    // SAFETY: zeroed, then filled by the kernel: every field holds a valid integer.
    unsafe { info.assume_init() }
}
