//! Frame headers, masking and frame encoders (RFC 6455 §5).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! Receiving, decided where the RFC leaves room:
//! - RSV1-3 must be 0: this server negotiates no extension.
//! - A length that is not minimally encoded (e.g. 5 in the 16-bit form) is ACCEPTED. RFC 6455
//!   §5.2 puts the "minimal number of bytes" MUST on the sender only; such a length is still
//!   unambiguous, and the value (not its encoding) is what the size limits check.
//! - A 64-bit length with the most significant bit set is an error (§5.2).
//! - Control frames must have FIN set and at most 125 payload bytes (§5.5).
//!
//! Whether the MASK bit must be set depends on the role, so [`super::MessageReader`] checks it.

use super::WsError;

/// The largest frame header: 2 + 8 (64-bit length) + 4 (mask).
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The largest reason in a close frame: the payload less the 2-byte code.
pub const MAX_CLOSE_REASON: usize = MAX_CONTROL_PAYLOAD - 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl OpCode {
    /// The 4-bit wire value.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// The opcode for a 4-bit wire value; None for the reserved values 0x3-0x7 and 0xB-0xF.
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        match bits {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// Close, Ping and Pong (opcodes with the high bit set).
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Close status codes (RFC 6455 §7.4.1).
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Reserved: must never be sent; means "no code was present".
    pub const NO_STATUS: u16 = 1005;
    /// Reserved: must never be sent; means "closed without a close frame".
    pub const ABNORMAL: u16 = 1006;
    pub const INVALID_PAYLOAD: u16 = 1007;
    pub const POLICY_VIOLATION: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const MANDATORY_EXTENSION: u16 = 1010;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const TRY_AGAIN_LATER: u16 = 1013;

    /// Whether a peer may put `code` in a close frame: RFC 6455's 1000-1003 and 1007-1011, the
    /// later IANA registrations 1012 (service restart), 1013 (try again later, which this server
    /// itself sends) and 1014 (bad gateway), and the library/private range 3000-4999. 1004
    /// (reserved), 1005, 1006 and 1015 (TLS failure) must never be sent; every other code below
    /// 3000 is unassigned.
    pub fn is_valid_received(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// A parsed frame header. The payload is `payload_len` bytes starting `header_len` bytes after the
/// header's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub fin: bool,
    pub opcode: OpCode,
    pub masked: bool,
    /// All zero when not `masked`.
    pub mask: [u8; 4],
    /// At most `i64::MAX` (a larger 64-bit length is rejected).
    pub payload_len: u64,
    /// 2 to [`MAX_HEADER_LEN`].
    pub header_len: usize,
}

/// Header bytes implied by the second header byte: 2, plus 2 or 8 for an extended length, plus 4
/// for a mask.
fn header_len_for(second: u8) -> usize {
    let length = match second & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + length + mask
}

/// How many bytes `buf` must hold before [`parse_frame_header`] can return a header: 2 until the
/// second byte is there, then the full header length. Always in `1..=MAX_HEADER_LEN` and
/// `>= 2` once `buf` is non-empty.
pub fn header_len_needed(buf: &[u8]) -> usize {
    buf.get(1).map_or(2, |&second| header_len_for(second))
}

/// Parses one frame header from the front of `buf`. Ok(None) if `buf` doesn't hold the whole
/// header yet ([`header_len_needed`] says how much it must). Errors are reported as soon as the
/// offending byte is present, checked in wire order, so a prefix of a buffer yields either
/// Ok(None) or the same result as the whole buffer.
pub fn parse_frame_header(buf: &[u8]) -> Result<Option<FrameHeader>, WsError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(WsError::Protocol("reserved bits set"));
    }
    let fin = first & 0x80 != 0;
    let opcode = OpCode::from_bits(first & 0x0F).ok_or(WsError::Protocol("reserved opcode"))?;
    if opcode.is_control() && !fin {
        return Err(WsError::Protocol("fragmented control frame"));
    }

    let Some(&second) = buf.get(1) else {
        return Ok(None);
    };
    let masked = second & 0x80 != 0;
    let short_len = second & 0x7F;
    if opcode.is_control() && usize::from(short_len) > MAX_CONTROL_PAYLOAD {
        return Err(WsError::Protocol("control frame payload too long"));
    }

    let (payload_len, mut pos) = match short_len {
        126 => {
            let Some(bytes) = buf.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4)
        }
        127 => {
            // The most significant bit is judged as soon as its byte arrives.
            if let Some(&top) = buf.get(2) {
                if top & 0x80 != 0 {
                    return Err(WsError::Protocol(
                        "64-bit payload length has its top bit set",
                    ));
                }
            }
            let Some(bytes) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut length = [0u8; 8];
            length.copy_from_slice(bytes);
            (u64::from_be_bytes(length), 10)
        }
        short => (u64::from(short), 2),
    };

    let mut mask = [0u8; 4];
    if masked {
        let Some(bytes) = buf.get(pos..pos + 4) else {
            return Ok(None);
        };
        mask.copy_from_slice(bytes);
        pos += 4;
    }
    debug_assert_eq!(pos, header_len_for(second));
    debug_assert!(pos <= MAX_HEADER_LEN);
    debug_assert!(payload_len <= i64::MAX as u64);
    Ok(Some(FrameHeader {
        fin,
        opcode,
        masked,
        mask,
        payload_len,
        header_len: pos,
    }))
}

/// XORs `payload` with `mask` (RFC 6455 §5.3). `offset` is the position of `payload[0]` within the
/// frame's payload, so a payload can be (un)masked in pieces. Masking is its own inverse.
/// Processes 8 bytes at a time.
pub fn apply_mask(payload: &mut [u8], mask: [u8; 4], offset: usize) {
    let shift = offset % 4;
    let mask = [
        mask[shift],
        mask[(shift + 1) % 4],
        mask[(shift + 2) % 4],
        mask[(shift + 3) % 4],
    ];
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        if let Ok(bytes) = <&mut [u8; 8]>::try_from(chunk) {
            *bytes = (u64::from_ne_bytes(*bytes) ^ wide).to_ne_bytes();
        }
    }
    // Chunks are 8 bytes, a multiple of 4, so the remainder starts at mask[0] again.
    for (byte, m) in chunks.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= m;
    }
}

/// Appends a frame header. The payload length is written in the minimal form.
fn write_header(out: &mut Vec<u8>, opcode: OpCode, fin: bool, len: usize, mask: Option<[u8; 4]>) {
    debug_assert!(
        !opcode.is_control() || (fin && len <= MAX_CONTROL_PAYLOAD),
        "control frames must be unfragmented with at most 125 payload bytes"
    );
    let first = if fin { 0x80 } else { 0 } | opcode.bits();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    out.push(first);
    if len <= 125 {
        out.push(mask_bit | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(mask) = mask {
        out.extend_from_slice(&mask);
    }
}

/// Appends an unmasked frame (server to client). Control frames must have `fin` and at most 125
/// payload bytes (a caller bug otherwise: checked by a debug assertion).
pub fn write_frame(out: &mut Vec<u8>, opcode: OpCode, fin: bool, payload: &[u8]) {
    out.reserve(MAX_HEADER_LEN + payload.len());
    write_header(out, opcode, fin, payload.len(), None);
    out.extend_from_slice(payload);
}

/// Appends a frame masked with `mask` (client to server). Same rules as [`write_frame`].
pub fn write_masked_frame(
    out: &mut Vec<u8>,
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    mask: [u8; 4],
) {
    out.reserve(MAX_HEADER_LEN + payload.len());
    write_header(out, opcode, fin, payload.len(), Some(mask));
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask, 0);
}

/// The close payload: the code, then `reason` cut to [`MAX_CLOSE_REASON`] bytes at a character
/// boundary.
fn close_payload(code: u16, reason: &str) -> ([u8; MAX_CONTROL_PAYLOAD], usize) {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    (payload, 2 + end)
}

/// Appends a server close frame with `code` and `reason` (cut to 123 bytes at a character
/// boundary so the frame stays valid).
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let (payload, len) = close_payload(code, reason);
    write_frame(out, OpCode::Close, true, &payload[..len]);
}

/// Appends a client (masked) close frame; see [`write_close`].
pub fn write_masked_close(out: &mut Vec<u8>, code: u16, reason: &str, mask: [u8; 4]) {
    let (payload, len) = close_payload(code, reason);
    write_masked_frame(out, OpCode::Close, true, &payload[..len], mask);
}

#[cfg(test)]
mod tests;
