//! One-call Artemis API operations over a [`Client`]. Register, unregister and lookup assert that
//! they succeeded; a heartbeat's reply is returned as is, since failing is part of its protocol.

use crate::assertions::{arr_len, assert_registry_ok, assert_success_status, dump};
use crate::http::Client;
use crate::payload::{instances_body, lookup_body, Inst, HEARTBEAT, LOOKUP, REGISTER, UNREGISTER};
use crate::{JsonContainerTrait, JsonValueTrait, Value};

/// Lookup one service; returns the Service object.
pub fn lookup_one(client: &mut Client, service_id: &str) -> Value {
    let (st, v) = client.post_json(LOOKUP, &lookup_body(&[service_id]));
    assert_eq!(st, 200, "lookup {service_id}: {}", dump(&v));
    assert_success_status(&v, "lookup");
    assert_eq!(
        arr_len(&v["services"], "lookup services"),
        1,
        "{}",
        dump(&v)
    );
    v["services"][0].clone()
}

/// The instanceIds a lookup currently returns for `service_id` (sorted).
pub fn lookup_ids(client: &mut Client, service_id: &str) -> Vec<String> {
    let svc = lookup_one(client, service_id);
    let mut ids: Vec<String> = svc["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("instances not an array: {}", dump(&svc)))
        .iter()
        .map(|i| i["instanceId"].as_str().unwrap_or("").to_string())
        .collect();
    ids.sort();
    ids
}

pub fn register(client: &mut Client, insts: &[Inst]) {
    let (st, v) = client.post_json(REGISTER, &instances_body(insts));
    assert_registry_ok(st, &v, "register");
}

pub fn heartbeat(client: &mut Client, insts: &[Inst]) -> (u16, Value) {
    client.post_json(HEARTBEAT, &instances_body(insts))
}

pub fn unregister(client: &mut Client, insts: &[Inst]) {
    let (st, v) = client.post_json(UNREGISTER, &instances_body(insts));
    assert_registry_ok(st, &v, "unregister");
}
