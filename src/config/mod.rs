//! The validated configuration: defaults, the TOML file, `WEB_CONCURRENCY` and the command line,
//! merged in that order of precedence.
//!
//! - `setting` names every setting and checks values the same way for every source;
//! - `file` turns TOML text into a [`Config`] (pure: no file or environment access);
//! - `load` reads the sources (the only I/O here) and merges them: [`load`], [`load_with_env`];
//! - `addr` parses listening addresses, `render` prints a config back as TOML
//!   ([`Config::to_toml`]), `suggest` finds the setting a misspelt key meant;
//! - [`ConfigError`] is the one-line message for anything a user got wrong.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

/// One listening address, as written in `bind` or `-b`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindAddr {
    /// `HOST:PORT` or `[V6]:PORT`; port 0 asks the kernel for a free port.
    Tcp(SocketAddr),
    /// `unix:PATH`.
    Unix(PathBuf),
    /// `fd://N`: an already-bound listening socket inherited from the parent.
    Fd(RawFd),
}

/// The log threshold (`loglevel`), gunicorn's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything.
    Debug,
    /// Lifecycle events.
    Info,
    /// Problems that do not stop service.
    Warning,
    /// Failures.
    Error,
    /// Failures that stop the server.
    Critical,
}

/// The effective configuration. Every value has been validated.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The config file this came from, if any (re-read on HUP).
    pub config_file: Option<PathBuf>,
    /// Listening addresses.
    pub bind: Vec<BindAddr>,
    /// Number of worker processes.
    pub workers: usize,
    /// listen(2) backlog.
    pub backlog: i32,
    /// Most simultaneous connections one worker holds.
    pub worker_connections: usize,
    /// A worker silent for longer is killed (0 = never).
    pub timeout: Duration,
    /// How long a stopping worker may finish in-flight requests.
    pub graceful_timeout: Duration,
    /// How long an idle keep-alive connection is kept.
    pub keepalive: Duration,
    /// Longest request line in bytes (0 = unlimited).
    pub limit_request_line: usize,
    /// Most header fields in a request.
    pub limit_request_fields: usize,
    /// Longest header field (name, colon, value) in bytes (0 = unlimited).
    pub limit_request_field_size: usize,
    /// Largest request body in bytes (0 = unlimited).
    pub limit_request_body: u64,
    /// Request bodies up to this size stay in memory; larger ones go to a temporary file.
    pub body_buffer_size: usize,
    /// How long a client may take to send a complete request head.
    pub header_timeout: Duration,
    /// The `Server` response header (empty: none).
    pub server_header: String,
    /// The application: `builtin:NAME` or `module.path:callable`.
    pub app: String,
    /// Log threshold.
    pub loglevel: LogLevel,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            config_file: None,
            bind: vec![BindAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 8000)))],
            workers: 1,
            backlog: 2048,
            worker_connections: 1000,
            timeout: Duration::from_secs(30),
            graceful_timeout: Duration::from_secs(30),
            keepalive: Duration::from_secs(2),
            limit_request_line: 4094,
            limit_request_fields: 100,
            limit_request_field_size: 8190,
            limit_request_body: 1 << 30,
            body_buffer_size: 64 * 1024,
            header_timeout: Duration::from_secs(15),
            server_header: "forkhorn".to_string(),
            app: "builtin:hello".to_string(),
            loglevel: LogLevel::Info,
        }
    }
}

impl LogLevel {
    /// The name as written in `loglevel` (gunicorn's, lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }
}

mod addr;
mod error;
mod file;
mod load;
mod render;
mod setting;
mod suggest;

pub use error::{ConfigError, Origin};
pub use load::{load, load_with_env, WEB_CONCURRENCY};
