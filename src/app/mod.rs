//! The application side of forkhorn: the [`Application`] trait (PEP 3333's calling convention
//! for Rust), the environ, the start_response/write protocol, and the built-in apps.

pub(crate) mod body;
pub(crate) mod builtin;
pub(crate) mod environ;
pub(crate) mod input;
pub(crate) mod mount;
pub(crate) mod protocol;
pub(crate) mod static_files;

pub use body::{Body, BodyIter, Chunk, FileBody, FileRegion};
pub use environ::{Environ, Errors};
pub use input::Input;
pub use protocol::{ProtocolError, StartResponse};

/// An error an application raises; what PEP 3333 calls an exception. It may be passed back as
/// `exc_info` to `start_response`.
pub type AppError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A web application, called once per request with the request's environ and the
/// `start_response` handle; it returns the response body.
///
/// The worker calls it after the whole request body has arrived: on the worker's event-loop
/// thread, or with `threads` above 1 (or the gthread worker class) on any of the worker's
/// application threads, several calls at once. Hence `Send + Sync`: one application object
/// serves all the threads of its worker, as in gunicorn; state it changes per request needs
/// atomics or a lock.
pub trait Application: Send + Sync {
    /// Handles one request.
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse<'_>) -> Result<Body, AppError>;

    /// Whether the worker may call the application again while a call is waiting in `write`
    /// for a slow client (it then serves other requests meanwhile, on the same thread). An
    /// application that cannot be re-entered says no, and its `write` waits on its own socket.
    fn reentrant(&self) -> bool {
        true
    }

    /// Called just before the worker blocks in poll while a call of this application waits in
    /// `write` further down the stack; the returned guard is dropped as soon as the wait ends.
    /// The Python bridge releases the GIL here, so the app's own threads run meanwhile.
    fn pause_for_wait(&self) -> Option<Box<dyn std::any::Any>> {
        None
    }

    /// Whether a call may wait (on a database, another service, a lock, a sleep): true unless
    /// the application says otherwise. With application threads, the worker calls an
    /// application that never waits on its loop thread, as with `threads = 1`: handing a call
    /// that takes microseconds to a thread and its output back costs more than the call, and
    /// threads only pay off for calls that wait.
    fn may_wait(&self) -> bool {
        true
    }

    /// The environ variables the application reads, if it reads only these few: the worker
    /// then sets only them (a static file server that reads a method, a path and three headers
    /// need not have every variable and header copied for it). None, the default: all of
    /// PEP 3333's environ. A wrapper that reads variables itself (a mount) keeps the default.
    fn environ_keys(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// Called once on each application thread before its first call; the guard lives as long
    /// as the thread. The Python bridge keeps the thread's interpreter state here, so that each
    /// call only takes the GIL instead of making that state anew.
    fn enter_thread(&self) -> Option<Box<dyn std::any::Any>> {
        None
    }
}

impl<F> Application for F
where
    F: Fn(&mut Environ, &mut StartResponse<'_>) -> Result<Body, AppError> + Send + Sync,
{
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse<'_>) -> Result<Body, AppError> {
        self(environ, start_response)
    }
}

/// An application error after which the worker retires: it answers the request as for any
/// error, finishes its other requests and is replaced, as after its last `max_requests`
/// (Python's `SystemExit` and `KeyboardInterrupt` raise it). How an application asks for its
/// worker's retirement, through what its call returns.
#[derive(Debug, thiserror::Error)]
#[error("{0} (the worker exits after this response)")]
pub struct RetireWorker(pub String);

/// Whether an application error asks for the worker's retirement.
pub(crate) fn asks_to_retire(err: &AppError) -> bool {
    err.is::<RetireWorker>()
}

/// Why an app spec names no application this build has (Python apps fail to load with
/// `python::LoadError`, the one error of that name).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpecError {
    /// `builtin:NAME` with a name forkhorn does not have.
    #[error("no built-in app named {0:?} (built-in apps: {list})", list = builtin::NAMES.join(", "))]
    UnknownBuiltin(String),
    /// A Python app spec, but this build has no Python support (or [`load`] was asked for one).
    #[error(
        "{0:?} looks like a Python WSGI app, but this forkhorn was built without the \"python\" feature \
         (rebuild with default features, which need a shared libpython)"
    )]
    PythonUnavailable(String),
}

/// Makes the application in each worker, after fork, from the worker's configuration.
pub(crate) type Loader<'a> = &'a dyn Fn(&crate::config::Config) -> Result<Box<dyn Application>, AppError>;

/// Work an application loaded in the master (`preload_app`) needs done around each fork, so
/// that every worker inherits it in a usable state. The master runs `before_fork`, then in
/// the parent `after_fork_parent` (also when fork failed) and in the child `after_fork_child`
/// before anything else.
pub(crate) trait ForkHooks {
    /// In the master, just before fork().
    fn before_fork(&self);
    /// In the master, just after fork().
    fn after_fork_parent(&self);
    /// In the new worker, first thing after fork().
    fn after_fork_child(&self);
}

/// Resolves a built-in app spec (`builtin:NAME`); a Python spec needs the configuration
/// (the `loader` module's `load_configured`).
pub(crate) fn load(spec: &str) -> Result<Box<dyn Application>, SpecError> {
    match spec.strip_prefix("builtin:") {
        Some(name) => builtin::by_name(name).ok_or_else(|| SpecError::UnknownBuiltin(name.to_owned())),
        None => Err(SpecError::PythonUnavailable(spec.to_owned())),
    }
}
