//! Rate limit for a sender's warnings (a peer that stays unreachable fails a request every
//! couple of seconds; a full queue drops heartbeats by the thousand): at most one line per
//! interval, which says how many events it stands for. The server's `LogLimiter` is not used
//! here because `cluster` does not depend on `server`, and a sender has no interval task of its
//! own: this one is driven by the event times.

use std::cell::Cell;

/// Lines of one kind a sender logs at most once per this many milliseconds.
pub const INTERVAL_MS: u64 = 10_000;

#[derive(Default)]
pub struct WarnLimit {
    /// When the last line was logged (None: never).
    last_ms: Cell<Option<u64>>,
    /// Events since that line.
    unlogged: Cell<u64>,
}

impl WarnLimit {
    /// Count `events` that happened at `now`; Some(total since the last line, these included)
    /// when a line may be logged now.
    pub fn admit(&self, now: u64, events: u64) -> Option<u64> {
        let total = self.unlogged.get() + events;
        let due = self
            .last_ms
            .get()
            .is_none_or(|last| now.saturating_sub(last) >= INTERVAL_MS);
        if due && total > 0 {
            self.last_ms.set(Some(now));
            self.unlogged.set(0);
            Some(total)
        } else {
            self.unlogged.set(total);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_counts_every_event() {
        let limit = WarnLimit::default();
        assert_eq!(limit.admit(100, 1), Some(1), "the first event is logged");
        assert_eq!(limit.admit(200, 5), None);
        assert_eq!(limit.admit(100 + INTERVAL_MS - 1, 1), None);
        assert_eq!(limit.admit(100 + INTERVAL_MS, 2), Some(8));
        assert_eq!(
            limit.admit(100 + 3 * INTERVAL_MS, 0),
            None,
            "no events, no line"
        );
        assert_eq!(limit.admit(100 + 3 * INTERVAL_MS, 1), Some(1));
    }
}
