//! The embedded-CPython bridge (feature `python`): serves a Python WSGI application (PEP 3333)
//! as a forkhorn [`Application`](crate::app::Application).
//!
//! - `interpreter` starts CPython in a worker after fork: PyConfig with the virtualenv's
//!   interpreter as program name and Python's signal handlers off, `chdir`, `sys.path`;
//! - `spec` reads `module:callable` / `module:factory(args)` and imports it;
//! - [`PythonApp`] (`app`) builds the environ dict (`environ`), calls the app and turns its
//!   iterable into the response body (`body`);
//! - `respond` is `start_response` and `write`, which act on the request's Rust
//!   [`StartResponse`](crate::app::StartResponse) only while it is lent to them;
//! - `input`, `errors`, `file_wrapper`: `wsgi.input`, `wsgi.errors`, `wsgi.file_wrapper`;
//! - `config_file`: the evaluator mode that runs a Python config file (`gunicorn.conf.py`) in
//!   a short-lived process and reports its module-level names;
//! - `fork`: `preload_app`, the import in the master and the CPython fork protocol around
//!   each fork;
//! - `hooks`: server hooks (gunicorn's `on_starting`, `post_fork`, `pre_request`, ...) from a
//!   Python module, loaded in the master and inherited by the workers.
//!
//! The GIL is taken for each call into Python and released in between, so app threads run
//! while the worker waits in poll.

mod app;
mod body;
mod config_file;
mod environ;
mod errors;
mod file_wrapper;
mod fork;
mod hooks;
mod input;
mod interpreter;
mod logging_bridge;
mod respond;
mod spec;

pub use app::PythonApp;
pub use config_file::evaluator_main;
pub use hooks::load as load_hooks;
pub use interpreter::{InitError, Setup};

use crate::config::Config;
use pyo3::prelude::*;

/// Why a Python app could not be loaded: each variant is one line for the error log.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The interpreter did not start.
    #[error(transparent)]
    Init(#[from] InitError),
    /// The spec is not `module:callable` or `module:factory(literal args)`.
    #[error("invalid app spec {spec:?}: {reason}")]
    ParseSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The module could not be imported (missing, or it raised).
    #[error("cannot import module '{module}': {reason}")]
    ImportModule {
        /// The module.
        module: String,
        /// Python's message.
        reason: String,
    },
    /// The module has no such attribute.
    #[error("cannot find attribute '{name}' in module '{module}'")]
    FindAttribute {
        /// The attribute.
        name: String,
        /// The module.
        module: String,
    },
    /// The app factory raised.
    #[error("cannot call the app factory {expression}: {reason}")]
    CallFactory {
        /// The call as written.
        expression: String,
        /// Python's message.
        reason: String,
    },
    /// The expression gave `None`.
    #[error("cannot find the application: {expression} in module '{module}' is None")]
    FindApplication {
        /// The expression.
        expression: String,
        /// The module.
        module: String,
    },
    /// The expression gave something that cannot be called.
    #[error("cannot call the application: {expression} is not callable")]
    CallApplication {
        /// The expression.
        expression: String,
    },
    /// The server hooks module could not be loaded (missing, or it raised).
    #[error("cannot load the server hooks from {location}: {reason}")]
    LoadHooks {
        /// The `hooks` setting.
        location: String,
        /// Python's traceback.
        reason: String,
    },
    /// Python failed while the app's per-worker state was made.
    #[error("cannot prepare the application: {0}")]
    Prepare(PyErr),
}

/// The command line as the process started, for `sys.argv`: the process title overwrites it.
static ARGV: std::sync::OnceLock<Vec<std::ffi::OsString>> = std::sync::OnceLock::new();

/// Keeps the command line for `sys.argv`; call before the process title is set.
pub fn keep_argv() {
    let _ = ARGV.set(std::env::args_os().collect());
}

/// Sets `raw_env` in this process. With the interpreter running (server hooks, a preloaded
/// app) it goes through `os.environ`, which is the interpreter's copy of the environment taken
/// at start and also calls `putenv`: a worker forked later sees the values from Python too.
pub fn set_environ(vars: &[(String, String)]) {
    if !interpreter::started() {
        // No interpreter, so no thread of this process reads the environment yet.
        crate::sys::process::set_env(vars);
        return;
    }
    Python::attach(|py| {
        let result = py.import("os").and_then(|os| {
            let environ = os.getattr("environ")?;
            vars.iter().try_for_each(|(k, v)| environ.set_item(k, v))
        });
        if let Err(e) = result {
            // os.environ refuses only what putenv would (a NUL byte, which the config
            // loader rejects before this).
            log::warn!("cannot set raw_env in os.environ: {}", traceback(py, &e));
        }
    });
}

/// Loads the configured Python app in a worker: the one the master preloaded, or else starts
/// the interpreter and imports `cfg.app`.
pub fn load(cfg: &Config) -> Result<PythonApp, LoadError> {
    // This worker's generation's raw_env, in os.environ too when the worker inherited a
    // running interpreter (hooks, preload_app): the master's may already hold a newer
    // generation's. Before the app is imported, which may read it.
    set_environ(&cfg.raw_env);
    let app = match fork::preloaded() {
        Some(app) => {
            // This worker's log level (a reload may have changed it since the preload).
            Python::attach(|py| logging_bridge::install(py, cfg.loglevel));
            app
        }
        None => {
            interpreter::ensure_started(&Setup::from_config(cfg))?;
            let spec = spec::parse(&cfg.app)?;
            // Before the import, as gunicorn sets up its loggers before it loads the app.
            Python::attach(|py| {
                logging_bridge::install(py, cfg.loglevel);
                spec::import(py, &spec)
            })?
        }
    };
    // What hooks read as `worker.wsgi` (a worker loads one app, once).
    let _ = LOADED.set(Python::attach(|py| app.clone_ref(py)));
    PythonApp::new(app, cfg)
}

/// The WSGI callable this worker loaded, for the server hooks' `worker.wsgi`.
static LOADED: std::sync::OnceLock<Py<PyAny>> = std::sync::OnceLock::new();

/// The app this worker loaded, if it serves a Python one.
pub(crate) fn loaded_app(py: Python<'_>) -> Option<Py<PyAny>> {
    LOADED.get().map(|app| app.clone_ref(py))
}

/// `preload_app`: imports the app in the master, once; the returned hooks must run around
/// every fork so that the workers inherit a consistent interpreter.
pub fn preload(cfg: &Config) -> Result<Box<dyn crate::app::ForkHooks>, LoadError> {
    crate::sys::process::start_dir(); // remembered before it is left
    if interpreter::started() {
        // Started for the server hooks, which leave the master where it is: the app is
        // imported from `chdir` all the same, as without hooks.
        if let Some(dir) = &cfg.chdir {
            std::env::set_current_dir(dir).map_err(|source| InitError::ChangeDirectory {
                path: dir.clone(),
                source,
            })?;
        }
    }
    interpreter::ensure_started(&Setup::from_config(cfg))?;
    let spec = spec::parse(&cfg.app)?;
    let app = Python::attach(|py| {
        logging_bridge::install(py, cfg.loglevel);
        spec::import(py, &spec)
    })?;
    Ok(fork::preloaded_with(app))
}

/// The formatted traceback of `err`, without the trailing newline.
pub(crate) fn traceback(py: Python<'_>, err: &PyErr) -> String {
    // The traceback goes explicitly: before Python 3.12 it is not attached to the value yet.
    let formatted = py
        .import("traceback")
        .and_then(|tb| tb.call_method1("format_exception", (err.get_type(py), err.value(py), err.traceback(py))))
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_owned(),
        Err(_) => err.to_string(),
    }
}
