//! Checks of the Artemis wire format that several suites share.

use std::collections::HashMap;

use crate::http::Response;
use crate::payload::{Inst, INSTANCE_KEYS};
use crate::{JsonContainerTrait, JsonValueTrait, Value};

pub fn assert_success_status(v: &Value, ctx: &str) {
    let rs = &v["responseStatus"];
    assert_eq!(
        rs["status"].as_str(),
        Some("success"),
        "{ctx}: responseStatus not success: {}",
        dump(v)
    );
    assert_eq!(
        rs["errorCode"].as_str(),
        Some("success"),
        "{ctx}: {}",
        dump(v)
    );
    assert_eq!(rs["message"].as_str(), Some(""), "{ctx}: {}", dump(v));
}

/// Asserts the canonical registry SUCCESS reply: HTTP 200, `failedInstances` null.
pub fn assert_registry_ok(status: u16, v: &Value, ctx: &str) {
    assert_eq!(status, 200, "{ctx}: HTTP status; body {}", dump(v));
    assert_success_status(v, ctx);
    assert!(
        v.get("failedInstances").is_some() && v["failedInstances"].is_null(),
        "{ctx}: failedInstances must be present and null: {}",
        dump(v)
    );
}

/// Asserts a heartbeat reply that fails exactly one instance as unknown: `responseStatus`
/// `partial_fail`, one `data-not-found` entry whose message names `key` (Java
/// `Instance.toString()`) and whose instance echoes `echoed` in full so the client can
/// re-register it.
pub fn assert_one_not_found(v: &Value, key: &str, echoed: &Inst, ctx: &str) {
    assert_sorted_keys(v, ctx);
    assert_eq!(
        v["responseStatus"],
        sonic_rs::json!({"errorCode": "partial_fail", "message": "", "status": "partial_fail"}),
        "{ctx}: {}",
        dump(v)
    );
    assert_eq!(
        arr_len(&v["failedInstances"], "failedInstances"),
        1,
        "{ctx}: {}",
        dump(v)
    );
    let failed = &v["failedInstances"][0];
    assert_eq!(
        failed["errorCode"].as_str(),
        Some("data-not-found"),
        "{ctx}"
    );
    assert_eq!(
        failed["errorMessage"].as_str(),
        Some(format!("{key}: Instance is not exising! Need re-register.").as_str()),
        "{ctx}"
    );
    assert_instance_eq(&failed["instance"], echoed, ctx);
}

/// Asserts a protocol-fault reply: `code` and the JSON `bad-request` body.
pub fn assert_protocol_error(resp: &Response, code: u16, ctx: &str) {
    assert_eq!(
        resp.status,
        code,
        "{ctx}: expected HTTP {code}, got {} {:?}",
        resp.status,
        resp.text()
    );
    let v = resp.json();
    let rs = &v["responseStatus"];
    assert_eq!(rs["status"].as_str(), Some("fail"), "{ctx}: {}", dump(&v));
    assert_eq!(
        rs["errorCode"].as_str(),
        Some("bad-request"),
        "{ctx}: {}",
        dump(&v)
    );
    let msg = rs["message"].as_str().unwrap_or("");
    assert!(
        !msg.trim().is_empty(),
        "{ctx}: a protocol error must say what was wrong: {}",
        dump(&v)
    );
}

/// Asserts `actual` is an Instance object with exactly the 13 properties, equal to `expected`.
pub fn assert_instance_eq(actual: &Value, expected: &Inst, ctx: &str) {
    let obj = actual
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: instance is not an object: {}", dump(actual)));
    let mut keys: Vec<&str> = obj.iter().map(|(k, _)| k).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        INSTANCE_KEYS.to_vec(),
        "{ctx}: instance keys: {}",
        dump(actual)
    );
    let want = expected.value();
    for k in INSTANCE_KEYS {
        if k == "metadata" {
            assert_metadata_eq(&actual[k], &want[k], ctx);
        } else {
            assert_eq!(
                actual[k],
                want[k],
                "{ctx}: instance.{k}: got {} want {}",
                dump(&actual[k]),
                dump(&want[k])
            );
        }
    }
}

fn assert_metadata_eq(actual: &Value, want: &Value, ctx: &str) {
    if want.is_null() {
        assert!(actual.is_null(), "{ctx}: metadata: got {}", dump(actual));
        return;
    }
    let a = actual
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: metadata not an object: {}", dump(actual)));
    let w = want.as_object().unwrap();
    let am: HashMap<&str, &Value> = a.iter().collect();
    let wm: HashMap<&str, &Value> = w.iter().collect();
    assert_eq!(am, wm, "{ctx}: metadata");
}

/// Recursively asserts object keys are in alphabetical order (Java SORT_PROPERTIES_ALPHABETICALLY),
/// except inside maps (`metadata`, `leases`, `delta`) whose keys are data.
pub fn assert_sorted_keys(v: &Value, ctx: &str) {
    fn walk(v: &Value, path: &str, ctx: &str) {
        if let Some(arr) = v.as_array() {
            for (i, e) in arr.iter().enumerate() {
                walk(e, &format!("{path}[{i}]"), ctx);
            }
        } else if let Some(obj) = v.as_object() {
            let keys: Vec<&str> = obj.iter().map(|(k, _)| k).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "{ctx}: keys of {path} not alphabetical");
            for (k, e) in obj.iter() {
                if matches!(k, "metadata" | "leases" | "delta") {
                    continue;
                }
                walk(e, &format!("{path}.{k}"), ctx);
            }
        }
    }
    walk(v, "$", ctx);
}

pub fn dump(v: &Value) -> String {
    sonic_rs::to_string(v).unwrap_or_else(|_| "<unserializable>".into())
}

/// Number of array elements (panics with context if `v` is not an array).
pub fn arr_len(v: &Value, ctx: &str) -> usize {
    v.as_array()
        .unwrap_or_else(|| panic!("{ctx}: not an array: {}", dump(v)))
        .len()
}

/// `yyyy-MM-dd HH:mm:ss.SSS`
pub fn is_java_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 23 {
        return false;
    }
    b.iter().enumerate().all(|(i, c)| match i {
        4 | 7 => *c == b'-',
        10 => *c == b' ',
        13 | 16 => *c == b':',
        19 => *c == b'.',
        _ => c.is_ascii_digit(),
    })
}
