//! The cluster's lines of a scrape: this node's status, and per peer (label `peer`, its URL) its
//! polled status and the replication towards it, read from [`ClusterState`]'s atomics. A single
//! node (no peers) has no cluster to report and writes none of these families.

use std::sync::atomic::{AtomicU64, Ordering};

use protocol::prometheus::{Exposition, Kind};

use crate::cluster::state::PeerReplication;
use crate::cluster::ClusterState;

/// A per-peer replication family: name, kind, help, and the figure it reports.
type PeerFamily = (
    &'static str,
    Kind,
    &'static str,
    fn(&PeerReplication) -> &AtomicU64,
);

const REPLICATION: [PeerFamily; 8] = [
    (
        "artemis_replication_queued",
        Kind::Gauge,
        "Writes queued for the peer and not yet acknowledged by it, over every core.",
        |r| &r.queued,
    ),
    (
        "artemis_replication_lag_ms",
        Kind::Gauge,
        "Replication lag towards the peer in milliseconds: the larger of the last acknowledged \
         batch's queue-to-answer time and the age of the oldest write still pending.",
        |r| &r.lag_ms,
    ),
    (
        "artemis_replication_sent_total",
        Kind::Counter,
        "Instances the peer acknowledged.",
        |r| &r.sent_total,
    ),
    (
        "artemis_replication_failed_requests_total",
        Kind::Counter,
        "Replication requests to the peer that failed (unreachable, timeout, error answer).",
        |r| &r.failed_requests_total,
    ),
    (
        "artemis_replication_dropped_heartbeats_total",
        Kind::Counter,
        "Heartbeats for the peer dropped because its queue was full (a later one supersedes \
         them).",
        |r| &r.dropped_heartbeats_total,
    ),
    (
        "artemis_replication_dropped_unregisters_total",
        Kind::Counter,
        "Unregisters kept for a resync of the peer that did not fit its bound: the peer expires \
         those instances by their lease.",
        |r| &r.dropped_unregisters_total,
    ),
    (
        "artemis_replication_rejected_total",
        Kind::Counter,
        "Instances the peer refused for good (bad-request, no-permission, internal-service-error, \
         service-unavailable): dropped, not sent again.",
        |r| &r.rejected_total,
    ),
    (
        "artemis_replication_resyncs_total",
        Kind::Counter,
        "Full resyncs of the peer started (queue overflow, or unreachable longer than the lease \
         TTL).",
        |r| &r.resyncs_total,
    ),
];

pub fn write_cluster(e: &mut Exposition<'_>, cluster: &ClusterState) {
    if !cluster.has_peers() {
        return;
    }
    e.family(
        "artemis_node_up",
        Kind::Gauge,
        "1 while this node is up (it serves registry and discovery), else 0 (starting: copying \
         the registry from a peer).",
    );
    e.sample(&[], u8::from(cluster.is_up()));
    let peers = || cluster.topology.peers.iter().zip(&cluster.peers);
    e.family(
        "artemis_cluster_peer_up",
        Kind::Gauge,
        "1 while the peer's last polled status (api/status/node.json) is up, else 0.",
    );
    for (peer, state) in peers() {
        e.sample(&[("peer", &peer.entry.url)], u8::from(state.health.is_up()));
    }
    for (name, kind, help, figure) in REPLICATION {
        e.family(name, kind, help);
        for (peer, state) in peers() {
            let value = figure(&state.replication).load(Ordering::Relaxed);
            e.sample(&[("peer", &peer.entry.url)], value);
        }
    }
}
