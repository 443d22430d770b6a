//! Success answers of the group read endpoints and the group logs (spec §10.3, §10.4, §10.6) in
//! Jackson's shape: properties alphabetical, nulls written. Refusals, and the writes' successes,
//! go through [`write_status_response`](crate::model::management::responses::write_status_response)
//! with the matching [`ResponseKind`](crate::model::management::responses::ResponseKind).

use std::collections::BTreeMap;

use super::data::GroupData;
use super::logs::{
    GroupInstanceLog, GroupLog, GroupLogRow, GroupOperationLog, LogMeta, RouteRuleGroupLog,
    RouteRuleLog, ServiceInstanceLog,
};
use super::rows::{
    Group, GroupInstance, GroupOperations, GroupTags, RouteRuleGroup, ServiceInstance,
    ServiceRouteRule,
};
use super::served::write_tags;
use crate::model::{
    write_bool, write_i64, write_metadata, write_opt_str, write_response_status, write_str,
    ResponseStatus,
};

/// An `Integer`: a number or `null`.
fn write_opt_i32(out: &mut Vec<u8>, value: Option<i32>) {
    match value {
        Some(v) => write_i64(out, i64::from(v)),
        None => out.extend_from_slice(b"null"),
    }
}

/// `[item,..]`.
fn write_list<'a, T: 'a>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = &'a T>,
    write_item: fn(&mut Vec<u8>, &T),
) {
    out.push(b'[');
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_item(out, item);
    }
    out.push(b']');
}

/// `"responseStatus":SUCCESS`.
fn write_success(out: &mut Vec<u8>) {
    out.extend_from_slice(b"\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
}

/// `{"<name>":<list>,"responseStatus"}` for a property named before `responseStatus`.
fn write_leading<'a, T: 'a>(
    out: &mut Vec<u8>,
    name: &[u8],
    items: impl IntoIterator<Item = &'a T>,
    write_item: fn(&mut Vec<u8>, &T),
) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
    write_list(out, items, write_item);
    out.push(b',');
    write_success(out);
    out.push(b'}');
}

/// `{"responseStatus","<name>":<list>}` for a property named after `responseStatus`.
fn write_trailing<'a, T: 'a>(
    out: &mut Vec<u8>,
    name: &[u8],
    items: impl IntoIterator<Item = &'a T>,
    write_item: fn(&mut Vec<u8>, &T),
) {
    out.push(b'{');
    write_success(out);
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
    write_list(out, items, write_item);
    out.push(b'}');
}

/// `{"<name>":<item>|null,"responseStatus"}`.
fn write_optional<T>(
    out: &mut Vec<u8>,
    name: &[u8],
    item: Option<&T>,
    write_item: fn(&mut Vec<u8>, &T),
) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
    match item {
        Some(item) => write_item(out, item),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b',');
    write_success(out);
    out.push(b'}');
}

/// `ServiceRouteRule`.
pub fn write_route_rule(out: &mut Vec<u8>, rule: &ServiceRouteRule) {
    out.extend_from_slice(b"{\"description\":");
    write_opt_str(out, rule.description.as_deref());
    out.extend_from_slice(b",\"name\":");
    write_str(out, &rule.name);
    out.extend_from_slice(b",\"routeRuleId\":");
    write_i64(out, rule.route_rule_id);
    out.extend_from_slice(b",\"serviceId\":");
    write_str(out, &rule.service_id);
    out.extend_from_slice(b",\"status\":");
    write_str(out, &rule.status);
    out.extend_from_slice(b",\"strategy\":");
    write_str(out, &rule.strategy);
    out.push(b'}');
}

/// `RouteRuleGroup`.
pub fn write_route_rule_group(out: &mut Vec<u8>, link: &RouteRuleGroup) {
    out.extend_from_slice(b"{\"groupId\":");
    write_i64(out, link.group_id);
    out.extend_from_slice(b",\"routeRuleGroupId\":");
    write_i64(out, link.route_rule_group_id);
    out.extend_from_slice(b",\"routeRuleId\":");
    write_i64(out, link.route_rule_id);
    out.extend_from_slice(b",\"unreleasedWeight\":");
    write_opt_i32(out, link.unreleased_weight);
    out.extend_from_slice(b",\"weight\":");
    write_opt_i32(out, link.weight);
    out.push(b'}');
}

/// `Group` (`groupKey` is its getter's; `metadata` is never set by Java's reads).
pub fn write_group(out: &mut Vec<u8>, group: &Group) {
    out.extend_from_slice(b"{\"appId\":");
    write_str(out, &group.app_id);
    out.extend_from_slice(b",\"description\":");
    write_opt_str(out, group.description.as_deref());
    out.extend_from_slice(b",\"groupId\":");
    write_i64(out, group.group_id);
    out.extend_from_slice(b",\"groupKey\":");
    write_str(out, &group.group_key());
    out.extend_from_slice(b",\"metadata\":null,\"name\":");
    write_str(out, &group.name);
    out.extend_from_slice(b",\"regionId\":");
    write_str(out, &group.region_id);
    out.extend_from_slice(b",\"serviceId\":");
    write_str(out, &group.service_id);
    out.extend_from_slice(b",\"status\":");
    write_str(out, &group.status);
    out.extend_from_slice(b",\"zoneId\":");
    write_str(out, &group.zone_id);
    out.push(b'}');
}

/// `GroupRepository.getServiceInstanceGroups`, the `groups` of management `service.json`:
/// every live group of `service_id` (matched ignoring ASCII case, as discovery matches ids),
/// active or not, by id, each as a `ServiceGroup` with its key, its listed instance ids (`[]`
/// when none: Java reads them from a multimap) and its tags as `metadata` (`null` when none).
/// No rule is involved, so `weight` and `instances` stay null.
pub fn write_service_groups(out: &mut Vec<u8>, data: &GroupData, service_id: &str) {
    let groups: Vec<&Group> = data
        .groups()
        .filter(|g| g.service_id.eq_ignore_ascii_case(service_id))
        .collect();
    let mut listed: BTreeMap<i64, Vec<&str>> =
        groups.iter().map(|g| (g.group_id, Vec::new())).collect();
    for member in data.group_instances() {
        if let Some(ids) = listed.get_mut(&member.group_id) {
            ids.push(&member.instance_id);
        }
    }
    out.push(b'[');
    for (n, group) in groups.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"groupKey\":");
        write_str(out, &group.group_key());
        out.extend_from_slice(b",\"instanceIds\":[");
        for (m, id) in listed[&group.group_id].iter().enumerate() {
            if m > 0 {
                out.push(b',');
            }
            write_str(out, id);
        }
        out.extend_from_slice(b"],\"instances\":null,\"metadata\":");
        match data.group_tags(group.group_id) {
            Some(tags) => write_tags(out, &tags.tags),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"weight\":null}");
    }
    out.push(b']');
}

/// `GroupTags`: `{"groupId","tags":{..}}`.
pub fn write_group_tags(out: &mut Vec<u8>, tags: &GroupTags) {
    out.extend_from_slice(b"{\"groupId\":");
    write_i64(out, tags.group_id);
    out.extend_from_slice(b",\"tags\":");
    write_tags(out, &tags.tags);
    out.push(b'}');
}

/// `GroupOperations`: `{"groupId","operations":[..]}`.
pub fn write_group_operations(out: &mut Vec<u8>, operations: &GroupOperations) {
    out.extend_from_slice(b"{\"groupId\":");
    write_i64(out, operations.group_id);
    out.extend_from_slice(b",\"operations\":");
    write_list(out, &operations.operations, |out, op: &String| {
        write_str(out, op)
    });
    out.push(b'}');
}

/// `GroupInstance`: `{"groupId","id","instanceId"}`.
pub fn write_group_instance(out: &mut Vec<u8>, member: &GroupInstance) {
    out.extend_from_slice(b"{\"groupId\":");
    write_i64(out, member.group_id);
    out.extend_from_slice(b",\"id\":");
    write_i64(out, member.id);
    out.extend_from_slice(b",\"instanceId\":");
    write_str(out, &member.instance_id);
    out.push(b'}');
}

/// `ServiceInstance`, its metadata parsed from the stored text.
pub fn write_service_instance(out: &mut Vec<u8>, instance: &ServiceInstance) {
    out.extend_from_slice(b"{\"description\":");
    write_opt_str(out, instance.description.as_deref());
    out.extend_from_slice(b",\"groupId\":");
    write_str(out, &instance.group_id);
    out.extend_from_slice(b",\"healthCheckUrl\":");
    write_str(out, &instance.health_check_url);
    out.extend_from_slice(b",\"id\":");
    write_i64(out, instance.id);
    out.extend_from_slice(b",\"instanceId\":");
    write_str(out, &instance.instance_id);
    out.extend_from_slice(b",\"ip\":");
    write_str(out, &instance.ip);
    out.extend_from_slice(b",\"machineName\":");
    write_str(out, &instance.machine_name);
    out.extend_from_slice(b",\"metadata\":");
    write_metadata(out, Some(&instance.metadata_map()));
    out.extend_from_slice(b",\"port\":");
    write_i64(out, i64::from(instance.port));
    out.extend_from_slice(b",\"protocol\":");
    write_str(out, &instance.protocol);
    out.extend_from_slice(b",\"regionId\":");
    write_str(out, &instance.region_id);
    out.extend_from_slice(b",\"serviceId\":");
    write_str(out, &instance.service_id);
    out.extend_from_slice(b",\"url\":");
    write_str(out, &instance.url);
    out.extend_from_slice(b",\"zoneId\":");
    write_str(out, &instance.zone_id);
    out.push(b'}');
}

/// get-all-route-rules, get-route-rules: `{"responseStatus","routeRules":[..]}`.
pub fn write_route_rules_response<'a>(
    out: &mut Vec<u8>,
    rules: impl IntoIterator<Item = &'a ServiceRouteRule>,
) {
    write_trailing(out, b"routeRules", rules, write_route_rule);
}

/// get-all-route-rule-groups, get-route-rule-groups: `{"responseStatus","routeRuleGroups":[..]}`.
pub fn write_route_rule_groups_response<'a>(
    out: &mut Vec<u8>,
    links: impl IntoIterator<Item = &'a RouteRuleGroup>,
) {
    write_trailing(out, b"routeRuleGroups", links, write_route_rule_group);
}

/// get-all-groups, get-groups: `{"groups":[..],"responseStatus"}`.
pub fn write_groups_response<'a>(out: &mut Vec<u8>, groups: impl IntoIterator<Item = &'a Group>) {
    write_leading(out, b"groups", groups, write_group);
}

/// get-all-group-tags: `{"allGroupTags":[..],"responseStatus"}`.
pub fn write_all_group_tags_response<'a>(
    out: &mut Vec<u8>,
    tags: impl IntoIterator<Item = &'a GroupTags>,
) {
    write_leading(out, b"allGroupTags", tags, write_group_tags);
}

/// get-group-tags: `{"groupTags":{..}|null,"responseStatus"}`.
pub fn write_group_tags_response(out: &mut Vec<u8>, tags: Option<&GroupTags>) {
    write_optional(out, b"groupTags", tags, write_group_tags);
}

/// get-all-group-operations: `{"allGroupOperations":[..],"responseStatus"}`.
pub fn write_all_group_operations_response<'a>(
    out: &mut Vec<u8>,
    operations: impl IntoIterator<Item = &'a GroupOperations>,
) {
    write_leading(
        out,
        b"allGroupOperations",
        operations,
        write_group_operations,
    );
}

/// get-group-operations: `{"groupOperations":{..}|null,"responseStatus"}`.
pub fn write_group_operations_response(out: &mut Vec<u8>, operations: Option<&GroupOperations>) {
    write_optional(out, b"groupOperations", operations, write_group_operations);
}

/// get-group-instances: `{"groupInstances":[..],"responseStatus"}`.
pub fn write_group_instances_response<'a>(
    out: &mut Vec<u8>,
    members: impl IntoIterator<Item = &'a GroupInstance>,
) {
    write_leading(out, b"groupInstances", members, write_group_instance);
}

/// get-service-instances: `{"responseStatus","serviceInstances":[..]}`.
pub fn write_service_instances_response<'a>(
    out: &mut Vec<u8>,
    instances: impl IntoIterator<Item = &'a ServiceInstance>,
) {
    write_trailing(out, b"serviceInstances", instances, write_service_instance);
}

/// The six group log endpoints: `{"logs":[..],"responseStatus"}`.
pub fn write_group_logs_response<'a>(
    out: &mut Vec<u8>,
    rows: impl IntoIterator<Item = &'a GroupLogRow>,
) {
    write_leading(out, b"logs", rows, write_group_log_row);
}

/// One group log row with its table's properties, alphabetical; times in epoch milliseconds.
pub fn write_group_log_row(out: &mut Vec<u8>, row: &GroupLogRow) {
    match row {
        GroupLogRow::GroupOperation(r) => write_group_operation_log(out, r),
        GroupLogRow::Group(r) => write_group_log(out, r),
        GroupLogRow::RouteRule(r) => write_route_rule_log(out, r),
        GroupLogRow::RouteRuleGroup(r) => write_route_rule_group_log(out, r),
        GroupLogRow::GroupInstance(r) => write_group_instance_log(out, r),
        GroupLogRow::ServiceInstance(r) => write_service_instance_log(out, r),
    }
}

/// A property of [`LogMeta`] (each goes where the alphabet puts it).
enum Meta {
    CreateTime,
    Extensions,
    Id,
    Operation,
    OperatorId,
    Reason,
    Token,
    UpdateTime,
}

/// `,"<name>":<value>` of one [`LogMeta`] property (the leading comma omitted for the first).
fn meta(out: &mut Vec<u8>, m: &LogMeta, property: Meta) {
    let (name, value): (&[u8], _) = match property {
        Meta::CreateTime => (b"createTime", Value::Number(m.create_time_ms)),
        Meta::Extensions => (b"extensions", Value::Text(m.extensions.as_deref())),
        Meta::Id => (b"id", Value::Number(m.id)),
        Meta::Operation => (b"operation", Value::Text(Some(&m.operation))),
        Meta::OperatorId => (b"operatorId", Value::Text(Some(&m.operator_id))),
        Meta::Reason => (b"reason", Value::Text(m.reason.as_deref())),
        Meta::Token => (b"token", Value::Text(Some(&m.token))),
        Meta::UpdateTime => (b"updateTime", Value::Number(m.update_time_ms)),
    };
    property_name(out, name);
    match value {
        Value::Number(n) => write_i64(out, n),
        Value::Text(t) => write_opt_str(out, t),
    }
}

enum Value<'a> {
    Number(i64),
    Text(Option<&'a str>),
}

/// `"name":` after a `{` or a `,` as the buffer needs.
fn property_name(out: &mut Vec<u8>, name: &[u8]) {
    if out.last() != Some(&b'{') {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(name);
    out.extend_from_slice(b"\":");
}

fn text_property(out: &mut Vec<u8>, name: &[u8], value: &str) {
    property_name(out, name);
    write_str(out, value);
}

fn number_property(out: &mut Vec<u8>, name: &[u8], value: i64) {
    property_name(out, name);
    write_i64(out, value);
}

/// `GroupOperationLog`.
fn write_group_operation_log(out: &mut Vec<u8>, r: &GroupOperationLog) {
    out.push(b'{');
    property_name(out, b"complete");
    write_bool(out, r.complete);
    meta(out, &r.meta, Meta::CreateTime);
    meta(out, &r.meta, Meta::Extensions);
    number_property(out, b"groupId", r.group_id);
    meta(out, &r.meta, Meta::Id);
    meta(out, &r.meta, Meta::Operation);
    meta(out, &r.meta, Meta::OperatorId);
    meta(out, &r.meta, Meta::Reason);
    meta(out, &r.meta, Meta::Token);
    meta(out, &r.meta, Meta::UpdateTime);
    out.push(b'}');
}

/// `GroupLog`.
fn write_group_log(out: &mut Vec<u8>, r: &GroupLog) {
    out.push(b'{');
    text_property(out, b"appId", &r.app_id);
    meta(out, &r.meta, Meta::CreateTime);
    meta(out, &r.meta, Meta::Extensions);
    meta(out, &r.meta, Meta::Id);
    text_property(out, b"name", &r.name);
    meta(out, &r.meta, Meta::Operation);
    meta(out, &r.meta, Meta::OperatorId);
    meta(out, &r.meta, Meta::Reason);
    text_property(out, b"regionId", &r.region_id);
    text_property(out, b"serviceId", &r.service_id);
    text_property(out, b"status", &r.status);
    meta(out, &r.meta, Meta::Token);
    meta(out, &r.meta, Meta::UpdateTime);
    text_property(out, b"zoneId", &r.zone_id);
    out.push(b'}');
}

/// `RouteRuleLog` (its primitive `complete` is never set).
fn write_route_rule_log(out: &mut Vec<u8>, r: &RouteRuleLog) {
    out.push(b'{');
    property_name(out, b"complete");
    write_bool(out, false);
    meta(out, &r.meta, Meta::CreateTime);
    meta(out, &r.meta, Meta::Extensions);
    meta(out, &r.meta, Meta::Id);
    text_property(out, b"name", &r.name);
    meta(out, &r.meta, Meta::Operation);
    meta(out, &r.meta, Meta::OperatorId);
    meta(out, &r.meta, Meta::Reason);
    text_property(out, b"serviceId", &r.service_id);
    text_property(out, b"status", &r.status);
    meta(out, &r.meta, Meta::Token);
    meta(out, &r.meta, Meta::UpdateTime);
    out.push(b'}');
}

/// `RouteRuleGroupLog`.
fn write_route_rule_group_log(out: &mut Vec<u8>, r: &RouteRuleGroupLog) {
    out.push(b'{');
    meta(out, &r.meta, Meta::CreateTime);
    meta(out, &r.meta, Meta::Extensions);
    number_property(out, b"groupId", r.group_id);
    meta(out, &r.meta, Meta::Id);
    meta(out, &r.meta, Meta::Operation);
    meta(out, &r.meta, Meta::OperatorId);
    meta(out, &r.meta, Meta::Reason);
    number_property(out, b"routeRuleId", r.route_rule_id);
    meta(out, &r.meta, Meta::Token);
    meta(out, &r.meta, Meta::UpdateTime);
    property_name(out, b"weight");
    write_opt_i32(out, r.weight);
    out.push(b'}');
}

/// `GroupInstanceLog`.
fn write_group_instance_log(out: &mut Vec<u8>, r: &GroupInstanceLog) {
    out.push(b'{');
    meta(out, &r.meta, Meta::CreateTime);
    number_property(out, b"groupId", r.group_id);
    meta(out, &r.meta, Meta::Id);
    text_property(out, b"instanceId", &r.instance_id);
    meta(out, &r.meta, Meta::Operation);
    meta(out, &r.meta, Meta::OperatorId);
    meta(out, &r.meta, Meta::Reason);
    meta(out, &r.meta, Meta::Token);
    meta(out, &r.meta, Meta::UpdateTime);
    out.push(b'}');
}

/// `ServiceInstanceLog` (`metadata` is the stored text, `groupId` the instance's group name).
fn write_service_instance_log(out: &mut Vec<u8>, r: &ServiceInstanceLog) {
    out.push(b'{');
    meta(out, &r.meta, Meta::CreateTime);
    text_property(out, b"groupId", &r.group_id);
    text_property(out, b"healthCheckUrl", &r.health_check_url);
    meta(out, &r.meta, Meta::Id);
    text_property(out, b"instanceId", &r.instance_id);
    text_property(out, b"ip", &r.ip);
    text_property(out, b"machineName", &r.machine_name);
    text_property(out, b"metadata", &r.metadata);
    meta(out, &r.meta, Meta::Operation);
    meta(out, &r.meta, Meta::OperatorId);
    number_property(out, b"port", i64::from(r.port));
    text_property(out, b"protocol", &r.protocol);
    text_property(out, b"regionId", &r.region_id);
    text_property(out, b"serviceId", &r.service_id);
    meta(out, &r.meta, Meta::Token);
    meta(out, &r.meta, Meta::UpdateTime);
    text_property(out, b"url", &r.url);
    text_property(out, b"zoneId", &r.zone_id);
    out.push(b'}');
}

#[cfg(test)]
mod tests;
