//! HTTP layer: body encodings, .NET PascalCase bodies, keep-alive, pipelining, malformed input,
//! limits and timeouts. Every fault must be answered with the documented status and a JSON
//! `bad-request` body, and must not disturb other clients.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use harness::*;

const LIMITS: &str = r#"
[limits]
max_header_bytes = 2048
max_headers = 32
max_body_bytes = 65536
max_decoded_body_bytes = 131072
max_instances_per_request = 100
max_services_per_request = 50
idle_timeout_ms = 2000
request_timeout_ms = 1000
"#;

/// A fresh client can still register-free look up the sentinel instance.
fn assert_healthy(server: &Server, ctx: &str) {
    let mut c = server.client();
    let (st, v) = c.post_json(LOOKUP, &lookup_body(&["sentinel"]));
    assert_eq!(st, 200, "{ctx}: server unhealthy afterwards: {}", dump(&v));
    assert_eq!(
        arr_len(&v["services"][0]["instances"], "sentinel instances"),
        1,
        "{ctx}: sentinel lost: {}",
        dump(&v)
    );
}

/// The server closes an idle connection within `timeout`, silently or after a 408.
fn closes_when_idle(c: &mut Client, timeout: Duration) -> bool {
    match c.probe(timeout) {
        Probe::Closed => true,
        Probe::Open => false,
        Probe::Data => {
            let resp = c
                .read_response()
                .expect("unexpected bytes on an idle connection");
            assert_protocol_error(&resp, 408, "idle connection");
            c.closed_within(Duration::from_secs(5))
        }
    }
}

fn start_limited() -> Server {
    let server = Server::start_sha(&[], Some(LIMITS));
    register(&mut server.client(), &[Inst::new("sentinel", "s-1")]);
    server
}

/// Sends `raw` on a fresh connection and reads one response.
fn send_raw(server: &Server, raw: &[u8]) -> (Client, Response) {
    let mut c = server.client();
    // The server may answer and close before reading everything; a failed write is fine as
    // long as the response arrives.
    let _ = c.write_raw(raw);
    let resp = c
        .read_response()
        .unwrap_or_else(|e| panic!("no response to {:?}: {e}", String::from_utf8_lossy(raw)));
    (c, resp)
}

#[test]
fn gzip_request_bodies() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let inst = Inst::new("gzip-svc", "gz-1");
    let (st, v) = c.post_gzip(REGISTER, &instances_body(std::slice::from_ref(&inst)));
    assert_registry_ok(st, &v, "gzip register");
    let (st, v) = c.post_gzip(LOOKUP, &lookup_body(&["gzip-svc"]));
    assert_eq!(st, 200);
    assert_success_status(&v, "gzip lookup");
    assert_instance_eq(&v["services"][0]["instances"][0], &inst, "gzip round trip");
    let (st, v) = c.post_gzip(HEARTBEAT, &instances_body(std::slice::from_ref(&inst)));
    assert_registry_ok(st, &v, "gzip heartbeat");
    // Header value case does not matter.
    let gz = gzip(instances_body(std::slice::from_ref(&inst)).as_bytes());
    let r = c.request("POST", UNREGISTER, &[("content-encoding", "GZIP")], &gz);
    assert_registry_ok(r.status, &r.json(), "GZIP unregister");
    assert!(lookup_ids(&mut c, "gzip-svc").is_empty());
}

#[test]
fn chunked_request_bodies() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let inst = Inst::new("chunk-svc", "ch-1");
    let body = instances_body(std::slice::from_ref(&inst));
    let r = c.request(
        "POST",
        REGISTER,
        &[
            ("Transfer-Encoding", "chunked"),
            ("Content-Type", "application/json"),
        ],
        &chunked(body.as_bytes(), &[1, 7, 30, 2]),
    );
    assert_registry_ok(r.status, &r.json(), "chunked register");

    // Chunk extensions and upper-case hex sizes; the connection stays usable.
    let lb = lookup_body(&["chunk-svc"]);
    let (a, b) = lb.as_bytes().split_at(10);
    let mut raw = format!(
        "POST {LOOKUP} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:X};ext=1\r\n",
        a.len()
    )
    .into_bytes();
    raw.extend_from_slice(a);
    raw.extend_from_slice(format!("\r\n{:X}\r\n", b.len()).as_bytes());
    raw.extend_from_slice(b);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    c.write_raw(&raw).unwrap();
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_instance_eq(
        &r.json()["services"][0]["instances"][0],
        &inst,
        "chunked lookup",
    );

    // gzip inside chunked
    let gz = gzip(lookup_body(&["chunk-svc"]).as_bytes());
    let r = c.request(
        "POST",
        LOOKUP,
        &[
            ("Transfer-Encoding", "chunked"),
            ("Content-Encoding", "gzip"),
            ("Content-Type", "application/json"),
        ],
        &chunked(&gz, &[5, 5, 5]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_instance_eq(
        &r.json()["services"][0]["instances"][0],
        &inst,
        "gzip+chunked",
    );
}

#[test]
fn dotnet_pascal_case_bodies() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let body = r#"{"Instances":[{"ServiceId":"NetSvc","InstanceId":"net-1","IP":"10.1.1.1","Port":8080,"Url":"http://10.1.1.1:8080/","RegionId":"SHA","ZoneId":"SHAJQ","Metadata":{"Owner":"dotnet"},"UnknownProperty":[1,{"x":2}]}]}"#;
    let (st, v) = c.post_json(REGISTER, body);
    assert_registry_ok(st, &v, "PascalCase register");

    let expected = Inst {
        region_id: Some("SHA".into()),
        zone_id: Some("SHAJQ".into()),
        group_id: None,
        service_id: Some("NetSvc".into()),
        instance_id: Some("net-1".into()),
        machine_name: None,
        ip: Some("10.1.1.1".into()),
        port: 8080,
        protocol: None,
        url: Some("http://10.1.1.1:8080/".into()),
        health_check_url: None,
        status: None,
        metadata: Some(vec![("Owner".into(), "dotnet".into())]),
    };
    let (st, v) = c.post_json(
        LOOKUP,
        r#"{"DiscoveryConfigs":[{"ServiceId":"netsvc","RegionId":"SHA","ZoneId":"SHAJQ"}],"RegionId":"SHA","ZoneId":"SHAJQ"}"#,
    );
    assert_eq!(st, 200);
    assert_success_status(&v, "PascalCase lookup");
    assert_eq!(v["services"][0]["serviceId"].as_str(), Some("netsvc"));
    assert_instance_eq(
        &v["services"][0]["instances"][0],
        &expected,
        "PascalCase instance echoed in camelCase",
    );

    let (st, v) = c.post_json(
        HEARTBEAT,
        r#"{"INSTANCES":[{"SERVICEID":"NetSvc","instanceID":"net-1","url":"http://10.1.1.1:8080/","REGIONID":"sha","ZoneID":"SHAJQ"}]}"#,
    );
    assert_registry_ok(st, &v, "mixed-case property names");
}

#[test]
fn keep_alive_and_pipelining() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let local = c.stream.local_addr().unwrap();
    for i in 0..10 {
        let inst = Inst::new("ka-svc", &format!("ka-{i}"));
        let r = c.request("POST", REGISTER, &[], instances_body(&[inst]).as_bytes());
        assert_registry_ok(r.status, &r.json(), "keep-alive register");
        assert_ne!(
            r.header("connection").map(|v| v.to_ascii_lowercase()),
            Some("close".to_string()),
            "request {i}: server wants to close a keep-alive connection"
        );
    }
    assert_eq!(lookup_ids(&mut c, "ka-svc").len(), 10);
    assert_eq!(c.stream.local_addr().unwrap(), local);

    // Three requests in one write; three responses in order.
    let x = Inst::new("pipe-svc", "p-1");
    let mut batch = c.build_request(
        "POST",
        REGISTER,
        &[],
        instances_body(std::slice::from_ref(&x)).as_bytes(),
    );
    batch.extend(c.build_request("POST", LOOKUP, &[], lookup_body(&["pipe-svc"]).as_bytes()));
    batch.extend(c.build_request(
        "POST",
        HEARTBEAT,
        &[],
        instances_body(&[Inst::new("pipe-svc", "ghost")]).as_bytes(),
    ));
    batch.extend(c.build_request("GET", "/health", &[], b""));
    c.write_raw(&batch).unwrap();
    let r1 = c.read_response().unwrap();
    assert_registry_ok(r1.status, &r1.json(), "pipelined register");
    let r2 = c.read_response().unwrap();
    assert_eq!(r2.status, 200);
    let v2 = r2.json();
    assert_eq!(arr_len(&v2["services"], "pipelined lookup"), 1);
    assert_instance_eq(&v2["services"][0]["instances"][0], &x, "pipelined lookup");
    let r3 = c.read_response().unwrap();
    let v3 = r3.json();
    assert_eq!(
        v3["responseStatus"]["status"].as_str(),
        Some("partial_fail")
    );
    assert_eq!(
        v3["failedInstances"][0]["instance"]["instanceId"].as_str(),
        Some("ghost")
    );
    let r4 = c.read_response().unwrap();
    assert_eq!(r4.status, 200);
    assert_eq!(r4.json()["status"].as_str(), Some("up"));

    // Pipelined requests split at awkward points still parse.
    let mut batch = c.build_request("POST", LOOKUP, &[], lookup_body(&["pipe-svc"]).as_bytes());
    batch.extend(c.build_request("POST", LOOKUP, &[], lookup_body(&["ka-svc"]).as_bytes()));
    for piece in batch.chunks(37) {
        c.write_raw(piece).unwrap();
        // A pause between writes (pacing, not synchronisation) so the pieces tend to arrive in
        // separate reads.
        thread::sleep(Duration::from_millis(2));
    }
    let r = c.read_response().unwrap();
    assert_eq!(arr_len(&r.json()["services"][0]["instances"], "split 1"), 1);
    let r = c.read_response().unwrap();
    assert_eq!(
        arr_len(&r.json()["services"][0]["instances"], "split 2"),
        10
    );
}

#[test]
fn connection_close_and_http10() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let r = c.request(
        "POST",
        LOOKUP,
        &[("Connection", "close")],
        lookup_body(&["x"]).as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert!(
        c.closed_within(Duration::from_secs(5)),
        "Connection: close not honoured"
    );

    let body = lookup_body(&["x"]);
    let raw = format!(
        "POST {LOOKUP} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (mut c, r) = send_raw(&server, raw.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    assert_success_status(&r.json(), "HTTP/1.0 lookup");
    assert!(
        c.closed_within(Duration::from_secs(5)),
        "HTTP/1.0 connection not closed"
    );
}

#[test]
fn trailing_slash_paths() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let inst = Inst::new("slash-svc", "1");
    let (st, v) = c.post_json(
        "/api/registry/register.json/",
        &instances_body(std::slice::from_ref(&inst)),
    );
    assert_registry_ok(st, &v, "register with trailing slash");
    let (st, v) = c.post_json("/api/discovery/lookup.json/", &lookup_body(&["slash-svc"]));
    assert_eq!(st, 200);
    assert_instance_eq(
        &v["services"][0]["instances"][0],
        &inst,
        "trailing slash lookup",
    );
    let (st, v) = c.get("/health/");
    assert_eq!(st, 200);
    assert_eq!(v["status"].as_str(), Some("up"));
    // A query string on a POST path is ignored for routing.
    let (st, v) = c.post_json(
        "/api/discovery/lookup.json?source=test&x=1",
        &lookup_body(&["slash-svc"]),
    );
    assert_eq!(st, 200, "{}", dump(&v));
    assert_instance_eq(&v["services"][0]["instances"][0], &inst, "query on POST");
}

#[test]
fn header_names_are_case_insensitive_and_values_trimmed() {
    let server = Server::start_sha(&[], None);
    let inst = Inst::new("hdr-svc", "h-1");
    let body = instances_body(std::slice::from_ref(&inst));
    let raw = format!(
        "POST {REGISTER} HTTP/1.1\r\nhOsT: t\r\ncontent-type:application/json;charset=UTF-8\r\nCONTENT-LENGTH:   {}  \r\nconnection: keep-alive\r\n\r\n{body}",
        body.len()
    );
    let mut c = server.client();
    c.write_raw(raw.as_bytes()).unwrap();
    let r = c.read_response().unwrap();
    assert_registry_ok(r.status, &r.json(), "odd header spelling");
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json"),
        "API responses are JSON: {:?}",
        r.headers
    );
    assert!(r.header("content-length").is_some() || r.header("transfer-encoding").is_some());
    assert_eq!(lookup_ids(&mut c, "hdr-svc"), vec!["h-1".to_string()]);
}

#[test]
fn framing_errors_get_400_and_close() {
    let server = start_limited();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "binary garbage",
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\x00\xffgarbage\r\n\r\n".to_vec(),
        ),
        ("bad request line", b"THIS IS NOT HTTP AT ALL\r\n\r\n".to_vec()),
        (
            "header without colon",
            b"POST /api/discovery/lookup.json HTTP/1.1\r\nHost: t\r\nNoColonHere\r\n\r\n".to_vec(),
        ),
        (
            "Content-Length and Transfer-Encoding",
            b"POST /api/discovery/lookup.json HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
        ),
        (
            "invalid Content-Length",
            b"POST /api/discovery/lookup.json HTTP/1.1\r\nHost: t\r\nContent-Length: 12abc\r\n\r\n".to_vec(),
        ),
        (
            "two different Content-Lengths",
            b"POST /api/discovery/lookup.json HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x".to_vec(),
        ),
        (
            "bad chunk size",
            b"POST /api/discovery/lookup.json HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(),
        ),
    ];
    for (name, raw) in cases {
        let (mut c, resp) = send_raw(&server, &raw);
        assert_protocol_error(&resp, 400, name);
        assert!(
            c.closed_within(Duration::from_secs(5)),
            "{name}: connection must be closed after a framing error"
        );
        assert_healthy(&server, name);
    }
}

#[test]
fn oversized_headers_get_431() {
    let server = start_limited();
    let big = "x".repeat(3000);
    let raw = format!(
        "POST {LOOKUP} HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    let (mut c, resp) = send_raw(&server, raw.as_bytes());
    assert_protocol_error(&resp, 431, "header block over max_header_bytes");
    assert!(c.closed_within(Duration::from_secs(5)));
    assert_healthy(&server, "431 size");

    let mut raw = format!("POST {LOOKUP} HTTP/1.1\r\nHost: t\r\n");
    for i in 0..40 {
        raw.push_str(&format!("X-H{i}: v\r\n"));
    }
    raw.push_str("Content-Length: 2\r\n\r\n{}");
    let (mut c, resp) = send_raw(&server, raw.as_bytes());
    assert_protocol_error(&resp, 431, "more headers than max_headers");
    assert!(c.closed_within(Duration::from_secs(5)));
    assert_healthy(&server, "431 count");
}

#[test]
fn oversized_bodies_and_batches_get_413() {
    let server = start_limited();

    // Declared body over max_body_bytes: refused from the headers alone.
    let raw = format!(
        "POST {REGISTER} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    );
    let (mut c, resp) = send_raw(&server, raw.as_bytes());
    assert_protocol_error(&resp, 413, "Content-Length over max_body_bytes");
    assert!(c.closed_within(Duration::from_secs(5)));
    assert_healthy(&server, "413 body");

    // gzip body inflating past max_decoded_body_bytes.
    let mut json = String::from("{\"instances\":[");
    json.push_str(&" ".repeat(400_000));
    json.push_str("]}");
    let gz = gzip(json.as_bytes());
    assert!(gz.len() < 65536);
    let mut c = server.client();
    let r = c
        .try_request("POST", REGISTER, &[("Content-Encoding", "gzip")], &gz)
        .expect("response to gzip bomb");
    assert_protocol_error(&r, 413, "inflated body over max_decoded_body_bytes");
    assert_healthy(&server, "413 gzip");

    // 101 instances > max_instances_per_request = 100; exactly 100 is fine.
    let insts: Vec<Inst> = (0..101)
        .map(|i| Inst::new("batch-svc", &format!("b-{i}")))
        .collect();
    let mut c = server.client();
    let r = c.request("POST", REGISTER, &[], instances_body(&insts).as_bytes());
    assert_protocol_error(&r, 413, "101 instances");
    assert!(lookup_ids(&mut server.client(), "batch-svc").is_empty());
    let r = server
        .client()
        .request("POST", HEARTBEAT, &[], instances_body(&insts).as_bytes());
    assert_protocol_error(&r, 413, "101 heartbeats");
    let mut c = server.client();
    let (st, v) = c.post_json(REGISTER, &instances_body(&insts[..100]));
    assert_registry_ok(st, &v, "100 instances");
    assert_eq!(lookup_ids(&mut c, "batch-svc").len(), 100);

    // 51 discovery configs > max_services_per_request = 50.
    let ids: Vec<String> = (0..51).map(|i| format!("svc-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let r = server
        .client()
        .request("POST", LOOKUP, &[], lookup_body(&refs).as_bytes());
    assert_protocol_error(&r, 413, "51 discovery configs");
    let (st, v) = server.post_json(LOOKUP, &lookup_body(&refs[..50]));
    assert_eq!(st, 200);
    assert_eq!(arr_len(&v["services"], "50 services"), 50);
    assert_healthy(&server, "413 batch");
}

#[test]
fn json_errors_get_400_and_keep_the_connection() {
    let server = start_limited();
    let mut c = server.client();
    let bad_bodies: [&[u8]; 5] = [
        b"{\"instances\":[",
        b"not json",
        b"{\"instances\":[{\"serviceId\":\"a\",}]}",
        b"\xff\xfe{}",
        b"[1,2",
    ];
    for body in bad_bodies {
        let r = c.request("POST", REGISTER, &[], body);
        let ctx = format!("invalid JSON {:?}", String::from_utf8_lossy(body));
        assert_protocol_error(&r, 400, &ctx);
        // The same connection serves the next request.
        let (st, v) = c.post_json(LOOKUP, &lookup_body(&["sentinel"]));
        assert_eq!(st, 200, "{ctx}: connection unusable afterwards");
        assert_eq!(arr_len(&v["services"][0]["instances"], "sentinel"), 1);
    }

    // Pathologically deep nesting is refused, not a stack overflow.
    // (30,000 levels is 60 KB, under max_body_bytes.)
    for depth in [100, 30_000] {
        let mut body = String::from("{\"instances\":[{\"serviceId\":\"deep\",\"x\":");
        body.push_str(&"[".repeat(depth));
        body.push_str(&"]".repeat(depth));
        body.push_str("}]}");
        let r = c.request("POST", REGISTER, &[], body.as_bytes());
        assert_protocol_error(&r, 400, &format!("nesting depth {depth}"));
    }
    assert_healthy(&server, "deep nesting");

    // Empty body.
    let r = c.request("POST", REGISTER, &[("Content-Length", "0")], b"");
    assert_protocol_error(&r, 400, "empty body");
    let r = c.request("POST", LOOKUP, &[("Content-Length", "0")], b"");
    assert_protocol_error(&r, 400, "empty lookup body");

    // Content-Encoding: gzip with bytes that are not gzip.
    let r = c.request(
        "POST",
        REGISTER,
        &[("Content-Encoding", "gzip")],
        b"{\"instances\":[]}",
    );
    assert_protocol_error(&r, 400, "corrupt gzip");
    drop(c);
    assert_healthy(&server, "json errors");
}

#[test]
fn unknown_path_404_and_wrong_method_405() {
    let server = start_limited();
    let mut c = server.client();
    for path in [
        "/api/registry/nope.json",
        "/api/cluster/nodes.json",
        "/",
        "/api/discovery/lookup",
        "/other/api/discovery/lookup.json",
    ] {
        let r = c.request("POST", path, &[], lookup_body(&["sentinel"]).as_bytes());
        assert_protocol_error(&r, 404, path);
        let (st, _) = c.post_json(LOOKUP, &lookup_body(&["sentinel"]));
        assert_eq!(st, 200, "connection unusable after 404 for {path}");
    }
    let r = c.request("GET", "/api/nothing-here", &[], b"");
    assert_protocol_error(&r, 404, "GET unknown");

    for (method, path) in [
        ("GET", REGISTER),
        ("GET", HEARTBEAT),
        ("GET", UNREGISTER),
        ("GET", LOOKUP),
        ("DELETE", LOOKUP),
        ("PUT", REGISTER),
    ] {
        let r = c.request(method, path, &[], b"");
        let ctx = format!("{method} {path}");
        assert_protocol_error(&r, 405, &ctx);
        let allow = r
            .header("allow")
            .unwrap_or_else(|| panic!("{ctx}: 405 without Allow header"));
        assert!(allow.contains("POST"), "{ctx}: Allow: {allow}");
        assert!(!allow.contains("GET"), "{ctx}: Allow: {allow}");
        let (st, _) = c.post_json(LOOKUP, &lookup_body(&["sentinel"]));
        assert_eq!(st, 200, "connection unusable after 405 for {ctx}");
    }
    let r = c.request("DELETE", SERVICES, &[], b"");
    assert_protocol_error(&r, 405, "DELETE services.json");
    let allow = r.header("allow").expect("Allow on 405");
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
    assert_healthy(&server, "404/405");
}

#[test]
fn slow_clients_time_out_with_408_without_blocking_others() {
    let server = start_limited();

    // A: half a header block. B: complete headers, half the body. C: trickles a byte every 100 ms.
    let t0 = Instant::now();
    let mut a = server.client();
    a.write_raw(format!("POST {LOOKUP} HTTP/1.1\r\nHost: t\r\nContent-Le").as_bytes())
        .unwrap();
    let mut b = server.client();
    b.write_raw(
        format!("POST {LOOKUP} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"discoveryCo")
            .as_bytes(),
    )
    .unwrap();
    let trickle = server.client();
    let mut writer = trickle.stream.try_clone().unwrap();
    let slow_head = format!(
        "POST {LOOKUP} HTTP/1.1\r\nHost: t\r\nX-Slow: {}\r\n",
        "y".repeat(200)
    );
    let head_len = slow_head.len();
    let trickled = Arc::new(AtomicUsize::new(0));
    let trickler = thread::spawn({
        let trickled = trickled.clone();
        move || {
            // One byte every 100 ms: sending the whole head takes over 20 s, whatever the load.
            for byte in slow_head.as_bytes() {
                if writer.write_all(&[*byte]).is_err() {
                    break;
                }
                trickled.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(100));
            }
        }
    });

    // Others are served meanwhile.
    for _ in 0..5 {
        assert_healthy(&server, "while slow clients hang");
    }

    for (name, c) in [("half headers", &mut a), ("half body", &mut b)] {
        let resp = c
            .read_response()
            .unwrap_or_else(|e| panic!("{name}: expected a 408 response, got {e}"));
        let elapsed = t0.elapsed();
        assert_protocol_error(&resp, 408, name);
        assert!(
            elapsed >= Duration::from_millis(900),
            "{name}: timed out after {elapsed:?}, before request_timeout_ms"
        );
        assert!(
            c.closed_within(Duration::from_secs(5)),
            "{name}: connection not closed after 408"
        );
    }
    let mut trickle = trickle;
    let resp = trickle
        .read_response()
        .expect("trickling client: expected a 408 response");
    assert_protocol_error(&resp, 408, "trickling headers");
    // The request timeout runs from the first byte: bytes still arriving do not extend it.
    let sent = trickled.load(Ordering::SeqCst);
    assert!(
        sent < head_len,
        "the trickling client was timed out only after sending its whole head ({sent} bytes)"
    );
    trickler.join().unwrap();
    assert_healthy(&server, "after slow clients");
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let server = start_limited();
    let mut c = server.client();
    let t0 = Instant::now();
    let (st, _) = c.post_json(LOOKUP, &lookup_body(&["sentinel"]));
    assert_eq!(st, 200);
    assert!(
        closes_when_idle(&mut c, Duration::from_secs(8)),
        "idle connection still open after 8 s with idle_timeout_ms = 2000"
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "idle connection closed after {:?}, before idle_timeout_ms",
        t0.elapsed()
    );
    // A connection that never sends anything is closed too.
    let mut silent = server.client();
    assert!(
        closes_when_idle(&mut silent, Duration::from_secs(8)),
        "silent connection still open after 8 s"
    );
    assert_healthy(&server, "after idle");
}

#[test]
fn expect_100_continue() {
    // curl sends `Expect: 100-continue` for bodies over 1 KiB and waits for the interim answer.
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let insts: Vec<Inst> = (0..10)
        .map(|i| Inst::new("continue-svc", &format!("c-{i}")))
        .collect();
    let body = instances_body(&insts);
    assert!(body.len() > 1024);
    c.post_head_expecting_continue(REGISTER, body.len());
    c.write_raw(body.as_bytes()).unwrap();
    let r = c.read_response().unwrap();
    assert_registry_ok(r.status, &r.json(), "register after 100-continue");
    assert_eq!(lookup_ids(&mut c, "continue-svc").len(), 10);
}

#[test]
fn connections_over_max_connections_are_closed() {
    let server = Server::start_sha(&[], Some("[limits]\nmax_connections = 3\n"));
    let mut held: Vec<Client> = (0..3).map(|_| server.client()).collect();
    for c in held.iter_mut() {
        let (st, _) = c.post_json(LOOKUP, &lookup_body(&["x"]));
        assert_eq!(st, 200);
    }
    let mut extra = server.client();
    let _ =
        extra.write_raw(&extra.build_request("POST", LOOKUP, &[], lookup_body(&["x"]).as_bytes()));
    match extra.read_response() {
        Err(_) => {}
        Ok(r) => assert!(
            r.status == 503,
            "connection over the limit was served: HTTP {} {}",
            r.status,
            r.text()
        ),
    }
    // Closing one frees a slot.
    drop(held.pop());
    let served = wait_until(Duration::from_secs(5), || {
        let mut c = server.client();
        let req = c.build_request("POST", LOOKUP, &[], lookup_body(&["x"]).as_bytes());
        c.write_raw(&req).is_ok() && matches!(c.read_response(), Ok(r) if r.status == 200)
    });
    assert!(served, "no slot freed after a connection closed");
}
