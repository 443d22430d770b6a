//! Groups and route rules through the management API (spec §10.3, §10.4, §10.6, §10.7; issue
//! 12): every `group/*.json` endpoint, update-canary-ips and the six group logs against the
//! real binary — the answers' exact shapes, Java's refusals, upserts by natural key, soft
//! deletes, released and unreleased weights, the log filters, the token rule, the rate limits of
//! the filtered reads, and durability across restarts and `kill -9`.

use harness::*;

/// The filtered group reads are rate-limited at 30 per 10 s (Java's default); the suites here
/// read more than that, except where the limit is what is tested.
const ROOMY_LIMITS: &str = "[rate_limits.management_group]\ndefault_per_10s = 100000\n";

/// `"bad-request"` `"request is null"`, as Jackson wrote it.
const REQUEST_IS_NULL: &str =
    r#"{"errorCode":"bad-request","message":"request is null","status":"fail"}"#;

/// `ResponseStatusUtil.RATE_LIMITED_STATUS`.
const RATE_LIMITED: &str =
    r#"{"errorCode":"rate-limited","message":"Request is rate limited.","status":"fail"}"#;

const WRR: &str = "weighted-round-robin";

/// Two cores, so an acknowledged write must be in effect on a core other than the writer's.
fn start() -> Server {
    Server::start_sha(&["--shards", "2"], Some(ROOMY_LIMITS))
}

fn json(text: &str) -> Value {
    sonic_rs::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `v` with `key` set to `value`.
fn with(mut v: Value, key: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(key, value);
    v
}

/// `v` as text with every object's properties sorted: equal for equal JSON, whatever order
/// `json!` kept.
fn canonical(v: &Value) -> String {
    if let Some(items) = v.as_array() {
        let items: Vec<String> = items.iter().map(canonical).collect();
        return format!("[{}]", items.join(","));
    }
    if let Some(object) = v.as_object() {
        let mut properties: Vec<String> = object
            .iter()
            .map(|(k, v)| format!("{}:{}", dump(&Value::from(k)), canonical(v)))
            .collect();
        properties.sort();
        return format!("{{{}}}", properties.join(","));
    }
    dump(v)
}

/// Asserts `got` is exactly `want`, its properties in Jackson's alphabetical order.
fn assert_json(got: &Value, want: &Value, ctx: &str) {
    assert_sorted_keys(got, ctx);
    assert_eq!(canonical(got), canonical(want), "{ctx}");
}

/// The `i64` property `key` of `v`.
fn id_of(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is not a number: {}", dump(v)))
}

/// The rows a read of `name` answers for `body` (under `field`) on each of several fresh
/// connections, which different cores may serve: they must all agree.
fn read_everywhere(server: &Server, name: &str, body: &str, field: &str) -> Vec<Value> {
    let first = group_list(&mut server.client(), name, body, field);
    for n in 1..4 {
        let again = group_list(&mut server.client(), name, body, field);
        assert_eq!(
            again.iter().map(dump).collect::<Vec<_>>(),
            first.iter().map(dump).collect::<Vec<_>>(),
            "{name} {body} on fresh connection {n}"
        );
    }
    first
}

/// Every group endpoint, update-canary-ips and the group logs with its answer to a `null` body:
/// Java's "request is null" in the response class's shape.
fn null_body_answers() -> Vec<(String, String)> {
    let only_status = format!(r#"{{"responseStatus":{REQUEST_IS_NULL}}}"#);
    let before = |name: &str| format!(r#"{{"{name}":null,"responseStatus":{REQUEST_IS_NULL}}}"#);
    let after = |name: &str| format!(r#"{{"responseStatus":{REQUEST_IS_NULL},"{name}":null}}"#);
    let mut answers: Vec<(String, String)> = GROUP_ENDPOINTS
        .iter()
        .map(|&name| {
            let answer = match name {
                "get-all-route-rules" | "get-route-rules" => after("routeRules"),
                "get-all-route-rule-groups" | "get-route-rule-groups" => after("routeRuleGroups"),
                "get-all-groups" | "get-groups" => before("groups"),
                "get-all-group-tags" => before("allGroupTags"),
                "get-group-tags" => before("groupTags"),
                "get-all-group-operations" => before("allGroupOperations"),
                "get-group-operations" => before("groupOperations"),
                "get-group-instances" => before("groupInstances"),
                "get-service-instances" => after("serviceInstances"),
                _ => only_status.clone(),
            };
            (group_path(name), answer)
        })
        .collect();
    answers.push((UPDATE_CANARY_IPS.to_string(), only_status.clone()));
    for name in GROUP_LOGS {
        answers.push((group_log_path(name), before("logs")));
    }
    answers
}

#[test]
fn every_endpoint_answers_a_null_body_in_its_shape_with_and_without_the_path_prefix() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], Some(ROOMY_LIMITS));
    let mut c = server.client();
    let answers = null_body_answers();
    assert_eq!(answers.len(), 32 + 1 + 6);
    for (path, want) in &answers {
        for prefix in ["", "/artemis-service"] {
            let full = format!("{prefix}{path}");
            let r = c.request("POST", &full, &[], b"null");
            assert_eq!(
                (r.status, r.text()),
                (200, want.clone()),
                "POST {full} null"
            );
        }
        // Java mapped POST only.
        let r = c.request("GET", path, &[], b"");
        assert_eq!(r.status, 405, "GET {path}: {}", r.text());
        assert_eq!(r.header("Allow"), Some("POST, OPTIONS"), "GET {path}");
    }
}

#[test]
fn route_rules_upsert_by_service_and_name_soft_delete_and_filter() {
    const SVC: &str = "rules-svc";
    let server = start();
    let mut c = server.client();
    let r1 = route_rule_json(SVC, "r1", WRR);
    let r2 = route_rule_json(SVC, "r2", "close-by-visit");
    group_write(
        &mut c,
        "insert-route-rules",
        "create",
        sonic_rs::json!({"routeRules": [r1.clone(), r2.clone()]}),
    );
    let rules = read_everywhere(&server, "get-all-route-rules", "{}", "routeRules");
    assert_eq!(rules.len(), 2, "{rules:?}");
    let (id1, id2) = (
        id_of(&rules[0], "routeRuleId"),
        id_of(&rules[1], "routeRuleId"),
    );
    assert_json(
        &rules[0],
        &sonic_rs::json!({"description": "rule r1", "name": "r1", "routeRuleId": id1,
            "serviceId": SVC, "status": "active", "strategy": WRR}),
        "r1 as written",
    );
    assert_json(
        &rules[1],
        &sonic_rs::json!({"description": "rule r2", "name": "r2", "routeRuleId": id2,
            "serviceId": SVC, "status": "active", "strategy": "close-by-visit"}),
        "r2 as written",
    );

    // The natural key ignores case: an update of "R1" of the upper-cased service is r1.
    let edited = sonic_rs::json!({"serviceId": SVC.to_uppercase(), "name": "R1",
        "description": "edited", "status": "inactive", "strategy": "close-by-visit"});
    group_write(
        &mut c,
        "update-route-rules",
        "edit",
        sonic_rs::json!({"routeRules": [edited]}),
    );
    let rules = all_route_rules(&mut c);
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_json(
        &rules[0],
        &sonic_rs::json!({"description": "edited", "name": "r1", "routeRuleId": id1,
            "serviceId": SVC, "status": "inactive", "strategy": "close-by-visit"}),
        "r1 updated in place",
    );

    // The filtered read: each field narrows, text ignoring case, blank ignored.
    let ids = |c: &mut Client, filter: &str| -> Vec<i64> {
        group_list(c, "get-route-rules", filter, "routeRules")
            .iter()
            .map(|r| id_of(r, "routeRuleId"))
            .collect()
    };
    assert_eq!(ids(&mut c, "{}"), [id1, id2]);
    assert_eq!(
        ids(&mut c, &format!(r#"{{"serviceId":"{SVC}"}}"#)),
        [id1, id2]
    );
    assert_eq!(ids(&mut c, r#"{"name":"R2"}"#), [id2]);
    assert_eq!(ids(&mut c, r#"{"name":" ","status":"INACTIVE"}"#), [id1]);
    assert_eq!(ids(&mut c, &format!(r#"{{"routeRuleId":{id2}}}"#)), [id2]);
    assert!(ids(&mut c, r#"{"serviceId":"other-svc"}"#).is_empty());

    // Soft delete: gone from every read; inserting the key again brings the same row back.
    group_write(
        &mut c,
        "delete-route-rules",
        "drop",
        sonic_rs::json!({"routeRuleIds": [id1]}),
    );
    let live = read_everywhere(&server, "get-all-route-rules", "{}", "routeRules");
    assert_eq!(
        live.iter()
            .map(|r| id_of(r, "routeRuleId"))
            .collect::<Vec<_>>(),
        [id2]
    );
    assert!(ids(&mut c, &format!(r#"{{"routeRuleId":{id1}}}"#)).is_empty());
    group_write(
        &mut c,
        "insert-route-rules",
        "create",
        sonic_rs::json!({"routeRules": [r1]}),
    );
    assert_eq!(route_rule_id(&mut c, SVC, "r1"), id1, "un-deleted, not new");
    assert_eq!(all_route_rules(&mut c).len(), 2);

    // One log row per rule written or deleted, filterable.
    let rows = group_logs(
        &mut c,
        "route-rule-logs",
        &format!(r#"{{"serviceId":"{SVC}"}}"#),
    );
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
            ("r1", "create"),
            ("r2", "create"),
            ("R1", "edit"),
            ("r1", "drop"),
            ("r1", "create")
        ],
        "written rows log the request's spelling, deleted ones the stored row's"
    );
    let row = &rows[2];
    assert_json(
        row,
        &sonic_rs::json!({"complete": false, "createTime": row["createTime"],
            "extensions": "{}", "id": row["id"], "name": "R1", "operation": "edit",
            "operatorId": OPERATOR, "reason": "black-box test", "serviceId": SVC.to_uppercase(),
            "status": "inactive", "token": "", "updateTime": row["updateTime"]}),
        "a route-rule log row",
    );
    assert!(id_of(row, "createTime") > 0, "{}", dump(row));
    let count = |c: &mut Client, filter: &str| group_logs(c, "route-rule-logs", filter).len();
    assert_eq!(count(&mut c, r#"{"name":"R1"}"#), 4);
    assert_eq!(count(&mut c, r#"{"operation":"drop"}"#), 1);
    assert_eq!(
        count(&mut c, &format!(r#"{{"operatorId":"{OPERATOR}"}}"#)),
        5
    );
    assert_eq!(count(&mut c, r#"{"operatorId":"somebody-else"}"#), 0);
    assert_eq!(count(&mut c, r#"{"serviceId":"other-svc"}"#), 0);
}

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

/// `{"routeRuleId","groupId","unreleasedWeight","weight"}` of every row of a rule, by group id.
fn weights(rows: &[Value]) -> Vec<(i64, Option<i64>, Option<i64>)> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                id_of(r, "groupId"),
                r["unreleasedWeight"].as_i64(),
                r["weight"].as_i64(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn weights_of_a_route_rule_reach_weight_only_when_released() {
    const SVC: &str = "weights-svc";
    let server = start();
    let mut c = server.client();
    let blue = with(group_json(SVC, ZONE, "blue", "app"), "weight", 3.into());
    let green = with(group_json(SVC, ZONE, "green", "app"), "weight", 7.into());
    group_write(
        &mut c,
        "create-route-rule",
        "split",
        sonic_rs::json!({"routeRule": route_rule_json(SVC, "split", WRR), "groups": [blue, green]}),
    );
    let rule = route_rule_id(&mut c, SVC, "split");
    let blue = group_id(&mut c, SVC, ZONE, "blue");
    let green = group_id(&mut c, SVC, ZONE, "green");
    let of_rule = format!(r#"{{"routeRuleId":{rule}}}"#);
    let rows = group_list(&mut c, "get-route-rule-groups", &of_rule, "routeRuleGroups");
    assert_eq!(
        weights(&rows),
        [(blue, Some(3), None), (green, Some(7), None)],
        "created unreleased: {rows:?}"
    );
    let link = rows.iter().find(|r| id_of(r, "groupId") == blue).unwrap();
    assert_json(
        link,
        &sonic_rs::json!({"groupId": blue, "routeRuleGroupId": link["routeRuleGroupId"],
            "routeRuleId": rule, "unreleasedWeight": 3, "weight": null}),
        "a route-rule-group row",
    );

    let links = |b: i64, g: i64| {
        sonic_rs::json!({"routeRuleGroups": [
            {"routeRuleId": rule, "groupId": blue, "unreleasedWeight": b},
            {"routeRuleId": rule, "groupId": green, "unreleasedWeight": g},
        ]})
    };
    group_write(&mut c, "release-route-rule-groups", "release", links(3, 7));
    let released = read_everywhere(
        &server,
        "get-all-route-rule-groups",
        "{}",
        "routeRuleGroups",
    );
    assert_eq!(
        weights(&released),
        [(blue, Some(3), Some(3)), (green, Some(7), Some(7))]
    );

    // A new split is only proposed until it is released too.
    group_write(&mut c, "update-route-rule-groups", "propose", links(4, 6));
    let rows = group_list(&mut c, "get-route-rule-groups", &of_rule, "routeRuleGroups");
    assert_eq!(
        weights(&rows),
        [(blue, Some(4), Some(3)), (green, Some(6), Some(7))]
    );
    group_write(&mut c, "release-route-rule-groups", "release", links(4, 6));
    let rows = group_list(&mut c, "get-route-rule-groups", &of_rule, "routeRuleGroups");
    assert_eq!(
        weights(&rows),
        [(blue, Some(4), Some(4)), (green, Some(6), Some(6))]
    );

    // A third group joins through insert-route-rule-groups, then leaves.
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "red", "app")]}),
    );
    let red = group_id(&mut c, SVC, ZONE, "red");
    group_write(
        &mut c,
        "insert-route-rule-groups",
        "join",
        sonic_rs::json!({"routeRuleGroups": [{"routeRuleId": rule, "groupId": red, "unreleasedWeight": 1}]}),
    );
    let by_group = format!(r#"{{"groupId":{red}}}"#);
    let rows = group_list(
        &mut c,
        "get-route-rule-groups",
        &by_group,
        "routeRuleGroups",
    );
    assert_eq!(weights(&rows), [(red, Some(1), None)]);
    let red_link = id_of(&rows[0], "routeRuleGroupId");
    let by_id = format!(r#"{{"routeRuleGroupId":{red_link}}}"#);
    assert_eq!(
        group_list(&mut c, "get-route-rule-groups", &by_id, "routeRuleGroups").len(),
        1
    );
    group_write(
        &mut c,
        "delete-route-rule-groups",
        "leave",
        sonic_rs::json!({"routeRuleGroupIds": [red_link]}),
    );
    assert!(group_list(&mut c, "get-route-rule-groups", &by_id, "routeRuleGroups").is_empty());
    assert_eq!(all_route_rule_groups(&mut c).len(), 2);

    // The log names each write's weight, filterable by rule and group.
    let filter = format!(r#"{{"routeRuleId":{rule},"groupId":{blue}}}"#);
    let rows = group_logs(&mut c, "route-rule-group-logs", &filter);
    let logged: Vec<(&str, Option<i64>)> = rows
        .iter()
        .map(|r| (r["operation"].as_str().unwrap(), r["weight"].as_i64()))
        .collect();
    assert_eq!(
        logged,
        [
            ("split", Some(3)),
            ("release", Some(3)),
            ("propose", Some(4)),
            ("release", Some(4))
        ]
    );
    let row = &rows[0];
    assert_json(
        row,
        &sonic_rs::json!({"createTime": row["createTime"], "extensions": "{}",
            "groupId": blue, "id": row["id"], "operation": "split", "operatorId": OPERATOR,
            "reason": "black-box test", "routeRuleId": rule, "token": "",
            "updateTime": row["updateTime"], "weight": 3}),
        "a route-rule-group log row",
    );
    let count = |c: &mut Client, filter: &str| group_logs(c, "route-rule-group-logs", filter).len();
    assert_eq!(count(&mut c, &format!(r#"{{"groupId":{red}}}"#)), 2);
    assert_eq!(count(&mut c, r#"{"operation":"release"}"#), 4);
    // create-route-rule logged the rule and both groups too.
    assert_eq!(
        group_logs(&mut c, "route-rule-logs", r#"{"operation":"split"}"#).len(),
        1
    );
    assert_eq!(
        group_logs(&mut c, "group-logs", r#"{"operation":"split"}"#).len(),
        2
    );
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

/// A logical instance as the portal writes it.
fn logic_instance(service: &str, instance: &str, port: u16) -> Value {
    sonic_rs::json!({
        "serviceId": service, "instanceId": instance, "ip": "10.9.0.1", "machineName": "m1",
        "metadata": {"k": "v"}, "port": port, "protocol": "http", "regionId": REGION,
        "zoneId": ZONE, "groupId": "blue", "healthCheckUrl": "http://10.9.0.1/health",
        "url": "http://10.9.0.1/", "description": "logical",
    })
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

#[test]
fn canary_ips_create_the_canary_rule_group_and_instances_then_replace_the_list() {
    const SVC: &str = "canary-svc";
    const APP: &str = "canary-app";
    let server = start();
    let mut c = server.client();
    let canary = |c: &mut Client, ips: &[&str]| {
        group_write_to(
            c,
            UPDATE_CANARY_IPS,
            "canary",
            sonic_rs::json!({"serviceId": SVC, "appId": APP, "canaryIps": ips}),
        );
    };
    canary(&mut c, &["10.0.0.1", "10.0.0.2"]);
    let rules = read_everywhere(&server, "get-all-route-rules", "{}", "routeRules");
    assert_eq!(rules.len(), 1, "{rules:?}");
    let rule = id_of(&rules[0], "routeRuleId");
    assert_json(
        &rules[0],
        &sonic_rs::json!({"description": null, "name": "canary-route-rule",
            "routeRuleId": rule, "serviceId": SVC, "status": "active", "strategy": WRR}),
        "the canary rule",
    );
    let groups = all_groups(&mut c);
    assert_eq!(groups.len(), 1, "{groups:?}");
    let group = id_of(&groups[0], "groupId");
    // The canary group lives in the node's region.
    assert_json(
        &groups[0],
        &sonic_rs::json!({"appId": APP, "description": null, "groupId": group,
            "groupKey": format!("{SVC}/sha/canary/{APP}"), "metadata": null, "name": APP,
            "regionId": REGION, "serviceId": SVC, "status": "active", "zoneId": "canary"}),
        "the canary group",
    );
    let links = all_route_rule_groups(&mut c);
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(weights(&links), [(group, Some(5), None)]);
    assert_eq!(id_of(&links[0], "routeRuleId"), rule);
    let members = |c: &mut Client| -> Vec<String> {
        let body = format!(r#"{{"groupId":{group}}}"#);
        let mut ids: Vec<String> = group_list(c, "get-group-instances", &body, "groupInstances")
            .iter()
            .map(|r| r["instanceId"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(members(&mut c), ["10.0.0.1", "10.0.0.2"]);

    // The list is replaced; the rule, group and link are reused.
    canary(&mut c, &["10.0.0.2", "10.0.0.3", "10.0.0.3"]);
    assert_eq!(members(&mut c), ["10.0.0.2", "10.0.0.3"]);
    assert_eq!(all_route_rules(&mut c).len(), 1);
    assert_eq!(all_groups(&mut c).len(), 1);
    assert_eq!(
        weights(&all_route_rule_groups(&mut c)),
        [(group, Some(5), None)]
    );
    let rows = group_logs(
        &mut c,
        "group-instance-logs",
        &format!(r#"{{"groupId":{group}}}"#),
    );
    let mut logged: Vec<&str> = rows
        .iter()
        .map(|r| r["instanceId"].as_str().unwrap())
        .collect();
    logged.sort();
    assert_eq!(
        logged,
        ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3"],
        "one row per IP added or removed"
    );
    canary(&mut c, &[]);
    assert!(
        members(&mut c).is_empty(),
        "an empty list removes every canary IP"
    );
}

#[test]
fn refused_writes_answer_javas_message_and_change_nothing() {
    const SVC: &str = "refused-svc";
    let server = start();
    let mut c = server.client();
    let good_group = group_json(SVC, ZONE, "blue", "app");
    let failures: Vec<(String, Value, &str)> = vec![
        (
            group_path("insert-route-rules"),
            sonic_rs::json!({"routeRules": [with(route_rule_json(SVC, "r", WRR), "strategy", " ".into())]}),
            "insert route-rules failed.",
        ),
        (
            group_path("update-route-rules"),
            sonic_rs::json!({"routeRules": []}),
            "update route-rules failed.",
        ),
        (
            group_path("delete-route-rules"),
            sonic_rs::json!({"routeRuleIds": []}),
            "delete route-rules failed.",
        ),
        (
            group_path("create-route-rule"),
            sonic_rs::json!({"routeRule": route_rule_json(SVC, "r", WRR),
                "groups": [with(group_json("another-svc", ZONE, "g", "app"), "weight", 5.into())]}),
            "create route-rule failed.",
        ),
        (
            group_path("insert-route-rule-groups"),
            sonic_rs::json!({"routeRuleGroups": [{"routeRuleId": 1, "unreleasedWeight": 5}]}),
            "insert route-rule-groups failed.",
        ),
        (
            group_path("update-route-rule-groups"),
            sonic_rs::json!({"routeRuleGroups": null}),
            "update route-rule-groups failed.",
        ),
        (
            // sic: Java reuses the message of the read.
            group_path("release-route-rule-groups"),
            sonic_rs::json!({"routeRuleGroups": [{"groupId": 1}]}),
            "get route-rule-groups failed.",
        ),
        (
            group_path("delete-route-rule-groups"),
            sonic_rs::json!({}),
            "delete route-rule-groups failed.",
        ),
        (
            group_path("insert-groups"),
            sonic_rs::json!({"groups": [with(good_group.clone(), "appId", "".into())]}),
            "insert groups failed.",
        ),
        (
            group_path("update-groups"),
            sonic_rs::json!({"groups": [with(good_group.clone(), "zoneId", Value::new())]}),
            "update groups failed.",
        ),
        (
            group_path("delete-groups"),
            sonic_rs::json!({"groupIds": []}),
            "delete group failed.",
        ),
        (
            group_path("insert-group-tags"),
            sonic_rs::json!({"groupTagsList": [{"groupId": 1, "tags": {"env": " "}}]}),
            "insert group tag failed.",
        ),
        (
            group_path("update-group-tags"),
            sonic_rs::json!({"groupTagsList": [{"tags": {"env": "prod"}}]}),
            "update group tag failed.",
        ),
        (
            group_path("delete-group-tags"),
            sonic_rs::json!({"tag": " "}),
            "delete group-tags failed.",
        ),
        (
            group_path("operate-group-operation"),
            with(good_group.clone(), "name", " ".into()),
            "operate group operation failed.",
        ),
        (
            group_path("insert-group-instances"),
            sonic_rs::json!({"groupInstances": [{"groupId": 1, "instanceId": ""}]}),
            "insert group instances failed.",
        ),
        (
            group_path("delete-group-instances"),
            sonic_rs::json!({"groupInstanceIds": null}),
            "delete group instances failed.",
        ),
        (
            group_path("insert-service-instances"),
            sonic_rs::json!({"serviceInstances": [with(logic_instance(SVC, "l", 80), "metadata", Value::new())]}),
            "insert service instances failed.",
        ),
        (
            group_path("delete-service-instances"),
            sonic_rs::json!({"serviceInstanceIds": []}),
            "delete service instances failed.",
        ),
        (
            UPDATE_CANARY_IPS.to_string(),
            sonic_rs::json!({"serviceId": SVC, "appId": " ", "canaryIps": ["10.0.0.1"]}),
            "update canary ips",
        ),
        (
            UPDATE_CANARY_IPS.to_string(),
            sonic_rs::json!({"serviceId": SVC, "appId": "app"}),
            "update canary ips",
        ),
    ];
    for (path, fields, message) in &failures {
        let body = group_write_body("refused", fields.clone());
        let v = management_post(&mut c, path, &body);
        assert_fail(
            &v,
            "internal-service-error",
            message,
            &format!("POST {path} {body}"),
        );
    }
    // The operation context is checked on every group write but the tag writes: each field
    // blank in turn, and a null `extensions`.
    let insert_groups = group_path("insert-groups");
    let fields = sonic_rs::json!({"groups": [good_group]});
    for (field, value) in [
        ("operation", Value::from(" ")),
        ("operatorId", Value::from("")),
        ("token", Value::new()),
        ("extensions", Value::new()),
    ] {
        let body = with(
            json(&group_write_body("refused", fields.clone())),
            field,
            value,
        );
        let v = management_post(&mut c, &insert_groups, &dump(&body));
        assert_fail(
            &v,
            "internal-service-error",
            "insert groups failed.",
            &dump(&body),
        );
    }

    // Nothing of it was stored or logged.
    assert!(all_route_rules(&mut c).is_empty());
    assert!(all_groups(&mut c).is_empty());
    assert!(all_route_rule_groups(&mut c).is_empty());
    assert!(group_list(&mut c, "get-all-group-tags", "{}", "allGroupTags").is_empty());
    assert!(group_list(&mut c, "get-group-instances", "{}", "groupInstances").is_empty());
    assert!(group_list(&mut c, "get-service-instances", "{}", "serviceInstances").is_empty());
    for name in GROUP_LOGS {
        assert!(group_logs(&mut c, name, "{}").is_empty(), "{name}");
    }
}

#[test]
fn tokens_guard_every_group_write_and_a_bearer_token_stands_for_the_bodys() {
    const TOKEN: &str = "tok-groups-5e1c";
    const SVC: &str = "guarded-svc";
    let config = format!("{ROOMY_LIMITS}[management]\ntokens = [\"{TOKEN}\"]\n");
    let server = Server::start_sha(&[], Some(&config));
    let mut c = server.client();
    let insert = group_path("insert-groups");
    let body = group_write_body(
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "blue", "app")]}),
    );
    // The helpers' token is not one of the node's.
    let v = management_post(&mut c, &insert, &body);
    assert_fail_with_some_message(&v, "no-permission", "insert-groups with a wrong token");
    let tags = r#"{"groupTagsList":[{"groupId":1,"tags":{"env":"prod"}}]}"#;
    let v = management_post(&mut c, &group_path("insert-group-tags"), tags);
    assert_fail_with_some_message(&v, "no-permission", "a tag write is a write");
    let canary = group_write_body(
        "canary",
        sonic_rs::json!({"serviceId": SVC, "appId": "a", "canaryIps": []}),
    );
    let v = management_post(&mut c, UPDATE_CANARY_IPS, &canary);
    assert_fail_with_some_message(&v, "no-permission", "update-canary-ips");
    assert!(all_groups(&mut c).is_empty());

    // The node's token in the body.
    let v = management_post(&mut c, &insert, &with_field(&body, "token", TOKEN.into()));
    assert_write_ok(&v, "insert-groups with the node's token");
    // Or only as a bearer token: it also satisfies the operation context's `token`.
    let bearer = format!("Bearer {TOKEN}");
    let no_token = with_field(&body, "token", Value::new());
    let edited = no_token.replace("\"app\"", "\"app-2\"");
    let r = c.request(
        "POST",
        &insert,
        &[("Authorization", &bearer)],
        edited.as_bytes(),
    );
    assert_write_ok(&r.json(), "insert-groups with a bearer token");
    let groups = all_groups(&mut c);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["appId"].as_str(), Some("app-2"));

    // Reads stay open, and no answer shows a token.
    let mut seen = dump(&management_read(&mut c, &group_path("get-groups"), "{}"));
    for name in GROUP_LOGS {
        seen.push_str(&dump(&management_read(&mut c, &group_log_path(name), "{}")));
    }
    assert_eq!(group_logs(&mut c, "group-logs", "{}").len(), 2);
    assert!(!seen.contains(TOKEN), "a read shows the token: {seen}");
    assert!(
        !server.stderr().contains(TOKEN),
        "the server's log shows the token"
    );
}

#[test]
fn the_filtered_reads_are_rate_limited_in_their_shapes_and_counted() {
    let config = "[testing]\nmanual_clock = true\n\
        [rate_limits.management_group.per_identity]\n\
        \"get.route-rules\" = 2\n\"get.route-rule-groups\" = 2\n\"get.groups\" = 2\n";
    let server = Server::start_sha(&["--shards", "2"], Some(config));
    let limited = [
        (
            "get-route-rules",
            format!(r#"{{"responseStatus":{RATE_LIMITED},"routeRules":null}}"#),
        ),
        (
            "get-route-rule-groups",
            format!(r#"{{"responseStatus":{RATE_LIMITED},"routeRuleGroups":null}}"#),
        ),
        (
            "get-groups",
            format!(r#"{{"groups":null,"responseStatus":{RATE_LIMITED}}}"#),
        ),
    ];
    for (name, refused) in &limited {
        let path = group_path(name);
        // Counted node-wide: each request on a fresh connection, which either core may serve.
        for n in 1..=4 {
            let r = server.client().request("POST", &path, &[], b"{}");
            assert_eq!(r.status, 200, "{name} #{n}: {}", r.text());
            if n <= 2 {
                assert_success_status(&r.json(), &format!("{name} #{n}"));
            } else {
                assert_eq!(&r.text(), refused, "{name} #{n}");
            }
        }
    }
    // The unfiltered reads and the logs have no limiter.
    let mut c = server.client();
    for _ in 0..5 {
        management_read(&mut c, &group_path("get-all-groups"), "{}");
        management_read(&mut c, &group_log_path("group-logs"), "{}");
    }
    let metrics = c.request("GET", "/metrics", &[], b"").text();
    for (name, _) in &limited {
        let line = format!(
            "artemis_rate_limited_requests_total{{endpoint=\"{}\"}} ",
            group_path(name)
        );
        let counted = metrics
            .lines()
            .find_map(|l| l.strip_prefix(line.as_str()))
            .unwrap_or_else(|| panic!("no {line} in:\n{metrics}"));
        assert_eq!(counted, "2", "{name}");
    }
}

#[test]
fn a_store_failure_answers_the_endpoints_message_and_keeps_nothing() {
    const SVC: &str = "ro-groups-svc";
    let server = start();
    let db = server.data_dir().join(DB_FILE);
    let mut c = server.client();
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "blue", "app")]}),
    );
    let before = group_state(&mut c);

    set_mode(&db, 0o444);
    let writes = [
        (
            group_path("insert-groups"),
            sonic_rs::json!({"groups": [group_json(SVC, ZONE, "green", "app")]}),
            "insert groups failed.",
        ),
        (
            group_path("insert-route-rules"),
            sonic_rs::json!({"routeRules": [route_rule_json(SVC, "r", WRR)]}),
            "insert route-rules failed.",
        ),
        (
            UPDATE_CANARY_IPS.to_string(),
            sonic_rs::json!({"serviceId": SVC, "appId": "app", "canaryIps": ["10.0.0.1"]}),
            "update canary ips",
        ),
    ];
    for (path, fields, failed) in &writes {
        let body = group_write_body("refused", fields.clone());
        let v = management_post(&mut c, path, &body);
        let message = assert_fail_with_some_message(&v, "internal-service-error", path);
        assert!(
            message.starts_with(failed),
            "{path}: Java's message first, then the reason: {message}"
        );
    }
    assert_eq!(
        group_state(&mut c),
        before,
        "nothing of the failed writes is in effect"
    );

    set_mode(&db, 0o644);
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "green", "app")]}),
    );
    assert_eq!(all_groups(&mut c).len(), 2, "writable again");
}

/// Every group read and log, as text: what a restart must keep.
fn group_state(c: &mut Client) -> Vec<String> {
    let mut state = Vec::new();
    for (name, field) in [
        ("get-all-route-rules", "routeRules"),
        ("get-all-route-rule-groups", "routeRuleGroups"),
        ("get-all-groups", "groups"),
        ("get-all-group-tags", "allGroupTags"),
        ("get-all-group-operations", "allGroupOperations"),
        ("get-group-instances", "groupInstances"),
        ("get-service-instances", "serviceInstances"),
    ] {
        state.push(format!(
            "{name}: {:?}",
            group_list(c, name, "{}", field)
                .iter()
                .map(dump)
                .collect::<Vec<_>>()
        ));
    }
    for name in GROUP_LOGS {
        let rows: Vec<String> = group_logs(c, name, "{}").iter().map(dump).collect();
        state.push(format!("{name}: {rows:?}"));
    }
    state
}

/// One write of every kind that leaves rows behind.
fn write_every_kind(c: &mut Client, service: &str) {
    let blue = with(group_json(service, ZONE, "blue", "app"), "weight", 3.into());
    let green = with(
        group_json(service, ZONE, "green", "app"),
        "weight",
        7.into(),
    );
    group_write(
        c,
        "create-route-rule",
        "split",
        sonic_rs::json!({"routeRule": route_rule_json(service, "split", WRR), "groups": [blue, green]}),
    );
    let rule = route_rule_id(c, service, "split");
    let blue = group_id(c, service, ZONE, "blue");
    let green = group_id(c, service, ZONE, "green");
    group_write(
        c,
        "release-route-rule-groups",
        "release",
        sonic_rs::json!({"routeRuleGroups": [
            {"routeRuleId": rule, "groupId": blue, "unreleasedWeight": 3},
            {"routeRuleId": rule, "groupId": green, "unreleasedWeight": 7}]}),
    );
    group_write(
        c,
        "insert-group-tags",
        "tag",
        json(&format!(
            r#"{{"groupTagsList":[{{"groupId":{blue},"tags":{{"env":"prod"}}}}]}}"#
        )),
    );
    group_write(
        c,
        "operate-group-operations",
        "pull",
        sonic_rs::json!({"groupOperationsList": [{"groupId": green, "operations": ["pullout"]}],
            "operationComplete": false}),
    );
    group_write(
        c,
        "insert-group-instances",
        "add",
        sonic_rs::json!({"groupInstances": [{"groupId": blue, "instanceId": "i-1"}]}),
    );
    group_write(
        c,
        "insert-service-instances",
        "define",
        sonic_rs::json!({"serviceInstances": [logic_instance(service, "logic-1", 8080)]}),
    );
    group_write_to(
        c,
        UPDATE_CANARY_IPS,
        "canary",
        sonic_rs::json!({"serviceId": service, "appId": "canary-app", "canaryIps": ["10.0.0.9"]}),
    );
    group_write(
        c,
        "insert-route-rules",
        "create",
        sonic_rs::json!({"routeRules": [route_rule_json(service, "doomed", WRR)]}),
    );
    let doomed = route_rule_id(c, service, "doomed");
    group_write(
        c,
        "delete-route-rules",
        "drop",
        sonic_rs::json!({"routeRuleIds": [doomed]}),
    );
}

#[test]
fn a_restart_keeps_every_group_row_and_log() {
    let home = NodeHome::new(Some(ROOMY_LIMITS), &["--shards", "2"]);
    let mut server = home.start();
    let mut c = server.client();
    write_every_kind(&mut c, "durable-groups-svc");
    let before = group_state(&mut c);
    assert!(
        before.iter().all(|entry| !entry.ends_with(": []")),
        "every read has rows to keep: {before:#?}"
    );
    drop(c);
    server.stop_gracefully();

    let server = home.start();
    assert_eq!(
        group_state(&mut server.client()),
        before,
        "after a graceful restart"
    );
    // The restored rows are live: writes go on from them.
    let mut c = server.client();
    let blue = group_id(&mut c, "durable-groups-svc", ZONE, "blue");
    group_write(
        &mut c,
        "delete-groups",
        "drop",
        sonic_rs::json!({"groupIds": [blue]}),
    );
    assert_eq!(
        all_groups(&mut c).len(),
        2,
        "green and the canary group are left"
    );
}

#[test]
fn kill_9_right_after_an_acknowledged_group_write_keeps_it() {
    const ROUNDS: usize = 8;
    const SVC: &str = "kill-groups-svc";
    let home = NodeHome::new(Some(ROOMY_LIMITS), &["--shards", "2"]);
    // Round r finds the groups of rounds 0..r and their log rows, writes group r (a new group
    // in even rounds, a tag of the previous group in odd ones: both kinds of commit), and is
    // killed at once.
    for round in 0..=ROUNDS {
        let mut server = home.start();
        let mut c = server.client();
        let ctx = format!("start of round {round}");
        let groups = all_groups(&mut c);
        assert_eq!(groups.len(), round.div_ceil(2), "{ctx}: {groups:?}");
        assert_eq!(
            group_logs(&mut c, "group-logs", "{}").len(),
            round.div_ceil(2),
            "{ctx}"
        );
        let tags = group_list(&mut c, "get-all-group-tags", "{}", "allGroupTags");
        assert_eq!(tags.len(), round / 2, "{ctx}: {tags:?}");
        if round == ROUNDS {
            break;
        }
        if round % 2 == 0 {
            let name = format!("g{round}");
            group_write(
                &mut c,
                "insert-groups",
                "create",
                sonic_rs::json!({"groups": [group_json(SVC, ZONE, &name, "app")]}),
            );
        } else {
            let id = group_id(&mut c, SVC, ZONE, &format!("g{}", round - 1));
            group_write(
                &mut c,
                "insert-group-tags",
                "tag",
                json(&format!(
                    r#"{{"groupTagsList":[{{"groupId":{id},"tags":{{"round":"{round}"}}}}]}}"#
                )),
            );
        }
        server.kill_hard();
    }
}
