//! The six group log tables (spec §10.6: group-operation-logs, group-logs, route-rule-logs,
//! route-rule-group-logs, group-instance-logs, service-instance-logs), the filter their
//! endpoints accept, and one row type per table with exactly the properties Java answers.

/// Which log table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupLogKind {
    /// `service_group_operation_log`.
    GroupOperation,
    /// `service_group_log`.
    Group,
    /// `service_route_rule_log`.
    RouteRule,
    /// `service_route_rule_group_log`.
    RouteRuleGroup,
    /// `service_group_instance_log`.
    GroupInstance,
    /// `service_instance_log`.
    ServiceInstance,
}

/// A group log query: every `Some` field the table has must match (text ignoring ASCII case, as
/// MySQL's collation did for Java); `None` matches everything, and so does a field the table
/// lacks. [`super::validate::group_log_filter`] only fills the fields of the endpoint's request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupLogFilter {
    pub group_id: Option<i64>,
    pub route_rule_id: Option<i64>,
    pub service_id: Option<String>,
    pub region_id: Option<String>,
    pub zone_id: Option<String>,
    pub name: Option<String>,
    pub app_id: Option<String>,
    pub instance_id: Option<String>,
    pub operation: Option<String>,
    pub operator_id: Option<String>,
    pub complete: Option<bool>,
}

/// What every group log row has. `token` is always "" (artemis stores no token); `reason` and
/// `extensions` are `None` where the column is `NULL` (Java answers `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogMeta {
    pub id: i64,
    pub operation: String,
    pub operator_id: String,
    pub token: String,
    pub reason: Option<String>,
    pub extensions: Option<String>,
    /// Epoch milliseconds.
    pub create_time_ms: i64,
    pub update_time_ms: i64,
}

/// `GroupOperationLog`: the operation is the group's, not the context's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupOperationLog {
    pub meta: LogMeta,
    pub group_id: i64,
    pub complete: bool,
}

/// `GroupLog` (no group id: Java's log row has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupLog {
    pub meta: LogMeta,
    pub service_id: String,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub app_id: String,
    pub status: String,
}

/// `RouteRuleLog` (its `complete` is always false: the table has no such column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRuleLog {
    pub meta: LogMeta,
    pub service_id: String,
    pub name: String,
    pub status: String,
}

/// `RouteRuleGroupLog`: `weight` is the unreleased weight the write named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRuleGroupLog {
    pub meta: LogMeta,
    pub route_rule_id: i64,
    pub group_id: i64,
    pub weight: Option<i32>,
}

/// `GroupInstanceLog` (no extensions column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInstanceLog {
    pub meta: LogMeta,
    pub group_id: i64,
    pub instance_id: String,
}

/// `ServiceInstanceLog` (no reason or extensions columns); `metadata` is the stored JSON text
/// and `group_id` the instance's group name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceInstanceLog {
    pub meta: LogMeta,
    pub service_id: String,
    pub instance_id: String,
    pub ip: String,
    pub machine_name: String,
    pub metadata: String,
    pub port: i32,
    pub protocol: String,
    pub region_id: String,
    pub zone_id: String,
    pub group_id: String,
    pub health_check_url: String,
    pub url: String,
}

/// One row of any group log table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLogRow {
    GroupOperation(GroupOperationLog),
    Group(GroupLog),
    RouteRule(RouteRuleLog),
    RouteRuleGroup(RouteRuleGroupLog),
    GroupInstance(GroupInstanceLog),
    ServiceInstance(ServiceInstanceLog),
}

impl GroupLogRow {
    /// What every log row has.
    pub fn meta(&self) -> &LogMeta {
        match self {
            GroupLogRow::GroupOperation(r) => &r.meta,
            GroupLogRow::Group(r) => &r.meta,
            GroupLogRow::RouteRule(r) => &r.meta,
            GroupLogRow::RouteRuleGroup(r) => &r.meta,
            GroupLogRow::GroupInstance(r) => &r.meta,
            GroupLogRow::ServiceInstance(r) => &r.meta,
        }
    }
}
