//! [`System`]: what validating a setting needs to ask the machine (host names, directories,
//! users, groups). Injected, so that parsing a file stays pure and tests never depend on the
//! machine they run on; `load` supplies the real one.

use std::net::SocketAddr;
use std::path::Path;

/// The machine's answers to the questions settings ask.
pub(crate) trait System {
    /// Looks up a host name, returning the one address to bind or why there is none.
    fn resolve(&self, host: &str, port: u16) -> Result<SocketAddr, String>;
    /// Whether `path` is an existing directory (following symlinks).
    fn is_dir(&self, path: &Path) -> bool;
    /// Whether a user of that name exists; `Err` if the user database could not be read.
    fn user_exists(&self, name: &str) -> Result<bool, String>;
    /// Whether a group of that name exists; `Err` if the group database could not be read.
    fn group_exists(&self, name: &str) -> Result<bool, String>;
}

/// A machine for unit tests: no DNS, and only the directories, users and groups it is told of.
#[cfg(test)]
pub(crate) struct Fake {
    /// Existing directories.
    pub(crate) dirs: &'static [&'static str],
    /// Existing user and group names.
    pub(crate) names: &'static [&'static str],
}

#[cfg(test)]
impl Fake {
    /// The directories the tests and the examples in `etc/forkhorn.toml` name; users and groups
    /// `root` and `www-data`.
    pub(crate) const MACHINE: Fake = Fake {
        dirs: &[
            ".",
            "/run",
            "/srv",
            "/srv/app",
            "/srv/app/.venv",
            "/srv/www",
            "/srv/www/static",
            "/tmp",
        ],
        names: &["root", "www-data"],
    };
}

#[cfg(test)]
impl System for Fake {
    fn resolve(&self, host: &str, _port: u16) -> Result<SocketAddr, String> {
        Err(format!("no DNS in tests ({host})"))
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.dirs.iter().any(|d| Path::new(d) == path)
    }

    fn user_exists(&self, name: &str) -> Result<bool, String> {
        Ok(self.names.contains(&name))
    }

    fn group_exists(&self, name: &str) -> Result<bool, String> {
        self.user_exists(name)
    }
}
