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
mod tests {
    use super::*;

    fn header(
        fin: bool,
        opcode: OpCode,
        mask: Option<[u8; 4]>,
        payload_len: u64,
        header_len: usize,
    ) -> FrameHeader {
        FrameHeader {
            fin,
            opcode,
            masked: mask.is_some(),
            mask: mask.unwrap_or_default(),
            payload_len,
            header_len,
        }
    }

    /// Feeds every proper prefix (expecting Ok(None)) and then the whole buffer.
    fn parse_all_prefixes(bytes: &[u8]) -> Result<Option<FrameHeader>, WsError> {
        let whole = parse_frame_header(bytes);
        for len in 0..bytes.len() {
            let prefix = parse_frame_header(&bytes[..len]);
            match (&prefix, &whole) {
                (Ok(None), _) => assert!(
                    header_len_needed(&bytes[..len]) > len,
                    "need more than {len}"
                ),
                (Err(e), Err(w)) => assert_eq!(e, w, "prefix {len} of {bytes:02x?}"),
                _ => panic!("prefix {len} of {bytes:02x?}: {prefix:?} vs {whole:?}"),
            }
        }
        whole
    }

    #[test]
    fn lengths_in_all_three_forms() {
        let m = [0x37, 0xfa, 0x21, 0x3d];
        let cases: [(&[u8], FrameHeader); 10] = [
            (&[0x81, 0x00], header(true, OpCode::Text, None, 0, 2)),
            (&[0x81, 0x05], header(true, OpCode::Text, None, 5, 2)),
            (&[0x02, 0x7D], header(false, OpCode::Binary, None, 125, 2)),
            (
                &[0x82, 0x7E, 0x00, 0x7E],
                header(true, OpCode::Binary, None, 126, 4),
            ),
            (
                &[0x82, 0x7E, 0xFF, 0xFF],
                header(true, OpCode::Binary, None, 65535, 4),
            ),
            (
                &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0],
                header(true, OpCode::Binary, None, 65536, 10),
            ),
            (
                &[0x80, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                header(true, OpCode::Continuation, None, i64::MAX as u64, 10),
            ),
            (
                &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d],
                header(true, OpCode::Text, Some(m), 5, 6),
            ),
            (
                &[0x82, 0xFE, 0x01, 0x00, 0x37, 0xfa, 0x21, 0x3d],
                header(true, OpCode::Binary, Some(m), 256, 8),
            ),
            (
                &[0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0x37, 0xfa, 0x21, 0x3d],
                header(true, OpCode::Binary, Some(m), 65536, 14),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                parse_all_prefixes(bytes),
                Ok(Some(expected)),
                "{bytes:02x?}"
            );
            // Trailing payload bytes don't matter.
            let mut longer = bytes.to_vec();
            longer.extend_from_slice(b"payload");
            assert_eq!(parse_frame_header(&longer), Ok(Some(expected)));
        }
    }

    #[test]
    fn non_minimal_lengths_are_accepted() {
        assert_eq!(
            parse_all_prefixes(&[0x82, 0x7E, 0x00, 0x05]),
            Ok(Some(header(true, OpCode::Binary, None, 5, 4)))
        );
        assert_eq!(
            parse_all_prefixes(&[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x05]),
            Ok(Some(header(true, OpCode::Binary, None, 5, 10)))
        );
    }

    #[test]
    fn control_frames() {
        for (bits, opcode) in [
            (0x88, OpCode::Close),
            (0x89, OpCode::Ping),
            (0x8A, OpCode::Pong),
        ] {
            assert_eq!(
                parse_all_prefixes(&[bits, 0x7D]),
                Ok(Some(header(true, opcode, None, 125, 2)))
            );
            assert_eq!(
                parse_all_prefixes(&[bits, 0x7E, 0x00, 0x05]),
                Err(WsError::Protocol("control frame payload too long"))
            );
            assert_eq!(
                parse_all_prefixes(&[bits, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5]),
                Err(WsError::Protocol("control frame payload too long"))
            );
            assert_eq!(
                parse_all_prefixes(&[bits & 0x7F, 0x00]),
                Err(WsError::Protocol("fragmented control frame"))
            );
        }
    }

    #[test]
    fn every_error() {
        let cases: [(&[u8], &str); 10] = [
            (&[0xC1, 0x00], "reserved bits set"),
            (&[0xA1, 0x00], "reserved bits set"),
            (&[0x91, 0x00], "reserved bits set"),
            (&[0xF1, 0x80], "reserved bits set"),
            (&[0x83, 0x00], "reserved opcode"),
            (&[0x87, 0x00], "reserved opcode"),
            (&[0x8B, 0x00], "reserved opcode"),
            (&[0x8F, 0x00], "reserved opcode"),
            (&[0x09, 0x00], "fragmented control frame"),
            (
                &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                "64-bit payload length has its top bit set",
            ),
        ];
        for (bytes, message) in cases {
            assert_eq!(
                parse_all_prefixes(bytes),
                Err(WsError::Protocol(message)),
                "{bytes:02x?}"
            );
        }
        // Every reserved opcode, with and without FIN.
        for bits in (0x3..=0x7).chain(0xB..=0xF) {
            for fin in [0x00, 0x80] {
                assert_eq!(
                    parse_frame_header(&[fin | bits]),
                    Err(WsError::Protocol("reserved opcode"))
                );
            }
        }
    }

    #[test]
    fn every_first_byte_is_classified() {
        for first in 0..=255u8 {
            let result = parse_frame_header(&[first, 0x00]);
            let opcode = OpCode::from_bits(first & 0x0F);
            let ok =
                first & 0x70 == 0 && opcode.is_some_and(|op| !op.is_control() || first & 0x80 != 0);
            assert_eq!(result.is_ok(), ok, "{first:#04x}: {result:?}");
            if let Ok(Some(h)) = result {
                assert_eq!(h.opcode.bits() | if h.fin { 0x80 } else { 0 }, first);
            }
        }
    }

    #[test]
    fn empty_buffer_needs_two_bytes() {
        assert_eq!(parse_frame_header(&[]), Ok(None));
        assert_eq!(header_len_needed(&[]), 2);
        assert_eq!(header_len_needed(&[0x81]), 2);
        assert_eq!(header_len_needed(&[0x81, 0x05]), 2);
        assert_eq!(header_len_needed(&[0x81, 0x85]), 6);
        assert_eq!(header_len_needed(&[0x81, 0x7E]), 4);
        assert_eq!(header_len_needed(&[0x81, 0xFE]), 8);
        assert_eq!(header_len_needed(&[0x81, 0x7F]), 10);
        assert_eq!(header_len_needed(&[0x81, 0xFF]), MAX_HEADER_LEN);
    }

    #[test]
    fn mask_round_trip_for_all_offsets_and_lengths() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
        for offset in 0..64 {
            for len in 0..=64 {
                let original = &data[..len];
                let mut buf = original.to_vec();
                apply_mask(&mut buf, mask, offset);
                for (i, (&masked, &plain)) in buf.iter().zip(original).enumerate() {
                    assert_eq!(
                        masked,
                        plain ^ mask[(offset + i) % 4],
                        "o{offset} l{len} i{i}"
                    );
                }
                apply_mask(&mut buf, mask, offset);
                assert_eq!(buf, original, "offset {offset} len {len}");
            }
        }
    }

    #[test]
    fn masking_in_pieces_equals_masking_whole() {
        let mask = [0xDE, 0xAD, 0xBE, 0xEF];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, mask, 0);
        for split in 0..=data.len() {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            apply_mask(a, mask, 0);
            apply_mask(b, mask, split);
            assert_eq!(pieces, whole, "split {split}");
        }
    }

    #[test]
    fn encoders_use_minimal_lengths() {
        for (len, header_len) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (70_000, 10),
        ] {
            let payload = vec![b'x'; len];
            let mut out = vec![0xEE];
            write_frame(&mut out, OpCode::Binary, true, &payload);
            let h = parse_frame_header(&out[1..]).unwrap().unwrap();
            assert_eq!(
                h,
                header(true, OpCode::Binary, None, len as u64, header_len)
            );
            assert_eq!(&out[1 + header_len..], &payload[..]);

            let mask = [1, 2, 3, 4];
            let mut out = Vec::new();
            write_masked_frame(&mut out, OpCode::Text, false, &payload, mask);
            let h = parse_frame_header(&out).unwrap().unwrap();
            assert_eq!(
                h,
                header(false, OpCode::Text, Some(mask), len as u64, header_len + 4)
            );
            let body = &mut out[h.header_len..];
            apply_mask(body, mask, 0);
            assert_eq!(body, &payload[..]);
        }
    }

    #[test]
    fn encoded_bytes_match_rfc_examples() {
        // RFC 6455 §5.7.
        let mut out = Vec::new();
        write_frame(&mut out, OpCode::Text, true, b"Hello");
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        write_masked_frame(
            &mut out,
            OpCode::Text,
            true,
            b"Hello",
            [0x37, 0xfa, 0x21, 0x3d],
        );
        assert_eq!(
            out,
            [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        out.clear();
        write_frame(&mut out, OpCode::Text, false, b"Hel");
        write_frame(&mut out, OpCode::Continuation, true, b"lo");
        assert_eq!(out, [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        out.clear();
        write_frame(&mut out, OpCode::Ping, true, b"Hello");
        assert_eq!(out, [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        write_masked_frame(
            &mut out,
            OpCode::Pong,
            true,
            b"Hello",
            [0x37, 0xfa, 0x21, 0x3d],
        );
        assert_eq!(
            out,
            [0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        out.clear();
        write_frame(&mut out, OpCode::Binary, true, &[0; 256]);
        assert_eq!(&out[..4], [0x82, 0x7E, 0x01, 0x00]);
        out.clear();
        write_frame(&mut out, OpCode::Binary, true, &[0; 65536]);
        assert_eq!(&out[..10], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    }

    #[test]
    fn close_frames_truncate_the_reason_at_a_char_boundary() {
        let mut out = Vec::new();
        write_close(&mut out, close_code::NORMAL, "bye");
        assert_eq!(out, [0x88, 0x05, 0x03, 0xE8, b'b', b'y', b'e']);

        out.clear();
        write_close(&mut out, close_code::GOING_AWAY, "");
        assert_eq!(out, [0x88, 0x02, 0x03, 0xE9]);

        // 122 ASCII bytes then a 2-byte character: the character would end at 124 > 123.
        let reason = format!("{}é", "a".repeat(122));
        out.clear();
        write_close(&mut out, close_code::PROTOCOL_ERROR, &reason);
        assert_eq!(out[1] as usize, 2 + 122);
        assert_eq!(&out[4..], "a".repeat(122).as_bytes());

        let long = "é".repeat(200);
        out.clear();
        write_masked_close(&mut out, close_code::MESSAGE_TOO_BIG, &long, [9, 8, 7, 6]);
        let h = parse_frame_header(&out).unwrap().unwrap();
        assert!(h.masked && h.payload_len == 2 + 122, "{h:?}");
        let body = &mut out[h.header_len..];
        apply_mask(body, [9, 8, 7, 6], 0);
        assert_eq!(&body[..2], 1009u16.to_be_bytes());
        assert_eq!(std::str::from_utf8(&body[2..]).unwrap(), "é".repeat(61));
    }

    #[test]
    fn close_code_validity() {
        let valid: Vec<u16> = (0..=u16::MAX)
            .filter(|&c| close_code::is_valid_received(c))
            .collect();
        assert_eq!(valid.len(), 4 + 8 + 2000);
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!close_code::is_valid_received(code), "{code}");
        }
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            assert!(close_code::is_valid_received(code), "{code}");
        }
    }

    #[test]
    fn opcode_bits_round_trip() {
        for bits in 0..16u8 {
            if let Some(op) = OpCode::from_bits(bits) {
                assert_eq!(op.bits(), bits);
                assert_eq!(op.is_control(), bits >= 8);
            }
        }
    }
}
