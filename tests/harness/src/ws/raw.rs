//! Hand-built WebSocket frames on a plain socket, for what `tungstenite` refuses to send:
//! unmasked or reserved frames, bad lengths, broken UTF-8, odd fragmentation.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::http::{find, is_timeout, tcp_connect};
use crate::SOON;

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;
/// The masking key of every hand-built client frame.
pub const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// The `Sec-WebSocket-Key` of RFC 6455's example, and the accept value it must produce.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One frame: `b0` is FIN/RSV/opcode; masked with [`MASK`] if `mask`.
pub fn frame_b0(b0: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let mut out = vec![b0];
    let m = if mask { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(m | n as u8);
    } else if n <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    if mask {
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A masked client frame.
pub fn cframe(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_b0(if fin { 0x80 } else { 0 } | opcode, payload, true)
}

pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

#[derive(Debug, PartialEq, Eq)]
pub enum Raw {
    Frame {
        b0: u8,
        masked: bool,
        payload: Vec<u8>,
    },
    Eof,
    Timeout,
}

/// A WebSocket client speaking hand-built frames over a plain socket.
pub struct RawWs {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// A socket that already speaks WebSocket (its handshake was done by other means).
    pub fn from_stream(s: TcpStream) -> RawWs {
        RawWs { s, buf: Vec::new() }
    }

    /// Handshake with the RFC 6455 sample key; checks the 101 and `Sec-WebSocket-Accept`.
    pub fn connect(addr: SocketAddr, path: &str) -> RawWs {
        RawWs::connect_sending(addr, path, &[])
    }

    /// Like [`RawWs::connect`], with `frames` sent in the same write as the upgrade request,
    /// before the client has seen the 101.
    pub fn connect_sending(addr: SocketAddr, path: &str, frames: &[u8]) -> RawWs {
        let mut raw = RawWs::from_stream(tcp_connect(addr));
        let mut wire = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .into_bytes();
        wire.extend_from_slice(frames);
        raw.s.write_all(&wire).unwrap();
        let head = raw.read_head();
        assert!(
            head.starts_with("HTTP/1.1 101"),
            "{path}: expected 101, got {head:?}"
        );
        let accept = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("sec-websocket-accept"))
            .map(|(_, v)| v.trim().to_string());
        assert_eq!(
            accept.as_deref(),
            Some(SAMPLE_ACCEPT),
            "{path}: accept key: {head:?}"
        );
        raw
    }

    /// Reads the handshake response head; what follows it stays buffered for the frames.
    fn read_head(&mut self) -> String {
        let head_end = loop {
            if let Some(p) = find(&self.buf, b"\r\n\r\n") {
                break p;
            }
            let mut tmp = [0u8; 4096];
            let n = self.s.read(&mut tmp).expect("read handshake response");
            assert!(
                n > 0,
                "EOF during handshake: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        head
    }

    /// Writes bytes; errors are ignored (the server may already have failed the connection).
    pub fn send(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes);
    }

    /// The next frame from the server within `timeout`, unmasked if it came masked.
    pub fn read_frame(&mut self, timeout: Duration) -> Raw {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return frame;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Raw::Timeout;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            let mut tmp = [0u8; 65536];
            match self.s.read(&mut tmp) {
                Ok(0) => return Raw::Eof,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(_) => return Raw::Eof,
            }
        }
    }

    /// Expects a close frame with one of `codes` (unmasked, RSV clear, valid reason), then the
    /// server closing TCP. Returns the code.
    pub fn expect_close(&mut self, codes: &[u16], ctx: &str) -> u16 {
        let code = match self.read_frame(SOON) {
            Raw::Frame {
                b0,
                masked,
                payload,
            } => {
                assert_eq!(
                    b0,
                    0x80 | OP_CLOSE,
                    "{ctx}: expected a close frame, got b0={b0:#04x} payload {:?}",
                    String::from_utf8_lossy(&payload)
                );
                assert!(!masked, "{ctx}: server frames must not be masked");
                assert!(
                    payload.len() >= 2 && payload.len() <= 125,
                    "{ctx}: close payload {payload:?}"
                );
                assert!(
                    std::str::from_utf8(&payload[2..]).is_ok(),
                    "{ctx}: close reason not UTF-8"
                );
                u16::from_be_bytes([payload[0], payload[1]])
            }
            other => panic!("{ctx}: expected a close frame within {SOON:?}, got {other:?}"),
        };
        assert!(
            codes.contains(&code),
            "{ctx}: close code {code}, expected one of {codes:?}"
        );
        match self.read_frame(SOON) {
            Raw::Eof => {}
            other => panic!(
                "{ctx}: expected the server to close TCP after its close frame, got {other:?}"
            ),
        }
        code
    }
}

pub(crate) fn parse_server_frame(b: &[u8]) -> Option<(Raw, usize)> {
    if b.len() < 2 {
        return None;
    }
    let masked = b[1] & 0x80 != 0;
    let (len, mut pos) = match b[1] & 0x7f {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([b[2], b[3]]) as usize, 4)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            (u64::from_be_bytes(l) as usize, 10)
        }
        n => (n as usize, 2),
    };
    let mut key = None;
    if masked {
        if b.len() < pos + 4 {
            return None;
        }
        key = Some([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]]);
        pos += 4;
    }
    if b.len() < pos + len {
        return None;
    }
    let mut payload = b[pos..pos + len].to_vec();
    if let Some(k) = key {
        for (i, x) in payload.iter_mut().enumerate() {
            *x ^= k[i % 4];
        }
    }
    Some((
        Raw::Frame {
            b0: b[0],
            masked,
            payload,
        },
        pos + len,
    ))
}
