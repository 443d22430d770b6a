//! Rate limit for log lines clients can trigger in bulk (bad requests, refused connections,
//! failing accepts), so a flood can neither turn logging (a blocking write to stderr) into the
//! bottleneck nor bury the log.
//!
//! A limiter counts in intervals, which a task on each core ends every [`INTERVAL`] (see the
//! accept loop). In an interval the first `per_interval` events are logged in full and the rest
//! are counted; the interval's end logs one line with the count, "what (N more in the last 1s)".
//! While the flood goes on, later intervals log no event in full, only that one line each; an
//! interval without suppressed events ends the flood, and the next event is logged in full again.

use std::cell::Cell;
use std::time::Duration;

/// How often suppressed events are summed up in one line.
pub const INTERVAL: Duration = Duration::from_secs(1);

pub struct LogLimiter {
    per_interval: u32,
    /// Events of this interval logged in full.
    logged: Cell<u32>,
    /// Events of this interval counted instead of logged.
    suppressed: Cell<u64>,
    /// The previous interval suppressed events: this one logs none in full.
    flooding: Cell<bool>,
}

impl LogLimiter {
    /// At most `per_interval` events in full per interval (at least one).
    pub fn new(per_interval: u32) -> Self {
        assert!(
            per_interval > 0,
            "a limiter logs at least one event in full"
        );
        LogLimiter {
            per_interval,
            logged: Cell::new(0),
            suppressed: Cell::new(0),
            flooding: Cell::new(false),
        }
    }

    /// May the caller log this event in full? If not, it is counted for the interval's summary.
    pub fn allow(&self) -> bool {
        if !self.flooding.get() && self.logged.get() < self.per_interval {
            self.logged.set(self.logged.get() + 1);
            true
        } else {
            self.suppressed.set(self.suppressed.get() + 1);
            false
        }
    }

    /// Ends the interval; returns how many events it suppressed, if any.
    pub fn end_interval(&self) -> Option<u64> {
        let suppressed = self.suppressed.replace(0);
        self.logged.set(0);
        self.flooding.set(suppressed > 0);
        (suppressed > 0).then_some(suppressed)
    }

    /// Ends the interval and logs its summary line, `what (N more in the last 1s)`, where `what`
    /// repeats the message of the events' own lines.
    pub fn report(&self, what: &str, core: usize) {
        if let Some(more) = self.end_interval() {
            tracing::warn!(
                core,
                suppressed = more,
                "{what} ({more} more in the last {}s)",
                INTERVAL.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(limiter: &LogLimiter, count: usize) -> usize {
        (0..count).filter(|_| limiter.allow()).count()
    }

    #[test]
    fn logs_the_first_events_in_full_and_counts_the_rest() {
        let l = LogLimiter::new(3);
        assert_eq!(events(&l, 500), 3);
        assert_eq!(l.end_interval(), Some(497));
    }

    #[test]
    fn an_interval_without_suppressed_events_reports_nothing() {
        let l = LogLimiter::new(3);
        assert_eq!(l.end_interval(), None);
        assert_eq!(events(&l, 3), 3);
        assert_eq!(l.end_interval(), None);
        // Nothing was suppressed, so the next interval has its full budget again.
        assert_eq!(events(&l, 3), 3);
        assert_eq!(l.end_interval(), None);
    }

    #[test]
    fn a_continuing_flood_is_one_summary_per_interval_until_a_quiet_interval() {
        let l = LogLimiter::new(2);
        assert_eq!(events(&l, 10), 2);
        assert_eq!(l.end_interval(), Some(8));
        // Still flooding: every event of the next intervals is counted, none logged in full.
        assert_eq!(events(&l, 10), 0);
        assert_eq!(l.end_interval(), Some(10));
        assert_eq!(events(&l, 1), 0);
        assert_eq!(l.end_interval(), Some(1));
        // A quiet interval ends the flood; the next events are logged in full again.
        assert_eq!(l.end_interval(), None);
        assert_eq!(events(&l, 5), 2);
        assert_eq!(l.end_interval(), Some(3));
    }

    #[test]
    fn every_event_is_either_logged_or_counted() {
        let l = LogLimiter::new(4);
        let mut rng = protocol::rng::Rng::new(8);
        let (mut sent, mut accounted) = (0u64, 0u64);
        for _ in 0..200 {
            let n = rng.below(50);
            sent += n as u64;
            accounted += events(&l, n) as u64;
            accounted += l.end_interval().unwrap_or(0);
        }
        assert_eq!(sent, accounted);
    }
}
