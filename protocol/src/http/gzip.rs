//! gzip Content-Encoding (RFC 1952), inflated in steps whose work the caller bounds.
//!
//! A gzip body can cost far more CPU than its size suggests: every member restarts the decoder and
//! every deflate block rebuilds its code tables, so 8 MB of empty members or empty blocks takes
//! seconds to inflate into nothing. [`GzipInflater`] therefore bounds what one body may produce
//! (`max_output`, the zip-bomb defence) and how many members it may have (`max_members`), and
//! inflates in steps of at most a given number of input bytes, so a server can spread one body over
//! several turns of its event loop and give up on one that costs too much.

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::{ContentEncoding, HttpError, Request};

/// Bounds on inflating one body. Both are inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GzipLimits {
    /// Inflated bytes; one more is [`HttpError::BodyTooLarge`].
    pub max_output: usize,
    /// Concatenated gzip members (RFC 1952 §2.2); one more is [`TOO_MANY_MEMBERS`].
    pub max_members: usize,
}

/// Corrupt or truncated gzip, a bad CRC or length, or bytes after the last member.
pub const INVALID_GZIP: HttpError = HttpError::BadRequest("invalid gzip body");
/// More members than [`GzipLimits::max_members`].
pub const TOO_MANY_MEMBERS: HttpError = HttpError::BadRequest("gzip body has too many members");

/// How far [`GzipInflater::step`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Input is left: call `step` again.
    More,
    /// The whole body is inflated and checked.
    Done,
}

/// The member header's fixed part: ID1 ID2 CM FLG MTIME(4) XFL OS.
const FIXED_HEADER_LEN: usize = 10;
/// CRC32 and ISIZE after each member's deflate data.
const TRAILER_LEN: usize = 8;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
/// RFC 1952: "must give an error indication if any reserved bit is non-zero".
const FRESERVED: u8 = 0xE0;
/// Smallest growth of the output buffer, so small bodies don't reallocate byte by byte.
const MIN_GROWTH: usize = 16 * 1024;

/// Inflates one gzip body (one or more members) step by step into a caller's buffer.
pub struct GzipInflater<'i> {
    /// Input not consumed yet.
    rest: &'i [u8],
    limits: GzipLimits,
    /// Members started so far.
    members: usize,
    /// True between members: the next step starts by reading a member header.
    at_member_start: bool,
    inflate: Decompress,
    /// CRC32 and length of the current member's output, checked against its trailer.
    crc: Crc,
}

impl<'i> GzipInflater<'i> {
    pub fn new(input: &'i [u8], limits: GzipLimits) -> Self {
        GzipInflater {
            rest: input,
            limits,
            members: 0,
            at_member_start: true,
            inflate: Decompress::new(false),
            crc: Crc::new(),
        }
    }

    /// Inflates at most `max_input` bytes of deflate data (plus the member headers and trailers
    /// met on the way) and appends the output to `out`, which must hold only what earlier steps of
    /// this body appended. On error `out` is cleared and the inflater must not be stepped again.
    pub fn step(&mut self, out: &mut Vec<u8>, max_input: usize) -> Result<Progress, HttpError> {
        assert!(max_input > 0, "a step must be allowed to consume input");
        let result = self.advance(out, max_input);
        if result.is_err() {
            out.clear();
        }
        result
    }

    fn advance(&mut self, out: &mut Vec<u8>, max_input: usize) -> Result<Progress, HttpError> {
        if self.at_member_start {
            self.begin_member()?;
        }
        let piece = &self.rest[..self.rest.len().min(max_input)];
        let mut used = 0;
        loop {
            if out.len() == out.capacity() {
                self.grow(out);
            }
            let (in_before, out_before) = (self.inflate.total_in(), out.len());
            let status = self
                .inflate
                .decompress_vec(&piece[used..], out, FlushDecompress::None)
                .map_err(|_| INVALID_GZIP)?;
            let consumed = usize::try_from(self.inflate.total_in() - in_before)
                .expect("consumed at most the piece");
            used += consumed;
            self.crc.update(&out[out_before..]);
            if out.len() > self.limits.max_output {
                return Err(HttpError::BodyTooLarge);
            }
            if status == Status::StreamEnd {
                self.rest = &self.rest[used..];
                return self.end_member();
            }
            if out.len() == out.capacity() {
                // Out of room: there may be more output before the decoder needs input.
                continue;
            }
            if used == piece.len() {
                // Room left and the piece used up: the decoder wants the next piece.
                self.rest = &self.rest[used..];
                return if self.rest.is_empty() {
                    Err(INVALID_GZIP)
                } else {
                    Ok(Progress::More)
                };
            }
            if consumed == 0 && out.len() == out_before {
                // Input and room both left, yet nothing moved: never loop on a stuck decoder.
                return Err(INVALID_GZIP);
            }
        }
    }

    /// Room for more output, never past one byte over the limit: that byte tells "exactly at the
    /// limit" from "over it" without inflating further.
    fn grow(&self, out: &mut Vec<u8>) {
        let allowed = self.limits.max_output.saturating_add(1);
        debug_assert!(out.len() < allowed, "an over-limit body stops at once");
        out.reserve_exact(out.len().max(MIN_GROWTH).min(allowed - out.len()));
    }

    /// Counts a new member, skips its header and restarts the decoder.
    fn begin_member(&mut self) -> Result<(), HttpError> {
        self.members += 1;
        if self.members > self.limits.max_members {
            return Err(TOO_MANY_MEMBERS);
        }
        let header_len = member_header_len(self.rest)?;
        self.rest = &self.rest[header_len..];
        self.inflate.reset(false);
        self.crc.reset();
        self.at_member_start = false;
        Ok(())
    }

    /// Checks the member's trailer against its output; the body ends here or another member
    /// follows (anything else after a member is invalid).
    fn end_member(&mut self) -> Result<Progress, HttpError> {
        let trailer = self.rest.get(..TRAILER_LEN).ok_or(INVALID_GZIP)?;
        let crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
        let size = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
        if crc != self.crc.sum() || size != self.crc.amount() {
            return Err(INVALID_GZIP);
        }
        self.rest = &self.rest[TRAILER_LEN..];
        self.at_member_start = true;
        Ok(if self.rest.is_empty() {
            Progress::Done
        } else {
            Progress::More
        })
    }
}

/// The length of the member header at the start of `input` (RFC 1952 §2.3), checked.
fn member_header_len(input: &[u8]) -> Result<usize, HttpError> {
    let fixed = input.get(..FIXED_HEADER_LEN).ok_or(INVALID_GZIP)?;
    // ID1, ID2, and CM = 8 (deflate), the only method defined.
    if fixed[..3] != [0x1f, 0x8b, 8] {
        return Err(INVALID_GZIP);
    }
    let flags = fixed[3];
    if flags & FRESERVED != 0 {
        return Err(INVALID_GZIP);
    }
    let mut len = FIXED_HEADER_LEN;
    if flags & FEXTRA != 0 {
        let xlen = input.get(len..len + 2).ok_or(INVALID_GZIP)?;
        len += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let field = input.get(len..).ok_or(INVALID_GZIP)?;
            let nul = field.iter().position(|&b| b == 0).ok_or(INVALID_GZIP)?;
            len += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = input.get(len..len + 2).ok_or(INVALID_GZIP)?;
        let mut crc = Crc::new();
        crc.update(&input[..len]);
        // The header CRC is the low 16 bits of the CRC32 of the header before it.
        if u16::from_le_bytes([stored[0], stored[1]]) != crc.sum() as u16 {
            return Err(INVALID_GZIP);
        }
        len += 2;
    }
    if len > input.len() {
        return Err(INVALID_GZIP);
    }
    Ok(len)
}

/// Inflates the whole gzip body `input` into `out` (cleared first) in one go; errors as
/// [`GzipInflater::step`], with `out` left empty.
pub fn inflate_gzip(input: &[u8], out: &mut Vec<u8>, limits: GzipLimits) -> Result<(), HttpError> {
    out.clear();
    let mut inflater = GzipInflater::new(input, limits);
    while inflater.step(out, input.len().max(1))? == Progress::More {}
    Ok(())
}

/// A request body and the content coding to remove from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodedBody<'b> {
    /// The body as it is meant (identity, or empty: an empty body has nothing to decode).
    Identity(&'b [u8]),
    /// A gzip body to inflate (for instance with [`GzipInflater`]).
    Gzip(&'b [u8]),
}

/// The request's body (see [`Request::raw_body`]) and its Content-Encoding. An unsupported
/// encoding is `UnsupportedContentEncoding` (415); the request was framed fine, so the connection
/// may carry on.
pub fn encoded_body<'s>(
    req: &Request<'_>,
    read_buf: &'s [u8],
    dechunked: &'s [u8],
) -> Result<EncodedBody<'s>, HttpError> {
    let raw = req.raw_body(read_buf, dechunked);
    if raw.is_empty() {
        return Ok(EncodedBody::Identity(raw));
    }
    match req.content_encoding {
        ContentEncoding::Identity => Ok(EncodedBody::Identity(raw)),
        ContentEncoding::Unsupported => Err(HttpError::UnsupportedContentEncoding),
        ContentEncoding::Gzip => Ok(EncodedBody::Gzip(raw)),
    }
}

#[cfg(test)]
mod tests;
