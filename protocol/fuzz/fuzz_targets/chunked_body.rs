//! Feeds arbitrary bytes as the body of a `Transfer-Encoding: chunked` request to
//! `RequestParser::parse`, as one buffer and as a connection receives it (growing prefixes ending at
//! cut points taken from the input, one parser resuming across them), and checks the properties the
//! server relies on: no panic, both ways give the same outcome, a complete body is the dechunked
//! data within `max_body_bytes`, `consumed <= buf.len()`, and `min_total` never overshoots.
//! Run by `scripts/fuzz.sh` (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::http::{HttpError, Limits, Parsed, RequestParser};

const HEAD: &[u8] = b"POST /api/registry/register.json HTTP/1.1\r\nHost: h\r\n\
Transfer-Encoding: chunked\r\n\r\n";

#[derive(Debug, PartialEq)]
enum Outcome {
    Partial(usize),
    Complete { consumed: usize, body: Vec<u8> },
    Error(HttpError),
}

fn parse(parser: &mut RequestParser, buf: &[u8], limits: &Limits) -> Outcome {
    let mut dechunked = Vec::new();
    match parser.parse(buf, &mut dechunked) {
        Err(error) => Outcome::Error(error),
        Ok(Parsed::Partial { min_total }) => {
            assert!(min_total == 0 || min_total > buf.len());
            Outcome::Partial(min_total)
        }
        Ok(Parsed::Complete { request, consumed }) => {
            assert!(consumed > HEAD.len() && consumed <= buf.len());
            let body = request.raw_body(buf, &dechunked).to_vec();
            assert!(body.len() <= limits.max_body_bytes);
            assert_eq!(body.len(), request.body_len());
            Outcome::Complete { consumed, body }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the body limit, the next two the cut points.
    let Some((&limit, data)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_body_bytes: if limit & 1 == 0 {
            1 << 16
        } else {
            usize::from(limit)
        },
        ..Limits::default()
    };
    let mut buf = HEAD.to_vec();
    buf.extend_from_slice(data);
    let whole = parse(&mut RequestParser::new(limits), &buf, &limits);

    let mut cuts: Vec<usize> = data
        .iter()
        .take(2)
        .map(|&b| HEAD.len() + usize::from(b).min(data.len()))
        .collect();
    cuts.sort_unstable();
    cuts.push(buf.len());
    let mut parser = RequestParser::new(limits);
    for &cut in &cuts {
        match parse(&mut parser, &buf[..cut], &limits) {
            Outcome::Partial(min_total) => {
                if let Outcome::Complete { consumed, .. } = whole {
                    assert!(
                        min_total <= consumed,
                        "hint {min_total} overshoots {consumed}"
                    );
                }
            }
            outcome => {
                // Once a prefix is complete or invalid, so is the whole buffer, the same way.
                assert_eq!(outcome, whole, "prefix of {cut} bytes disagrees");
                return;
            }
        }
    }
    assert!(matches!(whole, Outcome::Partial(_)), "{whole:?}");
});
