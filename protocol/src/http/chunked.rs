//! Chunked transfer coding (RFC 9112 §7.1). Framing is strict (CRLF only, no stray bytes) because a
//! lenient chunk parser behind a strict proxy, or vice versa, is the classic request-smuggling
//! setup.

use super::fields::{count_work, crlf, parse_bounded, parse_section, Class, Runs, Step};
use super::{HttpError, Limits};

/// Data chunks per body. Bounds the framing overhead of a body sent in tiny chunks (and the work of
/// the final pass that copies the data out); real clients send KiB-sized chunks.
pub const MAX_CHUNKS: usize = 1 << 16;
/// Bytes after the chunk sizes (whitespace and `;extensions`), summed over a body. hyper uses the
/// same bound.
pub const MAX_CHUNK_EXT_BYTES: usize = 16 * 1024;
/// A u64 chunk size has at most 16 hex digits; more, even leading zeros, is refused as httparse
/// does.
const MAX_SIZE_DIGITS: usize = 16;
/// The shortest possible rest of a body after a chunk's data: "\r\n" is counted separately, then
/// "0\r\n\r\n".
const LAST_CHUNK_MIN_LEN: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunked {
    /// Bytes the chunked body occupies on the wire, trailers included.
    pub wire_len: usize,
    /// Sum of the chunk sizes.
    pub data_len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// `min_total` is a lower bound on the length of the buffer holding the whole body (counted
    /// from the start of that buffer, not of the body); 0 if unknown.
    Partial {
        min_total: usize,
    },
    Complete(Chunked),
}

struct SizeLine {
    size: usize,
    ext_len: usize,
    next: usize,
}

/// Walks the chunked body at the start of `body` in one go, appending chunk data to `sink` if
/// given.
pub(crate) fn scan(
    body: &[u8],
    limits: &Limits,
    sink: Option<&mut Vec<u8>>,
) -> Result<Scan, HttpError> {
    Scanner::new(0).scan(body, limits, sink)
}

/// A chunked body being walked, resumable: after `Scan::Partial`, calling [`Scanner::scan`] again
/// with the same bytes plus more continues where the previous call stopped, so walking a body that
/// arrives in many pieces costs time linear in its size, not in its size times the number of
/// pieces. The caller must not change the bytes already scanned (see `RequestParser::parse`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scanner {
    /// Where the body starts in the buffer. Every position here is an offset into that buffer.
    start: usize,
    /// Where the next chunk-size line starts; in the trailer section, the next trailer line.
    pos: usize,
    /// Sum of the sizes of the chunks whose data and CRLF have been checked.
    data_len: usize,
    /// Extension bytes of the size lines read so far.
    ext_len: usize,
    /// Data chunks whose size lines were read so far.
    chunks: usize,
    /// A chunk whose size line was read, waiting for its data and CRLF.
    pending: Option<PendingData>,
    /// Where the trailer section starts, once the last-chunk line was read.
    trailers: Option<usize>,
    runs: Runs,
}

#[derive(Clone, Copy, Debug)]
struct PendingData {
    start: usize,
    end: usize,
}

impl Scanner {
    /// A scanner for the chunked body starting at `buf[start]`.
    pub(crate) fn new(start: usize) -> Self {
        Scanner {
            start,
            pos: start,
            data_len: 0,
            ext_len: 0,
            chunks: 0,
            pending: None,
            trailers: None,
            runs: Runs::default(),
        }
    }

    /// Continues walking the body in `buf`, appending the data of each chunk it gets through to
    /// `sink` if given (so a sink sees the whole body only from a fresh scanner).
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        limits: &Limits,
        mut sink: Option<&mut Vec<u8>>,
    ) -> Result<Scan, HttpError> {
        loop {
            count_work(1);
            debug_assert!(
                self.data_len <= limits.max_body_bytes && self.ext_len <= MAX_CHUNK_EXT_BYTES
            );
            if let Some(trailers) = self.trailers {
                return self.trailers(buf, trailers, limits);
            }
            if let Some(data) = self.pending {
                let after = data.end.saturating_add(2);
                match buf.get(data.end..after) {
                    None => {
                        let min_total = after.saturating_add(LAST_CHUNK_MIN_LEN);
                        return Ok(Scan::Partial { min_total });
                    }
                    Some(b"\r\n") => {}
                    Some(_) => return Err(HttpError::BadRequest("invalid chunk data terminator")),
                }
                if let Some(out) = sink.as_deref_mut() {
                    let bytes = buf.get(data.start..data.end).unwrap_or_default();
                    count_work(bytes.len());
                    out.extend_from_slice(bytes);
                }
                self.data_len += data.end - data.start;
                self.pending = None;
                self.pos = after;
                continue;
            }
            let budget = limits.max_body_bytes - self.data_len;
            let ext_budget = MAX_CHUNK_EXT_BYTES - self.ext_len;
            let Some(line) = size_line(buf, self.pos, budget, ext_budget, &mut self.runs)? else {
                return Ok(Scan::Partial { min_total: 0 });
            };
            self.ext_len += line.ext_len;
            self.pos = line.next;
            if line.size == 0 {
                self.trailers = Some(line.next);
                continue;
            }
            self.chunks += 1;
            if self.chunks > MAX_CHUNKS {
                return Err(HttpError::BadRequest("too many chunks"));
            }
            let end = line
                .next
                .checked_add(line.size)
                .ok_or(HttpError::BodyTooLarge)?;
            self.pending = Some(PendingData {
                start: line.next,
                end,
            });
        }
    }

    /// The trailer section after the last chunk, starting at `buf[start]`. Fields are accepted and
    /// ignored; the section is bounded by `max_header_bytes` like the header section.
    fn trailers(&mut self, buf: &[u8], start: usize, limits: &Limits) -> Result<Scan, HttpError> {
        let Scanner { pos, runs, .. } = self;
        let end = parse_bounded(buf, start, limits.max_header_bytes, |window| {
            parse_section(window, pos, crlf, runs, |_| Ok(()))
        })?;
        Ok(match end {
            None => Scan::Partial { min_total: 0 },
            Some(end) => Scan::Complete(Chunked {
                wire_len: end - self.start,
                data_len: self.data_len,
            }),
        })
    }
}

/// `chunk-size [ BWS ";" chunk-ext ] CRLF`. `budget` is how many more data bytes the body may carry
/// and `ext_budget` how many more extension bytes; both are enforced before the line is complete,
/// so a peer can't make us wait on (or buffer) a chunk we will refuse anyway.
fn size_line(
    buf: &[u8],
    pos: usize,
    budget: usize,
    ext_budget: usize,
    runs: &mut Runs,
) -> Step<SizeLine> {
    const INVALID: HttpError = HttpError::BadRequest("invalid chunk size");
    let digits_end = runs.skip(buf, pos, Class::HexDigit);
    let digits = buf.get(pos..digits_end).unwrap_or_default();
    let size = chunk_size(digits, budget)?;
    if digits_end >= buf.len() {
        return Ok(None);
    }
    if digits.is_empty() {
        return Err(INVALID);
    }
    // Extension contents are ignored, but they may not hide control bytes (CR, LF, NUL...).
    let ext_end = runs.skip(buf, digits_end, Class::Value);
    let ext_len = ext_end - digits_end;
    if ext_len > ext_budget {
        return Err(HttpError::BadRequest("chunk extensions too long"));
    }
    // Whitespace (BWS) may only lead to a ';'. Whitespace bytes are value bytes, so this run ends
    // within the extension.
    let ows_end = runs.skip(buf, digits_end, Class::Ows);
    if ows_end < ext_end && buf.get(ows_end) != Some(&b';') {
        return Err(INVALID);
    }
    let next = crlf(buf, ext_end, "invalid chunk size line")?;
    Ok(next.map(|next| SizeLine {
        size,
        ext_len,
        next,
    }))
}

/// The value of `digits`, refused as soon as a digit makes it invalid or larger than `budget`.
/// Checking digit by digit, in arrival order, makes a prefix of the line fail exactly like the
/// whole line.
fn chunk_size(digits: &[u8], budget: usize) -> Result<usize, HttpError> {
    let mut size: usize = 0;
    for (count, &b) in digits.iter().enumerate() {
        if count == MAX_SIZE_DIGITS {
            return Err(HttpError::BadRequest("invalid chunk size"));
        }
        let digit = char::from(b).to_digit(16).unwrap_or(0) as usize;
        size = size
            .checked_mul(16)
            .and_then(|size| size.checked_add(digit))
            .filter(|&size| size <= budget)
            .ok_or(HttpError::BodyTooLarge)?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_body_bytes: usize) -> Limits {
        Limits {
            max_body_bytes,
            ..Limits::default()
        }
    }

    fn dechunk(body: &[u8], limits: &Limits) -> Result<(Scan, Vec<u8>), HttpError> {
        let mut out = Vec::new();
        let scan = scan(body, limits, Some(&mut out))?;
        Ok((scan, out))
    }

    fn complete(wire_len: usize, data_len: usize) -> Scan {
        Scan::Complete(Chunked { wire_len, data_len })
    }

    #[test]
    fn simple_bodies() {
        let l = Limits::default();
        assert_eq!(dechunk(b"0\r\n\r\n", &l), Ok((complete(5, 0), vec![])));
        let body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(
            dechunk(body, &l),
            Ok((complete(body.len(), 11), b"hello world".to_vec()))
        );
        let upper = b"A\r\n0123456789\r\n0\r\n\r\n";
        assert_eq!(
            dechunk(upper, &l),
            Ok((complete(upper.len(), 10), b"0123456789".to_vec()))
        );
        let zeros = b"0005\r\nhello\r\n000\r\n\r\n";
        assert_eq!(
            dechunk(zeros, &l),
            Ok((complete(zeros.len(), 5), b"hello".to_vec()))
        );
    }

    #[test]
    fn extensions_and_trailers_are_ignored() {
        let l = Limits::default();
        let body = b"5;name=value;flag\r\nhello\r\n5 ; x=\"q;\"\r\nworld\r\n\
                     0;last\r\nT: 1\r\nU: 2\r\n\r\n";
        assert_eq!(
            dechunk(body, &l),
            Ok((complete(body.len(), 10), b"helloworld".to_vec()))
        );
        let spaced = b"5 \t\r\nhello\r\n0\r\n\r\n";
        assert_eq!(
            dechunk(spaced, &l),
            Ok((complete(spaced.len(), 5), b"hello".to_vec()))
        );
    }

    #[test]
    fn bytes_after_the_body_are_not_consumed() {
        let body = b"1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(
            dechunk(body, &Limits::default()),
            Ok((complete(11, 1), b"a".to_vec()))
        );
    }

    #[test]
    fn malformed_framing_is_rejected() {
        let l = Limits::default();
        let bad = |body: &[u8], message: &'static str| {
            assert_eq!(
                scan(body, &l, None),
                Err(HttpError::BadRequest(message)),
                "{body:?}"
            );
        };
        bad(b"\r\n", "invalid chunk size");
        bad(b";ext\r\n", "invalid chunk size");
        bad(b"x\r\n", "invalid chunk size");
        bad(b"-1\r\n", "invalid chunk size");
        bad(b"+1\r\n", "invalid chunk size");
        bad(b"0x5\r\n", "invalid chunk size");
        bad(b"5 5\r\n", "invalid chunk size");
        bad(b"5\n", "invalid chunk size line");
        bad(b"5\rx", "invalid chunk size line");
        bad(b"5;a\nb\r\n", "invalid chunk size line");
        bad(b"5;a\x00\r\n", "invalid chunk size line");
        bad(b"5\r\nhelloX\r\n", "invalid chunk data terminator");
        bad(b"5\r\nhello\n0\r\n\r\n", "invalid chunk data terminator");
        bad(b"5\r\nhello world\r\n", "invalid chunk data terminator");
        bad(b"0\r\n\n", "invalid header line ending");
        bad(b"0\r\nT: 1\n\r\n", "invalid header value");
        bad(b"0\r\nT : 1\r\n\r\n", "invalid header name");
        bad(b"00000000000000000\r\n", "invalid chunk size");
    }

    #[test]
    fn chunk_sizes_are_limited_before_the_data_arrives() {
        assert_eq!(
            scan(b"10\r\n", &limits(16), None),
            Ok(Scan::Partial {
                min_total: 4 + 16 + 2 + 5
            })
        );
        assert_eq!(scan(b"11", &limits(16), None), Err(HttpError::BodyTooLarge));
        assert_eq!(
            scan(b"8\r\n12345678\r\n9", &limits(16), None),
            Err(HttpError::BodyTooLarge)
        );
        let exact = b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
        assert_eq!(
            scan(exact, &limits(16), None),
            Ok(complete(exact.len(), 16))
        );
        let over = b"8\r\n12345678\r\n8\r\n12345678\r\n1\r\n";
        assert_eq!(scan(over, &limits(16), None), Err(HttpError::BodyTooLarge));
    }

    #[test]
    fn huge_chunk_sizes_do_not_overflow() {
        let unlimited = limits(usize::MAX);
        let max = b"FFFFFFFFFFFFFFFF\r\n";
        assert_eq!(scan(max, &unlimited, None), Err(HttpError::BodyTooLarge));
        let big = b"FFFFFFFFFFFFFFF\r\n";
        let min_total = 17 + 0xFFF_FFFF_FFFF_FFFF + 2 + 5;
        assert_eq!(scan(big, &unlimited, None), Ok(Scan::Partial { min_total }));
        let too_many_digits = b"1FFFFFFFFFFFFFFFF\r\n";
        assert_eq!(
            scan(too_many_digits, &unlimited, None),
            Err(HttpError::BadRequest("invalid chunk size"))
        );
        let sum_overflows = b"1\r\na\r\nFFFFFFFFFFFFFFFF\r\n";
        assert_eq!(
            scan(sum_overflows, &unlimited, None),
            Err(HttpError::BodyTooLarge)
        );
        assert_eq!(
            scan(b"FFFFFFFFFFFFFFFF", &Limits::default(), None),
            Err(HttpError::BodyTooLarge)
        );
        assert_eq!(chunk_size(b"FFFFFFFFFFFFFFFF", usize::MAX), Ok(usize::MAX));
        assert_eq!(chunk_size(b"0aF", usize::MAX), Ok(0xAF));
        assert_eq!(chunk_size(b"", 0), Ok(0));
        assert_eq!(chunk_size(b"0000000000000000", 0), Ok(0));
        assert_eq!(
            chunk_size(b"00000000000000000", 0),
            Err(HttpError::BadRequest("invalid chunk size"))
        );
        assert_eq!(chunk_size(b"10", 15), Err(HttpError::BodyTooLarge));
        assert_eq!(chunk_size(b"F", 15), Ok(15));
        // The first problem in arrival order wins, as it would for a prefix of the line.
        assert_eq!(
            chunk_size(b"FFFFFFFFFFFFFFFFF", 1 << 23),
            Err(HttpError::BodyTooLarge)
        );
    }

    #[test]
    fn extension_bytes_are_limited() {
        let l = Limits::default();
        let ext = |len: usize| {
            let mut body = b"1;".to_vec();
            body.resize(1 + len, b'e');
            body.extend_from_slice(b"\r\na\r\n0\r\n\r\n");
            body
        };
        let at_limit = ext(MAX_CHUNK_EXT_BYTES);
        assert_eq!(scan(&at_limit, &l, None), Ok(complete(at_limit.len(), 1)));
        let over = ext(MAX_CHUNK_EXT_BYTES + 1);
        assert_eq!(
            scan(&over, &l, None),
            Err(HttpError::BadRequest("chunk extensions too long"))
        );
        // Known as soon as the bytes are there, without the line ending.
        let unfinished = &over[..MAX_CHUNK_EXT_BYTES + 2];
        assert_eq!(
            scan(unfinished, &l, None),
            Err(HttpError::BadRequest("chunk extensions too long"))
        );
        // The budget is shared by all chunks of a body.
        let mut body = Vec::new();
        for _ in 0..2 {
            body.extend_from_slice(b"1;");
            body.resize(body.len() + MAX_CHUNK_EXT_BYTES / 2, b'e');
            body.extend_from_slice(b"\r\na\r\n");
        }
        assert_eq!(
            scan(&body, &l, None),
            Err(HttpError::BadRequest("chunk extensions too long"))
        );
    }

    #[test]
    fn chunk_count_is_limited() {
        let l = limits(usize::MAX);
        let mut body = b"1\r\na\r\n".repeat(MAX_CHUNKS);
        body.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(scan(&body, &l, None), Ok(complete(body.len(), MAX_CHUNKS)));
        let mut over = b"1\r\na\r\n".repeat(MAX_CHUNKS + 1);
        over.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(
            scan(&over, &l, None),
            Err(HttpError::BadRequest("too many chunks"))
        );
    }

    #[test]
    fn trailers_are_limited_by_max_header_bytes() {
        let l = Limits {
            max_header_bytes: 10,
            ..Limits::default()
        };
        // The trailer section "T: 123\r\n\r\n" is exactly 10 bytes.
        assert_eq!(scan(b"0\r\nT: 123\r\n\r\n", &l, None), Ok(complete(13, 0)));
        assert_eq!(
            scan(b"0\r\nT: 1234\r\n\r\n", &l, None),
            Err(HttpError::HeadersTooLarge)
        );
        assert_eq!(
            scan(b"0\r\nT: 12345678", &l, None),
            Err(HttpError::HeadersTooLarge)
        );
    }

    /// Feeds growing prefixes of `body` to one scanner, checking every answer against a fresh
    /// scan, until it answers other than `Partial`. Returns that answer.
    fn scan_growing(body: &[u8], limits: &Limits, step: usize) -> Result<Scan, HttpError> {
        let mut scanner = Scanner::new(0);
        let mut len = 0;
        loop {
            let resumed = scanner.scan(&body[..len], limits, None);
            assert_eq!(
                resumed,
                scan(&body[..len], limits, None),
                "{len} of {body:?}"
            );
            if !matches!(resumed, Ok(Scan::Partial { .. })) || len == body.len() {
                return resumed;
            }
            len = (len + step).min(body.len());
        }
    }

    #[test]
    fn resumed_scans_match_fresh_ones() {
        let l = Limits::default();
        let bodies: [&[u8]; 8] = [
            b"5;e=1\r\nhello\r\n1\r\n \r\n0\r\nT: x\r\n\r\n",
            b"A \t;a=b\r\n0123456789\r\n000\r\n\r\n",
            b"10\r\n0123456789abcdef\r\n0;z\r\nA: 1\r\nB: 2\r\n\r\nextra",
            b"5\r\nhelloXY",
            b"5 x\r\n",
            b"0\r\nT: 1\n\r\n",
            b"1\r\na\r\n1;\x00\r\n",
            b"FFFFFFFF\r\n",
        ];
        for body in bodies {
            for step in 1..=4 {
                assert_eq!(scan_growing(body, &l, step), scan(body, &l, None));
            }
        }
        let tight = limits(8);
        let over = b"4\r\n0123\r\n5\r\n01234\r\n0\r\n\r\n";
        assert_eq!(scan_growing(over, &tight, 1), Err(HttpError::BodyTooLarge));
    }

    #[test]
    fn a_scanner_starts_where_the_body_does() {
        let buf = b"HEAD5\r\nhello\r\n0\r\n\r\nNEXT";
        let mut out = Vec::new();
        assert_eq!(
            Scanner::new(4).scan(buf, &Limits::default(), Some(&mut out)),
            Ok(complete(buf.len() - 8, 5))
        );
        assert_eq!(out, b"hello");
        // Hints count from the start of the buffer.
        assert_eq!(
            Scanner::new(4).scan(&buf[..9], &Limits::default(), None),
            Ok(Scan::Partial {
                min_total: 4 + 3 + 5 + 2 + 5
            })
        );
    }

    #[test]
    fn resumed_scans_do_linear_work() {
        let l = limits(usize::MAX);
        let mut body = Vec::new();
        for _ in 0..2000 {
            body.extend_from_slice(b"2;e\r\nab\r\n");
        }
        body.extend_from_slice(b"0\r\nT: 1\r\n\r\n");
        let mut scanner = Scanner::new(0);
        crate::http::fields::take_work();
        for len in 0..body.len() {
            let partial = scanner.scan(&body[..len], &l, None);
            assert!(matches!(partial, Ok(Scan::Partial { .. })), "{len}");
        }
        assert_eq!(
            scanner.scan(&body, &l, None),
            Ok(complete(body.len(), 4000))
        );
        let work = crate::http::fields::take_work();
        assert!(work <= 6 * body.len(), "{work} for {} bytes", body.len());
    }

    #[test]
    fn every_prefix_is_partial() {
        let l = Limits::default();
        let body = b"5;e=1\r\nhello\r\n1\r\n \r\n0\r\nT: x\r\n\r\n";
        for len in 0..body.len() {
            match scan(&body[..len], &l, None) {
                Ok(Scan::Partial { min_total }) => {
                    assert!(
                        min_total == 0 || (min_total > len && min_total <= body.len()),
                        "{len}"
                    )
                }
                other => panic!("prefix {len}: {other:?}"),
            }
        }
        assert_eq!(scan(body, &l, None), Ok(complete(body.len(), 6)));
    }
}
