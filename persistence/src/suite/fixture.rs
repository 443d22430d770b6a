//! A fresh store of each kind for one test, with raw access to its tables for what the
//! [`Store`] contract does not expose (row counts, stored times, an injected failure).

use mysql::prelude::Queryable;
use rusqlite::Connection;

use crate::test_support::mariadb::MariaDb;
use crate::test_support::TempDir;
use crate::{MySqlOptions, MySqlStore, MySqlUrl, SqliteStore, Store};

/// One test's store and the database behind it.
pub(crate) trait Fixture {
    type Store: Store;

    /// An empty store.
    fn new(label: &str) -> Self;

    fn store(&mut self) -> &mut Self::Store;

    /// Close the store and open the same data again, as a restart does.
    fn reopen(&mut self);

    /// Rows in `table`.
    fn count(&mut self, table: &str) -> i64;

    /// `columns` (text) of every row of `table`, by id.
    fn texts(&mut self, table: &str, columns: &str) -> Vec<Vec<String>>;

    /// (`CREATE_TIME`, `DataChange_LastTime`) of every row of `table` in epoch milliseconds,
    /// by id.
    fn times(&mut self, table: &str) -> Vec<(i64, i64)>;

    /// From now on, inserting a logical instance with this id fails (as a full disk or a lost
    /// connection would fail any statement half-way through a batch).
    fn fail_logical_instance_inserts(&mut self, instance_id: &str);
}

/// The embedded store on a file in a private temporary directory.
pub(crate) struct Sqlite {
    dir: TempDir,
    store: Option<SqliteStore>,
}

impl Sqlite {
    fn raw(&self) -> Connection {
        Connection::open(self.dir.file("artemis.db")).expect("open the database file")
    }
}

impl Fixture for Sqlite {
    type Store = SqliteStore;

    fn new(label: &str) -> Self {
        let dir = TempDir::new(label);
        let store = SqliteStore::open(dir.file("artemis.db")).expect("open a new database");
        Sqlite {
            dir,
            store: Some(store),
        }
    }

    fn store(&mut self) -> &mut SqliteStore {
        self.store.as_mut().expect("the store is open")
    }

    fn reopen(&mut self) {
        drop(self.store.take());
        self.store = Some(SqliteStore::open(self.dir.file("artemis.db")).expect("reopen"));
    }

    fn count(&mut self, table: &str) -> i64 {
        self.raw()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn texts(&mut self, table: &str, columns: &str) -> Vec<Vec<String>> {
        let conn = self.raw();
        let mut statement = conn
            .prepare(&format!("SELECT {columns} FROM {table} ORDER BY ID"))
            .unwrap();
        let width = statement.column_count();
        let rows = statement
            .query_map([], |row| (0..width).map(|i| row.get(i)).collect())
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn times(&mut self, table: &str) -> Vec<(i64, i64)> {
        let conn = self.raw();
        let mut statement = conn
            .prepare(&format!(
                "SELECT CREATE_TIME, DataChange_LastTime FROM {table} ORDER BY ID"
            ))
            .unwrap();
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    fn fail_logical_instance_inserts(&mut self, instance_id: &str) {
        self.raw()
            .execute_batch(&format!(
                "CREATE TRIGGER boom BEFORE INSERT ON service_instance \
                 WHEN NEW.INSTANCE_ID = '{instance_id}' BEGIN SELECT RAISE(ABORT, 'boom'); END;"
            ))
            .unwrap();
    }
}

/// The shared store on its own database of the test binary's MariaDB server, with the saved
/// registry in a local SQLite file as on a node.
pub(crate) struct MariaDbStore {
    dir: TempDir,
    options: MySqlOptions,
    store: Option<MySqlStore>,
    raw: mysql::Conn,
}

impl MariaDbStore {
    fn open(dir: &TempDir, options: &MySqlOptions) -> MySqlStore {
        let local = SqliteStore::open(dir.file("artemis.db")).expect("open the local file");
        MySqlStore::open(options, local).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Options of a store on `database` of the shared server.
pub(crate) fn options(database: &str) -> MySqlOptions {
    let server = MariaDb::shared();
    MySqlOptions {
        url: MySqlUrl::parse(&server.url(database)).expect("the test server's URL"),
        password: None,
        pool_size: 2,
        connect_timeout: std::time::Duration::from_secs(10),
        query_timeout: std::time::Duration::from_secs(30),
    }
}

/// A raw connection to `database`, in UTC like the store's.
pub(crate) fn raw_connection(database: &str) -> mysql::Conn {
    let url = MariaDb::shared().url(database);
    let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&url).unwrap())
        .init(vec!["SET SESSION time_zone = '+00:00'"]);
    mysql::Conn::new(opts).expect("connect to the test database")
}

impl Fixture for MariaDbStore {
    type Store = MySqlStore;

    fn new(label: &str) -> Self {
        let database = MariaDb::shared().create_database();
        let dir = TempDir::new(label);
        let options = options(&database);
        let store = MariaDbStore::open(&dir, &options);
        MariaDbStore {
            dir,
            options,
            store: Some(store),
            raw: raw_connection(&database),
        }
    }

    fn store(&mut self) -> &mut MySqlStore {
        self.store.as_mut().expect("the store is open")
    }

    fn reopen(&mut self) {
        drop(self.store.take());
        self.store = Some(MariaDbStore::open(&self.dir, &self.options));
    }

    fn count(&mut self, table: &str) -> i64 {
        self.raw
            .query_first(format!("SELECT COUNT(*) FROM {table}"))
            .unwrap()
            .unwrap()
    }

    fn texts(&mut self, table: &str, columns: &str) -> Vec<Vec<String>> {
        let rows: Vec<mysql::Row> = self
            .raw
            .query(format!("SELECT {columns} FROM {table} ORDER BY ID"))
            .unwrap();
        rows.into_iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.get::<String, usize>(i).unwrap())
                    .collect()
            })
            .collect()
    }

    fn times(&mut self, table: &str) -> Vec<(i64, i64)> {
        self.raw
            .query(format!(
                "SELECT UNIX_TIMESTAMP(CREATE_TIME) * 1000, \
                 UNIX_TIMESTAMP(DataChange_LastTime) * 1000 FROM {table} ORDER BY ID"
            ))
            .unwrap()
    }

    fn fail_logical_instance_inserts(&mut self, instance_id: &str) {
        self.raw
            .query_drop(format!(
                "CREATE TRIGGER boom BEFORE INSERT ON service_instance FOR EACH ROW \
                 BEGIN IF NEW.INSTANCE_ID = '{instance_id}' THEN \
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'boom'; END IF; END"
            ))
            .unwrap();
    }
}
