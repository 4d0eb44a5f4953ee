//! `wsgi.input`: a file-like object over the request body, which the worker received whole
//! before calling the app (so reads never wait on the client): `read`, `readline`,
//! `readlines` and line iteration, each with the optional size argument of `io`.
//!
//! The object owns the body: it stays readable while the app's iterable runs, after the call
//! has returned.

use crate::app::Input;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use std::io::{BufRead, Read};

/// The request body as Python reads it.
#[pyclass(module = "forkhorn", name = "InputStream")]
pub(super) struct InputStream {
    input: Input,
}

impl InputStream {
    /// A stream over `input`, which must be finished (rewound for reading).
    pub(super) fn new(input: Input) -> Self {
        InputStream { input }
    }

    /// Up to `limit` bytes.
    fn read_bytes<'py>(&mut self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyBytes>> {
        let spooled = self.input.is_spooled();
        let first = self.input.fill_buf()?;
        // A body in memory is all in the first buffer: no copy but the one into the bytes.
        if !spooled || first.len() >= limit {
            let n = first.len().min(limit);
            let bytes = PyBytes::new(py, &first[..n]);
            self.input.consume(n);
            return Ok(bytes);
        }
        let mut out = Vec::new();
        (&mut self.input).take(limit as u64).read_to_end(&mut out)?;
        Ok(PyBytes::new(py, &out))
    }

    /// One line (up to and including `\n`), at most `limit` bytes; empty at the end.
    fn read_line<'py>(&mut self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyBytes>> {
        let mut out: Vec<u8> = Vec::new();
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let room = limit - out.len();
            let window = &buf[..buf.len().min(room)];
            let (take, done) = match window.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (window.len(), window.len() == room),
            };
            if out.is_empty() && done {
                // The common case: the whole line is in one buffer.
                let bytes = PyBytes::new(py, &buf[..take]);
                self.input.consume(take);
                return Ok(bytes);
            }
            out.extend_from_slice(&buf[..take]);
            self.input.consume(take);
            if done {
                break;
            }
        }
        Ok(PyBytes::new(py, &out))
    }
}

/// A size argument: absent, None or negative means no limit.
fn limit(size: Option<isize>) -> usize {
    match size {
        Some(n) if n >= 0 => n as usize,
        _ => usize::MAX,
    }
}

#[pymethods]
impl InputStream {
    /// Reads up to `size` bytes, or to the end.
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        self.read_bytes(py, limit(size))
    }

    /// Reads one line, or up to `size` bytes of it.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        self.read_line(py, limit(size))
    }

    /// Reads lines until their total size reaches `hint`, or all of them.
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(&mut self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = match hint {
            Some(n) if n > 0 => n as usize,
            _ => usize::MAX,
        };
        let lines = PyList::empty(py);
        let mut total = 0usize;
        while total < hint {
            let line = self.read_line(py, usize::MAX)?;
            if line.as_bytes().is_empty() {
                break;
            }
            total += line.as_bytes().len();
            lines.append(line)?;
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let line = self.read_line(py, usize::MAX)?;
        Ok((!line.as_bytes().is_empty()).then_some(line))
    }
}
