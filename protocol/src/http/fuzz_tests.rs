//! Deterministic randomized robustness tests (no extra crates): random bytes, mutated valid
//! requests and valid requests split at random points. The properties: `parse` never panics,
//! `consumed <= buf.len()`, and feeding a prefix is either still partial or agrees with feeding the
//! whole buffer. `protocol/fuzz` runs the same properties under libFuzzer.

use super::test_support::{check_prefix, parse_with, Outcome};
use super::{decode_body, Limits, Parsed, RequestParser};

/// xorshift64*: tiny, deterministic, good enough to explore inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

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

/// Parses `buf` whole, then at a few random split points, checking the properties; then the
/// pipelined rest.
fn check(rng: &mut Rng, limits: Limits, buf: &[u8]) -> Outcome {
    let mut parser = RequestParser::new(limits);
    let whole = parse_with(&mut parser, buf);
    for _ in 0..3 {
        let len = rng.below(buf.len() + 1);
        check_prefix(&mut parser, buf, len, &whole);
    }
    decode_if_complete(&mut parser, buf, &limits);
    if let Outcome::Complete(request) = &whole {
        let rest = &buf[request.consumed..];
        if !rest.is_empty() {
            let next = parse_with(&mut parser, rest);
            let len = rng.below(rest.len() + 1);
            check_prefix(&mut parser, rest, len, &next);
        }
    }
    whole
}

/// Decoding a body must not panic either, whatever the parser accepted.
fn decode_if_complete(parser: &mut RequestParser, buf: &[u8], limits: &Limits) {
    let mut dechunked = Vec::new();
    let mut inflated = Vec::new();
    if let Ok(Parsed::Complete { request, .. }) = parser.parse(buf, &mut dechunked) {
        let _ = decode_body(&request, buf, &dechunked, &mut inflated, limits);
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
            buf.extend((0..len).map(|_| rng.next() as u8));
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
            1 => buf.insert(at, rng.next() as u8),
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
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let input = random_input(&mut rng);
        let limits = limits_for(&mut rng);
        check(&mut rng, limits, &input);
    }
}

#[test]
fn valid_requests_parse_completely_at_any_split() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
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
    let mut rng = Rng(0x8CB9_2BA7_2F3D_8DD7);
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
    }
}

#[test]
fn mutated_requests_never_panic() {
    let mut rng = Rng(0x94D0_49BB_1331_11EB);
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
    let mut rng = Rng(0xBF58_476D_1CE4_E5B9);
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
