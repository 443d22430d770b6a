//! The replication endpoints a peer calls (`/api/replication/registry/*.json`, spec §9.2, §9.3),
//! posted here by the test as a peer would: Java's handler differences from the registry
//! endpoints, the registry copy (`services.json`), who may call them (the cluster secret, or the
//! configured nodes' hosts), a starting node refusing clients but not peers (§11.8), and the
//! separate cluster listener (`cluster.listen`).

use harness::*;

const REPLICATE_REGISTER: &str = "/api/replication/registry/register.json";
const REPLICATE_HEARTBEAT: &str = "/api/replication/registry/heartbeat.json";
const REPLICATE_UNREGISTER: &str = "/api/replication/registry/unregister.json";
const REPLICATE_SERVICES: &str = "/api/replication/registry/services.json";
const DELTA: &str = "/api/discovery/services-delta.json";
const SECRET_HEADER: &str = "X-Artemis-Cluster-Secret";

/// This node's URL in the tests' cluster: on 127.0.0.1 (the tests' own host), with a port no
/// node listens on, since the node is recognised by its URL, not by its socket.
const NODE_URL: &str = "http://127.0.0.1:9/";
/// A cluster of this node and one peer that nobody runs.
const NODES: &str = "SHAJQ:http://127.0.0.1:9/,http://127.0.0.1:1/";

/// A node of [`NODES`], forced up (its peer never answers), with `extra` arguments.
fn cluster_node(extra: &[&str], config: Option<&str>) -> Server {
    let mut args = vec![
        "--node-url",
        NODE_URL,
        "--cluster-nodes",
        NODES,
        "--force-up",
    ];
    args.extend_from_slice(extra);
    Server::start_sha(&args, config)
}

/// POST `body` (gzip-compressed when `gzip`) with extra headers; the answer's status and JSON.
fn post(
    c: &mut Client,
    path: &str,
    body: &str,
    gzip_it: bool,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    let bytes = if gzip_it {
        all.push(("Content-Encoding", "gzip"));
        gzip(body.as_bytes())
    } else {
        body.as_bytes().to_vec()
    };
    let r = c.request("POST", path, &all, &bytes);
    (r.status, r.json())
}

/// The `services` of a replication `services.json` answer, asserting its shape: exactly
/// `responseStatus` (success) and `services` (no `version`), keys sorted.
fn replicated_services(v: &Value, ctx: &str) -> Vec<Value> {
    assert_success_status(v, ctx);
    assert_sorted_keys(v, ctx);
    let keys: Vec<&str> = v.as_object().unwrap().iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["responseStatus", "services"], "{ctx}: {}", dump(v));
    v["services"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: services is not a list: {}", dump(v)))
        .iter()
        .cloned()
        .collect()
}

/// (serviceId, sorted instanceIds) of every listed service, sorted, each Service asserted to be
/// Java's raw shape: instances set, the other lists and metadata null.
fn listed(services: &[Value], ctx: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = services
        .iter()
        .map(|s| {
            let keys: Vec<&str> = s.as_object().unwrap().iter().map(|(k, _)| k).collect();
            assert_eq!(
                keys,
                [
                    "instances",
                    "logicInstances",
                    "metadata",
                    "routeRules",
                    "serviceId"
                ],
                "{ctx}: {}",
                dump(s)
            );
            for null in ["logicInstances", "metadata", "routeRules"] {
                assert!(s[null].is_null(), "{ctx}: {null} must be null: {}", dump(s));
            }
            let mut ids: Vec<String> = s["instances"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["instanceId"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            (s["serviceId"].as_str().unwrap().to_string(), ids)
        })
        .collect();
    out.sort();
    out
}

fn assert_refused(status: u16, v: &Value, ctx: &str) -> String {
    assert_eq!(status, 403, "{ctx}: {}", dump(v));
    let keys: Vec<&str> = v.as_object().unwrap().iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["responseStatus"], "{ctx}: {}", dump(v));
    assert_fail_with_some_message(v, "no-permission", ctx)
}

#[test]
fn replicated_writes_register_renew_and_unregister_plain_or_gzip_with_or_without_prefix() {
    let server = cluster_node(&["--path-prefix", "/artemis-service"], None);
    let mut c = server.client();
    for (n, prefix) in ["", "/artemis-service"].into_iter().enumerate() {
        let gzip_it = n == 1;
        let ctx = format!("prefix {prefix:?}, gzip {gzip_it}");
        let inst = Inst::new("repl-svc", &format!("i{n}"));
        let body = instances_body(std::slice::from_ref(&inst));
        let (st, v) = post(
            &mut c,
            &format!("{prefix}{REPLICATE_REGISTER}"),
            &body,
            gzip_it,
            &[],
        );
        assert_registry_ok(st, &v, &format!("{ctx}: register"));
        let found = lookup_one(&mut c, "repl-svc");
        let instance = found["instances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["instanceId"].as_str() == inst.instance_id.as_deref())
            .unwrap_or_else(|| panic!("{ctx}: not registered: {}", dump(&found)))
            .clone();
        assert_instance_eq(&instance, &inst, &ctx);

        let (st, v) = post(
            &mut c,
            &format!("{prefix}{REPLICATE_HEARTBEAT}"),
            &body,
            gzip_it,
            &[],
        );
        assert_registry_ok(st, &v, &format!("{ctx}: heartbeat"));

        let (st, v) = post(
            &mut c,
            &format!("{prefix}{REPLICATE_UNREGISTER}"),
            &body,
            gzip_it,
            &[],
        );
        assert_registry_ok(st, &v, &format!("{ctx}: unregister"));
        assert!(
            lookup_ids(&mut c, "repl-svc").is_empty(),
            "{ctx}: unregistered at once"
        );
    }
    // Java's methods: the writes are POST only.
    let r = c.request("GET", REPLICATE_REGISTER, &[], b"");
    assert_eq!(r.status, 405, "{}", r.text());
}

#[test]
fn a_replicated_register_pushes_new_to_this_nodes_subscribers() {
    let server = cluster_node(&[], None);
    let mut ws = subscriber(&server, "pushed-svc");
    let inst = Inst::new("pushed-svc", "p1");
    let (st, v) = server.post_json(
        REPLICATE_REGISTER,
        &instances_body(std::slice::from_ref(&inst)),
    );
    assert_registry_ok(st, &v, "replicated register");
    expect_change(&mut ws, "new", &inst, "replicated register");
}

#[test]
fn a_replicated_heartbeat_for_an_unknown_instance_registers_it_as_sent() {
    let server = cluster_node(&[], None);
    let mut c = server.client();
    let mut ws = subscriber(&server, "healed-svc");
    let inst = Inst::new("healed-svc", "h1").metadata(&[("color", "blue")]);
    let body = instances_body(std::slice::from_ref(&inst));

    // A client's heartbeat for it is refused: the client must register.
    let (st, v) = heartbeat(&mut c, std::slice::from_ref(&inst));
    assert_eq!(st, 200);
    assert_one_not_found(&v, &inst.key_string(), &inst, "client heartbeat");
    assert!(lookup_ids(&mut c, "healed-svc").is_empty());

    // A peer holds it: this node takes it.
    let (st, v) = post(&mut c, REPLICATE_HEARTBEAT, &body, true, &[]);
    assert_registry_ok(st, &v, "replicated heartbeat of an unknown instance");
    let found = lookup_one(&mut c, "healed-svc");
    assert_eq!(
        arr_len(&found["instances"], "instances"),
        1,
        "{}",
        dump(&found)
    );
    assert_instance_eq(&found["instances"][0], &inst, "registered as sent");
    expect_change(&mut ws, "new", &inst, "the self-healing registration");

    // Now known: the client's own heartbeat renews it.
    let (st, v) = heartbeat(&mut c, std::slice::from_ref(&inst));
    assert_registry_ok(st, &v, "client heartbeat once known");
}

#[test]
fn replication_skips_the_zone_check_but_keeps_the_region_check() {
    let server = cluster_node(&[], Some("[registry]\nallow_from_other_zone = false\n"));
    let mut c = server.client();
    let other_zone = Inst::new("zoned-svc", "z1").zone("OTHERZONE");
    let body = instances_body(std::slice::from_ref(&other_zone));

    let (st, v) = c.post_json(REGISTER, &body);
    assert_eq!(st, 200);
    assert_eq!(
        v["responseStatus"]["status"].as_str(),
        Some("partial_fail"),
        "{}",
        dump(&v)
    );
    assert_eq!(
        v["failedInstances"][0]["errorCode"].as_str(),
        Some("no-permission")
    );
    assert!(lookup_ids(&mut c, "zoned-svc").is_empty());

    let (st, v) = c.post_json(REPLICATE_REGISTER, &body);
    assert_registry_ok(st, &v, "replicated register from another zone");
    assert_eq!(lookup_ids(&mut c, "zoned-svc"), ["z1"]);

    let other_region = Inst::new("zoned-svc", "r1").region("SHB");
    let (st, v) = c.post_json(
        REPLICATE_REGISTER,
        &instances_body(std::slice::from_ref(&other_region)),
    );
    assert_eq!(st, 200);
    assert_eq!(
        v["responseStatus"]["status"].as_str(),
        Some("partial_fail"),
        "{}",
        dump(&v)
    );
    let failed = &v["failedInstances"][0];
    assert_eq!(failed["errorCode"].as_str(), Some("no-permission"));
    assert_eq!(
        failed["errorMessage"].as_str(),
        Some(
            format!(
                "{}: regionId is not the same as the registry node. regionId: SHB, registry node.regionId: SHA",
                other_region.key_string()
            )
            .as_str()
        )
    );
    assert_instance_eq(&failed["instance"], &other_region, "echoed");
    assert_eq!(lookup_ids(&mut c, "zoned-svc"), ["z1"]);
}

#[test]
fn replicated_writes_have_their_own_rate_limiter() {
    let config = "[rate_limits.registry]\ndefault_per_10s = 5\n\
                  [rate_limits.registry_replication]\ndefault_per_10s = 5\n\
                  per_identity = { register = 1000000 }\n";
    let server = cluster_node(&["--shards", "1"], Some(config));
    let mut c = server.client();
    let body = instances_body(&[Inst::new("limited-svc", "l1")]);
    // The client limiter's allowance runs out; the replication limiter's register does not.
    let mut client_limited = false;
    for _ in 0..50 {
        let (_, v) = c.post_json(REGISTER, &body);
        if v["responseStatus"]["errorCode"].as_str() == Some("rate-limited") {
            client_limited = true;
            break;
        }
    }
    assert!(
        client_limited,
        "the registry limiter refuses after its limit"
    );
    for n in 0..50 {
        let (st, v) = c.post_json(REPLICATE_REGISTER, &body);
        assert_registry_ok(st, &v, &format!("replicated register {n}"));
    }
    // The replication limiter counts peer heartbeats on their own.
    let mut replication_limited = false;
    for _ in 0..50 {
        let (st, v) = c.post_json(REPLICATE_HEARTBEAT, &body);
        assert_eq!(st, 200);
        if v["responseStatus"]["errorCode"].as_str() == Some("rate-limited") {
            assert!(v["failedInstances"].is_null(), "{}", dump(&v));
            replication_limited = true;
            break;
        }
    }
    assert!(
        replication_limited,
        "the replication limiter refuses heartbeats after its limit"
    );
}

#[test]
fn services_json_lists_every_instance_raw_with_pulled_out_ones_and_no_version() {
    let server = cluster_node(&["--shards", "2"], None);
    let mut c = server.client();
    let a = Inst::new("copy-a", "a1");
    let hidden = Inst::new("copy-a", "a2");
    let b = Inst::new("copy-b", "b1").metadata(&[("java_registry", "yes")]);
    register(&mut c, &[a.clone(), hidden.clone(), b.clone()]);
    pull_out_instance(&mut c, &hidden, "pullout");
    assert_eq!(
        lookup_ids(&mut c, "copy-a"),
        ["a1"],
        "pulled out of discovery"
    );

    let want = vec![
        (
            "copy-a".to_string(),
            vec!["a1".to_string(), "a2".to_string()],
        ),
        ("copy-b".to_string(), vec!["b1".to_string()]),
    ];
    let request = r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#;
    let (st, v) = post(&mut c, REPLICATE_SERVICES, request, false, &[]);
    assert_eq!(st, 200, "{}", dump(&v));
    let services = replicated_services(&v, "POST");
    assert_eq!(listed(&services, "POST"), want);
    let a_listed = services
        .iter()
        .find(|s| s["serviceId"].as_str() == Some("copy-a"))
        .unwrap();
    let stored = a_listed["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instanceId"].as_str() == Some("a2"))
        .unwrap()
        .clone();
    assert_instance_eq(&stored, &hidden, "the pulled-out instance as registered");

    let (st, v) = post(&mut c, REPLICATE_SERVICES, request, true, &[]);
    assert_eq!(st, 200);
    assert_eq!(
        listed(&replicated_services(&v, "gzip POST"), "gzip POST"),
        want
    );
    // Another zone of the region may copy too (Java checks the region only).
    let (st, v) = c.get(&format!(
        "{REPLICATE_SERVICES}?regionId=sha&zoneId=elsewhere"
    ));
    assert_eq!(st, 200);
    assert_eq!(listed(&replicated_services(&v, "GET"), "GET"), want);

    // Discovery's services.json leaves the pulled-out instance out.
    let (_, v) = c.get(SERVICES);
    let text = dump(&v);
    assert!(
        !text.contains("\"a2\"") && text.contains("\"a1\""),
        "{text}"
    );

    for (path, ctx) in [
        (
            format!("{REPLICATE_SERVICES}?regionId=SHB"),
            "GET, other region",
        ),
        (String::new(), "POST, other region"),
    ] {
        let (st, v) = if path.is_empty() {
            c.post_json(REPLICATE_SERVICES, r#"{"regionId":"SHB","zoneId":"SHAJQ"}"#)
        } else {
            c.get(&path)
        };
        assert_eq!(st, 200, "{ctx}");
        assert_fail(
            &v,
            "no-permission",
            "regionId is not the same as the registry node. regionId: SHB, registry node.regionId: SHA",
            ctx,
        );
        assert!(v["services"].is_null(), "{ctx}: {}", dump(&v));
    }
    // Java's GET mapping requires regionId.
    let r = c.request("GET", REPLICATE_SERVICES, &[], b"");
    assert_protocol_error(&r, 400, "GET without regionId");
}

#[test]
fn services_json_lists_a_large_registry_in_full() {
    let server = cluster_node(&["--shards", "2"], None);
    let mut c = server.client();
    // More instances in one service than one listing step holds, and many services.
    let big: Vec<Inst> = (0..5000)
        .map(|i| Inst::new("big-svc", &format!("b{i:05}")))
        .collect();
    for chunk in big.chunks(1000) {
        register(&mut c, chunk);
    }
    let small: Vec<Inst> = (0..300)
        .map(|i| Inst::new(&format!("svc-{i:03}"), "only"))
        .collect();
    register(&mut c, &small);
    let (st, v) = c.post_json(REPLICATE_SERVICES, r#"{"regionId":"SHA"}"#);
    assert_eq!(st, 200);
    let services = replicated_services(&v, "large registry");
    let mut per_service = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (service, ids) in listed(&services, "large registry") {
        per_service.entry(service).or_default().extend(ids);
    }
    let mut big_ids = per_service.remove("big-svc").expect("big-svc listed");
    big_ids.sort();
    let want: Vec<String> = (0..5000).map(|i| format!("b{i:05}")).collect();
    assert_eq!(big_ids, want, "every instance of the big service, once");
    assert_eq!(per_service.len(), 300);
    assert!(per_service.values().all(|ids| ids == &["only"]));
}

#[test]
fn with_a_secret_replication_needs_it_and_a_refusal_changes_nothing() {
    let config = "[cluster]\nsecret = \"s3cret-value\"\n";
    let server = cluster_node(&[], Some(config));
    let mut c = server.client();
    let inst = Inst::new("secret-svc", "s1");
    let body = instances_body(std::slice::from_ref(&inst));
    for (headers, ctx) in [
        (vec![], "no secret"),
        (vec![(SECRET_HEADER, "wrong")], "wrong secret"),
        (vec![(SECRET_HEADER, "s3cret-valuE")], "one byte off"),
    ] {
        for path in [
            REPLICATE_REGISTER,
            REPLICATE_HEARTBEAT,
            REPLICATE_UNREGISTER,
            REPLICATE_SERVICES,
        ] {
            let ctx = format!("{ctx}: {path}");
            let (st, v) = post(&mut c, path, &body, false, &headers);
            let message = assert_refused(st, &v, &ctx);
            assert!(message.contains(SECRET_HEADER), "{ctx}: {message}");
        }
        assert!(
            lookup_ids(&mut c, "secret-svc").is_empty(),
            "{ctx}: nothing registered"
        );
    }
    let auth = [(SECRET_HEADER, "s3cret-value")];
    let (st, v) = post(&mut c, REPLICATE_REGISTER, &body, true, &auth);
    assert_registry_ok(st, &v, "with the secret");
    assert_eq!(lookup_ids(&mut c, "secret-svc"), ["s1"]);
    let (st, v) = post(
        &mut c,
        REPLICATE_SERVICES,
        r#"{"regionId":"SHA"}"#,
        false,
        &auth,
    );
    assert_eq!(st, 200);
    assert_eq!(
        listed(&replicated_services(&v, "copy"), "copy"),
        [("secret-svc".to_string(), vec!["s1".to_string()])]
    );
    // A refused unregister leaves it registered.
    let (st, v) = post(&mut c, REPLICATE_UNREGISTER, &body, false, &[]);
    assert_refused(st, &v, "unregister without the secret");
    assert_eq!(lookup_ids(&mut c, "secret-svc"), ["s1"]);
    // The public endpoints need no secret.
    register(&mut c, &[Inst::new("secret-svc", "s2")]);
}

#[test]
fn without_a_secret_replication_comes_from_the_configured_nodes_hosts_only() {
    // Every node of this cluster is on 127.0.0.2 or 127.0.0.3; the test connects from 127.0.0.1.
    let server = Server::start_sha(
        &[
            "--node-url",
            "http://127.0.0.2:9/",
            "--cluster-nodes",
            "SHAJQ:http://127.0.0.2:9/,http://127.0.0.3:1/",
            "--force-up",
        ],
        None,
    );
    let mut c = server.client();
    let inst = Inst::new("host-svc", "h1");
    let body = instances_body(std::slice::from_ref(&inst));
    for path in [
        REPLICATE_REGISTER,
        REPLICATE_HEARTBEAT,
        REPLICATE_UNREGISTER,
        REPLICATE_SERVICES,
    ] {
        let (st, v) = post(&mut c, path, &body, false, &[]);
        let message = assert_refused(st, &v, path);
        assert!(
            message.contains("127.0.0.1"),
            "{path}: names the refused host: {message}"
        );
    }
    assert!(lookup_ids(&mut c, "host-svc").is_empty());
    // A secret header opens nothing when no secret is configured.
    let (st, v) = post(
        &mut c,
        REPLICATE_REGISTER,
        &body,
        false,
        &[(SECRET_HEADER, "guess")],
    );
    assert_refused(st, &v, "header without a configured secret");
    assert!(lookup_ids(&mut c, "host-svc").is_empty());
}

#[test]
fn a_single_node_accepts_replication_from_its_own_host() {
    // No cluster.nodes: the node's URL is http://127.0.0.1:<port>/, its own host the test's.
    let server = Server::start_sha(&[], None);
    let inst = Inst::new("single-svc", "s1");
    let (st, v) = server.post_json(
        REPLICATE_REGISTER,
        &instances_body(std::slice::from_ref(&inst)),
    );
    assert_registry_ok(st, &v, "replicated register on a single node");
    assert_eq!(lookup_ids(&mut server.client(), "single-svc"), ["s1"]);
}

#[test]
fn a_starting_node_refuses_clients_registry_and_discovery_but_not_peers() {
    // The peer never answers and nothing forces this node up: it stays starting.
    let server = Server::start_sha(
        &["--node-url", NODE_URL, "--cluster-nodes", NODES],
        Some("[cluster]\nbootstrap_wait_ms = 3600000\n"),
    );
    let mut c = server.client();
    let status = "{ node: sha/shajq/http://127.0.0.1:9/, status: starting, canServiceRegistry: null, canServiceDiscovery: null }";
    let registry_down = format!("Serivce registry is not in up state. Current status: {status}");
    let discovery_down = format!("Serivce discovery is not in up state. Current status: {status}");
    let inst = Inst::new("early-svc", "e1");
    let body = instances_body(std::slice::from_ref(&inst));

    for path in [REGISTER, HEARTBEAT, UNREGISTER] {
        let (st, v) = c.post_json(path, &body);
        assert_eq!(st, 200, "{path}");
        assert_fail(&v, "service-unavailable", &registry_down, path);
        assert!(v["failedInstances"].is_null(), "{path}: {}", dump(&v));
    }
    let mut hb = ws_connect(&server, HB);
    send_text(&mut hb, &body);
    let reply = next_json(&mut hb, "websocket heartbeat");
    assert_fail(
        &reply,
        "service-unavailable",
        &registry_down,
        "websocket heartbeat",
    );

    // Peers still write to it (that is how it catches up).
    let (st, v) = c.post_json(REPLICATE_REGISTER, &body);
    assert_registry_ok(st, &v, "replicated register while starting");
    let (st, v) = c.post_json(REPLICATE_SERVICES, r#"{"regionId":"SHA"}"#);
    assert_eq!(st, 200);
    assert_eq!(
        listed(
            &replicated_services(&v, "copy while starting"),
            "copy while starting"
        ),
        [("early-svc".to_string(), vec!["e1".to_string()])]
    );

    // Discovery: lookup swallows the refusal per config, the others report it.
    let (st, v) = c.post_json(LOOKUP, &lookup_body(&["early-svc"]));
    assert_eq!(st, 200);
    assert_success_status(&v, "lookup");
    let service = &v["services"][0];
    assert_eq!(service["serviceId"].as_str(), Some("early-svc"));
    for list in ["instances", "logicInstances", "routeRules"] {
        assert!(service[list].is_null(), "lookup {list}: {}", dump(&v));
    }
    let (st, v) = c.get(&format!(
        "{SERVICE}?serviceId=early-svc&regionId=SHA&zoneId=SHAJQ"
    ));
    assert_eq!(st, 200);
    assert_fail(&v, "service-unavailable", &discovery_down, "service.json");
    assert!(v["service"].is_null(), "{}", dump(&v));
    let (st, v) = c.get(SERVICES);
    assert_eq!(st, 200);
    assert_fail(&v, "service-unavailable", &discovery_down, "services.json");
    assert!(
        v["services"].is_null() && v["version"].as_i64() == Some(0),
        "{}",
        dump(&v)
    );
    let (st, v) = c.post_json(DELTA, r#"{"regionId":"SHA","zoneId":"SHAJQ","version":1}"#);
    assert_eq!(st, 200);
    assert_fail(
        &v,
        "service-unavailable",
        &discovery_down,
        "services-delta.json",
    );
    assert!(
        v["delta"].is_null() && v["version"].as_i64() == Some(0),
        "{}",
        dump(&v)
    );
}

#[test]
fn a_cluster_listener_takes_replication_off_the_main_port() {
    let server = cluster_node(&[], Some("[cluster]\nlisten = \"127.0.0.1:0\"\n"));
    let cluster = server
        .cluster_addr
        .expect("the cluster listener's address is printed");
    assert_ne!(cluster, server.addr);
    let mut main = server.client();
    let mut peer = Client::connect(cluster);
    let inst = Inst::new("listener-svc", "l1");
    let body = instances_body(std::slice::from_ref(&inst));

    let (st, v) = main.post_json(REPLICATE_REGISTER, &body);
    let message = assert_refused(st, &v, "replication on the main port");
    assert!(message.contains("cluster.listen"), "{message}");
    assert!(lookup_ids(&mut main, "listener-svc").is_empty());

    let (st, v) = peer.post_json(REPLICATE_REGISTER, &body);
    assert_registry_ok(st, &v, "replication on the cluster listener");
    // Both listeners serve the other endpoints.
    assert_eq!(lookup_ids(&mut main, "listener-svc"), ["l1"]);
    assert_eq!(lookup_ids(&mut peer, "listener-svc"), ["l1"]);
    for c in [&mut main, &mut peer] {
        let (st, v) = c.get("/api/status/node.json");
        assert_eq!(st, 200, "{}", dump(&v));
        assert_success_status(&v, "node.json");
    }
}

#[test]
fn a_taken_cluster_listen_address_stops_start_up() {
    let other = Server::start_sha(&[], None);
    let config = format!("[cluster]\nlisten = \"{}\"\n", other.addr);
    let (status, stderr) = run_to_exit(SHA_ARGS, Some(&config));
    assert_eq!(status.code(), Some(1), "exit {status:?}, stderr:\n{stderr}");
    assert!(
        stderr.contains("cluster.listen") && stderr.contains("address in use"),
        "stderr does not say cluster.listen's address is in use:\n{stderr}"
    );
    // The listener that holds the address keeps serving.
    register(&mut other.client(), &[Inst::new("kept-svc", "k1")]);
}
