//! English for the human-readable output: counts with the right noun form, durations in units a
//! person reads.

use std::time::Duration;

/// `1 connection`, `2 connections`, `0 connections`.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// `500 ms`, `1.5 s`, `10 s`, `2 min`, `0 s`: millisecond precision (three decimals of a second,
/// none trailing), microseconds below a millisecond.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if d.is_zero() {
        "0 s".to_string()
    } else if d.as_secs() >= 60 && d.subsec_nanos() == 0 && d.as_secs().is_multiple_of(60) {
        format!("{} min", d.as_secs() / 60)
    } else if secs >= 1.0 {
        format!("{} s", decimals(secs))
    } else if d >= Duration::from_millis(1) {
        format!("{} ms", (secs * 1000.0).round())
    } else {
        format!("{} µs", d.as_micros())
    }
}

/// `v` with up to three decimals, trailing zeros (and a trailing point) dropped.
fn decimals(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "connection", "connections"), "1 connection");
        assert_eq!(count(0, "thread", "threads"), "0 threads");
        assert_eq!(count(64, "thread", "threads"), "64 threads");
    }

    #[test]
    fn durations_read_naturally() {
        let cases = [
            (Duration::ZERO, "0 s"),
            (Duration::from_millis(500), "500 ms"),
            (Duration::from_micros(475_703), "476 ms"),
            (Duration::from_micros(250), "250 µs"),
            (Duration::from_millis(1500), "1.5 s"),
            (Duration::from_secs(10), "10 s"),
            (Duration::from_millis(2312), "2.312 s"),
            (Duration::from_secs(90), "90 s"),
            (Duration::from_secs(120), "2 min"),
        ];
        for (d, text) in cases {
            assert_eq!(duration(d), text, "{d:?}");
        }
    }
}
