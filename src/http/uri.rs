//! Request-target helpers: percent-decoding for PATH_INFO.

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

fn hex(b: u8) -> Option<u8> {
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
