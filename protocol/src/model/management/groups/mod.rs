//! Groups and route rules (spec §10.3, §10.4, §10.6, §10.7, §11.6): the second half of
//! management, built on the same store, log and snapshot path as the pull-outs.
//!
//! # Data
//! [`rows`](GroupRows) are the live rows of Java's group tables (soft-deleted groups and route
//! rules are never loaded). [`GroupData`] indexes one generation of them; it lives in
//! [`ManagementSnapshot::groups`](super::ManagementSnapshot::groups), so the one broadcast path
//! (`ApplyManagement`) carries it to every shard.
//!
//! # Writing (the endpoints)
//! Each write endpoint parses its body type from [`requests`], passes it to the matching
//! function of [`validate`] (which applies Java's checks and answers Java's refusals), and gets
//! a [`GroupWrite`]: one [`GroupChange`] and its [`GroupOperator`]. The persistence `Handle`'s
//! `write_groups` commits it (with the log rows listed on each [`GroupChange`] variant) and
//! answers with the snapshot that includes it, to be applied on every shard before answering
//! `{"responseStatus"}` ([`ResponseKind::Operate`](super::responses::ResponseKind::Operate)).
//! A failure after the body was read is answered with
//! [`GroupEndpoint::failed`](validate::GroupEndpoint::failed), Java's fixed message per endpoint.
//!
//! # Reading (the endpoints)
//! The get-all-* endpoints and get-group-tags / get-group-operations read the snapshot's
//! [`GroupData`]. get-route-rules, get-route-rule-groups, get-groups, get-group-instances and
//! get-service-instances go to the store with the filter [`validate`] builds ([`RouteRuleFilter`], ...), as
//! Java reads its database for them; the six log endpoints likewise with a [`GroupLogFilter`].
//! [`responses`] writes every answer.
//!
//! # Discovery (the shards)
//! When a shard applies a snapshot, [`ManagementSnapshot::changed_since`](super::ManagementSnapshot::changed_since)
//! names the services whose served view changed (`reload`: rebuild the cached bytes, push a
//! `reload`) and those one of whose groups was pulled out or in (`services`: re-check the
//! visibility of their instances). For a service, [`GroupData::service`] gives its
//! [`ServiceView`]: [`ServiceView::write_route_rules`] writes `Service.routeRules` (canary
//! groups resolved against the [`RegisteredInstance`]s the shard passes) and
//! [`ServiceView::write_logic_instances`] writes `Service.logicInstances` (the shard keeps the
//! ones no pull-out hides); a service without a view serves `[]` for both. An instance is
//! hidden by a group pull-out when
//! [`ManagementSnapshot::is_group_down`](super::ManagementSnapshot::is_group_down) says so.

mod data;
mod keys;
mod lenient;
mod logs;
mod queries;
pub mod requests;
pub mod responses;
mod rows;
mod served;
pub mod validate;
mod write;

pub use data::GroupData;
pub use keys::{group_key, instance_group_key};
pub use logs::{
    GroupInstanceLog, GroupLog, GroupLogFilter, GroupLogKind, GroupLogRow, GroupOperationLog,
    LogMeta, RouteRuleGroupLog, RouteRuleLog, ServiceInstanceLog,
};
pub use queries::{
    GroupFilter, GroupInstanceFilter, RouteRuleFilter, RouteRuleGroupFilter, ServiceInstanceFilter,
};
pub use rows::{
    Group, GroupInstance, GroupOperations, GroupRows, GroupTag, GroupTags, RouteRuleGroup,
    ServiceInstance, ServiceRouteRule,
};
pub use served::{
    fix_weight, LogicInstance, RegisteredInstance, ServedGroup, ServedRouteRule, ServiceView,
    CANARY_ROUTE_RULE,
};
pub use write::{
    GroupChange, GroupOperator, GroupWrite, NewGroup, NewRouteRule, NewRouteRuleGroup,
    NewServiceInstance,
};
