//! WebSocket sessions on this core and what they subscribed to.
//!
//! A session's outgoing messages wait in its own bounded queue ([`Session`]) as ready frames,
//! written by the session's writer task. A change batch arrives serialized once, as frames, and
//! is shared by every subscriber on the core ([`budget`]); the core's sessions together hold at
//! most `ws.max_core_queued_bytes`, and a session that falls behind is closed (1013) rather than
//! buffered without bound.

mod budget;
mod session;

use std::rc::Rc;
use std::sync::Arc;

use hashbrown::HashMap;

pub use budget::{Frames, QueueBudget, SharedFrames};
/// Close codes (RFC 6455 §7.4.1).
pub use protocol::ws::close_code as close;
pub use session::Session;

/// Why sessions are closed when the core's queues pass their budget.
const CORE_BUDGET_REASON: &str = "server push queues full; reconnect and reload";

/// This core's sessions and subscriptions: service key (lower-cased) → sessions, plus
/// all-change sessions. Which shard learns about a subscription is `Core::subscribe`'s business;
/// this table only finds the sessions on this core a change goes to.
pub struct Subscribers {
    by_service: HashMap<Arc<str>, Vec<Rc<Session>>>,
    all: Vec<Rc<Session>>,
    /// Every open session on this core (any channel), by id.
    sessions: HashMap<u64, Rc<Session>>,
    next_session_id: u64,
    budget: Rc<QueueBudget>,
}

impl Subscribers {
    /// `max_core_queued_bytes`: what the core's session queues may hold together.
    pub fn new(max_core_queued_bytes: usize) -> Self {
        Subscribers {
            by_service: HashMap::new(),
            all: Vec::new(),
            sessions: HashMap::new(),
            next_session_id: 0,
            budget: QueueBudget::new(max_core_queued_bytes),
        }
    }

    pub fn budget(&self) -> &Rc<QueueBudget> {
        &self.budget
    }

    /// A new session whose backlog is bounded by `max_entries` and `max_bytes`.
    pub fn open_session(&mut self, max_entries: usize, max_bytes: usize) -> Rc<Session> {
        let id = self.next_session_id;
        self.next_session_id += 1;
        let session = Rc::new(Session::new(
            id,
            max_entries,
            max_bytes,
            self.budget.clone(),
        ));
        self.sessions.insert(id, session.clone());
        session
    }

    /// Forget a session that ended (after it unsubscribed).
    pub fn end_session(&mut self, id: u64) {
        self.sessions.remove(&id);
    }

    /// Idempotent per (service, session).
    pub fn add(&mut self, service_key: &str, session: &Rc<Session>) {
        let sessions = self.by_service.entry_ref(service_key).or_default();
        if !sessions.iter().any(|s| s.id() == session.id()) {
            sessions.push(session.clone());
        }
    }

    pub fn remove(&mut self, service_key: &str, session_id: u64) {
        let Some(sessions) = self.by_service.get_mut(service_key) else {
            return;
        };
        sessions.retain(|s| s.id() != session_id);
        if sessions.is_empty() {
            self.by_service.remove(service_key);
        }
    }

    pub fn add_all(&mut self, session: &Rc<Session>) {
        self.all.push(session.clone());
    }

    pub fn remove_all(&mut self, session_id: u64) {
        self.all.retain(|s| s.id() != session_id);
    }

    /// Append the sessions a change of `service_key` goes to (a session subscribed to it and to
    /// every change gets it twice, as it asked).
    pub fn recipients(&self, service_key: &str, out: &mut Vec<Rc<Session>>) {
        if let Some(sessions) = self.by_service.get(service_key) {
            out.extend(sessions.iter().cloned());
        }
        out.extend(self.all.iter().cloned());
    }

    /// If the core's queues hold more than their budget, close sessions (1013, backlog dropped)
    /// from the one waiting longest, until they fit. Sessions whose oldest waiting entry is
    /// `protect_from` or newer only hold what is being delivered now: a legal batch never closes
    /// a session that keeps up. Returns how many sessions were closed.
    pub fn enforce_budget(&self, protect_from: u64) -> usize {
        if !self.budget.needs_scan() {
            return 0;
        }
        let mut behind: Vec<(u64, &Rc<Session>)> = self
            .sessions
            .values()
            .filter(|s| !s.is_closing())
            .filter_map(|s| Some((s.oldest_queued()?, s)))
            .filter(|&(seq, _)| seq < protect_from)
            .collect();
        behind.sort_unstable_by_key(|&(seq, _)| seq);
        let mut closed = 0;
        for (_, session) in behind {
            if !self.budget.is_over() {
                break;
            }
            session.overflow(CORE_BUDGET_REASON);
            closed += 1;
        }
        self.budget.scanned();
        closed
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
        let mut subs = Subscribers::new(usize::MAX);
        let a = subs.open_session(10, 1 << 20);
        let b = subs.open_session(10, 1 << 20);
        subs.add("svc", &a);
        subs.add("svc", &a);
        subs.add("svc", &b);
        subs.add_all(&b);
        let ids = |subs: &Subscribers| {
            let mut out = Vec::new();
            subs.recipients("svc", &mut out);
            out.iter().map(|s| s.id()).collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&subs),
            [a.id(), b.id(), b.id()],
            "re-subscribing is idempotent; per service and all-changes"
        );
        subs.remove("svc", b.id());
        subs.remove_all(b.id());
        assert_eq!(ids(&subs), [a.id()]);
        subs.close_all(close::TRY_AGAIN_LATER, "lost");
        assert!(a.is_closing() && !b.is_closing());
    }

    #[test]
    fn over_budget_closes_the_sessions_waiting_longest_until_the_rest_fits() {
        let mut subs = Subscribers::new(100);
        let sessions: Vec<Rc<Session>> = (0..4).map(|_| subs.open_session(10, 1 << 20)).collect();
        let budget = subs.budget().clone();
        // Sessions 0 and 1 hold an old batch nobody else holds; 1 and 2 a newer one.
        let old = budget.share(vec![0u8; 60].into());
        sessions[0].send_changes(&old);
        sessions[1].send_changes(&old);
        drop(old);
        let newer = budget.share(vec![0u8; 30].into());
        sessions[2].send_changes(&newer);
        drop(newer);
        // Being delivered now: a batch every session gets, which alone passes the budget.
        let now = budget.share(vec![0u8; 80].into());
        for s in &sessions {
            s.send_changes(&now);
        }
        assert!(budget.is_over());
        let closed = subs.enforce_budget(now.seq());
        assert_eq!(
            closed, 3,
            "the longest waiting first, then the next, while over"
        );
        assert!(sessions[..3].iter().all(|s| s.is_closing()));
        assert!(
            !sessions[3].is_closing(),
            "a session holding only what is being delivered stays, over budget or not"
        );
        assert_eq!(budget.used(), 80);
    }
}
