//! The writes of one core's shard on their way to one peer, as a state machine without I/O or
//! clock: the caller passes the time (monotonic milliseconds) to every step.
//!
//! - One FIFO, bounded by `capacity` entries. Requests carry the *run* of same-kind entries at
//!   its head, so the order between kinds is kept: an unregister is never overtaken by an older
//!   heartbeat (which would make the peer re-register the instance).
//! - A heartbeat run is sent once it has `heartbeat_batch` entries, once an entry of another kind
//!   follows it (it cannot grow any more), or `heartbeat_window_ms` after its first entry was
//!   queued; a register/unregister run is sent at once, up to `write_batch` of it.
//! - A full queue drops a new heartbeat (the next one supersedes it) but never a
//!   register/unregister: that clears the queue and marks the peer for a full resync, which puts
//!   a snapshot of the shard ([`PeerQueue::begin_resync`]) ahead of what was queued after the
//!   mark. So does a peer that neither took nor refused any pending write for `stall_ms` (the
//!   lease TTL): while it stays silent, a new resync (with a fresh snapshot) starts every
//!   `stall_ms`, so nothing older than that is kept for it.
//! - Entries the peer did not take but may take later go back to the head in their order and
//!   wait a backoff (50 ms doubling up to 2 s); entries it refused for good are dropped.

use std::collections::VecDeque;
use std::sync::Arc;

use shards::ReplicaKind;

/// First wait after a failed request; doubles per consecutive failure.
pub const FIRST_RETRY_MS: u64 = 50;
/// Longest wait between retries.
pub const MAX_RETRY_MS: u64 = 2_000;

/// Above this many slots an empty queue gives its memory back.
const KEEP_SLOTS: usize = 4096;

/// The configuration of a queue (from `[cluster]` and `lease.ttl_ms`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Entries queued (snapshot entries aside): `cluster.peer_queue_capacity`.
    pub capacity: usize,
    pub heartbeat_window_ms: u64,
    pub heartbeat_batch: usize,
    pub write_batch: usize,
    /// Writes pending with no entry taken or refused by the peer for longer than this: resync.
    pub stall_ms: u64,
}

/// One write for the peer: the instance as stored, and when it was queued.
#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: ReplicaKind,
    pub json: Arc<[u8]>,
    pub queued_ms: u64,
    /// Part of a resync snapshot (does not count against the capacity).
    pub snapshot: bool,
}

/// What became of a pushed write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; `wake`: the sender may have to act on it now (it may be waiting for it).
    Queued { wake: bool },
    /// A heartbeat found the queue full.
    DroppedHeartbeat,
    /// A register/unregister found the queue full: the queue was cleared and the peer marked
    /// for a resync; the write itself is queued after the mark.
    MarkedResync,
}

impl Pushed {
    pub fn wakes(self) -> bool {
        match self {
            Pushed::Queued { wake } => wake,
            Pushed::DroppedHeartbeat => false,
            Pushed::MarkedResync => true,
        }
    }
}

/// What the sender should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing queued: wait for a push.
    Idle,
    /// Wait until this time (a heartbeat window, a retry backoff) or a push.
    Wait(u64),
    /// Take a batch ([`PeerQueue::take_batch`]) and send it.
    Send,
    /// Take a snapshot of the shard and hand it to [`PeerQueue::begin_resync`].
    Resync,
}

/// What the peer's answer means for one entry of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Refused for good (Java's permanent failure): dropped.
    Rejected,
    /// Not taken now (transport failure, rate limited, rerunnable error): sent again later.
    Retry,
}

/// A batch taken off the queue; hand it back to [`PeerQueue::complete`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    pub kind: ReplicaKind,
    /// The queue's epoch when taken: a batch from before a clear no longer belongs to the queue.
    epoch: u64,
}

/// Counters since the last [`PeerQueue::take_figures`], and the last acknowledgement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Entries the peer accepted.
    pub sent: u64,
    /// Requests not fully accepted (no answer, or some entry not accepted).
    pub failed_requests: u64,
    pub dropped_heartbeats: u64,
    /// Entries the peer refused for good.
    pub rejected: u64,
    pub resyncs: u64,
    /// The last request the peer accepted entries of.
    pub last_ack: Option<Ack>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack {
    pub at_ms: u64,
    /// From the queueing of the batch's oldest accepted entry to the answer.
    pub lag_ms: u64,
}

/// How a completed batch went, for the sender's log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completed {
    pub accepted: usize,
    pub rejected: usize,
    pub retried: usize,
}

pub struct PeerQueue {
    limits: Limits,
    waiting: VecDeque<Entry>,
    /// How many leading entries of `waiting` have the first one's kind.
    head_run: usize,
    /// Entries of the batch the sender has in flight.
    in_flight: usize,
    /// Snapshot entries waiting or in flight.
    snapshot_left: usize,
    /// Bumped by every clear.
    epoch: u64,
    /// Marked for a resync that has not taken its snapshot yet.
    resync_marked: bool,
    /// Since when the peer owes an answer for pending writes (None: nothing pending).
    owed_since: Option<u64>,
    /// Consecutive requests that left entries to retry.
    failures: u32,
    /// No request before this time (backoff after a failure).
    retry_at: u64,
    figures: Figures,
}

impl PeerQueue {
    pub fn new(limits: Limits) -> PeerQueue {
        assert!(
            limits.capacity > 0 && limits.heartbeat_batch > 0 && limits.write_batch > 0,
            "validated by the configuration"
        );
        PeerQueue {
            limits,
            waiting: VecDeque::new(),
            head_run: 0,
            in_flight: 0,
            snapshot_left: 0,
            epoch: 0,
            resync_marked: false,
            owed_since: None,
            failures: 0,
            retry_at: 0,
            figures: Figures::default(),
        }
    }

    /// Queue a write the shard made at `now`.
    pub fn push(&mut self, kind: ReplicaKind, json: Arc<[u8]>, now: u64) -> Pushed {
        let entry = Entry {
            kind,
            json,
            queued_ms: now,
            snapshot: false,
        };
        if self.live_len() < self.limits.capacity {
            let wake = self.append(entry, now);
            return Pushed::Queued { wake };
        }
        if kind == ReplicaKind::Heartbeat {
            self.figures.dropped_heartbeats += 1;
            return Pushed::DroppedHeartbeat;
        }
        self.mark_resync();
        self.append(entry, now);
        Pushed::MarkedResync
    }

    /// What to do at `now`. Marks the peer for a resync first when it has owed an answer for
    /// longer than `stall_ms`.
    pub fn next(&mut self, now: u64) -> Next {
        assert_eq!(self.in_flight, 0, "one batch in flight at a time");
        if let Some(since) = self.owed_since {
            if now.saturating_sub(since) > self.limits.stall_ms {
                self.mark_resync();
            }
        }
        if self.resync_marked {
            return Next::Resync;
        }
        let Some(front) = self.waiting.front() else {
            return Next::Idle;
        };
        if now < self.retry_at {
            return Next::Wait(self.retry_at);
        }
        if front.kind != ReplicaKind::Heartbeat {
            return Next::Send;
        }
        let full = self.head_run >= self.limits.heartbeat_batch;
        let closed = self.head_run < self.waiting.len();
        let due = front
            .queued_ms
            .saturating_add(self.limits.heartbeat_window_ms);
        if full || closed || now >= due {
            Next::Send
        } else {
            Next::Wait(due)
        }
    }

    /// Move the next batch (up to a batch size of the head run) into `out`.
    pub fn take_batch(&mut self, out: &mut Vec<Entry>) -> Ticket {
        assert_eq!(self.in_flight, 0, "one batch in flight at a time");
        let kind = self
            .waiting
            .front()
            .expect("a batch of a non-empty queue")
            .kind;
        let max = match kind {
            ReplicaKind::Heartbeat => self.limits.heartbeat_batch,
            ReplicaKind::Register | ReplicaKind::Unregister => self.limits.write_batch,
        };
        let n = self.head_run.min(max);
        assert!(n > 0, "a non-empty queue has a head run");
        out.clear();
        out.extend(self.waiting.drain(..n));
        self.head_run -= n;
        if self.head_run == 0 {
            self.head_run = self.leading_run();
        }
        self.in_flight = n;
        Ticket {
            kind,
            epoch: self.epoch,
        }
    }

    /// The peer's answer to a batch at `now`: one verdict per entry, in order.
    pub fn complete(
        &mut self,
        ticket: Ticket,
        batch: &[Entry],
        verdicts: &[Verdict],
        now: u64,
    ) -> Completed {
        assert_eq!(batch.len(), verdicts.len(), "one verdict per entry");
        // A batch taken before a clear is covered by the resync that cleared it.
        let current = ticket.epoch == self.epoch;
        if current {
            assert_eq!(self.in_flight, batch.len(), "the batch in flight");
            self.in_flight = 0;
        }
        let mut done = Completed::default();
        let mut oldest_accepted = None;
        let mut retry: Vec<Entry> = Vec::new();
        for (entry, verdict) in batch.iter().zip(verdicts) {
            match verdict {
                Verdict::Accepted => {
                    done.accepted += 1;
                    oldest_accepted =
                        Some(oldest_accepted.unwrap_or(u64::MAX).min(entry.queued_ms));
                }
                Verdict::Rejected => done.rejected += 1,
                Verdict::Retry => {
                    done.retried += 1;
                    if current {
                        retry.push(entry.clone());
                    }
                    continue;
                }
            }
            if current && entry.snapshot {
                self.snapshot_left -= 1;
            }
        }
        self.requeue_front(ticket.kind, retry.into_iter());

        let f = &mut self.figures;
        f.sent += done.accepted as u64;
        f.rejected += done.rejected as u64;
        if done.accepted < batch.len() {
            f.failed_requests += 1;
        }
        if let Some(oldest) = oldest_accepted {
            f.last_ack = Some(Ack {
                at_ms: now,
                lag_ms: now.saturating_sub(oldest),
            });
        }
        if done.retried > 0 {
            self.failures = self.failures.saturating_add(1);
            self.retry_at = now.saturating_add(backoff_ms(self.failures));
        } else {
            self.failures = 0;
            self.retry_at = 0;
        }
        if !self.pending() {
            self.owed_since = None;
            self.release_memory();
        } else if done.accepted + done.rejected > 0 {
            // The peer answers: what is still pending is owed from now.
            self.owed_since = Some(now);
        }
        done
    }

    /// Put `snapshot` (every instance the shard holds, taken now) ahead of the queue, as
    /// registers; what was queued after the mark follows it.
    pub fn begin_resync(&mut self, snapshot: Vec<Arc<[u8]>>, now: u64) {
        assert!(self.resync_marked, "a resync follows a mark");
        assert_eq!(self.in_flight, 0, "the mark cleared the batch in flight");
        assert_eq!(self.snapshot_left, 0, "the mark cleared the last snapshot");
        self.resync_marked = false;
        self.snapshot_left = snapshot.len();
        let entries = snapshot.into_iter().map(|json| Entry {
            kind: ReplicaKind::Register,
            json,
            queued_ms: now,
            snapshot: true,
        });
        self.requeue_front(ReplicaKind::Register, entries);
        if self.pending() && self.owed_since.is_none() {
            self.owed_since = Some(now);
        }
    }

    /// Writes queued or in flight, not yet answered.
    pub fn unacked(&self) -> usize {
        self.waiting.len() + self.in_flight
    }

    /// Marked for a resync, or sending its snapshot.
    pub fn resyncing(&self) -> bool {
        self.resync_marked || self.snapshot_left > 0
    }

    /// The counters since the last call.
    pub fn take_figures(&mut self) -> Figures {
        std::mem::take(&mut self.figures)
    }

    fn pending(&self) -> bool {
        !self.waiting.is_empty() || self.in_flight > 0
    }

    /// Entries counted against the capacity.
    fn live_len(&self) -> usize {
        let all = self.waiting.len() + self.in_flight;
        debug_assert!(all >= self.snapshot_left);
        all - self.snapshot_left
    }

    fn append(&mut self, entry: Entry, now: u64) -> bool {
        let run_is_all = self.head_run == self.waiting.len();
        let joins = run_is_all
            && self
                .waiting
                .front()
                .is_none_or(|front| front.kind == entry.kind);
        let was_empty = self.waiting.is_empty();
        let kind = entry.kind;
        self.waiting.push_back(entry);
        if self.owed_since.is_none() {
            self.owed_since = Some(now);
        }
        if joins {
            self.head_run += 1;
        }
        // A sender waiting for a heartbeat run's window must act once the run is full or
        // closed; an empty queue's sender waits for anything.
        let closes = run_is_all && !joins;
        let fills =
            joins && kind == ReplicaKind::Heartbeat && self.head_run == self.limits.heartbeat_batch;
        was_empty || closes || fills
    }

    /// Put `entries` (all of `kind`, in order) at the head.
    fn requeue_front(
        &mut self,
        kind: ReplicaKind,
        entries: impl DoubleEndedIterator<Item = Entry> + ExactSizeIterator,
    ) {
        let n = entries.len();
        if n == 0 {
            return;
        }
        let same_kind_follows = self.waiting.front().is_some_and(|f| f.kind == kind);
        self.head_run = if same_kind_follows {
            self.head_run + n
        } else {
            n
        };
        self.waiting.reserve(n);
        for entry in entries.rev() {
            assert_eq!(entry.kind, kind, "a batch is one kind");
            self.waiting.push_front(entry);
        }
    }

    fn leading_run(&self) -> usize {
        match self.waiting.front() {
            Some(front) => self
                .waiting
                .iter()
                .take_while(|e| e.kind == front.kind)
                .count(),
            None => 0,
        }
    }

    /// Clear the queue (the batch in flight included) and mark the peer for a resync.
    fn mark_resync(&mut self) {
        self.waiting.clear();
        self.head_run = 0;
        self.in_flight = 0;
        self.snapshot_left = 0;
        self.epoch += 1;
        self.owed_since = None;
        self.release_memory();
        if !self.resync_marked {
            self.resync_marked = true;
            self.figures.resyncs += 1;
        }
    }

    fn release_memory(&mut self) {
        if self.waiting.is_empty() && self.waiting.capacity() > KEEP_SLOTS {
            self.waiting.shrink_to(KEEP_SLOTS);
        }
    }
}

/// The wait after `failures` consecutive failed requests.
pub fn backoff_ms(failures: u32) -> u64 {
    debug_assert!(failures > 0);
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_RETRY_MS << doublings).min(MAX_RETRY_MS)
}

#[cfg(test)]
mod tests;
