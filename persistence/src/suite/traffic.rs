//! Pull-outs (instance, server, zone), their logs, and the saved registry.

use protocol::model::management::{LogFilter, LogKind, ManagementWrite};

use super::{at, for_each_store, Fixture};
use crate::test_support::{instance, server, write, zone, CommitTraffic};
use crate::{SavedInstance, Store};

for_each_store!(
    pull_out_writes_rows_and_logs_and_pull_in_deletes_the_rows,
    keys_and_operations_are_unique_ignoring_case_and_keep_their_first_spelling,
    rows_logs_and_the_registry_survive_a_reopen,
    saving_the_registry_replaces_the_previous_save,
    log_filters_match_each_field_newest_first,
    server_and_zone_logs_filter_by_their_own_ids,
);

fn pull_out_writes_rows_and_logs_and_pull_in_deletes_the_rows<F: Fixture>() {
    let mut f = F::new("pull");
    let writes = [
        write(instance("sha", "svc", "i1"), "pullout", false, "alice"),
        write(server("sha", "10.0.0.1"), "pullout", false, "bob"),
        write(zone("sha", "svc", "z1"), "pullout", false, "carol"),
    ];
    f.store().commit_traffic(&writes, at(1)).unwrap();
    let snapshot = f.store().load_management().unwrap();
    assert_eq!(snapshot.generation, 0);
    assert!(snapshot.is_down("sha", "svc", "i1", "10.0.0.9", "z9"));
    assert!(snapshot.is_down("sha", "other", "i", "10.0.0.1", "z9"));
    assert!(snapshot.is_down("sha", "svc", "i9", "10.0.0.9", "z1"));
    for table in ["instance", "server", "service_zone"] {
        assert_eq!(f.count(table), 1, "{table}");
    }
    assert_eq!(
        f.texts("instance", "OPERATOR_ID, TOKEN"),
        [["alice".to_owned(), String::new()]]
    );
    assert_eq!(f.times("instance"), [(at(1), at(1))]);

    let pull_in: Vec<ManagementWrite> = writes
        .iter()
        .map(|w| ManagementWrite {
            complete: true,
            ..w.clone()
        })
        .collect();
    f.store().commit_traffic(&pull_in, at(2)).unwrap();
    assert!(f.store().load_management().unwrap().is_empty());
    for table in ["instance", "server", "service_zone"] {
        assert_eq!(f.count(table), 0, "{table}");
    }

    let logs = f
        .store()
        .logs(LogKind::Instance, &LogFilter::default(), 10)
        .unwrap();
    assert_eq!(logs.len(), 2);
    let (pulled_in, pulled_out) = (&logs[0], &logs[1]);
    assert!(pulled_in.complete && !pulled_out.complete);
    assert_eq!(pulled_out.create_time_ms, at(1));
    assert_eq!(pulled_in.create_time_ms, at(2));
    assert_eq!(pulled_in.update_time_ms, at(2));
    assert_eq!(
        (
            pulled_out.region_id.as_str(),
            pulled_out.service_id.as_str(),
            pulled_out.instance_id.as_str(),
            pulled_out.operation.as_str(),
            pulled_out.operator_id.as_str(),
            pulled_out.token.as_str(),
            pulled_out.extensions.as_str(),
        ),
        (
            "sha",
            "svc",
            "i1",
            "pullout",
            "alice",
            "",
            "{\"by\":\"alice\"}"
        )
    );
    assert_eq!(pulled_out.server_id, "");
    assert_eq!(pulled_out.reason, "", "instance_log has no REASON column");

    let server_log = &f
        .store()
        .logs(LogKind::Server, &LogFilter::default(), 10)
        .unwrap()[1];
    assert_eq!(server_log.server_id, "10.0.0.1");
    assert_eq!(server_log.extensions, "{\"by\":\"bob\"}");
    assert_eq!(server_log.service_id, "");

    let zone_log = &f
        .store()
        .logs(LogKind::Zone, &LogFilter::default(), 10)
        .unwrap()[1];
    assert_eq!(
        (zone_log.service_id.as_str(), zone_log.zone_id.as_str()),
        ("svc", "z1")
    );
    assert_eq!(zone_log.reason, "reason of carol");
    assert_eq!(
        zone_log.extensions, "",
        "service_zone_log has no EXTENSIONS column"
    );
}

fn keys_and_operations_are_unique_ignoring_case_and_keep_their_first_spelling<F: Fixture>() {
    let mut f = F::new("case");
    f.store()
        .commit_traffic(
            &[write(instance("SHA", "Svc", "I1"), "PullOut", false, "a")],
            at(1),
        )
        .unwrap();
    f.store()
        .commit_traffic(
            &[write(instance("sha", "svc", "i1"), "pullout", false, "b")],
            at(2),
        )
        .unwrap();
    assert_eq!(f.count("instance"), 1);
    assert_eq!(
        f.texts("instance", "SERVICE_ID, OPERATION, OPERATOR_ID"),
        [["Svc".to_owned(), "PullOut".into(), "b".into()]]
    );
    assert_eq!(f.times("instance"), [(at(1), at(2))]);
    let snapshot = f.store().load_management().unwrap();
    let entry = snapshot.instances().next().unwrap();
    assert_eq!(entry.key.service_id, "Svc");
    assert_eq!(entry.operations, ["PullOut"]);

    f.store()
        .commit_traffic(
            &[write(instance("Sha", "SVC", "i1"), "PULLOUT", true, "c")],
            at(3),
        )
        .unwrap();
    assert_eq!(f.count("instance"), 0);
    assert_eq!(f.count("instance_log"), 3);
}

fn rows_logs_and_the_registry_survive_a_reopen<F: Fixture>() {
    let mut f = F::new("reopen");
    let saved = vec![
        SavedInstance {
            service_id: "svc".into(),
            instance_id: "i1".into(),
            legacy: false,
            json: br#"{"instanceId":"i1"}"#.to_vec(),
        },
        SavedInstance {
            service_id: "svc".into(),
            instance_id: "i2".into(),
            legacy: true,
            // Not UTF-8 on purpose: the bytes are stored as they are.
            json: vec![0xff, 0x00, 0x7b],
        },
    ];
    f.store()
        .commit_traffic(
            &[
                write(instance("r", "svc", "i1"), "x", false, "a"),
                write(zone("r", "svc", "z"), "y", false, "a"),
            ],
            at(5),
        )
        .unwrap();
    f.store().save_registry(&saved).unwrap();
    f.reopen();
    let snapshot = f.store().load_management().unwrap();
    assert!(snapshot.is_down("r", "svc", "i1", "", ""));
    assert!(snapshot.is_down("r", "svc", "other", "", "z"));
    assert_eq!(
        f.store()
            .logs(LogKind::Instance, &LogFilter::default(), 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(f.store().load_registry().unwrap(), saved);
}

fn saving_the_registry_replaces_the_previous_save<F: Fixture>() {
    let mut f = F::new("registry");
    assert!(f.store().load_registry().unwrap().is_empty());
    let one = |id: &str| SavedInstance {
        service_id: "svc".into(),
        instance_id: id.into(),
        legacy: false,
        json: id.as_bytes().to_vec(),
    };
    f.store().save_registry(&[one("a"), one("b")]).unwrap();
    f.store().save_registry(&[one("c")]).unwrap();
    assert_eq!(f.store().load_registry().unwrap(), [one("c")]);
}

/// Six log rows, ids 1..=6 in this order.
fn sample_logs(store: &mut impl Store) {
    let writes = [
        write(instance("sha", "svc-a", "i1"), "pullout", false, "alice"),
        write(instance("sha", "svc-a", "i2"), "pullout", false, "bob"),
        write(instance("sha", "svc-b", "i1"), "drain", false, "alice"),
        write(instance("sha", "svc-a", "i1"), "pullout", true, "alice"),
        write(instance("fra", "svc-a", "i1"), "pullout", false, "carol"),
        write(instance("sha", "svc-b", "i1"), "drain", true, "bob"),
    ];
    for (n, w) in writes.iter().enumerate() {
        store
            .commit_traffic(std::slice::from_ref(w), at(n as i64))
            .unwrap();
    }
}

fn log_ids(store: &mut impl Store, kind: LogKind, filter: LogFilter, limit: usize) -> Vec<i64> {
    store
        .logs(kind, &filter, limit)
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect()
}

fn log_filters_match_each_field_newest_first<F: Fixture>() {
    let mut f = F::new("filters");
    let store = f.store();
    sample_logs(store);
    let some = |v: &str| Some(v.to_owned());
    let cases = [
        (LogFilter::default(), vec![6, 5, 4, 3, 2, 1]),
        (
            LogFilter {
                region_id: some("fra"),
                ..Default::default()
            },
            vec![5],
        ),
        (
            LogFilter {
                service_id: some("svc-b"),
                ..Default::default()
            },
            vec![6, 3],
        ),
        (
            LogFilter {
                instance_id: some("i2"),
                ..Default::default()
            },
            vec![2],
        ),
        (
            LogFilter {
                operation: some("drain"),
                ..Default::default()
            },
            vec![6, 3],
        ),
        (
            LogFilter {
                operator_id: some("alice"),
                ..Default::default()
            },
            vec![4, 3, 1],
        ),
        (
            LogFilter {
                complete: Some(true),
                ..Default::default()
            },
            vec![6, 4],
        ),
        (
            LogFilter {
                complete: Some(false),
                ..Default::default()
            },
            vec![5, 3, 2, 1],
        ),
        (
            LogFilter {
                region_id: some("sha"),
                service_id: some("svc-a"),
                instance_id: some("i1"),
                operation: some("pullout"),
                operator_id: some("alice"),
                complete: Some(false),
                ..Default::default()
            },
            vec![1],
        ),
        // MySQL's collation (Java) compares ignoring case; so does NOCASE.
        (
            LogFilter {
                service_id: some("SVC-B"),
                ..Default::default()
            },
            vec![6, 3],
        ),
        // Blank values match everything, as Java's DAOs drop them.
        (
            LogFilter {
                operator_id: some("  "),
                ..Default::default()
            },
            vec![6, 5, 4, 3, 2, 1],
        ),
        // Instance logs have no server or zone column to compare.
        (
            LogFilter {
                server_id: some("x"),
                zone_id: some("y"),
                ..Default::default()
            },
            vec![6, 5, 4, 3, 2, 1],
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            log_ids(store, LogKind::Instance, filter.clone(), 100),
            expected,
            "{filter:?}"
        );
    }
    assert_eq!(
        log_ids(store, LogKind::Instance, LogFilter::default(), 2),
        [6, 5]
    );
    assert!(log_ids(store, LogKind::Instance, LogFilter::default(), 0).is_empty());
}

fn server_and_zone_logs_filter_by_their_own_ids<F: Fixture>() {
    let mut f = F::new("filters2");
    let store = f.store();
    store
        .commit_traffic(
            &[
                write(server("sha", "10.0.0.1"), "x", false, "a"),
                write(server("sha", "10.0.0.2"), "x", false, "a"),
                write(zone("sha", "svc", "z1"), "x", false, "a"),
                write(zone("sha", "svc", "z2"), "x", false, "a"),
            ],
            at(1),
        )
        .unwrap();
    let server_logs = store
        .logs(
            LogKind::Server,
            &LogFilter {
                server_id: Some("10.0.0.2".into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(server_logs.len(), 1);
    assert_eq!(server_logs[0].server_id, "10.0.0.2");
    let zone_logs = store
        .logs(
            LogKind::Zone,
            &LogFilter {
                zone_id: Some("Z1".into()),
                service_id: Some("svc".into()),
                ..Default::default()
            },
            10,
        )
        .unwrap();
    assert_eq!(zone_logs.len(), 1);
    assert_eq!(zone_logs[0].zone_id, "z1");
}
