//! systemd's watchdog (`WatchdogSec=`): the node pings every half period, but only while every
//! core is alive. A core proves it is alive by its lease clock: each tick bumps the core's own
//! heartbeat counter, and a core whose counter stood still for a whole half period is stuck
//! (a busy loop, a deadlock), so the ping is withheld and systemd restarts the node.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One counter per core, each on its own cache line (cores bump them at different times).
pub struct Heartbeats {
    cores: Box<[PaddedCounter]>,
}

#[repr(align(64))]
#[derive(Default)]
struct PaddedCounter(AtomicU64);

impl Heartbeats {
    pub fn new(cores: usize) -> Heartbeats {
        Heartbeats {
            cores: (0..cores).map(|_| PaddedCounter::default()).collect(),
        }
    }

    /// Core `core` is alive (its lease clock ticked).
    pub fn beat(&self, core: usize) {
        self.cores[core].0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Vec<u64> {
        self.cores
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .collect()
    }
}

/// Decides when to ping, from the heartbeats it is shown.
pub struct Watchdog {
    interval: Duration,
    next_check: Instant,
    last: Vec<u64>,
}

/// What [`Watchdog::check`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Not yet time to check.
    Wait,
    /// Every core ticked since the last check: ping.
    Ping,
    /// These cores did not tick for a whole interval: no ping.
    Stalled(Vec<usize>),
}

impl Watchdog {
    /// The ping interval systemd asks for: half of `WATCHDOG_USEC`, if it is set and meant for
    /// this process (`WATCHDOG_PID`, when set, names it).
    pub fn interval_from_env() -> Option<Duration> {
        ping_interval(
            std::env::var("WATCHDOG_USEC").ok().as_deref(),
            std::env::var("WATCHDOG_PID").ok().as_deref(),
            std::process::id(),
        )
    }

    /// Starts watching: the first check is one interval after `now`, against `beats`.
    pub fn new(interval: Duration, beats: Vec<u64>, now: Instant) -> Watchdog {
        assert!(!interval.is_zero(), "a watchdog interval is positive");
        Watchdog {
            interval,
            next_check: now + interval,
            last: beats,
        }
    }

    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Called often (each supervisor turn) with the current heartbeats.
    pub fn check(&mut self, now: Instant, beats: Vec<u64>) -> Check {
        if now < self.next_check {
            return Check::Wait;
        }
        assert_eq!(beats.len(), self.last.len(), "one heartbeat per core");
        let stalled: Vec<usize> = (0..beats.len())
            .filter(|&core| beats[core] == self.last[core])
            .collect();
        self.last = beats;
        self.next_check = now + self.interval;
        if stalled.is_empty() {
            Check::Ping
        } else {
            Check::Stalled(stalled)
        }
    }
}

/// Half of `usec` when the variables ask this process (`pid`) for pings.
fn ping_interval(usec: Option<&str>, watchdog_pid: Option<&str>, pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.parse().ok()?;
    if let Some(watchdog_pid) = watchdog_pid {
        if watchdog_pid.parse::<u32>().ok()? != pid {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_every_half_period_when_meant_for_this_process() {
        let half = Some(Duration::from_secs(15));
        assert_eq!(ping_interval(Some("30000000"), None, 7), half);
        assert_eq!(ping_interval(Some("30000000"), Some("7"), 7), half);
        assert_eq!(
            ping_interval(Some("30000000"), Some("8"), 7),
            None,
            "another process's"
        );
        assert_eq!(ping_interval(Some("30000000"), Some("x"), 7), None);
        assert_eq!(ping_interval(None, Some("7"), 7), None);
        assert_eq!(ping_interval(Some("0"), None, 7), None);
        assert_eq!(ping_interval(Some("soon"), None, 7), None);
    }

    #[test]
    fn pings_each_interval_while_every_core_beats() {
        let beats = Heartbeats::new(2);
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut dog = Watchdog::new(second, beats.snapshot(), start);
        beats.beat(0);
        beats.beat(1);
        assert_eq!(dog.check(start + second / 2, beats.snapshot()), Check::Wait);
        assert_eq!(dog.check(start + second, beats.snapshot()), Check::Ping);
        // Nothing new yet, but the next check is an interval away.
        assert_eq!(
            dog.check(start + second + second / 2, beats.snapshot()),
            Check::Wait
        );
        beats.beat(0);
        assert_eq!(
            dog.check(start + 2 * second, beats.snapshot()),
            Check::Stalled(vec![1])
        );
        // The stalled core recovers: pings resume.
        beats.beat(0);
        beats.beat(1);
        assert_eq!(dog.check(start + 3 * second, beats.snapshot()), Check::Ping);
    }

    #[test]
    fn a_core_that_never_beats_is_stalled_from_the_first_check() {
        let beats = Heartbeats::new(3);
        let start = Instant::now();
        let mut dog = Watchdog::new(Duration::from_millis(100), beats.snapshot(), start);
        beats.beat(0);
        beats.beat(2);
        assert_eq!(
            dog.check(start + Duration::from_millis(100), beats.snapshot()),
            Check::Stalled(vec![1])
        );
    }
}
