//! The HTTP client a node uses towards its peers (replication, node status, bootstrap): one
//! keep-alive connection per client, requests written with the protocol crate's head writer,
//! responses framed by its parser, every step under a deadline. Runs on an event loop; never
//! blocks it (addresses are resolved elsewhere, see [`super::topology::PeerAddress::resolve`]).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use protocol::http::{parse_response, write_request_head, ParsedResponse, ResponseLimits};

use super::topology::PeerAddress;
use crate::config::cluster::SECRET_HEADER;

/// Why a request to a peer got no answer. The connection is dropped afterwards.
#[derive(Debug)]
pub enum PeerError {
    /// The peer's host has not resolved to any address (yet).
    NoAddress,
    Io(io::Error),
    /// Connecting, writing or reading took longer than the request's deadline.
    Timeout,
    /// The answer could not be framed as HTTP.
    Parse(&'static str),
}

impl std::fmt::Display for PeerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerError::NoAddress => f.write_str("the peer's host does not resolve"),
            PeerError::Io(e) => write!(f, "{e}"),
            PeerError::Timeout => f.write_str("timed out"),
            PeerError::Parse(what) => write!(f, "unparsable answer: {what}"),
        }
    }
}

/// A peer's answer: HTTP status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Bounds on what a peer can make this node buffer.
const MAX_ANSWER_HEAD_BYTES: usize = 64 * 1024;

pub struct PeerClient {
    stream: Option<TcpStream>,
    gzip: Gzip,
    /// The compressed body of the request being written (reused).
    body_buf: Vec<u8>,
    write_buf: Vec<u8>,
    read_buf: Vec<u8>,
    scratch: Vec<u8>,
    limits: ResponseLimits,
    /// The secret every request carries (`cluster.secret`), if any.
    secret: Option<String>,
}

impl PeerClient {
    /// `max_answer_bytes` bounds an answer's body (a full registry copy is the largest).
    pub fn new(secret: Option<String>, max_answer_bytes: usize) -> PeerClient {
        PeerClient {
            stream: None,
            gzip: Gzip::new(),
            body_buf: Vec::new(),
            write_buf: Vec::new(),
            read_buf: Vec::new(),
            scratch: Vec::new(),
            limits: ResponseLimits {
                max_head_bytes: MAX_ANSWER_HEAD_BYTES,
                max_body_bytes: max_answer_bytes,
            },
            secret,
        }
    }

    /// POST `json` (gzip-compressed, as Java nodes send) to `api_path` of the peer and read
    /// the answer, all within `timeout`. A request that fails on a reused keep-alive connection
    /// before any answer arrived is tried once more on a new one (the peer may have closed an
    /// idle connection).
    pub async fn post_json(
        &mut self,
        address: &PeerAddress,
        api_path: &str,
        json: &[u8],
        timeout: Duration,
    ) -> Result<Answer, PeerError> {
        self.write_request(address, api_path, json)?;
        let reused = self.stream.is_some();
        let first = monoio::time::timeout(timeout, self.exchange(address)).await;
        let result = match first {
            Ok(Err(PeerError::Io(_))) if reused => {
                self.stream = None;
                monoio::time::timeout(timeout, self.exchange(address))
                    .await
                    .unwrap_or(Err(PeerError::Timeout))
            }
            Ok(r) => r,
            Err(_) => Err(PeerError::Timeout),
        };
        if result.is_err() {
            self.disconnect();
        }
        // Sent (or given up): an empty buffer can be released by `release_buffers`.
        self.write_buf.clear();
        result
    }

    /// Drop the connection (the next request opens a new one).
    pub fn disconnect(&mut self) {
        self.stream = None;
        self.read_buf.clear();
    }

    /// Buffers shrink back after a large answer (a registry copy) so an idle client stays small.
    pub fn release_buffers(&mut self) {
        const KEEP: usize = 64 * 1024;
        for buf in [
            &mut self.body_buf,
            &mut self.write_buf,
            &mut self.read_buf,
            &mut self.scratch,
        ] {
            if buf.capacity() > KEEP && buf.is_empty() {
                *buf = Vec::new();
            }
        }
    }

    fn write_request(
        &mut self,
        address: &PeerAddress,
        api_path: &str,
        json: &[u8],
    ) -> Result<(), PeerError> {
        self.body_buf.clear();
        self.gzip.compress(json, &mut self.body_buf)?;
        let target = address.target(api_path);
        let mut headers: smallvec::SmallVec<[(&str, &str); 4]> = smallvec::smallvec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("Content-Encoding", "gzip"),
        ];
        if let Some(secret) = &self.secret {
            headers.push((SECRET_HEADER, secret));
        }
        self.write_buf.clear();
        write_request_head(
            &mut self.write_buf,
            "POST",
            &target,
            &address.authority,
            &headers,
            Some(self.body_buf.len()),
        );
        self.write_buf.extend_from_slice(&self.body_buf);
        self.body_buf.clear();
        Ok(())
    }

    /// Write the prepared request (connecting first when needed) and read one final answer.
    async fn exchange(&mut self, address: &PeerAddress) -> Result<Answer, PeerError> {
        if self.stream.is_none() {
            self.stream = Some(connect(address).await?);
            self.read_buf.clear();
        }
        let stream = self.stream.as_mut().expect("connected above");
        let buf = std::mem::take(&mut self.write_buf);
        let (written, buf) = stream.write_all(buf).await;
        self.write_buf = buf;
        written.map_err(PeerError::Io)?;
        loop {
            match parse_response(&self.read_buf, &mut self.scratch, &self.limits, false) {
                Ok(ParsedResponse::Complete {
                    head,
                    body,
                    consumed,
                }) => {
                    if head.status < 200 {
                        self.read_buf.drain(..consumed);
                        continue;
                    }
                    let answer = Answer {
                        status: head.status,
                        body: body.to_vec(),
                    };
                    self.read_buf.drain(..consumed);
                    if !head.keep_alive {
                        self.stream = None;
                    }
                    return Ok(answer);
                }
                Ok(ParsedResponse::Partial { min_total }) => {
                    let stream = self.stream.as_mut().expect("connected above");
                    fill(stream, &mut self.read_buf, min_total).await?;
                }
                Err(e) => return Err(PeerError::Parse(e.0)),
            }
        }
    }
}

/// A gzip writer whose deflate state (a few hundred KiB) is made once per client, not once per
/// request.
struct Gzip {
    deflate: Compress,
}

/// Gzip member header: deflate, no name or flags, no mtime, fastest level, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

impl Gzip {
    fn new() -> Gzip {
        Gzip {
            deflate: Compress::new(Compression::fast(), false),
        }
    }

    /// Append `input` as one gzip member to `out`.
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), PeerError> {
        self.deflate.reset();
        out.extend_from_slice(&GZIP_HEADER);
        loop {
            out.reserve(input.len() / 2 + 64);
            let consumed = self.deflate.total_in() as usize;
            let status = self
                .deflate
                .compress_vec(&input[consumed..], out, FlushCompress::Finish)
                .map_err(|e| PeerError::Io(io::Error::other(e)))?;
            if status == Status::StreamEnd {
                break;
            }
        }
        let mut crc = Crc::new();
        crc.update(input);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE: the input length modulo 2^32, as RFC 1952 defines it.
        out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        Ok(())
    }
}

/// Connect to the first of the peer's addresses that accepts.
async fn connect(address: &PeerAddress) -> Result<TcpStream, PeerError> {
    let addrs = address.addresses();
    let mut last = PeerError::NoAddress;
    for &addr in addrs.iter() {
        match connect_addr(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = PeerError::Io(e),
        }
    }
    Err(last)
}

async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_addr(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Read at least once into `read_buf`, with room for `min_total` bytes; end of stream is an
/// error (the peer closed a connection with an answer pending).
async fn fill(
    stream: &mut TcpStream,
    read_buf: &mut Vec<u8>,
    min_total: usize,
) -> Result<(), PeerError> {
    let len = read_buf.len();
    let want = min_total.max(len + 4096);
    if read_buf.capacity() < want {
        read_buf.reserve(want - len);
    }
    let cap = read_buf.capacity();
    let buf = std::mem::take(read_buf);
    let (result, slice) = stream.read(buf.slice_mut(len..cap)).await;
    *read_buf = slice.into_inner();
    match result {
        Ok(0) => Err(PeerError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the connection",
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(PeerError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use protocol::http::{inflate_gzip, GzipLimits};

    use super::*;

    #[test]
    fn gzip_bodies_inflate_to_the_input_with_one_reused_compressor() {
        let mut gzip = Gzip::new();
        let mut rng = protocol::rng::Rng::new(11);
        for len in [0usize, 1, 100, 70_000, 300_000] {
            // Half random bytes, half repetition: both stored and compressed blocks.
            let mut input = rng.bytes(len / 2);
            input.extend(std::iter::repeat_n(b'x', len - len / 2));
            let mut out = Vec::new();
            gzip.compress(&input, &mut out).unwrap();
            let mut back = Vec::new();
            let limits = GzipLimits {
                max_output: 1 << 20,
                max_members: 1,
            };
            inflate_gzip(&out, &mut back, limits).unwrap();
            assert_eq!(back, input, "{len} bytes");
        }
    }
}
