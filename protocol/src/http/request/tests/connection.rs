//! What the header fields say about the connection: keep-alive, upgrade, 100-continue, and the
//! body's content coding.

use super::*;

#[test]
fn keep_alive_rules() {
    let cases = [
        ("1.1", "", true),
        ("1.1", "Connection: close\r\n", false),
        ("1.1", "Connection: CLOSE\r\n", false),
        ("1.1", "Connection: keep-alive\r\n", true),
        ("1.1", "Connection: keep-alive, close\r\n", false),
        ("1.1", "Connection: foo,close , bar\r\n", false),
        ("1.1", "Connection: closed\r\n", true),
        ("1.1", "Connection: upgrade\r\nConnection: close\r\n", false),
        ("1.0", "", false),
        ("1.0", "Connection: keep-alive\r\n", true),
        ("1.0", "Connection: Keep-Alive\r\n", true),
        ("1.0", "Connection: foo, keep-alive\r\n", true),
        (
            "1.0",
            "Connection: keep-alive\r\nConnection: close\r\n",
            false,
        ),
        ("1.0", "Connection: close\r\n", false),
        ("1.0", "Keep-Alive: timeout=5\r\n", false),
    ];
    for (version, headers, keep_alive) in cases {
        assert_eq!(
            get_with(version, headers).keep_alive,
            keep_alive,
            "{version} {headers:?}"
        );
    }
}

#[test]
fn websocket_upgrade() {
    let cases = [
        ("Upgrade: websocket\r\nConnection: Upgrade\r\n", true),
        (
            "Upgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n",
            true,
        ),
        ("Connection: Upgrade\r\nUpgrade: foo, websocket\r\n", true),
        ("Upgrade: websocket\r\n", false),
        ("Connection: Upgrade\r\n", false),
        ("Upgrade: h2c\r\nConnection: Upgrade\r\n", false),
        ("Upgrade: websockets\r\nConnection: Upgrade\r\n", false),
    ];
    for (headers, upgrade) in cases {
        assert_eq!(
            get_with("1.1", headers).upgrade_websocket,
            upgrade,
            "{headers:?}"
        );
    }
}

#[test]
fn expect_continue() {
    let cases = [
        ("1.1", "Expect: 100-continue\r\n", true),
        ("1.1", "Expect: 100-Continue\r\n", true),
        ("1.1", "Expect: foo\r\n", false),
        ("1.1", "", false),
        ("1.0", "Expect: 100-continue\r\n", false),
    ];
    for (version, headers, expected) in cases {
        assert_eq!(
            get_with(version, headers).expect_continue,
            expected,
            "{version} {headers:?}"
        );
    }
}

#[test]
fn pending_continue_is_reported_while_the_body_is_missing() {
    let head = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    let mut parser = RequestParser::new(Limits::default());
    let mut dechunked = Vec::new();
    assert!(matches!(
        parser.parse(&head[..10], &mut dechunked),
        Ok(Parsed::Partial { .. })
    ));
    assert!(!parser.pending_continue(), "head incomplete");
    assert!(matches!(
        parser.parse(head, &mut dechunked),
        Ok(Parsed::Partial { .. })
    ));
    assert!(parser.pending_continue());
    let mut full = head.to_vec();
    full.extend_from_slice(b"abc");
    assert!(matches!(
        parser.parse(&full, &mut dechunked),
        Ok(Parsed::Complete { .. })
    ));
    assert!(!parser.pending_continue());

    let chunked = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert!(matches!(
        parser.parse(chunked, &mut dechunked),
        Ok(Parsed::Partial { min_total: 0 })
    ));
    assert!(parser.pending_continue());

    let plain = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
    assert!(matches!(
        parser.parse(plain, &mut dechunked),
        Ok(Parsed::Partial { .. })
    ));
    assert!(!parser.pending_continue());
}

#[test]
fn content_encodings() {
    let cases = [
        ("", ContentEncoding::Identity),
        ("Content-Encoding: identity\r\n", ContentEncoding::Identity),
        ("Content-Encoding: gzip\r\n", ContentEncoding::Gzip),
        ("Content-Encoding: GZip\r\n", ContentEncoding::Gzip),
        ("Content-Encoding: x-gzip\r\n", ContentEncoding::Gzip),
        (
            "Content-Encoding: identity, gzip\r\n",
            ContentEncoding::Gzip,
        ),
        ("Content-Encoding: br\r\n", ContentEncoding::Unsupported),
        (
            "Content-Encoding: deflate\r\n",
            ContentEncoding::Unsupported,
        ),
        (
            "Content-Encoding: gzip, gzip\r\n",
            ContentEncoding::Unsupported,
        ),
        (
            "Content-Encoding: gzip\r\nContent-Encoding: br\r\n",
            ContentEncoding::Unsupported,
        ),
    ];
    for (headers, encoding) in cases {
        let r = ok(&post(&format!("{headers}Content-Length: 0\r\n"), ""));
        assert_eq!(r.content_encoding, encoding, "{headers:?}");
        assert_eq!(r.gzip, encoding == ContentEncoding::Gzip);
    }
}
