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
mod tests {
    use super::*;
    use crate::http::fields::take_work;
    use crate::http::test_support::{
        check_resumed, parse, parse_default, parse_every_prefix, parse_with, Outcome, OwnedRequest,
    };
    use crate::http::{MAX_CHUNKS, MAX_CHUNK_EXT_BYTES};

    /// Parses a request that must be complete, checking every prefix along the way.
    fn ok(raw: &str) -> OwnedRequest {
        ok_with(Limits::default(), raw.as_bytes())
    }

    fn ok_with(limits: Limits, raw: &[u8]) -> OwnedRequest {
        match parse_every_prefix(limits, raw) {
            Outcome::Complete(request) => request,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
        }
    }

    fn err(raw: &str) -> HttpError {
        err_with(Limits::default(), raw.as_bytes())
    }

    fn err_with(limits: Limits, raw: &[u8]) -> HttpError {
        match parse_every_prefix(limits, raw) {
            Outcome::Error(error) => error,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(raw)),
        }
    }

    fn bad(raw: &str, message: &'static str) {
        assert_eq!(err(raw), HttpError::BadRequest(message), "{raw:?}");
    }

    fn header<'r>(request: &'r OwnedRequest, name: &str) -> Option<&'r [u8]> {
        let mut found = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        found.next().map(|(_, v)| v.as_slice())
    }

    fn get_with(version: &str, headers: &str) -> OwnedRequest {
        ok(&format!("GET / HTTP/{version}\r\n{headers}\r\n"))
    }

    fn post(headers: &str, body: &str) -> String {
        format!("POST /p HTTP/1.1\r\nHost: h\r\n{headers}\r\n{body}")
    }

    // ---- request line ----

    #[test]
    fn simple_get() {
        let raw = "GET /api/registry/lookup?id=a%20b&x HTTP/1.1\r\n\
                   Host: localhost:8080\r\nAccept: */*\r\n\r\n";
        let r = ok(raw);
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/api/registry/lookup");
        assert_eq!(r.query, "id=a%20b&x");
        assert_eq!(r.version, Version::Http11);
        assert!(r.keep_alive && !r.gzip && !r.expect_continue && !r.upgrade_websocket);
        assert_eq!(r.content_encoding, ContentEncoding::Identity);
        assert_eq!(
            r.headers,
            [
                ("Host".to_string(), b"localhost:8080".to_vec()),
                ("Accept".to_string(), b"*/*".to_vec())
            ]
        );
        assert_eq!(r.body, b"");
        assert_eq!(r.consumed, raw.len());
    }

    #[test]
    fn methods() {
        let cases = [
            ("GET", Method::Get),
            ("HEAD", Method::Head),
            ("POST", Method::Post),
            ("PUT", Method::Put),
            ("DELETE", Method::Delete),
            ("OPTIONS", Method::Options),
            ("PATCH", Method::Patch),
            ("PURGE", Method::Other),
            ("get", Method::Other),
            ("M-SEARCH", Method::Other),
            ("!#$%&'*+-.^_`|~09azAZ", Method::Other),
        ];
        for (token, method) in cases {
            assert_eq!(
                ok(&format!("{token} / HTTP/1.1\r\n\r\n")).method,
                method,
                "{token}"
            );
        }
    }

    #[test]
    fn invalid_methods() {
        bad(" / HTTP/1.1\r\n\r\n", "invalid method");
        bad("G(T / HTTP/1.1\r\n\r\n", "invalid method");
        bad("GET\t/ HTTP/1.1\r\n\r\n", "invalid method");
        bad("GET\r\n\r\n", "invalid method");
        bad("G\x00T / HTTP/1.1\r\n\r\n", "invalid method");
        // A TLS ClientHello on the plain-text port.
        bad("\x16\x03\x01\x02\x00\x01\x00\x01", "invalid method");
    }

    #[test]
    fn invalid_targets() {
        bad("GET  / HTTP/1.1\r\n\r\n", "invalid request target");
        bad("GET /\r\n\r\n", "invalid request target"); // HTTP/0.9
        bad("GET /a\tb HTTP/1.1\r\n\r\n", "invalid request target");
        bad("GET /\x7f HTTP/1.1\r\n\r\n", "invalid request target");
        bad("GET /caf\u{e9} HTTP/1.1\r\n\r\n", "invalid request target");
        bad("GET * HTTP/1.1\r\n\r\n", "invalid request target");
        bad("OPTIONS * HTTP/1.1\r\n\r\n", "invalid request target");
        bad(
            "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
            "invalid request target",
        );
        bad(
            "GET ftp://host/x HTTP/1.1\r\n\r\n",
            "invalid request target",
        );
        bad("GET ?x HTTP/1.1\r\n\r\n", "invalid request target");
    }

    #[test]
    fn target_forms() {
        let cases = [
            ("/", "/", ""),
            ("/p?", "/p", ""),
            ("/p?a=1&b=2", "/p", "a=1&b=2"),
            ("/p?a=?b", "/p", "a=?b"),
            ("/p#frag", "/p", ""),
            ("/p?q=1#frag?x", "/p", "q=1"),
            ("/p#f?x", "/p", ""),
            ("/a%2Fb/%20", "/a%2Fb/%20", ""),
            ("//double", "//double", ""),
            ("http://example.com/x/y?z=1", "/x/y", "z=1"),
            ("HTTP://Example.com:8080/x", "/x", ""),
            ("https://host", "/", ""),
            ("http://host?q", "/", "q"),
            ("http://user@host:1/p#f", "/p", ""),
        ];
        for (target, path, query) in cases {
            let r = ok(&format!("GET {target} HTTP/1.1\r\n\r\n"));
            assert_eq!(
                (r.path.as_str(), r.query.as_str()),
                (path, query),
                "{target}"
            );
        }
    }

    #[test]
    fn versions() {
        assert_eq!(ok("GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
        assert_eq!(ok("GET / HTTP/1.1\r\n\r\n").version, Version::Http11);
        for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"] {
            assert_eq!(
                err(&format!("GET / {version}\r\n\r\n")),
                HttpError::VersionNotSupported
            );
        }
        assert_eq!(
            err("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            HttpError::VersionNotSupported
        );
        for version in [
            "http/1.1",
            "HTTP/1",
            "HTTP/1.1x",
            "HTTP/11.1",
            "HTTP/1.1 ",
            "HTTP/a.b",
            "XTTP/1.1",
            "H",
        ] {
            bad(&format!("GET / {version}\r\n\r\n"), "invalid HTTP version");
        }
        bad("GET / HTTP/1.1\rx\r\n", "invalid HTTP version");
    }

    #[test]
    fn garbage_version_is_refused_before_eight_bytes_arrive() {
        assert_eq!(
            parse_default(b"GET / X"),
            Outcome::Error(HttpError::BadRequest("invalid HTTP version"))
        );
        assert_eq!(
            parse_default(b"GET / HTTQ"),
            Outcome::Error(HttpError::BadRequest("invalid HTTP version"))
        );
        assert_eq!(
            parse_default(b"GET / HTTP/1"),
            Outcome::Partial { min_total: 0 }
        );
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        let raw = "\r\n\n\r\nGET / HTTP/1.1\r\n\r\n";
        let r = ok(raw);
        assert_eq!(r.consumed, raw.len());
        bad("\r\rGET / HTTP/1.1\r\n\r\n", "invalid request line");
    }

    #[test]
    fn bare_lf_line_endings() {
        let raw = "POST / HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi";
        let r = ok(raw);
        assert_eq!(r.body, b"hi");
        assert_eq!(header(&r, "host"), Some(&b"a"[..]));
        assert_eq!(r.consumed, raw.len());
    }

    // ---- header fields ----

    #[test]
    fn header_lookup() {
        let raw = b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\nX-Empty:\r\nX-Pad: \t v  w \t\r\n\r\n";
        let mut parser = RequestParser::new(Limits::default());
        let mut dechunked = Vec::new();
        let Ok(Parsed::Complete { request, .. }) = parser.parse(raw, &mut dechunked) else {
            panic!("incomplete");
        };
        assert_eq!(request.header("X-A"), Some(&b"1"[..]));
        assert_eq!(request.header("x-a"), Some(&b"1"[..]));
        assert_eq!(request.headers.get("X-a"), Some(&b"1"[..]));
        assert_eq!(
            request.headers.get_all("X-A").collect::<Vec<_>>(),
            [&b"1"[..], b"2"]
        );
        assert_eq!(request.header("x-empty"), Some(&b""[..]));
        assert_eq!(request.header("X-Pad"), Some(&b"v  w"[..]));
        assert_eq!(request.header("X-Missing"), None);
        assert_eq!(request.header("X-"), None);
        assert_eq!(request.headers.len(), 4);
        assert!(!request.headers.is_empty());
        let names: Vec<&str> = request.headers.into_iter().map(|h| h.name).collect();
        assert_eq!(names, ["X-A", "x-a", "X-Empty", "X-Pad"]);
        let first = request.headers.iter().next();
        assert_eq!(
            first,
            Some(Header {
                name: "X-A",
                value: b"1"
            })
        );
        assert!(format!("{request:?}").contains("\"X-Pad\": \"v  w\""));
    }

    #[test]
    fn invalid_header_fields() {
        bad("GET / HTTP/1.1\r\nHost : a\r\n\r\n", "invalid header name");
        bad("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", "invalid header name");
        bad("GET / HTTP/1.1\r\n: a\r\n\r\n", "invalid header name");
        bad("GET / HTTP/1.1\r\nHost\r\n\r\n", "invalid header name");
        bad(
            "GET / HTTP/1.1\r\nH\u{e9}st: a\r\n\r\n",
            "invalid header name",
        );
        bad(
            "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            "obsolete line folding",
        );
        bad(
            "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            "obsolete line folding",
        );
        bad(
            "GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
            "invalid header value",
        );
        bad(
            "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "invalid header value",
        );
        bad(
            "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n",
            "invalid header value",
        );
        bad(
            "GET / HTTP/1.1\r\nHost: a\r\n\rX",
            "invalid header line ending",
        );
    }

    #[test]
    fn obs_text_values_are_kept_raw() {
        let r = ok_with(
            Limits::default(),
            b"GET / HTTP/1.1\r\nX-Name: caf\xc3\xa9\xff\r\n\r\n",
        );
        assert_eq!(header(&r, "x-name"), Some(&b"caf\xc3\xa9\xff"[..]));
    }

    #[test]
    fn duplicate_host_is_refused() {
        bad(
            "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            "multiple Host headers",
        );
        assert!(
            ok("GET / HTTP/1.1\r\n\r\n").headers.is_empty(),
            "a missing Host is tolerated"
        );
    }

    // ---- connection management ----

    #[test]
    fn keep_alive_rules() {
        let cases = [
            ("1.1", "", true),
            ("1.1", "Connection: close\r\n", false),
            ("1.1", "Connection: CLOSE\r\n", false),
            ("1.1", "Connection: keep-alive\r\n", true),
            ("1.1", "Connection: keep-alive, close\r\n", false),
            ("1.1", "Connection: foo,close , bar\r\n", false),
            ("1.1", "Connection: closed\r\n", true),
            ("1.1", "Connection: upgrade\r\nConnection: close\r\n", false),
            ("1.0", "", false),
            ("1.0", "Connection: keep-alive\r\n", true),
            ("1.0", "Connection: Keep-Alive\r\n", true),
            ("1.0", "Connection: foo, keep-alive\r\n", true),
            (
                "1.0",
                "Connection: keep-alive\r\nConnection: close\r\n",
                false,
            ),
            ("1.0", "Connection: close\r\n", false),
            ("1.0", "Keep-Alive: timeout=5\r\n", false),
        ];
        for (version, headers, keep_alive) in cases {
            assert_eq!(
                get_with(version, headers).keep_alive,
                keep_alive,
                "{version} {headers:?}"
            );
        }
    }

    #[test]
    fn websocket_upgrade() {
        let cases = [
            ("Upgrade: websocket\r\nConnection: Upgrade\r\n", true),
            (
                "Upgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\n",
                true,
            ),
            ("Connection: Upgrade\r\nUpgrade: foo, websocket\r\n", true),
            ("Upgrade: websocket\r\n", false),
            ("Connection: Upgrade\r\n", false),
            ("Upgrade: h2c\r\nConnection: Upgrade\r\n", false),
            ("Upgrade: websockets\r\nConnection: Upgrade\r\n", false),
        ];
        for (headers, upgrade) in cases {
            assert_eq!(
                get_with("1.1", headers).upgrade_websocket,
                upgrade,
                "{headers:?}"
            );
        }
    }

    #[test]
    fn expect_continue() {
        let cases = [
            ("1.1", "Expect: 100-continue\r\n", true),
            ("1.1", "Expect: 100-Continue\r\n", true),
            ("1.1", "Expect: foo\r\n", false),
            ("1.1", "", false),
            ("1.0", "Expect: 100-continue\r\n", false),
        ];
        for (version, headers, expected) in cases {
            assert_eq!(
                get_with(version, headers).expect_continue,
                expected,
                "{version} {headers:?}"
            );
        }
    }

    #[test]
    fn pending_continue_is_reported_while_the_body_is_missing() {
        let head = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        let mut parser = RequestParser::new(Limits::default());
        let mut dechunked = Vec::new();
        assert!(matches!(
            parser.parse(&head[..10], &mut dechunked),
            Ok(Parsed::Partial { .. })
        ));
        assert!(!parser.pending_continue(), "head incomplete");
        assert!(matches!(
            parser.parse(head, &mut dechunked),
            Ok(Parsed::Partial { .. })
        ));
        assert!(parser.pending_continue());
        let mut full = head.to_vec();
        full.extend_from_slice(b"abc");
        assert!(matches!(
            parser.parse(&full, &mut dechunked),
            Ok(Parsed::Complete { .. })
        ));
        assert!(!parser.pending_continue());

        let chunked =
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(
            parser.parse(chunked, &mut dechunked),
            Ok(Parsed::Partial { min_total: 0 })
        ));
        assert!(parser.pending_continue());

        let plain = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        assert!(matches!(
            parser.parse(plain, &mut dechunked),
            Ok(Parsed::Partial { .. })
        ));
        assert!(!parser.pending_continue());
    }

    #[test]
    fn content_encodings() {
        let cases = [
            ("", ContentEncoding::Identity),
            ("Content-Encoding: identity\r\n", ContentEncoding::Identity),
            ("Content-Encoding: gzip\r\n", ContentEncoding::Gzip),
            ("Content-Encoding: GZip\r\n", ContentEncoding::Gzip),
            ("Content-Encoding: x-gzip\r\n", ContentEncoding::Gzip),
            (
                "Content-Encoding: identity, gzip\r\n",
                ContentEncoding::Gzip,
            ),
            ("Content-Encoding: br\r\n", ContentEncoding::Unsupported),
            (
                "Content-Encoding: deflate\r\n",
                ContentEncoding::Unsupported,
            ),
            (
                "Content-Encoding: gzip, gzip\r\n",
                ContentEncoding::Unsupported,
            ),
            (
                "Content-Encoding: gzip\r\nContent-Encoding: br\r\n",
                ContentEncoding::Unsupported,
            ),
        ];
        for (headers, encoding) in cases {
            let r = ok(&post(&format!("{headers}Content-Length: 0\r\n"), ""));
            assert_eq!(r.content_encoding, encoding, "{headers:?}");
            assert_eq!(r.gzip, encoding == ContentEncoding::Gzip);
        }
    }

    // ---- framing ----

    #[test]
    fn content_length_body() {
        let raw = post("Content-Length: 5\r\n", "hello");
        let r = ok(&raw);
        assert_eq!(r.body, b"hello");
        assert_eq!(r.consumed, raw.len());
        assert_eq!(ok(&post("Content-Length: 0\r\n", "")).body, b"");
        assert_eq!(
            ok(&post("Content-Length: 007\r\n", "1234567")).body,
            b"1234567"
        );
    }

    #[test]
    fn no_length_means_no_body() {
        let raw = "POST / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
        let r = ok(raw);
        assert_eq!((r.body.as_slice(), r.consumed), (&b""[..], 19));
        assert_eq!(ok("GET / HTTP/1.0\r\n\r\n").body, b"");
    }

    #[test]
    fn body_hint_is_exact_once_the_head_is_parsed() {
        let raw = post("Content-Length: 100\r\n", "");
        let head_len = raw.len();
        assert_eq!(
            parse_default(raw.as_bytes()),
            Outcome::Partial {
                min_total: head_len + 100
            }
        );
        let mut more = raw.into_bytes();
        more.extend_from_slice(&[b'x'; 99]);
        assert_eq!(
            parse_default(&more),
            Outcome::Partial {
                min_total: head_len + 100
            }
        );
        more.push(b'x');
        assert_eq!(parse_default(&more).request().consumed, head_len + 100);
        assert_eq!(
            parse_default(b"GET / HTTP/1.1\r\n"),
            Outcome::Partial { min_total: 0 }
        );
    }

    #[test]
    fn repeated_content_length_must_agree() {
        let same = post("Content-Length: 3\r\ncontent-length: 3\r\n", "abc");
        assert_eq!(ok(&same).body, b"abc");
        assert_eq!(
            ok(&post("Content-Length: 3\r\nContent-Length: 003\r\n", "abc")).body,
            b"abc"
        );
        bad(
            &post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd"),
            "conflicting Content-Length headers",
        );
    }

    #[test]
    fn invalid_content_lengths() {
        for value in [
            "", "-1", "+5", "5 5", "0x10", "1.0", "5,5", "5, 5", "five", "\u{661}",
        ] {
            bad(
                &post(&format!("Content-Length: {value}\r\n"), ""),
                "invalid Content-Length",
            );
        }
    }

    #[test]
    fn huge_content_length_is_refused_before_the_body() {
        assert_eq!(
            err(&post("Content-Length: 8388609\r\n", "")),
            HttpError::BodyTooLarge
        );
        assert_eq!(
            err(&post("Content-Length: 18446744073709551615\r\n", "")),
            HttpError::BodyTooLarge
        );
        assert_eq!(
            err(&post("Content-Length: 18446744073709551616\r\n", "")),
            HttpError::BodyTooLarge
        );
        assert_eq!(
            err(&post(
                &format!("Content-Length: {}\r\n", "9".repeat(100)),
                ""
            )),
            HttpError::BodyTooLarge
        );
        let unlimited = Limits {
            max_body_bytes: usize::MAX,
            ..Limits::default()
        };
        let max = post("Content-Length: 18446744073709551615\r\n", "");
        assert_eq!(
            parse(unlimited, max.as_bytes()),
            Outcome::Error(HttpError::BodyTooLarge),
            "end overflows"
        );
    }

    #[test]
    fn chunked_body() {
        let raw = post(
            "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n",
        );
        let r = ok(&raw);
        assert_eq!(r.body, b"hello, world");
        assert_eq!(r.consumed, raw.len());
        assert_eq!(
            ok(&post("Transfer-Encoding: Chunked\r\n", "0\r\n\r\n")).body,
            b""
        );
        assert_eq!(
            ok(&post(
                "Transfer-Encoding:  chunked , \r\n",
                "1\r\na\r\n0\r\n\r\n"
            ))
            .body,
            b"a"
        );
    }

    #[test]
    fn chunked_body_is_copied_only_when_complete() {
        let raw = post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
        let mut parser = RequestParser::new(Limits::default());
        let mut dechunked = Vec::new();
        let partial = parser.parse(&raw.as_bytes()[..raw.len() - 1], &mut dechunked);
        assert!(matches!(partial, Ok(Parsed::Partial { .. })));
        assert!(dechunked.is_empty());
        let Ok(Parsed::Complete { request, .. }) = parser.parse(raw.as_bytes(), &mut dechunked)
        else {
            panic!("incomplete");
        };
        assert_eq!(request.body_len(), 5);
        assert_eq!(request.raw_body(raw.as_bytes(), &dechunked), b"hello");
    }

    #[test]
    fn content_length_requests_do_not_touch_dechunked_or_grow_storage() {
        let raw = post("Content-Length: 2\r\nA: 1\r\nB: 2\r\n", "hi");
        let mut parser = RequestParser::new(Limits::default());
        let capacity = parser.fields.capacity();
        let mut dechunked = Vec::new();
        for _ in 0..3 {
            assert!(matches!(
                parser.parse(raw.as_bytes(), &mut dechunked),
                Ok(Parsed::Complete { .. })
            ));
        }
        assert_eq!(dechunked.capacity(), 0);
        assert_eq!(parser.fields.capacity(), capacity);
        assert!(capacity >= Limits::default().max_headers);
    }

    #[test]
    fn transfer_coding_rules() {
        let te = |value: &str| post(&format!("Transfer-Encoding: {value}\r\n"), "0\r\n\r\n");
        for value in [
            "gzip, chunked",
            "chunked, gzip",
            "identity",
            "chunked, chunked",
            "",
            "chunked;q=1",
            "x",
        ] {
            assert_eq!(
                err(&te(value)),
                HttpError::UnsupportedTransferEncoding,
                "{value:?}"
            );
        }
        let twice = post(
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "0\r\n\r\n",
        );
        assert_eq!(err(&twice), HttpError::UnsupportedTransferEncoding);
    }

    #[test]
    fn content_length_with_transfer_encoding_is_refused() {
        const BOTH: &str = "both Content-Length and Transfer-Encoding";
        bad(
            &post(
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            BOTH,
        );
        bad(
            &post(
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                "0\r\n\r\n",
            ),
            BOTH,
        );
        bad(
            &post(
                "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
                "0\r\n\r\n",
            ),
            BOTH,
        );
    }

    #[test]
    fn transfer_encoding_in_http10_is_refused() {
        bad(
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "Transfer-Encoding in HTTP/1.0 request",
        );
    }

    #[test]
    fn invalid_chunked_framing_surfaces() {
        let chunked = |body: &str| post("Transfer-Encoding: chunked\r\n", body);
        bad(&chunked("z\r\n"), "invalid chunk size");
        bad(&chunked("5\r\nhelloXY"), "invalid chunk data terminator");
        bad(&chunked("5\nhello\r\n"), "invalid chunk size line");
        assert_eq!(
            err(&chunked("FFFFFFFFFFFFFFFFF\r\n")),
            HttpError::BodyTooLarge
        );
        let unlimited = Limits {
            max_body_bytes: usize::MAX,
            ..Limits::default()
        };
        let overflow = chunked("FFFFFFFFFFFFFFFFF\r\n");
        assert_eq!(
            err_with(unlimited, overflow.as_bytes()),
            HttpError::BadRequest("invalid chunk size")
        );
    }

    // ---- limits ----

    /// A request whose head is exactly `len` bytes.
    fn head_of_len(len: usize) -> Vec<u8> {
        let fixed = "GET / HTTP/1.1\r\nX: \r\n\r\n".len();
        let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
        raw.resize(raw.len() + len - fixed, b'v');
        raw.extend_from_slice(b"\r\n\r\n");
        assert_eq!(raw.len(), len);
        raw
    }

    #[test]
    fn header_bytes_limit_is_inclusive() {
        let limits = Limits {
            max_header_bytes: 100,
            ..Limits::default()
        };
        assert_eq!(ok_with(limits, &head_of_len(100)).consumed, 100);
        assert_eq!(
            err_with(limits, &head_of_len(101)),
            HttpError::HeadersTooLarge
        );
    }

    #[test]
    fn header_bytes_limit_applies_as_soon_as_exceeded() {
        let limits = Limits {
            max_header_bytes: 100,
            ..Limits::default()
        };
        let endless = head_of_len(200);
        assert_eq!(
            parse(limits, &endless[..100]),
            Outcome::Partial { min_total: 0 }
        );
        assert_eq!(
            parse(limits, &endless[..101]),
            Outcome::Error(HttpError::HeadersTooLarge)
        );
        let blank_lines = b"\r\n".repeat(51);
        assert_eq!(
            parse(limits, &blank_lines[..100]),
            Outcome::Partial { min_total: 0 }
        );
        assert_eq!(
            parse(limits, &blank_lines),
            Outcome::Error(HttpError::HeadersTooLarge)
        );
        // The body is not part of the head.
        let with_body = |head_len: usize| {
            let mut raw = head_of_len(head_len - 20);
            raw.splice(16..16, b"Content-Length: 50\r\n".iter().copied());
            raw.extend_from_slice(&[b'b'; 50]);
            raw
        };
        assert_eq!(ok_with(limits, &with_body(100)).body, [b'b'; 50]);
        assert_eq!(
            err_with(limits, &with_body(101)),
            HttpError::HeadersTooLarge
        );
    }

    #[test]
    fn header_count_limit_is_inclusive() {
        let limits = Limits {
            max_headers: 3,
            ..Limits::default()
        };
        assert_eq!(
            ok_with(limits, b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
                .headers
                .len(),
            3
        );
        assert_eq!(
            err_with(
                limits,
                b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"
            ),
            HttpError::TooManyHeaders
        );
        let none = Limits {
            max_headers: 0,
            ..Limits::default()
        };
        assert!(ok_with(none, b"GET / HTTP/1.1\r\n\r\n").headers.is_empty());
        assert_eq!(
            err_with(none, b"GET / HTTP/1.1\r\nA: 1\r\n\r\n"),
            HttpError::TooManyHeaders
        );
        // Refused as soon as the extra field is complete, before the head is.
        assert_eq!(
            parse(limits, b"GET / HTTP/1.1\r\nA:1\r\nB:2\r\nC:3\r\nD:4\r\n"),
            Outcome::Error(HttpError::TooManyHeaders)
        );
    }

    #[test]
    fn many_headers_beyond_preallocation() {
        let limits = Limits {
            max_headers: 1000,
            max_header_bytes: 64 * 1024,
            ..Limits::default()
        };
        let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..1000 {
            raw.extend_from_slice(format!("H{i}: {i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let r = parse(limits, &raw);
        assert_eq!(r.request().headers.len(), 1000);
    }

    #[test]
    fn body_limit_is_inclusive() {
        let limits = Limits {
            max_body_bytes: 10,
            ..Limits::default()
        };
        let at = post("Content-Length: 10\r\n", "0123456789");
        assert_eq!(ok_with(limits, at.as_bytes()).body, b"0123456789");
        let over = post("Content-Length: 11\r\n", "");
        assert_eq!(
            parse(limits, over.as_bytes()),
            Outcome::Error(HttpError::BodyTooLarge)
        );

        let chunked_at = post(
            "Transfer-Encoding: chunked\r\n",
            "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
        );
        assert_eq!(ok_with(limits, chunked_at.as_bytes()).body, b"0123456789");
        // Refused when the size line arrives, before its data.
        let chunked_over = post("Transfer-Encoding: chunked\r\n", "4\r\n0123\r\n7\r\n");
        assert_eq!(
            parse(limits, chunked_over.as_bytes()),
            Outcome::Error(HttpError::BodyTooLarge)
        );
    }

    #[test]
    fn trailers_count_against_header_bytes() {
        let limits = Limits {
            max_header_bytes: 100,
            ..Limits::default()
        };
        let trailer = |len: usize| {
            let mut body = b"0\r\nT: ".to_vec();
            body.resize(body.len() + len - 7, b't');
            body.extend_from_slice(b"\r\n\r\n");
            let mut raw = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
            raw.extend_from_slice(&body);
            raw
        };
        assert!(matches!(parse(limits, &trailer(100)), Outcome::Complete(_)));
        assert_eq!(
            parse(limits, &trailer(101)),
            Outcome::Error(HttpError::HeadersTooLarge)
        );
    }

    #[test]
    fn huge_limits_do_not_overflow() {
        let huge = Limits {
            max_header_bytes: usize::MAX,
            max_headers: usize::MAX,
            max_body_bytes: usize::MAX,
            max_decoded_body_bytes: usize::MAX,
        };
        let raw = post("Content-Length: 3\r\n", "abc");
        assert_eq!(ok_with(huge, raw.as_bytes()).body, b"abc");
    }

    // ---- pipelining ----

    fn parse_all(raw: &[u8]) -> Vec<OwnedRequest> {
        let mut parser = RequestParser::new(Limits::default());
        let mut rest = raw;
        let mut requests = Vec::new();
        while !rest.is_empty() {
            let request = parse_with(&mut parser, rest).request().clone();
            rest = &rest[request.consumed..];
            requests.push(request);
        }
        requests
    }

    #[test]
    fn two_pipelined_requests() {
        let first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
        let second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
        let requests = parse_all(format!("{first}{second}").as_bytes());
        assert_eq!(requests.len(), 2);
        assert_eq!(
            (requests[0].path.as_str(), requests[0].consumed),
            ("/a", first.len())
        );
        assert_eq!(
            (requests[1].path.as_str(), requests[1].consumed),
            ("/b", second.len())
        );
    }

    #[test]
    fn three_pipelined_requests_with_bodies() {
        let first = post("Content-Length: 3\r\n", "one");
        let second = post("Transfer-Encoding: chunked\r\n", "3\r\ntwo\r\n0\r\n\r\n");
        let third = "GET /three HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        let raw = format!("{first}{second}{third}");
        let requests = parse_all(raw.as_bytes());
        let summary: Vec<(&[u8], usize)> = requests
            .iter()
            .map(|r| (r.body.as_slice(), r.consumed))
            .collect();
        assert_eq!(
            summary,
            [
                (&b"one"[..], first.len()),
                (b"two", second.len()),
                (b"", third.len())
            ]
        );
        assert_eq!(requests[2].path, "/three");
        // The first request is complete even though more bytes follow.
        assert_eq!(
            parse_every_prefix(Limits::default(), raw.as_bytes())
                .request()
                .consumed,
            first.len()
        );
    }

    #[test]
    fn pipelined_request_after_stray_crlf() {
        let raw = format!(
            "{}\r\nGET /next HTTP/1.1\r\n\r\n",
            post("Content-Length: 1\r\n", "x")
        );
        let requests = parse_all(raw.as_bytes());
        assert_eq!(requests[1].path, "/next");
    }

    // ---- splitting ----

    #[test]
    fn split_at_every_byte() {
        let samples = [
            "GET /api/discovery/lookup.json?x=1 HTTP/1.1\r\nHost: localhost\r\n\
             User-Agent: t\r\nAccept: */*\r\n\r\n"
                .to_string(),
            "\r\nGET / HTTP/1.0\nConnection: keep-alive\n\n".to_string(),
            post(
                "Content-Length: 11\r\nContent-Encoding: gzip\r\nExpect: 100-continue\r\n",
                "hello world",
            ),
            post(
                "Transfer-Encoding: chunked\r\n",
                "5;a=b\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0;x\r\nT: 1\r\nU: 2\r\n\r\n",
            ),
            "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: k\r\n\r\n"
                .to_string(),
        ];
        for raw in samples {
            let r = ok(&raw);
            assert_eq!(r.consumed, raw.len(), "{raw:?}");
        }
    }

    #[test]
    fn large_content_length_body() {
        let body = "x".repeat(1 << 20);
        let raw = post(&format!("Content-Length: {}\r\n", body.len()), &body);
        assert_eq!(parse_default(raw.as_bytes()).request().body.len(), 1 << 20);
    }

    // ---- resuming ----

    /// Work units (see `fields::count_work`) a resumed call may cost beyond the bytes it adds:
    /// re-checking the unfinished line's runs, the loops that find where to resume, the call.
    const WORK_PER_CALL: usize = 8;

    /// Feeds `raw` to one parser, `step` more bytes per call as a connection receiving small reads
    /// does, until the answer isn't `Partial`. Returns it with the work counted over all calls.
    fn trickle(limits: Limits, raw: &[u8], step: usize) -> (Outcome, usize) {
        let mut parser = RequestParser::new(limits);
        take_work();
        let mut len = 0;
        loop {
            len = (len + step).min(raw.len());
            let outcome = parse_with(&mut parser, &raw[..len]);
            if !matches!(outcome, Outcome::Partial { .. }) || len == raw.len() {
                return (outcome, take_work());
            }
        }
    }

    /// Parses `raw` whole and one byte per call; both must agree, and the trickle may cost only a
    /// bounded amount of work per call on top of the one-shot parse: linear, not quadratic.
    fn assert_linear(limits: Limits, raw: &[u8]) -> Outcome {
        let (whole, whole_work) = trickle(limits, raw, raw.len());
        let (trickled, work) = trickle(limits, raw, 1);
        assert_eq!(trickled, whole);
        assert!(
            work <= whole_work + WORK_PER_CALL * raw.len(),
            "{work} units of work trickling {} bytes (one-shot parse: {whole_work})",
            raw.len()
        );
        whole
    }

    fn tiny_chunks(count: usize) -> Vec<u8> {
        let mut raw = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
        for _ in 0..count {
            raw.extend_from_slice(b"1\r\na\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        raw
    }

    #[test]
    fn chunked_body_trickled_one_byte_per_call_costs_linear_work() {
        // The review case: 65,536 one-byte chunks sent slowly. Without resuming, every call
        // re-scanned every chunk so far: about 10^10 units of work here, instead of about 10^6.
        let raw = tiny_chunks(MAX_CHUNKS);
        let started = std::time::Instant::now();
        let whole = assert_linear(Limits::default(), &raw);
        eprintln!(
            "{} bytes, one per call: {:?} (both passes)",
            raw.len(),
            started.elapsed()
        );
        let request = whole.request();
        assert_eq!(request.body, vec![b'a'; MAX_CHUNKS]);
        assert_eq!(request.consumed, raw.len());
        // One chunk per call, like a client flushing every chunk.
        let (per_chunk, work) = trickle(Limits::default(), &raw, 6);
        assert_eq!(per_chunk, whole);
        assert!(work <= 4 * raw.len(), "{work}");
    }

    #[test]
    fn trickled_heads_cost_linear_work() {
        let limits = Limits::default();
        // One long field value.
        let long_value = head_of_len(limits.max_header_bytes);
        assert_linear(limits, &long_value);
        // A long name, then whitespace, then a value: every run of the line is resumed.
        let mut runs = b"GET /".to_vec();
        runs.extend_from_slice(&[b'p'; 4000]);
        runs.extend_from_slice(b" HTTP/1.1\r\n");
        runs.extend_from_slice(&[b'N'; 4000]);
        runs.extend_from_slice(b":");
        runs.extend_from_slice(&[b' '; 4000]);
        runs.extend_from_slice(&[b'v'; 4000]);
        runs.extend_from_slice(b"\r\n\r\n");
        assert_linear(limits, &runs);
        // Leading empty lines and the most fields allowed.
        let mut many = b"\r\n".repeat(2000);
        many.extend_from_slice(b"GET / HTTP/1.1\r\n");
        for i in 0..limits.max_headers {
            many.extend_from_slice(format!("Field-{i}: value {i}\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            assert_linear(limits, &many).request().headers.len(),
            limits.max_headers
        );
    }

    #[test]
    fn trickled_bodies_cost_linear_work() {
        let limits = Limits::default();
        let body = "x".repeat(64 * 1024);
        let length = post(&format!("Content-Length: {}\r\n", body.len()), &body);
        assert_linear(limits, length.as_bytes());
        // One chunk, with the longest extension allowed, then a long trailer section.
        let mut ext = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
        ext.extend_from_slice(b"4 \t");
        ext.resize(ext.len() + MAX_CHUNK_EXT_BYTES / 2 - 2, b' ');
        ext.push(b';');
        ext.resize(ext.len() + MAX_CHUNK_EXT_BYTES / 2 - 1, b'e');
        ext.extend_from_slice(b"\r\ndata\r\n0\r\n");
        for i in 0..100 {
            ext.extend_from_slice(format!("Trailer-{i}: {}\r\n", "t".repeat(100)).as_bytes());
        }
        ext.extend_from_slice(b"\r\n");
        assert_eq!(assert_linear(limits, &ext).request().body, b"data");
        // Few large chunks.
        let mut large = post("Transfer-Encoding: chunked\r\n", "").into_bytes();
        for _ in 0..4 {
            large.extend_from_slice(b"4000\r\n");
            large.resize(large.len() + 0x4000, b'd');
            large.extend_from_slice(b"\r\n");
        }
        large.extend_from_slice(b"0\r\n\r\n");
        assert_eq!(
            assert_linear(limits, &large).request().body.len(),
            4 * 0x4000
        );
    }

    #[test]
    fn resumed_and_fresh_parsers_agree_on_the_full_buffer() {
        let samples = [
            tiny_chunks(300),
            post(
                "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n",
                "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n",
            )
            .into_bytes(),
            post("Content-Length: 5\r\nContent-Encoding: gzip\r\n", "hello").into_bytes(),
            b"\r\nGET /a?b HTTP/1.0\nConnection: keep-alive\n\nGET /next HTTP/1.1\r\n\r\n".to_vec(),
        ];
        for raw in samples {
            for step in [1, 2, 3, 7, 64] {
                let mut parser = RequestParser::new(Limits::default());
                let mut len = 0;
                while len < raw.len() {
                    len = (len + step).min(raw.len());
                    check_resumed(&mut parser, &raw, len);
                }
                // The same bytes again, and the full buffer, from a parser that resumed.
                let mut parser = RequestParser::new(Limits::default());
                check_resumed(&mut parser, &raw, raw.len() - 1);
                check_resumed(&mut parser, &raw, raw.len() - 1);
                assert_eq!(
                    check_resumed(&mut parser, &raw, raw.len()),
                    parse_default(&raw)
                );
            }
        }
    }

    #[test]
    fn resuming_survives_the_buffer_moving() {
        // A connection's buffer is drained and reallocated between reads: offsets are relative.
        let raw = post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
        let raw = raw.as_bytes();
        let mut parser = RequestParser::new(Limits::default());
        for len in 0..raw.len() {
            let mut moved = b"consumed earlier".to_vec();
            moved.extend_from_slice(&raw[..len]);
            let outcome = parse_with(&mut parser, &moved[16..]);
            assert!(matches!(outcome, Outcome::Partial { .. }), "{len}");
        }
        let copy = raw.to_vec();
        assert_eq!(parse_with(&mut parser, &copy).request().body, b"hello");
    }

    #[test]
    fn chunk_data_hint_lets_the_caller_skip_calls() {
        let head = post("Transfer-Encoding: chunked\r\n", "");
        let raw = format!("{head}100\r\n{}\r\n0\r\n\r\n", "d".repeat(0x100));
        let mut parser = RequestParser::new(Limits::default());
        let in_data = head.len() + 5 + 10;
        let data_end = head.len() + 5 + 0x100;
        assert_eq!(
            parse_with(&mut parser, &raw.as_bytes()[..in_data]),
            Outcome::Partial {
                min_total: data_end + 2 + 5
            }
        );
        assert_eq!(data_end + 2 + 5, raw.len(), "exact for the shortest ending");
        // A caller that waits for the hint gets the request on its next call.
        assert_eq!(
            parse_with(&mut parser, raw.as_bytes()).request().body,
            vec![b'd'; 0x100]
        );
    }

    #[test]
    fn a_shorter_or_different_buffer_starts_over() {
        let chunked = post("Transfer-Encoding: chunked\r\n", "5\r\nhel");
        let mut parser = RequestParser::new(Limits::default());
        assert!(matches!(
            parse_with(&mut parser, chunked.as_bytes()),
            Outcome::Partial { .. }
        ));
        // Shorter than what was seen: a new request.
        let get = "GET /g HTTP/1.1\r\n\r\n";
        assert_eq!(parse_with(&mut parser, get.as_bytes()).request().path, "/g");

        // As long, but different first bytes.
        assert!(matches!(
            parse_with(&mut parser, chunked.as_bytes()),
            Outcome::Partial { .. }
        ));
        let other = format!("GET /{} HTTP/1.1\r\n\r\n", "x".repeat(chunked.len()));
        assert_eq!(
            parse_with(&mut parser, other.as_bytes()),
            parse_default(other.as_bytes())
        );

        // Same first bytes, different last ones of the prefix seen before.
        let length = post("Content-Length: 10\r\n", "");
        assert!(matches!(
            parse_with(&mut parser, length.as_bytes()),
            Outcome::Partial { .. }
        ));
        let cut = length.len() - 3;
        let mut changed = length.as_bytes()[..cut].to_vec();
        changed.extend_from_slice(b"X: 1\r\n\r\n");
        assert_eq!(parse_with(&mut parser, &changed), parse_default(&changed));
    }

    #[test]
    fn reset_forgets_a_partial_request() {
        // Same length, first and last bytes as the first buffer, but different framing in the
        // middle: a change the cheap check can't see, which is what `reset` is for.
        let first = post("Content-Length: 9\r\n", "");
        let second = post("Content-Length: 7\r\n", "");
        let mut parser = RequestParser::new(Limits::default());
        assert!(matches!(
            parse_with(&mut parser, first.as_bytes()),
            Outcome::Partial { .. }
        ));
        assert!(parser.progress.is_some());
        parser.reset();
        assert!(parser.progress.is_none() && parser.fields.is_empty());
        let mut full = second.into_bytes();
        full.extend_from_slice(b"1234567");
        assert_eq!(parse_with(&mut parser, &full).request().body, b"1234567");
    }

    #[test]
    fn complete_and_errors_end_the_progress() {
        let mut parser = RequestParser::new(Limits::default());
        let raw = post("Content-Length: 2\r\n", "hi");
        assert!(matches!(
            parse_with(&mut parser, &raw.as_bytes()[..raw.len() - 1]),
            Outcome::Partial { .. }
        ));
        assert!(parser.progress.is_some());
        assert!(matches!(
            parse_with(&mut parser, raw.as_bytes()),
            Outcome::Complete(_)
        ));
        assert!(parser.progress.is_none());
        // The next request may start with the very same bytes.
        assert!(matches!(
            parse_with(&mut parser, &raw.as_bytes()[..raw.len() - 1]),
            Outcome::Partial { .. }
        ));
        let bad = post("Transfer-Encoding: chunked\r\n", "5\r\nhelloXY");
        assert!(matches!(
            parse_with(&mut parser, &bad.as_bytes()[..bad.len() - 3]),
            Outcome::Partial { .. }
        ));
        assert_eq!(
            parse_with(&mut parser, bad.as_bytes()),
            Outcome::Error(HttpError::BadRequest("invalid chunk data terminator"))
        );
        assert!(parser.progress.is_none());
        let good = post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n");
        assert_eq!(
            parse_with(&mut parser, good.as_bytes()).request().body,
            b"hello"
        );
    }

    #[test]
    fn parser_exposes_its_limits() {
        let limits = Limits {
            max_headers: 7,
            ..Limits::default()
        };
        assert_eq!(RequestParser::new(limits).limits().max_headers, 7);
    }
}
