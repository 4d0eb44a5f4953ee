//! The pidfile (`pidfile`): the master's pid in a file, for `kill -HUP $(cat …)` and init
//! scripts. Written atomically (a temporary file renamed over the path), so a reader never sees
//! it half-written; a file left by a process that is gone is replaced, one naming a live process
//! is refused; removed at exit only if it still names this process, so an upgraded master's
//! pidfile survives the old master's exit.

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Why the pidfile cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    /// Another live process is named in the file.
    #[error("{} names pid {pid}, which is running: is forkhorn already running? (remove the file if not)", path.display())]
    Running {
        /// The pidfile.
        path: PathBuf,
        /// The live process.
        pid: i32,
    },
    /// The file could not be written or renamed.
    #[error("cannot write the pidfile {}: {source}", path.display())]
    Write {
        /// The pidfile.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// A pidfile this process wrote; removed when dropped.
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    pid: i32,
}

impl Pidfile {
    /// Writes this process's pid to `path`.
    pub fn create(path: &Path) -> Result<Pidfile, PidfileError> {
        let pid = std::process::id() as i32;
        let path = std::path::absolute(path).map_err(|source| PidfileError::Write {
            path: path.to_owned(),
            source,
        })?;
        if let Some(other) = read_pid(&path).filter(|&p| p != pid && is_alive(p)) {
            return Err(PidfileError::Running { path, pid: other });
        }
        write_atomically(&path, pid).map_err(|source| PidfileError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(Pidfile { path, pid })
    }

    /// Where the file is now.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// USR2: moves the file to `PATH.oldbin` so the new master can write `PATH` (nginx's and
    /// gunicorn's convention); the old master removes `PATH.oldbin` when it exits.
    pub fn rename_to_oldbin(&mut self) -> io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".oldbin");
        let old = PathBuf::from(old);
        std::fs::rename(&self.path, &old)?;
        self.path = old;
        Ok(())
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        // Only our own: after an upgrade the path may already be the new master's.
        if read_pid(&self.path) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The pid in the file at `path`, if it holds one.
pub fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&p| p > 0)
}

fn is_alive(pid: i32) -> bool {
    // EPERM: it exists but belongs to someone else; still alive.
    matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

fn write_atomically(path: &Path, pid: i32) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{pid}.tmp"));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        writeln!(f, "{pid}")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("forkhorn-pidfile-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn written_removed_and_stale_replaced() {
        let d = dir("a");
        let path = d.join("f.pid");
        // A pid that cannot be running: above the kernel's pid_max.
        std::fs::write(&path, "999999999\n").unwrap();
        let pf = Pidfile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(pf);
        assert!(!path.exists());
        std::fs::write(&path, "garbage").unwrap();
        drop(Pidfile::create(&path).unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_live_process_is_refused() {
        let d = dir("b");
        let path = d.join("f.pid");
        // pid 1 is always alive.
        std::fs::write(&path, "1\n").unwrap();
        let err = Pidfile::create(&path).unwrap_err();
        assert!(matches!(err, PidfileError::Running { pid: 1, .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn oldbin_and_a_successors_file_is_left_alone() {
        let d = dir("c");
        let path = d.join("f.pid");
        let mut pf = Pidfile::create(&path).unwrap();
        pf.rename_to_oldbin().unwrap();
        assert!(!path.exists());
        assert_eq!(pf.path(), d.join("f.pid.oldbin"));
        // A new master writes the path; the old one's exit removes only .oldbin.
        std::fs::write(&path, "1\n").unwrap();
        drop(pf);
        assert!(!d.join("f.pid.oldbin").exists());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1\n");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
