//! The live progress line on stderr: rewritten in place on a terminal, one line per tick
//! otherwise. Each line covers the stretch since the previous one, which never spans two phases
//! ([`Window::next_tick`]), and is labelled with that stretch's phase. During the measurement its
//! total and errors are what the report will count; warm-up requests are shown as not counted.

use std::io::{IsTerminal, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::runner::{Phase, Progress as Counters, Window};

pub struct ProgressLine {
    tty: bool,
    /// When the previous line was printed, and the requests finished by then.
    last: Option<(Instant, u64)>,
    printed: bool,
}

impl ProgressLine {
    pub fn new() -> ProgressLine {
        ProgressLine {
            tty: std::io::stderr().is_terminal(),
            last: None,
            printed: false,
        }
    }

    /// Prints the line for the stretch since the previous one.
    pub fn tick(&mut self, counters: &[Counters], window: Window) {
        let now = Instant::now();
        let sum = |field: fn(&Counters) -> &AtomicU64| -> u64 {
            counters
                .iter()
                .map(|c| field(c).load(Ordering::Relaxed))
                .sum()
        };
        let finished = sum(|c| &c.finished);
        let (since, before) = self.last.unwrap_or((window.start, 0));
        self.last = Some((now, finished));
        let rate = (finished - before) as f64 / (now - since).as_secs_f64().max(1e-3);
        let elapsed = (now - window.start).as_secs_f64();
        let counted = match window.phase(since) {
            Phase::WarmUp => format!("(not counted; errors {})", sum(|c| &c.warmup_errors)),
            Phase::Measure | Phase::After => format!(
                "total {}   errors {}",
                sum(|c| &c.measured),
                sum(|c| &c.measured_errors)
            ),
        };
        let phase = match window.phase(since) {
            Phase::WarmUp => "warm-up",
            Phase::Measure => "measure",
            Phase::After => "drain",
        };
        let line = format!("[{elapsed:5.1}s] {phase:<8}{rate:>12.0} req/s   {counted}");
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r{line}\x1b[K");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        self.printed = true;
    }

    /// Ends the line rewritten in place, so what follows starts on a line of its own.
    pub fn finish(&mut self) {
        if self.tty && self.printed {
            let _ = writeln!(std::io::stderr());
        }
    }
}

impl Default for ProgressLine {
    fn default() -> Self {
        Self::new()
    }
}
