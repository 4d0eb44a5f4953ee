//! Request targets: their four forms (RFC 9112 §3.2), the `uri-host [":" port]` syntax of
//! authorities and Host values, and percent-decoding for PATH_INFO.

use super::chars::hex;
use super::error::ParseError;
use std::ops::Range;

/// Which of the four request-target forms of RFC 9112 §3.2 a target has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: the usual form.
    #[default]
    Origin,
    /// `http://host[:port]/path?query`: sent to proxies, but a server must accept it too.
    Absolute,
    /// `host:port`: only for CONNECT.
    Authority,
    /// `*`: only for a server-wide OPTIONS.
    Asterisk,
}

/// A request target split into its parts, as byte ranges of the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetParts {
    /// The form.
    pub form: TargetForm,
    /// The path, not percent-decoded: empty for an absolute-form target without one, the whole
    /// target for the asterisk and authority forms.
    pub path: Range<usize>,
    /// The query without its `?` (empty when there is none).
    pub query: Range<usize>,
    /// The fragment without its `#` (empty when there is none). RFC 9112 has no fragment in a
    /// request target, but clients do send one; it is split off so that it never reaches the
    /// path or the query.
    pub fragment: Range<usize>,
    /// The `host[:port]` of an absolute-form target.
    pub authority: Option<Range<usize>>,
}

/// Splits a request target (never empty: the request-line parser guarantees a byte) into its
/// parts; `Err` when it has none of the four forms. Which methods may use which form is the
/// caller's rule.
pub fn split_target(target: &[u8]) -> Result<TargetParts, ParseError> {
    let all = 0..target.len();
    match target.first() {
        Some(b'/') => Ok(split_path(target, 0, TargetForm::Origin, None)),
        Some(b'*') if target.len() == 1 => Ok(TargetParts {
            form: TargetForm::Asterisk,
            path: all,
            query: 1..1,
            fragment: 1..1,
            authority: None,
        }),
        _ => {
            if let Some(scheme_end) = scheme_len(target) {
                let scheme = &target[..scheme_end];
                let rest = &target[scheme_end..];
                if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
                    return Err(ParseError::Malformed("unsupported scheme in request target"));
                }
                if !rest.starts_with(b"://") {
                    return Err(ParseError::Malformed("absolute-form target without authority"));
                }
                let auth_start = scheme_end + 3;
                let auth_end = target[auth_start..]
                    .iter()
                    .position(|&b| matches!(b, b'/' | b'?' | b'#'))
                    .map_or(target.len(), |i| auth_start + i);
                let authority = &target[auth_start..auth_end];
                if authority.contains(&b'@') {
                    // RFC 9110 §4.2.4: userinfo in an http(s) target is to be treated as an
                    // error; it mostly serves to disguise the real host.
                    return Err(ParseError::Malformed("userinfo in request target"));
                }
                match host_port(authority) {
                    Some(HostPort { host, .. }) if !host.is_empty() => {}
                    // RFC 9110 §4.2.1: an http URI with an empty host must be rejected.
                    _ => return Err(ParseError::Malformed("invalid authority in request target")),
                }
                Ok(split_path(
                    target,
                    auth_end,
                    TargetForm::Absolute,
                    Some(auth_start..auth_end),
                ))
            } else {
                match host_port(target) {
                    Some(HostPort { host, port: Some(port) }) if !host.is_empty() && !port.is_empty() => {
                        Ok(TargetParts {
                            form: TargetForm::Authority,
                            path: all,
                            query: target.len()..target.len(),
                            fragment: target.len()..target.len(),
                            authority: None,
                        })
                    }
                    _ => Err(ParseError::Malformed("invalid request target")),
                }
            }
        }
    }
}

/// Splits `target[start..]` at the first `?` and the first `#`.
fn split_path(target: &[u8], start: usize, form: TargetForm, authority: Option<Range<usize>>) -> TargetParts {
    let end = target.len();
    let hash = target[start..].iter().position(|&b| b == b'#').map(|i| start + i);
    let before_hash = hash.unwrap_or(end);
    let question = target[start..before_hash]
        .iter()
        .position(|&b| b == b'?')
        .map(|i| start + i);
    let path_end = question.unwrap_or(before_hash);
    TargetParts {
        form,
        path: start..path_end,
        query: question.map_or(path_end..path_end, |q| q + 1..before_hash),
        fragment: hash.map_or(end..end, |h| h + 1..end),
        authority,
    }
}

/// The length of a leading `scheme ":"`-terminated scheme (RFC 3986 §3.1), if there is one.
fn scheme_len(target: &[u8]) -> Option<usize> {
    let colon = target.iter().position(|&b| b == b':')?;
    let scheme = &target[..colon];
    let first_alpha = scheme.first().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = scheme
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    // `host:port` also has a leading run of letters before a colon; only `scheme://` counts.
    (first_alpha && rest_ok && target[colon..].starts_with(b"://")).then_some(colon)
}

/// What [`host_port`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort<'a> {
    /// The `uri-host`, brackets of an IP literal included.
    pub host: &'a [u8],
    /// What follows the colon: digits, possibly none (`host:`); `None` without a colon.
    pub port: Option<&'a [u8]>,
}

/// Parses `uri-host [":" port]` (RFC 3986 §3.2.2-3.2.3); None when the syntax is wrong.
pub fn host_port(s: &[u8]) -> Option<HostPort<'_>> {
    let (host_len, rest) = if s.first() == Some(&b'[') {
        let close = s.iter().position(|&b| b == b']')?;
        let inside = &s[1..close];
        // An IPv6 address or IPvFuture: hex digits, colons, dots, and for IPvFuture the
        // unreserved and sub-delims characters; the exact address grammar is not our concern.
        if inside.is_empty() || !inside.iter().all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':') {
            return None;
        }
        (close + 1, &s[close + 1..])
    } else {
        let end = s.iter().position(|&b| b == b':').unwrap_or(s.len());
        let host = &s[..end];
        let mut i = 0;
        while let Some(&b) = host.get(i) {
            if b == b'%' {
                let ok = host.get(i + 1).is_some_and(|&h| hex(h).is_some())
                    && host.get(i + 2).is_some_and(|&h| hex(h).is_some());
                if !ok {
                    return None;
                }
                i += 3;
            } else if is_unreserved(b) || is_sub_delim(b) {
                i += 1;
            } else {
                return None;
            }
        }
        (end, &s[end..])
    };
    let port = match rest.split_first() {
        None => None,
        Some((b':', port)) if port.iter().all(u8::is_ascii_digit) => Some(port),
        Some(_) => return None,
    };
    Some(HostPort {
        host: &s[..host_len],
        port,
    })
}

/// True when `value` is a valid Host field value: `uri-host [":" port]`, possibly empty
/// (RFC 9112 §3.2: an empty Host is what a client sends for a target without authority).
pub fn is_valid_host(value: &[u8]) -> bool {
    host_port(value).is_some()
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// The bytes of `src` with `%XX` escapes decoded; a `%` not followed by two hex digits stays
/// as it is (as Python's `unquote`, which gunicorn uses, does).
pub fn percent_decoded(src: &[u8]) -> PercentDecoded<'_> {
    PercentDecoded { src, pos: 0 }
}

/// Iterator returned by [`percent_decoded`].
#[derive(Debug, Clone)]
pub struct PercentDecoded<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Iterator for PercentDecoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let b = *self.src.get(self.pos)?;
        if b == b'%' && self.pos + 2 < self.src.len() {
            if let (Some(h), Some(l)) = (hex(self.src[self.pos + 1]), hex(self.src[self.pos + 2])) {
                self.pos += 3;
                return Some(h << 4 | l);
            }
        }
        self.pos += 1;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(target: &str) -> Result<(TargetForm, &str, &str, &str, Option<&str>), ParseError> {
        let p = split_target(target.as_bytes())?;
        Ok((
            p.form,
            &target[p.path],
            &target[p.query],
            &target[p.fragment],
            p.authority.map(|a| &target[a]),
        ))
    }

    #[test]
    fn target_forms_table() {
        use TargetForm::*;
        type Want = Option<(
            TargetForm,
            &'static str,
            &'static str,
            &'static str,
            Option<&'static str>,
        )>;
        let table: &[(&str, &str, Want)] = &[
            ("origin", "/a/b", Some((Origin, "/a/b", "", "", None))),
            ("origin query", "/a?x=1&y", Some((Origin, "/a", "x=1&y", "", None))),
            (
                "origin fragment",
                "/a?q=1#frag",
                Some((Origin, "/a", "q=1", "frag", None)),
            ),
            ("fragment holds ?", "/a#f?x", Some((Origin, "/a", "", "f?x", None))),
            ("empty query", "/a?", Some((Origin, "/a", "", "", None))),
            ("double slash", "///x", Some((Origin, "///x", "", "", None))),
            ("asterisk", "*", Some((Asterisk, "*", "", "", None))),
            (
                "absolute",
                "http://example.com/foo?q=1",
                Some((Absolute, "/foo", "q=1", "", Some("example.com"))),
            ),
            (
                "absolute https",
                "HTTPS://h:8443/",
                Some((Absolute, "/", "", "", Some("h:8443"))),
            ),
            ("absolute no path", "http://h", Some((Absolute, "", "", "", Some("h")))),
            (
                "absolute query only",
                "http://h?x",
                Some((Absolute, "", "x", "", Some("h"))),
            ),
            (
                "absolute ipv6",
                "http://[::1]:8080/foo",
                Some((Absolute, "/foo", "", "", Some("[::1]:8080"))),
            ),
            (
                "absolute empty port",
                "http://h:/x",
                Some((Absolute, "/x", "", "", Some("h:"))),
            ),
            (
                "authority",
                "example.com:443",
                Some((Authority, "example.com:443", "", "", None)),
            ),
            (
                "authority ipv6",
                "[::1]:443",
                Some((Authority, "[::1]:443", "", "", None)),
            ),
            ("userinfo", "http://u:p@h/x", None),
            ("empty host", "http:///x", None),
            ("bad port", "http://h:8x/", None),
            ("other scheme", "ftp://h/x", None),
            ("scheme without //", "http:x", None),
            ("weird scheme", "s://]ufd/:", None),
            ("relative", "foo/bar", None),
            ("authority without port", "example.com", None),
            ("authority empty port", "example.com:", None),
            ("asterisk plus", "*x", None),
            ("bad ipv6", "[::1", None),
            ("bad pct in host", "http://a%zz/", None),
        ];
        for (name, target, want) in table {
            let got = parts(target).ok();
            assert_eq!(got, *want, "{name}: {target}");
        }
    }

    #[test]
    fn host_values() {
        for ok in [
            "example.com",
            "0.0.0.0=5000",
            "h:80",
            "[::1]:8080",
            "",
            ":80",
            "a%20b",
            "x_y~z",
        ] {
            assert!(is_valid_host(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "a b",
            "h:8x",
            "h:80:90",
            "[::1",
            "[]",
            "a/b",
            "u@h",
            "a%2",
            "caf\u{e9}",
            "h\t",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn decodes_table() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"/a%20b", b"/a b"),
            (b"/%2e%2E/x", b"/../x"),
            (b"/100%", b"/100%"),
            (b"/%zz", b"/%zz"),
            (b"/%4", b"/%4"),
            (b"/%C3%A9", b"/\xc3\xa9"),
            (b"", b""),
        ];
        for (src, want) in cases {
            let out: Vec<u8> = percent_decoded(src).collect();
            assert_eq!(&out[..], *want, "{:?}", String::from_utf8_lossy(src));
        }
    }
}
