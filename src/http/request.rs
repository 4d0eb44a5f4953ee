//! Request head parsing (httparse plus RFC 9112's stricter rules), into spans of the read buffer.
//!
//! OWNER NOTE (skeleton): a minimal version; the strict parser replaces it behind the same API.

use super::error::ParseError;

/// A byte range of the connection's read buffer: positions, not borrows, so the buffer can be
/// reused and grown without lifetime knots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// The bytes this span covers in `buf`.
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    /// True when the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn within(buf: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }
}

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

impl Version {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the request body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length: N` (N > 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The size limits a head is checked against (0 = unlimited where gunicorn allows it).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `limit_request_line`.
    pub request_line: usize,
    /// `limit_request_fields`.
    pub fields: usize,
    /// `limit_request_field_size`.
    pub field_size: usize,
}

/// A parsed request head; every span points into the buffer given to [`parse_head`].
#[derive(Clone, Debug)]
pub struct Head {
    /// The method token.
    pub method: Span,
    /// The request target exactly as sent (RAW_URI).
    pub target: Span,
    /// The path part of the target, not percent-decoded.
    pub path: Span,
    /// The query, without the `?`.
    pub query: Span,
    /// The fragment, without the `#`.
    pub fragment: Span,
    /// The authority of an absolute-form target.
    pub authority: Option<Span>,
    /// The protocol version.
    pub version: Version,
    /// Header fields in the order sent: (name, value without surrounding whitespace).
    pub headers: Vec<(Span, Span)>,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the connection may stay open after this request.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
    /// Length of the head in bytes, final CRLF included.
    pub len: usize,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            method: Span::default(),
            target: Span::default(),
            path: Span::default(),
            query: Span::default(),
            fragment: Span::default(),
            authority: None,
            version: Version::Http11,
            headers: Vec::with_capacity(32),
            framing: BodyFraming::None,
            keep_alive: true,
            expect_continue: false,
            len: 0,
        }
    }
}

/// Parses a request head at the start of `buf` into `head`.
///
/// Returns `Ok(Some(len))` when a complete head of `len` bytes was parsed, `Ok(None)` when more
/// bytes are needed (limits are still enforced on the partial head, so a caller never buffers
/// without bound), and `Err` for a request that must be rejected.
pub fn parse_head(buf: &[u8], limits: &Limits, head: &mut Head) -> Result<Option<usize>, ParseError> {
    let mut storage = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut storage);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if limits.request_line > 0 && !buf.contains(&b'\n') && buf.len() > limits.request_line {
                return Err(ParseError::RequestLineTooLong);
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooManyFields),
        Err(httparse::Error::Version) => return Err(ParseError::UnsupportedVersion),
        Err(_) => return Err(ParseError::Malformed("invalid request head")),
    };
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    head.method = Span::within(buf, method.as_bytes());
    head.target = Span::within(buf, target.as_bytes());
    let (path, rest) = match target.find('?') {
        Some(i) => (&target[..i], Some(&target[i + 1..])),
        None => (target, None),
    };
    head.path = Span::within(buf, path.as_bytes());
    head.query = match rest {
        Some(q) => Span::within(buf, q.as_bytes()),
        None => Span {
            start: head.target.end,
            end: head.target.end,
        },
    };
    head.fragment = Span {
        start: head.target.end,
        end: head.target.end,
    };
    head.authority = None;
    head.version = if req.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    head.headers.clear();
    head.framing = BodyFraming::None;
    head.keep_alive = head.version == Version::Http11;
    head.expect_continue = false;
    for h in req.headers.iter() {
        let name = Span::within(buf, h.name.as_bytes());
        let value = Span::within(buf, h.value);
        head.headers.push((name, value));
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(ParseError::Malformed("invalid Content-Length"))?;
            if n > 0 {
                head.framing = BodyFraming::Length(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if h.value.eq_ignore_ascii_case(b"chunked") {
                head.framing = BodyFraming::Chunked;
            } else {
                return Err(ParseError::UnsupportedTransferCoding);
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            if h.value.eq_ignore_ascii_case(b"close") {
                head.keep_alive = false;
            } else if h.value.eq_ignore_ascii_case(b"keep-alive") {
                head.keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("expect") && h.value.eq_ignore_ascii_case(b"100-continue") {
            head.expect_continue = true;
        }
    }
    head.len = len;
    Ok(Some(len))
}
