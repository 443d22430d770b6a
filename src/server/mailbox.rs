//! Cross-core messaging. Every core has one inbox with three queues, each bounded its own way:
//!
//! - **requests**: shard operations other cores want run on this core's shard. A bounded channel
//!   (`limits.shard_queue_capacity`); a sender that finds it full waits on the inbox's capacity
//!   signal, which the receiving core raises after it took requests off the queue.
//! - **replies**: answers to the operations this core sent elsewhere. A reply exists only for a
//!   request that holds a token in this core's [`Pending`] table and passed a bounded request
//!   queue, so the queue cannot outgrow the calls this core has in flight.
//! - **changes**: change batches for this core's WebSocket subscribers, one message per shard
//!   step. Bounded in steps (`changes.core_queue_capacity`) and, with the core's fan-out queue,
//!   in bytes ([`WaitingChanges`], `changes.core_queue_bytes`); when a step does not fit it is
//!   dropped and the inbox is marked *lossy*, and the receiving core closes its subscribers (1013)
//!   so they reconnect and reload instead of silently missing a change.
//! - **publications**: the served views other shards changed, for this core's mirror
//!   (`shards::mirror`). One shared list per publication (the same `Arc` for every core), queued
//!   under a short lock taken once per publication by the owner and once per loop turn by the
//!   receiver. Bounded in entries (`limits.mirror_queue_entries`): past it an owner's waiting
//!   publications collapse into one "drop all of that owner's views", which loses nothing (the
//!   mirror asks the owner again).
//!
//! Senders push onto a lock-free channel and ring the inbox's doorbell; the doorbell wakes the
//! inbox task only if it is parked, so a burst of messages costs one wake-up. The receiving core
//! drains a bounded number of messages per loop turn (see `Core::run_inbox`).

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use futures_util::task::AtomicWaker;
use shards::ops::ShardOp;
use shards::{Served, Shard};

mod waiting;
pub use waiting::WaitingChanges;

/// A type-erased answer; the caller's [`ReplyFuture`] knows its real type.
pub type AnyReply = Box<dyn Any + Send>;

/// A shard operation on its way to its owner, with its reply type erased.
pub trait Job: Send {
    fn run(self: Box<Self>, shard: &mut Shard, now_ms: u64) -> AnyReply;
}

impl<Op> Job for Op
where
    Op: ShardOp + Send + 'static,
    Op::Reply: Send + 'static,
{
    fn run(self: Box<Self>, shard: &mut Shard, now_ms: u64) -> AnyReply {
        Box::new((*self).execute(shard, now_ms))
    }
}

pub struct Request {
    pub from: usize,
    pub token: u32,
    pub job: Box<dyn Job>,
}

pub struct Reply {
    pub token: u32,
    pub reply: AnyReply,
}

/// One shard step's changes of one service for the subscribers on the receiving core: ready
/// WebSocket frames, serialized once for every core (see `shards::Push`).
pub struct Delivery {
    pub service_key: Arc<str>,
    pub frames: Arc<[u8]>,
    /// When the shard recorded the changes (`Push::recorded`), for the fan-out's cost.
    pub recorded: Instant,
}

/// The views changed in one publication: one list shared by every core.
pub type PublishedViews = Arc<[(Arc<str>, Option<Served>)]>;

/// A publication of `owner`'s changed served views, on its way to this core's mirror.
pub struct Arriving {
    pub owner: usize,
    pub seq: u64,
    pub flush: bool,
    pub views: PublishedViews,
}

#[derive(Default)]
struct Publications {
    arriving: Vec<Arriving>,
    /// Views in `arriving`.
    views: usize,
}

/// The bytes a step's batches count in [`WaitingChanges`].
pub fn step_bytes(step: &[Delivery]) -> usize {
    step.iter().map(|d| d.frames.len()).sum()
}

/// The owning core has stopped taking requests (the node is shutting down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unavailable;

/// Why a request could not be handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotServed {
    /// The request never entered the queue: no reply will come.
    NotSent,
    /// The request entered the queue as the receiver was closing: it may or may not be answered.
    MaybeAnswered,
}

/// Wakes senders waiting for room in a full request queue. Touched by the receiver once per
/// drained batch (one atomic swap) and by senders only when the queue is full.
#[derive(Default)]
struct Capacity {
    wanted: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

impl Capacity {
    fn wait(&self, waker: &Waker) {
        // No de-duplication scan (it would make n waiting senders cost O(n²)): a task that
        // registers twice is only woken twice.
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(waker.clone());
        self.wanted.store(true, Ordering::SeqCst);
    }

    fn release(&self) {
        if self.wanted.swap(false, Ordering::SeqCst) {
            let waiters =
                std::mem::take(&mut *self.waiters.lock().unwrap_or_else(|e| e.into_inner()));
            for w in waiters {
                w.wake();
            }
        }
    }
}

struct Shared {
    doorbell: AtomicWaker,
    capacity: Capacity,
    /// Set when a change batch for this core was dropped; cleared by the receiver.
    lossy: AtomicBool,
    /// Bytes of the change steps queued here and in the core's fan-out.
    waiting: Arc<WaitingChanges>,
    /// Set when the receiving core stops serving requests (shutdown), before its last drain.
    closed: AtomicBool,
    publications: Mutex<Publications>,
    /// Set when `publications` is not empty.
    published: AtomicBool,
}

/// The sending side of one core's inbox; every core holds one for each core.
#[derive(Clone)]
pub struct Outbox {
    requests: Sender<Request>,
    replies: Sender<Reply>,
    changes: Sender<Vec<Delivery>>,
    shared: Arc<Shared>,
}

/// The receiving side, owned by the core's inbox task.
pub struct Inbox {
    requests: Receiver<Request>,
    replies: Receiver<Reply>,
    changes: Receiver<Vec<Delivery>>,
    shared: Arc<Shared>,
}

/// `change_bytes`: the limit of the core's [`WaitingChanges`].
pub fn inbox(
    request_capacity: usize,
    change_capacity: usize,
    change_bytes: usize,
) -> (Outbox, Inbox) {
    assert!(request_capacity > 0 && change_capacity > 0);
    let (req_tx, req_rx) = crossbeam_channel::bounded(request_capacity);
    let (rep_tx, rep_rx) = crossbeam_channel::unbounded();
    let (chg_tx, chg_rx) = crossbeam_channel::bounded(change_capacity);
    let shared = Arc::new(Shared {
        doorbell: AtomicWaker::new(),
        capacity: Capacity::default(),
        lossy: AtomicBool::new(false),
        waiting: Arc::new(WaitingChanges::new(change_bytes)),
        closed: AtomicBool::new(false),
        publications: Mutex::default(),
        published: AtomicBool::new(false),
    });
    (
        Outbox {
            requests: req_tx,
            replies: rep_tx,
            changes: chg_tx,
            shared: shared.clone(),
        },
        Inbox {
            requests: req_rx,
            replies: rep_rx,
            changes: chg_rx,
            shared,
        },
    )
}

impl Outbox {
    /// Enqueue a request, waiting for room while the queue is full. Fails once the receiving
    /// core has closed its inbox (shutdown).
    pub async fn request(&self, request: Request) -> Result<(), NotServed> {
        let mut request = Some(request);
        std::future::poll_fn(|cx| {
            let r = request.take().expect("polled after completion");
            let r = match self.requests.try_send(r) {
                Ok(()) => return self.rang(),
                Err(TrySendError::Disconnected(_)) => return Poll::Ready(Err(NotServed::NotSent)),
                Err(TrySendError::Full(r)) => r,
            };
            self.shared.capacity.wait(cx.waker());
            // Room may have appeared before the waker was registered: try once more.
            match self.requests.try_send(r) {
                Ok(()) => self.rang(),
                Err(TrySendError::Disconnected(_)) => Poll::Ready(Err(NotServed::NotSent)),
                Err(TrySendError::Full(r)) => {
                    request = Some(r);
                    Poll::Pending
                }
            }
        })
        .await
    }

    fn rang(&self) -> Poll<Result<(), NotServed>> {
        // The receiver sets `closed` before its last drain: a request sent after that drain is
        // never served, and this check (ordered after the send) sees the flag.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.shared.closed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(NotServed::MaybeAnswered));
        }
        self.shared.doorbell.wake();
        Poll::Ready(Ok(()))
    }

    /// Only fails when the receiving core has exited (shutdown); the reply is moot then.
    pub fn reply(&self, reply: Reply) {
        if self.replies.send(reply).is_ok() {
            self.shared.doorbell.wake();
        }
    }

    /// Queue a step's changes for the receiving core's subscribers; if its queue is full (in
    /// steps or bytes), the step is dropped and the core is told it lost changes.
    pub fn changes(&self, step: Vec<Delivery>) {
        let bytes = step_bytes(&step);
        if !self.shared.waiting.try_add(bytes) {
            self.shared.lossy.store(true, Ordering::Release);
        } else {
            match self.changes.try_send(step) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.shared.waiting.release(bytes);
                    self.shared.lossy.store(true, Ordering::Release);
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.shared.waiting.release(bytes);
                    return;
                }
            }
        }
        self.shared.doorbell.wake();
    }

    /// Queue a publication of `owner`'s views for the receiving core's mirror. Past `max_views`
    /// views waiting, the owner's waiting publications become one that drops all its views.
    pub fn publish(
        &self,
        owner: usize,
        seq: u64,
        flush: bool,
        views: &PublishedViews,
        max_views: usize,
    ) {
        // A core that stopped takes nothing any more: keep nothing for it.
        if self.shared.closed.load(Ordering::Acquire) {
            return;
        }
        // A publication counts one at least (a flush carries no view).
        let weight = views.len().max(1);
        let mut queue = self
            .shared
            .publications
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if queue.views + weight <= max_views {
            queue.views += weight;
            queue.arriving.push(Arriving {
                owner,
                seq,
                flush,
                views: views.clone(),
            });
        } else {
            let mut dropped = 0;
            queue.arriving.retain(|a| {
                let keep = a.owner != owner;
                if !keep {
                    dropped += a.views.len().max(1);
                }
                keep
            });
            queue.views -= dropped;
            queue.views += 1;
            queue.arriving.push(Arriving {
                owner,
                seq,
                flush: true,
                views: Arc::new([]),
            });
        }
        drop(queue);
        self.shared.published.store(true, Ordering::Release);
        self.shared.doorbell.wake();
    }

    /// The receiving core's count of waiting change bytes (its fan-out gives them back).
    pub fn waiting_changes(&self) -> Arc<WaitingChanges> {
        self.shared.waiting.clone()
    }
}

impl Outbox {
    /// The publications waiting for the mirror of the core this outbox leads to, taken by that
    /// core itself (through its own outbox) before a read; see [`Inbox::take_publications`].
    pub fn take_publications(&self) -> Vec<Arriving> {
        take_publications(&self.shared)
    }
}

fn take_publications(shared: &Shared) -> Vec<Arriving> {
    if !shared.published.swap(false, Ordering::AcqRel) {
        return Vec::new();
    }
    let mut queue = shared
        .publications
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    queue.views = 0;
    std::mem::take(&mut queue.arriving)
}

impl Inbox {
    /// Resolves when a message may be waiting.
    pub fn ready(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.has_messages() {
                return Poll::Ready(());
            }
            self.shared.doorbell.register(cx.waker());
            // Re-check after registering: a message sent in between would otherwise be missed.
            if self.has_messages() {
                return Poll::Ready(());
            }
            Poll::Pending
        })
    }

    fn has_messages(&self) -> bool {
        !self.requests.is_empty()
            || !self.replies.is_empty()
            || !self.changes.is_empty()
            || self.shared.lossy.load(Ordering::Acquire)
            || self.shared.published.load(Ordering::Acquire)
    }

    pub fn try_request(&self) -> Option<Request> {
        match self.requests.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
        }
    }

    /// Tell senders waiting for room that requests were taken off the queue.
    pub fn release_capacity(&self) {
        self.shared.capacity.release();
    }

    pub fn try_reply(&self) -> Option<Reply> {
        self.replies.try_recv().ok()
    }

    pub fn try_changes(&self) -> Option<Vec<Delivery>> {
        self.changes.try_recv().ok()
    }

    /// Stop taking requests: senders from now on learn it (see [`Outbox::request`]). The caller
    /// then drains what is queued and drops the inbox.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    /// Whether change batches were dropped since the last call.
    pub fn take_lossy(&self) -> bool {
        self.shared.lossy.swap(false, Ordering::AcqRel)
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Disconnect first, then wake the senders waiting for room: a sender that registers
        // after this point retries against a disconnected channel and fails at once, so none
        // is left waiting.
        drop(std::mem::replace(
            &mut self.requests,
            crossbeam_channel::never(),
        ));
        let waiters = std::mem::take(
            &mut *self
                .shared
                .capacity
                .waiters
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for w in waiters {
            w.wake();
        }
        // The doorbell holds this core's inbox-task waker; it must not outlive the core's
        // thread (another core ringing would drop it on the wrong thread).
        drop(self.shared.doorbell.take());
    }
}

/// Replies this core is waiting for, by token. Core-local: no synchronisation.
#[derive(Default)]
pub struct Pending {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[derive(Default)]
enum Slot {
    #[default]
    Free,
    Waiting(Option<Waker>),
    Ready(AnyReply),
    /// The waiter went away (its connection closed); drop the reply when it comes.
    Abandoned,
}

impl Pending {
    pub fn open(&mut self) -> u32 {
        match self.free.pop() {
            Some(token) => {
                debug_assert!(matches!(self.slots[token as usize], Slot::Free));
                self.slots[token as usize] = Slot::Waiting(None);
                token
            }
            None => {
                self.slots.push(Slot::Waiting(None));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 calls in flight")
            }
        }
    }

    pub fn complete(&mut self, token: u32, reply: AnyReply) {
        let slot = self
            .slots
            .get_mut(token as usize)
            .expect("a reply answers a token this core opened");
        match std::mem::take(slot) {
            Slot::Waiting(waker) => {
                *slot = Slot::Ready(reply);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            Slot::Abandoned => self.free.push(token),
            Slot::Free | Slot::Ready(_) => panic!("reply for token {token} that is not waiting"),
        }
    }

    fn poll(&mut self, token: u32, cx: &mut Context<'_>) -> Poll<AnyReply> {
        let slot = &mut self.slots[token as usize];
        match std::mem::take(slot) {
            Slot::Ready(reply) => {
                self.free.push(token);
                Poll::Ready(reply)
            }
            Slot::Waiting(_) => {
                *slot = Slot::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Free | Slot::Abandoned => panic!("token {token} polled after it completed"),
        }
    }

    /// Forget a token whose request could not be sent.
    pub fn cancel(&mut self, token: u32) {
        let slot = &mut self.slots[token as usize];
        assert!(
            matches!(slot, Slot::Waiting(None)),
            "only unsent calls cancel"
        );
        *slot = Slot::Free;
        self.free.push(token);
    }

    /// Forget a token whose reply may still come (it is dropped on arrival).
    pub fn abandon(&mut self, token: u32) {
        let slot = &mut self.slots[token as usize];
        match std::mem::take(slot) {
            Slot::Waiting(_) => *slot = Slot::Abandoned,
            Slot::Ready(_) => self.free.push(token),
            other => *slot = other,
        }
    }
}

/// Awaits one typed reply; dropping it before the reply arrives abandons the slot.
pub struct ReplyFuture<R> {
    pending: Rc<RefCell<Pending>>,
    token: u32,
    done: bool,
    reply: PhantomData<fn() -> R>,
}

impl<R> ReplyFuture<R> {
    pub fn new(pending: Rc<RefCell<Pending>>, token: u32) -> Self {
        ReplyFuture {
            pending,
            token,
            done: false,
            reply: PhantomData,
        }
    }
}

impl<R: 'static> Future for ReplyFuture<R> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let token = self.token;
        let reply = std::task::ready!(self.pending.borrow_mut().poll(token, cx));
        self.done = true;
        let reply = reply
            .downcast::<R>()
            .expect("a reply has the type of its request");
        Poll::Ready(*reply)
    }
}

impl<R> Drop for ReplyFuture<R> {
    fn drop(&mut self) {
        if !self.done {
            self.pending.borrow_mut().abandon(self.token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shards::ops::Services;

    #[test]
    fn pending_reuses_tokens_and_drops_abandoned_replies() {
        let mut p = Pending::default();
        let a = p.open();
        let b = p.open();
        assert_ne!(a, b);
        p.abandon(a);
        p.complete(a, Box::new(()));
        let c = p.open();
        assert_eq!(c, a, "abandoned token is recycled once its reply arrived");
        p.complete(b, Box::new(7u32));
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match p.poll(b, &mut cx) {
            Poll::Ready(r) => assert_eq!(*r.downcast::<u32>().unwrap(), 7),
            Poll::Pending => panic!("reply was ready"),
        }
        assert!(p.poll(c, &mut cx).is_pending());
    }

    fn request(token: u32) -> Request {
        Request {
            from: 0,
            token,
            job: Box::new(Services),
        }
    }

    #[test]
    fn a_full_request_queue_waits_for_capacity() {
        let (out, inbox) = inbox(1, 1, 1 << 20);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut first = std::pin::pin!(out.request(request(1)));
        assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        let mut second = std::pin::pin!(out.request(request(2)));
        assert!(second.as_mut().poll(&mut cx).is_pending());
        assert!(inbox.shared.capacity.wanted.load(Ordering::SeqCst));
        assert_eq!(inbox.try_request().unwrap().token, 1);
        inbox.release_capacity();
        assert!(!inbox.shared.capacity.wanted.load(Ordering::SeqCst));
        assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(inbox.try_request().unwrap().token, 2);
        inbox.close();
        let mut third = std::pin::pin!(out.request(request(3)));
        assert_eq!(
            third.as_mut().poll(&mut cx),
            Poll::Ready(Err(NotServed::MaybeAnswered)),
            "a request that raced with closing may or may not be served"
        );
        drop(inbox);
        let mut fourth = std::pin::pin!(out.request(request(4)));
        assert_eq!(
            fourth.as_mut().poll(&mut cx),
            Poll::Ready(Err(NotServed::NotSent))
        );
    }

    struct Flag(AtomicBool);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn dropping_the_inbox_wakes_and_fails_senders_waiting_for_room() {
        let (out, inbox) = inbox(1, 1, 1 << 20);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut first = std::pin::pin!(out.request(request(1)));
        assert_eq!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        let mut waiting = std::pin::pin!(out.request(request(2)));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert!(!flag.0.load(Ordering::SeqCst));
        drop(inbox);
        assert!(
            flag.0.load(Ordering::SeqCst),
            "the waiting sender was woken"
        );
        assert_eq!(
            waiting.as_mut().poll(&mut cx),
            Poll::Ready(Err(NotServed::NotSent))
        );
    }

    fn step(bytes: usize) -> Vec<Delivery> {
        vec![Delivery {
            service_key: "s".into(),
            frames: vec![b'm'; bytes].into(),
            recorded: std::time::Instant::now(),
        }]
    }

    #[test]
    fn a_full_change_queue_marks_the_inbox_lossy() {
        let (out, inbox) = inbox(1, 1, 1 << 20);
        out.changes(step(1));
        assert!(!inbox.take_lossy());
        out.changes(step(1));
        assert!(inbox.take_lossy());
        assert!(!inbox.take_lossy(), "reading the mark clears it");
        assert_eq!(inbox.try_changes().map(|b| b.len()), Some(1));
        assert!(inbox.try_changes().is_none());
        assert_eq!(
            out.waiting_changes().bytes(),
            1,
            "the dropped step is not counted"
        );
    }

    #[test]
    fn change_bytes_past_the_limit_mark_the_inbox_lossy() {
        let (out, inbox) = inbox(1, 16, 100);
        out.changes(step(150));
        assert!(
            !inbox.take_lossy(),
            "a step alone is taken whatever its size"
        );
        out.changes(step(1));
        assert!(inbox.take_lossy());
        let taken = inbox.try_changes().expect("the first step");
        assert!(inbox.try_changes().is_none());
        out.waiting_changes().release(step_bytes(&taken));
        out.changes(step(60));
        out.changes(step(40));
        assert!(!inbox.take_lossy());
        assert_eq!(out.waiting_changes().bytes(), 100);
    }
}
