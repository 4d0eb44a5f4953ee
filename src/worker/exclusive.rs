//! Shared listening sockets in the worker's epoll with `EPOLLEXCLUSIVE`: a new connection wakes
//! one worker that is waiting, not every worker (the thundering herd), and a busy worker is
//! passed over, so connections spread over the workers that have time for them.
//!
//! mio has no way to ask for `EPOLLEXCLUSIVE`, so these sockets are added to the poll's epoll
//! instance directly, level-triggered, with the token mio hands back in its events.

use mio::{Poll, Token};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// Adds `fd` to `poll` for readability, exclusively, reported as `token`.
pub fn register(poll: &Poll, fd: RawFd, token: Token) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32,
        u64: token.0 as u64,
    };
    // SAFETY: epoll_ctl reads `ev`, a valid event that outlives the call; the two descriptors
    // are only numbers to it (one that names nothing fails with EBADF).
    let rc = unsafe { libc::epoll_ctl(poll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Removes `fd` from `poll` (a worker that is full, or stopping).
pub fn deregister(poll: &Poll, fd: RawFd) -> io::Result<()> {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: as in `register`; EPOLL_CTL_DEL ignores the event on current kernels, and old
    // ones (before 2.6.9) need it non-null.
    let rc = unsafe { libc::epoll_ctl(poll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
