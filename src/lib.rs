//! forkhorn: a pre-fork HTTP server in the family of gunicorn.
//!
//! The process model, in brief:
//! - the **master** reads the configuration, binds the listening sockets, forks the workers
//!   and supervises them; it handles signals, never parses HTTP, and runs application code only
//!   to import a Python app before forking (`preload_app`) and to call server hooks;
//! - each **worker** runs a mio event loop over the inherited listeners: it accepts
//!   connections, parses requests and calls the application through the start_response/write
//!   protocol of PEP 3333;
//! - applications are Rust types implementing [`Application`], the built-in apps, or
//!   (feature `python`) Python WSGI apps through embedded CPython.
//!
//! As a library, this crate is what a Rust application needs to be served by forkhorn:
//! - [`serve`], the call a program makes from its `main`, with a [`Config`] built in code
//!   ([`config`]) or read from forkhorn's own command line and file ([`cli::Cli`],
//!   [`config::load`]);
//! - the application side ([`app`]): the [`Application`] trait, the [`Environ`], the
//!   [`StartResponse`] protocol, the response [`Body`] and the [`AppError`];
//! - the request-head parser and the chunked decoder ([`http`]), for fuzzing.
//!
//! The `forkhorn bench` command lives in the `forkhorn-bench` crate of this workspace.
#![deny(missing_docs)]

pub mod app;
pub mod cli;
mod clock;
pub mod config;
mod control;
mod hooks;
pub mod http;
mod loader;
mod logging;
mod master;
mod metrics;
#[cfg(feature = "python")]
mod python;
mod service;
mod sys;
mod tls;
#[doc(hidden)]
pub mod unstable;
mod worker;

pub use app::{AppError, Application, Body, Environ, StartResponse};
pub use config::Config;
pub use master::MasterError;

/// Serves `make_app()` with forkhorn's master and workers, as configured by `cfg`: the call a
/// Rust program makes from its own `main`, before it starts any thread (the master changes the
/// environment as it starts, and forks). `make_app` runs in each worker after fork (open
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
