use std::fs;
use std::os::unix::fs::PermissionsExt;

use protocol::model::management::{LogFilter, LogKind, ManagementWrite};
use protocol::rng::Rng;
use rusqlite::Connection;

use super::schema::current_version;
use super::SqliteStore;
use crate::test_support::{instance, server, write, zone, CommitTraffic, TempDir};
use crate::{SavedInstance, Store, StoreErrorKind};

/// Java's `artemis-managment.sql` (spec §10.8): every table, its columns in order, and its
/// unique key; plus artemis's `registry_instance`.
const EXPECTED_TABLES: &[(&str, &[&str], &[&str])] = &[
    (
        "instance",
        &[
            "ID",
            "INSTANCE_ID",
            "SERVICE_ID",
            "REGION_ID",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["INSTANCE_ID", "SERVICE_ID", "REGION_ID", "OPERATION"],
    ),
    (
        "instance_log",
        &[
            "ID",
            "INSTANCE_ID",
            "SERVICE_ID",
            "REGION_ID",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "COMPLETE",
            "EXTENSIONS",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "server",
        &[
            "ID",
            "SERVER_ID",
            "REGION_ID",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["SERVER_ID", "REGION_ID", "OPERATION"],
    ),
    (
        "server_log",
        &[
            "ID",
            "SERVER_ID",
            "REGION_ID",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "COMPLETE",
            "EXTENSIONS",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "service_group",
        &[
            "ID",
            "SERVICE_ID",
            "REGION_ID",
            "ZONE_ID",
            "NAME",
            "APP_ID",
            "DESCRIPTION",
            "STATUS",
            "CREATE_TIME",
            "DataChange_LastTime",
            "DELETED",
            "type",
        ],
        &["SERVICE_ID", "REGION_ID", "ZONE_ID", "NAME"],
    ),
    (
        "service_group_instance",
        &[
            "ID",
            "GROUP_ID",
            "INSTANCE_ID",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["GROUP_ID", "INSTANCE_ID"],
    ),
    (
        "service_group_instance_log",
        &[
            "ID",
            "GROUP_ID",
            "INSTANCE_ID",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "REASON",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "service_group_log",
        &[
            "ID",
            "GROUP_ID",
            "PARENT_ID",
            "NAME",
            "STATUS",
            "WEIGHT",
            "TYPE",
            "OPERATION",
            "OPERATOR_ID",
            "DESCRIPTION",
            "TOKEN",
            "EXTENSIONS",
            "CREATE_TIME",
            "DataChange_LastTime",
            "SERVICE_ID",
            "REGION_ID",
            "ZONE_ID",
            "APP_ID",
            "REASON",
        ],
        &[],
    ),
    (
        "service_group_operation",
        &[
            "ID",
            "GROUP_ID",
            "OPERATION",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["GROUP_ID", "OPERATION"],
    ),
    (
        "service_group_operation_log",
        &[
            "ID",
            "GROUP_ID",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "COMPLETE",
            "EXTENSIONS",
            "CREATE_TIME",
            "DataChange_LastTime",
            "reason",
        ],
        &[],
    ),
    (
        "service_group_tag",
        &[
            "ID",
            "GROUP_ID",
            "TAG",
            "VALUE",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["GROUP_ID", "TAG"],
    ),
    (
        "service_group_tag_log",
        &[
            "ID",
            "GROUP_ID",
            "TAG",
            "VALUE",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "EXTENSIONS",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "service_instance",
        &[
            "ID",
            "SERVICE_ID",
            "INSTANCE_ID",
            "IP",
            "MACHINE_NAME",
            "METADATA",
            "PORT",
            "PROTOCOL",
            "REGION_ID",
            "ZONE_ID",
            "GROUP_ID",
            "HEALTHY_CHECK_URL",
            "URL",
            "DESCRIPTION",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["SERVICE_ID", "INSTANCE_ID"],
    ),
    (
        "service_instance_log",
        &[
            "ID",
            "SERVICE_ID",
            "INSTANCE_ID",
            "IP",
            "MACHINE_NAME",
            "METADATA",
            "PORT",
            "PROTOCOL",
            "REGION_ID",
            "ZONE_ID",
            "GROUP_ID",
            "HEALTHY_CHECK_URL",
            "URL",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "service_route_rule",
        &[
            "ID",
            "SERVICE_ID",
            "NAME",
            "DESCRIPTION",
            "STATUS",
            "CREATE_TIME",
            "DataChange_LastTime",
            "DELETED",
            "strategy",
        ],
        &["SERVICE_ID", "NAME"],
    ),
    (
        "service_route_rule_group",
        &[
            "ID",
            "ROUTE_RULE_ID",
            "GROUP_ID",
            "WEIGHT",
            "UNRELEASED_WEIGHT",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["ROUTE_RULE_ID", "GROUP_ID"],
    ),
    (
        "service_route_rule_group_log",
        &[
            "ID",
            "ROUTE_RULE_ID",
            "GROUP_ID",
            "WEIGHT",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "EXTENSIONS",
            "REASON",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "service_route_rule_log",
        &[
            "ID",
            "SERVICE_ID",
            "NAME",
            "STATUS",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "EXTENSIONS",
            "REASON",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "service_zone",
        &[
            "ID",
            "SERVICE_ID",
            "ZONE_ID",
            "REGION_ID",
            "OPERATION",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &["SERVICE_ID", "REGION_ID", "ZONE_ID", "OPERATION"],
    ),
    (
        "service_zone_log",
        &[
            "ID",
            "SERVICE_ID",
            "ZONE_ID",
            "REGION_ID",
            "OPERATION",
            "OPERATOR_ID",
            "TOKEN",
            "REASON",
            "COMPLETE",
            "CREATE_TIME",
            "DataChange_LastTime",
        ],
        &[],
    ),
    (
        "registry_instance",
        &["ID", "SERVICE_ID", "INSTANCE_ID", "LEGACY", "INSTANCE_JSON"],
        &["SERVICE_ID", "INSTANCE_ID"],
    ),
];

fn strings(conn: &Connection, sql: &str) -> Vec<String> {
    let mut statement = conn.prepare(sql).unwrap();
    let rows = statement.query_map([], |row| row.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn count(store: &SqliteStore, table: &str) -> i64 {
    store
        .conn
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
}

fn open_new(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(dir.file("artemis.db")).expect("open a new database")
}

#[test]
fn a_new_database_has_every_table_column_and_unique_key_of_java() {
    let dir = TempDir::new("schema");
    let store = open_new(&dir);
    let conn = &store.conn;
    let mut tables = strings(
        conn,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'",
    );
    let mut expected: Vec<String> = EXPECTED_TABLES.iter().map(|t| t.0.to_owned()).collect();
    tables.sort();
    expected.sort();
    assert_eq!(tables, expected);

    for (table, columns, unique) in EXPECTED_TABLES {
        let actual = strings(
            conn,
            &format!("SELECT name FROM pragma_table_info('{table}')"),
        );
        assert_eq!(actual, *columns, "columns of {table}");
        let unique_indexes = strings(
            conn,
            &format!("SELECT name FROM pragma_index_list('{table}') WHERE \"unique\" = 1"),
        );
        if unique.is_empty() {
            assert!(unique_indexes.is_empty(), "{table} has no unique key");
            continue;
        }
        assert_eq!(unique_indexes.len(), 1, "{table} has one unique key");
        let index = &unique_indexes[0];
        let key = strings(
            conn,
            &format!("SELECT name FROM pragma_index_xinfo('{index}') WHERE key = 1 ORDER BY seqno"),
        );
        assert_eq!(key, *unique, "unique key of {table}");
        let collations = strings(
            conn,
            &format!(
                "SELECT x.coll FROM pragma_index_xinfo('{index}') x \
                 JOIN pragma_table_info('{table}') t ON t.name = x.name \
                 WHERE x.key = 1 AND t.type = 'TEXT'"
            ),
        );
        assert!(
            collations.iter().all(|c| c.eq_ignore_ascii_case("NOCASE")),
            "{table}'s unique key ignores case: {collations:?}"
        );
    }

    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, current_version());
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let synchronous: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(synchronous, 2, "synchronous=FULL");
}

#[test]
fn pull_out_writes_rows_and_logs_and_pull_in_deletes_the_rows() {
    let dir = TempDir::new("pull");
    let mut store = open_new(&dir);
    let writes = [
        write(instance("sha", "svc", "i1"), "pullout", false, "alice"),
        write(server("sha", "10.0.0.1"), "pullout", false, "bob"),
        write(zone("sha", "svc", "z1"), "pullout", false, "carol"),
    ];
    store.commit_traffic(&writes, 1_000).unwrap();
    let snapshot = store.load_management().unwrap();
    assert_eq!(snapshot.generation, 0);
    assert!(snapshot.is_down("sha", "svc", "i1", "10.0.0.9", "z9"));
    assert!(snapshot.is_down("sha", "other", "i", "10.0.0.1", "z9"));
    assert!(snapshot.is_down("sha", "svc", "i9", "10.0.0.9", "z1"));
    for table in ["instance", "server", "service_zone"] {
        assert_eq!(count(&store, table), 1, "{table}");
    }
    let (operator, token, created): (String, String, i64) = store
        .conn
        .query_row(
            "SELECT OPERATOR_ID, TOKEN, CREATE_TIME FROM instance",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (operator.as_str(), token.as_str(), created),
        ("alice", "", 1_000)
    );

    let pull_in: Vec<ManagementWrite> = writes
        .iter()
        .map(|w| ManagementWrite {
            complete: true,
            ..w.clone()
        })
        .collect();
    store.commit_traffic(&pull_in, 2_000).unwrap();
    assert!(store.load_management().unwrap().is_empty());
    for table in ["instance", "server", "service_zone"] {
        assert_eq!(count(&store, table), 0, "{table}");
    }

    let logs = store
        .logs(LogKind::Instance, &LogFilter::default(), 10)
        .unwrap();
    assert_eq!(logs.len(), 2);
    let (pulled_in, pulled_out) = (&logs[0], &logs[1]);
    assert!(pulled_in.complete && !pulled_out.complete);
    assert_eq!(pulled_out.create_time_ms, 1_000);
    assert_eq!(pulled_in.create_time_ms, 2_000);
    assert_eq!(pulled_in.update_time_ms, 2_000);
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

    let server_log = &store
        .logs(LogKind::Server, &LogFilter::default(), 10)
        .unwrap()[1];
    assert_eq!(server_log.server_id, "10.0.0.1");
    assert_eq!(server_log.extensions, "{\"by\":\"bob\"}");
    assert_eq!(server_log.service_id, "");

    let zone_log = &store
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

#[test]
fn keys_and_operations_are_unique_ignoring_case_and_keep_their_first_spelling() {
    let dir = TempDir::new("case");
    let mut store = open_new(&dir);
    store
        .commit_traffic(
            &[write(instance("SHA", "Svc", "I1"), "PullOut", false, "a")],
            1,
        )
        .unwrap();
    store
        .commit_traffic(
            &[write(instance("sha", "svc", "i1"), "pullout", false, "b")],
            2,
        )
        .unwrap();
    assert_eq!(count(&store, "instance"), 1);
    let row: (String, String, String, i64, i64) = store
        .conn
        .query_row(
            "SELECT SERVICE_ID, OPERATION, OPERATOR_ID, CREATE_TIME, DataChange_LastTime FROM instance",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(row, ("Svc".into(), "PullOut".into(), "b".into(), 1, 2));
    let snapshot = store.load_management().unwrap();
    let entry = snapshot.instances().next().unwrap();
    assert_eq!(entry.key.service_id, "Svc");
    assert_eq!(entry.operations, ["PullOut"]);

    store
        .commit_traffic(
            &[write(instance("Sha", "SVC", "i1"), "PULLOUT", true, "c")],
            3,
        )
        .unwrap();
    assert_eq!(count(&store, "instance"), 0);
    assert_eq!(count(&store, "instance_log"), 3);
}

#[test]
fn rows_logs_and_the_registry_survive_a_reopen() {
    let dir = TempDir::new("reopen");
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
    {
        let mut store = open_new(&dir);
        store
            .commit_traffic(
                &[
                    write(instance("r", "svc", "i1"), "x", false, "a"),
                    write(zone("r", "svc", "z"), "y", false, "a"),
                ],
                5,
            )
            .unwrap();
        store.save_registry(&saved).unwrap();
    }
    let mut store = open_new(&dir);
    let snapshot = store.load_management().unwrap();
    assert!(snapshot.is_down("r", "svc", "i1", "", ""));
    assert!(snapshot.is_down("r", "svc", "other", "", "z"));
    assert_eq!(
        store
            .logs(LogKind::Instance, &LogFilter::default(), 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.load_registry().unwrap(), saved);
}

#[test]
fn saving_the_registry_replaces_the_previous_save() {
    let dir = TempDir::new("registry");
    let mut store = open_new(&dir);
    assert!(store.load_registry().unwrap().is_empty());
    let one = |id: &str| SavedInstance {
        service_id: "svc".into(),
        instance_id: id.into(),
        legacy: false,
        json: id.as_bytes().to_vec(),
    };
    store.save_registry(&[one("a"), one("b")]).unwrap();
    store.save_registry(&[one("c")]).unwrap();
    assert_eq!(store.load_registry().unwrap(), [one("c")]);
}

/// Six log rows, ids 1..=6 in this order.
fn sample_logs(store: &mut SqliteStore) {
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
            .commit_traffic(std::slice::from_ref(w), n as i64)
            .unwrap();
    }
}

fn log_ids(store: &mut SqliteStore, kind: LogKind, filter: LogFilter, limit: usize) -> Vec<i64> {
    store
        .logs(kind, &filter, limit)
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect()
}

#[test]
fn log_filters_match_each_field_newest_first() {
    let dir = TempDir::new("filters");
    let mut store = open_new(&dir);
    sample_logs(&mut store);
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
            log_ids(&mut store, LogKind::Instance, filter.clone(), 100),
            expected,
            "{filter:?}"
        );
    }
    assert_eq!(
        log_ids(&mut store, LogKind::Instance, LogFilter::default(), 2),
        [6, 5]
    );
    assert!(log_ids(&mut store, LogKind::Instance, LogFilter::default(), 0).is_empty());
}

#[test]
fn server_and_zone_logs_filter_by_their_own_ids() {
    let dir = TempDir::new("filters2");
    let mut store = open_new(&dir);
    store
        .commit_traffic(
            &[
                write(server("sha", "10.0.0.1"), "x", false, "a"),
                write(server("sha", "10.0.0.2"), "x", false, "a"),
                write(zone("sha", "svc", "z1"), "x", false, "a"),
                write(zone("sha", "svc", "z2"), "x", false, "a"),
            ],
            1,
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

#[test]
fn a_read_only_file_refuses_writes_and_keeps_everything_as_it_was() {
    let dir = TempDir::new("readonly");
    let path = dir.file("artemis.db");
    let mut store = open_new(&dir);
    store
        .commit_traffic(&[write(instance("r", "s", "i0"), "x", false, "a")], 1)
        .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();

    let error = store
        .commit_traffic(&[write(instance("r", "s", "i1"), "x", false, "a")], 2)
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::ReadOnly);
    assert_eq!(
        error.to_string(),
        format!("database file {} is read-only", path.display())
    );
    let saved = SavedInstance {
        service_id: "s".into(),
        instance_id: "i".into(),
        legacy: false,
        json: b"{}".to_vec(),
    };
    assert_eq!(
        store
            .save_registry(std::slice::from_ref(&saved))
            .unwrap_err()
            .kind,
        StoreErrorKind::ReadOnly
    );
    // Reads still work, and nothing of the refused writes is there.
    assert_eq!(store.load_management().unwrap().instances().count(), 1);
    assert_eq!(count(&store, "instance_log"), 1);
    assert!(store.load_registry().unwrap().is_empty());

    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    store
        .commit_traffic(&[write(instance("r", "s", "i1"), "x", false, "a")], 3)
        .unwrap();
    assert_eq!(count(&store, "instance"), 2);
}

#[test]
fn a_full_disk_fails_the_whole_transaction() {
    let dir = TempDir::new("full");
    let mut store = open_new(&dir);
    store
        .commit_traffic(&[write(instance("r", "s", "before"), "x", false, "a")], 1)
        .unwrap();
    // A page budget stands in for a full disk: SQLite reports SQLITE_FULL either way.
    let pages: i64 = store
        .conn
        .pragma_query_value(None, "page_count", |r| r.get(0))
        .unwrap();
    store
        .conn
        .pragma_update(None, "max_page_count", pages + 2)
        .unwrap();
    let mut rng = Rng::new(9);
    let batch: Vec<ManagementWrite> = (0..200)
        .map(|n| {
            let mut w = write(instance("r", "s", &format!("i{n}")), "x", false, "a");
            w.operator.extensions = format!("{:?}", rng.bytes(512));
            w
        })
        .collect();
    let error = store.commit_traffic(&batch, 2).unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Full, "{error}");
    assert!(error.message.contains("artemis.db"), "{error}");

    store
        .conn
        .pragma_update(None, "max_page_count", 1_073_741_823)
        .unwrap();
    assert_eq!(count(&store, "instance"), 1);
    assert_eq!(count(&store, "instance_log"), 1);
    store.commit_traffic(&batch, 3).unwrap();
    assert_eq!(count(&store, "instance"), 201);
}

fn assert_refused_untouched(path: &std::path::Path, expected_reason: &str) {
    let before = fs::read(path).unwrap();
    let error = SqliteStore::open(path).err().expect("open must fail");
    assert_eq!(error.path, path);
    assert!(
        error.reason.contains(expected_reason),
        "reason {:?} should mention {expected_reason:?}",
        error.reason
    );
    assert!(error.to_string().contains(&path.display().to_string()));
    assert_eq!(fs::read(path).unwrap(), before, "file bytes unchanged");
}

#[test]
fn a_newer_schema_version_is_refused_and_left_untouched() {
    let dir = TempDir::new("newer");
    let path = dir.file("artemis.db");
    drop(open_new(&dir));
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", current_version() + 1)
        .unwrap();
    drop(conn);
    assert_refused_untouched(&path, "newer");
}

#[test]
fn a_file_of_random_bytes_is_refused_and_left_untouched() {
    let dir = TempDir::new("random");
    let path = dir.file("artemis.db");
    fs::write(&path, Rng::new(42).bytes(64 * 1024)).unwrap();
    assert_refused_untouched(&path, "not a readable SQLite database");
}

#[test]
fn a_damaged_database_is_refused_and_left_untouched() {
    let dir = TempDir::new("damaged");
    let path = dir.file("artemis.db");
    {
        let mut store = open_new(&dir);
        store
            .commit_traffic(&[write(instance("r", "s", "i"), "x", false, "a")], 1)
            .unwrap();
    }
    // Overwrite the third page (a table's root page) and keep the header intact.
    let mut bytes = fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() > 3 * page, "the schema spans many pages");
    bytes[2 * page..3 * page].fill(0xab);
    fs::write(&path, &bytes).unwrap();
    let before = fs::read(&path).unwrap();
    let error = SqliteStore::open(&path).err().expect("open must fail");
    assert!(
        error.reason.contains("corrupt") || error.reason.contains("malformed"),
        "{error}"
    );
    assert_eq!(fs::read(&path).unwrap(), before, "file bytes unchanged");
}

#[test]
fn a_missing_directory_is_an_open_error_naming_the_file() {
    let dir = TempDir::new("nodir");
    let path = dir.file("missing").join("artemis.db");
    let error = SqliteStore::open(&path).err().expect("open must fail");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    assert!(!path.exists());
}

/// Undoes schema version 3.
const V3_INDEXES_DROPPED: &str = "DROP INDEX service_group_log_by_service; \
    DROP INDEX service_route_rule_log_by_service; \
    DROP INDEX service_route_rule_group_log_by_group; \
    DROP INDEX service_route_rule_group_by_group;";

/// The indexes schema version 3 adds.
fn v3_indexes(store: &SqliteStore) -> Vec<String> {
    strings(
        &store.conn,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%by\\_%' ESCAPE '\\' \
         ORDER BY name",
    )
}

#[test]
fn a_version_2_database_is_upgraded_in_place_keeping_its_rows() {
    let dir = TempDir::new("upgrade2");
    let mut store = open_new(&dir);
    store
        .commit_traffic(&[write(instance("r", "s", "i"), "x", false, "a")], 1)
        .unwrap();
    store
        .conn
        .execute_batch(&format!("{V3_INDEXES_DROPPED} PRAGMA user_version = 2;"))
        .unwrap();
    assert!(v3_indexes(&store).is_empty());
    drop(store);
    let store = open_new(&dir);
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, current_version());
    assert_eq!(
        v3_indexes(&store),
        [
            "service_group_log_by_service",
            "service_route_rule_group_by_group",
            "service_route_rule_group_log_by_group",
            "service_route_rule_log_by_service",
        ]
    );
    assert_eq!(count(&store, "instance"), 1);
}

#[test]
fn a_version_1_database_is_upgraded_in_place_keeping_its_rows() {
    let dir = TempDir::new("upgrade");
    let mut store = open_new(&dir);
    store
        .commit_traffic(&[write(instance("r", "s", "i"), "x", false, "a")], 1)
        .unwrap();
    // Back to what the first release wrote: no log indexes, version 1.
    store
        .conn
        .execute_batch(&format!(
            "DROP INDEX instance_log_key; DROP INDEX server_log_key; \
             DROP INDEX service_zone_log_key; {V3_INDEXES_DROPPED} PRAGMA user_version = 1;"
        ))
        .unwrap();
    drop(store);
    let store = open_new(&dir);
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, current_version());
    let indexes = strings(
        &store.conn,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%_log_key' ORDER BY name",
    );
    assert_eq!(
        indexes,
        ["instance_log_key", "server_log_key", "service_zone_log_key"]
    );
    assert_eq!(count(&store, "instance"), 1);
    assert_eq!(count(&store, "instance_log"), 1);
}
