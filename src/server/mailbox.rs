//! Cross-core messaging: every core has an inbox of shard requests (from other cores) and of
//! replies (to requests it sent). Senders push onto a lock-free channel and ring the inbox's
//! doorbell; the doorbell wakes the inbox task only if it is parked, so a burst of messages costs one
//! wake-up.
//!
//! Requests use a bounded channel (a full shard makes senders wait: backpressure, not memory
//! growth). Replies use an unbounded one, which is still bounded: each reply answers a request that
//! was admitted through a bounded queue by a connection that awaits it.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use futures_util::task::AtomicWaker;

use super::ops::{ShardOp, ShardReply};

pub struct Request {
    pub from: usize,
    pub token: u32,
    pub op: ShardOp,
}

/// What arrives on a core's unbounded channel: answers to its requests, and changes for its
/// subscribers from the shards that own the changed services.
pub enum Incoming {
    Reply { token: u32, reply: ShardReply },
    Changes(Vec<Delivery>),
}

/// One change for the subscribers of a service on the receiving core, serialized once.
pub struct Delivery {
    pub service_key: Arc<str>,
    pub message: Arc<[u8]>,
}

/// The sending side of one core's inbox; every core holds one for each core.
#[derive(Clone)]
pub struct Outbox {
    requests: Sender<Request>,
    incoming: Sender<Incoming>,
    doorbell: Arc<AtomicWaker>,
}

/// The receiving side, owned by the core's inbox task.
pub struct Inbox {
    pub requests: Receiver<Request>,
    pub incoming: Receiver<Incoming>,
    doorbell: Arc<AtomicWaker>,
}

pub fn inbox(capacity: usize) -> (Outbox, Inbox) {
    let (req_tx, req_rx) = crossbeam_channel::bounded(capacity);
    let (rep_tx, rep_rx) = crossbeam_channel::unbounded();
    let doorbell = Arc::new(AtomicWaker::new());
    (
        Outbox {
            requests: req_tx,
            incoming: rep_tx,
            doorbell: doorbell.clone(),
        },
        Inbox {
            requests: req_rx,
            incoming: rep_rx,
            doorbell,
        },
    )
}

impl Outbox {
    /// Try to enqueue a request; gives it back if the shard's queue is full.
    pub fn try_request(&self, request: Request) -> Result<(), Request> {
        match self.requests.try_send(request) {
            Ok(()) => {
                self.doorbell.wake();
                Ok(())
            }
            Err(TrySendError::Full(r)) | Err(TrySendError::Disconnected(r)) => Err(r),
        }
    }

    /// Only fails when the receiving core has exited (shutdown); the message is moot then.
    pub fn send(&self, message: Incoming) {
        if self.incoming.send(message).is_ok() {
            self.doorbell.wake();
        }
    }
}

impl Inbox {
    /// Resolves when a message may be waiting.
    pub fn ready(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if !self.requests.is_empty() || !self.incoming.is_empty() {
                return Poll::Ready(());
            }
            self.doorbell.register(cx.waker());
            // Re-check after registering: a message sent in between would otherwise be missed.
            if !self.requests.is_empty() || !self.incoming.is_empty() {
                return Poll::Ready(());
            }
            Poll::Pending
        })
    }

    pub fn try_request(&self) -> Option<Request> {
        match self.requests.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
        }
    }

    pub fn try_incoming(&self) -> Option<Incoming> {
        self.incoming.try_recv().ok()
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
    Ready(ShardReply),
    /// The waiter went away (its connection closed); drop the reply when it comes.
    Abandoned,
}

impl Pending {
    pub fn open(&mut self) -> u32 {
        match self.free.pop() {
            Some(token) => {
                self.slots[token as usize] = Slot::Waiting(None);
                token
            }
            None => {
                self.slots.push(Slot::Waiting(None));
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub fn complete(&mut self, token: u32, reply: ShardReply) {
        let Some(slot) = self.slots.get_mut(token as usize) else {
            return;
        };
        match std::mem::take(slot) {
            Slot::Waiting(waker) => {
                *slot = Slot::Ready(reply);
                if let Some(w) = waker {
                    w.wake();
                }
            }
            Slot::Abandoned => self.free.push(token),
            other => *slot = other,
        }
    }

    fn poll(&mut self, token: u32, cx: &mut Context<'_>) -> Poll<ShardReply> {
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
            other => {
                *slot = other;
                Poll::Pending
            }
        }
    }

    fn abandon(&mut self, token: u32) {
        let slot = &mut self.slots[token as usize];
        match std::mem::take(slot) {
            Slot::Waiting(_) => *slot = Slot::Abandoned,
            Slot::Ready(_) => self.free.push(token),
            other => *slot = other,
        }
    }
}

/// Awaits one reply; dropping it before the reply arrives abandons the slot.
pub struct ReplyFuture {
    pending: Rc<RefCell<Pending>>,
    token: u32,
    done: bool,
}

impl ReplyFuture {
    pub fn new(pending: Rc<RefCell<Pending>>, token: u32) -> Self {
        ReplyFuture {
            pending,
            token,
            done: false,
        }
    }
}

impl Future for ReplyFuture {
    type Output = ShardReply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ShardReply> {
        let token = self.token;
        let result = self.pending.borrow_mut().poll(token, cx);
        if result.is_ready() {
            self.done = true;
        }
        result
    }
}

impl Drop for ReplyFuture {
    fn drop(&mut self) {
        if !self.done {
            self.pending.borrow_mut().abandon(self.token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_reuses_tokens_and_drops_abandoned_replies() {
        let mut p = Pending::default();
        let a = p.open();
        let b = p.open();
        assert_ne!(a, b);
        p.abandon(a);
        p.complete(a, ShardReply::Done);
        let c = p.open();
        assert_eq!(c, a, "abandoned token is recycled once its reply arrived");
        p.complete(b, ShardReply::Done);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(matches!(p.poll(b, &mut cx), Poll::Ready(ShardReply::Done)));
        assert!(p.poll(c, &mut cx).is_pending());
    }

    #[test]
    fn full_request_queue_gives_the_request_back() {
        let (out, inbox) = inbox(1);
        let req = |t| Request {
            from: 0,
            token: t,
            op: ShardOp::Services,
        };
        assert!(out.try_request(req(1)).is_ok());
        let back = out.try_request(req(2)).unwrap_err();
        assert_eq!(back.token, 2);
        assert_eq!(inbox.try_request().unwrap().token, 1);
        assert!(inbox.try_request().is_none());
    }
}
