//! `GET /metrics` (Prometheus text format 0.0.4) and `GET /ready`: the scrape parses as valid
//! exposition text (checked line by line below), its counters move with the requests, sessions
//! and writes a node serves, summed over both cores; `/ready` says whether the node serves.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use harness::*;

/// Two cores, so that every figure is a sum over cores.
const TWO_CORES: &[&str] = &["--region", REGION, "--zone", ZONE, "--shards", "2"];

const FAMILIES: &[(&str, &str)] = &[
    ("artemis_build_info", "gauge"),
    ("artemis_scrape_missing_shards", "gauge"),
    ("artemis_requests_total", "counter"),
    ("artemis_request_duration_seconds", "histogram"),
    ("artemis_rate_limited_requests_total", "counter"),
    ("artemis_instances", "gauge"),
    ("artemis_leases", "gauge"),
    ("artemis_services", "gauge"),
    ("artemis_evictions_total", "counter"),
    ("artemis_self_preservation_active", "gauge"),
    ("artemis_self_preservation_window_renewals", "gauge"),
    ("artemis_self_preservation_max_renewals", "gauge"),
    ("artemis_websocket_sessions", "gauge"),
    ("artemis_websocket_sessions_opened_total", "counter"),
    ("artemis_websocket_sessions_dropped_total", "counter"),
    ("artemis_push_batches_sent_total", "counter"),
    ("artemis_push_batches_dropped_total", "counter"),
    ("artemis_push_fanout_seconds_total", "counter"),
    ("artemis_push_fanout_sessions_total", "counter"),
    ("artemis_push_queue_bytes", "gauge"),
    ("artemis_discovery_views_total", "counter"),
    ("artemis_cross_core_requests_total", "counter"),
    ("artemis_remote_renewals_total", "counter"),
    ("artemis_connections_handed_total", "counter"),
    ("artemis_gzip_answers_total", "counter"),
    ("artemis_gzip_compressions_total", "counter"),
    ("artemis_gzip_cache_bytes", "gauge"),
    ("artemis_connections_open", "gauge"),
    ("artemis_connections_accepted_total", "counter"),
    ("artemis_connections_refused_total", "counter"),
    ("artemis_received_bytes_total", "counter"),
    ("artemis_sent_bytes_total", "counter"),
    ("artemis_management_writes_total", "counter"),
    ("artemis_management_write_transactions_total", "counter"),
    ("artemis_management_write_failures_total", "counter"),
    ("artemis_store_busy_refusals_total", "counter"),
    (
        "artemis_management_store_write_duration_seconds",
        "histogram",
    ),
];

type Labels = BTreeMap<String, String>;

/// A parsed scrape: every sample by name and label set.
struct Scrape {
    samples: HashMap<(String, Labels), f64>,
    kinds: HashMap<String, String>,
}

impl Scrape {
    /// Parse `text`, panicking at the first line that is not valid exposition text or breaks a
    /// rule of the format: HELP then TYPE once per family, samples right after their family,
    /// no series twice, counters non-negative, histograms cumulative ending with `+Inf` and
    /// with `_sum` and a `_count` equal to the `+Inf` bucket.
    fn parse(text: &str) -> Scrape {
        assert!(text.ends_with('\n'), "the text ends with a newline");
        let mut kinds: HashMap<String, String> = HashMap::new();
        let mut helped: HashSet<String> = HashSet::new();
        let mut current: Option<(String, String)> = None;
        let mut samples: HashMap<(String, Labels), f64> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let ctx = format!("line {}: {line:?}", n + 1);
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or_else(|| panic!("{ctx}"));
                assert!(is_name(name), "{ctx}: metric name");
                assert!(!help.trim().is_empty(), "{ctx}: empty help");
                assert!(helped.insert(name.to_string()), "{ctx}: second HELP");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{ctx}"));
                assert!(helped.contains(name), "{ctx}: TYPE before HELP");
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind),
                    "{ctx}: type"
                );
                let first = kinds.insert(name.to_string(), kind.to_string());
                assert!(first.is_none(), "{ctx}: second TYPE");
                if kind == "counter" {
                    assert!(
                        name.ends_with("_total"),
                        "{ctx}: counter names end in _total"
                    );
                }
                current = Some((name.to_string(), kind.to_string()));
                continue;
            }
            assert!(!line.starts_with('#'), "{ctx}: unknown comment");
            let (name, labels, value) = parse_sample(line, &ctx);
            let (family, kind) = current
                .as_ref()
                .unwrap_or_else(|| panic!("{ctx}: no family"));
            let belongs = match kind.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name == format!("{family}{s}")),
                _ => &name == family,
            };
            assert!(belongs, "{ctx}: sample outside its family {family}");
            if kind == "counter" {
                assert!(value >= 0.0 && value.is_finite(), "{ctx}: counter value");
            }
            let first = samples.insert((name, labels), value);
            assert!(first.is_none(), "{ctx}: the same series twice");
        }
        let scrape = Scrape { samples, kinds };
        scrape.check_histograms();
        scrape
    }

    fn check_histograms(&self) {
        for (family, kind) in &self.kinds {
            if kind != "histogram" {
                continue;
            }
            // Buckets by their labels without `le`.
            let mut series: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
            for ((name, labels), &value) in &self.samples {
                if *name != format!("{family}_bucket") {
                    continue;
                }
                let mut rest = labels.clone();
                let le = rest
                    .remove("le")
                    .unwrap_or_else(|| panic!("{name} bucket without le"));
                let le: f64 = parse_value(&le).unwrap_or_else(|| panic!("{name}: le {le:?}"));
                series.entry(rest).or_default().push((le, value));
            }
            assert!(!series.is_empty(), "{family}: no buckets");
            for (labels, mut buckets) in series {
                let ctx = format!("{family}{labels:?}");
                buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                assert!(
                    buckets
                        .windows(2)
                        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                    "{ctx}: buckets are not cumulative: {buckets:?}"
                );
                let (last_le, inf_count) = *buckets.last().unwrap();
                assert_eq!(last_le, f64::INFINITY, "{ctx}: last bucket is +Inf");
                let count = self
                    .samples
                    .get(&(format!("{family}_count"), labels.clone()));
                assert_eq!(count, Some(&inf_count), "{ctx}: _count is the +Inf bucket");
                let sum = self.samples.get(&(format!("{family}_sum"), labels.clone()));
                assert!(sum.is_some_and(|s| *s >= 0.0), "{ctx}: _sum");
            }
        }
    }

    /// The value of the series `name{labels}` (exactly these labels).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let labels: Labels = labels
            .iter()
            .map(|&(k, v)| (k.to_string(), v.to_string()))
            .collect();
        *self
            .samples
            .get(&(name.to_string(), labels.clone()))
            .unwrap_or_else(|| panic!("no series {name}{labels:?}"))
    }

    fn requests(&self, endpoint: &str, outcome: &str) -> f64 {
        self.value(
            "artemis_requests_total",
            &[("endpoint", endpoint), ("outcome", outcome)],
        )
    }

    fn timed(&self, endpoint: &str) -> f64 {
        self.value(
            "artemis_request_duration_seconds_count",
            &[("endpoint", endpoint)],
        )
    }
}

/// `name{labels} value`, the labels unescaped.
fn parse_sample(line: &str, ctx: &str) -> (String, Labels, f64) {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("{ctx}: no value"));
    let name = &line[..name_end];
    assert!(is_name(name), "{ctx}: metric name");
    let mut labels = Labels::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            let (label, after) = inner
                .split_once("=\"")
                .unwrap_or_else(|| panic!("{ctx}: label"));
            assert!(is_label_name(label), "{ctx}: label name {label:?}");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => panic!("{ctx}: bad escape {other:?}"),
                    },
                    Some((_, c)) => value.push(c),
                    None => panic!("{ctx}: unterminated label value"),
                }
            };
            let first = labels.insert(label.to_string(), value);
            assert!(first.is_none(), "{ctx}: label {label} twice");
            inner = &after[end + 1..];
            if let Some(more) = inner.strip_prefix(',') {
                inner = more;
                continue;
            }
            rest = inner
                .strip_prefix('}')
                .unwrap_or_else(|| panic!("{ctx}: labels not closed"));
            break;
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("{ctx}: no space before the value"));
    let value = parse_value(value).unwrap_or_else(|| panic!("{ctx}: value {value:?}"));
    (name.to_string(), labels, value)
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn scrape(server: &Server) -> Scrape {
    let r = server.client().request("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Scrape::parse(&r.text())
}

/// `artemis_sent_bytes_total` of `protocol`, from a fresh scrape.
fn sent_bytes(server: &Server, protocol: &str) -> f64 {
    scrape(server).value("artemis_sent_bytes_total", &[("protocol", protocol)])
}

#[test]
fn the_checker_refuses_what_the_format_does_not_allow() {
    let valid = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
    Scrape::parse(valid);
    for broken in [
        "# TYPE a_total counter\na_total 1\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\na_total{x=\"1\"} 3\n",
        "# HELP a_total A.\n# TYPE a_total counter\nb_total 1\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total{x=1} 1\n",
        "# HELP a_total A.\n# TYPE a_total counter\na_total -1\n",
        "# HELP h A.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n\
         h_sum 0\nh_count 1\n",
        "# HELP h A.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 0\nh_count 1\n",
        "# HELP h A.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 2\n",
    ] {
        let refused = std::panic::catch_unwind(|| Scrape::parse(broken)).is_err();
        assert!(refused, "accepted {broken:?}");
    }
}

#[test]
fn scrape_is_valid_exposition_text_with_every_family() {
    let server = Server::start(TWO_CORES, None);
    let s = scrape(&server);
    for &(family, kind) in FAMILIES {
        assert_eq!(
            s.kinds.get(family).map(String::as_str),
            Some(kind),
            "family {family}"
        );
    }
    assert_eq!(
        s.kinds.len(),
        FAMILIES.len(),
        "families: {:?}",
        s.kinds.keys()
    );
    assert_eq!(s.value("artemis_scrape_missing_shards", &[]), 0.0);
    let build = s
        .samples
        .keys()
        .find(|(name, _)| name == "artemis_build_info")
        .expect("build info");
    assert_eq!(build.1.get("version").map(String::as_str), Some("0.1.0"));
    assert!(build.1.get("commit").is_some_and(|c| !c.is_empty()));
    // Every endpoint of the route table is listed from the start, each outcome at 0.
    for endpoint in [
        REGISTER,
        HEARTBEAT,
        LOOKUP,
        "/ws/registry/heartbeat",
        "unmatched",
    ] {
        for outcome in ["ok", "client_error", "server_error"] {
            assert_eq!(s.requests(endpoint, outcome), 0.0, "{endpoint} {outcome}");
        }
        assert_eq!(s.timed(endpoint), 0.0);
        assert_eq!(
            s.value(
                "artemis_rate_limited_requests_total",
                &[("endpoint", endpoint)]
            ),
            0.0
        );
    }
    assert_eq!(s.value("artemis_instances", &[]), 0.0);
}

#[test]
fn requests_are_counted_by_endpoint_and_outcome_across_both_cores() {
    let server = Server::start(TWO_CORES, None);
    let insts: Vec<Inst> = (0..6)
        .map(|i| Inst::new(&format!("metrics-svc-{}", i % 3), &format!("i{i}")))
        .collect();
    // One connection per request: the kernel spreads them over both cores.
    for inst in &insts {
        register(&mut server.client(), std::slice::from_ref(inst));
    }
    for _ in 0..4 {
        let (status, v) = heartbeat(&mut server.client(), &insts);
        assert_registry_ok(status, &v, "heartbeat");
    }
    for _ in 0..3 {
        lookup_one(&mut server.client(), "metrics-svc-0");
    }
    let (status, _) = server.client().get("/no/such/path");
    assert_eq!(status, 404);
    let s = scrape(&server);
    assert_eq!(s.requests(REGISTER, "ok"), 6.0);
    assert_eq!(s.requests(HEARTBEAT, "ok"), 4.0);
    assert_eq!(s.requests(LOOKUP, "ok"), 3.0);
    assert_eq!(s.requests("unmatched", "client_error"), 1.0);
    assert_eq!(s.requests(REGISTER, "client_error"), 0.0);
    assert_eq!(s.timed(REGISTER), 6.0);
    assert_eq!(s.timed(HEARTBEAT), 4.0);
    assert_eq!(s.timed(LOOKUP), 3.0);
    assert_eq!(s.value("artemis_instances", &[]), 6.0);
    assert_eq!(s.value("artemis_services", &[]), 3.0);
    assert_eq!(s.value("artemis_leases", &[("class", "normal")]), 6.0);
    assert_eq!(s.value("artemis_leases", &[("class", "legacy")]), 0.0);
    assert!(
        s.value("artemis_connections_accepted_total", &[]) >= 15.0,
        "one connection per request"
    );
    assert!(s.value("artemis_received_bytes_total", &[("protocol", "http")]) > 0.0);
    // A scrape is a request too: the next one sees it.
    assert_eq!(s.requests("/metrics", "ok"), 0.0);
    assert_eq!(scrape(&server).requests("/metrics", "ok"), 1.0);
    assert!(
        wait_until(SOON, || sent_bytes(&server, "http") > 0.0),
        "no answer bytes counted"
    );
}

#[test]
fn requests_refused_before_they_are_complete_count_as_unmatched() {
    let server = Server::start(TWO_CORES, None);
    let mut c = server.client();
    c.write_raw(b"NOT A REQUEST\r\n\r\n").unwrap();
    let r = c.read_response().expect("an answer to garbage");
    assert_eq!(r.status, 400);
    let s = scrape(&server);
    assert_eq!(s.requests("unmatched", "client_error"), 1.0);
    assert_eq!(s.timed("unmatched"), 0.0, "counted, not timed");
}

#[test]
fn websocket_sessions_heartbeats_and_pushes_are_counted() {
    let server = Server::start(TWO_CORES, None);
    let inst = Inst::new("metrics-ws", "a");
    register(&mut server.client(), std::slice::from_ref(&inst));
    let mut hb = ws_connect(&server, HB);
    send_text(&mut hb, &instances_body(std::slice::from_ref(&inst)));
    let reply = next_json(&mut hb, "ws heartbeat");
    assert_registry_ok(200, &reply, "ws heartbeat");
    let mut sub = subscriber(&server, "metrics-ws");
    register(&mut server.client(), &[Inst::new("metrics-ws", "b")]);
    next_change(&mut sub, "push of b");

    let hb_channel = [("channel", HB)];
    let s = scrape(&server);
    assert_eq!(s.value("artemis_websocket_sessions", &hb_channel), 1.0);
    assert_eq!(
        s.value("artemis_websocket_sessions", &[("channel", IC)]),
        1.0
    );
    assert_eq!(
        s.value("artemis_websocket_sessions", &[("channel", AIC)]),
        0.0
    );
    assert_eq!(
        s.value("artemis_websocket_sessions_opened_total", &hb_channel),
        1.0
    );
    assert_eq!(s.requests(HB, "ok"), 1.0);
    assert_eq!(s.timed(HB), 1.0);
    assert!(s.value("artemis_received_bytes_total", &[("protocol", "websocket")]) > 0.0);
    // Writes are counted once the kernel took them, which the client can see first.
    assert!(
        wait_until(SOON, || sent_bytes(&server, "websocket") > 0.0),
        "no WebSocket bytes counted"
    );
    assert!(
        wait_until(SOON, || scrape(&server)
            .value("artemis_push_batches_sent_total", &[])
            >= 1.0),
        "the pushed change was not counted"
    );
    assert_eq!(
        s.value("artemis_websocket_sessions_dropped_total", &[]),
        0.0
    );

    hb.close(None).unwrap();
    drop(hb);
    assert!(
        wait_until(SOON, || scrape(&server)
            .value("artemis_websocket_sessions", &hb_channel)
            == 0.0),
        "a closed session is still counted open"
    );
    let s = scrape(&server);
    assert_eq!(
        s.value("artemis_websocket_sessions_opened_total", &hb_channel),
        1.0
    );
}

/// The fan-out's own cost: one change reaching N subscribers (spread over both cores) counts N
/// sessions and some time; a subscriber of another service counts nothing.
#[test]
fn a_change_fanned_out_to_n_subscribers_counts_n_sessions_and_its_time() {
    const N: usize = 24;
    let server = Server::start(TWO_CORES, None);
    let mut subs: Vec<Ws> = (0..N)
        .map(|_| subscriber(&server, "metrics-fanout"))
        .collect();
    let mut bystander = subscriber(&server, "metrics-elsewhere");
    let before = scrape(&server);
    let seconds = |s: &Scrape| s.value("artemis_push_fanout_seconds_total", &[]);
    let sessions = |s: &Scrape| s.value("artemis_push_fanout_sessions_total", &[]);

    register(&mut server.client(), &[Inst::new("metrics-fanout", "a")]);
    for (i, sub) in subs.iter_mut().enumerate() {
        let change = next_change(sub, &format!("subscriber {i}"));
        assert_eq!(change["changeType"].as_str(), Some("new"), "subscriber {i}");
    }
    // A session's batch is counted when it is queued, before it is written: every subscriber
    // having received it, the counters have moved.
    let after = scrape(&server);
    assert_eq!(
        sessions(&after) - sessions(&before),
        N as f64,
        "one per subscriber of the service"
    );
    assert!(
        seconds(&after) > seconds(&before),
        "fan-out time: {} then {}",
        seconds(&before),
        seconds(&after)
    );

    register(&mut server.client(), &[Inst::new("metrics-elsewhere", "b")]);
    next_change(&mut bystander, "push of b");
    assert_eq!(
        sessions(&scrape(&server)) - sessions(&after),
        1.0,
        "only the subscriber of that service"
    );
}

#[test]
fn a_management_write_is_counted_and_its_store_latency_observed() {
    let server = Server::start(TWO_CORES, None);
    let mut c = server.client();
    let inst = Inst::new("metrics-mgmt", "a");
    register(&mut c, std::slice::from_ref(&inst));
    let before = scrape(&server);
    assert_eq!(before.value("artemis_management_writes_total", &[]), 0.0);
    pull_out_instance(&mut c, &inst, "pullout");
    let s = scrape(&server);
    assert_eq!(s.value("artemis_management_writes_total", &[]), 1.0);
    assert_eq!(
        s.value("artemis_management_write_transactions_total", &[]),
        1.0
    );
    assert_eq!(s.value("artemis_management_write_failures_total", &[]), 0.0);
    assert_eq!(
        s.value("artemis_management_store_write_duration_seconds_count", &[]),
        1.0
    );
    assert!(s.value("artemis_management_store_write_duration_seconds_sum", &[]) > 0.0);
    assert_eq!(
        s.requests("/api/management/operate-instance.json", "ok"),
        1.0
    );
}

#[test]
fn expired_leases_are_counted_as_evictions() {
    let server = Server::start(TWO_CORES, Some(&manual_clock_short_ttl()));
    let mut c = server.client();
    let insts: Vec<Inst> = (0..3)
        .map(|i| Inst::new(&format!("metrics-expiry-{i}"), "a"))
        .collect();
    register(&mut c, &insts);
    let s = scrape(&server);
    assert_eq!(s.value("artemis_leases", &[("class", "normal")]), 3.0);
    assert_eq!(s.value("artemis_evictions_total", &[]), 0.0);
    server.advance_clock(SHORT_TTL_MS + EXPIRY_TICK_MS);
    let s = scrape(&server);
    assert_eq!(s.value("artemis_evictions_total", &[]), 3.0);
    assert_eq!(s.value("artemis_instances", &[]), 0.0);
    assert_eq!(s.value("artemis_leases", &[("class", "normal")]), 0.0);
    assert_eq!(s.value("artemis_services", &[]), 0.0);
}

#[test]
fn self_preservation_is_reported_once_heartbeats_collapse() {
    let config = "[testing]\nmanual_clock = true\n[lease]\nttl_ms = 5000\n\
                  [self_preservation]\nenabled = true\nwindow_ms = 1000\n\
                  percentage_threshold = 85\nmax_count_threshold = 20\n";
    let server = Server::start(TWO_CORES, Some(config));
    let mut c = server.client();
    let insts: Vec<Inst> = (0..20)
        .map(|i| Inst::new(&format!("metrics-sp-{}", i % 4), &format!("i{i}")))
        .collect();
    register(&mut c, &insts);
    // 20 renewals every 50 ms for 2 s: 400 a second, node-wide.
    for _ in 0..40 {
        let (status, v) = heartbeat(&mut c, &insts);
        assert_registry_ok(status, &v, "heartbeat batch");
        server.advance_clock(50);
    }
    let normal = [("class", "normal")];
    let s = scrape(&server);
    assert_eq!(s.value("artemis_self_preservation_active", &normal), 0.0);
    assert!(s.value("artemis_self_preservation_max_renewals", &normal) >= 20.0);
    // Silence: each shard judges once per clock second.
    let mut active = false;
    for _ in 0..4 {
        server.advance_clock(1000);
        let s = scrape(&server);
        if s.value("artemis_self_preservation_active", &normal) == 1.0 {
            assert!(
                s.value("artemis_self_preservation_window_renewals", &normal)
                    < s.value("artemis_self_preservation_max_renewals", &normal)
            );
            active = true;
            break;
        }
    }
    assert!(
        active,
        "self-preservation not reported 4 s after heartbeats stopped"
    );
    assert_eq!(
        scrape(&server).value("artemis_self_preservation_active", &[("class", "legacy")]),
        0.0
    );
}

#[test]
fn metrics_and_ready_answer_get_and_head_only() {
    let server = Server::start(TWO_CORES, None);
    let mut c = server.client();
    for path in ["/metrics", "/ready"] {
        let head = c.build_request("HEAD", path, &[], b"");
        c.write_raw(&head).unwrap();
        let head = c.read_response_head().unwrap();
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(
            head.header("content-length").is_some_and(|l| l != "0"),
            "HEAD {path} announces GET's body"
        );
        let post = c.request("POST", path, &[], b"{}");
        assert_eq!(post.status, 405, "POST {path}");
        assert_eq!(post.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
}

#[test]
fn ready_is_200_while_serving_and_503_while_shutting_down() {
    let mut server = Server::start(TWO_CORES, Some("[limits]\nshutdown_grace_ms = 5000\n"));
    let mut c = server.client();
    // The node prints its listening line once it is assembled; a core may still be starting
    // (restoring its shard) then, and /ready says so until every core serves.
    let ready = wait_until(SOON, || {
        let r = c.request("GET", "/ready", &[], b"");
        let status = r.json()["status"].as_str().map(str::to_string);
        match r.status {
            200 => {
                assert_eq!(status.as_deref(), Some("ready"));
                true
            }
            503 => {
                assert_eq!(status.as_deref(), Some("starting"), "{}", r.text());
                false
            }
            other => panic!("/ready answered {other}: {}", r.text()),
        }
    });
    assert!(ready, "/ready is not 200 {SOON:?} after start");

    // A request in progress when SIGTERM comes is still answered: its head is parsed (the
    // interim 100 says so), its one body byte comes once the node drains.
    let head = c.build_request(
        "GET",
        "/ready",
        &[("Expect", "100-continue"), ("Content-Length", "1")],
        b"",
    );
    c.write_raw(&head).unwrap();
    assert_eq!(c.read_response().unwrap().status, 100);
    server.signal(libc::SIGTERM);
    assert!(
        wait_until(SOON, || !server.accepts_connections()),
        "still accepting connections {SOON:?} after SIGTERM"
    );
    c.write_raw(b"x").unwrap();
    let r = c.read_response().expect("the in-flight /ready is answered");
    assert_eq!(r.status, 503, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"].as_str(), Some("shutting down"));
    assert!(v["reason"].as_str().is_some_and(|s| !s.is_empty()));
    let status = server
        .wait_exit(Duration::from_secs(8))
        .expect("still running after SIGTERM");
    assert_eq!(status.code(), Some(0));
}
