//! The task that drains one peer's queue on one core: it asks the queue what to do, sends
//! batches to the peer's replication endpoints, hands the answers back, and reports the queue's
//! figures into the node's [`PeerReplication`].

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shards::ReplicaKind;

use super::answer::{judge, Problem};
use super::key::InstanceKey;
use super::queue::{Completed, Figures, Next};
use super::warn::WarnLimit;
use super::{PeerLink, Snapshot};
use crate::clock::Clock;
use crate::cluster::client::PeerClient;
use crate::cluster::state::PeerReplication;
use crate::cluster::ClusterState;

/// Largest answer read from a peer: a failed-instances list of a full batch fits easily.
const MAX_ANSWER_BYTES: usize = 8 << 20;
/// A request body buffer larger than this is given back after use.
const KEEP_BODY_BYTES: usize = 1 << 20;

pub(super) struct Sender {
    pub link: Rc<PeerLink>,
    pub cluster: Arc<ClusterState>,
    pub peer: usize,
    pub core: usize,
    pub request_timeout: Duration,
    pub clock: Clock,
    pub snapshot: Snapshot,
}

/// The gauges this sender added to the node's figures (summed over cores).
#[derive(Default)]
struct Reported {
    queued: u64,
    resyncing: bool,
}

/// A sender's rate-limited warnings, by kind.
#[derive(Default)]
struct Warnings {
    failed: WarnLimit,
    rejected: WarnLimit,
    dropped: WarnLimit,
    dropped_unregisters: WarnLimit,
    resync: WarnLimit,
}

impl Sender {
    pub async fn run(self) {
        let mut client = PeerClient::new(self.cluster.secret.clone(), MAX_ANSWER_BYTES);
        let mut batch = Vec::new();
        let mut verdicts = Vec::new();
        let mut body = Vec::new();
        let mut reported = Reported::default();
        let warnings = Warnings::default();
        let address = &self.cluster.topology.peers[self.peer].address;
        while !self.link.stopped.get() {
            self.report(&mut reported, &warnings);
            let now = self.clock.now_ms();
            let next = self.link.queue.borrow_mut().next(now);
            match next {
                Next::Idle => self.wait(None).await,
                Next::Wait(until) => self.wait(Some(until - now)).await,
                Next::Resync => {
                    // The mark was made just now: its warning goes before the resync's line.
                    self.report(&mut reported, &warnings);
                    let snapshot = (self.snapshot)();
                    let began = self.link.queue.borrow_mut().begin_resync(
                        snapshot,
                        InstanceKey::of_json,
                        now,
                    );
                    tracing::info!(
                        core = self.core,
                        peer = %self.url(),
                        instances = began.registers,
                        unregisters = began.unregisters,
                        "resyncing the peer: sending the unregisters it missed, then every instance of this core's shard"
                    );
                }
                Next::Send => {
                    let ticket = self.link.queue.borrow_mut().take_batch(&mut batch);
                    write_body(&mut body, batch.iter().map(|e| &*e.json));
                    let request = client.post_json(
                        address,
                        api_path(ticket.kind),
                        &body,
                        self.request_timeout,
                    );
                    let answer = monoio::select! {
                        answer = request => answer,
                        _ = self.link.stop.wait() => break,
                    };
                    let problem = judge(&answer, &batch, &mut verdicts);
                    let now = self.clock.now_ms();
                    let done = self
                        .link
                        .queue
                        .borrow_mut()
                        .complete(ticket, &batch, &verdicts, now);
                    self.warn_failure(&warnings, now, ticket.kind, done, problem);
                    // The batch's bytes are the shard's: do not keep them alive while idle.
                    batch.clear();
                    if body.capacity() > KEEP_BODY_BYTES {
                        body = Vec::new();
                    }
                    client.release_buffers();
                }
            }
        }
        self.withdraw(&reported);
    }

    /// Wait for a push (and at most `timeout`), or the stop.
    async fn wait(&self, timeout: Option<u64>) {
        match timeout {
            Some(ms) => {
                monoio::select! {
                    _ = monoio::time::sleep(Duration::from_millis(ms)) => {},
                    _ = self.link.wake.wait() => {},
                    _ = self.link.stop.wait() => {},
                }
            }
            None => {
                monoio::select! {
                    _ = self.link.wake.wait() => {},
                    _ = self.link.stop.wait() => {},
                }
            }
        }
    }

    fn replication(&self) -> &PeerReplication {
        &self.cluster.peers[self.peer].replication
    }

    fn url(&self) -> &str {
        &self.cluster.topology.peers[self.peer].entry.url
    }

    /// Move the queue's figures into the node's, and warn about drops and resyncs.
    fn report(&self, reported: &mut Reported, warnings: &Warnings) {
        let now = self.clock.now_ms();
        let (figures, queued, resyncing, lag_ms) = {
            let mut queue = self.link.queue.borrow_mut();
            (
                queue.take_figures(),
                queue.unacked() as u64,
                queue.resyncing(),
                queue.lag_ms(now),
            )
        };
        let r = self.replication();
        move_gauge(&r.queued, &mut reported.queued, queued);
        if resyncing != reported.resyncing {
            if resyncing {
                r.resyncing.fetch_add(1, Ordering::Relaxed);
            } else {
                r.resyncing.fetch_sub(1, Ordering::Relaxed);
                tracing::info!(core = self.core, peer = %self.url(), "resync of the peer done");
            }
            reported.resyncing = resyncing;
        }
        let Figures {
            sent,
            failed_requests,
            dropped_heartbeats,
            dropped_unregisters,
            rejected,
            resyncs,
            last_ack_ms,
        } = figures;
        for (total, delta) in [
            (&r.sent_total, sent),
            (&r.failed_requests_total, failed_requests),
            (&r.dropped_heartbeats_total, dropped_heartbeats),
            (&r.dropped_unregisters_total, dropped_unregisters),
            (&r.rejected_total, rejected),
            (&r.resyncs_total, resyncs),
        ] {
            if delta > 0 {
                total.fetch_add(delta, Ordering::Relaxed);
            }
        }
        if let Some(at_ms) = last_ack_ms {
            let wall = self.clock.wall_ms(at_ms).max(0) as u64;
            r.last_ack_ms.store(wall, Ordering::Relaxed);
        }
        // The cores share the gauge: one with nothing new to say (no answer, nothing pending)
        // leaves it to those that have.
        if last_ack_ms.is_some() || queued > 0 {
            if let Some(lag_ms) = lag_ms {
                r.lag_ms.store(lag_ms, Ordering::Relaxed);
            }
        }
        if let Some(n) = warnings.dropped.admit(now, dropped_heartbeats) {
            tracing::warn!(
                core = self.core,
                peer = %self.url(),
                dropped = n,
                "replication queue to the peer is full: heartbeats dropped (the next ones supersede them)"
            );
        }
        if let Some(n) = warnings.dropped_unregisters.admit(now, dropped_unregisters) {
            tracing::warn!(
                core = self.core,
                peer = %self.url(),
                dropped = n,
                "replication to the peer awaits a resync with more unregisters than its queue holds: unregisters dropped (those instances expire on the peer by their lease)"
            );
        }
        if let Some(n) = warnings.resync.admit(now, resyncs) {
            tracing::warn!(
                core = self.core,
                peer = %self.url(),
                resyncs = n,
                "replication to the peer overflowed its queue or went unanswered longer than the lease TTL: full resync"
            );
        }
    }

    fn warn_failure(
        &self,
        warnings: &Warnings,
        now: u64,
        kind: ReplicaKind,
        done: Completed,
        problem: Option<Problem>,
    ) {
        let Some(problem) = problem else {
            return;
        };
        if let Some(n) = warnings.rejected.admit(now, done.rejected as u64) {
            tracing::warn!(
                core = self.core,
                peer = %self.url(),
                instances = n,
                "the peer refused replicated {} for good ({problem}); dropped",
                api_name(kind)
            );
        }
        if let Some(n) = warnings.failed.admit(now, (done.retried > 0) as u64) {
            tracing::warn!(
                core = self.core,
                peer = %self.url(),
                failed_requests = n,
                "replication of {} to the peer failed ({problem}); retrying",
                api_name(kind)
            );
        }
    }

    /// Take this sender's share out of the node's gauges (the core is stopping).
    fn withdraw(&self, reported: &Reported) {
        let r = self.replication();
        r.queued.fetch_sub(reported.queued, Ordering::Relaxed);
        if reported.resyncing {
            r.resyncing.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Add the change from `*reported` to `now` to a gauge summed over cores.
fn move_gauge(gauge: &AtomicU64, reported: &mut u64, now: u64) {
    if now > *reported {
        gauge.fetch_add(now - *reported, Ordering::Relaxed);
    } else if now < *reported {
        gauge.fetch_sub(*reported - now, Ordering::Relaxed);
    }
    *reported = now;
}

fn api_name(kind: ReplicaKind) -> &'static str {
    match kind {
        ReplicaKind::Register => "register",
        ReplicaKind::Heartbeat => "heartbeat",
        ReplicaKind::Unregister => "unregister",
    }
}

/// Java's replication endpoints (`RegistryReplicationServiceClient`).
pub fn api_path(kind: ReplicaKind) -> &'static str {
    match kind {
        ReplicaKind::Register => "api/replication/registry/register.json",
        ReplicaKind::Heartbeat => "api/replication/registry/heartbeat.json",
        ReplicaKind::Unregister => "api/replication/registry/unregister.json",
    }
}

/// `{"instances":[...]}` of the stored instances, into a reused buffer.
pub fn write_body<'a>(out: &mut Vec<u8>, instances: impl Iterator<Item = &'a [u8]>) {
    out.clear();
    out.extend_from_slice(b"{\"instances\":[");
    for (n, json) in instances.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(json);
    }
    out.extend_from_slice(b"]}");
}
