//! Tests of the opening handshake: the server's check of an upgrade request and its answers, and
//! the client's request writer and response check.

use super::*;
use crate::http::{Limits, Parsed, RequestParser};

/// The example of RFC 6455 §1.3.
const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The 16 bytes `RFC_KEY` encodes.
const RFC_KEY_BYTES: &[u8; 16] = b"the sample nonce";

fn check(text: &str) -> Result<AcceptKey, HandshakeError> {
    let mut parser = RequestParser::new(Limits::default());
    let mut dechunked = Vec::new();
    match parser.parse(text.as_bytes(), &mut dechunked) {
        Ok(Parsed::Complete { request, consumed }) => {
            assert_eq!(consumed, text.len());
            check_upgrade(&request)
        }
        other => panic!("request did not parse: {other:?}"),
    }
}

fn upgrade_request(method: &str, version: &str, headers: &str) -> String {
    format!(
        "{method} /ws/registry/heartbeat {version}\r\nHost: server.example.com\r\n{headers}\r\n"
    )
}

const GOOD_HEADERS: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

#[test]
fn rfc6455_example_accept_key() {
    assert_eq!(accept_key(RFC_KEY.as_bytes()).as_str(), RFC_ACCEPT);
    assert_eq!(
        format!("{:?}", accept_key(RFC_KEY.as_bytes())),
        format!("AcceptKey({RFC_ACCEPT})")
    );
    let mut encoded = Vec::new();
    base64::encode(RFC_KEY_BYTES, &mut encoded);
    assert_eq!(encoded, RFC_KEY.as_bytes());
}

#[test]
fn accepts_the_rfc_example_request() {
    // RFC 6455 §1.2, plus the optional fields a browser sends.
    let request = "GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Extensions: permessage-deflate\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    assert_eq!(
        check(request).map(|a| a.as_str().to_owned()),
        Ok(RFC_ACCEPT.to_owned())
    );
}

#[test]
fn header_variants_that_are_accepted() {
    for headers in [
        GOOD_HEADERS,
        "upgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\n\
         sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\nSEC-WEBSOCKET-VERSION: 13\r\n",
        "Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: upgrade\r\n\
         Sec-WebSocket-Version:13\r\nSec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==\r\n",
    ] {
        let request = upgrade_request("GET", "HTTP/1.1", headers);
        assert_eq!(
            check(&request).map(|a| a.as_str().to_owned()),
            Ok(RFC_ACCEPT.to_owned()),
            "{request}"
        );
    }
}

#[test]
fn every_refusal() {
    let without = |name: &str| -> String {
        GOOD_HEADERS
            .split_inclusive("\r\n")
            .filter(|line| !line.starts_with(name))
            .collect()
    };
    let with_key = |key: &str| {
        format!(
            "{}Sec-WebSocket-Key: {key}\r\n",
            without("Sec-WebSocket-Key")
        )
    };
    let with_version = |version: &str| {
        format!(
            "{}Sec-WebSocket-Version: {version}\r\n",
            without("Sec-WebSocket-Version")
        )
    };
    let cases: Vec<(&str, &str, String, HandshakeError)> = vec![
        (
            "POST",
            "HTTP/1.1",
            GOOD_HEADERS.into(),
            HandshakeError::NotGet,
        ),
        (
            "HEAD",
            "HTTP/1.1",
            GOOD_HEADERS.into(),
            HandshakeError::NotGet,
        ),
        (
            "get",
            "HTTP/1.1",
            GOOD_HEADERS.into(),
            HandshakeError::NotGet,
        ),
        (
            "GET",
            "HTTP/1.0",
            GOOD_HEADERS.into(),
            HandshakeError::NotHttp11,
        ),
        (
            "GET",
            "HTTP/1.1",
            without("Upgrade"),
            HandshakeError::MissingUpgrade,
        ),
        (
            "GET",
            "HTTP/1.1",
            without("Connection"),
            HandshakeError::MissingUpgrade,
        ),
        (
            "GET",
            "HTTP/1.1",
            format!("{}Connection: keep-alive\r\n", without("Connection")),
            HandshakeError::MissingUpgrade,
        ),
        (
            "GET",
            "HTTP/1.1",
            format!("{}Upgrade: h2c\r\n", without("Upgrade")),
            HandshakeError::MissingUpgrade,
        ),
        (
            "GET",
            "HTTP/1.1",
            without("Sec-WebSocket-Version"),
            HandshakeError::BadVersion,
        ),
        (
            "GET",
            "HTTP/1.1",
            with_version("8"),
            HandshakeError::BadVersion,
        ),
        (
            "GET",
            "HTTP/1.1",
            with_version("13, 8"),
            HandshakeError::BadVersion,
        ),
        (
            "GET",
            "HTTP/1.1",
            with_version("013"),
            HandshakeError::BadVersion,
        ),
        (
            "GET",
            "HTTP/1.1",
            format!("{GOOD_HEADERS}Sec-WebSocket-Version: 13\r\n"),
            HandshakeError::BadVersion,
        ),
        (
            "GET",
            "HTTP/1.1",
            without("Sec-WebSocket-Key"),
            HandshakeError::BadKey,
        ),
        ("GET", "HTTP/1.1", with_key(""), HandshakeError::BadKey),
        (
            "GET",
            "HTTP/1.1",
            with_key("dGhlIHNhbXBsZSBub25jZQ="),
            HandshakeError::BadKey,
        ),
        (
            "GET",
            "HTTP/1.1",
            with_key("dGhlIHNhbXBsZSBub25jZQ"),
            HandshakeError::BadKey,
        ),
        // 17 and 15 bytes.
        (
            "GET",
            "HTTP/1.1",
            with_key("dGhlIHNhbXBsZSBub25jZXM="),
            HandshakeError::BadKey,
        ),
        (
            "GET",
            "HTTP/1.1",
            with_key("dGhlIHNhbXBsZSBub25j"),
            HandshakeError::BadKey,
        ),
        // Non-canonical last symbol, and a URL-safe alphabet symbol.
        (
            "GET",
            "HTTP/1.1",
            with_key("dGhlIHNhbXBsZSBub25jZR=="),
            HandshakeError::BadKey,
        ),
        (
            "GET",
            "HTTP/1.1",
            with_key("dGhlIHNhbXBsZSBub25j_Q=="),
            HandshakeError::BadKey,
        ),
        (
            "GET",
            "HTTP/1.1",
            format!("{GOOD_HEADERS}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            HandshakeError::BadKey,
        ),
    ];
    for (method, version, headers, error) in cases {
        let request = upgrade_request(method, version, &headers);
        assert_eq!(check(&request), Err(error), "{request}");
    }
}

#[test]
fn error_statuses_and_messages() {
    let errors = [
        HandshakeError::NotGet,
        HandshakeError::NotHttp11,
        HandshakeError::MissingUpgrade,
        HandshakeError::BadVersion,
        HandshakeError::BadKey,
        HandshakeError::Incomplete,
        HandshakeError::BadResponse("status is not 101 Switching Protocols"),
    ];
    for error in errors {
        let expected = if error == HandshakeError::BadVersion {
            426
        } else {
            400
        };
        assert_eq!(error.status(), expected, "{error:?}");
        assert!(!error.message().is_empty());
        assert_eq!(error.to_string(), format!("{expected} {}", error.message()));
    }
}

#[test]
fn writes_the_101_response() {
    let mut out = b"earlier".to_vec();
    write_handshake_response(&mut out, &accept_key(RFC_KEY.as_bytes()));
    assert_eq!(
        &out[7..],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
    // Our own client side accepts it.
    assert_eq!(
        check_server_handshake(&out[7..], RFC_KEY_BYTES),
        Ok(out.len() - 7)
    );
}

#[test]
fn writes_refusals() {
    let mut out = Vec::new();
    write_handshake_error(&mut out, &HandshakeError::BadVersion);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    assert!(text.contains("\r\nUpgrade: websocket\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    assert!(
        text.ends_with(HandshakeError::BadVersion.message()),
        "{text}"
    );

    let mut out = Vec::new();
    write_handshake_error(&mut out, &HandshakeError::BadKey);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(!text.contains("Sec-WebSocket-Version"), "{text}");
    assert!(text.ends_with("invalid Sec-WebSocket-Key"), "{text}");
}

#[test]
fn client_request_round_trips_through_our_server_check() {
    let mut out = Vec::new();
    write_client_handshake(
        &mut out,
        "10.0.0.1:8080",
        "/artemis/ws/discovery/instance-change",
        RFC_KEY_BYTES,
    );
    let text = std::str::from_utf8(&out).unwrap();
    assert_eq!(
        text,
        format!(
            "GET /artemis/ws/discovery/instance-change HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: {RFC_KEY}\r\n\r\n"
        )
    );
    assert_eq!(
        check(text).map(|a| a.as_str().to_owned()),
        Ok(RFC_ACCEPT.to_owned())
    );
}

fn response(lines: &[&str]) -> Vec<u8> {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n\r\n");
    text.into_bytes()
}

#[test]
fn server_response_checks() {
    let accept = format!("Sec-WebSocket-Accept: {RFC_ACCEPT}");
    let good: Vec<&str> = vec![
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        &accept,
    ];
    let ok = response(&good);
    assert_eq!(check_server_handshake(&ok, RFC_KEY_BYTES), Ok(ok.len()));

    // Frames after the head are not part of it.
    let mut with_frame = ok.clone();
    with_frame.extend_from_slice(&[0x81, 0x02, b'h', b'i']);
    assert_eq!(
        check_server_handshake(&with_frame, RFC_KEY_BYTES),
        Ok(ok.len())
    );

    // Every proper prefix is incomplete.
    for len in 0..ok.len() {
        assert_eq!(
            check_server_handshake(&ok[..len], RFC_KEY_BYTES),
            Err(HandshakeError::Incomplete),
            "{len}"
        );
    }

    // Lenient forms: bare LF, no reason phrase, case, lists, whitespace.
    let bare_lf = format!("HTTP/1.1 101\nupgrade:WebSocket\nconnection: keep-alive, upgrade\nsec-websocket-accept:  {RFC_ACCEPT} \nServer: x\n\n");
    assert_eq!(
        check_server_handshake(bare_lf.as_bytes(), RFC_KEY_BYTES),
        Ok(bare_lf.len())
    );

    let bad = |lines: &[&str], why: &'static str| {
        assert_eq!(
            check_server_handshake(&response(lines), RFC_KEY_BYTES),
            Err(HandshakeError::BadResponse(why)),
            "{lines:?}"
        );
    };
    let not_101 = "status is not 101 Switching Protocols";
    bad(
        &[
            "HTTP/1.1 200 OK",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
        ],
        not_101,
    );
    bad(
        &[
            "HTTP/1.1 1010",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
        ],
        not_101,
    );
    bad(
        &[
            "HTTP/2.0 101",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
        ],
        not_101,
    );
    bad(
        &[
            "ICY 101 x",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
        ],
        not_101,
    );
    bad(
        &["HTTP/1.1 101", "Connection: Upgrade", &accept],
        "missing Upgrade: websocket",
    );
    bad(
        &[
            "HTTP/1.1 101",
            "Upgrade: h2c",
            "Connection: Upgrade",
            &accept,
        ],
        "missing Upgrade: websocket",
    );
    bad(
        &["HTTP/1.1 101", "Upgrade: websocket", &accept],
        "missing Connection: upgrade",
    );
    bad(
        &["HTTP/1.1 101", "Upgrade: websocket", "Connection: Upgrade"],
        "missing or repeated Sec-WebSocket-Accept",
    );
    bad(
        &[
            "HTTP/1.1 101",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
            &accept,
        ],
        "missing or repeated Sec-WebSocket-Accept",
    );
    bad(
        &[
            "HTTP/1.1 101",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo",
        ],
        "wrong Sec-WebSocket-Accept",
    );
    let extension = "server selected an extension or subprotocol that was not offered";
    bad(
        &[
            "HTTP/1.1 101",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
            "Sec-WebSocket-Extensions: permessage-deflate",
        ],
        extension,
    );
    bad(
        &[
            "HTTP/1.1 101",
            "Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
            "Sec-WebSocket-Protocol: chat",
        ],
        extension,
    );
    let malformed = "malformed response header";
    bad(
        &[
            "HTTP/1.1 101",
            "Upgrade websocket",
            "Connection: Upgrade",
            &accept,
        ],
        malformed,
    );
    bad(
        &[
            "HTTP/1.1 101",
            " Upgrade: websocket",
            "Connection: Upgrade",
            &accept,
        ],
        malformed,
    );
    bad(
        &[
            "HTTP/1.1 101",
            ": websocket",
            "Connection: Upgrade",
            &accept,
        ],
        malformed,
    );

    // A different key gives a different accept value.
    let mut other_key = *RFC_KEY_BYTES;
    other_key[0] ^= 1;
    assert_eq!(
        check_server_handshake(&ok, &other_key),
        Err(HandshakeError::BadResponse("wrong Sec-WebSocket-Accept"))
    );
}

#[test]
fn server_response_head_is_bounded() {
    let mut endless = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
    while endless.len() < MAX_RESPONSE_HEAD - 10 {
        endless.extend_from_slice(b"X-Filler: y\r\n");
    }
    assert_eq!(
        check_server_handshake(&endless, RFC_KEY_BYTES),
        Err(HandshakeError::Incomplete)
    );
    endless.resize(MAX_RESPONSE_HEAD, b'y');
    assert_eq!(
        check_server_handshake(&endless, RFC_KEY_BYTES),
        Err(HandshakeError::BadResponse("response head too large"))
    );
    // An empty first line doesn't end the head.
    assert_eq!(
        check_server_handshake(b"\r\n", RFC_KEY_BYTES),
        Err(HandshakeError::Incomplete)
    );
    assert_eq!(
        check_server_handshake(b"\r\n\r\n", RFC_KEY_BYTES),
        Err(HandshakeError::BadResponse(
            "status is not 101 Switching Protocols"
        ))
    );
}
