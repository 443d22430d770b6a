use std::borrow::Cow;

use super::*;
use crate::model::parse;

fn s(v: &str) -> Str<'_> {
    Some(Cow::Borrowed(v))
}

fn operate_instance(json: &str) -> OperateInstanceRequest<'_> {
    parse(json.as_bytes()).unwrap()
}

#[test]
fn operate_instance_reads_every_field() {
    let r = operate_instance(
        r#"{"instanceKey":{"regionId":"SHA","serviceId":"svc","instanceId":"i1"},
            "operation":"pullout","operationComplete":true,"operatorId":"ops","token":"t"}"#,
    );
    assert_eq!(
        r,
        OperateInstanceRequest {
            instance_key: Some(WireInstanceKey {
                region_id: s("SHA"),
                service_id: s("svc"),
                instance_id: s("i1"),
            }),
            operation: s("pullout"),
            operation_complete: true,
            operator_id: s("ops"),
            token: s("t"),
        }
    );
}

#[test]
fn keys_are_case_insensitive_at_every_level() {
    let r = operate_instance(
        r#"{"INSTANCEKEY":{"RegionId":"r","SERVICEID":"s","instanceid":"i"},
            "Operation":"o","OPERATIONCOMPLETE":true,"OperatorID":"u","TOKEN":"t"}"#,
    );
    assert_eq!(r.instance_key.unwrap().instance_id, s("i"));
    assert!(r.operation_complete);
    assert_eq!(
        (r.operation, r.operator_id, r.token),
        (s("o"), s("u"), s("t"))
    );

    let z: OperateZoneOperationsRequest = parse(
        br#"{"ZoneOperationsList":[{"ZONEKEY":{"ZoneId":"z"},"Operations":["a"]}],"Reason":"why"}"#,
    )
    .unwrap();
    let list = z.zone_operations_list.unwrap();
    let zone = list[0].as_ref().unwrap();
    assert_eq!(zone.zone_key.as_ref().unwrap().zone_id, s("z"));
    assert_eq!(zone.operations, Some(vec![s("a")]));
    assert_eq!(z.reason, s("why"));
}

#[test]
fn missing_null_and_unknown_keys() {
    let r = operate_instance(r#"{"unknown":{"deep":[1,2]},"instanceKey":null,"token":null}"#);
    assert_eq!(r, OperateInstanceRequest::default());
    let r = operate_instance("{}");
    assert!(!r.operation_complete);
    assert_eq!(r.instance_key, None);
}

#[test]
fn strings_coerce_scalars() {
    let r = operate_instance(
        r#"{"instanceKey":{"regionId":1,"serviceId":true,"instanceId":2.5},"operatorId":-7}"#,
    );
    let key = r.instance_key.unwrap();
    assert_eq!(
        (key.region_id, key.service_id, key.instance_id),
        (s("1"), s("true"), s("2.5"))
    );
    assert_eq!(r.operator_id, s("-7"));
    assert!(parse::<OperateInstanceRequest>(br#"{"operation":{}}"#).is_err());
    assert!(parse::<OperateInstanceRequest>(br#"{"operation":["a"]}"#).is_err());
}

#[test]
fn operation_complete_coerces_like_a_java_boolean() {
    let complete = |v: &str| {
        parse::<OperateServerRequest>(format!(r#"{{"operationComplete":{v}}}"#).as_bytes())
            .map(|r| r.operation_complete)
    };
    for (json, expected) in [
        ("true", true),
        ("false", false),
        ("1", true),
        ("-3", true),
        ("0", false),
        (r#""true""#, true),
        (r#""True""#, true),
        (r#"" true ""#, true),
        (r#""false""#, false),
        (r#""False""#, false),
        (r#""""#, false),
        (r#""null""#, false),
        ("null", false),
    ] {
        assert_eq!(complete(json), Ok(expected), "{json}");
    }
    for bad in [r#""TRUE""#, r#""yes""#, r#""1""#, "1.0", "[true]", "{}"] {
        assert!(complete(bad).is_err(), "{bad} should be rejected");
    }
    let err = complete(r#""yes""#).unwrap_err();
    assert!(
        err.message().contains("is not a boolean"),
        "{}",
        err.message()
    );
}

#[test]
fn log_filter_complete_is_a_boxed_boolean() {
    let complete = |v: &str| {
        parse::<OperationLogsRequest>(format!(r#"{{"complete":{v}}}"#).as_bytes())
            .unwrap()
            .complete
    };
    assert_eq!(complete("true"), Some(true));
    assert_eq!(complete(r#""False""#), Some(false));
    assert_eq!(complete("0"), Some(false));
    assert_eq!(complete("null"), None);
    assert_eq!(complete(r#""""#), None);
    assert_eq!(parse::<OperationLogsRequest>(b"{}").unwrap().complete, None);
}

#[test]
fn log_request_reads_every_filter_field() {
    let r: OperationLogsRequest = parse(
        br#"{"regionId":"r","serviceId":"s","instanceId":"i","serverId":"ip","zoneId":"z",
             "operation":"o","operatorId":"u","complete":true}"#,
    )
    .unwrap();
    assert_eq!(
        r,
        OperationLogsRequest {
            region_id: s("r"),
            service_id: s("s"),
            instance_id: s("i"),
            server_id: s("ip"),
            zone_id: s("z"),
            operation: s("o"),
            operator_id: s("u"),
            complete: Some(true),
        }
    );
}

#[test]
fn zone_write_reads_the_operation_context() {
    let r: OperateZoneOperationsRequest = parse(
        br#"{"zoneOperationsList":[null,{"zoneKey":{"regionId":"r","serviceId":"s","zoneId":"z"},
             "operations":["a",null,"b"]},{"zoneKey":null,"operations":null}],
             "operationComplete":"true","operatorId":"u","token":"t","operation":"ignored",
             "reason":"deploy","extensions":"{\"k\":1}"}"#,
    )
    .unwrap();
    let list = r.zone_operations_list.as_ref().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0], None);
    assert_eq!(
        list[1],
        Some(WireZoneOperations {
            zone_key: Some(WireZoneKey {
                region_id: s("r"),
                service_id: s("s"),
                zone_id: s("z"),
            }),
            operations: Some(vec![s("a"), None, s("b")]),
        })
    );
    assert_eq!(list[2], Some(WireZoneOperations::default()));
    assert!(r.operation_complete);
    assert_eq!(
        (r.operator_id, r.operation, r.reason, r.extensions),
        (s("u"), s("ignored"), s("deploy"), s(r#"{"k":1}"#))
    );
}

#[test]
fn read_requests_parse() {
    let r: GetInstanceOperationsRequest =
        parse(br#"{"instanceKey":{"regionId":"r","serviceId":"s","instanceId":"i"}}"#).unwrap();
    assert_eq!(r.instance_key.unwrap().service_id, s("s"));
    let r: ServerKeyRequest = parse(br#"{"serverKey":{"regionId":"r","serverId":"ip"}}"#).unwrap();
    assert_eq!(r.server_key.unwrap().server_id, s("ip"));
    let r: RegionRequest = parse(br#"{"REGIONID":"sha"}"#).unwrap();
    assert_eq!(r.region_id, s("sha"));
    let r: ZoneKeyRequest =
        parse(br#"{"zoneKey":{"regionId":"r","serviceId":"s","zoneId":"z"}}"#).unwrap();
    assert_eq!(r.zone_key.unwrap().zone_id, s("z"));
    let r: GetZoneOperationsListRequest = parse(br#"{"serviceId":"s","zoneId":"z"}"#).unwrap();
    assert_eq!(
        (r.region_id, r.service_id, r.zone_id),
        (None, s("s"), s("z"))
    );
    let r: ManagementServiceRequest =
        parse(br#"{"serviceId":"svc","regionId":"r","zoneId":"z"}"#).unwrap();
    assert_eq!(
        (r.service_id, r.region_id, r.zone_id),
        (s("svc"), s("r"), s("z"))
    );
    let r: ManagementServicesRequest = parse(br#"{"regionId":"r","zoneId":"z"}"#).unwrap();
    assert_eq!((r.region_id, r.zone_id), (s("r"), s("z")));
}

#[test]
fn instance_down_reads_a_whole_instance() {
    let r: IsInstanceDownRequest = parse(
        br#"{"instance":{"regionId":"r","zoneId":"z","serviceId":"s","instanceId":"i",
             "ip":"10.0.0.1","port":"8080","metadata":{"k":"v"}}}"#,
    )
    .unwrap();
    let instance = r.instance.unwrap();
    assert_eq!(instance.ip, s("10.0.0.1"));
    assert_eq!(instance.port, 8080);
    assert_eq!(instance.metadata.unwrap().get("k"), Some("v"));
    let r: IsInstanceDownRequest = parse(br#"{"instance":null}"#).unwrap();
    assert_eq!(r.instance, None);
}

#[test]
fn tokens_are_trimmed_and_blank_ones_absent() {
    let token = |json: &str| operate_instance(json).token().map(str::to_owned);
    assert_eq!(token(r#"{"token":" secret\t"}"#).as_deref(), Some("secret"));
    assert_eq!(token(r#"{"token":"\u3000s\u2029"}"#).as_deref(), Some("s"));
    assert_eq!(token(r#"{"token":"  "}"#), None);
    assert_eq!(token(r#"{"token":null}"#), None);
    assert_eq!(token("{}"), None);
    let server: OperateServerRequest = parse(br#"{"token":"s"}"#).unwrap();
    assert_eq!(server.token(), Some("s"));
    let zone: OperateZoneOperationsRequest = parse(br#"{"token":" z "}"#).unwrap();
    assert_eq!(zone.token(), Some("z"));
}
