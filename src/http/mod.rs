//! Pure HTTP/1.x: request head parsing, body decoding and response encoding, over bytes only.
//! Nothing here touches a socket, a signal or a process.

pub mod chars;
pub mod chunked;
pub mod date;
pub mod error;
pub mod forwarded;
pub mod proxy;
pub mod request;
pub mod response;
pub mod uri;

pub use chunked::{ChunkedDecoder, Progress};
pub use error::ParseError;
pub use request::{parse_head, BodyFraming, Head, Limits, Span, Version};
pub use uri::TargetForm;
