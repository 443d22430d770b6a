//! The opening handshake (RFC 6455 §4): validating a client's upgrade request and answering it,
//! and the client side (request writer, response checker) for the load generator and tests.
//!
//! Decisions:
//! - `Host` and `Origin` are not checked: Artemis accepts any origin (spec §7,
//!   `setAllowedOrigins("*")`) and the HTTP layer owns Host handling.
//! - A missing `Sec-WebSocket-Version` is answered like a wrong one (426 with
//!   `Sec-WebSocket-Version: 13`), which tells the client what to send (RFC 6455 §4.4).
//! - `Sec-WebSocket-Key` and `Sec-WebSocket-Version` must each appear exactly once (§11.3.1,
//!   §11.3.5), and the key must be the canonical base64 encoding of 16 bytes.
//! - No subprotocol or extension is ever negotiated; requested ones are ignored (§4.2.2 allows
//!   that). The client side accordingly rejects a response that selects one (§4.1).

use crate::http::{
    has_element, is_tchar, trim_ows, write_request_head, write_response, Method, Request,
    ResponseHead, Version,
};

use super::base64;
use super::sha1::Sha1;

/// The GUID appended to the client key before hashing (RFC 6455 §1.3).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The longest response head [`check_server_handshake`] waits for.
pub const MAX_RESPONSE_HEAD: usize = 8 * 1024;

/// Length of a base64-encoded 16-byte key.
const KEY_B64_LEN: usize = 24;

/// A `Sec-WebSocket-Accept` value: base64 of a 20-byte SHA-1 digest, always 28 ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII, so this never falls back.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AcceptKey({})", self.as_str())
    }
}

/// Why a handshake was refused. The first five are a server's verdict on a request
/// ([`check_upgrade`]); the last two are a client's on a response ([`check_server_handshake`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The method is not GET. 400.
    NotGet,
    /// The request is not HTTP/1.1. 400.
    NotHttp11,
    /// No `Upgrade: websocket`, or no `Connection: upgrade`. 400.
    MissingUpgrade,
    /// `Sec-WebSocket-Version` missing, repeated or not 13. 426, with `Sec-WebSocket-Version: 13`.
    BadVersion,
    /// `Sec-WebSocket-Key` missing, repeated, or not base64 of 16 bytes. 400.
    BadKey,
    /// Client side: the response head is not complete yet; read more and call again.
    Incomplete,
    /// Client side: the server's response is not an acceptable 101; the text says why.
    BadResponse(&'static str),
}

impl HandshakeError {
    /// The HTTP status a server answers with: 426 for [`HandshakeError::BadVersion`], 400
    /// otherwise (including the client-side variants, which never produce a response).
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::BadVersion => 426,
            _ => 400,
        }
    }

    pub fn message(&self) -> &'static str {
        match self {
            HandshakeError::NotGet => "WebSocket upgrade requires GET",
            HandshakeError::NotHttp11 => "WebSocket upgrade requires HTTP/1.1",
            HandshakeError::MissingUpgrade => {
                "WebSocket upgrade requires Upgrade: websocket and Connection: upgrade"
            }
            HandshakeError::BadVersion => "unsupported Sec-WebSocket-Version (expected 13)",
            HandshakeError::BadKey => "invalid Sec-WebSocket-Key",
            HandshakeError::Incomplete => "incomplete handshake response",
            HandshakeError::BadResponse(message) => message,
        }
    }
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status(), self.message())
    }
}

impl std::error::Error for HandshakeError {}

/// `base64(sha1(client_key ++ GUID))` (RFC 6455 §4.2.2 item 5.4). `client_key` is the header value
/// as received (the HTTP parser already trimmed surrounding whitespace).
pub fn accept_key(client_key: &[u8]) -> AcceptKey {
    let mut hasher = Sha1::new();
    hasher.update(client_key);
    hasher.update(GUID.as_bytes());
    let digest = hasher.finalize();
    let mut accept = [0u8; 28];
    let written = base64::encode_into(&digest, &mut accept);
    debug_assert_eq!(written, Some(28));
    AcceptKey(accept)
}

/// The single value of header `name`, or None if it is absent or repeated.
fn single_header<'b>(req: &Request<'b>, name: &str) -> Option<&'b [u8]> {
    let mut values = req.headers.get_all(name);
    let first = values.next()?;
    values.next().is_none().then_some(first)
}

/// Whether `key` is the canonical base64 encoding of exactly 16 bytes.
fn is_valid_key(key: &[u8]) -> bool {
    // 24 symbols decode to at most 18 bytes; a valid key decodes to 16 ("==" padding).
    let mut decoded = [0u8; 18];
    key.len() == KEY_B64_LEN && base64::decode(key, &mut decoded) == Ok(16)
}

/// Validates a WebSocket upgrade request (RFC 6455 §4.2.1): GET, HTTP/1.1, `Upgrade: websocket`,
/// `Connection` listing `upgrade`, `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key` that is
/// base64 of 16 bytes. Checked in that order. Returns the `Sec-WebSocket-Accept` value to answer
/// with ([`write_handshake_response`]); on error answer with [`write_handshake_error`].
pub fn check_upgrade(req: &Request<'_>) -> Result<AcceptKey, HandshakeError> {
    if req.method != Method::Get {
        return Err(HandshakeError::NotGet);
    }
    if req.version != Version::Http11 {
        return Err(HandshakeError::NotHttp11);
    }
    if !req.upgrade_websocket {
        return Err(HandshakeError::MissingUpgrade);
    }
    if single_header(req, "sec-websocket-version") != Some(b"13") {
        return Err(HandshakeError::BadVersion);
    }
    let key = single_header(req, "sec-websocket-key").ok_or(HandshakeError::BadKey)?;
    if !is_valid_key(key) {
        return Err(HandshakeError::BadKey);
    }
    Ok(accept_key(key))
}

/// Appends the `101 Switching Protocols` response. After it the connection speaks WebSocket.
pub fn write_handshake_response(out: &mut Vec<u8>, accept: &AcceptKey) {
    let head = ResponseHead {
        status: 101,
        content_type: "",
        // Ignored: `write_response` gives a 1xx response no Connection field; ours is listed below.
        keep_alive: true,
        extra_headers: &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", accept.as_str()),
        ],
    };
    write_response(out, &head, b"");
}

/// Appends the refusal of an upgrade request: `error.status()` with the message as a plain-text
/// body and `Connection: close`; a 426 also carries `Upgrade: websocket` (RFC 9110 §15.5.22) and
/// `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
pub fn write_handshake_error(out: &mut Vec<u8>, error: &HandshakeError) {
    let version_headers: &[(&str, &str)] =
        &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")];
    let head = ResponseHead {
        status: error.status(),
        content_type: "text/plain; charset=utf-8",
        keep_alive: false,
        extra_headers: if error.status() == 426 {
            version_headers
        } else {
            &[]
        },
    };
    write_response(out, &head, error.message().as_bytes());
}

/// Appends a client's upgrade request for `path` on `host` with the given 16-byte key (a client
/// should pick it at random per connection). `host` and `path` are written verbatim and must not
/// contain CR or LF (checked in debug builds).
pub fn write_client_handshake(out: &mut Vec<u8>, host: &str, path: &str, key: &[u8; 16]) {
    let encoded = encode_key(key);
    // Base64 output is ASCII, so this never falls back.
    let encoded = std::str::from_utf8(&encoded).unwrap_or_default();
    let headers = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", encoded),
    ];
    write_request_head(out, "GET", path, host, &headers, None);
}

/// The `Sec-WebSocket-Key` header value for a client's 16-byte key.
fn encode_key(key: &[u8; 16]) -> [u8; KEY_B64_LEN] {
    let mut encoded = [0u8; KEY_B64_LEN];
    let written = base64::encode_into(key, &mut encoded);
    debug_assert_eq!(written, Some(KEY_B64_LEN));
    encoded
}

/// Checks the server's answer to [`write_client_handshake`] with the same `key`, from the start of
/// `response_head` (the bytes read so far; frames may follow the head). Returns the length of the
/// head including its empty line, where the WebSocket stream starts, or
/// [`HandshakeError::Incomplete`] if the head isn't complete yet (re-check once more bytes arrive;
/// a head over [`MAX_RESPONSE_HEAD`] is refused). Requires status 101, `Upgrade: websocket`,
/// `Connection: upgrade`, the matching `Sec-WebSocket-Accept` exactly once, and no extension or
/// subprotocol (none was offered). Lines may end in CRLF or a bare LF.
pub fn check_server_handshake(
    response_head: &[u8],
    key: &[u8; 16],
) -> Result<usize, HandshakeError> {
    let window = &response_head[..response_head.len().min(MAX_RESPONSE_HEAD)];
    let Some(head_len) = head_end(window) else {
        return Err(if response_head.len() >= MAX_RESPONSE_HEAD {
            HandshakeError::BadResponse("response head too large")
        } else {
            HandshakeError::Incomplete
        });
    };
    debug_assert!(head_len <= window.len());

    let mut lines = window[..head_len]
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().unwrap_or_default();
    if !is_status_101(status_line) {
        return Err(HandshakeError::BadResponse(
            "status is not 101 Switching Protocols",
        ));
    }

    let expected = accept_key(&encode_key(key));

    let mut upgrade = false;
    let mut connection = false;
    let mut accepts = 0usize;
    for line in lines.filter(|line| !line.is_empty()) {
        let (name, value) = split_field(line)?;
        let is = |known: &str| name.eq_ignore_ascii_case(known.as_bytes());
        if is("upgrade") {
            upgrade |= has_element(value, "websocket");
        } else if is("connection") {
            connection |= has_element(value, "upgrade");
        } else if is("sec-websocket-accept") {
            if value != expected.as_bytes() {
                return Err(HandshakeError::BadResponse("wrong Sec-WebSocket-Accept"));
            }
            accepts += 1;
        } else if is("sec-websocket-extensions") || is("sec-websocket-protocol") {
            return Err(HandshakeError::BadResponse(
                "server selected an extension or subprotocol that was not offered",
            ));
        }
    }
    if !upgrade {
        return Err(HandshakeError::BadResponse("missing Upgrade: websocket"));
    }
    if !connection {
        return Err(HandshakeError::BadResponse("missing Connection: upgrade"));
    }
    if accepts != 1 {
        return Err(HandshakeError::BadResponse(
            "missing or repeated Sec-WebSocket-Accept",
        ));
    }
    Ok(head_len)
}

/// The length of the head up to and including its empty line (CRLF CRLF, or with bare LFs), or
/// None if the empty line hasn't arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut line_start = 0;
    for (i, &byte) in buf.iter().enumerate() {
        if byte != b'\n' {
            continue;
        }
        let line = &buf[line_start..i];
        // The empty line, but not an empty first line (a status line is required).
        if line_start > 0 && (line.is_empty() || line == b"\r") {
            return Some(i + 1);
        }
        line_start = i + 1;
    }
    None
}

/// `HTTP/1.x 101` followed by the end of the line or a reason phrase.
fn is_status_101(line: &[u8]) -> bool {
    match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor, b' ', b'1', b'0', b'1', rest @ ..] => {
            minor.is_ascii_digit() && (rest.is_empty() || rest[0] == b' ')
        }
        _ => false,
    }
}

/// `name: value` with a token name; the value is trimmed of spaces and tabs.
fn split_field(line: &[u8]) -> Result<(&[u8], &[u8]), HandshakeError> {
    const MALFORMED: HandshakeError = HandshakeError::BadResponse("malformed response header");
    let colon = line.iter().position(|&b| b == b':').ok_or(MALFORMED)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(MALFORMED);
    }
    Ok((name, trim_ows(value)))
}

#[cfg(test)]
mod tests;
