//! The load generator's response reader: a resumable parse of one HTTP/1.x response over bytes,
//! framed the way RFC 9112 §6.3 says (no body, chunked, Content-Length, or until close). Pure:
//! the connection feeds it what it read and drops the bytes it consumed.
//!
//! Only where a response ends matters here, so a chunked body is skipped, not decoded:
//! httparse reads the size lines, and extensions and trailer fields are passed over unjudged.
//! (The server's strict decoder guards requests against smuggling; a load generator has nothing
//! to guard.)

/// Header fields parsed per response; more is a protocol error for a benchmark target.
const MAX_HEADERS: usize = 64;
/// A head, chunk-size line or trailer section that has not ended after this many bytes is
/// treated as garbage, not waited for.
const MAX_HEAD: usize = 64 * 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// The status line or a header field is malformed.
    #[error("malformed response head: {0}")]
    ParseHead(httparse::Error),
    /// The head did not end within the size limit.
    #[error("response head longer than {MAX_HEAD} bytes")]
    FindHeadEnd,
    /// The Content-Length field is not one number.
    #[error("invalid Content-Length")]
    ParseContentLength,
    /// The chunked body is malformed; the text says where.
    #[error("malformed chunked body: {0}")]
    DecodeChunked(&'static str),
    /// The server switched protocols, which a GET benchmark never asks for.
    #[error("unexpected 101 Switching Protocols")]
    RejectUpgrade,
    /// The connection ended before the response did.
    #[error("connection closed mid-response")]
    FinishResponse,
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Complete {
    /// The status code.
    pub status: u16,
    /// The server will keep the connection open for another request.
    pub keep_alive: bool,
}

/// What one [`ResponseReader::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Bytes of the input consumed; the caller drops them and feeds the rest with more appended.
    pub consumed: usize,
    /// The response, once its last byte has been fed.
    pub complete: Option<Complete>,
}

/// Where the reader is within the response.
#[derive(Debug, Clone)]
enum State {
    Head,
    Body {
        status: u16,
        keep_alive: bool,
        framing: Framing,
    },
}

/// How the end of the body is found.
#[derive(Debug, Clone)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Where a chunked body is (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// At a chunk-size line.
    Size,
    /// In a chunk's data, with this many bytes to go.
    Data(u64),
    /// At the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk, at the start of a trailer field line or of the final CRLF.
    Trailer,
}

impl Chunk {
    /// Consumes what it can of `input`: the bytes consumed, and whether the body has ended.
    /// Stops at a line it has not seen the end of, which comes again with more appended.
    fn skip(&mut self, input: &[u8]) -> Result<(usize, bool), ResponseError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self {
                Chunk::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        pos += n;
                        *self = if size == 0 { Chunk::Trailer } else { Chunk::Data(size) };
                    }
                    Ok(httparse::Status::Partial) if rest.len() > MAX_HEAD => {
                        return Err(ResponseError::DecodeChunked("chunk-size line too long"))
                    }
                    Ok(httparse::Status::Partial) => return Ok((pos, false)),
                    Err(httparse::InvalidChunkSize) => return Err(ResponseError::DecodeChunked("invalid chunk size")),
                },
                Chunk::Data(left) => {
                    let take = (*left).min(rest.len() as u64);
                    *left -= take;
                    pos += take as usize;
                    if *left > 0 {
                        return Ok((pos, false));
                    }
                    *self = Chunk::DataEnd;
                }
                Chunk::DataEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        *self = Chunk::Size;
                    }
                    [] | [b'\r'] => return Ok((pos, false)),
                    _ => return Err(ResponseError::DecodeChunked("chunk data not followed by CRLF")),
                },
                Chunk::Trailer => match rest.windows(2).position(|w| w == b"\r\n") {
                    Some(0) => return Ok((pos + 2, true)),
                    Some(end) => pos += end + 2,
                    None if rest.len() > MAX_HEAD => {
                        return Err(ResponseError::DecodeChunked("trailer field too long"))
                    }
                    None => return Ok((pos, false)),
                },
            }
        }
    }
}

/// Reads one response at a time; call [`ResponseReader::reset`] before the next.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    state: State,
}

impl Default for ResponseReader {
    fn default() -> Self {
        ResponseReader { state: State::Head }
    }
}

impl ResponseReader {
    /// A reader waiting for a status line.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the current response, ready for the next one.
    pub fn reset(&mut self) {
        self.state = State::Head;
    }

    /// Consumes what it can of `input` (the unconsumed bytes received so far).
    pub fn feed(&mut self, input: &[u8]) -> Result<Fed, ResponseError> {
        let mut pos = 0;
        loop {
            match &mut self.state {
                State::Head => {
                    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    let mut resp = httparse::Response::new(&mut headers);
                    let n = match resp.parse(&input[pos..]).map_err(ResponseError::ParseHead)? {
                        httparse::Status::Complete(n) => n,
                        httparse::Status::Partial if input.len() - pos > MAX_HEAD => {
                            return Err(ResponseError::FindHeadEnd)
                        }
                        httparse::Status::Partial => {
                            return Ok(Fed {
                                consumed: pos,
                                complete: None,
                            })
                        }
                    };
                    pos += n;
                    let status = resp.code.unwrap_or(0);
                    if status == 101 {
                        return Err(ResponseError::RejectUpgrade);
                    }
                    if (100..200).contains(&status) {
                        // An interim response; the real one follows.
                        continue;
                    }
                    let (keep_alive, framing) = framing(status, resp.version == Some(1), resp.headers)?;
                    self.state = State::Body {
                        status,
                        keep_alive,
                        framing,
                    };
                }
                State::Body {
                    status,
                    keep_alive,
                    framing,
                } => {
                    let done = match framing {
                        Framing::Length(left) => {
                            let take = (*left).min((input.len() - pos) as u64);
                            *left -= take;
                            pos += take as usize;
                            *left == 0
                        }
                        Framing::Chunked(chunk) => {
                            let (consumed, done) = chunk.skip(&input[pos..])?;
                            pos += consumed;
                            done
                        }
                        Framing::UntilClose => {
                            pos = input.len();
                            false
                        }
                    };
                    let complete = done.then_some(Complete {
                        status: *status,
                        keep_alive: *keep_alive,
                    });
                    return Ok(Fed {
                        consumed: pos,
                        complete,
                    });
                }
            }
        }
    }

    /// The peer closed the connection: completes a body delimited by the close, or fails.
    pub fn end(&mut self) -> Result<Complete, ResponseError> {
        match &self.state {
            State::Body {
                status,
                framing: Framing::UntilClose,
                ..
            } => Ok(Complete {
                status: *status,
                keep_alive: false,
            }),
            _ => Err(ResponseError::FinishResponse),
        }
    }
}

/// Whether the connection stays open, and how the body ends (RFC 9112 §6.3, §9.3).
fn framing(status: u16, http11: bool, headers: &[httparse::Header<'_>]) -> Result<(bool, Framing), ResponseError> {
    let mut close = false;
    let mut keep_alive_token = false;
    let mut chunked = false;
    let mut length: Option<u64> = None;
    for h in headers {
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                close |= token.eq_ignore_ascii_case("close");
                keep_alive_token |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only the final coding decides the framing.
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.trim().parse().map_err(|_| ResponseError::ParseContentLength)?;
            if length.is_some_and(|m| m != n) {
                return Err(ResponseError::ParseContentLength);
            }
            length = Some(n);
        }
    }
    let keep_alive = !close && (http11 || keep_alive_token);
    let framing = if status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked(Chunk::Size)
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let keep_alive = keep_alive && !matches!(framing, Framing::UntilClose);
    Ok((keep_alive, framing))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step` bytes, as a socket might deliver them, then the end of
    /// the stream.
    fn read(bytes: &[u8], step: usize) -> Result<Complete, ResponseError> {
        let mut r = ResponseReader::new();
        let mut buf = Vec::new();
        for piece in bytes.chunks(step) {
            buf.extend_from_slice(piece);
            let fed = r.feed(&buf)?;
            buf.drain(..fed.consumed);
            if let Some(c) = fed.complete {
                return Ok(c);
            }
        }
        r.end()
    }

    fn ok(status: u16, keep_alive: bool) -> Result<Complete, ResponseError> {
        Ok(Complete { status, keep_alive })
    }

    #[test]
    fn framings() {
        let cases: &[(&str, &[u8], Result<Complete, ResponseError>)] = &[
            (
                "length",
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                ok(200, true),
            ),
            (
                "length zero",
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                ok(200, true),
            ),
            (
                "close token",
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
                ok(200, false),
            ),
            (
                "1.0 default close",
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
                ok(200, false),
            ),
            (
                "1.0 keep-alive",
                b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi",
                ok(200, true),
            ),
            (
                "chunked",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nT: v\r\n\r\n",
                ok(200, true),
            ),
            (
                "chunked, the last CRLF late",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r",
                Err(ResponseError::FinishResponse),
            ),
            (
                "chunk without its CRLF",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
                Err(ResponseError::DecodeChunked("chunk data not followed by CRLF")),
            ),
            (
                "bad chunk size",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                Err(ResponseError::DecodeChunked("invalid chunk size")),
            ),
            (
                "chunked wins over length",
                b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                ok(200, true),
            ),
            (
                "until close",
                b"HTTP/1.1 200 OK\r\n\r\nbody until the end",
                ok(200, false),
            ),
            (
                "204 has no body",
                b"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
                ok(204, true),
            ),
            (
                "interim 100 skipped",
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nx",
                ok(500, true),
            ),
            (
                "truncated length",
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
                Err(ResponseError::FinishResponse),
            ),
            (
                "truncated head",
                b"HTTP/1.1 200 OK\r\nContent-Len",
                Err(ResponseError::FinishResponse),
            ),
            (
                "truncated chunked",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
                Err(ResponseError::FinishResponse),
            ),
            (
                "bad length",
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                Err(ResponseError::ParseContentLength),
            ),
            (
                "two lengths",
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                Err(ResponseError::ParseContentLength),
            ),
            (
                "garbage",
                b"SSH-2.0-OpenSSH\r\n\r\n",
                Err(ResponseError::ParseHead(httparse::Error::Version)),
            ),
            (
                "upgrade",
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                Err(ResponseError::RejectUpgrade),
            ),
        ];
        for (name, bytes, want) in cases {
            for step in [1, 3, bytes.len()] {
                assert_eq!(&read(bytes, step), want, "{name}, fed {step} bytes at a time");
            }
        }
    }

    #[test]
    fn consumes_exactly_one_response() {
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let mut r = ResponseReader::new();
        let first = r.feed(two).unwrap();
        assert_eq!(
            first.complete,
            Some(Complete {
                status: 200,
                keep_alive: true
            })
        );
        r.reset();
        let second = r.feed(&two[first.consumed..]).unwrap();
        assert_eq!(
            second.complete,
            Some(Complete {
                status: 404,
                keep_alive: true
            })
        );
        assert_eq!(first.consumed + second.consumed, two.len());
    }

    #[test]
    fn endless_head_is_an_error() {
        let mut r = ResponseReader::new();
        let mut head = b"HTTP/1.1 200 OK\r\nX-Filler: ".to_vec();
        head.resize(MAX_HEAD + 100, b'a');
        assert_eq!(r.feed(&head[..1000]).map(|f| f.complete), Ok(None));
        assert_eq!(r.feed(&head), Err(ResponseError::FindHeadEnd));
    }
}
