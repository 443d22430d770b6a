//! The group reads. The get-all-* endpoints, get-group-tags and get-group-operations answer
//! from this core's snapshot, as Java answered them from its cache; get-route-rules,
//! get-route-rule-groups, get-groups (rate-limited, as in Java), get-group-instances and
//! get-service-instances query the store, as Java queried its database.

use persistence::Reply;
use protocol::model::management::groups::requests::{
    GetGroupInstancesRequest, GetGroupsRequest, GetRouteRuleGroupsRequest, GetRouteRulesRequest,
    GetServiceInstancesRequest, GroupIdRequest,
};
use protocol::model::management::groups::responses::{
    write_all_group_operations_response, write_all_group_tags_response,
    write_group_instances_response, write_group_operations_response, write_group_tags_response,
    write_groups_response, write_route_rule_groups_response, write_route_rules_response,
    write_service_instances_response,
};
use protocol::model::management::groups::validate::{self, GroupEndpoint};
use protocol::model::management::groups::GroupData;
use protocol::model::management::requests::RegionRequest;
use protocol::model::management::responses::ResponseKind;

use super::super::super::rate_limit::{refuse_over_limit, Shape};
use super::super::super::Input;
use super::super::{body, commit::store_failed, refuse};
use crate::server::core::Core;
use crate::server::rate_limit::Identity;

/// The parsed body, or return the 400 already written.
macro_rules! parse_or_return {
    ($input:expr, $out:expr, $ty:ty) => {
        match body::<$ty>($input, $out) {
            Ok(request) => request,
            Err(status) => return status,
        }
    };
}

/// The refusal `$check` answers in `$kind`'s shape, or return the value it built.
macro_rules! checked_or_return {
    ($check:expr, $out:expr, $kind:expr) => {
        match $check {
            Ok(value) => value,
            Err(refusal) => return refuse($out, $kind, &refusal),
        }
    };
}

/// A get-all-* endpoint: any body (Java reads `regionId` and ignores it), answered by `answer`
/// from this core's group data.
fn read_all(
    core: &Core,
    input: &Input<'_>,
    out: &mut Vec<u8>,
    kind: ResponseKind,
    answer: fn(&mut Vec<u8>, &GroupData),
) -> u16 {
    let request = parse_or_return!(input, out, RegionRequest);
    checked_or_return!(validate::require_body(request.as_ref()), out, kind);
    answer(out, core.management().groups());
    200
}

pub fn all_route_rules(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    read_all(core, input, out, ResponseKind::RouteRules, |out, data| {
        write_route_rules_response(out, data.route_rules())
    })
}

pub fn all_route_rule_groups(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    read_all(
        core,
        input,
        out,
        ResponseKind::RouteRuleGroups,
        |out, data| write_route_rule_groups_response(out, data.route_rule_groups()),
    )
}

pub fn all_groups(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    read_all(core, input, out, ResponseKind::Groups, |out, data| {
        write_groups_response(out, data.groups())
    })
}

pub fn all_group_tags(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    read_all(core, input, out, ResponseKind::AllGroupTags, |out, data| {
        write_all_group_tags_response(out, data.all_group_tags())
    })
}

pub fn all_group_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    read_all(
        core,
        input,
        out,
        ResponseKind::AllGroupOperations,
        |out, data| write_all_group_operations_response(out, data.all_group_operations()),
    )
}

/// get-group-tags: one group's tags, `null` when it has none.
pub fn group_tags(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GroupIdRequest);
    let kind = ResponseKind::GroupTags;
    let group_id = checked_or_return!(validate::group_id(request.as_ref()), out, kind);
    let snapshot = core.management();
    let tags = group_id.and_then(|id| snapshot.groups().group_tags(id));
    write_group_tags_response(out, tags);
    200
}

/// get-group-operations: one group's operations, `null` when it has none.
pub fn group_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GroupIdRequest);
    let kind = ResponseKind::GroupOperations;
    let group_id = checked_or_return!(validate::group_id(request.as_ref()), out, kind);
    let snapshot = core.management();
    let operations = group_id.and_then(|id| snapshot.groups().group_operations(id));
    write_group_operations_response(out, operations);
    200
}

/// Answer the rows a store query finds with `answer`, or its failure in `kind`'s shape with
/// `endpoint`'s message.
async fn from_store<T>(
    core: &Core,
    out: &mut Vec<u8>,
    endpoint: GroupEndpoint,
    kind: ResponseKind,
    rows: Reply<Vec<T>>,
    answer: fn(&mut Vec<u8>, &[T]),
) -> u16 {
    match rows.await {
        Ok(rows) => {
            out.clear();
            answer(out, &rows);
            200
        }
        Err(error) => store_failed(core, out, kind, endpoint.failure_message(), &error),
    }
}

/// get-route-rules. Java counts the request against its limiter before any check.
pub async fn route_rules(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GetRouteRulesRequest);
    if let Some(status) = refuse_over_limit(core, Identity::GetRouteRules, Shape::RouteRules, out) {
        return status;
    }
    let kind = ResponseKind::RouteRules;
    let filter = checked_or_return!(validate::route_rule_filter(request.as_ref()), out, kind);
    let rows = core.node.store.route_rules(filter);
    from_store(
        core,
        out,
        GroupEndpoint::GetRouteRules,
        kind,
        rows,
        |out, rows| write_route_rules_response(out, rows),
    )
    .await
}

/// get-route-rule-groups (rate-limited like get-route-rules).
pub async fn route_rule_groups(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GetRouteRuleGroupsRequest);
    let identity = Identity::GetRouteRuleGroups;
    if let Some(status) = refuse_over_limit(core, identity, Shape::RouteRuleGroups, out) {
        return status;
    }
    let kind = ResponseKind::RouteRuleGroups;
    let filter = checked_or_return!(
        validate::route_rule_group_filter(request.as_ref()),
        out,
        kind
    );
    let rows = core.node.store.route_rule_groups(filter);
    let endpoint = GroupEndpoint::GetRouteRuleGroups;
    from_store(core, out, endpoint, kind, rows, |out, rows| {
        write_route_rule_groups_response(out, rows)
    })
    .await
}

/// get-groups (rate-limited like get-route-rules).
pub async fn groups(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GetGroupsRequest);
    if let Some(status) = refuse_over_limit(core, Identity::GetGroups, Shape::Groups, out) {
        return status;
    }
    let kind = ResponseKind::Groups;
    let filter = checked_or_return!(validate::group_filter(request.as_ref()), out, kind);
    let rows = core.node.store.groups(filter);
    from_store(
        core,
        out,
        GroupEndpoint::GetGroups,
        kind,
        rows,
        |out, rows| write_groups_response(out, rows),
    )
    .await
}

pub async fn group_instances(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GetGroupInstancesRequest);
    let kind = ResponseKind::GroupInstances;
    let filter = checked_or_return!(validate::group_instance_filter(request.as_ref()), out, kind);
    let rows = core.node.store.group_instances(filter);
    let endpoint = GroupEndpoint::GetGroupInstances;
    from_store(core, out, endpoint, kind, rows, |out, rows| {
        write_group_instances_response(out, rows)
    })
    .await
}

pub async fn service_instances(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GetServiceInstancesRequest);
    let kind = ResponseKind::ServiceInstances;
    let filter = checked_or_return!(
        validate::service_instance_filter(request.as_ref()),
        out,
        kind
    );
    let rows = core.node.store.service_instances(filter);
    let endpoint = GroupEndpoint::GetServiceInstances;
    from_store(core, out, endpoint, kind, rows, |out, rows| {
        write_service_instances_response(out, rows)
    })
    .await
}
