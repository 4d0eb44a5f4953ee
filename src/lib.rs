//! forkhorn: a pre-fork HTTP server in the family of gunicorn.
//!
//! The process model, in brief:
//! - the **master** ([`master`]) reads the [`config`], binds the listening sockets ([`sys`]),
//!   forks the workers and supervises them; it handles signals and never parses HTTP or runs
//!   application code;
//! - each **worker** ([`worker`]) runs a mio event loop over the inherited listeners: it accepts
//!   connections, parses requests with the pure [`http`] module and calls the [`app`] through
//!   the start_response/write protocol of PEP 3333;
//! - applications are Rust types implementing [`app::Application`], the built-in apps, or
//!   (feature `python`) Python WSGI apps through embedded CPython (`python`).
#![deny(missing_docs)]

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod loader;
pub mod logging;
pub mod master;
#[cfg(feature = "python")]
pub mod python;
pub mod service;
pub mod sys;
pub mod worker;

pub use app::{AppError, Application, Body, Environ, StartResponse};
pub use config::Config;

/// Serves `make_app()` with forkhorn's master and workers, as configured by `cfg`: the call a
/// Rust program makes from its own `main`. `make_app` runs in each worker after fork (open
/// database connections there, not before). Returns the exit status for the process.
///
/// ```no_run
/// use forkhorn::{AppError, Body, Config, Environ, StartResponse};
///
/// fn hello(_: &mut Environ, sr: &mut StartResponse<'_>) -> Result<Body, AppError> {
///     sr.start_response("200 OK", &[("Content-Type", "text/plain")], None)?;
///     Ok(Body::Static(b"hi\n"))
/// }
///
/// let status = forkhorn::serve(Config::default(), || Ok(hello)).unwrap();
/// std::process::exit(status);
/// ```
pub fn serve<A, F>(cfg: Config, make_app: F) -> Result<i32, master::MasterError>
where
    A: Application + 'static,
    F: Fn() -> Result<A, AppError>,
{
    logging::init(cfg.loglevel);
    let loader = master::loader_from(make_app);
    let first = cfg.clone();
    let reload = master::library_hooks_reload(&first);
    master::run_with(
        cfg,
        master::Hooks {
            loader: &loader,
            reload: &reload,
        },
    )
}
