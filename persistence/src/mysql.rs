//! [`MySqlStore`]: the [`Store`] on a MySQL or MariaDB database that every node of a cluster
//! shares, in Java Artemis's own tables (so Java nodes on the same database see the same rows).
//!
//! Used only on the persistence thread, through a bounded pool of synchronous connections.
//! Each job takes a connection (pinged first, so one the server dropped is replaced by a new
//! one) and runs in one transaction: a failure rolls it back and is answered as a
//! [`StoreError`]; a lost connection is `Unavailable`, and the next job connects again. As with
//! any client-server database, a connection lost during `COMMIT` itself leaves the outcome
//! unknown to the client; the error is reported all the same.
//!
//! Times are whole seconds in the database (Java's `datetime` / `timestamp` columns): a write
//! at `now_ms` reads back as `now_ms` rounded down to the second.
//!
//! The registry saved at a graceful stop is this node's own state, not the cluster's: it stays
//! in the node's SQLite file under `data_dir`.

mod connect;
mod errors;
mod fingerprint;
mod group_logs;
mod groups;
mod logs;
mod management;
mod rows;
mod schema;
#[cfg(test)]
mod tests;
mod url;

use std::fmt;
use std::time::Duration;

use mysql::{IsolationLevel, Pool, PooledConn, Transaction, TxOpts};
use protocol::model::management::groups::{
    Group, GroupData, GroupFilter, GroupInstance, GroupInstanceFilter, GroupLogFilter,
    GroupLogKind, GroupLogRow, RouteRuleFilter, RouteRuleGroup, RouteRuleGroupFilter,
    ServiceInstance, ServiceInstanceFilter, ServiceRouteRule,
};
use protocol::model::management::{LogFilter, LogKind, LogRow, ManagementSnapshot};

pub use self::url::{redact_url, MySqlUrl};
use crate::{Change, Fingerprint, SavedInstance, SqliteStore, Store, StoreError};

/// How to reach the shared database.
#[derive(Clone)]
pub struct MySqlOptions {
    pub url: MySqlUrl,
    /// The password, when it comes from a file or the environment rather than the URL.
    pub password: Option<String>,
    /// Connections held open at most.
    pub pool_size: usize,
    /// How long one connection attempt may take, and at start how long an unreachable server
    /// is tried again before giving up.
    pub connect_timeout: Duration,
    /// How long a statement may wait for the server (its answer, or a row lock) before failing.
    pub query_timeout: Duration,
}

/// Never the password.
impl fmt::Debug for MySqlOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlOptions")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish()
    }
}

/// The shared database cannot be used: unreachable until the connect timeout, refused
/// credentials, an unknown database, or a table artemis cannot use. Nothing was altered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MySqlOpenError {
    /// The URL, its password redacted.
    pub database: String,
    pub reason: String,
}

impl fmt::Display for MySqlOpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot use the MySQL database {}: {}",
            self.database, self.reason
        )
    }
}

impl std::error::Error for MySqlOpenError {}

/// The management store of a cluster. Owned by the persistence thread; not shared.
pub struct MySqlStore {
    pool: Pool,
    /// The URL with its password redacted, for messages.
    database: String,
    /// The node's own SQLite file, for the saved registry.
    local: SqliteStore,
}

impl MySqlStore {
    /// Connect (see [`MySqlOptions::connect_timeout`]), create the missing tables of Java's
    /// schema and check the present ones. `local` keeps the saved registry.
    pub fn open(options: &MySqlOptions, local: SqliteStore) -> Result<MySqlStore, MySqlOpenError> {
        let database = options.url.redacted().to_owned();
        let pool = connect::connect(options)?;
        let fail = |reason: String| MySqlOpenError {
            database: database.clone(),
            reason,
        };
        let mut conn = pool.get_conn().map_err(|e| fail(e.to_string()))?;
        schema::ensure(&mut conn).map_err(|e| match e {
            schema::SchemaError::Database(e) => fail(e.to_string()),
            schema::SchemaError::Incompatible(why) => fail(why),
        })?;
        drop(conn);
        Ok(MySqlStore {
            pool,
            database,
            local,
        })
    }

    fn error(&self, error: &mysql::Error) -> StoreError {
        errors::store_error(&self.database, error)
    }

    fn connection(&self) -> Result<PooledConn, StoreError> {
        self.pool.get_conn().map_err(|e| self.error(&e))
    }

    /// Run `work` in one read-write transaction; any error rolls it back (dropping the
    /// transaction) before it is answered.
    fn write<T>(
        &mut self,
        work: impl FnOnce(&mut Transaction<'_>) -> mysql::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection()?;
        let run = |conn: &mut PooledConn| {
            let mut tx = conn.start_transaction(TxOpts::default())?;
            let value = work(&mut tx)?;
            tx.commit()?;
            Ok(value)
        };
        run(&mut conn).map_err(|e| self.error(&e))
    }

    /// Run `query` in one read-only transaction on a consistent snapshot, so reads of several
    /// tables see the same moment.
    fn read<T>(
        &mut self,
        query: impl FnOnce(&mut Transaction<'_>) -> mysql::Result<T>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection()?;
        let run = |conn: &mut PooledConn| {
            let options = TxOpts::default()
                .set_with_consistent_snapshot(true)
                .set_isolation_level(Some(IsolationLevel::RepeatableRead))
                .set_access_mode(Some(mysql::AccessMode::ReadOnly));
            let mut tx = conn.start_transaction(options)?;
            let value = query(&mut tx)?;
            tx.commit()?;
            Ok(value)
        };
        run(&mut conn).map_err(|e| self.error(&e))
    }
}

/// Epoch milliseconds as the epoch seconds Java's time columns hold (`FROM_UNIXTIME(?)`).
fn seconds(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000)
}

fn commit(
    tx: &mut Transaction<'_>,
    changes: &[Change],
    now_ms: i64,
) -> mysql::Result<Option<GroupData>> {
    let mut groups_written = false;
    for change in changes {
        match change {
            Change::Traffic(write) => management::apply(tx, write, now_ms)?,
            Change::Groups(write) => {
                groups::apply(tx, write, now_ms)?;
                groups_written = true;
            }
        }
    }
    if groups_written {
        Ok(Some(GroupData::new(groups::load(tx)?)))
    } else {
        Ok(None)
    }
}

impl Store for MySqlStore {
    fn commit(&mut self, changes: &[Change], now_ms: i64) -> Result<Option<GroupData>, StoreError> {
        self.write(|tx| commit(tx, changes, now_ms))
    }

    fn load_management(&mut self) -> Result<ManagementSnapshot, StoreError> {
        self.read(|tx| {
            let mut snapshot = management::load(tx)?;
            snapshot.set_groups(std::sync::Arc::new(GroupData::new(groups::load(tx)?)));
            Ok(snapshot)
        })
    }

    fn fingerprint(&mut self) -> Result<Option<Fingerprint>, StoreError> {
        let mut conn = self.connection()?;
        let sums = fingerprint::read(&mut conn).map_err(|e| self.error(&e))?;
        Ok(Some(Fingerprint(sums)))
    }

    fn logs(
        &mut self,
        kind: LogKind,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError> {
        self.read(|tx| logs::query(tx, kind, filter, limit))
    }

    fn group_logs(
        &mut self,
        kind: GroupLogKind,
        filter: &GroupLogFilter,
        limit: usize,
    ) -> Result<Vec<GroupLogRow>, StoreError> {
        self.read(|tx| group_logs::query(tx, kind, filter, limit))
    }

    fn route_rules(
        &mut self,
        filter: &RouteRuleFilter,
    ) -> Result<Vec<ServiceRouteRule>, StoreError> {
        self.read(|tx| groups::route_rules(tx, filter))
    }

    fn route_rule_groups(
        &mut self,
        filter: &RouteRuleGroupFilter,
    ) -> Result<Vec<RouteRuleGroup>, StoreError> {
        self.read(|tx| groups::route_rule_groups(tx, filter))
    }

    fn groups(&mut self, filter: &GroupFilter) -> Result<Vec<Group>, StoreError> {
        self.read(|tx| groups::groups(tx, filter))
    }

    fn group_instances(
        &mut self,
        filter: &GroupInstanceFilter,
    ) -> Result<Vec<GroupInstance>, StoreError> {
        self.read(|tx| groups::group_instances(tx, filter))
    }

    fn service_instances(
        &mut self,
        filter: &ServiceInstanceFilter,
    ) -> Result<Vec<ServiceInstance>, StoreError> {
        self.read(|tx| groups::service_instances(tx, filter))
    }

    fn save_registry(&mut self, instances: &[SavedInstance]) -> Result<(), StoreError> {
        self.local.save_registry(instances)
    }

    fn load_registry(&mut self) -> Result<Vec<SavedInstance>, StoreError> {
        self.local.load_registry()
    }
}
