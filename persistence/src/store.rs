//! The storage contract the persistence thread drives. It names no SQLite type: a shared
//! MySQL/MariaDB store for clusters implements the same trait later.

use protocol::model::management::{
    LogFilter, LogKind, LogRow, ManagementSnapshot, ManagementWrite,
};

use crate::StoreError;

/// One registered instance as saved at a graceful stop, to be restored (with a fresh lease) at
/// the next start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedInstance {
    pub service_id: String,
    pub instance_id: String,
    /// Held by the legacy lease manager (spec §11.2).
    pub legacy: bool,
    /// The instance exactly as the registry serves it (JSON bytes).
    pub json: Vec<u8>,
}

/// Durable storage of management rows, operation logs and the registry snapshot.
///
/// Every method either completes entirely or changes nothing; failures come back as
/// [`StoreError`], never as a panic.
pub trait Store: Send {
    /// All writes in one transaction (one fsync): each (target, operation) pair upserts its row
    /// (pull-out) or deletes it (pull-in), matching keys and operation ignoring ASCII case, and
    /// appends one log row with `now_ms` as its time. All or nothing.
    fn commit(&mut self, writes: &[ManagementWrite], now_ms: i64) -> Result<(), StoreError>;

    /// Every pull-out row, in the order first written (the snapshot's `generation` is left 0).
    fn load_management(&mut self) -> Result<ManagementSnapshot, StoreError>;

    /// Log rows of one table, newest first, at most `limit`. Filter values match ignoring ASCII
    /// case (as MySQL's utf8 collation does for Java); a blank value, or a field the table does
    /// not have (e.g. `server_id` on instance logs), matches every row.
    fn logs(
        &mut self,
        kind: LogKind,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError>;

    /// Replace the saved registry with `instances`, in one transaction.
    fn save_registry(&mut self, instances: &[SavedInstance]) -> Result<(), StoreError>;

    /// The saved registry, in the order it was saved.
    fn load_registry(&mut self) -> Result<Vec<SavedInstance>, StoreError>;
}
