//! Socket activation (systemd's `sd_listen_fds(3)`): a service manager that bound the sockets
//! itself passes them as descriptors 3, 4, ... with `LISTEN_FDS` (how many), `LISTEN_PID` (the
//! process they are meant for) and optionally `LISTEN_FDNAMES` (colon-separated names). When
//! they are present and meant for this process, the master serves on them instead of binding
//! `bind`; TCP and Unix sockets may be mixed.
//!
//! The sockets become `bind = fd://3, fd://4, ...`, which the master already knows how to adopt.
//! The variables are left in the environment: `LISTEN_PID` names the master alone, so a worker
//! never takes them for its own, and a reload finds them again. A USR2 upgrade hands them on
//! with [`hand_to_exec`].

use std::os::fd::RawFd;

/// The first inherited descriptor (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// Why the passed sockets cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// `LISTEN_FDS` is not a count.
    #[error("LISTEN_FDS={0:?} is not a number of descriptors")]
    ParseCount(String),
}

/// One socket the service manager passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// Its descriptor number.
    pub fd: RawFd,
    /// Its name from `LISTEN_FDNAMES` (the socket unit's `FileDescriptorName=`), if given.
    pub name: Option<String>,
}

/// The sockets passed to this process, or `None` when it was not socket-activated.
pub fn passed_to_this_process() -> Result<Option<Vec<Passed>>, ActivationError> {
    let var = |k| std::env::var(k).ok();
    passed(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )
}

/// In the child that is about to exec an upgraded master: the passed sockets (still open at the
/// same numbers, close-on-exec cleared by the caller) are meant for the new program too.
pub fn hand_to_exec() {
    let parent = nix::unistd::getppid().as_raw() as u32;
    if std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
        // SAFETY: called in the child the master forks to exec a new master, which has only the
        // thread that forked it: nothing else can read or write the environment meanwhile.
        unsafe { std::env::set_var("LISTEN_PID", std::process::id().to_string()) };
    }
}

/// The descriptors and names the variables describe for process `pid` (pure).
pub fn passed(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    names: Option<&str>,
    pid: u32,
) -> Result<Option<Vec<Passed>>, ActivationError> {
    // As sd_listen_fds: without a matching LISTEN_PID the sockets are someone else's.
    if listen_pid.and_then(|p| p.trim().parse::<u32>().ok()) != Some(pid) {
        return Ok(None);
    }
    let Some(count) = listen_fds else {
        return Ok(None);
    };
    let n: RawFd = count
        .trim()
        .parse()
        .ok()
        .filter(|n| (0..=4096).contains(n))
        .ok_or_else(|| ActivationError::ParseCount(count.into()))?;
    if n == 0 {
        return Ok(None);
    }
    let mut names = names.map(|s| s.split(':'));
    Ok(Some(
        (0..n)
            .map(|i| {
                let name = names.as_mut().and_then(Iterator::next).filter(|s| !s.is_empty());
                Passed {
                    fd: LISTEN_FDS_START + i,
                    name: name.map(str::to_owned),
                }
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables() {
        assert!(passed(None, Some("2"), None, 9).unwrap().is_none());
        assert!(passed(Some("8"), Some("2"), None, 9).unwrap().is_none());
        assert!(passed(Some("9"), None, None, 9).unwrap().is_none());
        assert!(passed(Some("9"), Some("0"), None, 9).unwrap().is_none());
        let p = |fd, name: Option<&str>| Passed {
            fd,
            name: name.map(str::to_owned),
        };
        assert_eq!(
            passed(Some("9"), Some("2"), Some("web:admin"), 9).unwrap(),
            Some(vec![p(3, Some("web")), p(4, Some("admin"))])
        );
        assert_eq!(
            passed(Some("9"), Some("2"), Some("web"), 9).unwrap(),
            Some(vec![p(3, Some("web")), p(4, None)])
        );
        assert!(matches!(
            passed(Some("9"), Some("two"), None, 9),
            Err(ActivationError::ParseCount(_))
        ));
    }
}
