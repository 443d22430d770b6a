//! Java's checks of the group requests (`GroupServiceImpl`, `BusinessDao`, the group DAOs and
//! `CanaryServiceImpl`), turning a parsed body (`None` when it was empty or `null`) into a
//! [`GroupWrite`](super::GroupWrite) or a read filter, or into the `ResponseStatus` Java answers.
//!
//! Java answers a missing body with `bad-request` `"request is null"`. Every other refusal of a
//! write comes from an argument check deep in its DAOs, whose exception `GroupServiceImpl`
//! replaces with a fixed `internal-service-error` message per endpoint
//! ([`GroupEndpoint::failure_message`], typos included); the cause never reaches the client.
//!
//! The `OperationContext` check (`BusinessDao.checkOperationContextArgument`): `operation`,
//! `extensions` (`"{}"` when the key is missing, refused when `null`), `operatorId` and `token`
//! must be non-blank. Tag writes skip it, as in Java. artemis also accepts the token sent as
//! `Authorization: Bearer` (the `bearer` argument), since that is how its writes authenticate.
//!
//! What stays with the API: the node-status check Java runs first, the permission check on the
//! token, the rate limits of the filtered reads, and the node's region for canary writes.

mod reads;
mod writes;

pub use reads::{
    group_filter, group_id, group_instance_filter, group_log_filter, require_body,
    route_rule_filter, route_rule_group_filter, service_instance_filter,
};
pub use writes::{
    create_route_rule, delete_by_ids, delete_group_tags, insert_group_instances, insert_group_tags,
    insert_groups, insert_route_rule_groups, insert_route_rules, insert_service_instances,
    operate_group_operation, operate_group_operations, release_route_rule_groups,
    update_canary_ips, update_group_tags, update_groups, update_route_rule_groups,
    update_route_rules,
};

use crate::model::management::validate::Refusal;
use crate::model::{error_codes, fail};

/// Every group endpoint and update-canary-ips, for the answer Java gives when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupEndpoint {
    InsertRouteRules,
    UpdateRouteRules,
    DeleteRouteRules,
    GetAllRouteRules,
    GetRouteRules,
    CreateRouteRule,
    InsertRouteRuleGroups,
    UpdateRouteRuleGroups,
    ReleaseRouteRuleGroups,
    DeleteRouteRuleGroups,
    GetAllRouteRuleGroups,
    GetRouteRuleGroups,
    InsertGroups,
    UpdateGroups,
    DeleteGroups,
    GetAllGroups,
    GetGroups,
    InsertGroupTags,
    UpdateGroupTags,
    DeleteGroupTags,
    GetAllGroupTags,
    GetGroupTags,
    OperateGroupOperations,
    OperateGroupOperation,
    GetAllGroupOperations,
    GetGroupOperations,
    InsertGroupInstances,
    DeleteGroupInstances,
    GetGroupInstances,
    InsertServiceInstances,
    DeleteServiceInstances,
    GetServiceInstances,
    UpdateCanaryIps,
}

impl GroupEndpoint {
    /// The message Java answers (`internal-service-error`) for any failure after the body was
    /// read: an argument its DAOs refuse, or a database error (`GroupServiceImpl`,
    /// `CanaryServiceImpl`).
    pub const fn failure_message(self) -> &'static str {
        use GroupEndpoint::*;
        match self {
            InsertRouteRules => "insert route-rules failed.",
            UpdateRouteRules => "update route-rules failed.",
            DeleteRouteRules => "delete route-rules failed.",
            GetAllRouteRules => "get all-route-rules failed.",
            GetRouteRules => "get route-rules failed.",
            CreateRouteRule => "create route-rule failed.",
            InsertRouteRuleGroups => "insert route-rule-groups failed.",
            UpdateRouteRuleGroups => "update route-rule-groups failed.",
            // Java's copy of the get message.
            ReleaseRouteRuleGroups => "get route-rule-groups failed.",
            DeleteRouteRuleGroups => "delete route-rule-groups failed.",
            GetAllRouteRuleGroups => "get all route-rule-group failed.",
            GetRouteRuleGroups => "get route-rule-groups failed.",
            InsertGroups => "insert groups failed.",
            UpdateGroups => "update groups failed.",
            DeleteGroups => "delete group failed.",
            GetAllGroups => "get all group failed.",
            GetGroups => "get groups failed.",
            InsertGroupTags => "insert group tag failed.",
            UpdateGroupTags => "update group tag failed.",
            DeleteGroupTags => "delete group-tags failed.",
            GetAllGroupTags => "get all-group-tags failed.",
            GetGroupTags => "get group-tags failed.",
            OperateGroupOperations | OperateGroupOperation => "operate group operation failed.",
            GetAllGroupOperations => "get all group operations failed.",
            GetGroupOperations => "get group operations failed.",
            InsertGroupInstances => "insert group instances failed.",
            DeleteGroupInstances => "delete group instances failed.",
            GetGroupInstances => "get group instances failed.",
            InsertServiceInstances => "insert service instances failed.",
            DeleteServiceInstances => "delete service instances failed.",
            GetServiceInstances => "get service instances failed.",
            UpdateCanaryIps => "update canary ips",
        }
    }

    /// The refusal of a request Java's DAOs reject.
    pub const fn failed(self) -> Refusal {
        fail(error_codes::INTERNAL_SERVICE_ERROR, self.failure_message())
    }
}

#[cfg(test)]
mod tests;
