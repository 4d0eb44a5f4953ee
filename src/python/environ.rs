//! The environ dict handed to the app: every string variable of the Rust [`Environ`] as a
//! latin-1 `str`, plus the `wsgi.*` objects.
//!
//! Requests on a worker look alike, so the builder remembers, per position, the key object and
//! the last value object: a key seen before is reused (interned, its hash already computed) and
//! an unchanged value (`SERVER_NAME`, `HTTP_HOST`, ...) costs a comparison, not an allocation.

use super::errors::ErrorStream;
use super::file_wrapper::FileWrapper;
use super::input::InputStream;
use crate::app::Environ;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use std::collections::HashMap;

/// Past this many distinct keys (header names are the client's choice) keys are no longer
/// interned or remembered, so a client cannot grow the cache without bound.
const MAX_KEYS: usize = 512;

/// One position of the environ as last seen.
struct Slot {
    key: Box<str>,
    key_obj: Py<PyString>,
    value: String,
    value_obj: Py<PyString>,
}

/// Builds environ dicts for one worker.
pub(super) struct EnvironBuilder {
    slots: Vec<Slot>,
    keys: HashMap<Box<str>, Py<PyString>>,
    /// The `wsgi.*` entries every request shares.
    constants: Vec<(Py<PyString>, Py<PyAny>)>,
    input_key: Py<PyString>,
}

impl EnvironBuilder {
    /// A builder; `multiprocess` is `wsgi.multiprocess`, `multithread` `wsgi.multithread`.
    pub(super) fn new(py: Python<'_>, multiprocess: bool, multithread: bool) -> PyResult<Self> {
        let key = |k: &str| PyString::intern(py, k).unbind();
        let constants: Vec<(Py<PyString>, Py<PyAny>)> = vec![
            (key("wsgi.version"), PyTuple::new(py, [1, 0])?.into_any().unbind()),
            (
                key("wsgi.multithread"),
                multithread.into_pyobject(py)?.to_owned().into_any().unbind(),
            ),
            (
                key("wsgi.multiprocess"),
                multiprocess.into_pyobject(py)?.to_owned().into_any().unbind(),
            ),
            (
                key("wsgi.run_once"),
                false.into_pyobject(py)?.to_owned().into_any().unbind(),
            ),
            (
                key("wsgi.input_terminated"),
                true.into_pyobject(py)?.to_owned().into_any().unbind(),
            ),
            (key("wsgi.errors"), Py::new(py, ErrorStream::default())?.into_any()),
            (
                key("wsgi.file_wrapper"),
                py.get_type::<FileWrapper>().into_any().unbind(),
            ),
        ];
        Ok(EnvironBuilder {
            slots: Vec::with_capacity(32),
            keys: HashMap::new(),
            constants,
            input_key: key("wsgi.input"),
        })
    }

    /// The environ dict for `environ`; its input moves into `wsgi.input`.
    pub(super) fn build<'py>(&mut self, py: Python<'py>, environ: &mut Environ) -> PyResult<Bound<'py, PyDict>> {
        // Room for `wsgi.input`, and `wsgi.early_hints` which the app adds.
        let dict = presized_dict(py, self.constants.len() + environ.iter().count() + 2)?;
        for (k, v) in &self.constants {
            dict.set_item(k.bind(py), v.bind(py))?;
        }
        for (i, (key, value)) in environ.iter().enumerate() {
            let (key_obj, value_obj) = self.pair(py, i, key, value);
            dict.set_item(key_obj, value_obj)?;
        }
        let input = InputStream::new(std::mem::take(environ.input()));
        dict.set_item(self.input_key.bind(py), Bound::new(py, input)?)?;
        Ok(dict)
    }

    /// The key and value objects for position `i`.
    fn pair<'py>(
        &mut self,
        py: Python<'py>,
        i: usize,
        key: &str,
        value: &str,
    ) -> (Bound<'py, PyString>, Bound<'py, PyString>) {
        if let Some(slot) = self.slots.get_mut(i) {
            if !same(&slot.key, key) {
                let key_obj = key_object(py, &mut self.keys, key);
                slot.key = key.into();
                slot.key_obj = key_obj.clone().unbind();
                slot.value.clear();
                slot.value.push_str(value);
                let value_obj = PyString::new(py, value);
                slot.value_obj = value_obj.clone().unbind();
                return (key_obj, value_obj);
            }
            if !same(&slot.value, value) {
                slot.value.clear();
                slot.value.push_str(value);
                slot.value_obj = PyString::new(py, value).unbind();
            }
            return (slot.key_obj.bind(py).clone(), slot.value_obj.bind(py).clone());
        }
        let key_obj = key_object(py, &mut self.keys, key);
        let value_obj = PyString::new(py, value);
        if self.slots.len() < MAX_KEYS {
            self.slots.push(Slot {
                key: key.into(),
                key_obj: key_obj.clone().unbind(),
                value: value.to_owned(),
                value_obj: value_obj.clone().unbind(),
            });
        }
        (key_obj, value_obj)
    }
}

/// An empty dict with room for `n` items: no resizing while the environ is filled.
fn presized_dict(py: Python<'_>, n: usize) -> PyResult<Bound<'_, PyDict>> {
    // SAFETY: called with the GIL held (`py`); _PyDict_NewPresized returns a new reference, or
    // NULL with an exception set.
    let dict = unsafe { Bound::from_owned_ptr_or_err(py, pyo3::ffi::_PyDict_NewPresized(n as pyo3::ffi::Py_ssize_t))? };
    Ok(dict.cast_into::<PyDict>()?)
}

/// String equality without a call into memcmp: environ keys and values are short, and a
/// request compares dozens of them.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    // Eight bytes at a time as one word; the compiler turns the fold into a load.
    let word = |c: &[u8]| c.iter().fold(0u64, |w, &byte| (w << 8) | u64::from(byte));
    let mut words_a = a.chunks_exact(8);
    let mut words_b = b.chunks_exact(8);
    for (x, y) in (&mut words_a).zip(&mut words_b) {
        if word(x) != word(y) {
            return false;
        }
    }
    word(words_a.remainder()) == word(words_b.remainder())
}

/// The key object for `key`: remembered and interned while the cache has room.
fn key_object<'py>(py: Python<'py>, keys: &mut HashMap<Box<str>, Py<PyString>>, key: &str) -> Bound<'py, PyString> {
    if let Some(k) = keys.get(key) {
        return k.bind(py).clone();
    }
    if keys.len() >= MAX_KEYS {
        return PyString::new(py, key);
    }
    let k = PyString::intern(py, key);
    keys.insert(key.into(), k.clone().unbind());
    k
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn same_compares_every_byte() {
        for (a, b, want) in [
            ("", "", true),
            ("HTTP_HOST", "HTTP_HOST", true),
            ("HTTP_HOST", "HTTP_HOSS", false),
            ("SERVER_PROTOCOL", "SERVER_PROTOCOL", true),
            ("SERVER_PROTOCOX", "SERVER_PROTOCOL", false),
            ("XERVER_PROTOCOL", "SERVER_PROTOCOL", false),
            ("a", "ab", false),
            ("12345678", "12345678", true),
            ("12345678", "12345679", false),
        ] {
            assert_eq!(same(a, b), want, "{a:?} {b:?}");
        }
    }
}
