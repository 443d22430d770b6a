//! The outgoing side of one WebSocket session: a bounded queue of ready frames, written by the
//! session's writer task.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::budget::{Frames, QueueBudget, SharedFrames};
use super::close;

/// Most bytes the writer takes from the queue at a time (at least one entry): what lies behind
/// them is the session's backlog, which an overflow can still drop.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Why a session that fell behind is closed.
pub const TOO_SLOW: &str = "subscriber too slow; reconnect and reload";

pub struct Session {
    id: u64,
    max_entries: usize,
    max_bytes: usize,
    budget: Rc<QueueBudget>,
    /// Entries the writer has not taken yet.
    queue: RefCell<VecDeque<Frames>>,
    queued_bytes: Cell<usize>,
    /// The latest unanswered ping's payload. A pong answers only the most recent ping (RFC 6455
    /// §5.5.3), so a ping flood from a client that does not read costs one slot, not memory.
    /// It jumps the data queue: a pong must not wait behind a backlog of changes.
    pong: RefCell<Option<Vec<u8>>>,
    closing: Cell<Option<(u16, &'static str)>>,
    /// Change batches dropped unsent when the session overflowed (the one that did not fit
    /// included), for the metrics.
    dropped_batches: Cell<u64>,
    waker: Cell<Option<Waker>>,
    reader_waker: Cell<Option<Waker>>,
    space_waker: Cell<Option<Waker>>,
}

impl Session {
    /// `max_entries` and `max_bytes` bound the backlog (`ws.max_queued_messages`,
    /// `ws.max_queued_bytes`).
    pub fn new(id: u64, max_entries: usize, max_bytes: usize, budget: Rc<QueueBudget>) -> Self {
        Session {
            id,
            max_entries,
            max_bytes,
            budget,
            queue: RefCell::new(VecDeque::new()),
            queued_bytes: Cell::new(0),
            pong: RefCell::new(None),
            closing: Cell::new(None),
            dropped_batches: Cell::new(0),
            waker: Cell::new(None),
            reader_waker: Cell::new(None),
            space_waker: Cell::new(None),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The core's push queues this session's entries are charged to.
    pub fn budget(&self) -> &Rc<QueueBudget> {
        &self.budget
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Queue a change batch shared with other sessions; false if the session is closing or was
    /// closed because it fell behind (the batch is not queued then).
    pub fn send_changes(&self, batch: &Rc<SharedFrames>) -> bool {
        self.push(Frames::Shared(batch.clone()))
    }

    /// Queue a text message for this session alone; returns its entry's sequence number.
    pub fn send_text(&self, payload: &[u8]) -> u64 {
        let entry = self.budget.own_text(payload);
        let seq = entry.seq();
        self.push(entry);
        seq
    }

    /// A session whose backlog is already over its limits when an entry arrives is too slow:
    /// it is closed instead. The entry itself is taken whatever its size, so one batch the server
    /// accepted never closes a session that keeps up.
    fn push(&self, entry: Frames) -> bool {
        if self.closing.get().is_some() {
            return false;
        }
        let mut queue = self.queue.borrow_mut();
        if queue.len() >= self.max_entries || self.queued_bytes.get() > self.max_bytes {
            drop(queue);
            if matches!(entry, Frames::Shared(_)) {
                self.dropped_batches.set(self.dropped_batches.get() + 1);
            }
            self.overflow(TOO_SLOW);
            return false;
        }
        self.queued_bytes.set(self.queued_bytes.get() + entry.len());
        queue.push_back(entry);
        drop(queue);
        self.wake();
        true
    }

    pub fn pong(&self, payload: &[u8]) {
        if self.closing.get().is_some() {
            return;
        }
        *self.pong.borrow_mut() = Some(payload.to_vec());
        self.wake();
    }

    /// Send a close frame after what is queued, then end the session. The first close wins.
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.closing.get().is_none() {
            self.closing.set(Some((code, reason)));
            self.wake_all();
        }
    }

    /// Close with 1013 (reconnect and reload) and drop the backlog at once: the client reloads
    /// anyway, so nothing queued is worth its memory. What the writer already took is finished,
    /// so the close frame follows a whole frame.
    pub fn overflow(&self, reason: &'static str) {
        if self.closing.get().is_some() {
            return;
        }
        self.closing.set(Some((close::TRY_AGAIN_LATER, reason)));
        let dropped = std::mem::take(&mut *self.queue.borrow_mut());
        self.queued_bytes.set(0);
        let batches = dropped
            .iter()
            .filter(|entry| matches!(entry, Frames::Shared(_)))
            .count();
        self.dropped_batches
            .set(self.dropped_batches.get() + batches as u64);
        drop(dropped);
        self.wake_all();
    }

    fn wake_all(&self) {
        for waker in [&self.waker, &self.reader_waker, &self.space_waker] {
            if let Some(w) = waker.take() {
                w.wake();
            }
        }
    }

    /// Change batches dropped unsent since the last call.
    pub fn take_dropped_batches(&self) -> u64 {
        self.dropped_batches.replace(0)
    }

    pub fn is_closing(&self) -> bool {
        self.closing.get().is_some()
    }

    /// The sequence number of the oldest entry the writer has not taken yet.
    pub fn oldest_queued(&self) -> Option<u64> {
        self.queue.borrow().front().map(Frames::seq)
    }

    /// Resolves once the session is closing (lets the reader stop waiting for input).
    pub fn closed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.closing.get().is_some() {
                return Poll::Ready(());
            }
            self.reader_waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
    }

    /// Resolves once at most half the byte limit is queued (or the session is closing): the
    /// heartbeat channel waits here before reading the next request, so a client that does not
    /// read its replies stops being served instead of piling them up.
    pub fn writable(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.closing.get().is_some() || self.queued_bytes.get() <= self.max_bytes / 2 {
                return Poll::Ready(());
            }
            self.space_waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
    }

    /// Wait until there is something to write; take the pending pong and up to
    /// `WRITE_BATCH_BYTES` of queued entries (at least one). Returns the close to send once the
    /// queue is empty.
    pub async fn next_batch(
        &self,
        data: &mut Vec<Frames>,
        pong: &mut Option<Vec<u8>>,
    ) -> Option<(u16, &'static str)> {
        std::future::poll_fn(|cx| {
            let has = !self.queue.borrow().is_empty() || self.pong.borrow().is_some();
            if has || self.closing.get().is_some() {
                return Poll::Ready(());
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await;
        *pong = self.pong.borrow_mut().take();
        let mut queue = self.queue.borrow_mut();
        let mut taken = 0;
        while let Some(entry) = queue.front() {
            if taken > 0 && taken + entry.len() > WRITE_BATCH_BYTES {
                break;
            }
            taken += entry.len();
            data.extend(queue.pop_front());
        }
        let drained = queue.is_empty();
        drop(queue);
        assert!(
            taken <= self.queued_bytes.get(),
            "queued bytes count what is queued"
        );
        self.queued_bytes.set(self.queued_bytes.get() - taken);
        if self.queued_bytes.get() <= self.max_bytes / 2 {
            if let Some(w) = self.space_waker.take() {
                w.wake();
            }
        }
        if drained {
            self.closing.get()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(max_entries: usize, max_bytes: usize) -> (Session, Rc<QueueBudget>) {
        let budget = QueueBudget::new(usize::MAX);
        (
            Session::new(1, max_entries, max_bytes, budget.clone()),
            budget,
        )
    }

    #[test]
    fn too_many_entries_close_the_session_and_drop_its_backlog() {
        let (s, budget) = session(2, 1 << 20);
        let batch = budget.share(b"x".to_vec().into());
        s.send_changes(&batch);
        s.send_changes(&batch);
        assert!(!s.is_closing());
        s.send_changes(&batch);
        assert_eq!(s.closing.get().map(|c| c.0), Some(close::TRY_AGAIN_LATER));
        assert!(
            s.queue.borrow().is_empty(),
            "the backlog is dropped at once"
        );
        drop(batch);
        assert_eq!(budget.used(), 0, "and its bytes released");
    }

    #[test]
    fn a_batch_of_any_size_is_taken_by_a_session_within_its_limit() {
        let (s, budget) = session(100, 10);
        let big = budget.share(vec![0u8; 1000].into());
        s.send_changes(&big);
        assert!(
            !s.is_closing(),
            "one batch larger than the limit still goes out"
        );
        s.send_text(b"x");
        assert!(
            s.is_closing(),
            "1000 bytes behind when the next entry arrives"
        );
        let (s, _) = session(100, 10);
        s.send_text(&[0; 8]);
        s.send_text(&[0; 8]);
        assert!(!s.is_closing(), "10 bytes behind is within the limit");
        s.send_text(&[0; 8]);
        assert!(s.is_closing(), "20 bytes behind is not");
    }

    #[test]
    fn the_writer_takes_a_bounded_batch_and_pongs_keep_only_the_latest() {
        let (s, budget) = session(100, 1 << 30);
        let big = budget.share(vec![0u8; WRITE_BATCH_BYTES].into());
        s.send_text(b"a");
        s.send_changes(&big);
        s.send_text(b"b");
        for i in 0..1000u32 {
            s.pong(&i.to_be_bytes());
        }
        let mut data = Vec::new();
        let mut pong = None;
        let waker = Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let next = std::pin::pin!(s.next_batch(&mut data, &mut pong)).poll(&mut cx);
        assert_eq!(next, Poll::Ready(None));
        assert_eq!(pong.as_deref(), Some(&999u32.to_be_bytes()[..]));
        assert_eq!(data.len(), 1, "the next entry would pass the write batch");
        assert_eq!(s.queued_bytes.get(), WRITE_BATCH_BYTES + 3);
        assert_eq!(s.oldest_queued(), Some(big.seq()));
    }
}
