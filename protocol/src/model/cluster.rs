//! Cluster types written by the cluster and status endpoints (§3.8, §8).

use super::json_writer::{write_bool, write_i64, write_str};

/// One Artemis node as peers and clients see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo<'a> {
    /// Base URL including the path prefix, e.g. `http://10.0.0.5:8080/artemis-service/`.
    pub url: &'a str,
    pub region_id: &'a str,
    pub zone_id: &'a str,
}

/// `ServiceNode`: `{"url":..,"zone":{"metadata":null,"regionId":..,"zoneId":..}}`
pub fn write_service_node(out: &mut Vec<u8>, node: &NodeInfo) {
    out.extend_from_slice(b"{\"url\":");
    write_str(out, node.url);
    out.extend_from_slice(b",\"zone\":{\"metadata\":null,\"regionId\":");
    write_str(out, node.region_id);
    out.extend_from_slice(b",\"zoneId\":");
    write_str(out, node.zone_id);
    out.extend_from_slice(b"}}");
}

/// What a node can serve, as `ServiceNodeStatus` reports it. Java leaves all four null for a
/// node whose status it does not know (`ServiceNodeUtil.newUnknownNodeStatus`): see
/// [`NodeFlags::UNKNOWN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeFlags {
    pub can_discovery: Option<bool>,
    pub can_registry: Option<bool>,
    pub allow_registry_other_zone: Option<bool>,
    pub allow_discovery_other_zone: Option<bool>,
}

impl NodeFlags {
    pub const UNKNOWN: NodeFlags = NodeFlags {
        can_discovery: None,
        can_registry: None,
        allow_registry_other_zone: None,
        allow_discovery_other_zone: None,
    };
}

/// Replication towards one peer (beyond Java: its `cluster.json` has no such field).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicationFigures {
    /// Writes queued for the peer, not yet acknowledged.
    pub queued: u64,
    /// Queue-to-answer time of the last batch the peer acknowledged.
    pub lag_ms: u64,
    /// Epoch ms of the last acknowledged batch; 0: never.
    pub last_ack_time: i64,
    pub sent_total: u64,
    pub failed_requests_total: u64,
    pub dropped_heartbeats_total: u64,
    /// Unregisters kept for a resync that did not fit its bound (the peer expires those
    /// instances by their lease).
    pub dropped_unregisters_total: u64,
    /// Instances the peer refused for good (not sent again).
    pub rejected_total: u64,
    pub resyncs_total: u64,
    pub resyncing: bool,
}

/// One node's `ServiceNodeStatus`, and for a peer the replication towards it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStatus<'a> {
    pub node: NodeInfo<'a>,
    pub status: &'a str,
    pub flags: NodeFlags,
    /// Written as an extra `replication` property when present (peers in `cluster.json`).
    pub replication: Option<ReplicationFigures>,
}

/// `ServiceNodeStatus`, properties in alphabetical order (`replication` included).
pub fn write_node_status(out: &mut Vec<u8>, s: &NodeStatus) {
    let flags = &s.flags;
    out.extend_from_slice(b"{\"allowDiscoveryFromOtherZone\":");
    write_opt_bool(out, flags.allow_discovery_other_zone);
    out.extend_from_slice(b",\"allowRegistryFromOtherZone\":");
    write_opt_bool(out, flags.allow_registry_other_zone);
    out.extend_from_slice(b",\"canServiceDiscovery\":");
    write_opt_bool(out, flags.can_discovery);
    out.extend_from_slice(b",\"canServiceRegistry\":");
    write_opt_bool(out, flags.can_registry);
    out.extend_from_slice(b",\"node\":");
    write_service_node(out, &s.node);
    if let Some(replication) = &s.replication {
        out.extend_from_slice(b",\"replication\":");
        write_replication(out, replication);
    }
    out.extend_from_slice(b",\"status\":");
    write_str(out, s.status);
    out.push(b'}');
}

/// `{"droppedHeartbeatsTotal":..,...,"sentTotal":..}`, alphabetical.
fn write_replication(out: &mut Vec<u8>, r: &ReplicationFigures) {
    let count = |out: &mut Vec<u8>, n: u64| write_i64(out, i64::try_from(n).unwrap_or(i64::MAX));
    out.extend_from_slice(b"{\"droppedHeartbeatsTotal\":");
    count(out, r.dropped_heartbeats_total);
    out.extend_from_slice(b",\"droppedUnregistersTotal\":");
    count(out, r.dropped_unregisters_total);
    out.extend_from_slice(b",\"failedRequestsTotal\":");
    count(out, r.failed_requests_total);
    out.extend_from_slice(b",\"lagMs\":");
    count(out, r.lag_ms);
    out.extend_from_slice(b",\"lastAckTime\":");
    write_i64(out, r.last_ack_time);
    out.extend_from_slice(b",\"queued\":");
    count(out, r.queued);
    out.extend_from_slice(b",\"rejectedTotal\":");
    count(out, r.rejected_total);
    out.extend_from_slice(b",\"resyncing\":");
    write_bool(out, r.resyncing);
    out.extend_from_slice(b",\"resyncsTotal\":");
    count(out, r.resyncs_total);
    out.extend_from_slice(b",\"sentTotal\":");
    count(out, r.sent_total);
    out.push(b'}');
}

fn write_opt_bool(out: &mut Vec<u8>, v: Option<bool>) {
    match v {
        Some(v) => write_bool(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// Java's `ServiceNodeStatus.toString()`, which the "not in up state" messages embed:
/// `{ node: <region/zone/url, lower-cased>, status: .., canServiceRegistry: .., canServiceDiscovery: .. }`.
/// A flag Java never set prints as `null`.
pub fn node_status_text(
    node: &NodeInfo,
    status: &str,
    can_registry: Option<bool>,
    can_discovery: Option<bool>,
) -> String {
    fn flag(value: Option<bool>) -> &'static str {
        match value {
            Some(true) => "true",
            Some(false) => "false",
            None => "null",
        }
    }
    // `ServiceNode.toString()`.
    let node = format!("{}/{}/{}", node.region_id, node.zone_id, node.url).to_lowercase();
    format!(
        "{{ node: {node}, status: {status}, canServiceRegistry: {}, canServiceDiscovery: {} }}",
        flag(can_registry),
        flag(can_discovery)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::text;

    fn known(
        can_discovery: bool,
        can_registry: bool,
        other_reg: bool,
        other_disc: bool,
    ) -> NodeFlags {
        NodeFlags {
            can_discovery: Some(can_discovery),
            can_registry: Some(can_registry),
            allow_registry_other_zone: Some(other_reg),
            allow_discovery_other_zone: Some(other_disc),
        }
    }

    #[test]
    fn service_node_matches_the_spec() {
        let node = NodeInfo {
            url: "http://10.0.0.5:8080/artemis-service/",
            region_id: "SHA",
            zone_id: "sha-z1",
        };
        assert_eq!(
            text(|o| write_service_node(o, &node)),
            r#"{"url":"http://10.0.0.5:8080/artemis-service/","zone":{"metadata":null,"regionId":"SHA","zoneId":"sha-z1"}}"#
        );
    }

    #[test]
    fn node_status_matches_the_spec() {
        let status = NodeStatus {
            node: NodeInfo {
                url: "http://127.0.0.1:8080/artemis-service/",
                region_id: "SHA",
                zone_id: "sha-z1",
            },
            status: "up",
            flags: known(true, true, true, true),
            replication: None,
        };
        assert_eq!(
            text(|o| write_node_status(o, &status)),
            r#"{"allowDiscoveryFromOtherZone":true,"allowRegistryFromOtherZone":true,"canServiceDiscovery":true,"canServiceRegistry":true,"node":{"url":"http://127.0.0.1:8080/artemis-service/","zone":{"metadata":null,"regionId":"SHA","zoneId":"sha-z1"}},"status":"up"}"#
        );
    }

    #[test]
    fn node_status_flags_land_in_the_right_properties() {
        let status = NodeStatus {
            node: NodeInfo {
                url: "u",
                region_id: "r",
                zone_id: "z",
            },
            status: "starting",
            // can_discovery, can_registry, allow_registry_other_zone, allow_discovery_other_zone
            flags: known(true, false, false, true),
            replication: None,
        };
        assert_eq!(
            text(|o| write_node_status(o, &status)),
            r#"{"allowDiscoveryFromOtherZone":true,"allowRegistryFromOtherZone":false,"canServiceDiscovery":true,"canServiceRegistry":false,"node":{"url":"u","zone":{"metadata":null,"regionId":"r","zoneId":"z"}},"status":"starting"}"#
        );
    }

    #[test]
    fn an_unknown_peer_has_null_flags_and_its_replication_sits_between_node_and_status() {
        let status = NodeStatus {
            node: NodeInfo {
                url: "u",
                region_id: "r",
                zone_id: "z",
            },
            status: "unknown",
            flags: NodeFlags::UNKNOWN,
            replication: Some(ReplicationFigures {
                queued: 1,
                lag_ms: 2,
                last_ack_time: 3,
                sent_total: 4,
                failed_requests_total: 5,
                dropped_heartbeats_total: 6,
                dropped_unregisters_total: 9,
                rejected_total: 8,
                resyncs_total: 7,
                resyncing: true,
            }),
        };
        assert_eq!(
            text(|o| write_node_status(o, &status)),
            concat!(
                r#"{"allowDiscoveryFromOtherZone":null,"allowRegistryFromOtherZone":null,"#,
                r#""canServiceDiscovery":null,"canServiceRegistry":null,"#,
                r#""node":{"url":"u","zone":{"metadata":null,"regionId":"r","zoneId":"z"}},"#,
                r#""replication":{"droppedHeartbeatsTotal":6,"droppedUnregistersTotal":9,"#,
                r#""failedRequestsTotal":5,"lagMs":2,"#,
                r#""lastAckTime":3,"queued":1,"rejectedTotal":8,"resyncing":true,"resyncsTotal":7,"#,
                r#""sentTotal":4},"#,
                r#""status":"unknown"}"#
            )
        );
    }

    #[test]
    fn node_status_text_is_javas_to_string() {
        let node = NodeInfo {
            url: "http://Host:8080/Artemis/",
            region_id: "SHA",
            zone_id: "SHAJQ",
        };
        assert_eq!(
            node_status_text(&node, "starting", None, None),
            "{ node: sha/shajq/http://host:8080/artemis/, status: starting, canServiceRegistry: null, canServiceDiscovery: null }"
        );
        assert_eq!(
            node_status_text(&node, "down", Some(true), Some(false)),
            "{ node: sha/shajq/http://host:8080/artemis/, status: down, canServiceRegistry: true, canServiceDiscovery: false }"
        );
    }
}
