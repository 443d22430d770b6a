//! Groups and route rules (spec §10.4, §10.6, §10.7; issue 12): the 32 `group/*.json`
//! endpoints, `canary/update-canary-ips.json` and the six group log endpoints, on the data
//! layer of `protocol::model::management::groups` (request types, Java's checks, responses) and
//! the persistence thread (rows, logs, snapshots).
//!
//! Writes are answered like the pull-outs': durable, then in effect on every shard, then
//! acknowledged, and guarded by the same token rule. The get-all-* reads, get-group-tags and
//! get-group-operations read this core's snapshot (the same on every core once a write was
//! answered); the filtered reads and the logs go to the store, as Java read its database for
//! them.

mod logs;
mod reads;
mod routes;
mod writes;

use protocol::model::management::groups::requests::{
    CreateRouteRuleRequest, DeleteByIdsRequest, DeleteGroupTagsRequest, DeleteTarget,
    GroupTagsRequest, GroupsRequest, InsertGroupInstancesRequest, InsertServiceInstancesRequest,
    OperateGroupOperationRequest, OperateGroupOperationsRequest, RouteRuleGroupsRequest,
    RouteRulesRequest, UpdateCanaryIpsRequest,
};
use protocol::model::management::groups::validate::{self, GroupEndpoint};

use super::super::Input;
use crate::server::core::Core;

pub use logs::group_logs;
pub use routes::ROUTES;

use GroupEndpoint as G;

/// Answer one group endpoint or update-canary-ips.
pub async fn handle(core: &Core, endpoint: G, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    use writes::write;
    let delete = |target: DeleteTarget| {
        move |request: Option<&DeleteByIdsRequest<'_>>, bearer: Option<&str>| {
            validate::delete_by_ids(target, request, bearer)
        }
    };
    match endpoint {
        G::InsertRouteRules => {
            let check = validate::insert_route_rules;
            write(core, endpoint, input, out, RouteRulesRequest::token, check).await
        }
        G::UpdateRouteRules => {
            let check = validate::update_route_rules;
            write(core, endpoint, input, out, RouteRulesRequest::token, check).await
        }
        G::DeleteRouteRules => {
            let check = delete(DeleteTarget::RouteRules);
            write(core, endpoint, input, out, DeleteByIdsRequest::token, check).await
        }
        G::CreateRouteRule => {
            let check = validate::create_route_rule;
            write(
                core,
                endpoint,
                input,
                out,
                CreateRouteRuleRequest::token,
                check,
            )
            .await
        }
        G::InsertRouteRuleGroups => {
            let check = validate::insert_route_rule_groups;
            write(
                core,
                endpoint,
                input,
                out,
                RouteRuleGroupsRequest::token,
                check,
            )
            .await
        }
        G::UpdateRouteRuleGroups => {
            let check = validate::update_route_rule_groups;
            write(
                core,
                endpoint,
                input,
                out,
                RouteRuleGroupsRequest::token,
                check,
            )
            .await
        }
        G::ReleaseRouteRuleGroups => {
            let check = validate::release_route_rule_groups;
            write(
                core,
                endpoint,
                input,
                out,
                RouteRuleGroupsRequest::token,
                check,
            )
            .await
        }
        G::DeleteRouteRuleGroups => {
            let check = delete(DeleteTarget::RouteRuleGroups);
            write(core, endpoint, input, out, DeleteByIdsRequest::token, check).await
        }
        G::InsertGroups => {
            let check = validate::insert_groups;
            write(core, endpoint, input, out, GroupsRequest::token, check).await
        }
        G::UpdateGroups => {
            let check = validate::update_groups;
            write(core, endpoint, input, out, GroupsRequest::token, check).await
        }
        G::DeleteGroups => {
            let check = delete(DeleteTarget::Groups);
            write(core, endpoint, input, out, DeleteByIdsRequest::token, check).await
        }
        // Java checks no operation context on tag writes, so the bearer token is not needed
        // there (the permission check still sees it).
        G::InsertGroupTags => {
            let check = |request: Option<&GroupTagsRequest<'_>>, _: Option<&str>| {
                validate::insert_group_tags(request)
            };
            write(core, endpoint, input, out, GroupTagsRequest::token, check).await
        }
        G::UpdateGroupTags => {
            let check = |request: Option<&GroupTagsRequest<'_>>, _: Option<&str>| {
                validate::update_group_tags(request)
            };
            write(core, endpoint, input, out, GroupTagsRequest::token, check).await
        }
        G::DeleteGroupTags => {
            let check = |request: Option<&DeleteGroupTagsRequest<'_>>, _: Option<&str>| {
                validate::delete_group_tags(request)
            };
            write(
                core,
                endpoint,
                input,
                out,
                DeleteGroupTagsRequest::token,
                check,
            )
            .await
        }
        G::OperateGroupOperations => {
            let check = validate::operate_group_operations;
            let token = OperateGroupOperationsRequest::token;
            write(core, endpoint, input, out, token, check).await
        }
        G::OperateGroupOperation => {
            let check = validate::operate_group_operation;
            let token = OperateGroupOperationRequest::token;
            write(core, endpoint, input, out, token, check).await
        }
        G::InsertGroupInstances => {
            let check = validate::insert_group_instances;
            let token = InsertGroupInstancesRequest::token;
            write(core, endpoint, input, out, token, check).await
        }
        G::DeleteGroupInstances => {
            let check = delete(DeleteTarget::GroupInstances);
            write(core, endpoint, input, out, DeleteByIdsRequest::token, check).await
        }
        G::InsertServiceInstances => {
            let check = validate::insert_service_instances;
            let token = InsertServiceInstancesRequest::token;
            write(core, endpoint, input, out, token, check).await
        }
        G::DeleteServiceInstances => {
            let check = delete(DeleteTarget::ServiceInstances);
            write(core, endpoint, input, out, DeleteByIdsRequest::token, check).await
        }
        G::UpdateCanaryIps => {
            // The canary group lives in this node's region.
            let region = core.node.config.region_id.as_str();
            let check = |request: Option<&UpdateCanaryIpsRequest<'_>>, bearer: Option<&str>| {
                validate::update_canary_ips(request, bearer, region)
            };
            write(
                core,
                endpoint,
                input,
                out,
                UpdateCanaryIpsRequest::token,
                check,
            )
            .await
        }
        G::GetAllRouteRules => reads::all_route_rules(core, input, out),
        G::GetAllRouteRuleGroups => reads::all_route_rule_groups(core, input, out),
        G::GetAllGroups => reads::all_groups(core, input, out),
        G::GetAllGroupTags => reads::all_group_tags(core, input, out),
        G::GetGroupTags => reads::group_tags(core, input, out),
        G::GetAllGroupOperations => reads::all_group_operations(core, input, out),
        G::GetGroupOperations => reads::group_operations(core, input, out),
        G::GetRouteRules => reads::route_rules(core, input, out).await,
        G::GetRouteRuleGroups => reads::route_rule_groups(core, input, out).await,
        G::GetGroups => reads::groups(core, input, out).await,
        G::GetGroupInstances => reads::group_instances(core, input, out).await,
        G::GetServiceInstances => reads::service_instances(core, input, out).await,
    }
}
