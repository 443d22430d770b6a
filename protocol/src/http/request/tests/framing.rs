//! Where the body ends: Content-Length, chunked, or no body, and the refusals that keep two
//! parsers from disagreeing about it (request smuggling).

use super::*;

#[test]
fn content_length_body() {
    let raw = post("Content-Length: 5\r\n", "hello");
    let r = ok(&raw);
    assert_eq!(r.body, b"hello");
    assert_eq!(r.consumed, raw.len());
    assert_eq!(ok(&post("Content-Length: 0\r\n", "")).body, b"");
    assert_eq!(
        ok(&post("Content-Length: 007\r\n", "1234567")).body,
        b"1234567"
    );
}

#[test]
fn no_length_means_no_body() {
    let raw = "POST / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    let r = ok(raw);
    assert_eq!((r.body.as_slice(), r.consumed), (&b""[..], 19));
    assert_eq!(ok("GET / HTTP/1.0\r\n\r\n").body, b"");
}

#[test]
fn body_hint_is_exact_once_the_head_is_parsed() {
    let raw = post("Content-Length: 100\r\n", "");
    let head_len = raw.len();
    assert_eq!(
        parse_default(raw.as_bytes()),
        Outcome::Partial {
            min_total: head_len + 100
        }
    );
    let mut more = raw.into_bytes();
    more.extend_from_slice(&[b'x'; 99]);
    assert_eq!(
        parse_default(&more),
        Outcome::Partial {
            min_total: head_len + 100
        }
    );
    more.push(b'x');
    assert_eq!(parse_default(&more).request().consumed, head_len + 100);
    assert_eq!(
        parse_default(b"GET / HTTP/1.1\r\n"),
        Outcome::Partial { min_total: 0 }
    );
}

#[test]
fn repeated_content_length_must_agree() {
    let same = post("Content-Length: 3\r\ncontent-length: 3\r\n", "abc");
    assert_eq!(ok(&same).body, b"abc");
    assert_eq!(
        ok(&post("Content-Length: 3\r\nContent-Length: 003\r\n", "abc")).body,
        b"abc"
    );
    bad(
        &post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"),
        "conflicting Content-Length headers",
    );
}

#[test]
fn invalid_content_lengths() {
    for value in [
        "", "-1", "+5", "5 5", "0x10", "1.0", "5,5", "5, 5", "five", "\u{661}",
    ] {
        bad(
            &post(&format!("Content-Length: {value}\r\n"), ""),
            "invalid Content-Length",
        );
    }
}

#[test]
fn huge_content_length_is_refused_before_the_body() {
    assert_eq!(
        err(&post("Content-Length: 8388609\r\n", "")),
        HttpError::BodyTooLarge
    );
    assert_eq!(
        err(&post("Content-Length: 18446744073709551615\r\n", "")),
        HttpError::BodyTooLarge
    );
    assert_eq!(
        err(&post("Content-Length: 18446744073709551616\r\n", "")),
        HttpError::BodyTooLarge
    );
    assert_eq!(
        err(&post(
            &format!("Content-Length: {}\r\n", "9".repeat(100)),
            ""
        )),
        HttpError::BodyTooLarge
    );
    let unlimited = Limits {
        max_body_bytes: usize::MAX,
        ..Limits::default()
    };
    let max = post("Content-Length: 18446744073709551615\r\n", "");
    assert_eq!(
        parse(unlimited, max.as_bytes()),
        Outcome::Error(HttpError::BodyTooLarge),
        "end overflows"
    );
}

#[test]
fn chunked_body() {
    let raw = post(
        "Transfer-Encoding: chunked\r\n",
        "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n",
    );
    let r = ok(&raw);
    assert_eq!(r.body, b"hello, world");
    assert_eq!(r.consumed, raw.len());
    assert_eq!(
        ok(&post("Transfer-Encoding: Chunked\r\n", "0\r\n\r\n")).body,
        b""
    );
    assert_eq!(
        ok(&post(
            "Transfer-Encoding:  chunked , \r\n",
            "1\r\na\r\n0\r\n\r\n"
        ))
        .body,
        b"a"
    );
}

#[test]
fn chunked_body_is_copied_only_when_complete() {
    let raw = post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
    let mut parser = RequestParser::new(Limits::default());
    let mut dechunked = Vec::new();
    let partial = parser.parse(&raw.as_bytes()[..raw.len() - 1], &mut dechunked);
    assert!(matches!(partial, Ok(Parsed::Partial { .. })));
    assert!(dechunked.is_empty());
    let Ok(Parsed::Complete { request, .. }) = parser.parse(raw.as_bytes(), &mut dechunked) else {
        panic!("incomplete");
    };
    assert_eq!(request.body_len(), 5);
    assert_eq!(request.raw_body(raw.as_bytes(), &dechunked), b"hello");
}

#[test]
fn content_length_requests_do_not_touch_dechunked_or_grow_storage() {
    let raw = post("Content-Length: 2\r\nA: 1\r\nB: 2\r\n", "hi");
    let mut parser = RequestParser::new(Limits::default());
    let capacity = parser.fields.capacity();
    let mut dechunked = Vec::new();
    for _ in 0..3 {
        assert!(matches!(
            parser.parse(raw.as_bytes(), &mut dechunked),
            Ok(Parsed::Complete { .. })
        ));
    }
    assert_eq!(dechunked.capacity(), 0);
    assert_eq!(parser.fields.capacity(), capacity);
    assert!(capacity >= Limits::default().max_headers);
}

#[test]
fn transfer_coding_rules() {
    let te = |value: &str| post(&format!("Transfer-Encoding: {value}\r\n"), "0\r\n\r\n");
    for value in [
        "gzip, chunked",
        "chunked, gzip",
        "identity",
        "chunked, chunked",
        "",
        "chunked;q=1",
        "x",
    ] {
        assert_eq!(
            err(&te(value)),
            HttpError::UnsupportedTransferEncoding,
            "{value:?}"
        );
    }
    let twice = post(
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
        "0\r\n\r\n",
    );
    assert_eq!(err(&twice), HttpError::UnsupportedTransferEncoding);
}

#[test]
fn content_length_with_transfer_encoding_is_refused() {
    const BOTH: &str = "both Content-Length and Transfer-Encoding";
    bad(
        &post(
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "0\r\n\r\n",
        ),
        BOTH,
    );
    bad(
        &post(
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
            "0\r\n\r\n",
        ),
        BOTH,
    );
    bad(
        &post(
            "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
            "0\r\n\r\n",
        ),
        BOTH,
    );
}

#[test]
fn transfer_encoding_in_http10_is_refused() {
    bad(
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "Transfer-Encoding in HTTP/1.0 request",
    );
}

#[test]
fn invalid_chunked_framing_surfaces() {
    let chunked = |body: &str| post("Transfer-Encoding: chunked\r\n", body);
    bad(&chunked("z\r\n"), "invalid chunk size");
    bad(&chunked("5\r\nhelloXY"), "invalid chunk data terminator");
    bad(&chunked("5\nhello\r\n"), "invalid chunk size line");
    assert_eq!(
        err(&chunked("FFFFFFFFFFFFFFFFF\r\n")),
        HttpError::BodyTooLarge
    );
    let unlimited = Limits {
        max_body_bytes: usize::MAX,
        ..Limits::default()
    };
    let overflow = chunked("FFFFFFFFFFFFFFFFF\r\n");
    assert_eq!(
        err_with(unlimited, overflow.as_bytes()),
        HttpError::BadRequest("invalid chunk size")
    );
}

#[test]
fn large_content_length_body() {
    let body = "x".repeat(1 << 20);
    let raw = post(&format!("Content-Length: {}\r\n", body.len()), &body);
    assert_eq!(parse_default(raw.as_bytes()).request().body.len(), 1 << 20);
}
