//! Message reassembly (RFC 6455 §5.4-§5.6): turns the frames at the front of a connection's read
//! buffer into messages, one per call.

use super::frame::{
    apply_mask, close_code, header_len_needed, parse_frame_header, FrameHeader, OpCode,
    MAX_CONTROL_PAYLOAD,
};
use super::WsError;

/// Capacity the reassembly vector keeps after delivering a message; a larger one is shrunk back,
/// so one big fragmented message doesn't pin memory for the connection's lifetime.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// One complete message. Borrows the read buffer (unfragmented messages and control frames) or
/// the reader's reassembly vector (fragmented messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// Valid UTF-8, checked over the whole (reassembled) message.
    Text(&'a str),
    Binary(&'a [u8]),
    /// At most 125 bytes; answer with a Pong carrying the same payload.
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    /// None for an empty close payload, else the code (valid per
    /// [`close_code::is_valid_received`]) and the UTF-8 reason (at most 123 bytes).
    Close(Option<(u16, &'a str)>),
}

/// The outcome of one [`MessageReader::next`] call that didn't fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// A complete message. `buf[..consumed]` is done with: the message's frames plus any
    /// fragments absorbed before it. Drop those bytes once `message` is no longer used, then call
    /// again: more messages may already be buffered.
    Message {
        message: Message<'a>,
        consumed: usize,
    },
    /// No complete message in `buf`. Drop `buf[..consumed]` (whole fragments now held by the
    /// reader; may be 0), read more, and call again once the remaining buffer holds at least
    /// `min_len` bytes: `min_len > buf.len() - consumed`, and `min_len <= MAX_HEADER_LEN +
    /// max(max_message_bytes, 125)`, which is thus the read buffer's required capacity.
    NeedMore { consumed: usize, min_len: usize },
}

impl Next<'_> {
    /// Bytes at the front of the buffer to drop, whichever the variant.
    pub fn consumed(&self) -> usize {
        match *self {
            Next::Message { consumed, .. } | Next::NeedMore { consumed, .. } => consumed,
        }
    }
}

/// Data message kinds (the opcode of a message's first frame).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// What `scan` found; offsets into the buffer it was given.
enum Found {
    /// A control frame, payload `buf[start..end]` (unmasked).
    Control {
        opcode: OpCode,
        start: usize,
        end: usize,
    },
    /// An unfragmented data message, payload `buf[start..end]` (unmasked).
    Single {
        kind: Kind,
        start: usize,
        end: usize,
    },
    /// A fragmented message completed; its payload is the reassembly vector.
    Reassembled {
        kind: Kind,
    },
    NeedMore {
        min_len: usize,
    },
}

/// Reads messages from one connection's byte stream; keeps the state of a fragmented message
/// between calls. One per connection and direction.
///
/// Contract of [`MessageReader::next`]: pass the unconsumed bytes of the read buffer (starting at
/// a frame boundary, i.e. after dropping exactly what earlier calls reported as consumed). Errors
/// are final and sticky: every later call returns the same error; fail the connection with
/// [`WsError::close_code`]. After a [`Message::Close`], any further byte is a protocol error
/// (RFC 6455 §5.5.1: nothing may follow a close frame).
///
/// A server connection's read loop:
/// ```
/// use protocol::ws::{write_close, write_frame, write_masked_frame};
/// use protocol::ws::{Message, MessageReader, Next, OpCode};
///
/// // What the socket delivered: a ping and a text message from a client (masked).
/// let mut read_buf = Vec::new();
/// write_masked_frame(&mut read_buf, OpCode::Ping, true, b"hi", [1, 2, 3, 4]);
/// write_masked_frame(&mut read_buf, OpCode::Text, true, b"{}", [5, 6, 7, 8]);
///
/// let mut reader = MessageReader::new(64 * 1024, true);
/// let mut write_buf = Vec::new();
/// loop {
///     let next = match reader.next(&mut read_buf) {
///         Ok(next) => next,
///         Err(error) => {
///             write_close(&mut write_buf, error.close_code(), error.reason());
///             break; // flush, then close the connection
///         }
///     };
///     let consumed = next.consumed();
///     let Next::Message { message, .. } = next else {
///         read_buf.drain(..consumed);
///         break; // read more from the socket, then call `next` again
///     };
///     match message {
///         Message::Ping(payload) => write_frame(&mut write_buf, OpCode::Pong, true, payload),
///         Message::Text(json) => assert_eq!(json, "{}"),
///         _ => {}
///     }
///     read_buf.drain(..consumed);
/// }
/// assert!(read_buf.is_empty());
/// assert_eq!(write_buf, [0x8A, 2, b'h', b'i']);
/// ```
#[derive(Debug)]
pub struct MessageReader {
    max_message_bytes: usize,
    require_masked: bool,
    /// Kind of the fragmented message being reassembled, if one is open.
    open: Option<Kind>,
    /// Payload of the open message's fragments so far, or of the message just delivered.
    partial: Vec<u8>,
    /// For text: `partial[..utf8_checked]` is known to be valid UTF-8 up to a character boundary,
    /// so invalid text fails as soon as the offending fragment arrives, in linear total time.
    utf8_checked: usize,
    /// `partial` holds a message returned by the previous call; clear it at the next one.
    delivered: bool,
    /// A close frame was returned.
    closed: bool,
    failed: Option<WsError>,
}

impl MessageReader {
    /// `max_message_bytes`: the largest message (sum of fragment payloads) accepted; a frame header
    /// announcing more fails with [`WsError::TooBig`] before the payload is read.
    /// `require_masked`: true for a server reading client frames (unmasked frames fail with
    /// [`WsError::UnmaskedClientFrame`]); false for a client reading server frames (masked ones
    /// fail with [`WsError::MaskedServerFrame`]).
    pub fn new(max_message_bytes: usize, require_masked: bool) -> Self {
        MessageReader {
            max_message_bytes,
            require_masked,
            open: None,
            partial: Vec::new(),
            utf8_checked: 0,
            delivered: false,
            closed: false,
            failed: None,
        }
    }

    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// The read buffer capacity that any frame this reader accepts fits in.
    pub fn max_frame_len(&self) -> usize {
        super::MAX_HEADER_LEN.saturating_add(self.max_message_bytes.max(MAX_CONTROL_PAYLOAD))
    }

    /// True while a fragmented message is partly received.
    pub fn in_fragmented_message(&self) -> bool {
        self.open.is_some()
    }

    /// True once a close frame has been returned.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Reads the next message from the front of `buf`; see [`Next`] for what to drop afterwards.
    /// Unmasks frame payloads in place (only once a frame is completely buffered, so calling again
    /// on the same still-incomplete bytes is safe). Control frames that arrive between the
    /// fragments of a data message are returned at once; the data message stays open. An
    /// unfragmented message is returned without copying; fragments are copied into the reader.
    pub fn next<'a>(&'a mut self, buf: &'a mut [u8]) -> Result<Next<'a>, WsError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.delivered {
            self.release_delivered();
        }
        let (found, consumed) = match self.scan(buf) {
            Ok(found) => found,
            Err(error) => return Err(self.fail(error)),
        };
        debug_assert!(consumed <= buf.len());
        let buf: &'a [u8] = buf;
        // Borrow fields separately, so `failed` can still be set while a message borrows
        // `partial`.
        let message = match found {
            Found::NeedMore { min_len } => {
                debug_assert!(min_len > buf.len() - consumed);
                return Ok(Next::NeedMore { consumed, min_len });
            }
            Found::Control { opcode, start, end } => {
                let payload = buf.get(start..end).unwrap_or_default();
                match opcode {
                    OpCode::Ping => Ok(Message::Ping(payload)),
                    OpCode::Pong => Ok(Message::Pong(payload)),
                    _ => parse_close(payload).map(Message::Close),
                }
            }
            Found::Single { kind, start, end } => {
                let payload = buf.get(start..end).unwrap_or_default();
                data_message(kind, payload)
            }
            Found::Reassembled { kind } => data_message(kind, &self.partial),
        };
        match message {
            Ok(message) => Ok(Next::Message { message, consumed }),
            Err(error) => {
                self.failed = Some(error);
                self.open = None;
                Err(error)
            }
        }
    }

    fn fail(&mut self, error: WsError) -> WsError {
        self.failed = Some(error);
        self.open = None;
        error
    }

    fn release_delivered(&mut self) {
        self.partial.clear();
        if self.partial.capacity() > RETAINED_CAPACITY {
            self.partial.shrink_to(RETAINED_CAPACITY);
        }
        self.utf8_checked = 0;
        self.delivered = false;
    }

    /// Walks whole frames from the front of `buf`, absorbing data fragments, until it finds
    /// something to return. Returns it with the number of bytes consumed. Each iteration consumes
    /// at least the 2-byte header of one frame, so the loop ends.
    fn scan(&mut self, buf: &mut [u8]) -> Result<(Found, usize), WsError> {
        let mut pos = 0usize;
        loop {
            debug_assert!(pos <= buf.len());
            let rest = buf.get(pos..).unwrap_or_default();
            if self.closed && !rest.is_empty() {
                return Err(WsError::Protocol("data after close frame"));
            }
            let Some(header) = parse_frame_header(rest)? else {
                let min_len = header_len_needed(rest);
                return Ok((Found::NeedMore { min_len }, pos));
            };
            let payload_len = self.check_frame(&header)?;
            let frame_len = header
                .header_len
                .checked_add(payload_len)
                .ok_or(WsError::TooBig)?;
            if rest.len() < frame_len {
                return Ok((Found::NeedMore { min_len: frame_len }, pos));
            }
            // Both within `buf` now: pos + frame_len <= buf.len().
            let start = pos + header.header_len;
            let end = pos + frame_len;
            let payload = buf.get_mut(start..end).unwrap_or_default();
            if header.masked {
                apply_mask(payload, header.mask, 0);
            }
            let found = match header.opcode {
                OpCode::Close | OpCode::Ping | OpCode::Pong => {
                    self.closed |= header.opcode == OpCode::Close;
                    Some(Found::Control {
                        opcode: header.opcode,
                        start,
                        end,
                    })
                }
                OpCode::Text | OpCode::Binary => {
                    let kind = if header.opcode == OpCode::Text {
                        Kind::Text
                    } else {
                        Kind::Binary
                    };
                    if header.fin {
                        Some(Found::Single { kind, start, end })
                    } else {
                        debug_assert!(self.partial.is_empty());
                        self.open = Some(kind);
                        self.partial.clear();
                        self.utf8_checked = 0;
                        self.append(kind, payload)?;
                        None
                    }
                }
                OpCode::Continuation => {
                    // check_frame made sure a message is open.
                    let kind = self.open.unwrap_or(Kind::Binary);
                    self.append(kind, payload)?;
                    if header.fin {
                        self.open = None;
                        self.delivered = true;
                        if kind == Kind::Text && self.utf8_checked != self.partial.len() {
                            // The message ends inside a character.
                            return Err(WsError::InvalidUtf8);
                        }
                        Some(Found::Reassembled { kind })
                    } else {
                        None
                    }
                }
            };
            if let Some(found) = found {
                return Ok((found, end));
            }
            pos = end;
        }
    }

    /// Role, sequencing and size checks on a complete header. Returns the payload length.
    fn check_frame(&self, header: &FrameHeader) -> Result<usize, WsError> {
        if header.masked != self.require_masked {
            return Err(if self.require_masked {
                WsError::UnmaskedClientFrame
            } else {
                WsError::MaskedServerFrame
            });
        }
        let limit = match (header.opcode, self.open) {
            (OpCode::Close | OpCode::Ping | OpCode::Pong, _) => MAX_CONTROL_PAYLOAD,
            (OpCode::Text | OpCode::Binary, None) => self.max_message_bytes,
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(WsError::Protocol(
                    "new data frame inside a fragmented message",
                ))
            }
            (OpCode::Continuation, None) => {
                return Err(WsError::Protocol("continuation frame without a message"))
            }
            (OpCode::Continuation, Some(_)) => {
                self.max_message_bytes.saturating_sub(self.partial.len())
            }
        };
        // A length beyond usize is certainly over the limit.
        let payload_len = usize::try_from(header.payload_len).map_err(|_| WsError::TooBig)?;
        if payload_len > limit {
            // Control frames over 125 bytes were already refused by the header parser.
            debug_assert!(!header.opcode.is_control());
            return Err(WsError::TooBig);
        }
        Ok(payload_len)
    }

    /// Adds a fragment's payload to the open message; validates text incrementally.
    fn append(&mut self, kind: Kind, payload: &[u8]) -> Result<(), WsError> {
        debug_assert!(self.partial.len() + payload.len() <= self.max_message_bytes);
        self.partial.extend_from_slice(payload);
        if kind == Kind::Text {
            let unchecked = self.partial.get(self.utf8_checked..).unwrap_or_default();
            match std::str::from_utf8(unchecked) {
                Ok(_) => self.utf8_checked = self.partial.len(),
                // A character cut at the end may be completed by the next fragment.
                Err(error) if error.error_len().is_none() => {
                    self.utf8_checked += error.valid_up_to();
                }
                Err(_) => return Err(WsError::InvalidUtf8),
            }
        }
        Ok(())
    }
}

fn data_message(kind: Kind, payload: &[u8]) -> Result<Message<'_>, WsError> {
    match kind {
        Kind::Binary => Ok(Message::Binary(payload)),
        Kind::Text => std::str::from_utf8(payload)
            .map(Message::Text)
            .map_err(|_| WsError::InvalidUtf8),
    }
}

/// A close payload (RFC 6455 §5.5.1, §7.4): empty, or a valid code and a UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<Option<(u16, &str)>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::Protocol("close frame with a 1-byte payload")),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !close_code::is_valid_received(code) {
                return Err(WsError::Protocol("invalid close code"));
            }
            let reason = std::str::from_utf8(reason)
                .map_err(|_| WsError::Protocol("invalid UTF-8 in close reason"))?;
            Ok(Some((code, reason)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::frame::{write_close, write_frame, write_masked_close, write_masked_frame};
    use super::super::MAX_HEADER_LEN;
    use super::*;

    const MASK: [u8; 4] = [0xA1, 0x5C, 0x03, 0xFE];

    /// An owned copy of a message, to compare results across calls.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) enum Owned {
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Pong(Vec<u8>),
        Close(Option<(u16, String)>),
    }

    fn own(message: Message<'_>) -> Owned {
        match message {
            Message::Text(text) => Owned::Text(text.to_owned()),
            Message::Binary(data) => Owned::Binary(data.to_vec()),
            Message::Ping(data) => Owned::Ping(data.to_vec()),
            Message::Pong(data) => Owned::Pong(data.to_vec()),
            Message::Close(close) => Owned::Close(close.map(|(c, r)| (c, r.to_owned()))),
        }
    }

    /// Reads everything in `stream`, draining consumed bytes from a Vec like a server would.
    /// Returns the messages and how it ended: Ok(leftover bytes) or the error.
    fn read_all(reader: &mut MessageReader, stream: &[u8]) -> (Vec<Owned>, Result<usize, WsError>) {
        let mut buf = stream.to_vec();
        let mut messages = Vec::new();
        loop {
            let len = buf.len();
            match reader.next(&mut buf) {
                Ok(Next::Message { message, consumed }) => {
                    assert!(consumed > 0 && consumed <= len);
                    messages.push(own(message));
                    buf.drain(..consumed);
                }
                Ok(Next::NeedMore { consumed, min_len }) => {
                    assert!(consumed <= len && min_len > len - consumed);
                    assert!(min_len <= reader.max_frame_len());
                    buf.drain(..consumed);
                    return (messages, Ok(buf.len()));
                }
                Err(error) => return (messages, Err(error)),
            }
        }
    }

    /// Reads `stream` whole and fed one byte at a time; both must agree.
    fn read_checked(
        max: usize,
        require_masked: bool,
        stream: &[u8],
    ) -> (Vec<Owned>, Result<usize, WsError>) {
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
}
