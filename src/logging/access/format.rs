//! The access log line: gunicorn's `access_log_format` (Python's `%(atom)s` syntax), compiled
//! once into a list of pieces and rendered for each request into a reused buffer, with no
//! allocation and no map of atoms.
//!
//! Atoms (gunicorn's): `h` remote address, `l` `-`, `u` user name (HTTP Basic), `t` time,
//! `r` request line, `m` method, `U` path, `q` query, `H` protocol, `s` status, `b` body bytes
//! (`-` for none, as in Apache's common log format), `B` body bytes, `f` referer, `a` user agent,
//! `T` seconds, `M` milliseconds, `D` microseconds, `L` seconds as a decimal, `p` `<pid>`,
//! `{name}i` a request header, `{name}o` a response header, `{key}e` an environ variable.
//! `%%` is a percent sign. Anything else is an error, reported when the configuration is read.

use crate::http::response::put_decimal as put_u64;
use crate::http::uri::percent_decoded;
use crate::http::{Head, Version};
use base64::Engine as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

/// Why an `access_log_format` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// `%(x)s` with an `x` that is not an atom.
    #[error("unknown atom %({0})s (known: h l u t r m U q H s b B f a T M D L p, {{header}}i, {{header}}o, {{key}}e)")]
    UnknownAtom(String),
    /// `%(` without its closing `)`.
    #[error("unterminated %( at byte {0}")]
    Unterminated(usize),
    /// `%(x)` followed by something other than `s`.
    #[error("%({0}) must be followed by s, as in %({0})s")]
    Conversion(String),
    /// A `%` that starts neither `%(` nor `%%`.
    #[error("stray % at byte {0} (write %% for a percent sign)")]
    StrayPercent(usize),
}

/// One value a line can contain.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    RemoteAddr,
    Ident,
    User,
    Time,
    RequestLine,
    Method,
    Path,
    Query,
    Protocol,
    Status,
    BytesClf,
    Bytes,
    Referer,
    UserAgent,
    Seconds,
    Millis,
    Micros,
    SecondsDecimal,
    Pid,
    /// A request header, by lower-case name.
    RequestHeader(Box<[u8]>),
    /// A response header, by lower-case name.
    ResponseHeader(Box<[u8]>),
    /// An environ variable: the index of its key in [`AccessFormat::environ_keys`].
    Environ(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Bytes of [`AccessFormat::text`].
    Literal(usize, usize),
    Atom(Atom),
}

/// A compiled `access_log_format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFormat {
    text: String,
    pieces: Vec<Piece>,
    environ_keys: Vec<String>,
    /// The format shows a duration (`T`, `M`, `D`, `L`): requests must be timed.
    timed: bool,
}

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

impl AccessFormat {
    /// Compiles `format`.
    pub fn parse(format: &str) -> Result<AccessFormat, FormatError> {
        let bytes = format.as_bytes();
        let mut pieces = Vec::new();
        let mut environ_keys: Vec<String> = Vec::new();
        let mut lit_start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' {
                i += 1;
                continue;
            }
            if lit_start < i {
                pieces.push(Piece::Literal(lit_start, i));
            }
            match bytes.get(i + 1) {
                Some(b'%') => {
                    // Keep the second `%` as a one-byte literal.
                    pieces.push(Piece::Literal(i + 1, i + 2));
                    i += 2;
                }
                Some(b'(') => {
                    let close = format[i + 2..].find(')').ok_or(FormatError::Unterminated(i))? + i + 2;
                    let name = &format[i + 2..close];
                    if bytes.get(close + 1) != Some(&b's') {
                        return Err(FormatError::Conversion(name.to_owned()));
                    }
                    pieces.push(Piece::Atom(atom(name, &mut environ_keys)?));
                    i = close + 2;
                }
                _ => return Err(FormatError::StrayPercent(i)),
            }
            lit_start = i;
        }
        if lit_start < bytes.len() {
            pieces.push(Piece::Literal(lit_start, bytes.len()));
        }
        let timed = pieces.iter().any(|p| {
            matches!(
                p,
                Piece::Atom(Atom::Seconds | Atom::Millis | Atom::Micros | Atom::SecondsDecimal)
            )
        });
        Ok(AccessFormat {
            text: format.to_owned(),
            pieces,
            environ_keys,
            timed,
        })
    }

    /// Whether lines show how long the request took (so each request's start must be noted).
    pub fn timed(&self) -> bool {
        self.timed
    }

    /// The environ keys the format uses, lower case; their values go in [`Record::environ`].
    pub fn environ_keys(&self) -> &[String] {
        &self.environ_keys
    }

    /// Appends the line for `rec`, newline included, to `out`.
    pub fn render(&self, rec: &Record<'_>, out: &mut Vec<u8>) {
        let head = rec.exchange.head;
        let buf = rec.exchange.buf;
        for piece in &self.pieces {
            let atom = match piece {
                Piece::Literal(a, b) => {
                    out.extend_from_slice(&self.text.as_bytes()[*a..*b]);
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
                Atom::BytesClf if rec.exchange.body_bytes == 0 => out.push(b'-'),
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
                Atom::ResponseHeader(name) => put_or_dash(out, response_header(rec.exchange.resp_head, name)),
                Atom::Environ(i) => put_or_dash(out, rec.environ.get(*i)),
            }
        }
        out.push(b'\n');
    }
}

fn atom(name: &str, environ_keys: &mut Vec<String>) -> Result<Atom, FormatError> {
    let simple = match name {
        "h" => Some(Atom::RemoteAddr),
        "l" => Some(Atom::Ident),
        "u" => Some(Atom::User),
        "t" => Some(Atom::Time),
        "r" => Some(Atom::RequestLine),
        "m" => Some(Atom::Method),
        "U" => Some(Atom::Path),
        "q" => Some(Atom::Query),
        "H" => Some(Atom::Protocol),
        "s" => Some(Atom::Status),
        "b" => Some(Atom::BytesClf),
        "B" => Some(Atom::Bytes),
        "f" => Some(Atom::Referer),
        "a" => Some(Atom::UserAgent),
        "T" => Some(Atom::Seconds),
        "M" => Some(Atom::Millis),
        "D" => Some(Atom::Micros),
        "L" => Some(Atom::SecondsDecimal),
        "p" => Some(Atom::Pid),
        _ => None,
    };
    if let Some(a) = simple {
        return Ok(a);
    }
    let unknown = || FormatError::UnknownAtom(name.to_owned());
    let inner = name.strip_prefix('{').ok_or_else(unknown)?;
    let (key, kind) = inner.rsplit_once('}').ok_or_else(unknown)?;
    if key.is_empty() || key.bytes().any(|b| b.is_ascii_control()) {
        return Err(unknown());
    }
    let lower = key.to_ascii_lowercase();
    match kind {
        "i" => Ok(Atom::RequestHeader(lower.into_bytes().into())),
        "o" => Ok(Atom::ResponseHeader(lower.into_bytes().into())),
        "e" => {
            let index = match environ_keys.iter().position(|k| *k == lower) {
                Some(i) => i,
                None => {
                    environ_keys.push(lower);
                    environ_keys.len() - 1
                }
            };
            Ok(Atom::Environ(index))
        }
        _ => Err(unknown()),
    }
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

/// The first value of the response header `name` (lower case) in an encoded head.
fn response_header<'b>(resp_head: &'b [u8], name: &[u8]) -> Option<&'b [u8]> {
    // The first line is the status line; fields follow, one per CRLF-terminated line.
    resp_head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        line[..colon]
            .eq_ignore_ascii_case(name)
            .then(|| line[colon + 1..].trim_ascii())
    })
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
            },
            elapsed: Duration::from_micros(1_234_567),
            environ: &values,
            time: &time,
            pid: 42,
        };
        let mut out = Vec::new();
        fmt.render(&rec, &mut out);
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
            "10.1.2.3 - - [20/Nov/2026:10:00:00 +0000] \"HEAD / HTTP/1.0\" 404 - \"-\" \"-\"\n"
        );
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
            "POST|/p\\xc3\\xa9|q=%22|HTTP/1.1|201|-|0|1|1234|1234567|1.234567|<42>|bob|\
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
    fn format_errors() {
        for (fmt, err) in [
            ("%(h)s %(zz)s", FormatError::UnknownAtom("zz".into())),
            ("%({x}z)s", FormatError::UnknownAtom("{x}z".into())),
            ("%({}i)s", FormatError::UnknownAtom("{}i".into())),
            ("%(h", FormatError::Unterminated(0)),
            ("%(h)d", FormatError::Conversion("h".into())),
            ("50% off", FormatError::StrayPercent(2)),
            ("end %", FormatError::StrayPercent(4)),
        ] {
            assert_eq!(AccessFormat::parse(fmt), Err(err), "{fmt}");
        }
        assert!(AccessFormat::parse(DEFAULT).is_ok());
        assert!(AccessFormat::parse("no atoms at all").is_ok());
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
        assert!(!AccessFormat::parse(DEFAULT).unwrap().timed());
        assert!(AccessFormat::parse("%(D)s").unwrap().timed());
    }

    #[test]
    fn clf_time_pads() {
        let mut out = Vec::new();
        clf_time(0, &mut out);
        assert_eq!(out, b"[01/Jan/1970:00:00:00 +0000]");
    }
}
