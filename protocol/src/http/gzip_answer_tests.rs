use std::io::Read;
use std::sync::Arc;

use flate2::read::GzDecoder;

use super::*;
use crate::rng::Rng;

/// Collects an answer as one buffer, counting the shared parts.
#[derive(Default)]
struct Collected {
    bytes: Vec<u8>,
    shared: usize,
}

impl BodySink for Collected {
    fn owned(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    fn share(&mut self, bytes: &Arc<[u8]>) {
        self.shared += 1;
        self.bytes.extend_from_slice(bytes);
    }
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut decoder = GzDecoder::new(gz);
    let mut plain = Vec::new();
    decoder
        .read_to_end(&mut plain)
        .expect("a valid gzip member");
    // Nothing after the member.
    assert!(decoder.into_inner().is_empty(), "bytes after the member");
    plain
}

fn deflated(deflater: &mut PartDeflater, bytes: &[u8], slice: usize) -> DeflatedPart {
    for piece in bytes.chunks(slice.max(1)) {
        deflater.feed(piece).expect("deflates");
    }
    deflater.finish().expect("deflates")
}

/// JSON-like bytes that compress as lookup answers do.
fn service_like(n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(
            format!(
                r#"{{"instanceId":"10.0.{}.{}:8080","status":"up","port":8080}},"#,
                i / 256,
                i % 256
            )
            .as_bytes(),
        );
    }
    out
}

#[test]
fn parts_assemble_into_one_member_with_the_bytes_in_order() {
    let mut deflater = PartDeflater::new();
    let big = service_like(1000);
    let part = deflated(&mut deflater, &big, 4096);
    assert!(part.deflated().len() * 5 < big.len(), "compresses");
    assert_eq!(part.plain_len() as usize, big.len());
    let mut out = Collected::default();
    write_gzip(
        &mut out,
        [
            GzipPart::Plain(b"{\"services\":["),
            GzipPart::Deflated(&part),
            GzipPart::Plain(b","),
            GzipPart::Deflated(&part),
            GzipPart::Plain(b"]}"),
        ],
    );
    assert_eq!(out.shared, 2, "the fragment is shared, not copied");
    let mut expected = b"{\"services\":[".to_vec();
    expected.extend_from_slice(&big);
    expected.push(b',');
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"]}");
    assert_eq!(gunzip(&out.bytes), expected);
}

#[test]
fn random_parts_of_every_size_round_trip() {
    let mut rng = Rng::new(0x9e37_79b9);
    let mut deflater = PartDeflater::new();
    for round in 0..300 {
        let count = rng.below(6);
        let mut plains: Vec<Vec<u8>> = Vec::new();
        let mut kinds = Vec::new();
        for _ in 0..count {
            let len = match rng.below(4) {
                0 => 0,
                1 => rng.below(64),
                2 => rng.below(5000),
                // Past one stored block's 65,535 bytes.
                _ => 60_000 + rng.below(80_000),
            };
            let bytes: Vec<u8> = if rng.below(2) == 0 {
                (0..len).map(|_| rng.below(256) as u8).collect()
            } else {
                service_like(len / 40 + 1)[..len].to_vec()
            };
            plains.push(bytes);
            kinds.push(rng.below(2) == 0);
        }
        let parts: Vec<Option<DeflatedPart>> = plains
            .iter()
            .zip(&kinds)
            .map(|(bytes, &deflate)| {
                deflate.then(|| deflated(&mut deflater, bytes, 1 + rng.below(70_000)))
            })
            .collect();
        let mut out = Collected::default();
        write_gzip(
            &mut out,
            plains.iter().zip(&parts).map(|(bytes, part)| match part {
                Some(part) => GzipPart::Deflated(part),
                None => GzipPart::Plain(bytes),
            }),
        );
        assert_eq!(gunzip(&out.bytes), plains.concat(), "round {round}");
    }
}

#[test]
fn an_abandoned_part_leaves_nothing_behind() {
    let mut deflater = PartDeflater::new();
    deflater.feed(b"half of something").expect("deflates");
    deflater.abandon();
    let part = deflated(&mut deflater, b"whole", 2);
    assert_eq!(part.plain_len(), 5);
    let mut out = Collected::default();
    write_gzip(&mut out, [GzipPart::Deflated(&part)]);
    assert_eq!(gunzip(&out.bytes), b"whole");
}

#[test]
fn an_empty_answer_is_a_valid_member() {
    let mut out = Collected::default();
    write_gzip(&mut out, []);
    assert_eq!(gunzip(&out.bytes), b"");
}

#[test]
fn accept_encoding_values() {
    let accepts = |values: &[&str]| accepts_gzip(values.iter().map(|v| v.as_bytes()));
    // Yes.
    for yes in [
        &["gzip"][..],
        &["gzip, deflate"],
        &["deflate, GZIP"],
        &["x-gzip"],
        &["gzip;q=0.5"],
        &["gzip ; q=1"],
        &["*"],
        &["br;q=0, *"],
        &["deflate", "gzip"],
        &["gzip;q=0.001"],
        &["gzip;level=1"],
    ] {
        assert!(accepts(yes), "{yes:?}");
    }
    // No.
    for no in [
        &[][..],
        &[""],
        &["identity"],
        &["deflate, br"],
        &["gzip;q=0"],
        &["gzip; Q = 0.000"],
        &["gzip;q=0.0, *"],
        &["*;q=0"],
        &["gzip", "gzip;q=0"],
        &["gzipx"],
        &[",,,"],
    ] {
        assert!(!accepts(no), "{no:?}");
    }
}

/// Bodies large enough to fill the compressor's block buffer mid-call, fed whole or in the
/// server's 64 KiB slices: every fragment ends with the complete flush (once, miniz_oxide's
/// internal buffer could leave a fragment cut short when the output had little room).
#[test]
fn large_bodies_round_trip_whole_and_in_slices() {
    let mut rng = Rng::new(7);
    let mut deflater = PartDeflater::new();
    for len in [60_000, 100_000, 200_000, 1_000_000, 3_000_000] {
        let random = rng.bytes(len);
        let json = service_like(len / 40 + 1)[..len].to_vec();
        for bytes in [&random, &json] {
            for slice in [len, 64 * 1024, 4096] {
                let part = deflated(&mut deflater, bytes, slice);
                let mut out = Collected::default();
                write_gzip(&mut out, [GzipPart::Deflated(&part)]);
                assert_eq!(gunzip(&out.bytes), *bytes, "len {len}, slices of {slice}");
            }
        }
    }
}

#[test]
fn a_fragment_is_checked_before_it_is_handed_out() {
    let mut deflater = PartDeflater::new();
    let part = deflated(&mut deflater, &service_like(2000), 100_000);
    // The check accepts the real fragment and refuses it cut short or with other bytes' CRC.
    let mut crc = Crc::new();
    crc.update(&service_like(2000));
    assert!(inflates_to(part.deflated(), &crc));
    let whole = part.deflated();
    for cut in [1, 4, 5, 8, whole.len() / 2] {
        assert!(
            !inflates_to(&whole[..whole.len() - cut], &crc),
            "{cut} bytes cut"
        );
    }
    let mut other = Crc::new();
    other.update(b"other bytes");
    assert!(!inflates_to(part.deflated(), &other));
}
