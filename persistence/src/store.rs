//! The storage contract the persistence thread drives, implemented on SQLite (one node) and on
//! MySQL/MariaDB (the store a cluster shares).

use protocol::model::management::groups::{
    Group, GroupData, GroupFilter, GroupInstance, GroupInstanceFilter, GroupLogFilter,
    GroupLogKind, GroupLogRow, GroupWrite, RouteRuleFilter, RouteRuleGroup, RouteRuleGroupFilter,
    ServiceInstance, ServiceInstanceFilter, ServiceRouteRule,
};
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

/// What [`Store::fingerprint`] answers: meaningful only compared with an earlier one of the
/// same store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(pub Vec<i64>);

/// One durable operator write of either management half; writes of both kinds share a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An instance, server or zone pull-out or pull-in.
    Traffic(ManagementWrite),
    /// A group, route rule, tag, group or logical instance, group operation or canary write.
    Groups(GroupWrite),
}

/// Durable storage of management rows, operation logs and the registry snapshot.
///
/// Every method either completes entirely or changes nothing; failures come back as
/// [`StoreError`], never as a panic. Text compares ignoring ASCII case everywhere (keys,
/// filters), as MySQL's utf8 collation does for Java.
pub trait Store: Send {
    /// All changes in one transaction (one fsync), in order, each with its log rows (time
    /// `now_ms`). A traffic write upserts (pull-out) or deletes (pull-in) each (target,
    /// operation) row; a group write does what its `GroupChange` variant says. All or nothing.
    ///
    /// When the batch held a group write, answers the group data as the transaction leaves it
    /// (read inside it, so it matches what was committed); `None` otherwise.
    fn commit(&mut self, changes: &[Change], now_ms: i64) -> Result<Option<GroupData>, StoreError>;

    /// Every pull-out row, in the order first written, and every live group row (the
    /// snapshot's `generation` is left 0).
    fn load_management(&mut self) -> Result<ManagementSnapshot, StoreError>;

    /// A cheap summary of the management rows that differs whenever they changed, for a store
    /// that other processes write too (other nodes on a shared database): the persistence
    /// thread compares it between polls and reloads only when it differs. `None` (the
    /// default) for a store only this node writes: there is nothing to poll.
    fn fingerprint(&mut self) -> Result<Option<Fingerprint>, StoreError> {
        Ok(None)
    }

    /// Log rows of one traffic table, newest first, at most `limit`. A blank value, or a field
    /// the table does not have (e.g. `server_id` on instance logs), matches every row.
    fn logs(
        &mut self,
        kind: LogKind,
        filter: &LogFilter,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError>;

    /// Log rows of one group table, newest first, at most `limit`. A field the table does not
    /// have matches every row.
    fn group_logs(
        &mut self,
        kind: GroupLogKind,
        filter: &GroupLogFilter,
        limit: usize,
    ) -> Result<Vec<GroupLogRow>, StoreError>;

    /// Live route rules matching `filter`, by id.
    fn route_rules(
        &mut self,
        filter: &RouteRuleFilter,
    ) -> Result<Vec<ServiceRouteRule>, StoreError>;

    /// Route-rule-group rows matching `filter`, by id.
    fn route_rule_groups(
        &mut self,
        filter: &RouteRuleGroupFilter,
    ) -> Result<Vec<RouteRuleGroup>, StoreError>;

    /// Live groups matching `filter`, by id.
    fn groups(&mut self, filter: &GroupFilter) -> Result<Vec<Group>, StoreError>;

    /// Group instance rows matching `filter`, by id.
    fn group_instances(
        &mut self,
        filter: &GroupInstanceFilter,
    ) -> Result<Vec<GroupInstance>, StoreError>;

    /// Logical instances matching `filter`, by id.
    fn service_instances(
        &mut self,
        filter: &ServiceInstanceFilter,
    ) -> Result<Vec<ServiceInstance>, StoreError>;

    /// Replace the saved registry with `instances`, in one transaction.
    fn save_registry(&mut self, instances: &[SavedInstance]) -> Result<(), StoreError>;

    /// The saved registry, in the order it was saved.
    fn load_registry(&mut self) -> Result<Vec<SavedInstance>, StoreError>;
}
