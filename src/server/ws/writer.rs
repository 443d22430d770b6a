//! A session's writer task: writes the queued frames straight from the bytes they live in (a
//! change batch shared by many sessions is never copied per session), with vectored writes of
//! one chunk, yielding between writes so that many sessions writing big batches take turns with
//! every other connection of the core. The chunk is the session's share of a bounded round of
//! writes on the core (`QueueBudget::write_chunk`), so the round stays short however many
//! sessions write.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use monoio::buf::IoVecBuf;
use monoio::io::{AsyncWriteRent, OwnedWriteHalf};
use monoio::net::TcpStream;
use protocol::ws::{write_close, write_frame, OpCode};

use crate::server::metrics::CoreMetrics;
use crate::server::signal::yield_now;
use crate::server::subscribers::{close, Frames, Session};

/// Most buffers in one vectored write (well under every kernel's IOV_MAX).
const MAX_IOVECS: usize = 64;

/// A piece of output: a queued entry or a control frame the writer made.
enum Piece {
    Queued(Frames),
    Control(Vec<u8>),
}

impl Piece {
    fn bytes(&self) -> &[u8] {
        match self {
            Piece::Queued(f) => f.bytes(),
            Piece::Control(c) => c,
        }
    }
}

/// What the writer holds until it is written: the pieces, how much of the first is written, and
/// the iovecs of the next write.
#[derive(Default)]
struct Pending {
    pieces: VecDeque<Piece>,
    /// Bytes of `pieces[0]` already written.
    offset: usize,
    iovecs: Vec<libc::iovec>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    fn push(&mut self, piece: Piece) {
        if !piece.bytes().is_empty() {
            self.pieces.push_back(piece);
        }
    }

    /// Point the iovecs at the next (at most `chunk`) unwritten bytes.
    fn prepare(&mut self, chunk: usize) {
        self.iovecs.clear();
        let mut budget = chunk;
        let mut skip = self.offset;
        for piece in &self.pieces {
            if budget == 0 || self.iovecs.len() == MAX_IOVECS {
                break;
            }
            let bytes = &piece.bytes()[skip..];
            skip = 0;
            let len = bytes.len().min(budget);
            budget -= len;
            self.iovecs.push(libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: len,
            });
        }
        debug_assert!(
            !self.iovecs.is_empty(),
            "prepare is called with bytes to write"
        );
    }

    /// `written` bytes went out: drop the pieces that are done.
    fn advance(&mut self, mut written: usize) {
        while written > 0 {
            let front = self
                .pieces
                .front()
                .expect("the kernel wrote no more than it was given");
            let left = front.bytes().len() - self.offset;
            if written < left {
                self.offset += written;
                return;
            }
            written -= left;
            self.offset = 0;
            self.pieces.pop_front();
        }
    }
}

// SAFETY: the iovecs point into the heap buffers of `pieces` (an `Arc<[u8]>` behind an `Rc`, or
// a `Vec<u8>`), which neither move nor change while `Pending` is owned by a write operation:
// moving `Pending` moves only the handles, and nothing mutates it until the operation hands it
// back (or, if the operation is dropped in flight, until the runtime drops it after completion).
unsafe impl IoVecBuf for Pending {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iovecs.as_ptr()
    }

    fn read_iovec_len(&self) -> usize {
        self.iovecs.len()
    }
}

pub async fn write_loop(
    mut writer: OwnedWriteHalf<TcpStream>,
    session: Rc<Session>,
    timeout: Duration,
    metrics: Rc<CoreMetrics>,
) {
    let mut pending = Pending::default();
    let mut taken = Vec::new();
    let mut pong = None;
    loop {
        let closing = session.next_batch(&mut taken, &mut pong).await;
        if let Some(payload) = pong.take() {
            let mut frame = Vec::with_capacity(payload.len() + 2);
            write_frame(&mut frame, OpCode::Pong, true, &payload);
            pending.push(Piece::Control(frame));
        }
        let batches = taken
            .iter()
            .filter(|entry| matches!(entry, Frames::Shared(_)))
            .count();
        for entry in taken.drain(..) {
            pending.push(Piece::Queued(entry));
        }
        if let Some((code, reason)) = closing {
            if code == close::TRY_AGAIN_LATER {
                metrics.ws_sessions_dropped.add(1);
            }
            metrics
                .push_batches_dropped
                .add(session.take_dropped_batches());
            let mut frame = Vec::new();
            write_close(&mut frame, code, reason);
            pending.push(Piece::Control(frame));
        }
        let writing = (!pending.is_empty()).then(|| session.budget().writing());
        while !pending.is_empty() {
            pending.prepare(session.budget().write_chunk());
            match monoio::time::timeout(timeout, writer.writev(pending)).await {
                Ok((Ok(written), back)) if written > 0 => {
                    metrics.websocket.sent.add(written as u64);
                    pending = back;
                    pending.advance(written);
                }
                _ => {
                    session.close(close::GOING_AWAY, "write failed");
                    return;
                }
            }
            // Let the core's other connections (and sessions) have their turn before the next
            // chunk. After the last one the session waits for its next batch anyway: a yield
            // there would cost every session of a fan-out one more task.
            if !pending.is_empty() {
                yield_now().await;
            }
        }
        metrics.push_batches_sent.add(batches as u64);
        drop(writing);
        if closing.is_some() {
            let _ = writer.shutdown().await;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(len: usize) -> Piece {
        Piece::Control(vec![0; len])
    }

    const CHUNK: usize = 1000;

    #[test]
    fn writes_are_bounded_and_resume_where_the_kernel_stopped() {
        let mut p = Pending::default();
        p.push(control(10));
        p.push(control(0));
        p.push(control(CHUNK));
        p.push(control(5));
        assert_eq!(p.pieces.len(), 3, "empty pieces are skipped");
        p.prepare(CHUNK);
        let lens: Vec<usize> = p.iovecs.iter().map(|v| v.iov_len).collect();
        assert_eq!(lens, [10, CHUNK - 10], "one chunk at most");
        p.advance(7);
        p.prepare(CHUNK);
        assert_eq!(p.iovecs[0].iov_len, 3, "the rest of the first piece");
        assert_eq!(
            p.iovecs[0].iov_base as *const u8,
            p.pieces[0].bytes()[7..].as_ptr()
        );
        p.advance(3 + CHUNK);
        assert_eq!(p.pieces.len(), 1);
        p.prepare(CHUNK);
        assert_eq!(p.iovecs.len(), 1);
        p.advance(5);
        assert!(p.is_empty());
    }

    #[test]
    fn at_most_max_iovecs_per_write() {
        let mut p = Pending::default();
        for _ in 0..MAX_IOVECS * 2 {
            p.push(control(1));
        }
        p.prepare(CHUNK);
        assert_eq!(p.iovecs.len(), MAX_IOVECS);
    }
}
