//! `preload_app`: the app imported once in the master, and CPython's fork protocol around each
//! fork of a worker (what `os.fork()` does): `PyOS_BeforeFork` with the GIL held, then
//! `PyOS_AfterFork_Parent` in the master and `PyOS_AfterFork_Child` in the worker. Holding the
//! GIL across fork means no app thread holds it (or the import lock) in the child, where that
//! thread no longer exists; the child's CPython then forgets the threads it lost.

use crate::app::ForkHooks;
use pyo3::ffi;
use pyo3::prelude::*;
use std::cell::Cell;
use std::sync::OnceLock;

extern "C" {
    // Part of CPython's stable API since 3.7; pyo3-ffi does not declare them.
    fn PyOS_BeforeFork();
    fn PyOS_AfterFork_Parent();
    fn PyOS_AfterFork_Child();
}

/// The preloaded WSGI callable; workers inherit it across fork.
static PRELOADED: OnceLock<Py<PyAny>> = OnceLock::new();

/// The preloaded app, in a worker of a master that preloaded one.
pub(super) fn preloaded() -> Option<Py<PyAny>> {
    let app = PRELOADED.get()?;
    Some(Python::attach(|py| app.clone_ref(py)))
}

/// Keeps `app` for the workers; returns the hooks the master runs around each fork.
pub(super) fn preloaded_with(app: Py<PyAny>) -> Box<dyn ForkHooks> {
    if let Err(app) = PRELOADED.set(app) {
        // A second preload in one process (not something the master does) keeps the first.
        drop(app);
    }
    Box::new(CpythonFork { gil: Cell::new(None) })
}

/// The fork protocol alone, for a master whose interpreter holds server hooks but no app.
pub(super) fn cpython_fork() -> Box<dyn ForkHooks> {
    Box::new(CpythonFork { gil: Cell::new(None) })
}

/// The GIL state taken in `before_fork`, released after the fork on both sides.
struct CpythonFork {
    gil: Cell<Option<ffi::PyGILState_STATE>>,
}

impl ForkHooks for CpythonFork {
    fn before_fork(&self) {
        // SAFETY: the interpreter is initialised (the app was imported) and this thread is not
        // attached (the master attaches only inside Python::attach, never across a fork), so
        // PyGILState_Ensure takes the GIL; PyOS_BeforeFork requires it held.
        unsafe {
            self.gil.set(Some(ffi::PyGILState_Ensure()));
            PyOS_BeforeFork();
        }
    }

    fn after_fork_parent(&self) {
        if let Some(state) = self.gil.take() {
            // SAFETY: paired with before_fork on this thread, which holds the GIL.
            unsafe {
                PyOS_AfterFork_Parent();
                ffi::PyGILState_Release(state);
            }
        }
    }

    fn after_fork_child(&self) {
        if let Some(state) = self.gil.take() {
            // SAFETY: the forking thread, the only one in the child, holds the GIL it took in
            // before_fork; PyOS_AfterFork_Child re-creates the GIL and thread states around it,
            // and the release lets the worker attach per call as usual.
            unsafe {
                PyOS_AfterFork_Child();
                ffi::PyGILState_Release(state);
            }
        }
    }
}
