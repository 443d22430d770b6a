//! A blocking HTTP/1.1 client for one request per connection: the node's URL, the request head
//! written and the answer parsed by the project's own HTTP code (`protocol::http`), plain
//! `std::net` underneath. A command makes a handful of requests, so nothing is kept alive.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use protocol::http::{
    parse_response, parse_response_head, write_request_head, Framing, ParsedResponse,
    ResponseLimits,
};

use super::Failure;

/// How long to wait for a TCP connection to each address of the node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one read or write may block: a node that stops answering fails the command
/// instead of hanging a script.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A node as given by `--server http://host[:port][/prefix]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// What the URL said after `http://`, up to the path: the `Host` header.
    authority: String,
    /// `host:port` to resolve (port 80 when the URL has none).
    address: String,
    /// The path prefix every API path is served under (`/artemis-service`), or "".
    prefix: String,
    /// Sent as `Authorization: Bearer <token>`.
    token: Option<String>,
}

/// An HTTP answer: status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Node {
    /// Reads `--server`. Only `http://` is spoken; the host is resolved when connecting, so a
    /// name that does not resolve is a failure to reach the node, not a usage error.
    pub fn parse(url: &str, token: Option<String>) -> Result<Node, Failure> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            Failure::usage(format!(
                "--server: {url:?} is not an http:// URL (https is not supported)"
            ))
        })?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') {
            return Err(Failure::usage(format!(
                "--server: {url:?} needs a host, e.g. http://127.0.0.1:8080"
            )));
        }
        if path.contains(['?', '#']) || url.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(Failure::usage(format!(
                "--server: {url:?}: only scheme, host, port and a path prefix are allowed"
            )));
        }
        let address = if has_port(authority) {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        if let Some(token) = &token {
            // A token is a header value: CR, LF or other controls would break the request.
            if token.trim().is_empty() || token.chars().any(char::is_control) {
                return Err(Failure::usage(
                    "--token: must be non-blank, without control characters",
                ));
            }
        }
        Ok(Node {
            authority: authority.to_string(),
            address,
            prefix: path.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// The URL as the user gave it, for messages.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.prefix)
    }

    /// `POST <prefix><path>` with a JSON body; any HTTP status is returned as it is.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<Reply, Failure> {
        let target = format!("{}{path}", self.prefix);
        let mut stream = self.connect()?;
        let fail =
            |what: &str, e: std::io::Error| Failure::failed(format!("{what} {}: {e}", self.url()));
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("Connection", "close"),
        ];
        if let Some(value) = &bearer {
            headers.push(("Authorization", value));
        }
        let mut request = Vec::with_capacity(256 + body.len());
        write_request_head(
            &mut request,
            "POST",
            &target,
            &self.authority,
            &headers,
            Some(body.len()),
        );
        request.extend_from_slice(body);
        stream
            .write_all(&request)
            .map_err(|e| fail("cannot send a request to", e))?;
        read_reply(&mut stream).map_err(|e| match e {
            ReadError::Io(e) => fail("no answer from", e),
            ReadError::Malformed(why) => {
                Failure::failed(format!("{} sent an invalid HTTP answer: {why}", self.url()))
            }
        })
    }

    fn connect(&self) -> Result<TcpStream, Failure> {
        let unreachable =
            |why: String| Failure::failed(format!("cannot reach {}: {why}", self.url()));
        let addresses: Vec<SocketAddr> = self
            .address
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("cannot resolve {}: {e}", self.authority)))?
            .collect();
        let mut last_error = None;
        for address in &addresses {
            match TcpStream::connect_timeout(address, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    let configured = stream
                        .set_read_timeout(Some(IO_TIMEOUT))
                        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)));
                    configured.map_err(|e| unreachable(e.to_string()))?;
                    return Ok(stream);
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(unreachable(match last_error {
            Some(e) => e.to_string(),
            None => format!("{} resolves to no address", self.authority),
        }))
    }
}

/// True when `authority` ends in `:<digits>` (an IPv6 literal is bracketed, so its colons are
/// inside `[...]`).
fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

enum ReadError {
    Io(std::io::Error),
    Malformed(String),
}

/// Reads one complete response (the request said `Connection: close`, so nothing follows it).
fn read_reply(stream: &mut impl Read) -> Result<Reply, ReadError> {
    let limits = ResponseLimits::default();
    let malformed = |e: protocol::http::ResponseError| ReadError::Malformed(e.to_string());
    let mut buf = Vec::with_capacity(16 * 1024);
    let head = loop {
        if let Some(head) = parse_response_head(&buf, &limits, false).map_err(malformed)? {
            break head;
        }
        read_more(stream, &mut buf)?;
    };
    if head.framing == Framing::UntilClose {
        // Complete only at end of stream.
        while read_some(stream, &mut buf)? > 0 {
            if buf.len() - head.head_len > limits.max_body_bytes {
                return Err(ReadError::Malformed("response body too large".into()));
            }
        }
        return Ok(Reply {
            status: head.status,
            body: buf.split_off(head.head_len),
        });
    }
    let mut scratch = Vec::new();
    loop {
        let min_total =
            match parse_response(&buf, &mut scratch, &limits, false).map_err(malformed)? {
                ParsedResponse::Complete { head, body, .. } => {
                    return Ok(Reply {
                        status: head.status,
                        body: body.to_vec(),
                    })
                }
                ParsedResponse::Partial { min_total } => min_total,
            };
        // Parse again only once the parser can make progress (a Content-Length body is parsed
        // once, when it is all there).
        while buf.len() < min_total {
            read_more(stream, &mut buf)?;
        }
    }
}

/// [`read_some`], where end of stream is an incomplete answer.
fn read_more(stream: &mut impl Read, buf: &mut Vec<u8>) -> Result<(), ReadError> {
    if read_some(stream, buf)? == 0 {
        return Err(ReadError::Malformed(
            "the connection closed before the answer was complete".into(),
        ));
    }
    Ok(())
}

/// Appends what one read returns; 0 at end of stream.
fn read_some(stream: &mut impl Read, buf: &mut Vec<u8>) -> Result<usize, ReadError> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_read_with_port_and_prefix() {
        let node = Node::parse("http://10.0.0.5:8080/artemis-service/", None).unwrap();
        assert_eq!(node.authority, "10.0.0.5:8080");
        assert_eq!(node.address, "10.0.0.5:8080");
        assert_eq!(node.prefix, "/artemis-service");
        assert_eq!(node.url(), "http://10.0.0.5:8080/artemis-service");

        let node = Node::parse("http://registry.example", None).unwrap();
        assert_eq!(
            (node.address.as_str(), node.prefix.as_str()),
            ("registry.example:80", "")
        );
        let node = Node::parse("http://[::1]:9000/", None).unwrap();
        assert_eq!(
            (node.address.as_str(), node.prefix.as_str()),
            ("[::1]:9000", "")
        );
        let node = Node::parse("http://[::1]", None).unwrap();
        assert_eq!(node.address, "[::1]:80");
    }

    #[test]
    fn unusable_server_urls_and_tokens_are_usage_errors() {
        for url in [
            "https://node:8443",
            "node:8080",
            "http://",
            "http:///x",
            "http://a@node",
            "http://node/x?y=1",
            "http://node /x",
        ] {
            let err = Node::parse(url, None).unwrap_err();
            assert_eq!(err.exit_code, crate::admin::USAGE, "{url}");
            assert!(
                err.message.starts_with("--server"),
                "{url}: {}",
                err.message
            );
        }
        for token in ["", "  ", "a\r\nX-Evil: 1"] {
            let err = Node::parse("http://node", Some(token.into())).unwrap_err();
            assert!(err.message.starts_with("--token"), "{token:?}");
        }
    }

    #[test]
    fn replies_are_read_whatever_the_framing() {
        let cases: [(&[u8], u16, &[u8]); 3] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
                200,
                b"{}",
            ),
            (
                b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
                404,
                b"ab",
            ),
            (b"HTTP/1.0 200 OK\r\n\r\nuntil close", 200, b"until close"),
        ];
        for (raw, status, body) in cases {
            // One byte per read: every prefix of the answer is seen.
            let mut stream = OneByteAtATime(raw);
            let Ok(reply) = read_reply(&mut stream) else {
                panic!("{:?}", String::from_utf8_lossy(raw))
            };
            assert_eq!((reply.status, reply.body.as_slice()), (status, body));
        }
    }

    #[test]
    fn truncated_or_invalid_replies_are_errors() {
        let cases: [&[u8]; 3] = [
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
        ];
        for raw in cases {
            let mut stream = OneByteAtATime(raw);
            assert!(
                matches!(read_reply(&mut stream), Err(ReadError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    struct OneByteAtATime<'a>(&'a [u8]);

    impl Read for OneByteAtATime<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }
}
