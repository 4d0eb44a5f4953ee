//! How many connections wait in a listening socket's accept queue, and its limit, asked of the
//! kernel: `TCP_INFO` for TCP (on a listening socket `tcpi_unacked` is the queue and
//! `tcpi_sacked` its limit), the sock_diag netlink query with `UDIAG_SHOW_RQLEN` for a Unix
//! socket (as `ss -lx` shows them). One system call or two per listener per scrape, never per
//! request.

use nix::sys::socket::{recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// `SOCK_DIAG_BY_FAMILY`, `NLM_F_REQUEST`, `NLMSG_ERROR` (linux/netlink.h, sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
/// `UDIAG_SHOW_RQLEN` and the `UNIX_DIAG_RQLEN` attribute (linux/unix_diag.h).
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UNIX_DIAG_RQLEN: u16 = 4;
const NLMSG_HDR: usize = 16;
/// `struct unix_diag_req` and `struct unix_diag_msg`.
const UNIX_REQ: usize = 24;
const UNIX_MSG: usize = 16;

/// A listen queue: connections waiting, and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queue {
    /// Connections accepted by the kernel and not yet by a worker.
    pub depth: u64,
    /// The backlog.
    pub limit: u64,
}

/// The accept queue of the listening TCP socket `fd`.
pub fn tcp(fd: BorrowedFd<'_>) -> Option<Queue> {
    // SAFETY: all-zero bytes are a valid `tcp_info` (plain integers).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `len` bytes, and `len` is a valid in/out length; `fd` is
    // an open descriptor for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    // TCP_LISTEN is state 10.
    (rc == 0 && info.tcpi_state == 10).then_some(Queue {
        depth: u64::from(info.tcpi_unacked),
        limit: u64::from(info.tcpi_sacked),
    })
}

/// The accept queue of the listening Unix socket `fd`.
pub fn unix(fd: RawFd) -> Option<Queue> {
    let ino = nix::sys::stat::fstat(
        // SAFETY: the caller's descriptor stays open for this call.
        unsafe { BorrowedFd::borrow_raw(fd) },
    )
    .ok()?
    .st_ino;
    let nl = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )
    .ok()?;
    send(nl.as_raw_fd(), &unix_request(ino as u32), MsgFlags::empty()).ok()?;
    let mut buf = [0u8; 1024];
    let n = loop {
        match recv(nl.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Err(nix::Error::EINTR) => continue,
            other => break other.ok()?,
        }
    };
    parse_unix(&buf[..n])
}

/// A request for the one Unix socket of inode `ino`, with its queue lengths.
fn unix_request(ino: u32) -> [u8; NLMSG_HDR + UNIX_REQ] {
    let mut req = [0u8; NLMSG_HDR + UNIX_REQ];
    req[0..4].copy_from_slice(&((NLMSG_HDR + UNIX_REQ) as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    let body = &mut req[NLMSG_HDR..];
    body[0] = libc::AF_UNIX as u8;
    body[4..8].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
    body[8..12].copy_from_slice(&ino.to_ne_bytes());
    body[12..16].copy_from_slice(&UDIAG_SHOW_RQLEN.to_ne_bytes());
    // No cookie: INET_DIAG_NOCOOKIE, all ones.
    body[16..24].copy_from_slice(&[0xff; 8]);
    req
}

/// The `UNIX_DIAG_RQLEN` attribute of the answer: for a listening socket, the queue and its
/// limit.
fn parse_unix(msg: &[u8]) -> Option<Queue> {
    let u16_at = |i: usize| msg.get(i..i + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]));
    let u32_at = |i: usize| msg.get(i..i + 4).map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]));
    let len = (u32_at(0)? as usize).min(msg.len());
    if u16_at(4)? == NLMSG_ERROR {
        return None;
    }
    let mut at = NLMSG_HDR + UNIX_MSG;
    while at + 4 <= len {
        let alen = usize::from(u16_at(at)?);
        let kind = u16_at(at + 2)?;
        if alen < 4 {
            return None;
        }
        if kind == UNIX_DIAG_RQLEN && alen >= 12 {
            return Some(Queue {
                depth: u64::from(u32_at(at + 4)?),
                limit: u64::from(u32_at(at + 8)?),
            });
        }
        at += (alen + 3) & !3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_tcp_queue_fills_and_empties() {
        let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        l.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
        l.listen(7).unwrap();
        let l: std::net::TcpListener = l.into();
        let addr = l.local_addr().unwrap();
        assert_eq!(tcp(l.as_fd()), Some(Queue { depth: 0, limit: 7 }));
        let clients: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
        assert_eq!(tcp(l.as_fd()).map(|q| q.depth), Some(3));
        let _accepted = l.accept().unwrap();
        assert_eq!(tcp(l.as_fd()).map(|q| q.depth), Some(2));
        drop(clients);
    }

    #[test]
    fn a_unix_queue_fills() {
        let path = std::env::temp_dir().join(format!("forkhorn-queue-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let l = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
        l.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
        l.listen(5).unwrap();
        assert_eq!(unix(l.as_raw_fd()), Some(Queue { depth: 0, limit: 5 }));
        let _c = std::os::unix::net::UnixStream::connect(&path).unwrap();
        assert_eq!(unix(l.as_raw_fd()).map(|q| q.depth), Some(1));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_short_or_error_answer_is_none() {
        assert_eq!(parse_unix(&[]), None);
        let mut err = [0u8; 36];
        err[0] = 36;
        err[4] = NLMSG_ERROR as u8;
        assert_eq!(parse_unix(&err), None);
    }
}
