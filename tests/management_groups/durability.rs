//! Store failures, graceful restarts and `kill -9` after an acknowledged write.

use super::*;

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
