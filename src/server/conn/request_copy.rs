//! A connection's copies of a request body while the request is handled: the de-chunked body
//! (up to `limits.max_body_bytes`) and the inflated body (up to `limits.max_decoded_body_bytes`).
//! Like a read buffer that grew, what a copy holds past [`RETAINED_BUFFER`] is charged to the
//! core's request budget (`limits.max_buffered_request_bytes_per_core`), so requests in
//! progress cannot hold more than it however many arrive at once. A copy that does not fit is
//! refused: it is emptied and the connection answers 503 and closes.
//!
//! Who grows a copy decides how it is charged. Room can be reserved before growing when the
//! growth is known in advance ([`RequestCopy::try_reserve`], used step by step while inflating).
//! The parser makes the de-chunked copy in one call, of a size only it knows; that copy is
//! charged as soon as the call returns ([`RequestCopy::fill`]), before the core runs anything
//! else, so at most that one copy per core is ever held beyond the budget, and only inside
//! the call.

use std::ops::Deref;

use super::RETAINED_BUFFER;
use crate::server::budget::RequestCharge;

pub struct RequestCopy {
    bytes: Vec<u8>,
    /// Covers the capacity of `bytes` past [`RETAINED_BUFFER`] (more while a reservation is
    /// being used).
    charge: RequestCharge,
    /// The budget had no room for this request's copy.
    refused: bool,
}

impl RequestCopy {
    pub fn new(charge: RequestCharge) -> Self {
        RequestCopy {
            bytes: Vec::new(),
            charge,
            refused: false,
        }
    }

    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Charge room for the copy to grow to `capacity` bytes, before it grows. False (and
    /// nothing changes) when the core's budget has no room.
    pub fn try_reserve(&mut self, capacity: usize) -> bool {
        let capacity = capacity.max(self.bytes.capacity());
        self.charge.set(capacity.saturating_sub(RETAINED_BUFFER))
    }

    /// Let `grow` change the copy, then charge what it holds (a reservation made for it is
    /// given back down to that). The second value is false when the budget has no room for it:
    /// the copy is then emptied and refused.
    pub fn fill<R>(&mut self, grow: impl FnOnce(&mut Vec<u8>) -> R) -> (R, bool) {
        let result = grow(&mut self.bytes);
        let held = self.bytes.capacity().saturating_sub(RETAINED_BUFFER);
        if self.charge.set(held) {
            return (result, true);
        }
        self.refuse();
        (result, false)
    }

    /// The budget has no room for this request's copy: empty it and mark it refused.
    pub fn refuse(&mut self) {
        self.bytes = Vec::new();
        self.charge.set(0);
        self.refused = true;
    }

    /// Whether the budget refused this request's copy (see [`RequestCopy::finish`]).
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// The request is done: a copy that grew past [`RETAINED_BUFFER`] is freed and its charge
    /// given back; a smaller one is kept for the next request. Returns the bytes freed.
    pub fn finish(&mut self) -> usize {
        self.refused = false;
        let capacity = self.bytes.capacity();
        if capacity <= RETAINED_BUFFER {
            debug_assert_eq!(self.charge.bytes(), 0, "a retained copy is not charged");
            return 0;
        }
        self.bytes = Vec::new();
        self.charge.set(0);
        capacity
    }
}

impl Deref for RequestCopy {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::budget::Budgets;

    const LIMIT: usize = 4 * RETAINED_BUFFER;

    #[test]
    fn a_copy_is_charged_past_the_retained_size_and_freed_when_the_request_is_done() {
        let budgets = Budgets::new(0, LIMIT);
        let mut copy = RequestCopy::new(budgets.requests.charge());
        let ((), fits) = copy.fill(|v| v.extend_from_slice(&[1; 100]));
        assert!(fits);
        assert_eq!(budgets.requests.used(), 0, "a small copy costs no budget");
        assert_eq!(copy.finish(), 0, "and is kept");
        let ((), fits) = copy.fill(|v| v.reserve_exact(3 * RETAINED_BUFFER));
        assert!(fits);
        let charged = copy.capacity() - RETAINED_BUFFER;
        assert_eq!(budgets.requests.used(), charged);
        assert_eq!(copy.finish(), charged + RETAINED_BUFFER);
        assert_eq!(copy.capacity(), 0);
        assert_eq!(budgets.requests.used(), 0);
    }

    #[test]
    fn a_copy_past_the_budget_is_refused_and_emptied() {
        let budgets = Budgets::new(0, LIMIT);
        let mut other = budgets.requests.charge();
        assert!(other.set(LIMIT - RETAINED_BUFFER));
        let mut copy = RequestCopy::new(budgets.requests.charge());
        assert!(
            copy.try_reserve(2 * RETAINED_BUFFER),
            "exactly the room left"
        );
        assert!(!copy.try_reserve(2 * RETAINED_BUFFER + 1));
        assert!(!copy.refused(), "the caller decides");
        assert_eq!(budgets.requests.used(), LIMIT);
        copy.refuse();
        assert!(copy.refused() && copy.capacity() == 0);
        assert_eq!(budgets.requests.used(), LIMIT - RETAINED_BUFFER);
        copy.finish();
        assert!(!copy.refused(), "the next request starts afresh");
        let ((), fits) = copy.fill(|v| v.extend_from_slice(&vec![7; 3 * RETAINED_BUFFER]));
        assert!(!fits && copy.refused() && copy.is_empty());
        assert_eq!(
            budgets.requests.used(),
            LIMIT - RETAINED_BUFFER,
            "a refused copy holds nothing"
        );
    }

    #[test]
    fn filling_gives_back_what_a_reservation_did_not_use() {
        let budgets = Budgets::new(0, LIMIT);
        let mut copy = RequestCopy::new(budgets.requests.charge());
        assert!(copy.try_reserve(LIMIT));
        assert_eq!(budgets.requests.used(), LIMIT - RETAINED_BUFFER);
        let ((), fits) = copy.fill(|v| v.reserve_exact(2 * RETAINED_BUFFER));
        assert!(fits);
        assert_eq!(budgets.requests.used(), copy.capacity() - RETAINED_BUFFER);
    }
}
