//! Cluster endpoints (up-registry-nodes / up-discovery-nodes), status endpoints (node, leases,
//! legacy-leases), /health and the path prefix.

use harness::*;

const NODE_URL: &str = "http://10.0.0.5:8080/artemis-service";

fn assert_nodes(v: &Value, url: &str, ctx: &str) {
    assert_success_status(v, ctx);
    assert_sorted_keys(v, ctx);
    assert_eq!(arr_len(&v["nodes"], "nodes"), 1, "{ctx}: {}", dump(v));
    let node = &v["nodes"][0];
    assert_eq!(node["url"].as_str(), Some(url), "{ctx}: {}", dump(v));
    let zone = &node["zone"];
    assert!(
        zone.get("metadata").is_some() && zone["metadata"].is_null(),
        "{ctx}: zone.metadata must be null: {}",
        dump(v)
    );
    assert_eq!(zone["regionId"].as_str(), Some(REGION), "{ctx}");
    assert_eq!(zone["zoneId"].as_str(), Some(ZONE), "{ctx}");
    assert_eq!(zone.as_object().unwrap().len(), 3, "{ctx}: zone keys");
    assert_eq!(node.as_object().unwrap().len(), 2, "{ctx}: node keys");
}

#[test]
fn up_nodes_advertise_the_node_url() {
    let server = Server::start_sha(&["--node-url", NODE_URL], None);
    let want = "http://10.0.0.5:8080/artemis-service/";
    let mut c = server.client();
    for kind in ["up-registry-nodes", "up-discovery-nodes"] {
        let path = format!("/api/cluster/{kind}.json");
        let (st, v) = c.post_json(&path, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
        assert_eq!(st, 200, "{}", dump(&v));
        assert_nodes(&v, want, &format!("POST {kind}"));
        let (st, v) = c.post_gzip(&path, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
        assert_eq!(st, 200);
        assert_nodes(&v, want, &format!("gzip POST {kind}"));
        let (st, v) = c.get(&format!("{path}?regionId=SHA&zoneId=SHAJQ"));
        assert_eq!(st, 200, "{}", dump(&v));
        assert_nodes(&v, want, &format!("GET {kind}"));
        let (st, v) = c.get(&path);
        assert_eq!(st, 200, "{}", dump(&v));
        assert_nodes(&v, want, &format!("GET {kind} without query"));
    }
}

#[test]
fn default_node_url_is_derived_from_the_bound_address() {
    let server = Server::start_sha(&[], None);
    let (st, v) = server.post_json(
        "/api/cluster/up-registry-nodes.json",
        r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#,
    );
    assert_eq!(st, 200);
    assert_nodes(&v, &format!("http://{}/", server.addr), "default url");

    let prefixed = Server::start_sha(&["--path-prefix", "/artemis-service"], None);
    let (_, v) = prefixed.post_json(
        "/artemis-service/api/cluster/up-discovery-nodes.json",
        r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#,
    );
    assert_nodes(
        &v,
        &format!("http://{}/artemis-service/", prefixed.addr),
        "default url with prefix",
    );
}

#[test]
fn node_status() {
    let server = Server::start_sha(&["--node-url", NODE_URL], None);
    let mut c = server.client();
    let (st, post) = c.post_json("/api/status/node.json", "{}");
    let (st2, get) = c.get("/api/status/node.json");
    assert_eq!((st, st2), (200, 200));
    for (how, v) in [("POST", &post), ("GET", &get)] {
        assert_success_status(v, how);
        assert_sorted_keys(v, how);
        let ns = &v["nodeStatus"];
        assert_eq!(ns["status"].as_str(), Some("up"), "{how}: {}", dump(v));
        assert_eq!(ns["canServiceRegistry"].as_bool(), Some(true), "{how}");
        assert_eq!(ns["canServiceDiscovery"].as_bool(), Some(true), "{how}");
        assert_eq!(
            ns["allowRegistryFromOtherZone"].as_bool(),
            Some(true),
            "{how}"
        );
        assert_eq!(
            ns["allowDiscoveryFromOtherZone"].as_bool(),
            Some(true),
            "{how}"
        );
        assert_eq!(
            ns["node"]["url"].as_str(),
            Some("http://10.0.0.5:8080/artemis-service/"),
            "{how}"
        );
        assert_eq!(ns["node"]["zone"]["regionId"].as_str(), Some(REGION));
        assert_eq!(ns["node"]["zone"]["zoneId"].as_str(), Some(ZONE));
    }

    let strict = Server::start_sha(
        &[],
        Some("[registry]\nallow_from_other_zone = false\n[discovery]\nallow_from_other_zone = false\n"),
    );
    let (_, v) = strict.client().get("/api/status/node.json");
    assert_eq!(
        v["nodeStatus"]["allowRegistryFromOtherZone"].as_bool(),
        Some(false)
    );
    assert_eq!(
        v["nodeStatus"]["allowDiscoveryFromOtherZone"].as_bool(),
        Some(false)
    );
}

fn lease_entries(v: &Value, service_id: &str) -> Vec<Value> {
    match v["leases"].get(service_id) {
        None => Vec::new(),
        Some(l) if l.is_null() => Vec::new(),
        Some(l) => l
            .as_array()
            .unwrap_or_else(|| panic!("leases.{service_id} not an array: {}", dump(v)))
            .iter()
            .cloned()
            .collect(),
    }
}

fn assert_lease(lease: &Value, instance: &Inst, ttl: u64, ctx: &str) {
    assert_eq!(
        lease["instance"].as_str(),
        Some(instance.key_string().as_str()),
        "{ctx}: {}",
        dump(lease)
    );
    assert_eq!(lease["ttl"].as_u64(), Some(ttl), "{ctx}: {}", dump(lease));
    for k in ["creationTime", "renewalTime", "evitionTime"] {
        let s = lease[k]
            .as_str()
            .unwrap_or_else(|| panic!("{ctx}: {k} not a string: {}", dump(lease)));
        assert!(
            is_java_timestamp(s),
            "{ctx}: {k} {s:?} is not yyyy-MM-dd HH:mm:ss.SSS"
        );
    }
}

fn assert_leases_response(v: &Value, ctx: &str) {
    assert_success_status(v, ctx);
    assert_sorted_keys(v, ctx);
    for k in [
        "leaseUpdateMaxCount",
        "leaseUpdateMaxCountLastUpdateTime",
        "leaseUpdateCountLastTimeWindow",
        "leaseCount",
    ] {
        assert!(v[k].is_number(), "{ctx}: {k} missing: {}", dump(v));
    }
    for k in ["isSafe", "isSafeCheckEnabled"] {
        assert!(v[k].is_boolean(), "{ctx}: {k} missing: {}", dump(v));
    }
    assert!(v["leases"].is_object(), "{ctx}: leases: {}", dump(v));
}

#[test]
fn leases_and_legacy_leases() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let normal = Inst::new("LeaseSvc", "L-1");
    let legacy = Inst::new("LeaseSvc", "legacy-1").metadata(&[("java_registry", "x")]);
    register(&mut c, &[normal.clone(), legacy.clone()]);

    let (st, v) = c.post_json("/api/status/leases.json", r#"{"serviceIds":["LeaseSvc"]}"#);
    assert_eq!(st, 200, "{}", dump(&v));
    assert_leases_response(&v, "leases.json POST");
    let leases = lease_entries(&v, "LeaseSvc");
    assert_eq!(leases.len(), 1, "only the normal instance: {}", dump(&v));
    assert_lease(&leases[0], &normal, 20_000, "normal lease");
    assert!(v["leaseCount"].as_u64().unwrap() >= 1);

    let (st, v) = c.get("/api/status/leases.json?appIds=LeaseSvc");
    assert_eq!(st, 200, "{}", dump(&v));
    assert_leases_response(&v, "leases.json GET");
    let leases = lease_entries(&v, "LeaseSvc");
    assert_eq!(leases.len(), 1, "{}", dump(&v));
    assert_lease(&leases[0], &normal, 20_000, "normal lease (GET)");

    let (st, v) = c.post_json(
        "/api/status/legacy-leases.json",
        r#"{"serviceIds":["LeaseSvc"]}"#,
    );
    assert_eq!(st, 200, "{}", dump(&v));
    assert_leases_response(&v, "legacy-leases.json POST");
    let leases = lease_entries(&v, "LeaseSvc");
    assert_eq!(leases.len(), 1, "only the legacy instance: {}", dump(&v));
    assert_lease(&leases[0], &legacy, 90_000, "legacy lease");

    // Several appIds parameters.
    let other = Inst::new("OtherLeaseSvc", "o-1");
    register(&mut c, std::slice::from_ref(&other));
    let (st, v) = c.get("/api/status/leases.json?appIds=LeaseSvc&appIds=OtherLeaseSvc");
    assert_eq!(st, 200, "{}", dump(&v));
    assert_eq!(lease_entries(&v, "LeaseSvc").len(), 1, "{}", dump(&v));
    assert_lease(
        &lease_entries(&v, "OtherLeaseSvc")[0],
        &other,
        20_000,
        "second appId",
    );
    let (_, v) = c.post_json(
        "/api/status/leases.json",
        r#"{"serviceIds":["LeaseSvc","OtherLeaseSvc"]}"#,
    );
    assert_eq!(lease_entries(&v, "OtherLeaseSvc").len(), 1, "{}", dump(&v));

    let (st, v) = c.get("/api/status/legacy-leases.json?appIds=LeaseSvc");
    assert_eq!(st, 200, "{}", dump(&v));
    assert_eq!(lease_entries(&v, "LeaseSvc").len(), 1, "{}", dump(&v));

    // Both are discoverable.
    assert_eq!(
        lookup_ids(&mut c, "leasesvc"),
        vec!["L-1".to_string(), "legacy-1".to_string()]
    );

    // After unregister the lease is gone.
    unregister(&mut c, std::slice::from_ref(&normal));
    let (_, v) = c.post_json("/api/status/leases.json", r#"{"serviceIds":["LeaseSvc"]}"#);
    assert!(lease_entries(&v, "LeaseSvc").is_empty(), "{}", dump(&v));
}

#[test]
fn configured_ttl_shows_in_leases() {
    let server = Server::start_sha(&["--lease-ttl-ms", "30000"], None);
    let mut c = server.client();
    let inst = Inst::new("ttl-svc", "t-1");
    register(&mut c, std::slice::from_ref(&inst));
    let (_, v) = c.post_json("/api/status/leases.json", r#"{"serviceIds":["ttl-svc"]}"#);
    let leases = lease_entries(&v, "ttl-svc");
    assert_eq!(leases.len(), 1, "{}", dump(&v));
    assert_lease(&leases[0], &inst, 30_000, "--lease-ttl-ms");

    let cfg = Server::start_sha(
        &[],
        Some("[lease]\nttl_ms = 45000\nlegacy_ttl_ms = 120000\n"),
    );
    let mut c = cfg.client();
    let legacy = Inst::new("ttl-svc", "t-2").metadata(&[("java_registry", "yes")]);
    register(&mut c, &[inst.clone(), legacy.clone()]);
    let (_, v) = c.post_json("/api/status/leases.json", r#"{"serviceIds":["ttl-svc"]}"#);
    assert_lease(
        &lease_entries(&v, "ttl-svc")[0],
        &inst,
        45_000,
        "config ttl_ms",
    );
    let (_, v) = c.post_json(
        "/api/status/legacy-leases.json",
        r#"{"serviceIds":["ttl-svc"]}"#,
    );
    assert_lease(
        &lease_entries(&v, "ttl-svc")[0],
        &legacy,
        120_000,
        "config legacy_ttl_ms",
    );
}

#[test]
fn health_endpoint() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let r = c.request("GET", "/health", &[], b"");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .contains("application/json"),
        "content-type: {:?}",
        r.header("content-type")
    );
    assert_eq!(r.json(), sonic_rs::json!({"status": "up"}));
}

#[test]
fn path_prefix_serves_both_forms() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], None);
    let mut c = server.client();
    let inst = Inst::new("prefix-svc", "p-1");
    let (st, v) = c.post_gzip(
        "/artemis-service/api/registry/register.json",
        &instances_body(std::slice::from_ref(&inst)),
    );
    assert_registry_ok(st, &v, "prefixed register");
    for path in [
        "/artemis-service/api/discovery/lookup.json",
        "/artemis-service/api/discovery/lookup.json/",
        "/api/discovery/lookup.json",
    ] {
        let (st, v) = c.post_json(path, &lookup_body(&["prefix-svc"]));
        assert_eq!(st, 200, "{path}: {}", dump(&v));
        assert_instance_eq(&v["services"][0]["instances"][0], &inst, path);
    }
    let (st, v) = c.get("/artemis-service/api/status/node.json");
    assert_eq!(st, 200);
    assert_eq!(v["nodeStatus"]["status"].as_str(), Some("up"));
    let (st, v) = c.get("/artemis-service/health");
    assert_eq!(st, 200);
    assert_eq!(v["status"].as_str(), Some("up"));
    let r = c.request(
        "POST",
        "/artemis-services/api/discovery/lookup.json",
        &[],
        lookup_body(&["prefix-svc"]).as_bytes(),
    );
    assert_protocol_error(&r, 404, "near-miss prefix");
}

#[test]
fn listed_leases_are_capped_but_all_counted() {
    let server = Server::start_sha(
        &["--shards", "1"],
        Some("[limits]\nmax_listed_leases = 3\n"),
    );
    let mut c = server.client();
    let insts: Vec<Inst> = (0..10)
        .map(|i| Inst::new("cap-svc", &format!("cap-{i}")))
        .collect();
    register(&mut c, &insts);
    let (status, v) = c.post_json("/api/status/leases.json", r#"{"serviceIds":[]}"#);
    assert_eq!(status, 200);
    assert_eq!(v["leaseCount"].as_u64(), Some(10), "{}", dump(&v));
    assert_eq!(lease_entries(&v, "cap-svc").len(), 3, "{}", dump(&v));
}
