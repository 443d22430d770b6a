//! Route rules (upsert by service and name, soft delete, filters, logs) and their groups'
//! weights, released and unreleased.

use super::*;

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
