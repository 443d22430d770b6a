//! The request line (RFC 9112 §3): `method SP request-target SP HTTP-version`, the empty lines a
//! client may send before it, and the request-target forms this server accepts.

use crate::http::fields::{count_work, line_end, Class, Runs, Span, Step};
use crate::http::{HttpError, Method, Version};

#[derive(Clone, Copy, Debug)]
pub(super) struct RequestLine {
    pub method: Method,
    /// The request target, already checked (visible ASCII, origin- or absolute-form); split into
    /// path and query when the request is complete.
    pub target: Span,
    pub version: Version,
}

/// RFC 9112 §2.2: a server should ignore at least one empty line before the request line. They
/// still count against `max_header_bytes`, so an endless stream of them can't be buffered. Moves
/// `*pos` past each one, so a later call resumes after those already seen.
pub(super) fn skip_empty_lines(buf: &[u8], pos: &mut usize) -> Step<usize> {
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
pub(super) fn parse_request_line(
    buf: &[u8],
    start: usize,
    runs: &mut Runs,
) -> Step<(RequestLine, usize)> {
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
pub(super) fn split_target(target: &str) -> Result<(&str, &str), HttpError> {
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
