//! A hashed timing wheel for lease deadlines.
//!
//! Renewals never touch the wheel: a heartbeat only moves the lease's renewal time. When an entry's
//! slot comes round, the owner re-checks the real deadline and either expires the lease or
//! schedules it again. Heartbeats (the hot path) are O(1) with no wheel work, and each lease costs
//! one wheel visit per TTL. Deadlines beyond the wheel's horizon simply come round early and are
//! re-scheduled, so there is no overflow list.

/// A lease handle: slab index plus the generation that was live when it was scheduled, so an entry
/// left behind by a removed (or replaced) lease is recognised as stale and dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WheelEntry {
    pub index: u32,
    pub generation: u32,
}

pub struct TimingWheel {
    tick_ms: u64,
    slots: Vec<Vec<WheelEntry>>,
    /// The next tick to be processed; every tick before it has been fully drained.
    next_tick: u64,
    /// Entries of the slot being drained that a budgeted `advance` did not get to yet.
    pending: Vec<WheelEntry>,
    len: usize,
}

/// What the owner decided for an entry that came due.
pub enum Due {
    /// Drop the entry (expired and removed, or stale).
    Done,
    /// Look at it again at this time (ms).
    Reschedule(u64),
}

impl TimingWheel {
    pub fn new(tick_ms: u64, slot_count: usize, now_ms: u64) -> Self {
        assert!(tick_ms > 0, "tick must be positive");
        assert!(
            slot_count.is_power_of_two(),
            "slot count must be a power of two"
        );
        TimingWheel {
            tick_ms,
            slots: (0..slot_count).map(|_| Vec::new()).collect(),
            next_tick: now_ms / tick_ms,
            pending: Vec::new(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot_of(&self, tick: u64) -> usize {
        (tick as usize) & (self.slots.len() - 1)
    }

    /// Schedule `entry` to come due at or after `deadline_ms` (rounded up to the next tick).
    pub fn schedule(&mut self, deadline_ms: u64, entry: WheelEntry) {
        let tick = deadline_ms.div_ceil(self.tick_ms).max(self.next_tick);
        let slot = self.slot_of(tick);
        self.slots[slot].push(entry);
        self.len += 1;
    }

    /// Process due entries up to `now_ms`, at most `budget` of them. Returns true if the budget ran
    /// out before the wheel caught up (call again soon, after letting other work run).
    pub fn advance(
        &mut self,
        now_ms: u64,
        budget: usize,
        mut on_due: impl FnMut(WheelEntry) -> Due,
    ) -> bool {
        let target_tick = now_ms / self.tick_ms;
        let mut left = budget;
        // After a long stall (suspended process) one full turn visits every slot once; later
        // ticks would only revisit the same slots.
        let max_ticks = self.slots.len() as u64;
        let mut ticks_done = 0u64;
        while self.next_tick <= target_tick && ticks_done < max_ticks {
            if self.pending.is_empty() {
                let slot = self.slot_of(self.next_tick);
                std::mem::swap(&mut self.pending, &mut self.slots[slot]);
            }
            while let Some(entry) = self.pending.pop() {
                if left == 0 {
                    self.pending.push(entry);
                    return true;
                }
                left -= 1;
                self.len -= 1;
                if let Due::Reschedule(at) = on_due(entry) {
                    // Never back into the tick being drained: that would loop within one call.
                    let at = at.max((self.next_tick + 1) * self.tick_ms);
                    self.schedule(at, entry);
                }
            }
            self.next_tick += 1;
            ticks_done += 1;
        }
        if self.next_tick <= target_tick {
            self.next_tick = target_tick + 1;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u32) -> WheelEntry {
        WheelEntry {
            index: i,
            generation: 0,
        }
    }

    fn drain(w: &mut TimingWheel, now: u64) -> Vec<u32> {
        let mut seen = Vec::new();
        while w.advance(now, usize::MAX, |e| {
            seen.push(e.index);
            Due::Done
        }) {}
        seen.sort();
        seen
    }

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = TimingWheel::new(10, 64, 0);
        w.schedule(105, entry(1));
        assert!(drain(&mut w, 100).is_empty());
        assert_eq!(drain(&mut w, 109), Vec::<u32>::new());
        assert_eq!(drain(&mut w, 110), vec![1]);
        assert!(w.is_empty());
    }

    #[test]
    fn far_deadlines_come_round_early_and_can_be_rescheduled() {
        // horizon = 64 * 10 ms = 640 ms; deadline 5000 ms wraps around.
        let mut w = TimingWheel::new(10, 64, 0);
        w.schedule(5000, entry(7));
        let mut fired_at = Vec::new();
        let mut now = 0;
        while now <= 6000 {
            w.advance(now, usize::MAX, |e| {
                if now >= 5000 {
                    fired_at.push((e.index, now));
                    Due::Done
                } else {
                    Due::Reschedule(5000)
                }
            });
            now += 10;
        }
        assert_eq!(fired_at, vec![(7, 5000)]);
    }

    #[test]
    fn budget_limits_work_per_call_and_nothing_is_lost() {
        let mut w = TimingWheel::new(10, 64, 0);
        for i in 0..1000 {
            w.schedule(50, entry(i));
        }
        let mut seen = 0;
        let mut calls = 0;
        while w.advance(60, 100, |_| {
            seen += 1;
            Due::Done
        }) {
            calls += 1;
        }
        assert_eq!(seen, 1000);
        assert_eq!(calls, 9);
        assert!(w.is_empty());
    }

    #[test]
    fn long_stall_visits_every_slot_once() {
        let mut w = TimingWheel::new(10, 16, 0);
        for i in 0..16 {
            w.schedule(i as u64 * 10, entry(i));
        }
        assert_eq!(drain(&mut w, 1_000_000).len(), 16);
        // The wheel is caught up: a new deadline in the future still waits.
        w.schedule(1_000_100, entry(99));
        assert!(drain(&mut w, 1_000_050).is_empty());
        assert_eq!(drain(&mut w, 1_000_100), vec![99]);
    }

    #[test]
    fn past_deadline_fires_on_next_advance() {
        let mut w = TimingWheel::new(10, 16, 1000);
        w.schedule(10, entry(3));
        assert_eq!(drain(&mut w, 1000), vec![3]);
    }

    #[test]
    fn reschedule_into_current_tick_is_deferred() {
        let mut w = TimingWheel::new(10, 16, 0);
        w.schedule(10, entry(1));
        let mut visits = 0;
        w.advance(10, usize::MAX, |_| {
            visits += 1;
            Due::Reschedule(0)
        });
        assert_eq!(visits, 1);
        assert_eq!(w.len(), 1);
    }
}
