//! The bytes of the change batches waiting for one core's fan-out (`changes.core_queue_bytes`):
//! counted in by whoever queues a step for the core (another core's sender, or the core itself for
//! its own shard's changes) and given back by the core's fan-out as it hands each batch to its
//! sessions, whose queues have their own budget (`ws.max_core_queued_bytes`).

use std::sync::atomic::{AtomicUsize, Ordering};

pub struct WaitingChanges {
    bytes: AtomicUsize,
    limit: usize,
}

impl WaitingChanges {
    pub fn new(limit: usize) -> Self {
        WaitingChanges {
            bytes: AtomicUsize::new(0),
            limit,
        }
    }

    /// Count in a step of `bytes`, unless that passes the limit while other steps wait. A step
    /// that finds nothing waiting is always taken, so one batch the server accepted never closes
    /// a subscriber that keeps up, whatever its size.
    pub fn try_add(&self, bytes: usize) -> bool {
        self.bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held == 0 || held + bytes <= self.limit).then_some(held + bytes)
            })
            .is_ok()
    }

    /// `bytes` counted in by [`WaitingChanges::try_add`] were delivered (or dropped).
    pub fn release(&self, bytes: usize) {
        let before = self.bytes.fetch_sub(bytes, Ordering::AcqRel);
        assert!(before >= bytes, "only counted bytes are given back");
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_fit_the_limit_unless_nothing_waits() {
        let waiting = WaitingChanges::new(100);
        assert!(waiting.try_add(250), "alone, any size");
        assert!(!waiting.try_add(1), "over the limit already");
        waiting.release(250);
        assert!(waiting.try_add(60));
        assert!(waiting.try_add(40), "exactly at the limit");
        assert!(!waiting.try_add(1));
        waiting.release(40);
        assert!(waiting.try_add(1));
        assert_eq!(waiting.bytes(), 61);
    }
}
