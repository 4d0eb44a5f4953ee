//! The pidfile: written atomically at start, renamed to `.oldbin` by a master that hands over
//! to an upgraded binary, removed at exit; a stale one (its process is gone) is replaced and a
//! live one refused.
//!
//! The master usually runs as root and the pidfile's directory may be writable by others, so no
//! step follows a symbolic link someone planted there: the temporary copy is created under an
//! unpredictable name with `O_EXCL | O_NOFOLLOW`, the existing file is read with `O_NOFOLLOW`,
//! and rename(2) and unlink(2) act on the directory entry, never on what a link points to.

use std::fs::{File, OpenOptions, Permissions};
use std::hash::BuildHasher;
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Readable by monitoring tools running as other users, as gunicorn leaves it.
const MODE: u32 = 0o644;

/// Fresh temporary names tried before giving up; a collision with an unpredictable name means
/// someone is guessing, not bad luck.
const CREATE_ATTEMPTS: usize = 8;

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

/// The pid in the regular file at `path`; `None` for a missing, unreadable or malformed file and
/// for anything that is not a regular file.
fn read_pid(path: &Path) -> Option<i32> {
    // O_NOFOLLOW: a link planted at the pidfile's path must not make an unrelated file's
    // content decide whether the pidfile is taken. O_NONBLOCK: opening a planted FIFO would
    // otherwise wait for a writer forever.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.file_type().is_file() {
        return None;
    }
    // A pid is at most ten digits; a bigger file is not a pidfile and is not read whole.
    let mut text = String::new();
    file.take(64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// A name for the pidfile's temporary copy next to `path` (rename(2) needs the same
/// filesystem) that no one can guess in advance: std seeds `RandomState` from the OS's random
/// source, so the hash's output is unpredictable to anyone outside this process.
fn temp_path(path: &Path) -> PathBuf {
    let suffix = std::collections::hash_map::RandomState::new().hash_one(path);
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{suffix:016x}.tmp"));
    PathBuf::from(s)
}

/// Creates a new temporary file for `path`, mode [`MODE`], and returns it with its name.
fn create_temp(path: &Path) -> io::Result<(File, PathBuf)> {
    let mut attempts = 0;
    loop {
        let tmp = temp_path(path);
        // O_EXCL alone already refuses any existing entry, a symbolic link included;
        // O_NOFOLLOW states the intent and holds should O_EXCL ever be dropped.
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp);
        match created {
            Ok(file) => return Ok((file, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts + 1 < CREATE_ATTEMPTS => attempts += 1,
            Err(e) => return Err(e),
        }
    }
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
        let (mut file, tmp) = create_temp(path).map_err(err)?;
        let mut write = || -> io::Result<()> {
            // The umask (possibly the configured one, already applied) would narrow MODE.
            file.set_permissions(Permissions::from_mode(MODE))?;
            writeln!(file, "{me}")?;
            file.sync_all()?;
            // rename(2) replaces the directory entry at `path`: a symbolic link there is itself
            // replaced, its target untouched.
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

    /// Moves the file to `PATH.oldbin`, freeing `PATH` for the new master. A symbolic link at
    /// `PATH.oldbin` is replaced, not followed, as rename(2) does.
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
        // Only remove a regular file that still names this process (read_pid does not follow
        // links); unlink(2) removes the entry itself, never a link's target.
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

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("forkhorn-pid-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn me() -> i32 {
        std::process::id() as i32
    }

    #[test]
    fn a_symlink_at_a_predictable_temporary_name_is_not_followed() {
        let dir = scratch("tmplink");
        let path = dir.join("app.pid");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        // A temporary name anyone can predict from the pid: the pidfile's temporary copy has a
        // random name, and a link planted here is left alone.
        let planted = path.with_extension(format!("tmp{}", me()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let pf = Pidfile::create(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(read_pid(&path), Some(me()));
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let planted_name = planted.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            names,
            ["app.pid", planted_name, "victim"],
            "no temporary file left behind"
        );
        drop(pf);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_at_the_pidfile_path_is_replaced_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("link");
        let path = dir.join("app.pid");
        // The victim names a live process (pid 1): followed, the link would make the pidfile
        // look taken; written through, the victim would get this process's pid.
        let victim = dir.join("victim");
        std::fs::write(&victim, "1\n").unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // A umask that would leave the file unreadable to others must not narrow its mode.
        let umask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
        let created = Pidfile::create(&path);
        nix::sys::stat::umask(umask);
        let pf = created.unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "1\n");
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_file(), "{meta:?}");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o644);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
        // At exit, a link put in the pidfile's place is left alone, even one to a file that
        // names this process.
        std::fs::write(&victim, format!("{}\n", me())).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        drop(pf);
        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), format!("{}\n", me()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_at_the_pidfile_path_does_not_block_the_stale_check() {
        let dir = scratch("fifo");
        let path = dir.join("app.pid");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let pf = Pidfile::create(&path).unwrap();
        assert_eq!(read_pid(&path), Some(me()));
        drop(pf);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_names_are_unpredictable_and_beside_the_pidfile() {
        let path = Path::new("/run/forkhorn/app.pid");
        let (a, b) = (temp_path(path), temp_path(path));
        assert_ne!(a, b);
        assert_eq!(a.parent(), path.parent());
        assert!(a.to_str().unwrap().starts_with("/run/forkhorn/app.pid."), "{a:?}");
    }

    #[test]
    fn a_symlink_at_the_oldbin_path_is_replaced_not_followed() {
        let dir = scratch("oldbin");
        let path = dir.join("app.pid");
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let mut pf = Pidfile::create(&path).unwrap();
        std::os::unix::fs::symlink(&victim, pf.oldbin_path()).unwrap();
        pf.rename_to_oldbin().unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = std::fs::symlink_metadata(pf.oldbin_path()).unwrap();
        assert!(meta.file_type().is_file(), "{meta:?}");
        assert_eq!(read_pid(&pf.oldbin_path()), Some(me()));
        drop(pf);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
