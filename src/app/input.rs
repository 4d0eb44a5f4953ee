//! The request body as the application reads it (`wsgi.input`): fully received before the
//! application is called, so reading never waits on the client.

use std::io::{self, BufRead, Read};

/// A buffered request body. Implements [`Read`] and [`BufRead`] (`read_line`, `lines`, ...).
#[derive(Debug, Default)]
pub struct Input {
    data: Vec<u8>,
    pos: usize,
}

impl Input {
    /// Empties the body, keeping its buffer.
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.pos = 0;
    }

    /// The buffer the worker fills with the decoded body.
    pub(crate) fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Total body length in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the request had no body.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.data[self.pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.data[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.data.len());
    }
}
