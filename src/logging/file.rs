//! A log file that can be reopened in place: logrotate moves the file away, USR1 arrives, and
//! from then on every line goes to a new file at the same path.
//!
//! The file stays at one descriptor number for the life of its [`LogFile`]. Reopening opens the
//! path again and `dup3`s the new file over that number, so a writer that loaded the number
//! before the reopen writes either to the old file or to the new one, never to a closed or
//! reused descriptor. That lets the error log write without a lock.

use nix::unistd::{Gid, Uid};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// New log files are readable by their owner's group (`adm` on Debian), not by everyone: access
/// lines carry query strings and client addresses.
const MODE: u32 = 0o640;

/// An append-only log file at a fixed descriptor number.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    fd: RawFd,
}

/// Opens `path` for appending, creating it if needed. A symbolic link at `path` is refused: the
/// master opens log files as root, and a link planted in a log directory others can write to
/// would otherwise make it append to (and hand to the workers' user) any file on the system.
pub fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(MODE)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
        // ELOOP alone reads "too many levels of symbolic links", which does not tell the operator
        // that the link is refused on purpose.
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
                io::Error::new(
                    e.kind(),
                    "the path is a symbolic link, which forkhorn does not follow for a log file \
                     (`-` or /dev/stderr logs to stderr, /dev/stdout to stdout)",
                )
            }
            _ => e,
        })
}

impl LogFile {
    /// Opens (creating if needed) the file at `path`. A relative path is made absolute first, so
    /// a later `chdir` does not change which file a reopen finds.
    pub fn open(path: &Path) -> io::Result<LogFile> {
        let path = std::path::absolute(path)?;
        let file = open_append(&path)?;
        Ok(LogFile {
            path,
            fd: file.into_raw_fd(),
        })
    }

    /// The path, absolute.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The descriptor number lines are written to; a reopen keeps it, and only dropping the
    /// `LogFile` closes it.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Opens the path again and puts the new file behind [`LogFile::fd`].
    pub fn reopen(&self) -> io::Result<()> {
        let new = open_append(&self.path)?;
        // dup3 rather than dup2: the number keeps FD_CLOEXEC, so a re-executed master (USR2)
        // does not inherit the old master's log descriptor by accident.
        // SAFETY: both descriptors are open: `new` until the end of this function, `self.fd`
        // while `self` lives (only its drop closes it). dup3 passes no memory; it makes
        // `self.fd` name the new file, atomically.
        if unsafe { libc::dup3(new.as_raw_fd(), self.fd, libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Gives the file to `uid`/`gid`, so that a worker running as that user can reopen it after
    /// logrotate (gunicorn does the same). Failure is not fatal: the file may be `/dev/null`.
    pub fn chown(&self, uid: Option<Uid>, gid: Option<Gid>) {
        // SAFETY: `self.fd` is open while `self` lives (only its drop closes it), and the
        // borrow ends with this call.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        chown_file(fd, &self.path, uid, gid);
    }
}

/// Best-effort chown of an open log file, see [`LogFile::chown`]; `path` only names it in the
/// debug line. Through the descriptor, not the path: chown(2) follows a link that someone could
/// put at the path after the open, and would give its target away.
pub fn chown_file(file: impl AsFd, path: &Path, uid: Option<Uid>, gid: Option<Gid>) {
    if uid.is_none() && gid.is_none() {
        return;
    }
    if let Err(e) = nix::unistd::fchown(file, uid, gid) {
        log::debug!("cannot give {} to the worker user: {e}", path.display());
    }
}

/// Writes `bytes` whole to the descriptor `fd`, retrying on partial writes and EINTR. Used for
/// descriptors this process keeps open for its whole life (a [`LogFile`], stdout, stderr).
pub fn write_fd(fd: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    // SAFETY: the borrow ends with this call, and the callers' descriptors stay open until then:
    // stdout and stderr are never closed, and the error log's file number (`LOGGER.fd`) is
    // closed only when `configure` replaces the file, after publishing the new number. That
    // happens in the master alone, on the one thread of the master that logs (no line is
    // being written meanwhile); a worker never replaces its file, whichever thread writes.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

impl Drop for LogFile {
    fn drop(&mut self) {
        // SAFETY: the descriptor was created by `open` and is owned by this value alone.
        drop(unsafe { File::from_raw_fd(self.fd) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_after_move_writes_to_the_new_file_at_the_same_number() {
        let dir = std::env::temp_dir().join(format!("forkhorn-logfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        let log = LogFile::open(&path).unwrap();
        let fd = log.fd();
        write_fd(fd, b"one\n").unwrap();
        std::fs::rename(&path, dir.join("a.log.1")).unwrap();
        write_fd(fd, b"two\n").unwrap();
        log.reopen().unwrap();
        assert_eq!(log.fd(), fd);
        write_fd(fd, b"three\n").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.log.1")).unwrap(), "one\ntwo\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !MODE, 0, "mode {mode:o}");
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_at_the_log_path_is_refused_with_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("forkhorn-logfile-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let path = dir.join("a.log");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let err = LogFile::open(&path).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(open_append(&path).is_err());
        // Planted after the open, the link is refused at the reopen that logrotate triggers.
        std::fs::remove_file(&path).unwrap();
        let log = LogFile::open(&path).unwrap();
        std::fs::rename(&path, dir.join("a.log.1")).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(log.reopen().is_err());
        write_fd(log.fd(), b"line\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(std::fs::read_to_string(dir.join("a.log.1")).unwrap(), "line\n");
        drop(log);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
