//! The environ: the CGI/WSGI variables of one request, plus its input and error streams.
//!
//! Keys and values live in one reused string arena, so building an environ allocates nothing
//! once the worker has warmed up.

use super::input::Input;
use crate::logging::AppErrors;
use std::fmt;
use std::io;

/// The variables of one request (PEP 3333's environ). String-valued keys are looked up with
/// [`Environ::get`]; the body is [`Environ::input`]; diagnostics go to [`Environ::errors`].
pub struct Environ {
    arena: String,
    entries: Vec<Entry>,
    input: Input,
}

#[derive(Clone, Copy)]
struct Entry {
    key: (u32, u32),
    value: (u32, u32),
}

impl Default for Environ {
    fn default() -> Self {
        Environ::new()
    }
}

impl Environ {
    /// An empty environ.
    pub fn new() -> Self {
        Environ {
            arena: String::with_capacity(1024),
            entries: Vec::with_capacity(40),
            input: Input::default(),
        }
    }

    /// Removes every variable and empties the input, keeping the allocations.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.entries.clear();
        self.input.clear();
    }

    /// The value of `key`, if set. The last value set for a key wins.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|e| self.slice(e.key) == key)
            .map(|e| self.slice(e.value))
    }

    /// Every (key, value) pair, in the order set (a key set twice appears twice).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(move |e| (self.slice(e.key), self.slice(e.value)))
    }

    /// Sets `key` to `value`.
    pub fn set(&mut self, key: &str, value: &str) {
        let k = self.push(key);
        let v = self.push(value);
        self.entries.push(Entry { key: k, value: v });
    }

    /// Sets `key` to `value` in place of its last value, keeping its position; a key not set
    /// yet is added. The old value's bytes stay in the arena until [`Environ::clear`].
    pub fn replace(&mut self, key: &str, value: &str) {
        let v = self.push(value);
        let found = self.entries.iter().rposition(|e| self.slice(e.key) == key);
        match found {
            Some(i) => self.entries[i].value = v,
            None => {
                let k = self.push(key);
                self.entries.push(Entry { key: k, value: v });
            }
        }
    }

    /// Drops the first `n` bytes of `key`'s last value, without copying the rest; false (and
    /// nothing changed) when `key` is not set or `n` is not a character boundary in it.
    pub fn trim_start(&mut self, key: &str, n: usize) -> bool {
        let found = self.entries.iter().rposition(|e| self.slice(e.key) == key);
        let Some(i) = found else {
            return false;
        };
        let value = self.entries[i].value;
        if !self.slice(value).is_char_boundary(n) {
            return false;
        }
        self.entries[i].value.0 = value.0 + n as u32;
        true
    }

    /// Sets `key` to bytes decoded as latin-1, as PEP 3333 asks of native strings.
    pub fn set_latin1(&mut self, key: &str, value: &[u8]) {
        let k = self.push(key);
        let v = self.push_latin1(value);
        self.entries.push(Entry { key: k, value: v });
    }

    /// Sets `key` to bytes produced by an iterator, decoded as latin-1.
    pub(crate) fn set_latin1_iter(&mut self, key: &str, value: impl Iterator<Item = u8>) {
        let k = self.push(key);
        let start = self.arena.len() as u32;
        self.arena.extend(value.map(char::from));
        self.entries.push(Entry {
            key: k,
            value: (start, self.arena.len() as u32),
        });
    }

    /// Sets `key` from formatted arguments (numbers, addresses) without a temporary string.
    pub fn set_fmt(&mut self, key: &str, value: fmt::Arguments<'_>) {
        let k = self.push(key);
        let start = self.arena.len() as u32;
        // Writing into a String cannot fail.
        let _ = fmt::Write::write_fmt(&mut self.arena, value);
        self.entries.push(Entry {
            key: k,
            value: (start, self.arena.len() as u32),
        });
    }

    /// Sets an `HTTP_*` variable for a request header: the name upper-cased with `-` as `_`.
    /// A header seen before is joined to the earlier value with `,`, as gunicorn does.
    pub(crate) fn set_header(&mut self, name: &[u8], value: &[u8]) {
        let start = self.arena.len();
        self.arena.push_str("HTTP_");
        let fold = |b: u8| if b == b'-' { b'_' } else { b.to_ascii_uppercase() };
        // Field names are tokens (ASCII): fold them in a stack buffer and copy once.
        let mut folded = [0u8; 64];
        match folded.get_mut(..name.len()) {
            Some(dst) => {
                for (d, &b) in dst.iter_mut().zip(name) {
                    *d = fold(b);
                }
                self.arena.push_str(std::str::from_utf8(dst).unwrap_or_default());
            }
            None => self.arena.extend(name.iter().map(|&b| fold(b) as char)),
        }
        let key = (start as u32, self.arena.len() as u32);
        let key_len = key.1 - key.0;
        let existing = self
            .entries
            .iter()
            .position(|e| e.key.1 - e.key.0 == key_len && self.slice(e.key) == &self.arena[start..]);
        match existing {
            Some(i) => {
                // Rare: rebuild the joined value at the end of the arena.
                self.arena.truncate(start);
                let e = self.entries[i];
                let vstart = self.arena.len() as u32;
                let old = self.slice(e.value).to_owned();
                self.arena.push_str(&old);
                self.arena.push(',');
                let (_, vend) = self.push_latin1(value);
                self.entries[i].value = (vstart, vend);
            }
            None => {
                let v = self.push_latin1(value);
                self.entries.push(Entry { key, value: v });
            }
        }
    }

    /// The request body.
    pub fn input(&mut self) -> &mut Input {
        &mut self.input
    }

    /// The error stream (`wsgi.errors`): each line written goes to the error log.
    pub fn errors(&self) -> Errors {
        Errors::default()
    }

    fn slice(&self, (a, b): (u32, u32)) -> &str {
        &self.arena[a as usize..b as usize]
    }

    fn push(&mut self, s: &str) -> (u32, u32) {
        let start = self.arena.len() as u32;
        self.arena.push_str(s);
        (start, self.arena.len() as u32)
    }

    fn push_latin1(&mut self, bytes: &[u8]) -> (u32, u32) {
        let start = self.arena.len() as u32;
        if bytes.is_ascii() {
            // ASCII bytes are valid UTF-8; this is the common case and costs one copy.
            self.arena.push_str(std::str::from_utf8(bytes).unwrap_or_default());
        } else {
            self.arena.extend(bytes.iter().map(|&b| b as char));
        }
        (start, self.arena.len() as u32)
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// `wsgi.errors`: what the application writes here goes to the error log as written, line by
/// line (see `logging::AppErrors`); an unfinished line is written at `flush` or drop.
#[derive(Debug, Default)]
pub struct Errors {
    lines: AppErrors,
}

impl io::Write for Errors {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lines.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lines.flush();
        Ok(())
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        self.lines.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_and_join_headers() {
        let mut env = Environ::new();
        env.set("REQUEST_METHOD", "GET");
        env.set_header(b"X-Thing", b"a");
        env.set_header(b"Accept", b"text/html");
        env.set_header(b"x-thing", b"b");
        env.set_fmt("SERVER_PORT", format_args!("{}", 8000));
        env.set_latin1("PATH_INFO", b"/caf\xe9");
        assert_eq!(env.get("REQUEST_METHOD"), Some("GET"));
        assert_eq!(env.get("HTTP_X_THING"), Some("a,b"));
        assert_eq!(env.get("HTTP_ACCEPT"), Some("text/html"));
        assert_eq!(env.get("SERVER_PORT"), Some("8000"));
        assert_eq!(env.get("PATH_INFO"), Some("/caf\u{e9}"));
        assert_eq!(env.iter().count(), 5);
        assert!(env.trim_start("PATH_INFO", 2));
        assert_eq!(env.get("PATH_INFO"), Some("af\u{e9}"));
        assert!(!env.trim_start("PATH_INFO", 3), "inside a character");
        assert!(!env.trim_start("NOT_SET", 0));
        env.replace("PATH_INFO", "/x");
        env.replace("SCRIPT_NAME", "/app");
        assert_eq!(env.get("PATH_INFO"), Some("/x"));
        assert_eq!(env.get("SCRIPT_NAME"), Some("/app"));
        assert_eq!(env.iter().count(), 6);
        env.clear();
        assert_eq!(env.get("REQUEST_METHOD"), None);
    }
}
