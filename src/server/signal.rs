//! Core-local one-shot notification (shutdown), with waiters that deregister on drop so
//! long-lived connections that re-arm it every loop never accumulate stale wakers; and
//! [`yield_now`], which lets a long task share the core.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct LocalSignal {
    fired: Cell<bool>,
    waiters: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl LocalSignal {
    pub fn fire(&self) {
        if self.fired.replace(true) {
            return;
        }
        let wakers: Vec<Waker> = self
            .waiters
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    pub fn is_fired(&self) -> bool {
        self.fired.get()
    }

    pub fn wait(&self) -> Wait<'_> {
        Wait {
            signal: self,
            slot: None,
        }
    }
}

pub struct Wait<'a> {
    signal: &'a LocalSignal,
    slot: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.fired.get() {
            return Poll::Ready(());
        }
        let mut waiters = self.signal.waiters.borrow_mut();
        match self.slot {
            Some(i) => waiters[i] = Some(cx.waker().clone()),
            None => {
                let i = match self.signal.free.borrow_mut().pop() {
                    Some(i) => {
                        waiters[i] = Some(cx.waker().clone());
                        i
                    }
                    None => {
                        waiters.push(Some(cx.waker().clone()));
                        waiters.len() - 1
                    }
                };
                drop(waiters);
                self.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            self.signal.waiters.borrow_mut()[i] = None;
            self.signal.free.borrow_mut().push(i);
        }
    }
}

/// Let every other task that is ready on this core run before this one goes on: the caller goes to
/// the back of the run queue.
///
/// Waking itself and returning `Pending` does not do that in monoio: a task woken while it is
/// being polled is put back at the *front* of the queue and polled again at once, so the tasks
/// queued behind it (connections woken by I/O among them) keep waiting until it finishes. The
/// wake-up therefore comes from an empty task spawned at the back of the queue: it runs after the
/// tasks ahead of it, and its completion wakes the caller, which is queued at the back too.
pub async fn yield_now() {
    monoio::spawn(async {}).await
}

/// Core-local, re-armable wake-up of one task: `notify` any number of times, the waiting task
/// runs once (end-of-turn work such as the mirror publisher and the renewal flusher).
#[derive(Default)]
pub struct LocalNotify {
    notified: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl LocalNotify {
    pub fn notify(&self) {
        if !self.notified.replace(true) {
            if let Some(w) = self.waker.take() {
                w.wake();
            }
        }
    }

    /// Resolves once notified since the last time it resolved.
    pub fn notified(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.notified.replace(false) {
                return Poll::Ready(());
            }
            self.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_waiters_free_their_slots() {
        let s = LocalSignal::default();
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        for _ in 0..100 {
            let mut w = Box::pin(s.wait());
            assert!(w.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(
            s.waiters.borrow().len(),
            1,
            "one slot reused by every waiter"
        );
        let mut w = Box::pin(s.wait());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        s.fire();
        assert!(w.as_mut().poll(&mut cx).is_ready());
        assert!(Box::pin(s.wait()).as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn yielding_tasks_take_turns() {
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("a runtime");
        let turns = runtime.block_on(async {
            let turns = std::rc::Rc::new(RefCell::new(String::new()));
            let tasks: Vec<_> = ["a", "b"]
                .into_iter()
                .map(|name| {
                    let turns = turns.clone();
                    monoio::spawn(async move {
                        for _ in 0..3 {
                            turns.borrow_mut().push_str(name);
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            turns.take()
        });
        // A self-wake would have run "aaa" before "b" ever got a turn.
        assert_eq!(turns, "ababab");
    }
}
