//! The validated configuration: defaults (with `PORT` and `WEB_CONCURRENCY`), the TOML file,
//! `GUNICORN_CMD_ARGS`, `FORKHORN_CMD_ARGS` and the command line, merged in that order of
//! precedence, as gunicorn merges its sources.
//!
//! - `table` describes every setting once: key, flag, type, default, help, example paragraph,
//!   check; [`Config`] and everything else that lists the settings is generated from it;
//! - `setting` is what the table is made of: the macro, the shape of a flag, the checks that
//!   judge a value the same way for every source;
//! - `args` builds the command line's setting flags from the table and reads them back
//!   ([`CommandLine`]);
//! - `file` turns TOML text into a [`Config`] (pure: no file or environment access);
//! - `python_file` runs a Python config file (`gunicorn.conf.py`) in an evaluator process and
//!   turns its module-level names into a [`Config`] through the same checks;
//! - `load` reads the sources (the only I/O here) and merges them: [`load`], `load_from` (the
//!   environment given);
//! - `addr` parses listening addresses, `allow` the entries of [`AllowIps`] lists, `syslog` the
//!   syslog address and facility; `render` prints a config back as TOML ([`Config::to_toml`])
//!   and writes the example file ([`example_toml`]),
//!   `suggest` finds the setting a misspelt key meant;
//! - [`access_format`] is the grammar of `access_log_format`, which the access log renders;
//! - `system` is what checks ask the machine (host names, directories, users), injected so that
//!   only `load` touches it;
//! - [`ConfigError`] is the one-line message for anything a user got wrong.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;

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

/// gunicorn's worker classes: all run the event loop on the worker's main thread, and differ in
/// where the application runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerClass {
    /// The application runs on the loop's thread, unless `threads` is above 1 (gunicorn too
    /// switches a sync worker to gthread then).
    Sync,
    /// The application runs on a pool of `threads` application threads.
    Gthread,
    /// gunicorn's gevent worker, served as gthread (see [`WorkerClass::is_async`]).
    Gevent,
    /// gunicorn's eventlet worker, served as gthread.
    Eventlet,
    /// gunicorn's tornado worker, served as gthread.
    Tornado,
}

/// Application threads per worker for an async worker class when `threads` is left at 1: what
/// such an app expects is many requests waiting at once, which gunicorn's async workers give up
/// to `worker_connections` (1000) greenlets; 32 threads serve most apps that wait on a database
/// or an API without the memory of a thousand stacks.
pub const ASYNC_THREADS: usize = 32;

impl WorkerClass {
    /// The name as written in `worker_class`.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerClass::Sync => "sync",
            WorkerClass::Gthread => "gthread",
            WorkerClass::Gevent => "gevent",
            WorkerClass::Eventlet => "eventlet",
            WorkerClass::Tornado => "tornado",
        }
    }

    /// gunicorn's async classes: forkhorn has no green threads, so it serves their apps with the
    /// threaded worker (the app waits on a thread instead of a greenlet) and says so at start-up.
    pub fn is_async(self) -> bool {
        matches!(self, WorkerClass::Gevent | WorkerClass::Eventlet | WorkerClass::Tornado)
    }
}

impl Config {
    /// Whether the application runs on a pool of application threads rather than on the
    /// worker's loop thread: `threads` above 1, or the gthread or an async worker class.
    pub fn threaded(&self) -> bool {
        self.threads > 1 || self.worker_class != WorkerClass::Sync
    }

    /// Gives an async worker class left at one thread [`ASYNC_THREADS`] threads: the last step of
    /// loading, so that the workers, `--print-config` and the start-up warning see one count.
    pub(crate) fn settle_async_threads(&mut self) {
        if self.worker_class.is_async() && self.threads == 1 {
            self.threads = ASYNC_THREADS;
        }
    }

    /// One warning line for each setting that is set but that forkhorn does not act on, and for
    /// an async worker class served by the threaded worker; logged once at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = table::Setting::ALL
            .into_iter()
            .filter_map(|s| {
                let why = s.describe().ignored?;
                self.value_toml(s).map(|_| format!("{} {why}", s.key()))
            })
            .collect();
        if self.worker_class.is_async() {
            out.push(format!(
                "worker_class {:?}: forkhorn has no {} worker and runs the app on the threaded worker, \
                 {} threads per worker (threads, --threads, sets the count)",
                self.worker_class.as_str(),
                self.worker_class.as_str(),
                self.threads
            ));
        }
        out
    }
}

impl Config {
    /// Reads and checks the files of `certfile`, `keyfile` and `ca_certs` into the TLS
    /// configuration the workers serve with (none without `certfile`). The loader calls it last;
    /// the master calls it for a configuration built in code.
    pub(crate) fn load_tls(&mut self) -> Result<(), ConfigError> {
        use crate::tls::{Acceptor, ClientCerts, Settings, TlsError};
        self.tls = None;
        let Some(certfile) = self.certfile.as_deref() else {
            return match self.keyfile {
                Some(_) => Err(TlsError::FindCertfile.into()),
                None => Ok(()),
            };
        };
        let settings = Settings {
            certfile: std::path::Path::new(certfile),
            keyfile: std::path::Path::new(self.keyfile.as_deref().unwrap_or(certfile)),
            ca_certs: self.ca_certs.as_deref().map(std::path::Path::new),
            client_certs: match self.cert_reqs {
                None | Some(0) => ClientCerts::None,
                Some(1) => ClientCerts::Optional,
                Some(_) => ClientCerts::Required,
            },
            ciphers: self.ciphers.as_deref(),
        };
        self.tls = Some(Acceptor::load(&settings)?);
        Ok(())
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

pub mod access_format;
mod addr;
mod allow;
mod args;
mod error;
mod file;
mod load;
pub(crate) mod python_file;
mod render;
mod setting;
mod stream;
mod suggest;
mod syslog;
mod system;
mod table;

pub(crate) use args::optional_values_spelt_out;
pub use args::{add_args, CommandLine};
pub use error::{ConfigError, Origin};
pub use load::{default_file, load, load_with_warnings, GUNICORN_CONF};
#[cfg(feature = "python")]
pub(crate) use python_file::{EvaluatorArgs, Report};
pub use render::example_toml;
pub(crate) use stream::StdStream;
pub use table::Config;
