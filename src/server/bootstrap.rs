//! The start of a node of a cluster (spec §9.3, §11.8): once every core serves, it copies the
//! registry from an `up` peer (this zone's first), registers the copy on the owning shards where
//! they hold nothing newer (never replicated back), discards the registry saved at its last stop
//! (the peer's is newer), and only then reports `up` (`node.json`, `/ready`, systemd's
//! `READY=1`). Without an `up` peer it retries every second. When peers answer but none has been
//! `up` for `cluster.bootstrap_wait_ms`, the whole cluster is starting: it registers its saved
//! registry and goes `up` without a copy (or no node ever would). A node no peer answers keeps
//! waiting, and says so (it may be cut off from a cluster that serves).

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::model::{FieldLimits, Instance, ServicesAnswer};
use shards::ops::{RegisterItem, RegisterMissing, ShardOp};
use shards::Shard;

use super::core::{Core, Node};
use super::mailbox::Unavailable;
use super::notify::Notifier;
use super::signal::yield_now;
use crate::cluster::bootstrap::{
    copy_request, fetch, instances, new_client, peers_seen, read_copy, register_item, up_peers,
    CopyChecks, PeerWait, WaitVerdict,
};
use crate::cluster::client::PeerClient;
use crate::cluster::{health, NodeStatus};

/// Pause between two rounds of looking for a peer to copy from (Java's init interval).
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Instances registered before the core yields to its other tasks (as a client's batch).
const INSTANCES_PER_SLICE: usize = 1000;
/// How often the runner looks whether every core serves yet.
const SERVING_CHECK: Duration = Duration::from_millis(10);
/// Failed copy attempts are logged at the first and then every this many (about every 30 s).
const LOG_EVERY_FAILURES: u64 = 30;

/// Copy the registry and report `up` (started only on a `starting` node). `serving_status` is
/// the systemd `STATUS=` the node shows once it is up.
pub async fn run(core: Rc<Core>, notifier: Arc<Notifier>, serving_status: String) {
    let node = &core.node;
    assert_eq!(
        node.cluster.status.get(),
        NodeStatus::Starting,
        "only the bootstrap takes a node out of starting"
    );
    // Nothing else tells this task when the other cores serve; a short poll of the counter they
    // bump costs nothing next to the copy.
    while node.serving_cores.load(Ordering::Relaxed) < node.router.shards() {
        if node.shutdown.load(Ordering::Relaxed) {
            return;
        }
        monoio::time::sleep(SERVING_CHECK).await;
    }
    let Some(outcome) = copy_or_give_up(&core, &notifier).await else {
        return;
    };
    match outcome {
        Outcome::Copied { peer, copied } => {
            let discarded = discard_saved(node);
            node.cluster.status.set(NodeStatus::Up);
            tracing::info!(
                peer = %peer,
                instances = copied.registered + copied.held,
                held_newer = copied.held,
                left_out = copied.refused,
                saved_discarded = discarded,
                "registry copied from a peer; the node is up"
            );
        }
        Outcome::NoPeerUp { wait_ms } => {
            let Ok(restored) = register_saved(&core).await else {
                return;
            };
            node.cluster.status.set(NodeStatus::Up);
            tracing::warn!(
                wait_ms,
                restored,
                "peers answer but none has been up for cluster.bootstrap_wait_ms (the whole \
                 cluster is starting); the node is up without a copy, with the instances saved \
                 at its last stop (restored); clients re-register on their next heartbeat's \
                 data-not-found"
            );
        }
    }
    notifier.ready(&serving_status);
}

/// How the node became ready to go up.
enum Outcome {
    Copied { peer: String, copied: Copied },
    NoPeerUp { wait_ms: u64 },
}

/// Rounds of: poll the peers nothing is known about yet, try the `up` ones in order, wait.
/// None when the node shuts down first.
async fn copy_or_give_up(core: &Core, notifier: &Notifier) -> Option<Outcome> {
    let node = &core.node;
    let cluster = &node.cluster;
    let settings = &node.config.cluster;
    let start = Instant::now();
    let mut wait = PeerWait::new(0, settings.bootstrap_wait_ms);
    let request = copy_request(&node.config.region_id, &node.config.zone_id);
    let timeout = Duration::from_millis(settings.bootstrap_timeout_ms);
    let mut status = StatusLine::default();
    let mut failures = 0u64;
    let mut copier = Copier {
        client: new_client(cluster),
        peer: None,
    };
    loop {
        if node.shutdown.load(Ordering::Relaxed) {
            return None;
        }
        // The poller may not have heard from every peer yet: ask those directly, so the first
        // round already knows which peers are up.
        for peer in (0..cluster.peers.len()).filter(|&p| !cluster.peers[p].health.polled()) {
            let poll_timeout = Duration::from_millis(settings.health_check_timeout_ms);
            health::poll_and_record(
                &mut health::new_client(cluster),
                cluster,
                peer,
                poll_timeout,
            )
            .await;
        }
        let candidates = up_peers(cluster);
        let now_ms = start.elapsed().as_millis() as u64;
        let waiting = match wait.look(now_ms, peers_seen(cluster)) {
            WaitVerdict::Wait => "starting: waiting for an up peer to copy the registry from",
            WaitVerdict::Over => {
                return Some(Outcome::NoPeerUp {
                    wait_ms: settings.bootstrap_wait_ms,
                })
            }
            WaitVerdict::CutOff { warn } => {
                if warn {
                    tracing::warn!(
                        waited_ms = now_ms,
                        "no peer of the cluster answers: the node stays starting until one \
                         does (it may be cut off from peers that serve); start it with \
                         --force-up to serve without a copy"
                    );
                }
                "starting: no peer answers; waiting for one (--force-up serves without a copy)"
            }
        };
        for peer in candidates {
            let url = &cluster.topology.peers[peer].entry.url;
            status.show(
                notifier,
                format!("starting: copying the registry from {url}"),
            );
            match copier.copy(core, peer, &request, timeout).await {
                Ok(copied) => {
                    return Some(Outcome::Copied {
                        peer: url.clone(),
                        copied,
                    })
                }
                Err(CopyFailure::ShuttingDown) => return None,
                Err(CopyFailure::Peer(why)) => {
                    failures += 1;
                    if failures == 1 || failures.is_multiple_of(LOG_EVERY_FAILURES) {
                        tracing::warn!(peer = %url, error = %why, failures, "cannot copy the registry from the peer; retrying");
                    }
                }
            }
        }
        status.show(notifier, waiting.to_string());
        monoio::time::sleep(RETRY_EVERY).await;
    }
}

/// The systemd `STATUS=` line, sent when it changes.
#[derive(Default)]
struct StatusLine(String);

impl StatusLine {
    fn show(&mut self, notifier: &Notifier, line: String) {
        if self.0 != line {
            notifier.status(&line);
            self.0 = line;
        }
    }
}

enum CopyFailure {
    /// The peer gave no copy (unreachable, error answer, unreadable).
    Peer(String),
    /// A shard could not be reached: the node is shutting down.
    ShuttingDown,
}

/// What became of a copy's instances.
#[derive(Debug, Default)]
struct Copied {
    registered: usize,
    /// Instances the node already held, from peers' writes while it copied: newer, kept.
    held: usize,
    /// Instances the checks left out.
    refused: usize,
}

/// The client copies are fetched with, kept across attempts (its connection only while the
/// attempts go to the same peer).
struct Copier {
    client: PeerClient,
    /// The peer the client's connection is to.
    peer: Option<usize>,
}

impl Copier {
    /// Fetch the peer's registry and register it here.
    async fn copy(
        &mut self,
        core: &Core,
        peer: usize,
        request: &[u8],
        timeout: Duration,
    ) -> Result<Copied, CopyFailure> {
        if self.peer.replace(peer) != Some(peer) {
            self.client.disconnect();
        }
        let cluster = &core.node.cluster;
        let body = fetch(&mut self.client, cluster, peer, request, timeout)
            .await
            .map_err(CopyFailure::Peer)?;
        let copy = read_copy(&body).map_err(CopyFailure::Peer)?;
        register_copy(core, &copy).await
    }
}

/// Register every instance of the copy that passes the checks, slice by slice.
async fn register_copy(core: &Core, copy: &ServicesAnswer<'_>) -> Result<Copied, CopyFailure> {
    let config = &core.node.config;
    let checks = CopyChecks {
        region_id: &config.region_id,
        limits: FieldLimits {
            max_id_bytes: config.limits.max_id_bytes,
            max_metadata_bytes: config.limits.max_metadata_bytes,
        },
    };
    let mut copied = Copied::default();
    let mut slice: Vec<(&Instance, RegisterItem)> = Vec::with_capacity(INSTANCES_PER_SLICE);
    for instance in instances(copy) {
        match register_item(instance, &checks) {
            Ok(item) => slice.push((instance, item)),
            Err(why) => {
                if copied.refused == 0 {
                    tracing::warn!(
                        service = instance.service_id.as_deref().unwrap_or("null"),
                        instance = instance.instance_id.as_deref().unwrap_or("null"),
                        reason = %why,
                        "copied instance left out (further ones are only counted)"
                    );
                }
                copied.refused += 1;
            }
        }
        if slice.len() == INSTANCES_PER_SLICE {
            register_slice(core, &mut slice, &mut copied).await?;
            yield_now().await;
        }
    }
    register_slice(core, &mut slice, &mut copied).await?;
    Ok(copied)
}

/// Register a slice of the copy on the owning shards (see [`RegisterMissing`]) and count the
/// outcome in `copied`; empties the slice.
async fn register_slice(
    core: &Core,
    slice: &mut Vec<(&Instance<'_>, RegisterItem)>,
    copied: &mut Copied,
) -> Result<(), CopyFailure> {
    let (sources, items): (Vec<&Instance>, Vec<RegisterItem>) = slice.drain(..).unzip();
    let mut items: Vec<Option<RegisterItem>> = items.into_iter().map(Some).collect();
    let owners = sources.iter().map(|i| i.service_id.as_deref());
    let register = |positions: &[u32]| {
        let taken = positions.iter().map(|&p| {
            items[p as usize]
                .take()
                .expect("each item goes to one shard")
        });
        RegisterMissing(taken.collect())
    };
    for answer in core.call_owners(owners, register).await {
        match answer {
            Some(Ok(true)) => copied.registered += 1,
            Some(Ok(false)) => copied.held += 1,
            Some(Err(Unavailable)) => return Err(CopyFailure::ShuttingDown),
            None => unreachable!("a checked instance has a service id"),
        }
    }
    Ok(())
}

/// The registry saved at the last stop, discarded once a peer's copy is registered: the peer's
/// registry is the cluster's, and the saved one may hold instances unregistered since.
/// Returns how many instances it held.
fn discard_saved(node: &Node) -> usize {
    (0..node.router.shards())
        .map(|shard| node.take_saved(shard, usize::MAX).len())
        .sum()
}

/// Register the saved registry, shard by shard and slice by slice, where the shards hold
/// nothing newer (see [`RegisterMissing`]); how many instances it registered. Unavailable when
/// the node is shutting down.
async fn register_saved(core: &Core) -> Result<usize, Unavailable> {
    let mut registered = 0;
    for shard in 0..core.node.router.shards() {
        loop {
            let step = RegisterSaved {
                node: core.node.clone(),
                max: INSTANCES_PER_SLICE,
            };
            let step = core.call(shard, step).await?;
            registered += step.registered;
            if step.done {
                break;
            }
            yield_now().await;
        }
    }
    Ok(registered)
}

/// Register up to `max` of the shard's saved instances kept aside. They are taken on the owning
/// core itself: those a stop leaves untaken stay aside, and that core saves them again.
struct RegisterSaved {
    node: Arc<Node>,
    max: usize,
}

struct SavedStep {
    registered: usize,
    /// No saved instance of the shard is left aside.
    done: bool,
}

impl ShardOp for RegisterSaved {
    type Reply = SavedStep;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> SavedStep {
        let items = self.node.take_saved(shard.id(), self.max);
        let done = items.len() < self.max;
        let registered = RegisterMissing(items).execute(shard, now_ms);
        SavedStep {
            registered: registered.iter().filter(|&&r| r).count(),
            done,
        }
    }
}
