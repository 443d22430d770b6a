//! What the runtime needs from the layer above it. The server knows cores, connections, sessions
//! and shards; it does not know endpoints. `api::Api` implements this trait and `main` starts
//! `server::run::<api::Api>`, so imports run one way: `api` → `server` → `shards` → `protocol`.
//! The runtime is generic over the app (monomorphised once), so the indirection costs nothing.

use std::future::Future;

use protocol::http::{HttpError, Request};
use protocol::ws::HandshakeError;

use super::conn::Scratch;
use super::core::Core;

pub trait App: 'static {
    /// Answer one HTTP request into `out` (or its head into `out` and its body into
    /// `scratch.shared_body`); returns whether the connection stays open.
    fn handle(
        core: &Core,
        request: &Request<'_>,
        read_buf: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> impl Future<Output = bool>;

    /// Answer a request that could not be framed; the connection closes after it.
    fn write_protocol_error(core: &Core, error: HttpError, out: &mut Vec<u8>);

    /// Refuse `request`, to a WebSocket path, that is not a valid RFC 6455 handshake.
    fn write_upgrade_error(
        core: &Core,
        request: &Request<'_>,
        error: &HandshakeError,
        out: &mut Vec<u8>,
    );

    /// Answer a request that did not arrive in time; the connection closes after it.
    fn write_timeout(core: &Core, out: &mut Vec<u8>);

    /// Answer a request the core has no room to buffer (its request budget is spent by other
    /// connections); the connection closes after it.
    fn write_busy(core: &Core, out: &mut Vec<u8>);

    /// Answer one text message of the heartbeat channel with exactly one reply in `reply`.
    fn ws_heartbeat(core: &Core, text: &str, reply: &mut Vec<u8>) -> impl Future<Output = ()>;
}
