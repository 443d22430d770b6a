//! Java's request rate limiters (spec §11.9): requests over a limiter's limit in a sliding 10 s
//! window are answered with Java's `rate-limited` status in the endpoint's usual shape, the limit
//! holds node-wide across connections on both cores, identities and limiters count apart, and a
//! disabled limiter admits everything. Time moves only by the manual clock, so windows slide
//! without waiting.

use std::thread;

use harness::*;

const HB_WS: &str = "/ws/registry/heartbeat";
const UP_REGISTRY_NODES: &str = "/api/cluster/up-registry-nodes.json";
const CONFIG: &str = "/api/status/config.json";
const CLUSTER: &str = "/api/status/cluster.json";
const DEPLOYMENT: &str = "/api/status/deployment.json";
const LEASES: &str = "/api/status/leases.json";
const LEGACY_LEASES: &str = "/api/status/legacy-leases.json";

/// `ResponseStatusUtil.RATE_LIMITED_STATUS` as Java's Jackson wrote it.
const RATE_LIMITED: &str =
    r#"{"errorCode":"rate-limited","message":"Request is rate limited.","status":"fail"}"#;

/// Small limits on a manual clock: 5 of each registry operation per window, 4 config.json reads
/// (30 for the other status reads, 10 for leases.json as Java shipped), and the cluster limiter
/// off although its limit is 2.
const SMALL_LIMITS: &str = "[testing]\nmanual_clock = true\n\
    [rate_limits.registry]\ndefault_per_10s = 5\n\
    [rate_limits.status.per_identity]\nget-config = 4\n\
    [rate_limits.cluster]\nenabled = false\ndefault_per_10s = 2\n";

fn two_cores(config: &str) -> Server {
    Server::start_sha(&["--shards", "2"], Some(config))
}

fn rate_limited_instances() -> String {
    format!(r#"{{"failedInstances":null,"responseStatus":{RATE_LIMITED}}}"#)
}

/// The body of a heartbeat of `inst`: admitted (success) or refused (Java's exact answer).
fn heartbeat_admitted(client: &mut Client, inst: &Inst) -> bool {
    let r = client.request(
        "POST",
        HEARTBEAT,
        &[],
        instances_body(std::slice::from_ref(inst)).as_bytes(),
    );
    judge_instances_answer(r.status, &r.text(), "heartbeat.json")
}

fn ws_heartbeat_admitted(ws: &mut Ws, inst: &Inst) -> bool {
    send_text(ws, &instances_body(std::slice::from_ref(inst)));
    judge_instances_answer(200, &next_text(ws, "WS heartbeat"), "WS heartbeat")
}

/// True for the success answer, false for exactly Java's rate-limited answer; anything else fails.
fn judge_instances_answer(status: u16, text: &str, ctx: &str) -> bool {
    assert_eq!(status, 200, "{ctx}: {text}");
    if text == rate_limited_instances() {
        return false;
    }
    let v: Value = sonic_rs::from_str(text).unwrap_or_else(|e| panic!("{ctx}: {e}: {text}"));
    assert_registry_ok(status, &v, ctx);
    true
}

/// Sends `requests` GETs of `path`, asserts the first `limit` succeed and the rest are answered
/// exactly `refused_body` (HTTP 200).
fn assert_limited_get(client: &mut Client, path: &str, limit: usize, refused_body: &str) {
    for n in 1..=limit + 2 {
        let r = client.request("GET", path, &[], b"");
        assert_eq!(r.status, 200, "GET {path} #{n}: {}", r.text());
        if n <= limit {
            assert_success_status(&r.json(), &format!("GET {path} #{n}"));
        } else {
            assert_eq!(r.text(), refused_body, "GET {path} #{n}");
        }
    }
}

#[test]
fn over_the_limit_requests_get_javas_rate_limited_answer_in_each_shape() {
    let server = two_cores(SMALL_LIMITS);
    let mut client = server.client();
    let inst = Inst::new("rl-svc", "rl-1");
    register(&mut client, std::slice::from_ref(&inst));
    for n in 1..=5 {
        assert!(heartbeat_admitted(&mut client, &inst), "heartbeat #{n}");
    }
    let r = client.request(
        "POST",
        HEARTBEAT,
        &[],
        instances_body(std::slice::from_ref(&inst)).as_bytes(),
    );
    assert_eq!((r.status, r.text()), (200, rate_limited_instances()));
    // WebSocket heartbeats count against the same identity, and are refused the same way.
    let mut ws = ws_connect(&server, HB_WS);
    send_text(&mut ws, &instances_body(std::slice::from_ref(&inst)));
    assert_eq!(next_text(&mut ws, "WS heartbeat"), rate_limited_instances());

    let status_answer = |before: &str, after: &str| {
        format!(r#"{{{before}"responseStatus":{RATE_LIMITED}{after}}}"#)
    };
    assert_limited_get(
        &mut client,
        CONFIG,
        4,
        &status_answer(r#""properties":null,"#, r#","sources":null"#),
    );
    assert_limited_get(
        &mut client,
        CLUSTER,
        30,
        &status_answer(r#""nodeCount":0,"nodesStatus":null,"#, ""),
    );
    assert_limited_get(
        &mut client,
        DEPLOYMENT,
        30,
        &status_answer(
            r#""appId":null,"ip":null,"machineName":null,"path":null,"port":0,"properties":null,"protocol":null,"regionId":null,"#,
            r#","sources":null,"zoneId":null"#,
        ),
    );
    let leases_refused = status_answer(
        r#""isSafe":false,"isSafeCheckEnabled":false,"leaseCount":0,"leaseUpdateCountLastTimeWindow":0,"leaseUpdateMaxCount":0,"leaseUpdateMaxCountLastUpdateTime":0,"leases":null,"#,
        "",
    );
    // Java shipped get-leases:10; the legacy leases keep the limiter's 30.
    assert_limited_get(&mut client, LEASES, 10, &leases_refused);
    assert_limited_get(&mut client, LEGACY_LEASES, 30, &leases_refused);
}

#[test]
fn the_window_slides_with_the_clock() {
    let server = two_cores(SMALL_LIMITS);
    let mut client = server.client();
    let mut ws = ws_connect(&server, HB_WS);
    let inst = Inst::new("slide-svc", "slide-1");
    register(&mut client, std::slice::from_ref(&inst));
    // Start on a second boundary: the window is ten whole seconds.
    let base = (server.clock_ms() / 1000 + 1) * 1000;
    let heartbeats = |client: &mut Client, at_ms: u64, requests: usize| {
        server.advance_clock_to(base + at_ms);
        (0..requests)
            .filter(|_| heartbeat_admitted(client, &inst))
            .count()
    };
    assert_eq!(heartbeats(&mut client, 0, 3), 3);
    // Those 3 are in the window for 10 s: 2 more now, and refused ones are not counted.
    assert_eq!(heartbeats(&mut client, 5_000, 4), 2);
    assert_eq!(heartbeats(&mut client, 9_999, 1), 0);
    // The first second has left the window; the 2 of second 5 have not.
    assert_eq!(heartbeats(&mut client, 10_000, 4), 3);
    // Over the WebSocket: seconds 6..=15 hold second 10's 3.
    server.advance_clock_to(base + 15_000);
    let over_ws = (0..4)
        .filter(|_| ws_heartbeat_admitted(&mut ws, &inst))
        .count();
    assert_eq!(over_ws, 2);
    assert_eq!(heartbeats(&mut client, 20_000, 9), 3);
}

#[test]
fn the_limit_holds_node_wide_across_connections_and_cores() {
    let server = two_cores(SMALL_LIMITS);
    let inst = Inst::new("wide-svc", "wide-1");
    register(&mut server.client(), std::slice::from_ref(&inst));
    // Connections opened together are accepted by both cores.
    let mut clients: Vec<Client> = (0..16).map(|_| server.client()).collect();
    let mut sessions: Vec<Ws> = (0..4).map(|_| ws_connect(&server, HB_WS)).collect();
    let mut admitted = 0;
    for round in 0..3 {
        for client in &mut clients {
            admitted += usize::from(heartbeat_admitted(client, &inst));
        }
        for ws in &mut sessions {
            admitted += usize::from(ws_heartbeat_admitted(ws, &inst));
        }
        assert!(admitted <= 5, "round {round}: {admitted} admitted");
    }
    // A limit below 64 per core is granted one request at a time: exactly Java's count.
    assert_eq!(admitted, 5);
    // Every refusal is counted in the metrics, summed over both cores (WebSocket heartbeats
    // count with heartbeat.json).
    let refused = 3 * (16 + 4) - admitted;
    let metrics = server.client().request("GET", "/metrics", &[], b"").text();
    let line = r#"artemis_rate_limited_requests_total{endpoint="/api/registry/heartbeat.json"} "#;
    let counted = metrics
        .lines()
        .find_map(|l| l.strip_prefix(line))
        .unwrap_or_else(|| panic!("no {line} in:\n{metrics}"));
    assert_eq!(counted, refused.to_string());
}

#[test]
fn a_larger_limit_holds_within_the_documented_margin_under_concurrent_clients() {
    // 640 per window on 2 cores: grants of 640 / (64 × 2) = 5, so an allowance of at most 4 may
    // sit unspent on each core: between 632 and 640 are admitted, never more.
    let server = two_cores(
        "[testing]\nmanual_clock = true\n\
         [rate_limits.registry.per_identity]\nunregister = 640\n",
    );
    let gone = instances_body(&[Inst::new("wide-svc", "never-registered")]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut clients: Vec<Client> = (0..4).map(|_| server.client()).collect();
            let body = gone.clone();
            thread::spawn(move || {
                let mut admitted = 0;
                for _ in 0..60 {
                    for client in &mut clients {
                        let r = client.request("POST", UNREGISTER, &[], body.as_bytes());
                        admitted += usize::from(judge_instances_answer(
                            r.status,
                            &r.text(),
                            "unregister.json",
                        ));
                    }
                }
                admitted
            })
        })
        .collect();
    let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(
        (632..=640).contains(&admitted),
        "{admitted} of 960 unregisters admitted"
    );
}

#[test]
fn identities_and_limiters_count_apart_and_a_disabled_limiter_admits_all() {
    let server = two_cores(SMALL_LIMITS);
    let mut client = server.client();
    let inst = Inst::new("apart-svc", "apart-1");
    register(&mut client, std::slice::from_ref(&inst));
    while heartbeat_admitted(&mut client, &inst) {}
    // Register and unregister have their own windows; discovery has no limiter.
    for n in 0..4 {
        let other = Inst::new("apart-svc", &format!("other-{n}"));
        register(&mut client, std::slice::from_ref(&other));
        assert_eq!(lookup_ids(&mut client, "apart-svc").len(), 2, "#{n}");
        unregister(&mut client, &[other]);
    }
    // Exhausting config.json leaves the other status reads alone.
    for _ in 0..4 {
        assert_success_status(&client.get(CONFIG).1, "config.json");
    }
    assert_eq!(
        client.get(CONFIG).1["responseStatus"]["errorCode"].as_str(),
        Some("rate-limited")
    );
    assert_success_status(&client.get(CLUSTER).1, "cluster.json");
    // The cluster limiter is off: 20 requests over its limit of 2 all succeed.
    let body = r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#;
    for n in 0..20 {
        let (status, v) = client.post_json(UP_REGISTRY_NODES, body);
        assert_eq!(status, 200);
        assert_success_status(&v, &format!("up-registry-nodes #{n}"));
    }
}

#[test]
fn config_json_shows_the_effective_limits() {
    let server = two_cores(SMALL_LIMITS);
    let (_, v) = server.client().get(CONFIG);
    let shown = |key: &str| v["properties"][key].as_str().map(str::to_string);
    let expected = [
        ("rate_limits.registry.enabled", "true"),
        ("rate_limits.registry.default_per_10s", "5"),
        ("rate_limits.registry.per_identity", ""),
        ("rate_limits.cluster.enabled", "false"),
        ("rate_limits.status.default_per_10s", "30"),
        // Merged with the get-leases override Java shipped.
        (
            "rate_limits.status.per_identity",
            "get-config:4,get-leases:10",
        ),
        (
            "rate_limits.registry_replication.default_per_10s",
            "1000000",
        ),
        ("rate_limits.management_group.default_per_10s", "30"),
    ];
    for (key, value) in expected {
        assert_eq!(shown(key).as_deref(), Some(value), "{key}: {}", dump(&v));
    }
}

#[test]
fn rate_limit_settings_are_checked_by_name() {
    assert_config_rejected(
        "[rate_limits.status.per_identity]\nget-lease = 3\n",
        "rate_limits.status.per_identity: \"get-lease\" is not one of",
    );
    assert_config_rejected(
        "[rate_limits.registry]\ndefault_per_10s = 0\n",
        "rate_limits.registry.default_per_10s: 0 is outside 1..=1000000000",
    );
    assert_config_rejected("[rate_limits.cluster]\nlimit = 3\n", "limit");
}
