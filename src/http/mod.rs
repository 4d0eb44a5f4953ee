//! Pure HTTP/1.x: request head parsing, body decoding and response encoding, over bytes only.
//! Nothing here touches a socket, a signal or a process.
//!
//! Public for fuzzing (`fuzz/`) and for tools that want to judge a request head as forkhorn
//! does: [`parse_head`] with its [`Head`] and [`Limits`], and the [`ChunkedDecoder`]. The rest
//! (targets, forwarding headers, the PROXY protocol, response encoding) is the server's own.

pub(crate) mod chars;
pub(crate) mod chunked;
pub(crate) mod date;
pub(crate) mod error;
pub(crate) mod forwarded;
pub(crate) mod proxy;
pub(crate) mod request;
pub(crate) mod response;
pub(crate) mod uri;

pub use chunked::{ChunkedDecoder, Progress};
pub use error::ParseError;
pub use request::{
    parse_head, BodyFraming, Head, Limits, Span, Version, DEFAULT_FIELD_SIZE, MAX_FIELDS, MAX_REQUEST_LINE,
};
pub use uri::TargetForm;
