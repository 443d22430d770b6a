//! What operators' tooling asks: `GET /ready` (orchestrators' readiness probe) and `GET /metrics`
//! (Prometheus). `GET /health` (alive) is answered by the router itself.

use protocol::model::write_str;

use crate::server::core::{Core, Readiness};
use crate::server::metrics::write_exposition;

/// Every core's counters and shard figures, in the Prometheus text format.
pub async fn metrics(core: &Core, out: &mut Vec<u8>) -> u16 {
    let sample = core.scrape().await;
    let endpoints = super::endpoint_labels(core.node.clock.is_manual());
    write_exposition(out, &core.node, &sample, &endpoints);
    200
}

/// 200 once every core restored its shard and serves and the node is `up` (a node of a cluster
/// first copies the registry from a peer); 503, with the reason, while the node starts or shuts
/// down.
pub fn ready(core: &Core, out: &mut Vec<u8>) -> u16 {
    let (status, reason) = match core.node.readiness() {
        Readiness::Serving if !core.node.cluster.is_up() => (
            "starting",
            format!(
                "the node is {}: it copies the registry from an up peer of its cluster before \
                 it serves",
                core.node.cluster.status.get().name()
            ),
        ),
        Readiness::Serving => {
            out.extend_from_slice(br#"{"status":"ready"}"#);
            return 200;
        }
        Readiness::Starting { serving, cores } => (
            "starting",
            format!("{serving} of {cores} cores have restored their shard and serve"),
        ),
        Readiness::ShuttingDown => (
            "shutting down",
            "draining connections before the process exits".to_string(),
        ),
    };
    out.extend_from_slice(br#"{"reason":"#);
    write_str(out, &reason);
    out.extend_from_slice(br#","status":"#);
    write_str(out, status);
    out.push(b'}');
    503
}
