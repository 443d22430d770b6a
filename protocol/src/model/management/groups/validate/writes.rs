//! The write endpoints' checks: each builds a [`GroupWrite`] or answers Java's refusal.

use super::GroupEndpoint;
use crate::model::management::groups::keys::group_key;
use crate::model::management::groups::requests::{
    CreateRouteRuleRequest, DeleteByIdsRequest, DeleteGroupTagsRequest, DeleteTarget,
    GroupTagsRequest, GroupsRequest, InsertGroupInstancesRequest, InsertServiceInstancesRequest,
    OperateGroupOperationRequest, OperateGroupOperationsRequest, RouteRuleGroupsRequest,
    RouteRulesRequest, UpdateCanaryIpsRequest, WireContext, WireGroup, WireRouteRule,
    WireServiceInstance,
};
use crate::model::management::groups::write::{
    GroupChange, GroupOperator, GroupWrite, NewGroup, NewRouteRule, NewRouteRuleGroup,
    NewServiceInstance,
};
use crate::model::management::validate::{Refusal, REQUEST_IS_NULL};
use crate::model::{is_null_or_whitespace, write_metadata, Str};

/// Java's `extensions` when the client sent none (`OperationContext()`).
const NO_EXTENSIONS: &str = "{}";

/// A non-blank value, as sent (Java does not trim these).
fn required(value: Option<&str>) -> Option<String> {
    (!is_null_or_whitespace(value)).then(|| value.unwrap_or_default().to_owned())
}

fn text<'r>(value: &'r Str<'_>) -> Option<&'r str> {
    value.as_deref()
}

/// `BusinessDao.checkOperationContextArgument`, in its order.
fn operator(context: WireContext<'_>, bearer: Option<&str>) -> Option<GroupOperator> {
    let operation = required(context.operation)?;
    let extensions = match context.extensions {
        None => NO_EXTENSIONS.to_owned(),
        Some(sent) => required(sent)?,
    };
    let operator_id = required(context.operator_id)?;
    if is_null_or_whitespace(context.token) && is_null_or_whitespace(bearer) {
        return None;
    }
    Some(GroupOperator {
        operation,
        operator_id,
        reason: context.reason.map(str::to_owned),
        extensions,
    })
}

/// A refused body, or the endpoint's fixed failure when `checked` is `None`.
fn answer<R>(
    endpoint: GroupEndpoint,
    request: Option<R>,
    checked: impl FnOnce(R) -> Option<GroupWrite>,
) -> Result<GroupWrite, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    checked(request).ok_or(endpoint.failed())
}

/// `routeRule.*` of `RouteRuleDao.checkInsertOrUpdateArgument`.
fn new_route_rule(rule: &WireRouteRule<'_>) -> Option<NewRouteRule> {
    Some(NewRouteRule {
        service_id: required(text(&rule.service_id))?,
        name: required(text(&rule.name))?,
        description: text(&rule.description).map(str::to_owned),
        status: required(text(&rule.status))?,
        strategy: required(text(&rule.strategy))?,
    })
}

/// `group.*` of `GroupDao.checkInsertOrUpdateArgument`.
fn new_group(group: &WireGroup<'_>) -> Option<NewGroup> {
    Some(NewGroup {
        service_id: required(text(&group.service_id))?,
        region_id: required(text(&group.region_id))?,
        zone_id: required(text(&group.zone_id))?,
        name: required(text(&group.name))?,
        app_id: required(text(&group.app_id))?,
        description: text(&group.description).map(str::to_owned),
        status: required(text(&group.status))?,
    })
}

/// A list's non-null elements (Java's `Converts.convert`); `None` when none is left (caravan's
/// "argument models is null or empty").
fn non_empty<T, U>(
    list: &Option<Vec<Option<T>>>,
    mut each: impl FnMut(&T) -> Option<U>,
) -> Option<Vec<U>> {
    let converted: Vec<U> = list
        .iter()
        .flatten()
        .flatten()
        .map(&mut each)
        .collect::<Option<_>>()?;
    (!converted.is_empty()).then_some(converted)
}

/// insert-route-rules.
pub fn insert_route_rules(
    request: Option<&RouteRulesRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    upsert_route_rules(GroupEndpoint::InsertRouteRules, request, bearer)
}

/// update-route-rules: the same upsert as insert-route-rules.
pub fn update_route_rules(
    request: Option<&RouteRulesRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    upsert_route_rules(GroupEndpoint::UpdateRouteRules, request, bearer)
}

fn upsert_route_rules(
    endpoint: GroupEndpoint,
    request: Option<&RouteRulesRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(endpoint, request, |r| {
        let operator = operator(r.context(), bearer)?;
        let rules = non_empty(&r.route_rules, new_route_rule)?;
        Some(GroupWrite {
            change: GroupChange::UpsertRouteRules(rules),
            operator,
        })
    })
}

/// The five deletes by id. Null ids match no row (Java binds them as 0); an absent or empty
/// list is refused (`ValueCheckers.notNullOrEmpty(ids, "ids")`).
pub fn delete_by_ids(
    target: DeleteTarget,
    request: Option<&DeleteByIdsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    let endpoint = match target {
        DeleteTarget::RouteRules => GroupEndpoint::DeleteRouteRules,
        DeleteTarget::RouteRuleGroups => GroupEndpoint::DeleteRouteRuleGroups,
        DeleteTarget::Groups => GroupEndpoint::DeleteGroups,
        DeleteTarget::GroupInstances => GroupEndpoint::DeleteGroupInstances,
        DeleteTarget::ServiceInstances => GroupEndpoint::DeleteServiceInstances,
    };
    answer(endpoint, request, |r| {
        let operator = operator(r.context(), bearer)?;
        let ids: Vec<i64> = r.ids(target)?.iter().map(|id| id.unwrap_or(0)).collect();
        if ids.is_empty() {
            return None;
        }
        let change = match target {
            DeleteTarget::RouteRules => GroupChange::DeleteRouteRules(ids),
            DeleteTarget::RouteRuleGroups => GroupChange::DeleteRouteRuleGroups(ids),
            DeleteTarget::Groups => GroupChange::DeleteGroups(ids),
            DeleteTarget::GroupInstances => GroupChange::DeleteGroupInstances(ids),
            DeleteTarget::ServiceInstances => GroupChange::DeleteServiceInstances(ids),
        };
        Some(GroupWrite { change, operator })
    })
}

/// create-route-rule (`BusinessDao.checkServiceRouteRules`, then the DAOs' checks): the rule's
/// service is the service of every group, ignoring case; each group needs a weight. Groups
/// sharing a key are inserted once, with the fields of the last.
pub fn create_route_rule(
    request: Option<&CreateRouteRuleRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::CreateRouteRule, request, |r| {
        let rule = new_route_rule(r.route_rule.as_ref()?)?;
        let service = rule.service_id.to_lowercase();
        let mut groups: Vec<NewGroup> = Vec::new();
        let mut links = Vec::new();
        // Java throws on a null element: every element must be a group.
        for group in r.groups.as_ref()?.iter() {
            let group = group.as_ref()?;
            let weight = group.weight?;
            if text(&group.service_id)?.to_lowercase() != service {
                return None;
            }
            let group = new_group(group)?;
            let key = group_key_of(&group);
            let index = match groups.iter().position(|g| group_key_of(g) == key) {
                Some(index) => {
                    groups[index] = group;
                    index
                }
                None => {
                    groups.push(group);
                    groups.len() - 1
                }
            };
            links.push((index, weight));
        }
        if links.is_empty() {
            return None;
        }
        let operator = operator(r.context(), bearer)?;
        Some(GroupWrite {
            change: GroupChange::CreateRouteRule {
                rule,
                groups,
                links,
            },
            operator,
        })
    })
}

fn group_key_of(group: &NewGroup) -> String {
    group_key(&[
        &group.service_id,
        &group.region_id,
        &group.zone_id,
        &group.name,
    ])
}

/// The route-rule-groups of a request (`RouteRuleGroups.newRouteRuleGroupModels`: the
/// unreleased weight as sent; `RouteRuleGroupDao`'s checks: rule and group ids given).
fn route_rule_groups(
    request: &RouteRuleGroupsRequest,
    bearer: Option<&str>,
    change: fn(Vec<NewRouteRuleGroup>) -> GroupChange,
) -> Option<GroupWrite> {
    let operator = operator(request.context(), bearer)?;
    let links = non_empty(&request.route_rule_groups, |link| {
        Some(NewRouteRuleGroup {
            route_rule_id: link.route_rule_id?,
            group_id: link.group_id?,
            unreleased_weight: link.unreleased_weight,
        })
    })?;
    Some(GroupWrite {
        change: change(links),
        operator,
    })
}

/// insert-route-rule-groups.
pub fn insert_route_rule_groups(
    request: Option<&RouteRuleGroupsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::InsertRouteRuleGroups, request, |r| {
        route_rule_groups(r, bearer, GroupChange::UpsertRouteRuleGroups)
    })
}

/// update-route-rule-groups: the same upsert as insert-route-rule-groups.
pub fn update_route_rule_groups(
    request: Option<&RouteRuleGroupsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::UpdateRouteRuleGroups, request, |r| {
        route_rule_groups(r, bearer, GroupChange::UpsertRouteRuleGroups)
    })
}

/// release-route-rule-groups.
pub fn release_route_rule_groups(
    request: Option<&RouteRuleGroupsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::ReleaseRouteRuleGroups, request, |r| {
        route_rule_groups(r, bearer, GroupChange::ReleaseRouteRuleGroups)
    })
}

/// insert-groups.
pub fn insert_groups(
    request: Option<&GroupsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    upsert_groups(GroupEndpoint::InsertGroups, request, bearer)
}

/// update-groups: the same upsert as insert-groups.
pub fn update_groups(
    request: Option<&GroupsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    upsert_groups(GroupEndpoint::UpdateGroups, request, bearer)
}

fn upsert_groups(
    endpoint: GroupEndpoint,
    request: Option<&GroupsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(endpoint, request, |r| {
        let operator = operator(r.context(), bearer)?;
        let groups = non_empty(&r.groups, new_group)?;
        Some(GroupWrite {
            change: GroupChange::UpsertGroups(groups),
            operator,
        })
    })
}

/// insert-group-tags.
pub fn insert_group_tags(request: Option<&GroupTagsRequest>) -> Result<GroupWrite, Refusal> {
    upsert_group_tags(GroupEndpoint::InsertGroupTags, request)
}

/// update-group-tags: the same upsert as insert-group-tags.
pub fn update_group_tags(request: Option<&GroupTagsRequest>) -> Result<GroupWrite, Refusal> {
    upsert_group_tags(GroupEndpoint::UpdateGroupTags, request)
}

/// `GroupTagsUtil.newGroupTags` skips groups without an id and tags with a blank key or value;
/// no tag left is refused. Java checks no operation context here: the write logs nothing.
fn upsert_group_tags(
    endpoint: GroupEndpoint,
    request: Option<&GroupTagsRequest>,
) -> Result<GroupWrite, Refusal> {
    answer(endpoint, request, |r| {
        let mut tags = Vec::new();
        for group in r.group_tags_list.iter().flatten().flatten() {
            let (Some(group_id), Some(map)) = (group.group_id, &group.tags) else {
                continue;
            };
            for (tag, value) in &map.entries {
                let value = value.as_deref();
                if is_null_or_whitespace(Some(tag)) || is_null_or_whitespace(value) {
                    continue;
                }
                tags.push((
                    group_id,
                    tag.to_string(),
                    value.unwrap_or_default().to_owned(),
                ));
            }
        }
        if tags.is_empty() {
            return None;
        }
        Some(GroupWrite {
            change: GroupChange::UpsertGroupTags(tags),
            operator: unchecked_operator(r.context()),
        })
    })
}

/// The context of a write Java checks none of (it logs nothing).
fn unchecked_operator(context: WireContext<'_>) -> GroupOperator {
    GroupOperator {
        operation: context.operation.unwrap_or_default().to_owned(),
        operator_id: context.operator_id.unwrap_or_default().to_owned(),
        reason: context.reason.map(str::to_owned),
        extensions: context
            .extensions
            .map_or(NO_EXTENSIONS, Option::unwrap_or_default)
            .to_owned(),
    }
}

/// delete-group-tags (`GroupTagDao.delete`): the non-blank fields of the request are the
/// condition; none is "forbidden operation.".
pub fn delete_group_tags(request: Option<&DeleteGroupTagsRequest>) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::DeleteGroupTags, request, |r| {
        let tag = required(text(&r.tag));
        let value = required(text(&r.value));
        if r.group_id.is_none() && tag.is_none() && value.is_none() {
            return None;
        }
        Some(GroupWrite {
            change: GroupChange::DeleteGroupTags {
                group_id: r.group_id,
                tag,
                value,
            },
            operator: unchecked_operator(r.context()),
        })
    })
}

/// operate-group-operations (`GroupOperationsUtil.newGroupOperationModels` skips entries
/// without a group id and blank operations). With nothing left Java answers success before any
/// check: the write changes nothing.
pub fn operate_group_operations(
    request: Option<&OperateGroupOperationsRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::OperateGroupOperations, request, |r| {
        let mut operations = Vec::new();
        for group in r.group_operations_list.iter().flatten().flatten() {
            let Some(group_id) = group.group_id else {
                continue;
            };
            for operation in group.operations.iter().flatten().flatten() {
                if !is_null_or_whitespace(Some(operation)) {
                    operations.push((group_id, operation.to_string()));
                }
            }
        }
        let complete = r.operation_complete;
        let operator = if operations.is_empty() {
            unchecked_operator(r.context())
        } else {
            operator(r.context(), bearer)?
        };
        Some(GroupWrite {
            change: GroupChange::OperateGroups {
                operations,
                complete,
            },
            operator,
        })
    })
}

/// operate-group-operation: the group named by its fields (created when missing), the
/// operation the context's. artemis checks every field a new group needs even when the group
/// exists (Java checks them only when it creates it).
pub fn operate_group_operation(
    request: Option<&OperateGroupOperationRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::OperateGroupOperation, request, |r| {
        let operator = operator(r.context(), bearer)?;
        let group = NewGroup {
            service_id: required(text(&r.service_id))?,
            region_id: required(text(&r.region_id))?,
            zone_id: required(text(&r.zone_id))?,
            name: required(text(&r.name))?,
            app_id: required(text(&r.app_id))?,
            description: text(&r.description).map(str::to_owned),
            status: required(text(&r.status))?,
        };
        Some(GroupWrite {
            change: GroupChange::OperateGroup {
                group,
                complete: r.operation_complete,
            },
            operator,
        })
    })
}

/// insert-group-instances (`GroupInstanceDao.checkInsertOrUpdateArgument`).
pub fn insert_group_instances(
    request: Option<&InsertGroupInstancesRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::InsertGroupInstances, request, |r| {
        let operator = operator(r.context(), bearer)?;
        let members = non_empty(&r.group_instances, |member| {
            Some((member.group_id?, required(text(&member.instance_id))?))
        })?;
        Some(GroupWrite {
            change: GroupChange::InsertGroupInstances(members),
            operator,
        })
    })
}

/// insert-service-instances (`ServiceInstances.newServiceInstanceModel`, then
/// `ServiceInstanceDao.checkInsertOrUpdateArgument`: the service id may be blank but not
/// missing; the metadata map is required and stored as its JSON text).
pub fn insert_service_instances(
    request: Option<&InsertServiceInstancesRequest>,
    bearer: Option<&str>,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::InsertServiceInstances, request, |r| {
        let operator = operator(r.context(), bearer)?;
        let instances = non_empty(&r.service_instances, new_service_instance)?;
        Some(GroupWrite {
            change: GroupChange::UpsertServiceInstances(instances),
            operator,
        })
    })
}

fn new_service_instance(instance: &WireServiceInstance<'_>) -> Option<NewServiceInstance> {
    let service_id = text(&instance.service_id)?.to_owned();
    let instance_id = required(text(&instance.instance_id))?;
    let url = required(text(&instance.url))?;
    let ip = required(text(&instance.ip))?;
    let machine_name = required(text(&instance.machine_name))?;
    let metadata = instance.metadata.as_ref().map(|map| {
        let mut json = Vec::new();
        write_metadata(&mut json, Some(map));
        String::from_utf8(json).expect("the JSON writer writes UTF-8")
    })?;
    Some(NewServiceInstance {
        service_id,
        instance_id,
        ip,
        machine_name,
        metadata,
        port: instance.port,
        protocol: required(text(&instance.protocol))?,
        region_id: required(text(&instance.region_id))?,
        zone_id: required(text(&instance.zone_id))?,
        health_check_url: required(text(&instance.health_check_url))?,
        url,
        group_id: required(text(&instance.group_id))?,
        description: text(&instance.description).map(str::to_owned),
    })
}

/// canary/update-canary-ips (`CanaryServiceImpl`, `CanaryServices`): the service and app id
/// must be non-blank (the rule's and the group's checks), the list present and every id in it
/// non-blank; duplicates count once. `region` is the node's own region, where the canary group
/// lives.
pub fn update_canary_ips(
    request: Option<&UpdateCanaryIpsRequest>,
    bearer: Option<&str>,
    region: &str,
) -> Result<GroupWrite, Refusal> {
    answer(GroupEndpoint::UpdateCanaryIps, request, |r| {
        let service_id = required(text(&r.service_id))?;
        let app_id = required(text(&r.app_id))?;
        let region_id = required(Some(region))?;
        let operator = operator(r.context(), bearer)?;
        let mut instance_ids: Vec<String> = Vec::new();
        for ip in r.canary_ips.as_ref()? {
            let ip = required(text(ip))?;
            if !instance_ids.contains(&ip) {
                instance_ids.push(ip);
            }
        }
        Some(GroupWrite {
            change: GroupChange::UpdateCanary {
                service_id,
                app_id,
                region_id,
                instance_ids,
            },
            operator,
        })
    })
}
