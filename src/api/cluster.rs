//! up-registry-nodes.json / up-discovery-nodes.json (spec §8.1), and the status of every node of
//! the cluster as the status endpoints report it: this node's own, each peer's as last polled.

use std::sync::atomic::Ordering;

use protocol::http::Method;
use protocol::model::{
    parse_optional, write_up_nodes_response, NodeFlags, NodeInfo, NodeStatus, RegionZoneRequest,
    ReplicationFigures,
};

use super::rate_limit::{refuse_over_limit, Shape};
use super::{bad_json, query_fields, Input};
use crate::cluster::state::{PeerHealth, PeerReplication};
use crate::cluster::topology::Peer;
use crate::server::core::Core;
use crate::server::rate_limit::Identity;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Registry,
    Discovery,
}

pub fn up_nodes(core: &Core, role: Role, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let (region, zone) = if input.method == Method::Get {
        let [region, zone] = query_fields(input.query, ["regionId", "zoneId"]);
        (region, zone)
    } else {
        match parse_optional::<RegionZoneRequest>(input.body) {
            Ok(Some(r)) => (r.region_id, r.zone_id),
            Ok(None) => (None, None),
            Err(e) => return bad_json(out, e),
        }
    };
    let identity = match role {
        Role::Registry => Identity::UpRegistryNodes,
        Role::Discovery => Identity::UpDiscoveryNodes,
    };
    if let Some(status) = refuse_over_limit(core, identity, Shape::ServiceNodes, out) {
        return status;
    }
    let request = (region.as_deref(), zone.as_deref());
    // Clients are given the URL each peer advertises (its `cluster.nodes` entry may be the URL of
    // its cluster listener, on a private interface).
    let advertised: Vec<Option<std::sync::Arc<str>>> = (core.node.cluster.peers.iter())
        .map(|p| p.health.advertised_url())
        .collect();
    let peers = peer_statuses(core).zip(&advertised).map(|(mut node, url)| {
        if let Some(url) = url {
            node.node.url = url;
        }
        node
    });
    let nodes: Vec<NodeInfo> = std::iter::once(local_status(core))
        .chain(peers)
        .filter(|node| serves(node, role, request))
        .map(|node| node.node)
        .collect();
    write_up_nodes_response(out, (!nodes.is_empty()).then_some(&nodes[..]));
    200
}

/// Java's rule (`ClusterServiceImpl`): the node can serve the role (`canServiceRegistry(status)`:
/// `up`, or `starting` with the flag set) and takes callers of other zones, or the caller is in
/// its zone and region (compared exactly, as Java's `Objects.equal`).
fn serves(node: &NodeStatus, role: Role, (region, zone): (Option<&str>, Option<&str>)) -> bool {
    let can = |flag: Option<bool>| match node.status {
        "up" => true,
        "starting" => flag == Some(true),
        _ => false,
    };
    let flags = &node.flags;
    let (can_serve, other_zones) = match role {
        Role::Registry => (can(flags.can_registry), flags.allow_registry_other_zone),
        Role::Discovery => (can(flags.can_discovery), flags.allow_discovery_other_zone),
    };
    let same_zone = region == Some(node.node.region_id) && zone == Some(node.node.zone_id);
    can_serve && (other_zones == Some(true) || same_zone)
}

/// This node's `ServiceNodeStatus`: it serves registry and discovery only once `up` (it has
/// copied the registry from a peer, or needs no copy).
pub fn local_status(core: &Core) -> NodeStatus<'_> {
    let config = &core.node.config;
    let cluster = &core.node.cluster;
    NodeStatus {
        node: node_info(core),
        status: cluster.status.get().name(),
        flags: NodeFlags {
            can_discovery: Some(cluster.can_serve_discovery()),
            can_registry: Some(cluster.can_serve_registry()),
            allow_registry_other_zone: Some(config.registry.allow_from_other_zone),
            allow_discovery_other_zone: Some(config.discovery.allow_from_other_zone),
        },
        replication: None,
    }
}

/// Every peer in configuration order: its status and flags as last polled (`unknown`, flags
/// null, when it never answered), and the replication towards it.
pub fn peer_statuses(core: &Core) -> impl Iterator<Item = NodeStatus<'_>> {
    let cluster = &core.node.cluster;
    let region_id = core.node.config.region_id.as_str();
    cluster
        .topology
        .peers
        .iter()
        .zip(&cluster.peers)
        .map(move |(peer, state)| peer_status(peer, region_id, &state.health, &state.replication))
}

fn peer_status<'a>(
    peer: &'a Peer,
    region_id: &'a str,
    health: &PeerHealth,
    replication: &PeerReplication,
) -> NodeStatus<'a> {
    let status = health.status.get();
    let flag = |cell: &std::sync::atomic::AtomicBool| Some(cell.load(Ordering::Relaxed));
    let flags = if status == crate::cluster::NodeStatus::Unknown {
        NodeFlags::UNKNOWN
    } else {
        NodeFlags {
            can_discovery: flag(&health.can_service_discovery),
            can_registry: flag(&health.can_service_registry),
            allow_registry_other_zone: flag(&health.allow_registry_from_other_zone),
            allow_discovery_other_zone: flag(&health.allow_discovery_from_other_zone),
        }
    };
    NodeStatus {
        // All nodes of a cluster share its region (spec §9.1).
        node: NodeInfo {
            url: &peer.entry.url,
            region_id,
            zone_id: &peer.entry.zone_id,
        },
        status: status.name(),
        flags,
        replication: Some(figures(replication)),
    }
}

fn figures(r: &PeerReplication) -> ReplicationFigures {
    let get = |cell: &std::sync::atomic::AtomicU64| cell.load(Ordering::Relaxed);
    ReplicationFigures {
        queued: get(&r.queued),
        lag_ms: get(&r.lag_ms),
        last_ack_time: i64::try_from(get(&r.last_ack_ms)).unwrap_or(i64::MAX),
        sent_total: get(&r.sent_total),
        failed_requests_total: get(&r.failed_requests_total),
        dropped_heartbeats_total: get(&r.dropped_heartbeats_total),
        dropped_unregisters_total: get(&r.dropped_unregisters_total),
        rejected_total: get(&r.rejected_total),
        resyncs_total: get(&r.resyncs_total),
        resyncing: get(&r.resyncing) > 0,
    }
}

pub fn node_info(core: &Core) -> NodeInfo<'_> {
    NodeInfo {
        url: &core.node.url,
        region_id: &core.node.config.region_id,
        zone_id: &core.node.config.zone_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(status: &'static str, flags: NodeFlags) -> NodeStatus<'static> {
        NodeStatus {
            node: NodeInfo {
                url: "http://n/",
                region_id: "SHA",
                zone_id: "z1",
            },
            status,
            flags,
            replication: None,
        }
    }

    fn flags(can: Option<bool>, other_zones: Option<bool>) -> NodeFlags {
        NodeFlags {
            can_discovery: can,
            can_registry: can,
            allow_registry_other_zone: other_zones,
            allow_discovery_other_zone: other_zones,
        }
    }

    const SAME: (Option<&str>, Option<&str>) = (Some("SHA"), Some("z1"));
    const OTHER: (Option<&str>, Option<&str>) = (Some("SHA"), Some("z2"));

    #[test]
    fn up_nodes_serve_their_zone_and_others_when_allowed() {
        for role in [Role::Registry, Role::Discovery] {
            let up = node("up", flags(Some(true), Some(false)));
            assert!(serves(&up, role, SAME));
            assert!(!serves(&up, role, OTHER));
            assert!(!serves(&up, role, (Some("sha"), Some("z1"))), "exact case");
            assert!(!serves(&up, role, (None, None)));
            let open = node("up", flags(Some(true), Some(true)));
            assert!(serves(&open, role, OTHER) && serves(&open, role, (None, None)));
        }
    }

    #[test]
    fn only_up_nodes_and_starting_ones_with_the_flag_serve() {
        let role = Role::Registry;
        assert!(serves(
            &node("starting", flags(Some(true), Some(true))),
            role,
            SAME
        ));
        assert!(!serves(
            &node("starting", flags(Some(false), Some(true))),
            role,
            SAME
        ));
        assert!(!serves(&node("starting", flags(None, None)), role, SAME));
        assert!(!serves(
            &node("down", flags(Some(true), Some(true))),
            role,
            SAME
        ));
        assert!(!serves(&node("unknown", NodeFlags::UNKNOWN), role, SAME));
    }
}
