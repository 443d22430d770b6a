//! Groups and route rules (spec §10.3, §10.4, §10.6, §10.7): the paths of the group endpoints,
//! update-canary-ips and the group logs, the bodies Java's management portal sends, and
//! one-call writes and reads that assert success.

use crate::assertions::{assert_success_status, dump};
use crate::http::Client;
use crate::management::{assert_write_ok, logs, management_post, management_read, OPERATOR};
use crate::payload::REGION;
use crate::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait, Value};

/// The path of group endpoint `name` (e.g. `"insert-groups"`).
pub fn group_path(name: &str) -> String {
    format!("/api/management/group/{name}.json")
}

/// The path of group log endpoint `name` (e.g. `"group-logs"`).
pub fn group_log_path(name: &str) -> String {
    format!("/api/management/log/{name}.json")
}

pub const UPDATE_CANARY_IPS: &str = "/api/management/canary/update-canary-ips.json";

/// The 32 group endpoints of Java's `ManagementGroupController`.
pub const GROUP_ENDPOINTS: [&str; 32] = [
    "insert-route-rules",
    "update-route-rules",
    "delete-route-rules",
    "get-all-route-rules",
    "get-route-rules",
    "create-route-rule",
    "insert-route-rule-groups",
    "update-route-rule-groups",
    "release-route-rule-groups",
    "delete-route-rule-groups",
    "get-all-route-rule-groups",
    "get-route-rule-groups",
    "insert-groups",
    "update-groups",
    "delete-groups",
    "get-all-groups",
    "get-groups",
    "insert-group-tags",
    "update-group-tags",
    "delete-group-tags",
    "get-all-group-tags",
    "get-group-tags",
    "operate-group-operations",
    "operate-group-operation",
    "get-all-group-operations",
    "get-group-operations",
    "insert-group-instances",
    "delete-group-instances",
    "get-group-instances",
    "insert-service-instances",
    "delete-service-instances",
    "get-service-instances",
];

/// The six group log endpoints.
pub const GROUP_LOGS: [&str; 6] = [
    "group-operation-logs",
    "group-logs",
    "route-rule-logs",
    "route-rule-group-logs",
    "group-instance-logs",
    "service-instance-logs",
];

/// The `token` the helpers send: group writes need a non-blank one (Java's operation context
/// check) even where the node configures none.
pub const GROUP_TOKEN: &str = "it-group-token";

fn text(v: &Value) -> String {
    sonic_rs::to_string(v).unwrap()
}

/// Java's `OperationContext` of a write: `operation`, `operatorId`, `token`, `reason`,
/// `extensions`.
pub fn operation_context(operation: &str) -> Value {
    sonic_rs::json!({
        "operation": operation,
        "operatorId": OPERATOR,
        "token": GROUP_TOKEN,
        "reason": "black-box test",
        "extensions": "{}",
    })
}

/// A write body: `fields` (a JSON object) with the operation context of `operation` added.
pub fn group_write_body(operation: &str, fields: Value) -> String {
    let mut body = operation_context(operation);
    let object = body.as_object_mut().unwrap();
    for (k, v) in fields
        .as_object()
        .unwrap_or_else(|| panic!("fields must be an object: {}", dump(&fields)))
        .iter()
    {
        object.insert(k, v.clone());
    }
    text(&body)
}

/// Posts a group write of `fields` under `operation` to `path`; asserts it was acknowledged.
pub fn group_write_to(c: &mut Client, path: &str, operation: &str, fields: Value) {
    let body = group_write_body(operation, fields);
    let v = management_post(c, path, &body);
    assert_write_ok(&v, &format!("POST {path} {body}"));
}

/// [`group_write_to`] group endpoint `name`.
pub fn group_write(c: &mut Client, name: &str, operation: &str, fields: Value) {
    group_write_to(c, &group_path(name), operation, fields);
}

/// A `Group` as written.
pub fn group_json(service: &str, zone: &str, name: &str, app: &str) -> Value {
    sonic_rs::json!({
        "serviceId": service,
        "regionId": REGION,
        "zoneId": zone,
        "name": name,
        "appId": app,
        "description": format!("group {name}"),
        "status": "active",
    })
}

/// A `ServiceRouteRule` as written.
pub fn route_rule_json(service: &str, name: &str, strategy: &str) -> Value {
    sonic_rs::json!({
        "serviceId": service,
        "name": name,
        "description": format!("rule {name}"),
        "status": "active",
        "strategy": strategy,
    })
}

/// A group read answered with success: the list under `field` (any order kept).
pub fn group_list(c: &mut Client, name: &str, body: &str, field: &str) -> Vec<Value> {
    let path = group_path(name);
    let v = management_read(c, &path, body);
    v[field]
        .as_array()
        .unwrap_or_else(|| panic!("POST {path} {body}: {field} is not a list: {}", dump(&v)))
        .iter()
        .cloned()
        .collect()
}

/// Every live group (`get-all-groups`).
pub fn all_groups(c: &mut Client) -> Vec<Value> {
    group_list(c, "get-all-groups", r#"{"regionId":"SHA"}"#, "groups")
}

/// Every live route rule (`get-all-route-rules`).
pub fn all_route_rules(c: &mut Client) -> Vec<Value> {
    group_list(
        c,
        "get-all-route-rules",
        r#"{"regionId":"SHA"}"#,
        "routeRules",
    )
}

/// Every route-rule-group row (`get-all-route-rule-groups`).
pub fn all_route_rule_groups(c: &mut Client) -> Vec<Value> {
    let body = r#"{"regionId":"SHA"}"#;
    group_list(c, "get-all-route-rule-groups", body, "routeRuleGroups")
}

/// The id of the live group `service/region SHA/zone/name` (matched ignoring case); panics when
/// there is none.
pub fn group_id(c: &mut Client, service: &str, zone: &str, name: &str) -> i64 {
    let key = format!("{service}/{REGION}/{zone}/{name}").to_lowercase();
    let groups = all_groups(c);
    groups
        .iter()
        .find(|g| g["groupKey"].as_str() == Some(key.as_str()))
        .and_then(|g| g["groupId"].as_i64())
        .unwrap_or_else(|| panic!("no live group {key} in {groups:?}"))
}

/// The id of the live route rule `name` of `service` (ignoring case); panics when there is
/// none.
pub fn route_rule_id(c: &mut Client, service: &str, name: &str) -> i64 {
    let rules = all_route_rules(c);
    rules
        .iter()
        .find(|r| {
            r["serviceId"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(service))
                && r["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|r| r["routeRuleId"].as_i64())
        .unwrap_or_else(|| panic!("no live route rule {service}/{name} in {rules:?}"))
}

/// The rows of group log `name` matching the JSON `filter`, sorted by id.
pub fn group_logs(c: &mut Client, name: &str, filter: &str) -> Vec<Value> {
    logs(c, &group_log_path(name), filter)
}

/// Asserts a group read answered success with exactly the properties `keys` (alphabetical).
pub fn assert_read_shape(v: &Value, keys: &[&str], ctx: &str) {
    assert_success_status(v, ctx);
    let got: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: not an object: {}", dump(v)))
        .iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(got, keys, "{ctx}: {}", dump(v));
}

/// Pulls the groups `group_ids` out under `operation` (`operate-group-operations`,
/// `operationComplete` false), or ends that operation on them (`complete` true).
pub fn operate_groups(c: &mut Client, group_ids: &[i64], operation: &str, complete: bool) {
    let list: Vec<Value> = group_ids
        .iter()
        .map(|id| sonic_rs::json!({"groupId": id, "operations": [operation]}))
        .collect();
    group_write(
        c,
        "operate-group-operations",
        operation,
        sonic_rs::json!({"groupOperationsList": list, "operationComplete": complete}),
    );
}

/// Makes `weights` (`(group id, weight)`) the weights discovery serves for route rule `rule`:
/// proposes them as unreleased weights (`update-route-rule-groups`), then releases them
/// (`release-route-rule-groups`, which copies each named link's unreleased weight, whatever
/// weight the request carries).
pub fn propose_and_release(c: &mut Client, rule: i64, weights: &[(i64, i64)]) {
    let links: Vec<Value> = weights
        .iter()
        .map(|(group, weight)| {
            sonic_rs::json!({"routeRuleId": rule, "groupId": group, "unreleasedWeight": weight})
        })
        .collect();
    let links = sonic_rs::json!({ "routeRuleGroups": links });
    group_write(c, "update-route-rule-groups", "propose", links.clone());
    group_write(c, "release-route-rule-groups", "release", links);
}

/// The canary IPs of `service` become exactly `ips` (`update-canary-ips`, app `app_id`).
pub fn update_canary_ips(c: &mut Client, service: &str, app_id: &str, ips: &[&str]) {
    group_write_to(
        c,
        UPDATE_CANARY_IPS,
        "canary",
        sonic_rs::json!({"serviceId": service, "appId": app_id, "canaryIps": ips}),
    );
}
