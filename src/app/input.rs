//! The request body as the application reads it (`wsgi.input`): fully received before the
//! application is called, so reading never waits on the client. Small bodies stay in memory;
//! a body larger than `body_buffer_size` is spooled to an unlinked temporary file.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};

/// A buffered request body. Implements [`Read`] and [`BufRead`] (`read_line`, `lines`, ...).
#[derive(Debug, Default)]
pub struct Input {
    /// In memory: the body. Spooled: bytes not yet written to the file.
    mem: Vec<u8>,
    pos: usize,
    file: Option<BufReader<File>>,
    len: u64,
}

impl Input {
    /// Empties the body, keeping the memory buffer (a temporary file is closed, and with it
    /// gone, since it was never linked).
    pub(crate) fn clear(&mut self) {
        self.mem.clear();
        self.pos = 0;
        self.file = None;
        self.len = 0;
    }

    /// Frees memory beyond `max` bytes the buffer kept from an earlier, larger body.
    pub(crate) fn shrink_to(&mut self, max: usize) {
        self.mem.shrink_to(max);
    }

    /// The buffer the worker decodes body bytes into; call [`Input::settle`] after each fill.
    pub(crate) fn staging(&mut self) -> &mut Vec<u8> {
        &mut self.mem
    }

    /// Moves staged bytes to the temporary file once the body outgrows `threshold` bytes.
    pub(crate) fn settle(&mut self, threshold: usize) -> io::Result<()> {
        if self.file.is_none() && self.mem.len() <= threshold {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(BufReader::new(anonymous_file()?));
        }
        if let Some(f) = &mut self.file {
            f.get_mut().write_all(&self.mem)?;
            self.len += self.mem.len() as u64;
            self.mem.clear();
        }
        Ok(())
    }

    /// Ends receiving: a spooled body is rewound for reading.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        self.settle(usize::MAX)?;
        if let Some(f) = &mut self.file {
            f.get_mut().seek(SeekFrom::Start(0))?;
        }
        self.pos = 0;
        Ok(())
    }

    /// Total body length in bytes.
    pub fn len(&self) -> u64 {
        self.len + self.mem.len() as u64
    }

    /// True when the request had no body.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the body was spooled to a temporary file.
    pub fn is_spooled(&self) -> bool {
        self.file.is_some()
    }
}

/// An unnamed file in the temporary directory: nothing to clean up, even after a crash.
fn anonymous_file() -> io::Result<File> {
    use std::os::fd::FromRawFd;
    let dir = std::env::temp_dir();
    let fd = nix::fcntl::open(
        &dir,
        nix::fcntl::OFlag::O_TMPFILE | nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .map_err(io::Error::from)?;
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(fd)) })
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(f) = &mut self.file {
            return f.read(buf);
        }
        let rest = &self.mem[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match &mut self.file {
            Some(f) => f.fill_buf(),
            None => Ok(&self.mem[self.pos..]),
        }
    }

    fn consume(&mut self, amt: usize) {
        match &mut self.file {
            Some(f) => f.consume(amt),
            None => self.pos = (self.pos + amt).min(self.mem.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(input: &mut Input, pieces: &[&[u8]], threshold: usize) {
        input.clear();
        for p in pieces {
            input.staging().extend_from_slice(p);
            input.settle(threshold).unwrap();
        }
        input.finish().unwrap();
    }

    #[test]
    fn memory_and_spooled_bodies_read_the_same() {
        let pieces: &[&[u8]] = &[b"line one\n", b"line two\nline", b" three\n", b"tail"];
        for threshold in [1 << 20, 10, 0] {
            let mut input = Input::default();
            fill(&mut input, pieces, threshold);
            assert_eq!(input.len(), 33);
            assert_eq!(input.is_spooled(), threshold < 33, "threshold {threshold}");
            let lines: Vec<String> = (&mut input).lines().map(|l| l.unwrap()).collect();
            assert_eq!(
                lines,
                ["line one", "line two", "line three", "tail"],
                "threshold {threshold}"
            );
            fill(&mut input, pieces, threshold);
            let mut all = Vec::new();
            input.read_to_end(&mut all).unwrap();
            assert_eq!(all, b"line one\nline two\nline three\ntail");
        }
    }
}
