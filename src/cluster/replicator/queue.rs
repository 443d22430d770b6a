//! The writes of one core's shard on their way to one peer, as a state machine without I/O or
//! clock: the caller passes the time (monotonic milliseconds) to every step.
//!
//! - One FIFO. Requests carry the *run* of same-kind entries at its head, so the order between
//!   kinds is kept: an unregister is never overtaken by an older heartbeat (which would make the
//!   peer re-register the instance).
//! - A heartbeat run is sent once it has `heartbeat_batch` entries, once an entry of another kind
//!   follows it (it cannot grow any more), or `heartbeat_window_ms` after its first entry was
//!   queued; a register/unregister run is sent at once, up to `write_batch` of it.
//! - Overflow (`capacity` live entries): a heartbeat that finds the queue full is dropped (the
//!   next one supersedes it); a register/unregister first drops every queued heartbeat to make
//!   room. Only a queue full of registers/unregisters marks the peer for a full resync: its
//!   registers and heartbeats are dropped (the resync's snapshot has every live instance as it is
//!   then), its unregisters kept for the resync, at most `capacity` of them (more are dropped and
//!   counted: those instances expire on the peer by their lease, nobody heartbeats them). A peer
//!   that neither took nor refused any pending write for `stall_ms` (the lease TTL) is marked the
//!   same way. While a resync is marked, the writes of a batch in flight that the peer does not
//!   take are dropped or kept by the same rule.
//! - A resync ([`PeerQueue::begin_resync`]) goes ahead of what was queued after its mark: the kept
//!   unregisters of instances the snapshot does not hold (one unregistered and registered again
//!   is in it: its unregister is not sent), then the snapshot as registers. Its entries do not
//!   count against the capacity. A resync is never restarted: one marked while another is being
//!   sent takes its snapshot once that one is answered, so every snapshot gets through however
//!   fast writes overflow the queue meanwhile.
//! - Entries the peer did not take but may take later go back to the head in their order and
//!   wait a backoff (50 ms doubling up to 2 s); entries it refused for good are dropped.
//! - The queue is ordered by queueing time (a resync's entries count as queued when the oldest
//!   write it stands for was), so the oldest pending write is at hand: the lag of a peer that
//!   answers nothing keeps growing, across resyncs ([`PeerQueue::lag_ms`]).

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;
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
    /// Live entries (a resync's aside) queued: `cluster.peer_queue_capacity`. A write queued by a
    /// mark may exceed it by the batch in flight. Also the most unregisters a resync keeps.
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
    /// Part of a resync (does not count against the capacity).
    pub resync: bool,
}

/// What became of a pushed write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; `wake`: the sender may have to act on it now (it may be waiting for it).
    Queued { wake: bool },
    /// A heartbeat found the queue full: dropped.
    DroppedHeartbeat,
    /// A register/unregister found the queue full: the queued heartbeats were dropped to make
    /// room for it.
    MadeRoom,
    /// A register/unregister found the queue full of registers/unregisters: the peer is marked
    /// for a resync (see the module doc); the write itself is queued after the mark.
    MarkedResync,
}

impl Pushed {
    pub fn wakes(self) -> bool {
        match self {
            Pushed::Queued { wake } => wake,
            Pushed::DroppedHeartbeat => false,
            // The head of the queue may have changed under a sender waiting for it.
            Pushed::MadeRoom | Pushed::MarkedResync => true,
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
}

/// Counters since the last [`PeerQueue::take_figures`], and the last acknowledgement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Entries the peer accepted.
    pub sent: u64,
    /// Requests not fully accepted (no answer, or some entry not accepted).
    pub failed_requests: u64,
    pub dropped_heartbeats: u64,
    /// Unregisters a marked resync had no room to keep.
    pub dropped_unregisters: u64,
    /// Entries the peer refused for good.
    pub rejected: u64,
    pub resyncs: u64,
    /// When the peer last accepted entries of a request.
    pub last_ack_ms: Option<u64>,
}

/// How a completed batch went, for the sender's log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completed {
    pub accepted: usize,
    pub rejected: usize,
    pub retried: usize,
}

/// What a resync put ahead of the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Began {
    /// Kept unregisters of instances the snapshot does not hold.
    pub unregisters: usize,
    /// The snapshot's instances.
    pub registers: usize,
}

pub struct PeerQueue {
    limits: Limits,
    /// The resync's entries being sent (a prefix), then the live writes; oldest first.
    waiting: VecDeque<Entry>,
    /// How many leading entries of `waiting` have the first one's kind.
    head_run: usize,
    /// Entries of the batch the sender has in flight, how many of them are a resync's, and when
    /// its oldest was queued.
    in_flight: usize,
    in_flight_resync: usize,
    in_flight_since: u64,
    /// Resync entries waiting or in flight.
    resync_left: usize,
    /// Marked for a resync that has not taken its snapshot yet.
    resync_marked: bool,
    /// While marked: when the oldest write the resync stands for was queued.
    resync_since: u64,
    /// While marked: the unregisters the resync sends unless its snapshot holds their instance.
    kept: Vec<Entry>,
    /// Since when the peer owes an answer for pending writes (None: nothing pending).
    owed_since: Option<u64>,
    /// Consecutive requests that left entries to retry.
    failures: u32,
    /// No request before this time (backoff after a failure).
    retry_at: u64,
    /// The lag of the last request the peer accepted entries of: from the queueing of its
    /// oldest accepted entry to the answer.
    last_ack_lag_ms: Option<u64>,
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
            in_flight_resync: 0,
            in_flight_since: 0,
            resync_left: 0,
            resync_marked: false,
            resync_since: 0,
            kept: Vec::new(),
            owed_since: None,
            failures: 0,
            retry_at: 0,
            last_ack_lag_ms: None,
            figures: Figures::default(),
        }
    }

    /// Queue a write the shard made at `now`.
    pub fn push(&mut self, kind: ReplicaKind, json: Arc<[u8]>, now: u64) -> Pushed {
        let entry = Entry {
            kind,
            json,
            queued_ms: now,
            resync: false,
        };
        if self.live_len() < self.limits.capacity {
            let wake = self.append(entry, now);
            return Pushed::Queued { wake };
        }
        if kind == ReplicaKind::Heartbeat {
            self.figures.dropped_heartbeats += 1;
            return Pushed::DroppedHeartbeat;
        }
        let pushed = if self.drop_queued_heartbeats() > 0 {
            Pushed::MadeRoom
        } else {
            self.mark_resync(now);
            Pushed::MarkedResync
        };
        self.append(entry, now);
        pushed
    }

    /// What to do at `now`. Marks the peer for a resync first when it has owed an answer for
    /// longer than `stall_ms`.
    pub fn next(&mut self, now: u64) -> Next {
        assert_eq!(self.in_flight, 0, "one batch in flight at a time");
        let stalled = self
            .owed_since
            .is_some_and(|since| now.saturating_sub(since) > self.limits.stall_ms);
        if stalled && !self.resync_marked {
            self.mark_resync(now);
        }
        if self.resync_marked && self.resync_left == 0 {
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
        let front = self.waiting.front().expect("a batch of a non-empty queue");
        let (kind, since) = (front.kind, front.queued_ms);
        let max = match kind {
            ReplicaKind::Heartbeat => self.limits.heartbeat_batch,
            ReplicaKind::Register | ReplicaKind::Unregister => self.limits.write_batch,
        };
        let n = self.head_run.min(max);
        assert!(n > 0, "a non-empty queue has a head run");
        let resync = n.min(self.resync_waiting());
        out.clear();
        out.extend(self.waiting.drain(..n));
        self.head_run -= n;
        if self.head_run == 0 {
            self.recount_head_run(0);
        }
        self.in_flight = n;
        self.in_flight_resync = resync;
        self.in_flight_since = since;
        Ticket { kind }
    }

    /// The peer's answer to the batch in flight at `now`: one verdict per entry, in order.
    pub fn complete(
        &mut self,
        ticket: Ticket,
        batch: &[Entry],
        verdicts: &[Verdict],
        now: u64,
    ) -> Completed {
        assert_eq!(batch.len(), verdicts.len(), "one verdict per entry");
        assert_eq!(self.in_flight, batch.len(), "the batch in flight");
        self.in_flight = 0;
        self.in_flight_resync = 0;
        let mut done = Completed::default();
        let mut oldest_accepted: Option<u64> = None;
        let mut retry: Vec<Entry> = Vec::new();
        for (entry, verdict) in batch.iter().zip(verdicts) {
            match verdict {
                Verdict::Accepted => {
                    done.accepted += 1;
                    oldest_accepted =
                        Some(oldest_accepted.map_or(entry.queued_ms, |o| o.min(entry.queued_ms)));
                }
                Verdict::Rejected => done.rejected += 1,
                Verdict::Retry => {
                    done.retried += 1;
                    // A write from before a mark: the marked resync stands for it.
                    if self.resync_marked && !entry.resync {
                        self.cover(entry.clone());
                    } else {
                        retry.push(entry.clone());
                    }
                    continue;
                }
            }
            if entry.resync {
                self.resync_left -= 1;
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
            f.last_ack_ms = Some(now);
            self.last_ack_lag_ms = Some(now.saturating_sub(oldest));
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

    /// Begin the marked resync with `snapshot` (every instance the shard holds, taken now): the
    /// kept unregisters of instances it does not hold (by `key_of`), then its instances as
    /// registers, ahead of what was queued after the mark.
    pub fn begin_resync<K: Eq + Hash>(
        &mut self,
        snapshot: Vec<Arc<[u8]>>,
        key_of: impl Fn(&[u8]) -> Option<K>,
        now: u64,
    ) -> Began {
        assert!(self.resync_marked, "a resync follows a mark");
        assert_eq!(self.in_flight, 0, "no batch in flight");
        assert_eq!(self.resync_left, 0, "the resync before was answered");
        self.resync_marked = false;
        let unregisters = unsent_unregisters(std::mem::take(&mut self.kept), &snapshot, key_of);
        let began = Began {
            unregisters: unregisters.len(),
            registers: snapshot.len(),
        };
        // Its entries stand for the writes the marks dropped or kept: as old as the oldest.
        let since = self.resync_since;
        let entry = |kind, json| Entry {
            kind,
            json,
            queued_ms: since,
            resync: true,
        };
        let registers = snapshot
            .into_iter()
            .map(|json| entry(ReplicaKind::Register, json));
        self.requeue_front(ReplicaKind::Register, registers);
        let unregisters = unregisters
            .into_iter()
            .map(|e| entry(ReplicaKind::Unregister, e.json));
        self.requeue_front(ReplicaKind::Unregister, unregisters);
        self.resync_left = began.unregisters + began.registers;
        // The resync starts the stall clock again.
        self.owed_since = self.pending().then_some(now);
        began
    }

    /// Writes queued, kept for a resync or in flight, not yet answered.
    pub fn unacked(&self) -> usize {
        self.waiting.len() + self.in_flight + self.kept.len()
    }

    /// Marked for a resync, or sending one.
    pub fn resyncing(&self) -> bool {
        self.resync_marked || self.resync_left > 0
    }

    /// How far behind the peer is at `now`: the larger of the last acknowledged request's lag
    /// and the age of the oldest write still pending, so a peer that answers nothing shows how
    /// long it has not. None while nothing was acknowledged and nothing is pending.
    pub fn lag_ms(&self, now: u64) -> Option<u64> {
        let pending_age = self.oldest_pending_ms().map(|t| now.saturating_sub(t));
        // `None` orders below every `Some`.
        self.last_ack_lag_ms.max(pending_age)
    }

    /// The counters since the last call.
    pub fn take_figures(&mut self) -> Figures {
        std::mem::take(&mut self.figures)
    }

    fn pending(&self) -> bool {
        !self.waiting.is_empty() || self.in_flight > 0
    }

    /// When the oldest write the peer has not answered was queued: the batch in flight was
    /// taken from the head, `waiting` is oldest first, and a marked resync's kept unregisters
    /// are no older than what it stands for.
    fn oldest_pending_ms(&self) -> Option<u64> {
        let in_flight = (self.in_flight > 0).then_some(self.in_flight_since);
        let waiting = self.waiting.front().map(|e| e.queued_ms);
        let marked = self.resync_marked.then_some(self.resync_since);
        [in_flight, waiting, marked].into_iter().flatten().min()
    }

    /// Entries counted against the capacity.
    fn live_len(&self) -> usize {
        let all = self.waiting.len() + self.in_flight;
        debug_assert!(all >= self.resync_left);
        all - self.resync_left
    }

    /// The resync's entries at the head of `waiting`.
    fn resync_waiting(&self) -> usize {
        self.resync_left - self.in_flight_resync
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

    /// Recount the head run after the entries of `waiting` from index `unchanged` on changed.
    fn recount_head_run(&mut self, unchanged: usize) {
        if self.head_run < unchanged {
            // The run ends before the change.
            return;
        }
        let Some(kind) = self.waiting.front().map(|e| e.kind) else {
            self.head_run = 0;
            return;
        };
        let more = self
            .waiting
            .range(unchanged..)
            .take_while(|e| e.kind == kind)
            .count();
        self.head_run = unchanged + more;
    }

    /// Drop the live heartbeats waiting (later heartbeats, or a resync's registers, supersede
    /// them); how many.
    fn drop_queued_heartbeats(&mut self) -> usize {
        let before = self.waiting.len();
        // A resync's entries are registers/unregisters: only live ones go.
        self.waiting.retain(|e| e.kind != ReplicaKind::Heartbeat);
        let dropped = before - self.waiting.len();
        self.recount_head_run(self.resync_waiting());
        self.figures.dropped_heartbeats += dropped as u64;
        dropped
    }

    /// Mark the peer for a resync: the live writes waiting are left to it (a resync being sent
    /// goes on; the marked one follows it).
    fn mark_resync(&mut self, now: u64) {
        if !self.resync_marked {
            self.resync_marked = true;
            self.resync_since = now;
            self.figures.resyncs += 1;
        }
        let resync = self.resync_waiting();
        for entry in self.waiting.split_off(resync) {
            self.cover(entry);
        }
        self.recount_head_run(resync);
        self.release_memory();
    }

    /// Leave a live write to the marked resync: an unregister is kept for it (while there is
    /// room), a register or heartbeat dropped (the snapshot has the instance as it is then).
    fn cover(&mut self, entry: Entry) {
        debug_assert!(self.resync_marked && !entry.resync);
        self.resync_since = self.resync_since.min(entry.queued_ms);
        if entry.kind != ReplicaKind::Unregister {
            return;
        }
        if self.kept.len() < self.limits.capacity {
            self.kept.push(entry);
        } else {
            self.figures.dropped_unregisters += 1;
        }
    }

    fn release_memory(&mut self) {
        if self.waiting.is_empty() && self.waiting.capacity() > KEEP_SLOTS {
            self.waiting.shrink_to(KEEP_SLOTS);
        }
    }
}

/// The `kept` unregisters whose instance `snapshot` does not hold. An instance unregistered and
/// registered again is in the snapshot, which registers it: its unregister must not follow.
/// Only the snapshot's instances a kept unregister names are looked for, and the scan stops once
/// all are found; an unregister without a readable key is sent (no snapshot entry can match it).
fn unsent_unregisters<K: Eq + Hash>(
    kept: Vec<Entry>,
    snapshot: &[Arc<[u8]>],
    key_of: impl Fn(&[u8]) -> Option<K>,
) -> Vec<Entry> {
    if kept.is_empty() {
        return kept;
    }
    let keys: Vec<Option<K>> = kept.iter().map(|e| key_of(&e.json)).collect();
    let mut wanted: HashSet<&K> = keys.iter().flatten().collect();
    let mut held: HashSet<&K> = HashSet::new();
    for json in snapshot {
        if wanted.is_empty() {
            break;
        }
        if let Some(found) = key_of(json).and_then(|key| wanted.take(&key)) {
            held.insert(found);
        }
    }
    kept.into_iter()
        .zip(&keys)
        .filter(|(_, key)| key.as_ref().is_none_or(|key| !held.contains(key)))
        .map(|(entry, _)| entry)
        .collect()
}

/// The wait after `failures` consecutive failed requests.
pub fn backoff_ms(failures: u32) -> u64 {
    debug_assert!(failures > 0);
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_RETRY_MS << doublings).min(MAX_RETRY_MS)
}

#[cfg(test)]
mod tests;
