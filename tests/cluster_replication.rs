//! Cluster replication end to end (issue 11, spec §9): real nodes on 127.0.0.1 replicating
//! registers, heartbeats and unregisters to each other, nodes killed, stopped, frozen and
//! restarted, peers authenticated by the cluster secret, and a replicated-heartbeat storm.
//! Nodes are A = 0 (started `--force-up`), B = 1, C = 2.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use harness::*;

const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

/// Held by the replicated-heartbeat storm, which keeps a core busy for seconds, and by the test
/// that paces heartbeats against real lease TTLs, so that one never runs beside the other.
static CPU_HEAVY_OR_TIMED: Mutex<()> = Mutex::new(());

fn exclusive() -> MutexGuard<'static, ()> {
    CPU_HEAVY_OR_TIMED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Instances `prefix-0 .. prefix-<n-1>` of `service`.
fn instances(service: &str, prefix: &str, n: usize) -> Vec<Inst> {
    (0..n)
        .map(|i| Inst::new(service, &format!("{prefix}-{i}")))
        .collect()
}

fn ids(insts: &[Inst]) -> Vec<String> {
    let mut ids: Vec<String> = insts
        .iter()
        .map(|i| i.instance_id.clone().expect("instance id"))
        .collect();
    ids.sort();
    ids
}

/// Waits until node `i` serves exactly `want` for `service`; panics with what it served last.
fn wait_served(cluster: &Cluster, i: usize, service: &str, want: &[String], ctx: &str) {
    let mut last = None;
    let served = wait_until(CLUSTER_TIMEOUT, || {
        last = cluster.served_ids(i, service);
        last.as_deref() == Some(want)
    });
    assert!(
        served,
        "{ctx}: node {i} does not serve the {} expected instances of {service} within \
         {CLUSTER_TIMEOUT:?}; it serves {:?}",
        want.len(),
        last.map(|l| l.len())
    );
}

/// Registers `insts` on node `i` in batches of 50.
fn register_in_batches(cluster: &Cluster, i: usize, insts: &[Inst]) {
    let mut client = cluster.client(i);
    for batch in insts.chunks(50) {
        register(&mut client, batch);
    }
}

#[test]
fn a_write_on_one_node_reaches_every_other_node_and_its_subscribers() {
    let cluster = ClusterSpec::new(3).start();
    let service = "repl-svc";
    let inst = Inst::new(service, "repl-1");
    let mut subscriber_on_b = subscriber(cluster.node(B), service);

    let start = Instant::now();
    register(&mut cluster.client(A), std::slice::from_ref(&inst));
    let want = ids(std::slice::from_ref(&inst));
    let visible = wait_until(CLUSTER_TIMEOUT, || {
        cluster.served_ids(C, service).as_deref() == Some(&want[..])
    });
    let latency = start.elapsed();
    assert!(
        visible,
        "a register on A was not served by C after {latency:?}"
    );
    eprintln!("register on A served by C after {latency:?} (polled every 20 ms)");

    match next_event(&mut subscriber_on_b, CLUSTER_TIMEOUT, "subscriber on B") {
        Got::Text(text) => {
            let change = parse_change(&text, "push on B");
            assert_change(&change, "new", &inst, "register on A pushed on B");
        }
        other => panic!(
            "a register on A pushed nothing to B's subscriber within {CLUSTER_TIMEOUT:?} \
             (C served it after {latency:?}): {other:?}"
        ),
    }
    wait_served(&cluster, B, service, &want, "register on A");

    unregister(&mut cluster.client(B), std::slice::from_ref(&inst));
    for node in [A, B, C] {
        wait_served(&cluster, node, service, &[], "unregister on B");
    }
}

#[test]
fn heartbeats_sent_to_one_node_keep_the_instance_alive_on_the_others() {
    const TTL: Duration = Duration::from_millis(4000);
    const PERIODS: u32 = 4;
    // Pacing, not synchronisation: a client heartbeats at a fixed rate, well inside the TTL.
    const EVERY: Duration = Duration::from_millis(250);
    let _exclusive = exclusive();
    let ttl_ms = TTL.as_millis().to_string();
    let cluster = ClusterSpec::new(3)
        .args(&["--lease-ttl-ms", &ttl_ms])
        .toml("[self_preservation]\nenabled = false")
        .start();
    let service = "hb-svc";
    let inst = Inst::new(service, "hb-1");
    let want = ids(std::slice::from_ref(&inst));
    register(&mut cluster.client(A), std::slice::from_ref(&inst));
    for node in [B, C] {
        wait_served(&cluster, node, service, &want, "register on A");
    }

    let mut on_a = cluster.client(A);
    for period in 1..=PERIODS {
        let end = Instant::now() + TTL;
        while Instant::now() < end {
            let (status, v) = heartbeat(&mut on_a, std::slice::from_ref(&inst));
            assert_registry_ok(status, &v, "heartbeat on A");
            thread::sleep(EVERY);
        }
        for node in [B, C] {
            assert_eq!(
                cluster.served_ids(node, service).as_deref(),
                Some(&want[..]),
                "node {node} dropped the instance {period} TTL(s) after it was registered, \
                 although A got a heartbeat every {EVERY:?}"
            );
        }
    }

    // The leases on B and C are real: without heartbeats the instance expires there too.
    for node in [B, C] {
        wait_served(&cluster, node, service, &[], "heartbeats stopped");
    }
}

#[test]
fn a_killed_node_serves_the_whole_registry_as_soon_as_it_reports_up_again() {
    let mut cluster = ClusterSpec::new(3).start();
    let service = "restart-svc";
    let before = instances(service, "before", 40);
    register_in_batches(&cluster, A, &before);
    wait_served(&cluster, B, service, &ids(&before), "before the kill");

    cluster.kill(B);
    let while_down_on_a = instances(service, "down-a", 40);
    let while_down_on_c = instances(service, "down-c", 20);
    register_in_batches(&cluster, A, &while_down_on_a);
    register_in_batches(&cluster, C, &while_down_on_c);
    let all: Vec<Inst> = [before, while_down_on_a, while_down_on_c].concat();
    wait_served(
        &cluster,
        A,
        service,
        &ids(&all),
        "registered while B was down",
    );

    cluster.restart(B);
    cluster.wait_up(B);
    assert_eq!(
        cluster.served_ids(B, service).map(|l| l.len()),
        Some(all.len()),
        "B reported up before it served the registry it had to copy"
    );
    assert_eq!(cluster.served_ids(B, service), Some(ids(&all)));

    // And replication to B works again.
    let later = Inst::new(service, "later");
    register(&mut cluster.client(A), std::slice::from_ref(&later));
    let mut want = ids(&all);
    want.push("later".into());
    want.sort();
    wait_served(
        &cluster,
        B,
        service,
        &want,
        "register on A after B's restart",
    );
}

/// Per-peer queue entries on each core (`cluster.peer_queue_capacity`).
const QUEUE_CAPACITY: u64 = 16;
const SHARDS: u64 = 2;

/// Asserts node `from` holds a bounded queue for `to`: its writes, at most [`QUEUE_CAPACITY`]
/// per core, plus one entry per instance of the resync snapshot of the `held` instances
/// `from` holds. It must not grow with the writes made while `to` is away.
fn assert_queue_bounded(cluster: &Cluster, from: usize, to: usize, held: usize, writes: usize) {
    let bound = QUEUE_CAPACITY * SHARDS + held as u64;
    assert!(
        (writes as u64) > 2 * bound,
        "the test makes too few writes ({writes}) to tell a bounded queue from an unbounded one"
    );
    let queued = cluster.replication_figure(from, to, "queued");
    assert!(
        queued <= bound,
        "node {from} queues {queued} writes for node {to} after {writes} writes while it was \
         away: more than {QUEUE_CAPACITY} per core on {SHARDS} cores plus a snapshot of the \
         {held} instances it holds: {}",
        dump(&cluster.peer_entry(from, to))
    );
}

fn small_queue_cluster(size: usize) -> ClusterSpec {
    ClusterSpec::new(size)
        .cluster("peer_queue_capacity", &QUEUE_CAPACITY.to_string())
        .cluster("request_timeout_ms", "300")
        .args(&["--shards", &SHARDS.to_string()])
}

#[test]
fn a_stopped_node_leaves_the_others_serving_with_bounded_queues_and_catches_up_after_restart() {
    let mut cluster = small_queue_cluster(3).start();
    let service = "stop-svc";
    cluster.stop(C);

    let on_a = instances(service, "a", 300);
    let on_b = instances(service, "b", 40);
    register_in_batches(&cluster, A, &on_a);
    register_in_batches(&cluster, B, &on_b);
    let mut client = cluster.client(A);
    const HEARTBEAT_ROUNDS: usize = 10;
    for _ in 0..HEARTBEAT_ROUNDS {
        for batch in on_a.chunks(50) {
            let (status, v) = heartbeat(&mut client, batch);
            assert_registry_ok(status, &v, "heartbeat on A while C is down");
        }
    }
    // Registers again (a client restarting): writes that are never dropped.
    register_in_batches(&cluster, A, &on_a);
    let writes = on_a.len() * (HEARTBEAT_ROUNDS + 2) + on_b.len();
    let all: Vec<Inst> = [on_a, on_b].concat();
    for node in [A, B] {
        wait_served(&cluster, node, service, &ids(&all), "while C is down");
    }

    assert_queue_bounded(&cluster, A, C, all.len(), writes);
    assert!(
        cluster.replication_figure(A, C, "resyncsTotal") >= 1,
        "300 registers for a stopped peer with a queue of {QUEUE_CAPACITY} must mark it for \
         a resync: {}",
        dump(&cluster.peer_entry(A, C))
    );
    let mut seen = None;
    assert!(
        wait_until(CLUSTER_TIMEOUT, || {
            seen = cluster.peer_entry(A, C)["status"]
                .as_str()
                .map(str::to_string);
            seen.as_deref() != Some("up")
        }),
        "A still reports the stopped C as {seen:?}"
    );

    cluster.restart(C);
    cluster.wait_up(C);
    wait_served(&cluster, C, service, &ids(&all), "C after its restart");
    assert!(
        wait_until(CLUSTER_TIMEOUT, || cluster
            .replication_figure(A, C, "queued")
            == 0),
        "A's queue for C does not drain once C is back: {}",
        dump(&cluster.peer_entry(A, C))
    );
    let later = Inst::new(service, "later");
    register(&mut cluster.client(A), std::slice::from_ref(&later));
    let mut want = ids(&all);
    want.push("later".into());
    want.sort();
    wait_served(
        &cluster,
        C,
        service,
        &want,
        "register on A after C's restart",
    );
}

#[test]
fn a_frozen_peer_catches_up_by_resync_without_a_restart() {
    let mut cluster = small_queue_cluster(2).start();
    let service = "frozen-svc";
    cluster.freeze(B);
    let insts = instances(service, "f", 200);
    register_in_batches(&cluster, A, &insts);
    let mut client = cluster.client(A);
    const HEARTBEAT_ROUNDS: usize = 5;
    for _ in 0..HEARTBEAT_ROUNDS {
        let (status, v) = heartbeat(&mut client, &insts);
        assert_registry_ok(status, &v, "heartbeat on A while B is frozen");
    }
    assert!(
        wait_until(CLUSTER_TIMEOUT, || cluster.replication_figure(
            A,
            B,
            "resyncsTotal"
        ) >= 1),
        "200 registers for a peer that does not answer, with a queue of {QUEUE_CAPACITY}, \
         never marked it for a resync: {}",
        dump(&cluster.peer_entry(A, B))
    );
    assert_queue_bounded(
        &cluster,
        A,
        B,
        insts.len(),
        insts.len() * (HEARTBEAT_ROUNDS + 1),
    );

    // B never restarts, so it copies nothing itself: only A's resync can bring it the writes
    // its queue could not hold.
    cluster.thaw(B);
    wait_served(&cluster, B, service, &ids(&insts), "B after it was frozen");
    assert!(
        wait_until(CLUSTER_TIMEOUT, || cluster
            .replication_figure(A, B, "queued")
            == 0),
        "A's queue for B does not drain: {}",
        dump(&cluster.peer_entry(A, B))
    );
}

const SECRET: &str = "test-secret-0f9a";

fn assert_refused(r: &Response, ctx: &str) {
    assert_eq!(r.status, 403, "{ctx}: {}", r.text());
    let v = r.json();
    assert_eq!(
        v["responseStatus"]["status"].as_str(),
        Some("fail"),
        "{ctx}: {}",
        dump(&v)
    );
    assert_eq!(
        v["responseStatus"]["errorCode"].as_str(),
        Some("no-permission"),
        "{ctx}: {}",
        dump(&v)
    );
}

#[test]
fn replication_without_the_cluster_secret_is_refused_and_changes_nothing() {
    let cluster = ClusterSpec::new(2).secret(SECRET).start();
    let service = "secret-svc";

    // The nodes themselves carry the secret.
    let kept = Inst::new(service, "kept");
    register(&mut cluster.client(A), std::slice::from_ref(&kept));
    let kept_ids = ids(std::slice::from_ref(&kept));
    wait_served(&cluster, B, service, &kept_ids, "register on A");

    let forged = Inst::new(service, "forged");
    let forged_body = instances_body(std::slice::from_ref(&forged));
    let kept_body = instances_body(std::slice::from_ref(&kept));
    let mut client = cluster.client(B);
    for secret in [None, Some("wrong-secret"), Some("")] {
        for (path, body) in [
            (REPLICATE_REGISTER, &forged_body),
            (REPLICATE_HEARTBEAT, &forged_body),
            (REPLICATE_UNREGISTER, &kept_body),
        ] {
            let r = post_replication(&mut client, path, body, secret);
            assert_refused(&r, &format!("{path} with secret {secret:?}"));
        }
        let r = post_replication(
            &mut client,
            REPLICATE_SERVICES,
            r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#,
            secret,
        );
        assert_refused(&r, &format!("services.json with secret {secret:?}"));
        // Each answer comes after the node acted (or not): nothing changed.
        assert_eq!(
            cluster.served_ids(B, service).as_deref(),
            Some(&kept_ids[..]),
            "a refused replication request changed B's registry (secret {secret:?})"
        );
    }

    let r = post_replication(&mut client, REPLICATE_REGISTER, &forged_body, Some(SECRET));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_success_status(&r.json(), "replicated register with the secret");
    let mut want = ids(&[kept, forged]);
    want.sort();
    assert_eq!(cluster.served_ids(B, service), Some(want));
}

/// Registered size per instance the README's memory budget states (`560 B × N`).
const INSTANCE_BYTES: u64 = 560;
const MIB: u64 = 1024 * 1024;

#[test]
fn a_storm_of_replicated_heartbeats_for_100k_instances_keeps_memory_bounded() {
    const INSTANCES: usize = 100_000;
    const SERVICES: usize = 100;
    const PER_REQUEST: usize = 1000;
    const ROUNDS: usize = 3;
    let _exclusive = exclusive();
    let cluster = ClusterSpec::new(2).secret(SECRET).start();
    let target = cluster.node(B);
    // The bodies, built once: every round heartbeats the same instances.
    let bodies: Vec<String> = (0..INSTANCES)
        .map(|n| {
            let service = format!("storm-{}", n % SERVICES);
            Inst::new(&service, &format!("i-{n}"))
        })
        .collect::<Vec<Inst>>()
        .chunks(PER_REQUEST)
        .map(instances_body)
        .collect();
    let baseline = target.rss_bytes();

    let (rss_after_rounds, health_times) = health_times_during(target, || {
        let mut client = target.client();
        let mut rss = Vec::new();
        for round in 0..ROUNDS {
            for body in &bodies {
                let r = client.request(
                    "POST",
                    REPLICATE_HEARTBEAT,
                    &[(SECRET_HEADER, SECRET)],
                    body.as_bytes(),
                );
                assert_eq!(r.status, 200, "round {round}: {}", r.text());
                assert_success_status(&r.json(), "replicated heartbeat");
            }
            rss.push(target.rss_bytes());
        }
        rss
    });
    assert!(
        health_times.len() > 1,
        "/health was not asked during the storm"
    );

    // The heartbeats of unknown instances registered them (spec §9.2): the storm really filled
    // the registry.
    let served = cluster.served_ids(B, "storm-7").map(|l| l.len());
    assert_eq!(
        served,
        Some(INSTANCES / SERVICES),
        "instances of storm-7 on B"
    );

    // The peak, not only the end: a queue that grew during the storm and drained afterwards
    // counts too.
    let peak = proc_status_bytes(target.pid(), "VmHWM");
    let expected = INSTANCES as u64 * INSTANCE_BYTES;
    let bound = baseline + 3 * expected;
    eprintln!(
        "storm: RSS {} MiB before, {:?} MiB after each round, peak {} MiB (bound {} MiB)",
        baseline / MIB,
        rss_after_rounds.iter().map(|r| r / MIB).collect::<Vec<_>>(),
        peak / MIB,
        bound / MIB
    );
    assert!(
        peak <= bound,
        "{ROUNDS} rounds of replicated heartbeats for {INSTANCES} instances took B to a peak \
         of {} MiB, more than {} MiB before + 3 × the instances' expected {} MiB",
        peak / MIB,
        baseline / MIB,
        expected / MIB
    );
}
