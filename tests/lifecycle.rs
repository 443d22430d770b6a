//! Process lifecycle: signals, config validation, CORS.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn sigterm_exits_zero_even_with_idle_keep_alive_connection() {
    // A long grace period: an idle connection must not be what the server waits for.
    let mut server = Server::start_sha(&[], Some("[limits]\nshutdown_grace_ms = 30000\n"));
    let mut idle = server.client();
    register(&mut idle, &[Inst::new("life-svc", "1")]);
    let (st, _) = idle.post_json(LOOKUP, &lookup_body(&["life-svc"]));
    assert_eq!(st, 200);

    let t0 = Instant::now();
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(8)).unwrap_or_else(|| {
        panic!(
            "still running 8 s after SIGTERM; stderr:\n{}",
            server.stderr()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?} (signal {:?}); stderr:\n{}",
        status.signal(),
        server.stderr()
    );
    assert!(t0.elapsed() < Duration::from_secs(8));
    assert!(
        idle.closed_within(Duration::from_secs(5)),
        "idle client connection not closed at shutdown"
    );
}

#[test]
fn sigint_exits_zero() {
    let mut server = Server::start_sha(&[], None);
    register(&mut server.client(), &[Inst::new("life-svc", "1")]);
    server.signal(libc::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(8))
        .expect("still running 8 s after SIGINT");
    assert_eq!(
        status.code(),
        Some(0),
        "{status:?}; stderr:\n{}",
        server.stderr()
    );
}

#[test]
fn shutdown_lets_an_in_flight_request_finish() {
    // A request whose body is still arriving when SIGTERM comes is completed within the grace.
    let mut server = Server::start_sha(&[], Some("[limits]\nshutdown_grace_ms = 5000\n"));
    let mut c = server.client();
    let body = instances_body(&[Inst::new("inflight", "1")]);
    let (head, tail) = body.as_bytes().split_at(20);
    let mut raw = format!(
        "POST {REGISTER} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(head);
    c.write_raw(&raw).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    let _ = c.write_raw(tail);
    let resp = c
        .read_response()
        .expect("in-flight request dropped at shutdown");
    assert_registry_ok(resp.status, &resp.json(), "in-flight register");
    let status = server
        .wait_exit(Duration::from_secs(8))
        .expect("still running after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn invalid_config_exits_2_naming_the_key() {
    let cases: [(&str, &str); 5] = [
        ("bogus_top_level = 1\n", "bogus_top_level"),
        ("[lease]\nttl_msec = 1000\n", "ttl_msec"),
        ("[limits]\nmax_body_bytes = \"big\"\n", "max_body_bytes"),
        ("[lease]\nttl_ms = 0\n", "ttl_ms"),
        ("driver = \"turbo\"\n", "driver"),
    ];
    for (toml, key) in cases {
        let (status, stderr) = run_to_exit(&[], Some(toml));
        assert_eq!(
            status.code(),
            Some(2),
            "config {toml:?}: exit {status:?}, stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(key),
            "config {toml:?}: stderr does not name {key:?}:\n{stderr}"
        );
    }
    // Invalid flag values too.
    let (status, stderr) = run_to_exit(&["--driver", "turbo"], None);
    assert_eq!(status.code(), Some(2), "--driver turbo: {stderr}");
    assert!(stderr.contains("driver"), "{stderr}");
}

#[test]
fn cors_preflight_and_headers() {
    let server = Server::start_sha(&[], None);
    let mut c = server.client();
    let r = c.request(
        "OPTIONS",
        REGISTER,
        &[
            ("Origin", "http://portal.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-custom"),
        ],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let methods = r.header("access-control-allow-methods").unwrap_or("");
    assert!(methods.contains("POST"), "Allow-Methods: {methods:?}");
    let headers = r
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_ascii_lowercase();
    assert!(
        headers.contains("content-type") && headers.contains("x-custom"),
        "Allow-Headers: {headers:?}"
    );
    assert_eq!(r.header("access-control-max-age"), Some("3600"));

    // The connection is still usable, and ordinary responses carry the CORS headers.
    let r = c.request(
        "POST",
        LOOKUP,
        &[("Origin", "http://portal.example")],
        lookup_body(&["x"]).as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = c.request("GET", "/api/status/node.json", &[], b"");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
}
