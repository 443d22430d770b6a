//! What the registry does, in the log: self-preservation engaging and disengaging (one line per
//! transition, per shard: each shard judges the node-wide renewal count on its own), expired
//! leases summed up in at most one line per core per second, and refused instances (a
//! rate-limited warning with the reason the client was given). Registrations and heartbeats
//! that succeed are not logged: they are the hot path.

use std::cell::Cell;
use std::time::Instant;

use shards::Shard;

use super::log_limit::{LogLimiter, INTERVAL};

/// The message of a refused instance's line, repeated by its summary line.
pub const REFUSED: &str = "instance refused";

pub struct Activity {
    /// The shard's `evicted_total` at the last report.
    evicted_reported: Cell<u64>,
    /// Self-preservation in force at the last report: normal leases, legacy leases.
    preserving: [Cell<bool>; 2],
    next_report: Cell<Instant>,
    refused: LogLimiter,
}

/// Lease classes, as they are named in the log.
const CLASSES: [(bool, &str); 2] = [(false, "normal"), (true, "legacy")];

impl Activity {
    pub fn new(shard: &Shard) -> Activity {
        Activity {
            evicted_reported: Cell::new(shard.evicted_total()),
            preserving: CLASSES.map(|(legacy, _)| Cell::new(preserving(shard, legacy))),
            next_report: Cell::new(Instant::now() + INTERVAL),
            refused: LogLimiter::new(5),
        }
    }

    /// An instance of a register/heartbeat/unregister request was refused with `reason`.
    pub fn refused(
        &self,
        core: usize,
        op: &str,
        service_id: &str,
        instance_id: &str,
        reason: &str,
    ) {
        if self.refused.allow() {
            tracing::warn!(core, op, service_id, instance_id, reason, "{REFUSED}");
        }
    }

    /// Called on every lease clock tick: logs a self-preservation transition at once (a shard
    /// judges once a second, so there is at most one a second), and once a second the expiries
    /// and the refusals' summary.
    pub fn tick(&self, core: usize, shard: &Shard, now: Instant) {
        self.log_transitions(core, shard);
        if now < self.next_report.get() {
            return;
        }
        self.next_report.set(now + INTERVAL);
        let total = shard.evicted_total();
        let evicted = total - self.evicted_reported.replace(total);
        if evicted > 0 {
            tracing::info!(
                core,
                evicted,
                "evicted {evicted} {} whose leases expired (last {}s)",
                if evicted == 1 {
                    "instance"
                } else {
                    "instances"
                },
                INTERVAL.as_secs()
            );
        }
        self.refused.report(REFUSED, core);
    }

    fn log_transitions(&self, core: usize, shard: &Shard) {
        for ((legacy, class), was) in CLASSES.into_iter().zip(&self.preserving) {
            let is = preserving(shard, legacy);
            if is == was.replace(is) {
                continue;
            }
            let status = shard.safe_status(legacy);
            if is {
                tracing::warn!(
                    core,
                    leases = class,
                    window_renewals = status.window_count,
                    max_window_renewals = status.max_count,
                    "self-preservation engaged: renewals collapsed node-wide, so expired {class} \
                     leases stay until they recover"
                );
            } else {
                tracing::info!(
                    core,
                    leases = class,
                    window_renewals = status.window_count,
                    "self-preservation disengaged: renewals recovered, expiry of {class} leases \
                     resumes"
                );
            }
        }
    }
}

/// Is self-preservation holding this class of leases now?
fn preserving(shard: &Shard, legacy: bool) -> bool {
    let status = shard.safe_status(legacy);
    status.enabled && !status.safe
}
