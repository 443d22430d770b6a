//! Discovery endpoints: lookup, service.json, services.json; cross-shard batches and concurrent
//! clients.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;

use harness::*;

#[test]
fn lookup_unknown_service_has_empty_lists_and_keeps_request_order() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    register(&mut c, &[Inst::new("known", "k1")]);
    let (st, v) = c.post_json(LOOKUP, &lookup_body(&["nope", "known", "Nope2"]));
    assert_eq!(st, 200);
    assert_success_status(&v, "lookup");
    assert_sorted_keys(&v, "lookup");
    assert_eq!(arr_len(&v["services"], "services"), 3);
    let ids: Vec<&str> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["serviceId"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["nope", "known", "Nope2"]);
    for i in [0, 2] {
        let s = &v["services"][i];
        assert_eq!(arr_len(&s["instances"], "instances"), 0, "{}", dump(s));
        assert_eq!(arr_len(&s["logicInstances"], "logicInstances"), 0);
        assert_eq!(arr_len(&s["routeRules"], "routeRules"), 0);
        assert!(s.get("metadata").is_some() && s["metadata"].is_null());
    }
    assert_eq!(arr_len(&v["services"][1]["instances"], "known"), 1);

    // The Java client sends exactly this shape (discoveryData null, region/zone on both levels).
    let body = r#"{"discoveryConfigs":[{"discoveryData":null,"regionId":"SHA","serviceId":"known","zoneId":"SHAJQ"}],"regionId":"SHA","zoneId":"SHAJQ"}"#;
    let (_, v) = c.post_gzip(LOOKUP, body);
    assert_eq!(arr_len(&v["services"][0]["instances"], "gzip lookup"), 1);

    // The same service asked twice is answered twice.
    let (_, v) = c.post_json(LOOKUP, &lookup_body(&["known", "KNOWN"]));
    assert_eq!(arr_len(&v["services"], "services"), 2);
    assert_eq!(v["services"][1]["serviceId"].as_str(), Some("KNOWN"));
    assert_eq!(arr_len(&v["services"][1]["instances"], "dup"), 1);
}

#[test]
fn service_json_post_and_get() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let inst = Inst::new("one-svc", "o1");
    register(&mut c, std::slice::from_ref(&inst));

    let (st, v) = c.post_json(
        SERVICE,
        r#"{"discoveryConfig":{"serviceId":"one-svc","regionId":"SHA","zoneId":"SHAJQ"},"regionId":"SHA","zoneId":"SHAJQ"}"#,
    );
    assert_eq!(st, 200, "{}", dump(&v));
    assert_success_status(&v, "service.json POST");
    assert_sorted_keys(&v, "service.json");
    assert_eq!(v["service"]["serviceId"].as_str(), Some("one-svc"));
    assert_eq!(arr_len(&v["service"]["instances"], "instances"), 1);
    assert_instance_eq(&v["service"]["instances"][0], &inst, "service.json POST");

    // Percent-encoded query values are decoded ("%2D" is "-").
    let (st, v) =
        c.get("/api/discovery/service.json?serviceId=ONE%2DSVC&regionId=SHA&zoneId=SHAJQ");
    assert_eq!(st, 200, "{}", dump(&v));
    assert_success_status(&v, "service.json GET");
    assert_eq!(v["service"]["serviceId"].as_str(), Some("ONE-SVC"));
    assert_instance_eq(&v["service"]["instances"][0], &inst, "service.json GET");

    // No discoveryConfig: logical bad-request, HTTP 200.
    let (st, v) = c.post_json(SERVICE, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(st, 200, "{}", dump(&v));
    assert_eq!(v["responseStatus"]["status"].as_str(), Some("fail"));
    assert_eq!(
        v["responseStatus"]["errorCode"].as_str(),
        Some("bad-request")
    );
    assert!(v["service"].is_null());
}

#[test]
fn services_json_post_and_get_and_version() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let (st, v) = c.get("/api/discovery/services.json");
    assert_eq!(st, 200, "{}", dump(&v));
    assert_success_status(&v, "services.json GET");
    assert_eq!(arr_len(&v["services"], "services"), 0);
    let mut last = v["version"].as_u64().expect("version");

    let mut check = |c: &mut Client, what: &str, want: &[&str]| {
        let (st, v) = c.get("/api/discovery/services.json?regionId=SHA&zoneId=SHAJQ");
        assert_eq!(st, 200);
        assert_sorted_keys(&v, "services.json");
        let version = v["version"].as_u64().expect("version");
        assert!(version > last, "{what}: version {last} -> {version}");
        last = version;
        let ids: BTreeSet<String> = v["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["serviceId"].as_str().unwrap().to_string())
            .collect();
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(ids, want, "{what}: {}", dump(&v));
    };
    register(&mut c, &[Inst::new("s-a", "1")]);
    check(&mut c, "register s-a", &["s-a"]);
    register(&mut c, &[Inst::new("s-b", "1"), Inst::new("s-b", "2")]);
    check(&mut c, "register s-b", &["s-a", "s-b"]);
    unregister(&mut c, &[Inst::new("s-b", "1")]);
    check(&mut c, "unregister s-b/1", &["s-a", "s-b"]);
    unregister(&mut c, &[Inst::new("s-a", "1")]);
    check(&mut c, "unregister s-a/1", &["s-b"]);

    // A heartbeat is not a change.
    let (_, v) = c.post_json(SERVICES, "{}");
    let before = v["version"].as_u64().unwrap();
    let (st, hv) = heartbeat(&mut c, &[Inst::new("s-b", "2")]);
    assert_registry_ok(st, &hv, "heartbeat");
    let (_, v) = c.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(v["version"].as_u64().unwrap(), before);
    assert_eq!(arr_len(&v["services"][0]["instances"], "s-b instances"), 1);
}

/// Instance `i` of 2,000 belongs to service `i % 200`, so every batch of 100 consecutive
/// instances touches 100 different services spread over all shards.
/// Instances over all services of a services.json reply.
fn instance_count(v: &Value) -> usize {
    v["services"]
        .as_array()
        .unwrap_or_else(|| panic!("services.json services: {}", dump(v)))
        .iter()
        .map(|s| arr_len(&s["instances"], "instances"))
        .sum()
}

#[test]
fn cross_shard_batches_and_big_lookup() {
    const SERVICES_N: usize = 200;
    const PER: usize = 10;
    let server = Server::start_sha(&["--shards", "4"], None);
    let mut c = server.client();
    let all: Vec<Inst> = (0..SERVICES_N * PER)
        .map(|i| {
            let svc = format!("xs-{:03}", i % SERVICES_N);
            let id = format!("{svc}-inst-{}", i / SERVICES_N);
            Inst::new(&svc, &id).port(10_000 + i as i64)
        })
        .collect();
    for batch in all.chunks(100) {
        let (st, v) = c.post_json(REGISTER, &instances_body(batch));
        assert_registry_ok(st, &v, "batch register");
    }

    // Ask in a scrambled order (7 is coprime with 200).
    let order: Vec<String> = (0..SERVICES_N)
        .map(|k| format!("xs-{:03}", (k * 7 + 3) % SERVICES_N))
        .collect();
    let order_refs: Vec<&str> = order.iter().map(String::as_str).collect();
    let (st, v) = c.post_json(LOOKUP, &lookup_body(&order_refs));
    assert_eq!(st, 200);
    assert_success_status(&v, "big lookup");
    let services = v["services"].as_array().expect("services");
    assert_eq!(services.len(), SERVICES_N);
    let by_id: BTreeMap<String, &Inst> = all
        .iter()
        .map(|i| (i.instance_id.clone().unwrap(), i))
        .collect();
    for (k, s) in services.iter().enumerate() {
        assert_eq!(
            s["serviceId"].as_str(),
            Some(order[k].as_str()),
            "position {k}"
        );
        let insts = s["instances"].as_array().expect("instances");
        assert_eq!(
            insts.len(),
            PER,
            "{} has {} instances",
            order[k],
            insts.len()
        );
        let mut ids = BTreeSet::new();
        for inst in insts.iter() {
            let id = inst["instanceId"].as_str().unwrap().to_string();
            assert!(
                id.starts_with(&format!("{}-inst-", order[k])),
                "{id} in {}",
                order[k]
            );
            assert_instance_eq(inst, by_id[&id], "cross-shard instance");
            ids.insert(id);
        }
        assert_eq!(ids.len(), PER);
    }

    let (_, v) = c.post_json(SERVICES, "{}");
    assert_eq!(arr_len(&v["services"], "services.json"), SERVICES_N);
    assert_eq!(instance_count(&v), SERVICES_N * PER);

    // Cross-shard heartbeat and unregister batches too.
    for batch in all.chunks(100) {
        let (st, v) = heartbeat(&mut c, batch);
        assert_registry_ok(st, &v, "batch heartbeat");
    }
    let evens: Vec<Inst> = all.iter().step_by(2).cloned().collect();
    for batch in evens.chunks(100) {
        unregister(&mut c, batch);
    }
    let (_, v) = c.post_json(SERVICES, "{}");
    assert_eq!(instance_count(&v), SERVICES_N * PER / 2);
}

#[test]
fn concurrent_clients() {
    const THREADS: usize = 8;
    const REQUESTS: usize = 200;
    const SERVICES_N: usize = 10;
    let server = Server::start_sha(&[], None);
    let addr = server.addr;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut registered = Vec::new();
                for i in 0..REQUESTS {
                    let svc = format!("conc-{}", (t + i) % SERVICES_N);
                    match i % 3 {
                        0 => {
                            let inst = Inst::new(&svc, &format!("t{t}-i{i}"));
                            let (st, v) =
                                c.post_json(REGISTER, &instances_body(std::slice::from_ref(&inst)));
                            assert_registry_ok(st, &v, "concurrent register");
                            registered.push(inst);
                        }
                        1 => {
                            let last = registered.last().unwrap().clone();
                            let (st, v) = heartbeat(&mut c, &[last]);
                            assert_registry_ok(st, &v, "concurrent heartbeat");
                        }
                        _ => {
                            let (st, v) = c.post_json(LOOKUP, &lookup_body(&[&svc, "conc-0"]));
                            assert_eq!(st, 200);
                            assert_success_status(&v, "concurrent lookup");
                            assert_eq!(arr_len(&v["services"], "services"), 2);
                            // Our own registrations are visible to ourselves.
                            let mine = registered.last().unwrap();
                            let lsvc = mine.service_id.clone().unwrap();
                            let svc_obj = lookup_one(&mut c, &lsvc);
                            let found =
                                svc_obj["instances"].as_array().unwrap().iter().any(|x| {
                                    x["instanceId"].as_str() == mine.instance_id.as_deref()
                                });
                            assert!(found, "own registration not visible");
                        }
                    }
                }
                registered
            })
        })
        .collect();
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for h in handles {
        for inst in h.join().expect("client thread panicked") {
            expected
                .entry(inst.service_id.unwrap())
                .or_default()
                .insert(inst.instance_id.unwrap());
        }
    }
    let total: usize = expected.values().map(BTreeSet::len).sum();
    assert_eq!(total, THREADS * REQUESTS.div_ceil(3));
    let mut c = server.client();
    for s in 0..SERVICES_N {
        let svc = format!("conc-{s}");
        let got: BTreeSet<String> = lookup_ids(&mut c, &svc).into_iter().collect();
        assert_eq!(&got, expected.get(&svc).unwrap(), "{svc}");
    }
}
