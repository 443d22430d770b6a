//! One HTTP/1.1 connection: read, parse every complete (possibly pipelined) request, answer them
//! in order with one write, repeat. Buffers are per connection and reused for every request.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use protocol::http::{HttpError, Parsed, RequestParser};

use super::core::Core;
use super::ws;
use crate::api;

/// First read buffer size; it grows (up to the request limits) only for large requests.
const INITIAL_READ_BUFFER: usize = 16 * 1024;
/// Buffers that grew for one large request are shrunk back after it so idle connections stay small.
const RETAINED_BUFFER: usize = 64 * 1024;
/// Answers to pipelined requests are written once this much is pending, before parsing more,
/// so a burst of pipelined requests cannot build an unbounded pile of responses.
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// Per-connection scratch space reused across requests.
#[derive(Default)]
pub struct Scratch {
    pub dechunked: Vec<u8>,
    pub inflated: Vec<u8>,
    pub body: Vec<u8>,
}

impl Scratch {
    /// Give back memory a large request needed, so a keep-alive connection does not hold it.
    fn shrink(&mut self) {
        for v in [&mut self.dechunked, &mut self.inflated, &mut self.body] {
            if v.capacity() > RETAINED_BUFFER {
                *v = Vec::new();
            }
        }
    }
}

enum ReadOutcome {
    Data,
    Closed,
    TimedOut,
    Shutdown,
}

pub async fn serve(core: &Core, mut stream: TcpStream, peer: SocketAddr) {
    let limits = &core.node.config.limits;
    let mut parser = RequestParser::new(core.node.http_limits);
    let mut buf: Vec<u8> = Vec::with_capacity(INITIAL_READ_BUFFER);
    let mut out: Vec<u8> = Vec::with_capacity(INITIAL_READ_BUFFER);
    let mut scratch = Scratch::default();
    let mut min_total = 0usize;
    let mut request_started: Option<Instant> = None;
    let mut continue_sent = false;
    let mut served_any = false;

    loop {
        // Answer every complete request already buffered.
        let mut consumed_total = 0usize;
        let mut close = false;
        let mut upgrade = None;
        while consumed_total < buf.len()
            && buf.len() - consumed_total >= min_total
            && out.len() < FLUSH_THRESHOLD
        {
            let available = &buf[consumed_total..];
            match parser.parse(available, &mut scratch.dechunked) {
                Ok(Parsed::Complete { request, consumed }) => {
                    if let Some(channel) =
                        ws::channel_of(request.path, &core.node.config.path_prefix)
                    {
                        consumed_total += consumed;
                        match protocol::ws::check_upgrade(&request) {
                            Ok(accept) => {
                                protocol::ws::write_handshake_response(&mut out, &accept);
                                upgrade = Some(channel);
                            }
                            Err(error) => {
                                api::write_upgrade_error(core, &error, &mut out);
                                close = true;
                            }
                        }
                        break;
                    }
                    let keep_alive =
                        api::handle(core, &request, available, &mut scratch, &mut out).await;
                    scratch.shrink();
                    served_any = true;
                    consumed_total += consumed;
                    min_total = 0;
                    request_started = None;
                    continue_sent = false;
                    if !keep_alive || core.shutdown.is_fired() {
                        close = true;
                        break;
                    }
                }
                Ok(Parsed::Partial { min_total: needed }) => {
                    // Relative to the unconsumed bytes, which start at 0 once drained below.
                    min_total = needed;
                    if parser.pending_continue() && !continue_sent {
                        protocol::http::write_continue(&mut out);
                        continue_sent = true;
                    }
                    break;
                }
                Err(error) => {
                    log_bad_request(core, peer, error);
                    api::write_protocol_error(core, error, &mut out);
                    close = true;
                    break;
                }
            }
        }
        // Stopped at the flush threshold with requests still buffered: answer them before reading.
        let more_buffered = !close && upgrade.is_none() && out.len() >= FLUSH_THRESHOLD;
        if consumed_total > 0 {
            buf.drain(..consumed_total);
        }
        if !out.is_empty() {
            if !write_all(core, &mut stream, &mut out).await {
                return;
            }
            if out.capacity() > RETAINED_BUFFER {
                out.shrink_to(INITIAL_READ_BUFFER);
            }
        }
        if close {
            return;
        }
        if let Some(channel) = upgrade {
            // The rest of the connection belongs to the WebSocket session.
            ws::serve(core, stream, channel, buf, peer).await;
            return;
        }
        if buf.is_empty() && buf.capacity() > RETAINED_BUFFER {
            buf = Vec::with_capacity(INITIAL_READ_BUFFER);
        }
        if more_buffered && !buf.is_empty() {
            continue;
        }
        if !buf.is_empty() && request_started.is_none() {
            request_started = Some(Instant::now());
        }

        let wait = match request_started {
            // A connection that never sent a request gets no more time than a request does, so
            // silent connections cannot hold connection slots for the whole idle timeout.
            None if !served_any => Duration::from_millis(limits.request_timeout_ms),
            None => Duration::from_millis(limits.idle_timeout_ms),
            Some(started) => {
                let limit = Duration::from_millis(limits.request_timeout_ms);
                limit.saturating_sub(started.elapsed())
            }
        };
        let want = min_total.max(buf.len() + 1);
        if buf.capacity() < want.max(buf.len() + 4096) {
            buf.reserve(want.max(buf.len() + 4096) - buf.len());
        }
        let idle = buf.is_empty();
        let (outcome, returned) = read_more(core, &mut stream, buf, wait, idle).await;
        buf = returned;
        match outcome {
            ReadOutcome::Data => {}
            ReadOutcome::Closed | ReadOutcome::Shutdown => return,
            ReadOutcome::TimedOut => {
                if !idle {
                    tracing::debug!(%peer, "request timed out; closing");
                    api::write_timeout(core, &mut out);
                    let _ = write_all(core, &mut stream, &mut out).await;
                }
                return;
            }
        }
    }
}

/// Read whatever arrives next into the spare capacity of `buf`. While idle (between requests),
/// shutdown interrupts the wait; a request already in progress is allowed to finish.
async fn read_more(
    core: &Core,
    stream: &mut TcpStream,
    buf: Vec<u8>,
    wait: Duration,
    idle: bool,
) -> (ReadOutcome, Vec<u8>) {
    use monoio::buf::IoBufMut;
    let len = buf.len();
    let cap = buf.capacity();
    let read = stream.read(buf.slice_mut(len..cap));
    let timed = monoio::time::timeout(wait, read);
    let result = if idle {
        monoio::select! {
            r = timed => Some(r),
            _ = core.shutdown.wait() => None,
        }
    } else {
        Some(timed.await)
    };
    match result {
        None => (ReadOutcome::Shutdown, Vec::new()),
        Some(Err(_elapsed)) => (ReadOutcome::TimedOut, Vec::new()),
        Some(Ok((Ok(0), slice))) => (ReadOutcome::Closed, slice.into_inner()),
        Some(Ok((Ok(_), slice))) => (ReadOutcome::Data, slice.into_inner()),
        Some(Ok((Err(e), slice))) => {
            tracing::debug!(error = %e, "read failed");
            (ReadOutcome::Closed, slice.into_inner())
        }
    }
}

async fn write_all(core: &Core, stream: &mut TcpStream, out: &mut Vec<u8>) -> bool {
    let data = std::mem::take(out);
    let wait = Duration::from_millis(core.node.config.limits.write_timeout_ms);
    match monoio::time::timeout(wait, stream.write_all(data)).await {
        Ok((Ok(_), mut data)) => {
            data.clear();
            *out = data;
            true
        }
        Ok((Err(e), _)) => {
            tracing::debug!(error = %e, "write failed");
            false
        }
        Err(_) => {
            tracing::debug!("write timed out; closing");
            false
        }
    }
}

fn log_bad_request(core: &Core, peer: SocketAddr, error: HttpError) {
    if core.bad_request_log.allow() {
        tracing::warn!(%peer, status = error.status(), reason = error.message(), "bad request");
    }
}
