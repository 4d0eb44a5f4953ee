//! `wsgi.errors`: a text stream whose lines go to forkhorn's error log as written (see
//! [`AppErrors`]). One object serves a worker's requests; a partial line waits for its end (or
//! `flush`).

use crate::logging::AppErrors;
use pyo3::prelude::*;
use std::sync::{Mutex, MutexGuard};

/// The error stream.
#[pyclass(frozen, module = "forkhorn", name = "ErrorStream")]
#[derive(Default)]
pub(super) struct ErrorStream {
    lines: Mutex<AppErrors>,
}

impl ErrorStream {
    fn lines(&self) -> MutexGuard<'_, AppErrors> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl ErrorStream {
    /// Writes text; complete lines are logged at once.
    fn write(&self, text: &str) -> usize {
        self.lines().write(text.as_bytes());
        text.chars().count()
    }

    /// Writes each string of `lines`.
    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(line?.extract::<&str>()?);
        }
        Ok(())
    }

    /// Logs an unfinished line.
    fn flush(&self) {
        self.lines().flush();
    }
}
