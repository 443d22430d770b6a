//! Response serialisation into a caller-owned, reused `Vec<u8>`: nothing here allocates beyond
//! growing `out`.

use smallvec::SmallVec;

use super::HttpError;

/// What goes in front of a response body.
#[derive(Clone, Copy, Debug)]
pub struct ResponseHead<'a> {
    pub status: u16,
    /// Omitted when empty.
    pub content_type: &'a str,
    /// false writes "Connection: close". true writes "Connection: keep-alive", which HTTP/1.0
    /// clients (e.g. `ab -k`) need to keep the connection open and HTTP/1.1 clients ignore.
    pub keep_alive: bool,
    /// Written verbatim as "name: value"; must not contain CR or LF.
    pub extra_headers: &'a [(&'a str, &'a str)],
}

/// Marks where the body of a response opened with [`begin_response`] starts in `out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "pass it to finish_response"]
pub struct BodyStart {
    at: usize,
    framed: bool,
}

/// "Content-Length: " + 20 digits + CRLF + CRLF fits.
type Tail = SmallVec<[u8; 48]>;

/// Reason phrase for `status`; "" (allowed by RFC 9112 §4) for codes this server doesn't use.
pub fn status_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends a complete response. 1xx, 204 and 304 responses can't carry a body (RFC 9110 §6.4.1):
/// theirs is dropped and no Content-Length is written.
pub fn write_response(out: &mut Vec<u8>, head: &ResponseHead<'_>, body: &[u8]) {
    let start = begin_response(out, head);
    let body = if start.framed { body } else { &[] };
    out.extend_from_slice(&tail(start.framed, body.len()));
    out.extend_from_slice(body);
}

/// Appends the head of a response to a HEAD request: the Content-Length `body_len` the GET response
/// would have had, and no body.
pub fn write_head_response(out: &mut Vec<u8>, head: &ResponseHead<'_>, body_len: usize) {
    let start = begin_response(out, head);
    out.extend_from_slice(&tail(start.framed, body_len));
}

/// Appends everything of the head except Content-Length and the empty line. Append the body to
/// `out`, then call [`finish_response`].
pub fn begin_response(out: &mut Vec<u8>, head: &ResponseHead<'_>) -> BodyStart {
    write_status_line(out, head.status);
    if !head.content_type.is_empty() {
        write_header(out, "Content-Type", head.content_type);
    }
    // An interim response (101 Switching Protocols) says nothing about the connection; the caller
    // adds "Connection: Upgrade" itself, and some clients read only the first Connection field.
    if head.status >= 200 {
        write_header(
            out,
            "Connection",
            if head.keep_alive {
                "keep-alive"
            } else {
                "close"
            },
        );
    }
    for (name, value) in head.extra_headers {
        write_header(out, name, value);
    }
    BodyStart {
        at: out.len(),
        framed: has_body(head.status),
    }
}

/// Inserts "Content-Length: N" and the empty line in front of the body appended since
/// [`begin_response`]. Cost: one `memmove` of the body (far cheaper than serialising it); it keeps
/// the header exact, with no padding, and needs no scratch buffer.
///
/// # Panics If `out` was truncated below the body's start in between, a caller bug that would
/// corrupt the stream.
pub fn finish_response(out: &mut Vec<u8>, start: BodyStart) {
    assert!(
        start.at <= out.len(),
        "`out` was truncated between begin_response and finish_response"
    );
    if !start.framed {
        debug_assert_eq!(
            out.len(),
            start.at,
            "1xx, 204 and 304 responses can't have a body"
        );
        out.truncate(start.at);
    }
    let body_len = out.len() - start.at;
    out.splice(start.at..start.at, tail(start.framed, body_len));
}

/// `HTTP/1.1 100 Continue` for a request that sent "Expect: 100-continue".
pub fn write_continue(out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// A plain-text error response for `error`. The connection is kept only if the caller wants to and
/// the error left the byte stream in sync.
pub fn write_error(out: &mut Vec<u8>, error: HttpError, keep_alive: bool) {
    let head = ResponseHead {
        status: error.status(),
        content_type: "text/plain; charset=utf-8",
        keep_alive: keep_alive && !error.must_close(),
        extra_headers: &[],
    };
    write_response(out, &head, error.message().as_bytes());
}

fn has_body(status: u16) -> bool {
    status >= 200 && status != 204 && status != 304
}

fn write_status_line(out: &mut Vec<u8>, status: u16) {
    debug_assert!(
        (100..=999).contains(&status),
        "status codes have three digits"
    );
    let mut digits = [0; 20];
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(decimal(usize::from(status), &mut digits));
    out.push(b' ');
    out.extend_from_slice(status_reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `name: value` and the line ending. Neither may contain CR or LF (checked in debug builds).
pub(super) fn write_header(out: &mut Vec<u8>, name: &str, value: &str) {
    debug_assert!(!name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']));
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The end of the head: Content-Length if the status allows a body, then the empty line.
fn tail(framed: bool, body_len: usize) -> Tail {
    let mut tail = Tail::new();
    if framed {
        let mut digits = [0; 20];
        tail.extend_from_slice(b"Content-Length: ");
        tail.extend_from_slice(decimal(body_len, &mut digits));
        tail.extend_from_slice(b"\r\n");
    }
    tail.extend_from_slice(b"\r\n");
    debug_assert!(!tail.spilled());
    tail
}

/// Formats `value` in decimal at the end of `buf` (20 digits hold `u64::MAX`) and returns the
/// digits.
fn decimal(mut value: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut len = 0;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        len += 1;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let start = buf.len() - len;
    buf.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, keep_alive: bool) -> ResponseHead<'static> {
        ResponseHead {
            status,
            content_type: "application/json",
            keep_alive,
            extra_headers: &[],
        }
    }

    fn text(out: &[u8]) -> &str {
        std::str::from_utf8(out).unwrap()
    }

    #[test]
    fn decimal_formatting() {
        let mut buf = [0; 20];
        for (value, expected) in [
            (0, "0"),
            (7, "7"),
            (10, "10"),
            (99, "99"),
            (100, "100"),
            (123_456_789, "123456789"),
            (usize::MAX, &*usize::MAX.to_string()),
        ] {
            assert_eq!(decimal(value, &mut buf), expected.as_bytes());
        }
    }

    #[test]
    fn keep_alive_response() {
        let mut out = Vec::new();
        write_response(&mut out, &head(200, true), b"{\"ok\":true}");
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n\
             Content-Length: 11\r\n\r\n{\"ok\":true}"
        );
    }

    #[test]
    fn closing_response_with_extra_headers_appends_to_existing_output() {
        let mut out = b"previous".to_vec();
        let extra = [("Retry-After", "1"), ("X-Shard", "3")];
        let head = ResponseHead {
            extra_headers: &extra,
            ..head(503, false)
        };
        write_response(&mut out, &head, b"");
        assert_eq!(
            text(&out),
            "previousHTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
             Connection: close\r\nRetry-After: 1\r\nX-Shard: 3\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn bodiless_statuses_have_no_content_length() {
        let mut out = Vec::new();
        let head204 = ResponseHead {
            content_type: "",
            ..head(204, true)
        };
        write_response(&mut out, &head204, b"");
        assert_eq!(
            text(&out),
            "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
        );

        out.clear();
        let upgrade = [("Upgrade", "websocket"), ("Connection", "Upgrade")];
        let head101 = ResponseHead {
            status: 101,
            content_type: "",
            keep_alive: true,
            extra_headers: &upgrade,
        };
        write_response(&mut out, &head101, b"");
        assert_eq!(
            text(&out),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        );
    }

    #[test]
    fn unknown_status_has_empty_reason() {
        let mut out = Vec::new();
        let head = ResponseHead {
            content_type: "",
            ..head(299, true)
        };
        write_response(&mut out, &head, b"x");
        assert_eq!(
            text(&out),
            "HTTP/1.1 299 \r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx"
        );
    }

    #[test]
    fn head_response_announces_length_without_body() {
        let mut out = Vec::new();
        write_head_response(&mut out, &head(200, true), 1234);
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n\
             Content-Length: 1234\r\n\r\n"
        );
    }

    #[test]
    fn begin_finish_matches_write_response() {
        for body_len in [0, 1, 9, 10, 99, 100, 12345, 100_000] {
            let body: Vec<u8> = (0..body_len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut expected = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            write_response(&mut expected, &head(200, true), &body);

            let mut out = Vec::new();
            write_continue(&mut out);
            let start = begin_response(&mut out, &head(200, true));
            out.extend_from_slice(&body);
            finish_response(&mut out, start);
            assert_eq!(out, expected, "{body_len}");
        }
    }

    #[test]
    fn begin_finish_without_body_status() {
        let mut out = Vec::new();
        let start = begin_response(
            &mut out,
            &ResponseHead {
                content_type: "",
                ..head(204, false)
            },
        );
        finish_response(&mut out, start);
        assert_eq!(
            text(&out),
            "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn error_responses() {
        let mut out = Vec::new();
        write_error(&mut out, HttpError::BadRequest("invalid header name"), true);
        assert_eq!(
            text(&out),
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Connection: close\r\nContent-Length: 19\r\n\r\ninvalid header name"
        );
        out.clear();
        write_error(&mut out, HttpError::UnsupportedContentEncoding, true);
        assert!(text(&out).starts_with("HTTP/1.1 415 Unsupported Media Type\r\n"));
        assert!(text(&out).contains("Connection: keep-alive\r\n"));
    }

    #[test]
    fn reasons() {
        let expected = [
            (100, "Continue"),
            (101, "Switching Protocols"),
            (200, "OK"),
            (204, "No Content"),
            (400, "Bad Request"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (408, "Request Timeout"),
            (413, "Content Too Large"),
            (415, "Unsupported Media Type"),
            (431, "Request Header Fields Too Large"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (503, "Service Unavailable"),
            (505, "HTTP Version Not Supported"),
            (599, ""),
        ];
        for (status, reason) in expected {
            assert_eq!(status_reason(status), reason);
        }
    }

    #[test]
    fn continue_line() {
        let mut out = Vec::new();
        write_continue(&mut out);
        assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
}
