//! Opening (or creating) the database file, checking it, and bringing its schema up to date.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::errors::ensure_writable;
use super::schema::{current_version, MIGRATIONS};
use crate::OpenError;

/// How long a statement waits for a lock held by another process (a backup tool, an operator's
/// `sqlite3` shell) before failing with `Busy`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) fn open(path: &Path) -> Result<Connection, OpenError> {
    let fail = |reason: String| OpenError {
        path: path.to_path_buf(),
        reason,
    };
    let exists = path
        .try_exists()
        .map_err(|e| fail(format!("cannot inspect it: {e}")))?;
    if exists && !path.is_file() {
        return Err(fail("it is not a regular file".into()));
    }
    // Without SQLITE_OPEN_CREATE an existing file can never be replaced by a new database, even
    // if it vanishes and reappears between the check above and this call.
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !exists {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let sqlite = |what: &str| {
        let what = what.to_owned();
        move |e: rusqlite::Error| fail(format!("{what}: {e}"))
    };
    let mut conn = Connection::open_with_flags(path, flags).map_err(sqlite("cannot open"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite("cannot set the busy timeout"))?;

    // Check before anything writes: a damaged or foreign file must be reported, not modified.
    check_integrity(&conn).map_err(fail)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sqlite("cannot read the schema version"))?;
    if version < 0 {
        return Err(fail(format!(
            "its schema version {version} was not written by artemis"
        )));
    }
    if version > current_version() {
        return Err(fail(format!(
            "its schema version {version} is newer than this artemis understands ({}); \
             run a newer artemis or restore a backup",
            current_version()
        )));
    }
    if version < current_version() && exists {
        ensure_writable(path).map_err(|e| {
            fail(format!(
                "its schema needs upgrading from version {version} to {}: {e}",
                current_version()
            ))
        })?;
    }

    // FULL: in WAL mode every commit fsyncs the log, so an acknowledged write survives a power
    // loss (NORMAL would only survive a process crash).
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite("cannot set synchronous=FULL"))?;
    // Migrate first, in the file's own journal mode: a migration that fails (a foreign file
    // with clashing tables) rolls back and leaves the file as it was, header included.
    migrate(&mut conn, path, version).map_err(sqlite("cannot upgrade the schema"))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sqlite("cannot switch to WAL mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(fail(format!("cannot switch to WAL mode (mode is {mode})")));
    }
    Ok(conn)
}

/// `PRAGMA quick_check` answers one row `ok`, or one row per problem found.
fn check_integrity(conn: &Connection) -> Result<(), String> {
    let mut problems = Vec::new();
    conn.pragma_query(None, "quick_check", |row| {
        problems.push(row.get::<_, String>(0)?);
        Ok(())
    })
    .map_err(|e| format!("it is not a readable SQLite database: {e}"))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    problems.truncate(3);
    Err(format!(
        "it is corrupt (quick_check: {})",
        problems.join("; ")
    ))
}

/// Apply every step newer than `from` in one transaction, with the new `user_version`, so a
/// failed upgrade leaves the file at its old version.
fn migrate(conn: &mut Connection, path: &Path, from: i64) -> rusqlite::Result<()> {
    if from == current_version() {
        return Ok(());
    }
    assert!(
        (0..current_version()).contains(&from),
        "schema version {from} was checked against {} before migrating",
        current_version()
    );
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (index, step) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        tracing::info!(
            "database {}: schema version {}: {}",
            path.display(),
            index + 1,
            step.description
        );
        tx.execute_batch(step.sql)?;
    }
    tx.pragma_update(None, "user_version", current_version())?;
    tx.commit()
}
