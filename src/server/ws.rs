//! WebSocket sessions (spec §7): the upgrade, then one reader (this task) and one writer task per
//! session. Channels:
//! - `/ws/registry/heartbeat`: each text message is a HeartbeatRequest answered by exactly one
//!   HeartbeatResponse from the same code as `heartbeat.json`;
//! - `/ws/discovery/instance-change`: each text message (a DiscoveryConfig) subscribes the session
//!   to that service's changes;
//! - `/ws/discovery/all-instance-change`: every change of every service.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Splitable,
};
use monoio::net::TcpStream;
use protocol::model::{is_null_or_whitespace, parse_optional, DiscoveryConfig};
use protocol::ws::{write_close, write_frame, Message, MessageReader, Next, OpCode};

use super::app::App;
use super::core::Core;
use super::subscribers::{close, Outgoing, Session};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Heartbeat,
    InstanceChange,
    AllInstanceChange,
}

const CHANNELS: &[(&str, Channel)] = &[
    ("/ws/registry/heartbeat", Channel::Heartbeat),
    ("/ws/discovery/instance-change", Channel::InstanceChange),
    (
        "/ws/discovery/all-instance-change",
        Channel::AllInstanceChange,
    ),
];

/// The channel of a WebSocket path, with or without the prefix and a trailing slash.
pub fn channel_of(path: &str, prefix: &str) -> Option<Channel> {
    let path = protocol::http::canonical_path(path, prefix);
    CHANNELS.iter().find(|(p, _)| *p == path).map(|&(_, c)| c)
}

const INITIAL_READ_BUFFER: usize = 8 * 1024;
/// A read buffer that grew for one large message is shrunk back to keep idle sessions small.
const RETAINED_READ_BUFFER: usize = 64 * 1024;

/// Serve an upgraded connection until it closes. `buf` holds bytes the client sent after the
/// handshake.
pub async fn serve<A: App>(
    core: &Core,
    stream: TcpStream,
    channel: Channel,
    buf: Vec<u8>,
    peer: SocketAddr,
) {
    let session = core.new_session();
    let (reader, writer) = stream.into_split();
    let write_timeout = Duration::from_millis(core.node.config.limits.write_timeout_ms);
    let writer_task = monoio::spawn(write_loop(writer, session.clone(), write_timeout));
    if channel == Channel::AllInstanceChange {
        core.subscribe_all(&session).await;
    }
    let mut subscribed: Vec<String> = Vec::new();
    read_loop::<A>(core, reader, channel, buf, &session, &mut subscribed, peer).await;
    for key in &subscribed {
        core.unsubscribe(session.id(), key).await;
    }
    if channel == Channel::AllInstanceChange {
        core.unsubscribe_all(session.id()).await;
    }
    session.close(close::NORMAL, "");
    writer_task.await;
}

async fn read_loop<A: App>(
    core: &Core,
    mut reader: OwnedReadHalf<TcpStream>,
    channel: Channel,
    mut buf: Vec<u8>,
    session: &Rc<Session>,
    subscribed: &mut Vec<String>,
    peer: SocketAddr,
) {
    let ws = &core.node.config.ws;
    let mut messages = MessageReader::new(ws.max_message_bytes, true);
    let deadline = Instant::now() + Duration::from_millis(ws.session_ttl_ms);
    let idle = Duration::from_millis(ws.idle_timeout_ms);
    let mut min_len = 0usize;
    let mut reply = Vec::new();
    loop {
        // Handle every complete message already buffered.
        while !buf.is_empty() && buf.len() >= min_len {
            if channel == Channel::Heartbeat {
                // Replies the client has not read yet hold back its next request.
                session.writable().await;
            }
            let consumed = match messages.next(&mut buf) {
                Ok(Next::Message { message, consumed }) => {
                    reply.clear();
                    let go_on =
                        handle::<A>(core, channel, message, session, subscribed, &mut reply).await;
                    if !go_on {
                        return;
                    }
                    min_len = 0;
                    consumed
                }
                Ok(Next::NeedMore {
                    consumed,
                    min_len: needed,
                }) => {
                    buf.drain(..consumed);
                    min_len = needed;
                    break;
                }
                Err(error) => {
                    if core.bad_request_log.allow() {
                        tracing::warn!(%peer, code = error.close_code(), reason = error.reason(), "websocket protocol error");
                    }
                    session.close(error.close_code(), error.reason());
                    return;
                }
            };
            buf.drain(..consumed);
            if session.is_closing() {
                return;
            }
        }
        if buf.is_empty() && buf.capacity() > RETAINED_READ_BUFFER {
            buf = Vec::with_capacity(INITIAL_READ_BUFFER);
        }
        let now = Instant::now();
        if now >= deadline {
            session.close(close::GOING_AWAY, "session TTL reached; reconnect");
            return;
        }
        let wait = idle.min(deadline - now);
        if buf.capacity() - buf.len() < 4096 || buf.capacity() < min_len {
            buf.reserve(min_len.max(buf.len() + 4096) - buf.len());
        }
        use monoio::buf::IoBufMut;
        let (len, cap) = (buf.len(), buf.capacity());
        let read = monoio::time::timeout(wait, reader.read(buf.slice_mut(len..cap)));
        let result = monoio::select! {
            r = read => Some(r),
            _ = session.closed() => None,
            _ = core.shutdown.wait() => {
                session.close(close::GOING_AWAY, "server shutting down");
                None
            }
        };
        match result {
            None => return,
            Some(Err(_elapsed)) => {
                let reason = if Instant::now() >= deadline {
                    "session TTL reached; reconnect"
                } else {
                    "idle timeout"
                };
                session.close(close::GOING_AWAY, reason);
                return;
            }
            Some(Ok((Ok(0), _))) | Some(Ok((Err(_), _))) => return,
            Some(Ok((Ok(_), slice))) => buf = slice.into_inner(),
        }
    }
}

/// Act on one message; false ends the session.
async fn handle<A: App>(
    core: &Core,
    channel: Channel,
    message: Message<'_>,
    session: &Rc<Session>,
    subscribed: &mut Vec<String>,
    reply: &mut Vec<u8>,
) -> bool {
    match message {
        Message::Text(text) => match channel {
            Channel::Heartbeat => {
                A::ws_heartbeat(core, text, reply).await;
                session.send(Outgoing::Owned(std::mem::take(reply)));
                true
            }
            Channel::InstanceChange => {
                let Ok(Some(config)) = parse_optional::<DiscoveryConfig>(text.as_bytes()) else {
                    tracing::debug!("ignoring an unparsable subscription message");
                    return true;
                };
                let Some(service_id) = config.service_id.as_deref() else {
                    return true;
                };
                if is_null_or_whitespace(Some(service_id)) {
                    return true;
                }
                let key = service_id.to_ascii_lowercase();
                if subscribed.contains(&key) {
                    return true;
                }
                if subscribed.len() >= core.node.config.ws.max_subscriptions_per_session {
                    session.close(
                        close::POLICY_VIOLATION,
                        "too many subscriptions on one session",
                    );
                    return false;
                }
                core.subscribe(session, &key).await;
                subscribed.push(key);
                true
            }
            Channel::AllInstanceChange => true,
        },
        Message::Binary(_) => {
            session.close(close::UNSUPPORTED_DATA, "binary messages are not supported");
            false
        }
        Message::Ping(payload) => {
            session.pong(payload);
            true
        }
        Message::Pong(_) => true,
        Message::Close(code) => {
            // Echo the client's code (RFC 6455 §5.5.1), then end the session.
            session.close(code.map_or(close::NORMAL, |(c, _)| c), "");
            false
        }
    }
}

async fn write_loop(
    mut writer: OwnedWriteHalf<TcpStream>,
    session: Rc<Session>,
    timeout: Duration,
) {
    let mut data = Vec::new();
    let mut pong = None;
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        let closing = session.next_batch(&mut data, &mut pong).await;
        if let Some(payload) = pong.take() {
            write_frame(&mut out, OpCode::Pong, true, &payload);
        }
        for message in data.drain(..) {
            let payload: &[u8] = match &message {
                Outgoing::Shared(m) => m,
                Outgoing::Owned(m) => m,
            };
            write_frame(&mut out, OpCode::Text, true, payload);
        }
        if let Some((code, reason)) = closing {
            write_close(&mut out, code, reason);
        }
        if !out.is_empty() {
            match monoio::time::timeout(timeout, writer.write_all(out)).await {
                Ok((Ok(_), mut written)) => {
                    written.clear();
                    if written.capacity() > 256 * 1024 {
                        written = Vec::with_capacity(16 * 1024);
                    }
                    out = written;
                }
                _ => {
                    session.close(close::GOING_AWAY, "write failed");
                    return;
                }
            }
        }
        if closing.is_some() {
            let _ = writer.shutdown().await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_route_with_prefix_and_trailing_slash() {
        assert_eq!(
            channel_of("/ws/registry/heartbeat", ""),
            Some(Channel::Heartbeat)
        );
        assert_eq!(
            channel_of(
                "/artemis-service/ws/discovery/instance-change/",
                "/artemis-service"
            ),
            Some(Channel::InstanceChange)
        );
        assert_eq!(
            channel_of("/ws/discovery/all-instance-change", "/x"),
            Some(Channel::AllInstanceChange)
        );
        assert_eq!(channel_of("/ws/other", ""), None);
    }
}
