//! Where a request's body ends (RFC 9112 §6): the one decision this module makes, from the
//! Content-Length and Transfer-Encoding fields and the HTTP version, and then applies to the
//! buffer to locate the body.
//!
//! The outcome is [`Framing`]: no body (neither field), exactly the Content-Length bytes, or a
//! chunked body whose last chunk ends it.
//!
//! Why so strict: if this server and some agent in front of it (a proxy, a load balancer) disagree
//! on where a body ends, the bytes one of them takes as body the other takes as the next request,
//! and a client can smuggle a request past the agent. So every case where agents could frame the
//! message differently is refused rather than resolved (RFC 9112 §6.1, §6.3):
//! - Content-Length together with Transfer-Encoding (the RFC lets a recipient let Transfer-Encoding
//!   win, but an agent that trusted Content-Length would frame it otherwise);
//! - repeated Content-Length fields that disagree (agreeing repeats are tolerated);
//! - transfer codings other than exactly one `chunked` (501: no other coding is decoded here, and
//!   without `chunked` last the body's end is unknown);
//! - Transfer-Encoding in an HTTP/1.0 request: it may have passed an HTTP/1.0 agent that ignored
//!   it, so §6.1 says to treat its framing as faulty.
//!
//! A Content-Length above `Limits::max_body_bytes` is refused as soon as the field arrives, before
//! any of the body is buffered.

use crate::http::chunked;
use crate::http::fields::list_elements;
use crate::http::{HttpError, Limits, Version};

/// How the body of a request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// Neither Content-Length nor Transfer-Encoding: the request has no body.
    None,
    /// Exactly this many bytes follow the head.
    Length(usize),
    /// Chunked transfer coding; the last chunk (and its trailer section) ends the body.
    Chunked,
}

/// What the framing fields said, gathered field by field and judged together by
/// [`FramingFields::decide`] once the head is complete.
#[derive(Debug, Default)]
pub(super) struct FramingFields {
    content_length: Option<usize>,
    transfer_encoding: bool,
    chunked: bool,
    other_transfer_coding: bool,
}

impl FramingFields {
    /// A Content-Length field. Repeated fields are tolerated only when they agree (RFC 9112 §6.3):
    /// a disagreement means some agent on the path frames the message differently.
    pub(super) fn observe_content_length(
        &mut self,
        value: &[u8],
        max_body: usize,
    ) -> Result<(), HttpError> {
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

    /// A Transfer-Encoding field (each one counts, so two fields saying `chunked` are two codings).
    pub(super) fn observe_transfer_encoding(&mut self, value: &[u8]) {
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

    /// RFC 9112 §6.1 and §6.3, refusing every case where agents could disagree on where the body
    /// ends (see the module docs).
    pub(super) fn decide(&self, version: Version) -> Result<Framing, HttpError> {
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

/// Where a complete request's body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BodyLocation {
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

/// A body located in the buffer (with the request's total length), or `Err(min_total)` while it
/// is incomplete.
pub(super) type BodyFrame = Result<(BodyLocation, usize), usize>;

/// Applies `framing` to the bytes after a head of `head_len` bytes. `chunks` keeps a chunked
/// body's progress between calls (created on the first); `dechunked` receives a chunked body once
/// it is complete.
pub(super) fn locate_body(
    framing: Framing,
    buf: &[u8],
    head_len: usize,
    chunks: &mut Option<chunked::Scanner>,
    limits: &Limits,
    dechunked: &mut Vec<u8>,
) -> Result<BodyFrame, HttpError> {
    match framing {
        Framing::None => Ok(Ok((BodyLocation::Empty, head_len))),
        Framing::Length(len) => frame_length(buf.len(), head_len, len),
        Framing::Chunked => {
            let scanner = chunks.get_or_insert_with(|| chunked::Scanner::new(head_len));
            frame_chunked(buf, head_len, scanner, limits, dechunked)
        }
    }
}

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
