use std::io::{Read, Write};

use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::Compression;

use super::*;
use crate::http::{Limits, Parsed, RequestParser};
use crate::rng::Rng;

const UNLIMITED: GzipLimits = GzipLimits {
    max_output: usize::MAX,
    max_members: usize::MAX,
};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A member from its header and raw deflate data, with the trailer `data` needs.
fn member(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut crc = Crc::new();
    crc.update(data);
    let mut member = header.to_vec();
    member.extend_from_slice(&deflate(data));
    member.extend_from_slice(&crc.sum().to_le_bytes());
    member.extend_from_slice(&crc.amount().to_le_bytes());
    member
}

fn inflate_with(input: &[u8], limits: GzipLimits) -> Result<Vec<u8>, HttpError> {
    let mut out = b"stale".to_vec();
    inflate_gzip(input, &mut out, limits).map(|()| out)
}

fn inflate(input: &[u8], max_output: usize) -> Result<Vec<u8>, HttpError> {
    inflate_with(
        input,
        GzipLimits {
            max_output,
            ..UNLIMITED
        },
    )
}

/// What flate2's own multi-member decoder makes of `input` (the reference for valid gzip).
fn reference(input: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    flate2::bufread::MultiGzDecoder::new(input)
        .read_to_end(&mut out)
        .map(|_| out)
        .map_err(|_| INVALID_GZIP)
}

/// Inflates in steps of at most `max_input` deflate bytes; returns the result and the step count.
fn stepped(
    input: &[u8],
    limits: GzipLimits,
    max_input: usize,
) -> (Result<Vec<u8>, HttpError>, usize) {
    let mut inflater = GzipInflater::new(input, limits);
    let mut out = Vec::new();
    let mut steps = 0;
    loop {
        steps += 1;
        match inflater.step(&mut out, max_input) {
            Ok(Progress::More) => {}
            Ok(Progress::Done) => return (Ok(out), steps),
            Err(error) => {
                assert!(out.is_empty(), "output is cleared on error");
                return (Err(error), steps);
            }
        }
    }
}

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
fn member_limit_is_inclusive() {
    let stream = gzip(b"ab").repeat(3);
    let limits = |max_members| GzipLimits {
        max_members,
        ..UNLIMITED
    };
    assert_eq!(inflate_with(&stream, limits(3)), Ok(b"ababab".to_vec()));
    assert_eq!(inflate_with(&stream, limits(2)), Err(TOO_MANY_MEMBERS));
    assert_eq!(inflate_with(&gzip(b"ab"), limits(1)), Ok(b"ab".to_vec()));
}

#[test]
fn empty_member_bomb_stops_at_the_member_limit() {
    // The attack: hundreds of thousands of members with nothing in them. The error comes from
    // the header of member 17, before any later member is looked at: garbage after it is never
    // reached (it would be INVALID_GZIP).
    let mut bomb = gzip(b"").repeat(17);
    bomb.extend_from_slice(b"never parsed");
    let limits = GzipLimits {
        max_members: 16,
        ..UNLIMITED
    };
    assert_eq!(inflate_with(&bomb, limits), Err(TOO_MANY_MEMBERS));
    // One step per (two-byte) member, and the step meeting member 17 fails.
    let (result, steps) = stepped(&bomb, limits, 64);
    assert_eq!((result, steps), (Err(TOO_MANY_MEMBERS), 17));
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
fn zip_bomb_stops_at_the_output_limit() {
    // 100 MiB of zeros in 100 members (cheap to build in a debug test, same effect as one).
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(&vec![0u8; 1 << 20]).unwrap();
    let bomb = encoder.finish().unwrap().repeat(100);
    assert!(bomb.len() < 200 * 1024, "{}", bomb.len());
    let limit = 4 << 20;
    let mut out = Vec::new();
    let result = inflate_gzip(
        &bomb,
        &mut out,
        GzipLimits {
            max_output: limit,
            ..UNLIMITED
        },
    );
    assert_eq!(result, Err(HttpError::BodyTooLarge));
    assert!(out.is_empty());
    // Output is never made room for past one byte over the limit.
    assert!(out.capacity() <= limit + 1, "{}", out.capacity());
}

#[test]
fn corrupt_input_is_rejected() {
    let stream = gzip(&b"some registry payload ".repeat(50));
    assert_eq!(inflate(b"not gzip at all", usize::MAX), Err(INVALID_GZIP));
    assert_eq!(inflate(b"", usize::MAX), Err(INVALID_GZIP), "empty");
    let truncated = &stream[..stream.len() - 1];
    assert_eq!(inflate(truncated, usize::MAX), Err(INVALID_GZIP));
    assert_eq!(
        inflate(&stream[..10], usize::MAX),
        Err(INVALID_GZIP),
        "header only"
    );
    let mut bad_crc = stream.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xFF;
    assert_eq!(inflate(&bad_crc, usize::MAX), Err(INVALID_GZIP), "crc");
    let mut bad_size = stream.clone();
    let size_at = bad_size.len() - 4;
    bad_size[size_at] ^= 0x01;
    assert_eq!(inflate(&bad_size, usize::MAX), Err(INVALID_GZIP), "isize");
    let mut garbage = stream.clone();
    garbage.extend_from_slice(b"trailing");
    assert_eq!(inflate(&garbage, usize::MAX), Err(INVALID_GZIP), "garbage");
    let mut flipped = stream;
    flipped[15] ^= 0x55;
    assert!(
        inflate(&flipped, usize::MAX).is_err(),
        "flipped deflate data"
    );
}

#[test]
fn optional_header_fields_are_skipped_and_checked() {
    let data = b"payload";
    // FLG = FEXTRA | FNAME | FCOMMENT, then XLEN = 3 and the fields.
    let mut header = vec![0x1f, 0x8b, 8, FEXTRA | FNAME | FCOMMENT, 0, 0, 0, 0, 0, 3];
    header.extend_from_slice(&[3, 0, b'x', b'y', b'z']);
    header.extend_from_slice(b"name.json\0a comment\0");
    assert_eq!(inflate(&member(&header, data), 100), Ok(data.to_vec()));

    // FHCRC: the low 16 bits of the CRC32 of the header before it.
    let mut with_crc = header.clone();
    with_crc[3] |= FHCRC;
    let mut crc = Crc::new();
    crc.update(&with_crc);
    with_crc.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
    assert_eq!(inflate(&member(&with_crc, data), 100), Ok(data.to_vec()));
    let last = with_crc.len() - 1;
    with_crc[last] ^= 1;
    assert_eq!(inflate(&member(&with_crc, data), 100), Err(INVALID_GZIP));

    for reserved in [0x20, 0x40, 0x80] {
        let mut bad = header.clone();
        bad[3] |= reserved;
        assert_eq!(inflate(&member(&bad, data), 100), Err(INVALID_GZIP));
    }
    let mut not_deflate = header.clone();
    not_deflate[2] = 7;
    assert_eq!(inflate(&member(&not_deflate, data), 100), Err(INVALID_GZIP));
    // A name that never ends, an extra field longer than the body.
    assert_eq!(inflate(&header[..header.len() - 1], 100), Err(INVALID_GZIP));
    let mut long_extra = header[..10].to_vec();
    long_extra[3] = FEXTRA;
    long_extra.extend_from_slice(&[0xff, 0xff, 1, 2, 3]);
    assert_eq!(inflate(&long_extra, 100), Err(INVALID_GZIP));
}

#[test]
fn a_step_consumes_at_most_its_input_budget() {
    // Incompressible data: the deflate stream is about as long as the data.
    let data = Rng::new(7).bytes(100_000);
    let stream = gzip(&data);
    let (result, steps) = stepped(&stream, UNLIMITED, 1024);
    assert_eq!(result, Ok(data.clone()));
    assert!(steps >= 100_000 / 1024, "{steps} steps");
    let (result, steps) = stepped(&stream, UNLIMITED, usize::MAX);
    assert_eq!((result, steps), (Ok(data), 1));
}

/// One gzip member of `blocks` empty fixed-Huffman deflate blocks: 10 bits each, and each costs
/// the decoder a table set-up, so a few megabytes of them take seconds to inflate into nothing.
fn empty_block_bomb(blocks: usize) -> Vec<u8> {
    let mut bits: Vec<bool> = Vec::with_capacity(blocks * 10);
    for i in 0..blocks {
        let last = i + 1 == blocks;
        // BFINAL, BTYPE = 01 (LSB first), then end-of-block: the 7-bit code 0000000.
        bits.extend([last, true, false]);
        bits.extend([false; 7]);
    }
    let mut deflate = vec![0u8; bits.len().div_ceil(8)];
    for (i, &bit) in bits.iter().enumerate() {
        deflate[i / 8] |= u8::from(bit) << (i % 8);
    }
    let mut stream = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    stream.extend_from_slice(&deflate);
    stream.extend_from_slice(&[0; 8]);
    stream
}

#[test]
fn empty_block_bomb_is_inflated_in_bounded_steps() {
    let bomb = empty_block_bomb(100_000);
    assert_eq!(inflate(&bomb, 0), Ok(vec![]), "valid, and empty");
    // 125,000 bytes of deflate data in steps of at most 1 KiB: a caller gets control back at least
    // 122 times, so it can yield and keep count of the cost.
    let (result, steps) = stepped(&bomb, UNLIMITED, 1024);
    assert_eq!(result, Ok(vec![]));
    assert!(steps > 122, "{steps} steps");
}

#[test]
fn stepping_and_the_reference_decoder_agree_on_mutated_streams() {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut stream = gzip(b"abcabcabcabc registry registry registry");
    stream.extend_from_slice(&gzip(&rng.bytes(300)));
    for round in 0..3_000 {
        let mut mutated = stream.clone();
        for _ in 0..1 + rng.below(3) {
            if mutated.is_empty() {
                break;
            }
            let at = rng.below(mutated.len());
            match rng.below(3) {
                0 => mutated[at] ^= 1 << rng.below(8),
                1 => mutated[at] = rng.next_u32() as u8,
                _ => mutated.truncate(at),
            }
        }
        let expected = reference(&mutated);
        assert_eq!(inflate(&mutated, usize::MAX), expected, "round {round}");
        let step = 1 + rng.below(64);
        assert_eq!(
            stepped(&mutated, UNLIMITED, step).0,
            expected,
            "round {round}, step {step}"
        );
    }
}

#[test]
fn every_byte_flip_is_handled() {
    let stream = gzip(b"abcabcabcabc registry registry registry");
    for at in 0..stream.len() {
        for bit in 0..8 {
            let mut mutated = stream.clone();
            mutated[at] ^= 1 << bit;
            // Rejected, or (for bits the format ignores, like mtime) decoded, as flate2 does.
            assert_eq!(
                inflate(&mutated, 1 << 20),
                reference(&mutated),
                "{at}.{bit}"
            );
        }
    }
}

fn decode(request: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut parser = RequestParser::new(Limits::default());
    let mut dechunked = Vec::new();
    let Ok(Parsed::Complete { request: req, .. }) = parser.parse(request, &mut dechunked) else {
        panic!("not a complete request");
    };
    match encoded_body(&req, request, &dechunked)? {
        EncodedBody::Identity(body) => Ok(body.to_vec()),
        EncodedBody::Gzip(body) => inflate(body, 64),
    }
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
fn encoded_body_by_encoding() {
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
        Err(INVALID_GZIP)
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
    // An empty body has nothing to decode, whatever its encoding says.
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
fn decoded_limit_applies_to_a_request_body() {
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
fn chunked_gzip_body() {
    let zipped = gzip(b"chunked and zipped");
    let (first, second) = zipped.split_at(7);
    let mut request =
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
    for part in [first, second] {
        request.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        request.extend_from_slice(part);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(decode(&request), Ok(b"chunked and zipped".to_vec()));
}
