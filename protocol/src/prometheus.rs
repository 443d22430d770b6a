//! The Prometheus text exposition format, version 0.0.4, written by hand into a reused buffer.
//!
//! A metric family is announced once ([`Exposition::family`]: its `# HELP` and `# TYPE` lines)
//! and its samples follow it, one line each: `name{label="value",...} value`. A histogram is
//! written from per-bucket counts ([`Exposition::histogram`]): cumulative `_bucket` lines ending
//! with `le="+Inf"`, then `_sum` and `_count`.

use std::fmt::Display;
use std::io::Write;

/// The `Content-Type` of a scrape answer in this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One scrape's text, appended to `out`.
pub struct Exposition<'a> {
    out: &'a mut Vec<u8>,
    /// The family being written: samples must belong to it.
    family: Option<(&'a str, Kind)>,
}

impl<'a> Exposition<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        Exposition { out, family: None }
    }

    /// Start a family: its samples follow, before the next family starts.
    pub fn family(&mut self, name: &'a str, kind: Kind, help: &str) {
        debug_assert!(is_metric_name(name), "metric name {name:?}");
        self.out.extend_from_slice(b"# HELP ");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b' ');
        for &b in help.as_bytes() {
            match b {
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                _ => self.out.push(b),
            }
        }
        self.out.extend_from_slice(b"\n# TYPE ");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(kind.name().as_bytes());
        self.out.push(b'\n');
        self.family = Some((name, kind));
    }

    /// One sample of the current counter or gauge family.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Display) {
        let (name, kind) = self.family.expect("a sample follows its family");
        assert_ne!(
            kind,
            Kind::Histogram,
            "histogram samples come from histogram()"
        );
        self.line(name, "", labels, None, value);
    }

    /// One histogram of the current histogram family: `counts[i]` observations fell in bucket
    /// `i`, that is at most `bounds[i]` and above the bound before; the last count is those above
    /// every bound. `sum` is the sum of the observed values.
    pub fn histogram(&mut self, labels: &[(&str, &str)], bounds: &[f64], counts: &[u64], sum: f64) {
        let (name, kind) = self.family.expect("a histogram follows its family");
        assert_eq!(kind, Kind::Histogram, "{name} is not a histogram family");
        assert_eq!(
            counts.len(),
            bounds.len() + 1,
            "one count per bucket, +Inf included"
        );
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds increase");
        let mut cumulative = 0u64;
        for (i, &count) in counts.iter().enumerate() {
            cumulative += count;
            let le = match bounds.get(i) {
                Some(bound) => bound.to_string(),
                None => "+Inf".to_string(),
            };
            self.line(name, "_bucket", labels, Some(&le), cumulative);
        }
        self.line(name, "_sum", labels, None, sum);
        self.line(name, "_count", labels, None, cumulative);
    }

    fn line(
        &mut self,
        name: &str,
        suffix: &str,
        labels: &[(&str, &str)],
        le: Option<&str>,
        value: impl Display,
    ) {
        let out = &mut *self.out;
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
        let le = le.map(|le| ("le", le));
        let mut all = labels.iter().copied().chain(le).peekable();
        if all.peek().is_some() {
            out.push(b'{');
            for (i, (label, value)) in all.enumerate() {
                debug_assert!(is_label_name(label), "label name {label:?}");
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(label.as_bytes());
                out.extend_from_slice(b"=\"");
                write_label_value(out, value);
                out.push(b'"');
            }
            out.push(b'}');
        }
        // Writing to a Vec cannot fail.
        let _ = writeln!(out, " {value}");
    }
}

/// A label value with `\`, `"` and newline escaped, as the format requires.
fn write_label_value(out: &mut Vec<u8>, value: &str) {
    for &b in value.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: impl FnOnce(&mut Exposition<'_>)) -> String {
        let mut out = Vec::new();
        write(&mut Exposition::new(&mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn counters_and_gauges_with_and_without_labels() {
        let got = text(|e| {
            e.family("up_total", Kind::Counter, "Things.\nMore \\ things.");
            e.sample(&[], 3);
            e.sample(&[("a", "x"), ("b", "y")], 4);
            e.family("temp", Kind::Gauge, "Degrees.");
            e.sample(&[("where", "in")], 21.5);
        });
        assert_eq!(
            got,
            "# HELP up_total Things.\\nMore \\\\ things.\n# TYPE up_total counter\nup_total 3\n\
             up_total{a=\"x\",b=\"y\"} 4\n# HELP temp Degrees.\n# TYPE temp gauge\n\
             temp{where=\"in\"} 21.5\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let got = text(|e| {
            e.family("m", Kind::Gauge, "h");
            e.sample(&[("path", "a\"b\\c\nd")], 1);
        });
        assert!(got.ends_with("m{path=\"a\\\"b\\\\c\\nd\"} 1\n"), "{got}");
    }

    #[test]
    fn histograms_are_cumulative_and_end_with_inf_sum_and_count() {
        let got = text(|e| {
            e.family("lat_seconds", Kind::Histogram, "Latency.");
            e.histogram(&[("op", "x")], &[0.00005, 0.5, 10.0], &[1, 0, 2, 3], 1.25);
        });
        let want = "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
            lat_seconds_bucket{op=\"x\",le=\"0.00005\"} 1\n\
            lat_seconds_bucket{op=\"x\",le=\"0.5\"} 1\n\
            lat_seconds_bucket{op=\"x\",le=\"10\"} 3\n\
            lat_seconds_bucket{op=\"x\",le=\"+Inf\"} 6\n\
            lat_seconds_sum{op=\"x\"} 1.25\n\
            lat_seconds_count{op=\"x\"} 6\n";
        assert_eq!(got, want);
    }

    #[test]
    #[should_panic(expected = "one count per bucket")]
    fn a_histogram_needs_a_count_per_bucket() {
        text(|e| {
            e.family("h", Kind::Histogram, "h");
            e.histogram(&[], &[1.0], &[1], 0.0);
        });
    }

    #[test]
    #[should_panic(expected = "a sample follows its family")]
    fn samples_need_a_family() {
        text(|e| e.sample(&[], 1));
    }

    #[test]
    fn names_are_checked() {
        assert!(is_metric_name("artemis_requests_total"));
        assert!(is_metric_name("a:b_c9"));
        assert!(!is_metric_name("9a"));
        assert!(!is_metric_name(""));
        assert!(!is_metric_name("a-b"));
        assert!(is_label_name("endpoint"));
        assert!(!is_label_name("a:b"));
    }
}
