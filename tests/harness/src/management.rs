//! The management API (spec §10.1, §10.2, §10.5, §10.6): one-call pull-out / pull-in of an
//! instance, a server or a zone that assert success, the operation reads, the log queries and the
//! management service views. Requests are the bodies Java's management portal sends.

use crate::api::lookup_ids;
use crate::assertions::{assert_success_status, dump};
use crate::http::Client;
use crate::payload::{Inst, REGION, SERVICE, SERVICES, ZONE};
use crate::process::Server;
use crate::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait, Value};

pub const OPERATE_INSTANCE: &str = "/api/management/operate-instance.json";
pub const OPERATE_SERVER: &str = "/api/management/operate-server.json";
pub const INSTANCE_OPERATIONS: &str = "/api/management/instance-operations.json";
pub const SERVER_OPERATIONS: &str = "/api/management/server-operations.json";
pub const ALL_INSTANCE_OPERATIONS: &str = "/api/management/all-instance-operations.json";
pub const ALL_SERVER_OPERATIONS: &str = "/api/management/all-server-operations.json";
pub const INSTANCE_DOWN: &str = "/api/management/instance-down.json";
pub const SERVER_DOWN: &str = "/api/management/server-down.json";
pub const MANAGEMENT_SERVICES: &str = "/api/management/services.json";
pub const MANAGEMENT_SERVICE: &str = "/api/management/service.json";

pub const OPERATE_ZONE: &str = "/api/management/zone/operate-zone-operations.json";
pub const ALL_ZONE_OPERATIONS: &str = "/api/management/zone/get-all-zone-operations.json";
pub const ZONE_OPERATIONS: &str = "/api/management/zone/get-zone-operations.json";
pub const ZONE_OPERATIONS_LIST: &str = "/api/management/zone/get-zone-operations-list.json";
pub const IS_ZONE_DOWN: &str = "/api/management/zone/is-zone-down.json";

pub const INSTANCE_LOGS: &str = "/api/management/log/instance-operation-logs.json";
pub const SERVER_LOGS: &str = "/api/management/log/server-operation-logs.json";
pub const ZONE_LOGS: &str = "/api/management/log/zone-operation-logs.json";

/// The `operatorId` every helper writes as.
pub const OPERATOR: &str = "it-operator";

/// The operation name the helpers use when a test does not care (Java defines none; any
/// non-blank string pulls out).
pub const PULL_OUT: &str = "pullout";

/// The properties of an `instance-operation-logs` row, alphabetical (spec §10.6).
pub const INSTANCE_LOG_KEYS: [&str; 11] = [
    "complete",
    "createTime",
    "extensions",
    "id",
    "instanceId",
    "operation",
    "operatorId",
    "regionId",
    "serviceId",
    "token",
    "updateTime",
];

/// The properties of a `server-operation-logs` row, alphabetical.
pub const SERVER_LOG_KEYS: [&str; 10] = [
    "complete",
    "createTime",
    "extensions",
    "id",
    "operation",
    "operatorId",
    "regionId",
    "serverId",
    "token",
    "updateTime",
];

/// The properties of a `zone-operation-logs` row, alphabetical.
pub const ZONE_LOG_KEYS: [&str; 10] = [
    "complete",
    "createTime",
    "id",
    "operation",
    "operatorId",
    "regionId",
    "serviceId",
    "token",
    "updateTime",
    "zoneId",
];

fn text(v: &Value) -> String {
    sonic_rs::to_string(v).unwrap()
}

/// The instance key `{"instanceId","regionId","serviceId"}` of `inst`.
pub fn instance_key(inst: &Inst) -> Value {
    sonic_rs::json!({
        "instanceId": inst.instance_id,
        "regionId": inst.region_id,
        "serviceId": inst.service_id,
    })
}

/// `{"regionId","serverId"}`.
pub fn server_key(region: &str, server_id: &str) -> Value {
    sonic_rs::json!({"regionId": region, "serverId": server_id})
}

/// `{"regionId","serviceId","zoneId"}`.
pub fn zone_key(region: &str, service_id: &str, zone_id: &str) -> Value {
    sonic_rs::json!({"regionId": region, "serviceId": service_id, "zoneId": zone_id})
}

/// An `OperateInstanceRequest`: `complete == false` pulls out, `true` pulls in.
pub fn operate_instance_body(key: &Value, operation: &str, complete: bool) -> String {
    text(&sonic_rs::json!({
        "instanceKey": key,
        "operation": operation,
        "operationComplete": complete,
        "operatorId": OPERATOR,
        "token": null,
    }))
}

/// An `OperateServerRequest`.
pub fn operate_server_body(key: &Value, operation: &str, complete: bool) -> String {
    text(&sonic_rs::json!({
        "serverKey": key,
        "operation": operation,
        "operationComplete": complete,
        "operatorId": OPERATOR,
        "token": null,
    }))
}

/// An `OperateZoneOperationsRequest`: every zone key in `zones` gets every one of
/// `operations`. The `OperationContext.operation` names the batch, as the portal sends it.
pub fn operate_zone_body(zones: &[Value], operations: &[&str], complete: bool) -> String {
    let list: Vec<Value> = zones
        .iter()
        .map(|z| sonic_rs::json!({"zoneKey": z, "operations": operations}))
        .collect();
    text(&sonic_rs::json!({
        "zoneOperationsList": list,
        "operationComplete": complete,
        "operation": operations.first().copied().unwrap_or(""),
        "operatorId": OPERATOR,
        "reason": "black-box test",
        "extensions": "{}",
        "token": null,
    }))
}

/// Posts a management request; asserts HTTP 200 (every logical outcome is 200, spec §1) and a
/// `responseStatus` in the body.
pub fn management_post(c: &mut Client, path: &str, body: &str) -> Value {
    let (st, v) = c.post_json(path, body);
    assert_eq!(st, 200, "POST {path} {body}: HTTP {st}: {}", dump(&v));
    assert!(
        v["responseStatus"].is_object(),
        "POST {path} {body}: no responseStatus: {}",
        dump(&v)
    );
    v
}

/// Asserts a management write answered `{"responseStatus": SUCCESS}` and nothing else.
pub fn assert_write_ok(v: &Value, ctx: &str) {
    assert_success_status(v, ctx);
    let keys: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: not an object: {}", dump(v)))
        .iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["responseStatus"], "{ctx}: {}", dump(v));
}

/// Asserts a `fail` answer with `code` and exactly `message`.
pub fn assert_fail(v: &Value, code: &str, message: &str, ctx: &str) {
    assert_eq!(
        v["responseStatus"],
        sonic_rs::json!({"errorCode": code, "message": message, "status": "fail"}),
        "{ctx}: {}",
        dump(v)
    );
}

/// Asserts a `fail` answer with `code` and a message that says something; returns the message.
pub fn assert_fail_with_some_message(v: &Value, code: &str, ctx: &str) -> String {
    let rs = &v["responseStatus"];
    assert_eq!(rs["status"].as_str(), Some("fail"), "{ctx}: {}", dump(v));
    assert_eq!(rs["errorCode"].as_str(), Some(code), "{ctx}: {}", dump(v));
    let message = rs["message"].as_str().unwrap_or("").to_string();
    assert!(
        !message.trim().is_empty(),
        "{ctx}: a failure must say why: {}",
        dump(v)
    );
    message
}

fn write_ok(c: &mut Client, path: &str, body: &str, ctx: &str) {
    let v = management_post(c, path, body);
    assert_write_ok(&v, &format!("{ctx}: POST {path} {body}"));
}

/// Pulls `inst` out under `operation`.
pub fn pull_out_instance(c: &mut Client, inst: &Inst, operation: &str) {
    let body = operate_instance_body(&instance_key(inst), operation, false);
    write_ok(c, OPERATE_INSTANCE, &body, "pull out instance");
}

/// Ends `operation` on `inst` (it is back once no operation is left on it).
pub fn pull_in_instance(c: &mut Client, inst: &Inst, operation: &str) {
    let body = operate_instance_body(&instance_key(inst), operation, true);
    write_ok(c, OPERATE_INSTANCE, &body, "pull in instance");
}

/// Pulls out server `server_id` (every instance whose `ip` it is) of region SHA.
pub fn pull_out_server(c: &mut Client, server_id: &str, operation: &str) {
    let body = operate_server_body(&server_key(REGION, server_id), operation, false);
    write_ok(c, OPERATE_SERVER, &body, "pull out server");
}

pub fn pull_in_server(c: &mut Client, server_id: &str, operation: &str) {
    let body = operate_server_body(&server_key(REGION, server_id), operation, true);
    write_ok(c, OPERATE_SERVER, &body, "pull in server");
}

/// Pulls out zone `zone_id` of each of `service_ids` (region SHA), in one request.
pub fn pull_out_zones(c: &mut Client, service_ids: &[&str], zone_id: &str, operation: &str) {
    let zones: Vec<Value> = service_ids
        .iter()
        .map(|s| zone_key(REGION, s, zone_id))
        .collect();
    let body = operate_zone_body(&zones, &[operation], false);
    write_ok(c, OPERATE_ZONE, &body, "pull out zones");
}

pub fn pull_in_zones(c: &mut Client, service_ids: &[&str], zone_id: &str, operation: &str) {
    let zones: Vec<Value> = service_ids
        .iter()
        .map(|s| zone_key(REGION, s, zone_id))
        .collect();
    let body = operate_zone_body(&zones, &[operation], true);
    write_ok(c, OPERATE_ZONE, &body, "pull in zones");
}

/// A successful read: asserts success and returns the body.
pub fn management_read(c: &mut Client, path: &str, body: &str) -> Value {
    let v = management_post(c, path, body);
    assert_success_status(&v, &format!("POST {path} {body}"));
    v
}

/// The operations in effect on `key` (`instance-operations.json`), sorted; empty when the
/// answer's `operations` is null.
pub fn instance_operations(c: &mut Client, key: &Value) -> Vec<String> {
    let body = text(&sonic_rs::json!({ "instanceKey": key }));
    let v = management_read(c, INSTANCE_OPERATIONS, &body);
    operations_of(&v["operations"], "instanceKey", key, &v)
}

/// The operations in effect on server `key` (`server-operations.json`), sorted.
pub fn server_operations(c: &mut Client, key: &Value) -> Vec<String> {
    let body = text(&sonic_rs::json!({ "serverKey": key }));
    let v = management_read(c, SERVER_OPERATIONS, &body);
    operations_of(&v["operations"], "serverKey", key, &v)
}

/// The operations in effect on zone `key` (`get-zone-operations.json`), sorted.
pub fn zone_operations(c: &mut Client, key: &Value) -> Vec<String> {
    let body = text(&sonic_rs::json!({ "zoneKey": key }));
    let v = management_read(c, ZONE_OPERATIONS, &body);
    operations_of(&v["operations"], "zoneKey", key, &v)
}

/// The sorted `operations` of an `{"<key_field>": key, "operations": [..]}` object, checking
/// that it is about `key` (case-insensitively); empty for null.
fn operations_of(ops: &Value, key_field: &str, key: &Value, whole: &Value) -> Vec<String> {
    if ops.is_null() {
        return Vec::new();
    }
    assert!(
        same_key(&ops[key_field], key),
        "{key_field} {} answered for {}",
        dump(&ops[key_field]),
        dump(key)
    );
    let mut out: Vec<String> = ops["operations"]
        .as_array()
        .unwrap_or_else(|| panic!("operations not an array: {}", dump(whole)))
        .iter()
        .map(|o| o.as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "an operations object with no operation (null is the answer for none): {}",
        dump(whole)
    );
    out
}

/// Keys are equal when every field of `want` matches ignoring ASCII case (spec §3.8).
pub fn same_key(got: &Value, want: &Value) -> bool {
    let Some(w) = want.as_object() else {
        return false;
    };
    w.iter().all(|(k, wv)| {
        let g = got[k].as_str().unwrap_or_default();
        g.eq_ignore_ascii_case(wv.as_str().unwrap_or_default())
    })
}

/// A key object as `field=value,...`, fields sorted and values lower-cased (keys are equal
/// ignoring case, spec §3.8), for comparing lists of keys.
pub fn key_string(key: &Value) -> String {
    let obj = key
        .as_object()
        .unwrap_or_else(|| panic!("a key must be an object: {}", dump(key)));
    let mut parts: Vec<String> = obj
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("null").to_lowercase()))
        .collect();
    parts.sort();
    parts.join(",")
}

/// `(key, sorted operations)` of every entry of an "all operations" list, sorted.
pub fn key_operations(list: &Value, key_field: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {}", dump(list)))
        .iter()
        .map(|entry| {
            let key = key_string(&entry[key_field]);
            let mut ops: Vec<String> = entry["operations"]
                .as_array()
                .unwrap_or_else(|| panic!("operations missing: {}", dump(entry)))
                .iter()
                .map(|o| o.as_str().unwrap_or_default().to_string())
                .collect();
            ops.sort();
            (key, ops)
        })
        .collect();
    out.sort();
    out
}

/// `all-instance-operations.json` for `region` (`None`: every region).
pub fn all_instance_operations(c: &mut Client, region: Option<&str>) -> Vec<(String, Vec<String>)> {
    let v = management_read(
        c,
        ALL_INSTANCE_OPERATIONS,
        &text(&sonic_rs::json!({ "regionId": region })),
    );
    key_operations(&v["allInstanceOperations"], "instanceKey")
}

pub fn all_server_operations(c: &mut Client, region: Option<&str>) -> Vec<(String, Vec<String>)> {
    let v = management_read(
        c,
        ALL_SERVER_OPERATIONS,
        &text(&sonic_rs::json!({ "regionId": region })),
    );
    key_operations(&v["allServerOperations"], "serverKey")
}

pub fn all_zone_operations(c: &mut Client, region: Option<&str>) -> Vec<(String, Vec<String>)> {
    let v = management_read(
        c,
        ALL_ZONE_OPERATIONS,
        &text(&sonic_rs::json!({ "regionId": region })),
    );
    key_operations(&v["allZoneOperations"], "zoneKey")
}

fn down_of(v: &Value, ctx: &str) -> bool {
    v["down"]
        .as_bool()
        .unwrap_or_else(|| panic!("{ctx}: down is not a boolean: {}", dump(v)))
}

/// `instance-down.json`: the full check (instance, server, zone) for `inst`.
pub fn is_instance_down(c: &mut Client, inst: &Inst) -> bool {
    let body = format!("{{\"instance\":{}}}", inst.json());
    down_of(&management_read(c, INSTANCE_DOWN, &body), "instance-down")
}

pub fn is_server_down(c: &mut Client, key: &Value) -> bool {
    let body = text(&sonic_rs::json!({ "serverKey": key }));
    down_of(&management_read(c, SERVER_DOWN, &body), "server-down")
}

pub fn is_zone_down(c: &mut Client, key: &Value) -> bool {
    let body = text(&sonic_rs::json!({ "zoneKey": key }));
    down_of(&management_read(c, IS_ZONE_DOWN, &body), "is-zone-down")
}

/// The `logs` of a log query with the JSON `filter` (e.g. `{"serviceId":"x"}`), sorted by id.
pub fn logs(c: &mut Client, path: &str, filter: &str) -> Vec<Value> {
    let v = management_read(c, path, filter);
    let mut rows: Vec<Value> = v["logs"]
        .as_array()
        .unwrap_or_else(|| panic!("POST {path} {filter}: logs not a list: {}", dump(&v)))
        .iter()
        .cloned()
        .collect();
    rows.sort_by_key(|r| r["id"].as_i64().unwrap_or(i64::MIN));
    rows
}

/// `/api/management/services.json` (POST): every service with every instance, pulled-out ones
/// included with `status` "down".
pub fn management_services(c: &mut Client) -> Value {
    management_read(
        c,
        MANAGEMENT_SERVICES,
        &text(&sonic_rs::json!({"regionId": REGION, "zoneId": null})),
    )
}

/// The instances `/api/management/service.json` lists for `service_id`.
pub fn management_service(c: &mut Client, service_id: &str) -> Value {
    management_read(
        c,
        MANAGEMENT_SERVICE,
        &text(&sonic_rs::json!({"serviceId": service_id, "regionId": REGION, "zoneId": null})),
    )
}

/// The instances of `service_id` in a services list (`{"services":[Service]}`) by instanceId;
/// the service matched case-insensitively. Empty if the service is not listed.
pub fn listed_instances(services: &Value, service_id: &str) -> Vec<Value> {
    services
        .as_array()
        .unwrap_or_else(|| panic!("services not a list: {}", dump(services)))
        .iter()
        .filter(|s| {
            s["serviceId"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(service_id))
        })
        .flat_map(|s| {
            s["instances"]
                .as_array()
                .map(|a| a.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .collect()
}

/// The instanceIds of `service_id` in a Service object (sorted); none for null instances.
fn service_ids_of(service: &Value) -> Vec<String> {
    let mut ids: Vec<String> = service["instances"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["instanceId"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Asserts that discovery shows exactly `want` (instanceIds) of `service_id`: in a lookup on
/// each of several fresh connections (which different cores may accept), in `service.json` and
/// in `services.json`. Management writes are in effect everywhere once acknowledged, so this
/// holds right after one, without waiting.
pub fn assert_discovered(server: &Server, service_id: &str, want: &[&str], ctx: &str) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    for n in 0..4 {
        let got = lookup_ids(&mut server.client(), service_id);
        assert_eq!(
            got, want,
            "{ctx}: lookup {service_id} on fresh connection {n}"
        );
    }
    let mut c = server.client();
    let body = text(&sonic_rs::json!({
        "discoveryConfig": {"serviceId": service_id, "regionId": REGION, "zoneId": ZONE},
        "regionId": REGION,
        "zoneId": ZONE,
    }));
    let (st, v) = c.post_json(SERVICE, &body);
    assert_eq!(st, 200, "{ctx}: service.json: {}", dump(&v));
    assert_success_status(&v, &format!("{ctx}: service.json"));
    assert_eq!(
        service_ids_of(&v["service"]),
        want,
        "{ctx}: service.json {service_id}: {}",
        dump(&v)
    );
    let (st, v) = c.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(st, 200, "{ctx}: services.json: {}", dump(&v));
    let mut listed: Vec<String> = listed_instances(&v["services"], service_id)
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap_or_default().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, want, "{ctx}: services.json {service_id}");
}

/// `body` (a JSON object) with `field` set to `value`: a request as a helper builds it, with one
/// field changed (another operator, a token, a blank id).
pub fn with_field(body: &str, field: &str, value: Value) -> String {
    let mut v: Value =
        sonic_rs::from_str(body).unwrap_or_else(|e| panic!("with_field: {body} is not JSON: {e}"));
    v.as_object_mut()
        .unwrap_or_else(|| panic!("with_field: {body} is not an object"))
        .insert(field, value);
    text(&v)
}
