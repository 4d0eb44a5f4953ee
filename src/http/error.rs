//! Why a request was rejected, and the status code each reason is answered with.

/// A request the server refuses; [`ParseError::status`] is the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The request line is longer than `limit_request_line`.
    #[error("request line too long")]
    RequestLineTooLong,
    /// More header fields than `limit_request_fields`.
    #[error("too many header fields")]
    TooManyFields,
    /// A header field longer than `limit_request_field_size`.
    #[error("header field too large")]
    FieldTooLarge,
    /// A body larger than `limit_request_body`.
    #[error("request body too large")]
    BodyTooLarge,
    /// A transfer coding other than chunked.
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// An HTTP version other than 1.0 or 1.1.
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// A method forkhorn never serves: CONNECT (it is not a proxy and cannot open a tunnel).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The client closed its side of the connection in the middle of a request.
    #[error("bad request: connection closed mid-request")]
    Incomplete,
    /// Anything else malformed; the text says what.
    #[error("bad request: {0}")]
    Malformed(&'static str),
}

impl ParseError {
    /// The status code this rejection is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::RequestLineTooLong => 414,
            ParseError::TooManyFields | ParseError::FieldTooLarge => 431,
            ParseError::BodyTooLarge => 413,
            ParseError::UnsupportedTransferCoding => 501,
            ParseError::UnsupportedVersion => 505,
            ParseError::MethodNotAllowed => 405,
            ParseError::Incomplete | ParseError::Malformed(_) => 400,
        }
    }
}
