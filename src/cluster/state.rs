//! What this node knows about the cluster right now: its own status (spec §11.8) and, per peer,
//! the last polled status and the replication figures towards it. Atomics only: written by the
//! health poller and the replicators, read by the status endpoints, never per request on a
//! hot path except [`ClusterState::can_serve_registry`] (one relaxed load).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use super::health::PolledStatus;
use super::topology::Topology;

/// A node's status as Java names it (`ServiceNodeStatus.Status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum NodeStatus {
    Starting = 0,
    Up = 1,
    Down = 2,
    Unknown = 3,
}

impl NodeStatus {
    pub fn name(self) -> &'static str {
        match self {
            NodeStatus::Starting => "starting",
            NodeStatus::Up => "up",
            NodeStatus::Down => "down",
            NodeStatus::Unknown => "unknown",
        }
    }

    /// Java's spelling, case-insensitively; anything else is `unknown`.
    pub fn from_name(name: &str) -> NodeStatus {
        [NodeStatus::Starting, NodeStatus::Up, NodeStatus::Down]
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
            .unwrap_or(NodeStatus::Unknown)
    }

    fn from_u8(v: u8) -> NodeStatus {
        match v {
            0 => NodeStatus::Starting,
            1 => NodeStatus::Up,
            2 => NodeStatus::Down,
            _ => NodeStatus::Unknown,
        }
    }
}

/// A status cell shared between threads.
#[derive(Debug)]
pub struct StatusCell(AtomicU8);

impl StatusCell {
    pub fn new(status: NodeStatus) -> Self {
        StatusCell(AtomicU8::new(status as u8))
    }

    pub fn get(&self) -> NodeStatus {
        NodeStatus::from_u8(self.0.load(Ordering::Relaxed))
    }

    pub fn set(&self, status: NodeStatus) {
        self.0.store(status as u8, Ordering::Relaxed);
    }
}

/// What the last poll of a peer's `node.json` said (`ServiceNodeStatus`).
#[derive(Debug)]
pub struct PeerHealth {
    pub status: StatusCell,
    /// The URL the peer last said it advertises (`node.url` of its node.json); None until then.
    /// Read by the cluster endpoints only (rate-limited, not a hot path).
    advertised_url: Mutex<Option<Arc<str>>>,
    pub can_service_registry: AtomicBool,
    pub can_service_discovery: AtomicBool,
    pub allow_registry_from_other_zone: AtomicBool,
    pub allow_discovery_from_other_zone: AtomicBool,
    /// Wall-clock epoch ms of the last poll that got an answer (0: never).
    pub last_seen_ms: AtomicU64,
    /// Polls done, answered or not: 0 means nothing is known about the peer yet.
    pub polls: AtomicU64,
    /// Polls in a row that got no usable answer (0 once the peer answers).
    pub failed_polls: AtomicU64,
    /// When the last "unreachable" warning about the peer was logged, in the poller's monotonic
    /// ms (0: not since it last answered); see [`super::health`].
    pub unreachable_warned_ms: AtomicU64,
}

impl Default for PeerHealth {
    fn default() -> Self {
        PeerHealth {
            status: StatusCell::new(NodeStatus::Unknown),
            advertised_url: Mutex::new(None),
            can_service_registry: AtomicBool::new(false),
            can_service_discovery: AtomicBool::new(false),
            allow_registry_from_other_zone: AtomicBool::new(false),
            allow_discovery_from_other_zone: AtomicBool::new(false),
            last_seen_ms: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            failed_polls: AtomicU64::new(0),
            unreachable_warned_ms: AtomicU64::new(0),
        }
    }
}

impl PeerHealth {
    /// Java's `canServiceRegistry(status)`: `up` ⇒ yes, `down` ⇒ no, else the flag.
    pub fn can_serve_registry(&self) -> bool {
        match self.status.get() {
            NodeStatus::Up => true,
            NodeStatus::Down | NodeStatus::Unknown => false,
            NodeStatus::Starting => self.can_service_registry.load(Ordering::Relaxed),
        }
    }

    pub fn can_serve_discovery(&self) -> bool {
        match self.status.get() {
            NodeStatus::Up => true,
            NodeStatus::Down | NodeStatus::Unknown => false,
            NodeStatus::Starting => self.can_service_discovery.load(Ordering::Relaxed),
        }
    }

    pub fn is_up(&self) -> bool {
        self.status.get() == NodeStatus::Up
    }

    /// Whether any poll of the peer finished (answered or not).
    pub fn polled(&self) -> bool {
        self.polls.load(Ordering::Relaxed) > 0
    }

    /// Store a poll's outcome: what the peer answered, or None when it gave no usable answer
    /// (it is `unknown` then, its flags off, as Java's `newUnknownNodeStatus`). `wall_ms` is
    /// the epoch ms of the poll. Returns the status the peer had before.
    /// The URL the peer advertises to clients, once a poll said it.
    pub fn advertised_url(&self) -> Option<Arc<str>> {
        self.advertised_url
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn record(&self, polled: Option<&PolledStatus>, wall_ms: u64) -> NodeStatus {
        let previous = self.status.get();
        if let Some(url) = polled.and_then(|p| p.advertised_url.as_deref()) {
            let mut slot = self
                .advertised_url
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if slot.as_deref() != Some(url) {
                *slot = Some(Arc::from(url));
            }
        }
        let flags = polled.map_or([false; 4], |p| {
            [
                p.can_service_registry,
                p.can_service_discovery,
                p.allow_registry_from_other_zone,
                p.allow_discovery_from_other_zone,
            ]
        });
        let cells = [
            &self.can_service_registry,
            &self.can_service_discovery,
            &self.allow_registry_from_other_zone,
            &self.allow_discovery_from_other_zone,
        ];
        for (cell, value) in cells.into_iter().zip(flags) {
            cell.store(value, Ordering::Relaxed);
        }
        match polled {
            Some(p) => {
                self.last_seen_ms.store(wall_ms, Ordering::Relaxed);
                self.failed_polls.store(0, Ordering::Relaxed);
                self.status.set(p.status);
            }
            None => {
                self.failed_polls.fetch_add(1, Ordering::Relaxed);
                self.status.set(NodeStatus::Unknown);
            }
        }
        self.polls.fetch_add(1, Ordering::Relaxed);
        previous
    }
}

/// Replication towards one peer, summed over the cores (each core has its own sender).
#[derive(Debug, Default)]
pub struct PeerReplication {
    /// Writes queued for the peer, not yet acknowledged by it.
    pub queued: AtomicU64,
    /// Milliseconds from queueing to the peer's answer, of the last batch it acknowledged.
    pub lag_ms: AtomicU64,
    /// Wall-clock epoch ms of the last acknowledged batch (0: never).
    pub last_ack_ms: AtomicU64,
    /// Instances the peer acknowledged.
    pub sent_total: AtomicU64,
    /// Requests that failed (unreachable, timeout, error answer).
    pub failed_requests_total: AtomicU64,
    /// Heartbeats dropped because the queue was full (a later one supersedes them).
    pub dropped_heartbeats_total: AtomicU64,
    /// Instances the peer refused for good (bad-request, no-permission,
    /// internal-service-error, service-unavailable): dropped, not sent again.
    pub rejected_total: AtomicU64,
    /// Full resyncs started (queue overflow, or the peer unreachable longer than the lease TTL).
    pub resyncs_total: AtomicU64,
    /// Cores whose sender is resyncing the peer now.
    pub resyncing: AtomicU64,
}

/// One peer: its health and the replication towards it.
#[derive(Debug, Default)]
pub struct PeerState {
    pub health: PeerHealth,
    pub replication: PeerReplication,
}

/// The cluster as this node sees it.
pub struct ClusterState {
    pub topology: Topology,
    /// This node's own status.
    pub status: StatusCell,
    /// Per peer, indexed by peer id.
    pub peers: Vec<PeerState>,
    /// `cluster.secret` (or the contents of `cluster.secret_file`), read at start.
    pub secret: Option<String>,
}

/// Written out without the secret, which must never reach a log line.
impl std::fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterState")
            .field("topology", &self.topology)
            .field("status", &self.status)
            .field("peers", &self.peers)
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl ClusterState {
    /// A node with peers starts `starting` unless forced up; a single node is `up` at once.
    pub fn new(topology: Topology, force_up: bool, secret: Option<String>) -> ClusterState {
        let status = if force_up || topology.peers.is_empty() {
            NodeStatus::Up
        } else {
            NodeStatus::Starting
        };
        let peers = topology
            .peers
            .iter()
            .map(|_| PeerState::default())
            .collect();
        ClusterState {
            topology,
            status: StatusCell::new(status),
            peers,
            secret,
        }
    }

    pub fn has_peers(&self) -> bool {
        !self.peers.is_empty()
    }

    /// Java's `canServiceRegistry` for this node: only `up` serves (a starting node has not
    /// copied the registry yet).
    pub fn can_serve_registry(&self) -> bool {
        self.status.get() == NodeStatus::Up
    }

    pub fn can_serve_discovery(&self) -> bool {
        self.status.get() == NodeStatus::Up
    }

    pub fn is_up(&self) -> bool {
        self.status.get() == NodeStatus::Up
    }

    /// Whether any peer's last poll found it `up`.
    pub fn any_peer_up(&self) -> bool {
        self.peers.iter().any(|p| p.health.is_up())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip_and_unknown_names_are_unknown() {
        for s in [NodeStatus::Starting, NodeStatus::Up, NodeStatus::Down] {
            assert_eq!(NodeStatus::from_name(s.name()), s);
        }
        assert_eq!(NodeStatus::from_name("UP"), NodeStatus::Up);
        assert_eq!(NodeStatus::from_name("sleeping"), NodeStatus::Unknown);
    }

    #[test]
    fn a_single_node_is_up_and_a_clustered_one_starts() {
        let single = ClusterState::new(Topology::single(), false, None);
        assert_eq!(single.status.get(), NodeStatus::Up);
        assert!(single.can_serve_registry() && !single.has_peers());
    }

    #[test]
    fn peer_serving_follows_javas_rule() {
        let h = PeerHealth::default();
        assert!(!h.can_serve_registry(), "never polled");
        h.status.set(NodeStatus::Starting);
        assert!(!h.can_serve_registry());
        h.can_service_registry.store(true, Ordering::Relaxed);
        assert!(h.can_serve_registry(), "starting with the flag set");
        h.status.set(NodeStatus::Down);
        assert!(!h.can_serve_registry());
        h.status.set(NodeStatus::Up);
        assert!(h.can_serve_registry() && h.can_serve_discovery());
    }
}
