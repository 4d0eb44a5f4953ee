//! The service manager's notification protocol (systemd's `sd_notify(3)`): `KEY=VALUE` lines
//! in one datagram to the Unix socket `NOTIFY_SOCKET` names, a path or `@name` for an abstract
//! socket. When the variable is unset (not started by systemd with `Type=notify`) every call is
//! a no-op returning `Ok(false)`.
//!
//! Written on std rather than the `sd-notify` crate: the protocol is one `sendto`, and owning it
//! gives errors in this crate's style and a clock for `MONOTONIC_USEC` shared with the rest of
//! forkhorn. The master is the only sender: only the main pid may notify (`NotifyAccess=main`).

use std::ffi::OsString;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// The variable naming the socket.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Why a notification could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// `NOTIFY_SOCKET` is not a socket address.
    #[error("NOTIFY_SOCKET={0:?} is not a socket path or @abstract name")]
    ParseSocket(OsString),
    /// The datagram could not be sent.
    #[error("cannot notify the service manager at {socket:?}: {source}")]
    Send {
        /// The socket.
        socket: OsString,
        /// The OS error.
        source: io::Error,
    },
}

/// Sends `state` (newline-separated `KEY=VALUE` lines). `Ok(false)`: `NOTIFY_SOCKET` is unset.
pub fn send(state: &str) -> Result<bool, NotifyError> {
    let Some(socket) = std::env::var_os(NOTIFY_SOCKET) else {
        return Ok(false);
    };
    let bytes = socket.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name),
        None if bytes.starts_with(b"/") => SocketAddr::from_pathname(&socket),
        None => return Err(NotifyError::ParseSocket(socket)),
    }
    .map_err(|_| NotifyError::ParseSocket(socket.clone()))?;
    let err = |source| NotifyError::Send {
        socket: socket.clone(),
        source,
    };
    let sock = UnixDatagram::unbound().map_err(err)?;
    sock.send_to_addr(state.as_bytes(), &addr).map_err(err)?;
    Ok(true)
}

/// `READY=1` with a `STATUS=` line: start-up, or a reload, is complete.
pub fn ready(status_text: &str) -> Result<bool, NotifyError> {
    send(&format!("READY=1\nSTATUS={}", one_line(status_text)))
}

/// `RELOADING=1` with `MONOTONIC_USEC=` (required by `Type=notify-reload`): a reload started;
/// send [`ready`] when it is complete.
pub fn reloading() -> Result<bool, NotifyError> {
    send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()))
}

/// `STOPPING=1`: shutdown started.
pub fn stopping() -> Result<bool, NotifyError> {
    send("STOPPING=1\nSTATUS=Stopping")
}

/// `MAINPID=`: after a binary upgrade (USR2), `pid` is the service's main process.
pub fn mainpid(pid: i32) -> Result<bool, NotifyError> {
    send(&format!("MAINPID={pid}"))
}

/// A status is one line: a newline would start a new (unintended) assignment.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// CLOCK_MONOTONIC in microseconds, the clock systemd compares `MONOTONIC_USEC` with.
pub fn monotonic_usec() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1000)
        .unwrap_or(0)
}

/// The watchdog: with `WATCHDOG_USEC` set (and `WATCHDOG_PID`, if set, naming this process),
/// `WATCHDOG=1` goes out every half interval, from the master's loop, so that a loop that stops
/// turning stops the pings and systemd restarts the service.
#[derive(Debug)]
pub struct Watchdog {
    /// Half of `WATCHDOG_USEC`; None when the watchdog is off.
    every: Option<Duration>,
    next: Instant,
}

impl Watchdog {
    /// The watchdog the environment asks for.
    pub fn from_env() -> Watchdog {
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        Watchdog::new(usec.as_deref(), pid.as_deref(), std::process::id())
    }

    /// The watchdog for the given variables, in process `own_pid`.
    pub fn new(watchdog_usec: Option<&str>, watchdog_pid: Option<&str>, own_pid: u32) -> Watchdog {
        let for_us = match watchdog_pid {
            None => true,
            Some(p) => p.parse::<u32>() == Ok(own_pid),
        };
        let every = watchdog_usec
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(|u| Duration::from_micros(u / 2));
        Watchdog {
            every,
            next: Instant::now(),
        }
    }

    /// The poll timeout that wakes the loop in time for the next ping.
    pub fn poll_timeout(&self, timeout: Option<Duration>, now: Instant) -> Option<Duration> {
        let Some(_) = self.every else {
            return timeout;
        };
        let until = self.next.saturating_duration_since(now);
        Some(timeout.map_or(until, |t| t.min(until)))
    }

    /// Called on every turn of the master's loop: pings when it is time.
    pub fn tick(&mut self, now: Instant) -> Result<(), NotifyError> {
        let Some(every) = self.every else {
            return Ok(());
        };
        if now < self.next {
            return Ok(());
        }
        self.next = now + every;
        send("WATCHDOG=1").map(|_| ())
    }
}

/// In the child that is about to exec an upgraded master: a watchdog meant for this process is
/// meant for the new program, which will be the main process.
pub fn hand_watchdog_to_exec() {
    let parent = nix::unistd::getppid().as_raw() as u32;
    if std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(parent) {
        // SAFETY: called in the child the master forks to exec a new master, which has only the
        // thread that forked it: nothing else can read or write the environment meanwhile.
        unsafe { std::env::set_var("WATCHDOG_PID", std::process::id().to_string()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_variables() {
        assert_eq!(Watchdog::new(None, None, 7).every, None);
        assert_eq!(
            Watchdog::new(Some("2000000"), None, 7).every,
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            Watchdog::new(Some("2000000"), Some("7"), 7).every,
            Some(Duration::from_secs(1))
        );
        assert_eq!(Watchdog::new(Some("2000000"), Some("8"), 7).every, None);
        assert_eq!(Watchdog::new(Some("0"), None, 7).every, None);
        assert_eq!(Watchdog::new(Some("x"), None, 7).every, None);
    }

    #[test]
    fn watchdog_wakes_the_loop_in_time() {
        let now = Instant::now();
        let mut w = Watchdog::new(Some("1000000"), None, 1);
        w.next = now + Duration::from_millis(300);
        assert_eq!(w.poll_timeout(None, now), Some(Duration::from_millis(300)));
        assert_eq!(
            w.poll_timeout(Some(Duration::from_millis(100)), now),
            Some(Duration::from_millis(100))
        );
        let off = Watchdog::new(None, None, 1);
        assert_eq!(off.poll_timeout(None, now), None);
    }

    #[test]
    fn one_line_status() {
        assert_eq!(one_line("a\nb\rc"), "a b c");
    }
}
