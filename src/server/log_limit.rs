//! Rate limit for logs triggered by clients, so a flood of bad requests cannot turn logging
//! (a blocking write to stderr) into the bottleneck.

use std::cell::Cell;
use std::time::Instant;

pub struct LogLimiter {
    per_second: u32,
    window_start: Cell<Option<Instant>>,
    used: Cell<u32>,
    suppressed: Cell<u64>,
}

impl LogLimiter {
    pub fn new(per_second: u32) -> Self {
        LogLimiter {
            per_second,
            window_start: Cell::new(None),
            used: Cell::new(0),
            suppressed: Cell::new(0),
        }
    }

    /// May the caller log now? Reports how many were suppressed when a new window opens.
    pub fn allow(&self) -> bool {
        let now = Instant::now();
        let fresh = self
            .window_start
            .get()
            .is_none_or(|start| now.duration_since(start).as_secs() >= 1);
        if fresh {
            self.window_start.set(Some(now));
            self.used.set(0);
            let suppressed = self.suppressed.replace(0);
            if suppressed > 0 {
                tracing::warn!(
                    suppressed,
                    "similar log lines suppressed in the last second"
                );
            }
        }
        if self.used.get() < self.per_second {
            self.used.set(self.used.get() + 1);
            true
        } else {
            self.suppressed.set(self.suppressed.get() + 1);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_suppresses() {
        let l = LogLimiter::new(3);
        assert!(l.allow() && l.allow() && l.allow());
        assert!(!l.allow());
        assert_eq!(l.suppressed.get(), 1);
    }
}
