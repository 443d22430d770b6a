//! gzip answers (RFC 1952) assembled from parts compressed once and shared.
//!
//! A lookup answer is a small envelope around cached Service bytes (tens of kilobytes for a
//! service of 100 instances) that many requests share by reference. Compressing each answer
//! whole would cost every request a full deflate pass; instead each cached part is compressed
//! once into a [`DeflatedPart`]: raw deflate that starts a fresh stream (so it refers to nothing
//! before it) and ends with a sync flush (so it ends on a byte boundary). Such fragments can be
//! placed one after another anywhere in a deflate stream. The envelope's own bytes go between
//! them as stored (uncompressed) blocks, and the member's CRC-32 is combined from the parts'
//! CRCs without reading their bytes again. The answer is thus a few owned bytes plus shared
//! fragments, built in time proportional to the number of parts.

use std::sync::Arc;

use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};

use super::fields::{list_elements, trim_ows};
use crate::model::BodySink;

/// Whether a request whose `Accept-Encoding` field values are `values` (every such field, in
/// order) takes a gzip answer (RFC 9110 §12.5.3): `gzip` or `x-gzip` listed without `q=0`, or
/// `*` without `q=0` and gzip not refused by name. No field, or an empty one, means no.
pub fn accepts_gzip<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let mut named: Option<bool> = None;
    let mut any = false;
    for value in values {
        for element in list_elements(value) {
            let mut pieces = element.split(|&b| b == b';');
            let coding = trim_ows(pieces.next().unwrap_or_default());
            let refused = pieces.any(is_zero_q);
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                // Listed twice: a refusal wins.
                named = Some(named.unwrap_or(true) && !refused);
            } else if coding == b"*" {
                any |= !refused;
            }
        }
    }
    named.unwrap_or(any)
}

/// A `q` parameter of zero ("q=0", "Q = 0.000"); anything else, malformed included, is not.
fn is_zero_q(param: &[u8]) -> bool {
    let mut halves = param.splitn(2, |&b| b == b'=');
    let name = trim_ows(halves.next().unwrap_or_default());
    let Some(value) = halves.next().map(trim_ows) else {
        return false;
    };
    if !name.eq_ignore_ascii_case(b"q") {
        return false;
    }
    match value {
        [b'0'] => true,
        [b'0', b'.', decimals @ ..] => decimals.len() <= 3 && decimals.iter().all(|&d| d == b'0'),
        _ => false,
    }
}

/// Bytes compressed as a self-contained deflate fragment (see the module comment), with the
/// CRC-32 and length of the bytes it holds. Cloning shares it.
#[derive(Clone)]
pub struct DeflatedPart(Arc<Fragment>);

struct Fragment {
    deflated: Arc<[u8]>,
    crc: Crc,
}

impl DeflatedPart {
    /// The fragment's compressed bytes.
    pub fn deflated(&self) -> &Arc<[u8]> {
        &self.0.deflated
    }

    /// How many bytes it holds uncompressed (modulo 2^32, as gzip counts).
    pub fn plain_len(&self) -> u32 {
        self.0.crc.amount()
    }
}

/// Output room kept free for every step of the compressor, beyond half the input. miniz_oxide
/// (flate2's Rust backend) writes a block it flushes mid-call into an internal buffer when the
/// output has less room than a whole block, and a later call with no input left may then end
/// without the rest of the flush; with this much room every block goes straight to the output.
/// (Each fragment is also inflated once and checked, see [`PartDeflater::finish`].)
const OUTPUT_ROOM: usize = 128 * 1024;
/// Output of the check's inflater per step.
const CHECK_STEP: usize = 32 * 1024;

/// Compresses bytes, fed in any number of slices (a caller can yield between slices), into one
/// [`DeflatedPart`]. Reusable: [`finish`](Self::finish) readies it for the next part. The
/// compressor's state is a few hundred kilobytes, so a server keeps one per core.
pub struct PartDeflater {
    compress: Compress,
    out: Vec<u8>,
    crc: Crc,
}

impl Default for PartDeflater {
    fn default() -> Self {
        PartDeflater::new()
    }
}

/// The compressor refused its input (it does not for valid use; callers answer uncompressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateFailed;

impl PartDeflater {
    /// Level 1: lookup answers are repetitive JSON (a 36 KB service of 100 instances shrinks
    /// about 15 times), and higher levels cost several times the CPU for a few percent.
    pub fn new() -> Self {
        PartDeflater {
            compress: Compress::new(Compression::fast(), false),
            out: Vec::new(),
            crc: Crc::new(),
        }
    }

    /// Compresses `input` as the next bytes of the current part.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), DeflateFailed> {
        self.crc.update(input);
        self.deflate(input, FlushCompress::None)
    }

    /// Ends the current part on a byte boundary and returns it; the deflater starts a new one.
    /// The fragment is inflated once and must give back exactly the bytes fed (length and
    /// CRC-32): it is shared by every answer until its bytes change, so a fault here would
    /// corrupt all of them.
    pub fn finish(&mut self) -> Result<DeflatedPart, DeflateFailed> {
        let flushed = self.deflate(&[], FlushCompress::Sync);
        let checked = flushed.is_ok() && inflates_to(&self.out, &self.crc);
        let part = DeflatedPart(Arc::new(Fragment {
            deflated: Arc::from(&self.out[..]),
            crc: std::mem::replace(&mut self.crc, Crc::new()),
        }));
        self.abandon();
        if checked {
            Ok(part)
        } else {
            Err(DeflateFailed)
        }
    }

    /// Drops the current part (a caller that gave up on it); the deflater starts a new one.
    pub fn abandon(&mut self) {
        self.compress.reset();
        self.out.clear();
        self.crc.reset();
    }

    fn deflate(&mut self, mut input: &[u8], flush: FlushCompress) -> Result<(), DeflateFailed> {
        loop {
            self.out.reserve(input.len() / 2 + OUTPUT_ROOM);
            let read_before = self.compress.total_in();
            self.compress
                .compress_vec(input, &mut self.out, flush)
                .map_err(|_| DeflateFailed)?;
            let read = usize::try_from(self.compress.total_in() - read_before)
                .expect("never more than the input's length");
            input = input.get(read..).unwrap_or_default();
            // Done once the input is consumed and the compressor stopped short of filling the
            // output (so it has nothing more to write for this flush).
            if input.is_empty() && self.out.len() < self.out.capacity() {
                return Ok(());
            }
        }
    }
}

/// The end of a sync flush: an empty stored block's LEN and NLEN, which end on a byte boundary.
const SYNC_MARKER: [u8; 4] = [0, 0, 0xff, 0xff];

/// Whether the raw deflate `fragment` ends with a sync flush and inflates, without ending the
/// stream, to bytes of `expected`'s length and CRC-32, consuming all of itself.
fn inflates_to(fragment: &[u8], expected: &Crc) -> bool {
    // Without the marker the data could inflate right and still end mid-byte.
    if !fragment.ends_with(&SYNC_MARKER) {
        return false;
    }
    let mut inflater = Decompress::new(false);
    let mut out = vec![0; CHECK_STEP];
    let mut crc = Crc::new();
    let mut input = fragment;
    loop {
        let (read_before, wrote_before) = (inflater.total_in(), inflater.total_out());
        match inflater.decompress(input, &mut out, FlushDecompress::Sync) {
            // A fragment must not end the stream: answers go on after it.
            Ok(Status::StreamEnd) | Err(_) => return false,
            Ok(Status::Ok | Status::BufError) => {}
        }
        let read = usize::try_from(inflater.total_in() - read_before).unwrap_or(usize::MAX);
        let wrote = usize::try_from(inflater.total_out() - wrote_before).unwrap_or(usize::MAX);
        let (Some(rest), Some(produced)) = (input.get(read..), out.get(..wrote)) else {
            return false;
        };
        crc.update(produced);
        input = rest;
        if read == 0 && wrote == 0 {
            break;
        }
    }
    input.is_empty() && crc.sum() == expected.sum() && crc.amount() == expected.amount()
}

/// The fixed gzip member header: ID1 ID2, CM = deflate, no flags, no time, no extra flags,
/// OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// The last block: final, stored, empty (header bits, then LEN = 0 and NLEN = !0).
const FINAL_EMPTY_BLOCK: [u8; 5] = [1, 0, 0, 0xff, 0xff];
/// The most bytes one stored block holds (its LEN is 16 bits).
const STORED_BLOCK_MAX: usize = u16::MAX as usize;

/// One piece of an answer to gzip.
pub enum GzipPart<'a> {
    /// Bytes to send as stored blocks (short envelope bytes: not worth compressing).
    Plain(&'a [u8]),
    /// A compressed fragment, shared rather than copied.
    Deflated(&'a DeflatedPart),
}

/// Writes one gzip member holding the parts in order: owned bytes for the header, stored blocks
/// and trailer, the fragments shared.
pub fn write_gzip<'a>(sink: &mut impl BodySink, parts: impl IntoIterator<Item = GzipPart<'a>>) {
    let mut crc = Crc::new();
    sink.owned().extend_from_slice(&GZIP_HEADER);
    for part in parts {
        match part {
            GzipPart::Plain(bytes) => {
                crc.update(bytes);
                write_stored(sink.owned(), bytes);
            }
            GzipPart::Deflated(part) => {
                crc.combine(&part.0.crc);
                sink.share(&part.0.deflated);
            }
        }
    }
    let out = sink.owned();
    out.extend_from_slice(&FINAL_EMPTY_BLOCK);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
}

/// `bytes` as non-final stored blocks. Every part ends on a byte boundary, so a stored block's
/// header is one whole byte (BFINAL = 0, BTYPE = 00, padding).
fn write_stored(out: &mut Vec<u8>, bytes: &[u8]) {
    for block in bytes.chunks(STORED_BLOCK_MAX) {
        let len = u16::try_from(block.len()).expect("chunks of at most u16::MAX");
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

#[cfg(test)]
#[path = "gzip_answer_tests.rs"]
mod tests;
