use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use protocol::rng::Rng;

use super::window::NodeWindows;
use super::{Identity, Limiter, RateLimits, WINDOW_SECONDS};
use crate::clock::Clock;
use crate::config::RateLimitsConfig;

/// `cores` cores sharing windows in which `heartbeat` (registry) may be admitted `limit` times,
/// on one manual clock.
fn node(limit: u64, cores: usize) -> (Vec<RateLimits>, Clock) {
    let mut config = RateLimitsConfig::default();
    config.registry.default_per_10s = limit;
    let windows = Arc::new(NodeWindows::new(&config, cores));
    let clock = Clock::manual();
    let limits = (0..cores)
        .map(|core| RateLimits::new(core, windows.clone(), clock.clone()))
        .collect();
    (limits, clock)
}

fn admitted(limits: &RateLimits, identity: Identity, requests: usize) -> usize {
    (0..requests).filter(|_| limits.admit(identity)).count()
}

#[test]
fn identities_are_listed_in_order_and_named_once_per_limiter() {
    for (i, identity) in Identity::ALL.into_iter().enumerate() {
        assert_eq!(identity as usize, i, "{identity:?}");
    }
    for limiter in Limiter::ALL {
        let names: Vec<&str> = limiter.identities().map(Identity::name).collect();
        assert!(!names.is_empty(), "{limiter:?}");
        let unique: HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{limiter:?}: {names:?}");
    }
    let heartbeats: Vec<Limiter> = Identity::ALL
        .into_iter()
        .filter(|i| i.name() == "heartbeat")
        .map(Identity::limiter)
        .collect();
    assert_eq!(
        heartbeats,
        [Limiter::Registry, Limiter::RegistryReplication]
    );
}

#[test]
fn the_window_slides_second_by_second() {
    let (cores, clock) = node(5, 1);
    let core = &cores[0];
    // (clock ms, requests, admitted): the manual clock starts at 1 ms, in second 0.
    let steps = [
        (1, 3, 3),
        // Seconds 0..=5 hold 3: 2 more; the refused ones are not counted.
        (5_001, 4, 2),
        (9_999, 1, 0),
        // Second 0 has left the window; second 5 holds 2.
        (10_000, 4, 3),
        // Seconds 6..=15 hold second 10's 3.
        (15_000, 4, 2),
        (19_999, 1, 0),
        (20_000, 9, 3),
        (30_000, 9, 5),
    ];
    let mut rejected = 0;
    for (at_ms, requests, expected) in steps {
        clock.advance(at_ms - clock.now_ms());
        assert_eq!(
            admitted(core, Identity::Heartbeat, requests),
            expected,
            "at {at_ms} ms"
        );
        rejected += (requests - expected) as u64;
        assert_eq!(core.rejected(Limiter::Registry), rejected, "at {at_ms} ms");
    }
}

#[test]
fn identities_count_apart_and_a_disabled_limiter_admits_all() {
    let mut config = RateLimitsConfig::default();
    config.status.default_per_10s = 2;
    config.status.per_identity.insert("get-config".into(), 4);
    config.cluster.enabled = false;
    let windows = Arc::new(NodeWindows::new(&config, 2));
    let core = RateLimits::new(0, windows, Clock::manual());
    assert_eq!(admitted(&core, Identity::GetCluster, 5), 2);
    assert_eq!(admitted(&core, Identity::GetConfig, 9), 4);
    assert_eq!(
        admitted(&core, Identity::GetLeases, 20),
        10,
        "Java's shipped get-leases:10"
    );
    assert_eq!(admitted(&core, Identity::UpRegistryNodes, 20_000), 20_000);
    assert_eq!(core.rejected(Limiter::Status), 3 + 5 + 10);
    assert_eq!(core.rejected(Limiter::Cluster), 0);
    assert_eq!(core.rejected(Limiter::Registry), 0);
}

#[test]
fn cores_racing_for_one_window_admit_exactly_its_limit() {
    const CORES: usize = 4;
    // A chunk of 39: the cores take many grants each and race for the last ones.
    const LIMIT: u64 = 10_000;
    let (cores, clock) = node(LIMIT, CORES);
    let start = Arc::new(Barrier::new(CORES));
    let threads: Vec<_> = cores
        .into_iter()
        .map(|core| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                // Until refused: by then this core's allowance is spent and the window is full.
                let mut admitted = 0u64;
                while core.admit(Identity::Heartbeat) {
                    admitted += 1;
                }
                (core, admitted)
            })
        })
        .collect();
    let results: Vec<(RateLimits, u64)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let total: u64 = results.iter().map(|(_, n)| n).sum();
    assert_eq!(
        total,
        LIMIT,
        "per core: {:?}",
        results.iter().map(|r| r.1).collect::<Vec<_>>()
    );
    for (core, _) in &results {
        assert_eq!(admitted(core, Identity::Heartbeat, 10), 0);
    }
    clock.advance(WINDOW_SECONDS * 1000);
    let (core, _) = &results[0];
    assert_eq!(
        admitted(core, Identity::Heartbeat, LIMIT as usize + 5),
        LIMIT as usize
    );
}

/// Java's `DefaultRateLimiter` for one identity: one counter per second; a request is admitted
/// when the seconds in the window hold fewer than the limit.
struct JavaModel {
    limit: u64,
    per_second: Vec<u64>,
}

impl JavaModel {
    fn in_window(&self, second: u64) -> u64 {
        let first = (second + 1).saturating_sub(WINDOW_SECONDS) as usize;
        self.per_second[first..=second as usize].iter().sum()
    }

    fn admit(&mut self, second: u64) -> bool {
        if self.per_second.len() <= second as usize {
            self.per_second.resize(second as usize + 1, 0);
        }
        let admit = self.in_window(second) < self.limit;
        self.per_second[second as usize] += u64::from(admit);
        admit
    }
}

#[test]
fn admission_follows_java_within_the_documented_margin() {
    let mut rng = Rng::new(10);
    for round in 0..40 {
        let cores_count = 1 + rng.below(4);
        // Small limits have a chunk of 1 (exactly Java); larger ones leave allowances on cores.
        let limit = [3, 17, 64 * cores_count as u64, 1_000][rng.below(4)];
        let (cores, clock) = node(limit, cores_count);
        let chunk = (limit / (64 * cores_count as u64)).max(1);
        let margin = cores_count as u64 * (chunk - 1);
        let mut ours = JavaModel {
            limit,
            per_second: Vec::new(),
        };
        let mut java = JavaModel {
            limit,
            per_second: Vec::new(),
        };
        for step in 0..3_000 {
            if rng.chance(1) {
                clock.advance(rng.below(4_000) as u64);
            }
            let second = clock.now_ms() / 1000;
            ours.per_second
                .resize(ours.per_second.len().max(second as usize + 1), 0);
            let core = &cores[rng.below(cores_count)];
            let admitted = core.admit(Identity::Heartbeat);
            let ctx = format!("round {round} step {step}: {cores_count} cores, limit {limit}");
            if admitted {
                ours.per_second[second as usize] += 1;
                assert!(ours.in_window(second) <= limit, "over the limit: {ctx}");
            } else {
                let used = ours.in_window(second);
                assert!(used + margin >= limit, "refused at {used}: {ctx}");
            }
            if chunk == 1 {
                assert_eq!(admitted, java.admit(second), "not as Java: {ctx}");
            }
        }
    }
}
