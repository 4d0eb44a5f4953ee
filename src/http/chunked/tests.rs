//! Table tests for the chunked decoder; every row is also decoded byte by byte and split at
//! every position, and must give the same result.

use super::*;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// What decoding all of `input` gives: the body and trailers once done, the status on error, or
/// `Ok(None)` when the decoder wants more.
fn decode_pieces(pieces: &[&[u8]]) -> Result<Option<(Vec<u8>, Fields, usize)>, u16> {
    let mut dec = ChunkedDecoder::new();
    let mut body = Vec::new();
    let mut pending = Vec::new();
    let mut total = 0;
    for piece in pieces {
        pending.extend_from_slice(piece);
        let p = dec.decode(&pending, &mut body).map_err(|e| e.status())?;
        assert!(p.consumed <= pending.len());
        pending.drain(..p.consumed);
        total += p.consumed;
        if p.done {
            let trailers = dec.trailers().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
            return Ok(Some((body, trailers, total)));
        }
    }
    Ok(None)
}

fn check_splits(name: &str, input: &[u8]) -> Result<Option<(Vec<u8>, Fields, usize)>, u16> {
    let whole = decode_pieces(&[input]);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(decode_pieces(&bytes), whole, "{name}: byte by byte");
    for k in 0..=input.len() {
        assert_eq!(
            decode_pieces(&[&input[..k], &input[k..]]),
            whole,
            "{name}: split at {k}"
        );
    }
    whole
}

/// Rows: (name, input, Ok(body, trailers) | Err(status)). Inputs are complete bodies.
type Row = (
    &'static str,
    &'static [u8],
    Result<(&'static [u8], &'static [(&'static str, &'static str)]), u16>,
);

const TABLE: &[Row] = &[
    ("one chunk", b"5\r\nhello\r\n0\r\n\r\n", Ok((b"hello", &[]))),
    (
        "two chunks",
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        Ok((b"hello world", &[])),
    ),
    (
        "uppercase hex",
        b"A\r\n0123456789\r\n0\r\n\r\n",
        Ok((b"0123456789", &[])),
    ),
    (
        "lowercase hex",
        b"a\r\n0123456789\r\n0\r\n\r\n",
        Ok((b"0123456789", &[])),
    ),
    ("leading zeros", b"0005\r\nhello\r\n000\r\n\r\n", Ok((b"hello", &[]))),
    ("empty body", b"0\r\n\r\n", Ok((b"", &[]))),
    (
        "extensions",
        b"5; some; parameters=stuff\r\nhello\r\n6; blahblah; blah\r\n world\r\n0\r\n\r\n",
        Ok((b"hello world", &[])),
    ),
    (
        "quoted extension",
        b"5;foo=\"bar baz\"\r\nhello\r\n0\r\n\r\n",
        Ok((b"hello", &[])),
    ),
    (
        "quoted pair",
        b"5;foo=\"a\\\"b\"\r\nhello\r\n0;last\r\n\r\n",
        Ok((b"hello", &[])),
    ),
    (
        "BWS around ; and =",
        b"5 ; a = b ;c\r\nhello\r\n0\r\n\r\n",
        Ok((b"hello", &[])),
    ),
    ("extension on last chunk", b"0;x=y\r\n\r\n", Ok((b"", &[]))),
    (
        "CRLF in data is data",
        b"4\r\n\r\n\r\n\r\n0\r\n\r\n",
        Ok((b"\r\n\r\n", &[])),
    ),
    (
        "trailers",
        b"0\r\nVary: *\r\nX-Checksum:\t abc \t\r\nX-Empty:\r\n\r\n",
        Ok((b"", &[("Vary", "*"), ("X-Checksum", "abc"), ("X-Empty", "")])),
    ),
    (
        "trailer inner space kept",
        b"0\r\nX-A: a  b\r\n\r\n",
        Ok((b"", &[("X-A", "a  b")])),
    ),
    (
        "trailer obs-text",
        b"0\r\nX-A: caf\xc3\xa9\r\n\r\n",
        Ok((b"", &[("X-A", "caf\u{c3}\u{a9}")])),
    ),
    // Sizes.
    ("plus sign", b"+5\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("minus sign", b"-5\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("space before size", b" 5\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("tab before size", b"\t5\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("0x prefix", b"0x5\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("underscore", b"5\r\nhello\r\n6_0\r\n world\r\n0\r\n\r\n", Err(400)),
    ("empty size line", b"\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("extension without size", b";foo=bar\r\nhello\r\n0\r\n\r\n", Err(400)),
    (
        "space then extension without size",
        b" ;foo=bar\r\nhello\r\n0\r\n\r\n",
        Err(400),
    ),
    ("whitespace without extension", b"5\r\nhello\r\n0 \r\n\r\n", Err(400)),
    ("overflow", b"10000000000000000\r\n", Err(400)),
    ("non-hex", b"5g\r\nhello\r\n0\r\n\r\n", Err(400)),
    // Extensions.
    ("empty extension name", b"5;\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("extension name not a token", b"5;a@b\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("empty extension value", b"5;a=\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("whitespace after extension", b"5;a=b \r\nhello\r\n0\r\n\r\n", Err(400)),
    ("unterminated quote", b"5;a=\"b\r\nhello\r\n0\r\n\r\n", Err(400)),
    (
        "control in quoted value",
        b"5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n",
        Err(400),
    ),
    ("junk after quoted value", b"5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("bare CR in extension", b"5;ext=val\rue\r\nhello\r\n0\r\n\r\n", Err(400)),
    // Line endings.
    ("bare LF after size", b"5\nhello\r\n0\r\n\r\n", Err(400)),
    ("bare LF then semicolon", b"5\n;\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("bare CR after size", b"5\rhello\r\n0\r\n\r\n", Err(400)),
    ("bare LF after data", b"5\r\nhello\n0\r\n\r\n", Err(400)),
    ("bare CR after data", b"5\r\nhello\r0\r\n\r\n", Err(400)),
    ("no CRLF after data", b"5\r\nhelloX\r\n0\r\n\r\n", Err(400)),
    ("data longer than size", b"3\r\nhello\r\n0\r\n\r\n", Err(400)),
    ("bare LF ends body", b"0\r\n\n", Err(400)),
    ("bare CR ends body", b"0\r\n\rX", Err(400)),
    // Trailers.
    (
        "trailer Content-Length",
        b"5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n",
        Err(400),
    ),
    ("trailer Host", b"0\r\nHost: evil.example.com\r\n\r\n", Err(400)),
    (
        "trailer Transfer-Encoding",
        b"0\r\nTransfer-Encoding: chunked\r\n\r\n",
        Err(400),
    ),
    (
        "trailer Content-Type",
        b"0\r\nContent-Type: text/plain\r\n\r\n",
        Err(400),
    ),
    ("trailer Trailer", b"0\r\nTrailer: X\r\n\r\n", Err(400)),
    (
        "trailer Authorization",
        b"0\r\nAuthorization: Basic x\r\n\r\n",
        Err(400),
    ),
    ("trailer case-insensitive", b"0\r\ncontent-LENGTH: 1\r\n\r\n", Err(400)),
    (
        "trailer after allowed one",
        b"0\r\nVary: *\r\nHost: x\r\n\r\n",
        Err(400),
    ),
    ("trailer obs-fold", b"0\r\nX-A: a\r\n b\r\n\r\n", Err(400)),
    ("trailer without colon", b"0\r\nVary\r\n\r\n", Err(400)),
    ("trailer space before colon", b"0\r\nVary : *\r\n\r\n", Err(400)),
    ("trailer empty name", b"0\r\n: x\r\n\r\n", Err(400)),
    ("trailer NUL", b"0\r\nX-A: a\x00b\r\n\r\n", Err(400)),
    ("trailer DEL", b"0\r\nX-A: a\x7fb\r\n\r\n", Err(400)),
    ("trailer bare LF", b"0\r\nX-A: a\n\r\n", Err(400)),
    ("trailer bare CR", b"0\r\nX-A: a\rb\r\n\r\n", Err(400)),
    ("trailer non-ASCII name", b"0\r\nX-\xc3\x9f: a\r\n\r\n", Err(400)),
];

#[test]
fn chunked_table() {
    for (name, input, want) in TABLE {
        let got = check_splits(name, input);
        match want {
            Ok((body, trailers)) => {
                let (got_body, got_trailers, consumed) = got
                    .unwrap_or_else(|s| panic!("{name}: rejected with {s}"))
                    .unwrap_or_else(|| panic!("{name}: not done"));
                assert_eq!(got_body, *body, "{name}");
                assert_eq!(consumed, input.len(), "{name}");
                let want_trailers: Fields = trailers
                    .iter()
                    .map(|(n, v)| (n.as_bytes().to_vec(), v.chars().map(|c| c as u8).collect()))
                    .collect();
                assert_eq!(got_trailers, want_trailers, "{name}");
            }
            Err(status) => assert_eq!(got.map(|_| ()), Err(*status), "{name}"),
        }
    }
}

#[test]
fn incomplete_bodies_want_more() {
    for input in [
        &b""[..],
        b"5",
        b"5\r",
        b"5\r\nhel",
        b"5\r\nhello",
        b"5\r\nhello\r",
        b"5\r\nhello\r\n0\r\n",
        b"0\r\nVary: *\r\n",
        b"0\r\nVary: *\r\n\r",
        b"ffffffffffffffff\r\nabc",
    ] {
        assert_eq!(check_splits("incomplete", input), Ok(None), "{input:?}");
    }
}

#[test]
fn stops_at_the_end_of_the_body() {
    let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    let mut dec = ChunkedDecoder::new();
    let mut body = Vec::new();
    let p = dec.decode(input, &mut body).unwrap();
    assert_eq!(
        p,
        Progress {
            consumed: 13,
            done: true
        }
    );
    assert_eq!(body, b"abc");
    // Once done, further input is left alone.
    assert_eq!(
        dec.decode(b"more", &mut body).unwrap(),
        Progress {
            consumed: 0,
            done: true
        }
    );
}

#[test]
fn size_line_and_trailer_limits() {
    let mut line = b"5;".to_vec();
    line.resize(MAX_SIZE_LINE, b'a');
    let ok = [&line[..], b"\r\nhello\r\n0\r\n\r\n"].concat();
    assert_eq!(
        decode_pieces(&[&ok]).map(|r| r.map(|(b, ..)| b)),
        Ok(Some(b"hello".to_vec()))
    );
    let long = [&line[..], b"a\r\nhello\r\n0\r\n\r\n"].concat();
    assert_eq!(decode_pieces(&[&long]), Err(400));
    // Without a CRLF in sight, the decoder gives up as soon as the line is too long.
    assert_eq!(decode_pieces(&[&long[..MAX_SIZE_LINE + 1]]), Err(400));

    let mut trailer = b"0\r\nX: ".to_vec();
    trailer.resize(3 + MAX_TRAILER_SECTION - 4, b'a');
    trailer.extend_from_slice(b"\r\n\r\n");
    assert!(
        matches!(decode_pieces(&[&trailer]), Ok(Some(_))),
        "exactly at the limit"
    );
    trailer.insert(10, b'a');
    assert_eq!(decode_pieces(&[&trailer]), Err(431));
    let mut many = b"0\r\n".to_vec();
    while many.len() < MAX_TRAILER_SECTION + 10 {
        many.extend_from_slice(b"X-A: 1\r\n");
    }
    assert_eq!(decode_pieces(&[&many]), Err(431));
}

#[test]
fn largest_size_is_accepted() {
    let mut dec = ChunkedDecoder::new();
    let mut body = Vec::new();
    let p = dec.decode(b"ffffffffffffffff\r\nxyz", &mut body).unwrap();
    assert_eq!(
        p,
        Progress {
            consumed: 21,
            done: false
        }
    );
    assert_eq!(body, b"xyz");
}
