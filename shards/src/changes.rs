//! Instance changes: versions, the bounded per-shard change log that answers deltas, and the
//! `InstanceChange` messages pushed to subscribers, serialized once as ready WebSocket frames.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use hashbrown::HashMap;
use protocol::model::{
    write_instance_change, write_reload_instance, write_service_changes, ChangeKind,
};
use protocol::ws::{write_frame, OpCode};

use crate::router::Router;
use crate::safe::RenewalCounters;

/// State every shard of a node shares. Each field is written without locks: the version counter
/// only on changes (never on heartbeats), the renewal counters once a second per shard.
pub struct NodeShared {
    pub renewals: RenewalCounters,
    pub legacy_renewals: RenewalCounters,
    /// Which shard owns a service: the one that announces what concerns the service alone.
    pub router: Router,
    first_version: u64,
    version: AtomicU64,
    /// Per shard: the number of the publication to the mirrors that will carry the served views
    /// changed so far (see `crate::mirror`); written by the owner when a step changed one.
    publication_due: Box<[AtomicU64]>,
}

impl NodeShared {
    /// `first_version` should come from the wall clock (e.g. epoch ms × 1000) so versions a client
    /// kept from an earlier run of the node are older than anything the new log holds.
    pub fn new(shards: usize, first_version: u64) -> Self {
        NodeShared {
            renewals: RenewalCounters::new(shards),
            legacy_renewals: RenewalCounters::new(shards),
            router: Router::new(shards),
            first_version,
            version: AtomicU64::new(first_version),
            publication_due: (0..shards).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The publication of `shard` that carries every served view it changed so far.
    pub fn publication_due(&self, shard: usize) -> u64 {
        self.publication_due[shard].load(Ordering::Acquire)
    }

    /// `shard`'s changes so far go out in its publication `seq` (called by its owner before it
    /// answers the write that made them, so the writer reads at least `seq`).
    pub fn set_publication_due(&self, shard: usize, seq: u64) {
        self.publication_due[shard].store(seq, Ordering::Release);
    }

    /// The version the node started at: no change of any shard is older.
    pub fn first_version(&self) -> u64 {
        self.first_version
    }

    /// The version of the newest change anywhere on the node.
    pub fn current_version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn next_version(&self) -> u64 {
        self.version.fetch_add(1, Ordering::AcqRel) + 1
    }
}

/// One logged change: what deltas are made of.
struct Entry {
    version: u64,
    time_ms: i64,
    kind: ChangeKind,
    service: Arc<str>,
    /// The instance's id; a `reload` has the fake instance's, which deltas never compare. Its
    /// own copy: shards keep ids inside the stored JSON, not as a shareable allocation.
    instance_id: Box<str>,
    instance_json: Arc<[u8]>,
}

impl Entry {
    /// What the change is compacted with: later changes of the same instance replace it, and
    /// a later `reload` of the service replaces an earlier one.
    fn key(&self) -> (String, Option<String>) {
        let instance =
            (self.kind != ChangeKind::Reload).then(|| self.instance_id.to_ascii_lowercase());
        (self.service.to_ascii_lowercase(), instance)
    }

    /// As a delta lists it: the instance present (`new`), gone (`delete`) or the service to
    /// look up again (`reload`).
    fn delta_kind(&self) -> ChangeKind {
        match self.kind {
            ChangeKind::New | ChangeKind::Change => ChangeKind::New,
            kind @ (ChangeKind::Delete | ChangeKind::Reload) => kind,
        }
    }
}

/// The last `capacity` changes of one shard.
pub struct ChangeLog {
    entries: VecDeque<Entry>,
    capacity: usize,
    /// Deltas can be answered from any version >= floor: every change after it is still here.
    floor: u64,
}

/// Why a delta cannot be answered from the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeltaError {
    /// The version is older than the oldest change kept: the client must fetch everything.
    TooOld,
}

impl ChangeLog {
    pub fn new(capacity: usize, floor: u64) -> Self {
        assert!(capacity > 0, "change log needs room for one change");
        ChangeLog {
            entries: VecDeque::new(),
            capacity,
            floor,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, entry: Entry) {
        if self.entries.len() == self.capacity {
            if let Some(oldest) = self.entries.pop_front() {
                self.floor = oldest.version;
            }
        }
        self.entries.push_back(entry);
    }

    /// The changes after `since`, compacted to the last change of each instance (and the last
    /// `reload` of each service), as the entries of the delta map:
    /// `"serviceId":[InstanceChange,...]`, comma-separated, no braces. Applying them (new =
    /// upsert, delete = remove, reload = look the service up again) to the state at `since`
    /// gives the state now.
    pub fn delta_since(&self, since: u64, out: &mut Vec<u8>) -> Result<(), DeltaError> {
        if since < self.floor {
            return Err(DeltaError::TooOld);
        }
        let start = self.entries.partition_point(|e| e.version <= since);
        let recent = self.entries.range(start..);
        // Last change per instance, then grouped per service in order of first appearance.
        let mut last: HashMap<(String, Option<String>), usize> = HashMap::new();
        for (i, e) in recent.clone().enumerate() {
            last.insert(e.key(), i);
        }
        let mut groups: Vec<(String, Arc<str>, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        for (i, e) in recent.clone().enumerate() {
            let key = e.key();
            if last.get(&key) != Some(&i) {
                continue;
            }
            let g = *group_of.entry(key.0.clone()).or_insert_with(|| {
                groups.push((key.0.clone(), e.service.clone(), Vec::new()));
                groups.len() - 1
            });
            groups[g].1 = e.service.clone();
            groups[g].2.push(i);
        }
        let recent: Vec<&Entry> = recent.collect();
        for (n, (_, service, members)) in groups.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let changes = members.iter().map(|&i| {
                let e = recent[i];
                (e.time_ms, e.delta_kind(), &e.instance_json[..])
            });
            write_service_changes(out, service, changes);
        }
        Ok(())
    }
}

/// The changes of one service made by one shard step, for the subscribers on some cores: every
/// change is one complete WebSocket text frame (an `InstanceChange`), the frames concatenated in
/// the order the changes happened. Built once and shared by every core and session it goes to,
/// which write it to their sockets as it is.
pub struct Push {
    /// Lower-cased service id: the key of every core's subscription table.
    pub service_key: Arc<str>,
    pub frames: Arc<[u8]>,
    /// How many changes (frames) `frames` holds.
    pub changes: u32,
    pub cores: smallvec::SmallVec<[u16; 4]>,
    /// When the step recorded its first change for a subscriber (monotonic): the start of the
    /// fan-out cost the server reports (`artemis_push_fanout_seconds_total`).
    pub recorded: Instant,
}

/// A [`Push`] still collecting the step's changes.
struct PendingPush {
    service_key: Arc<str>,
    frames: Vec<u8>,
    changes: u32,
    cores: smallvec::SmallVec<[u16; 4]>,
    recorded: Instant,
}

impl PendingPush {
    fn finish(self) -> Push {
        Push {
            service_key: self.service_key,
            frames: self.frames.into(),
            changes: self.changes,
            cores: self.cores,
            recorded: self.recorded,
        }
    }
}

/// Records changes: assigns versions, logs them, and collects pushes for interested cores.
pub struct Changes {
    shared: Arc<NodeShared>,
    log: ChangeLog,
    /// This step's pushes, in order of each service's first change.
    pushes: Vec<PendingPush>,
    /// Service key → its push in `pushes` that later changes of the step append to.
    push_of: HashMap<Arc<str>, usize>,
    /// When this step recorded its first change for a subscriber: one clock read per step
    /// (until the pushes are drained), shared by all its pushes.
    step_recorded: Option<Instant>,
    /// Scratch for one change's message and the lower-cased service id.
    message: Vec<u8>,
    key: String,
    interest: crate::interest::Interest,
    wall_offset_ms: i64,
}

impl Changes {
    pub fn new(shared: Arc<NodeShared>, log_capacity: usize, wall_offset_ms: i64) -> Self {
        // Shards start at slightly different times, and another may already have recorded
        // changes; none of them were this shard's, so its log is complete from the node's start.
        let floor = shared.first_version();
        Changes {
            shared,
            log: ChangeLog::new(log_capacity, floor),
            pushes: Vec::new(),
            push_of: HashMap::new(),
            step_recorded: None,
            message: Vec::new(),
            key: String::new(),
            interest: crate::interest::Interest::default(),
            wall_offset_ms,
        }
    }

    pub fn shared(&self) -> &Arc<NodeShared> {
        &self.shared
    }

    pub fn log(&self) -> &ChangeLog {
        &self.log
    }

    pub fn interest_mut(&mut self) -> &mut crate::interest::Interest {
        &mut self.interest
    }

    pub fn record(
        &mut self,
        kind: ChangeKind,
        service: &Arc<str>,
        instance_id: &str,
        instance_json: &Arc<[u8]>,
        now_ms: u64,
    ) {
        let time_ms = self.wall_offset_ms + now_ms as i64;
        self.log.push(Entry {
            version: self.shared.next_version(),
            time_ms,
            kind,
            service: service.clone(),
            instance_id: instance_id.into(),
            instance_json: instance_json.clone(),
        });
        let cores = self.interest.cores_for(service);
        if cores.is_empty() {
            return;
        }
        let recorded = *self.step_recorded.get_or_insert_with(Instant::now);
        self.message.clear();
        write_instance_change(&mut self.message, time_ms, kind, instance_json);
        self.key.clear();
        self.key.push_str(service);
        self.key.make_ascii_lowercase();
        // Interest only changes between steps, but a caller that drains less often (tests) may
        // see it change mid-batch: a push goes to exactly the cores interested in all its changes.
        let index = match self.push_of.get(self.key.as_str()) {
            Some(&i) if self.pushes[i].cores == cores => i,
            _ => {
                let service_key: Arc<str> = self.key.as_str().into();
                self.pushes.push(PendingPush {
                    service_key: service_key.clone(),
                    frames: Vec::new(),
                    changes: 0,
                    cores,
                    recorded,
                });
                self.push_of.insert(service_key, self.pushes.len() - 1);
                self.pushes.len() - 1
            }
        };
        let push = &mut self.pushes[index];
        write_frame(&mut push.frames, OpCode::Text, true, &self.message);
        push.changes += 1;
    }

    /// Record a `reload` of a service: its subscribers look it up again, and deltas list it.
    pub fn record_reload(&mut self, service: &Arc<str>, now_ms: u64) {
        let mut instance = Vec::new();
        write_reload_instance(&mut instance, service);
        let id = ChangeKind::Reload.as_str();
        self.record(ChangeKind::Reload, service, id, &instance.into(), now_ms);
    }

    /// The pushes recorded since the last drain: one per service (and set of interested cores).
    pub fn drain_pushes(&mut self) -> impl Iterator<Item = Push> + '_ {
        self.push_of.clear();
        self.step_recorded = None;
        self.pushes.drain(..).map(PendingPush::finish)
    }

    pub fn has_pushes(&self) -> bool {
        !self.pushes.is_empty()
    }
}
