//! Turning MySQL failures into [`StoreError`]s an operator can act on.

use crate::{StoreError, StoreErrorKind};

/// `ER_LOCK_WAIT_TIMEOUT`, `ER_LOCK_DEADLOCK`: another writer (another node) held the rows.
const LOCKED: [u16; 2] = [1205, 1213];
/// `ER_RECORD_FILE_FULL` (table full), `ER_DISK_FULL`, `ER_OUT_OF_RESOURCES`.
const FULL: [u16; 3] = [1114, 1021, 1041];
/// `ER_TABLEACCESS_DENIED_ERROR`, `ER_OPTION_PREVENTS_STATEMENT` (`--read-only`),
/// `ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION`.
const READ_ONLY: [u16; 3] = [1142, 1290, 1792];

pub(super) fn kind(error: &mysql::Error) -> StoreErrorKind {
    match error {
        mysql::Error::MySqlError(e) if LOCKED.contains(&e.code) => StoreErrorKind::Busy,
        mysql::Error::MySqlError(e) if FULL.contains(&e.code) => StoreErrorKind::Full,
        mysql::Error::MySqlError(e) if READ_ONLY.contains(&e.code) => StoreErrorKind::ReadOnly,
        e if e.is_connectivity_error() => StoreErrorKind::Unavailable,
        _ => StoreErrorKind::Other,
    }
}

/// `database` is the URL with its password redacted.
pub(super) fn store_error(database: &str, error: &mysql::Error) -> StoreError {
    StoreError::new(kind(error), format!("MySQL database {database}: {error}"))
}
