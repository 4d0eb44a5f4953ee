//! A worker's sockets: listeners and accepted streams over TCP or Unix, as one type each.

use super::tls::TlsStream;
use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;

/// A listening socket registered with the worker's poll.
pub enum Listen {
    /// TCP.
    Tcp(TcpListener),
    /// Unix.
    Unix(UnixListener),
}

/// The peer of a connection, as REMOTE_ADDR/REMOTE_PORT report it.
#[derive(Clone, Copy, Debug)]
pub enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A Unix-socket client (no address).
    Unix,
}

/// REMOTE_ADDR and REMOTE_PORT of a client, formatted once per connection rather than once per
/// request.
#[derive(Clone, Debug, Default)]
pub struct PeerText {
    /// REMOTE_ADDR.
    pub addr: String,
    /// REMOTE_PORT.
    pub port: String,
}

impl PeerText {
    /// The text of `peer` (empty strings for a Unix-socket client).
    pub fn of(peer: Peer) -> PeerText {
        match peer {
            Peer::Tcp(a) => PeerText {
                addr: a.ip().to_string(),
                port: a.port().to_string(),
            },
            Peer::Unix => PeerText::default(),
        }
    }
}

impl Listen {
    /// The descriptor.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Listen::Tcp(l) => l.as_raw_fd(),
            Listen::Unix(l) => l.as_raw_fd(),
        }
    }

    /// Accepts one connection.
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listen::Tcp(l) => {
                let (s, a) = l.accept()?;
                Ok((Stream::Tcp(s, Nagle::Unwritten), Peer::Tcp(a)))
            }
            Listen::Unix(l) => {
                let (s, _) = l.accept()?;
                Ok((Stream::Unix(s), Peer::Unix))
            }
        }
    }
}

impl Source for Listen {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listen::Tcp(l) => l.register(r, t, i),
            Listen::Unix(l) => l.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Listen::Tcp(l) => l.reregister(r, t, i),
            Listen::Unix(l) => l.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Listen::Tcp(l) => l.deregister(r),
            Listen::Unix(l) => l.deregister(r),
        }
    }
}

/// An accepted connection.
pub enum Stream {
    /// TCP, with where its Nagle algorithm stands.
    Tcp(TcpStream, Nagle),
    /// Unix.
    Unix(UnixStream),
    /// TLS over TCP (`worker::tls`).
    Tls(Box<TlsStream>),
}

/// Nagle's algorithm on a TCP connection. Linux holds back a partial segment only while an
/// earlier partial segment is unacknowledged (Minshall's variant), so a connection's first
/// write, however long, goes out at once: Nagle stays on for it, and a one-response
/// `Connection: close` exchange saves the setsockopt. It is turned off before the second write
/// (the next response, the next block of a stream, the rest of a response the socket could not
/// take), which could otherwise wait for the client's delayed acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nagle {
    /// Nothing written yet.
    Unwritten,
    /// One write went out with Nagle on.
    Written,
    /// TCP_NODELAY is set.
    Off,
}

impl Nagle {
    /// Before a write on `s`: turns Nagle off if this is not the connection's first write.
    fn before_write(&mut self, s: &TcpStream) {
        if *self == Nagle::Written {
            // A failure leaves Nagle on, which delays but loses nothing.
            let _ = s.set_nodelay(true);
            *self = Nagle::Off;
        }
    }

    /// After a write of `n` bytes.
    fn after_write(&mut self, n: usize) {
        if *self == Nagle::Unwritten && n > 0 {
            *self = Nagle::Written;
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s, _) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s, nagle) => {
                nagle.before_write(s);
                let n = s.write(buf)?;
                nagle.after_write(n);
                Ok(n)
            }
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream {
    /// Writes bytes after which the connection closes: on TCP with `MSG_MORE`, so that the last
    /// partial segment waits for the close, which then sends it with the FIN in one segment
    /// (one packet, and one acknowledgement, fewer per connection than a write and a close).
    /// Only for the end of the output, when the close follows at once.
    pub fn write_before_close(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s, nagle) => {
                nagle.before_write(s);
                let n = send_more(s, buf)?;
                nagle.after_write(n);
                Ok(n)
            }
            Stream::Unix(s) => s.write(buf),
            // close_notify follows these records when the stream is dropped.
            Stream::Tls(s) => s.write(buf),
        }
    }

    /// Whether sealed TLS records wait for room in the socket: output not yet sent, although
    /// `write` took it.
    pub fn unsent(&self) -> bool {
        matches!(self, Stream::Tls(s) if s.unsent())
    }

    /// Sends waiting TLS records (see [`Stream::unsent`]); `WouldBlock` while the socket is full.
    pub fn send_unsent(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.send_sealed(),
            _ => Ok(()),
        }
    }

    /// What a TLS handshake settled, once it has (None for plain streams).
    pub fn tls_facts(&self) -> Option<&crate::tls::Facts> {
        match self {
            Stream::Tls(s) => s.facts(),
            _ => None,
        }
    }

    /// Whether this is a TLS stream.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Writes bytes that a [`Stream::send_file`] follows at once (a response head before its
    /// file): on TCP with `MSG_MORE`, so that they wait for the file's first bytes and leave in
    /// the same segment, as nginx's `tcp_nopush` has them, without the two `setsockopt` calls of
    /// a cork. The file's send pushes them. Not a write for [`Nagle`]: nothing leaves before the
    /// file does, so the send of the file is the one that counts.
    pub fn write_before_file(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s, nagle) => {
                nagle.before_write(s);
                send_more(s, buf)
            }
            Stream::Unix(s) => s.write(buf),
            // Records are sealed and sent in userspace; the file's records follow them.
            Stream::Tls(s) => s.write(buf),
        }
    }
}

/// send(2) with `MSG_MORE`: the last partial segment waits for more bytes (or a close).
fn send_more(s: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    // nix names no MSG_MORE; the bits are libc's.
    let flags = nix::sys::socket::MsgFlags::from_bits_retain(libc::MSG_MORE | libc::MSG_NOSIGNAL);
    Ok(nix::sys::socket::send(std::os::fd::AsRawFd::as_raw_fd(s), buf, flags)?)
}

impl std::os::fd::AsFd for Stream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Stream::Tcp(s, _) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            Stream::Tls(s) => s.socket().as_fd(),
        }
    }
}

impl Stream {
    /// Sends up to `count` bytes of the file `file` from `*offset` (advanced past what was sent)
    /// with sendfile(2). Ok(0): the file ended early.
    pub fn send_file(
        &mut self,
        file: std::os::fd::BorrowedFd<'_>,
        offset: &mut u64,
        count: usize,
    ) -> io::Result<usize> {
        if let Stream::Tcp(s, nagle) = self {
            nagle.before_write(s);
        }
        if let Stream::Tls(s) = self {
            return s.send_file(file, offset, count);
        }
        let mut off = *offset as libc::off64_t;
        let sent = nix::sys::sendfile::sendfile64(&*self, file, Some(&mut off), count).map_err(io::Error::from)?;
        *offset = off as u64;
        if let Stream::Tcp(_, nagle) = self {
            nagle.after_write(sent);
        }
        Ok(sent)
    }

    /// Corks a TCP connection (`TCP_CORK`) whose last output is a file and which closes right
    /// after it: the file's last partial segment waits, and the close sends it with the FIN in
    /// one segment, as [`Stream::write_before_close`] does for bytes (sendfile(2) has no
    /// `MSG_MORE`). One packet fewer per `Connection: close` response, for the cost of one
    /// setsockopt; nginx's `tcp_nopush` has the same effect. Full segments are not held, so a
    /// large file streams as before. A no-op on Unix sockets and TLS.
    pub fn cork_until_close(&mut self) {
        if let Stream::Tcp(s, _) = self {
            // A failure leaves the FIN in a segment of its own, which costs a packet, not data.
            if let Err(e) = socket2::SockRef::from(&*s).set_tcp_cork(true) {
                log::debug!("TCP_CORK: {e}");
            }
        }
    }

    /// Shuts the write side, so the client sees the end of a close-delimited response.
    pub fn shutdown_write(&mut self) {
        if let Stream::Tls(s) = self {
            s.shutdown_write();
            return;
        }
        let _ = match self {
            Stream::Tcp(s, _) => s.shutdown(std::net::Shutdown::Write),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            Stream::Tls(_) => Ok(()),
        };
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s, _) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Tls(s) => s.socket_mut().register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s, _) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Tls(s) => s.socket_mut().reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s, _) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            Stream::Tls(s) => s.socket_mut().deregister(r),
        }
    }
}

/// A receive buffer that is zeroed once and then reused: `data()` is what has arrived and not
/// yet been consumed.
pub struct RecvBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl RecvBuf {
    /// A buffer of `size` bytes.
    pub fn new(size: usize) -> Self {
        RecvBuf {
            buf: vec![0; size],
            start: 0,
            end: 0,
        }
    }

    /// The buffer's size in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Unconsumed bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` bytes at the front as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Forgets everything (a fresh connection reusing the buffer).
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Reads once from `src` into free space, growing up to `max` total bytes.
    /// Returns the bytes read (0 at end of stream) and whether the read filled all free space
    /// (if not, the socket is drained and edge-triggered polling will report new data).
    pub fn read_from(&mut self, src: &mut impl Read, max: usize) -> io::Result<(usize, bool)> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < max {
                let new = (self.buf.len() * 2).min(max);
                self.buf.resize(new, 0);
            }
        }
        let free = &mut self.buf[self.end..];
        if free.is_empty() {
            return Err(io::Error::other("receive buffer full"));
        }
        let want = free.len();
        let n = src.read(free)?;
        self.end += n;
        Ok((n, n == want))
    }

    /// True when no byte more fits: the buffer is `max` long and holds no consumed bytes.
    pub fn at_capacity(&self, max: usize) -> bool {
        self.start == 0 && self.end == self.buf.len() && self.buf.len() >= max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connected loopback pair: the accepted side as a worker's `Stream`, and the client.
    fn pair() -> (Stream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        accepted.set_nonblocking(true).unwrap();
        (Stream::Tcp(TcpStream::from_std(accepted), Nagle::Unwritten), client)
    }

    fn nodelay(s: &Stream) -> bool {
        match s {
            Stream::Tcp(s, _) => s.nodelay().unwrap(),
            _ => unreachable!("a TCP pair"),
        }
    }

    #[test]
    fn nagle_is_turned_off_before_the_second_write_only() {
        let (mut s, mut client) = pair();
        // An empty write is not a write: Nagle stays on.
        assert_eq!(s.write(b"").unwrap(), 0);
        s.write_all(b"first").unwrap();
        assert!(!nodelay(&s), "the first write keeps Nagle on");
        s.write_all(b"second").unwrap();
        assert!(nodelay(&s), "TCP_NODELAY is set before the second write");
        let mut got = [0; 11];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"firstsecond");
    }

    #[test]
    fn sendfile_counts_as_a_write() {
        let (mut s, mut client) = pair();
        s.write_all(b"head").unwrap();
        let file = tempfile_with(b"body");
        let mut offset = 0;
        assert_eq!(s.send_file(std::os::fd::AsFd::as_fd(&file), &mut offset, 4).unwrap(), 4);
        assert!(nodelay(&s), "a file after the head is a second write");
        let mut got = [0; 8];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"headbody");
    }

    #[test]
    fn a_head_before_its_file_is_not_a_write_of_its_own() {
        let (mut s, mut client) = pair();
        assert_eq!(s.write_before_file(b"head").unwrap(), 4);
        let file = tempfile_with(b"body");
        let mut offset = 0;
        assert_eq!(s.send_file(std::os::fd::AsFd::as_fd(&file), &mut offset, 4).unwrap(), 4);
        assert!(!nodelay(&s), "the head and its file are the connection's first write");
        let mut got = [0; 8];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"headbody");
        // The next response's head is a second write.
        assert_eq!(s.write_before_file(b"next").unwrap(), 4);
        assert!(nodelay(&s));
    }

    #[test]
    fn the_last_bytes_before_a_close_arrive_with_the_fin() {
        let (mut s, mut client) = pair();
        assert_eq!(s.write_before_close(b"last words").unwrap(), 10);
        drop(s);
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"last words");
    }

    fn tempfile_with(bytes: &[u8]) -> std::fs::File {
        // One name per call: the tests run in parallel.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("forkhorn-stream-test-{}-{n}", std::process::id()));
        std::fs::write(&path, bytes).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }
}
