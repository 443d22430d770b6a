//! Parsing one request (RFC 9112): [`RequestParser`] drives it resumably across calls, reads the
//! header section (§5) and judges what its fields say about the connection and the content coding.
//! The request line (§3) is parsed in `line`; where the body ends (§6) is decided in `framing`.

mod framing;
mod line;

use std::fmt;

use self::framing::{locate_body, BodyLocation, Framing, FramingFields};
use self::line::{parse_request_line, skip_empty_lines, split_target, RequestLine};
use super::chunked;
use super::fields::{
    count_work, has_element, line_end, list_elements, parse_bounded, parse_section, FieldSpan,
    Runs, Step,
};
use super::{Header, HttpError, Limits, Method, Version};

/// Header slots reserved when the parser is built, so parsing doesn't allocate. A larger
/// `max_headers` still works; the vector then grows (once) on a request that needs it.
const PREALLOCATED_HEADERS: usize = 256;

/// How many bytes at each end of the already-scanned prefix are compared to tell whether a call
/// resumes the same request; see [`RequestParser::parse`].
const SAMPLE: usize = 8;

/// Parses requests from the start of a connection's read buffer. Owns the header-offset storage
/// that a returned [`Request`] borrows, which is why `parse` takes `&'b mut self`.
///
/// Between calls that answer `Partial` for the same request it keeps how far it got (see
/// [`RequestParser::parse`]), so a request that arrives in many small reads is parsed in time
/// linear in its size.
pub struct RequestParser {
    limits: Limits,
    fields: Vec<FieldSpan>,
    pending_continue: bool,
    /// Set while the last call answered `Partial`: where to resume. `None` after a complete
    /// request, an error, or [`RequestParser::reset`].
    progress: Option<Progress>,
}

/// How far parsing of a partly received request got. Every position is an offset from the start of
/// the buffer passed to `parse`.
#[derive(Clone, Copy, Debug, Default)]
struct Progress {
    /// The prefix of the buffer this progress was computed from.
    seen: Seen,
    /// The head while it is incomplete.
    scan: HeadScan,
    /// Run memo for the head's unfinished line.
    runs: Runs,
    /// Set once the head is complete; the header fields are in `RequestParser::fields`.
    head: Option<Head>,
    /// The chunked body, once the head is complete and announces one.
    chunks: Option<chunked::Scanner>,
}

/// The length and a sample of the bytes of the buffer a `Partial` answer was computed from: a cheap
/// check that the next call passes the same request again (plus, normally, more bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    len: usize,
    first: [u8; SAMPLE],
    last: [u8; SAMPLE],
}

impl Seen {
    fn of(buf: &[u8]) -> Seen {
        let mut seen = Seen {
            len: buf.len(),
            ..Seen::default()
        };
        let take = buf.len().min(SAMPLE);
        let samples = [
            (&mut seen.first, buf.get(..take)),
            (&mut seen.last, buf.get(buf.len() - take..)),
        ];
        for (sample, bytes) in samples {
            if let (Some(sample), Some(bytes)) = (sample.get_mut(..take), bytes) {
                sample.copy_from_slice(bytes);
            }
        }
        seen
    }

    /// True if `buf` starts with a prefix that looks like the one this was taken from.
    fn resumed_by(&self, buf: &[u8]) -> bool {
        buf.get(..self.len)
            .is_some_and(|prefix| Seen::of(prefix) == *self)
    }
}

/// Progress through a head that hasn't fully arrived.
#[derive(Clone, Copy, Debug, Default)]
struct HeadScan {
    /// Start of the first line not parsed yet: an empty line before the request line, the request
    /// line, or a header field line.
    pos: usize,
    /// The request line, once complete.
    line: Option<RequestLine>,
}

/// The outcome of [`RequestParser::parse`] on a buffer that isn't (yet) invalid.
#[derive(Debug)]
pub enum Parsed<'b> {
    /// More bytes are needed; call again with them appended (the parser resumes, see
    /// [`RequestParser::parse`]). The buffer must hold at least `min_total` bytes before parsing
    /// can succeed (0 if unknown; always > `buf.len()` otherwise). It is exact for a
    /// Content-Length body once the head is parsed, so the caller can skip re-parsing until the
    /// whole body is buffered, and a lower bound while inside a chunk's data (the end of that
    /// chunk, its CRLF and the shortest last chunk). Malformed bytes may still fail earlier.
    Partial { min_total: usize },
    /// One complete request occupying `buf[..consumed]`; pipelined bytes after it are left for the
    /// next call.
    Complete {
        request: Request<'b>,
        consumed: usize,
    },
}

/// How the request body was encoded by the client (Content-Encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    /// Anything else (br, deflate, stacked gzip, ...). [`super::decode_body`] answers it with 415.
    Unsupported,
}

/// A fully received request. Borrows the connection's read buffer and the parser's header storage.
#[derive(Clone, Debug)]
pub struct Request<'b> {
    pub method: Method,
    /// The target up to (not including) '?', still percent-encoded. Always starts with '/':
    /// absolute-form targets ("http://host/path") are reduced to their path.
    pub path: &'b str,
    /// After '?', "" if none. A '#' fragment is stripped.
    pub query: &'b str,
    pub version: Version,
    /// HTTP/1.1: unless "Connection: close". HTTP/1.0: only with "Connection: keep-alive".
    pub keep_alive: bool,
    /// Content-Encoding is gzip (or x-gzip).
    pub gzip: bool,
    pub content_encoding: ContentEncoding,
    /// "Expect: 100-continue" on an HTTP/1.1 request (RFC 9110 §10.1.1 says to ignore it for
    /// HTTP/1.0).
    pub expect_continue: bool,
    /// "Upgrade: websocket" together with a Connection header listing "upgrade".
    pub upgrade_websocket: bool,
    pub headers: HeaderList<'b>,
    body: BodyLocation,
}

/// The header fields of a request, in order. Resolves stored offsets against the read buffer.
#[derive(Clone, Copy)]
pub struct HeaderList<'b> {
    buf: &'b [u8],
    fields: &'b [FieldSpan],
}

pub struct HeaderIter<'b> {
    buf: &'b [u8],
    fields: std::slice::Iter<'b, FieldSpan>,
}

/// How far [`advance`] got with the request at the start of the buffer.
enum Framed {
    Partial {
        min_total: usize,
    },
    Complete {
        head: Head,
        body: BodyLocation,
        consumed: usize,
    },
}

/// A complete, interpreted head.
#[derive(Clone, Copy, Debug)]
struct Head {
    line: RequestLine,
    len: usize,
    semantics: Semantics,
}

/// What the header fields say about framing and connection handling.
#[derive(Clone, Copy, Debug)]
struct Semantics {
    framing: Framing,
    keep_alive: bool,
    content_encoding: ContentEncoding,
    expect_continue: bool,
    upgrade_websocket: bool,
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        let fields = Vec::with_capacity(limits.max_headers.min(PREALLOCATED_HEADERS));
        RequestParser {
            limits,
            fields,
            pending_continue: false,
            progress: None,
        }
    }

    /// Forgets a partly parsed request, so the next [`RequestParser::parse`] starts from the
    /// beginning of the buffer it is given. Call it when discarding or replacing the bytes of a
    /// request that `parse` answered `Partial` for (`parse` resets itself after `Complete` and
    /// after an error).
    pub fn reset(&mut self) {
        self.progress = None;
        self.fields.clear();
        self.pending_continue = false;
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// True if the last `parse` returned `Partial` for a request whose head is complete, that
    /// expects "100-continue" and announces a body: the client may be waiting for
    /// [`super::write_continue`] before sending that body.
    pub fn pending_continue(&self) -> bool {
        self.pending_continue
    }

    /// Parses one request from the start of `buf`; see [`Parsed`]. `dechunked` is cleared, and
    /// receives the body of a chunked request once it is complete (so a growing body isn't copied
    /// on every call). Errors are final: the caller should answer with `error.status()` and close
    /// the connection.
    ///
    /// # Resuming
    ///
    /// After `Ok(Parsed::Partial)` the parser keeps how far it got: the head once it is parsed
    /// (fields, framing), or the start of its first unfinished line; for a chunked body, where the
    /// next chunk-size line starts, the data bytes, chunks and extension bytes so far; within an
    /// unfinished line, how far each run of bytes was scanned. The next call continues from there,
    /// so parsing a request costs time linear in its size however its bytes are split across
    /// calls. In exchange the caller must keep to this contract, which is what a connection loop
    /// does naturally:
    ///
    /// - After `Partial`, call again with the same bytes at the start of `buf`, normally followed by
    ///   more: the buffer may move or be reallocated (offsets are relative to `buf`), but the bytes
    ///   already passed must not change.
    /// - After `Complete { consumed }`, the next call is for the next request, whose bytes start at
    ///   `buf[consumed..]` of that call; after an error, don't reuse the parser for that stream.
    ///   Both reset the progress by themselves.
    /// - To drop a partly received request (or switch to another stream), call
    ///   [`RequestParser::reset`].
    ///
    /// A call with fewer bytes than the previous `Partial` one starts over. Otherwise the request is
    /// only checked cheaply to be the same one: the first and last few bytes of the prefix seen
    /// before are compared, and a mismatch starts over too. Changing bytes in the middle breaks the
    /// contract undetected: the answer may then be wrong (never a panic or an out-of-bounds
    /// access), as if those bytes hadn't changed.
    pub fn parse<'b>(
        &'b mut self,
        buf: &'b [u8],
        dechunked: &mut Vec<u8>,
    ) -> Result<Parsed<'b>, HttpError> {
        count_work(1);
        self.pending_continue = false;
        dechunked.clear();
        let mut progress = match self.progress.take() {
            Some(progress) if progress.seen.resumed_by(buf) => progress,
            _ => {
                self.fields.clear();
                Progress::default()
            }
        };
        // On `Partial` the progress is put back; on `Complete` and errors it stays `None`.
        let (head, body, consumed) = match advance(
            &mut progress,
            &mut self.fields,
            buf,
            &self.limits,
            dechunked,
        )? {
            Framed::Complete {
                head,
                body,
                consumed,
            } => (head, body, consumed),
            Framed::Partial { min_total } => {
                self.pending_continue = progress.head.is_some_and(|head| {
                    head.semantics.expect_continue && head.semantics.framing != Framing::None
                });
                progress.seen = Seen::of(buf);
                self.progress = Some(progress);
                return Ok(Parsed::Partial { min_total });
            }
        };
        debug_assert!(consumed >= head.len && consumed <= buf.len());

        // Checked when the request line arrived; done again here, once, to borrow from `buf`.
        let target = std::str::from_utf8(head.line.target.of(buf))
            .map_err(|_| HttpError::BadRequest("invalid request target"))?;
        let (path, query) = split_target(target)?;
        let semantics = head.semantics;
        let request = Request {
            method: head.line.method,
            path,
            query,
            version: head.line.version,
            keep_alive: semantics.keep_alive,
            gzip: semantics.content_encoding == ContentEncoding::Gzip,
            content_encoding: semantics.content_encoding,
            expect_continue: semantics.expect_continue,
            upgrade_websocket: semantics.upgrade_websocket,
            headers: HeaderList {
                buf,
                fields: &self.fields,
            },
            body,
        };
        Ok(Parsed::Complete { request, consumed })
    }
}

/// Takes the request at the start of `buf` as far as it goes, from where `progress` got to.
fn advance(
    progress: &mut Progress,
    fields: &mut Vec<FieldSpan>,
    buf: &[u8],
    limits: &Limits,
    dechunked: &mut Vec<u8>,
) -> Result<Framed, HttpError> {
    let head = match progress.head {
        Some(head) => head,
        None => {
            let Progress { scan, runs, .. } = progress;
            let parsed = parse_bounded(buf, 0, limits.max_header_bytes, |window| {
                parse_head(window, scan, runs, fields, limits.max_headers)
            })?;
            let Some((line, len)) = parsed else {
                return Ok(Framed::Partial { min_total: 0 });
            };
            debug_assert!(len <= buf.len() && len <= limits.max_header_bytes);
            let headers = HeaderList { buf, fields };
            let semantics = interpret(headers, line.version, limits)?;
            let head = Head {
                line,
                len,
                semantics,
            };
            progress.head = Some(head);
            head
        }
    };
    let located = locate_body(
        head.semantics.framing,
        buf,
        head.len,
        &mut progress.chunks,
        limits,
        dechunked,
    )?;
    let (body, consumed) = match located {
        Ok(done) => done,
        Err(min_total) => return Ok(Framed::Partial { min_total }),
    };
    Ok(Framed::Complete {
        head,
        body,
        consumed,
    })
}

impl<'b> Request<'b> {
    /// Case-insensitive header lookup (first occurrence).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers.get(name)
    }

    /// All header fields in order, as (name, value).
    pub fn headers(&self) -> impl Iterator<Item = (&'b str, &'b [u8])> {
        self.headers
            .iter()
            .map(|header| (header.name, header.value))
    }

    /// The body as framed (still gzip-compressed if `gzip`): a slice of `read_buf` for
    /// Content-Length bodies, `dechunked` for chunked ones. Pass the buffers given to the `parse`
    /// call that returned this request.
    pub fn raw_body<'s>(&self, read_buf: &'s [u8], dechunked: &'s [u8]) -> &'s [u8] {
        match self.body {
            BodyLocation::Empty => &[],
            BodyLocation::InBuffer { start, end } => read_buf.get(start..end).unwrap_or_default(),
            BodyLocation::Dechunked { len } => dechunked.get(..len).unwrap_or(dechunked),
        }
    }

    /// Length of the framed body (before any inflation).
    pub fn body_len(&self) -> usize {
        match self.body {
            BodyLocation::Empty => 0,
            BodyLocation::InBuffer { start, end } => end - start,
            BodyLocation::Dechunked { len } => len,
        }
    }
}

impl<'b> HeaderList<'b> {
    /// Case-insensitive lookup of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&'b [u8]> {
        self.get_all(name).next()
    }

    /// Values of every field named `name` (case-insensitive), in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'b [u8]> + 'n
    where
        'b: 'n,
    {
        let buf = self.buf;
        self.fields
            .iter()
            .filter(move |field| field.name.of(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(move |field| field.value.of(buf))
    }

    pub fn iter(&self) -> HeaderIter<'b> {
        HeaderIter {
            buf: self.buf,
            fields: self.fields.iter(),
        }
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

impl<'b> IntoIterator for HeaderList<'b> {
    type Item = Header<'b>;
    type IntoIter = HeaderIter<'b>;

    fn into_iter(self) -> HeaderIter<'b> {
        self.iter()
    }
}

impl<'b> Iterator for HeaderIter<'b> {
    type Item = Header<'b>;

    fn next(&mut self) -> Option<Header<'b>> {
        let field = self.fields.next()?;
        // Names were validated as tokens, which are ASCII, so the conversion can't fail.
        let name = std::str::from_utf8(field.name.of(self.buf)).unwrap_or_default();
        Some(Header {
            name,
            value: field.value.of(self.buf),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl fmt::Debug for HeaderList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self
            .iter()
            .map(|h| (h.name, String::from_utf8_lossy(h.value)));
        f.debug_map().entries(entries).finish()
    }
}

/// The head, from where `scan` got to: the request line and its length once complete. Fields are
/// appended to `fields` as their lines complete.
fn parse_head(
    buf: &[u8],
    scan: &mut HeadScan,
    runs: &mut Runs,
    fields: &mut Vec<FieldSpan>,
    max_headers: usize,
) -> Step<(RequestLine, usize)> {
    let line = match scan.line {
        Some(line) => line,
        None => {
            if skip_empty_lines(buf, &mut scan.pos)?.is_none() {
                return Ok(None);
            }
            let Some((line, fields_start)) = parse_request_line(buf, scan.pos, runs)? else {
                return Ok(None);
            };
            scan.pos = fields_start;
            *scan.line.insert(line)
        }
    };
    let end = parse_section(buf, &mut scan.pos, line_end, runs, |field| {
        push_field(fields, field, max_headers)
    })?;
    Ok(end.map(|len| (line, len)))
}

fn push_field(
    fields: &mut Vec<FieldSpan>,
    field: FieldSpan,
    max_headers: usize,
) -> Result<(), HttpError> {
    if fields.len() >= max_headers {
        return Err(HttpError::TooManyHeaders);
    }
    fields.push(field);
    Ok(())
}

/// Facts gathered from the header fields, judged together once all are seen.
#[derive(Default)]
struct FieldFacts {
    framing: FramingFields,
    connection_close: bool,
    connection_keep_alive: bool,
    connection_upgrade: bool,
    upgrade_websocket: bool,
    expect_continue: bool,
    gzip_codings: usize,
    other_content_coding: bool,
    hosts: usize,
}

fn interpret(
    headers: HeaderList<'_>,
    version: Version,
    limits: &Limits,
) -> Result<Semantics, HttpError> {
    let mut facts = FieldFacts::default();
    for field in headers.fields {
        facts.observe(
            field.name.of(headers.buf),
            field.value.of(headers.buf),
            limits,
        )?;
    }
    facts.conclude(version)
}

impl FieldFacts {
    fn observe(&mut self, name: &[u8], value: &[u8], limits: &Limits) -> Result<(), HttpError> {
        let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
        if is("content-length") {
            self.framing
                .observe_content_length(value, limits.max_body_bytes)?;
        } else if is("transfer-encoding") {
            self.framing.observe_transfer_encoding(value);
        } else if is("connection") {
            self.observe_connection(value);
        } else if is("content-encoding") {
            self.observe_content_encoding(value);
        } else if is("expect") {
            self.expect_continue |= has_element(value, "100-continue");
        } else if is("upgrade") {
            self.upgrade_websocket |= has_element(value, "websocket");
        } else if is("host") {
            self.hosts += 1;
        }
        Ok(())
    }

    fn observe_connection(&mut self, value: &[u8]) {
        for option in list_elements(value) {
            self.connection_close |= option.eq_ignore_ascii_case(b"close");
            self.connection_keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
            self.connection_upgrade |= option.eq_ignore_ascii_case(b"upgrade");
        }
    }

    fn observe_content_encoding(&mut self, value: &[u8]) {
        for coding in list_elements(value) {
            if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
                self.gzip_codings += 1;
            } else if !coding.eq_ignore_ascii_case(b"identity") {
                self.other_content_coding = true;
            }
        }
    }

    fn conclude(self, version: Version) -> Result<Semantics, HttpError> {
        if self.hosts > 1 {
            return Err(HttpError::BadRequest("multiple Host headers"));
        }
        let framing = self.framing.decide(version)?;
        let content_encoding = match (self.other_content_coding, self.gzip_codings) {
            (false, 0) => ContentEncoding::Identity,
            (false, 1) => ContentEncoding::Gzip,
            _ => ContentEncoding::Unsupported,
        };
        let keep_alive =
            !self.connection_close && (version == Version::Http11 || self.connection_keep_alive);
        Ok(Semantics {
            framing,
            keep_alive,
            content_encoding,
            expect_continue: self.expect_continue && version == Version::Http11,
            upgrade_websocket: self.upgrade_websocket && self.connection_upgrade,
        })
    }
}

#[cfg(test)]
mod tests;
