//! Request line, header section and message framing (RFC 9112 §3, §5, §6).

use std::fmt;

use super::chunked;
use super::fields::{
    count_work, line_end, list_elements, parse_bounded, parse_section, Class, FieldSpan, Runs,
    Span, Step,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyLocation {
    Empty,
    /// `read_buf[start..end]` (Content-Length).
    InBuffer {
        start: usize,
        end: usize,
    },
    /// The caller's `dechunked` vector holds the body (chunked).
    Dechunked {
        len: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(usize),
    Chunked,
}

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

#[derive(Clone, Copy, Debug)]
struct RequestLine {
    method: Method,
    /// The request target, already checked (visible ASCII, origin- or absolute-form); split into
    /// path and query when the request is complete.
    target: Span,
    version: Version,
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
    let (body, consumed) = match head.semantics.framing {
        Framing::None => (BodyLocation::Empty, head.len),
        Framing::Length(len) => match frame_length(buf.len(), head.len, len)? {
            Ok(done) => done,
            Err(min_total) => return Ok(Framed::Partial { min_total }),
        },
        Framing::Chunked => {
            let scanner = progress
                .chunks
                .get_or_insert_with(|| chunked::Scanner::new(head.len));
            match frame_chunked(buf, head.len, scanner, limits, dechunked)? {
                Ok(done) => done,
                Err(min_total) => return Ok(Framed::Partial { min_total }),
            }
        }
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

/// RFC 9112 §2.2: a server should ignore at least one empty line before the request line. They
/// still count against `max_header_bytes`, so an endless stream of them can't be buffered. Moves
/// `*pos` past each one, so a later call resumes after those already seen.
fn skip_empty_lines(buf: &[u8], pos: &mut usize) -> Step<usize> {
    while let Some(b'\r' | b'\n') = buf.get(*pos) {
        count_work(1);
        match line_end(buf, *pos, "invalid request line")? {
            Some(next) => *pos = next,
            None => return Ok(None),
        }
    }
    Ok(Some(*pos))
}

/// `method SP request-target SP HTTP-version CRLF`, with exactly one space between the parts.
fn parse_request_line(buf: &[u8], start: usize, runs: &mut Runs) -> Step<(RequestLine, usize)> {
    count_work(1);
    let Some(method_end) = before_space(buf, start, Class::Tchar, runs, "invalid method")? else {
        return Ok(None);
    };
    let target_start = method_end + 1;
    let Some(target_end) = before_space(
        buf,
        target_start,
        Class::Target,
        runs,
        "invalid request target",
    )?
    else {
        return Ok(None);
    };
    // The version is judged before the target's form, so "PRI * HTTP/2.0" gets 505 rather than 400.
    let Some((version, next)) = parse_version(buf, target_end + 1)? else {
        return Ok(None);
    };
    let method = method_from_token(buf.get(start..method_end).unwrap_or_default());
    let target = Span {
        start: target_start,
        end: target_end,
    };
    let text = std::str::from_utf8(target.of(buf))
        .map_err(|_| HttpError::BadRequest("invalid request target"))?;
    split_target(text)?;
    Ok(Some((
        RequestLine {
            method,
            target,
            version,
        },
        next,
    )))
}

/// Scans a non-empty run of `accept` bytes from `start` that must be followed by a single SP.
/// Returns the position of that SP.
fn before_space(
    buf: &[u8],
    start: usize,
    accept: Class,
    runs: &mut Runs,
    error: &'static str,
) -> Step<usize> {
    let end = runs.skip(buf, start, accept);
    match buf.get(end) {
        None => Ok(None),
        Some(b' ') if end > start => Ok(Some(end)),
        Some(_) => Err(HttpError::BadRequest(error)),
    }
}

fn method_from_token(token: &[u8]) -> Method {
    match token {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"POST" => Method::Post,
        b"PUT" => Method::Put,
        b"DELETE" => Method::Delete,
        b"OPTIONS" => Method::Options,
        b"PATCH" => Method::Patch,
        _ => Method::Other,
    }
}

/// "HTTP/" DIGIT "." DIGIT followed by the line ending.
fn parse_version(buf: &[u8], pos: usize) -> Step<(Version, usize)> {
    const PREFIX: &[u8] = b"HTTP/";
    const INVALID: HttpError = HttpError::BadRequest("invalid HTTP version");
    let available = buf.get(pos..).unwrap_or_default();
    let Some(version) = available.get(..8) else {
        // Reject garbage now rather than waiting for eight bytes that may never come.
        let seen = available.len().min(PREFIX.len());
        return if available.get(..seen) == PREFIX.get(..seen) {
            Ok(None)
        } else {
            Err(INVALID)
        };
    };
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(HttpError::VersionNotSupported)
        }
        _ => return Err(INVALID),
    };
    let next = line_end(buf, pos + 8, "invalid HTTP version")?;
    Ok(next.map(|next| (version, next)))
}

/// Splits a request target into (path, query). Accepts origin-form and absolute-form (RFC 9112
/// §3.2); the authority and asterisk forms are meaningless to this server and refused.
fn split_target(target: &str) -> Result<(&str, &str), HttpError> {
    // Clients must not send a fragment; if one does, it is not part of the resource.
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok((origin_path(path)?, query))
}

fn origin_path(path: &str) -> Result<&str, HttpError> {
    if path.starts_with('/') {
        return Ok(path);
    }
    let after_scheme = strip_prefix_ignore_case(path, "http://")
        .or_else(|| strip_prefix_ignore_case(path, "https://"))
        .ok_or(HttpError::BadRequest("invalid request target"))?;
    // "http://host" alone names the root.
    Ok(after_scheme
        .find('/')
        .and_then(|slash| after_scheme.get(slash..))
        .unwrap_or("/"))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| text.get(prefix.len()..))
        .flatten()
}

/// Facts gathered from the header fields, judged together once all are seen.
#[derive(Default)]
struct FieldFacts {
    content_length: Option<usize>,
    transfer_encoding: bool,
    chunked: bool,
    other_transfer_coding: bool,
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
            self.observe_content_length(value, limits.max_body_bytes)?;
        } else if is("transfer-encoding") {
            self.observe_transfer_encoding(value);
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

    /// Repeated Content-Length fields are tolerated only when they agree (RFC 9112 §6.3): a
    /// disagreement means some agent on the path frames the message differently.
    fn observe_content_length(&mut self, value: &[u8], max_body: usize) -> Result<(), HttpError> {
        let length = parse_content_length(value, max_body)?;
        match self.content_length {
            Some(previous) if previous != length => {
                Err(HttpError::BadRequest("conflicting Content-Length headers"))
            }
            _ => {
                self.content_length = Some(length);
                Ok(())
            }
        }
    }

    fn observe_transfer_encoding(&mut self, value: &[u8]) {
        self.transfer_encoding = true;
        for coding in list_elements(value) {
            if coding.eq_ignore_ascii_case(b"chunked") && !self.chunked {
                self.chunked = true;
            } else {
                // Includes codings after "chunked" and a repeated "chunked".
                self.other_transfer_coding = true;
            }
        }
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
        let framing = self.framing(version)?;
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

    /// RFC 9112 §6.1 and §6.3, refusing every case where agents could disagree on where the body
    /// ends.
    fn framing(&self, version: Version) -> Result<Framing, HttpError> {
        if !self.transfer_encoding {
            return Ok(self.content_length.map_or(Framing::None, Framing::Length));
        }
        if self.content_length.is_some() {
            return Err(HttpError::BadRequest(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        if version == Version::Http10 {
            return Err(HttpError::BadRequest(
                "Transfer-Encoding in HTTP/1.0 request",
            ));
        }
        if self.other_transfer_coding || !self.chunked {
            return Err(HttpError::UnsupportedTransferEncoding);
        }
        Ok(Framing::Chunked)
    }
}

fn has_element(value: &[u8], wanted: &str) -> bool {
    list_elements(value).any(|element| element.eq_ignore_ascii_case(wanted.as_bytes()))
}

/// 1*DIGIT, nothing else (no sign, no list, no whitespace inside). Too large for `max_body` is 413
/// at once, before any of the body is buffered.
fn parse_content_length(value: &[u8], max_body: usize) -> Result<usize, HttpError> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadRequest("invalid Content-Length"));
    }
    let mut length: usize = 0;
    for digit in value {
        length = length
            .checked_mul(10)
            .and_then(|length| length.checked_add(usize::from(digit - b'0')))
            .ok_or(HttpError::BodyTooLarge)?;
    }
    if length > max_body {
        return Err(HttpError::BodyTooLarge);
    }
    Ok(length)
}

/// A body located in the buffer (with the request's total length), or `Err(min_total)` while it
/// is incomplete.
type BodyFrame = Result<(BodyLocation, usize), usize>;

fn frame_length(available: usize, head_len: usize, len: usize) -> Result<BodyFrame, HttpError> {
    let end = head_len.checked_add(len).ok_or(HttpError::BodyTooLarge)?;
    if available < end {
        return Ok(Err(end));
    }
    let body = if len == 0 {
        BodyLocation::Empty
    } else {
        BodyLocation::InBuffer {
            start: head_len,
            end,
        }
    };
    Ok(Ok((body, end)))
}

fn frame_chunked(
    buf: &[u8],
    head_len: usize,
    scanner: &mut chunked::Scanner,
    limits: &Limits,
    dechunked: &mut Vec<u8>,
) -> Result<BodyFrame, HttpError> {
    // The resumable pass only validates framing: a body that is still arriving is not copied on
    // every call.
    let done = match scanner.scan(buf, limits, None)? {
        chunked::Scan::Complete(done) => done,
        chunked::Scan::Partial { min_total } => return Ok(Err(min_total)),
    };
    // One more pass over the complete body copies the data.
    dechunked.reserve_exact(done.data_len);
    let copied = chunked::Scanner::new(head_len).scan(buf, limits, Some(dechunked))?;
    if copied != chunked::Scan::Complete(done) || dechunked.len() != done.data_len {
        // Only possible if the caller changed bytes it had already passed (see `parse`).
        dechunked.clear();
        return Err(HttpError::BadRequest(
            "request bytes changed between parse calls",
        ));
    }
    Ok(Ok((
        BodyLocation::Dechunked { len: done.data_len },
        head_len + done.wire_len,
    )))
}

#[cfg(test)]
mod tests;
