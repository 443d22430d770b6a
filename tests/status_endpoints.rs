//! The node-describing status endpoints (spec §4, §8.2): cluster.json, config.json,
//! deployment.json (POST `{}`, GET, HEAD) and message/connections.json (GET, HEAD), every field
//! of each answer, and that config.json never shows a management token.

use std::net::{IpAddr, TcpListener};
use std::path::PathBuf;

use harness::*;

const CLUSTER: &str = "/api/status/cluster.json";
const CONFIG: &str = "/api/status/config.json";
const DEPLOYMENT: &str = "/api/status/deployment.json";
const CONNECTIONS: &str = "/api/status/message/connections.json";

/// The object's keys, in the order they were written.
fn keys(v: &Value, ctx: &str) -> Vec<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("{ctx}: not an object: {}", dump(v)))
        .iter()
        .map(|(k, _)| k.to_string())
        .collect()
}

/// The string entries of a JSON object of strings (panics on any other value).
fn string_map(v: &Value, ctx: &str) -> Vec<(String, String)> {
    v.as_object()
        .unwrap_or_else(|| panic!("{ctx}: not an object: {}", dump(v)))
        .iter()
        .map(|(k, value)| {
            let value = value
                .as_str()
                .unwrap_or_else(|| panic!("{ctx}: {k} is not a string: {}", dump(v)));
            (k.to_string(), value.to_string())
        })
        .collect()
}

fn value_of<'m>(map: &'m [(String, String)], key: &str, ctx: &str) -> &'m str {
    map.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{ctx}: no {key} in {map:?}"))
}

/// The body of GET `path`, after checking that POST `{}` answers the same and HEAD answers GET's
/// head without a body (the same connection then serves another request in step).
fn get_post_and_head(client: &mut Client, path: &str) -> Value {
    let get = client.request("GET", path, &[], b"");
    assert_eq!(get.status, 200, "GET {path}: {}", get.text());
    let post = client.request("POST", path, &[("Content-Type", "application/json")], b"{}");
    assert_eq!(post.status, 200, "POST {path}: {}", post.text());
    assert_eq!(post.json(), get.json(), "POST {path} answers as GET does");
    assert_head_like_get(client, path, &get);
    get.json()
}

/// HEAD `path` answers `get`'s status and headers, no body; the connection stays in step.
fn assert_head_like_get(client: &mut Client, path: &str, get: &Response) {
    let head = client.build_request("HEAD", path, &[], b"");
    client.write_raw(&head).unwrap();
    let head = client
        .read_response_head()
        .unwrap_or_else(|e| panic!("HEAD {path}: {e}"));
    assert_eq!(head.status, get.status, "HEAD {path}");
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str()),
        "HEAD {path}: Content-Length is not GET's body length"
    );
    let (status, _) = client.get("/health");
    assert_eq!(
        status, 200,
        "after HEAD {path}: the connection is out of step"
    );
}

#[test]
fn cluster_status_is_this_node_alone() {
    let server = Server::start_sha(
        &["--node-url", "http://10.0.0.5:8080/artemis-service"],
        None,
    );
    let mut client = server.client();
    let v = get_post_and_head(&mut client, CLUSTER);
    assert_success_status(&v, "cluster.json");
    assert_sorted_keys(&v, "cluster.json");
    assert_eq!(
        keys(&v, "cluster.json"),
        ["nodeCount", "nodesStatus", "responseStatus"]
    );
    assert_eq!(v["nodeCount"].as_i64(), Some(1), "{}", dump(&v));
    assert_eq!(arr_len(&v["nodesStatus"], "nodesStatus"), 1);
    // The very ServiceNodeStatus node.json reports.
    let (_, node) = client.get("/api/status/node.json");
    assert_eq!(v["nodesStatus"][0], node["nodeStatus"], "{}", dump(&v));
    let status = &v["nodesStatus"][0];
    assert_eq!(status["status"].as_str(), Some("up"));
    assert_eq!(
        status["node"]["url"].as_str(),
        Some("http://10.0.0.5:8080/artemis-service/")
    );
    assert_eq!(status["node"]["zone"]["regionId"].as_str(), Some(REGION));
    assert_eq!(status["node"]["zone"]["zoneId"].as_str(), Some(ZONE));

    let strict = Server::start_sha(&[], Some("[registry]\nallow_from_other_zone = false\n"));
    let (_, v) = strict.client().get(CLUSTER);
    let status = &v["nodesStatus"][0];
    assert_eq!(status["allowRegistryFromOtherZone"].as_bool(), Some(false));
    assert_eq!(status["allowDiscoveryFromOtherZone"].as_bool(), Some(true));
}

const TOKEN_CONFIG: &str = "[management]\ntokens = [\"s3cret\", \"another-one\"]\n\
                            [lease]\nttl_ms = 7000\n[ws]\nsession_ttl_ms = 120000\n";

#[test]
fn config_status_shows_every_key_as_a_string_and_never_a_token() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], Some(TOKEN_CONFIG));
    let mut client = server.client();
    let v = get_post_and_head(&mut client, CONFIG);
    assert_success_status(&v, "config.json");
    assert_eq!(
        keys(&v, "config.json"),
        ["properties", "responseStatus", "sources"]
    );

    let properties = string_map(&v["properties"], "properties");
    let names: Vec<&str> = properties.iter().map(|(k, _)| k.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "properties sorted by key");
    for key in &names {
        // `[rate_limits]` has a table per limiter: `rate_limits.registry.default_per_10s`.
        let depth = if key.starts_with("rate_limits.") {
            3
        } else {
            2
        };
        let well_formed = key.split('.').count() <= depth
            && key.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        assert!(well_formed, "{key:?} is not a section.key name");
    }
    // One key of every section, and the top level.
    let ctx = "config.json properties";
    assert_eq!(
        value_of(&properties, "region_id", ctx),
        REGION,
        "from a flag"
    );
    assert_eq!(value_of(&properties, "zone_id", ctx), ZONE);
    assert_eq!(
        value_of(&properties, "path_prefix", ctx),
        "/artemis-service"
    );
    assert_eq!(value_of(&properties, "listen", ctx), "127.0.0.1:0");
    assert_eq!(
        value_of(&properties, "lease.ttl_ms", ctx),
        "7000",
        "from the file"
    );
    assert_eq!(value_of(&properties, "ws.session_ttl_ms", ctx), "120000");
    assert_eq!(
        value_of(&properties, "self_preservation.enabled", ctx),
        "true"
    );
    assert_eq!(
        value_of(&properties, "registry.allow_from_other_zone", ctx),
        "true"
    );
    assert_eq!(
        value_of(&properties, "discovery.allow_from_other_zone", ctx),
        "true"
    );
    assert_eq!(
        value_of(&properties, "management.max_log_rows", ctx),
        "10000"
    );
    assert_eq!(value_of(&properties, "persistence.max_batch", ctx), "1024");
    assert_eq!(value_of(&properties, "limits.max_id_bytes", ctx), "1024");
    assert_eq!(value_of(&properties, "http.cors", ctx), "true");
    assert_eq!(value_of(&properties, "changes.log_capacity", ctx), "16384");
    assert_eq!(value_of(&properties, "testing.manual_clock", ctx), "false");
    assert!(properties.len() >= 50, "every key: {names:?}");

    // The tokens: counted, never shown, in no answer.
    assert_eq!(
        value_of(&properties, "management.tokens", ctx),
        "<2 configured>"
    );
    for path in [CONFIG, DEPLOYMENT] {
        for method in ["GET", "POST"] {
            let body = client.request(method, path, &[], b"{}").text();
            for token in ["s3cret", "another-one"] {
                assert!(
                    !body.contains(token),
                    "{method} {path} shows a token: {body}"
                );
            }
        }
    }

    // Defaults, the file, the flags (the harness always passes --listen and --data-dir).
    let sources = v["sources"].as_object().expect("sources is an object");
    let sources: Vec<(String, i64)> = sources
        .iter()
        .map(|(k, p)| (k.to_string(), p.as_i64().expect("a priority is an int")))
        .collect();
    assert_eq!(sources.len(), 3, "{}", dump(&v["sources"]));
    assert_eq!(sources[0], ("defaults".to_string(), 0));
    assert!(
        sources[1].0.ends_with("artemis.toml") && sources[1].1 == 1,
        "the config file: {sources:?}"
    );
    assert_eq!(sources[2], ("command line".to_string(), 2));
}

#[test]
fn config_sources_without_a_file_are_defaults_and_flags() {
    let server = Server::start_sha(&[], None);
    let (_, v) = server.client().get(CONFIG);
    let sources = &v["sources"];
    assert_eq!(keys(sources, "sources"), ["defaults", "command line"]);
    assert_eq!(sources["defaults"].as_i64(), Some(0));
    assert_eq!(sources["command line"].as_i64(), Some(2));
    let properties = string_map(&v["properties"], "properties");
    assert_eq!(
        value_of(&properties, "management.tokens", "no tokens"),
        "<0 configured>"
    );
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("the kernel's host name")
        .trim()
        .to_string()
}

#[test]
fn deployment_status_says_where_this_node_runs() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], Some(TOKEN_CONFIG));
    let mut client = server.client();
    let v = get_post_and_head(&mut client, DEPLOYMENT);
    assert_success_status(&v, "deployment.json");
    assert_eq!(
        keys(&v, "deployment.json"),
        [
            "appId",
            "ip",
            "machineName",
            "path",
            "port",
            "properties",
            "protocol",
            "regionId",
            "responseStatus",
            "sources",
            "zoneId"
        ]
    );
    assert_eq!(v["appId"].as_str(), Some("artemis"));
    assert_eq!(v["ip"].as_str(), Some("127.0.0.1"));
    assert_eq!(v["machineName"].as_str(), Some(host_name().as_str()));
    assert_eq!(v["path"].as_str(), Some("/artemis-service"));
    assert_eq!(v["port"].as_u64(), Some(u64::from(server.addr.port())));
    assert_eq!(v["protocol"].as_str(), Some("http"));
    assert_eq!(v["regionId"].as_str(), Some(REGION));
    assert_eq!(v["zoneId"].as_str(), Some(ZONE));
    // The deployment keys (the top level of the configuration) as config.json shows them.
    let properties = string_map(&v["properties"], "deployment properties");
    let (_, config) = client.get(CONFIG);
    let all = string_map(&config["properties"], "config properties");
    let top_level: Vec<(String, String)> =
        all.into_iter().filter(|(k, _)| !k.contains('.')).collect();
    assert_eq!(properties, top_level);
    let ctx = "deployment properties";
    assert_eq!(value_of(&properties, "listen", ctx), "127.0.0.1:0");
    assert_eq!(value_of(&properties, "region_id", ctx), REGION);
    assert_eq!(v["sources"], config["sources"]);

    // Without a prefix the path is the root; under it the answer is the same.
    let plain = Server::start_sha(&[], None);
    let (_, v) = plain.client().get(DEPLOYMENT);
    assert_eq!(v["path"].as_str(), Some("/"));
    let (status, prefixed) = client.get(&format!("/artemis-service{DEPLOYMENT}"));
    assert_eq!(status, 200);
    assert_eq!(
        prefixed["port"].as_u64(),
        Some(u64::from(server.addr.port()))
    );
}

#[test]
fn deployment_ip_of_a_wildcard_listener_is_an_address_of_this_machine() {
    let data_dir: PathBuf =
        std::env::temp_dir().join(format!("artemis-status-wildcard-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir).unwrap();
    let server = Server::start_at("0.0.0.0:0", &data_dir, SHA_ARGS);
    let (status, v) = server.client().get(DEPLOYMENT);
    assert_eq!(status, 200, "{}", dump(&v));
    let ip: IpAddr = v["ip"]
        .as_str()
        .and_then(|ip| ip.parse().ok())
        .unwrap_or_else(|| panic!("ip is not an address: {}", dump(&v)));
    assert!(ip.is_ipv4() && !ip.is_unspecified(), "{ip}");
    // Only an address of one of this machine's interfaces can be bound.
    TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("{ip} is not local: {e}"));
    assert_eq!(v["port"].as_u64(), Some(u64::from(server.addr.port())));
    drop(server);
    std::fs::remove_dir_all(&data_dir).unwrap();
}

/// `connections.json` as (registry, discovery), after checking it is two decimal strings,
/// registry first, as Java wrote them.
fn connections(client: &mut Client) -> (u64, u64) {
    let response = client.request("GET", CONNECTIONS, &[], b"");
    assert_eq!(response.status, 200, "{}", response.text());
    let v = response.json();
    assert_eq!(keys(&v, "connections.json"), ["registry", "discovery"]);
    let count = |key: &str| {
        v[key]
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{key} is not a count as a string: {}", dump(&v)))
    };
    (count("registry"), count("discovery"))
}

#[test]
fn connections_count_open_websocket_sessions_per_channel_node_wide() {
    let server = Server::start_sha(&["--shards", "2"], None);
    let mut client = server.client();
    assert_eq!(connections(&mut client), (0, 0));

    let mut heartbeats: Vec<Ws> = (0..3).map(|_| ws_connect(&server, HB)).collect();
    let mut one_service = ws_connect(&server, IC);
    subscribe(&mut one_service, "conn-svc");
    let mut everything = ws_connect(&server, AIC);
    // A session answers a ping from its read loop: by then it is counted.
    for (n, ws) in heartbeats.iter_mut().enumerate() {
        sync(ws, &format!("heartbeat session {n}"));
    }
    sync(&mut one_service, "instance-change session");
    sync(&mut everything, "all-instance-change session");
    assert_eq!(connections(&mut client), (3, 2));
    // Plain HTTP connections are no sessions.
    let _idle = server.client();
    assert_eq!(connections(&mut client), (3, 2));

    let closing = heartbeats.pop().unwrap();
    close_session(closing);
    close_session(one_service);
    assert!(
        wait_until(SOON, || connections(&mut client) == (2, 1)),
        "closed sessions still counted: {:?}",
        connections(&mut client)
    );
    drop(heartbeats);
    close_session(everything);
    assert!(
        wait_until(SOON, || connections(&mut client) == (0, 0)),
        "dropped sessions still counted: {:?}",
        connections(&mut client)
    );
}

fn close_session(mut ws: Ws) {
    ws.close(None).expect("send close");
    expect_close(&mut ws, 1000, SOON, "client-closed session");
}

#[test]
fn connections_answers_get_and_head_but_not_post() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], None);
    let mut client = server.client();
    let get = client.request("GET", CONNECTIONS, &[], b"");
    assert_eq!(get.status, 200);
    assert_head_like_get(&mut client, CONNECTIONS, &get);
    let prefixed = client.request("GET", &format!("/artemis-service{CONNECTIONS}"), &[], b"");
    assert_eq!(prefixed.status, 200);
    assert_eq!(prefixed.json(), get.json());

    let post = client.request("POST", CONNECTIONS, &[], b"{}");
    assert_protocol_error(&post, 405, "POST connections.json");
    assert_eq!(post.header("allow"), Some("GET, HEAD, OPTIONS"));
    for path in [CLUSTER, CONFIG, DEPLOYMENT] {
        let r = client.request("PUT", path, &[], b"{}");
        assert_protocol_error(&r, 405, &format!("PUT {path}"));
        assert_eq!(
            r.header("allow"),
            Some("GET, HEAD, POST, OPTIONS"),
            "{path}"
        );
    }
}
