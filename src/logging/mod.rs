//! The logs. The error log takes `log` records and writes gunicorn's lines,
//! `[2026-11-20 10:00:00 +0000] [1234] [INFO] message`, to stderr (or stdout, see [`StdStream`])
//! or the `errorlog` file, and to syslog when `syslog` is on; the [`access`] log is written by
//! each worker.
//!
//! - `file`: an append-only file that can be reopened in place (logrotate, then USR1);
//! - `syslog`: one syslog connection per process, re-made after fork;
//! - [`access`]: rendering access log lines, and the worker's buffered writer.
//!
//! In a process's life: [`init`] (stderr, before the configuration is known), [`configure`]
//! (the master: files, syslog, captured output), then in each worker [`after_fork`]; [`reopen`]
//! on USR1. The master keeps [`inherited_fds`] open in the workers it forks.

pub mod access;
mod file;
mod syslog;

pub use crate::config::access_format::FormatError;
pub use access::AccessLog;

use crate::clock::Civil;
use crate::config::{Config, LogLevel};
use log::{Level, LevelFilter, Log, Metadata, Record};
use nix::unistd::{Gid, Uid};
use std::io;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Why the logs cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The `errorlog` file cannot be opened.
    #[error("cannot open the error log {}: {source}", path.display())]
    OpenErrorLog {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The `accesslog` file cannot be opened.
    #[error("cannot open the access log {}: {source}", path.display())]
    OpenAccessLog {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// `access_log_format` is not a valid format.
    #[error("invalid access_log_format: {0}")]
    ParseAccessFormat(#[from] FormatError),
    /// syslog cannot be used.
    #[error(transparent)]
    ConnectSyslog(#[from] syslog::SyslogError),
    /// The application's stdout/stderr cannot be pointed at the error log.
    #[error("cannot capture output into the error log: {0}")]
    CaptureOutput(io::Error),
    /// A log file cannot be reopened.
    #[error("cannot reopen the error log {}: {source}", path.display())]
    ReopenErrorLog {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

// The names of the standard streams belong to the settings that use them.
pub(crate) use crate::config::StdStream;

/// The process's error log.
struct ErrorLog {
    /// The descriptor lines go to: the error log file's, or a standard stream's. Loaded without
    /// the lock on every line; a file's number stays valid because a reopen replaces the file
    /// behind it (see `file`).
    fd: AtomicI32,
    /// Whether `state.syslog` is set, so that lines skip the lock when it is not.
    syslog_on: AtomicBool,
    state: Mutex<State>,
}

struct State {
    file: Option<file::LogFile>,
    /// stdout and stderr point at `file` too (`capture_output`).
    capture: bool,
    syslog: Option<syslog::Syslog>,
}

static LOGGER: ErrorLog = ErrorLog {
    fd: AtomicI32::new(2),
    syslog_on: AtomicBool::new(false),
    state: Mutex::new(State {
        file: None,
        capture: false,
        syslog: None,
    }),
};

fn state() -> MutexGuard<'static, State> {
    // A panic while holding the lock leaves the state usable: every field is always valid.
    LOGGER.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// gunicorn's level names.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "ERROR",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    }
}

impl Log for ErrorLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        crate::metrics::count_log_line(record.level()); // gunicorn.log.error, gunicorn.log.warning
                                                        // One write per line, so lines from master and workers never interleave mid-line.
        let line = format!(
            "[{}] [{}] [{}] {}\n",
            Civil::now().log_stamp(),
            std::process::id(),
            level_name(record.level()),
            record.args()
        );
        let _ = file::write_fd(self.fd.load(Ordering::Acquire), line.as_bytes());
        if self.syslog_on.load(Ordering::Acquire) {
            if let Some(s) = state().syslog.as_mut() {
                s.error_line(record.level(), record.args());
            }
        }
    }

    fn flush(&self) {}
}

/// Installs the error log on stderr (once per process; later calls only change the level).
pub fn init(level: LogLevel) {
    let _ = log::set_logger(&LOGGER);
    set_level(level);
}

/// Changes the threshold.
pub fn set_level(level: LogLevel) {
    log::set_max_level(match level {
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Warning => LevelFilter::Warn,
        LogLevel::Error | LogLevel::Critical => LevelFilter::Error,
    });
}

/// The master, at start-up: sends the error log where `cfg` says (`errorlog`, `syslog`,
/// `capture_output`), creates the access log file and checks its format. Log files are given
/// to `owner` (the workers' user and group) so that workers can reopen them after logrotate.
/// May be called again (on reload) to apply a changed configuration.
pub fn configure(cfg: &Config, owner: (Option<Uid>, Option<Gid>)) -> Result<(), LoggingError> {
    init(cfg.loglevel);
    crate::config::access_format::AccessFormat::parse(&cfg.access_log_format)?;
    let (error_file, error_fd) = match StdStream::named(&cfg.errorlog) {
        Some(stream) => (None, stream.fd()),
        None => {
            let path = cfg.errorlog.as_str();
            let f = file::LogFile::open(path.as_ref()).map_err(|source| LoggingError::OpenErrorLog {
                path: path.into(),
                source,
            })?;
            f.chown(owner.0, owner.1);
            let fd = f.fd();
            (Some(f), fd)
        }
    };
    if let Some(path) = cfg.accesslog.as_deref().filter(|p| StdStream::named(p).is_none()) {
        // Created here, as the master's user, so a worker that has dropped privileges can open
        // it; each worker opens its own descriptor.
        let f = file::open_append(path.as_ref()).map_err(|source| LoggingError::OpenAccessLog {
            path: path.into(),
            source,
        })?;
        file::chown_file(&f, path.as_ref(), owner.0, owner.1);
    }
    let syslog = if cfg.syslog {
        let prefix = cfg
            .syslog_prefix
            .as_deref()
            .or(cfg.proc_name.as_deref())
            .unwrap_or("forkhorn");
        Some(syslog::Syslog::connect(&cfg.syslog_addr, &cfg.syslog_facility, prefix)?)
    } else {
        None
    };
    if cfg.capture_output {
        capture(error_fd).map_err(LoggingError::CaptureOutput)?;
    }
    let mut st = state();
    // Publish the new descriptor before the old file (if any) is closed with the old state.
    LOGGER.fd.store(error_fd, Ordering::Release);
    LOGGER.syslog_on.store(syslog.is_some(), Ordering::Release);
    st.file = error_file;
    st.capture = cfg.capture_output;
    st.syslog = syslog;
    Ok(())
}

/// Points stdout and stderr at the error log's descriptor `to`: its file, or one of the two.
fn capture(to: RawFd) -> io::Result<()> {
    for std in [1, 2] {
        // dup2, not dup3: stdout and stderr must survive exec.
        // SAFETY: dup2 passes no memory, and `to` is open for the call: 1, 2, or the number of
        // the error log file that `configure` is installing or that the locked state holds.
        // dup2 onto 1 or 2 replaces only the file behind a standard stream, numbers std's
        // streams use without owning them.
        if std != to && unsafe { libc::dup2(to, std) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// USR1: reopens the error log file (and re-points captured output at it). A worker reopens
/// its [`AccessLog`] too.
pub fn reopen() -> Result<(), LoggingError> {
    let st = state();
    if let Some(f) = &st.file {
        let err = |source| LoggingError::ReopenErrorLog {
            path: f.path().to_owned(),
            source,
        };
        f.reopen().map_err(err)?;
        if st.capture {
            capture(f.fd()).map_err(err)?;
        }
    }
    Ok(())
}

/// In a new worker: its own syslog connection, tagged with its own pid.
pub fn after_fork() -> Result<(), LoggingError> {
    if let Some(s) = state().syslog.as_mut() {
        s.for_this_process()?;
    }
    Ok(())
}

/// The descriptors a worker must inherit for logging to work after fork (the error log file,
/// the syslog socket until [`after_fork`] replaces it).
pub fn inherited_fds() -> Vec<RawFd> {
    let st = state();
    st.file
        .iter()
        .map(file::LogFile::fd)
        .chain(st.syslog.iter().map(syslog::Syslog::fd))
        .collect()
}

/// Text an application writes to its error stream (`wsgi.errors`), passed to the error log as
/// written, without the `[time] [pid] [LEVEL]` prefix of forkhorn's own lines (gunicorn writes it
/// raw too). Whole lines only, each with one write(2), so lines from several processes never mix
/// mid-line: the start of a line waits for its end, for [`AppErrors::flush`], or for
/// [`AppErrors::MAX_PENDING`] bytes; a line ended by a flush gets its newline here. Not sent to
/// syslog, which takes forkhorn's own lines (gunicorn's wsgi.errors writes only to the error
/// log's streams).
#[derive(Debug, Default)]
pub struct AppErrors {
    /// The start of an unfinished line.
    pending: Vec<u8>,
}

impl AppErrors {
    /// An unfinished line longer than this is written out (ended with a newline): the
    /// application's output must not grow a worker's memory without bound.
    pub const MAX_PENDING: usize = 64 * 1024;

    /// Writes the complete lines of `text` (with what was pending before them); keeps the rest.
    pub fn write(&mut self, text: &[u8]) {
        self.feed(text, write_error_text);
    }

    /// Writes the unfinished line, if any, with a newline.
    pub fn flush(&mut self) {
        self.finish(write_error_text);
    }

    fn feed(&mut self, text: &[u8], mut out: impl FnMut(&[u8])) {
        let mut rest = text;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let (line, after) = rest.split_at(i + 1);
            if self.pending.is_empty() {
                out(line);
            } else {
                self.pending.extend_from_slice(line);
                out(&self.pending);
                self.pending.clear();
            }
            rest = after;
        }
        self.pending.extend_from_slice(rest);
        if self.pending.len() > Self::MAX_PENDING {
            self.finish(out);
        }
    }

    fn finish(&mut self, mut out: impl FnMut(&[u8])) {
        if !self.pending.is_empty() {
            self.pending.push(b'\n');
            out(&self.pending);
            self.pending.clear();
        }
    }
}

/// One write to wherever the error log goes now (its file, or stderr or stdout).
fn write_error_text(text: &[u8]) {
    let _ = file::write_fd(LOGGER.fd.load(Ordering::Acquire), text);
}

/// Sends an access line to syslog (when it is configured).
fn syslog_access(line: &str) {
    if LOGGER.syslog_on.load(Ordering::Acquire) {
        if let Some(s) = state().syslog.as_mut() {
            s.access_line(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{AppErrors, StdStream};

    #[test]
    fn application_error_text_goes_out_raw_in_whole_lines() {
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut errors = AppErrors::default();
        let mut write = |e: &mut AppErrors, text: &[u8]| e.feed(text, |l| out.push(l.to_vec()));
        write(&mut errors, b"first line\nsec");
        write(&mut errors, b"ond");
        write(&mut errors, b" line\n\n  \r\nunfinished");
        errors.finish(|l| out.push(l.to_vec()));
        errors.finish(|l| out.push(l.to_vec()));
        let want: [&[u8]; 5] = [b"first line\n", b"second line\n", b"\n", b"  \r\n", b"unfinished\n"];
        assert_eq!(
            out, want,
            "as written, each line whole, nothing added but the flush's newline"
        );

        // A line that never ends is written out once it is too long.
        let mut out: Vec<Vec<u8>> = Vec::new();
        let long = vec![b'x'; AppErrors::MAX_PENDING + 1];
        errors.feed(&long, |l| out.push(l.to_vec()));
        assert_eq!(out, [[&long[..], b"\n"].concat()]);
        errors.finish(|_| panic!("nothing left"));
    }

    #[test]
    fn the_names_of_stdout_and_stderr_are_streams_other_paths_are_files() {
        for path in ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"] {
            assert_eq!(StdStream::named(path), Some(StdStream::Stdout), "{path}");
        }
        for path in ["-", "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2"] {
            assert_eq!(StdStream::named(path), Some(StdStream::Stderr), "{path}");
        }
        assert_eq!(StdStream::Stdout.fd(), 1);
        assert_eq!(StdStream::Stderr.fd(), 2);
        // Only those exact names: other descriptors, other processes' streams, look-alikes and
        // relative paths are files (and a symbolic link among them is refused when opened).
        for path in [
            "/dev/fd/3",
            "/proc/self/fd/0",
            "/proc/1/fd/1",
            "/dev/stdin",
            "/dev/stdout/",
            "dev/stdout",
            "/dev//stdout",
            "--",
            "/var/log/forkhorn/access.log",
        ] {
            assert_eq!(StdStream::named(path), None, "{path}");
        }
    }
}
