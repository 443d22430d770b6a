//! Polling a shared database: the fingerprint changes with every change of a management row
//! (whoever made it, whatever its `DataChange_LastTime`) and not with log rows, and a
//! persistence thread that polls hands another node's writes to its server as a new
//! generation.

use std::sync::Arc;
use std::time::Duration;

use mysql::prelude::Queryable;
use protocol::model::management::ManagementSnapshot;

use super::open;
use crate::suite::at;
use crate::suite::fixture::{options, raw_connection};
use crate::test_support::mariadb::MariaDb;
use crate::test_support::{instance, write, CommitTraffic, TempDir};
use crate::{Fingerprint, Handle, Limits, Persistence, Store};

/// Guards against a hung test only.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn fingerprint(store: &mut dyn Store) -> Fingerprint {
    store
        .fingerprint()
        .unwrap()
        .expect("a shared store has a fingerprint")
}

#[test]
fn the_fingerprint_changes_with_every_change_of_a_management_row_and_only_then() {
    let dir = TempDir::new("mysql-fingerprint");
    let database = MariaDb::shared().create_database();
    let mut store = open(&options(&database), &dir).unwrap();
    let mut other_node = raw_connection(&database);
    let empty = fingerprint(&mut store);
    assert_eq!(fingerprint(&mut store), empty, "reading changes nothing");

    store
        .commit_traffic(&[write(instance("r", "s", "i1"), "x", false, "a")], at(1))
        .unwrap();
    let one_row = fingerprint(&mut store);
    assert_ne!(one_row, empty);

    // An update in place that keeps the count, the ids and DataChange_LastTime: what a node
    // whose clock is behind, or a second write in the same second, looks like.
    other_node
        .query_drop(
            "UPDATE instance SET OPERATION = 'y', DataChange_LastTime = DataChange_LastTime",
        )
        .unwrap();
    let updated = fingerprint(&mut store);
    assert_ne!(updated, one_row, "an update in place is a change");

    // Log rows are not management state.
    other_node
        .query_drop(
            "INSERT INTO instance_log (REGION_ID, SERVICE_ID, INSTANCE_ID, OPERATION, \
             OPERATOR_ID, TOKEN, EXTENSIONS, COMPLETE) VALUES ('r', 's', 'i9', 'x', 'a', '', '', 0)",
        )
        .unwrap();
    assert_eq!(fingerprint(&mut store), updated);

    other_node.query_drop("DELETE FROM instance").unwrap();
    assert_eq!(fingerprint(&mut store), empty, "a delete is a change");
}

fn start_polling(database: &str, dir: &TempDir) -> (Persistence, Handle) {
    let mut store = open(&options(database), dir).unwrap();
    let mut initial = store.load_management().unwrap();
    initial.generation = 1;
    let limits = Limits {
        queue_capacity: 64,
        max_batch: 64,
        poll_interval: Some(Duration::from_millis(20)),
    };
    Persistence::start(Box::new(store), initial, limits).unwrap()
}

fn instance_ids(snapshot: &ManagementSnapshot) -> Vec<String> {
    let mut ids: Vec<String> = snapshot
        .instances()
        .map(|entry| entry.key.instance_id.clone())
        .collect();
    ids.sort();
    ids
}

fn next_polled(handle: &Handle) -> Arc<ManagementSnapshot> {
    handle
        .next_polled()
        .wait_timeout(HANG_GUARD)
        .expect("a poll found the change")
        .expect("the thread runs")
}

#[test]
fn a_polling_thread_hands_over_what_another_node_wrote_as_a_newer_generation() {
    let database = MariaDb::shared().create_database();
    let (dir_a, dir_b) = (TempDir::new("mysql-poll-a"), TempDir::new("mysql-poll-b"));
    let (thread_a, node_a) = start_polling(&database, &dir_a);
    let (thread_b, node_b) = start_polling(&database, &dir_b);
    assert!(node_b.store_up());

    let written = node_a
        .write(write(instance("r", "s", "i1"), "x", false, "a"))
        .wait_timeout(HANG_GUARD)
        .unwrap()
        .unwrap();
    assert_eq!(written.generation, 2);
    let polled = next_polled(&node_b);
    assert_eq!(instance_ids(&polled), ["i1"]);
    assert!(polled.generation > 1, "newer than the state B started from");

    // A deleted row is seen too; B's own write afterwards builds on the polled state.
    raw_connection(&database)
        .query_drop("DELETE FROM instance")
        .unwrap();
    node_b.poll_now();
    let emptied = next_polled(&node_b);
    assert!(instance_ids(&emptied).is_empty());
    assert!(emptied.generation > polled.generation);
    let own = node_b
        .write(write(instance("r", "s", "i2"), "x", false, "b"))
        .wait_timeout(HANG_GUARD)
        .unwrap()
        .unwrap();
    assert_eq!(instance_ids(&own), ["i2"]);
    assert!(own.generation > emptied.generation);

    node_a.shutdown();
    node_b.shutdown();
    thread_a.join().unwrap();
    thread_b.join().unwrap();
    assert!(
        node_b
            .next_polled()
            .wait_timeout(HANG_GUARD)
            .unwrap()
            .is_err(),
        "a stopped thread answers a waiter with an error"
    );
}
