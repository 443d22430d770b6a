use super::*;
use crate::model::fixtures::{text, SPEC_INSTANCE_JSON};
use crate::model::management::groups::{
    Group, GroupRows, LogicInstance, ServedGroup, ServedRouteRule, ServiceInstance,
};
use crate::model::{error_codes, fail};

const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

fn instance_entry() -> Entry<InstanceKey> {
    Entry {
        key: InstanceKey {
            region_id: "SHA".into(),
            service_id: "svc".into(),
            instance_id: "i\"1".into(),
        },
        operations: vec!["pullout".into(), "deploy".into()],
    }
}

fn server_entry() -> Entry<ServerKey> {
    Entry {
        key: ServerKey {
            region_id: "SHA".into(),
            server_id: "10.0.0.9".into(),
        },
        operations: vec!["x".into()],
    }
}

fn zone_entry(zone: &str) -> Entry<ZoneKey> {
    Entry {
        key: ZoneKey {
            region_id: "SHA".into(),
            service_id: "svc".into(),
            zone_id: zone.into(),
        },
        operations: vec!["y".into()],
    }
}

const INSTANCE_OPS: &str = r#"{"instanceKey":{"instanceId":"i\"1","regionId":"SHA","serviceId":"svc"},"operations":["pullout","deploy"]}"#;
const SERVER_OPS: &str =
    r#"{"operations":["x"],"serverKey":{"regionId":"SHA","serverId":"10.0.0.9"}}"#;
const ZONE_OPS: &str =
    r#"{"operations":["y"],"zoneKey":{"regionId":"SHA","serviceId":"svc","zoneId":"z1"}}"#;

#[test]
fn status_only_responses_leave_their_data_unset() {
    let refused = fail(error_codes::BAD_REQUEST, "request is null");
    let status = r#"{"errorCode":"bad-request","message":"request is null","status":"fail"}"#;
    for (kind, expected) in [
        (
            ResponseKind::Operate,
            format!(r#"{{"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::Operations,
            format!(r#"{{"operations":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::AllInstanceOperations,
            format!(r#"{{"allInstanceOperations":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::AllServerOperations,
            format!(r#"{{"allServerOperations":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::AllZoneOperations,
            format!(r#"{{"allZoneOperations":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::ZoneOperationsList,
            format!(r#"{{"responseStatus":{status},"zoneOperationsList":null}}"#),
        ),
        (
            ResponseKind::Down,
            format!(r#"{{"down":false,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::Logs,
            format!(r#"{{"logs":null,"responseStatus":{status}}}"#),
        ),
        (
            ResponseKind::Services,
            format!(r#"{{"responseStatus":{status},"services":null,"version":0}}"#),
        ),
        (
            ResponseKind::Service,
            format!(r#"{{"groups":null,"responseStatus":{status},"service":null}}"#),
        ),
    ] {
        assert_eq!(
            text(|o| write_status_response(o, kind, &refused)),
            expected,
            "{kind:?}"
        );
    }
    assert_eq!(
        text(|o| write_status_response(o, ResponseKind::Operate, &ResponseStatus::SUCCESS)),
        format!(r#"{{"responseStatus":{OK}}}"#)
    );
}

#[test]
fn operations_responses() {
    assert_eq!(
        text(|o| write_instance_operations_response(o, Some(&instance_entry()))),
        format!(r#"{{"operations":{INSTANCE_OPS},"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_instance_operations_response(o, None)),
        format!(r#"{{"operations":null,"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_server_operations_response(o, Some(&server_entry()))),
        format!(r#"{{"operations":{SERVER_OPS},"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_server_operations_response(o, None)),
        format!(r#"{{"operations":null,"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_zone_operations_response(o, Some(&zone_entry("z1")))),
        format!(r#"{{"operations":{ZONE_OPS},"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_zone_operations_response(o, None)),
        format!(r#"{{"operations":null,"responseStatus":{OK}}}"#)
    );
}

#[test]
fn all_operations_responses() {
    let instances = [instance_entry(), instance_entry()];
    assert_eq!(
        text(|o| write_all_instance_operations_response(o, &instances)),
        format!(
            r#"{{"allInstanceOperations":[{INSTANCE_OPS},{INSTANCE_OPS}],"responseStatus":{OK}}}"#
        )
    );
    assert_eq!(
        text(|o| write_all_instance_operations_response(o, &[])),
        format!(r#"{{"allInstanceOperations":[],"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_all_server_operations_response(o, &[server_entry()])),
        format!(r#"{{"allServerOperations":[{SERVER_OPS}],"responseStatus":{OK}}}"#)
    );
    let zones = [zone_entry("z1"), zone_entry("z2")];
    let z2 = ZONE_OPS.replace("z1", "z2");
    assert_eq!(
        text(|o| write_all_zone_operations_response(o, &zones)),
        format!(r#"{{"allZoneOperations":[{ZONE_OPS},{z2}],"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_zone_operations_list_response(o, &zones)),
        format!(r#"{{"responseStatus":{OK},"zoneOperationsList":[{ZONE_OPS},{z2}]}}"#)
    );
    assert_eq!(
        text(|o| write_zone_operations_list_response(o, &[])),
        format!(r#"{{"responseStatus":{OK},"zoneOperationsList":[]}}"#)
    );
}

#[test]
fn down_responses() {
    assert_eq!(
        text(|o| write_down_response(o, true)),
        format!(r#"{{"down":true,"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_down_response(o, false)),
        format!(r#"{{"down":false,"responseStatus":{OK}}}"#)
    );
}

fn log_row() -> LogRow {
    LogRow {
        id: 42,
        region_id: "SHA".into(),
        service_id: "svc".into(),
        instance_id: "i1".into(),
        server_id: "10.0.0.9".into(),
        zone_id: "z1".into(),
        operation: "pullout".into(),
        operator_id: "ops".into(),
        token: String::new(),
        reason: "never written".into(),
        extensions: "{}".into(),
        complete: true,
        create_time_ms: 1_550_800_000_000,
        update_time_ms: 1_550_800_000_123,
    }
}

#[test]
fn log_rows_have_their_table_fields() {
    let row = log_row();
    assert_eq!(
        text(|o| write_log_row(o, LogKind::Instance, &row)),
        r#"{"complete":true,"createTime":1550800000000,"extensions":"{}","id":42,"instanceId":"i1","operation":"pullout","operatorId":"ops","regionId":"SHA","serviceId":"svc","token":"","updateTime":1550800000123}"#
    );
    assert_eq!(
        text(|o| write_log_row(o, LogKind::Server, &row)),
        r#"{"complete":true,"createTime":1550800000000,"extensions":"{}","id":42,"operation":"pullout","operatorId":"ops","regionId":"SHA","serverId":"10.0.0.9","token":"","updateTime":1550800000123}"#
    );
    assert_eq!(
        text(|o| write_log_row(o, LogKind::Zone, &row)),
        r#"{"complete":true,"createTime":1550800000000,"id":42,"operation":"pullout","operatorId":"ops","regionId":"SHA","serviceId":"svc","token":"","updateTime":1550800000123,"zoneId":"z1"}"#
    );
}

#[test]
fn logs_response_lists_rows() {
    let mut second = log_row();
    second.id = 43;
    second.complete = false;
    let json = text(|o| write_logs_response(o, LogKind::Zone, &[log_row(), second]));
    let one = text(|o| write_log_row(o, LogKind::Zone, &log_row()));
    let two = one
        .replace(r#""id":42"#, r#""id":43"#)
        .replace(r#""complete":true"#, r#""complete":false"#);
    assert_eq!(
        json,
        format!(r#"{{"logs":[{one},{two}],"responseStatus":{OK}}}"#)
    );
    assert_eq!(
        text(|o| write_logs_response(o, LogKind::Instance, &[])),
        format!(r#"{{"logs":[],"responseStatus":{OK}}}"#)
    );
}

#[test]
fn management_instance_overwrites_status_and_augments_metadata() {
    let json = text(|o| {
        write_management_instance(o, SPEC_INSTANCE_JSON.as_bytes(), true, 1000, 2000, 20_000)
            .unwrap()
    });
    let expected = SPEC_INSTANCE_JSON
        .replace(
            r#""metadata":{"k":"v"}"#,
            r#""metadata":{"k":"v","creationTime":"1000","renewalTime":"2000","ttl":"20000"}"#,
        )
        .replace(r#""status":"up""#, r#""status":"down""#);
    assert_ne!(expected, SPEC_INSTANCE_JSON);
    assert_eq!(json, expected);

    let up = text(|o| {
        write_management_instance(o, SPEC_INSTANCE_JSON.as_bytes(), false, 1, 2, 3).unwrap()
    });
    assert!(up.contains(r#""status":"up""#), "{up}");
}

#[test]
fn management_instance_metadata_without_original() {
    let served = br#"{"instanceId":"i","metadata":null,"status":"starting"}"#;
    let json = text(|o| write_management_instance(o, served, false, -5, 0, 0).unwrap());
    assert_eq!(
        json,
        r#"{"groupId":null,"healthCheckUrl":null,"instanceId":"i","ip":null,"machineName":null,"metadata":{"creationTime":"-5","renewalTime":"0","ttl":"0"},"port":0,"protocol":null,"regionId":null,"serviceId":null,"status":"up","url":null,"zoneId":null}"#
    );
}

#[test]
fn management_instance_replaces_lease_keys_in_place() {
    let served = br#"{"metadata":{"ttl":"old","a":null,"creationTime":"x","z":"1"}}"#;
    let json = text(|o| write_management_instance(o, served, false, 7, 8, 9).unwrap());
    assert!(
        json.contains(
            r#""metadata":{"ttl":"9","a":null,"creationTime":"7","z":"1","renewalTime":"8"}"#
        ),
        "{json}"
    );
}

#[test]
fn management_instance_rejects_garbage_without_writing() {
    let mut out = b"keep".to_vec();
    assert!(write_management_instance(&mut out, b"[1]", false, 0, 0, 0).is_err());
    assert!(write_management_instance(&mut out, b"{\"port\":", false, 0, 0, 0).is_err());
    assert_eq!(out, b"keep");
}

#[test]
fn management_service_views() {
    let mut instances = b"[".to_vec();
    write_management_instance(
        &mut instances,
        SPEC_INSTANCE_JSON.as_bytes(),
        false,
        1,
        2,
        3,
    )
    .unwrap();
    instances.push(b']');
    let instances = String::from_utf8(instances).unwrap();
    let service =
        text(|o| write_management_service(o, "myservice", Some(instances.as_bytes()), None, &[]));
    assert_eq!(
        service,
        format!(
            r#"{{"instances":{instances},"logicInstances":[],"metadata":null,"routeRules":[],"serviceId":"myservice"}}"#
        )
    );
    assert_eq!(
        text(|o| write_management_service(o, "nobody", None, None, &[])),
        r#"{"instances":null,"logicInstances":[],"metadata":null,"routeRules":[],"serviceId":"nobody"}"#
    );
    let no_groups = GroupData::default();
    assert_eq!(
        text(|o| write_management_service_response(o, service.as_bytes(), &no_groups, "myservice")),
        format!(r#"{{"groups":[],"responseStatus":{OK},"service":{service}}}"#)
    );
    let fragments: [&[u8]; 3] = [service.as_bytes(), b"", service.as_bytes()];
    assert_eq!(
        text(|o| write_management_services_response(o, fragments.into_iter(), 1_700_000_000_000)),
        format!(
            r#"{{"responseStatus":{OK},"services":[{service},{service}],"version":1700000000000}}"#
        )
    );
}

/// A logical instance of `myservice` whose id the canary group lists.
fn logical_row() -> ServiceInstance {
    ServiceInstance {
        id: 1,
        service_id: "myservice".into(),
        instance_id: "logic-1".into(),
        ip: "10.9.0.1".into(),
        machine_name: "m".into(),
        metadata: String::new(),
        port: 80,
        protocol: "http".into(),
        region_id: "SHA".into(),
        zone_id: "SHAJQ".into(),
        group_id: "g".into(),
        health_check_url: "http://h".into(),
        url: "http://u".into(),
        description: None,
    }
}

#[test]
fn management_service_carries_every_logical_instance_and_canary_groups_of_management_instances() {
    // The management copy of the registered instance: status down, lease times in metadata.
    let mut managed = Vec::new();
    write_management_instance(&mut managed, SPEC_INSTANCE_JSON.as_bytes(), true, 1, 2, 3).unwrap();
    let managed = String::from_utf8(managed).unwrap();
    let logical = LogicInstance::new(logical_row());
    let logical_json = String::from_utf8(logical.json().to_vec()).unwrap();
    let view = ServiceView {
        route_rules: vec![ServedRouteRule {
            route_id: "canary-route-rule".into(),
            strategy: "weighted-round-robin".into(),
            groups: vec![ServedGroup {
                group_key: "myservice/sha/canary/app".into(),
                weight: 5,
                instance_ids: vec!["10.0.0.1:8080".into(), "logic-1".into()],
                tags: None,
            }],
        }],
        logic_instances: vec![logical],
    };
    let registered = [RegisteredInstance {
        service_id: "myservice",
        region_id: "SHA",
        zone_id: "SHAJQ",
        group_id: None,
        instance_id: "10.0.0.1:8080",
        json: managed.as_bytes(),
    }];
    let list = format!("[{managed}]");
    let service = text(|o| {
        write_management_service(
            o,
            "myservice",
            Some(list.as_bytes()),
            Some(&view),
            &registered,
        )
    });
    // Listed ids resolve in id order: the registered one as the view shows it, then the
    // logical one; the logical instance is listed whatever pull-out there may be (no
    // management filter here).
    assert_eq!(
        service,
        format!(
            concat!(
                r#"{{"instances":{list},"logicInstances":[{logical}],"metadata":null,"#,
                r#""routeRules":[{{"groups":[{{"groupKey":"myservice/sha/canary/app","#,
                r#""instanceIds":["10.0.0.1:8080","logic-1"],"instances":[{managed},{logical}],"#,
                r#""metadata":null,"weight":5}}],"routeId":"canary-route-rule","#,
                r#""strategy":"weighted-round-robin"}}],"serviceId":"myservice"}}"#
            ),
            list = list,
            logical = logical_json,
            managed = managed,
        )
    );
    // Nobody registered it: null instances, the group data still given.
    assert_eq!(
        text(|o| write_management_service(o, "myservice", None, Some(&view), &[])),
        format!(
            concat!(
                r#"{{"instances":null,"logicInstances":[{logical}],"metadata":null,"#,
                r#""routeRules":[{{"groups":[{{"groupKey":"myservice/sha/canary/app","#,
                r#""instanceIds":["10.0.0.1:8080","logic-1"],"instances":[{logical}],"#,
                r#""metadata":null,"weight":5}}],"routeId":"canary-route-rule","#,
                r#""strategy":"weighted-round-robin"}}],"serviceId":"myservice"}}"#
            ),
            logical = logical_json,
        )
    );
}

#[test]
fn management_service_response_lists_the_services_groups() {
    let data = GroupData::new(GroupRows {
        groups: vec![Group {
            group_id: 7,
            service_id: "myservice".into(),
            region_id: "SHA".into(),
            zone_id: "SHAJQ".into(),
            name: "Blue".into(),
            app_id: "app".into(),
            description: None,
            status: "inactive".into(),
        }],
        ..GroupRows::default()
    });
    let service = r#"{"instances":null,"logicInstances":[],"metadata":null,"routeRules":[],"serviceId":"MyService"}"#;
    assert_eq!(
        text(|o| write_management_service_response(o, service.as_bytes(), &data, "MyService")),
        format!(
            concat!(
                r#"{{"groups":[{{"groupKey":"myservice/sha/shajq/blue","instanceIds":[],"#,
                r#""instances":null,"metadata":null,"weight":null}}],"responseStatus":{ok},"#,
                r#""service":{service}}}"#
            ),
            ok = OK,
            service = service,
        )
    );
}
