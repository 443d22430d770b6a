//! The two ways storage fails: a database that cannot be used at all ([`OpenError`], the server
//! stops at start) and a single operation that failed ([`StoreError`], the caller answers an error
//! and keeps serving).

use std::fmt;
use std::path::PathBuf;

/// What kind of failure, so callers and operators can tell a full disk from a busy queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The database file (or its directory) is not writable.
    ReadOnly,
    /// The disk (or a configured size limit) is full.
    Full,
    /// The operating system reported an I/O error, or the file is damaged.
    Io,
    /// The persistence queue is full, or another process holds the database lock.
    Busy,
    /// The database server cannot be reached: the connection was refused, lost or timed out.
    /// The next job connects again.
    Unavailable,
    /// Anything else, including a stopped persistence thread.
    Other,
}

/// A failed store operation. Nothing of it was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub kind: StoreErrorKind,
    /// A sentence for operators; names the database file where the failure is the file's.
    pub message: String,
}

impl StoreError {
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

/// The database cannot be used: missing directory, unreadable, corrupt, or written by a newer
/// artemis. The file is left exactly as it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot use database file {}: {}",
            self.path.display(),
            self.reason
        )
    }
}

impl std::error::Error for OpenError {}
