//! A connection's answers not yet written. Most are owned bytes the app writes into
//! [`Outgoing::tail`]; a large body built once per data version (`services.json`) is queued as
//! shared bytes instead, referenced by every connection writing it, so a slow reader costs the
//! server its head only, never its own copy of the body. While a queue is being written it is
//! charged to the core's [`WriteBudget`](super::budget::WriteBudget), which may close the
//! connection to bring the core back under its limit.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use monoio::buf::IoBuf;
use monoio::io::{AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use super::budget::WriteSlot;
use super::shared_body::{Part, SharedBody};
use super::trim::Trimmer;

/// A shared body this short is copied into the owned bytes instead (one write, no bookkeeping).
const COPY_SHARED_BELOW: usize = 16 * 1024;
/// The size of a connection's first answer buffer. One that grew past it for a large answer is
/// not kept for the next answers (idle connections stay small): it is dropped, which counts as
/// freed memory, and the next answer starts an empty buffer.
const INITIAL_TAIL: usize = 16 * 1024;
/// The largest spare buffer a connection keeps (what follows a lookup's shared views is a few
/// bytes; the per-connection memory bound stays the tail's).
const SPARE_UP_TO: usize = 1024;

pub struct Outgoing<'a> {
    /// Queued before `tail`, in order.
    sealed: VecDeque<Segment>,
    /// Bytes in `sealed`.
    sealed_len: usize,
    /// Answers after everything sealed; the app writes its answers here.
    pub tail: Vec<u8>,
    /// The last vectored write's iovec array, emptied, kept for the next one.
    iovecs: Vec<libc::iovec>,
    /// An emptied buffer of at most [`SPARE_UP_TO`] bytes that becomes the tail when the tail is
    /// sealed before a shared body (so what follows the body needs no allocation).
    spare: Vec<u8>,
    slot: WriteSlot<'a>,
    trimmer: &'a Trimmer,
}

enum Segment {
    Owned(Vec<u8>),
    Shared(SharedBytes),
}

/// How writing the queue ended.
pub enum Flushed {
    Written,
    /// The client went away or the write failed.
    Failed,
    /// Not written within `limits.write_timeout_ms`.
    TimedOut,
    /// Closed to bring the core's queued bytes back under its limit.
    Evicted,
}

impl<'a> Outgoing<'a> {
    pub fn new(slot: WriteSlot<'a>, trimmer: &'a Trimmer) -> Self {
        Outgoing {
            sealed: VecDeque::new(),
            sealed_len: 0,
            tail: Vec::with_capacity(INITIAL_TAIL),
            iovecs: Vec::new(),
            spare: Vec::new(),
            slot,
            trimmer,
        }
    }

    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.sealed_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queue an answer's body after what `tail` holds, its shared parts without copying them
    /// (unless they are short).
    pub fn push_body(&mut self, body: &SharedBody) {
        for part in body.parts() {
            match part {
                Part::Owned(bytes) => self.tail.extend_from_slice(bytes),
                Part::Shared(bytes) => self.push_shared(bytes.clone()),
            }
        }
    }

    /// Queue `body` after what `tail` holds, without copying it (unless it is short).
    pub fn push_shared(&mut self, body: Arc<[u8]>) {
        if body.len() < COPY_SHARED_BELOW {
            self.tail.extend_from_slice(&body);
            return;
        }
        if !self.tail.is_empty() {
            let owned = std::mem::replace(&mut self.tail, std::mem::take(&mut self.spare));
            self.sealed_len += owned.len();
            self.sealed.push_back(Segment::Owned(owned));
        }
        self.sealed_len += body.len();
        self.sealed.push_back(Segment::Shared(SharedBytes(body)));
    }

    /// Write everything queued, within `wait`, unless the core's write budget closes the
    /// connection first.
    pub async fn flush(&mut self, stream: &mut TcpStream, wait: Duration) -> Flushed {
        let owned = self.tail.len()
            + self
                .sealed
                .iter()
                .map(|s| match s {
                    Segment::Owned(v) => v.len(),
                    Segment::Shared(_) => 0,
                })
                .sum::<usize>();
        let shared = self.sealed.iter().filter_map(|s| match s {
            Segment::Shared(SharedBytes(body)) => Some(body),
            Segment::Owned(_) => None,
        });
        if !self.slot.queue(owned, shared) {
            return Flushed::Evicted;
        }
        let Outgoing {
            sealed,
            sealed_len,
            tail,
            iovecs,
            spare,
            slot,
            trimmer,
        } = self;
        let queue = Queue {
            sealed,
            sealed_len,
            tail,
            iovecs,
            spare,
        };
        let mut writing = std::pin::pin!(monoio::time::timeout(
            wait,
            write_queue(stream, queue, slot, trimmer)
        ));
        let mut evicted = std::pin::pin!(slot.evicted());
        // The write first: a connection whose bytes went out is not closed for them.
        let outcome = std::future::poll_fn(|cx| match writing.as_mut().poll(cx) {
            Poll::Ready(Ok(Ok(()))) => Poll::Ready(Flushed::Written),
            Poll::Ready(Ok(Err(error))) => {
                tracing::debug!(%error, "write failed");
                Poll::Ready(Flushed::Failed)
            }
            Poll::Ready(Err(_elapsed)) => Poll::Ready(Flushed::TimedOut),
            Poll::Pending => evicted.as_mut().poll(cx).map(|()| Flushed::Evicted),
        })
        .await;
        if matches!(outcome, Flushed::Written) {
            slot.done();
        }
        outcome
    }
}

/// Most buffers in one vectored write (well under every kernel's IOV_MAX).
const MAX_IOVECS: usize = 64;
/// Queues up to this size leave in one vectored write (lookup answers: a head, shared views and
/// what follows). Larger ones (`services.json`) are written segment by segment, each reported
/// to the write budget as soon as it is out.
const VECTORED_UP_TO: usize = 1 << 20;

/// An [`Outgoing`]'s queue, borrowed while it is written.
struct Queue<'q> {
    sealed: &'q mut VecDeque<Segment>,
    sealed_len: &'q mut usize,
    tail: &'q mut Vec<u8>,
    iovecs: &'q mut Vec<libc::iovec>,
    spare: &'q mut Vec<u8>,
}

/// Write the sealed segments, then the tail; report each to the budget once written.
async fn write_queue(
    stream: &mut TcpStream,
    queue: Queue<'_>,
    slot: &WriteSlot<'_>,
    trimmer: &Trimmer,
) -> std::io::Result<()> {
    let mut queue = queue;
    let (sealed, tail) = (&queue.sealed, &queue.tail);
    if !sealed.is_empty()
        && sealed.len() < MAX_IOVECS
        && *queue.sealed_len + tail.len() <= VECTORED_UP_TO
    {
        return write_vectored(stream, queue, slot, trimmer).await;
    }
    while let Some(segment) = queue.sealed.pop_front() {
        let segment = match segment {
            Segment::Owned(bytes) => {
                let (result, bytes) = stream.write_all(bytes).await;
                result?;
                Segment::Owned(bytes)
            }
            Segment::Shared(body) => {
                let (result, body) = stream.write_all(body).await;
                result?;
                Segment::Shared(body)
            }
        };
        segment_written(segment, &mut queue, slot, trimmer);
    }
    if queue.sealed.capacity() > MAX_IOVECS {
        // A long queue (a lookup of many large views) does not stay with the connection.
        *queue.sealed = VecDeque::new();
    }
    let tail = queue.tail;
    if tail.is_empty() {
        return Ok(());
    }
    let (result, bytes) = stream.write_all(std::mem::take(tail)).await;
    result?;
    *tail = tail_written(bytes, slot, trimmer);
    Ok(())
}

/// Report a written segment to the budget, and its memory to the trimmer when it is freed. An
/// owned segment's buffer (an answer's head sealed before its shared body) becomes the tail
/// again when the tail is empty and smaller, and the smaller one is kept as the spare, so a
/// connection answering lookups allocates no buffer per answer.
fn segment_written(
    segment: Segment,
    queue: &mut Queue<'_>,
    slot: &WriteSlot<'_>,
    trimmer: &Trimmer,
) {
    let Queue {
        sealed_len,
        tail,
        spare,
        ..
    } = queue;
    match segment {
        Segment::Owned(mut bytes) => {
            **sealed_len -= bytes.len();
            slot.wrote_owned(bytes.len());
            if bytes.capacity() > INITIAL_TAIL {
                trimmer.note_freed(bytes.capacity());
                return;
            }
            bytes.clear();
            if tail.is_empty() && tail.capacity() < bytes.capacity() {
                bytes = std::mem::replace(*tail, bytes);
            }
            if bytes.capacity() <= SPARE_UP_TO && spare.capacity() < bytes.capacity() {
                **spare = bytes;
            }
        }
        Segment::Shared(SharedBytes(body)) => {
            **sealed_len -= body.len();
            slot.wrote_shared(&body);
            // The last reference: dropping it frees the body.
            if Arc::strong_count(&body) == 1 {
                trimmer.note_freed(body.len());
            }
        }
    }
}

/// Report the written tail to the budget; the buffer to keep for the next answers (a grown one
/// is freed, so idle connections stay small).
fn tail_written(mut bytes: Vec<u8>, slot: &WriteSlot<'_>, trimmer: &Trimmer) -> Vec<u8> {
    slot.wrote_owned(bytes.len());
    bytes.clear();
    if bytes.capacity() > INITIAL_TAIL {
        trimmer.note_freed(bytes.capacity());
        bytes = Vec::new();
    }
    bytes
}

/// [`write_queue`] of a few segments in one vectored write: a head, a shared body and what
/// follows it leave in one system call (and as few TCP segments as the kernel can make).
async fn write_vectored(
    stream: &mut TcpStream,
    mut owner: Queue<'_>,
    slot: &WriteSlot<'_>,
    trimmer: &Trimmer,
) -> std::io::Result<()> {
    let mut queue = Vectored {
        segments: std::mem::take(owner.sealed),
        tail: std::mem::take(owner.tail),
        iovecs: std::mem::take(owner.iovecs),
        first: 0,
    };
    queue.point();
    // `writev` takes the queue itself: if this future is dropped mid-write (timeout, eviction,
    // shutdown), the runtime keeps the buffers alive until the kernel is done with them.
    while !queue.is_written() {
        let (result, back) = stream.writev(queue).await;
        queue = back;
        match result {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => queue.advance(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let Vectored {
        mut segments,
        tail: bytes,
        iovecs: mut pointed,
        ..
    } = queue;
    // The tail first: a segment's buffer may become the next tail.
    *owner.tail = tail_written(bytes, slot, trimmer);
    for segment in segments.drain(..) {
        segment_written(segment, &mut owner, slot, trimmer);
    }
    // The emptied deque and iovec array keep their allocations for the next answers.
    *owner.sealed = segments;
    pointed.clear();
    if pointed.capacity() <= 2 * MAX_IOVECS {
        *owner.iovecs = pointed;
    }
    Ok(())
}

/// The queue of one vectored write, owned by the runtime while it writes.
struct Vectored {
    segments: VecDeque<Segment>,
    tail: Vec<u8>,
    iovecs: Vec<libc::iovec>,
    /// `iovecs[..first]` are written.
    first: usize,
}

impl Vectored {
    fn is_written(&self) -> bool {
        self.first == self.iovecs.len()
    }

    /// `n` more bytes are written: move the iovecs past them.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let v = &mut self.iovecs[self.first];
            if n < v.iov_len {
                // SAFETY: `n` is within the buffer this iovec points into.
                v.iov_base = unsafe { (v.iov_base as *mut u8).add(n) } as *mut libc::c_void;
                v.iov_len -= n;
                return;
            }
            n -= v.iov_len;
            self.first += 1;
        }
    }

    fn point(&mut self) {
        let iovec = |bytes: &[u8]| libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        self.iovecs.clear();
        self.iovecs.extend(
            self.segments
                .iter()
                .map(|s| match s {
                    Segment::Owned(bytes) => iovec(bytes),
                    Segment::Shared(SharedBytes(body)) => iovec(body),
                })
                .chain((!self.tail.is_empty()).then(|| iovec(&self.tail)))
                .filter(|v| v.iov_len > 0),
        );
    }
}

// SAFETY: the iovecs point into the segments' and the tail's heap allocations (Vec buffers and
// Arc allocations), which neither move nor change while this value exists; `writev` moves the
// value into the operation, so the runtime keeps it until the kernel has finished with it.
unsafe impl monoio::buf::IoVecBuf for Vectored {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iovecs[self.first..].as_ptr()
    }

    fn read_iovec_len(&self) -> usize {
        self.iovecs.len() - self.first
    }
}

/// Shared body bytes, written by the runtime straight from the shared allocation.
struct SharedBytes(Arc<[u8]>);

// SAFETY: the bytes live in the Arc's allocation, which neither moves nor changes while the
// `SharedBytes` (holding a strong reference) exists; all of them are initialised.
unsafe impl IoBuf for SharedBytes {
    fn read_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointed(lens: &[usize], tail: usize) -> Vectored {
        let mut v = Vectored {
            segments: lens.iter().map(|&n| Segment::Owned(vec![7; n])).collect(),
            tail: vec![9; tail],
            iovecs: Vec::new(),
            first: 0,
        };
        v.point();
        v
    }

    fn left(v: &Vectored) -> Vec<usize> {
        v.iovecs[v.first..].iter().map(|i| i.iov_len).collect()
    }

    /// Lookups on one keep-alive connection: each answer is a head in the tail and a shared
    /// body, written in one vectored write. The bytes arrive in order, and from the second
    /// answer on the head buffer, the spare (what followed the body), the sealed deque and the
    /// iovec array are the first answer's.
    #[test]
    fn answers_with_shared_bodies_reuse_the_connections_buffers() {
        use monoio::io::AsyncReadRentExt;
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let listener = monoio::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
            let address = listener.local_addr().expect("its address");
            let mut client = TcpStream::connect(address).await.expect("connected");
            let (mut server, _) = listener.accept().await.expect("accepted");
            let budgets = crate::server::budget::Budgets::new(1 << 24, 1 << 24);
            let trimmer = Trimmer::default();
            let mut out = Outgoing::new(budgets.writes.slot(), &trimmer);
            let body: Arc<[u8]> = (0..COPY_SHARED_BELOW * 2).map(|i| i as u8).collect();
            let mut buffers = None;
            for answer in 0..3u8 {
                out.tail.extend_from_slice(&[b'h', answer]);
                out.push_shared(body.clone());
                out.tail.extend_from_slice(b"after");
                let wait = Duration::from_secs(10);
                assert!(matches!(
                    out.flush(&mut server, wait).await,
                    Flushed::Written
                ));
                assert!(out.is_empty());
                let expected = 2 + body.len() + 5;
                let (read, got) = client.read_exact(vec![0u8; expected]).await;
                read.expect("the answer arrives");
                assert_eq!(&got[..2], &[b'h', answer]);
                assert_eq!(&got[2..2 + body.len()], &body[..]);
                assert_eq!(&got[2 + body.len()..], b"after");
                let now = (
                    out.tail.as_ptr(),
                    out.spare.as_ptr(),
                    out.sealed.capacity(),
                    out.iovecs.capacity(),
                );
                assert!(now.2 > 0 && now.3 > 0, "the deque and iovecs are kept");
                assert!(
                    out.spare.capacity() > 0,
                    "what followed the body left a spare"
                );
                if answer > 0 {
                    assert_eq!(Some(now), buffers, "answer {answer} reused the buffers");
                }
                buffers = Some(now);
                // The next answer's head goes into the emptied tail.
                assert!(out.tail.capacity() > 0);
            }
        });
    }

    #[test]
    fn a_partial_vectored_write_resumes_where_the_kernel_stopped() {
        let mut v = pointed(&[10, 0, 5], 3);
        assert_eq!(left(&v), [10, 5, 3], "empty parts are skipped");
        let start = v.iovecs[0].iov_base as usize;
        v.advance(4);
        assert_eq!(left(&v), [6, 5, 3]);
        assert_eq!(v.iovecs[0].iov_base as usize, start + 4);
        v.advance(6);
        assert_eq!(left(&v), [5, 3], "the first part is done");
        v.advance(7);
        assert_eq!(left(&v), [1]);
        assert!(!v.is_written());
        v.advance(1);
        assert!(v.is_written());
    }
}
