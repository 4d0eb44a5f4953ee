//! [`PythonApp`]: a Python WSGI callable as a forkhorn [`Application`]. Each request takes the
//! GIL once for the call (environ, `app(environ, start_response)`, as much of the body as the
//! output buffer takes) and gives it back before the worker returns to poll.

use super::body;
use super::environ::EnvironBuilder;
use super::respond::{self, StartResponseFn};
use super::LoadError;
use crate::app::{AppError, Application, Body, Environ, StartResponse};
use crate::config::Config;
use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::prelude::*;
use std::cell::{Cell, RefCell};

/// A Python WSGI application.
pub struct PythonApp {
    app: Py<PyAny>,
    environ: RefCell<EnvironBuilder>,
    /// Numbers requests, so a request's callables never act on another request's response.
    requests: Cell<u64>,
}

impl PythonApp {
    /// Wraps the WSGI callable `app` for a worker configured by `cfg`.
    pub fn new(app: Py<PyAny>, cfg: &Config) -> Result<PythonApp, LoadError> {
        let environ = Python::attach(|py| EnvironBuilder::new(py, cfg.workers > 1)).map_err(LoadError::Prepare)?;
        Ok(PythonApp {
            app,
            environ: RefCell::new(environ),
            requests: Cell::new(0),
        })
    }
}

impl Application for PythonApp {
    /// While `write()` waits, the worker serves other requests, calling this app again on the
    /// same thread with the GIL held (CPython allows such nested calls); the GIL is released
    /// only around the worker's blocking waits ([`Application::pause_for_wait`]).
    fn pause_for_wait(&self) -> Option<Box<dyn std::any::Any>> {
        struct Reattach(*mut pyo3::ffi::PyThreadState);
        impl Drop for Reattach {
            fn drop(&mut self) {
                // SAFETY: restores the thread state saved below, on this thread, exactly once.
                unsafe { pyo3::ffi::PyEval_RestoreThread(self.0) };
            }
        }
        // SAFETY: PyGILState_Check only reads this thread's state. If this thread holds the GIL
        // (an app call below is waiting in write), it is released for the duration of a poll
        // system call, which runs no Python; the guard re-takes it before anything else runs,
        // so pyo3's count of being attached (unchanged meanwhile) is true whenever it is read.
        unsafe {
            if pyo3::ffi::PyGILState_Check() == 1 {
                return Some(Box::new(Reattach(pyo3::ffi::PyEval_SaveThread())));
            }
        }
        None
    }

    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let request = self.requests.get().wrapping_add(1);
        self.requests.set(request);
        Python::attach(|py| {
            let env = self
                .environ
                .borrow_mut()
                .build(py, environ)
                .map_err(|e| app_error(py, e))?;
            let start_response = Bound::new(py, StartResponseFn::new(request)).map_err(|e| app_error(py, e))?;
            let app = self.app.bind(py);
            let result = respond::lend(request, sr, || app.call1((env, start_response)));
            let result = result.map_err(|e| app_error(py, e))?;
            body::respond(py, request, result, sr)
        })
    }
}

/// An exception the app raised, with its traceback, as the worker logs it.
#[derive(Debug)]
pub(super) struct PythonError(String);

impl std::fmt::Display for PythonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PythonError {}

/// The worker's error for an exception from the app: its one-line summary, then the
/// traceback. `SystemExit` and `KeyboardInterrupt` also tell the worker to stop once the
/// response is out, so that the master replaces it.
pub(super) fn app_error(py: Python<'_>, err: PyErr) -> AppError {
    let kind = err
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".to_owned());
    let message = err.value(py).to_string();
    let summary = match message.is_empty() {
        true => kind,
        false => format!("{kind}: {message}"),
    };
    if err.is_instance_of::<PySystemExit>(py) || err.is_instance_of::<PyKeyboardInterrupt>(py) {
        crate::worker::request_stop();
        return Box::new(PythonError(format!("{summary} (the worker exits after this response)")));
    }
    Box::new(PythonError(format!("{summary}\n{}", super::traceback(py, &err))))
}
