//! What the WebSocket session queues of one core hold, counted once.
//!
//! Every queue entry is ready frames, written to the socket as they are. A change batch (one
//! shard step's changes of one service) is wrapped once per core in [`SharedFrames`] and every
//! session queue on the core holds a reference to it, so its bytes are charged to the core's
//! [`QueueBudget`] once, however many sessions hold it, until the last of them lets go. A reply
//! to one session ([`Frames::Own`]) is charged as it is. Entries carry the core's sequence number
//! of their creation, so the sessions holding the oldest bytes can be told apart from sessions
//! that only hold what was just delivered.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use protocol::ws::{write_frame, OpCode};

/// Bytes all session writers of a core hand the kernel in one round, when each writes one chunk
/// per turn: how long the core's other connections wait while many sessions write at once.
const ROUND_BYTES: usize = 4 << 20;
/// Bounds of one writer's chunk: below the minimum, system calls cost more than the copying.
const MIN_CHUNK: usize = 16 << 10;
const MAX_CHUNK: usize = 256 << 10;

/// `ws.max_core_queued_bytes`: the bytes held by one core's session queues (shared batches once,
/// replies each) and the sequence numbers of their entries; and how many sessions of the core
/// are writing, which sizes their turns.
pub struct QueueBudget {
    used: Cell<usize>,
    max: usize,
    next_seq: Cell<u64>,
    writers: Cell<usize>,
    /// What the queues held after a scan for sessions to close left them over budget.
    over_after_scan: Cell<Option<usize>>,
}

impl QueueBudget {
    pub fn new(max: usize) -> Rc<Self> {
        Rc::new(QueueBudget {
            used: Cell::new(0),
            max,
            next_seq: Cell::new(0),
            writers: Cell::new(0),
            over_after_scan: Cell::new(None),
        })
    }

    /// A session starts writing; it counts until the guard is dropped.
    pub fn writing(self: &Rc<Self>) -> Writing {
        self.writers.set(self.writers.get() + 1);
        Writing(self.clone())
    }

    /// Bytes one writer writes per turn: a share of a round among the writers of the core.
    pub fn write_chunk(&self) -> usize {
        (ROUND_BYTES / self.writers.get().max(1)).clamp(MIN_CHUNK, MAX_CHUNK)
    }

    pub fn used(&self) -> usize {
        self.used.get()
    }

    pub fn is_over(&self) -> bool {
        self.used.get() > self.max
    }

    /// Whether the queues are over budget and a scan for sessions to close may help: not while
    /// they hold less than a sixteenth of the budget more than the last scan left (the rest is
    /// held by writers or by what is being delivered, which closing sessions does not free), so
    /// a core that stays over budget does not scan its sessions at every entry.
    pub fn needs_scan(&self) -> bool {
        if !self.is_over() {
            self.over_after_scan.set(None);
            return false;
        }
        self.over_after_scan
            .get()
            .is_none_or(|left| self.used.get() > left + self.max / 16)
    }

    /// A scan closed what it could.
    pub fn scanned(&self) {
        let left = self.is_over().then(|| self.used.get());
        self.over_after_scan.set(left);
    }

    /// The sequence number the next entry gets: entries made from now on are newer.
    pub fn next_seq(&self) -> u64 {
        self.next_seq.get()
    }

    fn charge(self: &Rc<Self>, bytes: usize) -> Charge {
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        self.used.set(self.used.get() + bytes);
        Charge {
            budget: self.clone(),
            bytes,
            seq,
        }
    }

    /// Share a change batch among this core's sessions (charged once, until the last holder
    /// drops it).
    pub fn share(self: &Rc<Self>, frames: Arc<[u8]>) -> Rc<SharedFrames> {
        let charge = self.charge(frames.len());
        Rc::new(SharedFrames { frames, charge })
    }

    /// One text message for one session, framed.
    pub fn own_text(self: &Rc<Self>, payload: &[u8]) -> Frames {
        let mut bytes = Vec::with_capacity(payload.len() + protocol::ws::MAX_HEADER_LEN);
        write_frame(&mut bytes, OpCode::Text, true, payload);
        let charge = self.charge(bytes.len());
        Frames::Own(OwnFrames { bytes, charge })
    }
}

/// A session writing (see [`QueueBudget::writing`]).
pub struct Writing(Rc<QueueBudget>);

impl Drop for Writing {
    fn drop(&mut self) {
        let writers = &self.0.writers;
        assert!(writers.get() > 0, "every writer counted once");
        writers.set(writers.get() - 1);
    }
}

/// Bytes held against a [`QueueBudget`] until dropped.
struct Charge {
    budget: Rc<QueueBudget>,
    bytes: usize,
    seq: u64,
}

impl Drop for Charge {
    fn drop(&mut self) {
        let used = self.budget.used.get();
        assert!(used >= self.bytes, "a charge is released once");
        self.budget.used.set(used - self.bytes);
    }
}

/// A change batch shared by the sessions of one core.
pub struct SharedFrames {
    frames: Arc<[u8]>,
    charge: Charge,
}

impl SharedFrames {
    pub fn seq(&self) -> u64 {
        self.charge.seq
    }
}

pub struct OwnFrames {
    bytes: Vec<u8>,
    charge: Charge,
}

/// One entry of a session's queue.
pub enum Frames {
    Shared(Rc<SharedFrames>),
    Own(OwnFrames),
}

impl Frames {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Frames::Shared(s) => &s.frames,
            Frames::Own(o) => &o.bytes,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn seq(&self) -> u64 {
        match self {
            Frames::Shared(s) => s.charge.seq,
            Frames::Own(o) => o.charge.seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_bytes_are_charged_once_until_the_last_holder_lets_go() {
        let budget = QueueBudget::new(100);
        let batch = budget.share(vec![7u8; 60].into());
        let held: Vec<Rc<SharedFrames>> = (0..1000).map(|_| batch.clone()).collect();
        assert_eq!(budget.used(), 60, "once, not per holder");
        drop(batch);
        let reply = budget.own_text(&[1u8; 50]);
        assert_eq!(reply.len(), 52, "a framed text message");
        assert_eq!(budget.used(), 112);
        assert!(budget.is_over());
        assert!(
            reply.seq() > held[0].seq(),
            "later entries have later numbers"
        );
        drop(held);
        assert_eq!(budget.used(), 52);
        drop(reply);
        assert_eq!(budget.used(), 0);
        assert!(!budget.is_over());
    }

    #[test]
    fn a_scan_that_left_the_queues_over_budget_is_repeated_only_after_they_grew() {
        let budget = QueueBudget::new(160);
        let held = budget.share(vec![0u8; 200].into());
        assert!(budget.needs_scan());
        budget.scanned();
        assert!(!budget.needs_scan(), "nothing new to close");
        let more = budget.share(vec![0u8; 10].into());
        assert!(!budget.needs_scan(), "grown by less than a sixteenth");
        let much_more = budget.share(vec![0u8; 1].into());
        assert!(budget.needs_scan());
        drop((held, more, much_more));
        assert!(!budget.needs_scan());
        let again = budget.share(vec![0u8; 161].into());
        assert!(
            budget.needs_scan(),
            "under budget in between: the next excess scans"
        );
        drop(again);
    }

    #[test]
    fn writers_share_a_round() {
        let budget = QueueBudget::new(0);
        assert_eq!(budget.write_chunk(), MAX_CHUNK, "one writer alone");
        let writers: Vec<Writing> = (0..64).map(|_| budget.writing()).collect();
        assert_eq!(budget.write_chunk(), ROUND_BYTES / 64);
        let more: Vec<Writing> = (0..10_000).map(|_| budget.writing()).collect();
        assert_eq!(budget.write_chunk(), MIN_CHUNK, "never below the minimum");
        drop((writers, more));
        assert_eq!(budget.writers.get(), 0);
    }
}
