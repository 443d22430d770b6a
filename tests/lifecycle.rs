//! Process lifecycle: signals, config validation, CORS.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use harness::*;

#[test]
fn sigterm_exits_zero_even_with_idle_keep_alive_connection() {
    // A long grace period: an idle connection must not be what the server waits for.
    let mut server = Server::start_sha(&[], Some("[limits]\nshutdown_grace_ms = 30000\n"));
    let mut idle = server.client();
    register(&mut idle, &[Inst::new("life-svc", "1")]);
    let (st, _) = idle.post_json(LOOKUP, &lookup_body(&["life-svc"]));
    assert_eq!(st, 200);

    server.signal(libc::SIGTERM);
    // Well under the 30 s grace: the idle connection must not hold the shutdown up.
    let status = server
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| {
            panic!(
                "still running 15 s after SIGTERM; stderr:\n{}",
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
    // `Expect: 100-continue` makes the start of the request observable: the interim 100 says the
    // server has parsed the head and is waiting for the body.
    c.post_head_expecting_continue(REGISTER, body.len());
    c.write_raw(head).unwrap();

    server.signal(libc::SIGTERM);
    assert!(
        wait_until(SOON, || !server.accepts_connections()),
        "still accepting connections {SOON:?} after SIGTERM"
    );
    // Shutdown has begun (the listeners are closed); the rest of the body still gets an answer.
    c.write_raw(tail).unwrap();
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
        assert_config_rejected(toml, key);
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

#[test]
fn debug_clock_is_not_served_without_manual_clock() {
    let server = Server::start_sha(&[], None);
    let r = server
        .client()
        .request("POST", "/debug/clock/advance?ms=1000", &[], b"");
    assert_eq!(r.status, 404, "{}", r.text());
    // The harness helper fails loudly instead of pretending the clock moved.
    let advanced =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.advance_clock(1000)));
    assert!(
        advanced.is_err(),
        "advance_clock succeeded without --manual-clock"
    );
}
