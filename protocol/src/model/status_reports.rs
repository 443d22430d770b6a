//! Answers of the status endpoints that describe the node rather than its data (spec §4, §8.2):
//! `status/cluster.json`, `status/config.json`, `status/deployment.json` and
//! `status/message/connections.json`. Bean properties are alphabetical as Jackson wrote them;
//! map entries keep the order the caller gives (Java filled `LinkedHashMap`s).

use super::cluster::{write_node_status, NodeStatus};
use super::json_writer::{write_bool, write_i64, write_opt_str, write_str};
use super::status::{write_response_status, ResponseStatus};

/// A configuration as `GetConfigStatusResponse` reports it: every property as a string, and the
/// sources it was built from with their priority (a higher priority wins).
#[derive(Clone, Copy, Debug)]
pub struct ConfigReport<'a> {
    /// `key → value`, in the order written.
    pub properties: &'a [(&'a str, String)],
    /// `source id → priority`, in the order written.
    pub sources: &'a [(String, i64)],
}

/// Where and how this node is deployed (`GetDeploymentStatusResponse`).
#[derive(Clone, Copy, Debug)]
pub struct DeploymentStatus<'a> {
    pub region_id: &'a str,
    pub zone_id: &'a str,
    pub app_id: &'a str,
    /// `null` when the host name cannot be read.
    pub machine_name: Option<&'a str>,
    pub ip: &'a str,
    pub port: u16,
    pub protocol: &'a str,
    pub path: &'a str,
    pub config: ConfigReport<'a>,
}

/// `status/cluster.json`: `{"nodeCount":n,"nodesStatus":[ServiceNodeStatus..],"responseStatus"}`.
/// `shared_store_up`: with a shared management store (beyond Java), whether its database answers
/// now, written as `managementStoreUp` (before `nodeCount`: keys stay in alphabetical order).
pub fn write_cluster_status_response(
    out: &mut Vec<u8>,
    nodes: &[NodeStatus],
    shared_store_up: Option<bool>,
) {
    out.push(b'{');
    if let Some(up) = shared_store_up {
        out.extend_from_slice(b"\"managementStoreUp\":");
        write_bool(out, up);
        out.push(b',');
    }
    out.extend_from_slice(b"\"nodeCount\":");
    write_i64(out, nodes.len() as i64);
    out.extend_from_slice(b",\"nodesStatus\":[");
    for (n, node) in nodes.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_node_status(out, node);
    }
    out.extend_from_slice(b"],\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
}

/// `status/config.json`: `{"properties":{..},"responseStatus":{..},"sources":{..}}`.
pub fn write_config_status_response(out: &mut Vec<u8>, config: &ConfigReport) {
    out.extend_from_slice(b"{\"properties\":");
    write_properties(out, config.properties);
    out.extend_from_slice(b",\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"sources\":");
    write_sources(out, config.sources);
    out.push(b'}');
}

/// `status/deployment.json`, properties in alphabetical order.
pub fn write_deployment_status_response(out: &mut Vec<u8>, d: &DeploymentStatus) {
    out.extend_from_slice(b"{\"appId\":");
    write_str(out, d.app_id);
    out.extend_from_slice(b",\"ip\":");
    write_str(out, d.ip);
    out.extend_from_slice(b",\"machineName\":");
    write_opt_str(out, d.machine_name);
    out.extend_from_slice(b",\"path\":");
    write_str(out, d.path);
    out.extend_from_slice(b",\"port\":");
    write_i64(out, i64::from(d.port));
    out.extend_from_slice(b",\"properties\":");
    write_properties(out, d.config.properties);
    out.extend_from_slice(b",\"protocol\":");
    write_str(out, d.protocol);
    out.extend_from_slice(b",\"regionId\":");
    write_str(out, d.region_id);
    out.extend_from_slice(b",\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"sources\":");
    write_sources(out, d.config.sources);
    out.extend_from_slice(b",\"zoneId\":");
    write_str(out, d.zone_id);
    out.push(b'}');
}

/// `status/message/connections.json`: open WebSocket sessions per channel. Java answered a bare
/// `Map<String,String>` built as `registry` then `discovery`, the counts as decimal strings.
pub fn write_connections_response(out: &mut Vec<u8>, registry: usize, discovery: usize) {
    out.extend_from_slice(b"{\"registry\":\"");
    write_i64(out, registry as i64);
    out.extend_from_slice(b"\",\"discovery\":\"");
    write_i64(out, discovery as i64);
    out.extend_from_slice(b"\"}");
}

fn write_properties(out: &mut Vec<u8>, properties: &[(&str, String)]) {
    out.push(b'{');
    for (n, (key, value)) in properties.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_str(out, value);
    }
    out.push(b'}');
}

fn write_sources(out: &mut Vec<u8>, sources: &[(String, i64)]) {
    out.push(b'{');
    for (n, (id, priority)) in sources.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, id);
        out.push(b':');
        write_i64(out, *priority);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::text;
    use crate::model::{NodeFlags, NodeInfo};

    const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

    fn node(url: &str) -> NodeStatus<'_> {
        NodeStatus {
            node: NodeInfo {
                url,
                region_id: "SHA",
                zone_id: "z1",
            },
            status: "up",
            flags: NodeFlags {
                can_discovery: Some(true),
                can_registry: Some(false),
                allow_registry_other_zone: Some(true),
                allow_discovery_other_zone: Some(false),
            },
            replication: None,
        }
    }

    #[test]
    fn cluster_status_counts_and_lists_every_node() {
        let one = r#"{"allowDiscoveryFromOtherZone":false,"allowRegistryFromOtherZone":true,"canServiceDiscovery":true,"canServiceRegistry":false,"node":{"url":"http://a/","zone":{"metadata":null,"regionId":"SHA","zoneId":"z1"}},"status":"up"}"#;
        assert_eq!(
            text(|o| write_cluster_status_response(o, &[node("http://a/")], None)),
            format!(r#"{{"nodeCount":1,"nodesStatus":[{one}],"responseStatus":{OK}}}"#)
        );
        let two = text(|o| write_cluster_status_response(o, &[node("u1"), node("u2")], None));
        assert!(
            two.starts_with(r#"{"nodeCount":2,"nodesStatus":[{"#),
            "{two}"
        );
        assert!(two.contains(r#""url":"u1""#) && two.contains(r#""url":"u2""#));
        assert_eq!(
            text(|o| write_cluster_status_response(o, &[], None)),
            format!(r#"{{"nodeCount":0,"nodesStatus":[],"responseStatus":{OK}}}"#)
        );
    }

    #[test]
    fn config_status_keeps_the_given_order_and_escapes() {
        let properties = [("b.x", "1".to_string()), ("a\"q", "v\n".to_string())];
        let sources = [("defaults".to_string(), 0), ("/etc/a.toml".to_string(), 1)];
        let report = ConfigReport {
            properties: &properties,
            sources: &sources,
        };
        assert_eq!(
            text(|o| write_config_status_response(o, &report)),
            format!(
                r#"{{"properties":{{"b.x":"1","a\"q":"v\n"}},"responseStatus":{OK},"sources":{{"defaults":0,"/etc/a.toml":1}}}}"#
            )
        );
        let empty = ConfigReport {
            properties: &[],
            sources: &[],
        };
        assert_eq!(
            text(|o| write_config_status_response(o, &empty)),
            format!(r#"{{"properties":{{}},"responseStatus":{OK},"sources":{{}}}}"#)
        );
    }

    #[test]
    fn deployment_status_matches_javas_shape() {
        let properties = [("listen", "0.0.0.0:8080".to_string())];
        let sources = [("defaults".to_string(), 0)];
        let mut d = DeploymentStatus {
            region_id: "SHA",
            zone_id: "z1",
            app_id: "artemis",
            machine_name: Some("host1"),
            ip: "10.0.0.5",
            port: 8080,
            protocol: "http",
            path: "/artemis-service",
            config: ConfigReport {
                properties: &properties,
                sources: &sources,
            },
        };
        assert_eq!(
            text(|o| write_deployment_status_response(o, &d)),
            format!(
                r#"{{"appId":"artemis","ip":"10.0.0.5","machineName":"host1","path":"/artemis-service","port":8080,"properties":{{"listen":"0.0.0.0:8080"}},"protocol":"http","regionId":"SHA","responseStatus":{OK},"sources":{{"defaults":0}},"zoneId":"z1"}}"#
            )
        );
        d.machine_name = None;
        assert!(
            text(|o| write_deployment_status_response(o, &d)).contains(r#""machineName":null,"#)
        );
    }

    #[test]
    fn connections_are_strings_registry_first() {
        assert_eq!(
            text(|o| write_connections_response(o, 3, 12)),
            r#"{"registry":"3","discovery":"12"}"#
        );
        assert_eq!(
            text(|o| write_connections_response(o, 0, 0)),
            r#"{"registry":"0","discovery":"0"}"#
        );
    }
}
