use super::*;
use crate::model::parse;

fn bad(message: &'static str) -> Refusal {
    ResponseStatus {
        status: "fail",
        error_code: "bad-request",
        message,
    }
}

fn internal(message: &'static str) -> Refusal {
    ResponseStatus {
        status: "fail",
        error_code: "internal-service-error",
        message,
    }
}

fn instance_write(json: &str) -> Result<ManagementWrite, Refusal> {
    let request: OperateInstanceRequest = parse(json.as_bytes()).unwrap();
    operate_instance(Some(&request))
}

fn server_write(json: &str) -> Result<ManagementWrite, Refusal> {
    let request: OperateServerRequest = parse(json.as_bytes()).unwrap();
    operate_server(Some(&request))
}

fn zone_write(json: &str) -> Result<ManagementWrite, Refusal> {
    let request: OperateZoneOperationsRequest = parse(json.as_bytes()).unwrap();
    operate_zone_operations(Some(&request))
}

fn zone(region: &str, service: &str, zone: &str) -> Target {
    Target::Zone(ZoneKey {
        region_id: region.into(),
        service_id: service.into(),
        zone_id: zone.into(),
    })
}

#[test]
fn request_is_null_everywhere() {
    let refused = bad("request is null");
    assert_eq!(REQUEST_IS_NULL, refused);
    assert_eq!(operate_instance(None), Err(refused));
    assert_eq!(operate_server(None), Err(refused));
    assert_eq!(operate_zone_operations(None), Err(refused));
    assert_eq!(instance_operations_key(None), Err(refused));
    assert_eq!(server_operations_key(None), Err(refused));
    assert_eq!(server_down_key(None), Err(refused));
    assert_eq!(instance_down(None).unwrap_err(), refused);
    assert_eq!(all_zone_operations(None), Err(refused));
    assert_eq!(zone_key(None), Err(refused));
    assert_eq!(zone_operations_filter(None), Err(refused));
    for kind in [LogKind::Instance, LogKind::Server, LogKind::Zone] {
        assert_eq!(log_filter(kind, None), Err(refused));
    }
}

#[test]
fn operate_instance_trims_into_one_target() {
    let write = instance_write(
        r#"{"instanceKey":{"regionId":" SHA ","serviceId":"\tsvc","instanceId":"i1\n"},
            "operation":" pullout ","operationComplete":false,"operatorId":" ops ","token":"secret"}"#,
    )
    .unwrap();
    assert_eq!(
        write,
        ManagementWrite {
            targets: vec![(
                Target::Instance(InstanceKey {
                    region_id: "SHA".into(),
                    service_id: "svc".into(),
                    instance_id: "i1".into(),
                }),
                "pullout".into(),
            )],
            complete: false,
            operator: Operator {
                operator_id: "ops".into(),
                reason: String::new(),
                extensions: "{}".into(),
            },
        }
    );
    // caravan trims Java whitespace (U+3000, U+2028), not String.trim()'s control chars.
    let write = instance_write(
        r#"{"instanceKey":{"regionId":"r","serviceId":"s","instanceId":"\u3000i1\u2028"},
            "operation":"o","operatorId":"\u0000"}"#,
    )
    .unwrap();
    let Target::Instance(key) = &write.targets[0].0 else {
        panic!("an instance write targets an instance")
    };
    assert_eq!(key.instance_id, "i1");
    assert_eq!(write.operator.operator_id, "\0");
    let pull_in = instance_write(
        r#"{"instanceKey":{"regionId":"r","serviceId":"s","instanceId":"i"},
            "operation":"o","operationComplete":true,"operatorId":"u"}"#,
    )
    .unwrap();
    assert!(pull_in.complete);
}

#[test]
fn operate_instance_messages_in_java_order() {
    let full = r#""operation":"o","operatorId":"u""#;
    for (json, message) in [
        (format!(r#"{{{full}}}"#), "regionId is null or empty"),
        (
            format!(r#"{{"instanceKey":{{"regionId":"  "}},{full}}}"#),
            "regionId is null or empty",
        ),
        (
            format!(r#"{{"instanceKey":{{"regionId":"r","instanceId":"i"}},{full}}}"#),
            "serviceId is null or empty",
        ),
        (
            format!(r#"{{"instanceKey":{{"regionId":"r","serviceId":"s","instanceId":"\u3000"}},{full}}}"#),
            "instanceId is null or empty",
        ),
        (
            r#"{"instanceKey":{"regionId":"r","serviceId":"s","instanceId":"i"},"operatorId":"u"}"#
                .to_owned(),
            "operation is null or empty",
        ),
        (
            r#"{"instanceKey":{"regionId":"r","serviceId":"s","instanceId":"i"},"operation":"o","operatorId":" "}"#
                .to_owned(),
            "operatorId is null or empty",
        ),
    ] {
        assert_eq!(instance_write(&json), Err(bad(message)), "{json}");
    }
}

#[test]
fn operate_server_trims_and_checks_in_java_order() {
    let write = server_write(
        r#"{"serverKey":{"regionId":"r ","serverId":" 10.0.0.9"},"operation":"o",
            "operationComplete":1,"operatorId":"u"}"#,
    )
    .unwrap();
    assert_eq!(
        write.targets,
        vec![(
            Target::Server(ServerKey {
                region_id: "r".into(),
                server_id: "10.0.0.9".into(),
            }),
            "o".into()
        )]
    );
    assert!(write.complete);
    assert_eq!(write.operator.extensions, "{}");
    for (json, message) in [
        (
            r#"{"operation":"o","operatorId":"u"}"#,
            "regionId is null or empty",
        ),
        (
            r#"{"serverKey":{"regionId":"r"},"operation":"o","operatorId":"u"}"#,
            "serverId is null or empty",
        ),
        (
            r#"{"serverKey":{"regionId":"r","serverId":"ip"},"operatorId":"u"}"#,
            "operation is null or empty",
        ),
        (
            r#"{"serverKey":{"regionId":"r","serverId":"ip"},"operation":"o"}"#,
            "operatorId is null or empty",
        ),
    ] {
        assert_eq!(server_write(json), Err(bad(message)), "{json}");
    }
}

#[test]
fn zone_write_takes_each_zone_times_each_operation() {
    let write = zone_write(
        r#"{"zoneOperationsList":[
              {"zoneKey":{"regionId":"r","serviceId":"s","zoneId":"z1"},"operations":["a"," b ",""," ",null]},
              null,
              {"zoneKey":null,"operations":["lost"]},
              {"zoneKey":{"regionId":"r","serviceId":"s","zoneId":"z2"},"operations":null},
              {"zoneKey":{"regionId":"r","serviceId":"s","zoneId":"z3"},"operations":["c"]}],
            "operatorId":" u ","reason":"deploy","token":"t","extensions":"{\"x\":1}"}"#,
    )
    .unwrap();
    assert_eq!(
        write,
        ManagementWrite {
            targets: vec![
                (zone("r", "s", "z1"), "a".into()),
                // Zone operations are not trimmed (ZoneOperationsUtil).
                (zone("r", "s", "z1"), " b ".into()),
                (zone("r", "s", "z3"), "c".into()),
            ],
            complete: false,
            operator: Operator {
                operator_id: " u ".into(),
                reason: "deploy".into(),
                extensions: r#"{"x":1}"#.into(),
            },
        }
    );
}

#[test]
fn zone_write_defaults_its_context() {
    let write = zone_write(
        r#"{"zoneOperationsList":[{"zoneKey":{"regionId":"r","serviceId":"s","zoneId":"z"},"operations":["a"]}],
            "operationComplete":true}"#,
    )
    .unwrap();
    assert!(write.complete);
    assert_eq!(
        write.operator,
        Operator {
            operator_id: String::new(),
            reason: String::new(),
            extensions: "{}".into(),
        }
    );
}

#[test]
fn zone_write_failures_keep_java_codes_and_messages() {
    for (json, message) in [
        (
            r#"{}"#,
            "operate zone-operations failed.argument models is null or empty",
        ),
        (
            r#"{"zoneOperationsList":[]}"#,
            "operate zone-operations failed.argument models is null or empty",
        ),
        (
            r#"{"zoneOperationsList":[{"zoneKey":{"zoneId":"z"},"operations":[" "]}]}"#,
            "operate zone-operations failed.argument models is null or empty",
        ),
        (
            r#"{"operationComplete":true,"zoneOperationsList":[null]}"#,
            "operate zone-operations failed.argument group operations is null or empty",
        ),
        (
            r#"{"zoneOperationsList":[{"zoneKey":{"regionId":"r","zoneId":"z"},"operations":["a"]}]}"#,
            "operate zone-operations failed.argument zoneOperation.serviceId is null or whitespace",
        ),
        (
            r#"{"zoneOperationsList":[{"zoneKey":{"serviceId":"s","zoneId":"z"},"operations":["a"]}]}"#,
            "operate zone-operations failed.argument zoneOperation.regionId is null or whitespace",
        ),
        (
            r#"{"zoneOperationsList":[
                 {"zoneKey":{"regionId":"r","serviceId":"s","zoneId":"z"},"operations":["a"]},
                 {"zoneKey":{"regionId":"r","serviceId":"s","zoneId":" "},"operations":["a"]}]}"#,
            "operate zone-operations failed.argument zoneOperation.zoneId is null or whitespace",
        ),
    ] {
        assert_eq!(zone_write(json), Err(internal(message)), "{json}");
    }
}

#[test]
fn zone_pull_in_accepts_blank_keys() {
    // Java deletes with the blank values (matching no row) and logs the attempt.
    let write = zone_write(
        r#"{"operationComplete":true,"zoneOperationsList":[{"zoneKey":{"zoneId":"z"},"operations":["a"]}]}"#,
    )
    .unwrap();
    assert_eq!(write.targets, vec![(zone("", "", "z"), "a".into())]);
}

#[test]
fn read_keys_are_taken_as_sent() {
    let r: GetInstanceOperationsRequest =
        parse(br#"{"instanceKey":{"regionId":" R ","instanceId":"i"}}"#).unwrap();
    assert_eq!(
        instance_operations_key(Some(&r)),
        Ok(InstanceKey {
            region_id: " R ".into(),
            service_id: String::new(),
            instance_id: "i".into(),
        })
    );
    let r: GetInstanceOperationsRequest = parse(b"{}").unwrap();
    assert_eq!(
        instance_operations_key(Some(&r)),
        Err(bad("request.instanceKey is null"))
    );

    let r: ServerKeyRequest = parse(br#"{"serverKey":{"regionId":"r","serverId":"ip"}}"#).unwrap();
    let key = ServerKey {
        region_id: "r".into(),
        server_id: "ip".into(),
    };
    assert_eq!(server_operations_key(Some(&r)), Ok(key.clone()));
    assert_eq!(server_down_key(Some(&r)), Ok(key));
    let r: ServerKeyRequest = parse(br#"{"serverKey":null}"#).unwrap();
    assert_eq!(
        server_operations_key(Some(&r)),
        Err(bad("request.serverKey is null"))
    );
    assert_eq!(
        server_down_key(Some(&r)),
        Err(bad("request.serverKey null"))
    );
}

#[test]
fn instance_down_needs_the_instance() {
    let r: IsInstanceDownRequest = parse(br#"{"instance":{"ip":"10.0.0.1"}}"#).unwrap();
    assert_eq!(
        instance_down(Some(&r)).unwrap().ip.as_deref(),
        Some("10.0.0.1")
    );
    let r: IsInstanceDownRequest = parse(b"{}").unwrap();
    assert_eq!(
        instance_down(Some(&r)).unwrap_err(),
        bad("request.instance is null")
    );
}

#[test]
fn region_filter_never_fails() {
    let region = |json: &str| {
        let r: RegionRequest = parse(json.as_bytes()).unwrap();
        region_filter(Some(&r)).map(str::to_owned)
    };
    assert_eq!(region(r#"{"regionId":"SHA"}"#).as_deref(), Some("SHA"));
    assert_eq!(region(r#"{"regionId":" SHA"}"#).as_deref(), Some(" SHA"));
    assert_eq!(region(r#"{"regionId":" "}"#), None);
    assert_eq!(region("{}"), None);
    assert_eq!(region_filter(None), None);
    let r: RegionRequest = parse(br#"{"regionId":"x"}"#).unwrap();
    assert_eq!(all_zone_operations(Some(&r)), Ok(()));
}

#[test]
fn zone_key_may_be_missing() {
    let r: ZoneKeyRequest = parse(br#"{"zoneKey":{"regionId":"r","zoneId":"z"}}"#).unwrap();
    assert_eq!(
        zone_key(Some(&r)),
        Ok(Some(ZoneKey {
            region_id: "r".into(),
            service_id: String::new(),
            zone_id: "z".into(),
        }))
    );
    let r: ZoneKeyRequest = parse(b"{}").unwrap();
    assert_eq!(zone_key(Some(&r)), Ok(None));
}

#[test]
fn zone_list_filter_drops_blank_fields_and_ignores_case() {
    let r: GetZoneOperationsListRequest =
        parse(br#"{"regionId":" ","serviceId":"Svc","zoneId":null}"#).unwrap();
    let filter = zone_operations_filter(Some(&r)).unwrap();
    assert_eq!(
        filter,
        ZoneOperationsFilter {
            region_id: None,
            service_id: Some("Svc".into()),
            zone_id: None,
        }
    );
    let key = |service: &str| ZoneKey {
        region_id: "any".into(),
        service_id: service.into(),
        zone_id: "z".into(),
    };
    assert!(filter.matches(&key("svc")));
    assert!(filter.matches(&key("SVC")));
    assert!(!filter.matches(&key("svc2")));
    assert!(ZoneOperationsFilter::default().matches(&key("x")));
}

#[test]
fn management_service_needs_a_service_id() {
    let message = bad("Request is null or request.servcieId is null.");
    assert_eq!(management_service_id(None), Err(message));
    let r: ManagementServiceRequest = parse(br#"{"serviceId":"\t"}"#).unwrap();
    assert_eq!(management_service_id(Some(&r)), Err(message));
    let r: ManagementServiceRequest = parse(br#"{"serviceId":" Svc"}"#).unwrap();
    assert_eq!(management_service_id(Some(&r)), Ok(" Svc"));
}

#[test]
fn log_filters_keep_their_kind_fields_untrimmed() {
    let r: OperationLogsRequest = parse(
        br#"{"regionId":" r","serviceId":"s","instanceId":"i","serverId":"ip","zoneId":"z",
             "operation":"o","operatorId":"u","complete":false}"#,
    )
    .unwrap();
    let common = LogFilter {
        region_id: Some(" r".into()),
        operation: Some("o".into()),
        operator_id: Some("u".into()),
        complete: Some(false),
        ..LogFilter::default()
    };
    assert_eq!(
        log_filter(LogKind::Instance, Some(&r)),
        Ok(LogFilter {
            service_id: Some("s".into()),
            instance_id: Some("i".into()),
            ..common.clone()
        })
    );
    assert_eq!(
        log_filter(LogKind::Server, Some(&r)),
        Ok(LogFilter {
            server_id: Some("ip".into()),
            ..common.clone()
        })
    );
    assert_eq!(
        log_filter(LogKind::Zone, Some(&r)),
        Ok(LogFilter {
            service_id: Some("s".into()),
            zone_id: Some("z".into()),
            ..common
        })
    );
}

#[test]
fn blank_log_filter_fields_match_everything() {
    let r: OperationLogsRequest =
        parse(br#"{"regionId":"","serviceId":" ","operation":null,"complete":null}"#).unwrap();
    for kind in [LogKind::Instance, LogKind::Server, LogKind::Zone] {
        assert_eq!(log_filter(kind, Some(&r)), Ok(LogFilter::default()));
    }
}
