//! Instance changes: versions, the bounded per-shard change log that answers deltas, and the
//! serialized `InstanceChange` messages pushed to subscribers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::HashMap;
use protocol::model::{write_instance_change, write_service_changes, ChangeKind};

use crate::safe::RenewalCounters;

/// State every shard of a node shares. Each field is written without locks: the version counter
/// only on changes (never on heartbeats), the renewal counters once a second per shard.
pub struct NodeShared {
    pub renewals: RenewalCounters,
    pub legacy_renewals: RenewalCounters,
    first_version: u64,
    version: AtomicU64,
}

impl NodeShared {
    /// `first_version` should come from the wall clock (e.g. epoch ms × 1000) so versions a client
    /// kept from an earlier run of the node are older than anything the new log holds.
    pub fn new(shards: usize, first_version: u64) -> Self {
        NodeShared {
            renewals: RenewalCounters::new(shards),
            legacy_renewals: RenewalCounters::new(shards),
            first_version,
            version: AtomicU64::new(first_version),
        }
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

/// One logged change (only `new`/`change`/`delete`: what deltas are made of).
struct Entry {
    version: u64,
    time_ms: i64,
    present: bool,
    service: Arc<str>,
    instance_id: Arc<str>,
    instance_json: Arc<[u8]>,
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

    /// The changes after `since`, compacted to the last change of each instance, as the entries
    /// of the delta map: `"serviceId":[InstanceChange,...]`, comma-separated, no braces.
    /// Applying them (new = upsert, delete = remove) to the state at `since` gives the state now.
    pub fn delta_since(&self, since: u64, out: &mut Vec<u8>) -> Result<(), DeltaError> {
        if since < self.floor {
            return Err(DeltaError::TooOld);
        }
        let start = self.entries.partition_point(|e| e.version <= since);
        let recent = self.entries.range(start..);
        // Last change per instance, then grouped per service in order of first appearance.
        let mut last: HashMap<(String, String), usize> = HashMap::new();
        for (i, e) in recent.clone().enumerate() {
            let key = (
                e.service.to_ascii_lowercase(),
                e.instance_id.to_ascii_lowercase(),
            );
            last.insert(key, i);
        }
        let mut groups: Vec<(String, Arc<str>, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<String, usize> = HashMap::new();
        for (i, e) in recent.clone().enumerate() {
            let key = (
                e.service.to_ascii_lowercase(),
                e.instance_id.to_ascii_lowercase(),
            );
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
                let kind = if e.present {
                    ChangeKind::New
                } else {
                    ChangeKind::Delete
                };
                (e.time_ms, kind, &e.instance_json[..])
            });
            write_service_changes(out, service, changes);
        }
        Ok(())
    }
}

/// A change to deliver to the subscribers on some cores, serialized once for all of them.
pub struct Push {
    /// Lower-cased service id: the key of every core's subscription table.
    pub service_key: Arc<str>,
    pub message: Arc<[u8]>,
    pub cores: smallvec::SmallVec<[u16; 4]>,
}

/// Records changes: assigns versions, logs them, and queues pushes for interested cores.
pub struct Changes {
    shared: Arc<NodeShared>,
    log: ChangeLog,
    pushes: Vec<Push>,
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
        instance_id: &Arc<str>,
        instance_json: &Arc<[u8]>,
        now_ms: u64,
    ) {
        let time_ms = self.wall_offset_ms + now_ms as i64;
        self.log.push(Entry {
            version: self.shared.next_version(),
            time_ms,
            present: kind != ChangeKind::Delete,
            service: service.clone(),
            instance_id: instance_id.clone(),
            instance_json: instance_json.clone(),
        });
        let cores = self.interest.cores_for(service);
        if cores.is_empty() {
            return;
        }
        let mut message = Vec::with_capacity(instance_json.len() + 64);
        write_instance_change(&mut message, time_ms, kind, instance_json);
        self.pushes.push(Push {
            service_key: service.to_ascii_lowercase().into(),
            message: message.into(),
            cores,
        });
    }

    pub fn drain_pushes(&mut self) -> std::vec::Drain<'_, Push> {
        self.pushes.drain(..)
    }

    pub fn has_pushes(&self) -> bool {
        !self.pushes.is_empty()
    }
}
