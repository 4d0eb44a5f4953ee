//! The control socket's protocol: one JSON object per line each way. A client sends a request
//! (`{"command":"workers"}`), the master answers with one line, `{"ok":true,"result":...}` or
//! `{"ok":false,"error":"..."}`, and the connection stays open for the next request.
//! `docs/CONTROL.md` is the reference; the types here are both sides' (the master serialises
//! them, `forkhorn ctl` reads them back). Parsing is pure.

use serde::{Deserialize, Serialize};

/// The longest request line the master reads; a longer one is refused and the connection
/// closed.
pub const MAX_LINE: usize = 4096;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The master: pid, uptime, generation, config file, listeners and their queues.
    Status,
    /// One entry per worker process.
    Workers,
    /// Request totals, rates and lifecycle counters.
    Stats,
    /// The effective configuration, as TOML.
    Config,
    /// As HUP: re-read the configuration and replace the workers, rolling.
    Reload,
    /// As USR1: reopen the log files (the master's and the workers').
    Reopen,
    /// As `count` TTINs.
    AddWorkers {
        /// How many more workers.
        count: usize,
    },
    /// As `count` TTOUs (never fewer than one worker).
    RemoveWorkers {
        /// How many fewer workers.
        count: usize,
    },
    /// TERM to one worker; the master starts its replacement.
    KillWorker {
        /// The worker's pid.
        pid: i32,
    },
    /// As TERM (`graceful`) or QUIT.
    Stop {
        /// Let requests finish, within `graceful_timeout`.
        #[serde(default)]
        graceful: bool,
    },
}

/// Why a request line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The line is longer than [`MAX_LINE`].
    #[error("request longer than {MAX_LINE} bytes")]
    ReadLine,
    /// The line is not a request.
    #[error("bad request: {0}")]
    Parse(String),
}

/// Reads one request line (without its newline).
pub fn parse(line: &[u8]) -> Result<Request, ProtocolError> {
    if line.len() > MAX_LINE {
        return Err(ProtocolError::ReadLine);
    }
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    serde_json::from_slice(line).map_err(|e| ProtocolError::Parse(e.to_string()))
}

/// The answer line for `result`, newline included.
pub fn reply(result: Result<serde_json::Value, String>) -> Vec<u8> {
    let value = match result {
        Ok(result) => serde_json::json!({ "ok": true, "result": result }),
        Err(error) => serde_json::json!({ "ok": false, "error": error }),
    };
    let mut line = serde_json::to_vec(&value).unwrap_or_else(|_| br#"{"ok":false,"error":"internal"}"#.to_vec());
    line.push(b'\n');
    line
}

/// A listening socket and its accept queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerInfo {
    /// `http://127.0.0.1:8000` or `unix:/run/app.sock`.
    pub address: String,
    /// Connections waiting to be accepted (None: the kernel does not say for this socket).
    pub queue_depth: Option<u64>,
    /// The queue's limit (the backlog).
    pub queue_limit: Option<u64>,
}

/// The answer to `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The master's pid.
    pub pid: i32,
    /// forkhorn's version.
    pub version: String,
    /// Seconds since the master started.
    pub uptime_seconds: f64,
    /// The generation new workers start in.
    pub generation: u64,
    /// `running`, `paused`, `reloading` or `stopping`.
    pub state: String,
    /// The configuration file, if any.
    pub config_file: Option<String>,
    /// The app served.
    pub app: String,
    /// The number of workers the master keeps.
    pub workers_target: usize,
    /// Worker processes alive now.
    pub workers: usize,
    /// The listening sockets.
    pub listeners: Vec<ListenerInfo>,
}

/// One worker in the answer to `workers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Process id.
    pub pid: i32,
    /// The master's number for it (1, 2, ...).
    pub id: usize,
    /// Its configuration's generation.
    pub generation: u64,
    /// Seconds since it was forked.
    pub age_seconds: f64,
    /// `booting`, `ready`, `retiring`, `stopping`, `killed` or `aborting`.
    pub state: String,
    /// Requests it has answered.
    pub requests: u64,
    /// Requests read and not yet answered.
    pub in_flight: u64,
    /// Threads inside the application now.
    pub busy_threads: usize,
    /// Threads that call the application.
    pub threads: usize,
    /// Connections open.
    pub connections: u64,
    /// Resident memory, bytes.
    pub rss_bytes: Option<u64>,
    /// CPU time used, seconds.
    pub cpu_seconds: Option<f64>,
    /// The longest-running request inside the application now, escaped.
    pub current_request: Option<String>,
    /// How long it has been there, seconds.
    pub current_seconds: Option<f64>,
}

/// The answer to `stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests answered, by every worker that ever ran.
    pub requests_total: u64,
    /// The same by status class: `1xx` ... `5xx`.
    pub by_status_class: std::collections::BTreeMap<String, u64>,
    /// Requests per second, over about the last second.
    pub requests_per_second: f64,
    /// Mean request duration, seconds, since start.
    pub mean_request_seconds: f64,
    /// Requests read and not yet answered, all workers.
    pub in_flight: u64,
    /// Threads inside the application now, all workers.
    pub busy_threads: usize,
    /// Threads that call the application, all workers.
    pub threads: usize,
    /// Connections open, all workers.
    pub connections: u64,
    /// Worker processes alive now.
    pub workers: usize,
    /// Workers forked since start.
    pub worker_starts: u64,
    /// Worker exits by cause.
    pub worker_exits: std::collections::BTreeMap<String, u64>,
    /// Workers that failed to boot.
    pub boot_failures: u64,
    /// Reloads by outcome (`ok`, `rolled_back`, `failed`).
    pub reloads: std::collections::BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let cases: &[(&[u8], Result<Request, &str>)] = &[
            (br#"{"command":"status"}"#, Ok(Request::Status)),
            (b"{\"command\":\"workers\"}\r", Ok(Request::Workers)),
            (
                br#"{"command":"add_workers","count":2}"#,
                Ok(Request::AddWorkers { count: 2 }),
            ),
            (
                br#"{"command":"kill_worker","pid":42}"#,
                Ok(Request::KillWorker { pid: 42 }),
            ),
            (br#"{"command":"stop"}"#, Ok(Request::Stop { graceful: false })),
            (
                br#"{"command":"stop","graceful":true}"#,
                Ok(Request::Stop { graceful: true }),
            ),
            (br#"{"command":"launch"}"#, Err("unknown variant")),
            (br#"{"command":"add_workers"}"#, Err("missing field `count`")),
            (br#"{"command":"add_workers","count":-1}"#, Err("invalid value")),
            (br#"{"command":"add_workers","count":1,"x":1}"#, Err("unknown field")),
            (b"status", Err("expected value")),
            (b"", Err("EOF")),
            (b"\xff\xfe", Err("expected value")),
        ];
        for (line, want) in cases {
            let got = parse(line);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g),
                (Err(w), Err(ProtocolError::Parse(g))) => assert!(g.contains(w), "{line:?}: {g}"),
                _ => panic!("{line:?}: got {got:?}"),
            }
        }
        assert_eq!(parse(&[b' '; MAX_LINE + 1]), Err(ProtocolError::ReadLine));
    }

    #[test]
    fn replies_are_one_line() {
        let ok = reply(Ok(serde_json::json!({"a": "x\ny"})));
        assert_eq!(ok, b"{\"ok\":true,\"result\":{\"a\":\"x\\ny\"}}\n");
        let err = reply(Err("no such worker: 7".into()));
        assert_eq!(err, b"{\"error\":\"no such worker: 7\",\"ok\":false}\n");
        // Round trip of a typed answer.
        let l = ListenerInfo {
            address: "unix:/x".into(),
            queue_depth: Some(3),
            queue_limit: None,
        };
        let v = serde_json::to_value(&l).unwrap();
        assert_eq!(serde_json::from_value::<ListenerInfo>(v).unwrap(), l);
    }
}
