//! The names a log setting may give the process's own standard streams.

use std::os::fd::RawFd;

/// One of the process's own standard streams, as a log setting can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// Descriptor 1.
    Stdout,
    /// Descriptor 2.
    Stderr,
}

impl StdStream {
    /// The stream a log path names, or `None` for a file: `-` (stderr), and the names Linux gives
    /// the process's own streams. Those are symbolic links, which a log file may not be (see
    /// `file::open_append`); they are written to through the inherited descriptor instead of
    /// being opened, as `gunicorn --access-logfile /dev/stdout` in a container expects.
    pub fn named(path: &str) -> Option<StdStream> {
        match path {
            "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" => Some(StdStream::Stdout),
            "-" | "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" => Some(StdStream::Stderr),
            _ => None,
        }
    }

    /// The descriptor.
    pub fn fd(self) -> RawFd {
        match self {
            StdStream::Stdout => 1,
            StdStream::Stderr => 2,
        }
    }
}
