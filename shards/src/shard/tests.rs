use super::*;
use crate::changes::NodeShared;
use protocol::rng::Rng;

pub(super) fn config() -> ShardConfig {
    ShardConfig {
        ttl_ms: 20_000,
        legacy_ttl_ms: 90_000,
        ..ShardConfig::default()
    }
}

/// Region, zone and ip of the instances these tests register.
const PLACE: &str = "r\u{0}z\u{0}10.0.0.1";

fn json(service: &str, instance: &str) -> Arc<[u8]> {
    json_at(service, instance, PLACE)
}

/// An instance's stored JSON (keys in `write_instance`'s order) at a joined place.
fn json_at(service: &str, instance: &str, place: &str) -> Arc<[u8]> {
    let (region, zone, ip) = crate::place::parts(place);
    format!(
        r#"{{"instanceId":"{instance}","ip":"{ip}","regionId":"{region}","serviceId":"{service}","zoneId":"{zone}"}}"#
    )
    .into_bytes()
    .into()
}

fn register(shard: &mut Shard, service: &str, instance: &str, now: u64) -> Registered {
    shard.register(
        service,
        instance,
        false,
        json(service, instance),
        PLACE,
        now,
    )
}

/// The cached Service fields of a registered service.
pub(super) fn fields(shard: &mut Shard, service: &str) -> Option<Arc<[u8]>> {
    match shard.served(service) {
        Served::Registered(fields) => Some(fields),
        Served::GroupsOnly(_) | Served::Unknown => None,
    }
}

/// One list field (`instances`, `logicInstances`, `routeRules`) of Service fields, as served.
pub(super) fn list(fields: &[u8], name: &str) -> String {
    let object = format!("{{{}}}", std::str::from_utf8(fields).unwrap());
    let value = sonic_rs::get(&object, &[name]).unwrap_or_else(|e| panic!("{name}: {e}"));
    value.as_raw_str().to_owned()
}

/// The `instances` a lookup of a registered service serves.
pub(super) fn lookup(shard: &mut Shard, service: &str) -> Option<String> {
    fields(shard, service).map(|f| list(&f, "instances"))
}

/// Tick the shard every 10 ms from `from` to `to` inclusive, like the runtime's timer does.
fn run_clock(shard: &mut Shard, from: u64, to: u64) {
    let mut now = from;
    while now <= to {
        while shard.tick(now, 10_000) {}
        now += 10;
    }
}

#[test]
fn register_then_lookup_case_insensitively() {
    let mut s = Shard::standalone(config(), 0);
    assert_eq!(register(&mut s, "MySvc", "i1", 0), Registered::New);
    assert_eq!(register(&mut s, "mysvc", "I2", 0), Registered::New);
    let all = lookup(&mut s, "MYSVC").unwrap();
    assert!(all.contains(r#""instanceId":"i1""#) && all.contains(r#""instanceId":"I2""#));
    assert_eq!(s.instance_count(), 2);
    assert_eq!(s.service_count(), 1);
    assert!(lookup(&mut s, "other").is_none());
}

#[test]
fn re_register_replaces_data_and_keeps_one_copy() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i1", 0);
    let updated: Arc<[u8]> = br#"{"instanceId":"i1","status":"down"}"#.to_vec().into();
    assert_eq!(
        s.register("SVC", "I1", false, updated, PLACE, 5),
        Registered::Replaced
    );
    assert_eq!(s.instance_count(), 1);
    assert_eq!(
        lookup(&mut s, "svc").unwrap(),
        r#"[{"instanceId":"i1","status":"down"}]"#
    );
}

#[test]
fn heartbeat_renews_and_unknown_fails() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i1", 0);
    assert!(s.heartbeat("SVC", "I1", 10_000));
    assert!(!s.heartbeat("svc", "nope", 10_000));
    assert!(!s.heartbeat("nope", "i1", 10_000));
    // Renewed at 10 s, so still alive at 29 s even though registered at 0.
    run_clock(&mut s, 0, 29_000);
    assert_eq!(s.instance_count(), 1);
    assert!(s.heartbeat("svc", "i1", 29_000));
}

#[test]
fn lease_expires_through_the_wheel_at_its_deadline() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i1", 0);
    run_clock(&mut s, 0, 20_000);
    assert_eq!(s.instance_count(), 1, "alive exactly at the deadline");
    run_clock(&mut s, 20_010, 20_020);
    assert_eq!(s.instance_count(), 0, "gone one tick after the deadline");
    assert!(lookup(&mut s, "svc").is_none());
    assert_eq!(s.service_count(), 0);
    assert_eq!(s.evicted_total(), 1);
    assert!(!s.heartbeat("svc", "i1", 20_020));
}

#[test]
fn expired_lease_cannot_be_renewed_before_the_wheel_runs() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i1", 0);
    assert!(!s.heartbeat("svc", "i1", 20_001));
}

#[test]
fn legacy_leases_use_the_legacy_ttl() {
    let mut s = Shard::standalone(config(), 0);
    s.register("svc", "old", true, json("svc", "old"), PLACE, 0);
    register(&mut s, "svc", "new", 0);
    run_clock(&mut s, 0, 30_000);
    assert_eq!(s.instance_count(), 1);
    assert_eq!(s.lease_count(true), 1);
    assert_eq!(s.lease_count(false), 0);
    run_clock(&mut s, 30_010, 90_020);
    assert_eq!(s.instance_count(), 0);
}

#[test]
fn re_register_with_shorter_ttl_expires_on_the_new_deadline() {
    let mut s = Shard::standalone(config(), 0);
    s.register("svc", "i1", true, json("svc", "i1"), PLACE, 0);
    register(&mut s, "svc", "i1", 0);
    run_clock(&mut s, 0, 20_020);
    assert_eq!(s.instance_count(), 0);
}

#[test]
fn unregister_removes_at_once_and_unknown_is_harmless() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i1", 0);
    register(&mut s, "svc", "i2", 0);
    register(&mut s, "svc", "i3", 0);
    assert!(s.unregister("SVC", "I1", 0));
    assert!(!s.unregister("svc", "i1", 0));
    assert!(!s.unregister("zzz", "i1", 0));
    let left = lookup(&mut s, "svc").unwrap();
    assert!(!left.contains("\"i1\"") && left.contains("\"i2\"") && left.contains("\"i3\""));
    // The swapped member is still removable.
    assert!(s.unregister("svc", "i3", 0));
    assert!(s.unregister("svc", "i2", 0));
    assert_eq!(s.service_count(), 0);
    // Its stale wheel entries are ignored later.
    run_clock(&mut s, 0, 25_000);
    assert_eq!(s.evicted_total(), 0);
}

#[test]
fn lookup_cache_is_invalidated_by_changes_but_not_heartbeats() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i1", 0);
    let first = fields(&mut s, "svc").unwrap();
    let again = fields(&mut s, "SVC").unwrap();
    assert!(Arc::ptr_eq(&first, &again), "served from cache");
    s.heartbeat("svc", "i1", 1);
    assert!(Arc::ptr_eq(&first, &fields(&mut s, "svc").unwrap()));
    let v = s.node_version();
    register(&mut s, "svc", "i2", 2);
    assert!(s.node_version() > v);
    let after = fields(&mut s, "svc").unwrap();
    assert!(!Arc::ptr_eq(&first, &after));
    assert_eq!(after.iter().filter(|&&b| b == b'{').count(), 2);
    assert_eq!(
        list(&after, "logicInstances") + &list(&after, "routeRules"),
        "[][]",
        "empty lists, not null, without group data"
    );
}

#[test]
fn publications_invalidate_at_once_and_carry_mirrored_views_at_the_turn_end() {
    let mut s = Shard::standalone(config(), 0);
    assert!(s.take_invalidations().is_none() && s.take_publication().is_none());
    register(&mut s, "Mirrored", "m1", 0);
    register(&mut s, "cold", "c1", 0);
    assert!(s.has_publication(), "new services change served views");
    let first = s.take_invalidations().expect("two new services");
    assert_eq!(first.seq, 1);
    assert_eq!(first.entries.len(), 2);
    assert!(first.entries.iter().all(|(_, view)| view.is_none()));
    assert!(
        s.take_invalidations().is_none(),
        "each change is invalidated once"
    );
    assert!(
        s.take_publication().is_none(),
        "nobody mirrors them: nothing more to send"
    );
    assert!(!s.has_publication());

    s.mirror_served("mirrored");
    assert!(s.heartbeat("cold", "c1", 5), "a renewal changes no view");
    assert!(!s.has_publication());
    register(&mut s, "mirrored", "m2", 10);
    let inv = s.take_invalidations().expect("changed");
    assert_eq!((inv.seq, inv.entries.len()), (2, 1));
    register(&mut s, "MIRRORED", "m3", 10);
    register(&mut s, "cold", "c2", 10);
    assert_eq!(
        s.take_invalidations()
            .expect("cold is new here")
            .entries
            .len(),
        1
    );
    let p = s.take_publication().expect("the mirrored view");
    assert_eq!(p.seq, 4);
    assert!(!p.flush);
    assert_eq!(
        p.entries.len(),
        1,
        "the view of the mirrored service, once; cold was dropped"
    );
    assert_eq!(&*p.entries[0].0, "Mirrored");
    match &p.entries[0].1 {
        Some(Served::Registered(fields)) => {
            let instances = list(fields, "instances");
            assert!(
                instances.contains("m2") && instances.contains("m3"),
                "{instances}"
            );
        }
        other => panic!("mirrored view not published: {other:?}"),
    }

    // Without invalidations first (a single core), the turn's publication carries them.
    s.unregister("cold", "c1", 20);
    s.unregister("cold", "c2", 20);
    let p = s.take_publication().expect("the service is gone");
    assert_eq!(p.entries.len(), 1);
    assert!(p.entries[0].1.is_none(), "its mirrors drop it");
    assert_eq!(s.publications(), 5);
}

#[test]
fn services_json_lists_every_service() {
    let mut s = Shard::standalone(config(), 0);
    assert!(s.services_json().is_empty());
    register(&mut s, "A", "1", 0);
    register(&mut s, "b", "1", 0);
    let all = String::from_utf8(s.services_json().to_vec()).unwrap();
    let parsed: Vec<sonic_rs::Value> = sonic_rs::from_str(&format!("[{all}]")).unwrap();
    assert_eq!(parsed.len(), 2);
    s.unregister("a", "1", 0);
    let all = String::from_utf8(s.services_json().to_vec()).unwrap();
    assert!(all.contains(r#""serviceId":"b""#) && !all.contains(r#""serviceId":"A""#));
}

#[test]
fn self_preservation_holds_expired_leases_when_heartbeats_collapse() {
    let mut s = Shard::standalone(config(), 0);
    for i in 0..100 {
        register(&mut s, "svc", &i.to_string(), 0);
    }
    // 100 instances heartbeat every 5 s for a minute: window count ~200 per 10 s.
    let mut now = 0;
    while now < 60_000 {
        if now % 5000 == 0 {
            for i in 0..100 {
                assert!(s.heartbeat("svc", &i.to_string(), now));
            }
        }
        while s.tick(now, 10_000) {}
        now += 10;
    }
    assert!(s.safe_status(false).safe);
    // All heartbeats stop: the window count collapses before any lease (TTL 20 s) expires.
    run_clock(&mut s, now, now + 60_000);
    assert!(!s.safe_status(false).safe);
    assert_eq!(
        s.instance_count(),
        100,
        "self-preservation kept every lease"
    );
    // Their owners still learn they must register again.
    assert!(!s.heartbeat("svc", "1", now + 60_000));
}

#[test]
fn without_self_preservation_collapse_evicts_everything() {
    let mut cfg = config();
    cfg.self_preservation.enabled = false;
    let mut s = Shard::standalone(cfg, 0);
    for i in 0..100 {
        register(&mut s, "svc", &i.to_string(), 0);
    }
    let mut now = 0;
    while now < 60_000 {
        if now % 5000 == 0 {
            for i in 0..100 {
                s.heartbeat("svc", &i.to_string(), now);
            }
        }
        while s.tick(now, 10_000) {}
        now += 10;
    }
    run_clock(&mut s, now, now + 60_000);
    assert_eq!(s.instance_count(), 0);
}

#[test]
fn shards_share_the_self_preservation_verdict() {
    let shared = Arc::new(NodeShared::new(2, 0));
    let mut busy = Shard::new(0, config(), shared.clone(), 0);
    let mut idle = Shard::new(1, config(), shared, 0);
    for i in 0..100 {
        register(&mut busy, "svc", &i.to_string(), 0);
    }
    let mut now = 0;
    while now < 30_000 {
        if now == 25_000 {
            // Expires at 45 s, after the node's heartbeats have collapsed.
            register(&mut idle, "other", "x", now);
        }
        if now % 5000 == 0 {
            for i in 0..100 {
                busy.heartbeat("svc", &i.to_string(), now);
            }
        }
        busy.tick(now, 10_000);
        idle.tick(now, 10_000);
        now += 10;
    }
    // The idle shard saw no renewals itself but knows the node-wide maximum.
    assert!(idle.safe_status(false).max_count >= 100);
    while now < 70_000 {
        busy.tick(now, 10_000);
        idle.tick(now, 10_000);
        now += 10;
    }
    assert!(!idle.safe_status(false).safe);
    assert_eq!(idle.instance_count(), 1, "idle shard preserves too");
}

#[test]
fn eviction_respects_the_budget() {
    let mut s = Shard::standalone(config(), 0);
    for i in 0..1000 {
        register(&mut s, &format!("svc{}", i % 10), &i.to_string(), 0);
    }
    assert!(s.tick(20_010, 100), "work left after 100");
    assert_eq!(s.instance_count(), 900);
    let mut calls = 1;
    while s.tick(20_010, 100) {
        calls += 1;
    }
    assert_eq!(s.instance_count(), 0);
    assert!(calls >= 9);
}

#[test]
fn slots_are_reused_and_lease_views_are_accurate() {
    let mut s = Shard::standalone(config(), 0);
    for round in 0..3u64 {
        for i in 0..50 {
            register(&mut s, "svc", &i.to_string(), round * 100);
        }
        for i in 0..50 {
            s.unregister("svc", &i.to_string(), 0);
        }
    }
    register(&mut s, "svc", "a", 1000);
    s.heartbeat("svc", "a", 1500);
    let mut views = Vec::new();
    s.for_each_lease(false, None, |v| {
        views.push((
            v.service_id.to_string(),
            v.created_ms,
            v.renewed_ms,
            v.ttl_ms,
        ));
        true
    });
    assert_eq!(views, vec![("svc".to_string(), 1000, 1500, 20_000)]);
    let mut filtered = 0;
    s.for_each_lease(false, Some(&["nope"]), |_| {
        filtered += 1;
        true
    });
    assert_eq!(filtered, 0);
    s.for_each_lease(false, Some(&["SVC"]), |_| {
        filtered += 1;
        true
    });
    assert_eq!(filtered, 1);
}

/// A randomized model check: the shard agrees with a trivial map model after any sequence of
/// operations and clock advances.
#[test]
fn random_operations_match_a_model() {
    use std::collections::HashMap;
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut cfg = config();
    cfg.self_preservation.enabled = false;
    let mut s = Shard::standalone(cfg, 0);
    // (service lowercase, instance lowercase) -> renewed_ms
    let mut model: HashMap<(String, String), u64> = HashMap::new();
    let mut now = 0u64;
    for _ in 0..20_000 {
        let service = format!("S{}", rng.below(7));
        let instance = format!("I{}", rng.below(13));
        let key = (service.to_lowercase(), instance.to_lowercase());
        let spelled = if rng.chance(50) {
            service.to_lowercase()
        } else {
            service.clone()
        };
        match rng.below(10) {
            0..=2 => {
                register(&mut s, &spelled, &instance, now);
                model.insert(key, now);
            }
            3..=6 => {
                let alive = model.get(&key).is_some_and(|&r| now <= r + 20_000);
                assert_eq!(s.heartbeat(&spelled, &instance, now), alive);
                if alive {
                    model.insert(key, now);
                }
            }
            7 => {
                assert_eq!(
                    s.unregister(&spelled, &instance, 0),
                    model.remove(&key).is_some()
                );
            }
            _ => {
                now += rng.below(3000) as u64;
                while s.tick(now, usize::MAX) {}
                // A lease due at r + ttl + 1 is evicted by the first tick boundary at or after it.
                model.retain(|_, &mut r| now / 10 < (r + 20_001).div_ceil(10));
                assert_eq!(s.instance_count(), model.len());
            }
        }
    }
}

/// The text messages of a push's concatenated frames.
fn messages(frames: &[u8]) -> Vec<String> {
    let mut rest = frames;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let header = protocol::ws::parse_frame_header(rest)
            .expect("a valid frame")
            .expect("a whole header");
        assert!(header.fin && header.opcode == protocol::ws::OpCode::Text && !header.masked);
        let end = header.header_len + header.payload_len as usize;
        out.push(String::from_utf8(rest[header.header_len..end].to_vec()).unwrap());
        rest = &rest[end..];
    }
    out
}

/// Every pushed change: (service key, message, cores), in push order.
pub(super) fn pushes(s: &mut Shard) -> Vec<(String, String, Vec<u16>)> {
    let mut out = Vec::new();
    for p in s.drain_pushes() {
        let messages = messages(&p.frames);
        assert_eq!(
            messages.len(),
            p.changes as usize,
            "changes counts the frames"
        );
        for m in messages {
            out.push((p.service_key.to_string(), m, p.cores.to_vec()));
        }
    }
    out
}

#[test]
fn a_step_pushes_one_batch_per_service_in_change_order() {
    let mut s = Shard::standalone(config(), 0);
    s.subscribe("a", 1);
    s.subscribe("b", 1);
    for i in 0..3 {
        register(&mut s, "a", &format!("a{i}"), 0);
        register(&mut s, "B", &format!("b{i}"), 0);
    }
    let batches: Vec<(String, u32, Vec<String>)> = s
        .drain_pushes()
        .map(|p| (p.service_key.to_string(), p.changes, messages(&p.frames)))
        .collect();
    assert_eq!(batches.len(), 2, "one push per service");
    for ((key, changes, messages), service) in batches.iter().zip(["a", "b"]) {
        assert_eq!((key.as_str(), *changes), (service, 3));
        for (i, m) in messages.iter().enumerate() {
            assert!(
                m.contains(&format!(r#""instanceId":"{service}{i}""#)),
                "{service}: change {i} in order: {m}"
            );
        }
    }
    assert!(!s.has_pushes(), "drained");
    // Interest that changes between two changes of a batch splits it.
    register(&mut s, "a", "x", 0);
    s.subscribe("a", 2);
    register(&mut s, "a", "y", 0);
    let cores: Vec<Vec<u16>> = s.drain_pushes().map(|p| p.cores.to_vec()).collect();
    assert_eq!(cores, vec![vec![1], vec![1, 2]]);
}

#[test]
fn changes_are_pushed_only_to_interested_cores() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i0", 0);
    assert!(!s.has_pushes(), "nobody subscribed yet");
    s.subscribe("SVC", 3);
    s.subscribe_all(5);
    register(&mut s, "Svc", "i1", 10);
    s.register("svc", "i1", false, json("Svc", "i1"), PLACE, 20); // identical data: no change
    let changed: Arc<[u8]> = br#"{"instanceId":"i1","status":"down"}"#.to_vec().into();
    s.register("svc", "i1", false, changed, PLACE, 30);
    s.unregister("svc", "i1", 40);
    register(&mut s, "other", "x", 50);
    let got = pushes(&mut s);
    let kinds: Vec<(&str, &str, Vec<u16>)> = got
        .iter()
        .map(|(k, m, c)| {
            let kind = m
                .split("\"changeType\":\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            (k.as_str(), kind, c.clone())
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("svc", "new", vec![5, 3]),
            ("svc", "change", vec![5, 3]),
            ("svc", "delete", vec![5, 3]),
            ("other", "new", vec![5]),
        ]
    );
    assert!(got[0]
        .1
        .starts_with(r#"{"changeTime":10,"changeType":"new","instance":{"instanceId":"i1""#));
    s.unsubscribe("svc", 3);
    s.unsubscribe_all(5);
    register(&mut s, "svc", "i2", 60);
    assert!(pushes(&mut s).is_empty());
}

#[test]
fn expiry_pushes_delete() {
    let mut s = Shard::standalone(config(), 0);
    s.subscribe("svc", 0);
    register(&mut s, "svc", "i1", 0);
    run_clock(&mut s, 0, 20_020);
    let got = pushes(&mut s);
    assert_eq!(got.len(), 2);
    assert!(got[1].1.contains(r#""changeType":"delete""#));
}

#[test]
fn versions_grow_and_old_versions_are_refused_once_out_of_the_log() {
    let mut cfg = config();
    cfg.change_log_capacity = 4;
    let mut s = Shard::new(0, cfg, Arc::new(NodeShared::new(1, 1000)), 0);
    assert_eq!(s.node_version(), 1000);
    let mut out = Vec::new();
    assert!(s.delta_since(1000, &mut out).is_ok());
    assert!(out.is_empty());
    for i in 0..3 {
        register(&mut s, "svc", &i.to_string(), 0);
    }
    assert_eq!(s.node_version(), 1003);
    assert!(s.delta_since(1000, &mut out).is_ok());
    for i in 3..6 {
        register(&mut s, "svc", &i.to_string(), 0);
    }
    out.clear();
    assert_eq!(s.delta_since(1000, &mut out), Err(DeltaError::TooOld));
    assert_eq!(s.delta_since(1001, &mut out), Err(DeltaError::TooOld));
    assert!(s.delta_since(1002, &mut out).is_ok());
    assert!(s.delta_since(999, &mut out).is_err());
}

/// The state of a shard as discovery sees it: service (lower-cased) -> instance id -> JSON.
type State = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

fn state_of(s: &mut Shard) -> State {
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let json = String::from_utf8(s.services_json().to_vec()).unwrap();
    let services: Vec<sonic_rs::Value> = sonic_rs::from_str(&format!("[{json}]")).unwrap();
    let mut state = State::new();
    for service in services {
        let id = service["serviceId"].as_str().unwrap().to_ascii_lowercase();
        let instances = state.entry(id).or_default();
        for i in service["instances"].as_array().unwrap().iter() {
            let key = i["instanceId"].as_str().unwrap().to_ascii_lowercase();
            instances.insert(key, sonic_rs::to_string(i).unwrap());
        }
    }
    state
}

/// What `services.json` serves as each listed service's `routeRules` (service lower-cased).
fn rules_of(s: &mut Shard) -> std::collections::BTreeMap<String, String> {
    use sonic_rs::JsonValueTrait;
    let json = String::from_utf8(s.services_json().to_vec()).unwrap();
    let services: Vec<sonic_rs::Value> = sonic_rs::from_str(&format!("[{json}]")).unwrap();
    services
        .iter()
        .map(|service| {
            let id = service["serviceId"].as_str().unwrap().to_ascii_lowercase();
            (id, sonic_rs::to_string(&service["routeRules"]).unwrap())
        })
        .collect()
}

/// Apply a delta to a state; the (lower-cased) services it says to look up again.
fn apply_delta(state: &mut State, delta: &[u8]) -> std::collections::BTreeSet<String> {
    let mut reloads = std::collections::BTreeSet::new();
    use sonic_rs::{JsonContainerTrait, JsonValueTrait};
    let text = format!("{{{}}}", String::from_utf8(delta.to_vec()).unwrap());
    let map: sonic_rs::Value = sonic_rs::from_str(&text).unwrap();
    for (service, changes) in map.as_object().unwrap().iter() {
        let service = service.to_ascii_lowercase();
        for change in changes.as_array().unwrap().iter() {
            let instance = &change["instance"];
            let key = instance["instanceId"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase();
            match change["changeType"].as_str().unwrap() {
                "new" => {
                    state
                        .entry(service.clone())
                        .or_default()
                        .insert(key, sonic_rs::to_string(instance).unwrap());
                }
                "delete" => {
                    if let Some(instances) = state.get_mut(&service) {
                        instances.remove(&key);
                    }
                }
                "reload" => {
                    reloads.insert(service.clone());
                }
                other => panic!("unexpected change type {other} in a delta"),
            }
        }
    }
    state.retain(|_, instances| !instances.is_empty());
    reloads
}

/// Property: for random bursts of changes (registrations, removals, expiry, route rule weights
/// released, the services' default groups pulled out and in), the delta since any earlier
/// version, applied to the state at that version, gives the current state, and says to look
/// up again every service whose route rules changed meanwhile.
#[test]
fn deltas_are_exact_for_random_bursts() {
    let mut rng = Rng::new(0x2545_f491_4f6c_dd1d);
    let mut cfg = config();
    cfg.self_preservation.enabled = false;
    let mut s = Shard::new(0, cfg, Arc::new(NodeShared::new(1, 5_000)), 0);
    let mut now = 0u64;
    // Each service's default group at PLACE, alone in a rule.
    let mut groups = super::group_fixtures::Groups::default();
    let rules: Vec<(i64, i64)> = (0..5)
        .map(|n| {
            let service = format!("svc{n}");
            let group = groups.group(&service, "r", "z", "default");
            let rule = groups.rule(&service, "main");
            groups.link(rule, group, Some(1));
            (rule, group)
        })
        .collect();
    let mut generation = 0;
    let mut snapshots = vec![(s.node_version(), state_of(&mut s), rules_of(&mut s))];
    for round in 0..60 {
        for _ in 0..rng.below(40) {
            let service = format!("Svc{}", rng.below(5));
            let instance = format!("i{}", rng.below(8));
            let spelled = if rng.chance(50) {
                service.to_uppercase()
            } else {
                service
            };
            match rng.below(5) {
                0 | 1 => {
                    let body = format!(
                        r#"{{"instanceId":"{instance}","serviceId":"{spelled}","status":"s{}"}}"#,
                        rng.below(3)
                    );
                    s.register(
                        &spelled,
                        &instance,
                        false,
                        body.into_bytes().into(),
                        PLACE,
                        now,
                    );
                }
                2 => {
                    s.unregister(&spelled, &instance, now);
                }
                3 => {
                    now += rng.below(8_000) as u64;
                    while s.tick(now, usize::MAX) {}
                }
                _ => {
                    let (rule, group) = rules[rng.below(rules.len())];
                    if rng.chance(50) {
                        groups.release(rule, group, rng.below(4) as i32);
                    } else if groups.is_pulled_out(group) {
                        groups.pull_in(group);
                    } else {
                        groups.pull_out(group);
                    }
                    generation += 1;
                    s.apply_management(groups.snapshot(generation, &[]), now);
                }
            }
        }
        snapshots.push((s.node_version(), state_of(&mut s), rules_of(&mut s)));
        let current = state_of(&mut s);
        let current_rules = rules_of(&mut s);
        for (version, then, then_rules) in &snapshots {
            let mut out = Vec::new();
            s.delta_since(*version, &mut out)
                .unwrap_or_else(|e| panic!("round {round}: delta since {version}: {e:?}"));
            let mut rebuilt = then.clone();
            let reloads = apply_delta(&mut rebuilt, &out);
            assert_eq!(rebuilt, current, "round {round}, delta since {version}");
            for (service, rules) in &current_rules {
                if then_rules.get(service).is_some_and(|then| then != rules) {
                    assert!(
                        reloads.contains(service),
                        "round {round}: {service}'s rules changed since {version}"
                    );
                }
            }
        }
    }
}

#[test]
fn re_registering_does_not_grow_the_wheel() {
    let mut s = Shard::standalone(config(), 0);
    for t in 0..100 {
        register(&mut s, "svc", "i1", t);
    }
    assert_eq!(s.wheel_len(), 1, "one wheel entry per lease");
    // The lease still expires at the deadline of the last registration.
    run_clock(&mut s, 0, 20_099);
    assert_eq!(s.instance_count(), 1);
    run_clock(&mut s, 20_100, 20_120);
    assert_eq!(s.instance_count(), 0);
}

mod management {
    use super::*;
    use protocol::model::management::{InstanceKey, ServerKey, Target, ZoneKey};

    fn snapshot(generation: u64, targets: &[Target]) -> Arc<ManagementSnapshot> {
        let mut s = ManagementSnapshot::default();
        s.generation = generation;
        for t in targets {
            s.insert(t.clone(), "pullout");
        }
        Arc::new(s)
    }

    fn instance(service: &str, id: &str) -> Target {
        Target::Instance(InstanceKey {
            region_id: "R".into(),
            service_id: service.into(),
            instance_id: id.into(),
        })
    }

    fn kinds(s: &mut Shard) -> Vec<String> {
        pushes(s)
            .iter()
            .map(|(_, m, _)| {
                let kind = m.split("\"changeType\":\"").nth(1).unwrap();
                let id = m.split("\"instanceId\":\"").nth(1).unwrap();
                format!(
                    "{} {}",
                    kind.split('"').next().unwrap(),
                    id.split('"').next().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn pull_out_hides_and_announces_pull_in_restores() {
        let mut s = Shard::standalone(config(), 0);
        register(&mut s, "svc", "i1", 0);
        register(&mut s, "svc", "i2", 0);
        s.subscribe("svc", 1);
        let version = s.node_version();
        assert_eq!(
            s.apply_management(snapshot(1, &[instance("SVC", "I1")]), 5),
            1
        );
        let served = lookup(&mut s, "svc").unwrap();
        assert!(!served.contains(r#""i1""#) && served.contains(r#""i2""#));
        assert_eq!(kinds(&mut s), ["delete i1"]);
        let mut delta = Vec::new();
        s.delta_since(version, &mut delta).unwrap();
        assert!(String::from_utf8(delta)
            .unwrap()
            .contains(r#""changeType":"delete""#));

        assert_eq!(s.apply_management(snapshot(2, &[]), 6), 1);
        assert!(lookup(&mut s, "svc").unwrap().contains(r#""i1""#));
        assert_eq!(kinds(&mut s), ["new i1"]);
    }

    #[test]
    fn an_older_generation_is_ignored() {
        let mut s = Shard::standalone(config(), 0);
        register(&mut s, "svc", "i1", 0);
        s.apply_management(snapshot(3, &[instance("svc", "i1")]), 1);
        assert_eq!(s.apply_management(snapshot(2, &[]), 2), 0);
        assert_eq!(s.management().generation, 3);
        assert_eq!(lookup(&mut s, "svc").unwrap(), "[]");
    }

    #[test]
    fn registering_while_pulled_out_stays_hidden_and_silent() {
        let mut s = Shard::standalone(config(), 0);
        s.subscribe("svc", 1);
        s.apply_management(snapshot(1, &[instance("svc", "i1")]), 0);
        register(&mut s, "svc", "i1", 1);
        assert_eq!(lookup(&mut s, "svc").unwrap(), "[]");
        assert!(kinds(&mut s).is_empty());
        assert_eq!(
            &*s.services_json(),
            b"",
            "a fully hidden service is not listed"
        );
        s.unregister("svc", "i1", 2);
        assert!(kinds(&mut s).is_empty(), "its removal was never visible");
    }

    #[test]
    fn server_and_zone_pull_outs_match_the_place() {
        let mut s = Shard::standalone(config(), 0);
        s.subscribe_all(1);
        for (service, id, place) in [
            ("a", "x", "R\u{0}z1\u{0}10.0.0.9"),
            ("b", "y", "R\u{0}z2\u{0}10.0.0.9"),
            ("b", "w", "R\u{0}z2\u{0}10.0.0.7"),
        ] {
            s.register(service, id, false, json_at(service, id, place), place, 0);
        }
        pushes(&mut s);
        let server = Target::Server(ServerKey {
            region_id: "r".into(),
            server_id: "10.0.0.9".into(),
        });
        assert_eq!(s.apply_management(snapshot(1, &[server]), 1), 2);
        assert_eq!(
            lookup(&mut s, "b").unwrap().matches("instanceId").count(),
            1
        );
        let zone = Target::Zone(ZoneKey {
            region_id: "r".into(),
            service_id: "B".into(),
            zone_id: "Z2".into(),
        });
        // The server row is gone in this generation: x comes back, w leaves, y stays hidden.
        assert_eq!(s.apply_management(snapshot(2, &[zone]), 2), 2);
        assert_eq!(lookup(&mut s, "b").unwrap(), "[]");
        assert_eq!(
            lookup(&mut s, "a").unwrap().matches("instanceId").count(),
            1
        );
    }

    #[test]
    fn moving_into_a_pulled_out_zone_is_a_delete() {
        let mut s = Shard::standalone(config(), 0);
        s.subscribe("svc", 1);
        let zone = Target::Zone(ZoneKey {
            region_id: "r".into(),
            service_id: "svc".into(),
            zone_id: "bad".into(),
        });
        s.apply_management(snapshot(1, &[zone]), 0);
        let good = "r\u{0}good\u{0}ip";
        s.register("svc", "i", false, json_at("svc", "i", good), good, 1);
        let moved = json_at("svc", "i", "r\u{0}bad\u{0}ip");
        assert_eq!(
            s.register("svc", "i", false, moved, "r\u{0}bad\u{0}ip", 2),
            Registered::Replaced
        );
        assert_eq!(kinds(&mut s), ["new i", "delete i"]);
        assert_eq!(lookup(&mut s, "svc").unwrap(), "[]");
    }

    #[test]
    fn a_walk_lists_hidden_instances_too() {
        let mut s = Shard::standalone(config(), 0);
        register(&mut s, "svc", "i1", 0);
        register(&mut s, "svc", "i2", 0);
        s.apply_management(snapshot(1, &[instance("svc", "i1")]), 1);
        let mut seen = Vec::new();
        let next = s.walk_instances(WalkCursor::default(), 10, |v| {
            seen.push((v.instance_id.to_string(), v.hidden))
        });
        assert!(next.is_none());
        seen.sort();
        assert_eq!(seen, [("i1".to_string(), true), ("i2".to_string(), false)]);
    }

    #[test]
    fn managed_instances_list_hidden_ones_too() {
        let mut s = Shard::standalone(config(), 0);
        register(&mut s, "svc", "i1", 0);
        register(&mut s, "svc", "i2", 0);
        s.apply_management(snapshot(1, &[instance("svc", "i1")]), 1);
        let mut seen = Vec::new();
        s.for_each_instance(Some("SVC"), |v| {
            seen.push((v.instance_id.to_string(), v.hidden))
        });
        seen.sort();
        assert_eq!(seen, [("i1".to_string(), true), ("i2".to_string(), false)]);
    }
}

/// Walk the whole shard in steps of at most `step` instances; (service, instance) in visit order.
fn walk_all(s: &Shard, step: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut cursor = Some(WalkCursor::default());
    while let Some(from) = cursor {
        let before = seen.len();
        cursor = s.walk_instances(from, step, |v| {
            seen.push((v.service_id.to_string(), v.instance_id.to_string()))
        });
        assert!(seen.len() - before <= step, "a step visits at most {step}");
        if cursor.is_some() {
            assert_eq!(seen.len() - before, step, "only the last step is short");
        }
    }
    seen
}

#[test]
fn a_walk_in_any_step_size_visits_every_instance_once_grouped_by_service() {
    let mut rng = Rng::new(0x5eed_0011);
    let mut s = Shard::standalone(config(), 0);
    let mut expected = Vec::new();
    for n in 0..200 {
        let service = format!("svc{}", rng.below(13));
        let instance = format!("i{n}");
        register(&mut s, &service, &instance, 0);
        expected.push((service, instance));
    }
    // Some removals, so the walk meets freed service slots and reordered members.
    for _ in 0..40 {
        let (service, instance) = expected.swap_remove(rng.below(expected.len()));
        assert!(s.unregister(&service, &instance, 1));
    }
    expected.sort();
    for step in [1, 2, 3, 7, 64, 1000] {
        let seen = walk_all(&s, step);
        let mut services: Vec<&str> = seen.iter().map(|(svc, _)| svc.as_str()).collect();
        services.dedup();
        let distinct: std::collections::HashSet<&str> = services.iter().copied().collect();
        assert_eq!(
            services.len(),
            distinct.len(),
            "step {step}: a service's instances are adjacent"
        );
        let mut sorted = seen.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "step {step}");
    }
    assert!(walk_all(&Shard::standalone(config(), 0), 5).is_empty());
}

#[test]
fn a_walk_paused_in_a_removed_service_starts_the_slot_s_new_service_from_its_first_member() {
    let mut s = Shard::standalone(config(), 0);
    for i in 0..4 {
        register(&mut s, "old", &format!("o{i}"), 0);
    }
    let mut seen = Vec::new();
    let paused = s
        .walk_instances(WalkCursor::default(), 2, |v| {
            seen.push(v.instance_id.to_string())
        })
        .expect("two of four visited");
    for i in 0..4 {
        s.unregister("old", &format!("o{i}"), 1);
    }
    // The freed slot is reused by the next new service.
    for i in 0..3 {
        register(&mut s, "new", &format!("n{i}"), 2);
    }
    let mut rest = Vec::new();
    assert!(s
        .walk_instances(paused, 10, |v| rest.push(v.instance_id.to_string()))
        .is_none());
    rest.sort();
    assert_eq!(rest, ["n0", "n1", "n2"]);
}

#[test]
fn re_registering_with_another_spelling_echoes_the_new_one() {
    let mut s = Shard::standalone(config(), 0);
    register(&mut s, "svc", "i1", 0);
    let respelled: Arc<[u8]> = br#"{"instanceId":"I1","serviceId":"svc"}"#.to_vec().into();
    s.register("svc", "I1", false, respelled, PLACE, 1);
    let mut ids = Vec::new();
    s.for_each_instance(None, |v| ids.push(v.instance_id.to_string()));
    assert_eq!(ids, ["I1"]);
}

/// Stored JSON as `write_instance` writes it, with a status to tell versions apart.
fn written(service: &str, id: &str, status: &str) -> Arc<[u8]> {
    use protocol::model::{write_instance, Instance};
    let instance = Instance {
        service_id: Some(service.into()),
        instance_id: Some(id.into()),
        status: Some(status.into()),
        ..Instance::default()
    };
    let mut out = Vec::new();
    write_instance(&mut out, &instance);
    out.into()
}

#[test]
fn ids_the_stored_json_escapes_are_matched_echoed_and_announced_like_others() {
    // The JSON holds these ids escaped, so the shard keeps them apart from it (see `lease`);
    // the plain one it reads back from the JSON. Both must behave the same.
    let mut s = Shard::new(0, config(), Arc::new(NodeShared::new(1, 1000)), 0);
    let odd = "Odd\"Id\\1";
    for id in [odd, "Plain-1"] {
        let registered = s.register("svc", id, false, written("svc", id, "up"), PLACE, 0);
        assert_eq!(registered, Registered::New);
    }
    assert_eq!(s.registry.leases.kept_apart(), 1);
    assert!(s.heartbeat("SVC", "odd\"id\\1", 10));
    assert!(s.heartbeat("svc", "PLAIN-1", 10));
    assert!(!s.heartbeat("svc", "Odd\"Id", 10));
    let mut ids = Vec::new();
    s.for_each_instance(None, |v| ids.push(v.instance_id.to_string()));
    ids.sort();
    assert_eq!(ids, [odd, "Plain-1"]);

    // New data and a new spelling: echoed from now on; changes carry it.
    let respelled = "ODD\"ID\\1";
    let replaced = s.register(
        "svc",
        respelled,
        false,
        written("svc", respelled, "down"),
        PLACE,
        20,
    );
    assert_eq!(replaced, Registered::Replaced);
    let mut ids = Vec::new();
    s.for_each_instance(None, |v| ids.push(v.instance_id.to_string()));
    ids.sort();
    assert_eq!(ids, [respelled, "Plain-1"]);
    assert!(s.unregister("svc", odd, 30));
    assert!(!s.holds("svc", odd) && s.holds("svc", "plain-1"));
    assert_eq!(s.registry.leases.kept_apart(), 0);

    // The delta compacts the three changes of the odd instance, whatever their spelling, to its
    // removal: the change log compares the ids it was given.
    let mut out = Vec::new();
    s.delta_since(1000, &mut out).unwrap();
    let delta = String::from_utf8(out).unwrap();
    assert_eq!(delta.matches("\"changeType\":").count(), 2, "{delta}");
    assert!(
        delta.contains(r#""changeType":"delete""#) && delta.contains(r#""status":"down""#),
        "{delta}"
    );
}

#[test]
fn a_re_registration_moving_the_id_into_the_json_and_back_keeps_it_findable() {
    let mut s = Shard::standalone(config(), 0);
    // First JSON without the id (kept apart), then one holding it, then without again.
    let bare: Arc<[u8]> = br#"{"serviceId":"svc"}"#.to_vec().into();
    s.register("svc", "i1", false, bare.clone(), PLACE, 0);
    s.register("svc", "i1", false, json("svc", "i1"), PLACE, 1);
    assert!(s.heartbeat("svc", "I1", 2));
    assert_eq!(s.registry.leases.kept_apart(), 0);
    s.register("svc", "i1", false, bare, PLACE, 3);
    assert_eq!(s.registry.leases.kept_apart(), 1);
    assert!(s.heartbeat("svc", "i1", 4));
    assert!(s.unregister("svc", "I1", 5));
    assert_eq!((s.instance_count(), s.registry.leases.kept_apart()), (0, 0));
}
