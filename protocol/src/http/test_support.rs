//! Helpers shared by the parser tests: owned snapshots of parse results, so results of different
//! calls (whole buffer vs. prefixes) can be compared.

use super::{ContentEncoding, HttpError, Limits, Method, Parsed, RequestParser, Version};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OwnedRequest {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub version: Version,
    pub keep_alive: bool,
    pub gzip: bool,
    pub content_encoding: ContentEncoding,
    pub expect_continue: bool,
    pub upgrade_websocket: bool,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub consumed: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Partial { min_total: usize },
    Complete(OwnedRequest),
    Error(HttpError),
}

impl Outcome {
    pub fn request(&self) -> &OwnedRequest {
        match self {
            Outcome::Complete(request) => request,
            other => panic!("expected a complete request, got {other:?}"),
        }
    }
}

pub(crate) fn parse_with(parser: &mut RequestParser, buf: &[u8]) -> Outcome {
    let mut dechunked = b"stale bytes from an earlier request".to_vec();
    let outcome = match parser.parse(buf, &mut dechunked) {
        Err(error) => return Outcome::Error(error),
        Ok(Parsed::Partial { min_total }) => return Outcome::Partial { min_total },
        Ok(Parsed::Complete { request, consumed }) => {
            assert!(
                consumed > 0 && consumed <= buf.len(),
                "consumed {consumed} of {}",
                buf.len()
            );
            assert!(request.path.starts_with('/'), "{:?}", request.path);
            assert_eq!(request.body_len(), request.raw_body(buf, &dechunked).len());
            assert_eq!(request.headers.len(), request.headers().count());
            OwnedRequest {
                method: request.method,
                path: request.path.to_string(),
                query: request.query.to_string(),
                version: request.version,
                keep_alive: request.keep_alive,
                gzip: request.gzip,
                content_encoding: request.content_encoding,
                expect_continue: request.expect_continue,
                upgrade_websocket: request.upgrade_websocket,
                headers: request
                    .headers()
                    .map(|(n, v)| (n.to_string(), v.to_vec()))
                    .collect(),
                body: request.raw_body(buf, &dechunked).to_vec(),
                consumed,
            }
        }
    };
    Outcome::Complete(outcome)
}

pub(crate) fn parse(limits: Limits, buf: &[u8]) -> Outcome {
    parse_with(&mut RequestParser::new(limits), buf)
}

pub(crate) fn parse_default(buf: &[u8]) -> Outcome {
    parse(Limits::default(), buf)
}

/// Checks that `prefix`, the outcome for `buf[..len]`, agrees with `whole`, the outcome for all of
/// `buf`: a prefix is either still partial or reaches the very same result, and a partial hint
/// never overshoots.
pub(crate) fn check_prefix(prefix: &Outcome, buf: &[u8], len: usize, whole: &Outcome) {
    match prefix {
        Outcome::Partial { min_total } => {
            assert!(
                *min_total == 0 || *min_total > len,
                "hint {min_total} at {len}"
            );
            match whole {
                Outcome::Complete(request) => assert!(*min_total <= request.consumed),
                Outcome::Partial { .. } => {}
                Outcome::Error(_) => {}
            }
            // The hint bounds success only: malformed bytes can still fail earlier.
            if *min_total > buf.len() {
                assert!(
                    !matches!(whole, Outcome::Complete(_)),
                    "hint {min_total}, whole {whole:?}"
                );
            }
        }
        _ => assert_eq!(
            prefix,
            whole,
            "prefix of {len} bytes of {:?}",
            String::from_utf8_lossy(buf)
        ),
    }
}

/// Parses `buf[..len]` with `parser`, which may resume from an earlier call, and checks that the
/// answer (and `pending_continue`) is exactly what a fresh parser gives for those bytes.
pub(crate) fn check_resumed(parser: &mut RequestParser, buf: &[u8], len: usize) -> Outcome {
    let resumed = parse_with(parser, &buf[..len]);
    let mut fresh_parser = RequestParser::new(*parser.limits());
    let fresh = parse_with(&mut fresh_parser, &buf[..len]);
    assert_eq!(
        resumed,
        fresh,
        "resumed vs fresh parse of {len} bytes of {:?}",
        String::from_utf8_lossy(buf)
    );
    assert_eq!(
        parser.pending_continue(),
        fresh_parser.pending_continue(),
        "pending_continue at {len}"
    );
    resumed
}

/// Feeds every prefix of `buf`, in growing order, to one parser (so every call but the first
/// resumes the previous one, as on a connection receiving one byte per read), and checks each
/// answer against a fresh parser and against the whole-buffer outcome, which it returns. Also
/// checks that once a request completes, every longer prefix gives the same result.
pub(crate) fn parse_every_prefix(limits: Limits, buf: &[u8]) -> Outcome {
    let whole = parse(limits, buf);
    let mut parser = RequestParser::new(limits);
    let mut settled = false;
    for len in 0..=buf.len() {
        let prefix = check_resumed(&mut parser, buf, len);
        check_prefix(&prefix, buf, len, &whole);
        let partial = matches!(prefix, Outcome::Partial { .. });
        assert!(
            !(settled && partial),
            "partial at {len} after a final result"
        );
        settled |= !partial;
    }
    whole
}
