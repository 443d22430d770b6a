//! One shard: the instances of the services that hash to it, their leases, and cached responses.
//!
//! A shard is owned by exactly one core's thread and is never shared, so it needs no locks. Time is
//! passed in explicitly (milliseconds on a monotonic clock) so tests can drive expiry precisely.

#[cfg(test)]
mod group_fixtures;
mod lease;
mod management;
mod served;

use std::sync::Arc;

use hashbrown::HashTable;

use protocol::model::management::ManagementSnapshot;
use protocol::model::{write_service, ChangeKind, ServiceLists};

use self::lease::{Leases, NewLease};
use self::served::{Member, ServedFields};
use crate::changes::{Changes, DeltaError, NodeShared, Push};
use crate::key::{same_key, same_key_bytes, table_hash, table_hash_bytes};
use crate::mirror::Publication;
use crate::safe::{SafeChecker, SafeConfig, SafeStatus};
use crate::wheel::{Due, TimingWheel, WheelEntry};

#[derive(Clone, Debug)]
pub struct ShardConfig {
    pub ttl_ms: u64,
    pub legacy_ttl_ms: u64,
    pub wheel_tick_ms: u64,
    /// Power of two. With 10 ms ticks, 4096 slots cover 41 s: one visit per normal lease per TTL.
    pub wheel_slots: usize,
    pub self_preservation: SafeConfig,
    pub legacy_self_preservation: SafeConfig,
    /// How long self-preservation holds an expired lease before looking at it again.
    pub preserved_recheck_ms: u64,
    /// Changes kept for deltas; older versions answer "fetch everything".
    pub change_log_capacity: usize,
    /// Epoch milliseconds minus the shard clock's milliseconds: `changeTime` is wall-clock time.
    pub wall_clock_offset_ms: i64,
}

impl Default for ShardConfig {
    fn default() -> Self {
        ShardConfig {
            ttl_ms: 20_000,
            legacy_ttl_ms: 90_000,
            wheel_tick_ms: 10,
            wheel_slots: 4096,
            self_preservation: SafeConfig::JAVA_DEFAULT,
            legacy_self_preservation: SafeConfig::JAVA_LEGACY_DEFAULT,
            preserved_recheck_ms: 1000,
            change_log_capacity: 16_384,
            wall_clock_offset_ms: 0,
        }
    }
}

struct Service {
    /// The spelling of the first registration; matching is case-insensitive.
    id: Arc<str>,
    instances: HashTable<u32>,
    members: Vec<u32>,
    /// What discovery serves of it; rebuilt lazily after a change.
    served: Option<ServedFields>,
    /// Other cores mirror its served view (one of them looked it up): a change publishes the
    /// new view to them, built once, instead of only invalidating it.
    mirrored: bool,
    /// Its id is in the publication being gathered (see [`Shard::take_publication`]).
    dirty: bool,
}

/// What discovery serves of a service id, as one shard knows it.
#[derive(Clone, Debug, Default)]
pub enum Served {
    /// Instances of it are registered: its Service fields before `serviceId`
    /// ([`protocol::model::write_service_fields`]).
    Registered(Arc<[u8]>),
    /// None is registered, but the group data serves logical instances or route rules for it:
    /// its Service fields, with no instance.
    GroupsOnly(Arc<[u8]>),
    /// Neither registered nor known to the group data.
    #[default]
    Unknown,
}

/// What a registration did, for change notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registered {
    New,
    /// Re-registered with different data.
    Replaced,
    /// Re-registered with identical data: the lease restarts, nothing else changes.
    Unchanged,
}

/// A registration as it reaches the shard.
struct Incoming<'a> {
    service_id: &'a str,
    instance_id: &'a str,
    legacy: bool,
    json: Arc<[u8]>,
    place: &'a str,
}

/// New data for a registered instance.
struct Update<'a> {
    instance_id: &'a str,
    legacy: bool,
    json: Arc<[u8]>,
    hidden: bool,
}

/// One registered instance, for the management views and the shutdown snapshot.
pub struct InstanceView<'a> {
    pub service_id: &'a Arc<str>,
    pub instance_id: &'a str,
    pub json: &'a Arc<[u8]>,
    pub legacy: bool,
    /// Pulled out: not served by discovery.
    pub hidden: bool,
    pub created_ms: u64,
    pub renewed_ms: u64,
    pub ttl_ms: u64,
}

/// Where a walk over every instance ([`Shard::walk_instances`]) resumes. The start is
/// `WalkCursor::default()`.
#[derive(Clone, Debug, Default)]
pub struct WalkCursor {
    /// The service slot the walk paused in.
    slot: u32,
    /// How many members of that service were visited.
    member: u32,
    /// The service the walk paused in, to notice that it left its slot meanwhile.
    service: Option<Arc<str>>,
}

/// The instance data of a lease, for status pages.
pub struct LeaseView<'a> {
    pub service_id: &'a str,
    pub instance_json: &'a [u8],
    pub created_ms: u64,
    pub renewed_ms: u64,
    pub ttl_ms: u64,
}

pub struct Shard {
    id: usize,
    wheel: TimingWheel,
    registry: Registry,
    last_safe_check_s: u64,
    /// Whether writes are recorded for cluster peers (the node has some).
    replicating: bool,
    /// Writes made since the owner last drained them, for the cluster peers.
    replicas: Vec<Replica>,
    /// Publications to the other cores' mirrors so far (the last one's number).
    publications: u64,
}

/// Which replication endpoint a write goes to (spec §9.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicaKind {
    Register,
    Heartbeat,
    Unregister,
}

/// One successful local write, for the cluster peers: the instance as stored (shared bytes).
#[derive(Clone, Debug)]
pub struct Replica {
    pub kind: ReplicaKind,
    pub json: Arc<[u8]>,
}

/// Everything but the wheel, so the wheel can call back into it while advancing.
struct Registry {
    config: ShardConfig,
    services: HashTable<u32>,
    service_slab: Vec<Option<Service>>,
    free_services: Vec<u32>,
    /// Every registered instance, as the shard stores it ([`lease`]).
    leases: Leases,
    safe: SafeChecker,
    legacy_safe: SafeChecker,
    instance_count: usize,
    legacy_count: usize,
    services_json: Option<Arc<[u8]>>,
    /// What discovery serves of services with no instance here but with group data (logical
    /// instances, route rules), by id: built at their first lookup, dropped with the snapshot.
    groups_only: HashTable<(Arc<str>, Arc<[u8]>)>,
    evicted_total: u64,
    changes: Changes,
    /// The pull-outs and group data in effect; instances the pull-outs cover are `hidden`.
    management: Arc<ManagementSnapshot>,
    /// Served views changed since the last publication to the other cores' mirrors.
    publishing: Publishing,
}

/// What the next publications will carry (see [`Shard::take_invalidations`] and
/// [`Shard::take_publication`]).
#[derive(Default)]
struct Publishing {
    /// Services whose served view changed since the last view publication (each once:
    /// `Service::dirty`).
    ids: Vec<Arc<str>>,
    /// `ids[..invalidated]` were invalidated already.
    invalidated: usize,
    /// A management snapshot came into effect: every mirrored view of this shard may be stale.
    flush: bool,
    flush_sent: bool,
}

impl Shard {
    pub fn new(id: usize, config: ShardConfig, shared: Arc<NodeShared>, now_ms: u64) -> Self {
        assert!(
            config.ttl_ms > 0 && config.legacy_ttl_ms > 0,
            "lease TTLs must be positive"
        );
        Shard {
            id,
            wheel: TimingWheel::new(config.wheel_tick_ms, config.wheel_slots, now_ms),
            registry: Registry {
                safe: SafeChecker::new(config.self_preservation, now_ms),
                legacy_safe: SafeChecker::new(config.legacy_self_preservation, now_ms),
                changes: Changes::new(
                    shared,
                    config.change_log_capacity,
                    config.wall_clock_offset_ms,
                ),
                config,
                services: HashTable::new(),
                service_slab: Vec::new(),
                free_services: Vec::new(),
                leases: Leases::default(),
                instance_count: 0,
                legacy_count: 0,
                services_json: None,
                groups_only: HashTable::new(),
                evicted_total: 0,
                management: Arc::default(),
                publishing: Publishing::default(),
            },
            last_safe_check_s: now_ms / 1000,
            replicating: false,
            replicas: Vec::new(),
            publications: 0,
        }
    }

    /// A shard that shares counters with nobody (tests, benchmarks, single-shard nodes).
    pub fn standalone(config: ShardConfig, now_ms: u64) -> Self {
        Shard::new(0, config, Arc::new(NodeShared::new(1, 0)), now_ms)
    }

    pub fn id(&self) -> usize {
        self.id
    }

    pub fn instance_count(&self) -> usize {
        self.registry.instance_count
    }

    pub fn service_count(&self) -> usize {
        self.registry.services.len()
    }

    /// Epoch milliseconds of a timestamp of the shard's monotonic clock.
    pub fn wall_ms(&self, mono_ms: u64) -> i64 {
        self.registry.config.wall_clock_offset_ms + mono_ms as i64
    }

    /// The node-wide version of the newest change (any shard).
    pub fn node_version(&self) -> u64 {
        self.registry.changes.shared().current_version()
    }

    /// Append the delta since `version` (see [`crate::changes::ChangeLog::delta_since`]).
    pub fn delta_since(&self, version: u64, out: &mut Vec<u8>) -> Result<(), DeltaError> {
        self.registry.changes.log().delta_since(version, out)
    }

    /// A core now has subscribers for `service_id`: send it that service's changes.
    pub fn subscribe(&mut self, service_id: &str, core: u16) {
        self.registry
            .changes
            .interest_mut()
            .subscribe(service_id, core);
    }

    pub fn unsubscribe(&mut self, service_id: &str, core: u16) {
        self.registry
            .changes
            .interest_mut()
            .unsubscribe(service_id, core);
    }

    /// A core now has `all-instance-change` subscribers.
    pub fn subscribe_all(&mut self, core: u16) {
        self.registry.changes.interest_mut().subscribe_all(core);
    }

    pub fn unsubscribe_all(&mut self, core: u16) {
        self.registry.changes.interest_mut().unsubscribe_all(core);
    }

    /// Changes waiting to be delivered to subscribers' cores.
    pub fn drain_pushes(&mut self) -> impl Iterator<Item = Push> + '_ {
        self.registry.changes.drain_pushes()
    }

    pub fn has_pushes(&self) -> bool {
        self.registry.changes.has_pushes()
    }

    pub fn evicted_total(&self) -> u64 {
        self.registry.evicted_total
    }

    /// Register (or re-register) an instance. `json` is its serialized form as discovery serves
    /// it; `place` its joined region, zone and ip ([`crate::place::join`]).
    pub fn register(
        &mut self,
        service_id: &str,
        instance_id: &str,
        legacy: bool,
        json: Arc<[u8]>,
        place: &str,
        now_ms: u64,
    ) -> Registered {
        let incoming = Incoming {
            service_id,
            instance_id,
            legacy,
            json,
            place,
        };
        let (index, schedule, outcome) = self.registry.upsert(incoming, now_ms);
        if let Some(generation) = schedule {
            let deadline = now_ms + self.registry.ttl(legacy);
            self.wheel
                .schedule(deadline + 1, WheelEntry { index, generation });
        }
        outcome
    }

    /// Whether the shard holds the instance (its lease may be due but not expired yet).
    pub fn holds(&self, service_id: &str, instance_id: &str) -> bool {
        self.registry.find(service_id, instance_id).is_some()
    }

    /// Renew a live lease. False if the instance is unknown or its lease already expired (the
    /// client must register again).
    pub fn heartbeat(&mut self, service_id: &str, instance_id: &str, now_ms: u64) -> bool {
        self.registry
            .renew(service_id, instance_id, now_ms)
            .is_some()
    }

    /// [`Shard::heartbeat`], and on success the stored JSON of the renewed instance (what a
    /// cluster peer is sent).
    pub fn heartbeat_json(
        &mut self,
        service_id: &str,
        instance_id: &str,
        now_ms: u64,
    ) -> Option<Arc<[u8]>> {
        let index = self.registry.renew(service_id, instance_id, now_ms)?;
        Some(self.registry.leases.live(index).json().clone())
    }

    /// [`Shard::unregister`], returning the stored JSON of the removed instance.
    pub fn unregister_json(
        &mut self,
        service_id: &str,
        instance_id: &str,
        now_ms: u64,
    ) -> Option<Arc<[u8]>> {
        let index = self.registry.find(service_id, instance_id)?;
        let json = self.registry.leases.live(index).json().clone();
        self.registry.remove(index, now_ms);
        Some(json)
    }

    /// Whether writes made here are recorded for cluster peers ([`Shard::drain_replicas`]).
    pub fn set_replicating(&mut self, on: bool) {
        self.replicating = on;
    }

    pub fn replicating(&self) -> bool {
        self.replicating
    }

    /// Record a write for the cluster peers (ignored when the node has none).
    pub fn record_replica(&mut self, kind: ReplicaKind, json: Arc<[u8]>) {
        if self.replicating {
            self.replicas.push(Replica { kind, json });
        }
    }

    /// The writes to send to cluster peers, oldest first, since the last drain.
    pub fn drain_replicas(&mut self) -> std::vec::Drain<'_, Replica> {
        self.replicas.drain(..)
    }

    pub fn has_replicas(&self) -> bool {
        !self.replicas.is_empty()
    }

    /// Remove an instance at once. False if it was not registered (still a success on the wire).
    pub fn unregister(&mut self, service_id: &str, instance_id: &str, now_ms: u64) -> bool {
        match self.registry.find(service_id, instance_id) {
            Some(index) => {
                self.registry.remove(index, now_ms);
                true
            }
            None => false,
        }
    }

    /// What discovery serves of a service (its cached bytes).
    pub fn served(&mut self, service_id: &str) -> Served {
        match self.registry.find_service(service_id) {
            Some(slot) => Served::Registered(self.registry.service_served(slot).fields),
            None => self
                .registry
                .groups_only(service_id)
                .map_or(Served::Unknown, Served::GroupsOnly),
        }
    }

    /// [`Shard::served`] for another core's mirror: from now on a change of the service
    /// publishes its new view (built once) rather than only invalidating it.
    pub fn mirror_served(&mut self, service_id: &str) -> Served {
        if let Some(slot) = self.registry.find_service(service_id) {
            self.registry.service_mut(slot).mirrored = true;
        }
        self.served(service_id)
    }

    /// Whether served views changed since the last [`Shard::take_publication`].
    pub fn has_publication(&self) -> bool {
        let p = &self.registry.publishing;
        p.flush || !p.ids.is_empty()
    }

    /// The number of the last publication taken (0: none yet).
    pub fn publications(&self) -> u64 {
        self.publications
    }

    /// The first half of publishing, right after each operation and before its answer: drop
    /// the changed views from every mirror (cheap: ids only). Until the new views follow at the
    /// end of the loop turn ([`Shard::take_publication`]), other cores ask the owner, so no
    /// core serves a view older than an answered write. None when nothing changed since.
    pub fn take_invalidations(&mut self) -> Option<Publication> {
        let p = &mut self.registry.publishing;
        let flush = p.flush && !p.flush_sent;
        if !flush && p.invalidated == p.ids.len() {
            return None;
        }
        let entries = p.ids[p.invalidated..]
            .iter()
            .map(|id| (id.clone(), None))
            .collect();
        p.invalidated = p.ids.len();
        p.flush_sent |= flush;
        Some(self.numbered(flush, entries))
    }

    /// The second half, once per loop turn: the new view of each changed service other cores
    /// mirror (built now, once, shared by every core), and the invalidations not sent yet.
    /// Clears what changed. None when there is nothing to send.
    pub fn take_publication(&mut self) -> Option<Publication> {
        let publishing = std::mem::take(&mut self.registry.publishing);
        let mut entries = Vec::new();
        for (n, id) in publishing.ids.into_iter().enumerate() {
            let invalidated = n < publishing.invalidated;
            let view = match self.registry.find_service(&id) {
                Some(slot) => {
                    let service = self.registry.service_mut(slot);
                    service.dirty = false;
                    if service.mirrored {
                        Some(Served::Registered(
                            self.registry.service_served(slot).fields,
                        ))
                    } else {
                        None
                    }
                }
                None => None,
            };
            if view.is_some() || !invalidated {
                entries.push((id, view));
            }
        }
        let flush = publishing.flush && !publishing.flush_sent;
        if entries.is_empty() && !flush {
            return None;
        }
        Some(self.numbered(flush, entries))
    }

    fn numbered(&mut self, flush: bool, entries: Vec<(Arc<str>, Option<Served>)>) -> Publication {
        self.publications += 1;
        self.registry
            .changes
            .shared()
            .set_publication_due(self.id, self.publications);
        Publication {
            seq: self.publications,
            flush,
            entries,
        }
    }

    /// The services of this shard as comma-separated Service objects (no brackets), for
    /// `services.json`; empty when the shard has no services.
    pub fn services_json(&mut self) -> Arc<[u8]> {
        if let Some(cached) = &self.registry.services_json {
            return cached.clone();
        }
        let mut out = Vec::new();
        let slots: Vec<u32> = self.registry.services.iter().copied().collect();
        for slot in slots {
            let served = self.registry.service_served(slot);
            if !served.has_instances {
                // Every instance is pulled out: listed again when one comes back (with a `new`
                // change, so deltas stay exact).
                continue;
            }
            if !out.is_empty() {
                out.push(b',');
            }
            let id = &self.registry.service(slot).id;
            write_service(&mut out, Some(&**id), ServiceLists::Served(&served.fields));
        }
        let json: Arc<[u8]> = out.into();
        self.registry.services_json = Some(json.clone());
        json
    }

    /// Advance the lease clock: expire due leases (at most `budget`), and once a second publish and
    /// re-evaluate the self-preservation counts. Returns true if expiry work is left over.
    pub fn tick(&mut self, now_ms: u64, budget: usize) -> bool {
        let second = now_ms / 1000;
        if second > self.last_safe_check_s {
            self.last_safe_check_s = second;
            self.check_self_preservation(now_ms);
        }
        let registry = &mut self.registry;
        self.wheel
            .advance(now_ms, budget, |entry| registry.on_due(entry, now_ms))
    }

    fn check_self_preservation(&mut self, now_ms: u64) {
        let r = &mut self.registry;
        let shared = r.changes.shared().clone();
        let window = r.safe.local_window_count(now_ms);
        shared.renewals.publish(self.id, window);
        let legacy_window = r.legacy_safe.local_window_count(now_ms);
        shared.legacy_renewals.publish(self.id, legacy_window);
        r.safe.check(shared.renewals.total(), now_ms);
        r.legacy_safe.check(shared.legacy_renewals.total(), now_ms);
    }

    pub fn safe_status(&self, legacy: bool) -> SafeStatus {
        if legacy {
            self.registry.legacy_safe.status()
        } else {
            self.registry.safe.status()
        }
    }

    pub fn lease_count(&self, legacy: bool) -> usize {
        if legacy {
            self.registry.legacy_count
        } else {
            self.registry.instance_count - self.registry.legacy_count
        }
    }

    /// Visit the leases of one class (normal or legacy), optionally only of some services, until
    /// `visit` returns false.
    pub fn for_each_lease(
        &self,
        legacy: bool,
        service_filter: Option<&[&str]>,
        mut visit: impl FnMut(LeaseView<'_>) -> bool,
    ) {
        let r = &self.registry;
        // A filter is looked up id by id (not scanned against every service).
        let slots: Vec<u32> = match service_filter {
            Some(filter) => {
                let mut found: Vec<u32> = filter.iter().filter_map(|s| r.find_service(s)).collect();
                found.sort_unstable();
                found.dedup();
                found
            }
            None => r.services.iter().copied().collect(),
        };
        for slot in slots {
            let service = r.service(slot);
            for &index in &service.members {
                let lease = r.leases.live(index);
                if lease.legacy() != legacy {
                    continue;
                }
                let more = visit(LeaseView {
                    service_id: &service.id,
                    instance_json: lease.json(),
                    created_ms: lease.created_ms,
                    renewed_ms: lease.renewed_ms,
                    ttl_ms: r.ttl(legacy),
                });
                if !more {
                    return;
                }
            }
        }
    }

    /// Visit every instance (both lease classes, hidden ones included) of one service or of all,
    /// for the management views and the registry snapshot taken at shutdown.
    pub fn for_each_instance(
        &self,
        service_id: Option<&str>,
        mut visit: impl FnMut(InstanceView<'_>),
    ) {
        let r = &self.registry;
        let slots: Vec<u32> = match service_id {
            Some(id) => r.find_service(id).into_iter().collect(),
            None => r.services.iter().copied().collect(),
        };
        for slot in slots {
            let service = r.service(slot);
            for &index in &service.members {
                visit(r.instance_view(&service.id, index));
            }
        }
    }

    /// Visit at most `max` instances (both lease classes, hidden ones included), service by
    /// service in the order of the service slots, starting at `from`; returns where to resume,
    /// or None once every instance was visited. Between two calls the registry may change: an
    /// instance registered or removed meanwhile may be visited or not, and one moved within its
    /// service by a removal may be visited twice or not at all; every instance present
    /// throughout is visited.
    pub fn walk_instances(
        &self,
        from: WalkCursor,
        max: usize,
        mut visit: impl FnMut(InstanceView<'_>),
    ) -> Option<WalkCursor> {
        assert!(max > 0, "a walk step visits at least one instance");
        let r = &self.registry;
        let mut slot = from.slot as usize;
        let mut member = from.member as usize;
        // The paused service left its slot (and another may have taken it): start over there.
        let same_service = r
            .service_slab
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|s| {
                from.service
                    .as_ref()
                    .is_some_and(|paused| Arc::ptr_eq(paused, &s.id))
            });
        if !same_service {
            member = 0;
        }
        let mut visited = 0;
        while slot < r.service_slab.len() {
            let Some(service) = &r.service_slab[slot] else {
                slot += 1;
                continue;
            };
            while member < service.members.len() {
                if visited == max {
                    return Some(WalkCursor {
                        slot: slot as u32,
                        member: member as u32,
                        service: Some(service.id.clone()),
                    });
                }
                visit(r.instance_view(&service.id, service.members[member]));
                visited += 1;
                member += 1;
            }
            slot += 1;
            member = 0;
        }
        None
    }

    /// Number of entries in the lease wheel (live leases plus stale entries not yet passed).
    pub fn wheel_len(&self) -> usize {
        self.wheel.len()
    }
}

impl Registry {
    fn ttl(&self, legacy: bool) -> u64 {
        if legacy {
            self.config.legacy_ttl_ms
        } else {
            self.config.ttl_ms
        }
    }

    fn service(&self, slot: u32) -> &Service {
        self.service_slab[slot as usize]
            .as_ref()
            .expect("service table points at a live service")
    }

    fn service_mut(&mut self, slot: u32) -> &mut Service {
        self.service_slab[slot as usize]
            .as_mut()
            .expect("service table points at a live service")
    }

    fn instance_view<'a>(&'a self, service_id: &'a Arc<str>, index: u32) -> InstanceView<'a> {
        let lease = self.leases.live(index);
        InstanceView {
            service_id,
            instance_id: self.leases.id(index),
            json: lease.json(),
            legacy: lease.legacy(),
            hidden: lease.hidden(),
            created_ms: lease.created_ms,
            renewed_ms: lease.renewed_ms,
            ttl_ms: self.ttl(lease.legacy()),
        }
    }

    fn find_service(&self, service_id: &str) -> Option<u32> {
        let slab = &self.service_slab;
        self.services
            .find(table_hash(service_id), |&slot| {
                slab[slot as usize]
                    .as_ref()
                    .is_some_and(|s| same_key(&s.id, service_id))
            })
            .copied()
    }

    fn find(&self, service_id: &str, instance_id: &str) -> Option<u32> {
        let service = self.service(self.find_service(service_id)?);
        let leases = &self.leases;
        service
            .instances
            .find(table_hash(instance_id), |&index| {
                leases.get(index).is_live()
                    && same_key_bytes(leases.id_bytes(index), instance_id.as_bytes())
            })
            .copied()
    }

    fn service_or_insert(&mut self, service_id: &str) -> u32 {
        if let Some(slot) = self.find_service(service_id) {
            return slot;
        }
        let service = Service {
            id: service_id.into(),
            instances: HashTable::new(),
            members: Vec::new(),
            served: None,
            mirrored: false,
            dirty: false,
        };
        let slot = match self.free_services.pop() {
            Some(slot) => {
                self.service_slab[slot as usize] = Some(service);
                slot
            }
            None => {
                self.service_slab.push(Some(service));
                u32::try_from(self.service_slab.len() - 1).expect("fewer than 2^32 services")
            }
        };
        let slab = &self.service_slab;
        self.services
            .insert_unique(table_hash(service_id), slot, |&s| {
                table_hash(&slab[s as usize].as_ref().expect("live service").id)
            });
        slot
    }

    fn upsert(&mut self, incoming: Incoming<'_>, now_ms: u64) -> (u32, Option<u32>, Registered) {
        let Incoming {
            service_id,
            instance_id,
            legacy,
            json,
            place,
        } = incoming;
        let slot = self.service_or_insert(service_id);
        let hidden = self.is_pulled_out(service_id, instance_id, place, &json);
        if let Some(index) = self.find(service_id, instance_id) {
            let update = Update {
                instance_id,
                legacy,
                json,
                hidden,
            };
            return self.update(slot, index, update, now_ms);
        }
        let index = self.leases.insert(NewLease {
            json,
            instance_id,
            service: slot,
            legacy,
            hidden,
            now_ms,
        });
        let leases = &mut self.leases;
        let service = self.service_slab[slot as usize]
            .as_mut()
            .expect("service was just found or inserted");
        let position = u32::try_from(service.members.len()).expect("fewer than 2^32 members");
        service.members.push(index);
        service
            .instances
            .insert_unique(table_hash(instance_id), index, |&i| {
                table_hash_bytes(leases.id_bytes(i))
            });
        let lease = leases.get_mut(index);
        lease.position = position;
        let generation = lease.generation();
        self.instance_count += 1;
        if legacy {
            self.legacy_count += 1;
        }
        if hidden {
            // Not served, so nothing to announce; the service may be new to `services.json`.
            self.invalidate(slot);
        } else {
            let json = self.leases.live(index).json().clone();
            self.changed(slot, ChangeKind::New, index, &json, now_ms);
        }
        (index, Some(generation), Registered::New)
    }

    /// Re-registration of a known instance.
    fn update(
        &mut self,
        slot: u32,
        index: u32,
        update: Update<'_>,
        now_ms: u64,
    ) -> (u32, Option<u32>, Registered) {
        let lease = self.leases.get_mut(index);
        assert!(lease.is_live(), "found lease is live");
        // The lease's wheel entry stays valid while its TTL class does: it fires no later than
        // the new deadline and reschedules itself. A class change may shorten the TTL, so
        // then a new generation orphans the old entry and a new one is scheduled.
        let class_changed = lease.legacy() != update.legacy;
        let schedule = class_changed.then(|| lease.bump_generation());
        if class_changed {
            if update.legacy {
                self.legacy_count += 1;
            } else {
                assert!(self.legacy_count > 0, "a legacy lease is counted");
                self.legacy_count -= 1;
            }
        }
        let lease = self.leases.get_mut(index);
        lease.set_legacy(update.legacy);
        lease.created_ms = now_ms;
        lease.renewed_ms = now_ms;
        if **lease.json() == *update.json {
            // Same JSON, same region, zone and ip: the pull-out state cannot differ either.
            return (index, schedule, Registered::Unchanged);
        }
        let was_hidden = lease.hidden();
        lease.set_hidden(update.hidden);
        let json = update.json.clone();
        // The latest registration's spelling is echoed from now on, as its JSON is.
        let old_json = self.leases.replace(index, update.json, update.instance_id);
        match (was_hidden, update.hidden) {
            (false, false) => self.changed(slot, ChangeKind::Change, index, &json, now_ms),
            // Subscribers last saw the old data: that is what leaves.
            (false, true) => self.changed(slot, ChangeKind::Delete, index, &old_json, now_ms),
            (true, false) => self.changed(slot, ChangeKind::New, index, &json, now_ms),
            (true, true) => self.invalidate(slot),
        }
        (index, schedule, Registered::Replaced)
    }

    /// Renew a live lease; its index, or None when unknown or expired.
    fn renew(&mut self, service_id: &str, instance_id: &str, now_ms: u64) -> Option<u32> {
        let index = self.find(service_id, instance_id)?;
        let lease = self.leases.get_mut(index);
        let legacy = lease.legacy();
        let ttl = if legacy {
            self.config.legacy_ttl_ms
        } else {
            self.config.ttl_ms
        };
        // Expiry is sticky (Java `Lease.isExpired`): a lease that self-preservation is holding
        // stays visible, but its owner must register again.
        if now_ms > lease.renewed_ms + ttl {
            return None;
        }
        lease.renewed_ms = now_ms;
        if legacy {
            self.legacy_safe.record_renewal(now_ms);
        } else {
            self.safe.record_renewal(now_ms);
        }
        Some(index)
    }

    fn remove(&mut self, index: u32, now_ms: u64) {
        let lease = self.leases.live(index);
        let (slot, position, legacy, hidden) = (
            lease.service,
            lease.position,
            lease.legacy(),
            lease.hidden(),
        );
        let hash = table_hash_bytes(self.leases.id_bytes(index));
        assert!(self.instance_count > 0, "a live lease is counted");
        self.instance_count -= 1;
        if legacy {
            assert!(self.legacy_count > 0, "a live legacy lease is counted");
            self.legacy_count -= 1;
        }
        if hidden {
            self.invalidate(slot);
        } else {
            // Announced while the lease still holds its id.
            let json = self.leases.live(index).json().clone();
            self.changed(slot, ChangeKind::Delete, index, &json, now_ms);
        }
        self.leases.remove(index);

        let service = self.service_slab[slot as usize]
            .as_mut()
            .expect("lease points at a live service");
        let removed = service
            .instances
            .find_entry(hash, |&i| i == index)
            .expect("live lease is in its service table")
            .remove()
            .0;
        debug_assert_eq!(removed, index);
        service.members.swap_remove(position as usize);
        if let Some(&moved) = service.members.get(position as usize) {
            self.leases.get_mut(moved).position = position;
        }
        if service.members.is_empty() {
            self.remove_service(slot);
        }
    }

    fn remove_service(&mut self, slot: u32) {
        let service = self.service_slab[slot as usize]
            .take()
            .expect("removing a live service");
        self.services
            .find_entry(table_hash(&service.id), |&s| s == slot)
            .expect("live service is in the table")
            .remove();
        self.free_services.push(slot);
    }

    /// Discovery data of a service changed: drop its cached responses and record the change of
    /// the live lease `index` (its id as now registered, `json` the data the change shows).
    fn changed(&mut self, slot: u32, kind: ChangeKind, index: u32, json: &Arc<[u8]>, now_ms: u64) {
        self.invalidate(slot);
        let service_id = self.service(slot).id.clone();
        self.changes
            .record(kind, &service_id, self.leases.id(index), json, now_ms);
    }

    /// A service's served bytes must be rebuilt (no change to announce).
    fn invalidate(&mut self, slot: u32) {
        self.services_json = None;
        let service = self.service_slab[slot as usize]
            .as_mut()
            .expect("service table points at a live service");
        service.served = None;
        if !service.dirty {
            service.dirty = true;
            self.publishing.ids.push(service.id.clone());
        }
    }

    /// What discovery serves of a registered service: cached, or built now and cached.
    fn service_served(&mut self, slot: u32) -> ServedFields {
        let service = self.service(slot);
        if let Some(cached) = &service.served {
            return cached.clone();
        }
        let leases = &self.leases;
        let members = service.members.iter().map(|&i| {
            let lease = leases.live(i);
            Member {
                instance_id: leases.id(i),
                json: lease.json(),
                hidden: lease.hidden(),
            }
        });
        let served = served::build(&service.id, members, &self.management);
        self.service_mut(slot).served = Some(served.clone());
        served
    }

    /// What discovery serves of a service with no instance here, when the group data serves
    /// something for it: cached, or built now and cached.
    fn groups_only(&mut self, service_id: &str) -> Option<Arc<[u8]>> {
        let hash = table_hash(service_id);
        if let Some((_, fields)) = self
            .groups_only
            .find(hash, |(id, _)| same_key(id, service_id))
        {
            return Some(fields.clone());
        }
        self.management.groups().service(service_id)?;
        let served = served::build(service_id, std::iter::empty(), &self.management);
        self.groups_only.insert_unique(
            hash,
            (service_id.into(), served.fields.clone()),
            |(id, _)| table_hash(id),
        );
        Some(served.fields)
    }

    fn on_due(&mut self, entry: WheelEntry, now_ms: u64) -> Due {
        let lease = self.leases.get(entry.index);
        if lease.generation() != entry.generation || !lease.is_live() {
            return Due::Done;
        }
        let deadline = lease.renewed_ms + self.ttl(lease.legacy());
        if now_ms <= deadline {
            return Due::Reschedule(deadline + 1);
        }
        let allowed = if lease.legacy() {
            self.legacy_safe.eviction_allowed()
        } else {
            self.safe.eviction_allowed()
        };
        if !allowed {
            return Due::Reschedule(now_ms + self.config.preserved_recheck_ms);
        }
        self.remove(entry.index, now_ms);
        self.evicted_total += 1;
        Due::Done
    }
}

#[cfg(test)]
mod tests;
