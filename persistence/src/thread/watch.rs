//! Hands the snapshots a poll found to the server. There is one waiter at a time (the server's
//! task on core 0); a snapshot published while nobody waits is kept, replaced by any newer one,
//! so the waiter always gets the newest state and never a backlog.

use std::sync::{Arc, Mutex, PoisonError};

use protocol::model::management::ManagementSnapshot;

use crate::reply::{reply_channel, Completer};
use crate::Reply;

#[derive(Default)]
pub(super) struct Watch {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiter: Option<Completer<Arc<ManagementSnapshot>>>,
    unseen: Option<Arc<ManagementSnapshot>>,
}

impl Watch {
    /// The next snapshot published, or the one published since the last call. A waiter still
    /// pending is replaced (dropping its completer answers it with an error).
    pub(super) fn wait(&self) -> Reply<Arc<ManagementSnapshot>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(snapshot) = state.unseen.take() {
            return Reply::answered(Ok(snapshot));
        }
        let (completer, reply) = reply_channel();
        state.waiter = Some(completer);
        reply
    }

    pub(super) fn publish(&self, snapshot: Arc<ManagementSnapshot>) {
        let waiter = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match state.waiter.take() {
                Some(waiter) => waiter,
                None => {
                    state.unseen = Some(snapshot);
                    return;
                }
            }
        };
        // Outside the lock: completing wakes the waiting task.
        waiter.complete(Ok(snapshot));
    }

    /// The thread stopped: the waiter is answered with an error, so its task ends.
    pub(super) fn close(&self) {
        let waiter = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiter
            .take();
        drop(waiter);
    }
}
