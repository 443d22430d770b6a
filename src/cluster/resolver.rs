//! Peer host names are resolved off the event loops: once at start, then by a background thread
//! that retries unresolved names every few seconds and refreshes resolved ones now and then (a
//! peer's address may change when it is redeployed).

use std::sync::Arc;
use std::time::Duration;

use super::ClusterState;

const RETRY_UNRESOLVED: Duration = Duration::from_secs(5);
const REFRESH_RESOLVED: Duration = Duration::from_secs(60);

/// Resolve every peer now (blocking: before the node serves), then keep them resolved from a
/// background thread. Logs each peer that does not resolve yet.
pub fn start(cluster: &Arc<ClusterState>) {
    if !cluster.has_peers() {
        return;
    }
    resolve_all(cluster, true);
    let cluster = cluster.clone();
    let spawned = std::thread::Builder::new()
        .name("artemis-resolver".into())
        .spawn(move || loop {
            let all = resolve_all(&cluster, false);
            std::thread::sleep(if all {
                REFRESH_RESOLVED
            } else {
                RETRY_UNRESOLVED
            });
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the peer resolver thread; peer addresses stay as resolved at start");
    }
}

/// Whether every peer has an address.
fn resolve_all(cluster: &ClusterState, log: bool) -> bool {
    let mut all = true;
    for peer in &cluster.topology.peers {
        if !peer.address.resolve() {
            all = false;
            if log {
                tracing::warn!(peer = %peer.entry.url, "peer host does not resolve yet; retrying every 5 s");
            }
        }
    }
    all
}
