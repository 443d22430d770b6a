//! Request bodies of the group endpoints (spec §10.4), update-canary-ips (§10.7) and the six
//! group log endpoints (§10.6), read like Java's Jackson reads them (see
//! [`crate::model::management::requests`]). Write requests carry Java's `OperationContext`
//! fields (`operatorId`, `token`, `operation`, `reason`, `extensions`);
//! [`super::validate`] checks them and builds the [`super::GroupWrite`].

use super::lenient::{LenientIdList, LenientOptI32, LenientOptI64, PresentStr};
use crate::model::de::{lenient_object, LenientI32, LenientStr, LenientStrList, Nullable};
use crate::model::management::lenient_bool::{LenientBool, LenientOptBool};
use crate::model::management::validate::java_trim;
use crate::model::{Metadata, Str};

/// `ServiceRouteRule` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireRouteRule<'a> {
    pub route_rule_id: Option<i64>,
    pub service_id: Str<'a>,
    pub name: Str<'a>,
    pub description: Str<'a>,
    pub status: Str<'a>,
    pub strategy: Str<'a>,
}

/// `Group` as sent, with `GroupWeight`'s `weight` (read by create-route-rule only; Java ignores
/// a group's `metadata` and `groupId` on writes, and so does this type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireGroup<'a> {
    pub service_id: Str<'a>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub name: Str<'a>,
    pub app_id: Str<'a>,
    pub description: Str<'a>,
    pub status: Str<'a>,
    pub weight: Option<i32>,
}

/// `RouteRuleGroup` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireRouteRuleGroup {
    pub route_rule_group_id: Option<i64>,
    pub route_rule_id: Option<i64>,
    pub group_id: Option<i64>,
    /// Read and ignored by every write, as in Java: clients only write the unreleased weight.
    pub weight: Option<i32>,
    pub unreleased_weight: Option<i32>,
}

/// `GroupTags` as sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireGroupTags<'a> {
    pub group_id: Option<i64>,
    pub tags: Option<Metadata<'a>>,
}

/// `GroupOperations` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireGroupOperations<'a> {
    pub group_id: Option<i64>,
    pub operations: Option<Vec<Str<'a>>>,
}

/// `GroupInstance` as sent (its `id` is read and ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireGroupInstance<'a> {
    pub group_id: Option<i64>,
    pub instance_id: Str<'a>,
}

/// `ServiceInstance` as sent (its `id` is read and ignored).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WireServiceInstance<'a> {
    pub service_id: Str<'a>,
    pub instance_id: Str<'a>,
    pub group_id: Str<'a>,
    pub ip: Str<'a>,
    pub machine_name: Str<'a>,
    pub metadata: Option<Metadata<'a>>,
    pub port: i32,
    pub protocol: Str<'a>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub health_check_url: Str<'a>,
    pub url: Str<'a>,
    pub description: Str<'a>,
}

/// Java's `OperationContext` fields of one write request.
#[derive(Debug, Clone, Copy)]
pub struct WireContext<'r> {
    pub operator_id: Option<&'r str>,
    pub token: Option<&'r str>,
    pub operation: Option<&'r str>,
    pub reason: Option<&'r str>,
    /// `None` when the key was missing (Java's `"{}"`), `Some(None)` for an explicit `null`.
    pub extensions: Option<Option<&'r str>>,
}

/// A list of nullable objects (`List<ServiceRouteRule>`, ...).
type NullableList<T> = Nullable<Vec<Option<T>>>;

/// insert-route-rules and update-route-rules (`InsertRouteRulesRequest`,
/// `UpdateRouteRulesRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRulesRequest<'a> {
    pub route_rules: Option<Vec<Option<WireRouteRule<'a>>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// create-route-rule (`CreateRouteRuleRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRouteRuleRequest<'a> {
    pub route_rule: Option<WireRouteRule<'a>>,
    pub groups: Option<Vec<Option<WireGroup<'a>>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// insert-, update- and release-route-rule-groups (`InsertRouteRuleGroupsRequest`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRuleGroupsRequest<'a> {
    pub route_rule_groups: Option<Vec<Option<WireRouteRuleGroup>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// insert-groups and update-groups (`InsertGroupsRequest`, `UpdateGroupsRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupsRequest<'a> {
    pub groups: Option<Vec<Option<WireGroup<'a>>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// insert-group-tags and update-group-tags (`InsertGroupTagsRequest`, `UpdateGroupTagsRequest`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupTagsRequest<'a> {
    pub group_tags_list: Option<Vec<Option<WireGroupTags<'a>>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// delete-group-tags (`DeleteGroupTagsRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteGroupTagsRequest<'a> {
    pub group_id: Option<i64>,
    pub tag: Str<'a>,
    pub value: Str<'a>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// operate-group-operations (`OperateGroupOperationsRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperateGroupOperationsRequest<'a> {
    pub group_operations_list: Option<Vec<Option<WireGroupOperations<'a>>>>,
    pub operation_complete: bool,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// operate-group-operation (`OperateGroupOperationRequest`: the group by its fields, the
/// operation is the context's; `groupId` is read and ignored, as in Java).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperateGroupOperationRequest<'a> {
    pub group_id: Option<i64>,
    pub service_id: Str<'a>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub name: Str<'a>,
    pub app_id: Str<'a>,
    pub description: Str<'a>,
    pub status: Str<'a>,
    pub operation_complete: bool,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// insert-group-instances (`InsertGroupInstancesRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertGroupInstancesRequest<'a> {
    pub group_instances: Option<Vec<Option<WireGroupInstance<'a>>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// insert-service-instances (`InsertServiceInstancesRequest`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsertServiceInstancesRequest<'a> {
    pub service_instances: Option<Vec<Option<WireServiceInstance<'a>>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// The five deletes by id: delete-route-rules (`routeRuleIds`), delete-route-rule-groups
/// (`routeRuleGroupIds`), delete-groups (`groupIds`), delete-group-instances
/// (`groupInstanceIds`) and delete-service-instances (`serviceInstanceIds`). Each endpoint reads
/// only its own list (see [`DeleteByIdsRequest::ids`]), as Jackson ignores the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteByIdsRequest<'a> {
    pub route_rule_ids: Option<Vec<Option<i64>>>,
    pub route_rule_group_ids: Option<Vec<Option<i64>>>,
    pub group_ids: Option<Vec<Option<i64>>>,
    pub group_instance_ids: Option<Vec<Option<i64>>>,
    pub service_instance_ids: Option<Vec<Option<i64>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// Which delete-by-ids endpoint, naming its id list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteTarget {
    RouteRules,
    RouteRuleGroups,
    Groups,
    GroupInstances,
    ServiceInstances,
}

impl DeleteByIdsRequest<'_> {
    /// The id list `target`'s request class has.
    pub fn ids(&self, target: DeleteTarget) -> Option<&[Option<i64>]> {
        match target {
            DeleteTarget::RouteRules => self.route_rule_ids.as_deref(),
            DeleteTarget::RouteRuleGroups => self.route_rule_group_ids.as_deref(),
            DeleteTarget::Groups => self.group_ids.as_deref(),
            DeleteTarget::GroupInstances => self.group_instance_ids.as_deref(),
            DeleteTarget::ServiceInstances => self.service_instance_ids.as_deref(),
        }
    }
}

/// canary/update-canary-ips (`UpdateCanaryIPsRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateCanaryIpsRequest<'a> {
    pub service_id: Str<'a>,
    pub app_id: Str<'a>,
    pub canary_ips: Option<Vec<Str<'a>>>,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    pub extensions: Option<Str<'a>>,
}

/// Every write request's context accessors.
macro_rules! operation_context {
    ($($request:ident),* $(,)?) => {
        $(impl $request<'_> {
            /// The body's `token`, trimmed, for the API's permission check; it never reaches
            /// the store.
            pub fn token(&self) -> Option<&str> {
                self.token.as_deref().map(java_trim).filter(|t| !t.is_empty())
            }

            /// The `OperationContext` fields as sent.
            pub fn context(&self) -> WireContext<'_> {
                WireContext {
                    operator_id: self.operator_id.as_deref(),
                    token: self.token.as_deref(),
                    operation: self.operation.as_deref(),
                    reason: self.reason.as_deref(),
                    extensions: self.extensions.as_ref().map(|e| e.as_deref()),
                }
            }
        })*
    };
}

operation_context!(
    RouteRulesRequest,
    CreateRouteRuleRequest,
    RouteRuleGroupsRequest,
    GroupsRequest,
    GroupTagsRequest,
    DeleteGroupTagsRequest,
    OperateGroupOperationsRequest,
    OperateGroupOperationRequest,
    InsertGroupInstancesRequest,
    InsertServiceInstancesRequest,
    DeleteByIdsRequest,
    UpdateCanaryIpsRequest,
);

/// get-route-rules (`GetRouteRulesRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetRouteRulesRequest<'a> {
    pub route_rule_id: Option<i64>,
    pub service_id: Str<'a>,
    pub name: Str<'a>,
    pub status: Str<'a>,
}

/// get-route-rule-groups (`GetRouteRuleGroupsRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetRouteRuleGroupsRequest {
    pub route_rule_group_id: Option<i64>,
    pub route_rule_id: Option<i64>,
    pub group_id: Option<i64>,
}

/// get-groups (`GetGroupsRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetGroupsRequest<'a> {
    pub group_id: Option<i64>,
    pub service_id: Str<'a>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub name: Str<'a>,
    pub app_id: Str<'a>,
    pub status: Str<'a>,
}

/// get-group-tags and get-group-operations (`GetGroupTagsRequest` also has `tagId` and `tagKey`,
/// which Java never uses): only `groupId` matters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupIdRequest {
    pub group_id: Option<i64>,
}

/// get-group-instances (`GetGroupInstancesRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetGroupInstancesRequest<'a> {
    pub group_id: Option<i64>,
    pub instance_id: Str<'a>,
}

/// get-service-instances (`GetServiceInstancesRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetServiceInstancesRequest<'a> {
    pub service_id: Str<'a>,
    pub instance_id: Str<'a>,
}

/// The six group log filters in one body type: each endpoint reads only the fields of its Java
/// request class (see [`super::validate::group_log_filter`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupLogsRequest<'a> {
    pub group_id: Option<i64>,
    pub route_rule_id: Option<i64>,
    pub service_id: Str<'a>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub name: Str<'a>,
    pub app_id: Str<'a>,
    pub instance_id: Str<'a>,
    pub operation: Str<'a>,
    pub operator_id: Str<'a>,
    pub complete: Option<bool>,
}

lenient_object! {
    WireRouteRule<'de>, "a ServiceRouteRule object", {
        "routeRuleId" => route_rule_id: LenientOptI64,
        "serviceId" => service_id: LenientStr<'de>,
        "name" => name: LenientStr<'de>,
        "description" => description: LenientStr<'de>,
        "status" => status: LenientStr<'de>,
        "strategy" => strategy: LenientStr<'de>,
    }
}

lenient_object! {
    WireGroup<'de>, "a Group object", {
        "serviceId" => service_id: LenientStr<'de>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "name" => name: LenientStr<'de>,
        "appId" => app_id: LenientStr<'de>,
        "description" => description: LenientStr<'de>,
        "status" => status: LenientStr<'de>,
        "weight" => weight: LenientOptI32,
    }
}

/// [`lenient_object!`] names the type with a lifetime; these types borrow nothing.
type BorrowsNothing<'a, T> = T;
type WireRouteRuleGroupDe<'a> = BorrowsNothing<'a, WireRouteRuleGroup>;
type GetRouteRuleGroupsRequestDe<'a> = BorrowsNothing<'a, GetRouteRuleGroupsRequest>;
type GroupIdRequestDe<'a> = BorrowsNothing<'a, GroupIdRequest>;

lenient_object! {
    WireRouteRuleGroupDe<'de>, "a RouteRuleGroup object", {
        "routeRuleGroupId" => route_rule_group_id: LenientOptI64,
        "routeRuleId" => route_rule_id: LenientOptI64,
        "groupId" => group_id: LenientOptI64,
        "weight" => weight: LenientOptI32,
        "unreleasedWeight" => unreleased_weight: LenientOptI32,
    }
}

lenient_object! {
    WireGroupTags<'de>, "a GroupTags object", {
        "groupId" => group_id: LenientOptI64,
        "tags" => tags: Nullable<Metadata<'de>>,
    }
}

lenient_object! {
    WireGroupOperations<'de>, "a GroupOperations object", {
        "groupId" => group_id: LenientOptI64,
        "operations" => operations: LenientStrList<'de>,
    }
}

lenient_object! {
    WireGroupInstance<'de>, "a GroupInstance object", {
        "groupId" => group_id: LenientOptI64,
        "instanceId" => instance_id: LenientStr<'de>,
    }
}

lenient_object! {
    WireServiceInstance<'de>, "a ServiceInstance object", {
        "serviceId" => service_id: LenientStr<'de>,
        "instanceId" => instance_id: LenientStr<'de>,
        "groupId" => group_id: LenientStr<'de>,
        "ip" => ip: LenientStr<'de>,
        "machineName" => machine_name: LenientStr<'de>,
        "metadata" => metadata: Nullable<Metadata<'de>>,
        "port" => port: LenientI32,
        "protocol" => protocol: LenientStr<'de>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "healthCheckUrl" => health_check_url: LenientStr<'de>,
        "url" => url: LenientStr<'de>,
        "description" => description: LenientStr<'de>,
    }
}

lenient_object! {
    RouteRulesRequest<'de>, "a route rules request object", {
        "routeRules" => route_rules: NullableList<WireRouteRule<'de>>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    CreateRouteRuleRequest<'de>, "a CreateRouteRuleRequest object", {
        "routeRule" => route_rule: Nullable<WireRouteRule<'de>>,
        "groups" => groups: NullableList<WireGroup<'de>>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    RouteRuleGroupsRequest<'de>, "a route rule groups request object", {
        "routeRuleGroups" => route_rule_groups: NullableList<WireRouteRuleGroup>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    GroupsRequest<'de>, "a groups request object", {
        "groups" => groups: NullableList<WireGroup<'de>>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    GroupTagsRequest<'de>, "a group tags request object", {
        "groupTagsList" => group_tags_list: NullableList<WireGroupTags<'de>>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    DeleteGroupTagsRequest<'de>, "a DeleteGroupTagsRequest object", {
        "groupId" => group_id: LenientOptI64,
        "tag" => tag: LenientStr<'de>,
        "value" => value: LenientStr<'de>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    OperateGroupOperationsRequest<'de>, "an OperateGroupOperationsRequest object", {
        "groupOperationsList" => group_operations_list: NullableList<WireGroupOperations<'de>>,
        "operationComplete" => operation_complete: LenientBool,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    OperateGroupOperationRequest<'de>, "an OperateGroupOperationRequest object", {
        "groupId" => group_id: LenientOptI64,
        "serviceId" => service_id: LenientStr<'de>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "name" => name: LenientStr<'de>,
        "appId" => app_id: LenientStr<'de>,
        "description" => description: LenientStr<'de>,
        "status" => status: LenientStr<'de>,
        "operationComplete" => operation_complete: LenientBool,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    InsertGroupInstancesRequest<'de>, "an InsertGroupInstancesRequest object", {
        "groupInstances" => group_instances: NullableList<WireGroupInstance<'de>>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    InsertServiceInstancesRequest<'de>, "an InsertServiceInstancesRequest object", {
        "serviceInstances" => service_instances: NullableList<WireServiceInstance<'de>>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    DeleteByIdsRequest<'de>, "a delete request object", {
        "routeRuleIds" => route_rule_ids: LenientIdList,
        "routeRuleGroupIds" => route_rule_group_ids: LenientIdList,
        "groupIds" => group_ids: LenientIdList,
        "groupInstanceIds" => group_instance_ids: LenientIdList,
        "serviceInstanceIds" => service_instance_ids: LenientIdList,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    UpdateCanaryIpsRequest<'de>, "an UpdateCanaryIPsRequest object", {
        "serviceId" => service_id: LenientStr<'de>,
        "appId" => app_id: LenientStr<'de>,
        "canaryIps" => canary_ips: LenientStrList<'de>,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: PresentStr<'de>,
    }
}

lenient_object! {
    GetRouteRulesRequest<'de>, "a GetRouteRulesRequest object", {
        "routeRuleId" => route_rule_id: LenientOptI64,
        "serviceId" => service_id: LenientStr<'de>,
        "name" => name: LenientStr<'de>,
        "status" => status: LenientStr<'de>,
    }
}

lenient_object! {
    GetRouteRuleGroupsRequestDe<'de>, "a GetRouteRuleGroupsRequest object", {
        "routeRuleGroupId" => route_rule_group_id: LenientOptI64,
        "routeRuleId" => route_rule_id: LenientOptI64,
        "groupId" => group_id: LenientOptI64,
    }
}

lenient_object! {
    GetGroupsRequest<'de>, "a GetGroupsRequest object", {
        "groupId" => group_id: LenientOptI64,
        "serviceId" => service_id: LenientStr<'de>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "name" => name: LenientStr<'de>,
        "appId" => app_id: LenientStr<'de>,
        "status" => status: LenientStr<'de>,
    }
}

lenient_object! {
    GroupIdRequestDe<'de>, "an object with groupId", {
        "groupId" => group_id: LenientOptI64,
    }
}

lenient_object! {
    GetGroupInstancesRequest<'de>, "a GetGroupInstancesRequest object", {
        "groupId" => group_id: LenientOptI64,
        "instanceId" => instance_id: LenientStr<'de>,
    }
}

lenient_object! {
    GetServiceInstancesRequest<'de>, "a GetServiceInstancesRequest object", {
        "serviceId" => service_id: LenientStr<'de>,
        "instanceId" => instance_id: LenientStr<'de>,
    }
}

lenient_object! {
    GroupLogsRequest<'de>, "a group logs request object", {
        "groupId" => group_id: LenientOptI64,
        "routeRuleId" => route_rule_id: LenientOptI64,
        "serviceId" => service_id: LenientStr<'de>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "name" => name: LenientStr<'de>,
        "appId" => app_id: LenientStr<'de>,
        "instanceId" => instance_id: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "operatorId" => operator_id: LenientStr<'de>,
        "complete" => complete: LenientOptBool,
    }
}

#[cfg(test)]
mod tests;
