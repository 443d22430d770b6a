//! Criterion bench of reading a client heartbeat body: the full parse (every Instance field,
//! metadata included) against the lazy scan of the heartbeat's key fields
//! (`protocol::model::scan_heartbeat`), on Java-client bodies of 1 and 100 instances.
//!
//! Run: `cargo bench --bench heartbeat_parse` (results go to BENCHMARKS.md by hand).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use protocol::model::{parse_optional, scan_heartbeat, HeartbeatScan, InstancesRequest};

/// One instance as the Java client sends it (the load generator's shape: Jackson's alphabetical
/// order, three metadata entries).
fn java_instance(n: usize) -> String {
    let ip = format!("10.0.{}.{}", n / 256, n % 256);
    let service = format!("bench-{:05}", n % 100);
    format!(
        concat!(
            r#"{{"healthCheckUrl":"http://{ip}:8080/health","instanceId":"{ip}:8080","ip":"{ip}","#,
            r#""machineName":"host-{n}","metadata":{{"app":"{service}","env":"bench","version":"1.0.{v}"}},"#,
            r#""port":8080,"protocol":"http","regionId":"SHA","serviceId":"{service}","status":"up","#,
            r#""url":"http://{ip}:8080/{service}","zoneId":"SHAJQ"}}"#
        ),
        ip = ip,
        n = n,
        service = service,
        v = n % 100
    )
}

fn heartbeat_body(batch: usize) -> Vec<u8> {
    let list: Vec<String> = (0..batch).map(java_instance).collect();
    format!(r#"{{"instances":[{}]}}"#, list.join(",")).into_bytes()
}

fn heartbeat_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("heartbeat_body");
    for batch in [1usize, 100] {
        let body = heartbeat_body(batch);
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("full/batch{batch}"), |b| {
            b.iter(|| {
                let parsed: Option<InstancesRequest> =
                    parse_optional(black_box(&body)).expect("valid JSON");
                black_box(parsed.and_then(|r| r.instances).map_or(0, |v| v.len()))
            })
        });
        group.bench_function(format!("lazy/batch{batch}"), |b| {
            b.iter(|| match scan_heartbeat(black_box(&body)) {
                HeartbeatScan::Request(instances) => black_box(instances.map_or(0, |v| v.len())),
                other => panic!("the Java body must take the fast path: {other:?}"),
            })
        });
    }
    group.finish();
}

criterion_group!(benches, heartbeat_parse);
criterion_main!(benches);
