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
mod tests;
