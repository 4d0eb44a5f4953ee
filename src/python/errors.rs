//! `wsgi.errors`: a text stream whose lines go to forkhorn's error log. One object serves a
//! worker's requests; a partial line waits for its end (or `flush`).

use pyo3::prelude::*;
use std::sync::Mutex;

/// The error stream.
#[pyclass(frozen, module = "forkhorn", name = "ErrorStream")]
#[derive(Default)]
pub(super) struct ErrorStream {
    /// Text of an unfinished line.
    pending: Mutex<String>,
}

impl ErrorStream {
    fn emit(line: &str) {
        if !line.trim().is_empty() {
            log::error!("{}", line.trim_end_matches('\r'));
        }
    }
}

#[pymethods]
impl ErrorStream {
    /// Writes text; complete lines are logged at once.
    fn write(&self, text: &str) -> usize {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mut rest = text;
        while let Some(i) = rest.find('\n') {
            if pending.is_empty() {
                Self::emit(&rest[..i]);
            } else {
                pending.push_str(&rest[..i]);
                Self::emit(&pending);
                pending.clear();
            }
            rest = &rest[i + 1..];
        }
        pending.push_str(rest);
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
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        Self::emit(&pending);
        pending.clear();
    }
}
