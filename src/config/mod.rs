//! The validated configuration: defaults, the TOML file, `WEB_CONCURRENCY` and the command line,
//! merged in that order of precedence.
//!
//! - `setting` names every setting and checks values the same way for every source;
//! - `file` turns TOML text into a [`Config`] (pure: no file or environment access);
//! - `load` reads the sources (the only I/O here) and merges them: [`load`], `load_with_env`;
//! - `addr` parses listening addresses, `allow` the entries of [`AllowIps`] lists, `syslog` the
//!   syslog address and facility; `render` prints a config back as TOML ([`Config::to_toml`]),
//!   `suggest` finds the setting a misspelt key meant;
//! - `system` is what checks ask the machine (host names, directories, users), injected so that
//!   only `load` touches it;
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

    // --- HTTP and proxies (the HTTP issue) ---
    /// Peers trusted to set the scheme headers (`X-Forwarded-Proto` ...).
    pub forwarded_allow_ips: AllowIps,
    /// Header (upper case) and value pairs that, from a trusted peer, mean `https`.
    pub secure_scheme_headers: Vec<(String, String)>,
    /// Expect the PROXY protocol (v1 or v2) at the start of each connection.
    pub proxy_protocol: bool,
    /// Peers allowed to send a PROXY protocol header.
    pub proxy_allow_ips: AllowIps,

    // --- Files (the protocol issue) ---
    /// The directory `builtin:static` serves.
    pub static_root: Option<PathBuf>,

    // --- Supervision (the master issue) ---
    /// How long a new worker may take to become ready (slow imports).
    pub boot_timeout: Duration,
    /// A worker is replaced after this many requests (0 = never).
    pub max_requests: u64,
    /// Up to this many requests are added to `max_requests` at random, per worker.
    pub max_requests_jitter: u64,
    /// A worker whose resident memory passes this many MiB is replaced after its requests in
    /// flight, as after `max_requests` (0 = never).
    pub max_worker_memory: u64,
    /// One SO_REUSEPORT listening socket per worker instead of one shared socket.
    pub reuse_port: bool,
    /// Send the responses a worker finishes in one turn of its loop together (see the worker's
    /// `batch` module); off: each as soon as it is made.
    pub batch_responses: bool,
    /// Application threads per worker (gunicorn's `threads`); see [`Config::threaded`].
    pub threads: usize,
    /// gunicorn's `worker_class`: `sync` or `gthread`.
    pub worker_class: WorkerClass,
    /// Where the master writes its pid.
    pub pidfile: Option<PathBuf>,

    // --- Python (the Python issue) ---
    /// Directory to change to before loading the app.
    pub chdir: Option<PathBuf>,
    /// Directories put at the front of `sys.path`.
    pub pythonpath: Vec<PathBuf>,
    /// The virtualenv the app runs in (else `$VIRTUAL_ENV`).
    pub virtualenv: Option<PathBuf>,
    /// Import the app in the master, before forking.
    pub preload_app: bool,

    // --- Operations (the operations issue) ---
    /// The error log: `-` (stderr) or a file path.
    pub errorlog: String,
    /// The access log: `-` (stderr), a file path, or none.
    pub accesslog: Option<String>,
    /// The access log line, in gunicorn's `%(atom)s` format.
    pub access_log_format: String,
    /// Send logs to syslog.
    pub syslog: bool,
    /// `unix:///dev/log`, `unix:///path#dgram|stream`, `udp://host:port`, `tcp://host:port`.
    pub syslog_addr: String,
    /// The syslog facility name (`user`, `daemon`, `local0` ...).
    pub syslog_facility: String,
    /// The program name in syslog lines (default `forkhorn`).
    pub syslog_prefix: Option<String>,
    /// Keep access lines out of syslog.
    pub disable_redirect_access_to_syslog: bool,
    /// Send the application's stdout/stderr to the error log.
    pub capture_output: bool,
    /// Run workers as this user (name or number).
    pub user: Option<String>,
    /// Run workers as this group (name or number).
    pub group: Option<String>,
    /// The process umask.
    pub umask: u32,
    /// The name in process titles (`forkhorn: master [NAME]`).
    pub proc_name: Option<String>,
    /// `KEY=VALUE` pairs set in the workers' environment.
    pub raw_env: Vec<(String, String)>,
    /// Detach from the terminal (not for systemd).
    pub daemon: bool,
}

/// A set of peer addresses: `*` for any, or IP addresses and CIDR networks.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AllowIps {
    /// Any peer is allowed (`*`).
    pub any: bool,
    /// Networks as (address, prefix length); a plain address has the full length.
    pub nets: Vec<(std::net::IpAddr, u8)>,
}

impl AllowIps {
    /// The loopback addresses, gunicorn's default for `forwarded_allow_ips`.
    pub fn loopback() -> AllowIps {
        AllowIps {
            any: false,
            nets: vec![
                (std::net::IpAddr::from([127, 0, 0, 1]), 32),
                (std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST), 128),
            ],
        }
    }

    /// Whether `ip` is in the set (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        if self.any {
            return true;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().any(|&(net, len)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), len),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), len),
            _ => false,
        })
    }
}

fn prefix_eq(a: &[u8], b: &[u8], len: u8) -> bool {
    let full = (len / 8) as usize;
    let rest = len % 8;
    if a[..full.min(a.len())] != b[..full.min(b.len())] {
        return false;
    }
    if rest == 0 || full >= a.len() {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
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
            forwarded_allow_ips: AllowIps::loopback(),
            secure_scheme_headers: vec![
                ("X-FORWARDED-PROTOCOL".into(), "ssl".into()),
                ("X-FORWARDED-PROTO".into(), "https".into()),
                ("X-FORWARDED-SSL".into(), "on".into()),
            ],
            proxy_protocol: false,
            proxy_allow_ips: AllowIps::loopback(),
            static_root: None,
            boot_timeout: Duration::from_secs(120),
            max_requests: 0,
            max_requests_jitter: 0,
            max_worker_memory: 0,
            reuse_port: false,
            batch_responses: true,
            threads: 1,
            worker_class: WorkerClass::Sync,
            pidfile: None,
            chdir: None,
            pythonpath: Vec::new(),
            virtualenv: None,
            preload_app: false,
            errorlog: "-".into(),
            accesslog: None,
            access_log_format: r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#.into(),
            syslog: false,
            syslog_addr: "unix:///dev/log".into(),
            syslog_facility: "user".into(),
            syslog_prefix: None,
            disable_redirect_access_to_syslog: false,
            capture_output: false,
            user: None,
            group: None,
            umask: 0,
            proc_name: None,
            raw_env: Vec::new(),
            daemon: false,
        }
    }
}

#[cfg(test)]
mod allow_tests {
    use super::AllowIps;

    #[test]
    fn allow_ips_table() {
        let set = AllowIps {
            any: false,
            nets: vec![
                ("10.1.0.0".parse().unwrap(), 16),
                ("192.168.1.7".parse().unwrap(), 32),
                ("fd00::".parse().unwrap(), 8),
                ("172.16.0.0".parse().unwrap(), 12),
            ],
        };
        for (ip, want) in [
            ("10.1.200.3", true),
            ("10.2.0.1", false),
            ("192.168.1.7", true),
            ("192.168.1.8", false),
            ("fd12::1", true),
            ("fe80::1", false),
            ("::ffff:10.1.0.9", true),
            ("172.31.255.255", true),
            ("172.32.0.0", false),
        ] {
            assert_eq!(set.contains(ip.parse().unwrap()), want, "{ip}");
        }
        assert!(AllowIps::loopback().contains("::1".parse().unwrap()));
        assert!(!AllowIps::loopback().contains("127.0.0.2".parse().unwrap()));
        let any = AllowIps {
            any: true,
            nets: vec![],
        };
        assert!(any.contains("8.8.8.8".parse().unwrap()));
    }
}

/// gunicorn's worker classes that forkhorn has: both run the event loop on the worker's main
/// thread, and differ in where the application runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerClass {
    /// The application runs on the loop's thread, unless `threads` is above 1 (gunicorn too
    /// switches a sync worker to gthread then).
    Sync,
    /// The application runs on a pool of `threads` application threads.
    Gthread,
}

impl WorkerClass {
    /// The name as written in `worker_class`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerClass::Sync => "sync",
            WorkerClass::Gthread => "gthread",
        }
    }
}

impl Config {
    /// Whether the application runs on a pool of application threads rather than on the
    /// worker's loop thread: `threads` above 1, or the gthread worker class.
    pub fn threaded(&self) -> bool {
        self.threads > 1 || self.worker_class == WorkerClass::Gthread
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
mod allow;
mod error;
mod file;
mod load;
mod render;
mod setting;
mod stream;
mod suggest;
mod syslog;
mod system;

pub use error::{ConfigError, Origin};
pub use load::load;
pub(crate) use stream::StdStream;
