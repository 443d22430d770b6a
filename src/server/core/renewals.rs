//! Client writes for instances another core owns, batched per destination core and loop turn:
//! every renewal (and every registration) a core's connections want of one core during one loop
//! turn goes out as one message (one operation, one wake-up of the owner), and its one reply fans
//! back to the connections waiting.

use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Poll, Waker};

use shards::ops::{Origin, PackedKeys, PerItem, Register, RegisterItem, Renew, ShardOp};
use smallvec::SmallVec;

use super::{scatter, Answers, Core};
use crate::server::mailbox::Unavailable;
use crate::server::signal::yield_now;

/// A shard operation over a batch of items that can carry the items of several requests.
pub trait Batchable: ShardOp<Reply = PerItem<Self::Item>> + Default + Send + 'static {
    type Item: Copy + Send + 'static;
    /// Add `other`'s items after this one's (the reply answers them in that order).
    fn append(&mut self, other: Self);
    fn len(&self) -> usize;
}

impl Batchable for Renew {
    type Item = bool;
    fn append(&mut self, other: Self) {
        debug_assert!(self.1 == other.1, "one origin per batch");
        self.0.extend(&other.0);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl Batchable for Register {
    type Item = shards::Registered;
    fn append(&mut self, mut other: Self) {
        debug_assert!(self.1 == other.1, "one origin per batch");
        self.0.append(&mut other.0);
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// The items of one loop turn for one destination core.
pub(super) struct TurnBatch<Op: Batchable> {
    op: RefCell<Op>,
    answer: RefCell<Option<Result<Op::Reply, Unavailable>>>,
    waiting: RefCell<Vec<Waker>>,
}

impl<Op: Batchable> Default for TurnBatch<Op> {
    fn default() -> Self {
        TurnBatch {
            op: RefCell::default(),
            answer: RefCell::default(),
            waiting: RefCell::default(),
        }
    }
}

impl<Op: Batchable> TurnBatch<Op> {
    fn answer(&self, answer: Result<Op::Reply, Unavailable>) {
        *self.answer.borrow_mut() = Some(answer);
        for waker in self.waiting.take() {
            waker.wake();
        }
    }

    /// The answers of items `start..end`, once the owner replied.
    async fn answers(&self, start: usize, end: usize) -> Result<Op::Reply, Unavailable> {
        std::future::poll_fn(|cx| match &*self.answer.borrow() {
            Some(Ok(found)) => Poll::Ready(Ok(found[start..end].iter().copied().collect())),
            Some(Err(e)) => Poll::Ready(Err(*e)),
            None => {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Per destination core, the batch being gathered this loop turn.
pub(super) struct OpenBatches<Op: Batchable>(RefCell<Vec<Option<Rc<TurnBatch<Op>>>>>);

impl<Op: Batchable> Default for OpenBatches<Op> {
    fn default() -> Self {
        OpenBatches(RefCell::default())
    }
}

impl<Op: Batchable> OpenBatches<Op> {
    fn take_all(&self) -> Vec<(usize, Rc<TurnBatch<Op>>)> {
        self.0
            .borrow_mut()
            .iter_mut()
            .enumerate()
            .filter_map(|(shard, open)| Some((shard, open.take()?)))
            .collect()
    }
}

impl Core {
    /// Renew a client's leases: per item of the batch (None: goes nowhere), whether its lease
    /// was live.
    pub async fn renew<'a>(
        &self,
        service_ids: impl Iterator<Item = Option<&'a str>>,
        mut keys: impl FnMut(&[u32]) -> PackedKeys,
    ) -> Answers<bool> {
        let batches = &self.renewal_batches;
        self.batched(batches, service_ids, |p| Renew(keys(p), Origin::Client))
            .await
    }

    /// Register a client's instances: per item of the batch (None: goes nowhere), what the
    /// registration did.
    pub async fn register<'a>(
        &self,
        service_ids: impl Iterator<Item = Option<&'a str>>,
        mut items: impl FnMut(&[u32]) -> Vec<RegisterItem>,
    ) -> Answers<shards::Registered> {
        let batches = &self.register_batches;
        self.batched(batches, service_ids, |p| Register(items(p), Origin::Client))
            .await
    }

    /// [`Core::call_owners`] for a batchable operation: this core's shard runs its items in
    /// place; other cores' items join this loop turn's batch for their core.
    async fn batched<'a, Op: Batchable>(
        &self,
        batches: &OpenBatches<Op>,
        service_ids: impl Iterator<Item = Option<&'a str>>,
        mut make: impl FnMut(&[u32]) -> Op,
    ) -> Answers<Op::Item> {
        let mut answers: Answers<Op::Item> = SmallVec::new();
        let split = self
            .node
            .router
            .split(service_ids.inspect(|_| answers.push(None)));
        let mut remote: SmallVec<[_; 4]> = SmallVec::new();
        for (shard, positions) in split.groups {
            if shard == self.id {
                let found = self.run_here(make(&positions));
                scatter(&mut answers, &positions, Ok(found));
                continue;
            }
            let batch = self.open_batch(batches, shard);
            let mut op = batch.op.borrow_mut();
            let start = op.len();
            op.append(make(&positions));
            let end = op.len();
            drop(op);
            remote.push((shard, positions, batch, start, end));
        }
        for (shard, positions, batch, start, end) in remote {
            let found = batch.answers(start, end).await;
            self.replied::<Op>(shard);
            scatter(&mut answers, &positions, found);
        }
        answers
    }

    fn open_batch<Op: Batchable>(
        &self,
        batches: &OpenBatches<Op>,
        shard: usize,
    ) -> Rc<TurnBatch<Op>> {
        let mut open = batches.0.borrow_mut();
        if open.len() <= shard {
            open.resize_with(self.node.router.shards(), || None);
        }
        let batch = open[shard].get_or_insert_with(|| {
            self.batches_wanted.notify();
            Rc::default()
        });
        batch.clone()
    }

    /// Sends the loop turn's batches: after the turn's other tasks (the connections that had
    /// items to send), one message per destination core and operation.
    pub(super) async fn run_batch_sender(self: Rc<Self>) {
        loop {
            self.batches_wanted.notified().await;
            yield_now().await;
            // Each batch on its own task: a destination whose queue is full delays only the
            // items bound for it.
            for (shard, batch) in self.renewal_batches.take_all() {
                self.metrics
                    .remote_renewals
                    .add(batch.op.borrow().len() as u64);
                monoio::spawn(self.clone().send_batch(shard, batch));
            }
            for (shard, batch) in self.register_batches.take_all() {
                monoio::spawn(self.clone().send_batch(shard, batch));
            }
        }
    }

    /// Send one batch (waiting while the owner's request queue is full; the next turns' items
    /// gather in new batches meanwhile) and hand its reply to the connections waiting.
    async fn send_batch<Op: Batchable>(self: Rc<Self>, shard: usize, batch: Rc<TurnBatch<Op>>) {
        let op = batch.op.take();
        match self.send(shard, op).await {
            Ok(reply) => batch.answer(Ok(reply.await)),
            Err(e) => batch.answer(Err(e)),
        }
    }
}
