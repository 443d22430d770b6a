//! One keep-alive HTTP/1.1 client connection: write a pre-serialized request, read and frame the
//! response, hand its status and body to a checker. The read, write and chunk buffers live as long
//! as the connection and are reused for every request.

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;

use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use protocol::http::{inflate_gzip, parse_response, GzipLimits, ParsedResponse, ResponseLimits};

use crate::check::Answer;

const INITIAL_BUFFER: usize = 64 * 1024;

/// Why a request got no usable response. The connection must be dropped afterwards.
#[derive(Debug)]
pub enum ConnError {
    /// Write or read failed, or the server closed the connection first.
    Io(io::Error),
    /// The response could not be framed.
    Parse(&'static str),
    /// The server closed the WebSocket (with this close code).
    WsClosed(Option<u16>),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "{e}"),
            ConnError::Parse(what) => write!(f, "unparsable response: {what}"),
            ConnError::WsClosed(Some(code)) => write!(f, "WebSocket closed by the server ({code})"),
            ConnError::WsClosed(None) => write!(f, "WebSocket closed by the server"),
        }
    }
}

impl ConnError {
    pub fn kind(&self) -> &'static str {
        match self {
            ConnError::Io(_) => "io",
            ConnError::Parse(_) => "parse",
            ConnError::WsClosed(_) => "ws-close",
        }
    }
}

pub struct Conn {
    stream: TcpStream,
    write_buf: Vec<u8>,
    read_buf: Vec<u8>,
    scratch: Vec<u8>,
    limits: ResponseLimits,
    /// gzip answers inflated into here.
    inflated: Vec<u8>,
    /// The verdicts on gzip answers inflated before, by what identifies their bytes (see
    /// [`GzipKey`]): the server sends the same compressed bytes for the same answer, and
    /// inflating each would cost the generator more CPU than the server spends on it.
    verdicts: HashMap<GzipKey, Box<dyn Any>>,
}

/// A gzip answer's status, length, and trailer (CRC-32 and length of the inflated bytes).
type GzipKey = (u16, usize, [u8; 8]);

/// Verdicts kept per connection at most (then forgotten all at once).
const MAX_VERDICTS: usize = 4096;

/// Bounds on inflating an answer (a lookup of thousands of instances is a few megabytes).
const INFLATE_LIMITS: GzipLimits = GzipLimits {
    max_output: 256 << 20,
    max_members: 1,
};

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_addr(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            write_buf: Vec::with_capacity(INITIAL_BUFFER),
            read_buf: Vec::with_capacity(INITIAL_BUFFER),
            scratch: Vec::new(),
            limits: ResponseLimits::default(),
            inflated: Vec::new(),
            verdicts: HashMap::new(),
        })
    }

    /// Sends `request` and reads its response; `check(status, body)` runs on the complete response
    /// while the body is still in the buffer. Returns the check's result and whether the
    /// connection may be reused. Interim (1xx) responses are skipped.
    pub async fn round_trip<R: Clone + 'static>(
        &mut self,
        request: &[u8],
        check: impl FnOnce(u16, Answer<'_>) -> R,
    ) -> Result<(R, bool), ConnError> {
        self.write_buf.clear();
        self.write_buf.extend_from_slice(request);
        let buf = std::mem::take(&mut self.write_buf);
        let (result, buf) = self.stream.write_all(buf).await;
        self.write_buf = buf;
        result.map_err(ConnError::Io)?;
        self.read_response(check).await
    }

    /// Reads one final response (skipping 1xx ones) and runs `check` on it.
    pub async fn read_response<R: Clone + 'static>(
        &mut self,
        check: impl FnOnce(u16, Answer<'_>) -> R,
    ) -> Result<(R, bool), ConnError> {
        loop {
            let step = match parse_response(&self.read_buf, &mut self.scratch, &self.limits, false)
            {
                Ok(ParsedResponse::Complete {
                    head,
                    body,
                    consumed,
                }) => {
                    if head.status < 200 {
                        Step::Skip(consumed)
                    } else {
                        let keep_alive = head.keep_alive;
                        let verdict = if head.gzip {
                            let key = gzip_key(head.status, body);
                            let known = key.and_then(|k| self.verdicts.get(&k));
                            match known.and_then(|v| v.downcast_ref::<R>()) {
                                Some(verdict) => verdict.clone(),
                                None => {
                                    let answer = match inflate_gzip(
                                        body,
                                        &mut self.inflated,
                                        INFLATE_LIMITS,
                                    ) {
                                        Ok(()) => Answer::Body(&self.inflated),
                                        Err(_) => Answer::BadGzip,
                                    };
                                    let verdict = check(head.status, answer);
                                    if let Some(key) = key {
                                        if self.verdicts.len() >= MAX_VERDICTS {
                                            self.verdicts.clear();
                                        }
                                        self.verdicts.insert(key, Box::new(verdict.clone()));
                                    }
                                    verdict
                                }
                            }
                        } else {
                            check(head.status, Answer::Body(body))
                        };
                        self.consume(consumed);
                        return Ok((verdict, keep_alive));
                    }
                }
                Ok(ParsedResponse::Partial { min_total }) => Step::Need(min_total),
                Err(e) => return Err(ConnError::Parse(e.0)),
            };
            match step {
                Step::Skip(consumed) => self.consume(consumed),
                Step::Need(min_total) => self.fill(min_total).await?,
            }
        }
    }

    fn consume(&mut self, n: usize) {
        if n >= self.read_buf.len() {
            self.read_buf.clear();
        } else {
            self.read_buf.drain(..n);
        }
    }

    /// Reads at least once, growing the buffer to `min_total` bytes of capacity.
    async fn fill(&mut self, min_total: usize) -> Result<(), ConnError> {
        fill(&mut self.stream, &mut self.read_buf, min_total).await
    }
}

/// What identifies a gzip answer's bytes: its status, length and trailer; None if too short
/// to be a gzip member (it is inflated, and fails, every time).
fn gzip_key(status: u16, body: &[u8]) -> Option<GzipKey> {
    let trailer = body.len().checked_sub(8).and_then(|at| body.get(at..))?;
    Some((status, body.len(), trailer.try_into().ok()?))
}

enum Step {
    Skip(usize),
    Need(usize),
}

/// Read at least once into the spare capacity of `read_buf`, growing it to hold `min_total`
/// bytes; end of stream is an error (the server closed a connection the client still uses).
pub(crate) async fn fill(
    stream: &mut TcpStream,
    read_buf: &mut Vec<u8>,
    min_total: usize,
) -> Result<(), ConnError> {
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
        Ok(0) => Err(ConnError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "server closed the connection",
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(ConnError::Io(e)),
    }
}
