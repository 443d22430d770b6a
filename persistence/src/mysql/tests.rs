//! What only the shared store does: Java's schema created exactly and an existing Java database
//! used as it is, tables it cannot use refused untouched, start-up failures told apart
//! (credentials and unknown databases at once, an unreachable server after the connect
//! timeout), and connections lost while running. The store contract itself is tested in
//! `crate::suite`, on both stores.

mod polling;

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;
use protocol::model::management::groups::{GroupChange, GroupOperator, GroupWrite};
use protocol::model::management::{LogFilter, LogKind};

use super::{MySqlOptions, MySqlStore, MySqlUrl};
use crate::suite::at;
use crate::suite::fixture::{options, raw_connection};
use crate::test_support::java_tables::JAVA_TABLES;
use crate::test_support::mariadb::{self, MariaDb};
use crate::test_support::{instance, write, CommitTraffic, TempDir};
use crate::{Change, SqliteStore, Store, StoreErrorKind};

/// Java's DDL, as a Java node runs it.
const JAVA_SCHEMA: &str = include_str!("tests/java_schema.sql");

fn open(options: &MySqlOptions, dir: &TempDir) -> Result<MySqlStore, super::MySqlOpenError> {
    let local = SqliteStore::open(dir.file("artemis.db")).expect("open the local file");
    MySqlStore::open(options, local)
}

/// A database of the shared server created by Java's DDL.
fn java_database() -> String {
    let database = MariaDb::shared().create_database();
    let mut conn = raw_connection(&database);
    let statements = JAVA_SCHEMA
        .lines()
        .filter(|line| !line.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in statements.split(';').filter(|s| !s.trim().is_empty()) {
        conn.query_drop(statement).unwrap();
    }
    database
}

type Rows = Vec<Vec<String>>;

/// Every row of `sql` about `database`, each value as text (`NULL` as "NULL").
fn rows(conn: &mut mysql::Conn, sql: &str, database: &str) -> Rows {
    let rows: Vec<mysql::Row> = conn.exec(sql, (database,)).unwrap();
    let text = |value: mysql::Value| match value {
        mysql::Value::NULL => "NULL".to_owned(),
        mysql::Value::Bytes(bytes) => String::from_utf8(bytes).unwrap(),
        other => other.as_sql(true),
    };
    rows.into_iter()
        .map(|row| row.unwrap().into_iter().map(text).collect())
        .collect()
}

/// The schema of `database` as information_schema describes it: tables (engine, collation),
/// columns (position, type, nullability, default, extra, collation) and every index.
fn schema(database: &str) -> (Rows, Rows, Rows) {
    let mut conn = raw_connection(database);
    let tables = rows(
        &mut conn,
        "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
        database,
    );
    let columns = rows(
        &mut conn,
        "SELECT TABLE_NAME, ORDINAL_POSITION, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE,
                COLUMN_DEFAULT, EXTRA, COLLATION_NAME
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ?
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
        database,
    );
    let indexes = rows(
        &mut conn,
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ?
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        database,
    );
    (tables, columns, indexes)
}

fn show_create_tables(database: &str) -> Vec<String> {
    let mut conn = raw_connection(database);
    let tables: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?
             ORDER BY TABLE_NAME",
            (database,),
        )
        .unwrap();
    tables
        .iter()
        .map(|table| {
            let (_, create): (String, String) = conn
                .query_first(format!("SHOW CREATE TABLE {table}"))
                .unwrap()
                .unwrap();
            create
        })
        .collect()
}

#[test]
fn a_new_database_gets_exactly_the_schema_java_creates() {
    let dir = TempDir::new("mysql-schema");
    let database = MariaDb::shared().create_database();
    drop(open(&options(&database), &dir).unwrap());
    assert_eq!(schema(&database), schema(&java_database()));

    let (tables, columns, indexes) = schema(&database);
    let names: Vec<&str> = tables.iter().map(|t| t[0].as_str()).collect();
    let mut expected: Vec<&str> = JAVA_TABLES.iter().map(|t| t.0).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "Java's tables and no other");
    for (table, expected_columns, unique_key) in JAVA_TABLES {
        let table_columns: Vec<&str> = columns
            .iter()
            .filter(|c| c[0] == *table)
            .map(|c| c[2].as_str())
            .collect();
        assert_eq!(table_columns, *expected_columns, "columns of {table}");
        let unique: Vec<&str> = indexes
            .iter()
            .filter(|i| i[0] == *table && i[1] != "PRIMARY" && i[2] == "0")
            .map(|i| i[4].as_str())
            .collect();
        assert_eq!(unique, *unique_key, "unique key of {table}");
    }
    for table in &tables {
        assert_eq!(table[1], "InnoDB", "{table:?}");
        assert!(
            table[2].starts_with("utf8") && table[2].ends_with("_general_ci"),
            "{table:?}: utf8, case-insensitive"
        );
    }
    for column in columns.iter().filter(|c| c[2] == "DataChange_LastTime") {
        assert_eq!(column[3], "timestamp", "{column:?}");
        assert_eq!(column[6], "on update current_timestamp()", "{column:?}");
    }
}

fn operator() -> GroupOperator {
    GroupOperator {
        operation: "op".into(),
        operator_id: "alice".into(),
        reason: None,
        extensions: "{}".into(),
    }
}

#[test]
fn a_database_java_created_is_used_as_it_is_and_read_as_java_wrote_it() {
    let dir = TempDir::new("mysql-java");
    let database = java_database();
    let mut java = raw_connection(&database);
    // Rows as Java's DAOs write them: times from the column defaults, a token, a group
    // pulled out.
    for statement in [
        "INSERT INTO instance (INSTANCE_ID, SERVICE_ID, REGION_ID, OPERATION, OPERATOR_ID, TOKEN)
         VALUES ('i1', 'svc', 'SHA', 'pullout', 'ops', 'secret-token')",
        "INSERT INTO service_group (SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, STATUS)
         VALUES ('svc', 'SHA', 'z1', 'g1', 'app', 'active')",
        "INSERT INTO service_group_operation (GROUP_ID, OPERATION) VALUES (1, 'pullout')",
    ] {
        java.query_drop(statement).unwrap();
    }
    let before = show_create_tables(&database);
    let mut store = open(&options(&database), &dir).unwrap();
    assert_eq!(show_create_tables(&database), before, "nothing altered");

    let snapshot = store.load_management().unwrap();
    assert!(snapshot.is_down("sha", "SVC", "I1", "", ""));
    assert_eq!(
        snapshot.groups().group_operations(1).unwrap().operations,
        ["pullout"]
    );

    store
        .commit_traffic(
            &[write(instance("SHA", "svc", "i2"), "pullout", false, "bob")],
            at(1),
        )
        .unwrap();
    store
        .commit(
            &[Change::Groups(GroupWrite {
                change: GroupChange::OperateGroups {
                    operations: vec![(1, "pullout".into())],
                    complete: true,
                },
                operator: operator(),
            })],
            at(2),
        )
        .unwrap();
    // What a Java node reads.
    let pulled_out: Vec<(String, String, String, i64)> = java
        .query(
            "SELECT INSTANCE_ID, OPERATOR_ID, TOKEN, UNIX_TIMESTAMP(CREATE_TIME) FROM instance \
             ORDER BY ID",
        )
        .unwrap();
    assert_eq!(
        pulled_out,
        [
            (
                "i1".into(),
                "ops".into(),
                "secret-token".into(),
                pulled_out[0].3
            ),
            ("i2".into(), "bob".into(), String::new(), at(1) / 1000),
        ]
    );
    let operations: i64 = java
        .query_first("SELECT COUNT(*) FROM service_group_operation")
        .unwrap()
        .unwrap();
    assert_eq!(operations, 0, "the group is back in");
}

/// Open must fail with a reason containing `expected`, changing no table of `database`.
fn assert_refused_untouched(database: &str, expected: &str) {
    let dir = TempDir::new("mysql-refused");
    let before = show_create_tables(database);
    let error = open(&options(database), &dir)
        .err()
        .expect("open must fail");
    assert!(error.reason.contains(expected), "{error}");
    assert!(error.to_string().contains(database), "{error}");
    assert!(!error.to_string().contains(mariadb::PASSWORD), "{error}");
    assert_eq!(
        show_create_tables(database),
        before,
        "nothing created or altered"
    );
}

#[test]
fn a_table_with_java_name_but_not_java_columns_is_refused_and_left_as_it_is() {
    let database = MariaDb::shared().create_database();
    raw_connection(&database)
        .query_drop(
            "CREATE TABLE service_route_rule (ID bigint AUTO_INCREMENT PRIMARY KEY,
             SERVICE_ID varchar(255), NAME varchar(255), UNIQUE KEY (SERVICE_ID, NAME))
             DEFAULT CHARSET=utf8",
        )
        .unwrap();
    assert_refused_untouched(&database, "table service_route_rule exists");
    assert_refused_untouched(&database, "column DESCRIPTION is missing");
}

#[test]
fn a_table_that_compares_case_sensitively_or_lacks_its_unique_key_is_refused() {
    let database = MariaDb::shared().create_database();
    let server_table = |collation: &str, unique: &str| {
        format!(
            "CREATE TABLE server (ID bigint AUTO_INCREMENT PRIMARY KEY,
             SERVER_ID varchar(255), REGION_ID varchar(255), OPERATION varchar(255),
             OPERATOR_ID varchar(255), TOKEN varchar(255), CREATE_TIME datetime,
             DataChange_LastTime timestamp{unique}) DEFAULT CHARSET=utf8 COLLATE={collation}"
        )
    };
    let mut conn = raw_connection(&database);
    conn.query_drop(server_table(
        "utf8_bin",
        ", UNIQUE KEY (SERVER_ID, REGION_ID, OPERATION)",
    ))
    .unwrap();
    assert_refused_untouched(&database, "case-sensitive collation utf8mb3_bin");
    conn.query_drop("DROP TABLE server").unwrap();
    conn.query_drop(server_table("utf8_general_ci", ""))
        .unwrap();
    assert_refused_untouched(
        &database,
        "no unique key on (SERVER_ID, REGION_ID, OPERATION)",
    );
}

#[test]
fn refused_credentials_and_unknown_databases_fail_at_once() {
    let dir = TempDir::new("mysql-credentials");
    let server = MariaDb::shared();
    let database = server.create_database();
    let mut wrong = options(&database);
    wrong.url = MySqlUrl::parse(&server.url_without_password(&database)).unwrap();
    wrong.password = Some("not-the-password".into());
    // Retrying would only end with the connect timeout, and say so.
    wrong.connect_timeout = Duration::from_secs(60);
    let error = open(&wrong, &dir)
        .err()
        .expect("a wrong password is refused");
    assert!(error.reason.contains("Access denied"), "{error}");
    assert!(!error.reason.contains("connect_timeout_ms"), "{error}");
    assert!(!error.to_string().contains("not-the-password"), "{error}");

    let mut unknown = options("no_such_database");
    unknown.connect_timeout = Duration::from_secs(60);
    let error = open(&unknown, &dir)
        .err()
        .expect("an unknown database is refused");
    assert!(error.reason.contains("Unknown database"), "{error}");
    assert!(!error.reason.contains("connect_timeout_ms"), "{error}");
}

#[test]
fn a_password_given_apart_from_the_url_is_used() {
    let dir = TempDir::new("mysql-password");
    let server = MariaDb::shared();
    let database = server.create_database();
    let mut apart = options(&database);
    apart.url = MySqlUrl::parse(&server.url_without_password(&database)).unwrap();
    apart.password = Some(mariadb::PASSWORD.into());
    let mut store = open(&apart, &dir).unwrap();
    assert!(store.load_management().unwrap().is_empty());
}

#[test]
fn an_unreachable_server_is_tried_until_the_connect_timeout() {
    let dir = TempDir::new("mysql-unreachable");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut nowhere = options("artemis");
    nowhere.url = MySqlUrl::parse(&format!("mysql://u:pw@127.0.0.1:{port}/artemis")).unwrap();
    nowhere.connect_timeout = Duration::from_millis(1000);
    let started = Instant::now();
    let error = open(&nowhere, &dir).err().expect("nothing answers");
    assert!(started.elapsed() >= Duration::from_millis(750), "{error}");
    assert!(
        error
            .reason
            .contains("did not answer within persistence.connect_timeout_ms (1000 ms"),
        "{error}"
    );
    assert_eq!(
        error.database,
        format!("mysql://u:***@127.0.0.1:{port}/artemis")
    );
}

#[test]
fn connections_the_server_dropped_are_replaced_by_the_next_job() {
    let dir = TempDir::new("mysql-killed");
    let database = MariaDb::shared().create_database();
    let mut store = open(&options(&database), &dir).unwrap();
    store
        .commit_traffic(&[write(instance("r", "s", "i1"), "x", false, "a")], at(1))
        .unwrap();
    let mut admin = raw_connection(&database);
    let ids: Vec<u64> = admin
        .exec(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
            (&database,),
        )
        .unwrap();
    assert!(!ids.is_empty(), "the store holds a connection");
    for id in ids {
        admin.query_drop(format!("KILL CONNECTION {id}")).unwrap();
    }
    store
        .commit_traffic(&[write(instance("r", "s", "i2"), "x", false, "a")], at(2))
        .unwrap();
    assert_eq!(store.load_management().unwrap().instances().count(), 2);
}

#[test]
fn while_the_server_is_down_jobs_fail_cleanly_and_afterwards_the_store_reconnects() {
    let dir = TempDir::new("mysql-restart");
    // Its own server: this test stops it.
    let mut server = MariaDb::start();
    let database = server.create_database();
    let mut down = options(&database);
    down.url = MySqlUrl::parse(&server.url(&database)).unwrap();
    down.connect_timeout = Duration::from_secs(2);
    let mut store = open(&down, &dir).unwrap();
    let pull_out = |id: &str| write(instance("r", "s", id), "x", false, "a");
    store.commit_traffic(&[pull_out("before")], at(1)).unwrap();

    server.kill();
    let error = store
        .commit_traffic(&[pull_out("while-down")], at(2))
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    assert!(error.message.contains(&database), "{error}");
    let error = store
        .logs(LogKind::Instance, &LogFilter::default(), 10)
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");

    server.start_again();
    store.commit_traffic(&[pull_out("after")], at(3)).unwrap();
    let mut ids: Vec<String> = store
        .load_management()
        .unwrap()
        .instances()
        .map(|entry| entry.key.instance_id.clone())
        .collect();
    ids.sort();
    assert_eq!(ids, ["after", "before"]);
    let logs = store
        .logs(LogKind::Instance, &LogFilter::default(), 10)
        .unwrap();
    assert_eq!(logs.len(), 2, "the failed write left no log row");
}
