//! WebSocket (RFC 6455): the opening handshake, frame parsing and encoding, and message
//! reassembly. No I/O, no `unsafe`, no dependency beyond `std` (SHA-1 and base64 are in here).
//!
//! Design:
//! - Zero-copy where it matters. [`MessageReader::next`] unmasks a frame in place in the
//!   connection's read buffer and returns an unfragmented message as a slice of that buffer. Only
//!   fragmented messages are copied, into one per-connection vector bounded by
//!   `max_message_bytes`.
//! - Explicit limits: a message larger than `max_message_bytes` is refused as soon as a frame
//!   header announces it ([`WsError::TooBig`]), before its payload is buffered; control frames
//!   carry at most 125 bytes; a frame header is at most 14 bytes. So the caller's read buffer never
//!   needs more than `MAX_HEADER_LEN + max(max_message_bytes, 125)` bytes.
//! - Never panics on peer input; lengths are checked (`u64` wire lengths are converted with
//!   `try_from`, sums with `checked_add`).
//! - Strict where the RFC says MUST: reserved bits and opcodes, fragmented or oversized control
//!   frames, masking by role, continuation sequencing, UTF-8 of text messages and close reasons,
//!   close codes. Lenient where it only constrains the sender: non-minimal length encodings.
//!
//! Wire use by Artemis (spec §1 items 5-7, §7, §12): plain `ws://` on the HTTP port; JSON text
//! messages; the Java client pings every second and reconnects without a pong within 1 s; its
//! inbound text buffer is 8-32 KiB.

#![forbid(unsafe_code)]

mod base64;
mod frame;
mod handshake;
mod message;
mod sha1;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod test_support;

pub use base64::{decode as base64_decode, encode as base64_encode, DecodeError};
pub use frame::{
    apply_mask, close_code, header_len_needed, parse_frame_header, write_close, write_frame,
    write_masked_close, write_masked_frame, FrameHeader, OpCode, MAX_CLOSE_REASON,
    MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
pub use handshake::{
    accept_key, check_server_handshake, check_upgrade, write_client_handshake,
    write_handshake_error, write_handshake_response, AcceptKey, HandshakeError, GUID,
    MAX_RESPONSE_HEAD,
};
pub use message::{Message, MessageReader, Next};
pub use sha1::{sha1, Sha1};

use std::fmt;

/// Why a connection must be failed (RFC 6455 §7.1.7). Every error is final: send a close frame
/// with [`WsError::close_code`] (and [`WsError::reason`]) and close the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsError {
    /// A framing or sequencing violation; the text says which. Close code 1002.
    Protocol(&'static str),
    /// A message (the sum of its fragments) larger than the reader's `max_message_bytes`. 1009.
    TooBig,
    /// A text message that isn't valid UTF-8. 1007.
    InvalidUtf8,
    /// A server received a frame without a mask (RFC 6455 §5.1). 1002.
    UnmaskedClientFrame,
    /// A client received a masked frame (RFC 6455 §5.1). 1002.
    MaskedServerFrame,
}

impl WsError {
    /// The status code for the close frame that fails the connection.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::Protocol(_) | WsError::UnmaskedClientFrame | WsError::MaskedServerFrame => {
                close_code::PROTOCOL_ERROR
            }
            WsError::TooBig => close_code::MESSAGE_TOO_BIG,
            WsError::InvalidUtf8 => close_code::INVALID_PAYLOAD,
        }
    }

    /// A short ASCII reason for the close frame (well under the 123-byte limit).
    pub fn reason(&self) -> &'static str {
        match self {
            WsError::Protocol(reason) => reason,
            WsError::TooBig => "message too big",
            WsError::InvalidUtf8 => "invalid UTF-8 in text message",
            WsError::UnmaskedClientFrame => "client frame not masked",
            WsError::MaskedServerFrame => "server frame masked",
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.close_code(), self.reason())
    }
}

impl std::error::Error for WsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_close_code_and_reason() {
        let cases = [
            (
                WsError::Protocol("reserved opcode"),
                1002,
                "reserved opcode",
            ),
            (WsError::TooBig, 1009, "message too big"),
            (WsError::InvalidUtf8, 1007, "invalid UTF-8 in text message"),
            (
                WsError::UnmaskedClientFrame,
                1002,
                "client frame not masked",
            ),
            (WsError::MaskedServerFrame, 1002, "server frame masked"),
        ];
        for (error, code, reason) in cases {
            assert_eq!(error.close_code(), code, "{error:?}");
            assert_eq!(error.reason(), reason, "{error:?}");
            assert!(reason.len() <= MAX_CLOSE_REASON && reason.is_ascii());
            assert_eq!(error.to_string(), format!("{code} {reason}"));
        }
    }
}
