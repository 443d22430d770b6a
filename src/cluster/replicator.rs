//! Replication of this core's writes to the cluster's peers (spec §9.2, sender side).
//!
//! Each core runs one sender per peer for the writes of its own shard: every write of an
//! instance goes through one FIFO, in order, and no write crosses cores. The shard records its
//! client-origin writes as [`Replica`]s; the core hands them to [`Replicator::publish`] after
//! every operation, which queues an `Arc` clone of the stored bytes per peer ([`queue`] decides
//! batching, overflow, retries and resyncs without I/O); each peer's [`sender`] task POSTs the
//! batches to the peer's `api/replication/registry/*.json` with the [`PeerClient`] and reports
//! into the node's `ClusterState.peers[i].replication`.
//!
//! A resync (a queue full of registers/unregisters, or a peer that answered nothing for a lease
//! TTL) sends the queued unregisters of instances the shard no longer holds, then every instance
//! of the shard as registers; a resync asked for while one is being sent follows it.
//!
//! Every peer is sent to whatever its polled status: a starting peer accepts replication (Java's
//! replication endpoints have no node-up check), so writes made during its bootstrap reach it.
//!
//! [`PeerClient`]: super::client::PeerClient

mod answer;
mod key;
mod queue;
mod sender;
mod wake;
mod warn;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use shards::{Replica, ReplicaKind};

use self::queue::{Limits, PeerQueue};
use self::sender::Sender;
use self::wake::Wake;
use super::ClusterState;
use crate::clock::Clock;
use crate::config::Config;

/// Every instance the core's shard holds (hidden ones too), for a peer's resync.
pub type Snapshot = Rc<dyn Fn() -> Vec<Arc<[u8]>>>;

/// One core's senders, one per peer.
pub struct Replicator {
    links: Vec<Rc<PeerLink>>,
    /// Real time, also under a manual lease clock: batching windows, backoffs and lag are
    /// about the network.
    clock: Clock,
    request_timeout: Duration,
}

/// A peer's queue on this core, shared by the write path and the peer's sender task.
struct PeerLink {
    queue: RefCell<PeerQueue>,
    /// A push the sender may have to act on.
    wake: Wake,
    stop: Wake,
    stopped: Cell<bool>,
}

impl PeerLink {
    fn push(&self, kind: ReplicaKind, json: Arc<[u8]>, now: u64) {
        if self.queue.borrow_mut().push(kind, json, now).wakes() {
            self.wake.notify();
        }
    }
}

impl Replicator {
    /// A queue per peer of `cluster` (none for a single node), sized by `[cluster]`.
    pub fn new(cluster: &ClusterState, config: &Config) -> Replicator {
        let c = &config.cluster;
        let limits = Limits {
            capacity: c.peer_queue_capacity,
            heartbeat_window_ms: c.heartbeat_batch_window_ms,
            heartbeat_batch: c.heartbeat_batch_size,
            write_batch: c.write_batch_size,
            stall_ms: config.lease.ttl_ms,
        };
        let links = cluster
            .peers
            .iter()
            .map(|_| {
                Rc::new(PeerLink {
                    queue: RefCell::new(PeerQueue::new(limits)),
                    wake: Wake::default(),
                    stop: Wake::default(),
                    stopped: Cell::new(false),
                })
            })
            .collect();
        Replicator {
            links,
            clock: Clock::new(),
            request_timeout: Duration::from_millis(c.request_timeout_ms),
        }
    }

    /// Queue the shard's writes for every peer, in order.
    pub fn publish(&self, replicas: impl Iterator<Item = Replica>) {
        let (last, others) = self
            .links
            .split_last()
            .expect("a node without peers records no replicas");
        let now = self.clock.now_ms();
        for Replica { kind, json } in replicas {
            for link in others {
                link.push(kind, json.clone(), now);
            }
            last.push(kind, json, now);
        }
    }

    /// Spawn the peers' sender tasks on this core's event loop. `snapshot` lists the shard's
    /// instances for a resync.
    pub fn start(&self, core: usize, cluster: &Arc<ClusterState>, snapshot: Snapshot) {
        assert_eq!(cluster.peers.len(), self.links.len(), "one link per peer");
        for (peer, link) in self.links.iter().enumerate() {
            let sender = Sender {
                link: link.clone(),
                cluster: cluster.clone(),
                peer,
                core,
                request_timeout: self.request_timeout,
                clock: self.clock.clone(),
                snapshot: snapshot.clone(),
            };
            monoio::spawn(sender.run());
        }
    }

    /// End the sender tasks: a request in flight is abandoned, what is queued is not sent.
    pub fn stop(&self) {
        for link in &self.links {
            link.stopped.set(true);
            link.stop.notify();
        }
    }
}

#[cfg(test)]
mod tests;
