//! The start_response/write protocol of PEP 3333: the state of one response from the
//! application's first call to the last byte, and the framing decisions that follow from it.
//!
//! [`Response`] is owned by a connection and reused; [`StartResponse`] is the handle an
//! application gets. Everything here writes into a byte buffer; the worker moves the bytes.

use super::AppError;
use crate::http::request::Version;
use crate::http::response::{self, Framing, Stamp};

/// A protocol rule the application broke; raised to the application as its error.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// The status is not a three-digit code, optionally followed by a space and a reason.
    #[error("invalid status {0:?}: expected three digits, then optionally a space and a reason")]
    InvalidStatus(String),
    /// A header name that is not a token, or a value with CR, LF or NUL.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// A header value with a character past U+00FF (PEP 3333: values are latin-1 text).
    #[error("header value {0:?} is not latin-1")]
    NotLatin1(String),
    /// `start_response` called again without `exc_info`.
    #[error("start_response called a second time without exc_info")]
    AlreadyStarted,
    /// `write` called before `start_response`.
    #[error("write() called before start_response()")]
    NotStarted,
    /// The body ended without `start_response` ever being called.
    #[error("the application returned without calling start_response()")]
    NeverStarted,
}

/// Where one response stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// start_response not yet called.
    Idle,
    /// Status and headers recorded; nothing sent.
    Started,
    /// The head is in the output; body bytes follow per `framing`.
    Sending,
    /// The body is complete.
    Done,
}

/// The request facts a response depends on.
#[derive(Clone, Copy, Debug)]
pub struct RequestInfo {
    /// The request's protocol version (the response uses the same).
    pub version: Version,
    /// HEAD: the response carries no body.
    pub head: bool,
    /// The client and server both allow the connection to continue.
    pub keep_alive: bool,
}

/// The state of one response; reused from request to request on a connection.
#[derive(Debug)]
pub struct Response {
    phase: Phase,
    req: RequestInfo,
    status: u16,
    /// Encoded status line and the application's headers, held until the first body byte.
    head: Vec<u8>,
    content_length: Option<u64>,
    app_wants_close: bool,
    framing: Framing,
    sent: u64,
    keep_alive: bool,
}

impl Default for Response {
    fn default() -> Self {
        Response {
            phase: Phase::Idle,
            req: RequestInfo {
                version: Version::Http11,
                head: false,
                keep_alive: false,
            },
            status: 0,
            head: Vec::new(),
            content_length: None,
            app_wants_close: false,
            framing: Framing::NoBody,
            sent: 0,
            keep_alive: false,
        }
    }
}

/// How a finished response leaves the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The next request may follow on the same connection.
    KeepAlive,
    /// Close once the output is flushed.
    Close,
}

impl Response {
    /// Starts a new response for a request.
    pub fn begin(&mut self, req: RequestInfo) {
        self.phase = Phase::Idle;
        self.req = req;
        self.status = 0;
        self.head.clear();
        self.content_length = None;
        self.app_wants_close = false;
        self.framing = Framing::NoBody;
        self.sent = 0;
        self.keep_alive = req.keep_alive;
    }

    /// True once the body has all the bytes its `Content-Length` promised: nothing the
    /// application produces later can reach the client, so its next block need not wait for
    /// this one to be sent.
    pub fn body_complete(&self) -> bool {
        matches!((self.phase, self.framing), (Phase::Sending | Phase::Done, Framing::Length(n)) if self.sent >= n)
    }

    /// True once the head has gone out saying that the connection closes after this response.
    pub fn closes_after(&self) -> bool {
        self.headers_sent() && !self.keep_alive
    }

    /// True once any byte of the response head has gone into the output.
    pub fn headers_sent(&self) -> bool {
        matches!(self.phase, Phase::Sending | Phase::Done)
    }

    /// The status the application chose (0 before start_response).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Body bytes sent so far (after framing decisions, before chunk encoding).
    pub fn body_bytes(&self) -> u64 {
        self.sent
    }

    /// The status line and the application's headers as encoded (`Name: value\r\n` lines),
    /// for the access log's `%({name}o)s`.
    pub fn head_bytes(&self) -> &[u8] {
        &self.head
    }

    /// The `Content-Length` the application gave, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    fn start(&mut self, status: &str, headers: &[(&str, &str)], exc_info: Option<AppError>) -> Result<(), AppError> {
        match (self.phase, exc_info) {
            (Phase::Idle, _) => {}
            (Phase::Started, Some(_)) => {}
            (Phase::Started, None) => return Err(ProtocolError::AlreadyStarted.into()),
            // PEP 3333: with headers already sent, re-raise the application's exception.
            (Phase::Sending | Phase::Done, Some(err)) => return Err(err),
            (Phase::Sending | Phase::Done, None) => return Err(ProtocolError::AlreadyStarted.into()),
        }
        let (code, has_reason) = parse_status(status)?;
        self.head.clear();
        self.content_length = None;
        self.app_wants_close = false;
        if has_reason {
            response::put_status_line(&mut self.head, self.req.version, status);
        } else {
            // PEP 3333 requires a reason phrase, but gunicorn sends "200" as it is and every
            // client accepts a status line without one: refusing it with a 500 would break apps
            // that work under gunicorn. The standard phrase (none for an unregistered code, which
            // RFC 9112's `[ reason-phrase ]` allows) keeps the line well-formed for clients that
            // expect the space after the code.
            let reason = response::standard_reason(code).unwrap_or("");
            response::put_status_code_line(&mut self.head, self.req.version, code, reason);
        }
        for &(name, value) in headers {
            if !valid_header(name, value) {
                self.head.clear();
                return Err(ProtocolError::InvalidHeader(format!("{name}: {value}")).into());
            }
            if name.eq_ignore_ascii_case("content-length") {
                let n = value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|_| value.trim().bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| ProtocolError::InvalidHeader(format!("{name}: {value}")))?;
                self.content_length = Some(n);
                continue;
            }
            if is_hop_by_hop(name) {
                // Hop-by-hop headers are the server's business (PEP 3333); like gunicorn, drop
                // them, but honour an application's wish to close.
                if name.eq_ignore_ascii_case("connection") && value.trim().eq_ignore_ascii_case("close") {
                    self.app_wants_close = true;
                }
                continue;
            }
            // PEP 3333: header values are latin-1 text, for Rust apps as for Python ones.
            if !response::put_header_latin1(&mut self.head, name, value) {
                self.head.clear();
                return Err(ProtocolError::NotLatin1(value.to_owned()).into());
            }
        }
        self.status = code;
        self.phase = Phase::Started;
        Ok(())
    }

    /// Puts a `103 Early Hints` response carrying `headers` into `out`, as gunicorn's
    /// `wsgi.early_hints` does: nothing for an HTTP/1.0 client (it does not expect interim
    /// responses) nor once the final head has gone out (the 103 would land inside its body).
    /// Headers are checked as `start_response` checks them; none is dropped, since a hint is
    /// only advice to the client.
    fn early_hints(&mut self, out: &mut Vec<u8>, headers: &[(&str, &str)]) -> Result<(), AppError> {
        if self.req.version == Version::Http10 || self.headers_sent() {
            return Ok(());
        }
        let start = out.len();
        response::put_status_code_line(out, Version::Http11, 103, "Early Hints");
        for &(name, value) in headers {
            if !valid_header(name, value) {
                out.truncate(start);
                return Err(ProtocolError::InvalidHeader(format!("{name}: {value}")).into());
            }
            if !response::put_header_latin1(out, name, value.trim_matches([' ', '\t'])) {
                out.truncate(start);
                return Err(ProtocolError::NotLatin1(value.to_owned()).into());
            }
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Moves the head into `out`, choosing the body framing. `known_len` is the whole body's
    /// length when the server holds all of it (a single-chunk body).
    fn send_head(&mut self, out: &mut Vec<u8>, stamp: &Stamp<'_>, known_len: Option<u64>) {
        let has_body = response::status_has_body(self.status);
        let length = self.content_length.or(if has_body { known_len } else { None });
        self.framing = self.framing_for(known_len);
        if self.app_wants_close || self.framing == Framing::CloseDelimited {
            self.keep_alive = false;
        }
        out.extend_from_slice(&self.head);
        response::put_stamp(out, stamp);
        match self.framing {
            Framing::Length(n) => response::put_content_length(out, n),
            Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            Framing::NoBody if has_body => {
                // HEAD keeps the length the GET would have had.
                if let Some(n) = length {
                    response::put_content_length(out, n);
                }
            }
            _ => {}
        }
        if !self.keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if self.req.version == Version::Http10 {
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        self.phase = Phase::Sending;
    }

    /// The framing the head chooses for this response, `known_len` as in [`Response::send_head`].
    fn framing_for(&self, known_len: Option<u64>) -> Framing {
        let has_body = response::status_has_body(self.status);
        let length = self.content_length.or(if has_body { known_len } else { None });
        if self.req.head || !has_body {
            Framing::NoBody
        } else if let Some(n) = length {
            Framing::Length(n)
        } else if self.req.version == Version::Http11 {
            Framing::Chunked
        } else {
            Framing::CloseDelimited
        }
    }

    /// How many body bytes a whole remaining body of `len` bytes puts on the wire: none for
    /// HEAD or a status without a body, no more than the `Content-Length` leaves room for.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // read by Python's request hooks
    pub fn body_bytes_of(&self, len: u64) -> u64 {
        let framing = match self.phase {
            Phase::Idle | Phase::Started => self.framing_for(Some(len)),
            Phase::Sending | Phase::Done => self.framing,
        };
        match framing {
            Framing::NoBody => 0,
            Framing::Length(n) => len.min(n.saturating_sub(self.sent)),
            Framing::Chunked | Framing::CloseDelimited => len,
        }
    }

    /// Sends one body chunk, sending the head first if this is the first non-empty chunk.
    pub fn send(
        &mut self,
        data: &[u8],
        out: &mut Vec<u8>,
        stamp: &Stamp<'_>,
        known_len: Option<u64>,
    ) -> Result<(), AppError> {
        match self.phase {
            Phase::Idle => return Err(ProtocolError::NotStarted.into()),
            Phase::Started if data.is_empty() => return Ok(()),
            Phase::Started => self.send_head(out, stamp, known_len),
            Phase::Sending | Phase::Done => {}
        }
        match self.framing {
            Framing::NoBody => {}
            Framing::Length(n) => {
                let room = n.saturating_sub(self.sent);
                let take = (data.len() as u64).min(room) as usize;
                out.extend_from_slice(&data[..take]);
                self.sent += take as u64;
            }
            Framing::Chunked => {
                response::put_chunk(out, data);
                self.sent += data.len() as u64;
            }
            Framing::CloseDelimited => {
                out.extend_from_slice(data);
                self.sent += data.len() as u64;
            }
        }
        Ok(())
    }

    /// Starts a body of `len` bytes that the caller sends itself, unframed (sendfile): the head
    /// goes out first if it has not, with `len` as the length unless the app set one. Returns
    /// how many of the bytes the framing takes (fewer under a shorter `Content-Length`, none
    /// for HEAD), or None when the body is chunked and must go through [`Response::send`].
    pub fn send_raw(&mut self, len: u64, out: &mut Vec<u8>, stamp: &Stamp<'_>) -> Result<Option<u64>, AppError> {
        match self.phase {
            Phase::Idle => return Err(ProtocolError::NotStarted.into()),
            Phase::Started => self.send_head(out, stamp, Some(len)),
            Phase::Sending | Phase::Done => {}
        }
        let take = match self.framing {
            Framing::NoBody => 0,
            Framing::Length(n) => len.min(n.saturating_sub(self.sent)),
            Framing::CloseDelimited => len,
            Framing::Chunked => return Ok(None),
        };
        self.sent += take;
        Ok(Some(take))
    }

    /// Ends the body: sends the head if it is still pending, the last chunk if chunked, and
    /// says whether the connection may carry another request.
    pub fn finish(&mut self, out: &mut Vec<u8>, stamp: &Stamp<'_>) -> Result<Ending, AppError> {
        match self.phase {
            Phase::Idle => return Err(ProtocolError::NeverStarted.into()),
            Phase::Started => self.send_head(out, stamp, Some(0)),
            Phase::Sending => {}
            Phase::Done => return Ok(self.ending()),
        }
        match self.framing {
            Framing::Chunked => out.extend_from_slice(response::LAST_CHUNK),
            // A body shorter than its Content-Length leaves the client waiting for bytes that
            // will never come: only closing the connection tells it.
            Framing::Length(n) if self.sent < n => self.keep_alive = false,
            _ => {}
        }
        self.phase = Phase::Done;
        Ok(self.ending())
    }

    fn ending(&self) -> Ending {
        if self.keep_alive {
            Ending::KeepAlive
        } else {
            Ending::Close
        }
    }
}

/// The application's handle on its response: PEP 3333's `start_response` and `write`.
pub struct StartResponse<'a> {
    resp: &'a mut Response,
    out: &'a mut Vec<u8>,
    stamp: Stamp<'a>,
    drain: Option<&'a mut dyn Drain>,
}

/// Moves output to the client while the application is still running (its `write` calls): the
/// server's side of PEP 3333's rule that a block is never delayed. A server either transmits the
/// block before `write` returns (the worker's own thread, which cannot send while the
/// application runs) or hands it to a sender that keeps transmitting while the application
/// produces the next one (an application thread), waiting only while more than
/// [`OUTPUT_HIGH_WATER`] is unsent.
pub trait Drain {
    /// Sends or hands over everything in `out` (leaving it empty); an error means the client
    /// is gone (or stalled past `timeout`).
    fn drain(&mut self, out: &mut Vec<u8>) -> std::io::Result<()>;
}

/// Unsent output above which the worker stops asking the application for more (a body's next
/// chunk, or an application thread's `write`) until the client has read some: a slow reader
/// costs memory only up to here.
pub const OUTPUT_HIGH_WATER: usize = 64 * 1024;

impl<'a> StartResponse<'a> {
    /// A handle writing `resp`'s bytes into `out`. Hidden: the worker makes it, and
    /// `benches/protocol.rs` through `forkhorn::unstable`; an application only receives one.
    #[doc(hidden)]
    pub fn new(resp: &'a mut Response, out: &'a mut Vec<u8>, stamp: Stamp<'a>) -> Self {
        StartResponse {
            resp,
            out,
            stamp,
            drain: None,
        }
    }

    /// Lets `write` hand its output to `drain` at once instead of buffering it.
    pub(crate) fn with_drain(mut self, drain: &'a mut dyn Drain) -> Self {
        self.drain = Some(drain);
        self
    }

    /// Sets the status ("200 OK") and headers. A second call is an error unless `exc_info`
    /// carries the application's error: before any byte was sent it replaces the status and
    /// headers; after, the error is returned for the application to propagate.
    pub fn start_response(
        &mut self,
        status: &str,
        headers: &[(&str, &str)],
        exc_info: Option<AppError>,
    ) -> Result<Write<'_, 'a>, AppError> {
        self.resp.start(status, headers, exc_info)?;
        Ok(Write { sr: self })
    }

    /// `wsgi.early_hints(headers)`: sends a `103 Early Hints` response ahead of the final one,
    /// at once when there is a drain (see [`Response`]'s `early_hints` for when it sends nothing).
    pub fn early_hints(&mut self, headers: &[(&str, &str)]) -> Result<(), AppError> {
        self.resp.early_hints(self.out, headers)?;
        self.hand_over()
    }

    /// PEP 3333's `write(data)`: sends body bytes ahead of the returned body. With a drain,
    /// the bytes are on their way to the client when it returns (see `Drain`).
    pub fn write(&mut self, data: &[u8]) -> Result<(), AppError> {
        self.resp.send(data, self.out, &self.stamp, None)?;
        self.hand_over()
    }

    /// Gives the output so far to the drain, if there is one (see `Drain`).
    pub(crate) fn hand_over(&mut self) -> Result<(), AppError> {
        if let Some(d) = self.drain.as_mut() {
            if !self.out.is_empty() {
                d.drain(self.out)?;
            }
        }
        Ok(())
    }

    /// See [`Response::body_complete`].
    pub fn body_complete(&self) -> bool {
        self.resp.body_complete()
    }

    /// True once the status line has gone out; after that a status cannot change.
    pub fn headers_sent(&self) -> bool {
        self.resp.headers_sent()
    }

    /// The response so far: its head, `Content-Length` and body bytes sent.
    #[cfg_attr(not(feature = "python"), allow(dead_code))] // read by Python's request hooks
    pub(crate) fn response(&self) -> &Response {
        self.resp
    }

    pub(crate) fn send_chunk(&mut self, data: &[u8], known_len: Option<u64>) -> Result<(), AppError> {
        self.resp.send(data, self.out, &self.stamp, known_len)
    }

    /// See [`Response::send_raw`].
    pub(crate) fn send_raw(&mut self, len: u64) -> Result<Option<u64>, AppError> {
        self.resp.send_raw(len, self.out, &self.stamp)
    }

    pub(crate) fn finish(&mut self) -> Result<Ending, AppError> {
        self.resp.finish(self.out, &self.stamp)
    }

    /// Bytes waiting in the output buffer.
    pub(crate) fn pending(&self) -> usize {
        self.out.len()
    }
}

/// Sends a body the server holds whole (so it can set `Content-Length` itself when the
/// application did not) and ends the response.
pub fn send_whole(sr: &mut StartResponse<'_>, body: &[u8]) -> Result<Ending, AppError> {
    sr.send_chunk(body, Some(body.len() as u64))?;
    sr.finish()
}

/// The `write` callable returned by `start_response`.
pub struct Write<'b, 'a> {
    sr: &'b mut StartResponse<'a>,
}

impl Write<'_, '_> {
    /// Sends body bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), AppError> {
        self.sr.write(data)
    }
}

/// The code of a status, and whether it has a reason phrase: `"200 OK"`, or `"200"` and `"200 "`
/// (a reason of spaces counts as none).
fn parse_status(status: &str) -> Result<(u16, bool), ProtocolError> {
    let b = status.as_bytes();
    let ok = b.len() >= 3
        && b[..3].iter().all(u8::is_ascii_digit)
        && b[0] != b'0'
        && b.get(3).is_none_or(|&c| c == b' ')
        && !b[3..].iter().any(|&c| c == b'\r' || c == b'\n' || c == 0)
        // Latin-1 text, sent one byte a character.
        && status.chars().all(|c| u32::from(c) <= 0xff);
    if !ok {
        return Err(ProtocolError::InvalidStatus(status.to_owned()));
    }
    let code = b[..3].iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    Ok((code, b[3..].iter().any(|&c| c != b' ')))
}

/// A header `start_response` (and `wsgi.early_hints`) accepts: a token for a name, and a value
/// without CR, LF or NUL, which could end the header early or split the response.
fn valid_header(name: &str, value: &str) -> bool {
    is_token(name) && !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// RFC 9110 token characters.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

fn is_hop_by_hop(name: &str) -> bool {
    const HOP: [&str; 9] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAMP: Stamp<'static> = Stamp {
        date: "Thu, 01 Jan 1970 00:00:00 GMT",
        server: "",
    };

    fn req(version: Version, head: bool, keep_alive: bool) -> RequestInfo {
        RequestInfo {
            version,
            head,
            keep_alive,
        }
    }

    fn run(
        info: RequestInfo,
        f: impl FnOnce(&mut StartResponse<'_>) -> Result<(), AppError>,
    ) -> (Result<Ending, String>, String) {
        let mut resp = Response::default();
        let mut out = Vec::new();
        resp.begin(info);
        let mut sr = StartResponse::new(&mut resp, &mut out, STAMP);
        let r = f(&mut sr).and_then(|_| sr.finish()).map_err(|e| e.to_string());
        (r, String::from_utf8(out).unwrap())
    }

    #[test]
    fn framing_table() {
        let date = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
        // (version, HEAD, keep-alive, status, app headers, chunks, expected wire bytes, ending)
        type Case<'a> = (
            Version,
            bool,
            bool,
            &'a str,
            &'a [(&'a str, &'a str)],
            &'a [&'a str],
            String,
            Ending,
        );
        let cases: &[Case<'_>] = &[
            (Version::Http11, false, true, "200 OK", &[], &["ab", "", "cd"],
             format!("HTTP/1.1 200 OK\r\n{date}Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"), Ending::KeepAlive),
            (Version::Http11, false, true, "200 OK", &[("Content-Length", "4")], &["ab", "cdef"],
             format!("HTTP/1.1 200 OK\r\n{date}Content-Length: 4\r\n\r\nabcd"), Ending::KeepAlive),
            (Version::Http11, false, true, "200 OK", &[("Content-Length", "5")], &["ab"],
             format!("HTTP/1.1 200 OK\r\n{date}Content-Length: 5\r\n\r\nab"), Ending::Close),
            (Version::Http10, false, false, "200 OK", &[], &["ab"],
             format!("HTTP/1.0 200 OK\r\n{date}Connection: close\r\n\r\nab"), Ending::Close),
            (Version::Http10, false, true, "200 OK", &[("Content-Length", "2")], &["ab"],
             format!("HTTP/1.0 200 OK\r\n{date}Content-Length: 2\r\nConnection: keep-alive\r\n\r\nab"), Ending::KeepAlive),
            (Version::Http11, true, true, "200 OK", &[("Content-Length", "2")], &["ab"],
             format!("HTTP/1.1 200 OK\r\n{date}Content-Length: 2\r\n\r\n"), Ending::KeepAlive),
            (Version::Http11, false, true, "204 No Content", &[], &["ignored"],
             format!("HTTP/1.1 204 No Content\r\n{date}\r\n"), Ending::KeepAlive),
            (Version::Http11, false, true, "304 Not Modified", &[("ETag", "\"x\"")], &[],
             format!("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n{date}\r\n"), Ending::KeepAlive),
            (Version::Http11, false, true, "200 OK", &[], &[],
             format!("HTTP/1.1 200 OK\r\n{date}Content-Length: 0\r\n\r\n"), Ending::KeepAlive),
            (Version::Http11, false, true, "200 OK", &[("Connection", "close"), ("Transfer-Encoding", "gzip")], &["x"],
             format!("HTTP/1.1 200 OK\r\n{date}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1\r\nx\r\n0\r\n\r\n"), Ending::Close),
        ];
        for (i, (v, head, ka, status, headers, chunks, wire, ending)) in cases.iter().enumerate() {
            let (r, out) = run(req(*v, *head, *ka), |sr| {
                sr.start_response(status, headers, None)?;
                for c in chunks.iter() {
                    sr.send_chunk(c.as_bytes(), None)?;
                }
                Ok(())
            });
            assert_eq!(r, Ok(*ending), "case {i}");
            assert_eq!(&out, wire, "case {i}");
        }
    }

    #[test]
    fn body_bytes_of_a_whole_body_follow_the_framing() {
        // (HEAD, status, app headers, bytes already sent, whole body left, on the wire)
        type Case<'a> = (bool, &'a str, &'a [(&'a str, &'a str)], &'a str, u64, u64);
        let cases: &[Case<'_>] = &[
            (false, "200 OK", &[], "", 10, 10),
            (true, "200 OK", &[], "", 10, 0),
            (false, "204 No Content", &[], "", 10, 0),
            (false, "304 Not Modified", &[], "", 10, 0),
            (false, "200 OK", &[("Content-Length", "4")], "", 10, 4),
            (false, "200 OK", &[("Content-Length", "4")], "ab", 10, 2),
            (false, "200 OK", &[], "ab", 10, 10),
        ];
        for (i, (head, status, headers, before, whole, want)) in cases.iter().enumerate() {
            let mut got = None;
            let (r, _) = run(req(Version::Http11, *head, true), |sr| {
                sr.start_response(status, headers, None)?;
                sr.send_chunk(before.as_bytes(), None)?;
                got = Some(sr.response().body_bytes_of(*whole));
                Ok(())
            });
            assert!(r.is_ok(), "case {i}: {r:?}");
            assert_eq!(got, Some(*want), "case {i}");
        }
    }

    #[test]
    fn protocol_errors() {
        let info = req(Version::Http11, false, true);
        let (r, out) = run(info, |sr| sr.write(b"x"));
        assert_eq!(r.unwrap_err(), ProtocolError::NotStarted.to_string());
        assert_eq!(out, "");
        let (r, _) = run(info, |sr| {
            sr.start_response("200 OK", &[], None)?;
            sr.start_response("500 Oops", &[], None).map(|_| ())
        });
        assert_eq!(r.unwrap_err(), ProtocolError::AlreadyStarted.to_string());
        for bad in [
            "20",
            "2000 OK",
            "abc OK",
            "200OK",
            "200 O\r\nK",
            "099 x",
            "200 \u{20ac}",
        ] {
            let (r, _) = run(info, |sr| sr.start_response(bad, &[], None).map(|_| ()));
            assert!(r.unwrap_err().contains("invalid status"), "{bad}");
        }
        for (n, v) in [
            ("Bad Name", "x"),
            ("X", "a\r\nb"),
            ("X", "a\0"),
            ("", "x"),
            ("Content-Length", "-1"),
        ] {
            let (r, _) = run(info, |sr| sr.start_response("200 OK", &[(n, v)], None).map(|_| ()));
            assert!(r.unwrap_err().contains("invalid header"), "{n}: {v:?}");
        }
        let (r, _) = run(info, |sr| {
            sr.start_response("200 OK", &[("X", "\u{20ac}")], None).map(|_| ())
        });
        assert_eq!(r.unwrap_err(), "header value \"\u{20ac}\" is not latin-1");
        let (r, _) = run(info, |_| Ok(()));
        assert_eq!(r.unwrap_err(), ProtocolError::NeverStarted.to_string());
    }

    #[test]
    fn statuses_without_a_reason_get_the_standard_one() {
        let info = req(Version::Http11, false, true);
        // (status given, status line sent)
        for (status, line) in [
            ("200", "HTTP/1.1 200 OK\r\n"),
            ("200 ", "HTTP/1.1 200 OK\r\n"),
            ("404   ", "HTTP/1.1 404 Not Found\r\n"),
            ("299", "HTTP/1.1 299 \r\n"),
            ("200 OK", "HTTP/1.1 200 OK\r\n"),
            ("200 Fine", "HTTP/1.1 200 Fine\r\n"),
            ("201  Made", "HTTP/1.1 201  Made\r\n"),
        ] {
            let (r, out) = run(info, |sr| sr.start_response(status, &[], None).map(|_| ()));
            assert_eq!(r, Ok(Ending::KeepAlive), "{status:?}");
            assert!(out.starts_with(line), "{status:?}: {out}");
        }
        for (status, code) in [("200", 200), ("418 I'm a teapot", 418), ("599 ", 599)] {
            assert_eq!(parse_status(status).map(|(c, _)| c).ok(), Some(code), "{status}");
        }
        for bad in ["", "2", "20", "200OK", "200\tOK", "0200", "2x0", "200\n"] {
            assert!(parse_status(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn early_hints_go_before_the_head() {
        let hints: &[(&str, &str)] = &[("Link", " </a.css>; rel=preload \t")];
        let (r, out) = run(req(Version::Http11, false, true), |sr| {
            sr.early_hints(hints)?;
            sr.early_hints(&[])?;
            sr.start_response("200 OK", &[("Content-Length", "1")], None)?;
            sr.early_hints(hints)?;
            sr.write(b"x")?;
            sr.early_hints(hints)
        });
        assert_eq!(r, Ok(Ending::KeepAlive));
        let date = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
        assert_eq!(
            out,
            format!(
                "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n\
                 HTTP/1.1 103 Early Hints\r\n\r\n\
                 HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n\
                 HTTP/1.1 200 OK\r\n{date}Content-Length: 1\r\n\r\nx"
            )
        );
        // HTTP/1.0 clients get no interim response.
        let (_, out) = run(req(Version::Http10, false, false), |sr| {
            sr.early_hints(hints)?;
            sr.start_response("200 OK", &[], None).map(|_| ())
        });
        assert!(out.starts_with("HTTP/1.0 200 OK\r\n"), "{out}");
        for (n, v) in [
            ("Li nk", "x"),
            ("Link", "a\r\nSet-Cookie: x"),
            ("Link", "a\0"),
            ("", "x"),
        ] {
            let (r, out) = run(req(Version::Http11, false, true), |sr| {
                sr.early_hints(&[("Link", "ok"), (n, v)])
            });
            assert!(r.unwrap_err().contains("invalid header"), "{n}: {v:?}");
            assert_eq!(out, "", "nothing of a refused hint is sent");
        }
        let (r, _) = run(req(Version::Http11, false, true), |sr| {
            sr.early_hints(&[("Link", "\u{20ac}")])
        });
        assert!(r.unwrap_err().contains("not latin-1"));
    }

    #[test]
    fn exc_info_replaces_before_and_reraises_after() {
        let info = req(Version::Http11, false, true);
        let (r, out) = run(info, |sr| {
            sr.start_response("200 OK", &[("X-A", "1")], None)?;
            sr.start_response("500 Internal Server Error", &[("X-B", "2")], Some("boom".into()))?;
            sr.write(b"e")
        });
        assert_eq!(r, Ok(Ending::KeepAlive));
        assert!(
            out.starts_with("HTTP/1.1 500 Internal Server Error\r\nX-B: 2\r\n"),
            "{out}"
        );
        assert!(!out.contains("X-A"));
        let (r, out) = run(info, |sr| {
            sr.start_response("200 OK", &[], None)?.write(b"partial")?;
            sr.start_response("500 Internal Server Error", &[], Some("boom".into()))
                .map(|_| ())
        });
        assert_eq!(r.unwrap_err(), "boom");
        assert_eq!(out.matches("HTTP/1.1").count(), 1);
    }
}
