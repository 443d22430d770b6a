//! Every limit of [`Limits`] is inclusive and applies as soon as it is exceeded.

use super::*;

#[test]
fn header_bytes_limit_is_inclusive() {
    let limits = Limits {
        max_header_bytes: 100,
        ..Limits::default()
    };
    assert_eq!(ok_with(limits, &head_of_len(100)).consumed, 100);
    assert_eq!(
        err_with(limits, &head_of_len(101)),
        HttpError::HeadersTooLarge
    );
}

#[test]
fn header_bytes_limit_applies_as_soon_as_exceeded() {
    let limits = Limits {
        max_header_bytes: 100,
        ..Limits::default()
    };
    let endless = head_of_len(200);
    assert_eq!(
        parse(limits, &endless[..100]),
        Outcome::Partial { min_total: 0 }
    );
    assert_eq!(
        parse(limits, &endless[..101]),
        Outcome::Error(HttpError::HeadersTooLarge)
    );
    let blank_lines = b"\r\n".repeat(51);
    assert_eq!(
        parse(limits, &blank_lines[..100]),
        Outcome::Partial { min_total: 0 }
    );
    assert_eq!(
        parse(limits, &blank_lines),
        Outcome::Error(HttpError::HeadersTooLarge)
    );
    // The body is not part of the head.
    let with_body = |head_len: usize| {
        let mut raw = head_of_len(head_len - 20);
        raw.splice(16..16, b"Content-Length: 50\r\n".iter().copied());
        raw.extend_from_slice(&[b'b'; 50]);
        raw
    };
    assert_eq!(ok_with(limits, &with_body(100)).body, [b'b'; 50]);
    assert_eq!(
        err_with(limits, &with_body(101)),
        HttpError::HeadersTooLarge
    );
}

#[test]
fn header_count_limit_is_inclusive() {
    let limits = Limits {
        max_headers: 3,
        ..Limits::default()
    };
    assert_eq!(
        ok_with(limits, b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
            .headers
            .len(),
        3
    );
    assert_eq!(
        err_with(
            limits,
            b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"
        ),
        HttpError::TooManyHeaders
    );
    let none = Limits {
        max_headers: 0,
        ..Limits::default()
    };
    assert!(ok_with(none, b"GET / HTTP/1.1\r\n\r\n").headers.is_empty());
    assert_eq!(
        err_with(none, b"GET / HTTP/1.1\r\nA: 1\r\n\r\n"),
        HttpError::TooManyHeaders
    );
    // Refused as soon as the extra field is complete, before the head is.
    assert_eq!(
        parse(limits, b"GET / HTTP/1.1\r\nA:1\r\nB:2\r\nC:3\r\nD:4\r\n"),
        Outcome::Error(HttpError::TooManyHeaders)
    );
}

#[test]
fn many_headers_beyond_preallocation() {
    let limits = Limits {
        max_headers: 1000,
        max_header_bytes: 64 * 1024,
        ..Limits::default()
    };
    let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..1000 {
        raw.extend_from_slice(format!("H{i}: {i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let r = parse(limits, &raw);
    assert_eq!(r.request().headers.len(), 1000);
}

#[test]
fn body_limit_is_inclusive() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let at = post("Content-Length: 10\r\n", "0123456789");
    assert_eq!(ok_with(limits, at.as_bytes()).body, b"0123456789");
    let over = post("Content-Length: 11\r\n", "");
    assert_eq!(
        parse(limits, over.as_bytes()),
        Outcome::Error(HttpError::BodyTooLarge)
    );

    let chunked_at = post(
        "Transfer-Encoding: chunked\r\n",
        "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
    );
    assert_eq!(ok_with(limits, chunked_at.as_bytes()).body, b"0123456789");
    // Refused when the size line arrives, before its data.
    let chunked_over = post("Transfer-Encoding: chunked\r\n", "4\r\n0123\r\n7\r\n");
    assert_eq!(
        parse(limits, chunked_over.as_bytes()),
        Outcome::Error(HttpError::BodyTooLarge)
    );
}

#[test]
fn trailers_count_against_header_bytes() {
    let limits = Limits {
        max_header_bytes: 100,
        ..Limits::default()
    };
    let trailer = |len: usize| {
        let mut body = b"0\r\nT: ".to_vec();
        body.resize(body.len() + len - 7, b't');
        body.extend_from_slice(b"\r\n\r\n");
        let mut raw = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
        raw.extend_from_slice(&body);
        raw
    };
    assert!(matches!(parse(limits, &trailer(100)), Outcome::Complete(_)));
    assert_eq!(
        parse(limits, &trailer(101)),
        Outcome::Error(HttpError::HeadersTooLarge)
    );
}

#[test]
fn huge_limits_do_not_overflow() {
    let huge = Limits {
        max_header_bytes: usize::MAX,
        max_headers: usize::MAX,
        max_body_bytes: usize::MAX,
        max_decoded_body_bytes: usize::MAX,
    };
    let raw = post("Content-Length: 3\r\n", "abc");
    assert_eq!(ok_with(huge, raw.as_bytes()).body, b"abc");
}
