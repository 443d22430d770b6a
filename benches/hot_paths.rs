//! Criterion benches of the per-request hot paths, in-process (no network):
//! parsing a register request, a shard heartbeat, and serving a cached lookup (with and without
//! route rules, which are part of the cached bytes).
//!
//! Run: `cargo bench --bench hot_paths` (results go to BENCHMARKS.md by hand).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use protocol::http::{Limits, Parsed, RequestParser};
use protocol::model::management::groups::{
    Group, GroupData, GroupInstance, GroupRows, GroupTag, RouteRuleGroup, ServiceRouteRule,
};
use protocol::model::management::ManagementSnapshot;
use protocol::model::{parse_optional, write_instance, InstancesRequest};
use protocol::model::{write_service, ServiceLists};
use shards::{Served, Shard, ShardConfig};

fn instance_json(service: &str, n: usize) -> String {
    format!(
        r#"{{"groupId":null,"healthCheckUrl":"http://10.0.{a}.{b}:8080/health","instanceId":"10.0.{a}.{b}:8080","ip":"10.0.{a}.{b}","machineName":"host-{n}","metadata":{{"appid":"100{n}","subenv":"fat","version":"1.2.3"}},"port":8080,"protocol":"http","regionId":"SHA","serviceId":"{service}","status":"up","url":"http://10.0.{a}.{b}:8080/api","zoneId":"SHAJQ"}}"#,
        a = n / 256,
        b = n % 256
    )
}

fn register_request(batch: usize) -> Vec<u8> {
    let instances: Vec<String> = (0..batch)
        .map(|n| instance_json("bench.service", n))
        .collect();
    let body = format!(r#"{{"instances":[{}]}}"#, instances.join(","));
    let mut req = format!(
        "POST /api/registry/register.json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nAccept: application/json\r\nUser-Agent: Apache-HttpClient/4.5\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

fn parse_register(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_register_request");
    for batch in [1usize, 100] {
        let raw = register_request(batch);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("http+json/batch{batch}"), |b| {
            let mut parser = RequestParser::new(Limits::default());
            let mut dechunked = Vec::new();
            b.iter(|| {
                let Ok(Parsed::Complete { request, .. }) =
                    parser.parse(black_box(&raw), &mut dechunked)
                else {
                    panic!("bench request must parse");
                };
                let body = request.raw_body(&raw, &dechunked);
                let parsed: Option<InstancesRequest> = parse_optional(body).expect("valid JSON");
                black_box(parsed.and_then(|r| r.instances).map_or(0, |v| v.len()))
            })
        });
    }
    group.finish();
}

/// Region, zone and ip of the benchmark's instances.
const PLACE: &str = "r\u{0}z\u{0}10.0.0.1";

fn populated_shard(services: usize, per_service: usize) -> Shard {
    let mut shard = Shard::standalone(ShardConfig::default(), 0);
    for s in 0..services {
        let service = format!("service-{s}");
        for i in 0..per_service {
            let json = instance_json(&service, i);
            shard.register(
                &service,
                &format!("10.0.{}.{}:8080", i / 256, i % 256),
                false,
                json.into_bytes().into(),
                PLACE,
                0,
            );
        }
    }
    shard
}

fn shard_heartbeat(c: &mut Criterion) {
    // 10,000 instances over 100 services, as in the end-to-end heartbeat scenario.
    let mut shard = populated_shard(100, 100);
    let keys: Vec<(String, String)> = (0..10_000)
        .map(|n| {
            (
                format!("service-{}", n % 100),
                format!("10.0.{}.{}:8080", (n / 100) / 256, (n / 100) % 256),
            )
        })
        .collect();
    let mut group = c.benchmark_group("shard");
    group.throughput(Throughput::Elements(1));
    let mut n = 0usize;
    let mut now = 1u64;
    group.bench_function("heartbeat", |b| {
        b.iter(|| {
            let (service, instance) = &keys[n % keys.len()];
            n += 1;
            now += 1;
            assert!(shard.heartbeat(black_box(service), black_box(instance), now % 10_000));
        })
    });
    group.bench_function("register_replace", |b| {
        let json = instance_json("service-7", 3);
        b.iter_batched(
            || -> std::sync::Arc<[u8]> { json.clone().into_bytes().into() },
            |json| shard.register("service-7", "10.0.0.3:8080", false, json, PLACE, 5),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Group data with 3 active route rules for `service`, each over 4 active groups (one tag and
/// one listed instance each, weights released): what a service with route rules serves.
fn route_rules(service: &str) -> Arc<ManagementSnapshot> {
    let mut rows = GroupRows::default();
    for rule in 0..3i64 {
        rows.route_rules.push(ServiceRouteRule {
            route_rule_id: rule,
            service_id: service.into(),
            name: format!("rule-{rule}"),
            description: None,
            status: "active".into(),
            strategy: "weighted-round-robin".into(),
        });
        for n in 0..4i64 {
            let group_id = rule * 4 + n;
            rows.groups.push(Group {
                group_id,
                service_id: service.into(),
                region_id: "SHA".into(),
                zone_id: "SHAJQ".into(),
                name: format!("group-{group_id}"),
                app_id: "1001".into(),
                description: None,
                status: "active".into(),
            });
            rows.route_rule_groups.push(RouteRuleGroup {
                route_rule_group_id: group_id,
                route_rule_id: rule,
                group_id,
                weight: Some(10 * (n as i32 + 1)),
                unreleased_weight: None,
            });
            let tag = GroupTag {
                group_id,
                tag: "env".into(),
                value: "blue".into(),
            };
            rows.tags.push((group_id, tag));
            rows.group_instances.push(GroupInstance {
                id: group_id,
                group_id,
                instance_id: format!("10.0.0.{group_id}:8080"),
            });
        }
    }
    let mut snapshot = ManagementSnapshot::default();
    snapshot.generation = 1;
    snapshot.set_groups(Arc::new(GroupData::new(rows)));
    Arc::new(snapshot)
}

/// The Service fields a shard serves for a registered service.
fn served_fields(shard: &mut Shard, service: &str) -> Arc<[u8]> {
    match shard.served(service) {
        Served::Registered(fields) => fields,
        Served::GroupsOnly(_) | Served::Unknown => panic!("{service} is registered"),
    }
}

fn cached_lookup(c: &mut Criterion) {
    let mut plain = populated_shard(10, 100);
    let mut with_rules = populated_shard(10, 100);
    with_rules.apply_management(route_rules("service-3"), 1);
    let rules = served_fields(&mut with_rules, "service-3");
    let rules = std::str::from_utf8(&rules).expect("UTF-8");
    assert_eq!(rules.matches("\"routeId\"").count(), 3, "{rules}");
    assert_eq!(rules.matches("\"groupKey\"").count(), 12, "{rules}");
    let mut out = Vec::with_capacity(64 * 1024);
    let mut group = c.benchmark_group("lookup");
    for (name, shard) in [
        ("cached_100_instances", &mut plain),
        ("cached_100_instances_3_rules_x_4_groups", &mut with_rules),
    ] {
        let size = served_fields(shard, "service-3").len();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let fields = served_fields(shard, black_box("SERVICE-3"));
                write_service(&mut out, Some("SERVICE-3"), ServiceLists::Served(&fields));
                black_box(out.len())
            })
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("serialize_instance", |b| {
        let raw = format!(r#"{{"instances":[{}]}}"#, instance_json("s", 1));
        let parsed: InstancesRequest = parse_optional(raw.as_bytes()).unwrap().unwrap();
        let instance = parsed.instances.unwrap().remove(0).unwrap();
        b.iter(|| {
            out.clear();
            write_instance(&mut out, black_box(&instance));
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, parse_register, shard_heartbeat, cached_lookup);
criterion_main!(benches);
