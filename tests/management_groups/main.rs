//! Groups and route rules through the management API (spec §10.3, §10.4, §10.6, §10.7; issue
//! 12): every `group/*.json` endpoint, update-canary-ips and the six group logs against the
//! real binary — the answers' exact shapes, Java's refusals, upserts by natural key, soft
//! deletes, released and unreleased weights, the log filters, the token rule, the rate limits of
//! the filtered reads, and durability across restarts and `kill -9`.

use harness::*;

mod access;
mod canary;
mod durability;
mod groups;
mod members;
mod route_rules;
mod shapes;

/// The filtered group reads are rate-limited at 30 per 10 s (Java's default); the suites here
/// read more than that, except where the limit is what is tested.
const ROOMY_LIMITS: &str = "[rate_limits.management_group]\ndefault_per_10s = 100000\n";

/// `"bad-request"` `"request is null"`, as Jackson wrote it.
const REQUEST_IS_NULL: &str =
    r#"{"errorCode":"bad-request","message":"request is null","status":"fail"}"#;

/// `ResponseStatusUtil.RATE_LIMITED_STATUS`.
const RATE_LIMITED: &str =
    r#"{"errorCode":"rate-limited","message":"Request is rate limited.","status":"fail"}"#;

const WRR: &str = "weighted-round-robin";

/// Two cores, so an acknowledged write must be in effect on a core other than the writer's.
fn start() -> Server {
    Server::start_sha(&["--shards", "2"], Some(ROOMY_LIMITS))
}

fn json(text: &str) -> Value {
    sonic_rs::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `v` with `key` set to `value`.
fn with(mut v: Value, key: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(key, value);
    v
}

/// `v` as text with every object's properties sorted: equal for equal JSON, whatever order
/// `json!` kept.
fn canonical(v: &Value) -> String {
    if let Some(items) = v.as_array() {
        let items: Vec<String> = items.iter().map(canonical).collect();
        return format!("[{}]", items.join(","));
    }
    if let Some(object) = v.as_object() {
        let mut properties: Vec<String> = object
            .iter()
            .map(|(k, v)| format!("{}:{}", dump(&Value::from(k)), canonical(v)))
            .collect();
        properties.sort();
        return format!("{{{}}}", properties.join(","));
    }
    dump(v)
}

/// Asserts `got` is exactly `want`, its properties in Jackson's alphabetical order.
fn assert_json(got: &Value, want: &Value, ctx: &str) {
    assert_sorted_keys(got, ctx);
    assert_eq!(canonical(got), canonical(want), "{ctx}");
}

/// The `i64` property `key` of `v`.
fn id_of(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is not a number: {}", dump(v)))
}

/// The rows a read of `name` answers for `body` (under `field`) on each of several fresh
/// connections, which different cores may serve: they must all agree.
fn read_everywhere(server: &Server, name: &str, body: &str, field: &str) -> Vec<Value> {
    let first = group_list(&mut server.client(), name, body, field);
    for n in 1..4 {
        let again = group_list(&mut server.client(), name, body, field);
        assert_eq!(
            again.iter().map(dump).collect::<Vec<_>>(),
            first.iter().map(dump).collect::<Vec<_>>(),
            "{name} {body} on fresh connection {n}"
        );
    }
    first
}

/// `{"routeRuleId","groupId","unreleasedWeight","weight"}` of every row of a rule, by group id.
fn weights(rows: &[Value]) -> Vec<(i64, Option<i64>, Option<i64>)> {
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                id_of(r, "groupId"),
                r["unreleasedWeight"].as_i64(),
                r["weight"].as_i64(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A logical instance as the portal writes it.
fn logic_instance(service: &str, instance: &str, port: u16) -> Value {
    sonic_rs::json!({
        "serviceId": service, "instanceId": instance, "ip": "10.9.0.1", "machineName": "m1",
        "metadata": {"k": "v"}, "port": port, "protocol": "http", "regionId": REGION,
        "zoneId": ZONE, "groupId": "blue", "healthCheckUrl": "http://10.9.0.1/health",
        "url": "http://10.9.0.1/", "description": "logical",
    })
}
