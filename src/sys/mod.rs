//! Operating-system plumbing: listening sockets, the one `fork()`, pipes, descriptors and the
//! process title; and for running as a service: socket activation, readiness notification, the
//! pidfile, privileges and detaching. Nothing here knows about HTTP or applications.

pub mod activation;
pub mod daemon;
pub mod heartbeat;
pub mod listen;
pub mod notify;
pub mod pidfile;
pub mod privileges;
pub mod process;
pub mod procstat;
pub mod proctitle;
pub mod queue;

pub use listen::{bind_all, BindOptions, Listener, ListenerKind};
