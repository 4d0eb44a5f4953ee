//! The app's return value as the response body. A list or tuple is sent at once (with a
//! `Content-Length` the server computes); another iterable is pulled still inside the app call
//! until it yields a block to send (a body with its whole `Content-Length` goes on to the end),
//! and whatever is left becomes a [`BodyIter`] the worker pulls as the client reads. A `wsgi.file_wrapper` over a regular file becomes a body the
//! worker sends with sendfile(2). The iterable's `close()` is called exactly once, whatever
//! happens.

use super::app::app_error;
use super::file_wrapper::{FileWrapper, RegularFile};
use super::respond;
use crate::app::body::FileRegion;
use crate::app::protocol::OUTPUT_HIGH_WATER;
use crate::app::{AppError, Body, BodyIter, Chunk, StartResponse};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyIterator, PyList, PyTuple};
use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

/// The chunk a [`BodyIter`] returns after writing the item itself.
const WRITTEN: Chunk = Cow::Borrowed(b"");

/// Turns what the app returned for request `request` into the response body.
pub(super) fn respond(
    py: Python<'_>,
    request: u64,
    result: Bound<'_, PyAny>,
    sr: &mut StartResponse<'_>,
) -> Result<Body, AppError> {
    // Exactly list or tuple: a subclass might have a close() to call.
    if let Ok(list) = result.cast_exact::<PyList>() {
        return send_all(py, list.len(), |i| list.get_item(i), sr);
    }
    if let Ok(tuple) = result.cast_exact::<PyTuple>() {
        return send_all(py, tuple.len(), |i| tuple.get_item(i), sr);
    }
    if let Ok(wrapper) = result.cast::<FileWrapper>() {
        if let Some(file) = wrapper.get().regular_file(py) {
            return Ok(Body::Iter(Box::new(FileBody {
                body: PyBody::new(py, request, result.clone(), sr)?,
                file,
            })));
        }
    }
    let mut body = PyBody::new(py, request, result, sr)?;
    // Pull on while nothing waits to be sent, or the body has its whole Content-Length (the
    // typical framework response): one GIL hold for it instead of one per chunk. Otherwise the
    // worker sends the block before the next is asked for (PEP 3333: a generator may take any
    // time over it).
    loop {
        let before = sr.pending();
        if before >= OUTPUT_HIGH_WATER {
            break;
        }
        match body.pull(py, sr) {
            Some(Ok(())) if sr.pending() > before && !sr.body_complete() => break,
            Some(Ok(())) => {}
            None => {
                body.close_in(py);
                return Ok(Body::Empty);
            }
            Some(Err(e)) => {
                body.close_in(py);
                return Err(e);
            }
        }
    }
    Ok(Body::Iter(Box::new(body)))
}

/// Sends a body whose `len` items are all at hand, with their total as the length.
fn send_all<'py>(
    py: Python<'py>,
    len: usize,
    item: impl Fn(usize) -> PyResult<Bound<'py, PyAny>>,
    sr: &mut StartResponse<'_>,
) -> Result<Body, AppError> {
    let mut total = 0u64;
    for i in 0..len {
        let item = item(i).map_err(|e| app_error(py, e))?;
        total += bytes_of(&item).map_err(|e| app_error(py, e))?.len() as u64;
    }
    for i in 0..len {
        let item = item(i).map_err(|e| app_error(py, e))?;
        sr.send_chunk(bytes_of(&item).map_err(|e| app_error(py, e))?, Some(total))?;
    }
    Ok(Body::Empty)
}

/// The bytes of a body item, which PEP 3333 requires to be `bytes`.
fn bytes_of<'a>(item: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    match item.cast::<PyBytes>() {
        Ok(b) => Ok(b.as_bytes()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "the response body must yield bytes, not {}",
            item.get_type().name().map(|n| n.to_string()).unwrap_or_default()
        ))),
    }
}

/// An iterable the worker pulls chunk by chunk.
pub(super) struct PyBody {
    request: u64,
    /// Taken (and dropped with the GIL held) when closed.
    iterable: Option<Py<PyAny>>,
    iterator: Option<Py<PyIterator>>,
}

impl PyBody {
    /// Starts iterating `iterable`; if `iter()` fails, the iterable is closed already.
    fn new(
        py: Python<'_>,
        request: u64,
        iterable: Bound<'_, PyAny>,
        sr: &mut StartResponse<'_>,
    ) -> Result<PyBody, AppError> {
        let mut body = PyBody {
            request,
            iterable: Some(iterable.clone().unbind()),
            iterator: None,
        };
        // An __iter__ may call start_response too.
        match respond::lend(request, sr, || iterable.try_iter()) {
            Ok(it) => {
                body.iterator = Some(it.unbind());
                Ok(body)
            }
            Err(e) => {
                body.close_in(py);
                Err(app_error(py, e))
            }
        }
    }

    /// Pulls one item and puts it in the output; `None` at the end. The output is never
    /// drained here (that could wait for the client with the GIL held): the caller stops
    /// pulling when there is a block to send and the worker paces the rest.
    fn pull(&mut self, py: Python<'_>, sr: &mut StartResponse<'_>) -> Option<Result<(), AppError>> {
        let mut it = self.iterator.as_ref()?.bind(py).clone();
        // The item may call start_response (lazily, as PEP 3333 allows) or write().
        let item = respond::lend(self.request, sr, || it.next())?;
        let written = item
            .and_then(|item| bytes_of(&item).map(|b| sr.send_chunk(b, None)))
            .map_err(|e| app_error(py, e));
        Some(written.and_then(|w| w))
    }

    /// Calls the iterable's `close()`, once; its errors are logged.
    fn close_in(&mut self, py: Python<'_>) {
        self.iterator = None;
        let Some(iterable) = self.iterable.take() else {
            return;
        };
        let closed = match iterable.bind(py).getattr("close") {
            Ok(close) => close.call0().map(|_| ()),
            Err(_) => Ok(()),
        };
        if let Err(e) = closed {
            log::error!("Error closing the response iterable: {}", app_error(py, e));
        }
    }
}

impl BodyIter for PyBody {
    fn next_chunk(&mut self, sr: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>> {
        Python::attach(|py| self.pull(py, sr)).map(|r| r.map(|()| WRITTEN))
    }

    fn close(&mut self) {
        if self.iterable.is_none() {
            return;
        }
        if super::app::off_the_app_threads() {
            // The worker's loop, which must never wait for the GIL an application thread
            // holds: the next call on an application thread closes it.
            self.iterator = None;
            if let Some(iterable) = self.iterable.take() {
                CLOSE_LATER
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(iterable);
            }
            return;
        }
        Python::attach(|py| self.close_in(py));
    }
}

/// Bodies the worker's loop finished with (a file sent with sendfile, a client gone) while the
/// app runs on application threads; closed at the start of the next call on one of them.
static CLOSE_LATER: Mutex<Vec<Py<PyAny>>> = Mutex::new(Vec::new());

/// Closes the bodies left in [`CLOSE_LATER`]; call with the GIL held, on an application
/// thread.
pub(super) fn close_left(py: Python<'_>) {
    let left = std::mem::take(&mut *CLOSE_LATER.lock().unwrap_or_else(PoisonError::into_inner));
    for iterable in left {
        let mut body = PyBody {
            request: 0,
            iterable: Some(iterable),
            iterator: None,
        };
        body.close_in(py);
    }
}

/// A `wsgi.file_wrapper` over a regular file: sent with sendfile(2), or iterated when the
/// response framing does not allow it.
struct FileBody {
    body: PyBody,
    file: RegularFile,
}

impl BodyIter for FileBody {
    fn next_chunk(&mut self, sr: &mut StartResponse<'_>) -> Option<Result<Chunk, AppError>> {
        self.body.next_chunk(sr)
    }

    fn close(&mut self) {
        self.body.close();
    }

    fn file(&mut self) -> Option<FileRegion> {
        Some(FileRegion {
            fd: self.file.fd,
            offset: self.file.offset,
            len: self.file.len,
        })
    }
}
