//! WebSocket sessions on this core and what they subscribed to.
//!
//! A session's outgoing messages wait in its own bounded queue, written by the session's writer
//! task. Changes arrive serialized once (`Arc<[u8]>`) and are shared by every subscriber on the
//! core; a subscriber whose queue is full is closed rather than buffered without bound.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use hashbrown::HashMap;

/// Close codes (RFC 6455 §7.4.1).
pub use protocol::ws::close_code as close;

/// One data message to send.
pub enum Outgoing {
    /// A change shared by every subscriber of the core.
    Shared(Arc<[u8]>),
    /// A reply to this session only.
    Owned(Vec<u8>),
}

impl Outgoing {
    fn len(&self) -> usize {
        match self {
            Outgoing::Shared(m) => m.len(),
            Outgoing::Owned(m) => m.len(),
        }
    }
}

/// Most bytes the writer takes from the queue for one write, so a backlog is written in pieces
/// instead of being copied into one huge buffer.
const WRITE_BATCH_BYTES: usize = 256 * 1024;

/// The outgoing side of one session.
pub struct Session {
    id: u64,
    max_messages: usize,
    max_bytes: usize,
    queue: RefCell<VecDeque<Outgoing>>,
    queued_bytes: Cell<usize>,
    /// The latest unanswered ping's payload. A pong answers only the most recent ping (RFC 6455
    /// §5.5.3), so a ping flood from a client that does not read costs one slot, not memory.
    /// It jumps the data queue: a pong must not wait behind a backlog of changes.
    pong: RefCell<Option<Vec<u8>>>,
    closing: Cell<Option<(u16, &'static str)>>,
    waker: Cell<Option<Waker>>,
    reader_waker: Cell<Option<Waker>>,
    space_waker: Cell<Option<Waker>>,
}

impl Session {
    pub fn new(id: u64, max_messages: usize, max_bytes: usize) -> Self {
        Session {
            id,
            max_messages,
            max_bytes,
            queue: RefCell::new(VecDeque::new()),
            queued_bytes: Cell::new(0),
            pong: RefCell::new(None),
            closing: Cell::new(None),
            waker: Cell::new(None),
            reader_waker: Cell::new(None),
            space_waker: Cell::new(None),
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Queue a data message; past the limits (count or bytes) the session is closed instead.
    pub fn send(&self, message: Outgoing) {
        if self.closing.get().is_some() {
            return;
        }
        let bytes = self.queued_bytes.get() + message.len();
        let mut queue = self.queue.borrow_mut();
        if queue.len() >= self.max_messages || (bytes > self.max_bytes && !queue.is_empty()) {
            drop(queue);
            self.close(
                close::TRY_AGAIN_LATER,
                "subscriber too slow; reconnect and reload",
            );
            return;
        }
        queue.push_back(message);
        drop(queue);
        self.queued_bytes.set(bytes);
        self.wake();
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
            self.wake();
            for waker in [&self.reader_waker, &self.space_waker] {
                if let Some(w) = waker.take() {
                    w.wake();
                }
            }
        }
    }

    pub fn is_closing(&self) -> bool {
        self.closing.get().is_some()
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

    /// Resolves once at most half the byte budget is queued (or the session is closing): the
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
    /// `WRITE_BATCH_BYTES` of queued messages. Returns the close to send once the queue is empty.
    pub async fn next_batch(
        &self,
        data: &mut Vec<Outgoing>,
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
        while let Some(message) = queue.front() {
            if taken > 0 && taken + message.len() > WRITE_BATCH_BYTES {
                break;
            }
            taken += message.len();
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

/// This core's subscriptions: service key (lower-cased) → sessions, plus all-change sessions.
/// Which shard learns about a subscription is `Core::subscribe`'s business; this table only
/// fans a change out to the sessions on this core.
#[derive(Default)]
pub struct Subscribers {
    by_service: HashMap<Arc<str>, Vec<Rc<Session>>>,
    all: Vec<Rc<Session>>,
}

impl Subscribers {
    /// Idempotent per (service, session).
    pub fn add(&mut self, service_key: &str, session: &Rc<Session>) {
        let sessions = self.by_service.entry_ref(service_key).or_default();
        if !sessions.iter().any(|s| s.id == session.id) {
            sessions.push(session.clone());
        }
    }

    pub fn remove(&mut self, service_key: &str, session_id: u64) {
        let Some(sessions) = self.by_service.get_mut(service_key) else {
            return;
        };
        sessions.retain(|s| s.id != session_id);
        if sessions.is_empty() {
            self.by_service.remove(service_key);
        }
    }

    pub fn add_all(&mut self, session: &Rc<Session>) {
        self.all.push(session.clone());
    }

    pub fn remove_all(&mut self, session_id: u64) {
        self.all.retain(|s| s.id != session_id);
    }

    pub fn deliver(&self, service_key: &str, message: &Arc<[u8]>) {
        if let Some(sessions) = self.by_service.get(service_key) {
            for s in sessions {
                s.send(Outgoing::Shared(message.clone()));
            }
        }
        for s in &self.all {
            s.send(Outgoing::Shared(message.clone()));
        }
    }

    /// Close every subscribing session (each ends and unsubscribes itself).
    pub fn close_all(&self, code: u16, reason: &'static str) {
        for s in self.by_service.values().flatten().chain(&self.all) {
            s.close(code, reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_reach_each_subscriber_once_and_close_all_closes_everyone() {
        let mut subs = Subscribers::default();
        let a = Rc::new(Session::new(1, 10, 1 << 20));
        let b = Rc::new(Session::new(2, 10, 1 << 20));
        subs.add("svc", &a);
        subs.add("svc", &a);
        subs.add("svc", &b);
        subs.add_all(&b);
        let m: Arc<[u8]> = b"x".to_vec().into();
        subs.deliver("svc", &m);
        assert_eq!(a.queue.borrow().len(), 1, "re-subscribing is idempotent");
        assert_eq!(b.queue.borrow().len(), 2, "per service and all-changes");
        subs.remove("svc", 2);
        subs.remove_all(2);
        subs.deliver("svc", &m);
        assert_eq!(b.queue.borrow().len(), 2);
        subs.close_all(close::TRY_AGAIN_LATER, "lost");
        assert!(a.is_closing() && !b.is_closing());
    }

    #[test]
    fn a_full_queue_closes_the_session() {
        let s = Session::new(1, 2, 1 << 20);
        let m: Arc<[u8]> = b"x".to_vec().into();
        s.send(Outgoing::Shared(m.clone()));
        s.send(Outgoing::Shared(m.clone()));
        assert!(!s.is_closing());
        s.send(Outgoing::Shared(m));
        assert_eq!(s.closing.get().map(|c| c.0), Some(close::TRY_AGAIN_LATER));
        assert_eq!(s.queue.borrow().len(), 2);
    }

    #[test]
    fn byte_budget_closes_and_pongs_keep_only_the_latest() {
        let s = Session::new(1, 100, 10);
        s.send(Outgoing::Owned(vec![0; 8]));
        s.send(Outgoing::Owned(vec![0; 8]));
        assert!(s.is_closing(), "16 bytes queued over a 10-byte budget");
        let s = Session::new(1, 100, 10);
        s.send(Outgoing::Owned(vec![0; 50]));
        assert!(
            !s.is_closing(),
            "one message larger than the budget still goes out"
        );
        for i in 0..1000u32 {
            s.pong(&i.to_be_bytes());
        }
        assert_eq!(s.pong.borrow().as_deref(), Some(&999u32.to_be_bytes()[..]));
    }
}
