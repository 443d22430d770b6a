//! The operations a core asks of a shard. Each is a type with its own reply type and one
//! `execute`; the server runs that same `execute` in place when the shard is on the calling core
//! and on the owner's core otherwise (`server::core::Core::call`), so the two paths cannot differ.
//!
//! Operations that cross cores must be `Send + 'static`: they own their inputs.

use std::sync::Arc;

use protocol::model::management::groups::RegisteredInstance;
use protocol::model::management::responses::{write_management_instance, write_management_service};
use protocol::model::management::ManagementSnapshot;
use protocol::model::{
    parse, write_service, Instance, LeaseMapWriter, LeaseStatus, LocalTime, ServiceLists,
};
use smallvec::SmallVec;

use crate::place;
use crate::shard::WalkCursor;
use crate::{DeltaError, Registered, ReplicaKind, SafeStatus, Served, Shard};

/// One operation on a shard, executed by the shard's owner at time `now_ms` (the server's
/// monotonic clock).
pub trait ShardOp {
    type Reply;
    /// Whether it may change what discovery serves: after such an operation on another core
    /// returns, the caller's mirror waits for the owner's next publication (read-your-writes;
    /// see `crate::mirror`). Reads and renewals say false.
    const CHANGES_VIEWS: bool = true;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> Self::Reply;
}

/// Per-item answers of a batch operation, in the order of the batch.
pub type PerItem<T> = SmallVec<[T; 8]>;

/// One instance to (re)register: identity plus the JSON discovery will serve.
pub struct RegisterItem {
    pub service_id: Box<str>,
    pub instance_id: Box<str>,
    pub legacy: bool,
    pub json: Arc<[u8]>,
    /// Region, zone and ip joined by [`crate::place::join`]: what server and zone pull-outs match.
    pub place: Box<str>,
}

impl RegisterItem {
    /// What the owner shard stores for an instance as sent: its ids, the legacy flag, its JSON as
    /// discovery serves it, and its place. The one way every path (register endpoints,
    /// replication, registry copy) builds it.
    pub fn from_instance(instance: &Instance) -> RegisterItem {
        fn text<'a>(s: &'a Option<std::borrow::Cow<'_, str>>) -> &'a str {
            s.as_deref().unwrap_or_default()
        }
        let mut json = Vec::with_capacity(256);
        protocol::model::write_instance(&mut json, instance);
        RegisterItem {
            service_id: text(&instance.service_id).into(),
            instance_id: text(&instance.instance_id).into(),
            legacy: instance.is_legacy(),
            json: json.into(),
            place: crate::place::join(
                text(&instance.region_id),
                text(&instance.zone_id),
                text(&instance.ip),
            ),
        }
    }
}

/// Where a write came from: a client's writes are replicated to the cluster's peers, a peer's
/// never are — loop prevention is structural, as in Java (spec §9.2). A registry copy is neither:
/// see [`RegisterMissing`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    #[default]
    Client,
    Peer,
}

/// Register (or re-register) instances.
#[derive(Default)]
pub struct Register(pub Vec<RegisterItem>, pub Origin);

impl ShardOp for Register {
    type Reply = PerItem<Registered>;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> Self::Reply {
        let replicate = self.1 == Origin::Client && shard.replicating();
        self.0
            .into_iter()
            .map(|i| {
                let json = replicate.then(|| i.json.clone());
                let registered = shard.register(
                    &i.service_id,
                    &i.instance_id,
                    i.legacy,
                    i.json,
                    &i.place,
                    now_ms,
                );
                if let Some(json) = json {
                    shard.record_replica(ReplicaKind::Register, json);
                }
                registered
            })
            .collect()
    }
}

/// Register the instances the shard does not hold, as a registry copy (never replicated): a
/// starting node's copy from a peer, or its own saved registry. Per item: registered (true) or
/// left as held (false).
///
/// A copy is older than anything the shard holds: while a node starts, peers replicate their
/// clients' writes to it, and a held instance was written by such a register or by a
/// heartbeat that registered it again. Writing the copy over it would bring back older data for
/// good (heartbeats never update stored data). The one write a copy cannot see is an
/// unregister: an instance unregistered while the copy was on its way comes back from the copy,
/// and stays until its lease expires (no client heartbeats it any more). No tombstones are kept
/// for that short window.
pub struct RegisterMissing(pub Vec<RegisterItem>);

impl ShardOp for RegisterMissing {
    type Reply = PerItem<bool>;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> Self::Reply {
        self.0
            .into_iter()
            .map(|i| {
                if shard.holds(&i.service_id, &i.instance_id) {
                    return false;
                }
                let registered = shard.register(
                    &i.service_id,
                    &i.instance_id,
                    i.legacy,
                    i.json,
                    &i.place,
                    now_ms,
                );
                assert_eq!(registered, Registered::New, "the shard did not hold it");
                true
            })
            .collect()
    }
}

/// Renew leases; per key: was the lease live (and is now renewed).
#[derive(Default)]
pub struct Renew(pub PackedKeys, pub Origin);

impl ShardOp for Renew {
    type Reply = PerItem<bool>;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> Self::Reply {
        if self.1 == Origin::Peer || !shard.replicating() {
            return self
                .0
                .iter()
                .map(|(service, instance)| shard.heartbeat(service, instance, now_ms))
                .collect();
        }
        self.0
            .iter()
            .map(
                |(service, instance)| match shard.heartbeat_json(service, instance, now_ms) {
                    Some(json) => {
                        shard.record_replica(ReplicaKind::Heartbeat, json);
                        true
                    }
                    None => false,
                },
            )
            .collect()
    }
}

/// Remove instances at once; per key: was it registered.
pub struct Unregister {
    pub keys: PackedKeys,
    pub origin: Origin,
    /// Per key, the instance as the client sent it (when the node has peers): replicated when
    /// this node does not hold the instance, since a peer may still hold it.
    pub sent: Option<Vec<Arc<[u8]>>>,
}

impl ShardOp for Unregister {
    type Reply = PerItem<bool>;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> Self::Reply {
        if self.origin == Origin::Peer || !shard.replicating() {
            return self
                .keys
                .iter()
                .map(|(service, instance)| shard.unregister(service, instance, now_ms))
                .collect();
        }
        let sent = self.sent.unwrap_or_default();
        self.keys
            .iter()
            .enumerate()
            .map(|(n, (service, instance))| {
                let removed = shard.unregister_json(service, instance, now_ms);
                let found = removed.is_some();
                if let Some(json) = removed.or_else(|| sent.get(n).cloned()) {
                    shard.record_replica(ReplicaKind::Unregister, json);
                }
                found
            })
            .collect()
    }
}

/// What discovery serves of each service id (its cached bytes).
pub struct Lookup(pub Vec<Box<str>>);

impl ShardOp for Lookup {
    type Reply = Vec<Served>;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Self::Reply {
        self.0.iter().map(|id| shard.served(id)).collect()
    }
}

/// [`Lookup`] for another core's mirror: the views, and the number of the owner's last
/// publication when they were read (see `crate::mirror::Mirror::fill`). The services looked up
/// are mirrored from now on: their changes publish their new views.
pub struct MirrorLookup(pub Vec<Box<str>>);

pub struct MirrorAnswer {
    pub views: Vec<Served>,
    /// The owner's last publication; None while changes of this loop turn are not published
    /// yet (a later change in the same turn would not be invalidated again: not to be kept).
    pub as_of: Option<u64>,
}

/// Per service looked up: its view and the owner's publication number then.
impl IntoIterator for MirrorAnswer {
    type Item = (Served, Option<u64>);
    type IntoIter = std::iter::Zip<std::vec::IntoIter<Served>, std::iter::Repeat<Option<u64>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.views.into_iter().zip(std::iter::repeat(self.as_of))
    }
}

impl ShardOp for MirrorLookup {
    type Reply = MirrorAnswer;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Self::Reply {
        MirrorAnswer {
            views: self.0.iter().map(|id| shard.mirror_served(id)).collect(),
            as_of: (!shard.has_publication()).then(|| shard.publications()),
        }
    }
}

/// One shard's part of `services.json`.
pub struct ServicesPart {
    /// Comma-separated Service objects, no brackets; empty when the shard has no service.
    pub json: Arc<[u8]>,
    /// The node version when the shard answered: the part includes every change up to it.
    pub version: u64,
}

pub struct Services;

impl ShardOp for Services {
    type Reply = ServicesPart;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Self::Reply {
        ServicesPart {
            json: shard.services_json(),
            version: shard.node_version(),
        }
    }
}

/// One shard's part of `services-delta.json`.
pub struct DeltaPart {
    /// Delta-map entries (`"serviceId":[InstanceChange,..]`, comma-separated), or why the shard's
    /// log cannot answer exactly.
    pub entries: Result<Vec<u8>, DeltaError>,
    /// The node version when the shard answered.
    pub version: u64,
}

/// The changes since a version.
pub struct Delta(pub u64);

impl ShardOp for Delta {
    type Reply = DeltaPart;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Self::Reply {
        let version = shard.node_version();
        let mut out = Vec::new();
        let entries = shard.delta_since(self.0, &mut out).map(|()| out);
        DeltaPart { entries, version }
    }
}

/// One shard's part of `status/leases.json`.
pub struct LeasesPart {
    /// Lease-map entries (`"serviceId":[LeaseStatus,..]`, comma-separated, no braces).
    pub json: Vec<u8>,
    /// Every lease of the class on the shard, listed or not.
    pub lease_count: usize,
    pub safe: SafeStatus,
}

/// The leases of one class (normal or legacy), at most `max_listed` of them listed.
pub struct Leases {
    pub legacy: bool,
    /// Only these services (looked up id by id), or every service.
    pub filter: Option<Arc<[Box<str>]>>,
    pub max_listed: usize,
    /// Epoch milliseconds as local calendar time, for display.
    pub local_time: fn(epoch_ms: i64) -> LocalTime,
}

impl ShardOp for Leases {
    type Reply = LeasesPart;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Self::Reply {
        let filter: Option<Vec<&str>> = self
            .filter
            .as_ref()
            .map(|f| f.iter().map(|s| &**s).collect());
        let mut json = Vec::new();
        let mut writer = LeaseMapWriter::default();
        // The service of the previous lease: leases arrive grouped by service.
        let mut current = String::new();
        let mut key = String::new();
        let mut listed = 0usize;
        // Java printed the epoch for the eviction time of a live lease.
        let eviction_time = (self.local_time)(0);
        let offset = shard.wall_ms(0);
        let wall = |mono_ms: u64| offset + mono_ms as i64;
        shard.for_each_lease(self.legacy, filter.as_deref(), |lease| {
            if listed == self.max_listed {
                return false;
            }
            listed += 1;
            key.clear();
            match parse::<Instance>(lease.instance_json) {
                Ok(instance) => instance.display_key(&mut key),
                Err(_) => key.push_str(lease.service_id),
            }
            let status = LeaseStatus {
                creation_time: (self.local_time)(wall(lease.created_ms)),
                eviction_time,
                instance: &key,
                renewal_time: (self.local_time)(wall(lease.renewed_ms)),
                ttl_ms: lease.ttl_ms,
            };
            let first = listed == 1 || current != lease.service_id;
            if first {
                current.clear();
                current.push_str(lease.service_id);
            }
            writer.push(&mut json, lease.service_id, first, &status);
            true
        });
        writer.finish(&mut json);
        LeasesPart {
            json,
            lease_count: shard.lease_count(self.legacy),
            safe: shard.safe_status(self.legacy),
        }
    }
}

/// Put a newer set of pull-outs in effect on the shard (see [`Shard::apply_management`]).
/// Once every shard answered, the snapshot (or a newer one) is in effect everywhere.
pub struct ApplyManagement(pub Arc<ManagementSnapshot>);

impl ShardOp for ApplyManagement {
    /// How many instances changed visibility.
    type Reply = usize;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> Self::Reply {
        shard.apply_management(self.0, now_ms)
    }
}

/// The management views' part of this shard (spec §10.2): every instance of one service (`Some`)
/// or of every service, pulled-out ones included, as comma-separated Service objects with each
/// instance's `status` "up"/"down" and its lease times in `metadata`, and the service's logical
/// instances and route rules from this shard's group data. Empty when the shard has none. Each
/// shard formats its own services, so a large registry is not re-serialized on the asking core
/// alone.
pub struct ManagementServices(pub Option<Box<str>>);

/// One registered instance of the service being written: its stored JSON (where it runs, for
/// resolving canary groups) and where its management JSON lies in the instances buffer.
struct ManagedMember {
    instance_id: Box<str>,
    stored: Arc<[u8]>,
    written: std::ops::Range<usize>,
}

impl ShardOp for ManagementServices {
    type Reply = Vec<u8>;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Self::Reply {
        let offset = shard.wall_ms(0);
        let management = shard.management().clone();
        let mut out = Vec::new();
        let mut instances = Vec::new();
        let mut members: Vec<ManagedMember> = Vec::new();
        let mut current: Option<Arc<str>> = None;
        let flush = |out: &mut Vec<u8>,
                     service: &str,
                     instances: &mut Vec<u8>,
                     members: &mut Vec<ManagedMember>| {
            instances.push(b']');
            if !out.is_empty() {
                out.push(b',');
            }
            let registered: Vec<RegisteredInstance<'_>> = members
                .iter()
                .map(|m| {
                    let (region_id, zone_id, _) = place::of_stored(&m.stored);
                    RegisteredInstance {
                        service_id: service,
                        region_id,
                        zone_id,
                        group_id: Some(place::group_of_stored(&m.stored)),
                        instance_id: &m.instance_id,
                        json: &instances[m.written.clone()],
                    }
                })
                .collect();
            let groups = management.groups().service(service);
            write_management_service(out, service, Some(instances), groups, &registered);
            instances.clear();
            members.clear();
        };
        shard.for_each_instance(self.0.as_deref(), |view| {
            if current
                .as_ref()
                .is_none_or(|c| !Arc::ptr_eq(c, view.service_id))
            {
                // Instances arrive grouped by service.
                if let Some(service) = current.take() {
                    flush(&mut out, &service, &mut instances, &mut members);
                }
                current = Some(view.service_id.clone());
                instances.push(b'[');
            } else {
                instances.push(b',');
            }
            let mark = instances.len();
            let written = write_management_instance(
                &mut instances,
                view.json,
                view.hidden,
                offset + view.created_ms as i64,
                offset + view.renewed_ms as i64,
                view.ttl_ms,
            );
            if written.is_err() {
                // Stored JSON is the server's own output: failing to read it back is a bug.
                debug_assert!(false, "stored instance JSON must parse");
                // Drop it with its separator, keeping the list's opening bracket.
                instances.truncate(mark);
                if instances.last() == Some(&b',') {
                    instances.pop();
                }
                return;
            }
            members.push(ManagedMember {
                instance_id: view.instance_id.into(),
                stored: view.json.clone(),
                written: mark..instances.len(),
            });
        });
        if let Some(service) = current {
            flush(&mut out, &service, &mut instances, &mut members);
        }
        out
    }
}

/// One step of this shard's part of the replication `services.json` (spec §9.3), the source a
/// peer copies the whole registry from: every instance as stored (both lease classes, pulled-out
/// ones included), grouped by service, at most `max_instances` per step so that a large
/// registry is listed in steps that each hold the core briefly. A service cut by a step's end
/// continues in the next step as another Service object with the same id (a copying peer
/// registers every instance of every listed service, so the split changes nothing for it).
pub struct RawServices {
    pub from: WalkCursor,
    pub max_instances: usize,
}

pub struct RawServicesStep {
    /// Comma-separated raw Service objects, no brackets; empty when the step listed nothing.
    pub json: Vec<u8>,
    /// Where the next step starts; None once the shard listed every instance.
    pub next: Option<WalkCursor>,
}

impl ShardOp for RawServices {
    type Reply = RawServicesStep;
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) -> Self::Reply {
        let mut json = Vec::new();
        let mut instances = Vec::new();
        let mut current: Option<Arc<str>> = None;
        let flush = |json: &mut Vec<u8>, service: &str, instances: &mut Vec<u8>| {
            instances.push(b']');
            if !json.is_empty() {
                json.push(b',');
            }
            write_service(json, Some(service), ServiceLists::Raw(instances));
            instances.clear();
        };
        let next = shard.walk_instances(self.from, self.max_instances, |view| {
            if current
                .as_ref()
                .is_none_or(|c| !Arc::ptr_eq(c, view.service_id))
            {
                // Instances arrive grouped by service.
                if let Some(service) = current.take() {
                    flush(&mut json, &service, &mut instances);
                }
                current = Some(view.service_id.clone());
                instances.push(b'[');
            } else {
                instances.push(b',');
            }
            instances.extend_from_slice(view.json);
        });
        if let Some(service) = current {
            flush(&mut json, &service, &mut instances);
        }
        RawServicesStep { json, next }
    }
}

/// A core now has (or no longer has) one more subscriber for a service. Counted per core, so
/// subscribe and unsubscribe of different sessions commute (see `crate::interest`).
pub struct Subscribe {
    pub service_key: Box<str>,
    pub core: u16,
}

impl ShardOp for Subscribe {
    type Reply = ();
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) {
        shard.subscribe(&self.service_key, self.core);
    }
}

pub struct Unsubscribe {
    pub service_key: Box<str>,
    pub core: u16,
}

impl ShardOp for Unsubscribe {
    type Reply = ();
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) {
        shard.unsubscribe(&self.service_key, self.core);
    }
}

/// A core gained (or lost) an `all-instance-change` subscriber.
pub struct SubscribeAll {
    pub core: u16,
}

impl ShardOp for SubscribeAll {
    type Reply = ();
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) {
        shard.subscribe_all(self.core);
    }
}

pub struct UnsubscribeAll {
    pub core: u16,
}

impl ShardOp for UnsubscribeAll {
    type Reply = ();
    const CHANGES_VIEWS: bool = false;
    fn execute(self, shard: &mut Shard, _now_ms: u64) {
        shard.unsubscribe_all(self.core);
    }
}

/// Expire leases due by now, at most `budget` of them; replies whether work is left over.
pub struct Expire {
    pub budget: usize,
}

impl ShardOp for Expire {
    type Reply = bool;
    fn execute(self, shard: &mut Shard, now_ms: u64) -> bool {
        shard.tick(now_ms, self.budget)
    }
}

/// (serviceId, instanceId) pairs packed into one allocation: heartbeats are the hot path.
#[derive(Clone, Default)]
pub struct PackedKeys {
    text: String,
    /// End offsets in `text` of each service id and the instance id that follows it.
    ends: SmallVec<[(u32, u32); 4]>,
}

impl PackedKeys {
    /// Pack the pairs of `keys` (iterated twice: once to size the buffer).
    pub fn from_pairs<'a>(keys: impl Iterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let (count, bytes) = keys
            .clone()
            .fold((0, 0), |(n, b), (s, i)| (n + 1, b + s.len() + i.len()));
        let mut packed = PackedKeys {
            text: String::with_capacity(bytes),
            ends: SmallVec::with_capacity(count),
        };
        for (service, instance) in keys {
            packed.push(service, instance);
        }
        packed
    }

    pub fn push(&mut self, service_id: &str, instance_id: &str) {
        self.text.push_str(service_id);
        let service_end = u32::try_from(self.text.len()).expect("keys under 4 GiB");
        self.text.push_str(instance_id);
        let instance_end = u32::try_from(self.text.len()).expect("keys under 4 GiB");
        self.ends.push((service_end, instance_end));
    }

    /// Append every pair of `other`.
    pub fn extend(&mut self, other: &PackedKeys) {
        for (service, instance) in other.iter() {
            self.push(service, instance);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShardConfig;

    #[test]
    fn packed_keys_round_trip() {
        let pairs = [("svcA", "i1"), ("", "x"), ("svcB", "")];
        let keys = PackedKeys::from_pairs(pairs.iter().copied());
        let all: Vec<(&str, &str)> = keys.iter().collect();
        assert_eq!(all, pairs);
        assert_eq!(keys.len(), 3);
    }

    fn item(service: &str, instance: &str) -> RegisterItem {
        RegisterItem {
            service_id: service.into(),
            instance_id: instance.into(),
            legacy: false,
            json: format!(r#"{{"instanceId":"{instance}","serviceId":"{service}"}}"#)
                .into_bytes()
                .into(),
            place: crate::place::join("r", "z", "10.0.0.1"),
        }
    }

    #[test]
    fn ops_answer_per_item_in_batch_order() {
        let mut shard = Shard::standalone(ShardConfig::default(), 1);
        let registered = Register(
            vec![item("s", "a"), item("s", "b"), item("s", "a")],
            Origin::Client,
        )
        .execute(&mut shard, 1);
        assert_eq!(
            registered.as_slice(),
            [Registered::New, Registered::New, Registered::Unchanged]
        );
        let keys = PackedKeys::from_pairs([("s", "b"), ("s", "zz"), ("S", "A")].into_iter());
        assert_eq!(
            Renew(keys, Origin::Client)
                .execute(&mut shard, 2)
                .as_slice(),
            [true, false, true]
        );
        let found = Lookup(vec!["S".into(), "t".into()]).execute(&mut shard, 2);
        assert!(matches!(
            found.as_slice(),
            [Served::Registered(_), Served::Unknown]
        ));
        let keys = PackedKeys::from_pairs([("s", "a"), ("s", "a")].into_iter());
        assert_eq!(
            Unregister {
                keys,
                origin: Origin::Client,
                sent: None,
            }
            .execute(&mut shard, 3)
            .as_slice(),
            [true, false]
        );
        let part = Services.execute(&mut shard, 3);
        assert!(std::str::from_utf8(&part.json)
            .unwrap()
            .contains(r#""instanceId":"b""#));
    }

    #[test]
    fn raw_services_list_every_instance_in_steps_with_javas_raw_shape() {
        let mut shard = Shard::standalone(ShardConfig::default(), 1);
        let items = vec![item("s", "a"), item("s", "b"), item("t", "c")];
        Register(items, Origin::Client).execute(&mut shard, 1);
        let whole = RawServices {
            from: WalkCursor::default(),
            max_instances: 10,
        }
        .execute(&mut shard, 1);
        assert!(whole.next.is_none());
        let text = String::from_utf8(whole.json).unwrap();
        use sonic_rs::JsonContainerTrait;
        let value: sonic_rs::Value = sonic_rs::from_str(&format!("[{text}]")).unwrap();
        let services = value.as_array().unwrap();
        assert_eq!(services.len(), 2, "{text}");
        assert!(text.contains(r#""logicInstances":null,"metadata":null,"routeRules":null"#));
        assert!(text.contains(
            r#"{"instances":[{"instanceId":"a","serviceId":"s"},{"instanceId":"b","serviceId":"s"}],"#
        ));

        // One instance per step: three steps, the service "s" split over two of them.
        let mut from = Some(WalkCursor::default());
        let mut steps = Vec::new();
        while let Some(cursor) = from {
            let step = RawServices {
                from: cursor,
                max_instances: 1,
            }
            .execute(&mut shard, 1);
            steps.push(String::from_utf8(step.json).unwrap());
            from = step.next;
        }
        assert_eq!(steps.len(), 3, "{steps:?}");
        assert!(steps
            .iter()
            .all(|s| s.matches("\"instanceId\"").count() == 1));
    }

    #[test]
    fn leases_list_at_most_max_listed_but_count_all() {
        let mut shard = Shard::standalone(ShardConfig::default(), 1);
        Register(
            vec![item("s", "a"), item("s", "b"), item("t", "c")],
            Origin::Client,
        )
        .execute(&mut shard, 1);
        let part = Leases {
            legacy: false,
            filter: None,
            max_listed: 2,
            local_time: |_| LocalTime::default(),
        }
        .execute(&mut shard, 1);
        assert_eq!(part.lease_count, 3);
        let text = String::from_utf8(part.json).unwrap();
        assert_eq!(text.matches("\"ttl\":").count(), 2, "{text}");
    }

    #[test]
    fn a_registry_copy_fills_in_missing_instances_and_keeps_held_ones() {
        let mut shard = Shard::standalone(ShardConfig::default(), 1);
        shard.set_replicating(true);
        // Written by a peer while the copy was on its way: newer than the copy.
        let mut newer = item("s", "a");
        newer.json = br#"{"instanceId":"a","serviceId":"s","newer":true}"#.to_vec().into();
        Register(vec![newer], Origin::Peer).execute(&mut shard, 1);

        let copy = vec![item("s", "a"), item("s", "b"), item("t", "c")];
        let filled = RegisterMissing(copy).execute(&mut shard, 2);
        assert_eq!(filled.as_slice(), [false, true, true]);
        assert_eq!(shard.instance_count(), 3);
        let served = Lookup(vec!["s".into()]).execute(&mut shard, 2)[0].clone();
        let crate::Served::Registered(s) = served else {
            panic!("s is registered: {served:?}");
        };
        let s = std::str::from_utf8(&s).unwrap();
        assert!(
            s.contains(r#""newer":true"#),
            "the held instance is kept: {s}"
        );
        assert!(s.contains(r#""instanceId":"b""#), "{s}");
        assert!(!shard.has_replicas(), "a copy is never replicated");

        // A copy listing an instance twice registers it once.
        let twice = RegisterMissing(vec![item("u", "d"), item("u", "d")]).execute(&mut shard, 3);
        assert_eq!(twice.as_slice(), [true, false]);
    }

    #[test]
    fn client_writes_are_recorded_for_peers_and_peer_writes_are_not() {
        let mut shard = Shard::standalone(ShardConfig::default(), 1);
        Register(vec![item("s", "a")], Origin::Client).execute(&mut shard, 1);
        assert!(
            !shard.has_replicas(),
            "a node without peers records nothing"
        );

        shard.set_replicating(true);
        Register(vec![item("s", "a"), item("s", "b")], Origin::Client).execute(&mut shard, 1);
        Register(vec![item("s", "c")], Origin::Peer).execute(&mut shard, 1);
        let keys = PackedKeys::from_pairs([("s", "a"), ("s", "zz")].into_iter());
        assert_eq!(
            Renew(keys.clone(), Origin::Client)
                .execute(&mut shard, 2)
                .as_slice(),
            &[true, false]
        );
        assert_eq!(
            Renew(keys.clone(), Origin::Peer)
                .execute(&mut shard, 2)
                .as_slice(),
            &[true, false]
        );
        let sent: Vec<Arc<[u8]>> =
            vec![b"{\"a\":1}".to_vec().into(), b"{\"zz\":1}".to_vec().into()];
        let removed = Unregister {
            keys,
            origin: Origin::Client,
            sent: Some(sent),
        }
        .execute(&mut shard, 3);
        assert_eq!(removed.as_slice(), &[true, false]);

        let replicas: Vec<(ReplicaKind, String)> = shard
            .drain_replicas()
            .map(|r| (r.kind, String::from_utf8(r.json.to_vec()).unwrap()))
            .collect();
        let stored = |i: &str| format!(r#"{{"instanceId":"{i}","serviceId":"s"}}"#);
        assert_eq!(
            replicas,
            vec![
                (ReplicaKind::Register, stored("a")),
                (ReplicaKind::Register, stored("b")),
                (ReplicaKind::Heartbeat, stored("a")),
                (ReplicaKind::Unregister, stored("a")),
                // Unknown here: the instance as the client sent it goes to the peers.
                (ReplicaKind::Unregister, r#"{"zz":1}"#.to_string()),
            ]
        );
        assert!(!shard.has_replicas());
    }
}
