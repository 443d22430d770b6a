//! WebSocket clients. Well-formed traffic goes through `tungstenite` (an independent RFC 6455
//! client); malformed frames it refuses to send go through [`raw`], hand-built frames on a plain
//! socket.

pub mod raw;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message, WebSocket};

use crate::api::lookup_one;
use crate::assertions::{assert_instance_eq, dump};
use crate::http::{is_timeout, tcp_connect};
use crate::payload::{instances_body, Inst, REGION, ZONE};
use crate::process::Server;
use crate::{JsonContainerTrait, JsonValueTrait, Value, SOON};

pub use raw::*;

pub type Ws = WebSocket<TcpStream>;

/// The heartbeat channel.
pub const HB: &str = "/ws/registry/heartbeat";
/// Pushes of one subscribed service's instance changes.
pub const IC: &str = "/ws/discovery/instance-change";
/// Pushes of every instance change.
pub const AIC: &str = "/ws/discovery/all-instance-change";

/// What the heartbeat channel answers to a message it cannot parse.
pub const CANNED_SUCCESS: &str = r#"{"failedInstances":null,"responseStatus":{"errorCode":"success","message":"","status":"success"}}"#;

fn ws_config() -> WebSocketConfig {
    // Small buffers: the many-subscribers test holds a thousand of these.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Opens a WebSocket to the full `url` (served at `addr`); the handshake's error if refused.
pub fn try_ws_url(addr: SocketAddr, url: &str) -> Result<Ws, tungstenite::Error> {
    match tungstenite::client::client_with_config(url, tcp_connect(addr), Some(ws_config())) {
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

pub fn ws_at(addr: SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    try_ws_url(addr, &url).unwrap_or_else(|e| panic!("{url}: handshake failed: {e}"))
}

pub fn ws_connect(server: &Server, path: &str) -> Ws {
    ws_at(server.addr, path)
}

pub fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text.to_string()))
        .unwrap_or_else(|e| panic!("send text: {e}"));
}

/// The DiscoveryConfig a Java client sends to subscribe to `service_id` (region SHA, zone SHAJQ).
pub fn subscribe_msg(service_id: &str) -> String {
    format!(
        r#"{{"discoveryData":null,"regionId":"{REGION}","serviceId":"{service_id}","zoneId":"{ZONE}"}}"#
    )
}

pub fn subscribe(ws: &mut Ws, service_id: &str) {
    send_text(ws, &subscribe_msg(service_id));
}

fn set_timeout(ws: &mut Ws, left: Duration) {
    ws.get_mut()
        .set_read_timeout(Some(left.max(Duration::from_millis(1))))
        .unwrap();
}

#[derive(Debug)]
pub enum Got {
    Text(String),
    /// A close frame; its code, if any.
    Close(Option<u16>),
    /// The connection ended without a close frame (EOF or reset).
    Dropped(String),
    Timeout,
}

/// The next data message or close from the server within `timeout` (pings and pongs skipped).
pub fn next_event(ws: &mut Ws, timeout: Duration, ctx: &str) -> Got {
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

pub fn next_text(ws: &mut Ws, ctx: &str) -> String {
    match next_event(ws, SOON, ctx) {
        Got::Text(t) => t,
        other => panic!("{ctx}: expected a text message within {SOON:?}, got {other:?}"),
    }
}

/// The next text message, parsed as JSON.
pub fn next_json(ws: &mut Ws, ctx: &str) -> Value {
    let text = next_text(ws, ctx);
    sonic_rs::from_str(&text).unwrap_or_else(|e| panic!("{ctx}: reply is not JSON ({e}): {text}"))
}

pub fn expect_silence(ws: &mut Ws, for_: Duration, ctx: &str) {
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
pub fn parse_change(text: &str, ctx: &str) -> Value {
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

pub fn next_change(ws: &mut Ws, ctx: &str) -> Value {
    let text = next_text(ws, ctx);
    parse_change(&text, ctx)
}

/// Reads the next push and asserts it is a `kind` change carrying exactly `inst`.
pub fn expect_change(ws: &mut Ws, kind: &str, inst: &Inst, ctx: &str) {
    assert_change(&next_change(ws, ctx), kind, inst, ctx);
}

pub fn assert_change(v: &Value, kind: &str, inst: &Inst, ctx: &str) {
    assert_eq!(
        v["changeType"].as_str(),
        Some(kind),
        "{ctx}: changeType: {}",
        dump(v)
    );
    assert_instance_eq(&v["instance"], inst, ctx);
}

/// Java's fake instance of a `reload` change of `service_id`
/// (`InstanceChanges.newReloadInstanceChange`).
pub fn reload_instance(service_id: &str) -> Value {
    sonic_rs::json!({
        "groupId": null, "healthCheckUrl": null, "instanceId": "reload", "ip": "0.0.0.0",
        "machineName": null, "metadata": null, "port": 0, "protocol": null, "regionId": null,
        "serviceId": service_id, "status": null, "url": "http://serviceId/reload", "zoneId": null,
    })
}

/// Reads the next push and asserts it is a `reload` of `service_id`.
pub fn expect_reload(ws: &mut Ws, service_id: &str, ctx: &str) {
    let v = next_change(ws, ctx);
    assert_eq!(
        v["changeType"].as_str(),
        Some("reload"),
        "{ctx}: changeType: {}",
        dump(&v)
    );
    assert_eq!(
        v["instance"],
        reload_instance(service_id),
        "{ctx}: the reload's fake instance: {}",
        dump(&v)
    );
}

pub fn send_ping(ws: &mut Ws, payload: &[u8], ctx: &str) {
    ws.send(Message::Ping(Bytes::copy_from_slice(payload)))
        .unwrap_or_else(|e| panic!("{ctx}: send ping: {e}"));
}

/// Waits for the pong carrying `payload`. Panics if a data message or close arrives first.
pub fn await_pong(ws: &mut Ws, payload: &[u8], ctx: &str) {
    let deadline = Instant::now() + SOON;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{ctx}: no pong within {SOON:?}");
        set_timeout(ws, left);
        match ws.read() {
            Ok(Message::Pong(p)) if p.as_ref() == payload => return,
            Ok(Message::Pong(p)) => panic!("{ctx}: pong with another payload {p:?}"),
            Ok(Message::Ping(_)) | Ok(Message::Frame(_)) => {}
            Ok(other) => panic!("{ctx}: expected a pong, got {other:?}"),
            Err(tungstenite::Error::Io(e)) if is_timeout(&e) => {}
            Err(e) => panic!("{ctx}: waiting for pong: {e}"),
        }
    }
}

/// Sends a ping with `payload` and waits for the matching pong.
pub fn ping_roundtrip(ws: &mut Ws, payload: &[u8], ctx: &str) {
    send_ping(ws, payload, ctx);
    await_pong(ws, payload, ctx);
}

/// An instance-change session subscribed to `service_id`, the subscription in effect.
pub fn subscriber(server: &Server, service_id: &str) -> Ws {
    let mut ws = ws_connect(server, IC);
    subscribe(&mut ws, service_id);
    sync(&mut ws, &format!("subscribe to {service_id}"));
    ws
}

/// The server processes a session's messages in order and a subscription is established (acked
/// by the owning shard) before the next message is read: a ping's pong proves every earlier
/// subscription is in effect.
pub fn sync(ws: &mut Ws, ctx: &str) {
    ping_roundtrip(ws, b"sync", ctx);
}

/// After the server's close frame: the server must close the TCP connection.
pub fn expect_tcp_closed(ws: &mut Ws, ctx: &str) {
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

/// Expects a close frame with `code` within `within`, then the server closing TCP.
pub fn expect_close(ws: &mut Ws, code: u16, within: Duration, ctx: &str) {
    match next_event(ws, within, ctx) {
        Got::Close(Some(c)) => assert_eq!(c, code, "{ctx}: close code"),
        other => panic!("{ctx}: expected close {code} within {within:?}, got {other:?}"),
    }
    expect_tcp_closed(ws, ctx);
}

/// A fresh WebSocket heartbeat and an HTTP lookup still work.
pub fn assert_ws_healthy(server: &Server, ctx: &str) {
    let mut ws = ws_connect(server, HB);
    let probe = Inst::new("health-svc", "probe");
    send_text(&mut ws, &instances_body(std::slice::from_ref(&probe)));
    let v = next_json(&mut ws, ctx);
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("data-not-found"),
        "{ctx}: heartbeat on a fresh session: {}",
        dump(&v)
    );
    let _ = ws.close(None);
    let mut c = server.client();
    let svc = lookup_one(&mut c, "health-svc");
    assert_eq!(svc["serviceId"].as_str(), Some("health-svc"), "{ctx}");
}

/// The instanceId of a pushed change, found without parsing the whole message (for tests that
/// read thousands of pushes).
pub fn push_instance_id(text: &str) -> Option<&str> {
    const KEY: &str = r#""instanceId":""#;
    let start = text.find(KEY)? + KEY.len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// The problem, if any, with `text` as the `n`-th of a run of pushes that should each be a `new`
/// of the next id of a batch, `want` here.
pub fn wrong_new(text: &str, n: usize, want: &str) -> Option<String> {
    let ok = text.contains(r#""changeType":"new""#) && push_instance_id(text) == Some(want);
    (!ok).then(|| format!("change {n}: expected new {want}, got {text:.200}"))
}

/// Reads `want.len()` pushes from `ws` within `within`: each must be a `new` of the next id.
pub fn read_news(ws: &mut Ws, want: &[String], within: Duration, ctx: &str) -> Result<(), String> {
    let deadline = Instant::now() + within;
    for (n, id) in want.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_event(ws, left.max(Duration::from_millis(1)), ctx) {
            Got::Text(t) => {
                if let Some(e) = wrong_new(&t, n, id) {
                    return Err(format!("{ctx}: {e}"));
                }
            }
            other => return Err(format!("{ctx}: change {n} of {}: {other:?}", want.len())),
        }
    }
    Ok(())
}
