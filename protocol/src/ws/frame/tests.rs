//! Tests of frame headers (every length form, every error), masking, the frame and close encoders,
//! and close codes.

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
