//! Response encoding: status lines, header lines, chunk framing and the server's own error
//! responses, written into a caller's buffer.

use super::request::Version;
use std::io::Write as _;

/// How a response body is delimited on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: N`; bytes past N are dropped.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// The body ends when the connection closes (HTTP/1.0 without a length).
    CloseDelimited,
    /// No body may be sent (HEAD, 1xx, 204, 304).
    NoBody,
}

/// Facts of the server's own that every response head carries.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    /// The cached `Date` value.
    pub date: &'a str,
    /// The `Server` value; empty for none.
    pub server: &'a str,
}

/// True when a response with this status may carry a body at all (RFC 9110 §6.4.1).
pub fn status_has_body(status: u16) -> bool {
    !(100..200).contains(&status) && status != 204 && status != 304
}

/// Appends the status line `HTTP/1.x <status text>\r\n`.
pub fn put_status_line(out: &mut Vec<u8>, version: Version, status: &str) {
    out.extend_from_slice(version.as_str().as_bytes());
    out.push(b' ');
    // PEP 3333's status is latin-1 text, like header values; callers check it is.
    put_latin1(out, status);
    out.extend_from_slice(b"\r\n");
}

/// Appends the status line `HTTP/1.x <code> <reason>\r\n` for a three-digit `code`; an empty
/// `reason` leaves the space before it, which RFC 9112 §4 requires.
pub fn put_status_code_line(out: &mut Vec<u8>, version: Version, code: u16, reason: &str) {
    out.extend_from_slice(version.as_str().as_bytes());
    out.push(b' ');
    put_decimal(out, u64::from(code));
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `text` one byte a character (latin-1). False, with nothing appended, if a character
/// is past U+00FF.
fn put_latin1(out: &mut Vec<u8>, text: &str) -> bool {
    if text.is_ascii() {
        out.extend_from_slice(text.as_bytes());
        return true;
    }
    let start = out.len();
    for c in text.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => out.push(b),
            Err(_) => {
                out.truncate(start);
                return false;
            }
        }
    }
    true
}

/// Appends `name: value\r\n`.
pub fn put_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The header fields of a head encoded as above (a status line, then `Name: value` lines), as
/// `(name, value)` with the value's surrounding spaces trimmed; reversed, last field first.
pub fn head_fields(head: &[u8]) -> impl DoubleEndedIterator<Item = (&[u8], &[u8])> {
    let fields = match head.iter().position(|&b| b == b'\n') {
        Some(i) => &head[i + 1..],
        None => &head[head.len()..],
    };
    fields.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        Some((&line[..colon], line[colon + 1..].trim_ascii()))
    })
}

/// Appends `name: value` with `value` given as latin-1 text (PEP 3333's header strings): each
/// character is one byte on the wire. False, with nothing appended, if a character is past
/// U+00FF.
pub fn put_header_latin1(out: &mut Vec<u8>, name: &str, value: &str) -> bool {
    let start = out.len();
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    if !put_latin1(out, value) {
        out.truncate(start);
        return false;
    }
    out.extend_from_slice(b"\r\n");
    true
}

/// Appends the `Date` and (unless empty) `Server` headers.
pub fn put_stamp(out: &mut Vec<u8>, stamp: &Stamp<'_>) {
    put_header(out, "Date", stamp.date.as_bytes());
    if !stamp.server.is_empty() {
        put_header(out, "Server", stamp.server.as_bytes());
    }
}

/// Appends `Content-Length: n\r\n` without formatting machinery.
pub fn put_content_length(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"Content-Length: ");
    put_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without the formatting machinery (this runs for every response).
pub fn put_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends one chunk of a chunked body; an empty `data` writes nothing (it would end the body).
pub fn put_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{:x}\r\n", data.len());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The reason phrase for a status forkhorn itself answers with: the standard one, or `Error`.
pub fn reason(status: u16) -> &'static str {
    standard_reason(status).unwrap_or("Error")
}

/// The reason phrase RFC 9110 (and the IANA status code registry) gives a status, if any.
pub fn standard_reason(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

/// Appends a complete error response of the server's own, always with `Connection: close`.
pub fn put_error(out: &mut Vec<u8>, version: Version, status: u16, detail: &str, stamp: &Stamp<'_>) {
    let reason = reason(status);
    let _ = write!(out, "{} {} {}\r\n", version.as_str(), status, reason);
    put_stamp(out, stamp);
    if status == 405 {
        // RFC 9110 §15.5.6: a 405 names what is allowed; forkhorn never tunnels (CONNECT).
        out.extend_from_slice(b"Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n");
    }
    let body_len = reason.len() + if detail.is_empty() { 1 } else { detail.len() + 3 };
    out.extend_from_slice(b"Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n");
    put_content_length(out, body_len as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(reason.as_bytes());
    if !detail.is_empty() {
        out.extend_from_slice(b": ");
        out.extend_from_slice(detail.as_bytes());
    }
    out.push(b'\n');
    debug_assert!(out.ends_with(b"\n"));
}

/// Drops the body of the response that starts at `start` in `out`, keeping its head (and its
/// `Content-Length`): the answer to a HEAD request (RFC 9110 §9.3.2).
pub fn strip_body(out: &mut Vec<u8>, start: usize) {
    if let Some(end) = out[start..].windows(4).position(|w| w == b"\r\n\r\n") {
        out.truncate(start + end + 4);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_fields_are_read_back_in_order_and_reversed() {
        let head = b"HTTP/1.1 200 OK: fine\r\nContent-Type: text/plain\r\nSet-Cookie:  a=1 \r\nSet-Cookie: b=2\r\n";
        let fields: Vec<(&[u8], &[u8])> = head_fields(head).collect();
        assert_eq!(
            fields,
            [
                (&b"Content-Type"[..], &b"text/plain"[..]),
                (b"Set-Cookie", b"a=1"),
                (b"Set-Cookie", b"b=2"),
            ]
        );
        assert_eq!(head_fields(head).next_back(), Some((&b"Set-Cookie"[..], &b"b=2"[..])));
        assert_eq!(head_fields(b"HTTP/1.1 204 No Content\r\n").count(), 0);
        assert_eq!(head_fields(b"").count(), 0);
    }

    #[test]
    fn a_head_answer_keeps_the_head_only() {
        let stamp = Stamp {
            date: "Thu, 01 Jan 1970 00:00:00 GMT",
            server: "",
        };
        let mut out = b"earlier".to_vec();
        put_error(&mut out, Version::Http11, 500, "", &stamp);
        strip_body(&mut out, 7);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("earlierHTTP/1.1 500 "), "{text}");
        assert!(text.ends_with("Content-Length: 22\r\n\r\n"), "{text}");
    }

    #[test]
    fn chunks_and_lengths() {
        let mut out = Vec::new();
        put_chunk(&mut out, b"hello world, this is 31 bytes!!");
        put_chunk(&mut out, b"");
        out.extend_from_slice(LAST_CHUNK);
        assert_eq!(out, b"1f\r\nhello world, this is 31 bytes!!\r\n0\r\n\r\n");
        for (n, s) in [
            (0u64, "0"),
            (7, "7"),
            (1234567890, "1234567890"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let mut out = Vec::new();
            put_content_length(&mut out, n);
            assert_eq!(out, format!("Content-Length: {s}\r\n").as_bytes());
        }
    }

    #[test]
    fn latin1_header_values_are_one_byte_a_character() {
        let cases: &[(&str, Option<&[u8]>)] = &[
            ("plain", Some(b"X: plain\r\n")),
            ("", Some(b"X: \r\n")),
            ("caf\u{e9}", Some(b"X: caf\xe9\r\n")),
            ("\u{ff}\u{80}", Some(b"X: \xff\x80\r\n")),
            ("\u{20ac}", None),
            ("ok \u{100}", None),
        ];
        for &(value, want) in cases {
            let mut out = b"before ".to_vec();
            let ok = put_header_latin1(&mut out, "X", value);
            match want {
                Some(bytes) => {
                    assert!(ok, "{value:?}");
                    assert_eq!(&out[7..], bytes, "{value:?}");
                }
                None => {
                    assert!(!ok, "{value:?}");
                    assert_eq!(out, b"before ", "{value:?}: nothing appended");
                }
            }
        }
    }

    #[test]
    fn status_lines_are_latin1() {
        let mut out = Vec::new();
        put_status_line(&mut out, Version::Http11, "200 Tr\u{e8}s bien");
        assert_eq!(out, b"HTTP/1.1 200 Tr\xe8s bien\r\n");
    }

    #[test]
    fn status_lines_from_a_code() {
        for (code, reason, want) in [
            (200, "OK", "HTTP/1.1 200 OK\r\n"),
            (299, "", "HTTP/1.1 299 \r\n"),
            (103, "Early Hints", "HTTP/1.1 103 Early Hints\r\n"),
        ] {
            let mut out = Vec::new();
            put_status_code_line(&mut out, Version::Http11, code, reason);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        assert_eq!(standard_reason(418), None);
        assert_eq!(standard_reason(422), Some("Unprocessable Content"));
        assert_eq!(reason(599), "Error");
    }

    #[test]
    fn error_response_is_complete() {
        let mut out = Vec::new();
        let stamp = Stamp {
            date: "Thu, 01 Jan 1970 00:00:00 GMT",
            server: "forkhorn",
        };
        put_error(&mut out, Version::Http11, 400, "invalid header", &stamp);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 400 Bad Request\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nServer: forkhorn\r\n")
        );
        assert!(head.contains("Connection: close"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert_eq!(body, "Bad Request: invalid header\n");
    }

    #[test]
    fn bodyless_statuses() {
        for (s, has) in [
            (100, false),
            (199, false),
            (200, true),
            (204, false),
            (304, false),
            (404, true),
        ] {
            assert_eq!(status_has_body(s), has, "{s}");
        }
    }
}
