//! Time: a monotonic millisecond clock for leases (immune to wall-clock jumps), the wall-clock
//! mapping used only for display, and a manual mode in which tests move time themselves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use protocol::model::LocalTime;

#[derive(Clone, Debug)]
pub struct Clock {
    start: Instant,
    start_wall_ms: i64,
    /// Manual mode (`testing.manual_clock`): the current monotonic milliseconds, moved only by
    /// [`Clock::advance`].
    manual: Option<Arc<AtomicU64>>,
}

impl Clock {
    pub fn new() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Clock {
            start: Instant::now(),
            start_wall_ms: wall,
            manual: None,
        }
    }

    /// A clock that starts now and stands still until advanced.
    pub fn manual() -> Self {
        Clock {
            manual: Some(Arc::new(AtomicU64::new(1))),
            ..Clock::new()
        }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Milliseconds since the clock was created; starts at 1 so 0 can mean "never".
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(now) => now.load(Ordering::Acquire),
            None => self.start.elapsed().as_millis() as u64 + 1,
        }
    }

    /// Move a manual clock forward; returns the new time. None for a real clock.
    pub fn advance(&self, ms: u64) -> Option<u64> {
        let now = self.manual.as_ref()?;
        Some(now.fetch_add(ms, Ordering::AcqRel) + ms)
    }

    /// Epoch milliseconds for a monotonic timestamp.
    pub fn wall_ms(&self, mono_ms: u64) -> i64 {
        self.start_wall_ms + mono_ms as i64 - 1
    }

    pub fn wall_now_ms(&self) -> i64 {
        self.wall_ms(self.now_ms())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// Epoch milliseconds as calendar time in the server's time zone (what Java's SimpleDateFormat
/// printed); the epoch itself if the C library cannot convert it.
pub fn local_time(epoch_ms: i64) -> LocalTime {
    let secs = epoch_ms.div_euclid(1000);
    let millis = epoch_ms.rem_euclid(1000) as u16;
    // SAFETY: localtime_r only writes the `tm` we pass; a zeroed tm is a valid starting value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: both pointers are valid for the duration of the call.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return LocalTime {
            year: 1970,
            month: 1,
            day: 1,
            ..LocalTime::default()
        };
    }
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u8,
        day: tm.tm_mday as u8,
        hour: tm.tm_hour as u8,
        minute: tm.tm_min as u8,
        second: tm.tm_sec as u8,
        millis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_wall_agree() {
        let c = Clock::new();
        let a = c.now_ms();
        let w = c.wall_ms(a);
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!((real - w).abs() < 1000);
        assert!(c.now_ms() >= a);
        assert_eq!(c.advance(5), None, "a real clock cannot be moved");
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let c = Clock::manual();
        let start = c.now_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now_ms(), start);
        assert_eq!(c.clone().advance(20_000), Some(start + 20_000));
        assert_eq!(c.now_ms(), start + 20_000, "clones share the time");
    }

    #[test]
    fn local_time_has_java_shape() {
        let t = local_time(1_550_800_000_123);
        assert_eq!((t.year, t.month), (2019, 2));
        assert!((21..=22).contains(&t.day), "{t:?}");
        assert_eq!(t.millis, 123);
    }
}
