//! No request freezes a core: gzip bodies are bounded in members and CPU time and inflated in
//! slices, and large legitimate batches are handled in slices, so `/health` on the same core keeps
//! answering. Every server here runs `--shards 1`, so the attack and `/health` share one core.

use std::sync::{Mutex, MutexGuard};

use harness::*;

/// The tests here load a core on purpose and time `/health` meanwhile; run one at a time so they
/// do not slow each other's server down.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    // A failed test poisons the lock; the others still run.
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const GZIP: &[(&str, &str)] = &[("Content-Encoding", "gzip")];

/// One empty gzip member: header, an empty final fixed-Huffman block, CRC 0 and length 0.
const EMPTY_MEMBER: [u8; 20] = [
    0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The reported attack: an 8 MB body of 419,430 empty gzip members (it inflates to nothing).
fn member_bomb() -> Vec<u8> {
    EMPTY_MEMBER.repeat((8 << 20) / EMPTY_MEMBER.len())
}

/// One gzip member of about `bytes` bytes of empty fixed-Huffman deflate blocks (10 bits each):
/// valid gzip that inflates to nothing, but each block costs the decoder a table set-up, so a few
/// megabytes take seconds of CPU.
fn block_bomb(bytes: usize) -> Vec<u8> {
    let blocks = bytes * 8 / 10;
    let mut deflate = vec![0u8; (blocks * 10).div_ceil(8)];
    for block in 0..blocks {
        let at = block * 10;
        // BFINAL on the last block, then BTYPE = 01 (fixed); the end-of-block code is 7 zero bits.
        if block + 1 == blocks {
            deflate[at / 8] |= 1 << (at % 8);
        }
        deflate[(at + 1) / 8] |= 1 << ((at + 1) % 8);
    }
    let mut member = EMPTY_MEMBER[..10].to_vec();
    member.extend_from_slice(&deflate);
    member.extend_from_slice(&[0; 8]);
    member
}

fn post_gzip_raw(server: &Server, body: &[u8]) -> Response {
    server
        .client()
        .try_request("POST", REGISTER, GZIP, body)
        .expect("an answer to the gzip body")
}

fn assert_refused(response: &Response, message: &str, ctx: &str) {
    assert_protocol_error(response, 400, ctx);
    assert_eq!(
        response.json()["responseStatus"]["message"].as_str(),
        Some(message),
        "{ctx}"
    );
}

#[test]
fn gzip_member_bomb_is_refused_while_health_keeps_answering() {
    let _serial = one_at_a_time();
    let server = Server::start_sha(&["--shards", "1"], None);
    let bomb = member_bomb();
    let (answers, times) = health_times_during(&server, || {
        (0..5)
            .map(|_| post_gzip_raw(&server, &bomb))
            .collect::<Vec<_>>()
    });
    for answer in &answers {
        assert_refused(answer, "gzip body has too many members", "member bomb");
    }
    assert_health_responsive(&times, "member bomb");
    assert!(
        server.stderr().contains("gzip body refused"),
        "the refusal is logged"
    );
}

#[test]
fn gzip_member_limit_is_inclusive() {
    let _serial = one_at_a_time();
    let server = Server::start_sha(&["--shards", "1"], Some("[limits]\nmax_gzip_members = 4\n"));
    let inst = Inst::new("gzip-members", "m-1");
    let json = instances_body(std::slice::from_ref(&inst));
    // The JSON split over members: what is inflated is their concatenation.
    let members = |count: usize| -> Vec<u8> {
        let step = json.len().div_ceil(count);
        json.as_bytes().chunks(step).flat_map(gzip).collect()
    };
    let mut c = server.client();
    let ok = c.request("POST", REGISTER, GZIP, &members(4));
    assert_registry_ok(ok.status, &ok.json(), "4 members");
    assert_eq!(lookup_ids(&mut c, "gzip-members"), vec!["m-1".to_string()]);
    let refused = post_gzip_raw(&server, &members(5));
    assert_refused(&refused, "gzip body has too many members", "5 members");
}

#[test]
fn gzip_cpu_bomb_is_refused_after_its_cpu_budget_while_health_keeps_answering() {
    let _serial = one_at_a_time();
    let server = Server::start_sha(
        &["--shards", "1"],
        Some("[limits]\nmax_gzip_cpu_ms = 300\n"),
    );
    // Seconds of CPU to inflate in full (far more in a debug build); refused after 300 ms of it,
    // inflated in slices meanwhile.
    let bomb = block_bomb(4 << 20);
    let (answers, times) = health_times_during(&server, || {
        (0..3)
            .map(|_| post_gzip_raw(&server, &bomb))
            .collect::<Vec<_>>()
    });
    for answer in &answers {
        assert_refused(
            answer,
            "gzip body takes too much CPU time to inflate",
            "block bomb",
        );
    }
    assert_health_responsive(&times, "block bomb");
    // The same decoder still inflates a legitimate body on that connection's core.
    let mut c = server.client();
    let (status, v) = c.post_gzip(REGISTER, &instances_body(&[Inst::new("after", "a-1")]));
    assert_registry_ok(status, &v, "gzip register after the bombs");
}

/// `count` instances of `service`, ids `i-0` … in order.
fn batch(service: &str, count: usize) -> Vec<Inst> {
    (0..count)
        .map(|i| Inst::new(service, &format!("i-{i}")))
        .collect()
}

#[test]
fn ten_thousand_instance_batches_succeed_while_health_keeps_answering() {
    let _serial = one_at_a_time();
    let server = Server::start_sha(&["--shards", "1"], None);
    let insts = batch("big-batch", 10_000);
    let body = instances_body(&insts);
    let ((), times) = health_times_during(&server, || {
        let mut c = server.client();
        for round in 0..3 {
            let (status, v) = c.post_json(REGISTER, &body);
            assert_registry_ok(status, &v, &format!("register round {round}"));
        }
        // The same batch gzip-compressed (as the Java client sends it), and heartbeats.
        let (status, v) = c.post_gzip(REGISTER, &body);
        assert_registry_ok(status, &v, "gzip register");
        let (status, v) = c.post_json(HEARTBEAT, &body);
        assert_registry_ok(status, &v, "heartbeat");
    });
    assert_health_responsive(&times, "10,000-instance batches");
    let mut c = server.client();
    let ids = lookup_ids(&mut c, "big-batch");
    assert_eq!(ids.len(), 10_000);
    unregister(&mut c, &insts);
    assert!(lookup_ids(&mut c, "big-batch").is_empty());
}

#[test]
fn failures_of_a_large_batch_are_answered_in_request_order() {
    let _serial = one_at_a_time();
    let server = Server::start_sha(&["--shards", "1"], None);
    let mut c = server.client();
    let mut insts = batch("ordered", 10_000);
    register(&mut c, &insts);
    // Unknown instances at the edges of the batch and on both sides of slice boundaries.
    let unknown = [0, 999, 1000, 1001, 5500, 9999];
    for &at in &unknown {
        insts[at] = Inst::new("ordered", &format!("ghost-{at}"));
    }
    let (status, v) = heartbeat(&mut c, &insts);
    assert_eq!(status, 200, "{}", dump(&v));
    let failed: Vec<String> = v["failedInstances"]
        .as_array()
        .unwrap_or_else(|| panic!("failedInstances: {}", dump(&v)))
        .iter()
        .map(|f| {
            assert_eq!(
                f["errorCode"].as_str(),
                Some("data-not-found"),
                "{}",
                dump(f)
            );
            f["instance"]["instanceId"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let expected: Vec<String> = unknown.iter().map(|at| format!("ghost-{at}")).collect();
    assert_eq!(failed, expected);
}
