//! The URL scheme of a request (`wsgi.url_scheme`): `http`, unless a trusted proxy says
//! otherwise through one of the `secure_scheme_headers`, as in gunicorn.

use super::error::ParseError;
use super::request::Span;

/// Decides the scheme from the request's headers (spans into `buf`). Only a peer in
/// `forwarded_allow_ips` (`trusted`) is believed; scheme headers that contradict each other
/// reject the request.
pub fn url_scheme(
    headers: &[(Span, Span)],
    buf: &[u8],
    secure: &[(String, String)],
    trusted: bool,
) -> Result<&'static str, ParseError> {
    if !trusted || secure.is_empty() {
        return Ok("http");
    }
    let mut decided: Option<&'static str> = None;
    for (name, value) in headers {
        let name = name.of(buf);
        let Some((_, want)) = secure.iter().find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name)) else {
            continue;
        };
        let scheme = if value.of(buf).eq_ignore_ascii_case(want.as_bytes()) {
            "https"
        } else {
            "http"
        };
        match decided {
            Some(d) if d != scheme => return Err(ParseError::Malformed("contradictory scheme headers")),
            _ => decided = Some(scheme),
        }
    }
    Ok(decided.unwrap_or("http"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(raw: &str) -> (Vec<u8>, Vec<(Span, Span)>) {
        let buf = raw.as_bytes().to_vec();
        let mut out = Vec::new();
        let mut pos = 0u32;
        for line in raw.split('\n') {
            if let Some((n, v)) = line.split_once(':') {
                let v = v.trim_start();
                let vstart = pos + (line.len() - v.len()) as u32;
                out.push((
                    Span {
                        start: pos,
                        end: pos + n.len() as u32,
                    },
                    Span {
                        start: vstart,
                        end: vstart + v.len() as u32,
                    },
                ));
            }
            pos += line.len() as u32 + 1;
        }
        (buf, out)
    }

    #[test]
    fn scheme_table() {
        let secure: Vec<(String, String)> = vec![
            ("X-FORWARDED-PROTOCOL".into(), "ssl".into()),
            ("X-FORWARDED-PROTO".into(), "https".into()),
            ("X-FORWARDED-SSL".into(), "on".into()),
        ];
        let cases: &[(&str, bool, Result<&str, ()>)] = &[
            ("Host: a", true, Ok("http")),
            ("X-Forwarded-Proto: https", true, Ok("https")),
            ("X-Forwarded-Proto: HTTPS", true, Ok("https")),
            ("X-Forwarded-Proto: https", false, Ok("http")),
            ("X-Forwarded-Proto: http", true, Ok("http")),
            ("X-Forwarded-Proto: https\nX-Forwarded-Ssl: on", true, Ok("https")),
            ("X-Forwarded-Proto: https\nX-Forwarded-Ssl: off", true, Err(())),
            ("X-Forwarded-Proto: https\nX-Forwarded-Ssl: off", false, Ok("http")),
            ("X-Forwarded-Protocol: ssl", true, Ok("https")),
        ];
        for (raw, trusted, want) in cases {
            let (buf, hs) = spans(raw);
            let got = url_scheme(&hs, &buf, &secure, *trusted).map_err(|_| ());
            assert_eq!(got, *want, "{raw:?} trusted={trusted}");
        }
    }
}
