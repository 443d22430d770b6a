//! Peer health (spec §9.3): every `cluster.health_check_interval_ms` each peer's
//! `api/status/node.json` is polled and its answer stored in [`PeerHealth`]; a poll that gets no
//! usable answer after [`TRIES_PER_POLL`] tries leaves the peer `unknown`, as Java's
//! `ClusterManager.syncNodeStatus` does. One task per peer on the core that starts the poller,
//! each with its own keep-alive connection, so a slow peer never delays the others and no poll
//! blocks the loop.
//!
//! Logged: every change of a peer's status (info), and a peer that gives no answer (warn, at
//! once and then at most every [`UNREACHABLE_WARN_EVERY_MS`] while it stays silent).

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::model::{answered_success, parse, NodeStatusAnswer};

use super::client::{Answer, PeerClient, PeerError};
use super::state::{NodeStatus, PeerHealth};
use super::ClusterState;
use crate::config::cluster::ClusterConfig;

/// The peer endpoint polled.
pub const NODE_STATUS_PATH: &str = "api/status/node.json";
/// Tries per poll (Java's `artemis.service.cluster.nodes.status-update.fail-retry-times`).
pub const TRIES_PER_POLL: u32 = 3;
/// Pause between two tries of one poll (Java's: 10 ms).
const RETRY_PAUSE: Duration = Duration::from_millis(10);
/// A node.json answer is a few hundred bytes; anything this large is not one.
const MAX_NODE_STATUS_BYTES: usize = 64 * 1024;
/// A silent peer is warned about at most this often.
pub const UNREACHABLE_WARN_EVERY_MS: u64 = 60_000;

/// What a peer's `node.json` said about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolledStatus {
    pub status: NodeStatus,
    /// The URL the peer advertises to clients (None when it did not say): what up-nodes lists,
    /// which differs from its `cluster.nodes` entry when it has a cluster listener.
    pub advertised_url: Option<String>,
    pub can_service_registry: bool,
    pub can_service_discovery: bool,
    pub allow_registry_from_other_zone: bool,
    pub allow_discovery_from_other_zone: bool,
}

impl PolledStatus {
    /// Read a `node.json` answer: HTTP 200 with a successful `responseStatus` and a
    /// `nodeStatus` (Java treats anything else as no answer). Flags left null read as false.
    pub fn from_answer(answer: &Answer) -> Result<PolledStatus, String> {
        if answer.status != 200 {
            return Err(format!("answered HTTP {}", answer.status));
        }
        let parsed: NodeStatusAnswer = parse(&answer.body).map_err(|e| e.to_string())?;
        if !answered_success(parsed.response_status.as_ref()) {
            return Err("answered without a success responseStatus".into());
        }
        let status = parsed
            .node_status
            .ok_or_else(|| "answered without a nodeStatus".to_string())?;
        let advertised_url = status
            .node
            .as_ref()
            .and_then(|n| n.url.as_deref())
            .filter(|u| !u.trim().is_empty())
            .map(str::to_string);
        Ok(PolledStatus {
            status: NodeStatus::from_name(status.status.as_deref().unwrap_or_default()),
            advertised_url,
            can_service_registry: status.can_service_registry.unwrap_or(false),
            can_service_discovery: status.can_service_discovery.unwrap_or(false),
            allow_registry_from_other_zone: status.allow_registry_from_other_zone.unwrap_or(false),
            allow_discovery_from_other_zone: status
                .allow_discovery_from_other_zone
                .unwrap_or(false),
        })
    }
}

/// Why a try got no usable answer.
#[derive(Debug)]
enum TryFailure {
    /// No answer at all (connect, write, read, timeout).
    Unreachable(PeerError),
    /// An answer that is not a node status.
    Unusable(String),
}

impl TryFailure {
    /// Java stops retrying when the host is unavailable: another try at once would be refused
    /// the same way.
    fn worth_retrying(&self) -> bool {
        match self {
            TryFailure::Unreachable(PeerError::NoAddress) => false,
            TryFailure::Unreachable(PeerError::Io(e)) => {
                e.kind() != std::io::ErrorKind::ConnectionRefused
            }
            _ => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            TryFailure::Unreachable(e) => e.to_string(),
            TryFailure::Unusable(why) => why.clone(),
        }
    }
}

/// One poll of a peer: up to [`TRIES_PER_POLL`] tries, each within `timeout`. Err says why
/// the last try failed.
pub async fn poll(
    client: &mut PeerClient,
    cluster: &ClusterState,
    peer: usize,
    timeout: Duration,
) -> Result<PolledStatus, String> {
    let address = &cluster.topology.peers[peer].address;
    let mut tries = 0;
    loop {
        tries += 1;
        let failure = match client
            .post_json(address, NODE_STATUS_PATH, b"{}", timeout)
            .await
        {
            Ok(answer) => match PolledStatus::from_answer(&answer) {
                Ok(status) => return Ok(status),
                Err(why) => TryFailure::Unusable(why),
            },
            Err(e) => TryFailure::Unreachable(e),
        };
        if tries >= TRIES_PER_POLL || !failure.worth_retrying() {
            return Err(failure.describe());
        }
        monoio::time::sleep(RETRY_PAUSE).await;
    }
}

/// What to log after a poll.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PollNotes {
    /// The peer's status changed: from, to.
    pub changed: Option<(NodeStatus, NodeStatus)>,
    /// Warn that the peer gave no answer (rate-limited).
    pub warn_unreachable: bool,
}

/// Store a poll's result in the peer's health (`answer` None: no usable answer) and say what to
/// log. `now_ms` is monotonic (it times the warnings), `wall_ms` the epoch ms recorded as the
/// peer's last answer.
pub fn record(
    health: &PeerHealth,
    answer: Option<&PolledStatus>,
    now_ms: u64,
    wall_ms: u64,
) -> PollNotes {
    let previous = health.record(answer, wall_ms);
    let current = health.status.get();
    let changed = (previous != current).then_some((previous, current));
    let warn_unreachable = match answer {
        Some(_) => {
            health.unreachable_warned_ms.store(0, Ordering::Relaxed);
            false
        }
        None => {
            let warned = health.unreachable_warned_ms.load(Ordering::Relaxed);
            let due = warned == 0 || now_ms.saturating_sub(warned) >= UNREACHABLE_WARN_EVERY_MS;
            if due {
                // 0 means "not warned"; a clock that reads 0 still counts as warned.
                health
                    .unreachable_warned_ms
                    .store(now_ms.max(1), Ordering::Relaxed);
            }
            due
        }
    };
    PollNotes {
        changed,
        warn_unreachable,
    }
}

/// Poll a peer once, store the answer and log what changed.
pub async fn poll_and_record(
    client: &mut PeerClient,
    cluster: &ClusterState,
    peer: usize,
    timeout: Duration,
) {
    let result = poll(client, cluster, peer, timeout).await;
    let health = &cluster.peers[peer].health;
    let notes = record(health, result.as_ref().ok(), now_ms(), wall_ms());
    let url = &cluster.topology.peers[peer].entry.url;
    if let Some((from, to)) = notes.changed {
        tracing::info!(peer = %url, from = from.name(), to = to.name(), "peer status changed");
    }
    if let (Err(why), true) = (&result, notes.warn_unreachable) {
        tracing::warn!(
            peer = %url,
            error = %why,
            failed_polls = health.failed_polls.load(Ordering::Relaxed),
            "peer gives no status; it counts as unknown (warned again at most every minute)"
        );
    }
    client.release_buffers();
}

/// How the poller works (`[cluster]`).
#[derive(Clone, Copy, Debug)]
pub struct PollerSettings {
    pub interval: Duration,
    pub timeout: Duration,
}

impl PollerSettings {
    pub fn from_config(config: &ClusterConfig) -> PollerSettings {
        PollerSettings {
            interval: Duration::from_millis(config.health_check_interval_ms),
            timeout: Duration::from_millis(config.health_check_timeout_ms),
        }
    }
}

/// Start polling every peer from the calling core's event loop (a task per peer, first poll at
/// once). The tasks end with the loop.
pub fn spawn_poller(cluster: Arc<ClusterState>, settings: PollerSettings) {
    for peer in 0..cluster.peers.len() {
        monoio::spawn(watch_peer(cluster.clone(), peer, settings));
    }
}

async fn watch_peer(cluster: Arc<ClusterState>, peer: usize, settings: PollerSettings) {
    let mut client = PeerClient::new(cluster.secret.clone(), MAX_NODE_STATUS_BYTES);
    loop {
        poll_and_record(&mut client, &cluster, peer, settings.timeout).await;
        // A fixed delay between polls, as Java schedules them.
        monoio::time::sleep(settings.interval).await;
    }
}

/// A client for polling one peer now (outside the poller, e.g. by the bootstrap).
pub fn new_client(cluster: &ClusterState) -> PeerClient {
    PeerClient::new(cluster.secret.clone(), MAX_NODE_STATUS_BYTES)
}

/// Monotonic ms since the first call in this process (times the warnings).
fn now_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests;
