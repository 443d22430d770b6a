//! Latency histograms with fixed buckets, counted per core in plain cells.

use std::cell::Cell;
use std::time::Duration;

/// Upper bounds of the buckets, in nanoseconds: 50 µs to 10 s. Observations above the last bound
/// fall in a last, unbounded bucket (`+Inf`).
pub const BOUNDS_NS: [u64; 17] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Buckets, the unbounded one included.
pub const BUCKETS: usize = BOUNDS_NS.len() + 1;

/// One core's histogram: observations per bucket (not cumulative) and their sum.
#[derive(Default)]
pub struct Histogram {
    buckets: [Cell<u64>; BUCKETS],
    sum_ns: Cell<u64>,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        // The first bucket whose bound is at least `ns` (Prometheus buckets are "less or equal").
        let bucket = &self.buckets[BOUNDS_NS.partition_point(|&bound| bound < ns)];
        bucket.set(bucket.get() + 1);
        self.sum_ns.set(self.sum_ns.get().saturating_add(ns));
    }

    pub fn sample(&self) -> HistogramSample {
        HistogramSample {
            buckets: std::array::from_fn(|i| self.buckets[i].get()),
            sum_ns: self.sum_ns.get(),
        }
    }
}

/// A histogram's counts at one moment, to be summed across cores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistogramSample {
    pub buckets: [u64; BUCKETS],
    pub sum_ns: u64,
}

impl HistogramSample {
    pub fn add(&mut self, other: &HistogramSample) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}
