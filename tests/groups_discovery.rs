//! Groups and route rules as discovery serves them (spec §3.2, §3.3, §10.2, §11.6; issue 12),
//! against the real binary: route rules with their released weights, logical instances and
//! canary groups in `lookup.json`, `service.json` and `services.json`, each change announced to
//! WebSocket subscribers with one `reload` and a new version; group pull-outs as `delete` /
//! `new` pushes; all of it across restarts and `kill -9`; the management views' groups,
//! logical instances and route rules. The served JSON is also read back through
//! `protocol::route`, as a Rust client would route on it.

use harness::*;
use protocol::route::{route_rules, EffectiveRule, ServedService, DEFAULT_ROUTE_RULE};

const WRR: &str = "weighted-round-robin";
const DELTA: &str = "/api/discovery/services-delta.json";

/// Two cores, so what a write changed must be served by a core other than the writer's.
fn start() -> Server {
    Server::start_sha(&["--shards", "2"], None)
}

/// `v` as text with every object's properties sorted and every `instances` list sorted by
/// instance id: equal for the same data whatever order a registry walk produced.
fn canonical(v: &Value) -> String {
    if let Some(items) = v.as_array() {
        let items: Vec<String> = items.iter().map(canonical).collect();
        return format!("[{}]", items.join(","));
    }
    if let Some(object) = v.as_object() {
        let mut properties: Vec<String> = object
            .iter()
            .map(|(k, v)| {
                let value = match v.as_array() {
                    Some(list) if k == "instances" => {
                        let mut items: Vec<&Value> = list.iter().collect();
                        items.sort_by_key(|i| i["instanceId"].as_str().map(str::to_owned));
                        format!(
                            "[{}]",
                            items
                                .into_iter()
                                .map(canonical)
                                .collect::<Vec<_>>()
                                .join(",")
                        )
                    }
                    _ => canonical(v),
                };
                format!("{}:{value}", dump(&Value::from(k)))
            })
            .collect();
        properties.sort();
        return format!("{{{}}}", properties.join(","));
    }
    dump(v)
}

fn json(text: &str) -> Value {
    sonic_rs::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `services.json`'s data version.
fn version(c: &mut Client) -> u64 {
    let (st, v) = c.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(st, 200, "services.json: {}", dump(&v));
    v["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("services.json version: {}", dump(&v)))
}

/// The `changeType`s `services-delta.json` lists for `service` since `since`.
fn delta_kinds(c: &mut Client, since: u64, service: &str) -> Vec<String> {
    let body = format!(r#"{{"regionId":"SHA","zoneId":"SHAJQ","version":{since}}}"#);
    let (st, v) = c.post_json(DELTA, &body);
    assert_eq!(st, 200, "services-delta.json: {}", dump(&v));
    assert_success_status(&v, "services-delta.json");
    v["delta"][service]
        .as_array()
        .map(|changes| {
            changes
                .iter()
                .map(|c| c["changeType"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The Service discovery serves for `service`, after checking that lookups on several fresh
/// connections (which different cores may accept), `service.json` and `services.json` (when
/// it lists the service) serve it alike. Instances are compared by id, whatever their order.
fn served(server: &Server, service: &str, ctx: &str) -> Value {
    let first = lookup_one(&mut server.client(), service);
    assert_sorted_keys(&first, ctx);
    for n in 1..4 {
        let again = lookup_one(&mut server.client(), service);
        assert_eq!(
            canonical(&again),
            canonical(&first),
            "{ctx}: lookup on fresh connection {n}"
        );
    }
    let mut c = server.client();
    let body = sonic_rs::to_string(&sonic_rs::json!({
        "discoveryConfig": {"serviceId": service, "regionId": REGION, "zoneId": ZONE},
        "regionId": REGION, "zoneId": ZONE,
    }))
    .unwrap();
    let (st, v) = c.post_json(SERVICE, &body);
    assert_eq!(st, 200, "{ctx}: service.json: {}", dump(&v));
    assert_success_status(&v, &format!("{ctx}: service.json"));
    assert_eq!(
        canonical(&v["service"]),
        canonical(&first),
        "{ctx}: service.json"
    );
    let (st, v) = c.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(st, 200, "{ctx}: services.json: {}", dump(&v));
    let listed: Vec<&Value> = v["services"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: services.json: {}", dump(&v)))
        .iter()
        .filter(|s| s["serviceId"].as_str() == Some(service))
        .collect();
    let has_instances = first["instances"].as_array().is_some_and(|i| !i.is_empty());
    assert_eq!(
        listed.len(),
        usize::from(has_instances),
        "{ctx}: services.json lists the services with instances: {}",
        dump(&v)
    );
    if let Some(entry) = listed.first() {
        assert_eq!(canonical(entry), canonical(&first), "{ctx}: services.json");
    }
    first
}

/// `served(..).routeRules`, compared whole.
fn assert_route_rules(service: &Value, want: Value, ctx: &str) {
    assert_eq!(
        canonical(&service["routeRules"]),
        canonical(&want),
        "{ctx}: routeRules: {}",
        dump(&service["routeRules"])
    );
}

/// A served `ServiceGroup` of a rule other than the canary one.
fn served_group(key: &str, weight: i64, instance_ids: &[&str], tags: Value) -> Value {
    sonic_rs::json!({"groupKey": key, "instanceIds": instance_ids, "instances": null,
        "metadata": tags, "weight": weight})
}

fn served_rule(name: &str, strategy: &str, groups: Vec<Value>) -> Value {
    sonic_rs::json!({"groups": groups, "routeId": name, "strategy": strategy})
}

/// A rule a client routes on: `(route id, [(group key, weight, sorted member ids)])`.
type Routed = (String, Vec<(String, u32, Vec<String>)>);

/// What a Rust client routes on: the served Service read by `protocol`, then its rules as
/// `route_rules` builds them.
fn routed(service: &Value) -> Vec<Routed> {
    let parsed: ServedService =
        protocol::model::parse(dump(service).as_bytes()).unwrap_or_else(|e| {
            panic!(
                "protocol cannot read the served Service ({e:?}): {}",
                dump(service)
            )
        });
    route_rules(&parsed)
        .iter()
        .map(|rule: &EffectiveRule| {
            let groups = rule
                .groups
                .iter()
                .map(|g| {
                    let mut ids: Vec<String> = g
                        .instances
                        .iter()
                        .map(|i| i.instance_id.as_deref().unwrap_or_default().to_owned())
                        .collect();
                    ids.sort();
                    (g.group_key.clone(), g.weight, ids)
                })
                .collect();
            (rule.route_id.clone(), groups)
        })
        .collect()
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// `Inst::new(service, id)` in group `group` (None: the default group).
fn member(service: &str, id: &str, group: Option<&str>) -> Inst {
    let inst = Inst::new(service, id);
    match group {
        Some(g) => inst.group(g),
        None => inst,
    }
}

/// Proves `ws` received nothing more for `service` since the last push read: a marker
/// instance registered and unregistered must be the next two pushes (a shard records a
/// service's changes in order, and a session gets them in that order).
fn assert_no_more_pushes(ws: &mut Ws, c: &mut Client, service: &str, ctx: &str) {
    let marker = Inst::new(service, "push-marker");
    register(c, std::slice::from_ref(&marker));
    expect_change(
        ws,
        "new",
        &marker,
        &format!("{ctx}: the marker's new comes next"),
    );
    unregister(c, std::slice::from_ref(&marker));
    expect_change(
        ws,
        "delete",
        &marker,
        &format!("{ctx}: the marker's delete"),
    );
}

/// `(changeType, instanceId)` of the next `n` pushes, sorted.
fn next_changes(ws: &mut Ws, n: usize, ctx: &str) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = (0..n)
        .map(|i| {
            let v = next_change(ws, &format!("{ctx}: push {i}"));
            (
                v["changeType"].as_str().unwrap_or_default().to_owned(),
                v["instance"]["instanceId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    got.sort();
    got
}

fn ids(service: &Value, list: &str) -> Vec<String> {
    let mut out: Vec<String> = service[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is not a list: {}", dump(service)))
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap_or_default().to_owned())
        .collect();
    out.sort();
    out
}

/// The blue (3) / green (7) split of `service` in zone SHAJQ: created (unreleased), its rule
/// id and the two group ids.
fn create_split(c: &mut Client, service: &str) -> (i64, i64, i64) {
    let weighted = |name: &str, weight: i64| {
        let mut g = group_json(service, ZONE, name, "app");
        g.as_object_mut().unwrap().insert("weight", weight);
        g
    };
    group_write(
        c,
        "create-route-rule",
        "split",
        sonic_rs::json!({"routeRule": route_rule_json(service, "split", WRR),
            "groups": [weighted("blue", 3), weighted("green", 7)]}),
    );
    (
        route_rule_id(c, service, "split"),
        group_id(c, service, ZONE, "blue"),
        group_id(c, service, ZONE, "green"),
    )
}

#[test]
fn a_route_rule_is_served_with_its_weights_only_once_they_are_released() {
    const SVC: &str = "split-svc";
    let server = start();
    let mut c = server.client();
    let blue = [
        member(SVC, "b1", Some("blue")),
        member(SVC, "b2", Some("blue")),
    ];
    let green = member(SVC, "g1", Some("green"));
    let plain = member(SVC, "d1", None);
    register(&mut c, &blue);
    register(&mut c, &[green.clone(), plain.clone()]);
    let mut ws = subscriber(&server, SVC);
    let v0 = version(&mut c);

    let (rule, blue_id, green_id) = create_split(&mut c, SVC);
    expect_reload(&mut ws, SVC, "the rule is created");
    let v1 = version(&mut c);
    assert!(v1 > v0, "a reload is a new version: {v0} then {v1}");
    // Unreleased weights are not served: Java fixes the missing released weight to 5.
    let svc = served(&server, SVC, "created");
    let blue_key = format!("{SVC}/sha/shajq/blue");
    let green_key = format!("{SVC}/sha/shajq/green");
    assert_route_rules(
        &svc,
        sonic_rs::json!([served_rule(
            "split",
            WRR,
            vec![
                served_group(&blue_key, 5, &[], Value::new()),
                served_group(&green_key, 5, &[], Value::new()),
            ]
        )]),
        "before the release",
    );

    // The release copies the weights proposed at creation.
    group_write(
        &mut c,
        "release-route-rule-groups",
        "release",
        sonic_rs::json!({"routeRuleGroups": [
            {"routeRuleId": rule, "groupId": blue_id},
            {"routeRuleId": rule, "groupId": green_id}]}),
    );
    expect_reload(&mut ws, SVC, "the weights are released");
    assert_no_more_pushes(&mut ws, &mut c, SVC, "one reload per write");
    let v2 = version(&mut c);
    assert!(v2 > v1, "the release is a new version: {v1} then {v2}");
    assert!(
        delta_kinds(&mut c, v1, SVC).contains(&"reload".to_owned()),
        "services-delta.json since the created rule lists the release's reload"
    );
    let svc = served(&server, SVC, "released");
    assert_eq!(ids(&svc, "instances"), ["b1", "b2", "d1", "g1"]);
    assert_eq!(arr_len(&svc["logicInstances"], "logicInstances"), 0);
    assert_route_rules(
        &svc,
        sonic_rs::json!([served_rule(
            "split",
            WRR,
            vec![
                served_group(&blue_key, 3, &[], Value::new()),
                served_group(&green_key, 7, &[], Value::new()),
            ]
        )]),
        "after the release",
    );
    // A client routes blue 3 : green 7 over the instances under each group's key, and keeps
    // the synthesized default rule over every instance.
    assert_eq!(
        routed(&svc),
        [
            (
                "split".to_owned(),
                vec![
                    (blue_key.clone(), 3, strings(&["b1", "b2"])),
                    (green_key.clone(), 7, strings(&["g1"])),
                ]
            ),
            (
                DEFAULT_ROUTE_RULE.to_owned(),
                vec![(
                    "default-group-key".to_owned(),
                    5,
                    strings(&["b1", "b2", "d1", "g1"])
                )]
            ),
        ]
    );

    // Tags are served as the group's metadata, with a reload.
    group_write(
        &mut c,
        "insert-group-tags",
        "tag",
        json(&format!(
            r#"{{"groupTagsList":[{{"groupId":{green_id},"tags":{{"env":"prod"}}}}]}}"#
        )),
    );
    expect_reload(&mut ws, SVC, "green is tagged");
    let svc = served(&server, SVC, "tagged");
    assert_route_rules(
        &svc,
        sonic_rs::json!([served_rule(
            "split",
            WRR,
            vec![
                served_group(&blue_key, 3, &[], Value::new()),
                served_group(&green_key, 7, &[], sonic_rs::json!({"env": "prod"})),
            ]
        )]),
        "tagged",
    );

    // Deleting the rule serves no rule again.
    group_write(
        &mut c,
        "delete-route-rules",
        "drop",
        sonic_rs::json!({ "routeRuleIds": [rule] }),
    );
    expect_reload(&mut ws, SVC, "the rule is deleted");
    let svc = served(&server, SVC, "deleted");
    assert_route_rules(&svc, sonic_rs::json!([]), "after the delete");
}

/// A logical instance as the portal writes it.
fn logical(service: &str, instance: &str) -> Value {
    sonic_rs::json!({
        "serviceId": service, "instanceId": instance, "ip": "10.9.0.1", "machineName": "m1",
        "metadata": {"k": "v"}, "port": 8080, "protocol": "http", "regionId": REGION,
        "zoneId": ZONE, "groupId": "blue", "healthCheckUrl": "http://10.9.0.1/health",
        "url": "http://10.9.0.1/", "description": "logical",
    })
}

/// The logical instance as discovery serves it: an Instance, status up, no description.
fn served_logical(service: &str, instance: &str) -> Value {
    sonic_rs::json!({
        "groupId": "blue", "healthCheckUrl": "http://10.9.0.1/health", "instanceId": instance,
        "ip": "10.9.0.1", "machineName": "m1", "metadata": {"k": "v"}, "port": 8080,
        "protocol": "http", "regionId": REGION, "serviceId": service, "status": "up",
        "url": "http://10.9.0.1/", "zoneId": ZONE,
    })
}

#[test]
fn logical_instances_are_served_routed_by_listed_id_and_hidden_by_pull_outs() {
    const SVC: &str = "logic-svc";
    let server = start();
    let mut c = server.client();
    let real = member(SVC, "r1", None);
    register(&mut c, std::slice::from_ref(&real));
    let mut ws = subscriber(&server, SVC);

    group_write(
        &mut c,
        "insert-service-instances",
        "define",
        sonic_rs::json!({ "serviceInstances": [logical(SVC, "logic-1")] }),
    );
    expect_reload(&mut ws, SVC, "a logical instance is defined");
    let svc = served(&server, SVC, "defined");
    assert_eq!(
        canonical(&svc["logicInstances"]),
        canonical(&sonic_rs::json!([served_logical(SVC, "logic-1")])),
        "{}",
        dump(&svc)
    );
    assert_eq!(ids(&svc, "instances"), ["r1"], "logical ones stay apart");

    // A rule's group takes the logical instance by its listed id, never by its group key.
    let (rule, blue, green) = create_split(&mut c, SVC);
    propose_and_release(&mut c, rule, &[(blue, 10), (green, 0)]);
    group_write(
        &mut c,
        "insert-group-instances",
        "add",
        sonic_rs::json!({"groupInstances": [{"groupId": blue, "instanceId": "logic-1"}]}),
    );
    let svc = served(&server, SVC, "listed");
    let blue_key = format!("{SVC}/sha/shajq/blue");
    let green_key = format!("{SVC}/sha/shajq/green");
    assert_route_rules(
        &svc,
        sonic_rs::json!([served_rule(
            "split",
            WRR,
            vec![
                served_group(&blue_key, 10, &["logic-1"], Value::new()),
                served_group(&green_key, 0, &[], Value::new()),
            ]
        )]),
        "listed",
    );
    assert_eq!(
        routed(&svc)[0],
        (
            "split".to_owned(),
            vec![(blue_key, 10, strings(&["logic-1"]))]
        ),
        "green has no member, so a client leaves it out"
    );
    for _ in 0..3 {
        expect_reload(
            &mut ws,
            SVC,
            "create, release and the listed id each reload",
        );
    }

    // Pulling the logical instance out hides it, with a reload; pulling it in shows it.
    let as_instance = Inst::new(SVC, "logic-1");
    pull_out_instance(&mut c, &as_instance, PULL_OUT);
    expect_reload(&mut ws, SVC, "the logical instance is pulled out");
    let svc = served(&server, SVC, "pulled out");
    assert_eq!(arr_len(&svc["logicInstances"], "logicInstances"), 0);
    pull_in_instance(&mut c, &as_instance, PULL_OUT);
    expect_reload(&mut ws, SVC, "the logical instance is pulled in");
    assert_eq!(
        ids(&served(&server, SVC, "pulled in"), "logicInstances"),
        ["logic-1"]
    );

    let rows = group_list(
        &mut c,
        "get-service-instances",
        &format!(r#"{{"serviceId":"{SVC}"}}"#),
        "serviceInstances",
    );
    let row_id = rows[0]["id"].as_i64().unwrap();
    group_write(
        &mut c,
        "delete-service-instances",
        "drop",
        sonic_rs::json!({ "serviceInstanceIds": [row_id] }),
    );
    expect_reload(&mut ws, SVC, "the logical instance is deleted");
    assert_no_more_pushes(&mut ws, &mut c, SVC, "after the delete");
    let svc = served(&server, SVC, "deleted");
    assert_eq!(arr_len(&svc["logicInstances"], "logicInstances"), 0);
}

#[test]
fn canary_ips_serve_the_canary_group_with_its_instances_resolved() {
    const SVC: &str = "canary-svc";
    let server = start();
    let mut c = server.client();
    let at = |ip: &str| Inst::new(SVC, ip).ip(ip);
    let (five, six, seven) = (at("10.0.0.5"), at("10.0.0.6"), at("10.0.0.7"));
    register(&mut c, &[five.clone(), six.clone(), seven.clone()]);
    let mut ws = subscriber(&server, SVC);

    // 10.0.0.9 is listed before it registers.
    update_canary_ips(
        &mut c,
        SVC,
        "canary-app",
        &["10.0.0.5", "10.0.0.6", "10.0.0.9"],
    );
    expect_reload(&mut ws, SVC, "canary IPs set");
    let key = format!("{SVC}/sha/canary/canary-app");
    let check = |server: &Server, want: &[&Inst], ctx: &str| -> Value {
        let svc = served(server, SVC, ctx);
        let rules = svc["routeRules"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "{ctx}: {}", dump(&svc));
        let rule = &rules[0];
        assert_eq!(rule["routeId"].as_str(), Some("canary-route-rule"), "{ctx}");
        assert_eq!(rule["strategy"].as_str(), Some(WRR), "{ctx}");
        let group = &rule["groups"][0];
        assert_eq!(group["groupKey"].as_str(), Some(key.as_str()), "{ctx}");
        assert_eq!(group["weight"].as_i64(), Some(5), "{ctx}");
        assert!(group["metadata"].is_null(), "{ctx}: {}", dump(group));
        let instances = group["instances"].as_array().unwrap_or_else(|| {
            panic!(
                "{ctx}: the canary group carries its instances: {}",
                dump(group)
            )
        });
        assert_eq!(instances.len(), want.len(), "{ctx}: {}", dump(group));
        for (got, want) in instances.iter().zip(want) {
            assert_instance_eq(got, want, ctx);
        }
        svc
    };
    let svc = check(&server, &[&five, &six], "canary IPs set");
    assert_eq!(
        svc["routeRules"][0]["groups"][0]["instanceIds"],
        sonic_rs::json!(["10.0.0.5", "10.0.0.6", "10.0.0.9"])
    );
    assert_eq!(
        routed(&svc)[0],
        (
            "canary-route-rule".to_owned(),
            vec![(key.clone(), 5, strings(&["10.0.0.5", "10.0.0.6"]))]
        )
    );

    // A listed IP that registers joins the group (a plain `new`, as Java pushes it).
    let nine = at("10.0.0.9");
    register(&mut c, std::slice::from_ref(&nine));
    expect_change(&mut ws, "new", &nine, "a listed IP registers");
    check(&server, &[&five, &six, &nine], "10.0.0.9 registered");

    // A pulled-out canary instance leaves the instances but stays in the canary group: Java
    // resolves canary groups before the management filter.
    pull_out_instance(&mut c, &five, PULL_OUT);
    expect_change(&mut ws, "delete", &five, "10.0.0.5 pulled out");
    let svc = check(&server, &[&five, &six, &nine], "10.0.0.5 pulled out");
    assert_eq!(ids(&svc, "instances"), ["10.0.0.6", "10.0.0.7", "10.0.0.9"]);
    pull_in_instance(&mut c, &five, PULL_OUT);
    expect_change(&mut ws, "new", &five, "10.0.0.5 pulled in");

    // The list is replaced.
    update_canary_ips(&mut c, SVC, "canary-app", &["10.0.0.7"]);
    expect_reload(&mut ws, SVC, "canary IPs replaced");
    assert_no_more_pushes(&mut ws, &mut c, SVC, "after the replacement");
    check(&server, &[&seven], "canary IPs replaced");
}

#[test]
fn a_group_pull_out_hides_its_instances_with_deletes_and_a_pull_in_brings_them_back_with_news() {
    const SVC: &str = "pull-svc";
    let server = start();
    let mut c = server.client();
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "blue", "app")]}),
    );
    let blue = group_id(&mut c, SVC, ZONE, "blue");
    let b1 = member(SVC, "b1", Some("blue"));
    let b2 = member(SVC, "b2", Some("Blue"));
    // Group `blue2` is not under `blue`: keys match whole path segments.
    let other = member(SVC, "c1", Some("blue2"));
    let plain = member(SVC, "d1", None);
    register(
        &mut c,
        &[b1.clone(), b2.clone(), other.clone(), plain.clone()],
    );
    let mut ws = subscriber(&server, SVC);

    operate_groups(&mut c, &[blue], PULL_OUT, false);
    assert_eq!(
        next_changes(&mut ws, 2, "blue pulled out"),
        [
            ("delete".to_owned(), "b1".to_owned()),
            ("delete".to_owned(), "b2".to_owned())
        ]
    );
    assert_no_more_pushes(
        &mut ws,
        &mut c,
        SVC,
        "no reload: no logical instance changed",
    );
    let svc = served(&server, SVC, "blue pulled out");
    assert_eq!(ids(&svc, "instances"), ["c1", "d1"]);
    assert_route_rules(&svc, sonic_rs::json!([]), "a group alone serves no rule");

    // Registered while its group is out: hidden at once, no push.
    let b3 = member(SVC, "b3", Some("blue"));
    register(&mut c, std::slice::from_ref(&b3));
    assert_no_more_pushes(&mut ws, &mut c, SVC, "a hidden registration");
    assert_eq!(
        ids(&served(&server, SVC, "b3 registered"), "instances"),
        ["c1", "d1"]
    );
    // The management view still lists them, down.
    let managed = listed_instances(&management_services(&mut c)["services"], SVC);
    let mut status: Vec<(String, String)> = managed
        .iter()
        .map(|i| {
            (
                i["instanceId"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    status.sort();
    assert_eq!(
        status,
        [
            ("b1", "down"),
            ("b2", "down"),
            ("b3", "down"),
            ("c1", "up"),
            ("d1", "up")
        ]
        .map(|(i, s)| (i.to_owned(), s.to_owned()))
    );

    operate_groups(&mut c, &[blue], PULL_OUT, true);
    let mut pushed: Vec<Value> = (0..3)
        .map(|n| next_change(&mut ws, &format!("blue pulled in: push {n}")))
        .collect();
    pushed.sort_by_key(|v| v["instance"]["instanceId"].as_str().map(str::to_owned));
    for (push, inst) in pushed.iter().zip([&b1, &b2, &b3]) {
        assert_change(push, "new", inst, "blue pulled in");
    }
    assert_no_more_pushes(&mut ws, &mut c, SVC, "after the pull-in");
    assert_eq!(
        ids(&served(&server, SVC, "blue pulled in"), "instances"),
        ["b1", "b2", "b3", "c1", "d1"]
    );
}

#[test]
fn services_without_group_data_serve_empty_lists_not_null() {
    const SVC: &str = "bare-svc";
    let server = start();
    let mut c = server.client();
    register(&mut c, &[member(SVC, "a1", None)]);
    // Group data of another service, and a group of this one in no rule.
    create_split(&mut c, "someone-else");
    group_write(
        &mut c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(SVC, ZONE, "lonely", "app")]}),
    );
    for service in [SVC, "never-registered"] {
        let svc = lookup_one(&mut c, service);
        for list in ["logicInstances", "routeRules"] {
            assert!(
                svc[list].as_array().is_some_and(|l| l.is_empty()),
                "{service}: {list} must be [] (not null): {}",
                dump(&svc)
            );
        }
    }
    // service.json and services.json serve the same empty lists.
    let svc = served(&server, SVC, "bare");
    assert_route_rules(&svc, sonic_rs::json!([]), "bare");
    assert_eq!(arr_len(&svc["logicInstances"], "logicInstances"), 0);
    // A rule whose only group is inactive is not served either.
    let mut inactive = group_json(SVC, ZONE, "lonely", "app");
    inactive
        .as_object_mut()
        .unwrap()
        .insert("status", "inactive");
    group_write(
        &mut c,
        "update-groups",
        "deactivate",
        sonic_rs::json!({ "groups": [inactive] }),
    );
    let lonely = group_id(&mut c, SVC, ZONE, "lonely");
    group_write(
        &mut c,
        "insert-route-rules",
        "create",
        sonic_rs::json!({"routeRules": [route_rule_json(SVC, "r", WRR)]}),
    );
    let rule = route_rule_id(&mut c, SVC, "r");
    group_write(
        &mut c,
        "insert-route-rule-groups",
        "join",
        sonic_rs::json!({"routeRuleGroups": [
            {"routeRuleId": rule, "groupId": lonely, "unreleasedWeight": 1}]}),
    );
    group_write(
        &mut c,
        "release-route-rule-groups",
        "release",
        sonic_rs::json!({"routeRuleGroups": [{"routeRuleId": rule, "groupId": lonely}]}),
    );
    assert_route_rules(
        &served(&server, SVC, "inactive group"),
        sonic_rs::json!([]),
        "a rule without an active group",
    );
}

/// Everything group data adds to discovery for `service`, written once: a released 3/7 split
/// (blue b1, green g1), a logical instance, canary IPs (c1) and pulled-out group grey (x1).
fn write_group_data(c: &mut Client, service: &str) -> (i64, i64, i64) {
    let (rule, blue, green) = create_split(c, service);
    propose_and_release(c, rule, &[(blue, 3), (green, 7)]);
    group_write(
        c,
        "insert-service-instances",
        "define",
        sonic_rs::json!({ "serviceInstances": [logical(service, "logic-1")] }),
    );
    update_canary_ips(c, service, "canary-app", &["c1"]);
    group_write(
        c,
        "insert-groups",
        "create",
        sonic_rs::json!({"groups": [group_json(service, ZONE, "grey", "app")]}),
    );
    let grey = group_id(c, service, ZONE, "grey");
    operate_groups(c, &[grey], PULL_OUT, false);
    (rule, blue, green)
}

fn durable_members(service: &str) -> Vec<Inst> {
    vec![
        member(service, "b1", Some("blue")),
        member(service, "g1", Some("green")),
        member(service, "c1", None),
        member(service, "x1", Some("grey")),
    ]
}

#[test]
fn what_group_data_adds_to_discovery_survives_a_restart_and_kill_9() {
    const SVC: &str = "durable-svc";
    let home = NodeHome::new(None, &["--shards", "2"]);
    let mut server = home.start();
    let mut c = server.client();
    register(&mut c, &durable_members(SVC));
    let (rule, blue, green) = write_group_data(&mut c, SVC);
    let before = served(&server, SVC, "before the restart");
    assert_eq!(ids(&before, "instances"), ["b1", "c1", "g1"], "x1 is grey");
    assert_eq!(ids(&before, "logicInstances"), ["logic-1"]);
    let names: Vec<&str> = before["routeRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["routeId"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["split", "canary-route-rule"]);
    drop(c);
    server.stop_gracefully();

    // The registry is saved at a graceful stop and registered again at the start.
    let mut server = home.start();
    let after = served(&server, SVC, "after a graceful restart");
    assert_eq!(
        canonical(&after),
        canonical(&before),
        "after a graceful restart"
    );

    // A write acknowledged right before a kill -9 is kept; the registry is not (clients
    // register again).
    let mut c = server.client();
    propose_and_release(&mut c, rule, &[(blue, 4), (green, 6)]);
    let released = served(&server, SVC, "4/6 released");
    drop(c);
    server.kill_hard();
    let server = home.start();
    register(&mut server.client(), &durable_members(SVC));
    let after = served(&server, SVC, "after kill -9");
    assert_eq!(canonical(&after), canonical(&released), "after kill -9");
    let weights: Vec<i64> = after["routeRules"][0]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["weight"].as_i64().unwrap())
        .collect();
    assert_eq!(weights, [4, 6]);
}

#[test]
fn management_views_carry_groups_logical_instances_and_route_rules() {
    const SVC: &str = "view-svc";
    let server = start();
    let mut c = server.client();
    register(&mut c, &durable_members(SVC));
    let (_, blue, green) = write_group_data(&mut c, SVC);
    group_write(
        &mut c,
        "insert-group-tags",
        "tag",
        json(&format!(
            r#"{{"groupTagsList":[{{"groupId":{blue},"tags":{{"env":"prod"}}}}]}}"#
        )),
    );
    group_write(
        &mut c,
        "insert-group-instances",
        "add",
        sonic_rs::json!({"groupInstances": [{"groupId": green, "instanceId": "listed-1"}]}),
    );
    // The canary instance c1 and the logical instance are pulled out too.
    pull_out_instance(&mut c, &member(SVC, "c1", None), PULL_OUT);
    pull_out_instance(&mut c, &Inst::new(SVC, "logic-1"), PULL_OUT);
    let discovered = served(&server, SVC, "discovery");
    assert_eq!(ids(&discovered, "instances"), ["b1", "g1"]);
    assert_eq!(ids(&discovered, "logicInstances"), Vec::<String>::new());

    let all = management_services(&mut c);
    assert_sorted_keys(&all, "management services.json");
    let listed: Vec<&Value> = all["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["serviceId"].as_str() == Some(SVC))
        .collect();
    assert_eq!(listed.len(), 1, "{}", dump(&all));
    let viewed = management_service(&mut c, SVC);
    assert_sorted_keys(&viewed, "management service.json");
    assert_eq!(
        canonical(&viewed["service"]),
        canonical(listed[0]),
        "both views show the service alike"
    );
    let managed = &viewed["service"];
    // Every registered instance, with its status; every logical instance (only the group
    // filter applies here, so the pulled-out one too).
    let status = |list: &Value| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["instanceId"].as_str().unwrap().to_owned(),
                    i["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(i, s)| (i.to_string(), s.to_string()))
            .collect()
    };
    assert_eq!(
        status(&managed["instances"]),
        pairs(&[("b1", "up"), ("c1", "down"), ("g1", "up"), ("x1", "down")])
    );
    assert_eq!(
        canonical(&managed["logicInstances"]),
        canonical(&sonic_rs::json!([served_logical(SVC, "logic-1")]))
    );
    // The rules are discovery's, except that the canary group shows the management copy of
    // its instance: status down and the lease times.
    let rules = managed["routeRules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{}", dump(managed));
    assert_eq!(
        canonical(&rules[0]),
        canonical(&discovered["routeRules"][0])
    );
    let canary = &rules[1]["groups"][0]["instances"];
    assert_eq!(status(canary), pairs(&[("c1", "down")]));
    for lease in ["creationTime", "renewalTime", "ttl"] {
        assert!(
            canary[0]["metadata"][lease].is_str(),
            "{lease}: {}",
            dump(canary)
        );
    }
    let served_canary = &discovered["routeRules"][1]["groups"][0]["instances"];
    assert_eq!(status(served_canary), pairs(&[("c1", "up")]));

    // service.json lists every group of the service, by id, without weights.
    let key = |name: &str| format!("{SVC}/sha/shajq/{name}");
    assert_eq!(
        canonical(&viewed["groups"]),
        canonical(&sonic_rs::json!([
            {"groupKey": key("blue"), "instanceIds": [], "instances": null,
                "metadata": {"env": "prod"}, "weight": null},
            {"groupKey": key("green"), "instanceIds": ["listed-1"], "instances": null,
                "metadata": null, "weight": null},
            {"groupKey": format!("{SVC}/sha/canary/canary-app"), "instanceIds": ["c1"],
                "instances": null, "metadata": null, "weight": null},
            {"groupKey": key("grey"), "instanceIds": [], "instances": null, "metadata": null,
                "weight": null},
        ])),
        "{}",
        dump(&viewed["groups"])
    );

    // A service only the group data knows: null instances, its logical instances, no group.
    group_write(
        &mut c,
        "insert-service-instances",
        "define",
        sonic_rs::json!({ "serviceInstances": [logical("ghost-svc", "logic-9")] }),
    );
    let ghost = management_service(&mut c, "ghost-svc");
    assert_eq!(
        canonical(&ghost),
        canonical(&sonic_rs::json!({
            "groups": [],
            "responseStatus": {"errorCode": "success", "message": "", "status": "success"},
            "service": {"instances": null, "logicInstances": [served_logical("ghost-svc", "logic-9")],
                "metadata": null, "routeRules": [], "serviceId": "ghost-svc"},
        }))
    );
}
