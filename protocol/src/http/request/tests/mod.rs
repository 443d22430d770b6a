//! Tests of [`RequestParser`], grouped by topic. Most go through [`ok`] / [`err`], which also
//! feed every prefix of the request to one resuming parser and check each answer.

use super::*;
use crate::http::test_support::{
    parse, parse_default, parse_every_prefix, parse_with, Outcome, OwnedRequest,
};

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

/// A request whose head is exactly `len` bytes.
fn head_of_len(len: usize) -> Vec<u8> {
    let fixed = "GET / HTTP/1.1\r\nX: \r\n\r\n".len();
    let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
    raw.resize(raw.len() + len - fixed, b'v');
    raw.extend_from_slice(b"\r\n\r\n");
    assert_eq!(raw.len(), len);
    raw
}

mod connection;
mod framing;
mod header_fields;
mod limits;
mod pipelining;
mod request_line;
mod resuming;
