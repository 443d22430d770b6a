//! WebSocket sessions (spec §7): the upgrade, then one reader (this task) and one writer task per
//! session. Channels:
//! - `/ws/registry/heartbeat`: each text message is a HeartbeatRequest answered by exactly one
//!   HeartbeatResponse from the same code as `heartbeat.json`;
//! - `/ws/discovery/instance-change`: each text message (a DiscoveryConfig) subscribes the session
//!   to that service's changes;
//! - `/ws/discovery/all-instance-change`: every change of every service.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hashbrown::HashSet;
use monoio::io::{AsyncReadRent, OwnedReadHalf, Splitable};
use monoio::net::TcpStream;
use protocol::model::{is_null_or_whitespace, parse_optional, DiscoveryConfig};
use protocol::ws::{Message, MessageReader, Next};

use super::app::App;
use super::conn::RETAINED_BUFFER;
use super::core::Core;
use super::subscribers::{close, Session};

pub mod open_sessions;
mod writer;

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

/// Why a session is closed when its core has no room for its subscription.
const CORE_SUBSCRIPTIONS_FULL: &str =
    "subscriptions on this server pass ws.max_subscription_bytes_per_core; retry later";

/// First read buffer size. One that grew for a large message is given back once it is handled,
/// to keep idle sessions small; what it grows by is charged to the core's request budget
/// (`limits.max_buffered_request_bytes_per_core`) meanwhile, as an HTTP request's is.
const INITIAL_READ_BUFFER: usize = 8 * 1024;
/// Why a session is closed when its message does not fit the core's request budget.
const NO_ROOM: &str = "server busy: no room to buffer this message now; retry later";

/// Serve an upgraded connection until it closes. `buf` holds bytes the client sent after the
/// handshake.
pub async fn serve<A: App>(
    core: &Core,
    stream: TcpStream,
    channel: Channel,
    buf: Vec<u8>,
    peer: SocketAddr,
) {
    // Counted for as long as this call runs, whichever way the session ends.
    let _counted = core.node.ws_sessions.open(core.id, channel);
    let session = core.new_session();
    let (reader, writer) = stream.into_split();
    let write_timeout = Duration::from_millis(core.node.config.limits.write_timeout_ms);
    let writer_task = monoio::spawn(writer::write_loop(writer, session.clone(), write_timeout));
    if channel == Channel::AllInstanceChange {
        core.subscribe_all(&session).await;
    }
    let mut subscribed = Subscriptions::default();
    read_loop::<A>(core, reader, channel, buf, &session, &mut subscribed, peer).await;
    for key in &subscribed.keys {
        core.unsubscribe(session.id(), key).await;
    }
    if channel == Channel::AllInstanceChange {
        core.unsubscribe_all(session.id()).await;
    }
    session.close(close::NORMAL, "");
    writer_task.await;
    core.end_session(session.id());
}

/// The services an instance-change session subscribed to (lower-cased, the core's copies), and
/// their bytes.
#[derive(Default)]
struct Subscriptions {
    keys: HashSet<Arc<str>>,
    bytes: usize,
}

async fn read_loop<A: App>(
    core: &Core,
    mut reader: OwnedReadHalf<TcpStream>,
    channel: Channel,
    mut buf: Vec<u8>,
    session: &Rc<Session>,
    subscribed: &mut Subscriptions,
    peer: SocketAddr,
) {
    let ws = &core.node.config.ws;
    let mut messages = MessageReader::new(ws.max_message_bytes, true);
    let deadline = Instant::now() + Duration::from_millis(ws.session_ttl_ms);
    let idle = Duration::from_millis(ws.idle_timeout_ms);
    let mut min_len = 0usize;
    let mut reply = Vec::new();
    let mut buffered = core.budgets.requests.charge();
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
                    if reply.capacity() > RETAINED_BUFFER {
                        reply = Vec::new();
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
        if buf.is_empty() && buf.capacity() > INITIAL_READ_BUFFER {
            if buf.capacity() > RETAINED_BUFFER {
                core.trimmer.note_freed(buf.capacity());
            }
            buf = Vec::with_capacity(INITIAL_READ_BUFFER);
            buffered.set(0);
        }
        let now = Instant::now();
        if now >= deadline {
            session.close(close::GOING_AWAY, "session TTL reached; reconnect");
            return;
        }
        let wait = idle.min(deadline - now);
        let (len, cap) = (buf.len(), buf.capacity());
        if cap - len < 4096 || cap < min_len {
            // Doubling, so a client is charged for about what it sent, not for the length its
            // frame header announced.
            let want = min_len.max(len + 4096);
            let grown = want.min((cap * 2).max(len + 4096));
            if !buffered.set(grown.saturating_sub(INITIAL_READ_BUFFER)) {
                session.close(close::TRY_AGAIN_LATER, NO_ROOM);
                return;
            }
            buf.reserve_exact(grown - len);
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
    subscribed: &mut Subscriptions,
    reply: &mut Vec<u8>,
) -> bool {
    match message {
        Message::Text(text) => match channel {
            Channel::Heartbeat => {
                A::ws_heartbeat(core, text, reply).await;
                let seq = session.send_text(reply);
                core.enforce_push_budget(seq);
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
                match check_subscription(core, subscribed, service_id) {
                    Err(reason) => {
                        if core.bad_request_log.allow() {
                            tracing::warn!(reason, "websocket subscription refused");
                        }
                        session.close(close::POLICY_VIOLATION, reason);
                        false
                    }
                    Ok(None) => true,
                    Ok(Some(key)) => match core.subscribe(session, &key).await {
                        Some(key) => {
                            subscribed.bytes += key.len();
                            subscribed.keys.insert(key);
                            true
                        }
                        None => {
                            session.close(close::TRY_AGAIN_LATER, CORE_SUBSCRIPTIONS_FULL);
                            false
                        }
                    },
                }
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

/// The key of a new subscription to `service_id`; None if the session has it already; the
/// reason to close the session (1008) if it is past a limit.
fn check_subscription(
    core: &Core,
    subscribed: &Subscriptions,
    service_id: &str,
) -> Result<Option<String>, &'static str> {
    let config = &core.node.config;
    if service_id.len() > config.limits.max_id_bytes {
        return Err("service id longer than limits.max_id_bytes");
    }
    let key = service_id.to_ascii_lowercase();
    if subscribed.keys.contains(key.as_str()) {
        return Ok(None);
    }
    if subscribed.keys.len() >= config.ws.max_subscriptions_per_session {
        return Err("too many subscriptions on one session");
    }
    if subscribed.bytes + key.len() > config.ws.max_subscription_bytes_per_session {
        return Err("subscriptions pass ws.max_subscription_bytes_per_session");
    }
    Ok(Some(key))
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
