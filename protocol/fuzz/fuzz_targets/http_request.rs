//! Feeds arbitrary bytes to `RequestParser::parse`, whole and split at `data[0]`, and checks the
//! properties the server relies on: no panic, `consumed <= buf.len()`, and a prefix is either
//! partial or parses exactly like the whole buffer; a gzip body never inflates past its limit.
//! Run by `scripts/fuzz.sh` (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::http::{
    encoded_body, inflate_gzip, EncodedBody, GzipLimits, HttpError, Limits, Parsed, RequestParser,
};

/// What a parse produced, owned so two parses can be compared.
#[derive(Debug, PartialEq)]
enum Outcome {
    Partial(usize),
    Complete {
        consumed: usize,
        path: String,
        query: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    },
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
            assert!(consumed > 0 && consumed <= buf.len());
            assert!(request.path.starts_with('/'));
            if let Ok(EncodedBody::Gzip(body)) = encoded_body(&request, buf, &dechunked) {
                let gzip = GzipLimits {
                    max_output: limits.max_decoded_body_bytes,
                    max_members: 4,
                };
                let mut inflated = Vec::new();
                if inflate_gzip(body, &mut inflated, gzip).is_ok() {
                    assert!(inflated.len() <= gzip.max_output);
                }
            }
            Outcome::Complete {
                consumed,
                path: request.path.to_owned(),
                query: request.query.to_owned(),
                headers: request
                    .headers()
                    .map(|(n, v)| (n.to_owned(), v.to_vec()))
                    .collect(),
                body: request.raw_body(buf, &dechunked).to_vec(),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_header_bytes: 4096,
        max_headers: 16,
        max_body_bytes: 1 << 16,
        max_decoded_body_bytes: 1 << 16,
    };
    let mut parser = RequestParser::new(limits);
    let whole = parse(&mut parser, data, &limits);

    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    match parse(&mut parser, &data[..split], &limits) {
        Outcome::Partial(min_total) => {
            if let Outcome::Complete { consumed, .. } = whole {
                assert!(
                    min_total <= consumed,
                    "hint {min_total} overshoots {consumed}"
                );
            }
        }
        prefix => assert_eq!(prefix, whole, "prefix of {split} bytes disagrees"),
    }

    // Pipelined bytes after a complete request must parse on their own too.
    if let Outcome::Complete { consumed, .. } = whole {
        // A different buffer from the prefix parse above: start the parser over (its contract).
        parser.reset();
        let _ = parse(&mut parser, &data[consumed..], &limits);
    }
});
