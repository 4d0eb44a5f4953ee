//! `wsgi.file_wrapper`: wraps a file-like object as the response iterable (blocks of
//! `block_size` from its `read`; its `close` on close). When the app returns one over a regular
//! file, the worker sends the file with sendfile(2) instead of iterating.

use pyo3::exceptions::PyAttributeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyType};
use pyo3::{intern, Bound};
use std::os::fd::RawFd;

/// The wrapper, `environ["wsgi.file_wrapper"](filelike, block_size=8192)`.
#[pyclass(frozen, module = "forkhorn", name = "FileWrapper")]
pub(super) struct FileWrapper {
    filelike: Py<PyAny>,
    block_size: isize,
}

/// A regular file the response can be sent from: its descriptor, the position to start at
/// and the bytes from there to its end.
#[derive(Debug, Clone, Copy)]
pub(super) struct RegularFile {
    pub fd: RawFd,
    pub offset: u64,
    pub len: u64,
}

impl FileWrapper {
    /// The wrapped object's regular file, if it has one (`fileno()` of a regular file). The
    /// descriptor stays valid while the wrapped object is open.
    pub(super) fn regular_file(&self, py: Python<'_>) -> Option<RegularFile> {
        let filelike = self.filelike.bind(py);
        // Written data a buffered object still holds would be missing from the file: flush it
        // first, unless the object cannot hold any (`open(path, "rb")`, the usual case).
        if !has_no_write_buffer(py, filelike) && call_if_present(filelike, intern!(py, "flush")).is_err() {
            return None;
        }
        let fd: RawFd = filelike.call_method0(intern!(py, "fileno")).ok()?.extract().ok()?;
        // The position the object would read from next: tell() knows about its read-ahead. Asked
        // before the descriptor is borrowed, so that no Python code runs while it is.
        let told = filelike
            .call_method0(intern!(py, "tell"))
            .and_then(|t| t.extract::<u64>())
            .ok();
        // SAFETY: `fd` is the wrapped object's own descriptor (its fileno()), which the object,
        // kept alive by this wrapper, holds open until its close(); no Python code runs until
        // the borrow ends with this function, so nothing closes it meanwhile. fstat and lseek
        // neither take it over nor close it.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let stat = nix::sys::stat::fstat(borrowed).ok()?;
        if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
            return None;
        }
        let offset = match told {
            Some(pos) => pos,
            None => nix::unistd::lseek(borrowed, 0, nix::unistd::Whence::SeekCur).ok()? as u64,
        };
        let size = stat.st_size.max(0) as u64;
        Some(RegularFile {
            fd,
            offset,
            len: size.saturating_sub(offset),
        })
    }
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, block_size = 8192))]
    fn new(filelike: Py<PyAny>, block_size: isize) -> Self {
        FileWrapper {
            filelike,
            block_size: if block_size > 0 { block_size } else { 8192 },
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = self.filelike.bind(py).call_method1("read", (self.block_size,))?;
        Ok((block.len()? > 0).then_some(block))
    }

    /// Closes the wrapped object, if it can be closed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        call_if_present(self.filelike.bind(py), intern!(py, "close"))
    }
}

/// Calls the method `name` of `obj` if it has one (what `hasattr` would say), with one
/// attribute lookup.
fn call_if_present(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> PyResult<()> {
    match obj.getattr(name) {
        Ok(method) => method.call0().map(drop),
        Err(e) if e.is_instance_of::<PyAttributeError>(obj.py()) => Ok(()),
        Err(e) => Err(e),
    }
}

/// True for objects of exactly the types `open(path, "rb")` returns (a reader, no write
/// buffer) and unbuffered `open` returns (no buffer at all): their `flush` does nothing.
fn has_no_write_buffer(py: Python<'_>, obj: &Bound<'_, PyAny>) -> bool {
    static NO_WRITE_BUFFER: PyOnceLock<[Py<PyType>; 2]> = PyOnceLock::new();
    let Ok(types) = NO_WRITE_BUFFER.get_or_try_init(py, || -> PyResult<_> {
        let io = py.import("io")?;
        Ok([
            io.getattr("BufferedReader")?.cast_into::<PyType>()?.unbind(),
            io.getattr("FileIO")?.cast_into::<PyType>()?.unbind(),
        ])
    }) else {
        return false;
    };
    let ty = obj.get_type();
    types.iter().any(|t| ty.is(t.bind(py)))
}
