//! PEP 3333's `start_response` and `write`, and gunicorn's `wsgi.early_hints`, as Python
//! callables. They act on the Rust [`StartResponse`] of the request they were made for, which
//! the bridge lends them only for the duration of a call into the app (its `__call__`, or its
//! iterable's `__next__`).
//!
//! The lending scheme: the worker thread keeps at most one lent `StartResponse` pointer, tagged
//! with its request number, in a thread-local cell. A callable whose request number differs,
//! one called after the call returned, or one called on another thread, finds nothing and
//! raises instead of touching a response that is gone or not its own.

use crate::app::protocol::{ProtocolError, StartResponse};
use pyo3::exceptions::{PyAssertionError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use std::cell::Cell;

/// The response lent to the callables of one request.
#[derive(Clone, Copy)]
struct Lent {
    request: u64,
    /// Null when nothing is lent. The lifetime is erased; see [`with_lent`].
    response: *mut StartResponse<'static>,
}

const NOTHING: Lent = Lent {
    request: 0,
    response: std::ptr::null_mut(),
};

thread_local! {
    static LENT: Cell<Lent> = const { Cell::new(NOTHING) };
}

/// Puts a value back into [`LENT`] when dropped, also on unwinding.
struct Restore(Lent);

impl Drop for Restore {
    fn drop(&mut self) {
        LENT.set(self.0);
    }
}

/// Runs `f` (a call into Python) with `response` lent to the callables of request `request`.
pub(super) fn lend<R>(request: u64, response: &mut StartResponse<'_>, f: impl FnOnce() -> R) -> R {
    let erased = (response as *mut StartResponse<'_>).cast::<StartResponse<'static>>();
    let _restore = Restore(LENT.replace(Lent {
        request,
        response: erased,
    }));
    f()
}

/// Runs `f` on the response lent for `request`, if it is lent right now.
fn with_lent<R>(request: u64, f: impl FnOnce(&mut StartResponse<'_>) -> R) -> PyResult<R> {
    let lent = LENT.get();
    if lent.response.is_null() || lent.request != request {
        return Err(PyRuntimeError::new_err(
            "start_response/write called outside the request they belong to",
        ));
    }
    // Taken out while in use, so that a nested call finds nothing instead of aliasing it.
    LENT.set(NOTHING);
    let _restore = Restore(lent);
    // SAFETY: the pointer was made by `lend` from a `&mut StartResponse` that `lend` holds for
    // the whole time the pointer is in LENT (it is restored to the previous value when `lend`
    // returns or unwinds), on this thread (LENT is thread-local). While `f` runs the pointer is
    // out of LENT, so this is the only reference made from it. `f` is generic over the
    // lifetimes, so the erased `'static` cannot leak out of this call.
    let response = unsafe { &mut *lent.response };
    Ok(f(response))
}

/// The `start_response` callable of one request.
#[pyclass(frozen, module = "forkhorn", name = "StartResponse")]
pub(super) struct StartResponseFn {
    request: u64,
}

impl StartResponseFn {
    /// The callable for request `request`.
    pub(super) fn new(request: u64) -> Self {
        StartResponseFn { request }
    }
}

/// The `write` callable `start_response` returns.
#[pyclass(frozen, module = "forkhorn", name = "Write")]
pub(super) struct WriteFn {
    request: u64,
}

/// The `wsgi.early_hints` callable of one request (gunicorn's extension): `early_hints(headers)`
/// sends a `103 Early Hints` response with `headers`, a list of `(name, value)` pairs.
#[pyclass(frozen, module = "forkhorn", name = "EarlyHints")]
pub(super) struct EarlyHintsFn {
    request: u64,
}

impl EarlyHintsFn {
    /// The callable for request `request`.
    pub(super) fn new(request: u64) -> Self {
        EarlyHintsFn { request }
    }
}

/// `exc_info` was given once the status line had gone out: PEP 3333 says re-raise it.
struct Reraise;

#[pymethods]
impl StartResponseFn {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<WriteFn>> {
        let status = status
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err(format!("status must be str, not {}", type_name(status))))?;
        let status = status.to_str()?;
        // Keep the Python strings alive while their UTF-8 views are borrowed.
        let mut owned: Vec<(Bound<'_, PyString>, Bound<'_, PyString>)> = Vec::with_capacity(8);
        for pair in headers.try_iter()? {
            let pair = header_tuple(pair?)?;
            owned.push((str_item(&pair, 0, "header name")?, str_item(&pair, 1, "header value")?));
        }
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(owned.len());
        for (name, value) in &owned {
            // Latin-1 is checked as the head is encoded (a ValueError, below).
            pairs.push((name.to_str()?, value.to_str()?));
        }
        let exc = match exc_info {
            Some(info) if !info.is_none() => Some(info),
            _ => None,
        };
        let outcome = with_lent(self.request, |sr| {
            if exc.is_some() && sr.headers_sent() {
                return Err(Reraise);
            }
            let marker = exc.map(|_| -> crate::app::AppError { "exc_info".into() });
            Ok(sr.start_response(status, &pairs, marker).map(|_| ()))
        })?;
        match outcome {
            Ok(Ok(())) => Py::new(py, WriteFn { request: self.request }),
            Ok(Err(e)) => Err(protocol_error(e)),
            Err(Reraise) => Err(reraise(exc)),
        }
    }
}

#[pymethods]
impl EarlyHintsFn {
    fn __call__(&self, headers: &Bound<'_, PyAny>) -> PyResult<()> {
        // gunicorn takes names and values as str or as latin-1 bytes.
        let mut owned: Vec<(String, String)> = Vec::with_capacity(4);
        for pair in headers.try_iter()? {
            let pair = header_tuple(pair?)?;
            owned.push((
                text_item(&pair, 0, "header name")?,
                text_item(&pair, 1, "header value")?,
            ));
        }
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        with_lent(self.request, |sr| sr.early_hints(&pairs))?.map_err(protocol_error)
    }
}

#[pymethods]
impl WriteFn {
    fn __call__(&self, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = data
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err(format!("write() takes bytes, not {}", type_name(data))))?;
        let bytes = data.as_bytes();
        // write() returns once the bytes are sent (or, on an application thread, handed to the
        // worker's loop). A slow client makes it wait, and on the worker's own thread the worker
        // serves other requests meanwhile (this app included, with the GIL held); the GIL is
        // released only while the thread blocks (PythonApp::pause_for_wait), so the app's own
        // threads run then.
        with_lent(self.request, |sr| sr.write(bytes))?.map_err(protocol_error)
    }
}

/// One item of a header list, which must be a `(name, value)` tuple (start_response's and
/// early_hints' headers alike).
fn header_tuple(pair: Bound<'_, PyAny>) -> PyResult<Bound<'_, PyTuple>> {
    match pair.cast_into::<PyTuple>() {
        Ok(t) if t.len() == 2 => Ok(t),
        Ok(t) => Err(PyTypeError::new_err(format!(
            "header {t:?} is not a (name, value) tuple"
        ))),
        Err(e) => Err(PyTypeError::new_err(format!(
            "header {:?} is not a (name, value) tuple",
            e.into_inner()
        ))),
    }
}

/// Item `i` of a header tuple, which must be a `str`.
fn str_item<'py>(pair: &Bound<'py, PyTuple>, i: usize, what: &str) -> PyResult<Bound<'py, PyString>> {
    let item = pair.get_item(i)?;
    item.cast_into::<PyString>().map_err(|e| {
        PyTypeError::new_err(format!(
            "{what} must be str, not {}",
            type_name(e.into_inner().as_any())
        ))
    })
}

/// Item `i` of a header tuple as text: a `str`, or `bytes` read as latin-1.
fn text_item(pair: &Bound<'_, PyTuple>, i: usize, what: &str) -> PyResult<String> {
    let item = pair.get_item(i)?;
    if let Ok(s) = item.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    match item.cast::<PyBytes>() {
        Ok(b) => Ok(b.as_bytes().iter().map(|&c| char::from(c)).collect()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what} must be str or bytes, not {}",
            type_name(&item)
        ))),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// The Python exception for a broken protocol rule: AssertionError for calls out of order (as
/// wsgiref raises), ValueError for a bad status or header.
fn protocol_error(err: crate::app::AppError) -> PyErr {
    match err.downcast_ref::<ProtocolError>() {
        Some(ProtocolError::InvalidStatus(_) | ProtocolError::InvalidHeader(_) | ProtocolError::NotLatin1(_)) => {
            PyValueError::new_err(err.to_string())
        }
        _ => PyAssertionError::new_err(err.to_string()),
    }
}

/// PEP 3333: `raise exc_info[1].with_traceback(exc_info[2])`.
fn reraise(exc_info: Option<&Bound<'_, PyAny>>) -> PyErr {
    let value = exc_info.and_then(|info| info.get_item(1).ok()).filter(|v| !v.is_none());
    match value {
        Some(v) => PyErr::from_value(v),
        None => PyAssertionError::new_err("start_response called again after the headers were sent"),
    }
}
