//! Operational metrics (`GET /metrics`).
//!
//! Each core counts what it does into its own [`CoreMetrics`]: plain cells, written only by that
//! core, so counting costs a few ordinary increments and never contends with another core. A
//! scrape asks every core for a sample of its counters and of its shard ([`Scrape`], a shard
//! operation, which runs on the core owning the shard) and sums them ([`NodeSample`]);
//! [`write_exposition`] writes the sum in the Prometheus text format.

mod cluster;
mod exposition;
mod histogram;
mod requests;
mod scrape;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::time::Duration;

pub use exposition::write_exposition;
pub use histogram::{Histogram, HistogramSample};
pub use requests::{EndpointId, RequestStats, RequestsSample, MAX_ENDPOINTS};
pub use scrape::{register_core, NodeSample, Scrape};

use super::ws::Channel;

/// A count that only grows.
#[derive(Default)]
pub struct Counter(Cell<u64>);

impl Counter {
    pub fn add(&self, n: u64) {
        self.0.set(self.0.get() + n);
    }

    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Bytes one protocol moved, each way.
#[derive(Default)]
pub struct Traffic {
    pub received: Counter,
    pub sent: Counter,
}

/// One WebSocket channel's sessions on a core.
#[derive(Default)]
struct ChannelSessions {
    opened: Counter,
    open: Cell<u64>,
}

/// One core's counters.
#[derive(Default)]
pub struct CoreMetrics {
    pub requests: RequestStats,
    /// How long each management write waited for the store to commit it.
    pub store_writes: Histogram,
    pub connections_accepted: Counter,
    /// Connections closed at once because the node held `limits.max_connections`.
    pub connections_refused: Counter,
    /// HTTP requests and answers, WebSocket handshakes included.
    pub http: Traffic,
    /// WebSocket frames, after the handshake.
    pub websocket: Traffic,
    ws_sessions: [ChannelSessions; Channel::ALL.len()],
    /// Change batches written to WebSocket sessions in full (one per session it reached).
    pub push_batches_sent: Counter,
    /// Change batches dropped unsent because their session fell behind (one per session).
    pub push_batches_dropped: Counter,
    /// The fan-out's cost (see [`CoreMetrics::count_fanout`]): nanoseconds from a batch's
    /// changes being recorded to its being queued on the last of its sessions on this core,
    /// summed over batches, and the sessions those batches were queued on.
    push_fanout_ns: Counter,
    push_fanout_sessions: Counter,
    /// WebSocket sessions the server closed with 1013 (try again later) because they fell behind
    /// or changes were lost: what they had queued was dropped.
    pub ws_sessions_dropped: Counter,
    /// Discovery reads of one service, by where the view came from.
    pub views: ViewSources,
    /// Shard operations sent to another core (one message each).
    pub cross_core_requests: Counter,
    /// Client heartbeats renewed on another core's shard (carried by those messages).
    pub remote_renewals: Counter,
    /// Answers sent gzip-encoded (`http.gzip_answers`).
    pub gzip_answers: Counter,
    /// Connections this core handed to the core on the CPU that receives their packets
    /// (`handoff`), when accepted or between requests.
    pub connections_handed: Counter,
    /// Shared answer bytes (views, services.json bodies) this core compressed.
    pub gzip_compressions: Counter,
}

/// Where discovery reads found a service's view (see `Core::served_views`).
#[derive(Default)]
pub struct ViewSources {
    /// This core's own shard.
    pub shard: Counter,
    /// The core's mirror of another shard.
    pub mirror: Counter,
    /// Asked of the owning core (a cross-core hop).
    pub owner: Counter,
}

impl CoreMetrics {
    /// Count a session of `channel` as open until the returned guard is dropped.
    pub fn ws_session(&self, channel: Channel) -> OpenSession<'_> {
        let sessions = &self.ws_sessions[channel as usize];
        sessions.opened.add(1);
        sessions.open.set(sessions.open.get() + 1);
        OpenSession {
            open: &sessions.open,
        }
    }

    /// A change batch recorded `elapsed` ago was just queued on `sessions` sessions of this core
    /// (the last of them now). The ratio of the two sums is the server's cost per subscriber,
    /// from the shard to the session's queue (cross-core hop and waiting included).
    pub fn count_fanout(&self, elapsed: Duration, sessions: usize) {
        self.push_fanout_ns
            .add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        self.push_fanout_sessions.add(sessions as u64);
    }

    /// The counters now; `connections_open` and `push_queue_bytes` are what the core holds now.
    pub fn sample(
        &self,
        connections_open: usize,
        push_queue_bytes: usize,
        gzip_cache_bytes: usize,
    ) -> CoreSample {
        CoreSample {
            requests: self.requests.sample(),
            store_writes: self.store_writes.sample(),
            connections_open: connections_open as u64,
            connections_accepted: self.connections_accepted.get(),
            connections_refused: self.connections_refused.get(),
            http_received: self.http.received.get(),
            http_sent: self.http.sent.get(),
            ws_received: self.websocket.received.get(),
            ws_sent: self.websocket.sent.get(),
            ws_sessions_open: std::array::from_fn(|c| self.ws_sessions[c].open.get()),
            ws_sessions_opened: std::array::from_fn(|c| self.ws_sessions[c].opened.get()),
            push_batches_sent: self.push_batches_sent.get(),
            push_batches_dropped: self.push_batches_dropped.get(),
            push_fanout_ns: self.push_fanout_ns.get(),
            push_fanout_sessions: self.push_fanout_sessions.get(),
            ws_sessions_dropped: self.ws_sessions_dropped.get(),
            push_queue_bytes: push_queue_bytes as u64,
            views: [
                self.views.shard.get(),
                self.views.mirror.get(),
                self.views.owner.get(),
            ],
            cross_core_requests: self.cross_core_requests.get(),
            remote_renewals: self.remote_renewals.get(),
            gzip_answers: self.gzip_answers.get(),
            connections_handed: self.connections_handed.get(),
            gzip_compressions: self.gzip_compressions.get(),
            gzip_cache_bytes: gzip_cache_bytes as u64,
        }
    }
}

/// A session counted as open by [`CoreMetrics::ws_session`].
pub struct OpenSession<'a> {
    open: &'a Cell<u64>,
}

impl Drop for OpenSession<'_> {
    fn drop(&mut self) {
        let open = self.open.get();
        assert!(
            open > 0,
            "a session is counted closed once, after it opened"
        );
        self.open.set(open - 1);
    }
}

/// One core's counters at one moment, to be summed across cores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreSample {
    pub requests: RequestsSample,
    pub store_writes: HistogramSample,
    pub connections_open: u64,
    pub connections_accepted: u64,
    pub connections_refused: u64,
    pub http_received: u64,
    pub http_sent: u64,
    pub ws_received: u64,
    pub ws_sent: u64,
    /// By channel, in [`Channel::ALL`] order.
    pub ws_sessions_open: [u64; Channel::ALL.len()],
    pub ws_sessions_opened: [u64; Channel::ALL.len()],
    pub push_batches_sent: u64,
    pub push_batches_dropped: u64,
    pub push_fanout_ns: u64,
    pub push_fanout_sessions: u64,
    pub ws_sessions_dropped: u64,
    pub push_queue_bytes: u64,
    /// Discovery reads by source: shard, mirror, owner.
    pub views: [u64; 3],
    pub cross_core_requests: u64,
    pub remote_renewals: u64,
    pub gzip_answers: u64,
    pub connections_handed: u64,
    pub gzip_compressions: u64,
    pub gzip_cache_bytes: u64,
}

impl CoreSample {
    pub fn add(&mut self, other: &CoreSample) {
        self.requests.add(&other.requests);
        self.store_writes.add(&other.store_writes);
        self.connections_open += other.connections_open;
        self.connections_accepted += other.connections_accepted;
        self.connections_refused += other.connections_refused;
        self.http_received += other.http_received;
        self.http_sent += other.http_sent;
        self.ws_received += other.ws_received;
        self.ws_sent += other.ws_sent;
        for c in 0..Channel::ALL.len() {
            self.ws_sessions_open[c] += other.ws_sessions_open[c];
            self.ws_sessions_opened[c] += other.ws_sessions_opened[c];
        }
        self.push_batches_sent += other.push_batches_sent;
        self.push_batches_dropped += other.push_batches_dropped;
        self.push_fanout_ns += other.push_fanout_ns;
        self.push_fanout_sessions += other.push_fanout_sessions;
        self.ws_sessions_dropped += other.ws_sessions_dropped;
        self.push_queue_bytes += other.push_queue_bytes;
        for (sum, n) in self.views.iter_mut().zip(other.views) {
            *sum += n;
        }
        self.cross_core_requests += other.cross_core_requests;
        self.remote_renewals += other.remote_renewals;
        self.gzip_answers += other.gzip_answers;
        self.connections_handed += other.connections_handed;
        self.gzip_compressions += other.gzip_compressions;
        self.gzip_cache_bytes += other.gzip_cache_bytes;
    }
}
