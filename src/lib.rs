//! forkhorn: a pre-fork HTTP server in the family of gunicorn.
//!
//! The process model, in brief:
//! - the **master** ([`master`]) reads the [`config`], binds the listening sockets ([`sys`]),
//!   forks the workers and supervises them; it handles signals and never parses HTTP or runs
//!   application code;
//! - each **worker** ([`worker`]) runs a mio event loop over the inherited listeners: it accepts
//!   connections, parses requests with the pure [`http`] module and calls the [`app`] through
//!   the start_response/write protocol of PEP 3333;
//! - applications are Rust types implementing [`app::Application`], or the built-in apps.
#![deny(missing_docs)]

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod logging;
pub mod master;
pub mod sys;
pub mod worker;
