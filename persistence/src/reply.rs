//! A one-shot answer from the persistence thread: awaited on an event loop (woken through the
//! task's `Waker`, which may be called from any thread) or waited for by a plain thread.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::{StoreError, StoreErrorKind};

/// The answer to one job sent through a [`Handle`](crate::Handle).
#[must_use = "a Reply does nothing unless awaited or waited for"]
pub struct Reply<T> {
    slot: Arc<Slot<T>>,
}

/// The persistence thread's end. Dropping it unanswered (the thread stopped with the job still
/// queued) answers with an error, so no caller waits forever.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
}

struct Slot<T> {
    state: Mutex<State<T>>,
    filled: Condvar,
}

struct State<T> {
    answer: Option<Result<T, StoreError>>,
    /// The answer was handed to the caller; a second poll is a caller bug.
    delivered: bool,
    waker: Option<Waker>,
}

pub(crate) fn reply_channel<T>() -> (Completer<T>, Reply<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            answer: None,
            delivered: false,
            waker: None,
        }),
        filled: Condvar::new(),
    });
    (
        Completer {
            slot: Some(slot.clone()),
        },
        Reply { slot },
    )
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No code panics while holding this lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fill(&self, answer: Result<T, StoreError>) {
        let waker = {
            let mut state = self.lock();
            assert!(
                state.answer.is_none() && !state.delivered,
                "a reply is answered once"
            );
            state.answer = Some(answer);
            state.waker.take()
        };
        self.filled.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Reply<T> {
    /// A reply answered already (refused before it reached the thread).
    pub(crate) fn answered(answer: Result<T, StoreError>) -> Reply<T> {
        let (completer, reply) = reply_channel();
        completer.complete(answer);
        reply
    }

    /// Block the calling thread until the answer arrives or `timeout` passes (`None`). For
    /// threads without an event loop, such as the main thread at shutdown.
    pub fn wait_timeout(self, timeout: Duration) -> Option<Result<T, StoreError>> {
        let state = self.slot.lock();
        let (mut state, _) = self
            .slot
            .filled
            .wait_timeout_while(state, timeout, |s| s.answer.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        let answer = state.answer.take();
        state.delivered = answer.is_some();
        answer
    }
}

impl<T> Future for Reply<T> {
    type Output = Result<T, StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.lock();
        assert!(!state.delivered, "Reply polled after it completed");
        if let Some(answer) = state.answer.take() {
            state.delivered = true;
            return Poll::Ready(answer);
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Completer<T> {
    pub(crate) fn complete(mut self, answer: Result<T, StoreError>) {
        if let Some(slot) = self.slot.take() {
            slot.fill(answer);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.fill(Err(StoreError::new(
                StoreErrorKind::Other,
                "the persistence thread stopped before answering",
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_answer_wakes_the_awaiting_task_from_another_thread() {
        let (completer, mut reply) = reply_channel::<u32>();
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut reply).poll(&mut cx).is_pending());
        std::thread::spawn(move || completer.complete(Ok(7)))
            .join()
            .unwrap();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert_eq!(Pin::new(&mut reply).poll(&mut cx), Poll::Ready(Ok(7)));
    }

    #[test]
    fn an_abandoned_job_answers_with_an_error() {
        let (completer, reply) = reply_channel::<u32>();
        drop(completer);
        let error = reply.wait_timeout(Duration::ZERO).unwrap().unwrap_err();
        assert_eq!(error.kind, StoreErrorKind::Other);
        assert!(error.message.contains("stopped"), "{error}");
    }

    #[test]
    fn wait_timeout_gives_up_without_an_answer_and_gets_one_when_answered() {
        let (completer, reply) = reply_channel::<u32>();
        let (completer2, reply2) = reply_channel::<u32>();
        assert_eq!(reply.wait_timeout(Duration::from_millis(1)), None);
        drop(completer);
        completer2.complete(Ok(3));
        assert_eq!(reply2.wait_timeout(Duration::ZERO), Some(Ok(3)));
    }
}
