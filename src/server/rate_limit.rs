//! Java's request rate limiters (spec §11.9, caravan `DefaultRateLimiter`), counted on each core
//! against one node-wide budget.
//!
//! Java keeps, per limiter and identity (an operation such as `heartbeat`), the requests it
//! admitted in a sliding window of ten 1 s buckets; a request that would take the window over the
//! limit is refused (answered `rate-limited`) and not counted. artemis admits the same way,
//! node-wide, without touching shared memory per request:
//!
//! - A core admits requests from an *allowance* it holds for the current second: plain cells only
//!   it touches.
//! - When its allowance runs out, the core takes a *grant* (a chunk of the limit) from the
//!   identity's node-wide window ([`NodeWindows`]), which records it in the bucket of that second.
//!   A grant is given only while the grants recorded in the last ten buckets leave room under the
//!   limit, so the requests admitted node-wide in any window never exceed it.
//! - When its second ends, a core gives the unspent rest of its allowance back to the bucket it
//!   was granted from, so other cores can take it.
//!
//! The margin (see docs/decisions.md): an allowance a core holds but does not spend is unavailable
//! to the other cores, so at most `cores × (chunk − 1)` requests (under 1/64 of the limit) may be
//! refused that Java would have admitted; with a chunk of 1 (a limit below 64 × cores) admission
//! is exactly Java's. The only excess is a request whose core read the clock just before a second
//! boundary: it counts in the second before, so leaves the window a second early (at most one
//! request per core per window).

mod window;

#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::sync::Arc;

pub use window::{NodeWindows, WINDOW_SECONDS};

use crate::clock::Clock;

/// One of Java's limiters, by what it protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limiter {
    Registry,
    RegistryReplication,
    Cluster,
    Status,
    ManagementGroup,
}

impl Limiter {
    pub const ALL: [Limiter; 5] = [
        Limiter::Registry,
        Limiter::RegistryReplication,
        Limiter::Cluster,
        Limiter::Status,
        Limiter::ManagementGroup,
    ];

    /// Java's limiter id, as its properties and logs named it.
    pub fn java_id(self) -> &'static str {
        match self {
            Limiter::Registry => "artemis.service.registry",
            Limiter::RegistryReplication => "artemis.service.registry.replication",
            Limiter::Cluster => "artemis.service.cluster",
            Limiter::Status => "artemis.service.status",
            Limiter::ManagementGroup => "artemis.service.management.group",
        }
    }

    /// The limiter's table under `[rate_limits]` in the config file.
    pub fn config_key(self) -> &'static str {
        match self {
            Limiter::Registry => "registry",
            Limiter::RegistryReplication => "registry_replication",
            Limiter::Cluster => "cluster",
            Limiter::Status => "status",
            Limiter::ManagementGroup => "management_group",
        }
    }

    /// The identities this limiter counts, each on its own.
    pub fn identities(self) -> impl Iterator<Item = Identity> {
        Identity::ALL
            .into_iter()
            .filter(move |i| i.limiter() == self)
    }
}

/// An operation a limiter counts on its own (Java's identity string).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    Register,
    Heartbeat,
    Unregister,
    ReplicationRegister,
    ReplicationHeartbeat,
    ReplicationUnregister,
    ReplicationGetServices,
    UpRegistryNodes,
    UpDiscoveryNodes,
    GetCluster,
    GetLeases,
    GetLegacyLeases,
    GetConfig,
    GetDeployment,
    GetRouteRules,
    GetRouteRuleGroups,
    GetGroups,
}

impl Identity {
    /// Every identity, in declaration order (`ALL[i as usize] == i`).
    pub const ALL: [Identity; 17] = [
        Identity::Register,
        Identity::Heartbeat,
        Identity::Unregister,
        Identity::ReplicationRegister,
        Identity::ReplicationHeartbeat,
        Identity::ReplicationUnregister,
        Identity::ReplicationGetServices,
        Identity::UpRegistryNodes,
        Identity::UpDiscoveryNodes,
        Identity::GetCluster,
        Identity::GetLeases,
        Identity::GetLegacyLeases,
        Identity::GetConfig,
        Identity::GetDeployment,
        Identity::GetRouteRules,
        Identity::GetRouteRuleGroups,
        Identity::GetGroups,
    ];
    pub const COUNT: usize = Identity::ALL.len();

    pub fn limiter(self) -> Limiter {
        use Identity::*;
        match self {
            Register | Heartbeat | Unregister => Limiter::Registry,
            ReplicationRegister
            | ReplicationHeartbeat
            | ReplicationUnregister
            | ReplicationGetServices => Limiter::RegistryReplication,
            UpRegistryNodes | UpDiscoveryNodes => Limiter::Cluster,
            GetCluster | GetLeases | GetLegacyLeases | GetConfig | GetDeployment => Limiter::Status,
            GetRouteRules | GetRouteRuleGroups | GetGroups => Limiter::ManagementGroup,
        }
    }

    /// Java's identity string, unique within its limiter (the keys of `per_identity`).
    pub fn name(self) -> &'static str {
        use Identity::*;
        match self {
            Register | ReplicationRegister => "register",
            Heartbeat | ReplicationHeartbeat => "heartbeat",
            Unregister | ReplicationUnregister => "unregister",
            ReplicationGetServices => "get-services",
            UpRegistryNodes => "up-registry-nodes",
            UpDiscoveryNodes => "up-discovery-nodes",
            GetCluster => "get-cluster",
            GetLeases => "get-leases",
            GetLegacyLeases => "get-legacy-leases",
            GetConfig => "get-config",
            GetDeployment => "get-deployment",
            GetRouteRules => "get.route-rules",
            GetRouteRuleGroups => "get.route-rule-groups",
            GetGroups => "get.groups",
        }
    }
}

/// A core writes at most one warning per identity per window while it refuses requests; the
/// line counts the refusals since the previous one.
const LOG_INTERVAL_MS: u64 = WINDOW_SECONDS * 1000;

/// One core's side of the rate limits: per identity, the allowance it holds and what it refused.
/// Only its core touches it; the node-wide windows are touched when an allowance runs out or its
/// second ends.
pub struct RateLimits {
    core: usize,
    windows: Arc<NodeWindows>,
    clock: Clock,
    identities: [Local; Identity::COUNT],
}

struct Local {
    /// Copied from the node-wide window: a disabled limiter admits without reading the clock.
    enabled: bool,
    /// The second of the node clock `allowance` was granted in.
    second: Cell<u64>,
    /// Requests this core may still admit in `second` without asking the node-wide window.
    allowance: Cell<u64>,
    /// Requests refused since start.
    rejected: Cell<u64>,
    /// Refusals not yet reported by a log line, and when the last line was written.
    unlogged: Cell<u64>,
    logged_at_ms: Cell<Option<u64>>,
}

impl RateLimits {
    pub fn new(core: usize, windows: Arc<NodeWindows>, clock: Clock) -> Self {
        let identities = Identity::ALL.map(|identity| Local {
            enabled: windows.enabled(identity),
            second: Cell::new(0),
            allowance: Cell::new(0),
            rejected: Cell::new(0),
            unlogged: Cell::new(0),
            logged_at_ms: Cell::new(None),
        });
        RateLimits {
            core,
            windows,
            clock,
            identities,
        }
    }

    /// Admit one request of `identity`; false (and counted as rejected) when admitting it would
    /// take the identity's node-wide window over its limit.
    pub fn admit(&self, identity: Identity) -> bool {
        let local = &self.identities[identity as usize];
        if !local.enabled {
            return true;
        }
        let now_ms = self.clock.now_ms();
        let second = now_ms / 1000;
        if second != local.second.get() {
            debug_assert!(second > local.second.get(), "the node clock is monotonic");
            let unspent = local.allowance.replace(0);
            self.windows
                .give_back(identity, local.second.get(), unspent);
            local.second.set(second);
        }
        let allowance = local.allowance.get();
        if allowance > 0 {
            local.allowance.set(allowance - 1);
            return true;
        }
        let granted = self.windows.grant(identity, second);
        if granted > 0 {
            local.allowance.set(granted - 1);
            return true;
        }
        self.reject(identity, now_ms);
        false
    }

    /// Requests of `limiter` this core refused since start (all its identities).
    pub fn rejected(&self, limiter: Limiter) -> u64 {
        limiter
            .identities()
            .map(|i| self.identities[i as usize].rejected.get())
            .sum()
    }

    fn reject(&self, identity: Identity, now_ms: u64) {
        let local = &self.identities[identity as usize];
        local.rejected.set(local.rejected.get() + 1);
        let unlogged = local.unlogged.get() + 1;
        let due = local
            .logged_at_ms
            .get()
            .is_none_or(|at| now_ms >= at + LOG_INTERVAL_MS);
        if !due {
            local.unlogged.set(unlogged);
            return;
        }
        local.unlogged.set(0);
        local.logged_at_ms.set(Some(now_ms));
        tracing::warn!(
            core = self.core,
            limiter = identity.limiter().java_id(),
            identity = identity.name(),
            limit_per_10s = self.windows.limit(identity),
            rejected_since_last_line = unlogged,
            "rate limit reached: requests over it are answered rate-limited"
        );
    }
}
