//! WebSocket endpoints (spec §1, §3.4, §7): the heartbeat channel, instance-change pushes
//! (`new`/`change`/`delete`), all-instance-change, cross-core fan-out, 1,000 subscribers, ping/pong,
//! the close handshake, protocol errors and their close codes, session limits and slow
//! subscribers.
//!
//! Well-formed traffic goes through `tungstenite` (an independent RFC 6455 client); malformed
//! frames it refuses to send go through a raw `TcpStream` with hand-built frames.

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Bytes, Message, WebSocket};

type Ws = WebSocket<TcpStream>;

const HB: &str = "/ws/registry/heartbeat";
const IC: &str = "/ws/discovery/instance-change";
const AIC: &str = "/ws/discovery/all-instance-change";

/// Generous bound for anything the server should do "at once".
const SOON: Duration = Duration::from_secs(5);

const CANNED_SUCCESS: &str = r#"{"failedInstances":null,"responseStatus":{"errorCode":"success","message":"","status":"success"}}"#;

const SHORT_TTL: &str = r#"
[lease]
ttl_ms = 1000
wheel_tick_ms = 10
[self_preservation]
enabled = false
"#;

// ---------------------------------------------------------------------------------------------
// tungstenite client helpers
// ---------------------------------------------------------------------------------------------

fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

fn ws_config() -> WebSocketConfig {
    // Small buffers: the 1,000-subscriber test holds a thousand of these.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

fn try_ws_url(addr: SocketAddr, url: &str) -> Result<Ws, tungstenite::Error> {
    match tungstenite::client::client_with_config(url, tcp(addr), Some(ws_config())) {
        Ok((ws, resp)) => {
            assert_eq!(resp.status().as_u16(), 101, "{url}: handshake status");
            Ok(ws)
        }
        Err(tungstenite::HandshakeError::Failure(e)) => Err(e),
        Err(tungstenite::HandshakeError::Interrupted(_)) => {
            panic!("{url}: handshake timed out")
        }
    }
}

fn ws_at(addr: SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    try_ws_url(addr, &url).unwrap_or_else(|e| panic!("{url}: handshake failed: {e}"))
}

fn ws_connect(server: &Server, path: &str) -> Ws {
    ws_at(server.addr, path)
}

fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_string()))
        .unwrap_or_else(|e| panic!("send text: {e}"));
}

fn subscribe_msg(service_id: &str) -> String {
    format!(
        r#"{{"discoveryData":null,"regionId":"{REGION}","serviceId":"{service_id}","zoneId":"{ZONE}"}}"#
    )
}

fn subscribe(ws: &mut Ws, service_id: &str) {
    send_text(ws, &subscribe_msg(service_id));
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn set_timeout(ws: &mut Ws, left: Duration) {
    ws.get_mut()
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .unwrap();
}

#[derive(Debug)]
enum Got {
    Text(String),
    /// A close frame; its code, if any.
    Close(Option<u16>),
    /// The connection ended without a close frame (EOF or reset).
    Dropped(String),
    Timeout,
}

/// The next data message or close from the server within `timeout` (pings and pongs skipped).
fn next_event(ws: &mut Ws, timeout: Duration, ctx: &str) -> Got {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Got::Timeout;
        }
        set_timeout(ws, left);
        match ws.read() {
            Ok(Message::Text(t)) => return Got::Text(t.as_str().to_owned()),
            Ok(Message::Close(f)) => return Got::Close(f.map(|f| u16::from(f.code))),
            Ok(Message::Ping(_)) | Ok(Message::Pong(_)) | Ok(Message::Frame(_)) => {}
            Ok(Message::Binary(b)) => {
                panic!("{ctx}: server sent a binary message ({} bytes)", b.len())
            }
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(e) => return Got::Dropped(e.to_string()),
        }
    }
}

fn next_text(ws: &mut Ws, ctx: &str) -> String {
    match next_event(ws, SOON, ctx) {
        Got::Text(t) => t,
        other => panic!("{ctx}: expected a text message within {SOON:?}, got {other:?}"),
    }
}

fn expect_silence(ws: &mut Ws, for_: Duration, ctx: &str) {
    match next_event(ws, for_, ctx) {
        Got::Timeout => {}
        other => panic!("{ctx}: expected nothing, got {other:?}"),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Parses an InstanceChange and checks its shape: exactly `changeTime`, `changeType`,
/// `instance`, alphabetical, changeTime an epoch-ms close to now.
fn parse_change(text: &str, ctx: &str) -> Value {
    let v: Value = sonic_rs::from_str(text)
        .unwrap_or_else(|e| panic!("{ctx}: push is not JSON ({e}): {text:?}"));
    let keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: push is not an object: {text}"))
        .iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys,
        ["changeTime", "changeType", "instance"],
        "{ctx}: InstanceChange keys: {text}"
    );
    let t = v["changeTime"]
        .as_i64()
        .unwrap_or_else(|| panic!("{ctx}: changeTime not an integer: {text}"));
    assert!(
        (t - now_ms()).abs() < 120_000,
        "{ctx}: changeTime {t} is not epoch ms near now ({}): {text}",
        now_ms()
    );
    v
}

fn next_change(ws: &mut Ws, ctx: &str) -> Value {
    let text = next_text(ws, ctx);
    parse_change(&text, ctx)
}

fn assert_change(v: &Value, kind: &str, inst: &Inst, ctx: &str) {
    assert_eq!(
        v["changeType"].as_str(),
        Some(kind),
        "{ctx}: changeType: {}",
        dump(v)
    );
    assert_instance_eq(&v["instance"], inst, ctx);
}

/// Sends a ping with `payload` and waits for the matching pong; returns the round trip. Panics
/// if a data message or close arrives first.
fn ping_roundtrip(ws: &mut Ws, payload: &[u8], ctx: &str) -> Duration {
    let t0 = Instant::now();
    ws.send(Message::Ping(Bytes::copy_from_slice(payload)))
        .unwrap_or_else(|e| panic!("{ctx}: send ping: {e}"));
    let deadline = t0 + SOON;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{ctx}: no pong within {SOON:?}");
        set_timeout(ws, left);
        match ws.read() {
            Ok(Message::Pong(p)) if p.as_ref() == payload => return t0.elapsed(),
            Ok(Message::Pong(p)) => panic!("{ctx}: pong with another payload {p:?}"),
            Ok(Message::Ping(_)) | Ok(Message::Frame(_)) => {}
            Ok(other) => panic!("{ctx}: expected a pong, got {other:?}"),
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(e) => panic!("{ctx}: waiting for pong: {e}"),
        }
    }
}

/// The server processes a session's messages in order and a subscription is established (acked
/// by the owning shard) before the next message is read: a ping's pong proves every earlier
/// subscription is in effect.
fn sync(ws: &mut Ws, ctx: &str) {
    ping_roundtrip(ws, b"sync", ctx);
}

/// After the server's close frame: the server must close the TCP connection.
fn expect_tcp_closed(ws: &mut Ws, ctx: &str) {
    let deadline = Instant::now() + SOON;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "{ctx}: server did not close the TCP connection within {SOON:?} of its close frame"
        );
        set_timeout(ws, left);
        match ws.read() {
            Err(tungstenite::Error::ConnectionClosed) | Err(tungstenite::Error::AlreadyClosed) => {
                return
            }
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionAborted
                ) =>
            {
                return
            }
            Ok(m) => panic!("{ctx}: message after the close frame: {m:?}"),
            Err(e) => panic!("{ctx}: after close: {e}"),
        }
    }
}

fn expect_close(ws: &mut Ws, code: u16, within: Duration, ctx: &str) {
    match next_event(ws, within, ctx) {
        Got::Close(Some(c)) => assert_eq!(c, code, "{ctx}: close code"),
        other => panic!("{ctx}: expected close {code} within {within:?}, got {other:?}"),
    }
    expect_tcp_closed(ws, ctx);
}

/// A fresh WebSocket heartbeat and an HTTP lookup still work.
fn assert_healthy(server: &Server, ctx: &str) {
    let mut ws = ws_connect(server, HB);
    let probe = Inst::new("health-svc", "probe");
    send_text(&mut ws, &instances_body(std::slice::from_ref(&probe)));
    let reply = next_text(&mut ws, ctx);
    let v: Value = sonic_rs::from_str(&reply).unwrap();
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("data-not-found"),
        "{ctx}: heartbeat on a fresh session: {reply}"
    );
    let _ = ws.close(None);
    let mut c = server.client();
    let svc = lookup_one(&mut c, "health-svc");
    assert_eq!(svc["serviceId"].as_str(), Some("health-svc"), "{ctx}");
}

// ---------------------------------------------------------------------------------------------
// Raw frames
// ---------------------------------------------------------------------------------------------

const OP_CONT: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;
const MASK: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// One frame: `b0` is FIN/RSV/opcode; masked with [`MASK`] if `mask`.
fn frame_b0(b0: u8, payload: &[u8], mask: bool) -> Vec<u8> {
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
fn cframe(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_b0(if fin { 0x80 } else { 0 } | opcode, payload, true)
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

#[derive(Debug)]
enum Raw {
    Frame {
        b0: u8,
        masked: bool,
        payload: Vec<u8>,
    },
    Eof,
    Timeout,
}

/// A WebSocket client speaking hand-built frames over a plain socket.
struct RawWs {
    s: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Handshake with the RFC 6455 sample key; checks the 101 and `Sec-WebSocket-Accept`.
    fn connect(addr: SocketAddr, path: &str) -> RawWs {
        let mut s = tcp(addr);
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p;
            }
            let mut tmp = [0u8; 4096];
            let n = s.read(&mut tmp).expect("read handshake response");
            assert!(
                n > 0,
                "EOF during handshake: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
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
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "{path}: accept key: {head:?}"
        );
        assert_eq!(
            tungstenite::handshake::derive_accept_key(key.as_bytes()),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        buf.drain(..head_end + 4);
        RawWs { s, buf }
    }

    /// Writes bytes; errors are ignored (the server may already have failed the connection).
    fn send(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes);
    }

    fn read_frame(&mut self, timeout: Duration) -> Raw {
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
    fn expect_close(&mut self, codes: &[u16], ctx: &str) -> u16 {
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

fn parse_server_frame(b: &[u8]) -> Option<(Raw, usize)> {
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

// ---------------------------------------------------------------------------------------------
// Heartbeat channel
// ---------------------------------------------------------------------------------------------

#[test]
fn ws_heartbeat_known_unknown_and_garbage() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let known = Inst::new("hb-svc", "hb-1");
    register(&mut c, std::slice::from_ref(&known));
    let mut ws = ws_connect(&server, HB);

    // Known instance: the canonical success reply.
    let body = instances_body(std::slice::from_ref(&known));
    send_text(&mut ws, &body);
    let reply = next_text(&mut ws, "known heartbeat");
    let v: Value = sonic_rs::from_str(&reply).unwrap();
    assert_registry_ok(200, &v, "WS heartbeat of a registered instance");
    assert_sorted_keys(&v, "WS heartbeat reply");

    // Unknown instance (with metadata large enough that the reply needs a 64-bit frame length):
    // partial_fail, data-not-found, the full instance echoed so the client can re-register it.
    let big = "m".repeat(70_000);
    let unknown = Inst::new("hb-svc", "ghost").metadata(&[("big", &big), ("k", "v")]);
    let body = instances_body(&[known.clone(), unknown.clone()]);
    send_text(&mut ws, &body);
    let reply = next_text(&mut ws, "unknown heartbeat");
    assert!(reply.len() > 70_000, "echo must carry the full instance");
    let v: Value = sonic_rs::from_str(&reply).unwrap();
    assert_eq!(
        v["responseStatus"],
        sonic_rs::json!({"errorCode":"partial_fail","message":"","status":"partial_fail"}),
        "{reply:.300}"
    );
    assert_eq!(arr_len(&v["failedInstances"], "failedInstances"), 1);
    let failed = &v["failedInstances"][0];
    assert_eq!(failed["errorCode"].as_str(), Some("data-not-found"));
    assert_eq!(
        failed["errorMessage"].as_str(),
        Some("sha/shajq/hb-svc/ghost: Instance is not exising! Need re-register.")
    );
    assert_instance_eq(&failed["instance"], &unknown, "echoed instance");
    assert_sorted_keys(&v, "WS partial_fail reply");
    // Same code as heartbeat.json: byte-for-byte the same answer.
    let http = c.request("POST", HEARTBEAT, &[], body.as_bytes());
    assert_eq!(http.status, 200);
    assert_eq!(
        http.text(),
        reply,
        "WS heartbeat reply differs from heartbeat.json"
    );

    // Unparsable messages get the canned success, one reply each.
    for garbage in [
        "not json at all",
        "{",
        "",
        "[1,2",
        "{\"instances\":[{\"port\":\"x\"}",
    ] {
        send_text(&mut ws, garbage);
        assert_eq!(
            next_text(&mut ws, garbage),
            CANNED_SUCCESS,
            "garbage {garbage:?}"
        );
    }

    // Pipelined: three messages sent back to back get three replies, in order, and no more.
    let known_body = instances_body(std::slice::from_ref(&known));
    let ghost_body = instances_body(&[Inst::new("hb-svc", "ghost-2")]);
    for m in [known_body.as_str(), "garbage", ghost_body.as_str()] {
        ws.write(Message::text(m.to_string())).unwrap();
    }
    ws.flush().unwrap();
    let r1: Value = sonic_rs::from_str(&next_text(&mut ws, "pipelined 1")).unwrap();
    assert_registry_ok(200, &r1, "pipelined known");
    assert_eq!(next_text(&mut ws, "pipelined 2"), CANNED_SUCCESS);
    let r3: Value = sonic_rs::from_str(&next_text(&mut ws, "pipelined 3")).unwrap();
    assert_eq!(
        r3["failedInstances"][0]["instance"]["instanceId"].as_str(),
        Some("ghost-2"),
        "{}",
        dump(&r3)
    );
    expect_silence(
        &mut ws,
        Duration::from_millis(300),
        "after pipelined replies",
    );

    // A heartbeat split over three frames with a ping between them: one pong, one reply.
    let mut raw = RawWs::connect(server.addr, HB);
    let bytes = known_body.as_bytes();
    let (a, rest) = bytes.split_at(5);
    let (b, d) = rest.split_at(7);
    let mut wire = cframe(false, OP_TEXT, a);
    wire.extend(cframe(false, OP_CONT, b));
    wire.extend(cframe(true, OP_PING, b"mid"));
    wire.extend(cframe(true, OP_CONT, d));
    raw.send(&wire);
    let mut got_pong = false;
    let mut got_reply = None;
    while !(got_pong && got_reply.is_some()) {
        match raw.read_frame(SOON) {
            Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_PONG => {
                assert_eq!(payload, b"mid");
                assert!(!got_pong, "two pongs");
                got_pong = true;
            }
            Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_TEXT => {
                assert!(got_reply.is_none(), "two replies to one fragmented message");
                got_reply = Some(payload);
            }
            other => panic!("fragmented heartbeat: unexpected {other:?}"),
        }
    }
    let v: Value = sonic_rs::from_slice(&got_reply.unwrap()).unwrap();
    assert_registry_ok(200, &v, "fragmented heartbeat");
    // UTF-8 split across fragments is fine (garbage JSON: canned reply).
    let mut wire = cframe(false, OP_TEXT, b"\xE2\x82");
    wire.extend(cframe(true, OP_CONT, b"\xAC"));
    raw.send(&wire);
    match raw.read_frame(SOON) {
        Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_TEXT => {
            assert_eq!(payload, CANNED_SUCCESS.as_bytes())
        }
        other => panic!("euro sign split over fragments: {other:?}"),
    }
}

#[test]
fn ws_heartbeats_renew_leases_and_expiry_pushes_delete() {
    let server = Server::start_sha(&[], Some(SHORT_TTL));
    let mut c = server.client();
    let inst = Inst::new("exp-svc", "e-1");
    let mut sub = ws_connect(&server, IC);
    subscribe(&mut sub, "exp-svc");
    sync(&mut sub, "subscribe exp-svc");
    register(&mut c, std::slice::from_ref(&inst));
    let v = next_change(&mut sub, "register");
    assert_change(&v, "new", &inst, "register");

    // Heartbeats over the WebSocket keep the 1 s lease alive for 2 s.
    let mut hb = ws_connect(&server, HB);
    let body = instances_body(std::slice::from_ref(&inst));
    let t0 = Instant::now();
    let mut last_reply = Instant::now();
    while t0.elapsed() < Duration::from_millis(2000) {
        send_text(&mut hb, &body);
        let r: Value = sonic_rs::from_str(&next_text(&mut hb, "renewal")).unwrap();
        assert_registry_ok(200, &r, &format!("WS heartbeat at {:?}", t0.elapsed()));
        last_reply = Instant::now();
        thread::sleep(Duration::from_millis(200));
    }
    expect_silence(
        &mut sub,
        Duration::from_millis(50),
        "heartbeated instance must not expire",
    );
    assert_eq!(lookup_ids(&mut c, "exp-svc"), vec!["e-1".to_string()]);

    // Stop: the lease expires and `delete` is pushed.
    let v = next_change(&mut sub, "expiry");
    let after = last_reply.elapsed();
    assert_change(&v, "delete", &inst, "expiry");
    assert!(
        after >= Duration::from_millis(500),
        "deleted only {after:?} after the last successful heartbeat (ttl 1 s)"
    );
    assert!(lookup_ids(&mut c, "exp-svc").is_empty());

    // The Java client's loop: heartbeat → data-not-found → HTTP register → `new` pushed.
    send_text(&mut hb, &body);
    let r: Value = sonic_rs::from_str(&next_text(&mut hb, "after expiry")).unwrap();
    assert_eq!(
        r["failedInstances"][0]["errorCode"].as_str(),
        Some("data-not-found"),
        "{}",
        dump(&r)
    );
    let echoed = r["failedInstances"][0]["instance"].clone();
    assert_instance_eq(&echoed, &inst, "echo after expiry");
    let (st, v) = c.post_json(REGISTER, &format!("{{\"instances\":[{}]}}", dump(&echoed)));
    assert_registry_ok(st, &v, "re-register the echoed instance");
    let v = next_change(&mut sub, "re-register");
    assert_change(&v, "new", &inst, "re-register");
}

// ---------------------------------------------------------------------------------------------
// instance-change channel
// ---------------------------------------------------------------------------------------------

#[test]
fn subscriber_sees_new_change_and_delete() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let mut sub = ws_connect(&server, IC);
    subscribe(&mut sub, "chg-svc");
    sync(&mut sub, "subscribe chg-svc");

    let a = Inst::new("chg-svc", "a");
    register(&mut c, std::slice::from_ref(&a));
    let registered = Instant::now();
    let v = next_change(&mut sub, "register a");
    let latency = registered.elapsed();
    assert_change(&v, "new", &a, "register a");
    assert!(
        latency <= Duration::from_secs(1),
        "`new` pushed {latency:?} after the register response (spec: within 1 s)"
    );

    // Identical re-registration: nothing. Different data: `change` with the new data. The change
    // being the next message proves the identical one pushed nothing.
    register(&mut c, std::slice::from_ref(&a));
    let a2 = Inst::new("chg-svc", "a")
        .port(9090)
        .metadata(&[("rev", "2")]);
    register(&mut c, std::slice::from_ref(&a2));
    let v = next_change(&mut sub, "re-register with new data");
    assert_change(&v, "change", &a2, "re-register with new data");

    let b = Inst::new("chg-svc", "b");
    register(&mut c, std::slice::from_ref(&b));
    assert_change(
        &next_change(&mut sub, "register b"),
        "new",
        &b,
        "register b",
    );

    // Unregister: `delete` at once, carrying the stored data.
    unregister(&mut c, std::slice::from_ref(&a));
    assert_change(
        &next_change(&mut sub, "unregister a"),
        "delete",
        &a2,
        "unregister a",
    );
    // Unregistering it again changes nothing; then b's delete is next.
    unregister(&mut c, std::slice::from_ref(&a));
    unregister(&mut c, std::slice::from_ref(&b));
    assert_change(
        &next_change(&mut sub, "unregister b"),
        "delete",
        &b,
        "unregister b",
    );

    // Another service's changes don't reach this session; unparsable or id-less subscription
    // messages are ignored and the session stays usable.
    send_text(&mut sub, "not a config");
    send_text(&mut sub, r#"{"serviceId":null}"#);
    send_text(&mut sub, r#"{"serviceId":"  "}"#);
    sync(&mut sub, "after ignored messages");
    register(&mut c, &[Inst::new("other-svc", "o")]);
    expect_silence(&mut sub, Duration::from_millis(300), "other service");
}

#[test]
fn subscriptions_are_case_insensitive_and_deduplicated() {
    let server = Server::start_sha(&["--shards", "2"], None);
    let mut c = server.client();
    let mut upper = ws_connect(&server, IC);
    subscribe(&mut upper, "MYSVC");
    subscribe(&mut upper, "mysvc"); // same service: one subscription, one push per change
    sync(&mut upper, "subscribe MYSVC");
    let mut mixed = ws_connect(&server, IC);
    subscribe(&mut mixed, "mYsVc");
    sync(&mut mixed, "subscribe mYsVc");

    let inst = Inst::new("MySvc", "x-1");
    register(&mut c, std::slice::from_ref(&inst));
    for (ws, name) in [(&mut upper, "MYSVC"), (&mut mixed, "mYsVc")] {
        let v = next_change(ws, name);
        assert_change(&v, "new", &inst, name);
        assert_eq!(
            v["instance"]["serviceId"].as_str(),
            Some("MySvc"),
            "pushes echo the registered spelling"
        );
    }
    // A prefix-sharing service is another service; the next push is the unregister.
    register(&mut c, &[Inst::new("MySvc2", "y")]);
    unregister(&mut c, &[Inst::new("mysvc", "X-1")]);
    for (ws, name) in [(&mut upper, "MYSVC"), (&mut mixed, "mYsVc")] {
        let v = next_change(ws, name);
        assert_change(&v, "delete", &inst, name);
        expect_silence(
            ws,
            Duration::from_millis(200),
            "exactly one push per change",
        );
    }
}

#[test]
fn all_instance_change_sees_every_service() {
    let server = Server::start_sha(&["--shards", "3"], None);
    let mut c = server.client();
    let mut all = ws_connect(&server, AIC);
    // Inbound text on this channel is ignored.
    send_text(&mut all, &subscribe_msg("whatever"));
    sync(&mut all, "all-instance-change");
    let mut all2 = ws_connect(&server, AIC);
    sync(&mut all2, "second all-instance-change");

    let insts: Vec<Inst> = (0..6)
        .map(|i| Inst::new(&format!("all-svc-{i}"), &format!("i-{i}")))
        .collect();
    register(&mut c, &insts[..4]);
    register(&mut c, &insts[4..]);
    unregister(&mut c, &insts[1..3]);

    let mut want: Vec<(String, String)> = insts
        .iter()
        .map(|i| ("new".to_string(), i.instance_id.clone().unwrap()))
        .chain(
            insts[1..3]
                .iter()
                .map(|i| ("delete".to_string(), i.instance_id.clone().unwrap())),
        )
        .collect();
    want.sort();
    for (ws, name) in [(&mut all, "all 1"), (&mut all2, "all 2")] {
        let mut got = Vec::new();
        for n in 0..want.len() {
            let v = next_change(ws, &format!("{name} change {n}"));
            let id = v["instance"]["instanceId"].as_str().unwrap().to_string();
            let inst = insts
                .iter()
                .find(|i| i.instance_id.as_deref() == Some(id.as_str()))
                .unwrap();
            assert_instance_eq(&v["instance"], inst, name);
            got.push((v["changeType"].as_str().unwrap().to_string(), id));
        }
        got.sort();
        assert_eq!(got, want, "{name}");
        expect_silence(ws, Duration::from_millis(200), name);
    }
    // Changes before a session existed are not replayed to it.
    let mut late = ws_connect(&server, AIC);
    sync(&mut late, "late all-instance-change");
    expect_silence(&mut late, Duration::from_millis(200), "late session");
}

#[test]
fn subscribers_on_other_cores_get_every_change() {
    let server = Server::start_sha(&["--shards", "4"], None);
    let services: Vec<String> = (0..20).map(|i| format!("core-svc-{i}")).collect();
    // Eight sessions (spread over the four cores by the accept distribution), each subscribed
    // to all twenty services (spread over the four shards): most pairs cross cores.
    let mut sessions: Vec<Ws> = (0..8).map(|_| ws_connect(&server, IC)).collect();
    for ws in sessions.iter_mut() {
        for s in &services {
            subscribe(ws, s);
        }
    }
    for (n, ws) in sessions.iter_mut().enumerate() {
        sync(ws, &format!("session {n}"));
    }
    // Registrations and unregistrations arrive over several HTTP connections (several cores).
    let insts: Vec<Inst> = services
        .iter()
        .map(|s| Inst::new(s, &format!("{s}-i")))
        .collect();
    let mut clients: Vec<Client> = (0..4).map(|_| server.client()).collect();
    for (k, inst) in insts.iter().enumerate() {
        register(&mut clients[k % 4], std::slice::from_ref(inst));
    }
    for (k, inst) in insts.iter().enumerate() {
        unregister(&mut clients[(k + 1) % 4], std::slice::from_ref(inst));
    }
    for (n, ws) in sessions.iter_mut().enumerate() {
        let mut seen: Vec<(String, String)> = Vec::new();
        for m in 0..40 {
            let v = next_change(ws, &format!("session {n} message {m}"));
            seen.push((
                v["changeType"].as_str().unwrap().to_string(),
                v["instance"]["serviceId"].as_str().unwrap().to_string(),
            ));
        }
        for s in &services {
            let new_at = seen.iter().position(|(k, id)| k == "new" && id == s);
            let del_at = seen.iter().position(|(k, id)| k == "delete" && id == s);
            match (new_at, del_at) {
                (Some(a), Some(b)) => assert!(
                    a < b,
                    "session {n}: {s}: delete before new (per-service order): {seen:?}"
                ),
                _ => panic!("session {n}: {s}: missing new or delete: {seen:?}"),
            }
        }
        expect_silence(ws, Duration::from_millis(100), "after 40 changes");
    }
}

/// Raises the soft fd limit to `want` if needed; false if the hard limit is lower.
fn ensure_fd_limit(want: libc::rlim_t) -> bool {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return false;
        }
        if r.rlim_cur >= want {
            return true;
        }
        if r.rlim_max < want {
            return false;
        }
        r.rlim_cur = want;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r) == 0
    }
}

fn thousand_svc(i: usize) -> String {
    format!("thousand-svc-{}", i % 10)
}

/// Opens subscribers `ids` (each on `thousand_svc(i)`), makes sure they are all subscribed, says
/// so on `ready`, waits for `go`, then reads one change from each. Returns the failures.
fn thousand_worker(
    addr: SocketAddr,
    ids: std::ops::Range<usize>,
    ready: mpsc::Sender<()>,
    go: mpsc::Receiver<()>,
) -> Vec<String> {
    let mut socks: Vec<(usize, Ws)> = Vec::with_capacity(ids.len());
    for i in ids {
        let mut ws = ws_at(addr, IC);
        subscribe(&mut ws, &thousand_svc(i));
        ws.send(Message::Ping(Bytes::from(format!("s{i}"))))
            .unwrap();
        socks.push((i, ws));
    }
    for (i, ws) in socks.iter_mut() {
        let want = format!("s{i}");
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "subscriber {i}: no pong");
            set_timeout(ws, left);
            match ws.read() {
                Ok(Message::Pong(p)) if p.as_ref() == want.as_bytes() => break,
                Ok(m) => panic!("subscriber {i}: unexpected {m:?} before the pong"),
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
                Err(e) => panic!("subscriber {i}: {e}"),
            }
        }
    }
    ready.send(()).unwrap();
    if go.recv_timeout(Duration::from_secs(120)).is_err() {
        return vec!["never told to read".into()];
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut failures = Vec::new();
    for (i, ws) in socks.iter_mut() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100));
        let ctx = format!("subscriber {i}");
        match next_event(ws, left, &ctx) {
            Got::Text(t) => {
                let v = parse_change(&t, &ctx);
                let svc = v["instance"]["serviceId"].as_str().unwrap_or("");
                if v["changeType"].as_str() != Some("new") || svc != thousand_svc(*i) {
                    failures.push(format!("{ctx}: wrong change {t}"));
                }
            }
            other => failures.push(format!("{ctx}: {other:?}")),
        }
    }
    failures
}

#[test]
fn a_thousand_subscribers_each_receive_the_change() {
    const N: usize = 1000;
    const THREADS: usize = 4;
    if !ensure_fd_limit(2600) {
        eprintln!("SKIPPED a_thousand_subscribers_each_receive_the_change: cannot raise RLIMIT_NOFILE to 2600");
        return;
    }
    let server = Server::start_sha(&["--shards", "2"], None);
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut gos = Vec::new();
    let mut handles = Vec::new();
    for t in 0..THREADS {
        let (go_tx, go_rx) = mpsc::channel();
        gos.push(go_tx);
        let ready = ready_tx.clone();
        let addr = server.addr;
        let per = N / THREADS;
        handles.push(thread::spawn(move || {
            thousand_worker(addr, t * per..(t + 1) * per, ready, go_rx)
        }));
    }
    drop(ready_tx);
    let setup = Instant::now();
    let mut ready = 0;
    while ready < THREADS {
        match ready_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => ready += 1,
            Err(_) => {
                if let Some(k) = handles.iter().position(|h| h.is_finished()) {
                    let h = handles.swap_remove(k);
                    match h.join() {
                        Err(p) => std::panic::resume_unwind(p),
                        Ok(f) => panic!("worker ended early: {f:?}"),
                    }
                }
                assert!(
                    setup.elapsed() < Duration::from_secs(120),
                    "subscribers not set up in 120 s"
                );
            }
        }
    }
    eprintln!(
        "{N} subscribers connected and subscribed in {:?}",
        setup.elapsed()
    );
    let insts: Vec<Inst> = (0..10)
        .map(|s| Inst::new(&thousand_svc(s), "only"))
        .collect();
    let mut c = server.client();
    register(&mut c, &insts);
    let t0 = Instant::now();
    for g in &gos {
        g.send(()).unwrap();
    }
    let mut failures = Vec::new();
    for h in handles {
        match h.join() {
            Ok(f) => failures.extend(f),
            Err(p) => std::panic::resume_unwind(p),
        }
    }
    eprintln!(
        "{N} subscribers read their change within {:?}",
        t0.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {N} subscribers failed; first: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
    assert_healthy(&server, "after 1,000 subscribers left");
}

#[test]
fn session_limits_idle_timeout_and_subscription_cap() {
    let server = Server::start_sha(
        &[],
        Some("[ws]\nidle_timeout_ms = 1000\nsession_ttl_ms = 60000\nmax_subscriptions_per_session = 3\n"),
    );
    let mut c = server.client();

    // Subscription cap: three services (a repeat doesn't count), the fourth closes with 1008.
    let mut capped = ws_connect(&server, IC);
    for s in ["cap-a", "CAP-A", "cap-b", "cap-c"] {
        subscribe(&mut capped, s);
    }
    sync(&mut capped, "three subscriptions");
    let inst = Inst::new("cap-c", "c1");
    register(&mut c, std::slice::from_ref(&inst));
    assert_change(&next_change(&mut capped, "cap-c"), "new", &inst, "cap-c");
    subscribe(&mut capped, "cap-d");
    expect_close(&mut capped, 1008, SOON, "fourth subscription");

    // Idle timeout: a silent session is closed with 1001; one that pings stays open.
    let t0 = Instant::now();
    let mut silent = ws_connect(&server, HB);
    let mut chatty = ws_connect(&server, IC);
    while t0.elapsed() < Duration::from_millis(2500) {
        ping_roundtrip(&mut chatty, b"alive", "chatty session");
        thread::sleep(Duration::from_millis(250));
    }
    expect_close(&mut silent, 1001, SOON, "idle session");
    assert!(t0.elapsed() >= Duration::from_millis(900));
    ping_roundtrip(&mut chatty, b"still", "chatty session after 2.5 s");
    expect_close(&mut chatty, 1001, SOON, "chatty session once silent");
    assert_healthy(&server, "after idle closes");
}

#[test]
fn session_ttl_closes_sessions_with_going_away() {
    let server = Server::start_sha(&[], Some("[ws]\nsession_ttl_ms = 1000\n"));
    let t0 = Instant::now();
    let mut quiet = ws_connect(&server, IC);
    subscribe(&mut quiet, "ttl-svc");
    let mut busy = ws_connect(&server, HB);
    // Activity doesn't extend the TTL.
    let mut closed_busy = None;
    while t0.elapsed() < Duration::from_secs(4) && closed_busy.is_none() {
        busy.send(Message::Ping(Bytes::from_static(b"p"))).ok();
        match next_event(&mut busy, Duration::from_millis(200), "busy") {
            Got::Timeout => {}
            Got::Close(code) => closed_busy = Some((code, t0.elapsed())),
            other => panic!("busy session: {other:?}"),
        }
    }
    let (code, at) = closed_busy.expect("busy session not closed within 4 s (ttl 1 s)");
    assert_eq!(code, Some(1001), "TTL close code");
    assert!(
        at >= Duration::from_millis(900),
        "closed after {at:?}, before the TTL"
    );
    expect_tcp_closed(&mut busy, "busy after TTL");
    expect_close(
        &mut quiet,
        1001,
        Duration::from_secs(3),
        "quiet session TTL",
    );
    assert!(t0.elapsed() <= Duration::from_secs(5));
    assert_healthy(&server, "after TTL closes");
}

// ---------------------------------------------------------------------------------------------
// Control frames and protocol errors
// ---------------------------------------------------------------------------------------------

#[test]
fn ping_pong_and_close_handshake() {
    let server = Server::start_sha(&[], None);
    for path in [HB, IC, AIC] {
        let mut ws = ws_connect(&server, path);
        for payload in [b"hello-123".to_vec(), Vec::new(), vec![b'p'; 125]] {
            let rtt = ping_roundtrip(&mut ws, &payload, path);
            assert!(
                rtt < Duration::from_secs(1),
                "{path}: pong after {rtt:?} (the Java client gives up after 1 s)"
            );
        }
        // An unsolicited pong is ignored.
        ws.send(Message::Pong(Bytes::from_static(b"unsolicited")))
            .unwrap();
        sync(&mut ws, path);
        // Close handshake: the server echoes 1000 and closes TCP.
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
        expect_close(&mut ws, 1000, SOON, &format!("{path}: close 1000"));
    }
    // Other codes are echoed too; an empty close gets 1000.
    for code in [1001u16, 3000, 4000] {
        let mut raw = RawWs::connect(server.addr, IC);
        raw.send(&cframe(true, OP_CLOSE, &close_payload(code, b"done")));
        raw.expect_close(&[code], &format!("echo close {code}"));
    }
    let mut raw = RawWs::connect(server.addr, HB);
    raw.send(&cframe(true, OP_CLOSE, b""));
    raw.expect_close(&[1000], "empty close");

    // A subscriber that vanishes without a close (TCP drop) doesn't disturb the others.
    let mut c = server.client();
    {
        let mut gone = ws_connect(&server, IC);
        subscribe(&mut gone, "drop-svc");
        sync(&mut gone, "drop-svc");
    }
    let mut stays = ws_connect(&server, IC);
    subscribe(&mut stays, "drop-svc");
    sync(&mut stays, "drop-svc stays");
    let inst = Inst::new("drop-svc", "d");
    register(&mut c, std::slice::from_ref(&inst));
    assert_change(
        &next_change(&mut stays, "after a drop"),
        "new",
        &inst,
        "after a drop",
    );
    assert_healthy(&server, "after closes");
}

#[test]
fn protocol_errors_close_with_the_right_code() {
    let server = Server::start_sha(&[], Some("[ws]\nmax_message_bytes = 1024\n"));
    let mut c = server.client();
    let known = Inst::new("pe-svc", "k");
    register(&mut c, std::slice::from_ref(&known));

    // tungstenite: binary → 1003, oversized → 1009.
    let mut ws = ws_connect(&server, HB);
    ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    expect_close(&mut ws, 1003, SOON, "binary message");
    assert_healthy(&server, "after binary");

    let mut ws = ws_connect(&server, IC);
    ws.send(Message::text("x".repeat(2000))).unwrap();
    expect_close(&mut ws, 1009, SOON, "oversized text");
    assert_healthy(&server, "after oversized");

    // Exactly the limit is fine: a real heartbeat padded with spaces to 1024 bytes.
    let mut body = instances_body(std::slice::from_ref(&known));
    body.push_str(&" ".repeat(1024 - body.len()));
    assert_eq!(body.len(), 1024);
    let mut ws = ws_connect(&server, HB);
    send_text(&mut ws, &body);
    let v: Value = sonic_rs::from_str(&next_text(&mut ws, "1024-byte heartbeat")).unwrap();
    assert_registry_ok(200, &v, "message of exactly max_message_bytes");

    let text = |fin: bool, p: &[u8]| cframe(fin, OP_TEXT, p);
    let mut too_long_ping = vec![0x89u8, 0x80 | 126, 0, 126];
    too_long_ping.extend_from_slice(&MASK);
    too_long_ping.extend(vec![0u8; 126]);
    let mut huge_len = vec![0x81u8, 0x80 | 127];
    huge_len.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge_len.extend_from_slice(&MASK);
    let mut msb_len = vec![0x81u8, 0x80 | 127];
    msb_len.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    msb_len.extend_from_slice(&MASK);
    let mut fragmented_big = text(false, &[b'a'; 600]);
    fragmented_big.extend(cframe(false, OP_CONT, &[b'a'; 600]));
    fragmented_big.extend(cframe(true, OP_CONT, &[b'a'; 10]));
    let mut text_in_text = text(false, b"{\"inst");
    text_in_text.extend(text(true, b"ances\":[]}"));
    let mut utf8_cut = text(false, b"ab\xE2\x82");
    utf8_cut.extend(cframe(true, OP_CONT, b""));

    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "unmasked text frame",
            frame_b0(0x81, b"{\"instances\":[]}", false),
            &[1002],
        ),
        ("unmasked ping", frame_b0(0x89, b"x", false), &[1002]),
        ("reserved data opcode 0x3", cframe(true, 0x3, b"x"), &[1002]),
        (
            "reserved control opcode 0xB",
            cframe(true, 0xB, b""),
            &[1002],
        ),
        ("RSV1 set", frame_b0(0xC1, b"{}", true), &[1002]),
        ("fragmented ping", cframe(false, OP_PING, b"x"), &[1002]),
        ("ping payload of 126 bytes", too_long_ping, &[1002]),
        (
            "continuation without a start",
            cframe(true, OP_CONT, b"x"),
            &[1002],
        ),
        ("text frame inside a fragmented text", text_in_text, &[1002]),
        ("64-bit length with the top bit set", msb_len, &[1002]),
        (
            "close with a 1-byte payload",
            cframe(true, OP_CLOSE, b"\x03"),
            &[1002],
        ),
        (
            "close code 1005",
            cframe(true, OP_CLOSE, &close_payload(1005, b"")),
            &[1002],
        ),
        (
            "close code 999",
            cframe(true, OP_CLOSE, &close_payload(999, b"")),
            &[1002],
        ),
        (
            "close reason not UTF-8",
            cframe(true, OP_CLOSE, &close_payload(1000, b"\xff")),
            &[1002, 1007],
        ),
        (
            "binary frame",
            cframe(true, OP_BINARY, b"\x00\x01"),
            &[1003],
        ),
        (
            "binary fragmented",
            {
                let mut w = cframe(false, OP_BINARY, b"a");
                w.extend(cframe(true, OP_CONT, b"b"));
                w
            },
            &[1003],
        ),
        ("invalid UTF-8 text", text(true, b"{\xff\xfe}"), &[1007]),
        ("overlong UTF-8 encoding", text(true, b"\xC0\xAF"), &[1007]),
        (
            "UTF-16 surrogate in UTF-8",
            text(true, b"\xED\xA0\x80"),
            &[1007],
        ),
        (
            "UTF-8 cut at the end of a fragmented text",
            utf8_cut,
            &[1007],
        ),
        ("oversized single frame", text(true, &[b'x'; 2000]), &[1009]),
        ("oversized fragmented message", fragmented_big, &[1009]),
        ("2^40-byte frame header", huge_len, &[1009]),
    ];
    for (name, wire, codes) in cases {
        for path in [HB, IC] {
            let mut raw = RawWs::connect(server.addr, path);
            raw.send(&wire);
            raw.expect_close(codes, &format!("{name} on {path}"));
        }
        // Every failure leaves the server serving others.
        let mut ws = ws_connect(&server, HB);
        send_text(&mut ws, &instances_body(std::slice::from_ref(&known)));
        let v: Value = sonic_rs::from_str(&next_text(&mut ws, name)).unwrap();
        assert_registry_ok(200, &v, &format!("heartbeat after {name}"));
        assert_eq!(
            lookup_ids(&mut c, "pe-svc"),
            vec!["k".to_string()],
            "{name}"
        );
    }
    assert_healthy(&server, "after every protocol error");
}

#[test]
fn slow_subscriber_is_closed_and_others_keep_their_changes() {
    let server = Server::start_sha(&[], Some("[ws]\nmax_queued_messages = 4\n"));
    let mut c = server.client();
    let mut slow = ws_connect(&server, IC);
    subscribe(&mut slow, "flood-svc");
    sync(&mut slow, "slow subscriber");
    let mut healthy = ws_connect(&server, IC);
    subscribe(&mut healthy, "calm-svc");
    sync(&mut healthy, "healthy subscriber");

    // ~14 MB of changes for a subscriber that never reads: its socket buffers fill, its queue
    // overflows and the server must drop it rather than buffer without bound.
    const FLOOD: usize = 300;
    let big = "z".repeat(48 * 1024);
    let t0 = Instant::now();
    for i in 0..FLOOD {
        let inst = Inst::new("flood-svc", &format!("f-{i}")).metadata(&[("blob", &big)]);
        register(&mut c, &[inst]);
    }
    let flood_time = t0.elapsed();

    // The server keeps serving: other subscribers get their changes, lookups and fresh sessions
    // work.
    let calm = Inst::new("calm-svc", "c");
    register(&mut c, std::slice::from_ref(&calm));
    assert_change(
        &next_change(&mut healthy, "calm-svc"),
        "new",
        &calm,
        "calm-svc",
    );
    assert_eq!(
        arr_len(
            &lookup_one(&mut c, "flood-svc")["instances"],
            "flood instances"
        ),
        FLOOD
    );
    assert_healthy(&server, "during a slow subscriber");

    // Now read what the slow one got: it must end (close 1013, or dropped) well before all
    // 300 changes could have been delivered.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut texts = 0usize;
    let end = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_event(&mut slow, left, "slow subscriber") {
            Got::Text(_) => texts += 1,
            Got::Timeout => panic!(
                "slow subscriber still open after reading {texts} messages (flood took {flood_time:?})"
            ),
            other => break other,
        }
    };
    eprintln!("slow subscriber: {texts} of {FLOOD} changes, then {end:?}");
    match end {
        Got::Close(code) => assert_eq!(code, Some(1013), "slow subscriber close code"),
        Got::Dropped(why) => eprintln!("slow subscriber dropped: {why}"),
        _ => unreachable!(),
    }
    assert!(
        texts < FLOOD,
        "slow subscriber got all {texts} changes: the queue limit never applied"
    );
    // Still serving afterwards, including a new subscriber of the flooded service.
    let mut again = ws_connect(&server, IC);
    subscribe(&mut again, "flood-svc");
    sync(&mut again, "resubscribe");
    unregister(&mut c, &[Inst::new("flood-svc", "f-0")]);
    let v = next_change(&mut again, "after the flood");
    assert_eq!(v["changeType"].as_str(), Some("delete"));
    assert_eq!(v["instance"]["instanceId"].as_str(), Some("f-0"));
}

// ---------------------------------------------------------------------------------------------
// Paths and handshake
// ---------------------------------------------------------------------------------------------

#[test]
fn websocket_endpoints_under_the_path_prefix() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], None);
    let mut c = server.client();
    // The Java client derives the WS URL from the node URL (AddressContext): http:// → ws://.
    let (st, v) = c.post_json(
        "/artemis-service/api/cluster/up-discovery-nodes.json",
        r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#,
    );
    assert_eq!(st, 200, "{}", dump(&v));
    let node_url = v["nodes"][0]["url"].as_str().unwrap().to_string();
    let base = node_url
        .replacen("http://", "ws://", 1)
        .trim_end_matches('/')
        .to_string();
    assert_eq!(base, format!("ws://{}/artemis-service", server.addr));

    let mut sub =
        try_ws_url(server.addr, &format!("{base}{IC}")).expect("prefixed instance-change");
    subscribe(&mut sub, "pfx-svc");
    sync(&mut sub, "prefixed subscription");
    let inst = Inst::new("pfx-svc", "p");
    let (st, v) = c.post_gzip(
        "/artemis-service/api/registry/register.json",
        &instances_body(std::slice::from_ref(&inst)),
    );
    assert_registry_ok(st, &v, "prefixed register");
    assert_change(
        &next_change(&mut sub, "prefixed push"),
        "new",
        &inst,
        "prefixed push",
    );

    let mut hb = try_ws_url(server.addr, &format!("{base}{HB}/")).expect("prefixed heartbeat");
    send_text(&mut hb, &instances_body(std::slice::from_ref(&inst)));
    let v: Value = sonic_rs::from_str(&next_text(&mut hb, "prefixed heartbeat")).unwrap();
    assert_registry_ok(200, &v, "prefixed heartbeat");

    let mut all = try_ws_url(server.addr, &format!("{base}{AIC}")).expect("prefixed all");
    sync(&mut all, "prefixed all-instance-change");
    // Unprefixed paths are served too, as for HTTP.
    let mut plain = ws_connect(&server, HB);
    send_text(&mut plain, &instances_body(std::slice::from_ref(&inst)));
    let v: Value = sonic_rs::from_str(&next_text(&mut plain, "unprefixed heartbeat")).unwrap();
    assert_registry_ok(200, &v, "unprefixed heartbeat");

    // A near-miss prefix is no WebSocket endpoint.
    let url = format!("ws://{}/artemis-services{HB}", server.addr);
    match try_ws_url(server.addr, &url) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 404),
        Err(e) => panic!("{url}: expected HTTP 404, got {e}"),
        Ok(_) => panic!("{url}: upgraded"),
    }
}

#[test]
fn handshake_errors() {
    let server = Server::start_sha(&[], None);
    let key = ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    let upgrade = [("Upgrade", "websocket"), ("Connection", "Upgrade")];
    let v13 = ("Sec-WebSocket-Version", "13");
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut h = upgrade.to_vec();
        h.extend_from_slice(extra);
        h
    };

    // Missing or malformed key: 400 with the JSON error body.
    for (name, headers) in [
        ("missing key", with(&[v13])),
        ("short key", with(&[v13, ("Sec-WebSocket-Key", "abc")])),
        (
            "key of 15 bytes",
            with(&[v13, ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")]),
        ),
        (
            "two keys",
            with(&[v13, key, ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==")]),
        ),
        (
            "no Upgrade header",
            vec![("Connection", "Upgrade"), v13, key],
        ),
        ("no upgrade headers at all", vec![]),
    ] {
        let mut c = server.client();
        let r = c.request("GET", HB, &headers, b"");
        assert_protocol_error(&r, 400, name);
    }
    let mut c = server.client();
    let r = c.request("POST", IC, &with(&[v13, key]), b"");
    assert_protocol_error(&r, 400, "POST upgrade");

    // Version 12 (or none): 426 telling the client to use 13.
    for (name, headers) in [
        ("version 12", with(&[("Sec-WebSocket-Version", "12"), key])),
        ("no version", with(&[key])),
    ] {
        let mut c = server.client();
        let r = c.request("GET", IC, &headers, b"");
        assert_eq!(r.status, 426, "{name}: {} {}", r.status, r.text());
        assert_eq!(r.header("sec-websocket-version"), Some("13"), "{name}");
    }

    // A good handshake: 101, the RFC 6455 sample accept key, no subprotocol or extension
    // selected even when asked for, and the socket then speaks WebSocket.
    let mut c = server.client();
    let r = c.request(
        "GET",
        AIC,
        &with(&[
            v13,
            key,
            ("Sec-WebSocket-Protocol", "chat"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ]),
        b"",
    );
    assert_eq!(r.status, 101, "{}", r.text());
    assert!(r
        .header("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket")));
    assert!(r
        .header("connection")
        .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade")));
    assert_eq!(
        r.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert!(r.header("sec-websocket-protocol").is_none());
    assert!(r.header("sec-websocket-extensions").is_none());
    c.write_raw(&cframe(true, OP_PING, b"after-101")).unwrap();
    let mut raw = RawWs {
        s: c.stream.try_clone().unwrap(),
        buf: Vec::new(),
    };
    match raw.read_frame(SOON) {
        Raw::Frame {
            b0,
            masked,
            payload,
        } => {
            assert_eq!(b0, 0x80 | OP_PONG);
            assert!(!masked);
            assert_eq!(payload, b"after-101");
        }
        other => panic!("pong after a hand-made handshake: {other:?}"),
    }

    // Browser-style headers: `Connection` with several tokens, `Upgrade` in another case; and
    // an upgrade after an ordinary request on the same keep-alive connection.
    let mut c = server.client();
    let svc = lookup_one(&mut c, "anything");
    assert_eq!(svc["serviceId"].as_str(), Some("anything"));
    let r = c.request(
        "GET",
        HB,
        &[
            ("Upgrade", "WebSocket"),
            ("Connection", "keep-alive, Upgrade"),
            v13,
            ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="),
        ],
        b"",
    );
    assert_eq!(r.status, 101, "{}", r.text());
    assert_eq!(
        r.header("sec-websocket-accept").map(str::to_string),
        Some(tungstenite::handshake::derive_accept_key(
            b"AQIDBAUGBwgJCgsMDQ4PEA=="
        ))
    );
    c.write_raw(&cframe(true, OP_TEXT, b"garbage")).unwrap();
    let mut raw = RawWs {
        s: c.stream.try_clone().unwrap(),
        buf: Vec::new(),
    };
    match raw.read_frame(SOON) {
        Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_TEXT => {
            assert_eq!(payload, CANNED_SUCCESS.as_bytes())
        }
        other => panic!("heartbeat after a keep-alive upgrade: {other:?}"),
    }

    // Frames sent in the same packet as the upgrade request are not lost.
    let mut s = tcp(server.addr);
    let mut wire = format!(
        "GET {HB} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    )
    .into_bytes();
    wire.extend(cframe(true, OP_PING, b"early"));
    wire.extend(cframe(true, OP_TEXT, b"early garbage"));
    s.write_all(&wire).unwrap();
    let mut raw = RawWs { s, buf: Vec::new() };
    let mut head = Vec::new();
    let head_end = loop {
        if let Some(p) = raw.buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let mut tmp = [0u8; 4096];
        let n = raw.s.read(&mut tmp).unwrap();
        assert!(n > 0, "EOF before the 101");
        raw.buf.extend_from_slice(&tmp[..n]);
    };
    head.extend(raw.buf.drain(..head_end + 4));
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
    let mut got = Vec::new();
    for _ in 0..2 {
        match raw.read_frame(SOON) {
            Raw::Frame { b0, payload, .. } => got.push((b0, payload)),
            other => panic!("frames sent with the upgrade: {other:?}"),
        }
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            (0x80 | OP_TEXT, CANNED_SUCCESS.as_bytes().to_vec()),
            (0x80 | OP_PONG, b"early".to_vec()),
        ]
    );
    assert_healthy(&server, "after handshake errors");
}

#[test]
fn out_of_range_ws_config_exits_2_naming_the_key() {
    for (toml, key) in [
        ("[ws]\nmax_message_bytes = 100\n", "max_message_bytes"),
        ("[ws]\nsession_ttl_ms = 500\n", "session_ttl_ms"),
        ("[ws]\nmax_queued_messages = 0\n", "max_queued_messages"),
        ("[ws]\nidle_timeout_ms = 0\n", "idle_timeout_ms"),
    ] {
        let (status, stderr) = run_to_exit(&[], Some(toml));
        assert_eq!(
            status.code(),
            Some(2),
            "config {toml:?}: exit {status:?}, stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(key),
            "config {toml:?}: stderr does not name {key:?}:\n{stderr}"
        );
    }
}

#[test]
fn sigterm_closes_websocket_sessions_with_going_away() {
    // A long grace: the server must not sit on idle WebSocket sessions until it runs out (idle
    // HTTP keep-alive connections are closed at once), and clients must be told to go elsewhere.
    let mut server = Server::start_sha(&[], Some("[limits]\nshutdown_grace_ms = 10000\n"));
    let mut sub = ws_connect(&server, IC);
    subscribe(&mut sub, "bye-svc");
    sync(&mut sub, "subscriber");
    let mut hb = ws_connect(&server, HB);
    send_text(&mut hb, "garbage");
    assert_eq!(next_text(&mut hb, "heartbeat"), CANNED_SUCCESS);
    let mut all = ws_connect(&server, AIC);
    sync(&mut all, "all-instance-change");

    let t0 = Instant::now();
    server.signal(libc::SIGTERM);
    for (ws, name) in [
        (&mut sub, "instance-change"),
        (&mut hb, "heartbeat"),
        (&mut all, "all"),
    ] {
        match next_event(ws, Duration::from_secs(3), name) {
            Got::Close(Some(code)) => assert!(
                [1001, 1012, 1013].contains(&code),
                "{name}: close code {code} on shutdown (going away / restart / try later)"
            ),
            other => panic!(
                "{name}: expected a close frame within 3 s of SIGTERM, got {other:?} after {:?}",
                t0.elapsed()
            ),
        }
    }
    let status = server
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", t0.elapsed()));
    assert_eq!(status.code(), Some(0));
}
