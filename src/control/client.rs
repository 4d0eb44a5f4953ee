//! `forkhorn ctl`: the control socket's client. It sends one request line per command and
//! prints the answer as a table (or, with `--json`, as the master's JSON). `top` asks for the
//! status, the stats and the workers once a second and redraws.

use super::protocol::{Request, Stats, Status, WorkerInfo};
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::Value;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Where `forkhorn ctl` looks without `--socket`: the packaged unit's RuntimeDirectory.
const PACKAGED_SOCKET: &str = "/run/forkhorn/forkhorn.ctl";
/// How long an answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// The socket could not be reached.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The request or the answer could not go through.
    #[error("control socket: {0}")]
    Talk(std::io::Error),
    /// The answer is not what the protocol says.
    #[error("control socket: unexpected answer: {0}")]
    ReadAnswer(String),
    /// The master refused the request.
    #[error("{0}")]
    Refused(String),
}

fn command() -> Command {
    let count = || {
        Arg::new("count")
            .value_parser(clap::value_parser!(usize))
            .required(true)
    };
    Command::new("forkhorn ctl")
        .bin_name("forkhorn ctl")
        .about("Show and steer a running forkhorn master through its control socket")
        .arg(
            Arg::new("socket")
                .long("socket")
                .short('s')
                .value_name("PATH")
                .value_parser(clap::value_parser!(PathBuf))
                .global(true)
                .help("The control socket [default: $RUNTIME_DIRECTORY/forkhorn.ctl, else /run/forkhorn/forkhorn.ctl]"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .global(true)
                .help("Print the master's JSON answer instead of a table"),
        )
        .subcommand_required(true)
        .subcommand(Command::new("status").about("The master: pid, uptime, generation, listeners and their queues"))
        .subcommand(
            Command::new("workers")
                .about("One line per worker (or add/remove workers)")
                .subcommand(
                    Command::new("add")
                        .about("Run N more workers (as N TTINs)")
                        .arg(count()),
                )
                .subcommand(
                    Command::new("remove")
                        .about("Run N fewer workers (as N TTOUs)")
                        .arg(count()),
                ),
        )
        .subcommand(
            Command::new("worker")
                .about("Act on one worker")
                .subcommand_required(true)
                .subcommand(
                    Command::new("kill")
                        .about("Stop one worker gracefully; the master replaces it")
                        .arg(Arg::new("pid").value_parser(clap::value_parser!(i32)).required(true)),
                ),
        )
        .subcommand(Command::new("stats").about("Request totals and rates, worker and reload counters"))
        .subcommand(Command::new("config").about("The effective configuration, as TOML"))
        .subcommand(Command::new("reload").about("Reload as HUP does: rolling, a failure keeps the old workers"))
        .subcommand(Command::new("reopen").about("Reopen the log files as USR1 does"))
        .subcommand(
            Command::new("stop")
                .about("Stop the server (fast, as QUIT; --graceful as TERM)")
                .arg(
                    Arg::new("graceful")
                        .long("graceful")
                        .action(ArgAction::SetTrue)
                        .help("Let requests finish, within graceful_timeout"),
                ),
        )
        .subcommand(Command::new("top").about("Status, stats and workers, redrawn every second"))
}

/// Runs `forkhorn ctl ARGS...` (`args` starts with `ctl`); returns the exit status: 0, 1 when
/// the master could not be reached or refused, 2 for a usage error.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(&matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forkhorn ctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn socket_path(matches: &ArgMatches) -> PathBuf {
    if let Some(p) = matches.get_one::<PathBuf>("socket") {
        return p.clone();
    }
    std::env::var_os("RUNTIME_DIRECTORY")
        .and_then(|dirs| std::env::split_paths(&dirs).next())
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join("forkhorn.ctl"))
        .unwrap_or_else(|| PathBuf::from(PACKAGED_SOCKET))
}

/// A connection to the master.
struct Conn {
    reader: BufReader<UnixStream>,
}

impl Conn {
    fn open(path: PathBuf) -> Result<Conn, CtlError> {
        let stream = UnixStream::connect(&path).map_err(|source| CtlError::Connect { path, source })?;
        stream.set_read_timeout(Some(ANSWER_TIMEOUT)).map_err(CtlError::Talk)?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    /// Sends `req` and returns the `result` of the answer.
    fn ask(&mut self, req: &Request) -> Result<Value, CtlError> {
        let mut line = serde_json::to_vec(req).map_err(|e| CtlError::ReadAnswer(e.to_string()))?;
        line.push(b'\n');
        // A master that refuses a client answers at once and closes: the write may fail, and
        // the refusal is still there to read.
        let sent = self.reader.get_mut().write_all(&line);
        let mut answer = String::new();
        match self.reader.read_line(&mut answer) {
            Ok(0) => {
                return Err(sent.err().map_or(
                    CtlError::ReadAnswer("the master closed the connection".into()),
                    CtlError::Talk,
                ))
            }
            Ok(_) => {}
            Err(e) => return Err(CtlError::Talk(sent.err().unwrap_or(e))),
        }
        let mut v: Value = serde_json::from_str(&answer).map_err(|e| CtlError::ReadAnswer(e.to_string()))?;
        match v.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(v.get_mut("result").map(Value::take).unwrap_or(Value::Null)),
            Some(false) => Err(CtlError::Refused(
                v.get("error").and_then(Value::as_str).unwrap_or("refused").to_owned(),
            )),
            None => Err(CtlError::ReadAnswer(answer.trim_end().to_owned())),
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, CtlError> {
    serde_json::from_value(v).map_err(|e| CtlError::ReadAnswer(e.to_string()))
}

fn run(matches: &ArgMatches) -> Result<(), CtlError> {
    let json = matches.get_flag("json");
    let mut conn = Conn::open(socket_path(matches))?;
    let (name, sub) = matches.subcommand().unwrap_or(("status", matches));
    let req = match (name, sub.subcommand()) {
        ("status", _) => Request::Status,
        ("workers", Some(("add", m))) => Request::AddWorkers {
            count: m.get_one::<usize>("count").copied().unwrap_or(1),
        },
        ("workers", Some(("remove", m))) => Request::RemoveWorkers {
            count: m.get_one::<usize>("count").copied().unwrap_or(1),
        },
        ("workers", _) => Request::Workers,
        ("worker", Some((_, m))) => Request::KillWorker {
            pid: m.get_one::<i32>("pid").copied().unwrap_or(0),
        },
        ("stats", _) => Request::Stats,
        ("config", _) => Request::Config,
        ("reload", _) => Request::Reload,
        ("reopen", _) => Request::Reopen,
        ("stop", _) => Request::Stop {
            graceful: sub.get_flag("graceful"),
        },
        ("top", _) => return top(&mut conn),
        (other, _) => return Err(CtlError::Refused(format!("unknown command {other}"))),
    };
    let result = conn.ask(&req)?;
    let text = match (json, &req) {
        (true, _) => format!("{}\n", serde_json::to_string_pretty(&result).unwrap_or_default()),
        (false, Request::Status) => status_table(&typed(result)?),
        (false, Request::Workers) => workers_table(&typed::<Vec<WorkerInfo>>(result)?),
        (false, Request::Stats) => stats_table(&typed(result)?),
        (false, Request::Config) => result.get("toml").and_then(Value::as_str).unwrap_or("").to_owned(),
        (false, Request::Reload) => format!(
            "reloading: generation {}\n",
            result.get("generation").cloned().unwrap_or(Value::Null)
        ),
        (false, Request::AddWorkers { .. } | Request::RemoveWorkers { .. }) => {
            format!("workers: {}\n", result.get("workers").cloned().unwrap_or(Value::Null))
        }
        (false, Request::KillWorker { pid }) => format!("stopping worker {pid}\n"),
        (false, Request::Reopen) => "reopening the logs\n".to_owned(),
        (false, Request::Stop { .. }) => "stopping\n".to_owned(),
    };
    std::io::stdout().write_all(text.as_bytes()).map_err(CtlError::Talk)
}

/// Redraws status, stats and workers every second until interrupted or the master goes.
fn top(conn: &mut Conn) -> Result<(), CtlError> {
    loop {
        let status: Status = typed(conn.ask(&Request::Status)?)?;
        let stats: Stats = typed(conn.ask(&Request::Stats)?)?;
        let workers: Vec<WorkerInfo> = typed(conn.ask(&Request::Workers)?)?;
        let mut screen = String::from("\x1b[H\x1b[2J");
        let _ = writeln!(
            screen,
            "forkhorn {} master {}  up {}  generation {}  {}  workers {}/{}",
            status.version,
            status.pid,
            duration(status.uptime_seconds),
            status.generation,
            status.state,
            status.workers,
            status.workers_target
        );
        for l in &status.listeners {
            let _ = writeln!(screen, "  {}  queue {}", l.address, queue(l.queue_depth, l.queue_limit));
        }
        let _ = writeln!(
            screen,
            "requests {}  {:.1}/s  mean {:.1} ms  in flight {}  busy {}/{}  connections {}\n",
            stats.requests_total,
            stats.requests_per_second,
            stats.mean_request_seconds * 1000.0,
            stats.in_flight,
            stats.busy_threads,
            stats.threads,
            stats.connections
        );
        screen.push_str(&workers_table(&workers));
        std::io::stdout().write_all(screen.as_bytes()).map_err(CtlError::Talk)?;
        std::io::stdout().flush().map_err(CtlError::Talk)?;
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn queue(depth: Option<u64>, limit: Option<u64>) -> String {
    match (depth, limit) {
        (Some(d), Some(l)) => format!("{d}/{l}"),
        _ => "-".to_owned(),
    }
}

/// `3d4h`, `2h5m`, `4m10s`, `12s`.
fn duration(seconds: f64) -> String {
    let s = seconds as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

fn bytes(n: Option<u64>) -> String {
    match n {
        None => "-".into(),
        Some(n) if n >= 1 << 30 => format!("{:.1}G", n as f64 / (1u64 << 30) as f64),
        Some(n) => format!("{:.1}M", n as f64 / (1u64 << 20) as f64),
    }
}

/// Lays out `rows` under `head` in columns, each as wide as its widest cell.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            let _ = write!(text, "{cell:<w$}  ", w = width[i]);
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut head.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

fn status_table(s: &Status) -> String {
    let mut out = table(
        &[
            "PID",
            "VERSION",
            "UPTIME",
            "GENERATION",
            "STATE",
            "WORKERS",
            "APP",
            "CONFIG",
        ],
        &[vec![
            s.pid.to_string(),
            s.version.clone(),
            duration(s.uptime_seconds),
            s.generation.to_string(),
            s.state.clone(),
            format!("{}/{}", s.workers, s.workers_target),
            s.app.clone(),
            s.config_file.clone().unwrap_or_else(|| "-".into()),
        ]],
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = s
        .listeners
        .iter()
        .map(|l| vec![l.address.clone(), queue(l.queue_depth, l.queue_limit)])
        .collect();
    out.push_str(&table(&["LISTENER", "QUEUE"], &rows));
    out
}

fn workers_table(workers: &[WorkerInfo]) -> String {
    let rows: Vec<Vec<String>> = workers
        .iter()
        .map(|w| {
            vec![
                w.pid.to_string(),
                w.generation.to_string(),
                duration(w.age_seconds),
                w.state.clone(),
                w.requests.to_string(),
                w.in_flight.to_string(),
                format!("{}/{}", w.busy_threads, w.threads),
                w.connections.to_string(),
                bytes(w.rss_bytes),
                w.cpu_seconds.map_or("-".into(), |c| format!("{c:.1}s")),
                match (&w.current_request, w.current_seconds) {
                    (Some(r), Some(s)) => format!("{r} ({s:.1}s)"),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    table(
        &[
            "PID",
            "GEN",
            "AGE",
            "STATE",
            "REQUESTS",
            "IN-FLIGHT",
            "BUSY",
            "CONNS",
            "RSS",
            "CPU",
            "CURRENT",
        ],
        &rows,
    )
}

fn stats_table(s: &Stats) -> String {
    let mut rows = vec![
        vec!["requests".to_owned(), s.requests_total.to_string()],
        vec!["requests/s".to_owned(), format!("{:.1}", s.requests_per_second)],
        vec![
            "mean duration".to_owned(),
            format!("{:.2} ms", s.mean_request_seconds * 1000.0),
        ],
    ];
    rows.extend(
        s.by_status_class
            .iter()
            .map(|(c, n)| vec![format!("status {c}"), n.to_string()]),
    );
    rows.extend([
        vec!["in flight".to_owned(), s.in_flight.to_string()],
        vec!["busy threads".to_owned(), format!("{}/{}", s.busy_threads, s.threads)],
        vec!["connections".to_owned(), s.connections.to_string()],
        vec!["workers".to_owned(), s.workers.to_string()],
        vec!["worker starts".to_owned(), s.worker_starts.to_string()],
        vec!["boot failures".to_owned(), s.boot_failures.to_string()],
    ]);
    rows.extend(
        s.worker_exits
            .iter()
            .map(|(c, n)| vec![format!("exits: {c}"), n.to_string()]),
    );
    rows.extend(
        s.reloads
            .iter()
            .map(|(c, n)| vec![format!("reloads: {c}"), n.to_string()]),
    );
    table(&["STAT", "VALUE"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        let t = table(
            &["A", "BB"],
            &[vec!["xyz".into(), "1".into()], vec!["q".into(), "22".into()]],
        );
        assert_eq!(t, "A    BB\nxyz  1\nq    22\n");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(duration(5.5), "5s");
        assert_eq!(duration(125.0), "2m5s");
        assert_eq!(duration(7300.0), "2h1m");
        assert_eq!(duration(90000.0), "1d1h");
        assert_eq!(bytes(Some(3 << 20)), "3.0M");
        assert_eq!(bytes(None), "-");
    }

    #[test]
    fn the_command_line() {
        let m = command()
            .try_get_matches_from(["ctl", "--socket", "/x", "workers", "add", "2", "--json"])
            .unwrap();
        assert_eq!(socket_path(&m), PathBuf::from("/x"));
        assert!(m.get_flag("json"));
        let (name, sub) = m.subcommand().unwrap();
        assert_eq!(name, "workers");
        assert_eq!(sub.subcommand().unwrap().1.get_one::<usize>("count"), Some(&2));
        assert!(command().try_get_matches_from(["ctl", "worker", "kill"]).is_err());
        assert!(command().try_get_matches_from(["ctl", "launch"]).is_err());
        command().debug_assert();
    }
}
