//! Requests split across calls: every prefix agrees with the whole, a resumed call continues
//! where the last one stopped (so the total work stays linear), and the resume contract's edges.

use super::*;
use crate::http::fields::take_work;
use crate::http::test_support::check_resumed;
use crate::http::{MAX_CHUNKS, MAX_CHUNK_EXT_BYTES};

#[test]
fn split_at_every_byte() {
    let samples = [
        "GET /api/discovery/lookup.json?x=1 HTTP/1.1\r\nHost: localhost\r\n\
         User-Agent: t\r\nAccept: */*\r\n\r\n"
            .to_string(),
        "\r\nGET / HTTP/1.0\nConnection: keep-alive\n\n".to_string(),
        post(
            "Content-Length: 11\r\nContent-Encoding: gzip\r\nExpect: 100-continue\r\n",
            "hello world",
        ),
        post(
            "Transfer-Encoding: chunked\r\n",
            "5;a=b\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0;x\r\nT: 1\r\nU: 2\r\n\r\n",
        ),
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: k\r\n\r\n"
            .to_string(),
    ];
    for raw in samples {
        let r = ok(&raw);
        assert_eq!(r.consumed, raw.len(), "{raw:?}");
    }
}

/// Work units (see `fields::count_work`) a resumed call may cost beyond the bytes it adds:
/// re-checking the unfinished line's runs, the loops that find where to resume, the call.
const WORK_PER_CALL: usize = 8;

/// Feeds `raw` to one parser, `step` more bytes per call as a connection receiving small reads
/// does, until the answer isn't `Partial`. Returns it with the work counted over all calls.
fn trickle(limits: Limits, raw: &[u8], step: usize) -> (Outcome, usize) {
    let mut parser = RequestParser::new(limits);
    take_work();
    let mut len = 0;
    loop {
        len = (len + step).min(raw.len());
        let outcome = parse_with(&mut parser, &raw[..len]);
        if !matches!(outcome, Outcome::Partial { .. }) || len == raw.len() {
            return (outcome, take_work());
        }
    }
}

/// Parses `raw` whole and one byte per call; both must agree, and the trickle may cost only a
/// bounded amount of work per call on top of the one-shot parse: linear, not quadratic.
fn assert_linear(limits: Limits, raw: &[u8]) -> Outcome {
    let (whole, whole_work) = trickle(limits, raw, raw.len());
    let (trickled, work) = trickle(limits, raw, 1);
    assert_eq!(trickled, whole);
    assert!(
        work <= whole_work + WORK_PER_CALL * raw.len(),
        "{work} units of work trickling {} bytes (one-shot parse: {whole_work})",
        raw.len()
    );
    whole
}

fn tiny_chunks(count: usize) -> Vec<u8> {
    let mut raw = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
    for _ in 0..count {
        raw.extend_from_slice(b"1\r\na\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    raw
}

#[test]
fn chunked_body_trickled_one_byte_per_call_costs_linear_work() {
    // The review case: 65,536 one-byte chunks sent slowly. Without resuming, every call
    // re-scanned every chunk so far: about 10^10 units of work here, instead of about 10^6.
    let raw = tiny_chunks(MAX_CHUNKS);
    let started = std::time::Instant::now();
    let whole = assert_linear(Limits::default(), &raw);
    eprintln!(
        "{} bytes, one per call: {:?} (both passes)",
        raw.len(),
        started.elapsed()
    );
    let request = whole.request();
    assert_eq!(request.body, vec![b'a'; MAX_CHUNKS]);
    assert_eq!(request.consumed, raw.len());
    // One chunk per call, like a client flushing every chunk.
    let (per_chunk, work) = trickle(Limits::default(), &raw, 6);
    assert_eq!(per_chunk, whole);
    assert!(work <= 4 * raw.len(), "{work}");
}

#[test]
fn trickled_heads_cost_linear_work() {
    let limits = Limits::default();
    // One long field value.
    let long_value = head_of_len(limits.max_header_bytes);
    assert_linear(limits, &long_value);
    // A long name, then whitespace, then a value: every run of the line is resumed.
    let mut runs = b"GET /".to_vec();
    runs.extend_from_slice(&[b'p'; 4000]);
    runs.extend_from_slice(b" HTTP/1.1\r\n");
    runs.extend_from_slice(&[b'N'; 4000]);
    runs.extend_from_slice(b":");
    runs.extend_from_slice(&[b' '; 4000]);
    runs.extend_from_slice(&[b'v'; 4000]);
    runs.extend_from_slice(b"\r\n\r\n");
    assert_linear(limits, &runs);
    // Leading empty lines and the most fields allowed.
    let mut many = b"\r\n".repeat(2000);
    many.extend_from_slice(b"GET / HTTP/1.1\r\n");
    for i in 0..limits.max_headers {
        many.extend_from_slice(format!("Field-{i}: value {i}\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        assert_linear(limits, &many).request().headers.len(),
        limits.max_headers
    );
}

#[test]
fn trickled_bodies_cost_linear_work() {
    let limits = Limits::default();
    let body = "x".repeat(64 * 1024);
    let length = post(&format!("Content-Length: {}\r\n", body.len()), &body);
    assert_linear(limits, length.as_bytes());
    // One chunk, with the longest extension allowed, then a long trailer section.
    let mut ext = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
    ext.extend_from_slice(b"4 \t");
    ext.resize(ext.len() + MAX_CHUNK_EXT_BYTES / 2 - 2, b' ');
    ext.push(b';');
    ext.resize(ext.len() + MAX_CHUNK_EXT_BYTES / 2 - 1, b'e');
    ext.extend_from_slice(b"\r\ndata\r\n0\r\n");
    for i in 0..100 {
        ext.extend_from_slice(format!("Trailer-{i}: {}\r\n", "t".repeat(100)).as_bytes());
    }
    ext.extend_from_slice(b"\r\n");
    assert_eq!(assert_linear(limits, &ext).request().body, b"data");
    // Few large chunks.
    let mut large = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
    for _ in 0..4 {
        large.extend_from_slice(b"4000\r\n");
        large.resize(large.len() + 0x4000, b'd');
        large.extend_from_slice(b"\r\n");
    }
    large.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(
        assert_linear(limits, &large).request().body.len(),
        4 * 0x4000
    );
}

#[test]
fn resumed_and_fresh_parsers_agree_on_the_full_buffer() {
    let samples = [
        tiny_chunks(300),
        post(
            "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n",
            "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n",
        )
        .into_bytes(),
        post("Content-Length: 5\r\nContent-Encoding: gzip\r\n", "hello").into_bytes(),
        b"\r\nGET /a?b HTTP/1.0\nConnection: keep-alive\n\nGET /next HTTP/1.1\r\n\r\n".to_vec(),
    ];
    for raw in samples {
        for step in [1, 2, 3, 7, 64] {
            let mut parser = RequestParser::new(Limits::default());
            let mut len = 0;
            while len < raw.len() {
                len = (len + step).min(raw.len());
                check_resumed(&mut parser, &raw, len);
            }
            // The same bytes again, and the full buffer, from a parser that resumed.
            let mut parser = RequestParser::new(Limits::default());
            check_resumed(&mut parser, &raw, raw.len() - 1);
            check_resumed(&mut parser, &raw, raw.len() - 1);
            assert_eq!(
                check_resumed(&mut parser, &raw, raw.len()),
                parse_default(&raw)
            );
        }
    }
}

#[test]
fn resuming_survives_the_buffer_moving() {
    // A connection's buffer is drained and reallocated between reads: offsets are relative.
    let raw = post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
    let raw = raw.as_bytes();
    let mut parser = RequestParser::new(Limits::default());
    for len in 0..raw.len() {
        let mut moved = b"consumed earlier".to_vec();
        moved.extend_from_slice(&raw[..len]);
        let outcome = parse_with(&mut parser, &moved[16..]);
        assert!(matches!(outcome, Outcome::Partial { .. }), "{len}");
    }
    let copy = raw.to_vec();
    assert_eq!(parse_with(&mut parser, &copy).request().body, b"hello");
}

#[test]
fn chunk_data_hint_lets_the_caller_skip_calls() {
    let head = post("Transfer-Encoding: chunked\r\n", "");
    let raw = format!("{head}100\r\n{}\r\n0\r\n\r\n", "d".repeat(0x100));
    let mut parser = RequestParser::new(Limits::default());
    let in_data = head.len() + 5 + 10;
    let data_end = head.len() + 5 + 0x100;
    assert_eq!(
        parse_with(&mut parser, &raw.as_bytes()[..in_data]),
        Outcome::Partial {
            min_total: data_end + 2 + 5
        }
    );
    assert_eq!(data_end + 2 + 5, raw.len(), "exact for the shortest ending");
    // A caller that waits for the hint gets the request on its next call.
    assert_eq!(
        parse_with(&mut parser, raw.as_bytes()).request().body,
        vec![b'd'; 0x100]
    );
}

#[test]
fn a_shorter_or_different_buffer_starts_over() {
    let chunked = post("Transfer-Encoding: chunked\r\n", "5\r\nhel");
    let mut parser = RequestParser::new(Limits::default());
    assert!(matches!(
        parse_with(&mut parser, chunked.as_bytes()),
        Outcome::Partial { .. }
    ));
    // Shorter than what was seen: a new request.
    let get = "GET /g HTTP/1.1\r\n\r\n";
    assert_eq!(parse_with(&mut parser, get.as_bytes()).request().path, "/g");

    // As long, but different first bytes.
    assert!(matches!(
        parse_with(&mut parser, chunked.as_bytes()),
        Outcome::Partial { .. }
    ));
    let other = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(chunked.len()));
    assert_eq!(
        parse_with(&mut parser, other.as_bytes()),
        parse_default(other.as_bytes())
    );

    // Same first bytes, different last ones of the prefix seen before.
    let length = post("Content-Length: 10\r\n", "");
    assert!(matches!(
        parse_with(&mut parser, length.as_bytes()),
        Outcome::Partial { .. }
    ));
    let cut = length.len() - 3;
    let mut changed = length.as_bytes()[..cut].to_vec();
    changed.extend_from_slice(b"X: 1\r\n\r\n");
    assert_eq!(parse_with(&mut parser, &changed), parse_default(&changed));
}

#[test]
fn reset_forgets_a_partial_request() {
    // Same length, first and last bytes as the first buffer, but different framing in the
    // middle: a change the cheap check can't see, which is what `reset` is for.
    let first = post("Content-Length: 9\r\n", "");
    let second = post("Content-Length: 7\r\n", "");
    let mut parser = RequestParser::new(Limits::default());
    assert!(matches!(
        parse_with(&mut parser, first.as_bytes()),
        Outcome::Partial { .. }
    ));
    assert!(parser.progress.is_some());
    parser.reset();
    assert!(parser.progress.is_none() && parser.fields.is_empty());
    let mut full = second.into_bytes();
    full.extend_from_slice(b"1234567");
    assert_eq!(parse_with(&mut parser, &full).request().body, b"1234567");
}

#[test]
fn complete_and_errors_end_the_progress() {
    let mut parser = RequestParser::new(Limits::default());
    let raw = post("Content-Length: 2\r\n", "hi");
    assert!(matches!(
        parse_with(&mut parser, &raw.as_bytes()[..raw.len() - 1]),
        Outcome::Partial { .. }
    ));
    assert!(parser.progress.is_some());
    assert!(matches!(
        parse_with(&mut parser, raw.as_bytes()),
        Outcome::Complete(_)
    ));
    assert!(parser.progress.is_none());
    // The next request may start with the very same bytes.
    assert!(matches!(
        parse_with(&mut parser, &raw.as_bytes()[..raw.len() - 1]),
        Outcome::Partial { .. }
    ));
    let bad = post("Transfer-Encoding: chunked\r\n", "5\r\nhelloXY");
    assert!(matches!(
        parse_with(&mut parser, &bad.as_bytes()[..bad.len() - 3]),
        Outcome::Partial { .. }
    ));
    assert_eq!(
        parse_with(&mut parser, bad.as_bytes()),
        Outcome::Error(HttpError::BadRequest("invalid chunk data terminator"))
    );
    assert!(parser.progress.is_none());
    let good = post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
    assert_eq!(
        parse_with(&mut parser, good.as_bytes()).request().body,
        b"hello"
    );
}

#[test]
fn parser_exposes_its_limits() {
    let limits = Limits {
        max_headers: 7,
        ..Limits::default()
    };
    assert_eq!(RequestParser::new(limits).limits().max_headers, 7);
}
