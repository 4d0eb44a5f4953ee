//! The pidfile: written atomically at start, renamed to `.oldbin` by a master that hands over
//! to an upgraded binary, removed at exit; a stale one (its process is gone) is replaced and a
//! live one refused.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why the pidfile could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PidfileError {
    /// Another live process holds the pidfile.
    #[error("pidfile {} names a running process ({pid}); is another forkhorn running?", path.display())]
    Taken {
        /// The pidfile.
        path: PathBuf,
        /// The live pid in it.
        pid: i32,
    },
    /// The file could not be written.
    #[error("cannot write pidfile {}: {source}", path.display())]
    Write {
        /// The pidfile.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// A pidfile this process wrote; removed when dropped (unless handed over).
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// Where the file is now: `path`, or `path.oldbin` after a hand-over.
    current: PathBuf,
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

impl Pidfile {
    /// Writes this process's pid to `path` (through a temporary file and a rename, so a reader
    /// never sees it half-written).
    pub fn create(path: &Path) -> Result<Pidfile, PidfileError> {
        let me = std::process::id() as i32;
        if let Some(pid) = read_pid(path) {
            if pid != me && alive(pid) {
                return Err(PidfileError::Taken {
                    path: path.to_owned(),
                    pid,
                });
            }
        }
        let err = |source| PidfileError::Write {
            path: path.to_owned(),
            source,
        };
        let tmp = path.with_extension(format!("tmp{me}"));
        let write = || -> io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            writeln!(f, "{me}")?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })?;
        Ok(Pidfile {
            path: path.to_owned(),
            current: path.to_owned(),
        })
    }

    /// `PATH.oldbin`: where an upgrading master moves its pidfile.
    pub fn oldbin_path(&self) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(".oldbin");
        PathBuf::from(s)
    }

    /// Moves the file to `PATH.oldbin`, freeing `PATH` for the new master.
    pub fn rename_to_oldbin(&mut self) -> io::Result<()> {
        let old = self.oldbin_path();
        std::fs::rename(&self.current, &old)?;
        self.current = old;
        Ok(())
    }

    /// Moves the file back to `PATH` (the upgrade was rolled back), if `PATH` is free or stale.
    pub fn restore(&mut self) -> io::Result<()> {
        if self.current == self.path {
            return Ok(());
        }
        if let Some(pid) = read_pid(&self.path) {
            if alive(pid) && pid != std::process::id() as i32 {
                return Ok(());
            }
        }
        std::fs::rename(&self.current, &self.path)?;
        self.current = self.path.clone();
        Ok(())
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        // Only remove a file that still names this process.
        if read_pid(&self.current) == Some(std::process::id() as i32) {
            let _ = std::fs::remove_file(&self.current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refuse_live_replace_stale_and_hand_over() {
        let dir = std::env::temp_dir().join(format!("forkhorn-pid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.pid");
        // A stale pidfile (no such process) is replaced.
        std::fs::write(&path, "999999999\n").unwrap();
        let mut pf = Pidfile::create(&path).unwrap();
        assert_eq!(read_pid(&path), Some(std::process::id() as i32));
        // A live one (pid 1 exists) is refused.
        let other = dir.join("g.pid");
        std::fs::write(&other, "1\n").unwrap();
        assert!(matches!(
            Pidfile::create(&other),
            Err(PidfileError::Taken { pid: 1, .. })
        ));
        // Hand-over and back.
        pf.rename_to_oldbin().unwrap();
        assert!(!path.exists());
        assert_eq!(read_pid(&pf.oldbin_path()), Some(std::process::id() as i32));
        pf.restore().unwrap();
        assert!(path.exists());
        drop(pf);
        assert!(!path.exists(), "removed at exit");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
