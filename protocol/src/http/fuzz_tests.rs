//! Deterministic randomized robustness tests (no extra crates): random bytes, mutated valid
//! requests and valid requests split at random points. The properties: `parse` never panics,
//! `consumed <= buf.len()`, feeding a prefix is either still partial or agrees with feeding the
//! whole buffer, and a parser resuming across calls on growing prefixes (random split sequences, as
//! a connection receives them) answers exactly like a fresh parser. `protocol/fuzz` runs the first
//! properties under libFuzzer.

use super::test_support::{check_prefix, check_resumed, parse_with, Outcome, OwnedRequest};
use super::{encoded_body, inflate_gzip, EncodedBody, GzipLimits, Limits, Parsed, RequestParser};

use crate::rng::Rng;

/// Fragments that steer random inputs into the interesting parts of the grammar.
const FRAGMENTS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"/",
    b"/a?b=c",
    b" HTTP/1.1",
    b" HTTP/1.0",
    b" HTTP/2.0",
    b"\r\n",
    b"\n",
    b"\r",
    b": ",
    b":",
    b" ",
    b"\t",
    b"Host: h",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked",
    b"Connection: close",
    b"Content-Encoding: gzip",
    b"Expect: 100-continue",
    b"0",
    b"5",
    b"ffffffff",
    b";ext",
    b"hello",
    b"\x00",
    b"\xff",
    b"\r\n\r\n",
    b"0\r\n\r\n",
    b"1\r\na\r\n",
];

fn limits_for(rng: &mut Rng) -> Limits {
    if rng.chance(70) {
        return Limits::default();
    }
    Limits {
        max_header_bytes: 16 + rng.below(200),
        max_headers: rng.below(6),
        max_body_bytes: rng.below(64),
        max_decoded_body_bytes: rng.below(64),
    }
}

/// Parses `buf` whole, then at a few random split points in random order with the same parser
/// (resuming when a prefix grows, starting over when it shrinks), then as growing prefixes,
/// checking the properties; then the pipelined rest.
fn check(rng: &mut Rng, limits: Limits, buf: &[u8]) -> Outcome {
    let mut parser = RequestParser::new(limits);
    let whole = parse_with(&mut parser, buf);
    for _ in 0..3 {
        let len = rng.below(buf.len() + 1);
        let prefix = check_resumed(&mut parser, buf, len);
        check_prefix(&prefix, buf, len, &whole);
    }
    check_growing(rng, limits, buf, &whole);
    decode_if_complete(&mut parser, buf, &limits);
    if let Outcome::Complete(request) = &whole {
        let rest = &buf[request.consumed..];
        if !rest.is_empty() {
            let next = parse_with(&mut parser, rest);
            let len = rng.below(rest.len() + 1);
            let prefix = check_resumed(&mut parser, rest, len);
            check_prefix(&prefix, rest, len, &next);
            check_growing(rng, limits, rest, &next);
        }
    }
    whole
}

/// Feeds one parser growing prefixes of `buf`, split at random (steps of 0, 1, a few or many
/// bytes), until it answers other than `Partial` or has the whole buffer. Every answer must equal
/// a fresh parser's and agree with `whole`. Now and then the caller starts over, with `reset` or
/// a shorter prefix, as it may.
fn check_growing(rng: &mut Rng, limits: Limits, buf: &[u8], whole: &Outcome) {
    let mut parser = RequestParser::new(limits);
    let mut len = 0;
    loop {
        let outcome = check_resumed(&mut parser, buf, len);
        check_prefix(&outcome, buf, len, whole);
        if !matches!(outcome, Outcome::Partial { .. }) {
            assert_eq!(&outcome, whole);
            return;
        }
        if len == buf.len() {
            return;
        }
        if rng.chance(3) {
            parser.reset();
        } else if rng.chance(3) {
            len = rng.below(len + 1);
            continue;
        }
        let step = match rng.below(4) {
            0 => 0,
            1 => 1,
            2 => rng.below(8),
            _ => rng.below(buf.len() - len + 1),
        };
        len = (len + step).min(buf.len());
    }
}

/// Delivers `stream` the way the server's connection loop sees it: reads of random sizes appended
/// to a buffer that is drained of each complete request; parses the unconsumed bytes again after
/// every read, unless fewer are buffered than the last `min_total` hint (so a hint that
/// overshoots leaves a request unparsed at the end). Returns the requests in order.
fn serve_like_a_connection(rng: &mut Rng, limits: Limits, stream: &[u8]) -> Vec<OwnedRequest> {
    let mut parser = RequestParser::new(limits);
    let mut buf = Vec::new();
    let mut received = 0;
    let mut min_total = 0;
    let mut requests = Vec::new();
    loop {
        while !buf.is_empty() && buf.len() >= min_total {
            match parse_with(&mut parser, &buf) {
                Outcome::Complete(request) => {
                    buf.drain(..request.consumed);
                    min_total = 0;
                    requests.push(request);
                }
                Outcome::Partial { min_total: hint } => {
                    min_total = hint;
                    break;
                }
                Outcome::Error(error) => {
                    panic!("{error:?} in {:?}", String::from_utf8_lossy(stream))
                }
            }
        }
        if received == stream.len() {
            break;
        }
        let read = match rng.below(3) {
            0 => 1,
            1 => 1 + rng.below(16),
            _ => 1 + rng.below(stream.len() - received),
        };
        let read = read.min(stream.len() - received);
        buf.extend_from_slice(&stream[received..received + read]);
        received += read;
    }
    assert!(
        buf.is_empty(),
        "{} bytes left unparsed (hint {min_total})",
        buf.len()
    );
    requests
}

/// Decoding a body must not panic either, whatever the parser accepted.
fn decode_if_complete(parser: &mut RequestParser, buf: &[u8], limits: &Limits) {
    let mut dechunked = Vec::new();
    let mut inflated = Vec::new();
    if let Ok(Parsed::Complete { request, .. }) = parser.parse(buf, &mut dechunked) {
        if let Ok(EncodedBody::Gzip(body)) = encoded_body(&request, buf, &dechunked) {
            let limits = GzipLimits {
                max_output: limits.max_decoded_body_bytes,
                max_members: 4,
            };
            let _ = inflate_gzip(body, &mut inflated, limits);
        }
    }
}

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut buf = Vec::new();
    let pieces = rng.below(24);
    for _ in 0..pieces {
        if rng.chance(50) {
            buf.extend_from_slice(rng.pick(FRAGMENTS));
        } else {
            let len = rng.below(8);
            buf.extend((0..len).map(|_| rng.next_u64() as u8));
        }
    }
    buf
}

/// A random valid request and the body it carries.
fn valid_request(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let eol: &[u8] = if rng.chance(80) { b"\r\n" } else { b"\n" };
    let chunked = rng.chance(40);
    let mut raw = Vec::new();
    if rng.chance(10) {
        raw.extend_from_slice(eol);
    }
    raw.extend_from_slice(rng.pick(&[&b"GET"[..], b"POST", b"PUT", b"DELETE", b"X-CUSTOM"]));
    raw.extend_from_slice(rng.pick(&[
        &b" /"[..],
        b" /api/registry",
        b" /a/b?c=d&e",
        b" http://h:1/p?q#f",
    ]));
    let version: &[u8] = if chunked || rng.chance(80) {
        b" HTTP/1.1"
    } else {
        b" HTTP/1.0"
    };
    raw.extend_from_slice(version);
    raw.extend_from_slice(eol);
    for _ in 0..rng.below(5) {
        let field = rng.pick(&[
            &b"Host: example"[..],
            b"X-Id:  42 ",
            b"Connection: keep-alive, upgrade",
            b"Content-Encoding: gzip",
            b"Expect: 100-continue",
            b"Accept:\t*/*",
            b"Empty:",
        ]);
        if field.starts_with(b"Host") && raw.windows(4).any(|w| w == b"Host") {
            continue;
        }
        raw.extend_from_slice(field);
        raw.extend_from_slice(eol);
    }
    let body: Vec<u8> = (0..rng.below(40))
        .map(|_| b'a' + rng.below(26) as u8)
        .collect();
    if chunked {
        raw.extend_from_slice(b"Transfer-Encoding: chunked");
        raw.extend_from_slice(eol);
        raw.extend_from_slice(eol);
        raw.extend_from_slice(&chunk(rng, &body));
    } else {
        if !body.is_empty() || rng.chance(50) {
            raw.extend_from_slice(format!("Content-Length: {}", body.len()).as_bytes());
            raw.extend_from_slice(eol);
        }
        raw.extend_from_slice(eol);
        raw.extend_from_slice(&body);
    }
    let body = if chunked || raw.windows(15).any(|w| w == b"Content-Length:") {
        body
    } else {
        Vec::new()
    };
    (raw, body)
}

fn chunk(rng: &mut Rng, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(1 + rng.below(rest.len()));
        let size = if rng.chance(50) {
            format!("{:x}", piece.len())
        } else {
            format!("{:03X}", piece.len())
        };
        out.extend_from_slice(size.as_bytes());
        if rng.chance(30) {
            out.extend_from_slice(b" ;name=\"v\"");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
        rest = tail;
    }
    out.extend_from_slice(b"0\r\n");
    if rng.chance(30) {
        out.extend_from_slice(b"Trailer-Field: yes\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn mutate(rng: &mut Rng, buf: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(buf.len() + 1);
        match rng.below(5) {
            0 if at < buf.len() => buf[at] ^= 1 << rng.below(8),
            1 => buf.insert(at, rng.next_u64() as u8),
            2 if at < buf.len() => {
                buf.remove(at);
            }
            3 => buf.truncate(at),
            _ => {
                let fragment = rng.pick(FRAGMENTS);
                buf.splice(at..at, fragment.iter().copied());
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let input = random_input(&mut rng);
        let limits = limits_for(&mut rng);
        check(&mut rng, limits, &input);
    }
}

#[test]
fn valid_requests_parse_completely_at_any_split() {
    let mut rng = Rng::new(0xD1B5_4A32_D192_ED03);
    for _ in 0..10_000 {
        let (raw, body) = valid_request(&mut rng);
        let whole = check(&mut rng, Limits::default(), &raw);
        let request = whole.request();
        assert_eq!(
            request.consumed,
            raw.len(),
            "{:?}",
            String::from_utf8_lossy(&raw)
        );
        assert_eq!(request.body, body, "{:?}", String::from_utf8_lossy(&raw));
    }
}

#[test]
fn pipelined_valid_requests_parse_in_order() {
    let mut rng = Rng::new(0x8CB9_2BA7_2F3D_8DD7);
    for _ in 0..2_000 {
        let requests: Vec<(Vec<u8>, Vec<u8>)> = (0..1 + rng.below(4))
            .map(|_| valid_request(&mut rng))
            .collect();
        let stream: Vec<u8> = requests
            .iter()
            .flat_map(|(raw, _)| raw.iter().copied())
            .collect();
        let mut parser = RequestParser::new(Limits::default());
        let mut rest = &stream[..];
        for (raw, body) in &requests {
            let parsed = parse_with(&mut parser, rest);
            let request = parsed.request();
            assert_eq!((request.consumed, &request.body), (raw.len(), body));
            rest = &rest[request.consumed..];
        }
        assert!(rest.is_empty());
        let served = serve_like_a_connection(&mut rng, Limits::default(), &stream);
        let summary: Vec<(usize, &Vec<u8>)> =
            served.iter().map(|r| (r.consumed, &r.body)).collect();
        let expected: Vec<(usize, &Vec<u8>)> = requests
            .iter()
            .map(|(raw, body)| (raw.len(), body))
            .collect();
        assert_eq!(summary, expected);
    }
}

#[test]
fn resumed_parses_match_fresh_ones_on_long_chunked_bodies() {
    // Many chunks, extensions and trailers, split at random: the chunk scanner resumes mid-line,
    // mid-data and mid-trailer.
    let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
    for _ in 0..200 {
        let body: Vec<u8> = (0..rng.below(400))
            .map(|_| b'a' + rng.below(26) as u8)
            .collect();
        let mut raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        raw.extend_from_slice(&chunk(&mut rng, &body));
        let whole = check(&mut rng, Limits::default(), &raw);
        assert_eq!(whole.request().body, body);
    }
}

#[test]
fn mutated_requests_never_panic() {
    let mut rng = Rng::new(0x94D0_49BB_1331_11EB);
    for _ in 0..30_000 {
        let (mut raw, _) = valid_request(&mut rng);
        mutate(&mut rng, &mut raw);
        let limits = limits_for(&mut rng);
        check(&mut rng, limits, &raw);
    }
}

#[test]
fn mutated_gzip_bodies_never_panic() {
    use std::io::Write;
    let mut rng = Rng::new(0xBF58_476D_1CE4_E5B9);
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(b"{\"instances\":[{\"serviceId\":\"s\",\"ip\":\"10.0.0.1\"}]}")
        .unwrap();
    let zipped = encoder.finish().unwrap();
    for _ in 0..2_000 {
        let mut body = zipped.clone();
        mutate(&mut rng, &mut body);
        let mut raw = format!(
            "POST / HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(&body);
        let limits = Limits {
            max_decoded_body_bytes: 64,
            ..Limits::default()
        };
        assert!(matches!(
            check(&mut rng, limits, &raw),
            Outcome::Complete(_)
        ));
    }
}

#[test]
fn changing_seen_bytes_never_panics() {
    // Breaking the resume contract: bytes in the middle of a prefix the parser has seen change
    // (the cheap first/last-bytes check can't tell). The answer may be wrong, but `parse` must
    // neither panic nor point outside the buffer.
    let mut rng = Rng::new(0x6A09_E667_F3BC_C908);
    for _ in 0..20_000 {
        let (raw, _) = valid_request(&mut rng);
        let limits = limits_for(&mut rng);
        let mut parser = RequestParser::new(limits);
        let seen = rng.below(raw.len() + 1);
        let _ = parse_with(&mut parser, &raw[..seen]);
        let mut changed = raw.clone();
        if seen > 16 {
            let at = 8 + rng.below(seen - 16);
            changed[at] = rng.next_u64() as u8;
            if rng.chance(30) {
                let fragment = rng.pick(FRAGMENTS);
                let end = (at + fragment.len()).min(seen - 8);
                changed[at..end].copy_from_slice(&fragment[..end - at]);
            }
        }
        // `parse_with` asserts `consumed <= buf.len()` and that the body is in range.
        let grown = seen + rng.below(changed.len() - seen + 1);
        let _ = parse_with(&mut parser, &changed[..grown]);
        let _ = parse_with(&mut parser, &changed);
        decode_if_complete(&mut parser, &changed, &limits);
    }
}
