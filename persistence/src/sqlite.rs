//! [`SqliteStore`]: the [`Store`] on one SQLite file, in WAL mode with `synchronous=FULL`, so a
//! committed transaction survives a crash or power loss.

mod errors;
mod group_logs;
mod groups;
mod logs;
mod management;
mod open;
mod registry;
mod schema;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use protocol::model::management::groups::{
    Group, GroupData, GroupFilter, GroupInstance, GroupInstanceFilter, GroupLogFilter,
    GroupLogKind, GroupLogRow, RouteRuleFilter, RouteRuleGroup, RouteRuleGroupFilter,
    ServiceInstance, ServiceInstanceFilter, ServiceRouteRule,
};
use protocol::model::management::{LogFilter, LogKind, LogRow, ManagementSnapshot};
use rusqlite::{Connection, TransactionBehavior};

use crate::{Change, OpenError, SavedInstance, Store, StoreError};

/// One open artemis database file. Owned by the persistence thread; not shared.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Open the database at `path`, creating it (and its schema) when the file does not exist.
    ///
    /// An existing file is opened without create and checked (`PRAGMA quick_check`, schema
    /// version); one that fails is reported as [`OpenError`] and left untouched: this never
    /// deletes, truncates or recreates a file.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, OpenError> {
        let path = path.as_ref().to_path_buf();
        let conn = open::open(&path)?;
        Ok(SqliteStore { conn, path })
    }

    /// Run one write transaction, after checking that the operator has not made the file
    /// read-only, and turn any failure into a [`StoreError`] naming the file.
    fn write<T>(
        &mut self,
        transaction: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        errors::ensure_writable(&self.path)?;
        transaction(&mut self.conn).map_err(|e| errors::store_error(&self.path, &e))
    }

    fn read<T>(
        &mut self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        query(&self.conn).map_err(|e| errors::store_error(&self.path, &e))
    }
}

/// Every change in one IMMEDIATE transaction (the write lock is taken up front, so the commit
/// cannot fail half-way on a lock upgrade). Any error returns before `commit`, and dropping the
/// transaction rolls everything back.
fn commit(
    conn: &mut Connection,
    changes: &[Change],
    now_ms: i64,
) -> rusqlite::Result<Option<GroupData>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut groups_written = false;
    for change in changes {
        match change {
            Change::Traffic(write) => management::apply(&tx, write, now_ms)?,
            Change::Groups(write) => {
                groups::apply(&tx, write, now_ms)?;
                groups_written = true;
            }
        }
    }
    let groups = if groups_written {
        Some(GroupData::new(groups::load(&tx)?))
    } else {
        None
    };
    tx.commit()?;
    Ok(groups)
}

impl Store for SqliteStore {
    fn commit(&mut self, changes: &[Change], now_ms: i64) -> Result<Option<GroupData>, StoreError> {
        self.write(|conn| commit(conn, changes, now_ms))
    }

    fn load_management(&mut self) -> Result<ManagementSnapshot, StoreError> {
        self.read(|conn| {
            let mut snapshot = management::load(conn)?;
            snapshot.set_groups(Arc::new(GroupData::new(groups::load(conn)?)));
            Ok(snapshot)
        })
    }

    fn logs(
        &mut self,
        kind: LogKind,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError> {
        self.read(|conn| logs::query(conn, kind, filter, limit))
    }

    fn group_logs(
        &mut self,
        kind: GroupLogKind,
        filter: &GroupLogFilter,
        limit: usize,
    ) -> Result<Vec<GroupLogRow>, StoreError> {
        self.read(|conn| group_logs::query(conn, kind, filter, limit))
    }

    fn route_rules(
        &mut self,
        filter: &RouteRuleFilter,
    ) -> Result<Vec<ServiceRouteRule>, StoreError> {
        self.read(|conn| groups::route_rules(conn, filter))
    }

    fn route_rule_groups(
        &mut self,
        filter: &RouteRuleGroupFilter,
    ) -> Result<Vec<RouteRuleGroup>, StoreError> {
        self.read(|conn| groups::route_rule_groups(conn, filter))
    }

    fn groups(&mut self, filter: &GroupFilter) -> Result<Vec<Group>, StoreError> {
        self.read(|conn| groups::groups(conn, filter))
    }

    fn group_instances(
        &mut self,
        filter: &GroupInstanceFilter,
    ) -> Result<Vec<GroupInstance>, StoreError> {
        self.read(|conn| groups::group_instances(conn, filter))
    }

    fn service_instances(
        &mut self,
        filter: &ServiceInstanceFilter,
    ) -> Result<Vec<ServiceInstance>, StoreError> {
        self.read(|conn| groups::service_instances(conn, filter))
    }

    fn save_registry(&mut self, instances: &[SavedInstance]) -> Result<(), StoreError> {
        self.write(|conn| registry::save(conn, instances))
    }

    fn load_registry(&mut self) -> Result<Vec<SavedInstance>, StoreError> {
        self.read(registry::load)
    }
}
