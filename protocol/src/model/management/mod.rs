//! Traffic control (spec §10.1, §10.5): which instances, servers and zones are pulled out.
//!
//! [`keys`] are the wire keys (`InstanceKey`, `ServerKey`, `ZoneKey`, equal case-insensitively);
//! [`ManagementWrite`] is one durable change an operator asked for; [`ManagementSnapshot`] is the
//! whole pulled-out state at one generation, immutable once built and shared by reference with
//! every shard, which folds it into its cached discovery bytes.
//!
//! On the wire: [`requests`] are the endpoints' bodies as Java reads them, [`validate`] applies
//! Java's checks and builds the types above (or the refusal Java answers), and [`responses`]
//! writes every answer.
//!
//! [`groups`] is the other half: groups, route rules, tags, group and logical instances, group
//! pull-outs and canary IPs (issue 12), carried in the same snapshot.

pub mod groups;
mod keys;
mod lenient_bool;
mod logs;
pub mod requests;
pub mod responses;
mod snapshot;
pub mod validate;

pub use keys::{InstanceKey, ServerKey, ZoneKey};
pub use logs::{LogFilter, LogKind, LogRow};
pub use snapshot::{Changed, Entry, ManagementSnapshot};

/// Who asked for a write and why (Java `OperationContext`, spec §10). The token is deliberately
/// absent: it is checked by the API and never stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operator {
    pub operator_id: String,
    pub reason: String,
    /// Free-form JSON text, `"{}"` when the client sent none.
    pub extensions: String,
}

/// One target of a pull-out (`complete == false`) or pull-in (`complete == true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Instance(InstanceKey),
    Server(ServerKey),
    Zone(ZoneKey),
}

/// One operator write: every (target, operation) pair is upserted (pull-out) or deleted
/// (pull-in), and each pair appends one row to its log table, all in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagementWrite {
    pub targets: Vec<(Target, String)>,
    /// Java's `operationComplete`: true ends the operation (pull-in).
    pub complete: bool,
    pub operator: Operator,
}
