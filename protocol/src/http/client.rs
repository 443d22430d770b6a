//! The client side of HTTP/1.1, for the load generator and tests: a request-head writer and an
//! allocation-free response parser. No I/O.
//!
//! [`parse_response`] is stateless (unlike the resumable request parser): it starts from the
//! beginning of the buffer on every call and says how many bytes it needs when the response is
//! incomplete. A Content-Length body is returned as a slice of the read buffer; a chunked body is
//! decoded into a caller-owned scratch vector that is reused from one response to the next.

use super::chunked::{self, Scan};
use super::fields::{list_elements, trim_ows};
use super::response::write_header;
use super::{HttpError, Limits};

/// Bounds on what a server can make the client buffer.
#[derive(Clone, Copy, Debug)]
pub struct ResponseLimits {
    /// Status line + header fields + the empty line.
    pub max_head_bytes: usize,
    /// Body bytes as framed on the wire.
    pub max_body_bytes: usize,
}

impl Default for ResponseLimits {
    fn default() -> Self {
        ResponseLimits {
            max_head_bytes: 64 * 1024,
            max_body_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Why a response could not be parsed. The connection is unusable afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseError(pub &'static str);

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ResponseError {}

/// How the body of a response is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// 1xx, 204, 304, or a response to HEAD: no body at all.
    NoBody,
    Length(usize),
    Chunked,
    /// Neither Content-Length nor chunked: the body runs until the server closes the connection.
    UntilClose,
}

/// The parsed status line and the header fields a client needs to frame and reuse a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    /// HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`.
    pub keep_alive: bool,
    pub framing: Framing,
    /// Bytes of the status line, the header fields and the empty line.
    pub head_len: usize,
    /// `Content-Encoding: gzip` (or x-gzip): the body is a gzip member to inflate.
    pub gzip: bool,
}

/// Outcome of [`parse_response`].
#[derive(Debug, PartialEq, Eq)]
pub enum ParsedResponse<'b> {
    /// Incomplete: call again once the buffer holds at least `min_total` bytes (counted from the
    /// start of the buffer; `buf.len() + 1` when the parser can't tell).
    Partial { min_total: usize },
    Complete {
        head: ResponseHead,
        /// The body: a slice of the buffer, or of the scratch vector for a chunked body.
        body: &'b [u8],
        /// Bytes of the buffer this response occupies; a pipelined next response starts there.
        consumed: usize,
    },
}

/// Parses the response head at the start of `buf`. `Ok(None)`: the head is not complete yet.
/// `head_request` must be true when the request was HEAD (its response has no body whatever the
/// headers say).
pub fn parse_response_head(
    buf: &[u8],
    limits: &ResponseLimits,
    head_request: bool,
) -> Result<Option<ResponseHead>, ResponseError> {
    let Some(head_len) = find_head_end(buf, limits.max_head_bytes)? else {
        return Ok(None);
    };
    let head = &buf[..head_len];
    let mut lines = HeadLines { buf: head, pos: 0 };
    let status_line = lines.next().ok_or(ResponseError("empty response head"))?;
    let (http11, status) = parse_status_line(status_line)?;

    let mut keep_alive = http11;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut gzip = false;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            return Err(ResponseError("obsolete header line folding"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ResponseError("header line without a colon"))?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
            return Err(ResponseError("invalid header name"));
        }
        let value = trim_ows(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_decimal(value).ok_or(ResponseError("invalid Content-Length"))?;
            if content_length.is_some_and(|m| m != n) {
                return Err(ResponseError("conflicting Content-Length values"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            // Only "chunked" as the final coding frames the body; anything else is refused.
            let last = value.rsplit(|&b| b == b',').next().map(trim_ows);
            if last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked")) {
                chunked = true;
            } else {
                return Err(ResponseError("unsupported Transfer-Encoding"));
            }
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            gzip = value.eq_ignore_ascii_case(b"gzip") || value.eq_ignore_ascii_case(b"x-gzip");
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in list_elements(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && !http11 {
                    keep_alive = true;
                }
            }
        }
    }
    let framing = if head_request || status < 200 || status == 204 || status == 304 {
        Framing::NoBody
    } else if chunked {
        if content_length.is_some() {
            return Err(ResponseError(
                "both Content-Length and Transfer-Encoding: chunked",
            ));
        }
        Framing::Chunked
    } else if let Some(n) = content_length {
        if n > limits.max_body_bytes {
            return Err(ResponseError("response body too large"));
        }
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    if framing == Framing::UntilClose {
        keep_alive = false;
    }
    Ok(Some(ResponseHead {
        status,
        keep_alive,
        framing,
        head_len,
        gzip,
    }))
}

/// Parses one complete response at the start of `buf`. A close-delimited body
/// ([`Framing::UntilClose`]) is reported as an error: callers that need it read until EOF
/// themselves, using [`parse_response_head`]. Interim (1xx) responses are returned like any other;
/// the caller skips them.
pub fn parse_response<'b>(
    buf: &'b [u8],
    scratch: &'b mut Vec<u8>,
    limits: &ResponseLimits,
    head_request: bool,
) -> Result<ParsedResponse<'b>, ResponseError> {
    let Some(head) = parse_response_head(buf, limits, head_request)? else {
        return Ok(ParsedResponse::Partial {
            min_total: buf.len() + 1,
        });
    };
    let rest = &buf[head.head_len..];
    match head.framing {
        Framing::NoBody => Ok(ParsedResponse::Complete {
            head,
            body: &[],
            consumed: head.head_len,
        }),
        Framing::Length(n) => {
            let total = head.head_len + n;
            if buf.len() < total {
                Ok(ParsedResponse::Partial { min_total: total })
            } else {
                Ok(ParsedResponse::Complete {
                    head,
                    body: &rest[..n],
                    consumed: total,
                })
            }
        }
        Framing::Chunked => {
            let chunk_limits = Limits {
                max_header_bytes: limits.max_head_bytes,
                max_body_bytes: limits.max_body_bytes,
                ..Limits::default()
            };
            // Walk without copying until the body is complete, then decode once.
            match chunked::scan(rest, &chunk_limits, None).map_err(chunk_error)? {
                Scan::Partial { min_total } => Ok(ParsedResponse::Partial {
                    min_total: (head.head_len + min_total).max(buf.len() + 1),
                }),
                Scan::Complete(c) => {
                    scratch.clear();
                    chunked::scan(rest, &chunk_limits, Some(scratch)).map_err(chunk_error)?;
                    Ok(ParsedResponse::Complete {
                        head,
                        body: scratch.as_slice(),
                        consumed: head.head_len + c.wire_len,
                    })
                }
            }
        }
        Framing::UntilClose => Err(ResponseError(
            "response without Content-Length or chunked framing",
        )),
    }
}

/// Appends a request head: request line, `Host`, the given fields, `Content-Length` when
/// `content_length` is given, and the empty line. Values must not contain CR or LF.
pub fn write_request_head(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(&str, &str)],
    content_length: Option<usize>,
) {
    debug_assert!(!target.contains(['\r', '\n', ' ']));
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    write_header(out, "Host", host);
    for (name, value) in headers {
        write_header(out, name, value);
    }
    if let Some(n) = content_length {
        write_header(out, "Content-Length", &n.to_string());
    }
    out.extend_from_slice(b"\r\n");
}

fn chunk_error(e: HttpError) -> ResponseError {
    match e {
        HttpError::BodyTooLarge => ResponseError("response body too large"),
        HttpError::HeadersTooLarge => ResponseError("response trailers too large"),
        _ => ResponseError("invalid chunked response body"),
    }
}

/// Length of the head (through the empty line) if it is complete. Accepts CRLF and bare LF line
/// endings.
fn find_head_end(buf: &[u8], max: usize) -> Result<Option<usize>, ResponseError> {
    let window = &buf[..buf.len().min(max)];
    let mut pos = 0;
    while let Some(nl) = window[pos..].iter().position(|&b| b == b'\n') {
        let end = pos + nl + 1;
        match window.get(end) {
            Some(b'\n') => return Ok(Some(end + 1)),
            Some(b'\r') => match window.get(end + 1) {
                Some(b'\n') => return Ok(Some(end + 2)),
                Some(_) => return Err(ResponseError("bare CR in response head")),
                None => break,
            },
            Some(_) => pos = end,
            None => break,
        }
    }
    if buf.len() >= max {
        return Err(ResponseError("response head too large"));
    }
    Ok(None)
}

/// Lines of a complete head, without their line endings.
struct HeadLines<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl<'b> Iterator for HeadLines<'b> {
    type Item = &'b [u8];
    fn next(&mut self) -> Option<&'b [u8]> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        self.pos += nl + 1;
        let line = &rest[..nl];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// `HTTP/1.x SSS [reason]` → (is HTTP/1.1, status).
fn parse_status_line(line: &[u8]) -> Result<(bool, u16), ResponseError> {
    const INVALID: ResponseError = ResponseError("invalid status line");
    let http11 = match line.get(..9) {
        Some(b"HTTP/1.1 ") => true,
        Some(b"HTTP/1.0 ") => false,
        _ => return Err(INVALID),
    };
    let code = line.get(9..12).ok_or(INVALID)?;
    if !code.iter().all(u8::is_ascii_digit) || !matches!(line.get(12), None | Some(b' ')) {
        return Err(INVALID);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if status < 100 {
        return Err(INVALID);
    }
    Ok((http11, status))
}

fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + usize::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<ParsedResponse<'_>, ResponseError> {
        // The scratch vector must outlive the result; leak it in tests.
        let scratch = Box::leak(Box::new(Vec::new()));
        parse_response(buf, scratch, &ResponseLimits::default(), false)
    }

    fn complete(buf: &[u8]) -> (ResponseHead, Vec<u8>, usize) {
        match parse(buf) {
            Ok(ParsedResponse::Complete {
                head,
                body,
                consumed,
            }) => (head, body.to_vec(), consumed),
            other => panic!("expected a complete response, got {other:?}"),
        }
    }

    #[test]
    fn content_length_response() {
        let raw =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let (head, body, consumed) = complete(raw);
        assert_eq!(head.status, 200);
        assert!(head.keep_alive);
        assert_eq!(head.framing, Framing::Length(2));
        assert_eq!(body, b"{}");
        assert_eq!(consumed, raw.len());
    }

    #[test]
    fn every_prefix_is_partial_and_pipelined_rest_is_left() {
        let one =
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nnope!";
        for n in 0..one.len() {
            match parse(&one[..n]) {
                Ok(ParsedResponse::Partial { min_total }) => {
                    assert!(min_total > n && min_total <= one.len(), "{n}: {min_total}")
                }
                other => panic!("prefix {n}: {other:?}"),
            }
        }
        let mut two = one.to_vec();
        two.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let (head, body, consumed) = complete(&two);
        assert_eq!(
            (head.status, body.as_slice(), consumed),
            (404, &b"nope!"[..], one.len())
        );
    }

    #[test]
    fn chunked_response_is_decoded() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT";
        let (head, body, consumed) = complete(raw);
        assert_eq!(head.framing, Framing::Chunked);
        assert_eq!(body, b"abcde");
        assert_eq!(consumed, raw.len() - 4);
        for n in 0..raw.len() - 4 {
            assert!(
                matches!(parse(&raw[..n]), Ok(ParsedResponse::Partial { .. })),
                "prefix {n}"
            );
        }
    }

    #[test]
    fn connection_semantics() {
        let (head, _, _) =
            complete(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert!(!head.keep_alive);
        let (head, _, _) = complete(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(!head.keep_alive);
        let (head, _, _) =
            complete(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
        assert!(head.keep_alive);
        // Bare LF line endings are accepted.
        let (head, body, _) = complete(b"HTTP/1.1 204 No Content\nX: y\n\n");
        assert_eq!(
            (head.status, head.framing, body.len()),
            (204, Framing::NoBody, 0)
        );
    }

    #[test]
    fn head_request_and_no_body_statuses() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        let mut scratch = Vec::new();
        let parsed = parse_response(raw, &mut scratch, &ResponseLimits::default(), true).unwrap();
        assert!(
            matches!(parsed, ParsedResponse::Complete { consumed, .. } if consumed == raw.len())
        );
        let (head, _, consumed) = complete(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n");
        assert_eq!((head.status, consumed), (100, 25));
    }

    #[test]
    fn malformed_responses_are_errors() {
        let cases: &[&[u8]] = &[
            b"HTTP/2 200 OK\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\rX\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\n\r\nclose-delimited",
        ];
        for &raw in cases {
            assert!(parse(raw).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
        let limits = ResponseLimits {
            max_head_bytes: 32,
            max_body_bytes: 4,
        };
        let mut scratch = Vec::new();
        let long = b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        assert!(parse_response(long, &mut scratch, &limits, false).is_err());
        let big = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        assert!(parse_response(big, &mut scratch, &limits, false).is_err());
    }

    #[test]
    fn request_head() {
        let mut out = Vec::new();
        write_request_head(
            &mut out,
            "POST",
            "/api/registry/heartbeat.json",
            "127.0.0.1:8080",
            &[("Content-Type", "application/json")],
            Some(12),
        );
        assert_eq!(
            out,
            b"POST /api/registry/heartbeat.json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\
Content-Type: application/json\r\nContent-Length: 12\r\n\r\n"
        );
    }
}
