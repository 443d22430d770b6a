//! Every endpoint's answer to a `null` body, with and without the path prefix, and Java's
//! refusals of bad writes, which change nothing.

use super::*;

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
