//! `/metrics` over HTTP from the master (`metrics_bind`): a listener in the master's loop that
//! reads a request head, asks the master for the page and sends it with `Connection: close`.
//! The master answers, never a worker that may be busy. Only what a Prometheus scraper sends
//! is served: `GET /metrics` (or `HEAD`); anything else gets its 4xx.

use super::clients::{Clients, Received};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use std::io;
use std::net::SocketAddr;

/// The longest request head read.
const MAX_HEAD: usize = 8192;

/// Why the metrics listener could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// bind or listen failed.
    #[error("cannot serve metrics on {addr}: {source}")]
    Bind {
        /// `metrics_bind`.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}

/// What a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// `GET /metrics`; `head`: a HEAD request (no body).
    Metrics {
        /// HEAD rather than GET.
        head: bool,
    },
    /// Anything else: answered with this status and closed.
    Refuse(u16),
}

/// The metrics listener and its clients.
#[derive(Debug)]
pub struct Scrape {
    listener: TcpListener,
    token: Token,
    clients: Clients<TcpStream>,
}

impl Scrape {
    /// Listens on `addr`, polled by `registry` as `token` (clients take the tokens after it).
    pub fn bind(addr: SocketAddr, registry: &Registry, token: Token) -> Result<Scrape, ScrapeError> {
        let err = |source| ScrapeError::Bind { addr, source };
        let mut listener = TcpListener::bind(addr).map_err(err)?;
        registry
            .register(&mut listener, token, Interest::READABLE)
            .map_err(err)?;
        log::info!("Metrics at http://{}/metrics", listener.local_addr().map_err(err)?);
        Ok(Scrape {
            listener,
            token,
            clients: Clients::new(token.0),
        })
    }

    /// Whether `token` is this listener's or one of its clients'.
    pub fn owns(&self, token: Token) -> bool {
        token == self.token || self.clients.key(token).is_some()
    }

    /// Handles an event for `token`; returns a client whose request head is complete, and
    /// what it asks.
    pub fn ready(&mut self, registry: &Registry, token: Token) -> Option<(usize, Ask)> {
        if token == self.token {
            self.accept(registry);
            return None;
        }
        let key = self.clients.key(token)?;
        self.clients.flush(registry, key);
        let gone = self.clients.read(key, MAX_HEAD + 1) == Received::Gone;
        let c = self.clients.get_mut(key)?;
        let ask = match request(&c.input) {
            Some(ask) => ask,
            None if c.input.len() > MAX_HEAD => Ask::Refuse(431),
            None => {
                if gone {
                    self.clients.remove(registry, key);
                }
                return None;
            }
        };
        // One request per connection: what follows is not read.
        c.input.clear();
        c.input.shrink_to(0);
        Some((key, ask))
    }

    /// Sends `response` to client `key` and closes after it.
    pub fn answer(&mut self, registry: &Registry, key: usize, response: &[u8]) {
        self.clients.send(registry, key, response, true);
    }

    /// Drops idle clients.
    pub fn sweep(&mut self, registry: &Registry) {
        self.clients.sweep(registry, std::time::Instant::now());
    }

    fn accept(&mut self, registry: &Registry) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) if self.clients.has_room() => {
                    let _ = self.clients.add(registry, stream);
                }
                // Full: closed at once; a scraper retries on its next interval.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

/// What a complete request head in `buf` asks, or None while it is incomplete.
pub fn request(buf: &[u8]) -> Option<Ask> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => None,
        Err(httparse::Error::TooManyHeaders) => Some(Ask::Refuse(431)),
        Err(_) => Some(Ask::Refuse(400)),
        Ok(httparse::Status::Complete(_)) => {
            let path = req.path.unwrap_or("");
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            Some(match (req.method, path) {
                (Some("GET"), "/metrics") => Ask::Metrics { head: false },
                (Some("HEAD"), "/metrics") => Ask::Metrics { head: true },
                (_, "/metrics") => Ask::Refuse(405),
                _ => Ask::Refuse(404),
            })
        }
    }
}

/// The whole response for `ask`, `body` being the metrics page.
pub fn response(ask: Ask, body: &[u8]) -> Vec<u8> {
    let (status, reason, body, head) = match ask {
        Ask::Metrics { head } => (200, "OK", body, head),
        Ask::Refuse(405) => (405, "Method Not Allowed", &b"GET /metrics only\n"[..], false),
        Ask::Refuse(404) => (404, "Not Found", &b"metrics are at /metrics\n"[..], false),
        Ask::Refuse(431) => (431, "Request Header Fields Too Large", &b""[..], false),
        Ask::Refuse(status) => (status, "Bad Request", &b""[..], false),
    };
    let content_type = match ask {
        Ask::Metrics { .. } => "text/plain; version=0.0.4; charset=utf-8",
        Ask::Refuse(_) => "text/plain; charset=utf-8",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
        body.len(),
        if status == 405 { "Allow: GET, HEAD\r\n" } else { "" },
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        let cases: &[(&[u8], Option<Ask>)] = &[
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Some(Ask::Metrics { head: false }),
            ),
            (b"GET /metrics?x=1 HTTP/1.0\r\n\r\n", Some(Ask::Metrics { head: false })),
            (b"HEAD /metrics HTTP/1.1\r\n\r\n", Some(Ask::Metrics { head: true })),
            (b"POST /metrics HTTP/1.1\r\n\r\n", Some(Ask::Refuse(405))),
            (b"GET / HTTP/1.1\r\n\r\n", Some(Ask::Refuse(404))),
            (b"GET /metrics HTTP/1.1\r\nHost: x\r\n", None),
            (b"\x00\x01 garbage\r\n\r\n", Some(Ask::Refuse(400))),
        ];
        for (buf, want) in cases {
            assert_eq!(request(buf), *want, "{buf:?}");
        }
    }

    #[test]
    fn responses() {
        let r = response(Ask::Metrics { head: false }, b"a 1\n");
        assert!(r.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(r.ends_with(b"Content-Length: 4\r\nConnection: close\r\n\r\na 1\n"));
        let h = response(Ask::Metrics { head: true }, b"a 1\n");
        assert!(h.ends_with(b"Content-Length: 4\r\nConnection: close\r\n\r\n"));
        let n = response(Ask::Refuse(405), b"");
        assert!(n.starts_with(b"HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(n.windows(6).any(|w| w == b"Allow:"));
    }
}
