//! Table tests for every rule of the head parser, the gunicorn corpus at the parser level (with
//! the same policy as `tests/conformance.rs`), split invariance, and a random-input loop.

use super::*;
use crate::http::chunked::ChunkedDecoder;

mod corpus {
    include!("../../../tests/data/corpus.rs");
}

const CORPUS_JSON: &str = include_str!("../../../tests/data/gunicorn-requests.json");

type Check = fn(&Head, &[u8]);

fn text(span: Span, buf: &[u8]) -> String {
    span.of(buf).iter().map(|&b| b as char).collect()
}

fn header<'a>(head: &Head, buf: &'a [u8], name: &str) -> Vec<&'a [u8]> {
    head.headers
        .iter()
        .filter(|(n, _)| n.of(buf).eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v.of(buf))
        .collect()
}

/// Parses with `limits` and checks the head was complete and exactly `raw` long.
fn parse_with(raw: &[u8], limits: &Limits) -> Result<Option<Head>, u16> {
    let mut head = Head::default();
    match parse_head(raw, limits, &mut head) {
        Ok(Some(len)) => {
            assert_eq!(len, head.len);
            Ok(Some(head))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(e.status()),
    }
}

enum Want {
    Head(Check),
    Status(u16),
    Partial,
}

fn ok(_: &Head, _: &[u8]) {}

fn run_table(rows: &[(&str, &[u8], Want)], limits: &Limits) {
    for (name, raw, want) in rows {
        let got = parse_with(raw, limits);
        match want {
            Want::Head(check) => {
                let head = got
                    .unwrap_or_else(|s| panic!("{name}: rejected with {s}"))
                    .unwrap_or_else(|| panic!("{name}: incomplete"));
                assert_eq!(
                    head.len,
                    raw.len(),
                    "{name}: heads in the table end with the empty line"
                );
                check(&head, raw);
            }
            Want::Status(s) => assert_eq!(got.map(|_| ()), Err(*s), "{name}"),
            Want::Partial => assert_eq!(got.map(|h| h.is_some()), Ok(false), "{name}"),
        }
        // Every prefix is incomplete, or fails as the whole does.
        for k in 0..raw.len() {
            match parse_with(&raw[..k], limits) {
                Ok(None) => {}
                Ok(Some(_)) => panic!("{name}: prefix of {k} bytes is a complete head"),
                Err(s) => assert_eq!(parse_with(raw, limits).map(|_| ()), Err(s), "{name}: prefix {k}"),
            }
        }
    }
}

#[test]
fn request_line_table() {
    use Want::*;
    let rows: &[(&str, &[u8], Want)] = &[
        (
            "simple",
            b"GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(|h, b| {
                assert_eq!(text(h.method, b), "GET");
                assert_eq!(text(h.target, b), "/a/b?x=1");
                assert_eq!(text(h.path, b), "/a/b");
                assert_eq!(text(h.query, b), "x=1");
                assert_eq!(h.version, Version::Http11);
                assert_eq!(h.form, TargetForm::Origin);
                assert_eq!(h.authority, None);
                assert_eq!(h.host.map(|a| text(a, b)).as_deref(), Some("h"));
                assert!(h.keep_alive);
                assert_eq!(h.framing, BodyFraming::None);
            }),
        ),
        ("partial request line", b"GET /a HTTP/1.", Partial),
        ("partial field", b"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1", Partial),
        ("partial final CRLF", b"GET / HTTP/1.1\r\nHost: h\r\n\r", Partial),
        (
            "HTTP/1.0 needs no Host",
            b"GET / HTTP/1.0\r\n\r\n",
            Head(|h, _| {
                assert_eq!(h.version, Version::Http10);
                assert_eq!(h.host, None);
            }),
        ),
        (
            "unknown uppercase method",
            b"-BLARGH /foo HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(ok),
        ),
        (
            "20-byte method",
            b"ABCDEFGHIJKLMNOPQRST / HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(ok),
        ),
        (
            "21-byte method",
            b"ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        ("2-byte method", b"GE / HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("lowercase method", b"get / HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("lowercase short method", b"-bl /foo HTTP/1.1\r\n\r\n", Status(400)),
        ("# in method", b"GE#T / HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("colon in method", b"GET: / HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("NUL in method", b"GET\x00 / HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        (
            "non-ASCII method",
            b"GET\xc3\x9f / HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        ("empty method", b" / HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("two spaces", b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("tab separator", b"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("no target", b"GET HTTP/1.1\r\n\r\n", Status(400)),
        ("HTTP/0.9 style", b"GET /\r\n\r\n", Status(400)),
        ("space before CRLF", b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", Status(400)),
        ("HTTP/2.0", b"GET / HTTP/2.0\r\n\r\n", Status(505)),
        ("HTTP/3.0", b"GET / HTTP/3.0\r\nHost: h\r\n\r\n", Status(505)),
        ("HTTP/2.1", b"GET / HTTP/2.1\r\nHost: h\r\n\r\n", Status(505)),
        ("HTTP/9.9", b"GET / HTTP/9.9\r\nHost: h\r\n\r\n", Status(505)),
        ("HTTP/0.9", b"GET / HTTP/0.9\r\n\r\n", Status(505)),
        // RFC 9110 §2.5: a later 1.x minor version is processed as the highest this server
        // speaks, HTTP/1.1, with all of its rules (Host required, keep-alive by default).
        (
            "HTTP/1.2 is HTTP/1.1",
            b"GET / HTTP/1.2\r\nHost: h\r\n\r\n",
            Head(|h, _| {
                assert_eq!(h.version, Version::Http11);
                assert!(h.keep_alive);
            }),
        ),
        (
            "HTTP/1.9 is HTTP/1.1",
            b"POST / HTTP/1.9\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
            Head(|h, _| {
                assert_eq!(h.version, Version::Http11);
                assert_eq!(h.framing, BodyFraming::Chunked);
            }),
        ),
        ("HTTP/1.2 without Host", b"GET / HTTP/1.2\r\n\r\n", Status(400)),
        ("HTTP/1.1.1", b"GET / HTTP/1.1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("HTTX/1.1", b"GET / HTTX/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("lowercase version", b"GET / http/1.1\r\nHost: h\r\n\r\n", Status(400)),
        ("FTP", b"GET /foo FTP/1.1\r\n\r\n", Status(400)),
        ("HTTP/111", b"GET /test HTTP/111\r\nHost: h\r\n\r\n", Status(400)),
        ("HTTP/0.99", b"GET /foo HTTP/0.99\r\n\r\n", Status(400)),
        ("HTTP/1", b"GET /foo HTTP/1\r\n\r\n", Status(400)),
        ("bare LF in request line", b"GET\n/\nHTTP/1.1\r\n\r\n", Status(400)),
        (
            "bare LF ending request line",
            b"GET / HTTP/1.1\nHost: h\r\n\r\n",
            Status(400),
        ),
        (
            "bare CR in request line",
            b"GET /\r HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        (
            "leading empty line",
            b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(|h, b| assert_eq!(text(h.method, b), "GET")),
        ),
        (
            "four leading empty lines",
            b"\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n",
            Head(ok),
        ),
        (
            "five leading empty lines",
            b"\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n",
            Status(400),
        ),
        ("leading bare LF", b"\nGET / HTTP/1.0\r\n\r\n", Status(400)),
        ("DEL in target", b"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        (
            "control in target",
            b"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        (
            "quotes in target",
            b"GET /with_\"quotes\"?foo=\"bar\" HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(|h, b| {
                assert_eq!(text(h.path, b), "/with_\"quotes\"");
                assert_eq!(text(h.query, b), "foo=\"bar\"");
            }),
        ),
        // RFC 9112 §3.2: the target is ASCII; other bytes must be percent-encoded.
        ("UTF-8 in target", b"GET /\xc3\xa0%20k HTTP/1.0\r\n\r\n", Status(400)),
        ("0x80 in target", b"GET /a\x80 HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        (
            "0xFF in query",
            b"GET /a?q=\xff HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        (
            "UTF-8 in absolute-form target",
            b"GET http://h/\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        (
            "percent-encoded UTF-8 in target",
            b"GET /%C3%A0%20k HTTP/1.0\r\n\r\n",
            Head(|h, b| assert_eq!(h.path.of(b), b"/%C3%A0%20k")),
        ),
    ];
    run_table(rows, &Limits::default());
}

#[test]
fn target_form_table() {
    use Want::*;
    let rows: &[(&str, &[u8], Want)] = &[
        (
            "fragment",
            b"GET /forums/1?page=1#posts-17408 HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(|h, b| {
                assert_eq!(text(h.target, b), "/forums/1?page=1#posts-17408");
                assert_eq!(text(h.path, b), "/forums/1");
                assert_eq!(text(h.query, b), "page=1");
                assert_eq!(text(h.fragment, b), "posts-17408");
            }),
        ),
        (
            "slashes kept",
            b"GET ///keeping_slashes HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(|h, b| assert_eq!(text(h.path, b), "///keeping_slashes")),
        ),
        (
            "OPTIONS *",
            b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(|h, b| {
                assert_eq!(h.form, TargetForm::Asterisk);
                assert_eq!(text(h.path, b), "*");
                assert!(h.query.is_empty());
            }),
        ),
        ("GET *", b"GET * HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        (
            "absolute",
            b"GET http://example.com/foo?q=1 HTTP/1.1\r\nHost: other\r\n\r\n",
            Head(|h, b| {
                assert_eq!(h.form, TargetForm::Absolute);
                assert_eq!(h.authority.map(|a| text(a, b)).as_deref(), Some("example.com"));
                // RFC 9112 §3.2.2: the target's authority, not the Host field.
                assert_eq!(h.host.map(|a| text(a, b)).as_deref(), Some("example.com"));
                assert_eq!(text(h.path, b), "/foo");
                assert_eq!(text(h.query, b), "q=1");
            }),
        ),
        (
            "absolute ipv6",
            b"GET http://[::1]:8080/foo HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
            Head(|h, b| {
                assert_eq!(h.authority.map(|a| text(a, b)).as_deref(), Some("[::1]:8080"));
                assert_eq!(text(h.path, b), "/foo");
            }),
        ),
        (
            "absolute without path",
            b"GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
            Head(|h, b| {
                assert_eq!(text(h.path, b), "");
                assert_eq!(h.authority.map(|a| text(a, b)).as_deref(), Some("example.com"));
            }),
        ),
        (
            "absolute still needs Host",
            b"GET http://example.com/ HTTP/1.1\r\n\r\n",
            Status(400),
        ),
        (
            "userinfo",
            b"GET http://user:pass@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
            Status(400),
        ),
        (
            "other scheme",
            b"GET ftp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
            Status(400),
        ),
        (
            "garbage scheme",
            b"PUT s://]ufd/: HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        ("relative", b"GET foo/bar HTTP/1.1\r\nHost: h\r\n\r\n", Status(400)),
        (
            "authority-form with GET",
            b"GET example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            Status(400),
        ),
        (
            "CONNECT",
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            Status(405),
        ),
        (
            "CONNECT ipv6",
            b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
            Status(405),
        ),
        (
            "CONNECT origin-form",
            b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n",
            Status(400),
        ),
    ];
    run_table(rows, &Limits::default());
}

#[test]
fn field_table() {
    use Want::*;
    let rows: &[(&str, &[u8], Want)] = &[
        (
            "no Host in HTTP/1.1",
            b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
            Status(400),
        ),
        (
            "two Hosts",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            Status(400),
        ),
        (
            "two Hosts in HTTP/1.0",
            b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
            Status(400),
        ),
        ("empty Host", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Head(ok)),
        ("invalid Host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Status(400)),
        (
            "Host with bad port",
            b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n",
            Status(400),
        ),
        (
            "space before colon",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\n",
            Status(400),
        ),
        (
            "obs-fold",
            b"GET / HTTP/1.1\r\nLong: one\r\n two\r\nHost: h\r\n\r\n",
            Status(400),
        ),
        (
            "whitespace before the first field",
            b"GET / HTTP/1.1\r\n Host: h\r\n\r\n",
            Status(400),
        ),
        (
            "obs-fold with tab",
            b"GET / HTTP/1.1\r\nHost: h\r\nLong: one\r\n\ttwo\r\n\r\n",
            Status(400),
        ),
        (
            "NUL in value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n",
            Status(400),
        ),
        (
            "BEL in value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: plain\x07injected\r\n\r\n",
            Status(400),
        ),
        (
            "DEL in value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: plain\x7finjected\r\n\r\n",
            Status(400),
        ),
        (
            "bare CR in value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
            Status(400),
        ),
        (
            "bare LF in value",
            b"GET / HTTP/1.1\r\nHost: x\r\nNewline: a\nContent-Length: 26\r\n\r\n",
            Status(400),
        ),
        ("bare LF ends head", b"GET / HTTP/1.1\r\nHost: x\r\n\n", Status(400)),
        (
            "NUL in name",
            b"GET / HTTP/1.1\r\nHost: h\r\nba\x00z: bar\r\n\r\n",
            Status(400),
        ),
        (
            "non-ASCII name",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length\xc3\x9f: 3\r\n\r\n",
            Status(400),
        ),
        (
            "separator in name",
            b"GET / HTTP/1.1\r\nHost: h\r\n(x): 1\r\n\r\n",
            Status(400),
        ),
        ("no colon", b"GET / HTTP/1.1\r\nHost: h\r\nJunk\r\n\r\n", Status(400)),
        ("empty name", b"GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n", Status(400)),
        (
            "special name chars",
            b"GET / HTTP/1.1\r\nHost: h\r\nX.Custom|Pipe: ok\r\n\r\n",
            Head(|h, b| {
                assert_eq!(header(h, b, "X.Custom|Pipe"), [b"ok"]);
            }),
        ),
        (
            "underscore names kept",
            b"GET / HTTP/1.0\r\nTransfer_Encoding: tricked\r\nContent-Length: 7\r\nContent_Length: -1E23\r\n\r\n",
            Head(|h, b| {
                assert_eq!(h.headers.len(), 3);
                assert_eq!(header(h, b, "Transfer_Encoding"), [b"tricked"]);
                assert_eq!(h.framing, BodyFraming::Length(7));
            }),
        ),
        (
            "value trimmed",
            b"GET / HTTP/1.1\r\nHost: h\r\nName: \t value \t \r\n\r\n",
            Head(|h, b| {
                assert_eq!(header(h, b, "name"), [b"value"]);
            }),
        ),
        (
            "inner whitespace kept",
            b"GET / HTTP/1.1\r\nHost: h\r\nName: a \t b\r\n\r\n",
            Head(|h, b| {
                assert_eq!(header(h, b, "name"), [b"a \t b"]);
            }),
        ),
        (
            "empty value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX:\r\nY: \t\r\n\r\n",
            Head(|h, b| {
                assert_eq!(header(h, b, "x"), [b""]);
                assert_eq!(header(h, b, "y"), [b""]);
            }),
        ),
        (
            "obs-text value",
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Value: caf\xc3\xa9\r\n\r\n",
            Head(|h, b| {
                assert_eq!(header(h, b, "x-value"), [b"caf\xc3\xa9"]);
            }),
        ),
        (
            "order and repeats kept",
            b"GET / HTTP/1.0\r\nIf-Match: a\r\nX: 1\r\nIf-Match: b\r\n\r\n",
            Head(|h, b| {
                let names: Vec<String> = h.headers.iter().map(|(n, _)| text(*n, b)).collect();
                assert_eq!(names, ["If-Match", "X", "If-Match"]);
                assert_eq!(header(h, b, "if-match"), [b"a", b"b"]);
            }),
        ),
        (
            "two Content-Types",
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
            Status(400),
        ),
    ];
    run_table(rows, &Limits::default());
}

#[test]
fn framing_table() {
    use Want::*;
    let rows: &[(&str, &[u8], Want)] = &[
        (
            "Content-Length",
            b"POST / HTTP/1.1\r\nHost: h\r\ncontent-LENGTH: 5\r\n\r\n",
            Head(|h, _| assert_eq!(h.framing, BodyFraming::Length(5))),
        ),
        (
            "Content-Length 0",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
            Head(|h, _| assert_eq!(h.framing, BodyFraming::None)),
        ),
        (
            "leading zeros",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n",
            Head(|h, _| assert_eq!(h.framing, BodyFraming::Length(7))),
        ),
        (
            "largest",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\n",
            Head(|h, _| assert_eq!(h.framing, BodyFraming::Length(u64::MAX))),
        ),
        (
            "overflow",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n",
            Status(400),
        ),
        (
            "duplicate equal",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
            Status(400),
        ),
        (
            "duplicate different",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 2\r\n\r\n",
            Status(400),
        ),
        (
            "list",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n",
            Status(400),
        ),
        (
            "plus",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n",
            Status(400),
        ),
        (
            "minus",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            Status(400),
        ),
        (
            "minus zero",
            b"POST / HTTP/1.0\r\nContent-Length: -0\r\n\r\n",
            Status(400),
        ),
        (
            "underscore",
            b"POST / HTTP/1.0\r\nContent-Length: 0_1\r\n\r\n",
            Status(400),
        ),
        (
            "inner space",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0 1\r\n\r\n",
            Status(400),
        ),
        (
            "non-digit",
            b"POST / HTTP/1.0\r\nContent-Length: bla-bla-bla\r\n\r\n",
            Status(400),
        ),
        (
            "empty",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n",
            Status(400),
        ),
        (
            "chunked",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
            Head(|h, _| {
                assert_eq!(h.framing, BodyFraming::Chunked);
                assert!(h.keep_alive);
            }),
        ),
        (
            "gzip, chunked: a coding forkhorn does not decode",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            Status(501),
        ),
        (
            "gzip then chunked lines",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
            Status(501),
        ),
        (
            "identity, chunked",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity, chunked\r\n\r\n",
            Status(501),
        ),
        (
            "empty list elements",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,chunked,\r\n\r\n",
            Head(|h, _| assert_eq!(h.framing, BodyFraming::Chunked)),
        ),
        (
            "chunked, gzip",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            Status(400),
        ),
        (
            "chunked then identity lines",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
            Status(400),
        ),
        (
            "chunked twice",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            Status(400),
        ),
        (
            "chunked twice on lines",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            Status(400),
        ),
        (
            "gzip alone",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
            Status(501),
        ),
        (
            "identity alone",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
            Status(501),
        ),
        (
            "empty",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n",
            Status(400),
        ),
        (
            "unknown coding",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo\r\n\r\n",
            Status(501),
        ),
        (
            "unknown before chunked",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br, chunked\r\n\r\n",
            Status(501),
        ),
        (
            "coding not a token",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
            Status(400),
        ),
        (
            "with Content-Length",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            Status(400),
        ),
        (
            "with Content-Length after",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            Status(400),
        ),
        (
            "identity with Content-Length",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\n",
            Status(400),
        ),
        (
            "unknown with Content-Length",
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo\r\nContent-Length: 5\r\n\r\n",
            Status(400),
        ),
        (
            "in HTTP/1.0",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            Status(400),
        ),
    ];
    run_table(rows, &Limits::default());
}

#[test]
fn connection_table() {
    use Want::*;
    let rows: &[(&str, &[u8], Want)] = &[
        (
            "1.1 default",
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            Head(|h, _| assert!(h.keep_alive)),
        ),
        (
            "1.1 close",
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n",
            Head(|h, _| assert!(!h.keep_alive)),
        ),
        (
            "1.1 close in list",
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade,  CLOSE \r\n\r\n",
            Head(|h, _| assert!(!h.keep_alive)),
        ),
        (
            "1.1 close on second line",
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\nConnection: close\r\n\r\n",
            Head(|h, _| assert!(!h.keep_alive)),
        ),
        (
            "1.1 not a token",
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
            Head(|h, _| assert!(h.keep_alive)),
        ),
        (
            "1.0 default",
            b"GET / HTTP/1.0\r\n\r\n",
            Head(|h, _| assert!(!h.keep_alive)),
        ),
        (
            "1.0 keep-alive",
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            Head(|h, _| assert!(h.keep_alive)),
        ),
        (
            "1.0 keep-alive in list",
            b"GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n",
            Head(|h, _| assert!(h.keep_alive)),
        ),
        (
            "1.0 keep-alive and close",
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
            Head(|h, _| assert!(!h.keep_alive)),
        ),
        (
            "expect",
            b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
            Head(|h, _| assert!(h.expect_continue)),
        ),
        (
            "no expect",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n",
            Head(|h, _| assert!(!h.expect_continue)),
        ),
        (
            "other expectation",
            b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n",
            Head(|h, _| assert!(!h.expect_continue)),
        ),
        (
            "expect in HTTP/1.0",
            b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            Head(|h, _| assert!(!h.expect_continue)),
        ),
    ];
    run_table(rows, &Limits::default());
}

fn limits(request_line: usize, fields: usize, field_size: usize) -> Limits {
    Limits {
        request_line,
        fields,
        field_size,
    }
}

#[test]
fn limits_read_as_gunicorn_reads_them() {
    assert_eq!(Limits::bound_request_line(0), 0, "unlimited stays unlimited");
    assert_eq!(Limits::bound_request_line(100), 100);
    assert_eq!(Limits::bound_request_line(MAX_REQUEST_LINE + 1), MAX_REQUEST_LINE);
    assert_eq!(Limits::bound_fields(0), MAX_FIELDS);
    assert_eq!(Limits::bound_fields(7), 7);
    assert_eq!(Limits::bound_fields(MAX_FIELDS + 1), MAX_FIELDS);
    // gunicorn 27: an "unlimited" request line is one of up to 1 MiB.
    assert_eq!(
        limits(0, 0, 0).effective(),
        limits(UNLIMITED_REQUEST_LINE, MAX_FIELDS, DEFAULT_FIELD_SIZE)
    );
    assert_eq!(
        limits(MAX_REQUEST_LINE + 1, MAX_FIELDS + 1, 1 << 20).effective(),
        limits(MAX_REQUEST_LINE, MAX_FIELDS, 1 << 20)
    );
    assert_eq!(Limits::default().effective(), Limits::default());
}

#[test]
fn limit_table() {
    use Want::*;
    // The request line limit counts the line without its CRLF.
    let line_at = |n: usize| format!("GET /{} HTTP/1.0\r\n\r\n", "a".repeat(n - 14)).into_bytes();
    let exact = line_at(100);
    let over = line_at(101);
    assert_eq!(exact.len(), 104);
    run_table(
        &[
            ("line at limit", &exact, Head(ok)),
            ("line over limit", &over, Status(414)),
        ],
        &limits(100, 100, 8190),
    );
    // Over the limit before any CRLF arrived: 414 at once.
    assert_eq!(parse_with(&over[..101], &limits(100, 100, 8190)).map(|_| ()), Err(414));
    assert_eq!(
        parse_with(&over[..100], &limits(100, 100, 8190)).map(|h| h.is_some()),
        Ok(false)
    );
    // Anything above 8190 means 8190; 0 means 1 MiB (gunicorn 27's "unlimited").
    for limit in [8190, 9000] {
        let l = limits(limit, 100, 8190);
        assert!(matches!(parse_with(&line_at(8190), &l), Ok(Some(_))), "{limit}");
        assert_eq!(parse_with(&line_at(8191), &l).map(|_| ()), Err(414), "{limit}");
    }
    let unlimited = limits(0, 100, 8190);
    assert!(matches!(parse_with(&line_at(10_000), &unlimited), Ok(Some(_))));
    assert!(matches!(
        parse_with(&line_at(UNLIMITED_REQUEST_LINE), &unlimited),
        Ok(Some(_))
    ));
    assert_eq!(
        parse_with(&line_at(UNLIMITED_REQUEST_LINE + 1), &unlimited).map(|_| ()),
        Err(414)
    );

    // The field size counts name, colon, value and CRLF: "Accept: */*" is 13.
    let accept = b"GET / HTTP/1.0\r\nAccept: */*\r\n\r\n";
    run_table(&[("field at limit", accept, Head(ok))], &limits(4094, 100, 13));
    run_table(&[("field over limit", accept, Status(431))], &limits(4094, 100, 12));
    // A partial field already too long is refused before its CRLF.
    assert_eq!(
        parse_with(b"GET / HTTP/1.0\r\nAccept: */*", &limits(4094, 100, 12)).map(|_| ()),
        Err(431)
    );
    assert_eq!(
        parse_with(b"GET / HTTP/1.0\r\nAccept: */*\r", &limits(4094, 100, 13)).map(|h| h.is_some()),
        Ok(false)
    );
    // 0 means 8190.
    let field_at = |n: usize| format!("GET / HTTP/1.0\r\nX: {}\r\n\r\n", "y".repeat(n - 5)).into_bytes();
    for size in [0, 8190] {
        assert!(matches!(
            parse_with(&field_at(8190), &limits(4094, 100, size)),
            Ok(Some(_))
        ));
        assert_eq!(
            parse_with(&field_at(8191), &limits(4094, 100, size)).map(|_| ()),
            Err(431)
        );
    }
    assert!(matches!(
        parse_with(&field_at(9000), &limits(4094, 100, 9000)),
        Ok(Some(_))
    ));

    // More fields than the limit, complete or not.
    let three = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
    run_table(&[("fields at limit", three, Head(ok))], &limits(4094, 3, 8190));
    run_table(&[("fields over limit", three, Status(431))], &limits(4094, 2, 8190));
    assert_eq!(
        parse_with(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB", &limits(4094, 2, 8190)).map(|_| ()),
        Err(431)
    );
    // 0 and anything above 32768 mean 32768.
    let mut many = b"GET / HTTP/1.0\r\n".to_vec();
    for i in 0..MAX_FIELDS {
        many.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    for fields in [0, MAX_FIELDS, MAX_FIELDS + 1] {
        let head = parse_with(&many, &limits(4094, fields, 8190)).unwrap().unwrap();
        assert_eq!(head.headers.len(), MAX_FIELDS);
    }
    let mut one_more = many[..many.len() - 2].to_vec();
    one_more.extend_from_slice(b"Y: 1\r\n\r\n");
    assert_eq!(parse_with(&one_more, &limits(4094, 0, 8190)).map(|_| ()), Err(431));
}

#[test]
fn stack_and_heap_field_storage() {
    for n in [0, 1, STACK_FIELDS - 1, STACK_FIELDS, STACK_FIELDS + 1, 200] {
        let mut raw = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for i in 1..n {
            raw.extend_from_slice(format!("X-{i}: v{i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let head = parse_with(&raw, &limits(4094, 1000, 8190)).unwrap().unwrap();
        assert_eq!(head.headers.len(), n.max(1));
        for (i, (name, value)) in head.headers.iter().enumerate().skip(1) {
            assert_eq!(text(*name, &raw), format!("X-{i}"));
            assert_eq!(text(*value, &raw), format!("v{i}"));
        }
    }
}

#[test]
fn head_is_reused() {
    let mut head = Head::default();
    let raw = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n";
    // The first parse sizes the field list; later ones reuse it.
    assert_eq!(parse_head(raw, &Limits::default(), &mut head), Ok(Some(raw.len())));
    let cap = head.headers.capacity();
    for _ in 0..3 {
        assert_eq!(parse_head(raw, &Limits::default(), &mut head), Ok(Some(raw.len())));
        assert_eq!(head.headers.len(), 2);
    }
    assert_eq!(head.headers.capacity(), cap);
    // A pipelined request after the head is not part of it.
    let two = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
    assert_eq!(parse_head(two, &Limits::default(), &mut head), Ok(Some(28)));
}

#[test]
fn hard_cap_bounds_the_head() {
    // Huge limits: the head is still not read past HEAD_HARD_CAP.
    let l = limits(8190, MAX_FIELDS, usize::MAX);
    let mut raw = b"GET / HTTP/1.0\r\nX: ".to_vec();
    raw.resize(HEAD_HARD_CAP + 1, b'a');
    assert_eq!(parse_with(&raw, &l).map(|_| ()), Err(431));
    assert_eq!(parse_with(&raw[..HEAD_HARD_CAP], &l).map(|h| h.is_some()), Ok(false));
}

// ---------------------------------------------------------------------------------------------
// The corpus, at the parser level.

/// One request as the parser and decoder saw it, in the corpus's terms.
#[allow(clippy::large_enum_variant)] // a test value, compared and dropped
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Accept(corpus::Req, bool),
    Reject(u16),
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn seen_request(head: &Head, buf: &[u8], body: Vec<u8>, dec: Option<&ChunkedDecoder>) -> Seen {
    let upper = |n: &[u8]| latin1(&n.to_ascii_uppercase());
    let req = corpus::Req {
        method: text(head.method, buf),
        raw_uri: text(head.target, buf),
        path: text(head.path, buf),
        query: text(head.query, buf),
        fragment: text(head.fragment, buf),
        version: head.version.as_str().to_owned(),
        // gunicorn drops names with `_`; the worker does the same when it builds the environ.
        headers: head
            .headers
            .iter()
            .filter(|(n, _)| !n.of(buf).contains(&b'_'))
            .map(|(n, v)| (upper(n.of(buf)), text(*v, buf)))
            .collect(),
        body,
        trailers: dec
            .map(|d| d.trailers().map(|(n, v)| (upper(n), latin1(v))).collect())
            .unwrap_or_default(),
    };
    Seen::Accept(req, head.keep_alive)
}

/// Plays a connection the way the worker does, with the bytes arriving in `pieces`: parse a
/// head, read its body, repeat while keep-alive; the end of input mid-request is a 400.
fn drive(pieces: &[&[u8]], limits: &Limits) -> Vec<Seen> {
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut next = pieces.iter();
    let mut feed = |buf: &mut Vec<u8>| next.next().map(|p| buf.extend_from_slice(p)).is_some();
    let mut head = Head::default();
    loop {
        while buf.is_empty() {
            if !feed(&mut buf) {
                return out;
            }
        }
        let len = loop {
            match parse_head(&buf, limits, &mut head) {
                Ok(Some(len)) => break len,
                Ok(None) if feed(&mut buf) => {}
                Ok(None) => {
                    out.push(Seen::Reject(ParseError::Incomplete.status()));
                    return out;
                }
                Err(e) => {
                    out.push(Seen::Reject(e.status()));
                    return out;
                }
            }
        };
        let head_bytes: Vec<u8> = buf.drain(..len).collect();
        let mut body = Vec::new();
        let mut dec = None;
        match head.framing {
            BodyFraming::None => {}
            BodyFraming::Length(n) => {
                while (buf.len() as u64) < n {
                    if !feed(&mut buf) {
                        out.push(Seen::Reject(400));
                        return out;
                    }
                }
                body = buf.drain(..n as usize).collect();
            }
            BodyFraming::Chunked => {
                let d = dec.insert(ChunkedDecoder::new());
                loop {
                    match d.decode(&buf, &mut body) {
                        Ok(p) => {
                            buf.drain(..p.consumed);
                            if p.done {
                                break;
                            }
                            if !feed(&mut buf) {
                                out.push(Seen::Reject(400));
                                return out;
                            }
                        }
                        Err(e) => {
                            out.push(Seen::Reject(e.status()));
                            return out;
                        }
                    }
                }
            }
        }
        let seen = seen_request(&head, &head_bytes, body, dec.as_ref());
        let keep_alive = matches!(seen, Seen::Accept(_, true));
        out.push(seen);
        if !keep_alive {
            return out;
        }
    }
}

fn run_limits(run: &corpus::Run) -> Limits {
    let mut l = Limits::default();
    for (name, value) in &run.limits {
        let v = *value as usize;
        match name.as_str() {
            "limit_request_line" => l.request_line = v,
            "limit_request_fields" => l.fields = v,
            "limit_request_field_size" => l.field_size = v,
            other => panic!("unknown limit {other}"),
        }
    }
    l
}

#[test]
fn corpus_at_the_parser() {
    let plan = corpus::plan(CORPUS_JSON);
    assert_eq!(plan.cases, 137);
    let mut failures = Vec::new();
    for run in plan.runs.iter().filter(|r| r.server_flags.is_empty()) {
        let got = drive(&[&run.raw], &run_limits(run));
        let got: Vec<corpus::Outcome> = got
            .into_iter()
            .map(|s| match s {
                Seen::Accept(req, _) => corpus::Outcome::Accept(req),
                Seen::Reject(status) => corpus::Outcome::Reject(status),
            })
            .collect();
        if got != run.expect {
            failures.push(format!(
                "{} ({}):\n  want {:?}\n  got  {:?}",
                run.case, run.variant, run.expect, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing runs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The split positions checked for `raw`: all of them, except that unoptimised builds spare
/// the few corpus heads of 8-16 KiB the quadratic cost, keeping every position near the line
/// structure (within 64 bytes of a CR, LF, `:` or `;`) and at the ends, and every 13th elsewhere.
/// `cargo test --release` checks every position of every run.
fn split_positions(raw: &[u8]) -> Vec<usize> {
    if !cfg!(debug_assertions) || raw.len() <= 4096 {
        return (1..raw.len()).collect();
    }
    let mut near = vec![false; raw.len() + 1];
    for (i, b) in raw.iter().enumerate() {
        if matches!(b, b'\r' | b'\n' | b':' | b';') || i < 64 || raw.len() - i < 64 {
            for slot in &mut near[i.saturating_sub(64)..(i + 65).min(raw.len() + 1)] {
                *slot = true;
            }
        }
    }
    (1..raw.len()).filter(|&k| near[k] || k % 13 == 0).collect()
}

#[test]
fn corpus_split_anywhere() {
    // Every run, split at every byte position, gives what the whole gives: partial heads are
    // Ok(None) until complete (or fail as the whole fails), and the body decodes the same.
    let plan = corpus::plan(CORPUS_JSON);
    for run in plan.runs.iter().filter(|r| r.server_flags.is_empty()) {
        let limits = run_limits(run);
        let whole = drive(&[&run.raw], &limits);
        for k in split_positions(&run.raw) {
            let split = drive(&[&run.raw[..k], &run.raw[k..]], &limits);
            assert_eq!(split, whole, "{} ({}) split at {k}", run.case, run.variant);
        }
    }
}

/// xorshift64*: reproducible noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_inputs_never_panic_and_ignore_splits() {
    // Mutations of corpus requests (flipped, inserted and deleted bytes, interesting bytes),
    // with random limits: no panic, and splitting the input never changes the outcome.
    let plan = corpus::plan(CORPUS_JSON);
    let seeds: Vec<&[u8]> = plan
        .runs
        .iter()
        .map(|r| &r.raw[..])
        .filter(|r| r.len() < 2048)
        .collect();
    let interesting = b"\r\n \t:;,=\"\\0aAfF-+_#?/*@[]\x00\x7f\x80\xff";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rounds = if cfg!(debug_assertions) { 100_000 } else { 500_000 };
    for _ in 0..rounds {
        let mut input = seeds[rng.below(seeds.len())].to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(input.len() + 1);
            match rng.below(4) {
                0 if at < input.len() => input[at] = rng.next() as u8,
                1 => input.insert(at, interesting[rng.below(interesting.len())]),
                2 if at < input.len() => {
                    input.remove(at);
                }
                _ if at < input.len() => input[at] = interesting[rng.below(interesting.len())],
                _ => {}
            }
        }
        let limits = Limits {
            request_line: rng.below(300),
            fields: rng.below(20),
            field_size: rng.below(300),
        };
        let whole = drive(&[&input], &limits);
        let k = rng.below(input.len() + 1);
        assert_eq!(
            drive(&[&input[..k], &input[k..]], &limits),
            whole,
            "{:?} split at {k}",
            latin1(&input)
        );
    }
}
