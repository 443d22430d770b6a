//! gzip Content-Encoding (RFC 1952) with a hard bound on the inflated size (zip-bomb defence).

use std::io::Read;

use flate2::bufread::MultiGzDecoder;

use super::{ContentEncoding, HttpError, Limits, Request};

/// Inflates the gzip stream `input` (one or more members) into `out`, which is cleared first. Stops
/// as soon as the output would exceed `max_out` bytes and reports `BodyTooLarge`; corrupt or
/// truncated input (including a bad CRC or trailing garbage) is `BadRequest("invalid gzip body")`.
/// `out` is left empty on error.
pub fn inflate_gzip(input: &[u8], out: &mut Vec<u8>, max_out: usize) -> Result<(), HttpError> {
    out.clear();
    // Reading one byte past the limit tells "exactly at the limit" from "over it" without inflating
    // further.
    let cap = u64::try_from(max_out).unwrap_or(u64::MAX).saturating_add(1);
    let inflated = MultiGzDecoder::new(input).take(cap).read_to_end(out);
    let result = match inflated {
        Err(_) => Err(HttpError::BadRequest("invalid gzip body")),
        Ok(_) if out.len() > max_out => Err(HttpError::BodyTooLarge),
        Ok(_) => Ok(()),
    };
    if result.is_err() {
        out.clear();
    }
    result
}

/// The request body with its Content-Encoding removed: the raw body for identity, or `inflated`
/// filled with the inflated gzip body. An unsupported encoding is `UnsupportedContentEncoding`
/// (415); the request was framed fine, so the connection may carry on. An empty body has nothing to
/// decode and is returned as is.
pub fn decode_body<'s>(
    req: &Request<'_>,
    read_buf: &'s [u8],
    dechunked: &'s [u8],
    inflated: &'s mut Vec<u8>,
    limits: &Limits,
) -> Result<&'s [u8], HttpError> {
    let raw = req.raw_body(read_buf, dechunked);
    if raw.is_empty() {
        return Ok(raw);
    }
    match req.content_encoding {
        ContentEncoding::Identity => Ok(raw),
        ContentEncoding::Unsupported => Err(HttpError::UnsupportedContentEncoding),
        ContentEncoding::Gzip => {
            inflate_gzip(raw, inflated, limits.max_decoded_body_bytes)?;
            Ok(inflated)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::{Duration, Instant};

    use flate2::write::GzEncoder;
    use flate2::Compression;

    use super::*;
    use crate::http::{Parsed, RequestParser};

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn inflate(input: &[u8], max_out: usize) -> Result<Vec<u8>, HttpError> {
        let mut out = b"stale".to_vec();
        inflate_gzip(input, &mut out, max_out).map(|()| out)
    }

    const INVALID: HttpError = HttpError::BadRequest("invalid gzip body");

    #[test]
    fn round_trip() {
        let data = b"{\"instances\":[{\"id\":\"a\"}]}".repeat(100);
        assert_eq!(inflate(&gzip(&data), usize::MAX), Ok(data.clone()));
        assert_eq!(inflate(&gzip(b""), 0), Ok(vec![]));
    }

    #[test]
    fn multiple_members_are_concatenated() {
        let mut stream = gzip(b"hello ");
        stream.extend_from_slice(&gzip(b"world"));
        assert_eq!(inflate(&stream, 11), Ok(b"hello world".to_vec()));
    }

    #[test]
    fn output_limit_is_inclusive() {
        let data = vec![7u8; 1000];
        let stream = gzip(&data);
        assert_eq!(inflate(&stream, 1000), Ok(data));
        assert_eq!(inflate(&stream, 999), Err(HttpError::BodyTooLarge));
        assert_eq!(inflate(&stream, 0), Err(HttpError::BodyTooLarge));
    }

    #[test]
    fn corrupt_input_is_rejected() {
        let stream = gzip(&b"some registry payload ".repeat(50));
        assert_eq!(inflate(b"not gzip at all", usize::MAX), Err(INVALID));
        assert_eq!(inflate(b"", usize::MAX), Err(INVALID), "empty");
        assert_eq!(
            inflate(&stream[..stream.len() - 1], usize::MAX),
            Err(INVALID),
            "truncated"
        );
        assert_eq!(
            inflate(&stream[..10], usize::MAX),
            Err(INVALID),
            "header only"
        );
        let mut bad_crc = stream.clone();
        let crc_at = bad_crc.len() - 8;
        bad_crc[crc_at] ^= 0xFF;
        assert_eq!(inflate(&bad_crc, usize::MAX), Err(INVALID), "crc");
        let mut bad_size = stream.clone();
        let size_at = bad_size.len() - 4;
        bad_size[size_at] ^= 0x01;
        assert_eq!(inflate(&bad_size, usize::MAX), Err(INVALID), "isize");
        let mut garbage = stream.clone();
        garbage.extend_from_slice(b"trailing");
        assert_eq!(
            inflate(&garbage, usize::MAX),
            Err(INVALID),
            "trailing garbage"
        );
        let mut flipped = stream;
        flipped[15] ^= 0x55;
        assert!(
            inflate(&flipped, usize::MAX).is_err(),
            "flipped deflate data"
        );
    }

    #[test]
    fn every_byte_flip_is_handled() {
        let stream = gzip(b"abcabcabcabc registry registry registry");
        for at in 0..stream.len() {
            for bit in 0..8 {
                let mut mutated = stream.clone();
                mutated[at] ^= 1 << bit;
                // Either rejected or (for bits the format ignores, like header flags/mtime)
                // decoded.
                let _ = inflate(&mutated, 1 << 20);
            }
        }
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        // 100 MiB of zeros as 100 one-MiB members (cheap to build in a debug test, same effect as
        // one member).
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&vec![0u8; 1 << 20]).unwrap();
        let member = encoder.finish().unwrap();
        let bomb = member.repeat(100);
        assert!(bomb.len() < 200 * 1024, "{}", bomb.len());
        let started = Instant::now();
        let mut out = Vec::new();
        assert_eq!(
            inflate_gzip(&bomb, &mut out, 4 << 20),
            Err(HttpError::BodyTooLarge)
        );
        assert!(out.is_empty());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    fn decode(request: &[u8]) -> Result<Vec<u8>, HttpError> {
        let limits = Limits {
            max_decoded_body_bytes: 64,
            ..Limits::default()
        };
        let mut parser = RequestParser::new(limits);
        let mut dechunked = Vec::new();
        let mut inflated = Vec::new();
        let Ok(Parsed::Complete { request: req, .. }) = parser.parse(request, &mut dechunked)
        else {
            panic!("not a complete request");
        };
        decode_body(&req, request, &dechunked, &mut inflated, &limits).map(<[u8]>::to_vec)
    }

    fn with_body(headers: &str, body: &[u8]) -> Vec<u8> {
        let mut request = format!(
            "POST /x HTTP/1.1\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        request
    }

    #[test]
    fn decode_body_by_encoding() {
        let data = b"{\"a\":1}";
        let zipped = gzip(data);
        assert_eq!(decode(&with_body("", data)), Ok(data.to_vec()));
        assert_eq!(
            decode(&with_body("Content-Encoding: identity\r\n", data)),
            Ok(data.to_vec())
        );
        assert_eq!(
            decode(&with_body("Content-Encoding: gzip\r\n", &zipped)),
            Ok(data.to_vec())
        );
        assert_eq!(
            decode(&with_body("Content-Encoding: X-GZIP\r\n", &zipped)),
            Ok(data.to_vec())
        );
        assert_eq!(
            decode(&with_body("Content-Encoding: gzip\r\n", data)),
            Err(INVALID)
        );
        assert_eq!(
            decode(&with_body("Content-Encoding: br\r\n", data)),
            Err(HttpError::UnsupportedContentEncoding)
        );
        assert_eq!(
            decode(&with_body(
                "Content-Encoding: gzip, gzip\r\n",
                &gzip(&zipped)
            )),
            Err(HttpError::UnsupportedContentEncoding)
        );
        assert_eq!(
            decode(&with_body("Content-Encoding: gzip\r\n", b"")),
            Ok(vec![])
        );
        assert_eq!(
            decode(&with_body("Content-Encoding: br\r\n", b"")),
            Ok(vec![])
        );
    }

    #[test]
    fn decode_body_applies_the_decoded_limit() {
        let headers = "Content-Encoding: gzip\r\n";
        assert_eq!(
            decode(&with_body(headers, &gzip(&[b'x'; 64]))),
            Ok(vec![b'x'; 64])
        );
        assert_eq!(
            decode(&with_body(headers, &gzip(&[b'x'; 65]))),
            Err(HttpError::BodyTooLarge)
        );
    }

    #[test]
    fn decode_chunked_gzip_body() {
        let zipped = gzip(b"chunked and zipped");
        let (first, second) = zipped.split_at(7);
        let mut request =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
                .to_vec();
        for part in [first, second] {
            request.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            request.extend_from_slice(part);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(decode(&request), Ok(b"chunked and zipped".to_vec()));
    }
}
