//! Traffic control through the management API (spec §10.1, §10.2, §10.5; issue 9): pulling an
//! instance, a server or a zone out hides its instances from every discovery view and pushes
//! `delete`; pulling it in brings them back with `new`. Writes are in effect on every shard once
//! acknowledged, so every check right after one needs no waiting.

use std::collections::BTreeMap;
use std::thread;
use std::time::Duration;

use harness::*;

const DELTA: &str = "/api/discovery/services-delta.json";

/// The instanceIds a lookup of all `services` (one request, on a fresh connection) returns,
/// per service (lower-cased id), sorted.
fn lookup_all(server: &Server, services: &[String]) -> BTreeMap<String, Vec<String>> {
    let ids: Vec<&str> = services.iter().map(String::as_str).collect();
    let (st, v) = server.post_json(LOOKUP, &lookup_body(&ids));
    assert_eq!(st, 200, "lookup: {}", dump(&v));
    assert_success_status(&v, "lookup");
    v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let mut found: Vec<String> = s["instances"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|i| i["instanceId"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            found.sort();
            (s["serviceId"].as_str().unwrap().to_lowercase(), found)
        })
        .collect()
}

/// Every one of `services` maps to `want` in a lookup.
fn assert_each_service_shows(server: &Server, services: &[String], want: &[&str], ctx: &str) {
    let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    let got = lookup_all(server, services);
    assert_eq!(got.len(), services.len(), "{ctx}: services in the lookup");
    for s in services {
        assert_eq!(got[&s.to_lowercase()], want, "{ctx}: service {s}");
    }
}

fn pair(kind: &str, id: &str) -> (String, String) {
    (kind.to_string(), id.to_string())
}

#[test]
fn pull_out_hides_the_instance_everywhere_and_pushes_delete_then_pull_in_pushes_new() {
    const SVC: &str = "mgmt-svc";
    let server = Server::start_sha(&["--shards", "2"], None);
    let mut c = server.client();
    let mut sub = subscriber(&server, SVC);
    let mut other_sub = subscriber(&server, "other-svc");
    let a = Inst::new(SVC, "a");
    let b = Inst::new(SVC, "b").ip("10.0.0.2");
    register(&mut c, std::slice::from_ref(&a));
    expect_change(&mut sub, "new", &a, "register a");
    register(&mut c, std::slice::from_ref(&b));
    expect_change(&mut sub, "new", &b, "register b");
    assert!(!is_instance_down(&mut c, &a), "a before any pull-out");

    pull_out_instance(&mut c, &a, PULL_OUT);
    expect_change(&mut sub, "delete", &a, "pull-out of a");
    assert_discovered(&server, SVC, &["b"], "a pulled out");
    assert_eq!(
        instance_operations(&mut c, &instance_key(&a)),
        [PULL_OUT],
        "operations on a"
    );
    assert!(instance_operations(&mut c, &instance_key(&b)).is_empty());
    assert!(is_instance_down(&mut c, &a), "a is down");
    assert!(!is_instance_down(&mut c, &b), "b is not");
    assert_eq!(
        all_instance_operations(&mut c, None),
        [(key_string(&instance_key(&a)), vec![PULL_OUT.to_string()])]
    );

    pull_in_instance(&mut c, &a, PULL_OUT);
    expect_change(&mut sub, "new", &a, "pull-in of a");
    assert_discovered(&server, SVC, &["a", "b"], "a pulled in");
    assert!(instance_operations(&mut c, &instance_key(&a)).is_empty());
    assert!(!is_instance_down(&mut c, &a));
    assert!(all_instance_operations(&mut c, None).is_empty());

    // One push per change, and none to another service's subscriber.
    expect_silence(&mut sub, Duration::from_millis(200), "after pull-in");
    expect_silence(&mut other_sub, Duration::from_millis(200), "other service");
}

#[test]
fn an_instance_registering_while_pulled_out_stays_hidden() {
    const SVC: &str = "rereg-svc";
    let server = Server::start_sha(&["--shards", "2"], None);
    let mut c = server.client();
    let a = Inst::new(SVC, "a");
    let b = Inst::new(SVC, "b").ip("10.0.0.2");
    register(&mut c, &[a.clone(), b.clone()]);
    pull_out_instance(&mut c, &a, PULL_OUT);
    // A key pulled out before it ever registered.
    let late = Inst::new(SVC, "late").ip("10.0.0.3");
    pull_out_instance(&mut c, &late, PULL_OUT);
    let mut sub = subscriber(&server, SVC);

    // Re-registration with new data, a fresh registration, and unregister + register again:
    // discovery shows none of them and subscribers hear of none.
    let a2 = Inst::new(SVC, "a").port(9090).metadata(&[("rev", "2")]);
    register(&mut c, std::slice::from_ref(&a2));
    register(&mut c, std::slice::from_ref(&late));
    assert_discovered(&server, SVC, &["b"], "re-registered while pulled out");
    unregister(&mut c, std::slice::from_ref(&a2));
    register(&mut c, std::slice::from_ref(&a2));
    assert_discovered(&server, SVC, &["b"], "unregistered and registered again");
    let (st, hb) = heartbeat(&mut c, &[a2.clone(), late.clone()]);
    assert_registry_ok(st, &hb, "a pulled-out instance still heartbeats");
    expect_silence(&mut sub, Duration::from_millis(200), "hidden registrations");

    // Pull-in shows the data registered last.
    pull_in_instance(&mut c, &a, PULL_OUT);
    expect_change(&mut sub, "new", &a2, "pull-in of a");
    pull_in_instance(&mut c, &late, PULL_OUT);
    expect_change(&mut sub, "new", &late, "pull-in of late");
    assert_discovered(&server, SVC, &["a", "b", "late"], "pulled in");
    let svc = lookup_one(&mut c, SVC);
    let listed = svc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instanceId"].as_str() == Some("a"))
        .unwrap()
        .clone();
    assert_instance_eq(&listed, &a2, "a after pull-in");
}

#[test]
fn an_instance_returns_only_when_every_operation_on_it_ended() {
    const SVC: &str = "ops-svc";
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let a = Inst::new(SVC, "a");
    let b = Inst::new(SVC, "b").ip("10.0.0.2");
    register(&mut c, &[a.clone(), b.clone()]);
    let key = instance_key(&a);

    pull_out_instance(&mut c, &a, "deploy");
    pull_out_instance(&mut c, &a, "deploy"); // the same operation again: still one
    pull_out_instance(&mut c, &a, "incident");
    assert_eq!(instance_operations(&mut c, &key), ["deploy", "incident"]);

    // Ending an operation that was never started changes nothing.
    pull_in_instance(&mut c, &a, "never-started");
    assert_eq!(instance_operations(&mut c, &key), ["deploy", "incident"]);
    assert_discovered(&server, SVC, &["b"], "two operations on a");

    pull_in_instance(&mut c, &a, "deploy");
    assert_eq!(instance_operations(&mut c, &key), ["incident"]);
    assert_discovered(&server, SVC, &["b"], "incident still on a");
    assert!(is_instance_down(&mut c, &a));

    pull_in_instance(&mut c, &a, "incident");
    assert!(instance_operations(&mut c, &key).is_empty());
    assert_discovered(&server, SVC, &["a", "b"], "no operation left");
}

#[test]
fn keys_match_ignoring_case_and_surrounding_blanks() {
    const SVC: &str = "Case-Svc";
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let a = Inst::new(SVC, "Inst-A");
    let b = Inst::new(SVC, "Inst-B").ip("10.0.0.2");
    register(&mut c, &[a.clone(), b.clone()]);

    // Java trims every field of the request (ModelUtil.newInstance) and compares keys
    // lower-cased; this project matches serviceIds case-insensitively everywhere.
    let shouted =
        sonic_rs::json!({"regionId": " sha ", "serviceId": "CASE-SVC", "instanceId": " inst-a"});
    let v = management_post(
        &mut c,
        OPERATE_INSTANCE,
        &operate_instance_body(&shouted, PULL_OUT, false),
    );
    assert_write_ok(&v, "pull-out with another spelling");
    assert_discovered(&server, SVC, &["Inst-B"], "pulled out by another spelling");
    assert!(is_instance_down(&mut c, &a));
    assert_eq!(
        instance_operations(
            &mut c,
            &sonic_rs::json!({"regionId": "Sha", "serviceId": "case-svc", "instanceId": "INST-A"})
        ),
        [PULL_OUT]
    );

    let mumbled =
        sonic_rs::json!({"regionId": "Sha", "serviceId": "case-SVC", "instanceId": "INST-a"});
    let v = management_post(
        &mut c,
        OPERATE_INSTANCE,
        &operate_instance_body(&mumbled, PULL_OUT, true),
    );
    assert_write_ok(&v, "pull-in with a third spelling");
    assert_discovered(&server, SVC, &["Inst-A", "Inst-B"], "pulled in");
}

#[test]
fn server_pull_out_hides_every_instance_on_that_ip_on_every_shard() {
    const DOWN_IP: &str = "10.1.0.1";
    let server = Server::start_sha(&["--shards", "4"], None);
    let mut c = server.client();
    // 40 services spread over the 4 shards, each with one instance on the server being pulled
    // out and one elsewhere.
    let services: Vec<String> = (0..40).map(|i| format!("srv-svc-{i:02}")).collect();
    let on_a: Vec<Inst> = services
        .iter()
        .map(|s| Inst::new(s, "on-a").ip(DOWN_IP))
        .collect();
    let on_b: Vec<Inst> = services
        .iter()
        .map(|s| Inst::new(s, "on-b").ip("10.1.0.2"))
        .collect();
    register(&mut c, &on_a);
    register(&mut c, &on_b);
    let watched = [0usize, 17, 39];
    let mut subs: Vec<Ws> = watched
        .iter()
        .map(|&i| subscriber(&server, &services[i]))
        .collect();

    pull_out_server(&mut c, DOWN_IP, PULL_OUT);
    assert_each_service_shows(&server, &services, &["on-b"], "server pulled out");
    for (ws, &i) in subs.iter_mut().zip(&watched) {
        expect_change(
            ws,
            "delete",
            &on_a[i],
            &format!("{}: server pull-out", services[i]),
        );
    }
    let down_key = server_key(REGION, DOWN_IP);
    assert_eq!(server_operations(&mut c, &down_key), [PULL_OUT]);
    assert!(server_operations(&mut c, &server_key(REGION, "10.1.0.2")).is_empty());
    assert!(is_server_down(&mut c, &down_key));
    assert!(!is_server_down(&mut c, &server_key(REGION, "10.1.0.2")));
    assert!(
        is_instance_down(&mut c, &on_a[5]),
        "instance-down sees the server"
    );
    assert!(!is_instance_down(&mut c, &on_b[5]));
    let all = vec![(key_string(&down_key), vec![PULL_OUT.to_string()])];
    assert_eq!(all_server_operations(&mut c, None), all);
    assert_eq!(all_server_operations(&mut c, Some(REGION)), all);
    assert!(all_server_operations(&mut c, Some("OTHER")).is_empty());
    let (st, v) = c.get(&format!("{ALL_SERVER_OPERATIONS}?regionId={REGION}"));
    assert_eq!(st, 200, "{}", dump(&v));
    assert_success_status(&v, "GET all-server-operations");
    assert_eq!(key_operations(&v["allServerOperations"], "serverKey"), all);

    // A new instance on that server, of a new service, is hidden from its first registration.
    let newcomer = Inst::new("srv-svc-new", "on-a").ip(DOWN_IP);
    register(&mut c, std::slice::from_ref(&newcomer));
    assert_discovered(
        &server,
        "srv-svc-new",
        &[],
        "registered on a pulled-out server",
    );

    pull_in_server(&mut c, DOWN_IP, PULL_OUT);
    assert_each_service_shows(&server, &services, &["on-a", "on-b"], "server pulled in");
    assert_discovered(&server, "srv-svc-new", &["on-a"], "newcomer pulled in");
    for (ws, &i) in subs.iter_mut().zip(&watched) {
        expect_change(
            ws,
            "new",
            &on_a[i],
            &format!("{}: server pull-in", services[i]),
        );
    }
    assert!(!is_server_down(&mut c, &down_key));
    assert!(all_server_operations(&mut c, None).is_empty());
}

#[test]
fn zone_pull_out_hides_that_zone_of_each_service_on_every_shard() {
    let server = Server::start_sha(&["--shards", "4"], None);
    let mut c = server.client();
    let services: Vec<String> = (0..40).map(|i| format!("zone-svc-{i:02}")).collect();
    let in_jq: Vec<Inst> = services.iter().map(|s| Inst::new(s, "jq")).collect();
    let in_oy: Vec<Inst> = services
        .iter()
        .map(|s| Inst::new(s, "oy").zone("SHAOY").ip("10.3.0.2"))
        .collect();
    register(&mut c, &in_jq);
    register(&mut c, &in_oy);
    // Same zone, same ip, another service: untouched.
    let control = Inst::new("zone-control", "jq");
    register(&mut c, std::slice::from_ref(&control));
    let mut sub0 = subscriber(&server, &services[0]);
    let mut sub39 = subscriber(&server, &services[39]);

    let ids: Vec<&str> = services.iter().map(String::as_str).collect();
    pull_out_zones(&mut c, &ids, ZONE, "zone-drill");
    assert_each_service_shows(&server, &services, &["oy"], "SHAJQ pulled out");
    assert_discovered(&server, "zone-control", &["jq"], "another service");
    expect_change(&mut sub0, "delete", &in_jq[0], "zone pull-out, service 0");
    expect_change(
        &mut sub39,
        "delete",
        &in_jq[39],
        "zone pull-out, service 39",
    );

    let key0 = zone_key(REGION, &services[0], ZONE);
    assert!(is_zone_down(&mut c, &key0));
    assert!(is_zone_down(
        &mut c,
        &zone_key("sha", "ZONE-SVC-00", "shajq")
    ));
    assert!(!is_zone_down(
        &mut c,
        &zone_key(REGION, &services[0], "SHAOY")
    ));
    assert!(!is_zone_down(
        &mut c,
        &zone_key(REGION, "zone-control", ZONE)
    ));
    assert_eq!(zone_operations(&mut c, &key0), ["zone-drill"]);
    assert!(zone_operations(&mut c, &zone_key(REGION, "zone-control", ZONE)).is_empty());
    assert!(is_instance_down(&mut c, &in_jq[7]));
    assert!(!is_instance_down(&mut c, &in_oy[7]));
    assert!(!is_instance_down(&mut c, &control));

    let all = all_zone_operations(&mut c, Some(REGION));
    let mut want: Vec<(String, Vec<String>)> = services
        .iter()
        .map(|s| {
            (
                key_string(&zone_key(REGION, s, ZONE)),
                vec!["zone-drill".to_string()],
            )
        })
        .collect();
    want.sort();
    assert_eq!(all, want, "get-all-zone-operations");
    // get-zone-operations-list filters by every non-blank field.
    let list = |c: &mut Client, filter: &str| {
        let v = management_read(c, ZONE_OPERATIONS_LIST, filter);
        key_operations(&v["zoneOperationsList"], "zoneKey")
    };
    assert_eq!(list(&mut c, "{}"), want);
    assert_eq!(list(&mut c, r#"{"regionId":"SHA"}"#), want);
    assert_eq!(list(&mut c, r#"{"zoneId":"SHAJQ"}"#), want);
    assert!(list(&mut c, r#"{"zoneId":"SHAOY"}"#).is_empty());
    assert_eq!(
        list(&mut c, r#"{"serviceId":"zone-svc-05","zoneId":"SHAJQ"}"#),
        [(
            key_string(&zone_key(REGION, "zone-svc-05", ZONE)),
            vec!["zone-drill".to_string()]
        )]
    );

    pull_in_zones(&mut c, &ids, ZONE, "zone-drill");
    assert_each_service_shows(&server, &services, &["jq", "oy"], "SHAJQ pulled in");
    expect_change(&mut sub0, "new", &in_jq[0], "zone pull-in, service 0");
    expect_change(&mut sub39, "new", &in_jq[39], "zone pull-in, service 39");
    assert!(!is_zone_down(&mut c, &key0));
    assert!(all_zone_operations(&mut c, None).is_empty());
}

/// `services.json`: its version and the instanceIds of `service_id`.
fn services_version(c: &mut Client, service_id: &str) -> (u64, Vec<String>) {
    let (st, v) = c.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(st, 200, "services.json: {}", dump(&v));
    let version = v["version"].as_u64().expect("services.json version");
    let mut ids: Vec<String> = listed_instances(&v["services"], service_id)
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    (version, ids)
}

/// The changes of a `services-delta.json` from `version`: the answer's version and
/// (changeType, instanceId) of every change, sorted.
fn delta_since(c: &mut Client, version: u64) -> (u64, Vec<(String, String)>) {
    let body = format!(r#"{{"regionId":"SHA","zoneId":"SHAJQ","version":{version}}}"#);
    let (st, v) = c.post_json(DELTA, &body);
    assert_eq!(st, 200, "delta: {}", dump(&v));
    assert_success_status(&v, &format!("delta since {version}"));
    let mut changes = Vec::new();
    for (_, list) in v["delta"].as_object().expect("delta map").iter() {
        for ch in list.as_array().unwrap().iter() {
            changes.push(pair(
                ch["changeType"].as_str().unwrap(),
                ch["instance"]["instanceId"].as_str().unwrap(),
            ));
        }
    }
    changes.sort();
    (v["version"].as_u64().expect("delta version"), changes)
}

#[test]
fn versions_and_deltas_stay_exact_across_pull_out_and_pull_in() {
    const SVC: &str = "delta-mg-svc";
    let server = Server::start_sha(&["--shards", "2"], None);
    let mut c = server.client();
    let a = Inst::new(SVC, "a");
    register(&mut c, &[a.clone(), Inst::new(SVC, "b").ip("10.0.0.2")]);
    let (v0, ids) = services_version(&mut c, SVC);
    assert_eq!(ids, ["a", "b"]);

    pull_out_instance(&mut c, &a, PULL_OUT);
    let (v1, ids) = services_version(&mut c, SVC);
    assert_eq!(ids, ["b"], "services.json after the pull-out");
    assert!(v1 > v0, "a pull-out is a change: version {v0} -> {v1}");
    assert_eq!(delta_since(&mut c, v0), (v1, vec![pair("delete", "a")]));

    // A second operation on an instance already out, and its end, show nothing new.
    pull_out_instance(&mut c, &a, "second-reason");
    pull_in_instance(&mut c, &a, "second-reason");
    assert_eq!(services_version(&mut c, SVC).1, ["b"]);

    pull_in_instance(&mut c, &a, PULL_OUT);
    let (v2, ids) = services_version(&mut c, SVC);
    assert_eq!(ids, ["a", "b"], "services.json after the pull-in");
    assert!(v2 > v1, "a pull-in is a change: version {v1} -> {v2}");
    assert_eq!(delta_since(&mut c, v1), (v2, vec![pair("new", "a")]));
    // From before both, a is unchanged: the delete and the new cancel out, or the delta
    // re-sends a as new; either way applying it gives the current list.
    let (dv, changes) = delta_since(&mut c, v0);
    assert_eq!(dv, v2);
    assert!(
        changes.is_empty() || changes == [pair("new", "a")],
        "delta from before the pull-out: {changes:?}"
    );
}

/// Asserts an instance of a management view: the registered `inst` with `status` overwritten
/// and the lease's `creationTime`, `renewalTime` and `ttl` added to its metadata.
fn assert_managed_instance(got: &Value, inst: &Inst, status: &str, ttl_ms: u64, ctx: &str) {
    let mut want = inst.clone();
    want.status = Some(status.into());
    let metadata = &got["metadata"];
    let field = |k: &str| -> u64 {
        metadata[k]
            .as_str()
            .unwrap_or_else(|| panic!("{ctx}: metadata.{k} is not a string: {}", dump(got)))
            .parse()
            .unwrap_or_else(|e| panic!("{ctx}: metadata.{k} is not a number ({e}): {}", dump(got)))
    };
    assert_eq!(field("ttl"), ttl_ms, "{ctx}: metadata.ttl");
    let created = field("creationTime");
    let renewed = field("renewalTime");
    assert!(
        renewed >= created,
        "{ctx}: renewalTime {renewed} before creationTime {created}"
    );
    let mut kv: Vec<(String, String)> = want.metadata.clone().unwrap_or_default();
    for k in ["creationTime", "renewalTime", "ttl"] {
        kv.push((k.into(), metadata[k].as_str().unwrap().into()));
    }
    want.metadata = Some(kv);
    assert_instance_eq(got, &want, ctx);
}

#[test]
fn management_views_list_every_instance_with_its_status_and_lease() {
    const SVC: &str = "view-svc";
    const TTL_MS: u64 = 30_000;
    let server = Server::start_sha(&["--lease-ttl-ms", "30000"], None);
    let mut c = server.client();
    let pulled = Inst::new(SVC, "pulled");
    let mut starting = Inst::new(SVC, "starting").ip("10.4.0.2");
    starting.status = Some("starting".into());
    let on_server = Inst::new(SVC, "on-server").ip("10.4.0.9");
    let in_zone = Inst::new(SVC, "in-zone").zone("SHAOY").ip("10.4.0.3");
    let all = [
        pulled.clone(),
        starting.clone(),
        on_server.clone(),
        in_zone.clone(),
    ];
    register(&mut c, &all);
    pull_out_instance(&mut c, &pulled, PULL_OUT);
    pull_out_server(&mut c, "10.4.0.9", PULL_OUT);
    pull_out_zones(&mut c, &[SVC], "SHAOY", PULL_OUT);
    assert_discovered(&server, SVC, &["starting"], "three pulled out");

    let want_status = |id: &str| if id == "starting" { "up" } else { "down" };
    let check = |instances: &[Value], ctx: &str| {
        assert_eq!(
            instances.len(),
            all.len(),
            "{ctx}: every instance is listed"
        );
        for inst in &all {
            let id = inst.instance_id.as_deref().unwrap();
            let got = instances
                .iter()
                .find(|i| i["instanceId"].as_str() == Some(id))
                .unwrap_or_else(|| panic!("{ctx}: {id} not listed"));
            assert_managed_instance(got, inst, want_status(id), TTL_MS, &format!("{ctx}: {id}"));
        }
    };

    let v = management_services(&mut c);
    assert_sorted_keys(&v, "management services.json");
    assert!(v["version"].as_u64().is_some(), "version: {}", dump(&v));
    check(&listed_instances(&v["services"], SVC), "POST services.json");
    let (st, v) = c.get(&format!(
        "{MANAGEMENT_SERVICES}?regionId={REGION}&zoneId={ZONE}"
    ));
    assert_eq!(st, 200, "{}", dump(&v));
    assert_success_status(&v, "GET management services.json");
    check(&listed_instances(&v["services"], SVC), "GET services.json");

    // service.json finds the service whatever the spelling, and lists its groups.
    let v = management_service(&mut c, "VIEW-SVC");
    assert_sorted_keys(&v, "management service.json");
    assert!(v["groups"].is_array(), "groups: {}", dump(&v));
    check(
        &v["service"]["instances"]
            .as_array()
            .unwrap_or_else(|| panic!("service.instances: {}", dump(&v)))
            .iter()
            .cloned()
            .collect::<Vec<_>>(),
        "service.json",
    );

    // Discovery still serves the registered status of what it shows.
    let svc = lookup_one(&mut c, SVC);
    assert_instance_eq(
        &svc["instances"][0],
        &starting,
        "lookup keeps the registered status",
    );
}

#[test]
fn operation_reads_answer_in_the_java_shapes() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let a = Inst::new("shape-svc", "a");
    let key = instance_key(&a);

    // Nothing yet: null operations, empty lists, not down.
    let v = management_read(
        &mut c,
        INSTANCE_OPERATIONS,
        &format!(r#"{{"instanceKey":{}}}"#, dump(&key)),
    );
    assert_sorted_keys(&v, "instance-operations");
    assert!(
        v.get("operations").is_some() && v["operations"].is_null(),
        "operations must be present and null: {}",
        dump(&v)
    );
    for (path, field) in [
        (ALL_INSTANCE_OPERATIONS, "allInstanceOperations"),
        (ALL_SERVER_OPERATIONS, "allServerOperations"),
        (ALL_ZONE_OPERATIONS, "allZoneOperations"),
    ] {
        let v = management_read(&mut c, path, r#"{"regionId":"SHA"}"#);
        assert_eq!(arr_len(&v[field], field), 0, "{path}: {}", dump(&v));
    }

    pull_out_instance(&mut c, &a, PULL_OUT);
    let v = management_read(
        &mut c,
        INSTANCE_OPERATIONS,
        &format!(r#"{{"instanceKey":{}}}"#, dump(&key)),
    );
    assert_sorted_keys(&v, "instance-operations");
    let ops = &v["operations"];
    assert_eq!(ops.as_object().unwrap().len(), 2, "{}", dump(&v));
    assert!(same_key(&ops["instanceKey"], &key), "{}", dump(&v));
    assert_eq!(
        ops["instanceKey"].as_object().unwrap().len(),
        3,
        "{}",
        dump(&v)
    );
    assert_eq!(ops["operations"], sonic_rs::json!([PULL_OUT]));

    // The region filter of all-instance-operations: exact region, or every region when blank;
    // the GET variant answers the same.
    let one = vec![(key_string(&key), vec![PULL_OUT.to_string()])];
    assert_eq!(all_instance_operations(&mut c, Some(REGION)), one);
    assert_eq!(all_instance_operations(&mut c, None), one);
    assert_eq!(all_instance_operations(&mut c, Some(" ")), one);
    assert!(all_instance_operations(&mut c, Some("OTHER")).is_empty());
    for query in ["?regionId=SHA", ""] {
        let (st, v) = c.get(&format!("{ALL_INSTANCE_OPERATIONS}{query}"));
        assert_eq!(st, 200, "{}", dump(&v));
        assert_success_status(&v, "GET all-instance-operations");
        assert_sorted_keys(&v, "GET all-instance-operations");
        assert_eq!(
            key_operations(&v["allInstanceOperations"], "instanceKey"),
            one,
            "GET all-instance-operations{query}"
        );
    }
    let (_, v) = c.get(&format!("{ALL_INSTANCE_OPERATIONS}?regionId=OTHER"));
    assert_eq!(
        arr_len(&v["allInstanceOperations"], "GET ?regionId=OTHER"),
        0
    );
}

#[test]
fn every_validation_message_of_the_instance_and_server_endpoints() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let key = |region: Value, service: Value, instance: Value| sonic_rs::json!({"regionId": region, "serviceId": service, "instanceId": instance});
    let s = |v: &str| Value::from(v);
    let null = Value::new;
    let good = operate_instance_body(&key(s("SHA"), s("svc"), s("i")), PULL_OUT, false);
    // (body, message): the first blank field in Java's check order names the failure.
    let instance_cases: Vec<(String, &str)> = vec![
        (
            operate_instance_body(&key(s(""), s("svc"), s("i")), PULL_OUT, false),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(s("  "), s("svc"), s("i")), PULL_OUT, false),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(null(), s("svc"), s("i")), PULL_OUT, true),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(null(), null(), null()), "", false),
            "regionId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), s(" \t"), s("i")), PULL_OUT, false),
            "serviceId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), null(), null()), PULL_OUT, false),
            "serviceId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), s("svc"), s("")), PULL_OUT, false),
            "instanceId is null or empty",
        ),
        (
            operate_instance_body(&key(s("SHA"), s("svc"), s("i")), " ", false),
            "operation is null or empty",
        ),
        (
            with_field(&good, "operation", null()),
            "operation is null or empty",
        ),
        (
            with_field(&good, "operatorId", s(" ")),
            "operatorId is null or empty",
        ),
        (
            with_field(&good, "operatorId", null()),
            "operatorId is null or empty",
        ),
    ];
    for (body, message) in &instance_cases {
        let v = management_post(&mut c, OPERATE_INSTANCE, body);
        assert_fail(
            &v,
            "bad-request",
            message,
            &format!("operate-instance {body}"),
        );
    }

    let skey =
        |region: Value, server: Value| sonic_rs::json!({"regionId": region, "serverId": server});
    let good = operate_server_body(&skey(s("SHA"), s("10.0.0.1")), PULL_OUT, false);
    let server_cases: Vec<(String, &str)> = vec![
        (
            operate_server_body(&skey(s(" "), s("10.0.0.1")), PULL_OUT, false),
            "regionId is null or empty",
        ),
        (
            operate_server_body(&skey(null(), null()), PULL_OUT, true),
            "regionId is null or empty",
        ),
        (
            operate_server_body(&skey(s("SHA"), s("")), PULL_OUT, false),
            "serverId is null or empty",
        ),
        (
            operate_server_body(&skey(s("SHA"), s("10.0.0.1")), "", false),
            "operation is null or empty",
        ),
        (
            with_field(&good, "operatorId", s("\t")),
            "operatorId is null or empty",
        ),
    ];
    for (body, message) in &server_cases {
        let v = management_post(&mut c, OPERATE_SERVER, body);
        assert_fail(
            &v,
            "bad-request",
            message,
            &format!("operate-server {body}"),
        );
    }

    let read_cases: [(&str, &str, &str); 7] = [
        (INSTANCE_OPERATIONS, "{}", "request.instanceKey is null"),
        (
            INSTANCE_OPERATIONS,
            r#"{"instanceKey":null}"#,
            "request.instanceKey is null",
        ),
        (SERVER_OPERATIONS, "{}", "request.serverKey is null"),
        (INSTANCE_DOWN, "{}", "request.instance is null"),
        // sic: Java's messages, typos included.
        (SERVER_DOWN, "{}", "request.serverKey null"),
        (
            MANAGEMENT_SERVICE,
            "{}",
            "Request is null or request.servcieId is null.",
        ),
        (
            MANAGEMENT_SERVICE,
            r#"{"serviceId":"  "}"#,
            "Request is null or request.servcieId is null.",
        ),
    ];
    for (path, body, message) in read_cases {
        let v = management_post(&mut c, path, body);
        assert_fail(&v, "bad-request", message, &format!("{path} {body}"));
    }

    // None of the refused writes left a trace.
    assert!(all_instance_operations(&mut c, None).is_empty());
    assert!(all_server_operations(&mut c, None).is_empty());
    assert!(logs(&mut c, INSTANCE_LOGS, "{}").is_empty());
    assert!(logs(&mut c, SERVER_LOGS, "{}").is_empty());
}

#[test]
fn a_zone_write_without_a_complete_key_is_refused_and_changes_nothing() {
    const SVC: &str = "zone-check-svc";
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    register(&mut c, &[Inst::new(SVC, "a")]);
    // Java leaves these to its DAO's argument checks (ZoneOperationDao.checkInsertOrUpdateArgument),
    // which fail the whole write; it names no message of its own, so only the refusal and its
    // lack of effect are asserted.
    let bodies = [
        operate_zone_body(&[zone_key(REGION, SVC, "")], &[PULL_OUT], false),
        operate_zone_body(&[zone_key(REGION, "", ZONE)], &[PULL_OUT], false),
        operate_zone_body(&[zone_key("", SVC, ZONE)], &[PULL_OUT], false),
        operate_zone_body(&[zone_key(REGION, SVC, ZONE)], &["  "], false),
        operate_zone_body(&[], &[PULL_OUT], false),
    ];
    for body in &bodies {
        let v = management_post(&mut c, OPERATE_ZONE, body);
        let code = v["responseStatus"]["errorCode"].as_str().unwrap_or("");
        assert!(
            matches!(code, "bad-request" | "internal-service-error"),
            "operate-zone-operations {body}: {}",
            dump(&v)
        );
        assert_fail_with_some_message(&v, code, &format!("operate-zone-operations {body}"));
    }
    assert_discovered(&server, SVC, &["a"], "after the refused zone writes");
    assert!(all_zone_operations(&mut c, None).is_empty());
    assert!(logs(&mut c, ZONE_LOGS, "{}").is_empty());
}

/// One write of the log test: (serviceId or serverId, instanceId or zoneId, operation,
/// operatorId, complete).
type Written = (&'static str, &'static str, &'static str, &'static str, bool);

/// A log filter on the four string fields of [`Written`], in order; `None` matches anything.
type Filter<'a> = [Option<&'a str>; 4];

/// The written entries a filter must return: every field of `filter` that is `Some` matches.
fn expected(writes: &[Written], filter: Filter, complete: Option<bool>) -> Vec<Written> {
    let mut out: Vec<Written> = writes
        .iter()
        .filter(|w| {
            let fields = [w.0, w.1, w.2, w.3];
            fields
                .iter()
                .zip(filter.iter())
                .all(|(f, want)| want.is_none_or(|x| x == *f))
                && complete.is_none_or(|c| c == w.4)
        })
        .copied()
        .collect();
    out.sort();
    out
}

/// Checks a log row's shape: exactly `keys`, a positive id, epoch-ms times near now, a boolean
/// `complete`, and the region; returns (first, second, operation, operatorId, complete).
fn log_row(
    row: &Value,
    keys: &[&str],
    fields: [&str; 2],
    ctx: &str,
) -> (String, String, String, String, bool) {
    let got: Vec<&str> = row.as_object().unwrap().iter().map(|(k, _)| k).collect();
    assert_eq!(got, keys, "{ctx}: log row keys: {}", dump(row));
    assert!(
        row["id"].as_i64().is_some_and(|id| id > 0),
        "{ctx}: id: {}",
        dump(row)
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for t in ["createTime", "updateTime"] {
        let ms = row[t]
            .as_i64()
            .unwrap_or_else(|| panic!("{ctx}: {t} is not epoch ms: {}", dump(row)));
        assert!(
            (ms - now).abs() < 600_000,
            "{ctx}: {t} {ms} is not epoch ms near now ({now})"
        );
    }
    assert_eq!(
        row["regionId"].as_str(),
        Some(REGION),
        "{ctx}: {}",
        dump(row)
    );
    let s = |k: &str| {
        row[k]
            .as_str()
            .unwrap_or_else(|| panic!("{ctx}: {k}: {}", dump(row)))
            .to_string()
    };
    (
        s(fields[0]),
        s(fields[1]),
        s("operation"),
        s("operatorId"),
        row["complete"]
            .as_bool()
            .unwrap_or_else(|| panic!("{ctx}: complete is not a boolean: {}", dump(row))),
    )
}

/// Runs every single-field filter (and a few combinations) of one log endpoint against the
/// writes made, comparing the rows returned with the rows expected.
fn check_log_filters(
    c: &mut Client,
    path: &str,
    keys: &[&str],
    fields: [&str; 2],
    writes: &[Written],
) {
    let query = |c: &mut Client, filter: &str| -> Vec<Written> {
        let rows = logs(c, path, filter);
        let mut ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        ids.dedup();
        assert_eq!(ids.len(), rows.len(), "{path} {filter}: ids repeat");
        let mut got: Vec<Written> = rows
            .iter()
            .map(|r| {
                let (a, b, op, who, done) = log_row(r, keys, fields, &format!("{path} {filter}"));
                // Map back onto the static strings written, so the lists compare directly.
                *writes
                    .iter()
                    .find(|w| (w.0, w.1, w.2, w.3, w.4) == (&*a, &*b, &*op, &*who, done))
                    .unwrap_or_else(|| panic!("{path} {filter}: a row nobody wrote: {}", dump(r)))
            })
            .collect();
        got.sort();
        got
    };
    let field_names = [fields[0], fields[1], "operation", "operatorId"];
    assert_eq!(
        query(c, "{}"),
        expected(writes, [None; 4], None),
        "{path}: no filter"
    );
    assert_eq!(
        query(c, r#"{"regionId":"SHA"}"#),
        expected(writes, [None; 4], None),
        "{path}: regionId"
    );
    assert!(
        query(c, r#"{"regionId":"NOPE"}"#).is_empty(),
        "{path}: another region"
    );
    for (i, name) in field_names.iter().enumerate() {
        let mut values: Vec<&str> = writes.iter().map(|w| [w.0, w.1, w.2, w.3][i]).collect();
        values.sort();
        values.dedup();
        values.push("no-such-value");
        for value in values {
            let mut filter = [None; 4];
            filter[i] = Some(value);
            let body = format!(r#"{{"{name}":"{value}"}}"#);
            assert_eq!(
                query(c, &body),
                expected(writes, filter, None),
                "{path} {body}"
            );
        }
        // A blank value filters nothing, as in Java's DAO.
        let body = format!(r#"{{"{name}":" "}}"#);
        assert_eq!(
            query(c, &body),
            expected(writes, [None; 4], None),
            "{path} {body}"
        );
    }
    for done in [true, false] {
        let body = format!(r#"{{"complete":{done}}}"#);
        assert_eq!(
            query(c, &body),
            expected(writes, [None; 4], Some(done)),
            "{path} {body}"
        );
    }
    let (first, second) = (writes[0].0, writes[0].1);
    let body = format!(
        r#"{{"{}":"{first}","{}":"{second}","complete":false}}"#,
        fields[0], fields[1]
    );
    assert_eq!(
        query(c, &body),
        expected(writes, [Some(first), Some(second), None, None], Some(false)),
        "{path} {body}"
    );
}

#[test]
fn log_queries_filter_by_each_field() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();

    let instance_writes: [Written; 5] = [
        ("log-svc-a", "i1", "deploy", "alice", false),
        ("log-svc-a", "i1", "deploy", "bob", true),
        ("log-svc-a", "i2", "incident", "alice", false),
        ("log-svc-b", "i1", "deploy", "carol", false),
        ("log-svc-b", "i3", "canary", "bob", false),
    ];
    for (svc, id, op, who, done) in instance_writes {
        let key = instance_key(&Inst::new(svc, id));
        let body = with_field(
            &operate_instance_body(&key, op, done),
            "operatorId",
            who.into(),
        );
        assert_write_ok(&management_post(&mut c, OPERATE_INSTANCE, &body), &body);
    }
    let server_writes: [Written; 4] = [
        ("10.2.0.1", "", "deploy", "alice", false),
        ("10.2.0.1", "", "deploy", "alice", true),
        ("10.2.0.2", "", "incident", "bob", false),
        ("10.2.0.3", "", "deploy", "carol", false),
    ];
    for (ip, _, op, who, done) in server_writes {
        let body = with_field(
            &operate_server_body(&server_key(REGION, ip), op, done),
            "operatorId",
            who.into(),
        );
        assert_write_ok(&management_post(&mut c, OPERATE_SERVER, &body), &body);
    }
    let zone_writes: [Written; 4] = [
        ("log-svc-a", "SHAJQ", "drill", "alice", false),
        ("log-svc-a", "SHAJQ", "drill", "bob", true),
        ("log-svc-a", "SHAOY", "outage", "alice", false),
        ("log-svc-b", "SHAJQ", "drill", "carol", false),
    ];
    for (svc, zone, op, who, done) in zone_writes {
        let body = with_field(
            &operate_zone_body(&[zone_key(REGION, svc, zone)], &[op], done),
            "operatorId",
            who.into(),
        );
        assert_write_ok(&management_post(&mut c, OPERATE_ZONE, &body), &body);
    }

    check_log_filters(
        &mut c,
        INSTANCE_LOGS,
        &INSTANCE_LOG_KEYS,
        ["serviceId", "instanceId"],
        &instance_writes,
    );
    check_server_log_filters(&mut c, &server_writes);
    check_log_filters(
        &mut c,
        ZONE_LOGS,
        &ZONE_LOG_KEYS,
        ["serviceId", "zoneId"],
        &zone_writes,
    );
}

/// The server log has one key field (`serverId`); its rows are checked with the same model,
/// the second field always "".
fn check_server_log_filters(c: &mut Client, writes: &[Written]) {
    let query = |c: &mut Client, filter: &str| -> Vec<Written> {
        let mut got: Vec<Written> = logs(c, SERVER_LOGS, filter)
            .iter()
            .map(|r| {
                let (ip, _, op, who, done) =
                    log_row(r, &SERVER_LOG_KEYS, ["serverId", "serverId"], filter);
                *writes
                    .iter()
                    .find(|w| (w.0, w.2, w.3, w.4) == (&*ip, &*op, &*who, done))
                    .unwrap_or_else(|| {
                        panic!("server log {filter}: a row nobody wrote: {}", dump(r))
                    })
            })
            .collect();
        got.sort();
        got
    };
    let cases: [(&str, Filter, Option<bool>); 9] = [
        ("{}", [None; 4], None),
        (r#"{"regionId":"SHA"}"#, [None; 4], None),
        (
            r#"{"serverId":"10.2.0.1"}"#,
            [Some("10.2.0.1"), None, None, None],
            None,
        ),
        (
            r#"{"serverId":"10.9.9.9"}"#,
            [Some("10.9.9.9"), None, None, None],
            None,
        ),
        (
            r#"{"operation":"deploy"}"#,
            [None, None, Some("deploy"), None],
            None,
        ),
        (
            r#"{"operatorId":"alice"}"#,
            [None, None, None, Some("alice")],
            None,
        ),
        (r#"{"complete":true}"#, [None; 4], Some(true)),
        (r#"{"complete":false}"#, [None; 4], Some(false)),
        (
            r#"{"serverId":"10.2.0.1","operatorId":"alice","complete":false}"#,
            [Some("10.2.0.1"), None, None, Some("alice")],
            Some(false),
        ),
    ];
    for (filter, fields, complete) in cases {
        assert_eq!(
            query(c, filter),
            expected(writes, fields, complete),
            "server log {filter}"
        );
    }
    assert!(query(c, r#"{"regionId":"NOPE"}"#).is_empty());
}

#[test]
fn tokens_guard_every_write_when_configured_and_never_show() {
    const ALPHA: &str = "tok-alpha-1f3e77";
    const BETA: &str = "tok-beta-9c2d41";
    const SVC: &str = "token-svc";
    let config = format!("[management]\ntokens = [\"{ALPHA}\", \"{BETA}\"]\n");
    let server = Server::start_sha(&[], Some(&config));
    let mut c = server.client();
    let a = Inst::new(SVC, "a");
    register(&mut c, &[a.clone(), Inst::new(SVC, "b").ip("10.0.0.2")]);
    let pull_a = operate_instance_body(&instance_key(&a), PULL_OUT, false);

    let refused: Vec<(String, Vec<(&str, String)>)> = vec![
        (pull_a.clone(), vec![]),
        (with_field(&pull_a, "token", "wrong".into()), vec![]),
        (with_field(&pull_a, "token", "tok-alpha".into()), vec![]),
        (with_field(&pull_a, "token", "".into()), vec![]),
        (
            pull_a.clone(),
            vec![("Authorization", "Bearer wrong".into())],
        ),
        (
            pull_a.clone(),
            vec![("Authorization", format!("Basic {ALPHA}"))],
        ),
        (pull_a.clone(), vec![("Authorization", "Bearer ".into())]),
    ];
    for (body, headers) in &refused {
        let hs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c.request("POST", OPERATE_INSTANCE, &hs, body.as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_fail_with_some_message(&r.json(), "no-permission", &format!("{body} {headers:?}"));
    }
    assert_discovered(&server, SVC, &["a", "b"], "after refused writes");
    assert!(
        logs(&mut c, INSTANCE_LOGS, "{}").is_empty(),
        "a refused write logs nothing"
    );

    // Either token, in the header or in the body.
    let bearer = format!("Bearer {ALPHA}");
    let r = c.request(
        "POST",
        OPERATE_INSTANCE,
        &[("Authorization", &bearer)],
        pull_a.as_bytes(),
    );
    assert_write_ok(&r.json(), "pull-out with a bearer token");
    assert_discovered(&server, SVC, &["b"], "pulled out with a token");
    let pull_server = with_field(
        &operate_server_body(&server_key(REGION, "10.0.0.2"), PULL_OUT, false),
        "token",
        BETA.into(),
    );
    assert_write_ok(
        &management_post(&mut c, OPERATE_SERVER, &pull_server),
        "server pull-out with a body token",
    );
    assert_discovered(&server, SVC, &[], "server pulled out too");

    // Pull-ins and zone writes are writes too.
    let pull_in_a = operate_instance_body(&instance_key(&a), PULL_OUT, true);
    let v = management_post(&mut c, OPERATE_INSTANCE, &pull_in_a);
    assert_fail_with_some_message(&v, "no-permission", "pull-in without a token");
    let zone = operate_zone_body(&[zone_key(REGION, SVC, ZONE)], &[PULL_OUT], false);
    let v = management_post(&mut c, OPERATE_ZONE, &zone);
    assert_fail_with_some_message(&v, "no-permission", "zone write without a token");
    assert!(all_zone_operations(&mut c, None).is_empty());
    let r = c.request(
        "POST",
        OPERATE_ZONE,
        &[("Authorization", &bearer)],
        zone.as_bytes(),
    );
    assert_write_ok(&r.json(), "zone write with a token");

    // Reads stay open, and no answer or server log line shows a token.
    let mut seen = String::new();
    for (path, body) in [
        (INSTANCE_LOGS, "{}"),
        (SERVER_LOGS, "{}"),
        (ZONE_LOGS, "{}"),
        (ALL_INSTANCE_OPERATIONS, "{}"),
        (ALL_SERVER_OPERATIONS, "{}"),
        (ALL_ZONE_OPERATIONS, "{}"),
        (MANAGEMENT_SERVICES, "{}"),
    ] {
        seen.push_str(&dump(&management_read(&mut c, path, body)));
    }
    assert_eq!(logs(&mut c, INSTANCE_LOGS, "{}").len(), 1);
    assert_eq!(logs(&mut c, SERVER_LOGS, "{}").len(), 1);
    assert_eq!(logs(&mut c, ZONE_LOGS, "{}").len(), 1);
    for token in [ALPHA, BETA] {
        assert!(!seen.contains(token), "a read answer shows a token: {seen}");
        assert!(
            !server.stderr().contains(token),
            "the server's log shows a token"
        );
    }
}

#[test]
fn concurrent_pull_outs_all_take_effect() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 50;
    let server = Server::start_sha(&["--shards", "2"], None);
    let services: Vec<String> = (0..THREADS).map(|t| format!("conc-svc-{t}")).collect();
    let batches: Vec<Vec<Inst>> = services
        .iter()
        .map(|s| {
            (0..PER_THREAD)
                .map(|n| Inst::new(s, &format!("i-{n:02}")))
                .collect()
        })
        .collect();
    let mut c = server.client();
    for batch in &batches {
        register(&mut c, batch);
    }

    let run = |complete: bool| {
        thread::scope(|scope| {
            for batch in &batches {
                let server = &server;
                scope.spawn(move || {
                    let mut c = server.client();
                    for inst in batch {
                        if complete {
                            pull_in_instance(&mut c, inst, PULL_OUT);
                        } else {
                            pull_out_instance(&mut c, inst, PULL_OUT);
                        }
                    }
                });
            }
        });
    };
    run(false);
    assert_each_service_shows(&server, &services, &[], "all pulled out");
    assert_eq!(
        all_instance_operations(&mut c, None).len(),
        THREADS * PER_THREAD
    );
    assert_eq!(
        logs(&mut c, INSTANCE_LOGS, "{}").len(),
        THREADS * PER_THREAD
    );

    run(true);
    let ids: Vec<String> = (0..PER_THREAD).map(|n| format!("i-{n:02}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_each_service_shows(&server, &services, &ids, "all pulled in");
    assert!(all_instance_operations(&mut c, None).is_empty());
    assert_eq!(
        logs(&mut c, INSTANCE_LOGS, r#"{"complete":true}"#).len(),
        THREADS * PER_THREAD
    );
}
