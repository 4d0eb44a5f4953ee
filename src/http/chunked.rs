//! The chunked transfer-coding decoder: a resumable state machine over bytes.
//!
//! OWNER NOTE (skeleton): a minimal version; the strict decoder replaces it behind the same API.

use super::error::ParseError;

/// What one call to [`ChunkedDecoder::decode`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes consumed; the caller keeps the rest and calls again with more appended.
    pub consumed: usize,
    /// The final chunk and the trailer section have been read.
    pub done: bool,
}

/// Decodes a chunked body incrementally; feed it any split of the input.
#[derive(Clone, Debug, Default)]
pub struct ChunkedDecoder {
    remaining: u64,
    state: State,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum State {
    #[default]
    Size,
    Data,
    DataCrlf,
    Trailers,
    Done,
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes from `input`, appending body bytes to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Progress, ParseError> {
        let mut pos = 0;
        loop {
            match self.state {
                State::Done => {
                    return Ok(Progress {
                        consumed: pos,
                        done: true,
                    })
                }
                State::Size => {
                    let Some(nl) = input[pos..].iter().position(|&b| b == b'\n') else {
                        return Ok(Progress {
                            consumed: pos,
                            done: false,
                        });
                    };
                    let line = &input[pos..pos + nl];
                    let line = line
                        .strip_suffix(b"\r")
                        .ok_or(ParseError::Malformed("bare LF in chunk size"))?;
                    let digits = line.split(|&b| b == b';').next().unwrap_or(b"");
                    let s = std::str::from_utf8(digits).map_err(|_| ParseError::Malformed("chunk size"))?;
                    let n = u64::from_str_radix(s, 16).map_err(|_| ParseError::Malformed("chunk size"))?;
                    pos += nl + 1;
                    self.remaining = n;
                    self.state = if n == 0 { State::Trailers } else { State::Data };
                }
                State::Data => {
                    let take = ((input.len() - pos) as u64).min(self.remaining) as usize;
                    out.extend_from_slice(&input[pos..pos + take]);
                    pos += take;
                    self.remaining -= take as u64;
                    if self.remaining > 0 {
                        return Ok(Progress {
                            consumed: pos,
                            done: false,
                        });
                    }
                    self.state = State::DataCrlf;
                }
                State::DataCrlf => {
                    if input.len() - pos < 2 {
                        return Ok(Progress {
                            consumed: pos,
                            done: false,
                        });
                    }
                    if &input[pos..pos + 2] != b"\r\n" {
                        return Err(ParseError::Malformed("missing CRLF after chunk"));
                    }
                    pos += 2;
                    self.state = State::Size;
                }
                State::Trailers => {
                    let Some(nl) = input[pos..].iter().position(|&b| b == b'\n') else {
                        return Ok(Progress {
                            consumed: pos,
                            done: false,
                        });
                    };
                    let line = &input[pos..pos + nl];
                    pos += nl + 1;
                    if line == b"\r" {
                        self.state = State::Done;
                    }
                }
            }
        }
    }
}
