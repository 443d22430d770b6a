//! The operations one core asks of a shard, and their answers.
//!
//! Operations are owned (`Send`) so they can cross to the shard's core; the same code executes
//! them whether the shard is local or remote, so both paths behave identically.

use std::sync::Arc;

use shards::{SafeStatus, Shard};
use smallvec::SmallVec;

use crate::clock::Clock;

/// One instance to (re)register: identity plus the JSON discovery will serve.
pub struct RegisterItem {
    pub service_id: Box<str>,
    pub instance_id: Box<str>,
    pub legacy: bool,
    pub json: Arc<[u8]>,
}

/// (serviceId, instanceId) pairs packed into one allocation: heartbeats are the hot path.
#[derive(Default)]
pub struct PackedKeys {
    text: String,
    /// End offsets in `text` of each service id and the instance id that follows it.
    ends: SmallVec<[(u32, u32); 4]>,
}

impl PackedKeys {
    pub fn with_capacity(keys: usize, bytes: usize) -> Self {
        PackedKeys {
            text: String::with_capacity(bytes),
            ends: SmallVec::with_capacity(keys),
        }
    }

    pub fn push(&mut self, service_id: &str, instance_id: &str) {
        self.text.push_str(service_id);
        let service_end = self.text.len() as u32;
        self.text.push_str(instance_id);
        self.ends.push((service_end, self.text.len() as u32));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut start = 0usize;
        self.ends.iter().map(move |&(service_end, instance_end)| {
            let service = &self.text[start..service_end as usize];
            let instance = &self.text[service_end as usize..instance_end as usize];
            start = instance_end as usize;
            (service, instance)
        })
    }
}

pub enum ShardOp {
    Register(Vec<RegisterItem>),
    Heartbeat(PackedKeys),
    Unregister(PackedKeys),
    /// Instances JSON of each service id.
    Lookup(Vec<Box<str>>),
    /// All services of the shard (for services.json).
    Services,
    Leases {
        legacy: bool,
        filter: Option<Vec<Box<str>>>,
    },
    Counts,
    /// Changes since a version, for services-delta.json.
    Delta(u64),
    /// The sending core has (or no longer has) subscribers for a service / for every service.
    Subscribe {
        service_id: Box<str>,
        core: u16,
    },
    Unsubscribe {
        service_id: Box<str>,
        core: u16,
    },
    SubscribeAll {
        core: u16,
    },
    UnsubscribeAll {
        core: u16,
    },
}

pub struct LeasesPart {
    /// `"serviceId":[{lease},...]` entries, comma-separated, no braces.
    pub json: Vec<u8>,
    pub lease_count: usize,
    pub safe: SafeStatus,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub instances: usize,
    pub services: usize,
    pub version: u64,
}

pub enum ShardReply {
    Done,
    /// Per key: was the lease live and renewed.
    Renewed(SmallVec<[bool; 8]>),
    Lookup(Vec<Option<Arc<[u8]>>>),
    /// The shard's services JSON and its data version.
    Services(Arc<[u8]>, u64),
    Leases(LeasesPart),
    Counts(Counts),
    /// The delta entries of this shard, and the node version when it answered.
    Delta(Result<Vec<u8>, shards::DeltaError>, u64),
    /// The shard's core is shutting down and no longer takes requests.
    Unavailable,
}

/// `max_listed_leases`: leases listed per shard by `status/leases.json`.
pub fn execute(
    shard: &mut Shard,
    op: ShardOp,
    clock: &Clock,
    max_listed_leases: usize,
) -> ShardReply {
    let now = clock.now_ms();
    match op {
        ShardOp::Register(items) => {
            for item in items {
                shard.register(
                    &item.service_id,
                    &item.instance_id,
                    item.legacy,
                    item.json,
                    now,
                );
            }
            ShardReply::Done
        }
        ShardOp::Heartbeat(keys) => ShardReply::Renewed(
            keys.iter()
                .map(|(service, instance)| shard.heartbeat(service, instance, now))
                .collect(),
        ),
        ShardOp::Unregister(keys) => {
            for (service, instance) in keys.iter() {
                shard.unregister(service, instance, now);
            }
            ShardReply::Done
        }
        ShardOp::Lookup(ids) => {
            ShardReply::Lookup(ids.iter().map(|id| shard.instances_json(id)).collect())
        }
        ShardOp::Services => ShardReply::Services(shard.services_json(), shard.node_version()),
        ShardOp::Leases { legacy, filter } => ShardReply::Leases(crate::api::status::leases_part(
            shard,
            legacy,
            filter,
            max_listed_leases,
            clock,
        )),
        ShardOp::Delta(since) => {
            let version = shard.node_version();
            let mut out = Vec::new();
            let result = shard.delta_since(since, &mut out).map(|()| out);
            ShardReply::Delta(result, version)
        }
        ShardOp::Subscribe { service_id, core } => {
            shard.subscribe(&service_id, core);
            ShardReply::Done
        }
        ShardOp::Unsubscribe { service_id, core } => {
            shard.unsubscribe(&service_id, core);
            ShardReply::Done
        }
        ShardOp::SubscribeAll { core } => {
            shard.subscribe_all(core);
            ShardReply::Done
        }
        ShardOp::UnsubscribeAll { core } => {
            shard.unsubscribe_all(core);
            ShardReply::Done
        }
        ShardOp::Counts => ShardReply::Counts(Counts {
            instances: shard.instance_count(),
            services: shard.service_count(),
            version: shard.node_version(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_round_trip() {
        let mut keys = PackedKeys::with_capacity(3, 32);
        keys.push("svcA", "i1");
        keys.push("", "x");
        keys.push("svcB", "");
        let all: Vec<(&str, &str)> = keys.iter().collect();
        assert_eq!(all, vec![("svcA", "i1"), ("", "x"), ("svcB", "")]);
        assert_eq!(keys.len(), 3);
    }
}
