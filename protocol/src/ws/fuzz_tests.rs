//! Deterministic randomized robustness tests (no extra crates): random bytes, random valid frame
//! streams (checked against the messages they were built from) and mutations of them, each read
//! whole and split at random points. The properties: `MessageReader::next` never panics;
//! `consumed <= buf.len()`; a message consumes at least one byte; `NeedMore::min_len` exceeds what
//! is left and fits `max_frame_len`; asking again without new bytes changes nothing (no double
//! unmasking); and split feeding yields exactly the messages and outcome of whole feeding.
//! `protocol/fuzz` (`ws_frames`) runs the same properties under libFuzzer.

use super::{
    parse_frame_header, write_frame, write_masked_frame, MessageReader, Next, OpCode, WsError,
    MAX_CLOSE_REASON,
};

use super::test_support::{own, Outcome, Owned};
use crate::rng::Rng;

/// One `next` call with the property checks. Returns the owned result and the bytes consumed.
fn step(reader: &mut MessageReader, buf: &mut [u8]) -> Result<(Option<Owned>, usize), WsError> {
    let len = buf.len();
    let max_frame = reader.max_frame_len();
    match reader.next(buf)? {
        Next::Message { message, consumed } => {
            assert!(
                consumed > 0 && consumed <= len,
                "consumed {consumed} of {len}"
            );
            Ok((Some(own(message)), consumed))
        }
        Next::NeedMore { consumed, min_len } => {
            assert!(consumed <= len, "consumed {consumed} of {len}");
            assert!(
                min_len > len - consumed,
                "min_len {min_len}, {len} - {consumed} left"
            );
            assert!(min_len <= max_frame, "min_len {min_len} > {max_frame}");
            Ok((None, consumed))
        }
    }
}

/// Reads as many messages as `buf` holds, draining consumed bytes. Ok(false) when more bytes are
/// needed; Err when the reader failed.
fn drain_messages(
    reader: &mut MessageReader,
    buf: &mut Vec<u8>,
    messages: &mut Vec<Owned>,
) -> Result<(), WsError> {
    loop {
        let (message, consumed) = step(reader, buf)?;
        buf.drain(..consumed);
        let Some(message) = message else {
            // Idempotent: asking again without new bytes consumes nothing and changes nothing.
            let before = buf.clone();
            let (again, consumed_again) = step(reader, buf)?;
            assert_eq!((again, consumed_again), (None, 0));
            assert_eq!(*buf, before, "incomplete bytes were modified");
            return Ok(());
        };
        messages.push(message);
    }
}

fn read_whole(max: usize, require_masked: bool, stream: &[u8]) -> Outcome {
    let mut reader = MessageReader::new(max, require_masked);
    let mut buf = stream.to_vec();
    let mut messages = Vec::new();
    let end = drain_messages(&mut reader, &mut buf, &mut messages).map(|()| buf.len());
    (messages, end)
}

fn read_split(max: usize, require_masked: bool, stream: &[u8], cuts: &[usize]) -> Outcome {
    let mut reader = MessageReader::new(max, require_masked);
    let mut buf = Vec::new();
    let mut messages = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&stream.len()]) {
        buf.extend_from_slice(&stream[start..cut]);
        start = cut;
        if let Err(error) = drain_messages(&mut reader, &mut buf, &mut messages) {
            return (messages, Err(error));
        }
    }
    (messages, Ok(buf.len()))
}

/// Reads `stream` whole, byte by byte (when short), and at random split points; all must agree.
fn check_stream(rng: &mut Rng, max: usize, require_masked: bool, stream: &[u8]) -> Outcome {
    let whole = read_whole(max, require_masked, stream);
    if stream.len() <= 64 {
        let every: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(
            read_split(max, require_masked, stream, &every),
            whole,
            "byte by byte: {stream:02x?}"
        );
    }
    for _ in 0..3 {
        let mut cuts: Vec<usize> = (0..rng.below(6))
            .map(|_| rng.below(stream.len() + 1))
            .collect();
        cuts.sort_unstable();
        assert_eq!(
            read_split(max, require_masked, stream, &cuts),
            whole,
            "cuts {cuts:?} of {} bytes",
            stream.len()
        );
    }
    whole
}

/// Characters of every UTF-8 length, so fragment boundaries land inside characters.
const CHARS: &[char] = &[
    'a',
    'z',
    ' ',
    '"',
    '{',
    '\u{7f}',
    '\u{80}',
    'é',
    '\u{7ff}',
    '\u{800}',
    '€',
    '\u{ffff}',
    '\u{10000}',
    '😀',
    '\u{10ffff}',
];

fn random_text(rng: &mut Rng, len: usize) -> String {
    (0..len).map(|_| rng.pick(CHARS)).collect()
}

fn payload_len(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=59 => rng.below(20),
        60..=89 => rng.below(300),
        90..=98 => 120 + rng.below(20),
        // 16-bit lengths around the 64 KiB edge, and 64-bit ones.
        _ => 65_530 + rng.below(12),
    }
}

struct Writer {
    masked: bool,
    stream: Vec<u8>,
}

impl Writer {
    fn frame(&mut self, rng: &mut Rng, opcode: OpCode, fin: bool, payload: &[u8]) {
        if self.masked {
            let mask = [
                rng.next_u64() as u8,
                rng.next_u64() as u8,
                rng.next_u64() as u8,
                rng.next_u64() as u8,
            ];
            write_masked_frame(&mut self.stream, opcode, fin, payload, mask);
        } else {
            write_frame(&mut self.stream, opcode, fin, payload);
        }
    }

    fn control(&mut self, rng: &mut Rng, expected: &mut Vec<Owned>) {
        let len = rng.below(126);
        let payload = rng.bytes(len);
        if rng.chance(50) {
            self.frame(rng, OpCode::Ping, true, &payload);
            expected.push(Owned::Ping(payload));
        } else {
            self.frame(rng, OpCode::Pong, true, &payload);
            expected.push(Owned::Pong(payload));
        }
    }
}

/// A valid stream of `messages` messages and what reading it must yield. Messages are at most
/// `max` bytes. A close frame, if any, comes last.
fn valid_stream(rng: &mut Rng, masked: bool, max: usize, messages: usize) -> (Vec<u8>, Vec<Owned>) {
    let mut writer = Writer {
        masked,
        stream: Vec::new(),
    };
    let mut expected = Vec::new();
    for _ in 0..messages {
        match rng.below(10) {
            0 | 1 => writer.control(rng, &mut expected),
            _ => {
                let text = rng.chance(60);
                let (payload, message) = if text {
                    let chars = payload_len(rng) / 2;
                    let mut s = random_text(rng, chars);
                    while s.len() > max {
                        s.pop();
                    }
                    (s.clone().into_bytes(), Owned::Text(s))
                } else {
                    let len = payload_len(rng).min(max);
                    let data = rng.bytes(len);
                    (data.clone(), Owned::Binary(data))
                };
                let opcode = if text { OpCode::Text } else { OpCode::Binary };
                if rng.chance(60) {
                    writer.frame(rng, opcode, true, &payload);
                } else {
                    // Two or more fragments cut at arbitrary bytes (inside characters too),
                    // some empty, with control frames in between.
                    let mut cuts: Vec<usize> = (0..1 + rng.below(4))
                        .map(|_| rng.below(payload.len() + 1))
                        .collect();
                    cuts.sort_unstable();
                    let mut start = 0;
                    for (index, end) in cuts.iter().copied().chain([payload.len()]).enumerate() {
                        let op = if index == 0 {
                            opcode
                        } else {
                            OpCode::Continuation
                        };
                        let fin = index == cuts.len();
                        if index > 0 && rng.chance(20) {
                            writer.control(rng, &mut expected);
                        }
                        writer.frame(rng, op, fin, &payload[start..end]);
                        start = end;
                    }
                }
                expected.push(message);
            }
        }
    }
    if rng.chance(30) {
        let code = rng.pick(&[1000u16, 1001, 1003, 1007, 1011, 1013, 3000, 4999]);
        let chars = rng.below(20);
        let reason = random_text(rng, chars);
        let mut reason_bytes = reason.into_bytes();
        reason_bytes.truncate(123);
        let reason = String::from_utf8(reason_bytes).unwrap_or_default();
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        writer.frame(rng, OpCode::Close, true, &payload);
        expected.push(Owned::Close(Some((code, reason))));
    } else if rng.chance(10) {
        writer.frame(rng, OpCode::Close, true, &[]);
        expected.push(Owned::Close(None));
    }
    (writer.stream, expected)
}

/// Number of frames in a stream of whole, valid frames.
fn frame_count(stream: &[u8]) -> usize {
    let mut pos = 0;
    let mut count = 0;
    while let Ok(Some(header)) = parse_frame_header(&stream[pos..]) {
        count += 1;
        pos += header.header_len + header.payload_len as usize;
    }
    assert_eq!(pos, stream.len());
    count
}

fn mutate(rng: &mut Rng, stream: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        let len = stream.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                stream[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                stream[at] = rng.pick(&[0x00, 0x7E, 0x7F, 0x80, 0xFE, 0xFF, 0x88, 0x09, 0x01]);
            }
            2 => {
                let at = rng.below(len + 1);
                let count = 1 + rng.below(4);
                let insert = rng.bytes(count);
                stream.splice(at..at, insert);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(8)).min(len);
                stream.drain(at..end);
            }
            4 => {
                let at = rng.below(len + 1);
                stream.truncate(at);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(16)).min(len);
                let copy = stream[at..end].to_vec();
                let to = rng.below(len + 1);
                stream.splice(to..to, copy);
            }
            _ => {
                // A raw header with random bits in front of everything.
                let header = [rng.next_u64() as u8, rng.next_u64() as u8];
                stream.splice(0..0, header);
            }
        }
    }
}

/// Counts outcomes, to check that the random inputs reach every part of the reader.
#[derive(Default, Debug)]
struct Tally {
    messages: usize,
    need_more: usize,
    protocol: usize,
    too_big: usize,
    invalid_utf8: usize,
    mask: usize,
}

impl Tally {
    fn record(&mut self, (messages, end): &Outcome) {
        self.messages += messages.len();
        match end {
            Ok(_) => self.need_more += 1,
            Err(WsError::Protocol(reason)) => {
                // Every reason must fit a close frame as is.
                assert!(
                    reason.len() <= MAX_CLOSE_REASON && reason.is_ascii(),
                    "{reason}"
                );
                self.protocol += 1;
            }
            Err(WsError::TooBig) => self.too_big += 1,
            Err(WsError::InvalidUtf8) => self.invalid_utf8 += 1,
            Err(WsError::UnmaskedClientFrame | WsError::MaskedServerFrame) => self.mask += 1,
        }
    }

    fn assert_diverse(&self) {
        let counts = [
            self.messages,
            self.need_more,
            self.protocol,
            self.too_big,
            self.invalid_utf8,
            self.mask,
        ];
        assert!(counts.iter().all(|&n| n >= 10), "{self:?}");
    }
}

fn random_max(rng: &mut Rng) -> usize {
    rng.pick(&[0, 1, 10, 125, 126, 300, 65_535, 65_536, 1 << 20])
}

#[test]
fn valid_streams_decode_to_what_was_encoded() {
    let mut rng = Rng::new(0x5EED_0001);
    for case in 0..1_000 {
        let masked = rng.chance(75);
        let max = if rng.chance(80) {
            1 << 17
        } else {
            random_max(&mut rng)
        };
        let count = 1 + rng.below(6);
        let (stream, expected) = valid_stream(&mut rng, masked, max, count);
        let (messages, end) = check_stream(&mut rng, max, masked, &stream);
        assert_eq!(end, Ok(0), "case {case}");
        assert_eq!(messages, expected, "case {case}");
    }
}

#[test]
fn mutated_streams_never_panic_and_split_agrees() {
    let mut rng = Rng::new(0x5EED_0002);
    let mut tally = Tally::default();
    for _ in 0..5_000 {
        let masked = rng.chance(75);
        let max = random_max(&mut rng);
        let count = 1 + rng.below(4);
        let (mut stream, _) = valid_stream(&mut rng, masked, max.max(1), count);
        if stream.len() > 4096 {
            stream.truncate(4096 + rng.below(64));
        }
        mutate(&mut rng, &mut stream);
        // Either role reading the same bytes.
        let require_masked = if rng.chance(90) { masked } else { !masked };
        tally.record(&check_stream(&mut rng, max, require_masked, &stream));
    }
    tally.assert_diverse();
}

#[test]
fn random_bytes_never_panic_and_split_agrees() {
    let mut rng = Rng::new(0x5EED_0003);
    let mut tally = Tally::default();
    for _ in 0..10_000 {
        let len = rng.below(48);
        let mut stream = rng.bytes(len);
        // Bias towards valid-looking first bytes so parsing gets past the first check.
        if let Some(first) = stream.first_mut() {
            if rng.chance(70) {
                *first = rng.pick(&[0x81, 0x82, 0x01, 0x02, 0x80, 0x00, 0x88, 0x89, 0x8A]);
            }
        }
        if let Some(second) = stream.get_mut(1) {
            if rng.chance(50) {
                *second = (*second & 0x80) | rng.pick(&[0, 1, 2, 5, 125, 126, 127]);
            }
        }
        let max = random_max(&mut rng);
        let require_masked = rng.chance(50);
        tally.record(&check_stream(&mut rng, max, require_masked, &stream));
    }
    tally.assert_diverse();
}

#[test]
fn the_generator_makes_what_it_claims() {
    // Guards the tests above: fragmented messages end with FIN and decode whole.
    let mut rng = Rng::new(0x5EED_0004);
    let mut fragmented = 0;
    for _ in 0..200 {
        let (stream, expected) = valid_stream(&mut rng, false, 1 << 17, 3);
        fragmented += usize::from(frame_count(&stream) > expected.len());
        assert_eq!(read_whole(1 << 17, false, &stream), (expected, Ok(0)));
    }
    assert!(fragmented > 50, "{fragmented}");
}
