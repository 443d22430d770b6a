//! The change stream. Every change a shard records (new, change, delete) for a service somebody
//! subscribed to is serialized once by the shard, as a WebSocket frame, and the changes of one
//! service made by one shard step travel together as one batch (`shards::Push`). Batches leave
//! the shard through here, after the step that made them, to sinks. Each sink bounds what it
//! holds and has its own overflow policy, so one slow consumer never grows memory or stalls the
//! shard:
//!
//! | sink | bound | on overflow |
//! |---|---|---|
//! | another core | per core: `changes.core_queue_capacity` steps in its inbox | the batch is dropped and that core closes its subscribers with 1013 |
//! | this core's fan-out ([`FanOut`]) | `changes.core_queue_capacity` steps | the core closes its subscribers with 1013 |
//! | both of one core | `changes.core_queue_bytes` ([`WaitingChanges`]; a step that finds nothing waiting is always taken) | the same |
//! | one WebSocket session | its backlog: `ws.max_queued_messages` entries / `ws.max_queued_bytes` | that session is closed with 1013 (it reconnects and reloads) |
//! | all sessions of a core | `ws.max_core_queued_bytes` (a batch counts once) | the sessions waiting longest are closed with 1013 |
//!
//! A batch is delivered to a core's sessions by the core's fan-out task, in slices of
//! [`FANOUT_SLICE`] sessions between which the core serves its other connections; every session
//! of the core references the same bytes. Each batch carries the moment its shard recorded it;
//! once it is queued on its last session of a core, that core counts the time since and the
//! sessions it reached (`artemis_push_fanout_seconds_total` / `_sessions_total`), so the
//! fan-out's cost per subscriber is measured inside the server, cross-core hop included.
//!
//! Replication to peer nodes (the cluster issue) becomes one more sink here: a bounded queue per
//! peer whose overflow policy is a resync from the peer's last acknowledged version.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};

use super::log_limit::LogLimiter;
use super::mailbox::{step_bytes, Delivery, Outbox, WaitingChanges};
use super::metrics::CoreMetrics;
use super::signal::yield_now;
use super::subscribers::{close, Session, Subscribers};
use shards::Push;

/// Sessions a batch is queued to before the fan-out task lets other tasks of the core run.
pub const FANOUT_SLICE: usize = 512;

/// Per-step scratch: one batch per destination core, reused across steps.
#[derive(Default)]
pub struct ChangeStream {
    to_cores: Vec<Vec<Delivery>>,
}

impl ChangeStream {
    /// Hand a step's changes to their sinks: `here`'s own fan-out, every other interested core
    /// in one message.
    pub fn publish(
        &mut self,
        pushes: impl Iterator<Item = Push>,
        here: usize,
        fanout: &FanOut,
        outboxes: &[Outbox],
    ) {
        if self.to_cores.len() < outboxes.len() {
            self.to_cores.resize_with(outboxes.len(), Vec::new);
        }
        for push in pushes {
            for &core in &push.cores {
                self.to_cores[core as usize].push(Delivery {
                    service_key: push.service_key.clone(),
                    frames: push.frames.clone(),
                    recorded: push.recorded,
                });
            }
        }
        for (core, step) in self.to_cores.iter_mut().enumerate() {
            if step.is_empty() {
                continue;
            }
            let step = std::mem::take(step);
            if core == here {
                fanout.push_local_step(step);
            } else {
                outboxes[core].changes(step);
            }
        }
    }
}

/// Change batches waiting to be delivered to this core's sessions, one shard step per element,
/// in the order the core received them (which keeps each service's changes in order).
pub struct FanOut {
    steps: RefCell<VecDeque<std::vec::IntoIter<Delivery>>>,
    capacity: usize,
    /// The bytes of the steps here and in the core's inbox; each batch's are given back as it is
    /// taken for delivery.
    waiting: Arc<WaitingChanges>,
    /// Set when a step was dropped because the queue was full.
    lost: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl FanOut {
    /// `waiting`: the core's count, shared with its inbox.
    pub fn new(capacity: usize, waiting: Arc<WaitingChanges>) -> Self {
        assert!(capacity > 0);
        FanOut {
            steps: RefCell::new(VecDeque::new()),
            capacity,
            waiting,
            lost: Cell::new(false),
            waker: Cell::new(None),
        }
    }

    /// Queue a step from the core's inbox (its sender counted its bytes in); if the queue is
    /// full the step is dropped and the core's subscribers will be closed (they missed a change).
    pub fn push_step(&self, step: Vec<Delivery>) {
        let mut steps = self.steps.borrow_mut();
        if steps.len() >= self.capacity {
            self.waiting.release(step_bytes(&step));
            self.lost.set(true);
        } else {
            steps.push_back(step.into_iter());
        }
        drop(steps);
        self.wake();
    }

    /// Queue a step of this core's own shard, counting its bytes in; dropped as in
    /// [`FanOut::push_step`] when it does not fit.
    pub fn push_local_step(&self, step: Vec<Delivery>) {
        if self.waiting.try_add(step_bytes(&step)) {
            self.push_step(step);
        } else {
            self.lost.set(true);
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    fn ready(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.lost.get() || !self.steps.borrow().is_empty() {
                return Poll::Ready(());
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
    }

    /// The next batch to deliver; its bytes no longer count as waiting (its recipients' queues
    /// count them).
    fn next_delivery(&self) -> Option<Delivery> {
        let mut steps = self.steps.borrow_mut();
        loop {
            let step = steps.front_mut()?;
            let delivery = step.next();
            // A step is gone from the queue (and its place free) with its last batch.
            if step.len() == 0 {
                steps.pop_front();
            }
            if let Some(delivery) = delivery {
                self.waiting.release(delivery.frames.len());
                return Some(delivery);
            }
        }
    }

    /// Deliver queued batches to `subscribers` for ever, letting the core's other tasks run
    /// every [`FANOUT_SLICE`] sessions, and keep the core's session queues within their budget.
    /// Once a batch is queued on its last session here, its cost (recorded → queued) and the
    /// sessions it reached are counted in `metrics`.
    pub async fn run(
        &self,
        subscribers: &RefCell<Subscribers>,
        log: &LogLimiter,
        metrics: &CoreMetrics,
    ) {
        let mut recipients: Vec<Rc<Session>> = Vec::new();
        let mut work = 0usize;
        loop {
            self.ready().await;
            if self.lost.replace(false) {
                changes_lost(&subscribers.borrow());
            }
            while let Some(delivery) = self.next_delivery() {
                if work >= FANOUT_SLICE {
                    yield_now().await;
                    work = 0;
                }
                work += 1;
                let batch = {
                    let subscribers = subscribers.borrow();
                    subscribers.recipients(&delivery.service_key, &mut recipients);
                    if recipients.is_empty() {
                        continue;
                    }
                    subscribers.budget().share(delivery.frames)
                };
                let mut queued = 0usize;
                let slices = recipients.len().div_ceil(FANOUT_SLICE);
                for (n, slice) in recipients.chunks(FANOUT_SLICE).enumerate() {
                    for session in slice {
                        queued += usize::from(session.send_changes(&batch));
                    }
                    // Counted before the yield that may follow the last slice: what other tasks
                    // do then is not this batch's fan-out.
                    if n + 1 == slices && queued > 0 {
                        metrics.count_fanout(delivery.recorded.elapsed(), queued);
                    }
                    work += slice.len();
                    if work >= FANOUT_SLICE {
                        enforce_budget(&subscribers.borrow(), batch.seq(), log);
                        yield_now().await;
                        work = 0;
                    }
                }
                enforce_budget(&subscribers.borrow(), batch.seq(), log);
                recipients.clear();
            }
        }
    }
}

/// Keep the core's session queues within `ws.max_core_queued_bytes` (entries from `protect_from`
/// on are being delivered now; see [`Subscribers::enforce_budget`]).
pub fn enforce_budget(subscribers: &Subscribers, protect_from: u64, log: &LogLimiter) {
    let closed = subscribers.enforce_budget(protect_from);
    if closed > 0 && log.allow() {
        tracing::warn!(
            closed,
            held_bytes = subscribers.budget().used(),
            "websocket push queues over ws.max_core_queued_bytes; closed the sessions waiting longest"
        );
    }
}

/// This core lost changes (its inbox or its fan-out queue overflowed): some change never reached
/// its subscribers, so none of them can trust its view any more.
pub fn changes_lost(local: &Subscribers) {
    local.close_all(
        close::TRY_AGAIN_LATER,
        "changes were lost under load; reconnect and reload",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(bytes: usize) -> Vec<Delivery> {
        vec![Delivery {
            service_key: "s".into(),
            frames: vec![b'm'; bytes].into(),
            recorded: std::time::Instant::now(),
        }]
    }

    #[test]
    fn fanout_counts_the_sessions_each_batch_was_queued_on_and_its_cost() {
        let subscribers = RefCell::new(Subscribers::new(usize::MAX, usize::MAX));
        let (sessions, other, closed) = {
            let mut subs = subscribers.borrow_mut();
            let sessions: Vec<Rc<Session>> =
                (0..3).map(|_| subs.open_session(10, 1 << 20)).collect();
            for s in &sessions {
                subs.add("s", s).unwrap();
            }
            let other = subs.open_session(10, 1 << 20);
            subs.add("t", &other).unwrap();
            let closed = subs.open_session(10, 1 << 20);
            subs.add("s", &closed).unwrap();
            closed.close(close::GOING_AWAY, "gone");
            (sessions, other, closed)
        };
        let metrics = CoreMetrics::default();
        let fanout = FanOut::new(4, Arc::new(WaitingChanges::new(1 << 20)));
        let age = std::time::Duration::from_millis(5);
        let recorded = std::time::Instant::now() - age;
        let delivery = |service: &str| Delivery {
            service_key: service.into(),
            frames: b"frame".to_vec().into(),
            recorded,
        };
        // Two batches for "s" (3 open sessions and a closing one), one for a service with no
        // session on this core.
        fanout.push_local_step(vec![delivery("s"), delivery("nobody")]);
        fanout.push_local_step(vec![delivery("s")]);
        let log = LogLimiter::new(1);
        let run = std::pin::pin!(fanout.run(&subscribers, &log, &metrics));
        let mut cx = std::task::Context::from_waker(Waker::noop());
        assert!(
            run.poll(&mut cx).is_pending(),
            "waits for more once all is delivered"
        );
        let sample = metrics.sample(0, 0, 0);
        assert_eq!(
            sample.push_fanout_sessions, 6,
            "two batches on the 3 open sessions of the service; never the closing one or another \
             service's"
        );
        assert!(
            sample.push_fanout_ns >= 2 * age.as_nanos() as u64,
            "each batch counts at least its age: {}",
            sample.push_fanout_ns
        );
        assert!(sessions.iter().all(|s| s.oldest_queued().is_some()));
        assert_eq!(other.oldest_queued(), None);
        assert_eq!(closed.oldest_queued(), None);
    }

    #[test]
    fn waiting_bytes_are_bounded_and_given_back_as_batches_are_taken() {
        let waiting = Arc::new(WaitingChanges::new(100));
        let fanout = FanOut::new(2, waiting.clone());
        fanout.push_local_step(step(150));
        assert!(
            !fanout.lost.get(),
            "a step alone is taken whatever its size"
        );
        fanout.push_local_step(step(1));
        assert!(fanout.lost.replace(false), "over the bytes limit");
        assert_eq!(waiting.bytes(), 150);
        assert_eq!(fanout.next_delivery().map(|d| d.frames.len()), Some(150));
        assert_eq!(waiting.bytes(), 0, "taken for delivery");
        fanout.push_local_step(step(10));
        assert!(
            waiting.try_add(20),
            "a step from the inbox, counted by its sender"
        );
        fanout.push_step(step(20));
        assert!(waiting.try_add(30));
        fanout.push_step(step(30));
        assert!(fanout.lost.get(), "over the step capacity");
        assert_eq!(waiting.bytes(), 30, "the dropped step is given back");
    }
}
