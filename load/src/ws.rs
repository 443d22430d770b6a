//! One WebSocket client connection (RFC 6455 client side, using `protocol::ws`): the opening
//! handshake, masked text frames out, messages in. Pings are answered; buffers are reused.

use std::cell::RefCell;
use std::net::SocketAddr;

use monoio::io::AsyncWriteRentExt;
use monoio::net::TcpStream;
use protocol::rng::Rng;
use protocol::ws::{
    check_server_handshake, write_client_handshake, write_masked_frame, HandshakeError, Message,
    MessageReader, Next, OpCode, MAX_CONTROL_PAYLOAD,
};

use crate::check::Answer;
use crate::client::ConnError;

/// Largest message accepted from the server.
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

thread_local! {
    /// Masking keys and handshake nonces need to vary, not to be secret (see `protocol::rng`).
    static RNG: RefCell<Rng> = RefCell::new(Rng::from_entropy());
}

/// The handshake's `Sec-WebSocket-Key` nonce (before base64).
fn random_key() -> [u8; 16] {
    let mut key = [0u8; 16];
    RNG.with(|rng| rng.borrow_mut().fill(&mut key));
    key
}

fn random_mask() -> [u8; 4] {
    RNG.with(|rng| rng.borrow_mut().next_u32()).to_ne_bytes()
}

/// What to do after looking at one message (taken out of the borrow of the read buffer).
enum Step<R> {
    Done(R, usize),
    Pong([u8; MAX_CONTROL_PAYLOAD], usize, usize),
    Skip(usize),
    Closed(Option<u16>),
    Need(usize, usize),
}

pub struct WsConn {
    stream: TcpStream,
    write_buf: Vec<u8>,
    read_buf: Vec<u8>,
    reader: MessageReader,
    min_len: usize,
}

impl WsConn {
    /// Connects and completes the opening handshake for `path` on `host`.
    pub async fn connect(addr: SocketAddr, host: &str, path: &str) -> Result<WsConn, ConnError> {
        let stream = TcpStream::connect_addr(addr).await.map_err(ConnError::Io)?;
        stream.set_nodelay(true).map_err(ConnError::Io)?;
        let mut conn = WsConn {
            stream,
            write_buf: Vec::with_capacity(16 * 1024),
            read_buf: Vec::with_capacity(64 * 1024),
            reader: MessageReader::new(MAX_MESSAGE, false),
            min_len: 0,
        };
        let key = random_key();
        let mut request = Vec::with_capacity(256);
        write_client_handshake(&mut request, host, path, &key);
        conn.write(&request).await?;
        loop {
            match check_server_handshake(&conn.read_buf, &key) {
                Ok(head_len) => {
                    conn.read_buf.drain(..head_len);
                    return Ok(conn);
                }
                Err(HandshakeError::Incomplete) => conn.fill(conn.read_buf.len() + 1).await?,
                Err(HandshakeError::BadResponse(why)) => return Err(ConnError::Parse(why)),
                Err(_) => return Err(ConnError::Parse("bad WebSocket handshake response")),
            }
        }
    }

    /// Sends one text message.
    pub async fn send_text(&mut self, payload: &[u8]) -> Result<(), ConnError> {
        self.write_buf.clear();
        write_masked_frame(
            &mut self.write_buf,
            OpCode::Text,
            true,
            payload,
            random_mask(),
        );
        self.flush().await
    }

    /// Sends `request` as a text message and waits for the next text message, handing it to
    /// `check` as a 200 response body (the heartbeat channel answers every message once).
    pub async fn round_trip<R>(
        &mut self,
        request: &[u8],
        check: impl FnOnce(u16, Answer<'_>) -> R,
    ) -> Result<(R, bool), ConnError> {
        self.send_text(request).await?;
        let r = self
            .next_text(|text| check(200, Answer::Body(text)))
            .await?;
        Ok((r, true))
    }

    /// Waits for the next text message and runs `f` on it; pings are answered on the way, pongs
    /// skipped. A close frame or a binary message ends the connection with an error.
    pub async fn next_text<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<R, ConnError> {
        let mut f = Some(f);
        loop {
            let step = if self.read_buf.len() < self.min_len || self.read_buf.is_empty() {
                Step::Need(0, self.min_len.max(1))
            } else {
                match self.reader.next(&mut self.read_buf) {
                    Ok(Next::Message { message, consumed }) => match message {
                        Message::Text(text) => {
                            let f = f.take().expect("called once");
                            Step::Done(f(text.as_bytes()), consumed)
                        }
                        Message::Ping(payload) => {
                            let mut copy = [0u8; MAX_CONTROL_PAYLOAD];
                            let n = payload.len().min(MAX_CONTROL_PAYLOAD);
                            copy[..n].copy_from_slice(&payload[..n]);
                            Step::Pong(copy, n, consumed)
                        }
                        Message::Pong(_) => Step::Skip(consumed),
                        Message::Binary(_) => {
                            return Err(ConnError::Parse("unexpected binary WebSocket message"))
                        }
                        Message::Close(code) => Step::Closed(code.map(|(c, _)| c)),
                    },
                    Ok(Next::NeedMore { consumed, min_len }) => Step::Need(consumed, min_len),
                    Err(_) => return Err(ConnError::Parse("invalid WebSocket frame")),
                }
            };
            match step {
                Step::Done(r, consumed) => {
                    self.read_buf.drain(..consumed);
                    self.min_len = 0;
                    return Ok(r);
                }
                Step::Pong(payload, n, consumed) => {
                    self.read_buf.drain(..consumed);
                    self.min_len = 0;
                    self.write_buf.clear();
                    write_masked_frame(
                        &mut self.write_buf,
                        OpCode::Pong,
                        true,
                        &payload[..n],
                        random_mask(),
                    );
                    self.flush().await?;
                }
                Step::Skip(consumed) => {
                    self.read_buf.drain(..consumed);
                    self.min_len = 0;
                }
                Step::Closed(code) => return Err(ConnError::WsClosed(code)),
                Step::Need(consumed, min_len) => {
                    self.read_buf.drain(..consumed);
                    self.min_len = min_len;
                    self.fill(min_len.max(self.read_buf.len() + 1)).await?;
                }
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.write_buf.clear();
        self.write_buf.extend_from_slice(bytes);
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), ConnError> {
        let buf = std::mem::take(&mut self.write_buf);
        let (result, buf) = self.stream.write_all(buf).await;
        self.write_buf = buf;
        result.map(|_| ()).map_err(ConnError::Io)
    }

    /// Reads at least once, with room for `min_total` bytes.
    async fn fill(&mut self, min_total: usize) -> Result<(), ConnError> {
        crate::client::fill(&mut self.stream, &mut self.read_buf, min_total).await
    }
}
