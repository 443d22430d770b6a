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

/// What one subscription costs the tables beyond its id, rounded up: the session's set entry and
/// its place in the service's session list; for a service new to the core, the table entry and
/// the shared key's allocation, and the owning shard's interest entry. Charged to
/// `ws.max_subscription_bytes_per_core` with the id, so many short ids cannot pass the budget's
/// memory.
pub const SUBSCRIPTION_ENTRY_BYTES: usize = 256;

/// This core's sessions and subscriptions: service key (lower-cased) → sessions, plus
/// all-change sessions. Which shard learns about a subscription is `Core::subscribe`'s business;
/// this table only finds the sessions on this core a change goes to.
pub struct Subscribers {
    /// Each key is held once per core: the sessions subscribed to it keep the same `Arc`.
    by_service: HashMap<Arc<str>, Vec<Rc<Session>>>,
    all: Vec<Rc<Session>>,
    /// Every open session on this core (any channel), by id.
    sessions: HashMap<u64, Rc<Session>>,
    next_session_id: u64,
    budget: Rc<QueueBudget>,
    /// Subscriptions' ids plus [`SUBSCRIPTION_ENTRY_BYTES`] each, summed over the sessions.
    subscription_bytes: usize,
    max_subscription_bytes: usize,
}

/// A subscription would pass `ws.max_subscription_bytes_per_core`.
#[derive(Debug, PartialEq, Eq)]
pub struct SubscriptionsFull {
    pub held: usize,
    pub limit: usize,
}

fn subscription_cost(service_key: &str) -> usize {
    service_key.len() + SUBSCRIPTION_ENTRY_BYTES
}

impl Subscribers {
    /// `max_core_queued_bytes`: what the core's session queues may hold together;
    /// `max_subscription_bytes`: what its subscriptions may cost together.
    pub fn new(max_core_queued_bytes: usize, max_subscription_bytes: usize) -> Self {
        Subscribers {
            by_service: HashMap::new(),
            all: Vec::new(),
            sessions: HashMap::new(),
            next_session_id: 0,
            budget: QueueBudget::new(max_core_queued_bytes),
            subscription_bytes: 0,
            max_subscription_bytes,
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

    /// Subscribe `session` to `service_key`, charging the core's subscription budget;
    /// idempotent per (service, session). Returns the key as the table holds it, for the session
    /// to keep (one copy per service on the core), or what stopped it (nothing changes then).
    pub fn add(
        &mut self,
        service_key: &str,
        session: &Rc<Session>,
    ) -> Result<Arc<str>, SubscriptionsFull> {
        let cost = subscription_cost(service_key);
        let full = SubscriptionsFull {
            held: self.subscription_bytes,
            limit: self.max_subscription_bytes,
        };
        let fits = self.subscription_bytes + cost <= self.max_subscription_bytes;
        let key = match self.by_service.get_key_value_mut(service_key) {
            Some((key, sessions)) => {
                if sessions.iter().any(|s| s.id() == session.id()) {
                    return Ok(key.clone());
                }
                if !fits {
                    return Err(full);
                }
                sessions.push(session.clone());
                key.clone()
            }
            None => {
                if !fits {
                    return Err(full);
                }
                let key: Arc<str> = service_key.into();
                self.by_service.insert(key.clone(), vec![session.clone()]);
                key
            }
        };
        self.subscription_bytes += cost;
        Ok(key)
    }

    /// End a subscription made by [`Subscribers::add`], giving back its charge.
    pub fn remove(&mut self, service_key: &str, session_id: u64) {
        let Some(sessions) = self.by_service.get_mut(service_key) else {
            return;
        };
        let before = sessions.len();
        sessions.retain(|s| s.id() != session_id);
        let removed = before - sessions.len();
        assert!(removed <= 1, "a session is in a service's list once");
        self.subscription_bytes -= removed * subscription_cost(service_key);
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
        let mut subs = Subscribers::new(usize::MAX, usize::MAX);
        let a = subs.open_session(10, 1 << 20);
        let b = subs.open_session(10, 1 << 20);
        let key = subs.add("svc", &a).unwrap();
        assert!(Arc::ptr_eq(&key, &subs.add("svc", &a).unwrap()));
        assert!(
            Arc::ptr_eq(&key, &subs.add("svc", &b).unwrap()),
            "one copy of a key per core"
        );
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
    fn subscriptions_are_charged_per_session_until_they_end() {
        let cost = |key: &str| key.len() + SUBSCRIPTION_ENTRY_BYTES;
        let limit = cost("aaaa") + cost("bb") + cost("aaaa");
        let mut subs = Subscribers::new(usize::MAX, limit);
        let a = subs.open_session(10, 1 << 20);
        let b = subs.open_session(10, 1 << 20);
        subs.add("aaaa", &a).unwrap();
        subs.add("bb", &a).unwrap();
        subs.add("aaaa", &a).unwrap();
        assert_eq!(subs.subscription_bytes, cost("aaaa") + cost("bb"), "once");
        subs.add("aaaa", &b).unwrap();
        assert_eq!(subs.subscription_bytes, limit, "per session");
        assert_eq!(
            subs.add("c", &b),
            Err(SubscriptionsFull { held: limit, limit })
        );
        let mut out = Vec::new();
        subs.recipients("c", &mut out);
        assert!(out.is_empty(), "a refused subscription changes nothing");
        subs.remove("aaaa", a.id());
        subs.remove("aaaa", a.id());
        assert_eq!(subs.subscription_bytes, cost("bb") + cost("aaaa"));
        subs.add("c", &b).unwrap();
        subs.remove("aaaa", b.id());
        subs.remove("bb", a.id());
        subs.remove("c", b.id());
        assert_eq!(subs.subscription_bytes, 0);
        assert!(subs.by_service.is_empty());
    }

    #[test]
    fn over_budget_closes_the_sessions_waiting_longest_until_the_rest_fits() {
        let mut subs = Subscribers::new(100, usize::MAX);
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
