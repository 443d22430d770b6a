//! The node-wide side of the rate limits: per identity, its limit and the allowance granted to
//! cores in each second of the sliding window.
//!
//! A window is ten buckets, one per second (`second % 10`), each one atomic word holding the
//! second it counts and the requests granted in it. Grants in the same second go through one
//! compare-and-swap on that second's bucket, so two cores can never both take the last room.
//! Cores touch a window only to take a grant or give back an unspent one: a few times per second
//! per core, not per request.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Identity;
use crate::config::RateLimitsConfig;

/// Buckets (seconds) in a window: Java's `TimeBufferConfig(10 * 1000, 1000)`.
pub const WINDOW_SECONDS: u64 = 10;

/// Grants a core takes per window when it alone spends the whole limit: the chunk is the limit
/// split this many ways per core. More grants cost more shared writes; fewer leave more allowance
/// unspent on cores that stop asking (see the module documentation of `rate_limit`).
const GRANTS_PER_CORE_PER_WINDOW: u64 = 64;

/// The largest limit a bucket can count (its low half-word).
const MAX_LIMIT: u64 = u32::MAX as u64;

pub struct NodeWindows {
    windows: Box<[Window]>,
}

/// One identity's window, alone on its cache lines (other identities' grants never contend).
#[repr(align(128))]
struct Window {
    enabled: bool,
    limit: u64,
    /// Most requests one grant hands a core.
    chunk: u64,
    buckets: [AtomicU64; WINDOW_SECONDS as usize],
}

/// A bucket's word: the second it counts (high half) and the requests granted in it (low half).
fn pack(second: u64, granted: u64) -> u64 {
    assert!(
        second <= u64::from(u32::MAX) && granted <= MAX_LIMIT,
        "second {second} and grants {granted} fit their half-words"
    );
    second << 32 | granted
}

fn second_of(bucket: u64) -> u64 {
    bucket >> 32
}

fn granted_of(bucket: u64) -> u64 {
    bucket & MAX_LIMIT
}

impl NodeWindows {
    /// Every identity's window, empty, with the limit `config` gives it; `cores` share each.
    pub fn new(config: &RateLimitsConfig, cores: usize) -> Self {
        assert!(cores > 0, "a node has at least one core");
        let windows = Identity::ALL
            .iter()
            .map(|&identity| {
                let limiter = config.of(identity.limiter());
                let limit = limiter
                    .per_identity
                    .get(identity.name())
                    .copied()
                    .unwrap_or(limiter.default_per_10s);
                assert!(
                    (1..=MAX_LIMIT).contains(&limit),
                    "validated: {} of {} is {limit}",
                    identity.name(),
                    identity.limiter().java_id()
                );
                Window {
                    enabled: limiter.enabled,
                    limit,
                    chunk: (limit / (GRANTS_PER_CORE_PER_WINDOW * cores as u64)).max(1),
                    buckets: Default::default(),
                }
            })
            .collect();
        NodeWindows { windows }
    }

    fn window(&self, identity: Identity) -> &Window {
        &self.windows[identity as usize]
    }

    pub fn enabled(&self, identity: Identity) -> bool {
        self.window(identity).enabled
    }

    /// Requests of `identity` admitted node-wide per window at most.
    pub fn limit(&self, identity: Identity) -> u64 {
        self.window(identity).limit
    }

    /// Take up to one chunk of `identity`'s limit for a core in `second`; returns how many
    /// requests it may admit in that second (0: the window is full).
    ///
    /// Relaxed ordering is enough: the words publish no other memory, and every decision that
    /// could over-grant (two grants in one second) is settled by the compare-and-swap on one word.
    pub fn grant(&self, identity: Identity, second: u64) -> u64 {
        let window = self.window(identity);
        let index = (second % WINDOW_SECONDS) as usize;
        loop {
            let mut current = 0;
            let mut used = 0;
            for (i, bucket) in window.buckets.iter().enumerate() {
                let word = bucket.load(Ordering::Relaxed);
                if i == index {
                    current = word;
                }
                // A bucket counts while its second is in this window. A second past ours is
                // counted too: a core that read the clock a moment later already granted in it.
                if second_of(word) + WINDOW_SECONDS > second {
                    used += granted_of(word);
                }
            }
            let room = window.limit.saturating_sub(used);
            if room == 0 {
                return 0;
            }
            let take = room.min(window.chunk);
            let next = match second_of(current) {
                s if s == second => pack(second, granted_of(current) + take),
                // The bucket last counted a second that has left the window: start it afresh.
                s if s < second => pack(second, take),
                // It counts a second ten or more past ours: this core read the clock long before
                // getting here. Refuse rather than count into a future window.
                _ => return 0,
            };
            let swapped = window.buckets[index].compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            if swapped.is_ok() {
                return take;
            }
        }
    }

    /// A core's allowance granted in `second` that it did not spend: room for other cores again,
    /// unless that second has already left the window (then it no longer counts anyway).
    pub fn give_back(&self, identity: Identity, second: u64, unspent: u64) {
        if unspent == 0 {
            return;
        }
        let bucket = &self.window(identity).buckets[(second % WINDOW_SECONDS) as usize];
        let mut current = bucket.load(Ordering::Relaxed);
        loop {
            if second_of(current) != second {
                return;
            }
            let granted = granted_of(current);
            assert!(
                granted >= unspent,
                "a bucket holds every grant made in it that was not given back"
            );
            match bucket.compare_exchange_weak(
                current,
                pack(second, granted - unspent),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(word) => current = word,
            }
        }
    }
}
