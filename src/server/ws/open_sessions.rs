//! How many WebSocket sessions are open, per channel family, node-wide
//! (`status/message/connections.json`).
//!
//! Each core counts its own sessions in its own slot: a session's open and close each touch one
//! counter that only its core writes, on a cache line no other core writes, so counting never
//! contends. A reader sums every slot; it may see one core's count a moment old, which is all a
//! status answer needs.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::Channel;

/// The two families Java counted: `registry` (the heartbeat channel) and `discovery` (the
/// change-push channels).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCounts {
    pub registry: usize,
    pub discovery: usize,
}

/// One core's counters, alone on their cache lines (128 bytes covers adjacent-line prefetch).
#[derive(Default)]
#[repr(align(128))]
struct CoreSlot {
    registry: AtomicUsize,
    discovery: AtomicUsize,
}

impl CoreSlot {
    fn counter(&self, channel: Channel) -> &AtomicUsize {
        match channel {
            Channel::Heartbeat => &self.registry,
            Channel::InstanceChange | Channel::AllInstanceChange => &self.discovery,
        }
    }
}

pub struct OpenSessions {
    cores: Box<[CoreSlot]>,
}

impl OpenSessions {
    pub fn new(cores: usize) -> Self {
        OpenSessions {
            cores: (0..cores).map(|_| CoreSlot::default()).collect(),
        }
    }

    /// Count a session on `core` until the returned guard is dropped.
    pub fn open(&self, core: usize, channel: Channel) -> OpenSession<'_> {
        let counter = self.cores[core].counter(channel);
        counter.fetch_add(1, Ordering::Relaxed);
        OpenSession { counter }
    }

    /// Sessions open on every core now.
    pub fn totals(&self) -> SessionCounts {
        self.cores
            .iter()
            .fold(SessionCounts::default(), |sum, slot| SessionCounts {
                registry: sum.registry + slot.registry.load(Ordering::Relaxed),
                discovery: sum.discovery + slot.discovery.load(Ordering::Relaxed),
            })
    }
}

/// A counted session; dropping it (however the session ends) uncounts it.
pub struct OpenSession<'a> {
    counter: &'a AtomicUsize,
}

impl Drop for OpenSession<'_> {
    fn drop(&mut self) {
        let before = self.counter.fetch_sub(1, Ordering::Relaxed);
        debug_assert!(
            before > 0,
            "a session is uncounted once, after it was counted"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_count_per_family_across_cores_until_dropped() {
        let sessions = OpenSessions::new(3);
        assert_eq!(sessions.totals(), SessionCounts::default());
        let heartbeat = sessions.open(0, Channel::Heartbeat);
        let one = sessions.open(1, Channel::InstanceChange);
        let all = sessions.open(2, Channel::AllInstanceChange);
        let second_heartbeat = sessions.open(2, Channel::Heartbeat);
        assert_eq!(
            sessions.totals(),
            SessionCounts {
                registry: 2,
                discovery: 2
            }
        );
        drop(one);
        drop(heartbeat);
        assert_eq!(
            sessions.totals(),
            SessionCounts {
                registry: 1,
                discovery: 1
            }
        );
        drop((all, second_heartbeat));
        assert_eq!(sessions.totals(), SessionCounts::default());
    }

    #[test]
    fn each_core_has_its_own_cache_lines() {
        assert!(std::mem::align_of::<CoreSlot>() >= 128);
        assert_eq!(std::mem::size_of::<CoreSlot>() % 128, 0);
    }
}
