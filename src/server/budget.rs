//! Per-core budgets for the memory clients make a core hold, so that it is bounded by
//! configuration however many clients there are:
//!
//! - [`WriteBudget`]: bytes queued for writing to HTTP clients
//!   (`limits.max_queued_write_bytes_per_core`). Owned bytes count per connection; a shared body
//!   (one copy per data version, referenced by every connection writing it) counts once per core
//!   however many connections write it, because that is the memory it takes. Past the limit the
//!   connections whose bytes have been pending longest (the slowest readers) are closed.
//! - [`RequestBudget`]: request bytes buffered beyond a connection's first read buffer and small
//!   retained buffers (`limits.max_buffered_request_bytes_per_core`): a read buffer that grew,
//!   the de-chunked and inflated copies of a request being handled (`conn::RequestCopy`), and a
//!   WebSocket session's read buffer that grew for a large message. A connection that needs
//!   more than is left is answered 503 (a WebSocket session closed with 1013) and closed;
//!   requests that fit the first buffers (heartbeats, lookups, most registers) never ask and
//!   are never refused.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use hashbrown::HashMap;
use smallvec::SmallVec;

use super::log_limit::LogLimiter;

/// Both budgets of one core.
pub struct Budgets {
    pub writes: WriteBudget,
    /// Shared with the charges: a connection's scratch buffers hold theirs without borrowing the
    /// core.
    pub requests: Rc<RequestBudget>,
}

impl Budgets {
    pub fn new(max_queued_write_bytes: usize, max_buffered_request_bytes: usize) -> Self {
        Budgets {
            writes: WriteBudget::new(max_queued_write_bytes),
            requests: Rc::new(RequestBudget::new(max_buffered_request_bytes)),
        }
    }
}

/// Request bytes buffered on one core beyond the connections' first read buffers.
pub struct RequestBudget {
    limit: usize,
    used: Cell<usize>,
    /// Refusals are client-triggered: one log line a second at most.
    refusal_log: LogLimiter,
}

impl RequestBudget {
    fn new(limit: usize) -> Self {
        RequestBudget {
            limit,
            used: Cell::new(0),
            refusal_log: LogLimiter::new(1),
        }
    }

    /// A charge (of a connection's buffer), empty to start with.
    pub fn charge(self: &Rc<Self>) -> RequestCharge {
        RequestCharge {
            budget: self.clone(),
            bytes: 0,
        }
    }

    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.get()
    }
}

/// What one buffer of a connection holds of the [`RequestBudget`]; given back when dropped.
pub struct RequestCharge {
    budget: Rc<RequestBudget>,
    bytes: usize,
}

impl RequestCharge {
    /// Make this connection's charge `bytes`. Growing it fails (and changes nothing) when the
    /// core's total would pass the limit; shrinking always succeeds.
    pub fn set(&mut self, bytes: usize) -> bool {
        let budget = &self.budget;
        let others = budget.used.get() - self.bytes;
        if bytes > self.bytes && others + bytes > budget.limit {
            if budget.refusal_log.allow() {
                tracing::warn!(
                    buffered = others,
                    wanted = bytes,
                    limit = budget.limit,
                    "request refused (503, or 1013 closing a WebSocket session): bytes \
                     buffered for requests on this core would pass \
                     limits.max_buffered_request_bytes_per_core"
                );
            }
            return false;
        }
        budget.used.set(others + bytes);
        self.bytes = bytes;
        true
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for RequestCharge {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Bytes queued for writing on one core, and which connections queued them.
pub struct WriteBudget {
    limit: usize,
    state: RefCell<WriteState>,
    /// Evictions are client-triggered: one log line a second at most.
    eviction_log: LogLimiter,
}

#[derive(Default)]
struct WriteState {
    /// Owned bytes queued, summed over connections.
    owned: usize,
    /// Shared bodies queued, by address, each counted once.
    shared: HashMap<usize, SharedCharge>,
    /// Sum of the lengths in `shared`.
    shared_bytes: usize,
    /// Stamps the start of each pending spell; lower is older.
    next_stamp: u64,
    /// Indexed by [`WriteSlot::index`]; `None` for free indices (listed in `free`).
    writers: Vec<Option<Writer>>,
    free: Vec<usize>,
}

struct SharedCharge {
    len: usize,
    /// Connections with this body queued.
    writers: usize,
}

#[derive(Default)]
struct Writer {
    /// When the connection's queue last went from empty to pending (a stamp, not a time: only
    /// the order matters). None while nothing is queued.
    pending_since: Option<u64>,
    owned: usize,
    /// Addresses of the shared bodies this connection has queued (keys of `WriteState::shared`).
    shared: SmallVec<[usize; 2]>,
    evicted: bool,
    waker: Option<Waker>,
}

impl WriteBudget {
    fn new(limit: usize) -> Self {
        WriteBudget {
            limit,
            state: RefCell::new(WriteState::default()),
            eviction_log: LogLimiter::new(1),
        }
    }

    /// A connection's place in the budget, with nothing queued.
    pub fn slot(&self) -> WriteSlot<'_> {
        let mut state = self.state.borrow_mut();
        let index = match state.free.pop() {
            Some(index) => {
                state.writers[index] = Some(Writer::default());
                index
            }
            None => {
                state.writers.push(Some(Writer::default()));
                state.writers.len() - 1
            }
        };
        WriteSlot {
            budget: self,
            index,
        }
    }

    #[cfg(test)]
    /// Bytes queued on this core, as the limit counts them.
    pub fn queued(&self) -> usize {
        let state = self.state.borrow();
        state.owned + state.shared_bytes
    }
}

/// Address of a shared body, its key in the budget. Unique while any connection holds the body
/// (a queued body is held by the connection that queued it, so its address cannot be reused).
fn address_of(body: &Arc<[u8]>) -> usize {
    Arc::as_ptr(body).cast::<u8>() as usize
}

impl WriteState {
    fn writer(&mut self, index: usize) -> &mut Writer {
        self.writers[index]
            .as_mut()
            .expect("a live slot has a writer")
    }

    fn total(&self) -> usize {
        self.owned + self.shared_bytes
    }

    fn add_shared(&mut self, body: &Arc<[u8]>) -> usize {
        let address = address_of(body);
        let charge = self.shared.entry(address).or_insert(SharedCharge {
            len: body.len(),
            writers: 0,
        });
        debug_assert_eq!(charge.len, body.len(), "one address, one body");
        charge.writers += 1;
        if charge.writers == 1 {
            self.shared_bytes += charge.len;
        }
        address
    }

    fn remove_shared(&mut self, address: usize) {
        let charge = self
            .shared
            .get_mut(&address)
            .expect("a queued shared body is charged");
        charge.writers -= 1;
        if charge.writers == 0 {
            self.shared_bytes -= charge.len;
            self.shared.remove(&address);
        }
    }

    /// Take back everything a connection has queued; it is no longer pending.
    fn release(&mut self, index: usize) {
        let writer = self.writer(index);
        let owned = std::mem::take(&mut writer.owned);
        let shared = std::mem::take(&mut writer.shared);
        writer.pending_since = None;
        self.owned -= owned;
        for address in shared {
            self.remove_shared(address);
        }
    }

    /// What one connection's queue costs on its own (its shared bodies counted in full).
    fn cost_of(&self, index: usize) -> usize {
        let writer = self.writers[index].as_ref().expect("a live slot");
        let shared: usize = writer.shared.iter().map(|a| self.shared[a].len).sum();
        writer.owned + shared
    }

    /// The pending connection whose bytes have waited longest.
    fn oldest_pending(&self) -> Option<usize> {
        self.writers
            .iter()
            .enumerate()
            .filter_map(|(i, w)| Some((w.as_ref()?.pending_since?, i)))
            .min()
            .map(|(_, i)| i)
    }

    /// Close `index`: its bytes no longer count, and its connection wakes up to close.
    fn evict(&mut self, index: usize) {
        self.release(index);
        let writer = self.writer(index);
        writer.evicted = true;
        if let Some(waker) = writer.waker.take() {
            waker.wake();
        }
    }
}

/// One connection's place in the [`WriteBudget`]; what it queued is given back when dropped.
pub struct WriteSlot<'a> {
    budget: &'a WriteBudget,
    index: usize,
}

impl WriteSlot<'_> {
    /// Charge a connection's whole queue (`owned` bytes plus `shared` bodies) as it starts
    /// writing it; it must have nothing queued. Past the limit, connections pending longer than
    /// this one are closed until the total fits; a queue that alone passes the limit closes only
    /// its own connection. Returns false when this connection was closed (its bytes are then not
    /// charged and must not be written).
    pub fn queue<'b>(&self, owned: usize, shared: impl Iterator<Item = &'b Arc<[u8]>>) -> bool {
        let budget = self.budget;
        let mut state = budget.state.borrow_mut();
        let writer = state.writer(self.index);
        debug_assert!(
            writer.pending_since.is_none() && writer.owned == 0 && writer.shared.is_empty(),
            "a connection queues again only once its last queue is written"
        );
        if writer.evicted {
            return false;
        }
        let mut addresses = SmallVec::new();
        for body in shared {
            addresses.push(state.add_shared(body));
        }
        state.owned += owned;
        let stamp = state.next_stamp;
        state.next_stamp += 1;
        let writer = state.writer(self.index);
        writer.pending_since = Some(stamp);
        writer.owned = owned;
        writer.shared = addresses;
        if state.total() <= budget.limit {
            return true;
        }
        let alone = state.cost_of(self.index);
        if alone > budget.limit {
            state.evict(self.index);
            drop(state);
            if budget.eviction_log.allow() {
                tracing::warn!(
                    bytes = alone,
                    limit = budget.limit,
                    "closed a connection without its answer: the answer alone is larger than \
                     limits.max_queued_write_bytes_per_core"
                );
            }
            return false;
        }
        let mut evicted = 0;
        while state.total() > budget.limit {
            let oldest = state
                .oldest_pending()
                .expect("bytes are queued, so some connection is pending");
            // This connection pends since now, so it would come last; and once every other is
            // gone, only its own queue is left, which fits.
            assert_ne!(oldest, self.index, "this queue alone fits the limit");
            state.evict(oldest);
            evicted += 1;
        }
        let total = state.total();
        drop(state);
        if budget.eviction_log.allow() {
            tracing::warn!(
                evicted,
                queued = total,
                limit = budget.limit,
                "closed the slowest readers: bytes queued for writing on this core passed \
                 limits.max_queued_write_bytes_per_core"
            );
        }
        true
    }

    /// `bytes` owned bytes of the queue were written.
    pub fn wrote_owned(&self, bytes: usize) {
        let mut state = self.budget.state.borrow_mut();
        let writer = state.writer(self.index);
        if writer.evicted {
            return;
        }
        writer.owned -= bytes;
        state.owned -= bytes;
    }

    /// A shared body of the queue was written.
    pub fn wrote_shared(&self, body: &Arc<[u8]>) {
        let address = address_of(body);
        let mut state = self.budget.state.borrow_mut();
        let writer = state.writer(self.index);
        if writer.evicted {
            return;
        }
        let at = writer
            .shared
            .iter()
            .position(|&a| a == address)
            .expect("a written shared body was queued");
        writer.shared.swap_remove(at);
        state.remove_shared(address);
    }

    /// The whole queue was written: the connection is no longer pending. One chosen for closing
    /// in the meantime (its last write completing as it was chosen) stays open: what it was
    /// closed for is gone anyway.
    pub fn done(&self) {
        let mut state = self.budget.state.borrow_mut();
        let writer = state.writer(self.index);
        debug_assert!(
            writer.owned == 0 && writer.shared.is_empty(),
            "every queued byte was reported written"
        );
        writer.pending_since = None;
        writer.evicted = false;
    }

    /// Resolves once this connection has been closed to bring the core back under its limit.
    pub fn evicted(&self) -> Evicted<'_> {
        Evicted { slot: self }
    }
}

impl Drop for WriteSlot<'_> {
    fn drop(&mut self) {
        let mut state = self.budget.state.borrow_mut();
        state.release(self.index);
        state.writers[self.index] = None;
        state.free.push(self.index);
    }
}

/// See [`WriteSlot::evicted`].
pub struct Evicted<'a> {
    slot: &'a WriteSlot<'a>,
}

impl Future for Evicted<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.slot.budget.state.borrow_mut();
        let writer = state.writer(self.slot.index);
        if writer.evicted {
            return Poll::Ready(());
        }
        match &writer.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => writer.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
