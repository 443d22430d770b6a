use super::*;
use crate::model::fixtures::text;
use crate::model::management::groups::{GroupRows, GroupTag};
use crate::model::management::responses::{write_status_response, ResponseKind};
use crate::model::{error_codes, fail};

const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

fn rule() -> ServiceRouteRule {
    ServiceRouteRule {
        route_rule_id: 4,
        service_id: "svc".into(),
        name: "r\"1".into(),
        description: None,
        status: "active".into(),
        strategy: "weighted-round-robin".into(),
    }
}

fn meta(id: i64) -> LogMeta {
    LogMeta {
        id,
        operation: "op".into(),
        operator_id: "alice".into(),
        token: String::new(),
        reason: None,
        extensions: Some("{}".into()),
        create_time_ms: 1_000,
        update_time_ms: 2_000,
    }
}

#[test]
fn refusals_leave_each_read_answer_unset() {
    let refused = fail(error_codes::INTERNAL_SERVICE_ERROR, "get groups failed.");
    let status =
        r#"{"errorCode":"internal-service-error","message":"get groups failed.","status":"fail"}"#;
    for (kind, expected) in [
        (
            ResponseKind::RouteRules,
            format!(r#"{{"responseStatus":{status},"routeRules":null}}"#),
        ),
        (
            ResponseKind::RouteRuleGroups,
            format!(r#"{{"responseStatus":{status},"routeRuleGroups":null}}"#),
        ),
        (
            ResponseKind::Groups,
            format!(r#"{{"groups":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::AllGroupTags,
            format!(r#"{{"allGroupTags":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::GroupTags,
            format!(r#"{{"groupTags":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::AllGroupOperations,
            format!(r#"{{"allGroupOperations":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::GroupOperations,
            format!(r#"{{"groupOperations":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::GroupInstances,
            format!(r#"{{"groupInstances":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::ServiceInstances,
            format!(r#"{{"responseStatus":{status},"serviceInstances":null}}"#),
        ),
    ] {
        assert_eq!(
            text(|o| write_status_response(o, kind, &refused)),
            expected,
            "{kind:?}"
        );
    }
}

#[test]
fn route_rules_and_their_groups() {
    assert_eq!(
        text(|o| write_route_rules_response(o, [&rule()])),
        format!(
            r#"{{"responseStatus":{OK},"routeRules":[{{"description":null,"name":"r\"1","routeRuleId":4,"serviceId":"svc","status":"active","strategy":"weighted-round-robin"}}]}}"#
        )
    );
    let link = RouteRuleGroup {
        route_rule_group_id: 9,
        route_rule_id: 4,
        group_id: 2,
        weight: None,
        unreleased_weight: Some(30),
    };
    assert_eq!(
        text(|o| write_route_rule_groups_response(o, [&link])),
        format!(
            r#"{{"responseStatus":{OK},"routeRuleGroups":[{{"groupId":2,"routeRuleGroupId":9,"routeRuleId":4,"unreleasedWeight":30,"weight":null}}]}}"#
        )
    );
    assert_eq!(
        text(|o| write_route_rules_response(o, [])),
        format!(r#"{{"responseStatus":{OK},"routeRules":[]}}"#)
    );
}

#[test]
fn groups_carry_their_key_and_null_metadata() {
    let group = Group {
        group_id: 2,
        service_id: "Svc".into(),
        region_id: "SHA".into(),
        zone_id: "z1".into(),
        name: "G".into(),
        app_id: "app".into(),
        description: Some("d".into()),
        status: "active".into(),
    };
    assert_eq!(
        text(|o| write_groups_response(o, [&group])),
        format!(
            r#"{{"groups":[{{"appId":"app","description":"d","groupId":2,"groupKey":"svc/sha/z1/g","metadata":null,"name":"G","regionId":"SHA","serviceId":"Svc","status":"active","zoneId":"z1"}}],"responseStatus":{OK}}}"#
        )
    );
}

#[test]
fn service_groups_list_every_live_group_of_the_service_with_members_and_tags() {
    let group = |id: i64, service: &str, name: &str, status: &str| Group {
        group_id: id,
        service_id: service.into(),
        region_id: "SHA".into(),
        zone_id: "z1".into(),
        name: name.into(),
        app_id: "app".into(),
        description: None,
        status: status.into(),
    };
    let member = |id: i64, group_id: i64, instance_id: &str| GroupInstance {
        id,
        group_id,
        instance_id: instance_id.into(),
    };
    let data = GroupData::new(GroupRows {
        groups: vec![
            group(3, "svc", "off", "inactive"),
            group(1, "Svc", "blue", "active"),
            group(2, "other", "green", "active"),
        ],
        tags: vec![(
            9,
            GroupTag {
                group_id: 1,
                tag: "env".into(),
                value: "prod".into(),
            },
        )],
        group_instances: vec![
            member(12, 1, "i\"2"),
            member(11, 1, "i1"),
            member(13, 2, "elsewhere"),
        ],
        ..GroupRows::default()
    });
    // Inactive groups too, by id; no weight or instances without a rule.
    assert_eq!(
        text(|o| write_service_groups(o, &data, "SVC")),
        concat!(
            r#"[{"groupKey":"svc/sha/z1/blue","instanceIds":["i1","i\"2"],"instances":null,"#,
            r#""metadata":{"env":"prod"},"weight":null},"#,
            r#"{"groupKey":"svc/sha/z1/off","instanceIds":[],"instances":null,"metadata":null,"#,
            r#""weight":null}]"#,
        )
    );
    assert_eq!(text(|o| write_service_groups(o, &data, "nobody")), "[]");
}

#[test]
fn tags_and_operations_lists_and_lookups() {
    let tags = GroupTags {
        group_id: 2,
        tags: vec![("b".into(), "1".into()), ("a".into(), "2".into())],
    };
    assert_eq!(
        text(|o| write_all_group_tags_response(o, [&tags])),
        format!(
            r#"{{"allGroupTags":[{{"groupId":2,"tags":{{"b":"1","a":"2"}}}}],"responseStatus":{OK}}}"#
        )
    );
    assert_eq!(
        text(|o| write_group_tags_response(o, Some(&tags))),
        format!(
            r#"{{"groupTags":{{"groupId":2,"tags":{{"b":"1","a":"2"}}}},"responseStatus":{OK}}}"#
        )
    );
    assert_eq!(
        text(|o| write_group_tags_response(o, None)),
        format!(r#"{{"groupTags":null,"responseStatus":{OK}}}"#)
    );
    let ops = GroupOperations {
        group_id: 3,
        operations: vec!["pullout".into()],
    };
    assert_eq!(
        text(|o| write_all_group_operations_response(o, [&ops])),
        format!(
            r#"{{"allGroupOperations":[{{"groupId":3,"operations":["pullout"]}}],"responseStatus":{OK}}}"#
        )
    );
    assert_eq!(
        text(|o| write_group_operations_response(o, None)),
        format!(r#"{{"groupOperations":null,"responseStatus":{OK}}}"#)
    );
}

#[test]
fn group_and_service_instances() {
    let member = GroupInstance {
        id: 7,
        group_id: 3,
        instance_id: "i1".into(),
    };
    assert_eq!(
        text(|o| write_group_instances_response(o, [&member])),
        format!(
            r#"{{"groupInstances":[{{"groupId":3,"id":7,"instanceId":"i1"}}],"responseStatus":{OK}}}"#
        )
    );
    let instance = ServiceInstance {
        id: 8,
        service_id: "svc".into(),
        instance_id: "l1".into(),
        ip: "10.0.0.1".into(),
        machine_name: "m".into(),
        metadata: r#"{"k":"v"}"#.into(),
        port: 8080,
        protocol: "http".into(),
        region_id: "SHA".into(),
        zone_id: "z1".into(),
        group_id: "g".into(),
        health_check_url: "http://h".into(),
        url: "http://u".into(),
        description: None,
    };
    assert_eq!(
        text(|o| write_service_instances_response(o, [&instance])),
        format!(
            r#"{{"responseStatus":{OK},"serviceInstances":[{{"description":null,"groupId":"g","healthCheckUrl":"http://h","id":8,"instanceId":"l1","ip":"10.0.0.1","machineName":"m","metadata":{{"k":"v"}},"port":8080,"protocol":"http","regionId":"SHA","serviceId":"svc","url":"http://u","zoneId":"z1"}}]}}"#
        )
    );
}

#[test]
fn each_log_table_answers_its_own_properties() {
    let rows = [
        GroupLogRow::GroupOperation(GroupOperationLog {
            meta: meta(1),
            group_id: 3,
            complete: true,
        }),
        GroupLogRow::Group(GroupLog {
            meta: meta(2),
            service_id: "svc".into(),
            region_id: "r".into(),
            zone_id: "z".into(),
            name: "n".into(),
            app_id: "a".into(),
            status: "active".into(),
        }),
        GroupLogRow::RouteRule(RouteRuleLog {
            meta: meta(3),
            service_id: "svc".into(),
            name: "n".into(),
            status: "active".into(),
        }),
        GroupLogRow::RouteRuleGroup(RouteRuleGroupLog {
            meta: meta(4),
            route_rule_id: 5,
            group_id: 6,
            weight: None,
        }),
        GroupLogRow::GroupInstance(GroupInstanceLog {
            meta: LogMeta {
                reason: Some("why".into()),
                extensions: None,
                ..meta(5)
            },
            group_id: 6,
            instance_id: "i".into(),
        }),
        GroupLogRow::ServiceInstance(ServiceInstanceLog {
            meta: meta(6),
            service_id: "svc".into(),
            instance_id: "i".into(),
            ip: "ip".into(),
            machine_name: "m".into(),
            metadata: r#"{"k":"v"}"#.into(),
            port: 80,
            protocol: "http".into(),
            region_id: "r".into(),
            zone_id: "z".into(),
            group_id: "g".into(),
            health_check_url: "h".into(),
            url: "u".into(),
        }),
    ];
    let expected = [
        r#"{"complete":true,"createTime":1000,"extensions":"{}","groupId":3,"id":1,"operation":"op","operatorId":"alice","reason":null,"token":"","updateTime":2000}"#,
        r#"{"appId":"a","createTime":1000,"extensions":"{}","id":2,"name":"n","operation":"op","operatorId":"alice","reason":null,"regionId":"r","serviceId":"svc","status":"active","token":"","updateTime":2000,"zoneId":"z"}"#,
        r#"{"complete":false,"createTime":1000,"extensions":"{}","id":3,"name":"n","operation":"op","operatorId":"alice","reason":null,"serviceId":"svc","status":"active","token":"","updateTime":2000}"#,
        r#"{"createTime":1000,"extensions":"{}","groupId":6,"id":4,"operation":"op","operatorId":"alice","reason":null,"routeRuleId":5,"token":"","updateTime":2000,"weight":null}"#,
        r#"{"createTime":1000,"groupId":6,"id":5,"instanceId":"i","operation":"op","operatorId":"alice","reason":"why","token":"","updateTime":2000}"#,
        r#"{"createTime":1000,"groupId":"g","healthCheckUrl":"h","id":6,"instanceId":"i","ip":"ip","machineName":"m","metadata":"{\"k\":\"v\"}","operation":"op","operatorId":"alice","port":80,"protocol":"http","regionId":"r","serviceId":"svc","token":"","updateTime":2000,"url":"u","zoneId":"z"}"#,
    ];
    for (row, expected) in rows.iter().zip(expected) {
        assert_eq!(text(|o| write_group_log_row(o, row)), expected);
    }
    assert_eq!(
        text(|o| write_group_logs_response(o, &rows[..1])),
        format!(r#"{{"logs":[{}],"responseStatus":{OK}}}"#, expected[0])
    );
}
