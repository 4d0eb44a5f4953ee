//! The application side of forkhorn: the [`Application`] trait (PEP 3333's calling convention
//! for Rust), the environ, the start_response/write protocol, and the built-in apps.

pub mod body;
pub mod builtin;
pub mod environ;
pub mod input;
pub mod protocol;

pub use body::{Body, BodyIter, Chunk};
pub use environ::{Environ, Errors};
pub use input::Input;
pub use protocol::{ProtocolError, StartResponse};

/// An error an application raises; what PEP 3333 calls an exception. It may be passed back as
/// `exc_info` to `start_response`.
pub type AppError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A web application, called once per request with the request's environ and the
/// `start_response` handle; it returns the response body.
///
/// The worker calls it on its only thread, after the whole request body has arrived.
pub trait Application {
    /// Handles one request.
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse<'_>) -> Result<Body, AppError>;
}

impl<F> Application for F
where
    F: Fn(&mut Environ, &mut StartResponse<'_>) -> Result<Body, AppError>,
{
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse<'_>) -> Result<Body, AppError> {
        self(environ, start_response)
    }
}

/// Why an application could not be loaded in a worker.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `builtin:NAME` with a name forkhorn does not have.
    #[error("no built-in app named {0:?} (built-in apps: {list})", list = builtin::NAMES.join(", "))]
    UnknownBuiltin(String),
    /// A Python app spec, but this build has no Python support.
    #[error("{0:?} looks like a Python WSGI app, but this forkhorn was built without the \"python\" feature")]
    PythonUnavailable(String),
}

/// Makes the application in each worker, after fork, from the worker's configuration.
pub type Loader<'a> = &'a dyn Fn(&crate::config::Config) -> Result<Box<dyn Application>, AppError>;

/// The loader the `forkhorn` command uses: the app the `app` setting names.
pub fn load_configured(cfg: &crate::config::Config) -> Result<Box<dyn Application>, AppError> {
    load(&cfg.app).map_err(Into::into)
}

/// Resolves an app spec (`builtin:NAME`, or `module:callable` for Python) to an application.
pub fn load(spec: &str) -> Result<Box<dyn Application>, LoadError> {
    match spec.strip_prefix("builtin:") {
        Some(name) => builtin::by_name(name).ok_or_else(|| LoadError::UnknownBuiltin(name.to_owned())),
        None => Err(LoadError::PythonUnavailable(spec.to_owned())),
    }
}
