//! The chunked transfer coding (RFC 9112 §7.1): a resumable byte-level state machine that
//! consumes every byte it is given, so a caller never buffers a partial size line or trailer.
//!
//! Strict where the RFC is: hex digits only in sizes (no sign, no `0x`, no whitespace before
//! them), whitespace only around `;` and `=` of extensions, CRLF everywhere (a bare CR or LF is
//! an error), and no trailer field that must be known before the content.

use super::chars::{hex, is_field_byte, is_ows, is_tchar};
use super::error::ParseError;

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed; the caller keeps the rest and calls again with more appended.
    pub consumed: usize,
    /// The final chunk and the trailer section have been read.
    pub done: bool,
}

/// The longest chunk-size line (size and extensions, CRLF not counted) accepted.
pub const MAX_SIZE_LINE: usize = 4096;
/// The largest trailer section (its field lines and the final CRLF) accepted; beyond it, 431.
pub const MAX_TRAILER_SECTION: usize = 16 * 1024;

/// Trailer fields refused (RFC 9110 §6.5.1): framing, routing, request modifiers (controls,
/// conditionals, range), authentication, content format, connection management, and the
/// Trailer field itself. A server needs all of them before the content, so a trailer copy can
/// only be a mistake or an attempt to have a later hop treat it as a header.
const FORBIDDEN_TRAILERS: &[&str] = &[
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "cookie",
    "expect",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "keep-alive",
    "max-forwards",
    "pragma",
    "proxy-authorization",
    "proxy-connection",
    "range",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Decodes a chunked body incrementally; feed it any split of the input.
#[derive(Clone, Debug, Default)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being read, then the bytes of the chunk still to come.
    size: u64,
    /// Bytes of the current size line so far.
    line_len: usize,
    /// Bytes of the trailer section so far.
    trailer_len: usize,
    /// Trailer names and values, back to back; [`ChunkedDecoder::trailers`] reads them.
    trailer_bytes: Vec<u8>,
    /// Per trailer field: where its name starts, where its name ends (= value starts), where its
    /// value ends, in `trailer_bytes`.
    trailer_fields: Vec<[usize; 3]>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    /// Before the first hex digit of a size.
    #[default]
    SizeStart,
    /// In the hex digits.
    Size,
    /// Whitespace after the size or a value: only `;` may follow.
    BeforeSemicolon,
    /// After `;`, before an extension name.
    ExtNameStart,
    ExtName,
    /// Whitespace after an extension name: `;` or `=` must follow.
    AfterExtName,
    /// After `=`, before the value.
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    ExtQuotedPair,
    AfterQuoted,
    /// CR of the size line seen.
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart,
    TrailerName,
    /// After the colon, skipping whitespace.
    TrailerValueStart,
    TrailerValue,
    TrailerLf,
    EndLf,
    Done,
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// The trailer fields read so far, as (name, value without surrounding whitespace).
    pub fn trailers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.trailer_fields.iter().filter_map(|&[name, value, end]| {
            Some((
                self.trailer_bytes.get(name..value)?,
                self.trailer_bytes.get(value..end)?,
            ))
        })
    }

    /// Decodes from `input`, appending body bytes to `out`. Everything up to the end of the body
    /// is consumed; bytes after it (a pipelined request) are not.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Progress, ParseError> {
        let mut pos = 0;
        while pos < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let avail = input.len() - pos;
                // Bounded by `avail`, so the cast back to usize cannot truncate.
                let take = (avail as u64).min(self.size) as usize;
                out.extend_from_slice(&input[pos..pos + take]);
                pos += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            self.step(input[pos])?;
            pos += 1;
        }
        Ok(Progress {
            consumed: pos,
            done: self.state == State::Done,
        })
    }

    /// Advances over one byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), ParseError> {
        use State::*;
        if matches!(
            self.state,
            SizeStart
                | Size
                | BeforeSemicolon
                | ExtNameStart
                | ExtName
                | AfterExtName
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedPair
                | AfterQuoted
        ) {
            self.line_len += 1;
            if self.line_len > MAX_SIZE_LINE && b != b'\r' {
                return Err(ParseError::Malformed("chunk size line too long"));
            }
        } else if matches!(
            self.state,
            TrailerStart | TrailerName | TrailerValueStart | TrailerValue | TrailerLf | EndLf
        ) {
            self.trailer_len += 1;
            if self.trailer_len > MAX_TRAILER_SECTION {
                return Err(ParseError::FieldTooLarge);
            }
        }
        let bad_ext = ParseError::Malformed("invalid chunk extension");
        self.state = match (self.state, b) {
            (SizeStart, _) => {
                let digit = hex(b).ok_or(ParseError::Malformed("invalid chunk size"))?;
                self.size = u64::from(digit);
                Size
            }
            (Size, _) if hex(b).is_some() => {
                let digit = hex(b).unwrap_or(0);
                self.size = self
                    .size
                    .checked_mul(16)
                    .map(|n| n | u64::from(digit))
                    .ok_or(ParseError::Malformed("chunk size overflows"))?;
                Size
            }
            (Size | ExtName | ExtToken | AfterQuoted, b'\r') => SizeLf,
            (Size | BeforeSemicolon | ExtName | AfterExtName | ExtToken | AfterQuoted, b';') => ExtNameStart,
            (Size | ExtToken | AfterQuoted | BeforeSemicolon, _) if is_ows(b) => BeforeSemicolon,
            (Size, _) => return Err(ParseError::Malformed("invalid chunk size")),
            (ExtNameStart, _) if is_ows(b) => ExtNameStart,
            (ExtNameStart | ExtName, _) if is_tchar(b) => ExtName,
            (ExtName | AfterExtName, _) if is_ows(b) => AfterExtName,
            (ExtName | AfterExtName, b'=') => ExtValueStart,
            (ExtValueStart, _) if is_ows(b) => ExtValueStart,
            (ExtValueStart, b'"') => ExtQuoted,
            (ExtValueStart | ExtToken, _) if is_tchar(b) => ExtToken,
            (ExtQuoted, b'"') => AfterQuoted,
            (ExtQuoted, b'\\') => ExtQuotedPair,
            // qdtext: HTAB, SP, visible ASCII but `"` and `\`, obs-text.
            (ExtQuoted, _) if b == b'\t' || (b' '..=0x7e).contains(&b) || b >= 0x80 => ExtQuoted,
            (ExtQuotedPair, _) if b == b'\t' || (b' '..=0x7e).contains(&b) || b >= 0x80 => ExtQuoted,
            (BeforeSemicolon | ExtNameStart | ExtName | AfterExtName | ExtValueStart | ExtToken, _)
            | (ExtQuoted | ExtQuotedPair | AfterQuoted, _) => return Err(bad_ext),
            (SizeLf, b'\n') => {
                self.line_len = 0;
                if self.size == 0 {
                    TrailerStart
                } else {
                    Data
                }
            }
            (SizeLf, _) => return Err(ParseError::Malformed("bare CR in chunk size line")),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => SizeStart,
            (DataCr | DataLf, _) => return Err(ParseError::Malformed("missing CRLF after chunk data")),
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart | TrailerName, _) if is_tchar(b) => {
                if self.state == TrailerStart {
                    let at = self.trailer_bytes.len();
                    self.trailer_fields.push([at, at, at]);
                }
                self.trailer_bytes.push(b);
                TrailerName
            }
            (TrailerStart, _) if is_ows(b) => return Err(ParseError::Malformed("obsolete line folding in trailer")),
            (TrailerName, b':') => {
                let at = self.trailer_bytes.len();
                let field = self.trailer_fields.last_mut().ok_or(ParseError::Malformed("trailer"))?;
                field[1] = at;
                field[2] = at;
                let name = self.trailer_bytes.get(field[0]..at).unwrap_or_default();
                if FORBIDDEN_TRAILERS
                    .iter()
                    .any(|f| name.eq_ignore_ascii_case(f.as_bytes()))
                {
                    return Err(ParseError::Malformed("field not allowed in trailers"));
                }
                TrailerValueStart
            }
            (TrailerValueStart, _) if is_ows(b) => TrailerValueStart,
            (TrailerValueStart | TrailerValue, b'\r') => TrailerLf,
            (TrailerValueStart | TrailerValue, _) if is_field_byte(b) => {
                self.trailer_bytes.push(b);
                if !is_ows(b) {
                    // Trailing whitespace is not part of the value: the end only moves past
                    // a visible byte.
                    let end = self.trailer_bytes.len();
                    if let Some(field) = self.trailer_fields.last_mut() {
                        field[2] = end;
                    }
                }
                TrailerValue
            }
            (TrailerStart | TrailerName | TrailerValueStart | TrailerValue, _) => {
                return Err(ParseError::Malformed("invalid trailer field"))
            }
            (TrailerLf, b'\n') => {
                // Drop the whitespace that followed the value's last visible byte.
                if let Some(&[_, _, end]) = self.trailer_fields.last() {
                    self.trailer_bytes.truncate(end);
                }
                TrailerStart
            }
            (EndLf, b'\n') => Done,
            (TrailerLf | EndLf, _) => return Err(ParseError::Malformed("bare CR in trailer section")),
            (Data | Done, _) => self.state,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests;
