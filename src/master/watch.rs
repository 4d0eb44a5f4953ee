//! `reload`'s (and `tls_watch`'s) file watcher: which files count as the app's code, an inotify descriptor the
//! master's loop polls, and the debounce that turns a burst of changes into one reload.
//!
//! The master watches, not the workers: the master already replaces workers without downtime on
//! HUP and rolls back when the new ones cannot boot, which is exactly what a syntax error needs
//! (the old workers keep serving; the next change tries again). Workers that watched and exited
//! themselves, as gunicorn's do, would leave nothing serving while a broken module fails to
//! import. What is watched is every `*.py` file under the app's directories (the workers'
//! working directory, `chdir`, and `pythonpath`), rather than the modules the workers actually
//! imported: it needs no report from the workers, covers a module the app imports only later,
//! and the directories that are not the app's (hidden ones, virtualenvs, `site-packages`,
//! `__pycache__`, `node_modules`) are skipped. `reload_extra_files` are watched by name through
//! their directories, so that an editor that replaces a file (write a copy, rename it over) is
//! seen as well as one that rewrites it in place.

use crate::config::Config;
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the files must stay quiet after a change before the reload starts: an editor's
/// save, a `git checkout` or a formatter touching many files makes one reload, not one per file.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// At most this many directories are watched (each costs an inotify watch, and a user's limit
/// is often 8192 for every program together).
const MAX_DIRS: usize = 4096;
/// Directory names that hold no app code.
const SKIPPED: &[&str] = &["__pycache__", "node_modules", "site-packages", "dist-packages"];

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// inotify_init1 failed.
    #[error("cannot start inotify: {0}")]
    Init(Errno),
}

/// What one watched directory stands for.
#[derive(Debug, Default)]
struct Dir {
    path: PathBuf,
    /// Under an app directory: every `*.py` in it counts, and new subdirectories are watched.
    tree: bool,
    /// The `reload_extra_files` in it, by file name.
    extra: HashSet<OsString>,
}

/// The inotify watches of `reload`, and the change waiting for the files to go quiet.
pub(super) struct Watcher {
    inotify: Inotify,
    dirs: HashMap<WatchDescriptor, Dir>,
    /// The first changed file of the current burst, and when the burst counts as over.
    pending: Option<(PathBuf, Instant)>,
    /// The directory limit was hit (said once).
    full: bool,
}

/// The events that mean a file's content is new: written and closed, renamed or moved into
/// place, deleted or moved away; `IN_CREATE` for new subdirectories of an app directory.
fn mask() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_ONLYDIR
}

impl Watcher {
    /// With `reload`: watches the app's directories (with `python`: a Python app is served)
    /// and `reload_extra_files`, relative to the workers' working directory (`chdir`); with
    /// `tls_watch`: the TLS files. A directory or file that cannot be watched is a warning, not
    /// a failure: the server serves on, without reloading.
    pub(super) fn start(cfg: &Config, python: bool) -> Result<Watcher, WatchError> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).map_err(WatchError::Init)?;
        let mut w = Watcher {
            inotify,
            dirs: HashMap::new(),
            pending: None,
            full: false,
        };
        // The workers' working directory: the master stays where it was started.
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let cwd = match &cfg.chdir {
            Some(dir) => cwd.join(dir),
            None => cwd,
        };
        if python && cfg.reload {
            let mut roots = vec![cwd.clone()];
            roots.extend(cfg.pythonpath.iter().map(|p| cwd.join(p)));
            for root in roots {
                w.add_tree(&root);
            }
        }
        let extra = cfg
            .reload_extra_files
            .iter()
            .filter(|_| cfg.reload)
            .map(|f| cwd.join(f));
        // `tls_watch`: the TLS files, which the master reads from its own working directory.
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let tls = cfg
            .tls
            .iter()
            .filter(|_| cfg.tls_watch)
            .flat_map(|t| t.files.iter().map(|f| here.join(f)));
        for path in extra.chain(tls).collect::<Vec<_>>() {
            match (path.parent(), path.file_name()) {
                (Some(dir), Some(name)) => {
                    if let Some(d) = w.add_dir(dir) {
                        d.extra.insert(name.to_owned());
                    }
                }
                _ => log::warn!("reload: cannot watch {}: not a file name", path.display()),
            }
        }
        let n = w.dirs.len();
        log::info!(
            "reload: watching {n} director{} for changes",
            if n == 1 { "y" } else { "ies" }
        );
        Ok(w)
    }

    /// The descriptor to poll for readability.
    pub(super) fn raw_fd(&self) -> RawFd {
        self.inotify.as_fd().as_raw_fd()
    }

    /// When the pending change is due, if there is one.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|(_, at)| *at)
    }

    /// Reads every queued event; a relevant one starts, or extends, the quiet period.
    pub(super) fn read(&mut self) {
        loop {
            let events = match self.inotify.read_events() {
                Ok(events) => events,
                Err(Errno::EINTR) => continue,
                // EAGAIN: drained. Anything else would repeat on every wake-up: the watcher
                // has nothing more to say.
                Err(_) => return,
            };
            for ev in events {
                self.event(ev);
            }
        }
    }

    /// The changed file, once the files have been quiet for [`DEBOUNCE`] after it.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<PathBuf> {
        match self.pending {
            Some((_, at)) if now >= at => self.pending.take().map(|(path, _)| path),
            _ => None,
        }
    }

    fn event(&mut self, ev: InotifyEvent) {
        if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            // Events were lost: one of them may have been a change.
            self.changed(PathBuf::from("(inotify queue overflow)"));
            return;
        }
        if ev.mask.contains(AddWatchFlags::IN_IGNORED) {
            self.dirs.remove(&ev.wd);
            return;
        }
        let (Some(dir), Some(name)) = (self.dirs.get(&ev.wd), ev.name) else {
            return;
        };
        let path = dir.path.join(&name);
        let is_dir = ev.mask.contains(AddWatchFlags::IN_ISDIR);
        if is_dir {
            if dir.tree
                && ev
                    .mask
                    .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
            {
                self.add_tree(&path);
            }
            return;
        }
        let relevant = dir.extra.contains(&name) || dir.tree && Path::new(&name).extension() == Some("py".as_ref());
        // A new file is empty until written: its IN_CLOSE_WRITE is the change.
        if relevant && !ev.mask.contains(AddWatchFlags::IN_CREATE) {
            self.changed(path);
        }
    }

    fn changed(&mut self, path: PathBuf) {
        let at = Instant::now() + DEBOUNCE;
        self.pending = Some(match self.pending.take() {
            Some((first, _)) => (first, at),
            None => (path, at),
        });
    }

    /// Watches `root` and the directories under it that can hold app code.
    fn add_tree(&mut self, root: &Path) {
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Some(d) = self.add_dir(&dir) else { continue };
            if d.tree {
                // Already watched as a tree (a pythonpath entry under the working directory).
                continue;
            }
            d.tree = true;
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                // file_type does not follow symlinks: a link to a directory (to a system
                // tree, or back up to this one) is not descended into.
                if entry.file_type().is_ok_and(|t| t.is_dir()) && app_dir(&entry.path()) {
                    stack.push(entry.path());
                }
            }
        }
    }

    /// Watches one directory; its entry, or `None` (with a warning) if it cannot be watched.
    fn add_dir(&mut self, dir: &Path) -> Option<&mut Dir> {
        if self.dirs.len() >= MAX_DIRS {
            if !self.full {
                self.full = true;
                log::warn!(
                    "reload: watching no more than {MAX_DIRS} directories; {} and others are not watched",
                    dir.display()
                );
            }
            return None;
        }
        match self.inotify.add_watch(dir, mask()) {
            Ok(wd) => Some(self.dirs.entry(wd).or_insert_with(|| Dir {
                path: dir.to_path_buf(),
                ..Dir::default()
            })),
            Err(e) => {
                log::warn!("reload: cannot watch {}: {e}", dir.display());
                None
            }
        }
    }
}

/// Whether a directory found under an app directory can hold the app's code.
fn app_dir(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with('.') && !SKIPPED.contains(&name) && !path.join("pyvenv.cfg").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_dirs_skip_caches_venvs_and_hidden_dirs() {
        let root = std::env::temp_dir().join(format!("forkhorn-watch-{}", std::process::id()));
        let venv = root.join("venv");
        std::fs::create_dir_all(&venv).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        for dir in ["pkg", ".git", "__pycache__", "site-packages"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        assert!(app_dir(&root.join("pkg")));
        for skipped in ["venv", ".git", "__pycache__", "site-packages"] {
            assert!(!app_dir(&root.join(skipped)), "{skipped}");
        }
        let _ = std::fs::remove_dir_all(&root);
    }
}
