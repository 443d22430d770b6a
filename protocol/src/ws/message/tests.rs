//! Tests of [`MessageReader`]: messages in place and reassembled, limits, UTF-8, close frames,
//! masking by role, sequencing errors.

use super::*;
use crate::ws::test_support::{own, read_all, Outcome, Owned};
use crate::ws::{write_close, write_frame, write_masked_close, write_masked_frame, MAX_HEADER_LEN};

const MASK: [u8; 4] = [0xA1, 0x5C, 0x03, 0xFE];

/// Reads `stream` whole and fed one byte at a time; both must agree.
fn read_checked(max: usize, require_masked: bool, stream: &[u8]) -> Outcome {
    let whole = read_all(&mut MessageReader::new(max, require_masked), stream);
    let mut reader = MessageReader::new(max, require_masked);
    let mut buf = Vec::new();
    let mut messages = Vec::new();
    let mut end = Ok(0);
    'feed: for &byte in stream {
        buf.push(byte);
        loop {
            match reader.next(&mut buf) {
                Ok(Next::Message { message, consumed }) => {
                    messages.push(own(message));
                    buf.drain(..consumed);
                }
                Ok(Next::NeedMore { consumed, .. }) => {
                    buf.drain(..consumed);
                    end = Ok(buf.len());
                    break;
                }
                Err(error) => {
                    end = Err(error);
                    break 'feed;
                }
            }
        }
    }
    if stream.is_empty() {
        end = whole.1;
    }
    assert_eq!((messages, end), whole, "byte-at-a-time feeding disagrees");
    whole
}

fn client_frame(out: &mut Vec<u8>, opcode: OpCode, fin: bool, payload: &[u8]) {
    write_masked_frame(out, opcode, fin, payload, MASK);
}

#[test]
fn unfragmented_messages_are_returned_in_place() {
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, true, b"hello");
    client_frame(&mut stream, OpCode::Binary, true, &[0, 1, 2, 255]);
    client_frame(&mut stream, OpCode::Text, true, b"");
    client_frame(&mut stream, OpCode::Ping, true, b"p");
    client_frame(&mut stream, OpCode::Pong, true, b"");
    let mut reader = MessageReader::new(1024, true);
    let mut buf = stream.clone();
    let buf_range = buf.as_ptr_range();
    match reader.next(&mut buf) {
        Ok(Next::Message {
            message: Message::Text(text),
            consumed: 11,
        }) => {
            assert_eq!(text, "hello");
            // Zero-copy: the text lives in the read buffer.
            assert!(buf_range.contains(&text.as_ptr()));
        }
        other => panic!("{other:?}"),
    }
    let (messages, end) = read_checked(1024, true, &stream);
    assert_eq!(
        messages,
        [
            Owned::Text("hello".into()),
            Owned::Binary(vec![0, 1, 2, 255]),
            Owned::Text(String::new()),
            Owned::Ping(b"p".to_vec()),
            Owned::Pong(Vec::new()),
        ]
    );
    assert_eq!(end, Ok(0));
}

#[test]
fn fragmented_text_with_a_ping_in_between() {
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, b"Hel");
    client_frame(&mut stream, OpCode::Continuation, false, b"lo, ");
    client_frame(&mut stream, OpCode::Ping, true, b"are you there?");
    client_frame(&mut stream, OpCode::Continuation, true, b"world");
    client_frame(&mut stream, OpCode::Text, true, b"next");

    // Step by step, with the exact consumed counts.
    let mut reader = MessageReader::new(64, true);
    let mut buf = stream.clone();
    let first_two = (6 + 3) + (6 + 4);
    match reader.next(&mut buf) {
        Ok(Next::Message {
            message: Message::Ping(b"are you there?"),
            consumed,
        }) => assert_eq!(consumed, first_two + 6 + 14),
        other => panic!("{other:?}"),
    }
    assert!(reader.in_fragmented_message());
    buf.drain(..first_two + 20);
    match reader.next(&mut buf) {
        Ok(Next::Message {
            message: Message::Text("Hello, world"),
            consumed: 11,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!reader.in_fragmented_message());
    buf.drain(..11);
    assert_eq!(
        reader.next(&mut buf),
        Ok(Next::Message {
            message: Message::Text("next"),
            consumed: 10
        })
    );

    let (messages, end) = read_checked(64, true, &stream);
    assert_eq!(
        messages,
        [
            Owned::Ping(b"are you there?".to_vec()),
            Owned::Text("Hello, world".into()),
            Owned::Text("next".into()),
        ]
    );
    assert_eq!(end, Ok(0));
}

#[test]
fn fragments_are_consumed_before_the_message_completes() {
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Binary, false, b"abc");
    client_frame(&mut stream, OpCode::Continuation, false, b"");
    let absorbed = stream.len();
    client_frame(&mut stream, OpCode::Continuation, true, b"def");
    let mut reader = MessageReader::new(64, true);
    let mut buf = stream.clone();
    // Everything but the last byte: the two fragments are absorbed.
    assert_eq!(
        reader.next(&mut buf[..stream.len() - 1]),
        Ok(Next::NeedMore {
            consumed: absorbed,
            min_len: 9
        })
    );
    let mut rest = buf[absorbed..].to_vec();
    // Asking again with still-incomplete bytes changes nothing (no double unmasking).
    assert_eq!(
        reader.next(&mut rest[..8]),
        Ok(Next::NeedMore {
            consumed: 0,
            min_len: 9
        })
    );
    assert_eq!(
        reader.next(&mut rest),
        Ok(Next::Message {
            message: Message::Binary(b"abcdef"),
            consumed: 9
        })
    );
    // The reassembly vector is reused for the next message.
    let mut more = Vec::new();
    client_frame(&mut more, OpCode::Binary, false, b"x");
    client_frame(&mut more, OpCode::Continuation, true, b"y");
    assert_eq!(
        reader.next(&mut more),
        Ok(Next::Message {
            message: Message::Binary(b"xy"),
            consumed: 14
        })
    );
}

#[test]
fn empty_and_partial_buffers_need_more() {
    let mut reader = MessageReader::new(64, true);
    assert_eq!(
        reader.next(&mut []),
        Ok(Next::NeedMore {
            consumed: 0,
            min_len: 2
        })
    );
    let mut frame = Vec::new();
    client_frame(&mut frame, OpCode::Text, true, &[b'a'; 50]);
    for len in 0..frame.len() {
        let mut prefix = frame[..len].to_vec();
        let expected_min = match len {
            0 | 1 => 2,
            2..=5 => 6,
            _ => 56,
        };
        assert_eq!(
            reader.next(&mut prefix),
            Ok(Next::NeedMore {
                consumed: 0,
                min_len: expected_min
            }),
            "{len}"
        );
        // Nothing was unmasked in place.
        assert_eq!(prefix, &frame[..len]);
    }
}

#[test]
fn too_big_is_reported_on_the_header() {
    // 16-bit length announcing 1000 > 999, with no payload at all.
    let header = [0x82, 0xFE, 0x03, 0xE8, 1, 2, 3, 4];
    let (messages, end) = read_checked(999, true, &header);
    assert!(messages.is_empty());
    assert_eq!(end, Err(WsError::TooBig));
    // Exactly at the limit is fine (waits for the payload).
    let mut reader = MessageReader::new(1000, true);
    assert_eq!(
        reader.next(&mut header.clone()),
        Ok(Next::NeedMore {
            consumed: 0,
            min_len: 1008
        })
    );

    // The largest 64-bit length.
    let mut huge = vec![0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    huge.extend_from_slice(&MASK);
    // Without a limit it is merely announced (min_len = 14 + i64::MAX).
    assert_eq!(read_checked(usize::MAX, true, &huge).1, Ok(14));
    assert_eq!(read_checked(1 << 20, true, &huge).1, Err(WsError::TooBig));

    // Fragments: the sum counts; the third fragment's header pushes it over.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, &[b'a'; 40]);
    client_frame(&mut stream, OpCode::Continuation, false, &[b'b'; 40]);
    stream.extend_from_slice(&[0x80, 0x95, 1, 2, 3, 4]); // continuation, FIN, 21 bytes: 101 > 100
    assert_eq!(
        read_checked(100, true, &stream),
        (vec![], Err(WsError::TooBig))
    );
    // 20 bytes would fit exactly.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, &[b'a'; 40]);
    client_frame(&mut stream, OpCode::Continuation, false, &[b'b'; 40]);
    client_frame(&mut stream, OpCode::Continuation, true, &[b'c'; 20]);
    let (messages, end) = read_checked(100, true, &stream);
    assert_eq!(end, Ok(0));
    assert_eq!(
        messages,
        [Owned::Text(format!(
            "{}{}{}",
            "a".repeat(40),
            "b".repeat(40),
            "c".repeat(20)
        ))]
    );

    // Control frames don't count against a small message limit.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Ping, true, &[7; 125]);
    assert_eq!(
        read_checked(10, true, &stream).0,
        [Owned::Ping(vec![7; 125])]
    );
    assert_eq!(
        MessageReader::new(10, true).max_frame_len(),
        MAX_HEADER_LEN + 125
    );
    assert_eq!(
        MessageReader::new(0, true).max_frame_len(),
        MAX_HEADER_LEN + 125
    );
    assert_eq!(
        MessageReader::new(usize::MAX, true).max_frame_len(),
        usize::MAX
    );
}

#[test]
fn utf8_is_validated_over_the_whole_message() {
    let euro = "€".as_bytes(); // E2 82 AC
                               // A code point split across fragments is accepted once complete.
    for split in 0..=euro.len() {
        let mut stream = Vec::new();
        client_frame(
            &mut stream,
            OpCode::Text,
            false,
            &[b"a", &euro[..split]].concat(),
        );
        client_frame(&mut stream, OpCode::Ping, true, b"");
        client_frame(
            &mut stream,
            OpCode::Continuation,
            false,
            &euro[split..split.clamp(1, 3)],
        );
        client_frame(
            &mut stream,
            OpCode::Continuation,
            true,
            &[&euro[split.clamp(1, 3)..], b"z"].concat(),
        );
        let (messages, end) = read_checked(64, true, &stream);
        assert_eq!(end, Ok(0), "split {split}");
        assert_eq!(
            messages,
            [Owned::Ping(vec![]), Owned::Text("a€z".into())],
            "split {split}"
        );
    }
    // Every byte of a 4-byte character in its own fragment.
    let emoji = "😀".as_bytes();
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, &emoji[..1]);
    for &byte in &emoji[1..] {
        client_frame(&mut stream, OpCode::Continuation, false, &[byte]);
    }
    client_frame(&mut stream, OpCode::Continuation, true, b"");
    assert_eq!(
        read_checked(64, true, &stream).0,
        [Owned::Text("😀".into())]
    );

    let invalid_single: [&[u8]; 6] = [
        b"\xff",
        b"a\xc3",            // truncated
        b"\xc0\xaf",         // overlong
        b"\xed\xa0\x80",     // surrogate
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"ok\x80",           // stray continuation byte
    ];
    for bytes in invalid_single {
        let mut stream = Vec::new();
        client_frame(&mut stream, OpCode::Text, true, bytes);
        assert_eq!(
            read_checked(64, true, &stream),
            (vec![], Err(WsError::InvalidUtf8)),
            "{bytes:02x?}"
        );
        // The same bytes are fine as binary.
        let mut stream = Vec::new();
        client_frame(&mut stream, OpCode::Binary, true, bytes);
        assert_eq!(
            read_checked(64, true, &stream).0,
            [Owned::Binary(bytes.to_vec())]
        );
    }

    // Fragmented: a message ending inside a character.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, b"a");
    client_frame(&mut stream, OpCode::Continuation, true, &euro[..2]);
    assert_eq!(
        read_checked(64, true, &stream),
        (vec![], Err(WsError::InvalidUtf8))
    );

    // Fail fast: an invalid fragment fails before the message ends.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, b"a\xff");
    let (messages, end) = read_checked(64, true, &stream);
    assert_eq!((messages, end), (vec![], Err(WsError::InvalidUtf8)));
    // Invalid continuation of a character split across fragments.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, &euro[..2]);
    client_frame(&mut stream, OpCode::Continuation, false, b"x");
    assert_eq!(
        read_checked(64, true, &stream),
        (vec![], Err(WsError::InvalidUtf8))
    );
}

#[test]
fn fragmentation_sequencing_errors() {
    let cases: Vec<(Vec<(OpCode, bool)>, &str)> = vec![
        (
            vec![(OpCode::Continuation, true)],
            "continuation frame without a message",
        ),
        (
            vec![(OpCode::Continuation, false)],
            "continuation frame without a message",
        ),
        (
            vec![(OpCode::Text, false), (OpCode::Text, true)],
            "new data frame inside a fragmented message",
        ),
        (
            vec![(OpCode::Text, false), (OpCode::Binary, false)],
            "new data frame inside a fragmented message",
        ),
        (
            vec![(OpCode::Binary, true), (OpCode::Continuation, true)],
            "continuation frame without a message",
        ),
        (
            vec![
                (OpCode::Binary, false),
                (OpCode::Continuation, true),
                (OpCode::Continuation, true),
            ],
            "continuation frame without a message",
        ),
    ];
    for (frames, reason) in cases {
        let mut stream = Vec::new();
        for &(opcode, fin) in &frames {
            client_frame(&mut stream, opcode, fin, b"x");
        }
        let (_, end) = read_checked(64, true, &stream);
        assert_eq!(end, Err(WsError::Protocol(reason)), "{frames:?}");
    }
}

#[test]
fn close_payloads() {
    type Case<'a> = (&'a [u8], Option<(u16, &'a str)>);
    let valid: [Case<'_>; 7] = [
        (b"", None),
        (&[0x03, 0xE8], Some((1000, ""))),
        (b"\x03\xe9going away", Some((1001, "going away"))),
        (b"\x03\xf3", Some((1011, ""))),
        (b"\x03\xf5", Some((1013, ""))),
        (b"\x0b\xb8\xc3\xa9", Some((3000, "é"))),
        (b"\x13\x87", Some((4999, ""))),
    ];
    for (payload, expected) in valid {
        let mut stream = Vec::new();
        client_frame(&mut stream, OpCode::Close, true, payload);
        let (messages, end) = read_checked(64, true, &stream);
        assert_eq!(end, Ok(0));
        assert_eq!(
            messages,
            [Owned::Close(expected.map(|(c, r)| (c, r.to_owned())))],
            "{payload:02x?}"
        );
    }

    let invalid: [(&[u8], &str); 12] = [
        (&[0x03], "close frame with a 1-byte payload"),
        (&[0x00, 0x00], "invalid close code"),
        (&[0x03, 0xE7], "invalid close code"), // 999
        (&[0x03, 0xEC], "invalid close code"), // 1004
        (&[0x03, 0xED], "invalid close code"), // 1005
        (&[0x03, 0xEE], "invalid close code"), // 1006
        (&[0x03, 0xF7], "invalid close code"), // 1015
        (&[0x07, 0xD0], "invalid close code"), // 2000
        (&[0x0B, 0xB7], "invalid close code"), // 2999
        (&[0x13, 0x88], "invalid close code"), // 5000
        (&[0xFF, 0xFF], "invalid close code"),
        (b"\x03\xe8bad \xff", "invalid UTF-8 in close reason"),
    ];
    for (payload, reason) in invalid {
        let mut stream = Vec::new();
        client_frame(&mut stream, OpCode::Close, true, payload);
        assert_eq!(
            read_checked(64, true, &stream),
            (vec![], Err(WsError::Protocol(reason))),
            "{payload:02x?}"
        );
    }

    // Encoded by our own writers.
    let mut stream = Vec::new();
    write_masked_close(&mut stream, close_code::GOING_AWAY, "bye", MASK);
    assert_eq!(
        read_checked(64, true, &stream).0,
        [Owned::Close(Some((1001, "bye".into())))]
    );
    let mut stream = Vec::new();
    write_close(&mut stream, close_code::TRY_AGAIN_LATER, "busy");
    assert_eq!(
        read_checked(64, false, &stream).0,
        [Owned::Close(Some((1013, "busy".into())))]
    );
}

#[test]
fn nothing_may_follow_a_close_frame() {
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Close, true, &[0x03, 0xE8]);
    client_frame(&mut stream, OpCode::Text, true, b"late");
    let (messages, end) = read_checked(64, true, &stream);
    assert_eq!(messages, [Owned::Close(Some((1000, String::new())))]);
    assert_eq!(end, Err(WsError::Protocol("data after close frame")));

    // A close frame between fragments is returned and ends the stream.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, false, b"half");
    client_frame(&mut stream, OpCode::Close, true, b"");
    let mut reader = MessageReader::new(64, true);
    let mut buf = stream.clone();
    assert_eq!(
        reader.next(&mut buf),
        Ok(Next::Message {
            message: Message::Close(None),
            consumed: stream.len()
        })
    );
    assert!(reader.is_closed());
    assert_eq!(
        reader.next(&mut []),
        Ok(Next::NeedMore {
            consumed: 0,
            min_len: 2
        })
    );
}

#[test]
fn masking_must_match_the_role() {
    let mut unmasked = Vec::new();
    write_frame(&mut unmasked, OpCode::Text, true, b"hi");
    assert_eq!(
        read_checked(64, true, &unmasked),
        (vec![], Err(WsError::UnmaskedClientFrame))
    );
    assert_eq!(
        read_checked(64, false, &unmasked).0,
        [Owned::Text("hi".into())]
    );

    let mut masked = Vec::new();
    write_masked_frame(&mut masked, OpCode::Ping, true, b"hi", MASK);
    assert_eq!(
        read_checked(64, false, &masked),
        (vec![], Err(WsError::MaskedServerFrame))
    );
    assert_eq!(
        read_checked(64, true, &masked).0,
        [Owned::Ping(b"hi".to_vec())]
    );

    // An unmasked frame after good ones: the good ones are delivered first.
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Text, true, b"ok");
    write_frame(&mut stream, OpCode::Text, true, b"bad");
    let (messages, end) = read_checked(64, true, &stream);
    assert_eq!(messages, [Owned::Text("ok".into())]);
    assert_eq!(end, Err(WsError::UnmaskedClientFrame));
}

#[test]
fn errors_are_sticky() {
    let mut reader = MessageReader::new(64, true);
    let mut bad = vec![0x83, 0x80, 0, 0, 0, 0];
    assert_eq!(
        reader.next(&mut bad),
        Err(WsError::Protocol("reserved opcode"))
    );
    let mut good = Vec::new();
    client_frame(&mut good, OpCode::Text, true, b"fine");
    assert_eq!(
        reader.next(&mut good),
        Err(WsError::Protocol("reserved opcode"))
    );
    assert_eq!(
        reader.next(&mut []),
        Err(WsError::Protocol("reserved opcode"))
    );
}

#[test]
fn large_reassembly_capacity_is_released() {
    let mut reader = MessageReader::new(1 << 20, true);
    let mut stream = Vec::new();
    client_frame(&mut stream, OpCode::Binary, false, &vec![1; 300_000]);
    client_frame(&mut stream, OpCode::Continuation, true, &vec![2; 300_000]);
    let mut buf = stream.clone();
    match reader.next(&mut buf) {
        Ok(Next::Message {
            message: Message::Binary(data),
            consumed,
        }) => {
            assert_eq!(consumed, stream.len());
            assert_eq!(data.len(), 600_000);
            assert!(data[..300_000].iter().all(|&b| b == 1));
            assert!(data[300_000..].iter().all(|&b| b == 2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        reader.next(&mut []),
        Ok(Next::NeedMore {
            consumed: 0,
            min_len: 2
        })
    );
    assert!(reader.partial.capacity() <= RETAINED_CAPACITY);
    assert!(reader.partial.is_empty());
}

#[test]
fn length_forms_decode_to_the_same_message() {
    for len in [0, 1, 125, 126, 127, 65535, 65536, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        let mut stream = Vec::new();
        client_frame(&mut stream, OpCode::Text, true, &payload);
        let messages = read_all(&mut MessageReader::new(1 << 17, true), &stream).0;
        assert_eq!(
            messages,
            [Owned::Text(String::from_utf8(payload).unwrap())],
            "{len}"
        );
    }
    // A non-minimal 64-bit encoding of 3.
    let mut stream = vec![0x81, 0xFF, 0, 0, 0, 0, 0, 0, 0, 3];
    stream.extend_from_slice(&MASK);
    let mut payload = *b"abc";
    apply_mask(&mut payload, MASK, 0);
    stream.extend_from_slice(&payload);
    assert_eq!(
        read_checked(64, true, &stream).0,
        [Owned::Text("abc".into())]
    );
}

/// The caller loop from the module docs compiles and works with a growing Vec buffer.
#[test]
fn caller_loop_drains_consumed_bytes() {
    let mut wire = Vec::new();
    for i in 0..20u8 {
        client_frame(&mut wire, OpCode::Text, false, &[b'a' + i]);
        client_frame(&mut wire, OpCode::Ping, true, &[i]);
        client_frame(&mut wire, OpCode::Continuation, true, b"!");
    }
    let mut reader = MessageReader::new(16, true);
    let mut read_buf: Vec<u8> = Vec::new();
    let mut texts = Vec::new();
    let mut pings = 0;
    for chunk in wire.chunks(7) {
        read_buf.extend_from_slice(chunk);
        loop {
            let step = reader.next(&mut read_buf).expect("valid stream");
            let consumed = step.consumed();
            let more = match step {
                Next::Message { message, .. } => {
                    match message {
                        Message::Text(text) => texts.push(text.to_owned()),
                        Message::Ping(_) => pings += 1,
                        other => panic!("{other:?}"),
                    }
                    true
                }
                Next::NeedMore { .. } => false,
            };
            read_buf.drain(..consumed);
            if !more {
                break;
            }
        }
    }
    assert!(read_buf.is_empty());
    assert_eq!(pings, 20);
    assert_eq!(texts.len(), 20);
    assert_eq!(texts[3], "d!");
}
