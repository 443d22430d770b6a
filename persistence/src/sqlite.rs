//! [`SqliteStore`]: the [`Store`] on one SQLite file, in WAL mode with `synchronous=FULL`, so a
//! committed transaction survives a crash or power loss.

mod errors;
mod logs;
mod management;
mod open;
mod registry;
mod schema;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use protocol::model::management::{
    LogFilter, LogKind, LogRow, ManagementSnapshot, ManagementWrite,
};
use rusqlite::Connection;

use crate::{OpenError, SavedInstance, Store, StoreError};

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

impl Store for SqliteStore {
    fn commit(&mut self, writes: &[ManagementWrite], now_ms: i64) -> Result<(), StoreError> {
        self.write(|conn| management::commit(conn, writes, now_ms))
    }

    fn load_management(&mut self) -> Result<ManagementSnapshot, StoreError> {
        self.read(management::load)
    }

    fn logs(
        &mut self,
        kind: LogKind,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError> {
        self.read(|conn| logs::query(conn, kind, filter, limit))
    }

    fn save_registry(&mut self, instances: &[SavedInstance]) -> Result<(), StoreError> {
        self.write(|conn| registry::save(conn, instances))
    }

    fn load_registry(&mut self) -> Result<Vec<SavedInstance>, StoreError> {
        self.read(registry::load)
    }
}
