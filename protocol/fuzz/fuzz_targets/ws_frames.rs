//! Feeds arbitrary bytes to `ws::MessageReader` (server mode, so frames must be masked), whole and
//! split at two points taken from the input, and checks the properties the server relies on: no
//! panic, `consumed <= buf.len()`, a message consumes at least one byte, `min_len` exceeds what is
//! left and fits `max_frame_len()`, and split feeding yields exactly the messages and outcome of
//! whole feeding. Run by `scripts/fuzz.sh` (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ws::{Message, MessageReader, Next, WsError};

#[derive(Debug, PartialEq)]
enum Owned {
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

/// Reads every message `buf` holds, draining consumed bytes; Ok(()) once more bytes are needed.
fn drain(
    reader: &mut MessageReader,
    buf: &mut Vec<u8>,
    out: &mut Vec<Owned>,
) -> Result<(), WsError> {
    loop {
        let len = buf.len();
        let max_frame = reader.max_frame_len();
        let (message, consumed) = match reader.next(buf)? {
            Next::Message { message, consumed } => {
                assert!(consumed > 0 && consumed <= len);
                (Some(own(message)), consumed)
            }
            Next::NeedMore { consumed, min_len } => {
                assert!(consumed <= len);
                assert!(min_len > len - consumed && min_len <= max_frame);
                (None, consumed)
            }
        };
        buf.drain(..consumed);
        match message {
            Some(message) => out.push(message),
            None => return Ok(()),
        }
    }
}

/// Feeds `data` in pieces ending at `cuts` (then the rest); returns the messages and how it ended.
fn feed(max: usize, data: &[u8], cuts: &[usize]) -> (Vec<Owned>, Result<usize, WsError>) {
    let mut reader = MessageReader::new(max, true);
    let mut buf = Vec::new();
    let mut messages = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&data.len()]) {
        buf.extend_from_slice(&data[start..cut]);
        start = cut;
        if let Err(error) = drain(&mut reader, &mut buf, &mut messages) {
            return (messages, Err(error));
        }
    }
    (messages, Ok(buf.len()))
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the message limit, the next two the split points.
    let Some((&limit, data)) = data.split_first() else {
        return;
    };
    let max = match limit % 4 {
        0 => usize::from(limit),
        1 => 125,
        2 => 65_536,
        _ => 1 << 20,
    };
    let whole = feed(max, data, &[]);
    let mut cuts: Vec<usize> = data
        .iter()
        .take(2)
        .map(|&b| usize::from(b).min(data.len()))
        .collect();
    cuts.sort_unstable();
    assert_eq!(feed(max, data, &cuts), whole, "split at {cuts:?}");
});
