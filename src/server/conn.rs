//! One HTTP/1.1 connection, as a small state machine ([`Step`]): read, answer every complete
//! (possibly pipelined) request buffered, write the answers, repeat, until the connection closes
//! or upgrades to a WebSocket session. Buffers are per connection and reused for every request;
//! one that grew for a large request is freed once the request is answered, so an idle
//! connection holds its read buffer and a few small buffers only.
//!
//! What clients make a connection hold counts against its core's budgets
//! ([`super::budget`]): a read buffer grown past its first size for a large request, the
//! request's de-chunked and inflated copies ([`RequestCopy`]), and the answers queued for
//! writing ([`Outgoing`]).

mod request_copy;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::AsyncReadRent;
use monoio::net::TcpStream;
use protocol::http::{HttpError, Method, Parsed, RequestParser};

pub use self::request_copy::RequestCopy;
use super::app::App;
use super::budget::{RequestBudget, RequestCharge};
use super::core::Core;
use super::outgoing::{Flushed, Outgoing};
use super::shared_body::SharedBody;
use super::ws;

/// First read buffer size; it grows (up to the request limits) only for large requests, and
/// what it grows by is charged to the core's request budget until it shrinks back.
const INITIAL_READ_BUFFER: usize = 16 * 1024;
/// The most a scratch buffer keeps between requests: one that grew past it for a large request
/// is freed once the request is answered, so idle connections stay small, while the buffers of
/// small requests (heartbeats, lookups) are reused without allocating.
pub const RETAINED_BUFFER: usize = 16 * 1024;
/// The most a connection keeps of each shared-body buffer between requests (owned bytes, parts
/// list): a lookup's envelope around its views, with small views copied in (under 4 KiB each).
const RETAINED_SHARED_BODY: usize = 4 * 1024;
/// Answers to pipelined requests are written once this much is pending, before parsing more,
/// so a burst of pipelined requests cannot build an unbounded pile of responses.
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// Which of the node's listening sockets a connection arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListenerRole {
    /// `listen`: clients (and peers too, unless `cluster.listen` is set).
    Main,
    /// `cluster.listen`: the peers' own address.
    Cluster,
}

/// Where a connection comes from, for the endpoints that decide by it (replication).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    pub listener: ListenerRole,
}

/// Per-connection scratch space reused across requests, and what the app may need to know of
/// the connection.
pub struct Scratch {
    pub connection: ConnectionInfo,
    /// The body of a chunked request, once complete.
    pub dechunked: RequestCopy,
    /// The body of a gzip request, inflated.
    pub inflated: RequestCopy,
    /// The answer's body while the app builds it.
    pub body: Vec<u8>,
    /// A response body (partly) shared with other connections (`services.json`, the cached
    /// views of a lookup): the app sets it instead of writing the body into `out`, after writing
    /// the head (whose Content-Length counts it). The connection queues it after `out` without
    /// copying its shared parts.
    pub shared_body: SharedBody,
}

impl Scratch {
    fn new(budget: &Rc<RequestBudget>, connection: ConnectionInfo) -> Self {
        Scratch {
            connection,
            dechunked: RequestCopy::new(budget.charge()),
            inflated: RequestCopy::new(budget.charge()),
            body: Vec::new(),
            shared_body: SharedBody::default(),
        }
    }

    /// The request is answered: give back what it needed beyond small retained buffers, so a
    /// keep-alive connection does not hold it. Returns the bytes freed.
    fn finish_request(&mut self) -> usize {
        let mut freed = self.dechunked.finish() + self.inflated.finish();
        freed += self.shared_body.trim(RETAINED_SHARED_BODY, RETAINED_BUFFER);
        if self.body.capacity() > RETAINED_BUFFER {
            freed += self.body.capacity();
            self.body = Vec::new();
        }
        freed
    }
}

/// What the connection does next.
enum Step {
    /// Parse and answer the complete requests in the read buffer.
    Answer,
    /// Write the answers produced so far, then go on.
    Flush(AfterFlush),
    /// Wait for more bytes from the client.
    Read,
    /// Hand the connection over to a WebSocket session.
    Upgrade(ws::Channel),
    /// Between requests: hand the connection (this duplicate of it) to that core (see
    /// `handoff`).
    Move(usize, std::net::TcpStream),
    Close,
}

/// Reads between two checks of whether the connection's packets now arrive on another core's
/// CPU (one `getsockopt` each; see `handoff`).
const READS_PER_STEERING_CHECK: u32 = 128;

/// How a connection's service on this core ended.
pub enum Served {
    Closed,
    /// Between requests, to be served by that core from now on (through this duplicate of its
    /// descriptor; the original is closed).
    Moved {
        stream: std::net::TcpStream,
        to: usize,
    },
}

/// Where the connection goes once its answers are written.
enum AfterFlush {
    /// Answering stopped at [`FLUSH_THRESHOLD`] with requests still buffered: answer them before
    /// reading more.
    Answer,
    Read,
    Upgrade(ws::Channel),
    Close,
}

/// Where the client is in its requests, which decides how long the connection waits for it.
enum ClientState {
    /// Has sent nothing yet.
    Silent,
    /// Keep-alive between requests.
    Idle,
    /// Sending a request whose first bytes are buffered.
    Sending(PartialRequest),
}

struct PartialRequest {
    /// The buffer must hold this many bytes before parsing can succeed (see `Parsed::Partial`).
    min_total: usize,
    /// When the connection first waited for the rest (after writing earlier answers): the
    /// request must be complete within `limits.request_timeout_ms` of it.
    waiting_since: Option<Instant>,
    /// "100 Continue" was sent for this request.
    continue_sent: bool,
}

enum ReadOutcome {
    Data,
    Closed,
    TimedOut,
    Shutdown,
}

/// Serve one connection until it closes or becomes a WebSocket session.
///
/// On shutdown the connection drains: a request in progress is still answered (with
/// `Connection: close`), a connection waiting between requests closes at once.
/// `moved`: served by another core until now (between requests), so already a client that sent
/// requests (the idle timeout applies, not the first request's).
pub async fn serve<A: App>(
    core: &Core,
    stream: TcpStream,
    info: ConnectionInfo,
    moved: bool,
) -> Served {
    let peer = info.remote;
    let mut connection = Connection::<A> {
        app: PhantomData,
        core,
        stream,
        peer,
        parser: RequestParser::new(core.node.http_limits),
        buf: Vec::with_capacity(INITIAL_READ_BUFFER),
        request_bytes: core.budgets.requests.charge(),
        out: Outgoing::new(core.budgets.writes.slot(), &core.trimmer),
        scratch: Scratch::new(&core.budgets.requests, info),
        client: if moved {
            ClientState::Idle
        } else {
            ClientState::Silent
        },
        reads: 0,
    };
    let mut step = Step::Read;
    loop {
        step = match step {
            Step::Answer => connection.answer().await,
            Step::Flush(then) => connection.flush(then).await,
            Step::Read => connection.read().await,
            Step::Upgrade(channel) => {
                // The rest of the connection (and any bytes sent after the handshake) belong to
                // the WebSocket session; what it held of the core's budgets and its scratch
                // buffers are given back.
                let Connection {
                    stream,
                    buf,
                    request_bytes,
                    out,
                    scratch,
                    parser,
                    ..
                } = connection;
                drop((request_bytes, out, scratch, parser));
                ws::serve::<A>(core, stream, channel, buf, peer).await;
                return Served::Closed;
            }
            Step::Move(to, stream) => {
                let held = connection.buf.capacity() + connection.out.len();
                core.trimmer.note_freed(held);
                return Served::Moved { stream, to };
            }
            Step::Close => {
                let held = connection.buf.capacity() + connection.out.len();
                core.trimmer.note_freed(held);
                return Served::Closed;
            }
        };
    }
}

struct Connection<'a, A> {
    app: PhantomData<A>,
    core: &'a Core,
    stream: TcpStream,
    peer: SocketAddr,
    parser: RequestParser,
    /// Bytes received and not yet answered.
    buf: Vec<u8>,
    /// What `buf` holds of the core's request budget: its capacity past [`INITIAL_READ_BUFFER`].
    request_bytes: RequestCharge,
    /// Answers not yet written.
    out: Outgoing<'a>,
    scratch: Scratch,
    client: ClientState,
    /// Reads since the last steering check.
    reads: u32,
}

impl<A: App> Connection<'_, A> {
    /// Answer every complete request buffered, in order, into `out` (stopping once `out` reaches
    /// [`FLUSH_THRESHOLD`], so a burst of pipelined requests cannot pile up answers without bound).
    async fn answer(&mut self) -> Step {
        let core = self.core;
        let mut consumed = 0usize;
        let then = loop {
            if consumed == self.buf.len() {
                break AfterFlush::Read;
            }
            if self.out.len() >= FLUSH_THRESHOLD {
                break AfterFlush::Answer;
            }
            if let ClientState::Sending(partial) = &self.client {
                // Relative to the unanswered bytes, which start at 0 once drained below.
                if self.buf.len() - consumed < partial.min_total {
                    break AfterFlush::Read;
                }
            }
            let available = &self.buf[consumed..];
            let parser = &mut self.parser;
            let (parsed, fits) = self
                .scratch
                .dechunked
                .fill(|dechunked| parser.parse(available, dechunked));
            if !fits {
                A::write_busy(core, &mut self.out.tail);
                break AfterFlush::Close;
            }
            match parsed {
                Ok(Parsed::Complete {
                    request,
                    consumed: used,
                }) => {
                    consumed += used;
                    if let Some(channel) =
                        ws::channel_of(request.path, &core.node.config.path_prefix)
                    {
                        match protocol::ws::check_upgrade(&request) {
                            Ok(accept) => {
                                protocol::ws::write_handshake_response(&mut self.out.tail, &accept);
                                break AfterFlush::Upgrade(channel);
                            }
                            Err(error) => {
                                A::write_upgrade_error(core, &request, &error, &mut self.out.tail);
                                break AfterFlush::Close;
                            }
                        }
                    }
                    debug_assert!(self.scratch.shared_body.is_empty());
                    let method = request.method;
                    let answer_start = self.out.tail.len();
                    let keep_alive = A::handle(
                        core,
                        &request,
                        available,
                        &mut self.scratch,
                        &mut self.out.tail,
                    )
                    .await;
                    if self.scratch.inflated.refused() {
                        // The app answered the refused copy as a bad body; it is the core's
                        // budget that said no, which the client should retry later.
                        self.out.tail.truncate(answer_start);
                        self.scratch.shared_body.clear();
                        A::write_busy(core, &mut self.out.tail);
                        break AfterFlush::Close;
                    }
                    if !self.scratch.shared_body.is_empty() {
                        // A HEAD answer has the head (and its Content-Length) only.
                        if method != Method::Head {
                            self.out.push_body(&self.scratch.shared_body);
                        }
                        self.scratch.shared_body.clear();
                    }
                    let freed = self.scratch.finish_request();
                    if freed > 0 {
                        core.trimmer.note_freed(freed);
                    }
                    self.client = ClientState::Idle;
                    if !keep_alive || core.shutdown.is_fired() {
                        break AfterFlush::Close;
                    }
                }
                Ok(Parsed::Partial { min_total }) => {
                    let partial = self.client.sending();
                    partial.min_total = min_total;
                    if self.parser.pending_continue() && !partial.continue_sent {
                        protocol::http::write_continue(&mut self.out.tail);
                        partial.continue_sent = true;
                    }
                    break AfterFlush::Read;
                }
                Err(error) => {
                    log_bad_request(core, self.peer, error);
                    A::write_protocol_error(core, error, &mut self.out.tail);
                    break AfterFlush::Close;
                }
            }
        };
        self.buf.drain(..consumed);
        Step::Flush(then)
    }

    async fn flush(&mut self, then: AfterFlush) -> Step {
        if !self.out.is_empty() {
            let wait = Duration::from_millis(self.core.node.config.limits.write_timeout_ms);
            let queued = self.out.len() as u64;
            match self.out.flush(&mut self.stream, wait).await {
                Flushed::Written => self.core.metrics.http.sent.add(queued),
                Flushed::Failed => return Step::Close,
                Flushed::TimedOut => {
                    tracing::debug!(peer = %self.peer, "write timed out; closing");
                    return Step::Close;
                }
                Flushed::Evicted => {
                    tracing::debug!(peer = %self.peer, "slowest reader over the write budget; closing");
                    return Step::Close;
                }
            }
        }
        match then {
            AfterFlush::Answer => Step::Answer,
            AfterFlush::Read => Step::Read,
            AfterFlush::Upgrade(channel) => Step::Upgrade(channel),
            AfterFlush::Close => Step::Close,
        }
    }

    /// Wait for more bytes, as long as what the connection awaits allows; a request that does
    /// not arrive in time is answered 408.
    async fn read(&mut self) -> Step {
        let limits = &self.core.node.config.limits;
        let request_timeout = Duration::from_millis(limits.request_timeout_ms);
        let (wait, min_total) = match &mut self.client {
            // A connection that never sent a request gets no more time than a request does, so
            // silent connections cannot hold connection slots for the whole idle timeout.
            ClientState::Silent => (request_timeout, 0),
            ClientState::Idle => (Duration::from_millis(limits.idle_timeout_ms), 0),
            ClientState::Sending(partial) => {
                let since = *partial.waiting_since.get_or_insert_with(Instant::now);
                (
                    request_timeout.saturating_sub(since.elapsed()),
                    partial.min_total,
                )
            }
        };
        let between_requests = !matches!(self.client, ClientState::Sending(_));
        debug_assert_eq!(
            between_requests,
            self.buf.is_empty(),
            "buffered bytes are always the start of a request"
        );
        self.reads += 1;
        if self.reads >= READS_PER_STEERING_CHECK && matches!(self.client, ClientState::Idle) {
            self.reads = 0;
            // Nothing buffered either way: every answer was written before this read.
            if self.out.is_empty() {
                if let Some(to) = self.core.steer(&self.stream, true) {
                    // Without a descriptor to spare it stays here.
                    if let Ok(duplicate) = super::handoff::duplicate(&self.stream) {
                        return Step::Move(to, duplicate);
                    }
                }
            }
        }
        if self.buf.is_empty() && self.buf.capacity() > INITIAL_READ_BUFFER {
            self.core.trimmer.note_freed(self.buf.capacity());
            self.buf = Vec::with_capacity(INITIAL_READ_BUFFER);
            self.request_bytes.set(0);
        }
        if !self.make_room(min_total) {
            A::write_busy(self.core, &mut self.out.tail);
            return Step::Flush(AfterFlush::Close);
        }
        let buf = std::mem::take(&mut self.buf);
        let (outcome, buf) =
            read_more(self.core, &mut self.stream, buf, wait, between_requests).await;
        self.buf = buf;
        match outcome {
            ReadOutcome::Data => Step::Answer,
            ReadOutcome::Closed | ReadOutcome::Shutdown => Step::Close,
            ReadOutcome::TimedOut if between_requests => Step::Close,
            ReadOutcome::TimedOut => {
                tracing::debug!(peer = %self.peer, "request timed out; closing");
                A::write_timeout(self.core, &mut self.out.tail);
                Step::Flush(AfterFlush::Close)
            }
        }
    }
}

impl<A> Connection<'_, A> {
    /// Make room in `buf` for the next read: the request needs at least `min_total` bytes in
    /// all. The buffer grows by doubling (so a client is charged for about what it sent, not
    /// for the Content-Length it announced), and what it holds past [`INITIAL_READ_BUFFER`] is
    /// charged to the core's request budget. False when the budget has no room for it.
    fn make_room(&mut self, min_total: usize) -> bool {
        let len = self.buf.len();
        let cap = self.buf.capacity();
        let want = min_total.max(len + 4096);
        if cap >= want {
            return true;
        }
        let grown = want.min((cap * 2).max(len + 4096));
        if !self
            .request_bytes
            .set(grown.saturating_sub(INITIAL_READ_BUFFER))
        {
            return false;
        }
        self.buf.reserve_exact(grown - len);
        debug_assert!(self.buf.capacity() >= grown);
        true
    }
}

impl ClientState {
    /// The request the client is sending, started now if it was between requests.
    fn sending(&mut self) -> &mut PartialRequest {
        if !matches!(self, ClientState::Sending(_)) {
            *self = ClientState::Sending(PartialRequest {
                min_total: 0,
                waiting_since: None,
                continue_sent: false,
            });
        }
        match self {
            ClientState::Sending(partial) => partial,
            _ => unreachable!("set just above"),
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
    between_requests: bool,
) -> (ReadOutcome, Vec<u8>) {
    use monoio::buf::IoBufMut;
    let len = buf.len();
    let cap = buf.capacity();
    let read = stream.read(buf.slice_mut(len..cap));
    let timed = monoio::time::timeout(wait, read);
    let result = if between_requests {
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
        Some(Ok((Ok(read), slice))) => {
            core.metrics.http.received.add(read as u64);
            (ReadOutcome::Data, slice.into_inner())
        }
        Some(Ok((Err(e), slice))) => {
            tracing::debug!(error = %e, "read failed");
            (ReadOutcome::Closed, slice.into_inner())
        }
    }
}

fn log_bad_request(core: &Core, peer: SocketAddr, error: HttpError) {
    if core.bad_request_log.allow() {
        tracing::warn!(%peer, status = error.status(), reason = error.message(), "bad request");
    }
}
