//! Established TCP connections on a local port, asked of the kernel through the sock_diag
//! netlink interface (`ss` uses the same). /proc/net/tcp would be simpler, but it is read a page
//! at a time and, on a machine holding tens of thousands of TIME_WAIT sockets (any busy
//! benchmark box), skips live entries between pages; here the kernel filters by state first.

use nix::sys::socket::{recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};
use std::collections::HashSet;
use std::os::fd::AsRawFd;

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLM_F_REQUEST | NLM_F_DUMP` (linux/netlink.h).
const DUMP_REQUEST: u16 = 0x1 | 0x300;
/// `NLMSG_ERROR` and `NLMSG_DONE`.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `TCP_ESTABLISHED` (the states field is a bit mask by state number).
const TCP_ESTABLISHED: u8 = 1;
/// Sizes of `struct nlmsghdr` and `struct inet_diag_req_v2`, and of `struct inet_diag_msg`.
const NLMSG_HDR: usize = 16;
const REQ_LEN: usize = 56;
const MSG_LEN: usize = 72;

/// Why the kernel could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum SockDiagError {
    /// The netlink socket could not be opened or used.
    #[error("sock_diag netlink: {0}")]
    Talk(nix::Error),
    /// The kernel answered with an error.
    #[error("sock_diag refused the dump: errno {0}")]
    Dump(i32),
}

/// The socket inodes of established TCP connections (IPv4 and IPv6) whose local port is `port`.
pub fn established_inodes(port: u16) -> Result<HashSet<u64>, SockDiagError> {
    let mut out = HashSet::new();
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        dump(family, port, &mut out)?;
    }
    Ok(out)
}

fn dump(family: u8, port: u16, out: &mut HashSet<u64>) -> Result<(), SockDiagError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )
    .map_err(SockDiagError::Talk)?;
    sendto(
        fd.as_raw_fd(),
        &request(family),
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(SockDiagError::Talk)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(SockDiagError::Talk(e)),
        };
        if n == 0 || parse(&buf[..n], port, out)? {
            return Ok(());
        }
    }
}

/// A dump request for the established TCP sockets of `family`.
fn request(family: u8) -> [u8; NLMSG_HDR + REQ_LEN] {
    let mut req = [0u8; NLMSG_HDR + REQ_LEN];
    req[0..4].copy_from_slice(&((NLMSG_HDR + REQ_LEN) as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req[6..8].copy_from_slice(&DUMP_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
    let body = &mut req[NLMSG_HDR..];
    body[0] = family;
    body[1] = libc::IPPROTO_TCP as u8;
    body[4..8].copy_from_slice(&(1u32 << TCP_ESTABLISHED).to_ne_bytes());
    req
}

/// Adds the inodes of one datagram's messages to `out`; true once the dump is done.
fn parse(datagram: &[u8], port: u16, out: &mut HashSet<u64>) -> Result<bool, SockDiagError> {
    let u32_at = |b: &[u8], i: usize| b.get(i..i + 4).map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]));
    let mut at = 0;
    while at + NLMSG_HDR <= datagram.len() {
        let msg = &datagram[at..];
        let len = u32_at(msg, 0).unwrap_or(0) as usize;
        let kind = u16::from_ne_bytes([msg[4], msg[5]]);
        if len < NLMSG_HDR || len > msg.len() {
            return Ok(true);
        }
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = u32_at(msg, NLMSG_HDR).unwrap_or(0) as i32;
                return Err(SockDiagError::Dump(-errno));
            }
            SOCK_DIAG_BY_FAMILY if len >= NLMSG_HDR + MSG_LEN => {
                let body = &msg[NLMSG_HDR..len];
                // inet_diag_msg: family, state, timer, retrans, then the id with the
                // big-endian source port first; the inode is the last field.
                let sport = u16::from_be_bytes([body[4], body[5]]);
                if body[1] == TCP_ESTABLISHED && sport == port {
                    out.insert(u64::from(u32_at(body, 68).unwrap_or(0)));
                }
            }
            _ => {}
        }
        // Messages are aligned to 4 bytes.
        at += (len + 3) & !3;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn finds_the_server_side_of_each_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let clients: Vec<TcpStream> = (0..3)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let accepted: Vec<TcpStream> = (0..3).map(|_| listener.accept().unwrap().0).collect();
        let found = established_inodes(port).unwrap();
        // The accepted sockets' inodes, read from this process's descriptor table.
        let want: HashSet<u64> = accepted
            .iter()
            .map(|s| {
                let link = std::fs::read_link(format!("/proc/self/fd/{}", s.as_raw_fd())).unwrap();
                let text = link.to_string_lossy().into_owned();
                text.trim_start_matches("socket:[")
                    .trim_end_matches(']')
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(found, want);
        drop(clients);
    }

    #[test]
    fn a_truncated_or_foreign_datagram_ends_quietly() {
        let mut out = HashSet::new();
        assert!(parse(&[0u8; 20], 80, &mut out).unwrap());
        assert!(!parse(&[], 80, &mut out).unwrap());
        assert!(out.is_empty());
    }
}
