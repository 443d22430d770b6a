//! The registry copy a starting node takes from an `up` peer (spec §9.3): which peers to ask and
//! in what order, when to stop waiting for one, the request, and the answer turned into
//! instances to register. The server's bootstrap runner (`server::bootstrap`) drives it and
//! registers the instances.

use std::sync::atomic::Ordering;
use std::time::Duration;

use protocol::model::{answered_success, parse, write_str, FieldLimits, Instance, ServicesAnswer};
use shards::ops::RegisterItem;

use super::client::PeerClient;
use super::topology::Topology;
use super::ClusterState;

/// The peer endpoint that answers with its whole registry.
pub const SERVICES_PATH: &str = "api/replication/registry/services.json";

/// Largest registry copy accepted (about two million instances of a typical size): bounds what
/// a misbehaving peer can make a starting node buffer.
const MAX_REGISTRY_COPY_BYTES: usize = 1 << 30;

/// The peers to copy from, in the order to try them: this node's zone first, then the other
/// zones, each in configuration order (Java's `localZoneOtherNodes`, then `otherZoneNodes`).
pub fn copy_order(topology: &Topology) -> Vec<usize> {
    let local_zone = topology.local.as_ref().map(|l| l.zone_id.as_str());
    let in_zone = |p: &&super::topology::Peer| Some(p.entry.zone_id.as_str()) == local_zone;
    let (mut order, others): (Vec<_>, Vec<_>) = topology.peers.iter().partition(in_zone);
    order.extend(others);
    order.into_iter().map(|p| p.id).collect()
}

/// The peers whose last poll found them `up`, in [`copy_order`].
pub fn up_peers(cluster: &ClusterState) -> Vec<usize> {
    copy_order(&cluster.topology)
        .into_iter()
        .filter(|&id| cluster.peers[id].health.is_up())
        .collect()
}

/// What a round of the bootstrap saw of the peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeersSeen {
    /// At least one peer is `up`: there is a registry to copy.
    Up,
    /// Some peer answered its last poll, none is `up`.
    AnsweringNoneUp,
    /// No peer answered its last poll.
    Silent,
}

/// What the peers' last polls said.
pub fn peers_seen(cluster: &ClusterState) -> PeersSeen {
    let healths = || cluster.peers.iter().map(|p| &p.health);
    if healths().any(|h| h.is_up()) {
        PeersSeen::Up
    } else if healths().any(|h| h.polled() && h.failed_polls.load(Ordering::Relaxed) == 0) {
        PeersSeen::AnsweringNoneUp
    } else {
        PeersSeen::Silent
    }
}

/// Where the wait for an `up` peer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitVerdict {
    /// Keep looking for an `up` peer.
    Wait,
    /// No peer was `up` for the whole wait, and none answered in it either: the node may be
    /// cut off from a cluster that serves, so it keeps waiting. `warn`: time to say so again.
    CutOff { warn: bool },
    /// No peer was `up` for the whole wait while some answered: the whole cluster is starting,
    /// and this node goes `up` without a copy (or no node ever would).
    Over,
}

/// A cut-off node repeats its warning this often.
pub const CUT_OFF_WARN_EVERY_MS: u64 = 60_000;

/// When a starting node stops waiting for an `up` peer: once none has been seen `up` for
/// `cluster.bootstrap_wait_ms` (counted from the start, and again from each time one is seen)
/// while at least one peer answered in that time. Peers that answer but are not `up` are the
/// evidence of a whole cluster restarting; silent peers are no evidence of anything. Times are
/// monotonic ms from the caller's clock.
#[derive(Debug)]
pub struct PeerWait {
    wait_ms: u64,
    /// The start of this wait: the start, or when an `up` peer was last seen.
    since_ms: u64,
    /// Some peer answered since `since_ms`.
    answered: bool,
    /// When this wait last warned of being cut off.
    warned_ms: Option<u64>,
}

impl PeerWait {
    pub fn new(start_ms: u64, wait_ms: u64) -> PeerWait {
        PeerWait {
            wait_ms,
            since_ms: start_ms,
            answered: false,
            warned_ms: None,
        }
    }

    /// Note what a round saw of the peers at `now_ms` (not before the last look).
    pub fn look(&mut self, now_ms: u64, seen: PeersSeen) -> WaitVerdict {
        assert!(now_ms >= self.since_ms, "the caller's clock is monotonic");
        match seen {
            PeersSeen::Up => {
                *self = PeerWait::new(now_ms, self.wait_ms);
                return WaitVerdict::Wait;
            }
            PeersSeen::AnsweringNoneUp => self.answered = true,
            PeersSeen::Silent => {}
        }
        if now_ms - self.since_ms < self.wait_ms {
            return WaitVerdict::Wait;
        }
        if self.answered {
            return WaitVerdict::Over;
        }
        let warn = self
            .warned_ms
            .is_none_or(|at| now_ms - at >= CUT_OFF_WARN_EVERY_MS);
        if warn {
            self.warned_ms = Some(now_ms);
        }
        WaitVerdict::CutOff { warn }
    }
}

/// `{"regionId":..,"zoneId":..}`: the body of the copy request.
pub fn copy_request(region_id: &str, zone_id: &str) -> Vec<u8> {
    let mut body = b"{\"regionId\":".to_vec();
    write_str(&mut body, region_id);
    body.extend_from_slice(b",\"zoneId\":");
    write_str(&mut body, zone_id);
    body.push(b'}');
    body
}

/// A client able to take a whole registry in one answer.
pub fn new_client(cluster: &ClusterState) -> PeerClient {
    PeerClient::new(cluster.secret.clone(), MAX_REGISTRY_COPY_BYTES)
}

/// Ask `peer` for its registry; the answer's body on HTTP 200.
pub async fn fetch(
    client: &mut PeerClient,
    cluster: &ClusterState,
    peer: usize,
    request: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let address = &cluster.topology.peers[peer].address;
    let answer = client
        .post_json(address, SERVICES_PATH, request, timeout)
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("answered HTTP {}", answer.status));
    }
    Ok(answer.body)
}

/// Read a copy: a successful `responseStatus` and a list of services (an empty list is a
/// registry without instances, a copy like any other; a null list is no copy, as in Java).
pub fn read_copy(body: &[u8]) -> Result<ServicesAnswer<'_>, String> {
    let answer: ServicesAnswer = parse(body).map_err(|e| e.to_string())?;
    if !answered_success(answer.response_status.as_ref()) {
        let status = answer.response_status.unwrap_or_default();
        return Err(format!(
            "answered {} ({}): {}",
            status.status.as_deref().unwrap_or("no status"),
            status.error_code.as_deref().unwrap_or("no error code"),
            status.message.as_deref().unwrap_or_default()
        ));
    }
    if answer.services.is_none() {
        return Err("answered without a services list".into());
    }
    Ok(answer)
}

/// Every instance of a copy, null entries skipped.
pub fn instances<'c, 'a>(copy: &'c ServicesAnswer<'a>) -> impl Iterator<Item = &'c Instance<'a>> {
    copy.services
        .iter()
        .flatten()
        .flatten()
        .filter_map(|s| s.instances.as_ref())
        .flatten()
        .flatten()
}

/// What this node checks of a copied instance before it stores it: the replication path's
/// checks (spec §9.2: the region, not the zone; the required fields) and the field limits every
/// stored instance keeps to.
#[derive(Clone, Copy, Debug)]
pub struct CopyChecks<'a> {
    pub region_id: &'a str,
    pub limits: FieldLimits,
}

/// The instance as the owning shard stores it (as a client's register would), or why it is
/// left out.
pub fn register_item(instance: &Instance, checks: &CopyChecks) -> Result<RegisterItem, String> {
    let region = instance.region_id.as_deref();
    if !region.is_some_and(|r| !r.trim().is_empty() && r.eq_ignore_ascii_case(checks.region_id)) {
        return Err(format!(
            "region {} is not this node's",
            region.unwrap_or("null")
        ));
    }
    instance.check_required().map_err(str::to_string)?;
    instance.check_lengths(checks.limits)?;
    Ok(RegisterItem::from_instance(instance))
}

#[cfg(test)]
mod tests;
