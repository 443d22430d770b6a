//! Hand-written HTTP/1.1 request parsing and response writing (RFC 9110, RFC 9112). No I/O.
//!
//! Design:
//! - Zero-copy. A [`Request`] borrows the connection's read buffer. Header fields are kept as
//!   offsets in a vector the parser allocates once, so parsing a Content-Length request never
//!   allocates.
//! - Resumable. A request may be split at any byte: the caller passes the same buffer again once
//!   more bytes arrive, and [`RequestParser::parse`] continues from where the previous call got to
//!   (head, chunk positions, the unfinished line), so parsing is linear in the request's size
//!   however it is split. See `parse` for the caller's side of that contract.
//!   `Parsed::Partial { min_total }` tells the caller how long it can wait before parsing again
//!   (exact for a Content-Length body, a lower bound inside a chunk's data); chunked bodies are
//!   only copied once they are complete.
//! - Explicit limits on everything a peer controls: see [`Limits`] and the `MAX_*` constants.
//! - Strict where two parsers could disagree about message boundaries (request smuggling):
//!   Content-Length together with Transfer-Encoding, conflicting Content-Lengths, obs-fold, bare
//!   CR, sloppy chunk framing. Lenient where common clients are sloppy: bare LF line endings,
//!   leading empty lines, optional whitespace.

mod chunked;
mod client;
mod fields;
mod gzip;
mod gzip_answer;
mod query;
mod request;
mod response;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use chunked::{MAX_CHUNKS, MAX_CHUNK_EXT_BYTES};
// The field grammar's small helpers, shared with the WebSocket handshake.
pub use client::{
    parse_response, parse_response_head, write_request_head, Framing, ParsedResponse,
    ResponseError, ResponseHead as ClientResponseHead, ResponseLimits,
};
pub(crate) use fields::{has_element, is_tchar, trim_ows};
pub use gzip::{
    encoded_body, inflate_gzip, EncodedBody, GzipInflater, GzipLimits, Progress, INVALID_GZIP,
    TOO_MANY_MEMBERS,
};
pub use gzip_answer::{
    accepts_gzip, write_gzip, DeflateFailed, DeflatedPart, GzipPart, PartDeflater,
};
pub use query::{canonical_path, percent_decode_path, query_pairs};
pub use request::{ContentEncoding, HeaderIter, HeaderList, Parsed, Request, RequestParser};
pub use response::{
    begin_response, finish_response, status_reason, write_continue, write_error,
    write_head_response, write_response, BodyStart, ResponseHead,
};

use std::fmt;

/// Bounds on what a peer can make the parser buffer or produce. Every limit is inclusive: a request
/// exactly at the limit is accepted, one byte (or header) more is rejected.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Request line + header fields + the empty line ending them (also the bound for a chunked
    /// body's trailer section). Exceeding it yields [`HttpError::HeadersTooLarge`] as soon as that
    /// many bytes are buffered.
    pub max_header_bytes: usize,
    /// Number of header fields; one more yields [`HttpError::TooManyHeaders`].
    pub max_headers: usize,
    /// Body bytes as framed on the wire: the Content-Length value, or the sum of chunk sizes.
    pub max_body_bytes: usize,
    /// Body bytes after gzip inflation (zip-bomb defence).
    pub max_decoded_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 8 * 1024 * 1024,
            max_decoded_body_bytes: 32 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    /// Any other syntactically valid method token (methods are case-sensitive, so `get` lands here
    /// too).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// One header field. Names are tokens (ASCII); values are raw bytes with surrounding whitespace
/// trimmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'b> {
    pub name: &'b str,
    pub value: &'b [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// 400. The message says what was wrong.
    BadRequest(&'static str),
    /// 431: the header (or trailer) section exceeds `Limits::max_header_bytes`.
    HeadersTooLarge,
    /// 431: more than `Limits::max_headers` fields.
    TooManyHeaders,
    /// 413: the framed body exceeds `max_body_bytes`, or the inflated one `max_decoded_body_bytes`.
    BodyTooLarge,
    /// 415: a Content-Encoding other than gzip / x-gzip / identity. Reported by [`decode_body`],
    /// after the request has been framed, so the connection can carry on.
    UnsupportedContentEncoding,
    /// 501: a Transfer-Encoding other than exactly `chunked`.
    UnsupportedTransferEncoding,
    /// 505: a well-formed version other than HTTP/1.0 and HTTP/1.1.
    VersionNotSupported,
}

impl HttpError {
    pub fn status(&self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::HeadersTooLarge | HttpError::TooManyHeaders => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::UnsupportedContentEncoding => 415,
            HttpError::UnsupportedTransferEncoding => 501,
            HttpError::VersionNotSupported => 505,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            HttpError::BadRequest(message) => message,
            HttpError::HeadersTooLarge => "request header fields too large",
            HttpError::TooManyHeaders => "too many header fields",
            HttpError::BodyTooLarge => "request body too large",
            HttpError::UnsupportedContentEncoding => "unsupported Content-Encoding",
            HttpError::UnsupportedTransferEncoding => "unsupported Transfer-Encoding",
            HttpError::VersionNotSupported => "HTTP version not supported",
        }
    }

    /// True if the byte stream can't be resynchronised, so the connection must be closed after the
    /// error response. Every error `RequestParser::parse` returns is of this kind: the parser can't
    /// tell where the offending request ends. Only `UnsupportedContentEncoding` is raised after
    /// framing succeeded.
    pub fn must_close(&self) -> bool {
        !matches!(self, HttpError::UnsupportedContentEncoding)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.message())
    }
}

impl std::error::Error for HttpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_status_message_and_close_policy() {
        let cases = [
            (
                HttpError::BadRequest("invalid header name"),
                400,
                "invalid header name",
                true,
            ),
            (
                HttpError::HeadersTooLarge,
                431,
                "request header fields too large",
                true,
            ),
            (
                HttpError::TooManyHeaders,
                431,
                "too many header fields",
                true,
            ),
            (HttpError::BodyTooLarge, 413, "request body too large", true),
            (
                HttpError::UnsupportedContentEncoding,
                415,
                "unsupported Content-Encoding",
                false,
            ),
            (
                HttpError::UnsupportedTransferEncoding,
                501,
                "unsupported Transfer-Encoding",
                true,
            ),
            (
                HttpError::VersionNotSupported,
                505,
                "HTTP version not supported",
                true,
            ),
        ];
        for (error, status, message, close) in cases {
            assert_eq!(error.status(), status, "{error:?}");
            assert_eq!(error.message(), message, "{error:?}");
            assert_eq!(error.must_close(), close, "{error:?}");
            assert_eq!(error.to_string(), format!("{status} {message}"));
            assert!(!status_reason(status).is_empty(), "{status}");
        }
    }

    #[test]
    fn default_limits() {
        let limits = Limits::default();
        assert_eq!(limits.max_header_bytes, 16 * 1024);
        assert_eq!(limits.max_headers, 64);
        assert_eq!(limits.max_body_bytes, 8 * 1024 * 1024);
        assert_eq!(limits.max_decoded_body_bytes, 32 * 1024 * 1024);
    }
}
