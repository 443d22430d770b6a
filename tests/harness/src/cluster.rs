//! A local cluster's nodes: each node's `--cluster-nodes` names every node, so their addresses are
//! picked before any starts ([`free_local_addr`]); and what a node says of itself and of the
//! cluster (`status/node.json`, `status/cluster.json`, `up-*-nodes.json`).

use std::net::{SocketAddr, TcpListener};

use crate::assertions::{assert_success_status, dump};
use crate::payload::{REGION, ZONE};
use crate::process::Server;
use crate::{JsonContainerTrait, JsonValueTrait, Value};

/// A local address no one listens on right now: bound on port 0, then released for a node to
/// bind (another process could take it in between; tests accept that small chance).
pub fn free_local_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address")
}

/// The URL a node on `addr` advertises (and its peers list it under).
pub fn node_url(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

/// `--cluster-nodes` for nodes of zone [`ZONE`]: `SHAJQ:http://a/,http://b/`.
pub fn cluster_nodes_arg(addrs: &[SocketAddr]) -> String {
    let urls: Vec<String> = addrs.iter().map(|&a| node_url(a)).collect();
    format!("{ZONE}:{}", urls.join(","))
}

/// The `nodeStatus` object of the node's `status/node.json`.
pub fn node_status(server: &Server) -> Value {
    let (st, v) = server.post_json("/api/status/node.json", "{}");
    assert_eq!(st, 200, "node.json: {}", dump(&v));
    assert_success_status(&v, "node.json");
    v["nodeStatus"].clone()
}

/// The node's own status string (`starting`, `up`, ...).
pub fn own_status(server: &Server) -> String {
    node_status(server)["status"]
        .as_str()
        .unwrap_or_else(|| panic!("node.json without a status"))
        .to_string()
}

/// The `nodesStatus` list of the node's `status/cluster.json` (start the node with
/// `[rate_limits.status] enabled = false` to ask it often).
pub fn cluster_statuses(server: &Server) -> Vec<Value> {
    let (st, v) = server.post_json("/api/status/cluster.json", "{}");
    assert_eq!(st, 200, "cluster.json: {}", dump(&v));
    assert_success_status(&v, "cluster.json");
    let nodes = v["nodesStatus"]
        .as_array()
        .unwrap_or_else(|| panic!("cluster.json without nodesStatus: {}", dump(&v)));
    let count = v["nodeCount"].as_u64();
    assert_eq!(count, Some(nodes.len() as u64), "nodeCount: {}", dump(&v));
    nodes.iter().cloned().collect()
}

/// The status `server`'s `cluster.json` gives the node at `url`.
pub fn status_of(server: &Server, url: &str) -> String {
    cluster_statuses(server)
        .iter()
        .find(|n| n["node"]["url"].as_str() == Some(url))
        .and_then(|n| n["status"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("cluster.json does not list {url}"))
}

/// The URLs `up-registry-nodes.json` (`kind` "registry") or `up-discovery-nodes.json`
/// ("discovery") lists for a caller of region [`REGION`], zone [`ZONE`]; None when it answers
/// data-not-found (no node may serve).
pub fn up_node_urls(server: &Server, kind: &str) -> Option<Vec<String>> {
    let body = format!(r#"{{"regionId":"{REGION}","zoneId":"{ZONE}"}}"#);
    let path = format!("/api/cluster/up-{kind}-nodes.json");
    let (st, v) = server.post_json(&path, &body);
    assert_eq!(st, 200, "{path}: {}", dump(&v));
    if v["responseStatus"]["errorCode"].as_str() == Some("data-not-found") {
        assert!(v["nodes"].is_null(), "{path}: {}", dump(&v));
        return None;
    }
    assert_success_status(&v, &path);
    let nodes = v["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no nodes: {}", dump(&v)));
    Some(
        nodes
            .iter()
            .map(|n| n["url"].as_str().unwrap_or_default().to_string())
            .collect(),
    )
}
