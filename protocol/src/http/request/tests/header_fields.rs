//! Header field syntax and lookup.

use super::*;

#[test]
fn header_lookup() {
    let raw = b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nX-Empty:\r\nX-Pad: \t v  w \t\r\n\r\n";
    let mut parser = RequestParser::new(Limits::default());
    let mut dechunked = Vec::new();
    let Ok(Parsed::Complete { request, .. }) = parser.parse(raw, &mut dechunked) else {
        panic!("incomplete");
    };
    assert_eq!(request.header("X-A"), Some(&b"1"[..]));
    assert_eq!(request.header("x-a"), Some(&b"1"[..]));
    assert_eq!(request.headers.get("X-a"), Some(&b"1"[..]));
    assert_eq!(
        request.headers.get_all("X-A").collect::<Vec<_>>(),
        [&b"1"[..], b"2"]
    );
    assert_eq!(request.header("x-empty"), Some(&b""[..]));
    assert_eq!(request.header("X-Pad"), Some(&b"v  w"[..]));
    assert_eq!(request.header("X-Missing"), None);
    assert_eq!(request.header("X-"), None);
    assert_eq!(request.headers.len(), 4);
    assert!(!request.headers.is_empty());
    let names: Vec<&str> = request.headers.into_iter().map(|h| h.name).collect();
    assert_eq!(names, ["X-A", "x-a", "X-Empty", "X-Pad"]);
    let first = request.headers.iter().next();
    assert_eq!(
        first,
        Some(Header {
            name: "X-A",
            value: b"1"
        })
    );
    assert!(format!("{request:?}").contains("\"X-Pad\": \"v  w\""));
}

#[test]
fn invalid_header_fields() {
    bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "invalid header name");
    bad("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", "invalid header name");
    bad("GET / HTTP/1.1\r\n: a\r\n\r\n", "invalid header name");
    bad("GET / HTTP/1.1\r\nHost\r\n\r\n", "invalid header name");
    bad(
        "GET / HTTP/1.1\r\nH\u{e9}st: a\r\n\r\n",
        "invalid header name",
    );
    bad(
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "obsolete line folding",
    );
    bad(
        "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
        "obsolete line folding",
    );
    bad(
        "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
        "invalid header value",
    );
    bad(
        "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        "invalid header value",
    );
    bad(
        "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
        "invalid header value",
    );
    bad(
        "GET / HTTP/1.1\r\nHost: a\r\n\rX",
        "invalid header line ending",
    );
}

#[test]
fn obs_text_values_are_kept_raw() {
    let r = ok_with(
        Limits::default(),
        b"GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\xff\r\n\r\n",
    );
    assert_eq!(header(&r, "x-name"), Some(&b"caf\xc3\xa9\xff"[..]));
}

#[test]
fn duplicate_host_is_refused() {
    bad(
        "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        "multiple Host headers",
    );
    assert!(
        ok("GET / HTTP/1.1\r\n\r\n").headers.is_empty(),
        "a missing Host is tolerated"
    );
}
