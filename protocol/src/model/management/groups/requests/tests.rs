use std::borrow::Cow;

use super::*;
use crate::model::parse;

fn s(v: &str) -> Str<'_> {
    Some(Cow::Borrowed(v))
}

#[test]
fn route_rules_and_their_context_are_read() {
    let r: RouteRulesRequest = parse(
        br#"{"routeRules":[{"routeRuleId":"7","serviceId":"svc","name":"r1","description":null,
            "status":"active","strategy":"weighted-round-robin"},null],
            "operatorId":"ops","token":"t","operation":"create","reason":"why","extensions":"{\"a\":1}"}"#,
    )
    .unwrap();
    let rules = r.route_rules.as_ref().unwrap();
    assert_eq!(
        rules[0],
        Some(WireRouteRule {
            route_rule_id: Some(7),
            service_id: s("svc"),
            name: s("r1"),
            description: None,
            status: s("active"),
            strategy: s("weighted-round-robin"),
        })
    );
    assert_eq!(rules[1], None);
    let context = r.context();
    assert_eq!(context.operator_id, Some("ops"));
    assert_eq!(context.operation, Some("create"));
    assert_eq!(context.reason, Some("why"));
    assert_eq!(context.extensions, Some(Some(r#"{"a":1}"#)));
    assert_eq!(r.token(), Some("t"));
}

#[test]
fn missing_and_null_extensions_differ() {
    let missing: GroupsRequest = parse(br#"{"groups":[]}"#).unwrap();
    assert_eq!(missing.context().extensions, None);
    let null: GroupsRequest = parse(br#"{"extensions":null}"#).unwrap();
    assert_eq!(null.context().extensions, Some(None));
}

#[test]
fn keys_are_case_insensitive_and_numbers_coerce() {
    let r: RouteRuleGroupsRequest = parse(
        br#"{"ROUTERULEGROUPS":[{"RouteRuleId":1,"GROUPID":"2","weight":3.7,"UnreleasedWeight":"40"}],
            "Token":"  t  "}"#,
    )
    .unwrap();
    assert_eq!(
        r.route_rule_groups.unwrap()[0],
        Some(WireRouteRuleGroup {
            route_rule_group_id: None,
            route_rule_id: Some(1),
            group_id: Some(2),
            weight: Some(3),
            unreleased_weight: Some(40),
        })
    );
    assert_eq!(r.token.as_deref(), Some("  t  "));
}

#[test]
fn create_route_rule_reads_groups_with_weights() {
    let r: CreateRouteRuleRequest = parse(
        br#"{"routeRule":{"serviceId":"svc","name":"r"},
            "groups":[{"serviceId":"svc","regionId":"sha","zoneId":"z","name":"g","appId":"a",
            "description":"d","status":"active","weight":7,"metadata":{"x":"y"},"groupId":9}]}"#,
    )
    .unwrap();
    assert_eq!(r.route_rule.unwrap().name, s("r"));
    assert_eq!(
        r.groups.unwrap()[0],
        Some(WireGroup {
            service_id: s("svc"),
            region_id: s("sha"),
            zone_id: s("z"),
            name: s("g"),
            app_id: s("a"),
            description: s("d"),
            status: s("active"),
            weight: Some(7),
        })
    );
}

#[test]
fn tags_operations_instances_and_canary_are_read() {
    let tags: GroupTagsRequest =
        parse(br#"{"groupTagsList":[{"groupId":3,"tags":{"k":"v","n":null}}]}"#).unwrap();
    let group = tags.group_tags_list.unwrap()[0].clone().unwrap();
    assert_eq!(group.group_id, Some(3));
    let map = group.tags.unwrap();
    assert_eq!(map.get("k"), Some("v"));
    assert_eq!(map.len(), 2);

    let ops: OperateGroupOperationsRequest = parse(
        br#"{"groupOperationsList":[{"groupId":1,"operations":["pullout",null]}],"operationComplete":"true"}"#,
    )
    .unwrap();
    assert!(ops.operation_complete);
    assert_eq!(
        ops.group_operations_list.unwrap()[0]
            .as_ref()
            .unwrap()
            .operations,
        Some(vec![s("pullout"), None])
    );

    let instances: InsertServiceInstancesRequest = parse(
        br#"{"serviceInstances":[{"serviceId":"svc","instanceId":"i","port":"8080","metadata":{"a":"b"}}]}"#,
    )
    .unwrap();
    let instance = instances.service_instances.unwrap()[0].clone().unwrap();
    assert_eq!(instance.port, 8080);
    assert_eq!(instance.metadata.unwrap().get("a"), Some("b"));

    let canary: UpdateCanaryIpsRequest =
        parse(br#"{"serviceId":"svc","appId":"app","canaryIps":["10.0.0.1",null]}"#).unwrap();
    assert_eq!(canary.canary_ips, Some(vec![s("10.0.0.1"), None]));
}

#[test]
fn each_delete_reads_its_own_id_list() {
    let r: DeleteByIdsRequest = parse(br#"{"groupIds":[1,null,"3"],"routeRuleIds":[9]}"#).unwrap();
    assert_eq!(
        r.ids(DeleteTarget::Groups),
        Some(&[Some(1), None, Some(3)][..])
    );
    assert_eq!(r.ids(DeleteTarget::RouteRules), Some(&[Some(9)][..]));
    assert_eq!(r.ids(DeleteTarget::ServiceInstances), None);
}

#[test]
fn read_requests_and_log_filters_are_read() {
    let r: GetRouteRuleGroupsRequest =
        parse(br#"{"routeRuleGroupId":null,"routeRuleId":"","groupId":5}"#).unwrap();
    assert_eq!(
        r,
        GetRouteRuleGroupsRequest {
            route_rule_group_id: None,
            route_rule_id: None,
            group_id: Some(5),
        }
    );
    let id: GroupIdRequest = parse(br#"{"groupId":"12","tagKey":"k"}"#).unwrap();
    assert_eq!(id.group_id, Some(12));
    let logs: GroupLogsRequest =
        parse(br#"{"groupId":1,"routeRuleId":2,"name":"n","complete":0}"#).unwrap();
    assert_eq!(
        (logs.group_id, logs.route_rule_id, logs.name, logs.complete),
        (Some(1), Some(2), s("n"), Some(false))
    );
}

#[test]
fn bad_numbers_are_json_errors() {
    assert!(parse::<GroupIdRequest>(br#"{"groupId":"x"}"#).is_err());
    assert!(parse::<DeleteByIdsRequest>(br#"{"groupIds":[true]}"#).is_err());
}
