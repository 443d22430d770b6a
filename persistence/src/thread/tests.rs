use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use protocol::model::management::groups::{
    Group, GroupChange, GroupData, GroupFilter, GroupInstance, GroupInstanceFilter, GroupLogFilter,
    GroupLogKind, GroupLogRow, GroupOperator, GroupWrite, NewGroup, NewRouteRule,
    NewRouteRuleGroup, NewServiceInstance, RouteRuleFilter, RouteRuleGroup, RouteRuleGroupFilter,
    ServiceInstance, ServiceInstanceFilter, ServiceRouteRule,
};
use protocol::model::management::{
    LogFilter, LogKind, LogRow, ManagementSnapshot, ManagementWrite,
};

use super::{Handle, Limits, Persistence, Stats};
use crate::test_support::{instance, server, write, CommitTraffic, TempDir};
use crate::{Change, Reply, SavedInstance, SqliteStore, Store, StoreError, StoreErrorKind};

/// Guards against a hung test only; every answer here comes long before it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// A real store whose first commit waits for the test to open a gate, so the test can queue
/// jobs while the persistence thread is provably busy.
struct GatedStore {
    inner: SqliteStore,
    entered: Sender<()>,
    gate: Receiver<()>,
    armed: bool,
}

impl Store for GatedStore {
    fn commit(&mut self, changes: &[Change], now_ms: i64) -> Result<Option<GroupData>, StoreError> {
        if std::mem::take(&mut self.armed) {
            self.entered.send(()).unwrap();
            self.gate.recv().unwrap();
        }
        self.inner.commit(changes, now_ms)
    }
    fn load_management(&mut self) -> Result<ManagementSnapshot, StoreError> {
        self.inner.load_management()
    }
    fn logs(
        &mut self,
        kind: LogKind,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError> {
        self.inner.logs(kind, filter, limit)
    }
    fn group_logs(
        &mut self,
        kind: GroupLogKind,
        filter: &GroupLogFilter,
        limit: usize,
    ) -> Result<Vec<GroupLogRow>, StoreError> {
        self.inner.group_logs(kind, filter, limit)
    }
    fn route_rules(
        &mut self,
        filter: &RouteRuleFilter,
    ) -> Result<Vec<ServiceRouteRule>, StoreError> {
        self.inner.route_rules(filter)
    }
    fn route_rule_groups(
        &mut self,
        filter: &RouteRuleGroupFilter,
    ) -> Result<Vec<RouteRuleGroup>, StoreError> {
        self.inner.route_rule_groups(filter)
    }
    fn groups(&mut self, filter: &GroupFilter) -> Result<Vec<Group>, StoreError> {
        self.inner.groups(filter)
    }
    fn group_instances(
        &mut self,
        filter: &GroupInstanceFilter,
    ) -> Result<Vec<GroupInstance>, StoreError> {
        self.inner.group_instances(filter)
    }
    fn service_instances(
        &mut self,
        filter: &ServiceInstanceFilter,
    ) -> Result<Vec<ServiceInstance>, StoreError> {
        self.inner.service_instances(filter)
    }
    fn save_registry(&mut self, instances: &[SavedInstance]) -> Result<(), StoreError> {
        self.inner.save_registry(instances)
    }
    fn load_registry(&mut self) -> Result<Vec<SavedInstance>, StoreError> {
        self.inner.load_registry()
    }
}

/// A persistence thread held inside its first commit until `release`.
struct Held {
    persistence: Persistence,
    handle: Handle,
    first: Reply<Arc<ManagementSnapshot>>,
    gate: Sender<()>,
}

fn start_held(dir: &TempDir, limits: Limits) -> Held {
    let (entered_tx, entered) = crossbeam_channel::bounded(1);
    let (gate, gate_rx) = crossbeam_channel::bounded(1);
    let store = GatedStore {
        inner: SqliteStore::open(dir.file("artemis.db")).unwrap(),
        entered: entered_tx,
        gate: gate_rx,
        armed: true,
    };
    let (persistence, handle) =
        Persistence::start(Box::new(store), ManagementSnapshot::default(), limits).unwrap();
    let first = handle.write(write(instance("r", "s", "first"), "x", false, "op"));
    entered.recv().unwrap();
    Held {
        persistence,
        handle,
        first,
        gate,
    }
}

impl Held {
    fn release(&self) {
        self.gate.send(()).unwrap();
    }
}

fn answer<T>(reply: Reply<T>) -> Result<T, StoreError> {
    reply.wait_timeout(HANG_GUARD).expect("answered")
}

fn pull_out(n: usize) -> ManagementWrite {
    write(instance("r", "s", &format!("i{n}")), "x", false, "op")
}

#[test]
fn writes_queued_while_a_commit_runs_share_the_next_transaction() {
    let dir = TempDir::new("group");
    let limits = Limits {
        queue_capacity: 64,
        max_batch: 64,
        poll_interval: None,
    };
    let held = start_held(&dir, limits);
    let submitters: Vec<_> = (0..4)
        .map(|t| {
            let handle = held.handle.clone();
            std::thread::spawn(move || {
                (0..5)
                    .map(|n| handle.write(pull_out(t * 5 + n)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let replies: Vec<_> = submitters
        .into_iter()
        .flat_map(|s| s.join().unwrap())
        .collect();
    held.release();

    assert_eq!(answer(held.first).unwrap().generation, 1);
    let snapshots: Vec<_> = replies.into_iter().map(|r| answer(r).unwrap()).collect();
    assert!(snapshots.iter().all(|s| s.generation == 2));
    assert!(snapshots.iter().all(|s| Arc::ptr_eq(s, &snapshots[0])));
    assert_eq!(snapshots[0].instances().count(), 21);
    assert_eq!(
        held.handle.stats(),
        Stats {
            transactions: 2,
            writes: 21,
            failed_writes: 0,
            refused_busy: 0,
        }
    );
    drop(held.handle);
    held.persistence.join().unwrap();

    let mut store = SqliteStore::open(dir.file("artemis.db")).unwrap();
    assert_eq!(store.load_management().unwrap().instances().count(), 21);
    let logs = store.logs(LogKind::Instance, &LogFilter::default(), 100);
    assert_eq!(logs.unwrap().len(), 21);
}

#[test]
fn a_batch_holds_at_most_max_batch_writes() {
    let dir = TempDir::new("maxbatch");
    let held = start_held(
        &dir,
        Limits {
            queue_capacity: 64,
            max_batch: 4,
            poll_interval: None,
        },
    );
    let replies: Vec<_> = (0..10).map(|n| held.handle.write(pull_out(n))).collect();
    held.release();
    let generations: Vec<u64> = replies
        .into_iter()
        .map(|r| answer(r).unwrap().generation)
        .collect();
    assert_eq!(generations, [2, 2, 2, 2, 3, 3, 3, 3, 4, 4]);
    assert_eq!(held.handle.stats().transactions, 4);
    assert_eq!(held.handle.stats().writes, 11);
}

#[test]
fn other_jobs_run_in_queue_order_between_write_batches() {
    let dir = TempDir::new("order");
    let held = start_held(
        &dir,
        Limits {
            queue_capacity: 64,
            max_batch: 64,
            poll_interval: None,
        },
    );
    let before = held.handle.write(pull_out(1));
    let logs = held
        .handle
        .logs(LogKind::Instance, LogFilter::default(), 100);
    let after = held.handle.write(pull_out(2));
    held.release();
    assert_eq!(answer(before).unwrap().generation, 2);
    let ids: Vec<String> = answer(logs)
        .unwrap()
        .into_iter()
        .map(|row| row.instance_id)
        .collect();
    assert_eq!(
        ids,
        ["i1", "first"],
        "the read sees the writes queued before it only"
    );
    assert_eq!(answer(after).unwrap().generation, 3);
    assert_eq!(held.handle.stats().transactions, 3);
}

#[test]
fn a_full_queue_refuses_at_once_with_busy() {
    let dir = TempDir::new("busy");
    let held = start_held(
        &dir,
        Limits {
            queue_capacity: 2,
            max_batch: 64,
            poll_interval: None,
        },
    );
    let queued: Vec<_> = (0..2).map(|n| held.handle.write(pull_out(n))).collect();
    let refused = held.handle.write(pull_out(9));
    let error = refused
        .wait_timeout(Duration::ZERO)
        .expect("answered without waiting")
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Busy);
    let refused_read = held.handle.load_registry();
    assert_eq!(
        refused_read
            .wait_timeout(Duration::ZERO)
            .unwrap()
            .unwrap_err()
            .kind,
        StoreErrorKind::Busy
    );
    assert_eq!(held.handle.stats().refused_busy, 2);

    held.release();
    for reply in queued {
        answer(reply).unwrap();
    }
    let snapshot = answer(held.handle.write(pull_out(3))).unwrap();
    assert!(
        !snapshot.is_down("r", "s", "i9", "", ""),
        "the refused write never happened"
    );
    assert!(snapshot.is_down("r", "s", "i3", "", ""));
}

#[test]
fn a_failed_commit_fails_every_write_of_the_batch_and_keeps_the_snapshot() {
    let dir = TempDir::new("failed");
    let path = dir.file("artemis.db");
    let held = start_held(
        &dir,
        Limits {
            queue_capacity: 64,
            max_batch: 64,
            poll_interval: None,
        },
    );
    let batch: Vec<_> = (0..3).map(|n| held.handle.write(pull_out(n))).collect();
    // The held commit and the batch behind it both find the file read-only.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    held.release();
    assert_eq!(
        answer(held.first).unwrap_err().kind,
        StoreErrorKind::ReadOnly
    );
    for reply in batch {
        let error = answer(reply).unwrap_err();
        assert_eq!(error.kind, StoreErrorKind::ReadOnly);
        assert!(error.message.contains("read-only"), "{error}");
    }
    assert_eq!(
        held.handle.stats(),
        Stats {
            transactions: 0,
            writes: 0,
            failed_writes: 4,
            refused_busy: 0,
        }
    );

    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let snapshot = answer(
        held.handle
            .write(write(server("r", "ip"), "x", false, "op")),
    )
    .unwrap();
    assert_eq!(
        snapshot.generation, 1,
        "failed batches do not advance the generation"
    );
    assert_eq!(snapshot.instances().count(), 0);
    assert_eq!(snapshot.servers().count(), 1);
}

#[test]
fn the_registry_round_trips_through_the_thread() {
    let dir = TempDir::new("thread-registry");
    let store = SqliteStore::open(dir.file("artemis.db")).unwrap();
    let limits = Limits {
        queue_capacity: 8,
        max_batch: 8,
        poll_interval: None,
    };
    let (persistence, handle) =
        Persistence::start(Box::new(store), ManagementSnapshot::default(), limits).unwrap();
    let saved = vec![SavedInstance {
        service_id: "svc".into(),
        instance_id: "i".into(),
        legacy: true,
        json: b"{\"instanceId\":\"i\"}".to_vec(),
    }];
    answer(handle.save_registry(saved.clone())).unwrap();
    assert_eq!(answer(handle.load_registry()).unwrap(), saved);
    drop(handle);
    persistence.join().unwrap();
}

#[test]
fn shutdown_answers_later_jobs_with_an_error_and_ends_the_thread() {
    let dir = TempDir::new("shutdown");
    let held = start_held(
        &dir,
        Limits {
            queue_capacity: 8,
            max_batch: 8,
            poll_interval: None,
        },
    );
    held.handle.shutdown();
    let late = held.handle.write(pull_out(1));
    held.release();
    assert_eq!(answer(held.first).unwrap().generation, 1);
    let error = answer(late).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Other);
    held.persistence.join().unwrap();
    let after = held.handle.write(pull_out(2));
    let error = after.wait_timeout(Duration::ZERO).unwrap().unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Other);
    assert!(error.message.contains("stopped"), "{error}");
}

#[test]
fn the_first_snapshot_builds_on_the_initial_one() {
    let dir = TempDir::new("initial");
    let mut store = SqliteStore::open(dir.file("artemis.db")).unwrap();
    store
        .commit_traffic(&[write(instance("r", "s", "old"), "x", false, "op")], 1)
        .unwrap();
    let initial = store.load_management().unwrap();
    let limits = Limits {
        queue_capacity: 8,
        max_batch: 8,
        poll_interval: None,
    };
    let (persistence, handle) = Persistence::start(Box::new(store), initial, limits).unwrap();
    let snapshot = answer(handle.write(pull_out(1))).unwrap();
    assert_eq!(snapshot.generation, 1);
    assert!(snapshot.is_down("r", "s", "old", "", ""));
    assert!(snapshot.is_down("r", "s", "i1", "", ""));
    drop(handle);
    persistence.join().unwrap();
}

fn group_write(change: GroupChange) -> GroupWrite {
    GroupWrite {
        change,
        operator: GroupOperator {
            operation: "op".into(),
            operator_id: "alice".into(),
            reason: None,
            extensions: "{}".into(),
        },
    }
}

fn new_group(name: &str) -> NewGroup {
    NewGroup {
        service_id: "svc".into(),
        region_id: "sha".into(),
        zone_id: "z1".into(),
        name: name.into(),
        app_id: "app".into(),
        description: None,
        status: "active".into(),
    }
}

#[test]
fn group_and_traffic_writes_share_a_batch_and_its_snapshot() {
    let dir = TempDir::new("mixed");
    let held = start_held(
        &dir,
        Limits {
            queue_capacity: 16,
            max_batch: 16,
            poll_interval: None,
        },
    );
    let groups = held
        .handle
        .write_groups(group_write(GroupChange::UpsertGroups(vec![new_group(
            "g1",
        )])));
    let traffic = held.handle.write(pull_out(1));
    let pulled = held
        .handle
        .write_groups(group_write(GroupChange::OperateGroups {
            operations: vec![(1, "pullout".into())],
            complete: false,
        }));
    held.release();
    let first = answer(held.first).unwrap();
    assert!(first.groups().groups().next().is_none());
    let snapshots: Vec<_> = [groups, traffic, pulled]
        .into_iter()
        .map(|r| answer(r).unwrap())
        .collect();
    assert!(snapshots.iter().all(|s| Arc::ptr_eq(s, &snapshots[0])));
    let snapshot = &snapshots[0];
    assert_eq!(snapshot.generation, 2);
    assert!(snapshot.is_down("r", "s", "i1", "", ""));
    assert!(snapshot.is_down("r", "s", "first", "", ""));
    assert!(snapshot.is_group_down("svc", "sha", "z1", Some("g1"), "any"));
    assert_eq!(snapshot.changed_since(&first).services.len(), 2);
    assert_eq!(held.handle.stats().transactions, 2);
}

#[test]
fn a_traffic_batch_keeps_the_group_data_it_found() {
    let dir = TempDir::new("keep-groups");
    let store = SqliteStore::open(dir.file("artemis.db")).unwrap();
    let limits = Limits {
        queue_capacity: 8,
        max_batch: 8,
        poll_interval: None,
    };
    let (persistence, handle) =
        Persistence::start(Box::new(store), ManagementSnapshot::default(), limits).unwrap();
    let with_groups = answer(
        handle.write_groups(group_write(GroupChange::UpsertGroups(vec![new_group(
            "g1",
        )]))),
    )
    .unwrap();
    let after = answer(handle.write(pull_out(1))).unwrap();
    assert!(Arc::ptr_eq(with_groups.groups(), after.groups()));
    assert!(after.changed_since(&with_groups).reload.is_empty());
    drop(handle);
    persistence.join().unwrap();
}

#[test]
fn group_reads_and_logs_run_on_the_thread() {
    let dir = TempDir::new("group-reads");
    let store = SqliteStore::open(dir.file("artemis.db")).unwrap();
    let limits = Limits {
        queue_capacity: 8,
        max_batch: 8,
        poll_interval: None,
    };
    let (persistence, handle) =
        Persistence::start(Box::new(store), ManagementSnapshot::default(), limits).unwrap();
    let writes = [
        GroupChange::UpsertRouteRules(vec![NewRouteRule {
            service_id: "svc".into(),
            name: "r".into(),
            description: None,
            status: "active".into(),
            strategy: "weighted-round-robin".into(),
        }]),
        GroupChange::UpsertGroups(vec![new_group("g1")]),
        GroupChange::UpsertRouteRuleGroups(vec![NewRouteRuleGroup {
            route_rule_id: 1,
            group_id: 1,
            unreleased_weight: Some(4),
        }]),
        GroupChange::InsertGroupInstances(vec![(1, "i1".into())]),
        GroupChange::UpsertServiceInstances(vec![NewServiceInstance {
            service_id: "svc".into(),
            instance_id: "l1".into(),
            ip: "ip".into(),
            machine_name: "m".into(),
            metadata: "{}".into(),
            port: 80,
            protocol: "http".into(),
            region_id: "sha".into(),
            zone_id: "z1".into(),
            group_id: "g".into(),
            health_check_url: "h".into(),
            url: "u".into(),
            description: None,
        }]),
    ];
    for change in writes {
        answer(handle.write_groups(group_write(change))).unwrap();
    }
    assert_eq!(
        answer(handle.route_rules(RouteRuleFilter::default()))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        answer(handle.route_rule_groups(RouteRuleGroupFilter::default())).unwrap()[0]
            .unreleased_weight,
        Some(4)
    );
    assert_eq!(
        answer(handle.groups(GroupFilter::default())).unwrap().len(),
        1
    );
    assert_eq!(
        answer(handle.group_instances(GroupInstanceFilter::default())).unwrap()[0].instance_id,
        "i1"
    );
    assert_eq!(
        answer(handle.service_instances(ServiceInstanceFilter::default())).unwrap()[0].instance_id,
        "l1"
    );
    let logs = answer(handle.group_logs(GroupLogKind::Group, GroupLogFilter::default(), 10));
    assert_eq!(logs.unwrap().len(), 1);
    handle.shutdown();
    persistence.join().unwrap();
    let late = answer(handle.groups(GroupFilter::default())).unwrap_err();
    assert!(late.message.contains("stopped"), "{late}");
}
