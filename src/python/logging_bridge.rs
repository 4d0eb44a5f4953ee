//! Python's `logging` into forkhorn's error log: the `gunicorn.error` logger that apps written
//! for gunicorn borrow their handlers and level from (`logging_bridge.py`), and `_emit`, the one
//! way Python code (this bridge, the server hooks' `server.log`) writes a log entry.

use crate::config::LogLevel;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use std::ffi::CString;

const BRIDGE_PY: &str = include_str!("logging_bridge.py");

/// One entry of forkhorn's log at `level`, Python logging's number (10 DEBUG ... 50 CRITICAL;
/// one in between counts as the level below it, as logging compares them), from Python.
#[pyfunction(name = "_emit")]
pub(super) fn emit(level: i64, text: &str) {
    let level = match level {
        ..20 => log::Level::Debug,
        20..30 => log::Level::Info,
        30..40 => log::Level::Warn,
        _ => log::Level::Error,
    };
    log::log!(level, "{text}");
}

/// Points `gunicorn.error` at forkhorn's log, at `level`. A failure (an app that replaced
/// `logging` with something else) is a warning: the app still runs, its lines go where its
/// own set-up sends them.
pub(super) fn install(py: Python<'_>, level: LogLevel) {
    // logging takes a level's name as well as its number.
    let name = level.as_str().to_ascii_uppercase();
    let installed = CString::new(BRIDGE_PY)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
        .and_then(|code| PyModule::from_code(py, &code, c"<forkhorn logging>", c"_forkhorn_logging"))
        .and_then(|module| {
            module.add_function(wrap_pyfunction!(emit, &module)?)?;
            module.getattr("install")?.call1((name,)).map(drop)
        });
    if let Err(e) = installed {
        log::warn!(
            "cannot route the gunicorn.error logger to the error log: {}",
            super::traceback(py, &e)
        );
    }
}
