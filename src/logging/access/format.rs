//! Rendering the access log line: a compiled `access_log_format` (its grammar is
//! [`config::access_format`](crate::config::access_format)) turned into bytes for each request,
//! in a reused buffer, with no allocation and no map of atoms.

use crate::config::access_format::{AccessFormat, Atom, Piece};
use crate::http::response::{head_fields, put_decimal as put_u64};
use crate::http::uri::percent_decoded;
use crate::http::{Head, Version};
use base64::Engine as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// The facts of an exchange the connection holds when its response completes.
#[derive(Clone, Copy)]
pub struct Exchange<'a> {
    /// The parsed request head; spans point into `buf`.
    pub head: &'a Head,
    /// The bytes of the request head.
    pub buf: &'a [u8],
    /// The client, or `None` on a Unix socket.
    pub peer: Option<SocketAddr>,
    /// The status the application set (0 if it set none).
    pub status: u16,
    /// Body bytes of the application's response.
    pub body_bytes: u64,
    /// The application's status line and headers as encoded.
    pub resp_head: &'a [u8],
    /// The `Content-Length` the application gave, which the head keeps apart.
    pub resp_length: Option<u64>,
}

/// What one line is made of: the exchange as it went out, and the facts around it.
pub struct Record<'a> {
    /// The request and the response sent (the server's own answer, if it gave one).
    pub exchange: Exchange<'a>,
    /// From the complete request head to the complete response.
    pub elapsed: Duration,
    /// The values of [`AccessFormat::environ_keys`], captured when the application returned.
    pub environ: &'a EnvValues,
    /// The `t` atom, e.g. `[20/Nov/2026:10:00:00 +0000]`.
    pub time: &'a [u8],
    /// This process.
    pub pid: u32,
}

/// The environ values a format asks for, copied out of the environ (which the next request
/// reuses) into one buffer kept by the connection.
#[derive(Debug, Default)]
pub struct EnvValues {
    bytes: Vec<u8>,
    spans: Vec<Option<(u32, u32)>>,
}

impl EnvValues {
    /// Copies the value of each of `keys` (compared ignoring case, as gunicorn does) from the
    /// environ whose (key, value) pairs `env` lists.
    pub fn capture<'e, I>(&mut self, keys: &[String], env: impl Fn() -> I)
    where
        I: Iterator<Item = (&'e str, &'e str)>,
    {
        self.bytes.clear();
        self.spans.clear();
        for key in keys {
            // The last value set wins, as in `Environ::get`.
            let value = env()
                .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                .last()
                .map(|(_, v)| v);
            self.spans.push(value.map(|v| {
                let start = self.bytes.len() as u32;
                self.bytes.extend_from_slice(v.as_bytes());
                (start, self.bytes.len() as u32)
            }));
        }
    }

    fn get(&self, i: usize) -> Option<&[u8]> {
        let (a, b) = (*self.spans.get(i)?)?;
        Some(&self.bytes[a as usize..b as usize])
    }
}

/// Appends the line `format` makes of `rec`, newline included, to `out`.
pub fn render(format: &AccessFormat, rec: &Record<'_>, out: &mut Vec<u8>) {
    let head = rec.exchange.head;
    let buf = rec.exchange.buf;
    for piece in format.pieces() {
        let atom = match piece {
            Piece::Literal(text) => {
                out.extend_from_slice(text);
                continue;
            }
            Piece::Atom(atom) => atom,
        };
        match atom {
            Atom::RemoteAddr => match rec.exchange.peer {
                Some(SocketAddr::V4(a)) => {
                    for (i, octet) in a.ip().octets().into_iter().enumerate() {
                        if i > 0 {
                            out.push(b'.');
                        }
                        put_u64(out, u64::from(octet));
                    }
                }
                Some(a) => put_display(out, a.ip()),
                None => out.push(b'-'),
            },
            Atom::Ident => out.push(b'-'),
            Atom::User => put_or_dash(out, basic_auth_user(head, buf, &mut [0u8; 192])),
            Atom::Time => out.extend_from_slice(rec.time),
            Atom::RequestLine => {
                put_escaped(out, head.method.of(buf));
                out.push(b' ');
                put_escaped(out, head.target.of(buf));
                out.push(b' ');
                out.extend_from_slice(protocol(head.version));
            }
            Atom::Method => put_escaped(out, head.method.of(buf)),
            Atom::Path => {
                for b in percent_decoded(head.path.of(buf)) {
                    put_escaped(out, &[b]);
                }
            }
            Atom::Query => put_escaped(out, head.query.of(buf)),
            Atom::Protocol => out.extend_from_slice(protocol(head.version)),
            Atom::Status => put_u64(out, u64::from(rec.exchange.status)),
            // gunicorn writes 0 for `b` too, not the common log format's `-`.
            Atom::BytesClf | Atom::Bytes => put_u64(out, rec.exchange.body_bytes),
            Atom::Referer => put_or_dash(out, request_header(head, buf, b"referer")),
            Atom::UserAgent => put_or_dash(out, request_header(head, buf, b"user-agent")),
            Atom::Seconds => put_display(out, rec.elapsed.as_secs()),
            Atom::Millis => put_display(out, rec.elapsed.as_millis()),
            Atom::Micros => put_display(out, rec.elapsed.as_micros()),
            Atom::SecondsDecimal => {
                let _ = write!(out, "{}.{:06}", rec.elapsed.as_secs(), rec.elapsed.subsec_micros());
            }
            Atom::Pid => {
                let _ = write!(out, "<{}>", rec.pid);
            }
            Atom::RequestHeader(name) => put_or_dash(out, request_header(head, buf, name)),
            Atom::ResponseHeader(name) if &name[..] == b"content-length" => match rec.exchange.resp_length {
                Some(n) => put_u64(out, n),
                None => out.push(b'-'),
            },
            Atom::ResponseHeader(name) => put_or_dash(out, response_header(rec.exchange.resp_head, name)),
            Atom::Environ(i) => put_or_dash(out, rec.environ.get(*i)),
        }
    }
    out.push(b'\n');
}

fn protocol(v: Version) -> &'static [u8] {
    v.as_str().as_bytes()
}

/// Appends a number or an address; writing into a Vec cannot fail.
fn put_display(out: &mut Vec<u8>, value: impl std::fmt::Display) {
    let _ = write!(out, "{value}");
}

/// Appends `value` escaped, or `-` when there is none (or it is empty).
fn put_or_dash(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) if !v.is_empty() => put_escaped(out, v),
        _ => out.push(b'-'),
    }
}

/// Appends `bytes` so that the line stays one parseable line whatever the client sent: `"` and
/// `\` are backslash-escaped and bytes outside printable ASCII become `\xHH` (as Apache does).
fn put_escaped(out: &mut Vec<u8>, mut bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let plain = |b: u8| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\';
    // Runs of plain bytes (nearly everything) are copied whole.
    while !bytes.is_empty() {
        let run = bytes.iter().position(|&b| !plain(b)).unwrap_or(bytes.len());
        out.extend_from_slice(&bytes[..run]);
        let Some(&b) = bytes.get(run) else {
            return;
        };
        if b == b'"' || b == b'\\' {
            out.extend_from_slice(&[b'\\', b]);
        } else {
            out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
        }
        bytes = &bytes[run + 1..];
    }
}

/// The first value of the request header `name` (lower case).
fn request_header<'b>(head: &Head, buf: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    head.headers
        .iter()
        .find(|(n, _)| n.of(buf).eq_ignore_ascii_case(name))
        .map(|(_, v)| v.of(buf))
}

/// The last value of the response header `name` (lower case) in an encoded head: gunicorn
/// puts the headers in a dict, where a repeated one (`Set-Cookie`) keeps its last value.
fn response_header<'b>(resp_head: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    head_fields(resp_head)
        .rev()
        .find(|(field, _)| field.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// The user name of an `Authorization: Basic` header, decoded into `scratch`.
fn basic_auth_user<'s>(head: &Head, buf: &[u8], scratch: &'s mut [u8; 192]) -> Option<&'s [u8]> {
    let value = request_header(head, buf, b"authorization")?;
    let (scheme, cred) = value.split_at(value.iter().position(|&b| b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let cred = cred.trim_ascii();
    // A credential too long for the scratch buffer is not logged rather than allocated for.
    if cred.len() > scratch.len() / 3 * 4 {
        return None;
    }
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(cred, scratch)
        .ok()?;
    let decoded = &scratch[..n];
    Some(decoded.split(|&b| b == b':').next().unwrap_or(decoded))
}

/// The `t` atom's text for a Unix time: `[20/Nov/2026:10:00:00 +0000]` (always UTC).
pub fn clf_time(unix_secs: i64, out: &mut Vec<u8>) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = crate::clock::Civil::from_unix(unix_secs);
    let _ = write!(
        out,
        "[{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000]",
        c.day,
        MONTHS[(c.month as usize).clamp(1, 12) - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_head, Limits};

    const DEFAULT: &str = r#"%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s""#;

    fn line(format: &str, request: &[u8], status: u16, bytes: u64, resp_head: &[u8]) -> String {
        line_with_length(format, request, status, bytes, resp_head, None)
    }

    /// [`line`] for a response whose application gave `Content-Length: resp_length`.
    fn line_with_length(
        format: &str,
        request: &[u8],
        status: u16,
        bytes: u64,
        resp_head: &[u8],
        resp_length: Option<u64>,
    ) -> String {
        let fmt = AccessFormat::parse(format).unwrap();
        let mut head = Head::default();
        let limits = Limits {
            request_line: 8190,
            fields: 100,
            field_size: 8190,
        };
        parse_head(request, &limits, &mut head).unwrap().unwrap();
        let env = [("REMOTE_USER", "alice"), ("wsgi.url_scheme", "http")];
        let mut values = EnvValues::default();
        values.capture(fmt.environ_keys(), || env.iter().copied());
        let mut time = Vec::new();
        clf_time(1_795_168_800, &mut time);
        let rec = Record {
            exchange: Exchange {
                head: &head,
                buf: request,
                peer: Some("10.1.2.3:5555".parse().unwrap()),
                status,
                body_bytes: bytes,
                resp_head,
                resp_length,
            },
            elapsed: Duration::from_micros(1_234_567),
            environ: &values,
            time: &time,
            pid: 42,
        };
        let mut out = Vec::new();
        render(&fmt, &rec, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn default_format_is_the_combined_log_format() {
        let req = b"GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nReferer: http://r/\r\nUser-Agent: curl/8\r\n\r\n";
        assert_eq!(
            line(DEFAULT, req, 200, 13, b"HTTP/1.1 200 OK\r\n"),
            "10.1.2.3 - - [20/Nov/2026:10:00:00 +0000] \"GET /a%20b?x=1 HTTP/1.1\" 200 13 \"http://r/\" \"curl/8\"\n"
        );
        let head_req = b"HEAD / HTTP/1.0\r\n\r\n";
        assert_eq!(
            line(DEFAULT, head_req, 404, 0, b"HTTP/1.0 404 Not Found\r\n"),
            "10.1.2.3 - - [20/Nov/2026:10:00:00 +0000] \"HEAD / HTTP/1.0\" 404 0 \"-\" \"-\"\n"
        );
    }

    #[test]
    fn response_headers_as_gunicorn_logs_them() {
        // The application's Content-Length (kept apart from the head), and the last value of a
        // repeated header, as gunicorn's dict of response headers has them.
        let req = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let resp = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n";
        let fmt = "%({content-length}o)s|%({set-cookie}o)s|%({Content-Length}o)s";
        assert_eq!(line_with_length(fmt, req, 200, 2, resp, Some(2)), "2|b=2|2\n");
        assert_eq!(line(fmt, req, 200, 2, resp), "-|b=2|-\n");
    }

    #[test]
    fn every_atom() {
        let req =
            b"POST /p%C3%A9?q=%22 HTTP/1.1\r\nHost: h\r\nX-Trace: abc\r\nAuthorization: Basic Ym9iOnNlY3JldA==\r\n\r\n";
        let resp = b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-Id:  7 \r\n";
        let fmt = "%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(b)s|%(B)s|%(T)s|%(M)s|%(D)s|%(L)s|%(p)s|%(u)s|\
                   %({x-trace}i)s|%({X-Missing}i)s|%({content-type}o)s|%({x-id}o)s|%({remote_user}e)s|%({nope}e)s|100%%";
        assert_eq!(
            line(fmt, req, 201, 0, resp),
            "POST|/p\\xc3\\xa9|q=%22|HTTP/1.1|201|0|0|1|1234|1234567|1.234567|<42>|bob|\
             abc|-|text/plain|7|alice|-|100%\n"
        );
    }

    #[test]
    fn client_bytes_cannot_break_the_line() {
        let req = b"GET /x HTTP/1.1\r\nHost: h\r\nUser-Agent: a\"b\\c\xff\r\n\r\n";
        let out = line(r#""%(r)s" "%(a)s""#, req, 200, 1, b"");
        assert_eq!(out, "\"GET /x HTTP/1.1\" \"a\\\"b\\\\c\\xff\"\n");
    }

    #[test]
    fn numbers_addresses_and_timing() {
        for n in [0u64, 7, 10, 65535, u64::MAX] {
            let mut out = Vec::new();
            put_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        let req = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(line("%(h)s", req, 200, 0, b"").starts_with("10.1.2.3\n"));
    }

    #[test]
    fn clf_time_pads() {
        let mut out = Vec::new();
        clf_time(0, &mut out);
        assert_eq!(out, b"[01/Jan/1970:00:00:00 +0000]");
    }
}
