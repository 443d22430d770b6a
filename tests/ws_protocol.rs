//! The WebSocket protocol (RFC 6455 as the server speaks it): handshake and paths, ping/pong, the
//! close handshake, protocol errors and their close codes, session limits, and shutdown.

use std::time::{Duration, Instant};

use harness::*;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Bytes, Message};

#[test]
fn websocket_endpoints_under_the_path_prefix() {
    let server = Server::start_sha(&["--path-prefix", "/artemis-service"], None);
    let mut c = server.client();
    // The Java client derives the WS URL from the node URL (AddressContext): http:// → ws://.
    let (st, v) = c.post_json(
        "/artemis-service/api/cluster/up-discovery-nodes.json",
        r#"{"regionId":"SHA","zoneId":"SHAJQ"}"#,
    );
    assert_eq!(st, 200, "{}", dump(&v));
    let node_url = v["nodes"][0]["url"].as_str().unwrap().to_string();
    let base = node_url
        .replacen("http://", "ws://", 1)
        .trim_end_matches('/')
        .to_string();
    assert_eq!(base, format!("ws://{}/artemis-service", server.addr));

    let mut sub =
        try_ws_url(server.addr, &format!("{base}{IC}")).expect("prefixed instance-change");
    subscribe(&mut sub, "pfx-svc");
    sync(&mut sub, "prefixed subscription");
    let inst = Inst::new("pfx-svc", "p");
    let (st, v) = c.post_gzip(
        "/artemis-service/api/registry/register.json",
        &instances_body(std::slice::from_ref(&inst)),
    );
    assert_registry_ok(st, &v, "prefixed register");
    expect_change(&mut sub, "new", &inst, "prefixed push");

    let mut hb = try_ws_url(server.addr, &format!("{base}{HB}/")).expect("prefixed heartbeat");
    send_text(&mut hb, &instances_body(std::slice::from_ref(&inst)));
    let v = next_json(&mut hb, "prefixed heartbeat");
    assert_registry_ok(200, &v, "prefixed heartbeat");

    let mut all = try_ws_url(server.addr, &format!("{base}{AIC}")).expect("prefixed all");
    sync(&mut all, "prefixed all-instance-change");
    // Unprefixed paths are served too, as for HTTP.
    let mut plain = ws_connect(&server, HB);
    send_text(&mut plain, &instances_body(std::slice::from_ref(&inst)));
    let v = next_json(&mut plain, "unprefixed heartbeat");
    assert_registry_ok(200, &v, "unprefixed heartbeat");

    // A near-miss prefix is no WebSocket endpoint.
    let url = format!("ws://{}/artemis-services{HB}", server.addr);
    match try_ws_url(server.addr, &url) {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 404),
        Err(e) => panic!("{url}: expected HTTP 404, got {e}"),
        Ok(_) => panic!("{url}: upgraded"),
    }
}

#[test]
fn handshake_errors() {
    let server = Server::start_sha(&[], None);
    let key = ("Sec-WebSocket-Key", SAMPLE_KEY);
    let upgrade = [("Upgrade", "websocket"), ("Connection", "Upgrade")];
    let v13 = ("Sec-WebSocket-Version", "13");
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let mut h = upgrade.to_vec();
        h.extend_from_slice(extra);
        h
    };

    // Missing or malformed key: 400 with the JSON error body.
    for (name, headers) in [
        ("missing key", with(&[v13])),
        ("short key", with(&[v13, ("Sec-WebSocket-Key", "abc")])),
        (
            "key of 15 bytes",
            with(&[v13, ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")]),
        ),
        (
            "two keys",
            with(&[v13, key, ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==")]),
        ),
        (
            "no Upgrade header",
            vec![("Connection", "Upgrade"), v13, key],
        ),
        ("no upgrade headers at all", vec![]),
    ] {
        let mut c = server.client();
        let r = c.request("GET", HB, &headers, b"");
        assert_protocol_error(&r, 400, name);
    }
    let mut c = server.client();
    let r = c.request("POST", IC, &with(&[v13, key]), b"");
    assert_protocol_error(&r, 400, "POST upgrade");

    // Version 12 (or none): 426 telling the client to use 13.
    for (name, headers) in [
        ("version 12", with(&[("Sec-WebSocket-Version", "12"), key])),
        ("no version", with(&[key])),
    ] {
        let mut c = server.client();
        let r = c.request("GET", IC, &headers, b"");
        assert_eq!(r.status, 426, "{name}: {} {}", r.status, r.text());
        assert_eq!(r.header("sec-websocket-version"), Some("13"), "{name}");
    }

    // A good handshake: 101, the RFC 6455 sample accept key, no subprotocol or extension
    // selected even when asked for, and the socket then speaks WebSocket.
    let mut c = server.client();
    let r = c.request(
        "GET",
        AIC,
        &with(&[
            v13,
            key,
            ("Sec-WebSocket-Protocol", "chat"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ]),
        b"",
    );
    assert_eq!(r.status, 101, "{}", r.text());
    assert!(r
        .header("upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket")));
    assert!(r
        .header("connection")
        .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade")));
    assert_eq!(r.header("sec-websocket-accept"), Some(SAMPLE_ACCEPT));
    assert!(r.header("sec-websocket-protocol").is_none());
    assert!(r.header("sec-websocket-extensions").is_none());
    c.write_raw(&cframe(true, OP_PING, b"after-101")).unwrap();
    let mut raw = RawWs::from_stream(c.stream.try_clone().unwrap());
    match raw.read_frame(SOON) {
        Raw::Frame {
            b0,
            masked,
            payload,
        } => {
            assert_eq!(b0, 0x80 | OP_PONG);
            assert!(!masked);
            assert_eq!(payload, b"after-101");
        }
        other => panic!("pong after a hand-made handshake: {other:?}"),
    }

    // Browser-style headers: `Connection` with several tokens, `Upgrade` in another case; and
    // an upgrade after an ordinary request on the same keep-alive connection.
    let mut c = server.client();
    let svc = lookup_one(&mut c, "anything");
    assert_eq!(svc["serviceId"].as_str(), Some("anything"));
    let r = c.request(
        "GET",
        HB,
        &[
            ("Upgrade", "WebSocket"),
            ("Connection", "keep-alive, Upgrade"),
            v13,
            ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="),
        ],
        b"",
    );
    assert_eq!(r.status, 101, "{}", r.text());
    assert_eq!(
        r.header("sec-websocket-accept").map(str::to_string),
        Some(tungstenite::handshake::derive_accept_key(
            b"AQIDBAUGBwgJCgsMDQ4PEA=="
        ))
    );
    c.write_raw(&cframe(true, OP_TEXT, b"garbage")).unwrap();
    let mut raw = RawWs::from_stream(c.stream.try_clone().unwrap());
    match raw.read_frame(SOON) {
        Raw::Frame { b0, payload, .. } if b0 == 0x80 | OP_TEXT => {
            assert_eq!(payload, CANNED_SUCCESS.as_bytes())
        }
        other => panic!("heartbeat after a keep-alive upgrade: {other:?}"),
    }

    // Frames sent in the same packet as the upgrade request are not lost.
    let mut early = cframe(true, OP_PING, b"early");
    early.extend(cframe(true, OP_TEXT, b"early garbage"));
    let mut raw = RawWs::connect_sending(server.addr, HB, &early);
    let mut got = Vec::new();
    for _ in 0..2 {
        match raw.read_frame(SOON) {
            Raw::Frame { b0, payload, .. } => got.push((b0, payload)),
            other => panic!("frames sent with the upgrade: {other:?}"),
        }
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            (0x80 | OP_TEXT, CANNED_SUCCESS.as_bytes().to_vec()),
            (0x80 | OP_PONG, b"early".to_vec()),
        ]
    );
    assert_ws_healthy(&server, "after handshake errors");
}

#[test]
fn ping_pong_and_close_handshake() {
    let server = Server::start_sha(&[], None);
    for path in [HB, IC, AIC] {
        let mut ws = ws_connect(&server, path);
        for payload in [b"hello-123".to_vec(), Vec::new(), vec![b'p'; 125]] {
            ping_roundtrip(&mut ws, &payload, path);
        }
        // An unsolicited pong is ignored.
        ws.send(Message::Pong(Bytes::from_static(b"unsolicited")))
            .unwrap();
        sync(&mut ws, path);
        // Close handshake: the server echoes 1000 and closes TCP.
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .unwrap();
        expect_close(&mut ws, 1000, SOON, &format!("{path}: close 1000"));
    }
    // Other codes are echoed too; an empty close gets 1000.
    for code in [1001u16, 3000, 4000] {
        let mut raw = RawWs::connect(server.addr, IC);
        raw.send(&cframe(true, OP_CLOSE, &close_payload(code, b"done")));
        raw.expect_close(&[code], &format!("echo close {code}"));
    }
    let mut raw = RawWs::connect(server.addr, HB);
    raw.send(&cframe(true, OP_CLOSE, b""));
    raw.expect_close(&[1000], "empty close");

    // A subscriber that vanishes without a close (TCP drop) doesn't disturb the others.
    let mut c = server.client();
    drop(subscriber(&server, "drop-svc"));
    let mut stays = subscriber(&server, "drop-svc");
    let inst = Inst::new("drop-svc", "d");
    register(&mut c, std::slice::from_ref(&inst));
    expect_change(&mut stays, "new", &inst, "after a drop");
    assert_ws_healthy(&server, "after closes");
}

#[test]
fn protocol_errors_close_with_the_right_code() {
    let server = Server::start_sha(&[], Some("[ws]\nmax_message_bytes = 1024\n"));
    let mut c = server.client();
    let known = Inst::new("pe-svc", "k");
    register(&mut c, std::slice::from_ref(&known));

    // tungstenite: binary → 1003, oversized → 1009.
    let mut ws = ws_connect(&server, HB);
    ws.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    expect_close(&mut ws, 1003, SOON, "binary message");
    assert_ws_healthy(&server, "after binary");

    let mut ws = ws_connect(&server, IC);
    ws.send(Message::text("x".repeat(2000))).unwrap();
    expect_close(&mut ws, 1009, SOON, "oversized text");
    assert_ws_healthy(&server, "after oversized");

    // Exactly the limit is fine: a real heartbeat padded with spaces to 1024 bytes.
    let mut body = instances_body(std::slice::from_ref(&known));
    body.push_str(&" ".repeat(1024 - body.len()));
    assert_eq!(body.len(), 1024);
    let mut ws = ws_connect(&server, HB);
    send_text(&mut ws, &body);
    let v = next_json(&mut ws, "1024-byte heartbeat");
    assert_registry_ok(200, &v, "message of exactly max_message_bytes");

    let text = |fin: bool, p: &[u8]| cframe(fin, OP_TEXT, p);
    let mut too_long_ping = vec![0x89u8, 0x80 | 126, 0, 126];
    too_long_ping.extend_from_slice(&MASK);
    too_long_ping.extend(vec![0u8; 126]);
    let mut huge_len = vec![0x81u8, 0x80 | 127];
    huge_len.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge_len.extend_from_slice(&MASK);
    let mut msb_len = vec![0x81u8, 0x80 | 127];
    msb_len.extend_from_slice(&(1u64 << 63 | 5).to_be_bytes());
    msb_len.extend_from_slice(&MASK);
    let mut fragmented_big = text(false, &[b'a'; 600]);
    fragmented_big.extend(cframe(false, OP_CONT, &[b'a'; 600]));
    fragmented_big.extend(cframe(true, OP_CONT, &[b'a'; 10]));
    let mut text_in_text = text(false, b"{\"inst");
    text_in_text.extend(text(true, b"ances\":[]}"));
    let mut utf8_cut = text(false, b"ab\xE2\x82");
    utf8_cut.extend(cframe(true, OP_CONT, b""));

    let cases: Vec<(&str, Vec<u8>, &[u16])> = vec![
        (
            "unmasked text frame",
            frame_b0(0x81, b"{\"instances\":[]}", false),
            &[1002],
        ),
        ("unmasked ping", frame_b0(0x89, b"x", false), &[1002]),
        ("reserved data opcode 0x3", cframe(true, 0x3, b"x"), &[1002]),
        (
            "reserved control opcode 0xB",
            cframe(true, 0xB, b""),
            &[1002],
        ),
        ("RSV1 set", frame_b0(0xC1, b"{}", true), &[1002]),
        ("fragmented ping", cframe(false, OP_PING, b"x"), &[1002]),
        ("ping payload of 126 bytes", too_long_ping, &[1002]),
        (
            "continuation without a start",
            cframe(true, OP_CONT, b"x"),
            &[1002],
        ),
        ("text frame inside a fragmented text", text_in_text, &[1002]),
        ("64-bit length with the top bit set", msb_len, &[1002]),
        (
            "close with a 1-byte payload",
            cframe(true, OP_CLOSE, b"\x03"),
            &[1002],
        ),
        (
            "close code 1005",
            cframe(true, OP_CLOSE, &close_payload(1005, b"")),
            &[1002],
        ),
        (
            "close code 999",
            cframe(true, OP_CLOSE, &close_payload(999, b"")),
            &[1002],
        ),
        (
            "close reason not UTF-8",
            cframe(true, OP_CLOSE, &close_payload(1000, b"\xff")),
            &[1002, 1007],
        ),
        (
            "binary frame",
            cframe(true, OP_BINARY, b"\x00\x01"),
            &[1003],
        ),
        (
            "binary fragmented",
            {
                let mut w = cframe(false, OP_BINARY, b"a");
                w.extend(cframe(true, OP_CONT, b"b"));
                w
            },
            &[1003],
        ),
        ("invalid UTF-8 text", text(true, b"{\xff\xfe}"), &[1007]),
        ("overlong UTF-8 encoding", text(true, b"\xC0\xAF"), &[1007]),
        (
            "UTF-16 surrogate in UTF-8",
            text(true, b"\xED\xA0\x80"),
            &[1007],
        ),
        (
            "UTF-8 cut at the end of a fragmented text",
            utf8_cut,
            &[1007],
        ),
        ("oversized single frame", text(true, &[b'x'; 2000]), &[1009]),
        ("oversized fragmented message", fragmented_big, &[1009]),
        ("2^40-byte frame header", huge_len, &[1009]),
    ];
    for (name, wire, codes) in cases {
        for path in [HB, IC] {
            let mut raw = RawWs::connect(server.addr, path);
            raw.send(&wire);
            raw.expect_close(codes, &format!("{name} on {path}"));
        }
        // Every failure leaves the server serving others.
        let mut ws = ws_connect(&server, HB);
        send_text(&mut ws, &instances_body(std::slice::from_ref(&known)));
        let v = next_json(&mut ws, name);
        assert_registry_ok(200, &v, &format!("heartbeat after {name}"));
        assert_eq!(
            lookup_ids(&mut c, "pe-svc"),
            vec!["k".to_string()],
            "{name}"
        );
    }
    assert_ws_healthy(&server, "after every protocol error");
}

#[test]
fn session_limits_idle_timeout_and_subscription_cap() {
    let server = Server::start_sha(
        &[],
        Some("[ws]\nidle_timeout_ms = 1000\nsession_ttl_ms = 60000\nmax_subscriptions_per_session = 3\n"),
    );
    let mut c = server.client();

    // Subscription cap: three services (a repeat doesn't count), the fourth closes with 1008.
    let mut capped = ws_connect(&server, IC);
    for s in ["cap-a", "CAP-A", "cap-b", "cap-c"] {
        subscribe(&mut capped, s);
    }
    sync(&mut capped, "three subscriptions");
    let inst = Inst::new("cap-c", "c1");
    register(&mut c, std::slice::from_ref(&inst));
    expect_change(&mut capped, "new", &inst, "cap-c");
    subscribe(&mut capped, "cap-d");
    expect_close(&mut capped, 1008, SOON, "fourth subscription");

    // Idle timeout: a silent session is closed with 1001 once the timeout has passed; one that
    // pings stays open.
    let t0 = Instant::now();
    let mut silent = ws_connect(&server, HB);
    let mut chatty = ws_connect(&server, IC);
    let mut silent_closed_at = None;
    while t0.elapsed() < Duration::from_millis(2500) {
        ping_roundtrip(&mut chatty, b"alive", "chatty session");
        // A quarter second between pings, spent watching: for the silent session's close, then
        // (once it came) for anything at all on the chatty one.
        if silent_closed_at.is_none() {
            match next_event(&mut silent, Duration::from_millis(250), "idle session") {
                Got::Timeout => {}
                Got::Close(code) => {
                    assert_eq!(code, Some(1001), "idle session close code");
                    silent_closed_at = Some(t0.elapsed());
                }
                other => panic!("idle session: {other:?}"),
            }
        } else {
            expect_silence(&mut chatty, Duration::from_millis(250), "pinging session");
        }
    }
    match silent_closed_at {
        Some(at) => {
            assert!(
                at >= Duration::from_millis(900),
                "idle session closed after {at:?}, before idle_timeout_ms"
            );
            expect_tcp_closed(&mut silent, "idle session");
        }
        None => expect_close(&mut silent, 1001, SOON, "idle session"),
    }
    ping_roundtrip(&mut chatty, b"still", "chatty session after 2.5 s");
    expect_close(&mut chatty, 1001, SOON, "chatty session once silent");
    assert_ws_healthy(&server, "after idle closes");
}

#[test]
fn session_ttl_closes_sessions_with_going_away() {
    let server = Server::start_sha(&[], Some("[ws]\nsession_ttl_ms = 1000\n"));
    let t0 = Instant::now();
    let mut quiet = ws_connect(&server, IC);
    subscribe(&mut quiet, "ttl-svc");
    let mut busy = ws_connect(&server, HB);
    // Activity doesn't extend the TTL.
    let mut closed_busy = None;
    while t0.elapsed() < Duration::from_secs(10) && closed_busy.is_none() {
        busy.send(Message::Ping(Bytes::from_static(b"p"))).ok();
        match next_event(&mut busy, Duration::from_millis(200), "busy") {
            Got::Timeout => {}
            Got::Close(code) => closed_busy = Some((code, t0.elapsed())),
            other => panic!("busy session: {other:?}"),
        }
    }
    let (code, at) = closed_busy.expect("busy session not closed within 10 s (ttl 1 s)");
    assert_eq!(code, Some(1001), "TTL close code");
    assert!(
        at >= Duration::from_millis(900),
        "closed after {at:?}, before the TTL"
    );
    expect_tcp_closed(&mut busy, "busy after TTL");
    expect_close(&mut quiet, 1001, SOON, "quiet session TTL");
    assert_ws_healthy(&server, "after TTL closes");
}

#[test]
fn out_of_range_ws_config_exits_2_naming_the_key() {
    for (toml, key) in [
        ("[ws]\nmax_message_bytes = 100\n", "max_message_bytes"),
        ("[ws]\nsession_ttl_ms = 500\n", "session_ttl_ms"),
        ("[ws]\nmax_queued_messages = 0\n", "max_queued_messages"),
        ("[ws]\nidle_timeout_ms = 0\n", "idle_timeout_ms"),
    ] {
        assert_config_rejected(toml, key);
    }
}

#[test]
fn sigterm_closes_websocket_sessions_with_going_away() {
    // A long grace: the server must not sit on idle WebSocket sessions until it runs out (idle
    // HTTP keep-alive connections are closed at once), and clients must be told to go elsewhere.
    let mut server = Server::start_sha(&[], Some("[limits]\nshutdown_grace_ms = 10000\n"));
    let mut sub = subscriber(&server, "bye-svc");
    let mut hb = ws_connect(&server, HB);
    send_text(&mut hb, "garbage");
    assert_eq!(next_text(&mut hb, "heartbeat"), CANNED_SUCCESS);
    let mut all = ws_connect(&server, AIC);
    sync(&mut all, "all-instance-change");

    let t0 = Instant::now();
    server.signal(libc::SIGTERM);
    for (ws, name) in [
        (&mut sub, "instance-change"),
        (&mut hb, "heartbeat"),
        (&mut all, "all"),
    ] {
        // Well within the 10 s grace.
        match next_event(ws, SOON, name) {
            Got::Close(Some(code)) => assert!(
                [1001, 1012, 1013].contains(&code),
                "{name}: close code {code} on shutdown (going away / restart / try later)"
            ),
            other => panic!(
                "{name}: expected a close frame within {SOON:?} of SIGTERM, got {other:?} after {:?}",
                t0.elapsed()
            ),
        }
    }
    let status = server
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", t0.elapsed()));
    assert_eq!(status.code(), Some(0));
}
