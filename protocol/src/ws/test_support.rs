//! Helpers shared by the WebSocket tests: owned copies of messages, so results of different reads
//! (whole stream vs. split, ours vs. another implementation's) can be compared.

use super::{Message, MessageReader, Next, WsError};

/// An owned copy of a [`Message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Owned {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

pub(crate) fn own(message: Message<'_>) -> Owned {
    match message {
        Message::Text(text) => Owned::Text(text.to_owned()),
        Message::Binary(data) => Owned::Binary(data.to_vec()),
        Message::Ping(data) => Owned::Ping(data.to_vec()),
        Message::Pong(data) => Owned::Pong(data.to_vec()),
        Message::Close(close) => Owned::Close(close.map(|(c, r)| (c, r.to_owned()))),
    }
}

/// The messages read and how reading ended: Ok(bytes left over, an incomplete frame) or the
/// error.
pub(crate) type Outcome = (Vec<Owned>, Result<usize, WsError>);

/// Reads everything in `stream`, draining consumed bytes from a Vec like a server would, and
/// checks the bounds `next` promises on `consumed` and `min_len` along the way.
pub(crate) fn read_all(reader: &mut MessageReader, stream: &[u8]) -> Outcome {
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
