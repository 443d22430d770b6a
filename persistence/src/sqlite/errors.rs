//! Turning storage failures into [`StoreError`]s an operator can act on.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rusqlite::ErrorCode;

use crate::{StoreError, StoreErrorKind};

/// Refuse to write when no write bit is set on the database file.
///
/// SQLite opened the file read-write at start and root ignores permission bits, so without this
/// check an operator's `chmod a-w` (the usual way to freeze a database) would not stop writes.
/// A missing file is refused too: writes would go to an unlinked inode and vanish at restart.
pub(super) fn ensure_writable(path: &Path) -> Result<(), StoreError> {
    let metadata = fs::metadata(path).map_err(|e| {
        StoreError::new(
            StoreErrorKind::Io,
            format!("database file {}: {e}", path.display()),
        )
    })?;
    if metadata.permissions().mode() & 0o222 == 0 {
        return Err(StoreError::new(
            StoreErrorKind::ReadOnly,
            format!("database file {} is read-only", path.display()),
        ));
    }
    Ok(())
}

pub(super) fn store_error(path: &Path, error: &rusqlite::Error) -> StoreError {
    let kind = match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreErrorKind::Full,
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => StoreErrorKind::ReadOnly,
        Some(
            ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseCorrupt
            | ErrorCode::NotADatabase
            | ErrorCode::CannotOpen,
        ) => StoreErrorKind::Io,
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreErrorKind::Busy,
        _ => StoreErrorKind::Other,
    };
    StoreError::new(kind, format!("database file {}: {error}", path.display()))
}
