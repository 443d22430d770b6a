//! Several requests back to back in one buffer.

use super::*;

fn parse_all(raw: &[u8]) -> Vec<OwnedRequest> {
    let mut parser = RequestParser::new(Limits::default());
    let mut rest = raw;
    let mut requests = Vec::new();
    while !rest.is_empty() {
        let request = parse_with(&mut parser, rest).request().clone();
        rest = &rest[request.consumed..];
        requests.push(request);
    }
    requests
}

#[test]
fn two_pipelined_requests() {
    let first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
    let second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    let requests = parse_all(format!("{first}{second}").as_bytes());
    assert_eq!(requests.len(), 2);
    assert_eq!(
        (requests[0].path.as_str(), requests[0].consumed),
        ("/a", first.len())
    );
    assert_eq!(
        (requests[1].path.as_str(), requests[1].consumed),
        ("/b", second.len())
    );
}

#[test]
fn three_pipelined_requests_with_bodies() {
    let first = post("Content-Length: 3\r\n", "one");
    let second = post("Transfer-Encoding: chunked\r\n", "3\r\ntwo\r\n0\r\n\r\n");
    let third = "GET /three HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let raw = format!("{first}{second}{third}");
    let requests = parse_all(raw.as_bytes());
    let summary: Vec<(&[u8], usize)> = requests
        .iter()
        .map(|r| (r.body.as_slice(), r.consumed))
        .collect();
    assert_eq!(
        summary,
        [
            (&b"one"[..], first.len()),
            (b"two", second.len()),
            (b"", third.len())
        ]
    );
    assert_eq!(requests[2].path, "/three");
    // The first request is complete even though more bytes follow.
    assert_eq!(
        parse_every_prefix(Limits::default(), raw.as_bytes())
            .request()
            .consumed,
        first.len()
    );
}

#[test]
fn pipelined_request_after_stray_crlf() {
    let raw = format!(
        "{}\r\nGET /next HTTP/1.1\r\n\r\n",
        post("Content-Length: 1\r\n", "x")
    );
    let requests = parse_all(raw.as_bytes());
    assert_eq!(requests[1].path, "/next");
}
