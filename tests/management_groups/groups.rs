//! Groups (upsert by key, soft delete, filters, logs), their tags and their operations.

use super::*;

#[test]
fn groups_upsert_by_their_key_soft_delete_and_filter() {
    const SVC: &str = "groups-svc";
    let server = start();
    let mut c = server.client();
    let blue = group_json(SVC, ZONE, "Blue", "app-a");
    let green = group_json(SVC, "SHAOY", "green", "app-b");
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [blue.clone(), green]}),
    );
    let groups = read_everywhere(&server, "get-all-groups", "{}", "groups");
    assert_eq!(groups.len(), 2, "{groups:?}");
    let (blue_id, green_id) = (id_of(&groups[0], "groupId"), id_of(&groups[1], "groupId"));
    assert_json(
        &groups[0],
        &sonic_rs::json!({"appId": "app-a", "description": "group Blue", "groupId": blue_id,
            "groupKey": format!("{SVC}/sha/shajq/blue"), "metadata": null, "name": "Blue",
            "regionId": REGION, "serviceId": SVC, "status": "active", "zoneId": ZONE}),
        "a group as written, its key lower-case",
    );

    // update-groups of the same key (any case) replaces app, description and status.
    let edited = with(
        with(
            group_json(&SVC.to_uppercase(), "shajq", "BLUE", "app-c"),
            "status",
            "inactive".into(),
        ),
        "description",
        Value::new(),
    );
    group_write(
        &mut c,
        "update-groups",
        "edit",
        sonic_rs::json!({"groups": [edited]}),
    );
    let groups = all_groups(&mut c);
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert_json(
        &groups[0],
        &sonic_rs::json!({"appId": "app-c", "description": null, "groupId": blue_id,
            "groupKey": format!("{SVC}/sha/shajq/blue"), "metadata": null, "name": "Blue",
            "regionId": REGION, "serviceId": SVC, "status": "inactive", "zoneId": ZONE}),
        "updated in place",
    );

    let ids = |c: &mut Client, filter: &str| -> Vec<i64> {
        group_list(c, "get-groups", filter, "groups")
            .iter()
            .map(|g| id_of(g, "groupId"))
            .collect()
    };
    assert_eq!(ids(&mut c, "{}"), [blue_id, green_id]);
    assert_eq!(ids(&mut c, r#"{"zoneId":"shaoy"}"#), [green_id]);
    assert_eq!(
        ids(&mut c, r#"{"name":"blue","regionId":"SHA"}"#),
        [blue_id]
    );
    assert_eq!(ids(&mut c, r#"{"appId":"app-b"}"#), [green_id]);
    assert_eq!(ids(&mut c, r#"{"status":"inactive"}"#), [blue_id]);
    assert_eq!(
        ids(&mut c, &format!(r#"{{"serviceId":"{SVC}","zoneId":" "}}"#)),
        [blue_id, green_id]
    );
    // Java's filter does not use the request's groupId.
    assert_eq!(
        ids(&mut c, &format!(r#"{{"groupId":{green_id}}}"#)),
        [blue_id, green_id]
    );
    assert!(ids(&mut c, r#"{"regionId":"other"}"#).is_empty());

    group_write(
        &mut c,
        "delete-groups",
        "drop",
        sonic_rs::json!({"groupIds": [green_id, 987_654]}),
    );
    let live = read_everywhere(&server, "get-all-groups", "{}", "groups");
    assert_eq!(
        live.iter().map(|g| id_of(g, "groupId")).collect::<Vec<_>>(),
        [blue_id]
    );
    assert_eq!(
        ids(&mut c, "{}"),
        [blue_id],
        "get-groups skips deleted groups"
    );
    // Inserting it again is the same row, live again.
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, "SHAOY", "green", "app-b")]}),
    );
    assert_eq!(group_id(&mut c, SVC, "SHAOY", "green"), green_id);

    // group-logs: one row per group written or deleted (the unknown id logs nothing).
    let rows = group_logs(&mut c, "group-logs", &format!(r#"{{"serviceId":"{SVC}"}}"#));
    let ops: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("Blue", "create"),
            ("green", "create"),
            ("BLUE", "edit"),
            ("green", "drop"),
            ("green", "create")
        ]
    );
    let row = &rows[0];
    assert_json(
        row,
        &sonic_rs::json!({"appId": "app-a", "createTime": row["createTime"],
            "extensions": "{}", "id": row["id"], "name": "Blue", "operation": "create",
            "operatorId": OPERATOR, "reason": "black-box test", "regionId": REGION,
            "serviceId": SVC, "status": "active", "token": "", "updateTime": row["updateTime"],
            "zoneId": ZONE}),
        "a group log row",
    );
    let count = |c: &mut Client, filter: &str| group_logs(c, "group-logs", filter).len();
    assert_eq!(count(&mut c, r#"{"zoneId":"SHAOY"}"#), 3);
    assert_eq!(count(&mut c, r#"{"name":"blue","operation":"edit"}"#), 1);
    assert_eq!(count(&mut c, r#"{"appId":"app-b","regionId":"sha"}"#), 3);
    assert_eq!(count(&mut c, r#"{"operatorId":"somebody-else"}"#), 0);
}

#[test]
fn group_tags_are_upserted_by_tag_and_deleted_by_what_is_named() {
    const SVC: &str = "tags-svc";
    let server = start();
    let mut c = server.client();
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "blue", "app")]}),
    );
    let blue = group_id(&mut c, SVC, ZONE, "blue");
    let tags_of = |c: &mut Client, group: &str| -> Value {
        let v = management_read(c, &group_path("get-group-tags"), group);
        assert_read_shape(&v, &["groupTags", "responseStatus"], "get-group-tags");
        v["groupTags"].clone()
    };
    let of_blue = format!(r#"{{"groupId":{blue}}}"#);
    assert!(tags_of(&mut c, &of_blue).is_null(), "no tags yet");

    // Java checks no operation context on tag writes.
    let body = format!(
        r#"{{"groupTagsList":[{{"groupId":{blue},"tags":{{"env":"prod","tier":"web"}}}}]}}"#
    );
    let v = management_post(&mut c, &group_path("insert-group-tags"), &body);
    assert_write_ok(&v, "insert-group-tags without an operation context");
    assert_json(
        &tags_of(&mut c, &of_blue),
        &sonic_rs::json!({"groupId": blue, "tags": {"env": "prod", "tier": "web"}}),
        "tags as written",
    );
    group_write(
        &mut c,
        "update-group-tags",
        "retag",
        json(&format!(
            r#"{{"groupTagsList":[{{"groupId":{blue},"tags":{{"env":"staging"}}}}]}}"#
        )),
    );
    let want = sonic_rs::json!({"groupId": blue, "tags": {"env": "staging", "tier": "web"}});
    assert_json(&tags_of(&mut c, &of_blue), &want, "env replaced, tier kept");
    let all = read_everywhere(&server, "get-all-group-tags", "{}", "allGroupTags");
    assert_eq!(all.len(), 1, "{all:?}");
    assert_json(&all[0], &want, "get-all-group-tags");

    group_write(
        &mut c,
        "delete-group-tags",
        "untag",
        sonic_rs::json!({"groupId": blue, "tag": "tier"}),
    );
    assert_json(
        &tags_of(&mut c, &of_blue),
        &sonic_rs::json!({"groupId": blue, "tags": {"env": "staging"}}),
        "tier deleted",
    );
    group_write(
        &mut c,
        "delete-group-tags",
        "untag",
        sonic_rs::json!({"value": "staging"}),
    );
    assert!(tags_of(&mut c, &of_blue).is_null(), "every tag deleted");
    assert!(tags_of(&mut c, "{}").is_null(), "no group named");
    assert!(group_list(&mut c, "get-all-group-tags", "{}", "allGroupTags").is_empty());
}

#[test]
fn group_operations_pull_a_group_out_and_in_and_are_logged() {
    const SVC: &str = "ops-svc";
    let server = start();
    let mut c = server.client();
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "blue", "app")]}),
    );
    let blue = group_id(&mut c, SVC, ZONE, "blue");
    let operations_of = |c: &mut Client, group: i64| -> Vec<String> {
        let body = format!(r#"{{"groupId":{group}}}"#);
        let v = management_read(c, &group_path("get-group-operations"), &body);
        assert_read_shape(
            &v,
            &["groupOperations", "responseStatus"],
            "get-group-operations",
        );
        let ops = &v["groupOperations"];
        if ops.is_null() {
            return Vec::new();
        }
        assert_eq!(id_of(ops, "groupId"), group, "{}", dump(&v));
        let mut out: Vec<String> = ops["operations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap().to_string())
            .collect();
        out.sort();
        out
    };
    let operate = |c: &mut Client, operations: &[&str], complete: bool| {
        group_write(
            c,
            "operate-group-operations",
            "batch",
            sonic_rs::json!({"groupOperationsList": [{"groupId": blue, "operations": operations}],
                "operationComplete": complete}),
        );
    };
    assert!(operations_of(&mut c, blue).is_empty());
    operate(&mut c, &["pullout", "deploy"], false);
    assert_eq!(operations_of(&mut c, blue), ["deploy", "pullout"]);
    let all = read_everywhere(
        &server,
        "get-all-group-operations",
        "{}",
        "allGroupOperations",
    );
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(id_of(&all[0], "groupId"), blue);
    operate(&mut c, &["deploy"], true);
    assert_eq!(operations_of(&mut c, blue), ["pullout"]);

    // operate-group-operation names the group by its fields and creates it when missing; the
    // operation is the context's.
    let fields = with(
        group_json(SVC, ZONE, "fresh", "app"),
        "operationComplete",
        false.into(),
    );
    group_write(&mut c, "operate-group-operation", "drill", fields.clone());
    let fresh = group_id(&mut c, SVC, ZONE, "fresh");
    assert_eq!(operations_of(&mut c, fresh), ["drill"]);
    group_write(
        &mut c,
        "operate-group-operation",
        "drill",
        with(fields, "operationComplete", true.into()),
    );
    assert!(operations_of(&mut c, fresh).is_empty());
    assert_eq!(all_groups(&mut c).len(), 2, "the created group stays");

    let rows = group_logs(
        &mut c,
        "group-operation-logs",
        &format!(r#"{{"groupId":{blue}}}"#),
    );
    let logged: Vec<(&str, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["operation"].as_str().unwrap(),
                r["complete"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        logged,
        [("pullout", false), ("deploy", false), ("deploy", true)]
    );
    let row = &rows[0];
    assert_json(
        row,
        &sonic_rs::json!({"complete": false, "createTime": row["createTime"],
            "extensions": "{}", "groupId": blue, "id": row["id"], "operation": "pullout",
            "operatorId": OPERATOR, "reason": "black-box test", "token": "",
            "updateTime": row["updateTime"]}),
        "a group-operation log row",
    );
    let count = |c: &mut Client, filter: &str| group_logs(c, "group-operation-logs", filter).len();
    assert_eq!(count(&mut c, r#"{"complete":true}"#), 2);
    assert_eq!(count(&mut c, r#"{"operation":"drill"}"#), 2);
    assert_eq!(
        count(
            &mut c,
            &format!(r#"{{"groupId":{fresh},"complete":false}}"#)
        ),
        1
    );
    assert_eq!(count(&mut c, r#"{"operatorId":"somebody-else"}"#), 0);
}
