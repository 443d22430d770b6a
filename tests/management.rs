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

/// A (changeType, instanceId) pair.
fn pair(kind: &str, id: &str) -> (String, String) {
    (kind.to_string(), id.to_string())
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
