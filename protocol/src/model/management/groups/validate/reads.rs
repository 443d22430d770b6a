//! The read endpoints' checks: each builds the filter or key a read needs, or answers
//! `"request is null"`.

use crate::model::management::groups::logs::{GroupLogFilter, GroupLogKind};
use crate::model::management::groups::queries::{
    GroupFilter, GroupInstanceFilter, RouteRuleFilter, RouteRuleGroupFilter, ServiceInstanceFilter,
};
use crate::model::management::groups::requests::{
    GetGroupInstancesRequest, GetGroupsRequest, GetRouteRuleGroupsRequest, GetRouteRulesRequest,
    GetServiceInstancesRequest, GroupIdRequest, GroupLogsRequest,
};
use crate::model::management::requests::RegionRequest;
use crate::model::management::validate::{Refusal, REQUEST_IS_NULL};
use crate::model::{is_null_or_whitespace, Str};

/// The get-all-* endpoints only need a body: Java reads `regionId` and ignores it.
pub fn require_body(request: Option<&RegionRequest>) -> Result<(), Refusal> {
    request.map(|_| ()).ok_or(REQUEST_IS_NULL)
}

/// A filter value: blank means "no filter" (the DAOs drop blank conditions), anything else is
/// used as sent.
fn filter_value(value: &Str<'_>) -> Option<String> {
    value
        .as_deref()
        .filter(|v| !is_null_or_whitespace(Some(v)))
        .map(str::to_owned)
}

/// get-route-rules (`RouteRuleDao.select`).
pub fn route_rule_filter(
    request: Option<&GetRouteRulesRequest>,
) -> Result<RouteRuleFilter, Refusal> {
    let r = request.ok_or(REQUEST_IS_NULL)?;
    Ok(RouteRuleFilter {
        route_rule_id: r.route_rule_id,
        service_id: filter_value(&r.service_id),
        name: filter_value(&r.name),
        status: filter_value(&r.status),
    })
}

/// get-route-rule-groups (`RouteRuleGroupDao.select`).
pub fn route_rule_group_filter(
    request: Option<&GetRouteRuleGroupsRequest>,
) -> Result<RouteRuleGroupFilter, Refusal> {
    let r = request.ok_or(REQUEST_IS_NULL)?;
    Ok(RouteRuleGroupFilter {
        route_rule_group_id: r.route_rule_group_id,
        route_rule_id: r.route_rule_id,
        group_id: r.group_id,
    })
}

/// get-groups (`GroupDao.select`; the request's `groupId` is not part of Java's filter).
pub fn group_filter(request: Option<&GetGroupsRequest>) -> Result<GroupFilter, Refusal> {
    let r = request.ok_or(REQUEST_IS_NULL)?;
    Ok(GroupFilter {
        service_id: filter_value(&r.service_id),
        region_id: filter_value(&r.region_id),
        zone_id: filter_value(&r.zone_id),
        name: filter_value(&r.name),
        app_id: filter_value(&r.app_id),
        status: filter_value(&r.status),
    })
}

/// get-group-tags and get-group-operations: the group to look up; `None` finds nothing (Java's
/// `HashMap.get(null)`), answered as `null`.
pub fn group_id(request: Option<&GroupIdRequest>) -> Result<Option<i64>, Refusal> {
    Ok(request.ok_or(REQUEST_IS_NULL)?.group_id)
}

/// get-group-instances (`GroupInstanceDao.select`).
pub fn group_instance_filter(
    request: Option<&GetGroupInstancesRequest>,
) -> Result<GroupInstanceFilter, Refusal> {
    let r = request.ok_or(REQUEST_IS_NULL)?;
    Ok(GroupInstanceFilter {
        group_id: r.group_id,
        instance_id: filter_value(&r.instance_id),
    })
}

/// get-service-instances (`ServiceInstanceDao.select`).
pub fn service_instance_filter(
    request: Option<&GetServiceInstancesRequest>,
) -> Result<ServiceInstanceFilter, Refusal> {
    let r = request.ok_or(REQUEST_IS_NULL)?;
    Ok(ServiceInstanceFilter {
        service_id: filter_value(&r.service_id),
        instance_id: filter_value(&r.instance_id),
    })
}

/// The six group log filters: each kind reads only the fields of its Java request class
/// (`ManagementLogServiceImpl`, the group log DAOs). Java's service-instance-logs passes
/// `operatorId` and `operation` to its filter in swapped places; artemis filters each field by
/// its own column.
pub fn group_log_filter(
    kind: GroupLogKind,
    request: Option<&GroupLogsRequest>,
) -> Result<GroupLogFilter, Refusal> {
    let r = request.ok_or(REQUEST_IS_NULL)?;
    let mut filter = GroupLogFilter {
        operation: filter_value(&r.operation),
        operator_id: filter_value(&r.operator_id),
        ..GroupLogFilter::default()
    };
    match kind {
        GroupLogKind::GroupOperation => {
            filter.group_id = r.group_id;
            filter.complete = r.complete;
        }
        GroupLogKind::Group => {
            filter.service_id = filter_value(&r.service_id);
            filter.region_id = filter_value(&r.region_id);
            filter.zone_id = filter_value(&r.zone_id);
            filter.name = filter_value(&r.name);
            filter.app_id = filter_value(&r.app_id);
        }
        GroupLogKind::RouteRule => {
            filter.service_id = filter_value(&r.service_id);
            filter.name = filter_value(&r.name);
        }
        GroupLogKind::RouteRuleGroup => {
            filter.route_rule_id = r.route_rule_id;
            filter.group_id = r.group_id;
        }
        GroupLogKind::GroupInstance => {
            filter.group_id = r.group_id;
            filter.instance_id = filter_value(&r.instance_id);
        }
        GroupLogKind::ServiceInstance => {
            filter.service_id = filter_value(&r.service_id);
            filter.instance_id = filter_value(&r.instance_id);
        }
    }
    Ok(filter)
}
