//! Cluster types written by the cluster and status endpoints (§3.8, §8).

use super::json_writer::{write_bool, write_str};

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

/// `ServiceNodeStatus`, properties in alphabetical order.
pub fn write_node_status(
    out: &mut Vec<u8>,
    node: &NodeInfo,
    status: &str,
    can_discovery: bool,
    can_registry: bool,
    allow_registry_other_zone: bool,
    allow_discovery_other_zone: bool,
) {
    out.extend_from_slice(b"{\"allowDiscoveryFromOtherZone\":");
    write_bool(out, allow_discovery_other_zone);
    out.extend_from_slice(b",\"allowRegistryFromOtherZone\":");
    write_bool(out, allow_registry_other_zone);
    out.extend_from_slice(b",\"canServiceDiscovery\":");
    write_bool(out, can_discovery);
    out.extend_from_slice(b",\"canServiceRegistry\":");
    write_bool(out, can_registry);
    out.extend_from_slice(b",\"node\":");
    write_service_node(out, node);
    out.extend_from_slice(b",\"status\":");
    write_str(out, status);
    out.push(b'}');
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

    #[test]
    fn service_node_matches_the_spec() {
        let mut out = Vec::new();
        let node = NodeInfo {
            url: "http://10.0.0.5:8080/artemis-service/",
            region_id: "SHA",
            zone_id: "sha-z1",
        };
        write_service_node(&mut out, &node);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"url":"http://10.0.0.5:8080/artemis-service/","zone":{"metadata":null,"regionId":"SHA","zoneId":"sha-z1"}}"#
        );
    }

    #[test]
    fn node_status_matches_the_spec() {
        let mut out = Vec::new();
        let node = NodeInfo {
            url: "http://127.0.0.1:8080/artemis-service/",
            region_id: "SHA",
            zone_id: "sha-z1",
        };
        write_node_status(&mut out, &node, "up", true, true, true, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"allowDiscoveryFromOtherZone":true,"allowRegistryFromOtherZone":true,"canServiceDiscovery":true,"canServiceRegistry":true,"node":{"url":"http://127.0.0.1:8080/artemis-service/","zone":{"metadata":null,"regionId":"SHA","zoneId":"sha-z1"}},"status":"up"}"#
        );
    }

    #[test]
    fn node_status_flags_land_in_the_right_properties() {
        let mut out = Vec::new();
        let node = NodeInfo {
            url: "u",
            region_id: "r",
            zone_id: "z",
        };
        // can_discovery, can_registry, allow_registry_other_zone, allow_discovery_other_zone
        write_node_status(&mut out, &node, "starting", true, false, false, true);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"allowDiscoveryFromOtherZone":true,"allowRegistryFromOtherZone":false,"canServiceDiscovery":true,"canServiceRegistry":false,"node":{"url":"u","zone":{"metadata":null,"regionId":"r","zoneId":"z"}},"status":"starting"}"#
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
