use super::*;
use crate::model::fixtures::text;

fn logic(id: i64, instance: &str, metadata: &str) -> LogicInstance {
    LogicInstance::new(ServiceInstance {
        id,
        service_id: "svc".into(),
        instance_id: instance.into(),
        ip: "10.0.0.9".into(),
        machine_name: "m".into(),
        metadata: metadata.into(),
        port: 81,
        protocol: "http".into(),
        region_id: "SHA".into(),
        zone_id: "z1".into(),
        group_id: "g".into(),
        health_check_url: "http://h".into(),
        url: "http://u".into(),
        description: Some("not served".into()),
    })
}

fn group(key: &str, ids: &[&str]) -> ServedGroup {
    ServedGroup {
        group_key: key.into(),
        weight: 7,
        instance_ids: ids.iter().map(|id| id.to_string()).collect(),
        tags: None,
    }
}

fn registered<'a>(
    zone: &'a str,
    group: Option<&'a str>,
    id: &'a str,
    json: &'a [u8],
) -> RegisteredInstance<'a> {
    RegisteredInstance {
        service_id: "svc",
        region_id: "sha",
        zone_id: zone,
        group_id: group,
        instance_id: id,
        json,
    }
}

#[test]
fn weights_are_fixed_like_java() {
    assert_eq!(fix_weight(None), 5);
    assert_eq!(fix_weight(Some(-1)), 5);
    assert_eq!(fix_weight(Some(0)), 0);
    assert_eq!(fix_weight(Some(70)), 70);
    assert_eq!(fix_weight(Some(10_001)), 10_000);
}

#[test]
fn logic_instances_are_served_up_with_parsed_metadata() {
    let view = ServiceView {
        route_rules: vec![],
        logic_instances: vec![
            logic(1, "l1", r#"{"a":"b"}"#),
            logic(2, "l2", "not json"),
            logic(3, "l3", ""),
        ],
    };
    assert_eq!(
        text(|o| view.write_logic_instances(o, |row| row.instance_id != "l3")),
        concat!(
            r#"[{"groupId":"g","healthCheckUrl":"http://h","instanceId":"l1","ip":"10.0.0.9","#,
            r#""machineName":"m","metadata":{"a":"b"},"port":81,"protocol":"http","regionId":"SHA","#,
            r#""serviceId":"svc","status":"up","url":"http://u","zoneId":"z1"},"#,
            r#"{"groupId":"g","healthCheckUrl":"http://h","instanceId":"l2","ip":"10.0.0.9","#,
            r#""machineName":"m","metadata":{},"port":81,"protocol":"http","regionId":"SHA","#,
            r#""serviceId":"svc","status":"up","url":"http://u","zoneId":"z1"}]"#,
        )
    );
    assert_eq!(text(|o| view.write_logic_instances(o, |_| false)), "[]");
}

#[test]
fn route_rules_serve_groups_without_instances_unless_canary() {
    let mut tagged = group("svc/sha/z1/g1", &["i1"]);
    tagged.tags = Some(vec![("k".into(), "v\"".into())]);
    let view = ServiceView {
        route_rules: vec![ServedRouteRule {
            route_id: "main".into(),
            strategy: "close-by-visit".into(),
            groups: vec![tagged, group("svc/sha/z2/g2", &[])],
        }],
        logic_instances: vec![],
    };
    assert_eq!(
        text(|o| view.write_route_rules(o, &[])),
        concat!(
            r#"[{"groups":[{"groupKey":"svc/sha/z1/g1","instanceIds":["i1"],"instances":null,"#,
            r#""metadata":{"k":"v\""},"weight":7},{"groupKey":"svc/sha/z2/g2","instanceIds":[],"#,
            r#""instances":null,"metadata":null,"weight":7}],"routeId":"main","strategy":"close-by-visit"}]"#,
        )
    );
    assert_eq!(
        text(|o| ServiceView::default().write_route_rules(o, &[])),
        "[]"
    );
}

#[test]
fn canary_groups_resolve_listed_ids_and_key_prefixes() {
    let view = ServiceView {
        route_rules: vec![
            ServedRouteRule {
                route_id: "Canary-Route-Rule".into(),
                strategy: "weighted-round-robin".into(),
                groups: vec![group(
                    "svc/sha/canary/app",
                    &["ip-b", "logic-1", "missing", "ip-a"],
                )],
            },
            ServedRouteRule {
                route_id: "other".into(),
                strategy: "weighted-round-robin".into(),
                groups: vec![group("svc/sha/canary/app", &["ip-a"])],
            },
        ],
        logic_instances: vec![logic(1, "logic-1", "{}"), logic(2, "ip-a", "{}")],
    };
    let instances = [
        registered("z1", None, "ip-a", b"{\"a\":1}"),
        registered("z1", None, "ip-b", b"{\"b\":1}"),
        registered("canary", Some("App"), "by-key", b"{\"k\":1}"),
        registered("canary", Some("app2"), "by-plain-prefix", b"{\"p\":1}"),
        registered("z1", None, "unrelated", b"{\"u\":1}"),
    ];
    let served = text(|o| view.write_route_rules(o, &instances));
    let logic_json = String::from_utf8(view.logic_instances[0].json().to_vec()).unwrap();
    // By instance id: by-key, by-plain-prefix, ip-a (registered wins), ip-b, logic-1.
    let expected_instances = format!(r#"[{{"k":1}},{{"p":1}},{{"a":1}},{{"b":1}},{logic_json}]"#);
    assert!(
        served.starts_with(&format!(
            r#"[{{"groups":[{{"groupKey":"svc/sha/canary/app","instanceIds":["ip-b","logic-1","missing","ip-a"],"instances":{expected_instances},"#
        )),
        "{served}"
    );
    // Only the first canary rule is resolved.
    assert!(served.ends_with(
        r#"{"groups":[{"groupKey":"svc/sha/canary/app","instanceIds":["ip-a"],"instances":null,"metadata":null,"weight":7}],"routeId":"other","strategy":"weighted-round-robin"}]"#
    ), "{served}");
}
