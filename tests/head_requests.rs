//! HEAD: wherever GET is allowed it answers exactly as GET (status, every header, the
//! Content-Length of GET's body) without a body; an error to HEAD has no body either. Each test
//! goes on with another request on the same keep-alive connection, which parses only if no body
//! bytes followed the HEAD answer.

use std::time::Duration;

use harness::*;

/// The answer to HEAD `path`, then the answer to GET `path`, on one keep-alive connection.
fn head_then_get(client: &mut Client, path: &str) -> (Response, Response) {
    let head = client.build_request("HEAD", path, &[], b"");
    client.write_raw(&head).unwrap();
    let head = client
        .read_response_head()
        .unwrap_or_else(|e| panic!("HEAD {path}: {e}"));
    let get = client.request("GET", path, &[], b"");
    (head, get)
}

/// HEAD answered as `get` was: same status and headers (Content-Length: GET's body length).
fn assert_head_like_get(head: &Response, get: &Response, path: &str) {
    assert_eq!(head.status, get.status, "HEAD {path}");
    assert_eq!(
        head.headers, get.headers,
        "HEAD {path}: headers differ from GET's"
    );
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str()),
        "HEAD {path}: Content-Length is not GET's body length"
    );
}

#[test]
fn head_health_is_get_without_the_body_and_the_connection_stays_in_step() {
    let server = Server::start(&[], None);
    let mut client = server.client();
    let (head, get) = head_then_get(&mut client, "/health");
    assert_eq!(get.status, 200, "{}", get.text());
    assert_eq!(head.header("connection"), Some("keep-alive"));
    assert_head_like_get(&head, &get, "/health");
    // And once more, after the GET, on the same connection.
    let (head, get) = head_then_get(&mut client, "/health");
    assert_head_like_get(&head, &get, "/health");
}

#[test]
fn head_on_get_routes_with_data_matches_get() {
    let server = Server::start_sha(&[], None);
    let mut client = server.client();
    register(
        &mut client,
        &[Inst::new("head-svc", "a"), Inst::new("head-svc", "b")],
    );
    for path in [
        "/api/discovery/services.json",
        "/api/discovery/service.json?serviceId=head-svc",
        "/api/status/node.json",
        "/api/cluster/up-registry-nodes.json",
    ] {
        let (head, get) = head_then_get(&mut client, path);
        assert_eq!(get.status, 200, "GET {path}: {}", get.text());
        assert!(!get.body.is_empty(), "GET {path} has a body");
        assert_head_like_get(&head, &get, path);
    }
}

#[test]
fn pipelined_head_and_get_are_both_framed() {
    let server = Server::start(&[], None);
    let mut client = server.client();
    let mut burst = client.build_request("HEAD", "/api/discovery/services.json", &[], b"");
    burst.extend(client.build_request("GET", "/api/discovery/services.json", &[], b""));
    burst.extend(client.build_request("HEAD", "/health", &[], b""));
    burst.extend(client.build_request("GET", "/health", &[], b""));
    client.write_raw(&burst).unwrap();
    let head = client.read_response_head().unwrap();
    let get = client.read_response().unwrap();
    assert_head_like_get(&head, &get, "/api/discovery/services.json");
    let head = client.read_response_head().unwrap();
    let get = client.read_response().unwrap();
    assert_head_like_get(&head, &get, "/health");
    assert_eq!(get.json()["status"].as_str(), Some("up"), "{}", get.text());
}

#[test]
fn head_on_an_unknown_path_is_404_without_a_body() {
    let server = Server::start(&[], None);
    let mut client = server.client();
    let (head, get) = head_then_get(&mut client, "/no/such/path");
    assert_eq!(get.status, 404);
    assert_protocol_error(&get, 404, "GET unknown path");
    assert_head_like_get(&head, &get, "/no/such/path");
    let (status, _) = client.get("/health");
    assert_eq!(status, 200);
}

#[test]
fn head_on_a_post_only_route_is_405_with_allow_and_no_body() {
    let server = Server::start(&[], None);
    let mut client = server.client();
    let (head, get) = head_then_get(&mut client, "/api/registry/register.json");
    assert_eq!(head.status, 405);
    assert_eq!(head.header("allow"), Some("POST, OPTIONS"));
    assert_head_like_get(&head, &get, "/api/registry/register.json");
    let (status, _) = client.get("/health");
    assert_eq!(status, 200);
}

#[test]
fn allow_lists_head_wherever_get_is_allowed() {
    let server = Server::start(&[], None);
    let mut client = server.client();
    let r = client.request("POST", "/health", &[], b"{}");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
    let r = client.request("DELETE", "/api/discovery/services.json", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
}

#[test]
fn head_on_a_websocket_path_is_refused_without_a_body() {
    let server = Server::start(&[], None);
    let mut client = server.client();
    let head = client.build_request("HEAD", "/ws/registry/heartbeat", &[], b"");
    client.write_raw(&head).unwrap();
    let head = client.read_response_head().unwrap();
    assert_eq!(head.status, 400);
    assert_eq!(head.header("connection"), Some("close"));
    assert!(
        client.closed_within(Duration::from_secs(5)),
        "bytes after the head of the answer to HEAD, or the connection stayed open"
    );
}
