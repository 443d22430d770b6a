//! The WebSocket heartbeat channel (spec §3.4): replies to known, unknown and unparsable
//! heartbeats, pipelining and fragmentation, and leases renewed over the socket.

use std::time::Duration;

use harness::*;
use tungstenite::Message;

#[test]
fn ws_heartbeat_known_unknown_and_garbage() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let known = Inst::new("hb-svc", "hb-1");
    register(&mut c, std::slice::from_ref(&known));
    let mut ws = ws_connect(&server, HB);

    // Known instance: the canonical success reply.
    let body = instances_body(std::slice::from_ref(&known));
    send_text(&mut ws, &body);
    let reply = next_text(&mut ws, "known heartbeat");
    let v: Value = sonic_rs::from_str(&reply).unwrap();
    assert_registry_ok(200, &v, "WS heartbeat of a registered instance");
    assert_sorted_keys(&v, "WS heartbeat reply");

    // Unknown instance (with metadata large enough that the reply needs a 64-bit frame length):
    // partial_fail, data-not-found, the full instance echoed so the client can re-register it.
    let big = "m".repeat(70_000);
    let unknown = Inst::new("hb-svc", "ghost").metadata(&[("big", &big), ("k", "v")]);
    let body = instances_body(&[known.clone(), unknown.clone()]);
    send_text(&mut ws, &body);
    let reply = next_text(&mut ws, "unknown heartbeat");
    assert!(reply.len() > 70_000, "echo must carry the full instance");
    let v: Value = sonic_rs::from_str(&reply).unwrap();
    assert_one_not_found(
        &v,
        "sha/shajq/hb-svc/ghost",
        &unknown,
        "WS heartbeat of a ghost",
    );
    // Same code as heartbeat.json: byte-for-byte the same answer.
    let http = c.request("POST", HEARTBEAT, &[], body.as_bytes());
    assert_eq!(http.status, 200);
    assert_eq!(
        http.text(),
        reply,
        "WS heartbeat reply differs from heartbeat.json"
    );

    // Unparsable messages get the canned success, one reply each.
    for garbage in [
        "not json at all",
        "{",
        "",
        "[1,2",
        "{\"instances\":[{\"port\":\"x\"}",
    ] {
        send_text(&mut ws, garbage);
        assert_eq!(
            next_text(&mut ws, garbage),
            CANNED_SUCCESS,
            "garbage {garbage:?}"
        );
    }

    // Pipelined: three messages sent back to back get three replies, in order, and no more.
    let known_body = instances_body(std::slice::from_ref(&known));
    let ghost_body = instances_body(&[Inst::new("hb-svc", "ghost-2")]);
    for m in [known_body.as_str(), "garbage", ghost_body.as_str()] {
        ws.write(Message::text(m.to_string())).unwrap();
    }
    ws.flush().unwrap();
    let r1 = next_json(&mut ws, "pipelined 1");
    assert_registry_ok(200, &r1, "pipelined known");
    assert_eq!(next_text(&mut ws, "pipelined 2"), CANNED_SUCCESS);
    let r3 = next_json(&mut ws, "pipelined 3");
    assert_eq!(
        r3["failedInstances"][0]["instance"]["instanceId"].as_str(),
        Some("ghost-2"),
        "{}",
        dump(&r3)
    );
    expect_silence(
        &mut ws,
        Duration::from_millis(300),
        "after pipelined replies",
    );

    // A heartbeat split over three frames with a ping between them: one pong, one reply.
    let mut raw = RawWs::connect(server.addr, HB);
    let bytes = known_body.as_bytes();
    let (a, rest) = bytes.split_at(5);
    let (b, d) = rest.split_at(7);
    let mut wire = cframe(false, OP_TEXT, a);
    wire.extend(cframe(false, OP_CONT, b));
    wire.extend(cframe(true, OP_PING, b"mid"));
    wire.extend(cframe(true, OP_CONT, d));
    raw.send(&wire);
    let mut got_pong = false;
    let mut got_reply = None;
    while !(got_pong && got_reply.is_some()) {
        match raw.read_frame(SOON) {
            Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_PONG => {
                assert_eq!(payload, b"mid");
                assert!(!got_pong, "two pongs");
                got_pong = true;
            }
            Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_TEXT => {
                assert!(got_reply.is_none(), "two replies to one fragmented message");
                got_reply = Some(payload);
            }
            other => panic!("fragmented heartbeat: unexpected {other:?}"),
        }
    }
    let v: Value = sonic_rs::from_slice(&got_reply.unwrap()).unwrap();
    assert_registry_ok(200, &v, "fragmented heartbeat");
    // UTF-8 split across fragments is fine (garbage JSON: canned reply).
    let mut wire = cframe(false, OP_TEXT, b"\xE2\x82");
    wire.extend(cframe(true, OP_CONT, b"\xAC"));
    raw.send(&wire);
    match raw.read_frame(SOON) {
        Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_TEXT => {
            assert_eq!(payload, CANNED_SUCCESS.as_bytes())
        }
        other => panic!("euro sign split over fragments: {other:?}"),
    }
}

#[test]
fn ws_heartbeats_renew_leases_and_expiry_pushes_delete() {
    let server = Server::start_sha(&[], Some(&manual_clock_short_ttl()));
    let mut c = server.client();
    let inst = Inst::new("exp-svc", "e-1");
    let mut sub = subscriber(&server, "exp-svc");
    register(&mut c, std::slice::from_ref(&inst));
    expect_change(&mut sub, "new", &inst, "register");

    // Heartbeats over the WebSocket, one per 200 ms of clock time, keep the 1 s lease alive for
    // two TTLs.
    let mut hb = ws_connect(&server, HB);
    let body = instances_body(std::slice::from_ref(&inst));
    let start = server.clock_ms();
    let mut now = start;
    while now < start + 2 * SHORT_TTL_MS {
        now = server.advance_clock(200);
        send_text(&mut hb, &body);
        let r = next_json(&mut hb, "renewal");
        assert_registry_ok(200, &r, &format!("WS heartbeat at {} ms", now - start));
    }
    let renewed = now;
    assert_eq!(lookup_ids(&mut c, "exp-svc"), vec!["e-1".to_string()]);

    // Up to the last renewal's deadline no `delete` is pushed: a marker registered there is the
    // next change the subscriber sees (one shard's changes reach a subscriber in order, and both
    // instances are of one service, so of one shard).
    server.advance_clock_to(renewed + SHORT_TTL_MS);
    let marker = Inst::new("exp-svc", "marker");
    register(&mut c, std::slice::from_ref(&marker));
    expect_change(&mut sub, "new", &marker, "marker at the deadline");

    // One expiry tick later the lease is gone and `delete` is pushed.
    server.advance_clock(EXPIRY_TICK_MS);
    expect_change(&mut sub, "delete", &inst, "expiry");
    assert_eq!(lookup_ids(&mut c, "exp-svc"), vec!["marker".to_string()]);

    // The Java client's loop: heartbeat → data-not-found → HTTP register → `new` pushed.
    send_text(&mut hb, &body);
    let r = next_json(&mut hb, "after expiry");
    assert_eq!(
        r["failedInstances"][0]["errorCode"].as_str(),
        Some("data-not-found"),
        "{}",
        dump(&r)
    );
    let echoed = r["failedInstances"][0]["instance"].clone();
    assert_instance_eq(&echoed, &inst, "echo after expiry");
    let (st, v) = c.post_json(REGISTER, &format!("{{\"instances\":[{}]}}", dump(&echoed)));
    assert_registry_ok(st, &v, "re-register the echoed instance");
    expect_change(&mut sub, "new", &inst, "re-register");
}
