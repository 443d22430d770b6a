//! Group instances and logical (service) instances.

use super::*;

#[test]
fn group_instances_are_listed_once_and_deleted_by_id() {
    const SVC: &str = "members-svc";
    let server = start();
    let mut c = server.client();
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "blue", "app")]}),
    );
    let blue = group_id(&mut c, SVC, ZONE, "blue");
    let members = |ids: &[&str]| -> Value {
        let list: Vec<Value> = ids
            .iter()
            .map(|i| sonic_rs::json!({"groupId": blue, "instanceId": i}))
            .collect();
        sonic_rs::json!({"groupInstances": list})
    };
    group_write(
        &mut c,
        "insert-group-instances",
        "add",
        members(&["i-1", "i-2"]),
    );
    group_write(&mut c, "insert-group-instances", "add", members(&["i-1"]));
    let of_blue = format!(r#"{{"groupId":{blue}}}"#);
    let rows = read_everywhere(&server, "get-group-instances", &of_blue, "groupInstances");
    let listed: Vec<&str> = rows
        .iter()
        .map(|r| r["instanceId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["i-1", "i-2"], "i-1 listed once");
    let i1 = id_of(&rows[0], "id");
    assert_json(
        &rows[0],
        &sonic_rs::json!({"groupId": blue, "id": i1, "instanceId": "i-1"}),
        "a group instance",
    );
    let by_instance = r#"{"instanceId":"I-2"}"#;
    assert_eq!(
        group_list(&mut c, "get-group-instances", by_instance, "groupInstances").len(),
        1
    );
    group_write(
        &mut c,
        "delete-group-instances",
        "remove",
        sonic_rs::json!({"groupInstanceIds": [i1]}),
    );
    let rows = group_list(&mut c, "get-group-instances", &of_blue, "groupInstances");
    let listed: Vec<&str> = rows
        .iter()
        .map(|r| r["instanceId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["i-2"]);

    let rows = group_logs(&mut c, "group-instance-logs", r#"{"instanceId":"i-2"}"#);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_json(
        row,
        &sonic_rs::json!({"createTime": row["createTime"], "groupId": blue, "id": row["id"],
            "instanceId": "i-2", "operation": "add", "operatorId": OPERATOR,
            "reason": "black-box test", "token": "", "updateTime": row["updateTime"]}),
        "a group-instance log row",
    );
    let removed = group_logs(&mut c, "group-instance-logs", r#"{"operation":"remove"}"#);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0]["instanceId"].as_str(), Some("i-1"));
    let filter = format!(r#"{{"groupId":{blue},"operatorId":"{OPERATOR}"}}"#);
    // A repeated insert changes nothing but is logged again, as in Java.
    assert_eq!(group_logs(&mut c, "group-instance-logs", &filter).len(), 4);
}

#[test]
fn service_instances_upsert_by_service_and_instance_id() {
    const SVC: &str = "logic-svc";
    let server = start();
    let mut c = server.client();
    let write = |c: &mut Client, port: u16| {
        group_write(
            c,
            "insert-service-instances",
            "define",
            sonic_rs::json!({"serviceInstances": [logic_instance(SVC, "logic-1", port)]}),
        );
    };
    write(&mut c, 8080);
    let of_svc = format!(r#"{{"serviceId":"{SVC}"}}"#);
    let rows = read_everywhere(
        &server,
        "get-service-instances",
        &of_svc,
        "serviceInstances",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let id = id_of(&rows[0], "id");
    assert_json(
        &rows[0],
        &sonic_rs::json!({"description": "logical", "groupId": "blue",
            "healthCheckUrl": "http://10.9.0.1/health", "id": id, "instanceId": "logic-1",
            "ip": "10.9.0.1", "machineName": "m1", "metadata": {"k": "v"}, "port": 8080,
            "protocol": "http", "regionId": REGION, "serviceId": SVC,
            "url": "http://10.9.0.1/", "zoneId": ZONE}),
        "a logical instance",
    );
    write(&mut c, 9090);
    let rows = group_list(
        &mut c,
        "get-service-instances",
        r#"{"instanceId":"LOGIC-1"}"#,
        "serviceInstances",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((id_of(&rows[0], "id"), id_of(&rows[0], "port")), (id, 9090));

    group_write(
        &mut c,
        "delete-service-instances",
        "undefine",
        sonic_rs::json!({"serviceInstanceIds": [id]}),
    );
    assert!(group_list(&mut c, "get-service-instances", &of_svc, "serviceInstances").is_empty());

    let rows = group_logs(&mut c, "service-instance-logs", &of_svc);
    let logged: Vec<(&str, i64)> = rows
        .iter()
        .map(|r| (r["operation"].as_str().unwrap(), id_of(r, "port")))
        .collect();
    assert_eq!(
        logged,
        [("define", 8080), ("define", 9090), ("undefine", 9090)]
    );
    let row = &rows[0];
    assert_json(
        row,
        &sonic_rs::json!({"createTime": row["createTime"], "groupId": "blue",
            "healthCheckUrl": "http://10.9.0.1/health", "id": row["id"],
            "instanceId": "logic-1", "ip": "10.9.0.1", "machineName": "m1",
            "metadata": r#"{"k":"v"}"#, "operation": "define", "operatorId": OPERATOR,
            "port": 8080, "protocol": "http", "regionId": REGION, "serviceId": SVC,
            "token": "", "updateTime": row["updateTime"], "url": "http://10.9.0.1/",
            "zoneId": ZONE}),
        "a service-instance log row (metadata as stored text)",
    );
    let filter = r#"{"instanceId":"logic-1","operation":"undefine"}"#;
    assert_eq!(group_logs(&mut c, "service-instance-logs", filter).len(), 1);
    assert!(group_logs(&mut c, "service-instance-logs", r#"{"serviceId":"x"}"#).is_empty());
}
