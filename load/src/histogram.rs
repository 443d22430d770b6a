//! Latency histograms: HDR histograms (the `hdrhistogram` crate) in microseconds.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Longest latency tracked exactly; longer ones are recorded as this (one hour).
const MAX_MICROS: u64 = 3_600_000_000;

/// A latency distribution in microseconds.
#[derive(Clone)]
pub struct Latency {
    h: Histogram<u64>,
}

/// The figures every report shows, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    /// Three significant digits: the per-run histograms.
    pub fn new() -> Latency {
        Self::with_precision(3)
    }

    /// Two significant digits (about 10x smaller): the per-second timeline.
    pub fn coarse() -> Latency {
        Self::with_precision(2)
    }

    fn with_precision(sigfig: u8) -> Latency {
        Latency {
            h: Histogram::new_with_max(MAX_MICROS, sigfig).expect("valid histogram bounds"),
        }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.h.saturating_record(micros.min(MAX_MICROS));
    }

    pub fn add(&mut self, other: &Latency) {
        // Both sides have the same bounds, so addition cannot fail; saturate if it ever did.
        if self.h.add(&other.h).is_err() {
            for v in other.h.iter_recorded() {
                self.h
                    .saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    pub fn summary(&self) -> Summary {
        if self.h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: self.h.len(),
            p50: self.h.value_at_quantile(0.50),
            p90: self.h.value_at_quantile(0.90),
            p99: self.h.value_at_quantile(0.99),
            p999: self.h.value_at_quantile(0.999),
            max: self.h.max(),
            mean: self.h.mean(),
        }
    }
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_in_microseconds() {
        let mut a = Latency::new();
        for us in 1..=1000u64 {
            a.record(Duration::from_micros(us));
        }
        let mut b = Latency::new();
        b.record(Duration::from_secs(7200));
        a.add(&b);
        let s = a.summary();
        assert_eq!(s.count, 1001);
        assert!((499..=501).contains(&s.p50), "{s:?}");
        assert!((989..=991).contains(&s.p99), "{s:?}");
        assert!(s.max >= MAX_MICROS - MAX_MICROS / 1000, "{s:?}");
        assert_eq!(Latency::coarse().summary(), Summary::default());
    }
}
