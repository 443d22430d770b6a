//! Wakes a sender task from the core's write path: one waiter, core-local, and a notification
//! that arrives while nobody waits is kept for the next wait (so none is lost between the
//! sender's look at its queue and its wait).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Wake {
    notified: Cell<bool>,
    waiter: Cell<Option<Waker>>,
}

impl Wake {
    pub fn notify(&self) {
        self.notified.set(true);
        if let Some(waker) = self.waiter.take() {
            waker.wake();
        }
    }

    /// Resolves at the first notification since the last wait resolved.
    pub fn wait(&self) -> Wait<'_> {
        Wait { wake: self }
    }
}

pub struct Wait<'a> {
    wake: &'a Wake,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.wake.notified.replace(false) {
            return Poll::Ready(());
        }
        self.wake.waiter.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        // A wait given up (its select took another branch) leaves no stale waker behind.
        self.wake.waiter.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_before_the_wait_is_kept_and_consumed_once() {
        let wake = Wake::default();
        let mut cx = Context::from_waker(Waker::noop());
        wake.notify();
        assert!(Box::pin(wake.wait()).as_mut().poll(&mut cx).is_ready());
        let mut second = Box::pin(wake.wait());
        assert!(second.as_mut().poll(&mut cx).is_pending());
        wake.notify();
        assert!(second.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_dropped_wait_leaves_no_waker() {
        let wake = Wake::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut wait = Box::pin(wake.wait());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        drop(wait);
        let waker = wake.waiter.take();
        assert!(waker.is_none());
    }
}
