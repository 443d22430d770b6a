use super::*;
use crate::model::management::groups::logs::{GroupLogFilter, GroupLogKind};
use crate::model::management::groups::queries::{
    GroupFilter, GroupInstanceFilter, RouteRuleFilter, ServiceInstanceFilter,
};
use crate::model::management::groups::requests::*;
use crate::model::management::groups::write::{
    GroupChange, GroupOperator, GroupWrite, NewGroup, NewRouteRule, NewRouteRuleGroup,
    NewServiceInstance,
};
use crate::model::management::requests::RegionRequest;
use crate::model::management::validate::REQUEST_IS_NULL;
use crate::model::parse;

/// The context every write below carries unless a test changes it.
const CONTEXT: &str =
    r#""operation":"op","operatorId":"alice","token":"t","reason":"why","extensions":"{\"e\":1}""#;

fn body<'a, T: serde::Deserialize<'a>>(json: &'a str) -> T {
    parse(json.as_bytes()).unwrap()
}

fn operator() -> GroupOperator {
    GroupOperator {
        operation: "op".into(),
        operator_id: "alice".into(),
        reason: Some("why".into()),
        extensions: r#"{"e":1}"#.into(),
    }
}

fn internal(message: &'static str) -> Refusal {
    fail(error_codes::INTERNAL_SERVICE_ERROR, message)
}

const RULE: &str = r#"{"serviceId":"svc","name":"r1","description":"d","status":"active","strategy":"weighted-round-robin"}"#;

fn new_rule() -> NewRouteRule {
    NewRouteRule {
        service_id: "svc".into(),
        name: "r1".into(),
        description: Some("d".into()),
        status: "active".into(),
        strategy: "weighted-round-robin".into(),
    }
}

const GROUP: &str = r#"{"serviceId":"svc","regionId":"sha","zoneId":"z1","name":"g1","appId":"app","status":"active"}"#;

fn new_group(name: &str) -> NewGroup {
    NewGroup {
        service_id: "svc".into(),
        region_id: "sha".into(),
        zone_id: "z1".into(),
        name: name.into(),
        app_id: "app".into(),
        description: None,
        status: "active".into(),
    }
}

#[test]
fn a_missing_body_is_a_bad_request_everywhere() {
    let null = REQUEST_IS_NULL;
    assert_eq!(null.error_code, "bad-request");
    assert_eq!(insert_route_rules(None, None), Err(null));
    assert_eq!(update_route_rules(None, None), Err(null));
    assert_eq!(create_route_rule(None, None), Err(null));
    assert_eq!(insert_route_rule_groups(None, None), Err(null));
    assert_eq!(update_route_rule_groups(None, None), Err(null));
    assert_eq!(release_route_rule_groups(None, None), Err(null));
    assert_eq!(insert_groups(None, None), Err(null));
    assert_eq!(update_groups(None, None), Err(null));
    assert_eq!(insert_group_tags(None), Err(null));
    assert_eq!(update_group_tags(None), Err(null));
    assert_eq!(delete_group_tags(None), Err(null));
    assert_eq!(operate_group_operations(None, None), Err(null));
    assert_eq!(operate_group_operation(None, None), Err(null));
    assert_eq!(insert_group_instances(None, None), Err(null));
    assert_eq!(insert_service_instances(None, None), Err(null));
    assert_eq!(update_canary_ips(None, None, "sha"), Err(null));
    for target in [
        DeleteTarget::RouteRules,
        DeleteTarget::RouteRuleGroups,
        DeleteTarget::Groups,
        DeleteTarget::GroupInstances,
        DeleteTarget::ServiceInstances,
    ] {
        assert_eq!(delete_by_ids(target, None, None), Err(null));
    }
    assert_eq!(require_body(None), Err(null));
    assert_eq!(route_rule_filter(None), Err(null));
    assert_eq!(route_rule_group_filter(None), Err(null));
    assert_eq!(group_filter(None), Err(null));
    assert_eq!(group_id(None), Err(null));
    assert_eq!(group_instance_filter(None), Err(null));
    assert_eq!(service_instance_filter(None), Err(null));
    assert_eq!(group_log_filter(GroupLogKind::Group, None), Err(null));
}

#[test]
fn route_rules_are_upserted_with_their_context() {
    let json = format!(r#"{{"routeRules":[{RULE},null],{CONTEXT}}}"#);
    let request: RouteRulesRequest = body(&json);
    let expected = GroupWrite {
        change: GroupChange::UpsertRouteRules(vec![new_rule()]),
        operator: operator(),
    };
    assert_eq!(
        insert_route_rules(Some(&request), None),
        Ok(expected.clone())
    );
    assert_eq!(update_route_rules(Some(&request), None), Ok(expected));
}

#[test]
fn every_context_field_is_required_and_failures_answer_the_endpoint_message() {
    let cases = [
        r#""operatorId":"a","token":"t""#,
        r#""operation":" ","operatorId":"a","token":"t""#,
        r#""operation":"o","token":"t""#,
        r#""operation":"o","operatorId":"a""#,
        r#""operation":"o","operatorId":"a","token":"t","extensions":null"#,
        r#""operation":"o","operatorId":"a","token":"t","extensions":"  ""#,
    ];
    for context in cases {
        let json = format!(r#"{{"routeRules":[{RULE}],{context}}}"#);
        let request: RouteRulesRequest = body(&json);
        assert_eq!(
            insert_route_rules(Some(&request), None),
            Err(internal("insert route-rules failed.")),
            "{context}"
        );
        assert_eq!(
            update_route_rules(Some(&request), None),
            Err(internal("update route-rules failed.")),
            "{context}"
        );
    }
}

#[test]
fn a_bearer_token_stands_in_for_the_body_token_and_extensions_default() {
    let json = format!(r#"{{"routeRules":[{RULE}],"operation":"o","operatorId":"a"}}"#);
    let request: RouteRulesRequest = body(&json);
    assert!(insert_route_rules(Some(&request), None).is_err());
    let write = insert_route_rules(Some(&request), Some("secret")).unwrap();
    assert_eq!(
        write.operator,
        GroupOperator {
            operation: "o".into(),
            operator_id: "a".into(),
            reason: None,
            extensions: "{}".into(),
        }
    );
}

#[test]
fn route_rules_need_every_key_field_and_at_least_one_rule() {
    for rule in [
        r#"{"name":"r1","status":"active","strategy":"s"}"#,
        r#"{"serviceId":"svc","status":"active","strategy":"s"}"#,
        r#"{"serviceId":"svc","name":"r1","strategy":"s"}"#,
        r#"{"serviceId":"svc","name":"r1","status":"active"}"#,
    ] {
        let json = format!(r#"{{"routeRules":[{rule}],{CONTEXT}}}"#);
        let request: RouteRulesRequest = body(&json);
        assert!(insert_route_rules(Some(&request), None).is_err(), "{rule}");
    }
    for list in ["[]", "[null]", "null"] {
        let json = format!(r#"{{"routeRules":{list},{CONTEXT}}}"#);
        let request: RouteRulesRequest = body(&json);
        assert!(insert_route_rules(Some(&request), None).is_err(), "{list}");
    }
}

#[test]
fn deletes_keep_null_ids_as_zero_and_refuse_an_empty_list() {
    let json = format!(r#"{{"groupIds":[4,null],{CONTEXT}}}"#);
    let request: DeleteByIdsRequest = body(&json);
    assert_eq!(
        delete_by_ids(DeleteTarget::Groups, Some(&request), None),
        Ok(GroupWrite {
            change: GroupChange::DeleteGroups(vec![4, 0]),
            operator: operator(),
        })
    );
    let messages = [
        (DeleteTarget::RouteRules, "delete route-rules failed."),
        (
            DeleteTarget::RouteRuleGroups,
            "delete route-rule-groups failed.",
        ),
        (DeleteTarget::Groups, "delete group failed."),
        (
            DeleteTarget::GroupInstances,
            "delete group instances failed.",
        ),
        (
            DeleteTarget::ServiceInstances,
            "delete service instances failed.",
        ),
    ];
    let json = format!(r#"{{"routeRuleIds":[],"groupIds":null,{CONTEXT}}}"#);
    let empty: DeleteByIdsRequest = body(&json);
    for (target, message) in messages {
        assert_eq!(
            delete_by_ids(target, Some(&empty), None),
            Err(internal(message))
        );
    }
    let ids: DeleteByIdsRequest = body(r#"{"serviceInstanceIds":[1],"operation":"o"}"#);
    assert_eq!(
        delete_by_ids(DeleteTarget::ServiceInstances, Some(&ids), None),
        Err(internal("delete service instances failed."))
    );
}

#[test]
fn create_route_rule_dedupes_groups_by_key_and_keeps_every_link() {
    let second = GROUP.replace("\"g1\"", "\"g2\"");
    let again = GROUP.replace("\"app\"", "\"app2\"").replace("z1", "Z1");
    let json = format!(
        r#"{{"routeRule":{RULE},"groups":[
            {g1w3},{g2w7},{g1w9}],{CONTEXT}}}"#,
        g1w3 = GROUP.replace('}', r#","weight":3}"#),
        g2w7 = second.replace('}', r#","weight":7}"#),
        g1w9 = again.replace('}', r#","weight":9}"#),
    );
    let request: CreateRouteRuleRequest = body(&json);
    let mut g1 = new_group("g1");
    g1.app_id = "app2".into();
    g1.zone_id = "Z1".into();
    assert_eq!(
        create_route_rule(Some(&request), None),
        Ok(GroupWrite {
            change: GroupChange::CreateRouteRule {
                rule: new_rule(),
                groups: vec![g1, new_group("g2")],
                links: vec![(0, 3), (1, 7), (0, 9)],
            },
            operator: operator(),
        })
    );
}

#[test]
fn create_route_rule_refuses_weightless_foreign_or_missing_groups() {
    let refused = Err(internal("create route-rule failed."));
    let weighted = GROUP.replace('}', r#","weight":1}"#);
    let groups = [
        format!("[{GROUP}]"),
        format!("[{}]", weighted.replace("\"svc\"", "\"other\"")),
        format!("[{}]", weighted.replace("\"app\"", "\" \"")),
        format!("[{weighted},null]"),
        "[]".to_owned(),
        "null".to_owned(),
    ];
    for list in groups {
        let json = format!(r#"{{"routeRule":{RULE},"groups":{list},{CONTEXT}}}"#);
        let request: CreateRouteRuleRequest = body(&json);
        assert_eq!(create_route_rule(Some(&request), None), refused, "{list}");
    }
    let upper = weighted.replace("\"svc\"", "\"SVC\"");
    let json = format!(r#"{{"routeRule":{RULE},"groups":[{upper}],{CONTEXT}}}"#);
    let request: CreateRouteRuleRequest = body(&json);
    assert!(create_route_rule(Some(&request), None).is_ok());
    let json = format!(r#"{{"groups":[{weighted}],{CONTEXT}}}"#);
    let request: CreateRouteRuleRequest = body(&json);
    assert_eq!(create_route_rule(Some(&request), None), refused);
}

#[test]
fn route_rule_groups_carry_the_unreleased_weight_only() {
    let json = format!(
        r#"{{"routeRuleGroups":[{{"routeRuleId":1,"groupId":2,"weight":50,"unreleasedWeight":30}},
            {{"routeRuleId":1,"groupId":3}}],{CONTEXT}}}"#
    );
    let request: RouteRuleGroupsRequest = body(&json);
    let links = vec![
        NewRouteRuleGroup {
            route_rule_id: 1,
            group_id: 2,
            unreleased_weight: Some(30),
        },
        NewRouteRuleGroup {
            route_rule_id: 1,
            group_id: 3,
            unreleased_weight: None,
        },
    ];
    assert_eq!(
        insert_route_rule_groups(Some(&request), None)
            .unwrap()
            .change,
        GroupChange::UpsertRouteRuleGroups(links.clone())
    );
    assert_eq!(
        update_route_rule_groups(Some(&request), None)
            .unwrap()
            .change,
        GroupChange::UpsertRouteRuleGroups(links.clone())
    );
    assert_eq!(
        release_route_rule_groups(Some(&request), None)
            .unwrap()
            .change,
        GroupChange::ReleaseRouteRuleGroups(links)
    );
    let json = format!(r#"{{"routeRuleGroups":[{{"groupId":2}}],{CONTEXT}}}"#);
    let request: RouteRuleGroupsRequest = body(&json);
    assert_eq!(
        release_route_rule_groups(Some(&request), None),
        Err(internal("get route-rule-groups failed."))
    );
    assert_eq!(
        insert_route_rule_groups(Some(&request), None),
        Err(internal("insert route-rule-groups failed."))
    );
}

#[test]
fn groups_need_every_field_but_the_description() {
    let json = format!(r#"{{"groups":[{GROUP}],{CONTEXT}}}"#);
    let request: GroupsRequest = body(&json);
    assert_eq!(
        insert_groups(Some(&request), None),
        Ok(GroupWrite {
            change: GroupChange::UpsertGroups(vec![new_group("g1")]),
            operator: operator(),
        })
    );
    for field in ["serviceId", "regionId", "zoneId", "name", "appId", "status"] {
        let group = GROUP.replace(&format!("\"{field}\""), "\"ignored\"");
        let json = format!(r#"{{"groups":[{group}],{CONTEXT}}}"#);
        let request: GroupsRequest = body(&json);
        assert_eq!(
            update_groups(Some(&request), None),
            Err(internal("update groups failed.")),
            "{field}"
        );
    }
}

#[test]
fn tags_skip_blank_entries_and_need_no_context() {
    let request: GroupTagsRequest = body(
        r#"{"groupTagsList":[{"groupId":1,"tags":{"a":"x","b":" ","":"y","c":null}},
            {"tags":{"d":"z"}},null,{"groupId":2,"tags":{"e":"w"}}]}"#,
    );
    let write = insert_group_tags(Some(&request)).unwrap();
    assert_eq!(
        write.change,
        GroupChange::UpsertGroupTags(vec![
            (1, "a".into(), "x".into()),
            (2, "e".into(), "w".into()),
        ])
    );
    let none: GroupTagsRequest = body(r#"{"groupTagsList":[{"groupId":1,"tags":{"a":""}}]}"#);
    assert_eq!(
        update_group_tags(Some(&none)),
        Err(internal("update group tag failed."))
    );
}

#[test]
fn deleting_tags_needs_one_condition() {
    let request: DeleteGroupTagsRequest = body(r#"{"tag":"k","value":" "}"#);
    assert_eq!(
        delete_group_tags(Some(&request)).unwrap().change,
        GroupChange::DeleteGroupTags {
            group_id: None,
            tag: Some("k".into()),
            value: None,
        }
    );
    let request: DeleteGroupTagsRequest = body(r#"{"tag":" ","value":null}"#);
    assert_eq!(
        delete_group_tags(Some(&request)),
        Err(internal("delete group-tags failed."))
    );
}

#[test]
fn group_operations_skip_incomplete_entries_and_succeed_empty_without_context() {
    let json = format!(
        r#"{{"groupOperationsList":[{{"groupId":1,"operations":["pullout"," ",null]}},
            {{"operations":["x"]}},{{"groupId":2}}],"operationComplete":true,{CONTEXT}}}"#
    );
    let request: OperateGroupOperationsRequest = body(&json);
    assert_eq!(
        operate_group_operations(Some(&request), None),
        Ok(GroupWrite {
            change: GroupChange::OperateGroups {
                operations: vec![(1, "pullout".into())],
                complete: true,
            },
            operator: operator(),
        })
    );
    let empty: OperateGroupOperationsRequest = body(r#"{"groupOperationsList":[]}"#);
    assert_eq!(
        operate_group_operations(Some(&empty), None).unwrap().change,
        GroupChange::OperateGroups {
            operations: vec![],
            complete: false,
        }
    );
    let unchecked: OperateGroupOperationsRequest =
        body(r#"{"groupOperationsList":[{"groupId":1,"operations":["x"]}]}"#);
    assert_eq!(
        operate_group_operations(Some(&unchecked), None),
        Err(internal("operate group operation failed."))
    );
}

#[test]
fn operate_group_operation_names_the_group_by_its_fields() {
    let json = format!(
        r#"{{"groupId":99,"serviceId":"svc","regionId":"sha","zoneId":"z1","name":"g1","appId":"app",
            "status":"active","operationComplete":false,{CONTEXT}}}"#
    );
    let request: OperateGroupOperationRequest = body(&json);
    assert_eq!(
        operate_group_operation(Some(&request), None),
        Ok(GroupWrite {
            change: GroupChange::OperateGroup {
                group: new_group("g1"),
                complete: false,
            },
            operator: operator(),
        })
    );
    let json = format!(r#"{{"serviceId":"svc","regionId":"sha","zoneId":"z1",{CONTEXT}}}"#);
    let request: OperateGroupOperationRequest = body(&json);
    assert_eq!(
        operate_group_operation(Some(&request), None),
        Err(internal("operate group operation failed."))
    );
}

#[test]
fn group_instances_need_a_group_and_an_instance() {
    let json =
        format!(r#"{{"groupInstances":[{{"groupId":1,"instanceId":"i1","id":5}}],{CONTEXT}}}"#);
    let request: InsertGroupInstancesRequest = body(&json);
    assert_eq!(
        insert_group_instances(Some(&request), None).unwrap().change,
        GroupChange::InsertGroupInstances(vec![(1, "i1".into())])
    );
    for member in [
        r#"{"instanceId":"i1"}"#,
        r#"{"groupId":1,"instanceId":" "}"#,
    ] {
        let json = format!(r#"{{"groupInstances":[{member}],{CONTEXT}}}"#);
        let request: InsertGroupInstancesRequest = body(&json);
        assert_eq!(
            insert_group_instances(Some(&request), None),
            Err(internal("insert group instances failed.")),
            "{member}"
        );
    }
}

const SERVICE_INSTANCE: &str = r#"{"serviceId":"","instanceId":"i1","ip":"10.0.0.1","machineName":"m",
    "metadata":{"k":"v","n":null},"port":8080,"protocol":"http","regionId":"sha","zoneId":"z1",
    "healthCheckUrl":"http://h","url":"http://u","groupId":"g","description":"d"}"#;

#[test]
fn service_instances_store_their_metadata_as_json_text() {
    let json = format!(r#"{{"serviceInstances":[{SERVICE_INSTANCE}],{CONTEXT}}}"#);
    let request: InsertServiceInstancesRequest = body(&json);
    assert_eq!(
        insert_service_instances(Some(&request), None)
            .unwrap()
            .change,
        GroupChange::UpsertServiceInstances(vec![NewServiceInstance {
            service_id: String::new(),
            instance_id: "i1".into(),
            ip: "10.0.0.1".into(),
            machine_name: "m".into(),
            metadata: r#"{"k":"v","n":null}"#.into(),
            port: 8080,
            protocol: "http".into(),
            region_id: "sha".into(),
            zone_id: "z1".into(),
            group_id: "g".into(),
            health_check_url: "http://h".into(),
            url: "http://u".into(),
            description: Some("d".into()),
        }])
    );
    for field in [
        "serviceId",
        "instanceId",
        "ip",
        "machineName",
        "metadata",
        "protocol",
        "regionId",
        "zoneId",
        "healthCheckUrl",
        "url",
        "groupId",
    ] {
        let instance = SERVICE_INSTANCE.replace(&format!("\"{field}\""), "\"ignored\"");
        let json = format!(r#"{{"serviceInstances":[{instance}],{CONTEXT}}}"#);
        let request: InsertServiceInstancesRequest = body(&json);
        assert_eq!(
            insert_service_instances(Some(&request), None),
            Err(internal("insert service instances failed.")),
            "{field}"
        );
    }
}

#[test]
fn canary_ips_are_deduplicated_and_land_in_the_node_region() {
    let json = format!(
        r#"{{"serviceId":"svc","appId":"app","canaryIps":["10.0.0.1","10.0.0.2","10.0.0.1"],{CONTEXT}}}"#
    );
    let request: UpdateCanaryIpsRequest = body(&json);
    assert_eq!(
        update_canary_ips(Some(&request), None, "SHA"),
        Ok(GroupWrite {
            change: GroupChange::UpdateCanary {
                service_id: "svc".into(),
                app_id: "app".into(),
                region_id: "SHA".into(),
                instance_ids: vec!["10.0.0.1".into(), "10.0.0.2".into()],
            },
            operator: operator(),
        })
    );
    let refused = Err(internal("update canary ips"));
    assert_eq!(update_canary_ips(Some(&request), None, " "), refused);
    for change in [
        r#""canaryIps":null"#,
        r#""canaryIps":["10.0.0.1",null]"#,
        r#""canaryIps":[""]"#,
    ] {
        let json = format!(r#"{{"serviceId":"svc","appId":"app",{change},{CONTEXT}}}"#);
        let request: UpdateCanaryIpsRequest = body(&json);
        assert_eq!(
            update_canary_ips(Some(&request), None, "SHA"),
            refused,
            "{change}"
        );
    }
    let json = format!(r#"{{"serviceId":"svc","canaryIps":[],{CONTEXT}}}"#);
    let request: UpdateCanaryIpsRequest = body(&json);
    assert_eq!(update_canary_ips(Some(&request), None, "SHA"), refused);
}

#[test]
fn read_filters_drop_blank_values() {
    let request: GetRouteRulesRequest = body(r#"{"routeRuleId":3,"serviceId":" ","name":"N"}"#);
    assert_eq!(
        route_rule_filter(Some(&request)),
        Ok(RouteRuleFilter {
            route_rule_id: Some(3),
            service_id: None,
            name: Some("N".into()),
            status: None,
        })
    );
    let request: GetGroupsRequest = body(r#"{"groupId":3,"appId":"a","status":""}"#);
    assert_eq!(
        group_filter(Some(&request)),
        Ok(GroupFilter {
            app_id: Some("a".into()),
            ..GroupFilter::default()
        })
    );
    let request: GetRouteRuleGroupsRequest = body(r#"{"groupId":3}"#);
    assert_eq!(
        route_rule_group_filter(Some(&request)).unwrap().group_id,
        Some(3)
    );
    let request: GroupIdRequest = body("{}");
    assert_eq!(group_id(Some(&request)), Ok(None));
    let request: GetGroupInstancesRequest = body(r#"{"groupId":1,"instanceId":"i"}"#);
    assert_eq!(
        group_instance_filter(Some(&request)),
        Ok(GroupInstanceFilter {
            group_id: Some(1),
            instance_id: Some("i".into()),
        })
    );
    let request: GetServiceInstancesRequest = body(r#"{"serviceId":"s"}"#);
    assert_eq!(
        service_instance_filter(Some(&request)),
        Ok(ServiceInstanceFilter {
            service_id: Some("s".into()),
            instance_id: None,
        })
    );
    let request: RegionRequest = body("{}");
    assert_eq!(require_body(Some(&request)), Ok(()));
}

#[test]
fn each_log_kind_reads_only_its_request_fields() {
    let request: GroupLogsRequest = body(
        r#"{"groupId":1,"routeRuleId":2,"serviceId":"s","regionId":"r","zoneId":"z","name":"n",
            "appId":"a","instanceId":"i","operation":"o","operatorId":"u","complete":true}"#,
    );
    let common = GroupLogFilter {
        operation: Some("o".into()),
        operator_id: Some("u".into()),
        ..GroupLogFilter::default()
    };
    let expected = [
        (
            GroupLogKind::GroupOperation,
            GroupLogFilter {
                group_id: Some(1),
                complete: Some(true),
                ..common.clone()
            },
        ),
        (
            GroupLogKind::Group,
            GroupLogFilter {
                service_id: Some("s".into()),
                region_id: Some("r".into()),
                zone_id: Some("z".into()),
                name: Some("n".into()),
                app_id: Some("a".into()),
                ..common.clone()
            },
        ),
        (
            GroupLogKind::RouteRule,
            GroupLogFilter {
                service_id: Some("s".into()),
                name: Some("n".into()),
                ..common.clone()
            },
        ),
        (
            GroupLogKind::RouteRuleGroup,
            GroupLogFilter {
                route_rule_id: Some(2),
                group_id: Some(1),
                ..common.clone()
            },
        ),
        (
            GroupLogKind::GroupInstance,
            GroupLogFilter {
                group_id: Some(1),
                instance_id: Some("i".into()),
                ..common.clone()
            },
        ),
        (
            GroupLogKind::ServiceInstance,
            GroupLogFilter {
                service_id: Some("s".into()),
                instance_id: Some("i".into()),
                ..common
            },
        ),
    ];
    for (kind, filter) in expected {
        assert_eq!(
            group_log_filter(kind, Some(&request)),
            Ok(filter),
            "{kind:?}"
        );
    }
}
