//! Durable state of an artemis node: the management rows operators write (instance, server and
//! zone pull-outs, issue 9; groups, route rules, tags, group and logical instances, group
//! pull-outs and canary IPs, issue 12), their logs, and the registry snapshot a graceful stop
//! leaves for the next start.
//!
//! [`Store`] is the storage contract; [`SqliteStore`] implements it on the node's own SQLite
//! file (a single node), [`MySqlStore`] on a MySQL/MariaDB database the nodes of a cluster
//! share, in Java Artemis's tables. [`Persistence`] runs one store on
//! one dedicated OS thread: event loops never touch the database, they send a job through a
//! [`Handle`] and await its [`Reply`]. Management writes that queue up while a transaction is
//! being committed are group-committed in the next one.

mod error;
mod mysql;
mod reply;
mod sqlite;
mod store;
#[cfg(test)]
mod suite;
#[cfg(test)]
mod test_support;
mod thread;

pub use self::mysql::{redact_url, MySqlOpenError, MySqlOptions, MySqlStore, MySqlUrl};
pub use error::{OpenError, StoreError, StoreErrorKind};
pub use reply::Reply;
pub use sqlite::SqliteStore;
pub use store::{Change, Fingerprint, SavedInstance, Store};
pub use thread::{Handle, Limits, Persistence, Stats};
