//! Self-preservation (spec §11.1, Java `LeaseUpdateSafeChecker`).
//!
//! When heartbeats collapse across the whole node (a network partition between clients and the
//! registry, not a mass shutdown), evicting every lease would empty discovery for everyone. So the
//! node counts renewals in a sliding window, remembers the highest window count, and while the
//! current count is below `percentage_threshold`% of that maximum it stops expiry-based eviction.
//!
//! Renewals are counted by each shard on its own core; once a second every shard publishes its
//! window count to its own atomic slot in [`RenewalCounters`] and sums all slots. No lock, and the
//! only shared writes are one relaxed store per shard per second.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SafeConfig {
    pub enabled: bool,
    /// Sliding window length, whole seconds (Java rounds to seconds, 10 s–5 min).
    pub window_ms: u64,
    /// Stop evicting while window count * 100 / max count is below this.
    pub percentage_threshold: u64,
    /// Only judge once the maximum window count reached this many renewals.
    pub max_count_threshold: u64,
    /// While safe, the maximum is re-based to the current count after this long.
    pub max_count_reset_interval_ms: u64,
}

impl SafeConfig {
    pub const JAVA_DEFAULT: SafeConfig = SafeConfig {
        enabled: true,
        window_ms: 10_000,
        percentage_threshold: 85,
        max_count_threshold: 50,
        max_count_reset_interval_ms: 600_000,
    };
    pub const JAVA_LEGACY_DEFAULT: SafeConfig = SafeConfig {
        window_ms: 60_000,
        ..SafeConfig::JAVA_DEFAULT
    };
}

/// Per-shard published window counts, one slot per shard (so writers never share a slot).
pub struct RenewalCounters {
    slots: Box<[PaddedCounter]>,
}

/// Own cache line per shard: shards publish at different times and must not invalidate each
/// other's lines.
#[repr(align(64))]
#[derive(Default)]
struct PaddedCounter(AtomicU64);

impl RenewalCounters {
    pub fn new(shards: usize) -> Self {
        RenewalCounters {
            slots: (0..shards).map(|_| PaddedCounter::default()).collect(),
        }
    }

    pub fn publish(&self, shard: usize, window_count: u64) {
        self.slots[shard].0.store(window_count, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// Counts this shard's renewals in one-second buckets and keeps the node-wide verdict.
pub struct SafeChecker {
    config: SafeConfig,
    buckets: Vec<u64>,
    /// Second (since the shard clock's epoch) that `buckets[current]` counts.
    current_second: u64,
    current: usize,
    max_count: u64,
    max_count_updated_ms: u64,
    node_window_count: u64,
    safe: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SafeStatus {
    pub enabled: bool,
    pub safe: bool,
    pub max_count: u64,
    pub max_count_updated_ms: u64,
    pub window_count: u64,
}

impl SafeChecker {
    pub fn new(config: SafeConfig, now_ms: u64) -> Self {
        // One bucket per second of the window, plus the second in progress (not yet complete, so
        // not counted: the check runs at the start of a second, when it is still empty).
        let seconds = (config.window_ms / 1000).max(1) as usize;
        SafeChecker {
            config,
            buckets: vec![0; seconds + 1],
            current_second: now_ms / 1000,
            current: 0,
            max_count: 0,
            max_count_updated_ms: now_ms,
            node_window_count: 0,
            safe: true,
        }
    }

    /// May expiry remove leases now?
    pub fn eviction_allowed(&self) -> bool {
        self.safe || !self.config.enabled
    }

    pub fn record_renewal(&mut self, now_ms: u64) {
        self.rotate(now_ms);
        self.buckets[self.current] += 1;
    }

    /// Renewals this shard saw in the last window of complete seconds.
    pub fn local_window_count(&mut self, now_ms: u64) -> u64 {
        self.rotate(now_ms);
        self.buckets.iter().sum::<u64>() - self.buckets[self.current]
    }

    fn rotate(&mut self, now_ms: u64) {
        let second = now_ms / 1000;
        if second <= self.current_second {
            return;
        }
        let steps = (second - self.current_second).min(self.buckets.len() as u64);
        for _ in 0..steps {
            self.current = (self.current + 1) % self.buckets.len();
            self.buckets[self.current] = 0;
        }
        self.current_second = second;
    }

    /// The once-a-second check, given the node-wide window count (Java `safeCheck`).
    pub fn check(&mut self, node_window_count: u64, now_ms: u64) {
        self.node_window_count = node_window_count;
        if node_window_count > self.max_count {
            self.max_count = node_window_count;
            self.max_count_updated_ms = now_ms;
            return;
        }
        if self.max_count < self.config.max_count_threshold || self.max_count == 0 {
            return;
        }
        let percentage = node_window_count * 100 / self.max_count;
        if percentage < self.config.percentage_threshold {
            self.safe = false;
            return;
        }
        self.safe = true;
        if now_ms.saturating_sub(self.max_count_updated_ms)
            > self.config.max_count_reset_interval_ms
        {
            self.max_count = node_window_count;
            self.max_count_updated_ms = now_ms;
        }
    }

    pub fn status(&self) -> SafeStatus {
        SafeStatus {
            enabled: self.config.enabled,
            safe: self.eviction_allowed(),
            max_count: self.max_count,
            max_count_updated_ms: self.max_count_updated_ms,
            window_count: self.node_window_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn renew(c: &mut SafeChecker, n: u64, now: u64) {
        for _ in 0..n {
            c.record_renewal(now);
        }
    }

    #[test]
    fn collapse_of_renewals_suspends_eviction_and_recovery_resumes_it() {
        let mut c = SafeChecker::new(SafeConfig::JAVA_DEFAULT, 0);
        // Steady state: 20 renewals a second => 200 per 10 s window.
        let mut now = 0;
        for _ in 0..15 {
            renew(&mut c, 20, now);
            now += 1000;
            let count = c.local_window_count(now - 1);
            c.check(count, now);
        }
        assert!(c.eviction_allowed());
        assert_eq!(c.status().max_count, 200);
        // Heartbeats collapse: window count decays below 85% of 200 within a couple of seconds.
        for _ in 0..4 {
            now += 1000;
            let count = c.local_window_count(now);
            c.check(count, now);
        }
        assert!(!c.eviction_allowed());
        // They come back.
        for _ in 0..12 {
            renew(&mut c, 20, now);
            now += 1000;
            let count = c.local_window_count(now - 1);
            c.check(count, now);
        }
        assert!(c.eviction_allowed());
    }

    #[test]
    fn one_second_window_counts_the_last_complete_second() {
        let config = SafeConfig {
            window_ms: 1000,
            ..SafeConfig::JAVA_DEFAULT
        };
        let mut c = SafeChecker::new(config, 0);
        renew(&mut c, 60, 500);
        let count = c.local_window_count(1000);
        assert_eq!(
            count, 60,
            "the check at the start of a second sees the second before"
        );
        c.check(count, 1000);
        let count = c.local_window_count(2000);
        assert_eq!(count, 0);
        c.check(count, 2000);
        assert!(!c.eviction_allowed());
    }

    #[test]
    fn below_max_count_threshold_never_unsafe() {
        let mut c = SafeChecker::new(SafeConfig::JAVA_DEFAULT, 0);
        renew(&mut c, 49, 0);
        let count = c.local_window_count(0);
        c.check(count, 1000);
        c.check(0, 2000);
        assert!(c.eviction_allowed());
    }

    #[test]
    fn disabled_checker_always_allows_eviction() {
        let config = SafeConfig {
            enabled: false,
            ..SafeConfig::JAVA_DEFAULT
        };
        let mut c = SafeChecker::new(config, 0);
        c.check(1000, 1000);
        c.check(0, 2000);
        assert!(c.eviction_allowed());
        assert!(!c.status().enabled);
    }

    #[test]
    fn max_count_is_rebased_after_reset_interval_while_safe() {
        let mut c = SafeChecker::new(SafeConfig::JAVA_DEFAULT, 0);
        c.check(1000, 1000);
        c.check(900, 2000);
        assert_eq!(c.status().max_count, 1000);
        c.check(900, 700_000);
        assert_eq!(c.status().max_count, 900);
    }

    #[test]
    fn node_counters_sum_shards() {
        let counters = RenewalCounters::new(3);
        counters.publish(0, 5);
        counters.publish(2, 7);
        assert_eq!(counters.total(), 12);
        counters.publish(2, 1);
        assert_eq!(counters.total(), 6);
    }
}
