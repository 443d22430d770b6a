use std::fs;
use std::os::unix::fs::PermissionsExt;

use protocol::model::management::ManagementWrite;
use protocol::rng::Rng;
use rusqlite::Connection;

use super::schema::current_version;
use super::SqliteStore;
use crate::test_support::java_tables::JAVA_TABLES;
use crate::test_support::{instance, write, CommitTraffic, TempDir};
use crate::{SavedInstance, Store, StoreErrorKind};

/// Java's tables, plus artemis's `registry_instance`.
fn expected_tables() -> Vec<(
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
)> {
    let mut tables = JAVA_TABLES.to_vec();
    tables.push((
        "registry_instance",
        &["ID", "SERVICE_ID", "INSTANCE_ID", "LEGACY", "INSTANCE_JSON"],
        &["SERVICE_ID", "INSTANCE_ID"],
    ));
    tables
}

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
    let mut expected: Vec<String> = expected_tables().iter().map(|t| t.0.to_owned()).collect();
    tables.sort();
    expected.sort();
    assert_eq!(tables, expected);

    for (table, columns, unique) in expected_tables() {
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
