//! Operating-system plumbing: listening sockets, the one `fork()`, pipes, descriptors and the
//! process title. Nothing here knows about HTTP or applications.

pub mod heartbeat;
pub mod listen;
pub mod pidfile;
pub mod process;
pub mod proctitle;

pub use listen::{bind_all, BindOptions, Listener, ListenerKind};
