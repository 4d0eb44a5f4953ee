//! Not API: the internals that this package's own binary and benchmarks reach, re-exported in
//! one hidden place so that the crate's documented surface stays what an application author
//! needs. No stability promise; anything here may change with any release.
//!
//! The binary (`src/main.rs`) runs the configured app under the master, with its own logging
//! and daemon steps, hands `forkhorn bench` over to the bench crate, and runs `forkhorn ctl`. `benches/protocol.rs`
//! and `benches/access_log.rs` time the worker's request path and the access log without
//! sockets, which no public entry point offers; rewriting them against [`crate::serve`] would
//! measure the kernel's loopback instead of the code they exist to watch. `benches/counters.rs`
//! times what a worker adds per request when it keeps counters for `/metrics`.

pub use crate::app::builtin::by_name as builtin_app;
pub use crate::app::protocol::{send_whole, RequestInfo, Response};
pub use crate::config::python_file::{set_python_evaluator, EVALUATE_ARG};
pub use crate::control::client::main as ctl_main;
pub use crate::http::response::Stamp;
pub use crate::loader::check_configured as check_app;
pub use crate::logging::access::{Exchange, RequestLog};
pub use crate::logging::init as init_logging;
pub use crate::logging::AccessLog;
pub use crate::master::run;
pub use crate::metrics::tally::Tally;
#[cfg(feature = "python")]
pub use crate::python::evaluator_main;
pub use crate::sys::daemon::detach;
pub use crate::sys::heartbeat::Heartbeat;
pub use crate::sys::process::raise_nofile_limit;
pub use crate::worker::dispatch::{build_environ, ServerName};
pub use crate::worker::stream::{Peer, PeerText};
