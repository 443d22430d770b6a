//! `artemis nodes`: the cluster's nodes and their status (`/api/status/cluster.json`, spec §8.2),
//! or the one node's status (`node.json`) from a node that does not serve `cluster.json`. For
//! the peers of the node asked, the replication queue and lag towards them (an artemis
//! extension of `cluster.json`; the columns appear when a node reports them).
//! Also the node's own status, which other commands read for its region.

use std::process::ExitCode;

use argh::FromArgs;
use serde::Deserialize;

use super::body::{accept, call_as, read, JsonObject};
use super::client::Node;
use super::table::{cell, Table};
use super::{emit, emit_json, finish, Failure, Outcome, DEFAULT_SERVER};

const CLUSTER_STATUS: &str = "/api/status/cluster.json";
const NODE_STATUS: &str = "/api/status/node.json";

/// List the cluster's nodes with their status (registry and discovery readiness).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "nodes")]
pub struct NodesArgs {
    /// node to ask (default http://127.0.0.1:8080; a path prefix such as /artemis-service may
    /// follow)
    #[argh(option, default = "DEFAULT_SERVER.into()")]
    pub server: String,
    /// print the node's JSON answer instead of a table
    #[argh(switch)]
    pub json: bool,
}

/// `ServiceNodeStatus`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    pub node: Option<ServiceNode>,
    pub status: Option<String>,
    pub can_service_registry: Option<bool>,
    pub can_service_discovery: Option<bool>,
    /// The replication towards a peer, as the node asked reports it.
    pub replication: Option<Replication>,
}

/// The figures of `cluster.json`'s `replication` object that the table shows.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Replication {
    pub queued: Option<u64>,
    pub lag_ms: Option<u64>,
}

/// `ServiceNode`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNode {
    pub url: Option<String>,
    pub zone: Option<Zone>,
}

/// `Zone`.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Zone {
    pub region_id: Option<String>,
    pub zone_id: Option<String>,
}

/// `GetClusterNodeStatusResponse`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeStatusAnswer {
    node_status: Option<NodeStatus>,
}

/// `GetClusterStatusResponse`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterStatusAnswer {
    nodes_status: Option<Vec<NodeStatus>>,
}

pub fn main(args: NodesArgs) -> ExitCode {
    finish(run(&args))
}

fn run(args: &NodesArgs) -> Outcome {
    let node = Node::parse(&args.server, None)?;
    let (statuses, raw) = cluster_status(&node)?;
    if args.json {
        return emit_json(&raw);
    }
    emit(table(&statuses).render().as_bytes())
}

/// One row per node; QUEUED and LAG_MS (`-` for the node asked) when any node reports
/// replication, that is when the node asked has peers.
fn table(statuses: &[NodeStatus]) -> Table {
    const BASE: [&str; 6] = ["URL", "REGION", "ZONE", "STATUS", "REGISTRY", "DISCOVERY"];
    let replicating = statuses.iter().any(|s| s.replication.is_some());
    let mut table = if replicating {
        let mut header = BASE.to_vec();
        header.extend(["QUEUED", "LAG_MS"]);
        Table::new(&header)
    } else {
        Table::new(&BASE)
    };
    for s in statuses {
        let zone = s.node.as_ref().and_then(|n| n.zone.as_ref());
        let mut row = vec![
            cell(s.node.as_ref().and_then(|n| n.url.as_deref())),
            cell(zone.and_then(|z| z.region_id.as_deref())),
            cell(zone.and_then(|z| z.zone_id.as_deref())),
            cell(s.status.as_deref()),
            yes_no(s.can_service_registry),
            yes_no(s.can_service_discovery),
        ];
        if replicating {
            let figure = |f: fn(&Replication) -> Option<u64>| {
                cell(
                    s.replication
                        .as_ref()
                        .and_then(f)
                        .map(|n| n.to_string())
                        .as_deref(),
                )
            };
            row.push(figure(|r| r.queued));
            row.push(figure(|r| r.lag_ms));
        }
        table.row(row);
    }
    table
}

/// Every node's status and the raw answer: `cluster.json`, or `node.json` when the node has no
/// `cluster.json` (HTTP 404).
fn cluster_status(node: &Node) -> Result<(Vec<NodeStatus>, Vec<u8>), Failure> {
    let request = JsonObject::new().finish();
    let reply = node.post(CLUSTER_STATUS, &request)?;
    if reply.status == 404 {
        let (status, raw) = this_node_with_answer(node)?;
        return Ok((vec![status], raw));
    }
    let raw = accept(node, CLUSTER_STATUS, reply)?;
    let answer: ClusterStatusAnswer = read(node, CLUSTER_STATUS, &raw)?;
    Ok((answer.nodes_status.unwrap_or_default(), raw))
}

/// The status of the node `node` points at.
pub fn this_node(node: &Node) -> Result<NodeStatus, Failure> {
    this_node_with_answer(node).map(|(status, _)| status)
}

fn this_node_with_answer(node: &Node) -> Result<(NodeStatus, Vec<u8>), Failure> {
    let (answer, raw) =
        call_as::<NodeStatusAnswer>(node, NODE_STATUS, &JsonObject::new().finish())?;
    let status = answer.node_status.ok_or_else(|| {
        Failure::failed(format!(
            "{}{NODE_STATUS}: no nodeStatus in the answer",
            node.url()
        ))
    })?;
    Ok((status, raw))
}

/// The region the node serves (`nodeStatus.node.zone.regionId`).
pub fn region_of(node: &Node) -> Result<String, Failure> {
    let status = this_node(node)?;
    status
        .node
        .and_then(|n| n.zone)
        .and_then(|z| z.region_id)
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| {
            Failure::failed(format!(
                "{}{NODE_STATUS} names no region; pass --region",
                node.url()
            ))
        })
}

fn yes_no(value: Option<bool>) -> String {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(json: &str) -> Vec<NodeStatus> {
        protocol::model::parse::<ClusterStatusAnswer>(json.as_bytes())
            .unwrap()
            .nodes_status
            .unwrap()
    }

    const SELF: &str = r#"{"node":{"url":"http://a/","zone":{"regionId":"SHA","zoneId":"z1"}},"status":"up","canServiceRegistry":true,"canServiceDiscovery":true}"#;

    #[test]
    fn peers_show_their_queue_and_lag() {
        let peer = r#"{"node":{"url":"http://b/","zone":{"regionId":"SHA","zoneId":"z2"}},"status":"unknown","canServiceRegistry":null,"canServiceDiscovery":null,"replication":{"queued":12,"lagMs":3,"sentTotal":5}}"#;
        let text = table(&statuses(&format!(r#"{{"nodesStatus":[{SELF},{peer}]}}"#))).render();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows,
            [
                vec![
                    "URL",
                    "REGION",
                    "ZONE",
                    "STATUS",
                    "REGISTRY",
                    "DISCOVERY",
                    "QUEUED",
                    "LAG_MS"
                ],
                vec!["http://a/", "SHA", "z1", "up", "yes", "yes", "-", "-"],
                vec!["http://b/", "SHA", "z2", "unknown", "-", "-", "12", "3"],
            ]
        );
    }

    #[test]
    fn a_single_node_has_no_replication_columns() {
        let text = table(&statuses(&format!(r#"{{"nodesStatus":[{SELF}]}}"#))).render();
        assert_eq!(
            text.lines()
                .next()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["URL", "REGION", "ZONE", "STATUS", "REGISTRY", "DISCOVERY"]
        );
    }
}
