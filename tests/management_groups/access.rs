//! Who may write (tokens) and how often the filtered reads may be asked (rate limits).

use super::*;

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
