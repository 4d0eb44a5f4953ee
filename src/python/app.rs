//! [`PythonApp`]: a Python WSGI callable as a forkhorn [`Application`]. Each request takes the
//! GIL once for the call (environ, `app(environ, start_response)`, as much of the body as the
//! output buffer takes) and gives it back before the worker returns to poll.

use super::body;
use super::environ::EnvironBuilder;
use super::respond::{self, EarlyHintsFn, StartResponseFn};
use super::LoadError;
use crate::app::{AppError, Application, Body, Environ, StartResponse};
use crate::config::Config;
use pyo3::exceptions::{PyKeyboardInterrupt, PySystemExit};
use pyo3::intern;
use pyo3::prelude::*;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A Python WSGI application.
pub struct PythonApp {
    app: Py<PyAny>,
    /// `wsgi.multiprocess` and `wsgi.multithread`.
    multiprocess: bool,
    multithread: bool,
    /// Numbers requests, so a request's callables never act on another request's response.
    requests: AtomicU64,
}

/// Set once the worker has application threads (the first one entered).
static APP_THREADS: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread is one of the worker's application threads.
    static ON_APP_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether Python runs here only at the cost of waiting for the GIL an application thread
/// holds: the worker has application threads and this is not one of them (its loop).
pub(super) fn off_the_app_threads() -> bool {
    APP_THREADS.load(Ordering::Relaxed) && !ON_APP_THREAD.get()
}

thread_local! {
    /// The environ builder of the thread that calls the app: its caches are per thread, so
    /// application threads share nothing but the GIL.
    static ENVIRON: RefCell<Option<EnvironBuilder>> = const { RefCell::new(None) };
}

impl PythonApp {
    /// Wraps the WSGI callable `app` for a worker configured by `cfg`.
    pub fn new(app: Py<PyAny>, cfg: &Config) -> Result<PythonApp, LoadError> {
        let (multiprocess, multithread) = (cfg.workers > 1, cfg.threaded() && cfg.threads > 1);
        // Made now on this thread, so that a Python failure is a boot error, not a 500.
        let builder =
            Python::attach(|py| EnvironBuilder::new(py, multiprocess, multithread)).map_err(LoadError::Prepare)?;
        ENVIRON.set(Some(builder));
        Ok(PythonApp {
            app,
            multiprocess,
            multithread,
            requests: AtomicU64::new(0),
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
        // (an app call below is waiting in write), it is released for the duration of a wait
        // that runs no Python (a poll system call on the loop's thread, a condition variable on
        // an application thread); the guard re-takes it before anything else runs,
        // so pyo3's count of being attached (unchanged meanwhile) is true whenever it is read.
        unsafe {
            if pyo3::ffi::PyGILState_Check() == 1 {
                return Some(Box::new(Reattach(pyo3::ffi::PyEval_SaveThread())));
            }
        }
        None
    }

    /// Keeps a Python thread state for the thread: without it every call would make and free
    /// one (PyGILState_Ensure on a thread with none), instead of only taking the GIL.
    fn enter_thread(&self) -> Option<Box<dyn std::any::Any>> {
        struct Keep(pyo3::ffi::PyGILState_STATE, *mut pyo3::ffi::PyThreadState);
        impl Drop for Keep {
            fn drop(&mut self) {
                // SAFETY: undoes what `enter_thread` did, on the same thread (the guard lives and
                // dies on the thread that made it): retakes the GIL with the saved thread state,
                // then releases the PyGILState_Ensure, which frees the state.
                unsafe {
                    pyo3::ffi::PyEval_RestoreThread(self.1);
                    pyo3::ffi::PyGILState_Release(self.0);
                }
            }
        }
        APP_THREADS.store(true, Ordering::Relaxed);
        ON_APP_THREAD.set(true);
        // SAFETY: the interpreter was started before this worker's application threads (in the
        // worker, or in the master with preload_app, then readied by PyOS_AfterFork_Child in
        // the worker); Ensure makes
        // this thread's state and takes the GIL, SaveThread gives the GIL back while keeping the
        // state (its Ensure count stays above zero until the guard drops), so each call's
        // Ensure only takes the GIL.
        unsafe {
            let state = pyo3::ffi::PyGILState_Ensure();
            let thread = pyo3::ffi::PyEval_SaveThread();
            Some(Box::new(Keep(state, thread)))
        }
    }

    fn call(&self, environ: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
        let request = self.requests.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        Python::attach(|py| {
            if ON_APP_THREAD.get() {
                body::close_left(py);
            }
            let env = ENVIRON
                .with_borrow_mut(|builder| {
                    let builder = match builder {
                        Some(b) => b,
                        None => builder.insert(EnvironBuilder::new(py, self.multiprocess, self.multithread)?),
                    };
                    builder.build(py, environ)
                })
                .map_err(|e| app_error(py, e))?;
            let early_hints = Bound::new(py, EarlyHintsFn::new(request)).map_err(|e| app_error(py, e))?;
            env.set_item(intern!(py, "wsgi.early_hints"), early_hints)
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
/// traceback. `SystemExit` and `KeyboardInterrupt` become [`crate::app::RetireWorker`]: the
/// worker stops once the response is out, and the master replaces it.
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
        return Box::new(crate::app::RetireWorker(summary));
    }
    Box::new(PythonError(format!("{summary}\n{}", super::traceback(py, &err))))
}
