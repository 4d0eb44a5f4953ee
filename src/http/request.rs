//! Request head parsing into spans of the read buffer: the request line by hand (its errors
//! decide between 400, 414 and 505), the field lines with httparse, then RFC 9112's framing and
//! routing rules.
//!
//! Every check is positional: a partial head is rejected only for a reason the complete head
//! would be rejected for too, so the answer never depends on how the bytes were split into reads.

use super::chars::{is_field_byte, is_ows, is_tchar, is_token, list_elements, trim_ows, trim_ows_range};
use super::error::ParseError;
use super::uri::{self, TargetForm};

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

    /// Offsets below [`HEAD_HARD_CAP`] always fit in a u32.
    fn new(start: usize, end: usize) -> Span {
        debug_assert!(start <= end && end <= HEAD_HARD_CAP);
        Span {
            start: start as u32,
            end: end as u32,
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

/// The longest request line gunicorn allows; larger `limit_request_line` values mean this.
pub const MAX_REQUEST_LINE: usize = 8190;
/// What `limit_request_line = 0`, "unlimited", means: gunicorn 27's parser's own bound for it.
pub const UNLIMITED_REQUEST_LINE: usize = 1 << 20;
/// The most header fields gunicorn allows; larger `limit_request_fields` values and 0 mean this.
pub const MAX_FIELDS: usize = 32768;
/// What `limit_request_field_size = 0` means (gunicorn's default field size).
pub const DEFAULT_FIELD_SIZE: usize = 8190;
/// No head is read past this many bytes, whatever the limits say: it keeps one connection's
/// memory bounded and every span offset within a u32.
pub const HEAD_HARD_CAP: usize = 16 << 20;
/// RFC 9112 §2.2 asks servers to ignore at least one empty line before a request line (some
/// clients send CRLF after a body); a few are skipped, more are an error.
const MAX_LEADING_EMPTY_LINES: usize = 4;
/// httparse writes into a caller's array; this many fields fit on the stack, more take a heap
/// buffer (only when the limit allows more).
const STACK_FIELDS: usize = 64;
/// gunicorn's method rule, stricter than a bare token: every registered method fits in it.
const METHOD_LEN: std::ops::RangeInclusive<usize> = 3..=20;

/// The size limits a head is checked against, with gunicorn's meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `limit_request_line`: the longest request line, CRLF not counted. Values above
    /// [`MAX_REQUEST_LINE`] mean [`MAX_REQUEST_LINE`]; 0 means [`UNLIMITED_REQUEST_LINE`].
    pub request_line: usize,
    /// `limit_request_fields`: the most header fields. 0 and values above [`MAX_FIELDS`] mean
    /// [`MAX_FIELDS`].
    pub fields: usize,
    /// `limit_request_field_size`: the longest field line, name, colon, value and CRLF counted.
    /// 0 means [`DEFAULT_FIELD_SIZE`].
    pub field_size: usize,
}

impl Default for Limits {
    /// gunicorn's defaults.
    fn default() -> Self {
        Limits {
            request_line: 4094,
            fields: 100,
            field_size: 8190,
        }
    }
}

/// gunicorn's rules for its three limit settings are these three functions: the configuration
/// stores its values bounded by the first two, and the parser and the worker's buffer sizes
/// read them through [`Limits::effective`].
impl Limits {
    /// `limit_request_line` bounded as gunicorn bounds it: a larger value means
    /// [`MAX_REQUEST_LINE`]; 0 stays 0, "unlimited".
    pub fn bound_request_line(n: usize) -> usize {
        n.min(MAX_REQUEST_LINE)
    }

    /// `limit_request_fields` bounded as gunicorn bounds it: 0 and larger values mean
    /// [`MAX_FIELDS`].
    pub fn bound_fields(n: usize) -> usize {
        match n {
            0 => MAX_FIELDS,
            n => n.min(MAX_FIELDS),
        }
    }

    /// The numbers a head is checked against: the bounded settings, with an unlimited request
    /// line at [`UNLIMITED_REQUEST_LINE`] and an unlimited field size at [`DEFAULT_FIELD_SIZE`].
    pub fn effective(&self) -> Limits {
        Limits {
            request_line: match Limits::bound_request_line(self.request_line) {
                0 => UNLIMITED_REQUEST_LINE,
                n => n,
            },
            fields: Limits::bound_fields(self.fields),
            field_size: match self.field_size {
                0 => DEFAULT_FIELD_SIZE,
                n => n,
            },
        }
    }
}

/// A parsed request head; every span points into the buffer given to [`parse_head`].
#[derive(Clone, Debug)]
pub struct Head {
    /// The method token.
    pub method: Span,
    /// The request target exactly as sent (RAW_URI).
    pub target: Span,
    /// The form of the target.
    pub form: TargetForm,
    /// The path part of the target, not percent-decoded. Empty for an absolute-form target
    /// without a path; the whole target for `*`.
    pub path: Span,
    /// The query, without the `?`.
    pub query: Span,
    /// The fragment, without the `#`.
    pub fragment: Span,
    /// The `host[:port]` of an absolute-form target; it replaces the Host field (RFC 9112
    /// §3.2.2).
    pub authority: Option<Span>,
    /// The request's host: the absolute-form target's authority, else the Host field (RFC 9112
    /// §3.2.2), checked by the parser; `None` for an HTTP/1.0 request without either.
    pub host: Option<Span>,
    /// The protocol version.
    pub version: Version,
    /// Header fields in the order sent: (name, value without surrounding whitespace). Names with
    /// `_` are kept; the environ builder decides what to do with them.
    pub headers: Vec<(Span, Span)>,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the connection may stay open after this request.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent with an HTTP/1.1 request (RFC 9110 §10.1.1: it is
    /// ignored in HTTP/1.0).
    pub expect_continue: bool,
    /// Length of the head in bytes, final CRLF included.
    pub len: usize,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            method: Span::default(),
            target: Span::default(),
            form: TargetForm::Origin,
            path: Span::default(),
            query: Span::default(),
            fragment: Span::default(),
            authority: None,
            host: None,
            version: Version::Http11,
            headers: Vec::new(),
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
/// without bound), and `Err` for a request that must be rejected. `head` is only meaningful
/// after `Ok(Some(_))`.
pub fn parse_head(buf: &[u8], limits: &Limits, head: &mut Head) -> Result<Option<usize>, ParseError> {
    let limits = limits.effective();
    // Looking no further than the cap gives every buffer longer than it the same answer.
    let view = &buf[..buf.len().min(HEAD_HARD_CAP)];
    match scan_head(view, &limits)? {
        Some(scan) => {
            fill_head(view, &scan, head)?;
            Ok(Some(scan.head_end))
        }
        None if buf.len() > HEAD_HARD_CAP => Err(ParseError::FieldTooLarge),
        None => Ok(None),
    }
}

/// Where the parts of a complete head are.
#[derive(Debug)]
struct Scan {
    method: (usize, usize),
    target: (usize, usize),
    version: Version,
    /// First byte after the request line's CRLF.
    fields_start: usize,
    /// Number of field lines.
    fields: usize,
    /// One past the empty line that ends the head.
    head_end: usize,
}

/// Finds the request line and the field lines, checking everything that can be checked line by
/// line: the request line's syntax and limit, bare CR and LF, obsolete folding, the field limits.
/// `Ok(None)` when the head is not complete yet and nothing seen so far is wrong.
fn scan_head(buf: &[u8], limits: &Limits) -> Result<Option<Scan>, ParseError> {
    let mut start = 0;
    let mut empty_lines = 0;
    loop {
        match &buf[start..] {
            [] | [b'\r'] => return Ok(None),
            [b'\r', b'\n', ..] => {
                empty_lines += 1;
                if empty_lines > MAX_LEADING_EMPTY_LINES {
                    return Err(ParseError::Malformed("empty lines before the request line"));
                }
                start += 2;
            }
            _ => break,
        }
    }
    let Some(line) = scan_request_line(buf, start, limits.request_line)? else {
        return Ok(None);
    };
    let mut pos = line.end;
    let mut fields = 0;
    loop {
        let rest = &buf[pos..];
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            // The unterminated last line: a trailing CR may still become its terminator.
            let known = rest.strip_suffix(b"\r").unwrap_or(rest);
            if !known.is_empty() {
                check_field_line(known, fields + 1, limits)?;
            }
            return Ok(None);
        };
        let (content, bare_lf) = match rest[..nl].strip_suffix(b"\r") {
            Some(content) => (content, false),
            None => (&rest[..nl], true),
        };
        if !content.is_empty() {
            fields += 1;
            check_field_line(content, fields, limits)?;
        }
        if bare_lf {
            return Err(ParseError::Malformed("bare LF in request head"));
        }
        pos += nl + 1;
        if content.is_empty() {
            return Ok(Some(Scan {
                method: line.method,
                target: line.target,
                version: line.version,
                fields_start: line.end,
                fields,
                head_end: pos,
            }));
        }
    }
}

/// Checks the `n`th field line (without its CRLF; for the last, unterminated line, the bytes
/// known so far). Errors are reported in the order of their position in the line, so a partial
/// line fails for the same reason as the complete one.
fn check_field_line(line: &[u8], n: usize, limits: &Limits) -> Result<(), ParseError> {
    if n > limits.fields {
        return Err(ParseError::TooManyFields);
    }
    if line.first().is_some_and(|&b| is_ows(b)) {
        return Err(ParseError::Malformed("obsolete line folding"));
    }
    // The field size counts the CRLF, as gunicorn's does: the line is too long from this byte on.
    let too_long_at = limits.field_size.saturating_sub(2);
    match memchr::memchr(b'\r', line) {
        Some(cr) if cr < too_long_at => Err(ParseError::Malformed("bare CR in request head")),
        _ if line.len() > too_long_at => Err(ParseError::FieldTooLarge),
        Some(_) => Err(ParseError::Malformed("bare CR in request head")),
        None => Ok(()),
    }
}

/// Where the parts of a request line are.
#[derive(Debug)]
struct RequestLine {
    method: (usize, usize),
    target: (usize, usize),
    version: Version,
    /// One past the LF.
    end: usize,
}

/// Scans `method SP request-target SP HTTP-version CRLF` starting at `start`, left to right,
/// failing at the first wrong byte. `Ok(None)` when the line is not complete yet.
fn scan_request_line(buf: &[u8], start: usize, limit: usize) -> Result<Option<RequestLine>, ParseError> {
    #[derive(PartialEq)]
    enum Part {
        Method,
        Target,
        Version,
    }
    const VERSION_SHAPE: &[u8; 8] = b"HTTP/#.#";
    let line = &buf[start..];
    let mut part = Part::Method;
    let mut method_end = 0;
    let mut target_end = 0;
    for (i, &b) in line.iter().enumerate() {
        if b == b'\r' {
            return match line.get(i + 1) {
                None => Ok(None),
                Some(b'\n') if part == Part::Version && i - target_end - 1 == VERSION_SHAPE.len() => {
                    let version = version_of(&line[target_end + 1..i])?;
                    Ok(Some(RequestLine {
                        method: (start, start + method_end),
                        target: (start + method_end + 1, start + target_end),
                        version,
                        end: start + i + 2,
                    }))
                }
                Some(b'\n') => Err(ParseError::Malformed("incomplete request line")),
                Some(_) => Err(ParseError::Malformed("bare CR in request line")),
            };
        }
        if b == b'\n' {
            return Err(ParseError::Malformed("bare LF in request line"));
        }
        if i >= limit {
            return Err(ParseError::RequestLineTooLong);
        }
        match part {
            Part::Method if b == b' ' => {
                if !METHOD_LEN.contains(&i) {
                    return Err(ParseError::Malformed("invalid method"));
                }
                method_end = i;
                part = Part::Target;
            }
            Part::Method => {
                // A token, but also gunicorn's conventions: no lowercase, no `#`, at most 20.
                if !is_tchar(b) || b.is_ascii_lowercase() || b == b'#' || i >= *METHOD_LEN.end() {
                    return Err(ParseError::Malformed("invalid method"));
                }
            }
            Part::Target if b == b' ' => {
                if i == method_end + 1 {
                    return Err(ParseError::Malformed("empty request target"));
                }
                target_end = i;
                part = Part::Version;
            }
            Part::Target => {
                // Visible ASCII only: stricter URI syntax is left to the form rules, which is
                // how gunicorn accepts quotes in paths. Bytes above 0x7F are refused, unlike
                // gunicorn, which takes raw UTF-8: a URI is ASCII and anything else must be
                // percent-encoded (RFC 9112 §3.2, RFC 3986 §2), and a raw byte leaves PATH_INFO
                // to a guess about its encoding.
                if !(0x21..0x7f).contains(&b) {
                    return Err(ParseError::Malformed("invalid byte in request target"));
                }
            }
            Part::Version => {
                let k = i - target_end - 1;
                let ok = match VERSION_SHAPE.get(k) {
                    Some(b'#') => b.is_ascii_digit(),
                    Some(&want) => b == want,
                    None => false,
                };
                if !ok {
                    return Err(ParseError::Malformed("invalid HTTP version"));
                }
            }
        }
    }
    Ok(None)
}

/// The version of a well-formed `HTTP/d.d` token (its shape was checked byte by byte). A later
/// HTTP/1.x minor version is understood as HTTP/1.1, the highest this server speaks and the one
/// its response carries (RFC 9110 §2.5, §6.2): minor versions are compatible by definition. Any
/// other major version, and HTTP/0.x, is answered 505.
fn version_of(token: &[u8]) -> Result<Version, ParseError> {
    match token.strip_prefix(b"HTTP/1.") {
        Some(b"0") => Ok(Version::Http10),
        Some(&[minor]) if minor.is_ascii_digit() => Ok(Version::Http11),
        _ => Err(ParseError::UnsupportedVersion),
    }
}

/// Fills `head` from a complete, scanned head: the target's form, the fields (through
/// httparse) and what they mean for framing and the connection.
fn fill_head(buf: &[u8], scan: &Scan, head: &mut Head) -> Result<(), ParseError> {
    let method = &buf[scan.method.0..scan.method.1];
    let target = &buf[scan.target.0..scan.target.1];
    let parts = uri::split_target(target)?;
    match parts.form {
        TargetForm::Asterisk if method != b"OPTIONS" => {
            return Err(ParseError::Malformed(
                "asterisk-form target with a method other than OPTIONS",
            ))
        }
        TargetForm::Authority if method == b"CONNECT" => return Err(ParseError::MethodNotAllowed),
        TargetForm::Authority => return Err(ParseError::Malformed("authority-form target without CONNECT")),
        _ if method == b"CONNECT" => return Err(ParseError::Malformed("CONNECT without an authority-form target")),
        _ => {}
    }
    let at = |r: std::ops::Range<usize>| Span::new(scan.target.0 + r.start, scan.target.0 + r.end);
    head.method = Span::new(scan.method.0, scan.method.1);
    head.target = Span::new(scan.target.0, scan.target.1);
    head.form = parts.form;
    head.path = at(parts.path);
    head.query = at(parts.query);
    head.fragment = at(parts.fragment);
    head.authority = parts.authority.map(at);
    head.version = scan.version;
    head.len = scan.head_end;

    let section = &buf[scan.fields_start..scan.head_end];
    let mut stack = [httparse::EMPTY_HEADER; STACK_FIELDS];
    let mut heap;
    let storage: &mut [httparse::Header<'_>] = if scan.fields <= STACK_FIELDS {
        &mut stack[..scan.fields]
    } else {
        heap = vec![httparse::EMPTY_HEADER; scan.fields];
        &mut heap
    };
    let fields = match httparse::parse_headers(section, storage) {
        Ok(httparse::Status::Complete((_, fields))) => fields,
        Err(httparse::Error::HeaderName) => return Err(ParseError::Malformed("invalid field name")),
        Err(httparse::Error::HeaderValue) => return Err(ParseError::Malformed("invalid field value")),
        // The scan counted and terminated the lines, so httparse has room and a complete head.
        Ok(httparse::Status::Partial) | Err(_) => return Err(ParseError::Malformed("invalid field line")),
    };
    head.headers.clear();
    let mut meaning = Meaning::default();
    for field in fields.iter() {
        let (name, value) = locate(buf, field)?;
        meaning.note(buf, name, value)?;
        head.headers.push((name, value));
    }
    meaning.apply(head)
}

/// The spans of a field httparse found, the value trimmed of surrounding whitespace.
fn locate(buf: &[u8], field: &httparse::Header<'_>) -> Result<(Span, Span), ParseError> {
    let offset = |part: &[u8]| {
        let start = (part.as_ptr() as usize).checked_sub(buf.as_ptr() as usize)?;
        (start + part.len() <= buf.len()).then_some((start, start + part.len()))
    };
    let inside = ParseError::Malformed("field outside the head");
    let (name_start, name_end) = offset(field.name.as_bytes()).ok_or(inside.clone())?;
    let (value_start, value_end) = offset(field.value).ok_or(inside)?;
    let (value_start, value_end) = trim_ows_range(buf, value_start, value_end);
    Ok((Span::new(name_start, name_end), Span::new(value_start, value_end)))
}

/// What the fields of a head say about framing, routing and the connection, collected field by
/// field and judged once all are seen.
#[derive(Debug, Default)]
struct Meaning {
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
    /// A coding came after `chunked`.
    chunked_not_last: bool,
    unknown_coding: bool,
    hosts: usize,
    /// The Host field's value.
    host: Option<Span>,
    content_types: usize,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
}

impl Meaning {
    fn note(&mut self, buf: &[u8], name_at: Span, value_at: Span) -> Result<(), ParseError> {
        let (name, value) = (name_at.of(buf), value_at.of(buf));
        if !is_token(name) {
            return Err(ParseError::Malformed("invalid field name"));
        }
        if !value.iter().all(|&b| is_field_byte(b)) {
            return Err(ParseError::Malformed("invalid byte in field value"));
        }
        if name.eq_ignore_ascii_case(b"content-length") {
            if self.content_length.is_some() {
                // Even equal values: a list or repeat is how smuggling attempts look.
                return Err(ParseError::Malformed("more than one Content-Length"));
            }
            self.content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
            for element in list_elements(value) {
                let coding = trim_ows(element.split(|&b| b == b';').next().unwrap_or(element));
                if !is_token(coding) {
                    return Err(ParseError::Malformed("invalid transfer coding"));
                }
                if self.chunked {
                    self.chunked_not_last = true;
                }
                if coding.eq_ignore_ascii_case(b"chunked") {
                    if self.chunked {
                        return Err(ParseError::Malformed("chunked applied twice"));
                    }
                    self.chunked = true;
                } else {
                    self.unknown_coding = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
            if !uri::is_valid_host(value) {
                return Err(ParseError::Malformed("invalid Host"));
            }
            self.host = Some(value_at);
        } else if name.eq_ignore_ascii_case(b"content-type") {
            self.content_types += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for option in list_elements(value) {
                self.close |= option.eq_ignore_ascii_case(b"close");
                self.keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            self.expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
        }
        Ok(())
    }

    fn apply(self, head: &mut Head) -> Result<(), ParseError> {
        let http11 = head.version == Version::Http11;
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one ever.
        if self.hosts > 1 || (http11 && self.hosts == 0) {
            return Err(ParseError::Malformed(if self.hosts > 1 {
                "more than one Host"
            } else {
                "HTTP/1.1 request without Host"
            }));
        }
        head.host = head.authority.or(self.host);
        // CONTENT_TYPE can hold one value; two are ambiguous (gunicorn rejects them too).
        if self.content_types > 1 {
            return Err(ParseError::Malformed("more than one Content-Type"));
        }
        head.framing = if self.transfer_encoding {
            // RFC 9112 §6.1: HTTP/1.0 has no Transfer-Encoding, and Content-Length beside it
            // is the classic request-smuggling shape.
            if !http11 {
                return Err(ParseError::Malformed("Transfer-Encoding in an HTTP/1.0 request"));
            }
            if self.content_length.is_some() {
                return Err(ParseError::Malformed("both Content-Length and Transfer-Encoding"));
            }
            // RFC 9112 §6.3: with a coding after chunked, the body length cannot be known.
            if self.chunked_not_last {
                return Err(ParseError::Malformed("chunked is not the last transfer coding"));
            }
            // Any other coding (gzip, deflate, compress, and identity, which RFC 9112 no longer
            // lists): forkhorn does not decode it, so it must not hand the app a body it
            // cannot read as sent (RFC 9112 §6.1: 501). gunicorn passes gzip through.
            if self.unknown_coding {
                return Err(ParseError::UnsupportedTransferCoding);
            }
            if !self.chunked {
                return Err(ParseError::Malformed("chunked is not the last transfer coding"));
            }
            BodyFraming::Chunked
        } else {
            match self.content_length {
                None | Some(0) => BodyFraming::None,
                Some(n) => BodyFraming::Length(n),
            }
        };
        head.keep_alive = !self.close && (http11 || self.keep_alive);
        head.expect_continue = http11 && self.expect_continue;
        Ok(())
    }
}

/// `Content-Length = 1*DIGIT`: no sign, no list, no whitespace inside, no overflow.
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    if value.is_empty() {
        return Err(ParseError::Malformed("invalid Content-Length"));
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return Err(ParseError::Malformed("invalid Content-Length"));
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(ParseError::Malformed("Content-Length overflows"))
    })
}

#[cfg(test)]
mod tests;
