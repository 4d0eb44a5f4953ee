//! Sending log lines to syslog (`syslog = true`) through the `syslog` crate's RFC 3164 framing:
//! `<PRI>Mmm dd hh:mm:ss TAG[PID]: message`.
//!
//! The crate's formatter holds the pid it was given, and a connection shared across fork would
//! interleave on stream transports, so every process has its own [`Syslog`]: the master makes
//! one at start-up and each worker makes a fresh one after fork ([`Syslog::for_this_process`]).
//! Error lines are tagged with the prefix (`forkhorn` by default), access lines with
//! `PREFIX.access`, as gunicorn separates `gunicorn.error` from `gunicorn.access`.
//!
//! Nothing here may use the `log` macros: it runs under the error log's lock.

use std::fmt::Display;
use std::io::{self, BufWriter};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;
use syslog::{Facility, Formatter3164, LogFormat, LoggerBackend, Severity};

/// A TCP syslog server that does not answer in this time is reported as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why syslog cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SyslogError {
    /// `syslog_addr` is not one of the accepted forms.
    #[error("invalid syslog_addr {addr:?}: {why}")]
    ParseAddr {
        /// The address as written.
        addr: String,
        /// What is wrong.
        why: &'static str,
    },
    /// `syslog_facility` is not a facility name.
    #[error("unknown syslog facility {0:?}")]
    ParseFacility(String),
    /// The socket could not be created or connected.
    #[error("cannot connect to syslog at {addr}: {source}")]
    Connect {
        /// The address as written.
        addr: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Where syslog lines go, parsed from `syslog_addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// `unix://PATH`, `unix://PATH#dgram`, `unix://PATH#stream`.
    Unix {
        /// The socket path.
        path: PathBuf,
        /// The socket type.
        kind: UnixKind,
    },
    /// `udp://HOST:PORT`.
    Udp(String),
    /// `tcp://HOST:PORT`.
    Tcp(String),
}

/// The socket type of a `unix://` address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnixKind {
    /// No `#`: a datagram socket, or a stream socket if the path is one (as Python's
    /// SysLogHandler, which gunicorn uses, tries).
    Either,
    /// `#dgram`.
    Dgram,
    /// `#stream`.
    Stream,
}

impl FromStr for Addr {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Addr, &'static str> {
        if let Some(rest) = text.strip_prefix("unix://") {
            let (path, kind) = match rest.rsplit_once('#') {
                Some((p, "dgram")) => (p, UnixKind::Dgram),
                Some((p, "stream")) => (p, UnixKind::Stream),
                Some(_) => return Err("the socket type after # must be dgram or stream"),
                None => (rest, UnixKind::Either),
            };
            if path.is_empty() {
                return Err("expected a socket path after unix://");
            }
            return Ok(Addr::Unix {
                path: path.into(),
                kind,
            });
        }
        let (tcp, netloc) = if let Some(n) = text.strip_prefix("udp://") {
            (false, n)
        } else if let Some(n) = text.strip_prefix("tcp://") {
            (true, n)
        } else {
            return Err("expected unix://PATH[#dgram|#stream], udp://HOST:PORT or tcp://HOST:PORT");
        };
        match netloc.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => return Err("expected HOST:PORT after the scheme"),
        }
        Ok(if tcp {
            Addr::Tcp(netloc.into())
        } else {
            Addr::Udp(netloc.into())
        })
    }
}

/// One process's connection to syslog.
pub struct Syslog {
    addr_text: String,
    addr: Addr,
    backend: LoggerBackend,
    error: Formatter3164,
    access: Formatter3164,
    /// A send failed and was reported; report again only after a success.
    failing: bool,
}

impl Syslog {
    /// Connects to `addr` (a `syslog_addr` value) and tags lines with `prefix` and this
    /// process's pid.
    pub fn connect(addr_text: &str, facility: &str, prefix: &str) -> Result<Syslog, SyslogError> {
        let addr: Addr = addr_text.parse().map_err(|why| SyslogError::ParseAddr {
            addr: addr_text.into(),
            why,
        })?;
        let facility = Facility::from_str(facility).map_err(|()| SyslogError::ParseFacility(facility.into()))?;
        // The local socket needs no host name (glibc's syslog() sends none); a remote server
        // needs to know where the line came from.
        let hostname = match addr {
            Addr::Unix { .. } => None,
            Addr::Udp(_) | Addr::Tcp(_) => hostname(),
        };
        let pid = std::process::id();
        let formatter = |process: String| Formatter3164 {
            facility,
            hostname: hostname.clone(),
            process,
            pid,
        };
        let backend = open(&addr).map_err(|source| SyslogError::Connect {
            addr: addr_text.into(),
            source,
        })?;
        Ok(Syslog {
            addr_text: addr_text.into(),
            addr,
            backend,
            error: formatter(prefix.into()),
            access: formatter(format!("{prefix}.access")),
            failing: false,
        })
    }

    /// After fork: a connection of this process's own, and its pid in the tags.
    pub fn for_this_process(&mut self) -> Result<(), SyslogError> {
        let pid = std::process::id();
        self.error.pid = pid;
        self.access.pid = pid;
        self.backend = open(&self.addr).map_err(|source| SyslogError::Connect {
            addr: self.addr_text.clone(),
            source,
        })?;
        Ok(())
    }

    /// The socket's descriptor (kept open across fork until the worker replaces it).
    pub fn fd(&self) -> RawFd {
        match &self.backend {
            LoggerBackend::Unix(s) => s.as_raw_fd(),
            LoggerBackend::UnixStream(s) => s.get_ref().as_raw_fd(),
            LoggerBackend::Udp(s, _) => s.as_raw_fd(),
            LoggerBackend::Tcp(s) => s.get_ref().as_raw_fd(),
        }
    }

    /// Sends an error-log line at `level`.
    pub fn error_line(&mut self, level: log::Level, message: &dyn Display) {
        let severity = match level {
            log::Level::Error => Severity::LOG_ERR,
            log::Level::Warn => Severity::LOG_WARNING,
            log::Level::Info => Severity::LOG_INFO,
            log::Level::Debug | log::Level::Trace => Severity::LOG_DEBUG,
        };
        let label = super::level_name(level);
        self.send(false, severity, &format_args!("[{label}] {message}"));
    }

    /// Sends an access line.
    pub fn access_line(&mut self, line: &str) {
        self.send(true, Severity::LOG_INFO, &line);
    }

    fn send(&mut self, access: bool, severity: Severity, message: &dyn Display) {
        // TCP has no message boundaries of its own: a newline ends each message (the crate adds
        // a NUL on Unix stream sockets itself).
        let newline = if matches!(self.backend, LoggerBackend::Tcp(_)) {
            "\n"
        } else {
            ""
        };
        let message = format_args!("{message}{newline}");
        let mut result = self.write(access, severity, &message);
        if result.is_err() {
            // The daemon may have restarted (a stale /dev/log, a closed TCP connection): one
            // fresh connection, one retry.
            if let Ok(backend) = open(&self.addr) {
                self.backend = backend;
                result = self.write(access, severity, &message);
            }
        }
        match result {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                let note = format!(
                    "forkhorn[{}]: cannot send to syslog at {}: {e}\n",
                    std::process::id(),
                    self.addr_text
                );
                let _ = super::file::write_fd(2, note.as_bytes());
            }
            Err(_) => {}
        }
    }

    fn write(&mut self, access: bool, severity: Severity, message: &dyn Display) -> syslog::Result<()> {
        let formatter = if access { &self.access } else { &self.error };
        formatter.format(&mut self.backend, severity, message)
    }
}

/// Opens the socket for `addr`.
fn open(addr: &Addr) -> io::Result<LoggerBackend> {
    match addr {
        Addr::Unix { path, kind } => {
            let dgram = || -> io::Result<LoggerBackend> {
                let sock = UnixDatagram::unbound()?;
                sock.connect(path)?;
                Ok(LoggerBackend::Unix(sock))
            };
            let stream = || -> io::Result<LoggerBackend> {
                Ok(LoggerBackend::UnixStream(BufWriter::new(UnixStream::connect(path)?)))
            };
            match kind {
                UnixKind::Dgram => dgram(),
                UnixKind::Stream => stream(),
                UnixKind::Either => match dgram() {
                    Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => stream(),
                    other => other,
                },
            }
        }
        Addr::Udp(netloc) => {
            let server = resolve(netloc)?;
            let local: SocketAddr = if server.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            Ok(LoggerBackend::Udp(UdpSocket::bind(local)?, server))
        }
        Addr::Tcp(netloc) => {
            let server = resolve(netloc)?;
            let stream = TcpStream::connect_timeout(&server, CONNECT_TIMEOUT)?;
            Ok(LoggerBackend::Tcp(BufWriter::new(stream)))
        }
    }
}

fn resolve(netloc: &str) -> io::Result<SocketAddr> {
    netloc
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the host has no address"))
}

fn hostname() -> Option<String> {
    // The crate's default formatter looks the host name up; nothing else of it is used.
    Formatter3164::default().hostname
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let unix = |p: &str, kind| Addr::Unix { path: p.into(), kind };
        assert_eq!("unix:///dev/log".parse(), Ok(unix("/dev/log", UnixKind::Either)));
        assert_eq!("unix:///x#dgram".parse(), Ok(unix("/x", UnixKind::Dgram)));
        assert_eq!("unix:///x#stream".parse(), Ok(unix("/x", UnixKind::Stream)));
        assert_eq!("udp://127.0.0.1:514".parse(), Ok(Addr::Udp("127.0.0.1:514".into())));
        assert_eq!("tcp://[::1]:601".parse(), Ok(Addr::Tcp("[::1]:601".into())));
        for bad in [
            "",
            "/dev/log",
            "unix://",
            "unix:///x#raw",
            "udp://h",
            "udp://h:0",
            "tcp://:5",
        ] {
            assert!(bad.parse::<Addr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sends_rfc3164_over_a_unix_datagram_socket_and_follows_a_fork() {
        let dir = std::env::temp_dir().join(format!("forkhorn-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        server.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut s = Syslog::connect(&format!("unix://{}#dgram", path.display()), "local3", "app").unwrap();
        s.error_line(log::Level::Warn, &"careful");
        s.access_line("GET / 200");
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        // local3 (19) * 8 + warning (4) = 156
        let pid = std::process::id();
        assert!(line.starts_with("<156>"), "{line}");
        assert!(line.ends_with(&format!(" app[{pid}]: [WARNING] careful")), "{line}");
        let n = server.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(line.starts_with("<158>"), "{line}");
        assert!(line.ends_with(&format!(" app.access[{pid}]: GET / 200")), "{line}");

        let child = crate::sys::process::fork_child(|| {
            s.for_this_process().unwrap();
            s.error_line(log::Level::Info, &"from the child");
            0
        })
        .unwrap();
        let n = server.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            line.ends_with(&format!(" app[{child}]: [INFO] from the child")),
            "{line}"
        );
        nix::sys::wait::waitpid(child, None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
