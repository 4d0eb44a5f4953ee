//! Seeing and steering a running server: the control socket the master serves (a line of JSON
//! per request, [`protocol`]), the `/metrics` listener ([`scrape`]), and `forkhorn ctl`, the
//! client ([`client`]). The master owns the answers (`master::control`); this module owns the
//! sockets, the framing and the client's tables. `docs/CONTROL.md` documents the protocol.

pub mod client;
mod clients;
pub mod protocol;
pub mod scrape;
pub mod socket;

pub use scrape::Scrape;
pub use socket::ControlSocket;
