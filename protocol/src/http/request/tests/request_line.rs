//! The request line: method, target forms, version, and the lenient line endings before it.

use super::*;

#[test]
fn simple_get() {
    let raw = "GET /api/registry/lookup?id=a%20b&x HTTP/1.1\r\n\
               Host: localhost:8080\r\nAccept: */*\r\n\r\n";
    let r = ok(raw);
    assert_eq!(r.method, Method::Get);
    assert_eq!(r.path, "/api/registry/lookup");
    assert_eq!(r.query, "id=a%20b&x");
    assert_eq!(r.version, Version::Http11);
    assert!(r.keep_alive && !r.gzip && !r.expect_continue && !r.upgrade_websocket);
    assert_eq!(r.content_encoding, ContentEncoding::Identity);
    assert_eq!(
        r.headers,
        [
            ("Host".to_string(), b"localhost:8080".to_vec()),
            ("Accept".to_string(), b"*/*".to_vec())
        ]
    );
    assert_eq!(r.body, b"");
    assert_eq!(r.consumed, raw.len());
}

#[test]
fn methods() {
    let cases = [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("DELETE", Method::Delete),
        ("OPTIONS", Method::Options),
        ("PATCH", Method::Patch),
        ("PURGE", Method::Other),
        ("get", Method::Other),
        ("M-SEARCH", Method::Other),
        ("!#$%&'*+-.^_`|~09azAZ", Method::Other),
    ];
    for (token, method) in cases {
        assert_eq!(
            ok(&format!("{token} / HTTP/1.1\r\n\r\n")).method,
            method,
            "{token}"
        );
    }
}

#[test]
fn invalid_methods() {
    bad(" / HTTP/1.1\r\n\r\n", "invalid method");
    bad("G(T / HTTP/1.1\r\n\r\n", "invalid method");
    bad("GET\t/ HTTP/1.1\r\n\r\n", "invalid method");
    bad("GET\r\n\r\n", "invalid method");
    bad("G\x00T / HTTP/1.1\r\n\r\n", "invalid method");
    // A TLS ClientHello on the plain-text port.
    bad("\x16\x03\x01\x02\x00\x01\x00\x01", "invalid method");
}

#[test]
fn invalid_targets() {
    bad("GET  / HTTP/1.1\r\n\r\n", "invalid request target");
    bad("GET /\r\n\r\n", "invalid request target"); // HTTP/0.9
    bad("GET /a\tb HTTP/1.1\r\n\r\n", "invalid request target");
    bad("GET /\x7f HTTP/1.1\r\n\r\n", "invalid request target");
    bad("GET /caf\u{e9} HTTP/1.1\r\n\r\n", "invalid request target");
    bad("GET * HTTP/1.1\r\n\r\n", "invalid request target");
    bad("OPTIONS * HTTP/1.1\r\n\r\n", "invalid request target");
    bad(
        "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
        "invalid request target",
    );
    bad(
        "GET ftp://host/x HTTP/1.1\r\n\r\n",
        "invalid request target",
    );
    bad("GET ?x HTTP/1.1\r\n\r\n", "invalid request target");
}

#[test]
fn target_forms() {
    let cases = [
        ("/", "/", ""),
        ("/p?", "/p", ""),
        ("/p?a=1&b=2", "/p", "a=1&b=2"),
        ("/p?a=?b", "/p", "a=?b"),
        ("/p#frag", "/p", ""),
        ("/p?q=1#frag?x", "/p", "q=1"),
        ("/p#f?x", "/p", ""),
        ("/a%2Fb/%20", "/a%2Fb/%20", ""),
        ("//double", "//double", ""),
        ("http://example.com/x/y?z=1", "/x/y", "z=1"),
        ("HTTP://Example.com:8080/x", "/x", ""),
        ("https://host", "/", ""),
        ("http://host?q", "/", "q"),
        ("http://user@host:1/p#f", "/p", ""),
    ];
    for (target, path, query) in cases {
        let r = ok(&format!("GET {target} HTTP/1.1\r\n\r\n"));
        assert_eq!(
            (r.path.as_str(), r.query.as_str()),
            (path, query),
            "{target}"
        );
    }
}

#[test]
fn versions() {
    assert_eq!(ok("GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
    assert_eq!(ok("GET / HTTP/1.1\r\n\r\n").version, Version::Http11);
    for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"] {
        assert_eq!(
            err(&format!("GET / {version}\r\n\r\n")),
            HttpError::VersionNotSupported
        );
    }
    assert_eq!(
        err("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        HttpError::VersionNotSupported
    );
    for version in [
        "http/1.1",
        "HTTP/1",
        "HTTP/1.1x",
        "HTTP/11.1",
        "HTTP/1.1 ",
        "HTTP/a.b",
        "XTTP/1.1",
        "H",
    ] {
        bad(&format!("GET / {version}\r\n\r\n"), "invalid HTTP version");
    }
    bad("GET / HTTP/1.1\rx\r\n", "invalid HTTP version");
}

#[test]
fn garbage_version_is_refused_before_eight_bytes_arrive() {
    assert_eq!(
        parse_default(b"GET / X"),
        Outcome::Error(HttpError::BadRequest("invalid HTTP version"))
    );
    assert_eq!(
        parse_default(b"GET / HTTQ"),
        Outcome::Error(HttpError::BadRequest("invalid HTTP version"))
    );
    assert_eq!(
        parse_default(b"GET / HTTP/1"),
        Outcome::Partial { min_total: 0 }
    );
}

#[test]
fn leading_empty_lines_are_skipped() {
    let raw = "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n";
    let r = ok(raw);
    assert_eq!(r.consumed, raw.len());
    bad("\r\rGET / HTTP/1.1\r\n\r\n", "invalid request line");
}

#[test]
fn bare_lf_line_endings() {
    let raw = "POST / HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi";
    let r = ok(raw);
    assert_eq!(r.body, b"hi");
    assert_eq!(header(&r, "host"), Some(&b"a"[..]));
    assert_eq!(r.consumed, raw.len());
}
