//! A blocking HTTP/1.1 client on one TCP connection: keep-alive, pipelining through raw writes,
//! and probes of what the server does with a connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::payload::gzip;
use crate::{Value, IO_TIMEOUT};

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        sonic_rs::from_slice::<Value>(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body (HTTP {}) is not JSON ({e}): {:?}",
                self.status,
                self.text()
            )
        })
    }
}

/// A TCP connection to `addr` whose reads and writes fail after [`IO_TIMEOUT`] instead of hanging
/// the test, with Nagle off so small requests go out at once.
pub(crate) fn tcp_connect(addr: SocketAddr) -> TcpStream {
    try_tcp_connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
}

/// [`tcp_connect`] that returns the error instead of panicking (a node that is down).
pub(crate) fn try_tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A read that gave up because its timeout passed (the error kind differs between platforms).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// What a connection does within a time window (see [`Client::probe`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Probe {
    /// Orderly close (EOF) or reset.
    Closed,
    /// Bytes arrived.
    Data,
    /// Nothing happened.
    Open,
}

/// Blocking HTTP/1.1 client on one TCP connection (keep-alive, pipelining via raw writes).
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
    host: String,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client {
            stream: tcp_connect(addr),
            buf: Vec::new(),
            host: addr.to_string(),
        }
    }

    /// A connection to `addr`, or the error if nothing accepts it there.
    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        Ok(Client {
            stream: try_tcp_connect(addr)?,
            buf: Vec::new(),
            host: addr.to_string(),
        })
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Builds the bytes of one request. Adds `Host`, and `Content-Type`/`Content-Length` when
    /// there is a body (or for POST), unless `headers` already has them.
    pub fn build_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Vec<u8> {
        let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        let mut out = format!("{method} {path} HTTP/1.1\r\n");
        if !has("host") {
            out.push_str(&format!("Host: {}\r\n", self.host));
        }
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if (!body.is_empty() || method == "POST") && !has("transfer-encoding") {
            if !has("content-type") {
                out.push_str("Content-Type: application/json\r\n");
            }
            if !has("content-length") {
                out.push_str(&format!("Content-Length: {}\r\n", body.len()));
            }
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    pub fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        let bytes = self.build_request(method, path, headers, body);
        self.write_raw(&bytes)?;
        self.read_response()
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Sends the head of a POST whose `body_len`-byte body is still to come, with `Expect:
    /// 100-continue`, and asserts the interim `100 Continue`: the server has parsed the head
    /// and waits for the body.
    pub fn post_head_expecting_continue(&mut self, path: &str, body_len: usize) {
        let head = self.build_request(
            "POST",
            path,
            &[
                ("Expect", "100-continue"),
                ("Content-Length", &body_len.to_string()),
            ],
            b"",
        );
        self.write_raw(&head)
            .unwrap_or_else(|e| panic!("POST {path} head: {e}"));
        let interim = self
            .read_response()
            .unwrap_or_else(|e| panic!("POST {path}: no interim response: {e}"));
        assert_eq!(
            interim.status, 100,
            "POST {path}: expected 100 Continue, got {interim:?}"
        );
    }

    pub fn post_json(&mut self, path: &str, body: &str) -> (u16, Value) {
        let r = self.request("POST", path, &[], body.as_bytes());
        (r.status, r.json())
    }

    /// POST with the body gzip-compressed and `Content-Encoding: gzip`, as the Java client does.
    pub fn post_gzip(&mut self, path: &str, body: &str) -> (u16, Value) {
        let gz = gzip(body.as_bytes());
        let r = self.request(
            "POST",
            path,
            &[("Content-Encoding", "gzip"), ("Accept", "application/json")],
            &gz,
        );
        (r.status, r.json())
    }

    pub fn get(&mut self, path: &str) -> (u16, Value) {
        let r = self.request("GET", path, &[], b"");
        (r.status, r.json())
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 16384];
        let n = self.stream.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn need(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed mid-response (have {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn read_line_crlf(&mut self) -> io::Result<String> {
        loop {
            if let Some(pos) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                self.buf.drain(..pos + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed mid-line",
                ));
            }
        }
    }

    /// Reads the head of one response (status line and headers) and leaves what follows it
    /// unread: the whole of a response to HEAD, which has no body whatever its Content-Length.
    pub fn read_response_head(&mut self) -> io::Result<Response> {
        let head_end = loop {
            if let Some(pos) = find(&self.buf, b"\r\n\r\n") {
                break pos;
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed before a full response head (got {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            )
        })?;
        let reason = parts.next().unwrap_or_default().to_string();
        if !version.starts_with("HTTP/1.") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad status line {status_line:?}"),
            ));
        }
        let mut headers = Vec::new();
        for line in lines {
            let (k, v) = line.split_once(':').ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("bad header {line:?}"))
            })?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        Ok(Response {
            status,
            reason,
            version,
            headers,
            body: Vec::new(),
        })
    }

    /// Reads exactly one response (status line, headers, Content-Length / chunked / to-EOF body).
    pub fn read_response(&mut self) -> io::Result<Response> {
        let mut resp = self.read_response_head()?;
        let status = resp.status;
        let chunked = resp
            .header("transfer-encoding")
            .map(|v| v.to_ascii_lowercase().contains("chunked"))
            .unwrap_or(false);
        if chunked {
            loop {
                let size_line = self.read_line_crlf()?;
                let size_str = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_str, 16).map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad chunk size {size_line:?}"),
                    )
                })?;
                if size == 0 {
                    // trailers until an empty line
                    while !self.read_line_crlf()?.is_empty() {}
                    break;
                }
                self.need(size + 2)?;
                resp.body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
            }
        } else if let Some(cl) = resp.header("content-length") {
            let n: usize = cl.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad content-length {cl}"),
                )
            })?;
            self.need(n)?;
            resp.body = self.buf.drain(..n).collect();
        } else if status == 204 || status == 304 || (100..200).contains(&status) {
        } else {
            // Body delimited by connection close.
            loop {
                if self.fill()? == 0 {
                    break;
                }
            }
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    /// Waits up to `timeout` for the server to close the connection or send something.
    pub fn probe(&mut self, timeout: Duration) -> Probe {
        if !self.buf.is_empty() {
            return Probe::Data;
        }
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut tmp = [0u8; 4096];
        let r = self.stream.read(&mut tmp);
        self.stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        match r {
            Ok(0) => Probe::Closed,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Probe::Data
            }
            Err(e) if is_timeout(&e) => Probe::Open,
            Err(_) => Probe::Closed,
        }
    }

    /// True if the server closes the connection (EOF or reset) within `timeout` without sending
    /// anything further.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.probe(left) {
                Probe::Closed => return true,
                Probe::Data => return false,
                Probe::Open => {}
            }
        }
    }
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
