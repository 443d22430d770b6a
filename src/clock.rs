//! Time: a monotonic millisecond clock for leases (immune to wall-clock jumps) and the wall-clock
//! mapping used only for display.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    start_wall_ms: i64,
}

impl Clock {
    pub fn new() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Clock {
            start: Instant::now(),
            start_wall_ms: wall,
        }
    }

    /// Milliseconds since the clock was created; starts at 1 so 0 can mean "never".
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64 + 1
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

/// `yyyy-MM-dd HH:mm:ss.SSS` in the server's local time zone, like Java's SimpleDateFormat.
pub fn write_local_time(out: &mut Vec<u8>, epoch_ms: i64) {
    let secs = epoch_ms.div_euclid(1000);
    let millis = epoch_ms.rem_euclid(1000);
    // SAFETY: localtime_r only writes the `tm` we pass; a zeroed tm is a valid starting value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: both pointers are valid for the duration of the call.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        out.extend_from_slice(b"1970-01-01 00:00:00.000");
        return;
    }
    let fields = [
        (tm.tm_year as i64 + 1900, 4),
        (tm.tm_mon as i64 + 1, 2),
        (tm.tm_mday as i64, 2),
        (tm.tm_hour as i64, 2),
        (tm.tm_min as i64, 2),
        (tm.tm_sec as i64, 2),
        (millis, 3),
    ];
    let separators = [b'-', b'-', b' ', b':', b':', b'.'];
    for (i, (value, width)) in fields.into_iter().enumerate() {
        write_padded(out, value, width);
        if let Some(&sep) = separators.get(i) {
            out.push(sep);
        }
    }
}

fn write_padded(out: &mut Vec<u8>, value: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut n = 0;
    while v > 0 || n == 0 {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
    }
    for _ in n..width {
        out.push(b'0');
    }
    out.extend(digits[..n].iter().rev());
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
    }

    #[test]
    fn local_time_has_java_shape() {
        let mut out = Vec::new();
        write_local_time(&mut out, 1_550_800_000_123);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), 23, "{s}");
        assert!(s.starts_with("2019-02-2"), "{s}");
        assert!(s.ends_with(".123"), "{s}");
        assert_eq!(&s[4..5], "-");
        assert_eq!(&s[10..11], " ");
    }
}
