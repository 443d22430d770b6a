//! Interop with an independent implementation (`tungstenite`), over an in-memory duplex stream:
//! tungstenite as client against our handshake checker and `MessageReader`, tungstenite as client
//! reading our server frames, and tungstenite as server against our client side.

use std::io::{self, Read, Write};

use tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode as TOpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::{Message as TMessage, WebSocket};

use super::test_support::{read_all, Outcome, Owned};
use super::{
    accept_key, check_server_handshake, check_upgrade, close_code, write_client_handshake,
    write_close, write_frame, write_handshake_response, write_masked_close, write_masked_frame,
    MessageReader, OpCode, WsError,
};
use crate::http::{Limits, Parsed, RequestParser};
use crate::rng::Rng;

/// One end of an in-memory connection: reads from `input` (WouldBlock once drained, like a
/// non-blocking socket), appends writes to `output`.
#[derive(Default)]
struct Duplex {
    input: Vec<u8>,
    read_pos: usize,
    output: Vec<u8>,
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = &self.input[self.read_pos..];
        if available.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.read_pos += n;
        Ok(n)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Decodes a whole byte stream with our reader, like a server connection would.
fn decode(stream: &[u8], require_masked: bool) -> Outcome {
    read_all(&mut MessageReader::new(1 << 20, require_masked), stream)
}

/// Runs tungstenite's client handshake against our server side; returns the connected client.
fn connect_tungstenite_client(url: &str) -> WebSocket<Duplex> {
    let mid = match tungstenite::client(url, Duplex::default()) {
        Err(tungstenite::HandshakeError::Interrupted(mid)) => mid,
        Err(tungstenite::HandshakeError::Failure(error)) => panic!("client failed: {error}"),
        Ok(_) => panic!("handshake can't complete without a response"),
    };
    let mut mid = mid;
    let request = std::mem::take(&mut mid.get_mut().get_mut().output);

    let mut parser = RequestParser::new(Limits::default());
    let mut dechunked = Vec::new();
    let accept = match parser.parse(&request, &mut dechunked) {
        Ok(Parsed::Complete {
            request: parsed,
            consumed,
        }) => {
            assert_eq!(consumed, request.len());
            assert!(parsed.upgrade_websocket);
            check_upgrade(&parsed).expect("tungstenite's request is a valid upgrade")
        }
        other => panic!("tungstenite's request did not parse: {other:?}"),
    };
    let mut response = Vec::new();
    write_handshake_response(&mut response, &accept);
    mid.get_mut().get_mut().input.extend_from_slice(&response);
    match mid.handshake() {
        Ok((socket, response)) => {
            assert_eq!(response.status(), 101);
            socket
        }
        Err(tungstenite::HandshakeError::Failure(error)) => panic!("our 101 refused: {error}"),
        Err(tungstenite::HandshakeError::Interrupted(_)) => panic!("handshake incomplete"),
    }
}

fn text_of(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect::<String>()
}

#[test]
fn tungstenite_client_handshake_and_frames_decode_exactly() {
    let mut client = connect_tungstenite_client("ws://artemis.local:8080/ws/registry/heartbeat");
    let short = r#"{"instances":[]}"#.to_owned();
    let medium = text_of(200); // 16-bit length
    let long = format!("{}€", text_of(70_000)); // 64-bit length, non-ASCII at the end
    let binary: Vec<u8> = (0..=255).collect();
    client.send(TMessage::text(short.clone())).unwrap();
    client.send(TMessage::text(medium.clone())).unwrap();
    client.send(TMessage::text(long.clone())).unwrap();
    client.send(TMessage::binary(binary.clone())).unwrap();
    client.send(TMessage::Ping(vec![1, 2, 3].into())).unwrap();
    client.send(TMessage::Pong(Vec::new().into())).unwrap();
    // Raw fragmented frames: a text message in 3 fragments with a ping in between.
    for frame in [
        Frame::message("frag", TOpCode::Data(Data::Text), false),
        Frame::message("ment", TOpCode::Data(Data::Continue), false),
        Frame::ping("between"),
        Frame::message("ed é", TOpCode::Data(Data::Continue), true),
    ] {
        client.send(TMessage::Frame(frame)).unwrap();
    }
    client
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
    let _ = client.flush();

    let wire = std::mem::take(&mut client.get_mut().output);
    let (messages, end) = decode(&wire, true);
    assert_eq!(end, Ok(0));
    assert_eq!(
        messages,
        [
            Owned::Text(short),
            Owned::Text(medium),
            Owned::Text(long),
            Owned::Binary(binary),
            Owned::Ping(vec![1, 2, 3]),
            Owned::Pong(vec![]),
            Owned::Ping(b"between".to_vec()),
            Owned::Text("fragmented é".into()),
            Owned::Close(Some((1000, "bye".into()))),
        ]
    );
    // Client frames are masked, so a client-mode reader refuses them.
    assert_eq!(decode(&wire, false).1, Err(WsError::MaskedServerFrame));
}

#[test]
fn tungstenite_client_reads_our_server_frames_exactly() {
    let mut client = connect_tungstenite_client("ws://127.0.0.1/ws/discovery/instance-change");
    let long = text_of(70_000);
    let medium = text_of(300);
    let mut wire = Vec::new();
    write_frame(&mut wire, OpCode::Text, true, br#"{"changeType":"new"}"#);
    write_frame(&mut wire, OpCode::Text, true, medium.as_bytes());
    write_frame(&mut wire, OpCode::Text, true, long.as_bytes());
    write_frame(&mut wire, OpCode::Pong, true, b"pong payload");
    write_frame(&mut wire, OpCode::Ping, true, b"");
    write_frame(&mut wire, OpCode::Binary, true, &[0, 1, 2]);
    write_frame(&mut wire, OpCode::Text, false, "héllo, ".as_bytes());
    write_frame(&mut wire, OpCode::Continuation, true, b"world");
    write_close(&mut wire, close_code::TRY_AGAIN_LATER, "shutting down");
    client.get_mut().input.extend_from_slice(&wire);

    let mut received = Vec::new();
    loop {
        match client.read() {
            Ok(message) => {
                let done = matches!(message, TMessage::Close(_));
                received.push(message);
                if done {
                    break;
                }
            }
            Err(error) => panic!("tungstenite refused our frames: {error}"),
        }
    }
    assert_eq!(
        received,
        [
            TMessage::text(r#"{"changeType":"new"}"#),
            TMessage::text(medium),
            TMessage::text(long),
            TMessage::Pong(b"pong payload".to_vec().into()),
            TMessage::Ping(Vec::new().into()),
            TMessage::binary(vec![0, 1, 2]),
            TMessage::text("héllo, world"),
            TMessage::Close(Some(CloseFrame {
                code: CloseCode::Again,
                reason: "shutting down".into(),
            })),
        ]
    );
    // tungstenite answered our ping with a pong and our close with a close, both masked: our
    // server-side reader decodes them.
    let _ = client.flush();
    let answers = std::mem::take(&mut client.get_mut().output);
    let (messages, end) = decode(&answers, true);
    assert_eq!(end, Ok(0));
    assert_eq!(
        messages,
        [
            Owned::Pong(vec![]),
            Owned::Close(Some((close_code::TRY_AGAIN_LATER, "shutting down".into()))),
        ]
    );
}

#[test]
fn our_client_side_against_tungstenite_server() {
    let key = *b"0123456789abcdef";
    let mut request = Vec::new();
    write_client_handshake(
        &mut request,
        "artemis.local:8080",
        "/ws/registry/heartbeat",
        &key,
    );
    let server = tungstenite::accept(Duplex {
        input: request,
        ..Duplex::default()
    });
    let mut server = match server {
        Ok(server) => server,
        Err(error) => panic!("tungstenite refused our request: {error}"),
    };
    let mut response = std::mem::take(&mut server.get_mut().output);
    let head_len = response.len();
    // A frame right behind the head, in the same read.
    server.send(TMessage::text("welcome")).unwrap();
    response.extend_from_slice(&server.get_mut().output);
    server.get_mut().output.clear();
    assert_eq!(check_server_handshake(&response, &key), Ok(head_len));
    let (messages, end) = decode(&response[head_len..], false);
    assert_eq!(
        (messages, end),
        (vec![Owned::Text("welcome".into())], Ok(0))
    );

    // Our masked client frames are read exactly by tungstenite's server.
    let mask = [0x5A, 0xC3, 0x00, 0xFF];
    let long = text_of(66_000);
    let mut wire = Vec::new();
    write_masked_frame(&mut wire, OpCode::Text, true, b"{\"instances\":[]}", mask);
    write_masked_frame(&mut wire, OpCode::Text, true, long.as_bytes(), mask);
    write_masked_frame(&mut wire, OpCode::Ping, true, b"ping", mask);
    write_masked_frame(&mut wire, OpCode::Binary, false, b"ab", mask);
    write_masked_frame(&mut wire, OpCode::Continuation, true, b"cd", mask);
    write_masked_close(&mut wire, close_code::NORMAL, "done", mask);
    server.get_mut().input.extend_from_slice(&wire);
    let mut received = Vec::new();
    loop {
        let message = server.read().expect("tungstenite reads our client frames");
        let done = matches!(message, TMessage::Close(_));
        received.push(message);
        if done {
            break;
        }
    }
    assert_eq!(
        received,
        [
            TMessage::text("{\"instances\":[]}"),
            TMessage::text(long),
            TMessage::Ping(b"ping".to_vec().into()),
            TMessage::binary(b"abcd".to_vec()),
            TMessage::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "done".into(),
            })),
        ]
    );
}

#[test]
fn accept_key_matches_tungstenite_for_many_keys() {
    // Random printable keys of every length 0..100, across SHA-1's padding boundaries.
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    for len in 0..100usize {
        let key: Vec<u8> = (0..len).map(|_| b'!' + rng.below(90) as u8).collect();
        assert_eq!(
            accept_key(&key).as_str(),
            tungstenite::handshake::derive_accept_key(&key),
            "{:?}",
            String::from_utf8_lossy(&key)
        );
    }
}
