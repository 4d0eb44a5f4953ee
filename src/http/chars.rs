//! Byte classes of RFC 9110/9112 (tokens, field values, whitespace) and the list-splitting rule,
//! shared by the head parser and the chunked decoder.

/// `tchar` of RFC 9110 §5.6.2: the characters a token (method, field name, coding) is made of.
pub const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// A byte allowed inside a field value (RFC 9110 §5.5): visible ASCII, SP, HTAB and obs-text.
/// NUL, CR, LF, the other controls and DEL are not.
pub const fn is_field_byte(b: u8) -> bool {
    matches!(b, b'\t' | 0x20..=0x7e | 0x80..=0xff)
}

/// Optional whitespace (SP or HTAB).
pub const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// True when `s` is a non-empty token.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// The bounds of `s[start..end]` without leading and trailing OWS.
pub fn trim_ows_range(s: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && s.get(start).is_some_and(|&b| is_ows(b)) {
        start += 1;
    }
    while end > start && s.get(end - 1).is_some_and(|&b| is_ows(b)) {
        end -= 1;
    }
    (start, end)
}

/// `s` without leading and trailing OWS.
pub fn trim_ows(s: &[u8]) -> &[u8] {
    let (start, end) = trim_ows_range(s, 0, s.len());
    &s[start..end]
}

/// The elements of a comma-separated list value (RFC 9110 §5.6.1), trimmed; empty elements are
/// skipped, as the list rule requires recipients to do.
pub fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

/// The value of a hexadecimal digit (either case).
pub(crate) fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is_token(b"X.Custom|Pipe"));
        assert!(is_token(b"-BLARGH"));
        for bad in [&b""[..], b"a b", b"a:b", b"\xc3\x9f", b"a\x00", b"(x)", b"a\"", b"a/b"] {
            assert!(!is_token(bad), "{bad:?}");
        }
        for b in 0u8..=255 {
            let want = b == b'\t' || (b >= 0x20 && b != 0x7f);
            assert_eq!(is_field_byte(b), want, "{b:#x}");
        }
    }

    #[test]
    fn lists_and_trimming() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        let got: Vec<&[u8]> = list_elements(b" gzip ,, chunked,\t,").collect();
        assert_eq!(got, [&b"gzip"[..], b"chunked"]);
        assert_eq!(list_elements(b" , ,").count(), 0);
    }
}
