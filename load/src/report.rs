//! The results of a run: a human table and a JSON object (`--json`).

use std::fmt::Write as _;
use std::time::Duration;

use protocol::model::write_str;

use crate::cleanup::CleanupReport;
use crate::histogram::{Latency, Summary};
use crate::populate::{PopulateReport, WaitReport};
use crate::pull_out::PullOutReport;
use crate::runner::{Stats, Window};
use crate::scenario::Op;
use crate::wording::{count, duration};

/// Where Ctrl-C stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Populating,
    PullingOut,
    WarmUp,
    Measuring,
}

impl Stage {
    /// The JSON `interrupted` value.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Populating => "populating",
            Stage::PullingOut => "pulling-out",
            Stage::WarmUp => "warm-up",
            Stage::Measuring => "measuring",
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            Stage::Populating => "while populating",
            Stage::PullingOut => "while pulling out",
            Stage::WarmUp => "during the warm-up (nothing measured)",
            Stage::Measuring => "during the measurement",
        }
    }
}

/// Everything a finished run reports.
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub connections: usize,
    pub threads: usize,
    pub rate: Option<f64>,
    pub batch: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub populate: Option<PopulateReport>,
    pub pulled_out: Option<PullOutReport>,
    pub measured: Option<Measured>,
    pub wait: Option<WaitReport>,
    /// Where Ctrl-C stopped the run, if it did before it was over.
    pub interrupted: Option<Stage>,
    pub cleanup: Option<CleanupReport>,
    /// Extra figures of WebSocket scenarios (name, value).
    pub extra: Vec<(String, f64)>,
}

pub struct Measured {
    pub stats: Stats,
    /// The run's window, its end where the measurement really ended.
    pub window: Window,
    /// Wall-clock time of the start of the measurement window (after warm-up).
    pub measure_unix_ms: u64,
    /// Operations of the run, in mix order (the per-operation breakdown).
    pub ops: Vec<Op>,
    /// Operations whose count is "requests" (push: the registrations, not the pushes).
    pub request_ops: Vec<Op>,
    /// Operations whose latency is the headline latency (push: the pushes).
    pub latency_ops: Vec<Op>,
}

impl Measured {
    pub fn requests(&self) -> u64 {
        self.request_ops
            .iter()
            .map(|op| self.stats.per_op[op.index()].requests)
            .sum()
    }

    pub fn errors(&self) -> u64 {
        self.stats.per_op.iter().map(|s| s.errors).sum()
    }

    pub fn instance_ops(&self) -> u64 {
        self.latency_ops
            .iter()
            .map(|op| self.stats.per_op[op.index()].ops)
            .sum()
    }

    pub fn latency(&self) -> Latency {
        let mut all = Latency::new();
        for op in &self.latency_ops {
            all.add(&self.stats.per_op[op.index()].latency);
        }
        all
    }

    pub fn seconds(&self) -> f64 {
        (self.window.end - self.window.measure)
            .as_secs_f64()
            .max(1e-9)
    }

    fn sorted_errors(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self
            .stats
            .errors
            .iter()
            .map(|(k, &n)| (k.as_str(), n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

impl Report {
    pub fn errors(&self) -> u64 {
        self.measured.as_ref().map_or(0, Measured::errors)
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "artemis load: {} against {}", self.scenario, self.target);
        if let Some(stage) = self.interrupted {
            let _ = writeln!(
                s,
                "  interrupted by Ctrl-C {}: the results so far",
                stage.phrase()
            );
        }
        if let Some(m) = &self.measured {
            let _ = writeln!(s, "  {}", self.setup_line(m));
        }
        if let Some(p) = &self.populate {
            let _ = writeln!(
                s,
                "  populated {} over {} in {:.2} s ({}, untimed)",
                count(p.instances as u64, "instance", "instances"),
                count(p.services as u64, "service", "services"),
                p.elapsed.as_secs_f64(),
                count(p.requests, "request", "requests")
            );
        }
        if let Some(p) = &self.pulled_out {
            let pulled = count(p.instances as u64, "instance", "instances");
            let secs = p.elapsed.as_secs_f64();
            let _ = if p.complete {
                writeln!(
                    s,
                    "  pulled out {pulled} in {secs:.2} s (one durable write each, untimed); \
                     lookups of {} confirmed them hidden",
                    count(p.services_confirmed as u64, "service", "services")
                )
            } else {
                writeln!(
                    s,
                    "  pulled out {pulled} in {secs:.2} s before Ctrl-C (unconfirmed)"
                )
            };
        }
        if let Some(w) = &self.wait {
            let services = match w.services {
                1 => "1 service".to_string(),
                n => format!("all {n} services"),
            };
            let _ = writeln!(
                s,
                "  {services} empty after {:.3} s ({})",
                w.elapsed.as_secs_f64(),
                count(w.polls, "lookup", "lookups")
            );
        }
        if let Some(c) = &self.cleanup {
            let pulled_in = match c.pulled_in {
                0 => String::new(),
                n => format!(
                    "pulled {} back in, ",
                    count(n as u64, "instance", "instances")
                ),
            };
            let _ = writeln!(
                s,
                "  cleanup: {pulled_in}unregistered {} in {:.2} s ({})",
                count(c.unregistered as u64, "instance", "instances"),
                c.elapsed.as_secs_f64(),
                count(c.requests, "request", "requests")
            );
        }
        if let Some(m) = &self.measured {
            let secs = m.seconds();
            let requests = m.requests();
            let _ = writeln!(s);
            let _ = writeln!(s, "  {:<28}{:>14}", "requests", requests);
            let _ = writeln!(s, "  {:<28}{:>14.1}", "requests/s", requests as f64 / secs);
            let push = self.scenario == "push";
            let _ = writeln!(
                s,
                "  {:<28}{:>14.1}",
                if push {
                    "pushes received/s"
                } else {
                    "instance-operations/s"
                },
                m.instance_ops() as f64 / secs
            );
            let _ = writeln!(s, "  {:<28}{:>14}", "errors", m.errors());
            for (kind, n) in m.sorted_errors() {
                let _ = writeln!(s, "    {kind:<26}{n:>14}");
            }
            if m.stats.unsent > 0 {
                let _ = writeln!(
                    s,
                    "  {:<28}{:>14}",
                    "unsent (behind schedule)", m.stats.unsent
                );
            }
            let _ = writeln!(s);
            let header = ["p50", "p90", "p99", "p99.9", "max"].map(String::from);
            latency_row(&mut s, "latency (µs)", &header);
            let row = |s: &mut String, name: &str, l: &Summary| {
                let values = [l.p50, l.p90, l.p99, l.p999, l.max].map(|v| v.to_string());
                latency_row(s, name, &values);
            };
            row(&mut s, "all", &m.latency().summary());
            if m.ops.len() > 1 {
                for &op in &m.ops {
                    row(
                        &mut s,
                        op.name(),
                        &m.stats.per_op[op.index()].latency.summary(),
                    );
                }
            }
            if self.rate.is_some() {
                row(&mut s, "send lag", &m.stats.send_lag.summary());
            }
            if push {
                let _ = writeln!(
                    s,
                    "  all, push: from a registration's send to a subscriber's receipt of the change"
                );
            }
            if self.rate.is_some() {
                let _ = writeln!(
                    s,
                    "  {} from {} intended send time; send lag: how late it left",
                    if push { "register:" } else { "latency" },
                    if push { "its" } else { "each request's" }
                );
            }
        }
        if !self.extra.is_empty() {
            let _ = writeln!(s);
        }
        for (name, value) in &self.extra {
            let _ = writeln!(s, "  {name:<28}{value:>14.2}");
        }
        s
    }

    /// `closed loop, 2 connections on 1 thread, batch 1, warm-up 2 s, measured 10 s`.
    fn setup_line(&self, m: &Measured) -> String {
        let mode = match self.rate {
            Some(r) => format!("open loop, {r} requests/s intended"),
            None => "closed loop".to_string(),
        };
        let warmup = if self.warmup.is_zero() {
            "no warm-up".to_string()
        } else {
            format!("warm-up {}", duration(self.warmup))
        };
        let measured = m.window.end - m.window.measure;
        let measured = if measured < self.duration {
            format!("{} of {}", duration(measured), duration(self.duration))
        } else {
            duration(self.duration)
        };
        format!(
            "{mode}, {} on {}, batch {}, {warmup}, measured {measured}",
            count(self.connections as u64, "connection", "connections"),
            count(self.threads as u64, "thread", "threads"),
            self.batch,
        )
    }

    /// One JSON object with every figure (for scripts).
    pub fn json(&self) -> String {
        let mut o = Vec::new();
        o.extend_from_slice(b"{\"scenario\":");
        write_str(&mut o, &self.scenario);
        o.extend_from_slice(b",\"target\":");
        write_str(&mut o, &self.target);
        num(&mut o, "connections", self.connections as f64);
        num(&mut o, "threads", self.threads as f64);
        o.extend_from_slice(b",\"mode\":");
        write_str(
            &mut o,
            if self.rate.is_some() {
                "open"
            } else {
                "closed"
            },
        );
        match self.rate {
            Some(r) => num(&mut o, "rate", r),
            None => o.extend_from_slice(b",\"rate\":null"),
        }
        num(&mut o, "batch", self.batch as f64);
        num(&mut o, "warmup_s", self.warmup.as_secs_f64());
        num(&mut o, "duration_s", self.duration.as_secs_f64());
        let measured = self
            .measured
            .as_ref()
            .map_or(Duration::ZERO, |m| m.window.end - m.window.measure);
        num(&mut o, "measured_s", measured.as_secs_f64());
        o.extend_from_slice(b",\"interrupted\":");
        match self.interrupted {
            None => o.extend_from_slice(b"null"),
            Some(stage) => write_str(&mut o, stage.name()),
        }
        o.extend_from_slice(b",\"populate\":");
        match &self.populate {
            None => o.extend_from_slice(b"null"),
            Some(p) => {
                o.extend_from_slice(b"{\"instances\":");
                o.extend_from_slice(p.instances.to_string().as_bytes());
                num(&mut o, "services", p.services as f64);
                num(&mut o, "requests", p.requests as f64);
                num(&mut o, "elapsed_ms", p.elapsed.as_secs_f64() * 1000.0);
                num(&mut o, "start_unix_ms", p.start_unix_ms as f64);
                num(&mut o, "end_unix_ms", p.end_unix_ms as f64);
                boolean(&mut o, "complete", p.complete);
                o.push(b'}');
            }
        }
        o.extend_from_slice(b",\"pulled_out\":");
        match &self.pulled_out {
            None => o.extend_from_slice(b"null"),
            Some(p) => {
                o.extend_from_slice(b"{\"instances\":");
                o.extend_from_slice(p.instances.to_string().as_bytes());
                num(&mut o, "services_confirmed", p.services_confirmed as f64);
                num(&mut o, "elapsed_ms", p.elapsed.as_secs_f64() * 1000.0);
                boolean(&mut o, "complete", p.complete);
                o.push(b'}');
            }
        }
        o.extend_from_slice(b",\"wait\":");
        match &self.wait {
            None => o.extend_from_slice(b"null"),
            Some(w) => {
                o.extend_from_slice(b"{\"services\":");
                o.extend_from_slice(w.services.to_string().as_bytes());
                num(&mut o, "polls", w.polls as f64);
                num(&mut o, "elapsed_ms", w.elapsed.as_secs_f64() * 1000.0);
                num(&mut o, "empty_unix_ms", w.empty_unix_ms as f64);
                o.push(b'}');
            }
        }
        o.extend_from_slice(b",\"cleanup\":");
        match &self.cleanup {
            None => o.extend_from_slice(b"null"),
            Some(c) => {
                o.extend_from_slice(b"{\"unregistered\":");
                o.extend_from_slice(c.unregistered.to_string().as_bytes());
                num(&mut o, "pulled_in", c.pulled_in as f64);
                num(&mut o, "requests", c.requests as f64);
                num(&mut o, "elapsed_ms", c.elapsed.as_secs_f64() * 1000.0);
                o.push(b'}');
            }
        }
        let (requests, errors, ops) = self
            .measured
            .as_ref()
            .map_or((0, 0, 0), |m| (m.requests(), m.errors(), m.instance_ops()));
        let secs = self.measured.as_ref().map_or(1.0, Measured::seconds);
        num(&mut o, "requests", requests as f64);
        num(&mut o, "instance_operations", ops as f64);
        num(&mut o, "requests_per_s", requests as f64 / secs);
        num(&mut o, "instance_operations_per_s", ops as f64 / secs);
        num(&mut o, "errors", errors as f64);
        o.extend_from_slice(b",\"errors_by_kind\":{");
        if let Some(m) = &self.measured {
            for (i, (kind, n)) in m.sorted_errors().into_iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                write_str(&mut o, kind);
                o.push(b':');
                o.extend_from_slice(n.to_string().as_bytes());
            }
        }
        o.push(b'}');
        let latency = self
            .measured
            .as_ref()
            .map(|m| m.latency().summary())
            .unwrap_or_default();
        o.extend_from_slice(b",\"latency_us\":");
        summary_json(&mut o, &latency);
        o.extend_from_slice(b",\"send_lag_us\":");
        match (&self.measured, self.rate) {
            (Some(m), Some(_)) => summary_json(&mut o, &m.stats.send_lag.summary()),
            _ => o.extend_from_slice(b"null"),
        }
        num(
            &mut o,
            "unsent",
            self.measured.as_ref().map_or(0, |m| m.stats.unsent) as f64,
        );
        o.extend_from_slice(b",\"by_operation\":{");
        if let Some(m) = &self.measured {
            for (i, &op) in m.ops.iter().enumerate() {
                let st = &m.stats.per_op[op.index()];
                if i > 0 {
                    o.push(b',');
                }
                write_str(&mut o, op.name());
                o.extend_from_slice(b":{\"requests\":");
                o.extend_from_slice(st.requests.to_string().as_bytes());
                num(&mut o, "errors", st.errors as f64);
                num(&mut o, "instance_operations", st.ops as f64);
                o.extend_from_slice(b",\"latency_us\":");
                summary_json(&mut o, &st.latency.summary());
                o.push(b'}');
            }
        }
        o.push(b'}');
        for (name, value) in &self.extra {
            num(&mut o, name, *value);
        }
        num(
            &mut o,
            "measure_start_unix_ms",
            self.measured.as_ref().map_or(0, |m| m.measure_unix_ms) as f64,
        );
        o.extend_from_slice(b",\"timeline\":[");
        if let Some(m) = &self.measured {
            for (i, iv) in m.stats.timeline.iter().enumerate() {
                if i > 0 {
                    o.push(b',');
                }
                let l = iv.latency.summary();
                o.extend_from_slice(b"{\"second\":");
                o.extend_from_slice(i.to_string().as_bytes());
                num(&mut o, "requests", iv.requests as f64);
                num(&mut o, "errors", iv.errors as f64);
                num(&mut o, "p50_us", l.p50 as f64);
                num(&mut o, "p99_us", l.p99 as f64);
                num(&mut o, "max_us", l.max as f64);
                o.push(b'}');
            }
        }
        o.extend_from_slice(b"]}");
        String::from_utf8(o).expect("JSON output is UTF-8")
    }
}

/// One line of the latency table: a name and five right-aligned columns, the header included,
/// so the column titles sit above their figures.
fn latency_row(s: &mut String, name: &str, columns: &[String; 5]) {
    let [p50, p90, p99, p999, max] = columns;
    let _ = writeln!(
        s,
        "  {name:<12}{p50:>9}{p90:>10}{p99:>10}{p999:>11}{max:>10}"
    );
}

fn num(o: &mut Vec<u8>, name: &str, v: f64) {
    o.push(b',');
    write_str(o, name);
    o.push(b':');
    if !v.is_finite() {
        o.extend_from_slice(b"null");
    } else if v.fract() == 0.0 && v.abs() < 9.0e15 {
        o.extend_from_slice(format!("{}", v as i64).as_bytes());
    } else {
        o.extend_from_slice(format!("{v:.3}").as_bytes());
    }
}

fn boolean(o: &mut Vec<u8>, name: &str, v: bool) {
    o.push(b',');
    write_str(o, name);
    o.extend_from_slice(if v { b":true" } else { b":false" });
}

fn summary_json(o: &mut Vec<u8>, l: &Summary) {
    o.extend_from_slice(b"{\"count\":");
    o.extend_from_slice(l.count.to_string().as_bytes());
    num(o, "p50", l.p50 as f64);
    num(o, "p90", l.p90 as f64);
    num(o, "p99", l.p99 as f64);
    num(o, "p999", l.p999 as f64);
    num(o, "max", l.max as f64);
    num(o, "mean", l.mean);
    o.push(b'}');
}
