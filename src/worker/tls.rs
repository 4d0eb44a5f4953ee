//! One TLS connection in the worker: a rustls `ServerConnection` over the non-blocking socket,
//! driven by the worker's readiness events like a plain stream. `read` feeds the socket's
//! records to rustls (answering the handshake as it goes) and returns plaintext; `write` seals
//! plaintext into records and sends what the socket takes; records the socket did not take wait
//! in rustls and count as the connection's unsent output ([`TlsStream::unsent`]), so the
//! connection is not closed, and its deadline not relaxed, before they are out.
//!
//! A short `read` means the socket said `WouldBlock` (or reached its end), as for a plain
//! socket, so the edge-triggered loop's rule holds: read until a short read.

use crate::tls::Facts;
use mio::net::TcpStream;
use rustls::server::ServerConnection;
use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;
use std::sync::Arc;

/// Bytes of file read into memory at a time to be sealed (a file body over userspace TLS).
const FILE_CHUNK: usize = 64 * 1024;

/// The plaintext answer to a plain HTTP request on a TLS port, as nginx's 497 page says it
/// (with a 400 status, which every client understands), after which the connection closes.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n\
Connection: close\r\n\r\nThe plain HTTP request was sent to an HTTPS port.\n";

/// A TLS connection.
pub struct TlsStream {
    sock: TcpStream,
    tls: ServerConnection,
    /// The socket reached its end.
    eof: bool,
    /// What the handshake settled, once it has.
    facts: Option<Facts>,
    /// Scratch space for file bodies, made at the first one.
    file_buf: Vec<u8>,
    /// The connection's first byte, once read.
    first: Option<u8>,
}

impl TlsStream {
    /// A server connection on an accepted socket.
    pub fn new(sock: TcpStream, config: &Arc<rustls::ServerConfig>) -> io::Result<TlsStream> {
        let tls = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
        // The handshake is several flights and a response follows each request: Nagle's
        // algorithm would only hold them for the client's delayed acknowledgement.
        sock.set_nodelay(true)?;
        Ok(TlsStream {
            sock,
            tls,
            eof: false,
            facts: None,
            file_buf: Vec::new(),
            first: None,
        })
    }

    /// The socket.
    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// The socket, to register it with the poll.
    pub fn socket_mut(&mut self) -> &mut TcpStream {
        &mut self.sock
    }

    /// The handshake's outcome for the environ; None while it is under way.
    pub fn facts(&self) -> Option<&Facts> {
        self.facts.as_ref()
    }

    /// Whether sealed records wait for room in the socket.
    pub fn unsent(&self) -> bool {
        self.tls.wants_write()
    }

    /// Sends sealed records until none is left (Ok) or the socket is full (`WouldBlock`).
    pub fn send_sealed(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends what can go now; a full socket is not an error (the records wait).
    fn send_some(&mut self) -> io::Result<()> {
        match self.send_sealed() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// Reads records from the socket into rustls (one read) and processes them.
    fn pull(&mut self) -> io::Result<Pulled> {
        if self.eof {
            return Ok(Pulled::Nothing);
        }
        let mut short = false;
        loop {
            let mut src = Tap {
                sock: &mut self.sock,
                first: &mut self.first,
                short: &mut short,
            };
            match self.tls.read_tls(&mut src) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(Pulled::Nothing);
                }
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Pulled::Nothing),
                Err(e) => return Err(e),
            }
        }
        let handshaking = self.tls.is_handshaking();
        if let Err(e) = self.tls.process_new_packets() {
            if handshaking && self.facts.is_none() && self.began_as_http() {
                // Best effort, and instead of TLS's alert, which such a client cannot read.
                let _ = self.sock.write(PLAIN_HTTP_ANSWER);
                return Err(io::Error::new(io::ErrorKind::InvalidData, "plain HTTP on a TLS port"));
            }
            // The alert rustls queued tells the client why (a missing client certificate, no
            // common cipher suite).
            let _ = self.send_some();
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        if handshaking && !self.tls.is_handshaking() {
            let facts = Facts::of(&self.tls);
            log::debug!("TLS handshake done: {} {}", facts.protocol, facts.cipher);
            self.facts = Some(facts);
        }
        // Handshake flights, and answers rustls owes (key updates).
        self.send_some()?;
        Ok(if short { Pulled::Drained } else { Pulled::More })
    }

    /// Whether the connection began as a plain HTTP request rather than a ClientHello: its
    /// first byte, a TLS record's content type (0x16 for a handshake), is an upper-case letter,
    /// the first of a method.
    fn began_as_http(&self) -> bool {
        self.first.is_some_and(|b| b.is_ascii_uppercase())
    }
}

/// What one [`TlsStream::pull`] got from the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pulled {
    /// Bytes, and as many as were asked for: the socket may have more.
    More,
    /// Bytes, fewer than asked for: the socket is drained (a new arrival raises a new edge).
    Drained,
    /// Nothing now (`WouldBlock`), or the end of the stream.
    Nothing,
}

/// The socket as rustls reads it, noting the connection's first byte and whether a read came
/// back short.
struct Tap<'a> {
    sock: &'a mut TcpStream,
    first: &'a mut Option<u8>,
    short: &'a mut bool,
}

impl Read for Tap<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        if self.first.is_none() && n > 0 {
            *self.first = Some(buf[0]);
        }
        *self.short = n < buf.len();
        Ok(n)
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        // A short socket read in this call: the socket is drained, and asking it again would
        // usually only cost a system call to hear `WouldBlock`.
        let mut drained = false;
        loop {
            match self.tls.reader().read(&mut buf[n..]) {
                Ok(0) => return Ok(n),
                Ok(k) => {
                    n += k;
                    if n == buf.len() {
                        return Ok(n);
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: an end of file like any other (gunicorn's
                // `suppress_ragged_eofs`); HTTP's own framing tells a cut body.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(n),
                Err(e) => return Err(e),
            }
            // With plaintext to return, a drained socket ends the call (the caller's own rule
            // for short reads and a pending FIN applies); without, the socket is asked again, so
            // that an end of stream that came with the last bytes is seen now: no further
            // edge would announce it.
            if drained && n > 0 {
                return Ok(n);
            }
            match self.pull() {
                Ok(Pulled::More) => {}
                Ok(Pulled::Drained) => drained = true,
                // The end, with or without close_notify: the plaintext before it was read above.
                Ok(Pulled::Nothing) if self.eof => return Ok(n),
                Ok(Pulled::Nothing) if n > 0 => return Ok(n),
                Ok(Pulled::Nothing) => return Err(io::ErrorKind::WouldBlock.into()),
                // A protocol error ends the connection, with whatever plaintext came before it:
                // a request cut by one cannot be answered.
                Err(e) => return Err(e),
            }
        }
    }
}

impl Write for TlsStream {
    /// Seals what rustls takes of `buf` (up to its buffer limit) once earlier records are out,
    /// and sends what the socket takes. `WouldBlock`: earlier records still wait.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send_sealed()?;
        let n = self.tls.writer().write(buf)?;
        self.send_some()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TlsStream {
    /// A file body over userspace TLS: reads up to `count` bytes of `file` from `*offset`,
    /// seals them and sends what the socket takes. Ok(0): the file ended early.
    pub fn send_file(&mut self, file: BorrowedFd<'_>, offset: &mut u64, count: usize) -> io::Result<usize> {
        self.send_sealed()?;
        if self.file_buf.is_empty() {
            log::debug!("file body over TLS: encrypted in userspace (kernel TLS is not used)");
            self.file_buf = vec![0; FILE_CHUNK];
        }
        let want = count.min(FILE_CHUNK);
        let got = nix::sys::uio::pread(file, &mut self.file_buf[..want], *offset as libc::off_t)?;
        if got == 0 {
            return Ok(0);
        }
        let n = self.tls.writer().write(&self.file_buf[..got])?;
        *offset += n as u64;
        self.send_some()?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Sends close_notify, then shuts the write side.
    pub fn shutdown_write(&mut self) {
        self.tls.send_close_notify();
        let _ = self.send_some();
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
    }
}

impl Drop for TlsStream {
    /// A closing connection says so with close_notify (best effort: the socket is
    /// non-blocking and about to close), so that the client can tell the end from a cut.
    fn drop(&mut self) {
        if !self.tls.is_handshaking() {
            self.tls.send_close_notify();
            let _ = self.send_some();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_http_answer_is_one_whole_response() {
        let mut headers = [httparse::EMPTY_HEADER; 4];
        let mut resp = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head) = resp.parse(PLAIN_HTTP_ANSWER).unwrap() else {
            panic!("incomplete head");
        };
        assert_eq!(resp.code, Some(400));
        let len = resp.headers.iter().find(|h| h.name == "Content-Length").unwrap().value;
        assert_eq!(
            std::str::from_utf8(len).unwrap(),
            (PLAIN_HTTP_ANSWER.len() - head).to_string()
        );
    }
}
