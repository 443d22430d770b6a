//! Versions and `services-delta.json` (spec §6.3, §6.4, "this project" table): applying the delta
//! from the version of an earlier `services.json` to that earlier result gives the current one,
//! exactly, across bursts of random changes; edge versions answer `data-not-found`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use harness::*;
use protocol::rng::Rng;

const DELTA: &str = "/api/discovery/services-delta.json";

/// (serviceId lower-cased, instanceId lower-cased) → the instance as canonical JSON.
type State = BTreeMap<(String, String), String>;

/// JSON with object keys sorted at every level, so equal values print equally.
fn canonical(v: &Value) -> String {
    if let Some(obj) = v.as_object() {
        let mut entries: Vec<(&str, &Value)> = obj.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        let parts: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}:{}", sonic_rs::to_string(k).unwrap(), canonical(v)))
            .collect();
        format!("{{{}}}", parts.join(","))
    } else if let Some(arr) = v.as_array() {
        let parts: Vec<String> = arr.iter().map(canonical).collect();
        format!("[{}]", parts.join(","))
    } else {
        dump(v)
    }
}

fn key_of(instance: &Value, ctx: &str) -> (String, String) {
    let svc = instance["serviceId"]
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: instance without serviceId: {}", dump(instance)));
    let id = instance["instanceId"]
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: instance without instanceId: {}", dump(instance)));
    (svc.to_ascii_lowercase(), id.to_ascii_lowercase())
}

/// `services.json`: its version and contents.
fn snapshot(c: &mut Client, ctx: &str) -> (u64, State) {
    let (st, v) = c.post_json(SERVICES, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#);
    assert_eq!(st, 200, "{ctx}: services.json: {}", dump(&v));
    assert_success_status(&v, ctx);
    let version = v["version"]
        .as_u64()
        .unwrap_or_else(|| panic!("{ctx}: services.json version: {}", dump(&v)));
    let mut state = State::new();
    let mut seen_services = BTreeSet::new();
    for svc in v["services"]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: services: {}", dump(&v)))
        .iter()
    {
        let sid = svc["serviceId"].as_str().unwrap().to_ascii_lowercase();
        assert!(
            seen_services.insert(sid.clone()),
            "{ctx}: service {sid} listed twice"
        );
        let instances = svc["instances"].as_array().unwrap();
        assert!(
            !instances.is_empty(),
            "{ctx}: services.json lists an empty service {sid}"
        );
        for inst in instances.iter() {
            let key = key_of(inst, ctx);
            assert_eq!(key.0, sid, "{ctx}: instance under another service");
            let prev = state.insert(key.clone(), canonical(inst));
            assert!(prev.is_none(), "{ctx}: instance {key:?} listed twice");
        }
    }
    (version, state)
}

fn delta_raw(c: &mut Client, body: &str) -> Value {
    let (st, v) = c.post_json(DELTA, body);
    assert_eq!(st, 200, "services-delta.json {body}: {}", dump(&v));
    v
}

fn delta(c: &mut Client, version: u64) -> Value {
    delta_raw(
        c,
        &format!(r#"{{"regionId":"SHA","zoneId":"SHAJQ","version":{version}}}"#),
    )
}

fn assert_not_found(v: &Value, ctx: &str) {
    assert_eq!(
        *v,
        sonic_rs::json!({
            "delta": null,
            "responseStatus": {"errorCode": "data-not-found", "message": "Delta is not found.", "status": "fail"},
            "version": 0
        }),
        "{ctx}: {}",
        dump(v)
    );
}

/// Applies a successful delta (new = upsert, delete = remove); checks its shape on the way:
/// only `new`/`delete`, at most one change per instance, each under its own service.
fn apply(base: &State, d: &Value, ctx: &str) -> State {
    assert_success_status(d, ctx);
    assert_sorted_keys(d, ctx);
    let map = d["delta"]
        .as_object()
        .unwrap_or_else(|| panic!("{ctx}: delta is not an object: {}", dump(d)));
    let mut state = base.clone();
    let mut touched = BTreeSet::new();
    let mut services = BTreeSet::new();
    for (svc, changes) in map.iter() {
        let svc_key = svc.to_ascii_lowercase();
        assert!(
            services.insert(svc_key.clone()),
            "{ctx}: service {svc} twice in the delta map"
        );
        let changes = changes
            .as_array()
            .unwrap_or_else(|| panic!("{ctx}: delta[{svc}] not an array"));
        for ch in changes.iter() {
            let keys: Vec<&str> = ch.as_object().unwrap().iter().map(|(k, _)| k).collect();
            assert_eq!(keys, ["changeTime", "changeType", "instance"], "{ctx}");
            assert!(ch["changeTime"].as_i64().is_some(), "{ctx}: changeTime");
            let key = key_of(&ch["instance"], ctx);
            assert_eq!(key.0, svc_key, "{ctx}: change filed under another service");
            assert!(
                touched.insert(key.clone()),
                "{ctx}: delta not compacted: {key:?} appears twice: {}",
                dump(d)
            );
            match ch["changeType"].as_str() {
                Some("new") => {
                    state.insert(key, canonical(&ch["instance"]));
                }
                Some("delete") => {
                    state.remove(&key);
                }
                other => panic!("{ctx}: changeType {other:?} in a delta (only new/delete)"),
            }
        }
    }
    state
}

fn assert_same(got: &State, want: &State, ctx: &str) {
    if got == want {
        return;
    }
    let mut diffs = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            None => diffs.push(format!("missing {k:?}")),
            Some(g) if g != v => diffs.push(format!("{k:?}: got {g} want {v}")),
            _ => {}
        }
    }
    for k in got.keys() {
        if !want.contains_key(k) {
            diffs.push(format!("extra {k:?}"));
        }
    }
    panic!(
        "{ctx}: delta applied to the earlier services.json differs from the current one ({} differences): {:?}",
        diffs.len(),
        &diffs[..diffs.len().min(8)]
    );
}

/// Checks the delta from `(version, base)` against the current snapshot `(now_version, now)`.
fn check_delta(
    c: &mut Client,
    version: u64,
    base: &State,
    now_version: u64,
    now: &State,
    ctx: &str,
) {
    let d = delta(c, version);
    let applied = apply(base, &d, ctx);
    assert_same(&applied, now, ctx);
    let dv = d["version"].as_u64().unwrap();
    assert!(
        dv >= version,
        "{ctx}: delta version {dv} < requested {version}"
    );
    assert_eq!(
        dv, now_version,
        "{ctx}: delta version vs services.json version (quiescent)"
    );
}

/// A random instance: 10 services × 10 instances, spellings varying in case, a little data
/// variation so re-registrations are sometimes identical and sometimes not.
fn random_inst(rng: &mut Rng) -> Inst {
    let s = rng.below(10);
    let i = rng.below(10);
    let svc = match rng.below(4) {
        0 => format!("Delta-Svc-{s}"),
        1 => format!("DELTA-SVC-{s}"),
        _ => format!("delta-svc-{s}"),
    };
    let id = if rng.below(5) == 0 {
        format!("I-{i}")
    } else {
        format!("i-{i}")
    };
    let rev = rng.below(3).to_string();
    Inst::new(&svc, &id)
        .port(8000 + rng.below(2) as i64)
        .metadata(&[("rev", &rev)])
}

/// One random operation; updates `model` to what services.json should now hold.
fn random_op(rng: &mut Rng, c: &mut Client, model: &mut State) {
    match rng.below(20) {
        0..=10 => {
            let inst = random_inst(rng);
            register(c, std::slice::from_ref(&inst));
            let v = inst.value();
            model.insert(key_of(&v, "model"), canonical(&v));
        }
        11..=16 => {
            let inst = random_inst(rng);
            unregister(c, std::slice::from_ref(&inst));
            model.remove(&key_of(&inst.value(), "model"));
        }
        _ => {
            // A batch spanning services (and shards); distinct instances.
            let mut batch: Vec<Inst> = Vec::new();
            while batch.len() < 3 {
                let inst = random_inst(rng);
                let k = key_of(&inst.value(), "batch");
                if !batch.iter().any(|b| key_of(&b.value(), "batch") == k) {
                    batch.push(inst);
                }
            }
            register(c, &batch);
            for inst in &batch {
                let v = inst.value();
                model.insert(key_of(&v, "model"), canonical(&v));
            }
        }
    }
}

#[test]
fn deltas_are_exact_across_a_burst_of_random_changes() {
    let server = Server::start_sha(&["--shards", "3"], None);
    let mut clients: Vec<Client> = (0..3).map(|_| server.client()).collect();
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut model = State::new();
    let mut snapshots: Vec<(u64, State)> = Vec::new();
    snapshots.push(snapshot(&mut clients[0], "initial"));
    for op in 0..300 {
        let k = rng.below(3);
        random_op(&mut rng, &mut clients[k], &mut model);
        if rng.below(10) == 0 {
            let k = rng.below(3);
            let ctx = format!("after op {op}");
            let (version, now) = snapshot(&mut clients[k], &ctx);
            assert_same(&now, &model, &format!("{ctx}: services.json vs the model"));
            let (prev_version, prev) = snapshots.last().unwrap().clone();
            assert!(version >= prev_version, "{ctx}: version went back");
            let (v0, s0) = snapshots[0].clone();
            check_delta(
                &mut clients[k],
                prev_version,
                &prev,
                version,
                &now,
                &format!("{ctx}: from the previous snapshot"),
            );
            check_delta(
                &mut clients[k],
                v0,
                &s0,
                version,
                &now,
                &format!("{ctx}: from the first snapshot"),
            );
            snapshots.push((version, now));
        }
    }
    let mut c = server.client();
    let (version, now) = snapshot(&mut c, "final");
    assert_same(&now, &model, "final services.json vs the model");
    assert!(snapshots.len() >= 20, "only {} snapshots", snapshots.len());
    for (n, (v, s)) in snapshots.iter().enumerate() {
        check_delta(
            &mut c,
            *v,
            s,
            version,
            &now,
            &format!("snapshot {n} (version {v})"),
        );
    }
    // From the current version: success, nothing to apply.
    let d = delta(&mut c, version);
    assert_success_status(&d, "delta from now");
    assert_eq!(dump(&d["delta"]), "{}", "delta from the current version");
    assert_eq!(d["version"].as_u64(), Some(version));
}

/// Distinct versions the racing snapshots must catch before the writers may stop.
const RACING_VERSIONS: usize = 5;

#[test]
fn deltas_are_exact_while_changes_race_with_snapshots() {
    let server = Server::start_sha(&["--shards", "3"], None);
    // The writers go on (beyond their 150 operations each) until the snapshots have caught
    // `RACING_VERSIONS` versions, so the race has enough snapshots however the threads are
    // scheduled.
    let enough_versions = Arc::new(AtomicBool::new(false));
    let addr = server.addr;
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let enough_versions = enough_versions.clone();
            thread::spawn(move || {
                let mut c = Client::connect(addr);
                let mut rng = Rng::new(0xD1B5_4A32_D192_ED03 ^ (w + 1));
                let mut ignored = State::new();
                for op in 0.. {
                    if op >= 150 && enough_versions.load(Ordering::Acquire) {
                        break;
                    }
                    random_op(&mut rng, &mut c, &mut ignored);
                }
            })
        })
        .collect();
    // Snapshots while the writers run. A snapshot's version is that of the earliest-answering
    // shard, so one version may come with different contents (changes after it already in):
    // only exact repeats are dropped.
    let mut c = server.client();
    let mut snaps: Vec<(u64, State)> = Vec::new();
    let mut versions = BTreeSet::new();
    while !writers.iter().all(|w| w.is_finished()) {
        let snap = snapshot(&mut c, "racing snapshot");
        if let Some((last, _)) = snaps.last() {
            assert!(
                *last <= snap.0,
                "racing snapshot version went back: {last} -> {}",
                snap.0
            );
        }
        if snaps.last() != Some(&snap) {
            versions.insert(snap.0);
            snaps.push(snap);
        }
        if versions.len() >= RACING_VERSIONS {
            enough_versions.store(true, Ordering::Release);
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    let (version, now) = snapshot(&mut c, "final");
    for (n, (v, s)) in snaps.iter().enumerate() {
        check_delta(
            &mut c,
            *v,
            s,
            version,
            &now,
            &format!("racing snapshot {n} (version {v})"),
        );
    }
}

#[test]
fn delta_edge_versions() {
    let server = Server::start_sha(&["--shards", "2"], None);
    let mut c = server.client();

    // Empty node: the current version has an empty delta.
    let (v0, s0) = snapshot(&mut c, "empty node");
    assert!(s0.is_empty());
    let d = delta(&mut c, v0);
    assert_success_status(&d, "empty node, current version");
    assert_eq!(dump(&d["delta"]), "{}");
    assert_eq!(d["version"].as_u64(), Some(v0));

    register(
        &mut c,
        &[Inst::new("edge-svc", "e1"), Inst::new("edge-other", "e2")],
    );
    let (v1, s1) = snapshot(&mut c, "after register");
    assert!(v1 > v0, "version must grow on change: {v0} -> {v1}");
    check_delta(&mut c, v0, &s0, v1, &s1, "from the empty node");
    // Heartbeats and identical re-registrations are not changes.
    heartbeat(&mut c, &[Inst::new("edge-svc", "e1")]);
    register(&mut c, &[Inst::new("edge-svc", "e1")]);
    let (v2, s2) = snapshot(&mut c, "after no-op");
    assert_eq!(v2, v1, "version moved without a change");
    assert_eq!(s2, s1);

    // Current version: success, empty.
    let d = delta(&mut c, v1);
    assert_success_status(&d, "current version");
    assert_eq!(dump(&d["delta"]), "{}", "{}", dump(&d));
    assert_eq!(d["version"].as_u64(), Some(v1));
    assert_sorted_keys(&d, "empty delta");

    // Older than anything kept, or newer than the node's: data-not-found.
    assert_not_found(&delta(&mut c, 0), "version 0");
    assert_not_found(&delta(&mut c, 1), "version 1");
    assert_not_found(&delta(&mut c, v1 + 1), "version + 1");
    assert_not_found(&delta(&mut c, v1 + 1_000_000), "future version");
    assert_not_found(
        &delta_raw(
            &mut c,
            r#"{"regionId":"SHA","zoneId":"SHAJQ","version":-1}"#,
        ),
        "negative version",
    );
    assert_not_found(
        &delta_raw(&mut c, r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#),
        "no version",
    );
    assert_not_found(&delta_raw(&mut c, "null"), "null request");
    // Still answering correctly afterwards.
    check_delta(&mut c, v0, &s0, v1, &s1, "from v0 again");
}

#[test]
fn versions_older_than_the_change_log_are_not_found() {
    let server = Server::start_sha(&["--shards", "2"], Some("[changes]\nlog_capacity = 16\n"));
    let mut c = server.client();
    register(&mut c, &[Inst::new("cap-svc", "c")]);
    let (old_v, old_s) = snapshot(&mut c, "old");
    // Re-registrations with new data: one logged change each, all on cap-svc's shard.
    let mut port = 9000;
    let mut change = |c: &mut Client| {
        port += 1;
        register(c, &[Inst::new("cap-svc", "c").port(port)]);
    };
    for _ in 0..5 {
        change(&mut c);
    }
    let (mid_v, mid_s) = snapshot(&mut c, "mid");
    for _ in 0..11 {
        change(&mut c);
    }
    // 16 changes after `old`: exactly the log, still answerable.
    let (v, now) = snapshot(&mut c, "16 changes later");
    check_delta(
        &mut c,
        old_v,
        &old_s,
        v,
        &now,
        "16 changes after the snapshot",
    );
    // One more: `old` is now older than the log.
    change(&mut c);
    let (v, now) = snapshot(&mut c, "17 changes later");
    assert_not_found(
        &delta(&mut c, old_v),
        "17 changes after the snapshot (capacity 16)",
    );
    // A snapshot still within the log keeps working, including after a delete.
    check_delta(
        &mut c,
        mid_v,
        &mid_s,
        v,
        &now,
        "12 changes after the snapshot",
    );
    unregister(&mut c, &[Inst::new("cap-svc", "c")]);
    let (v, now) = snapshot(&mut c, "after delete");
    assert!(now.is_empty());
    check_delta(
        &mut c,
        mid_v,
        &mid_s,
        v,
        &now,
        "13 changes after the snapshot",
    );
    // 40 changes spread over both shards: at least one shard logged more than 16 of them.
    let (base_v, _) = snapshot(&mut c, "base");
    for i in 0..40 {
        register(&mut c, &[Inst::new(&format!("spread-{i}"), "x")]);
    }
    assert_not_found(&delta(&mut c, base_v), "40 changes over 2 shards");
}

#[test]
fn expiry_deletes_are_in_the_delta() {
    let server = Server::start_sha(&["--shards", "2"], Some(&manual_clock_short_ttl()));
    let mut c = server.client();
    let insts: Vec<Inst> = (0..4)
        .map(|i| Inst::new(&format!("exp-{}", i % 2), &format!("e-{i}")))
        .collect();
    register(&mut c, &insts);
    let (v0, s0) = snapshot(&mut c, "before expiry");
    assert_eq!(s0.len(), 4);
    server.advance_clock(SHORT_TTL_MS + EXPIRY_TICK_MS);
    let (v1, s1) = snapshot(&mut c, "after expiry");
    assert!(s1.is_empty(), "leases still listed past their TTL: {s1:?}");
    assert!(v1 > v0, "expiry must advance the version");
    check_delta(&mut c, v0, &s0, v1, &s1, "delta across expiry");
    let d = delta(&mut c, v0);
    let deletes = d["delta"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(_, ch)| ch.as_array().unwrap().len())
        .sum::<usize>();
    assert_eq!(deletes, 4, "{}", dump(&d));
}

#[test]
fn zero_change_log_capacity_is_a_config_error() {
    let (status, stderr) = run_to_exit(&[], Some("[changes]\nlog_capacity = 0\n"));
    assert_eq!(
        status.code(),
        Some(2),
        "log_capacity = 0: exit {status:?}, stderr:\n{stderr}"
    );
    assert!(stderr.contains("log_capacity"), "{stderr}");
}
