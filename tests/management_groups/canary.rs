//! update-canary-ips: the canary rule, group, link and instance list.

use super::*;

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
