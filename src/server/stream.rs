//! The change stream. Every change a shard records (new, change, delete) for a service somebody
//! subscribed to is serialized once by the shard (`shards::Push`) and leaves the shard through
//! here, after the step that made it, to sinks. Each sink bounds what it holds and has its own
//! overflow policy, so one slow consumer never grows memory or stalls the shard:
//!
//! | sink | bound | on overflow |
//! |---|---|---|
//! | this core's WebSocket sessions | per session: `ws.max_queued_messages` / `ws.max_queued_bytes` | that session is closed with 1013 (it reconnects and reloads) |
//! | another core's sessions | per core: `changes.core_queue_capacity` batches | the batch is dropped and that core closes its subscribers with 1013 |
//!
//! Replication to peer nodes (the cluster issue) becomes one more sink here: a bounded queue per
//! peer whose overflow policy is a resync from the peer's last acknowledged version.

use super::mailbox::{Delivery, Outbox};
use super::subscribers::{close, Subscribers};
use shards::Push;

/// Per-step scratch: one batch per destination core, reused across steps.
#[derive(Default)]
pub struct ChangeStream {
    to_cores: Vec<Vec<Delivery>>,
}

impl ChangeStream {
    /// Hand a step's changes to their sinks: `here`'s own subscribers directly, every other
    /// interested core in one batch.
    pub fn publish(
        &mut self,
        pushes: impl Iterator<Item = Push>,
        here: usize,
        local: &Subscribers,
        outboxes: &[Outbox],
    ) {
        if self.to_cores.len() < outboxes.len() {
            self.to_cores.resize_with(outboxes.len(), Vec::new);
        }
        for push in pushes {
            for &core in &push.cores {
                let core = core as usize;
                if core == here {
                    local.deliver(&push.service_key, &push.message);
                } else {
                    self.to_cores[core].push(Delivery {
                        service_key: push.service_key.clone(),
                        message: push.message.clone(),
                    });
                }
            }
        }
        for (core, batch) in self.to_cores.iter_mut().enumerate() {
            if !batch.is_empty() {
                outboxes[core].changes(std::mem::take(batch));
            }
        }
    }
}

/// Deliver a batch that another core's shard sent to this core's subscribers.
pub fn deliver_batch(local: &Subscribers, batch: Vec<Delivery>) {
    for d in batch {
        local.deliver(&d.service_key, &d.message);
    }
}

/// This core's change queue overflowed: some change never reached its subscribers, so none of
/// them can trust its view any more.
pub fn changes_lost(local: &Subscribers) {
    local.close_all(
        close::TRY_AGAIN_LATER,
        "changes were lost under load; reconnect and reload",
    );
}
