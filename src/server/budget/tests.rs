use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::*;

fn body(len: usize) -> Arc<[u8]> {
    vec![7u8; len].into()
}

fn is_evicted(slot: &WriteSlot<'_>) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    let mut evicted = std::pin::pin!(slot.evicted());
    evicted.as_mut().poll(&mut cx) == Poll::Ready(())
}

#[test]
fn request_charges_grow_within_the_limit_and_are_given_back() {
    let budget = Rc::new(RequestBudget::new(1000));
    let mut a = budget.charge();
    let mut b = budget.charge();
    assert!(a.set(600));
    assert!(!b.set(500), "600 + 500 passes 1000");
    assert_eq!(b.bytes(), 0, "a refused growth changes nothing");
    assert!(b.set(400));
    assert_eq!(budget.used(), 1000);
    assert!(a.set(100), "shrinking always succeeds");
    assert_eq!(budget.used(), 500);
    drop(a);
    assert_eq!(budget.used(), 400, "a dropped charge is given back");
    assert!(b.set(1000), "growing into what others gave back");
}

#[test]
fn owned_bytes_count_until_written() {
    let budget = WriteBudget::new(1000);
    let slot = budget.slot();
    assert!(slot.queue(300, std::iter::empty()));
    assert_eq!(budget.queued(), 300);
    slot.wrote_owned(200);
    assert_eq!(budget.queued(), 100);
    slot.wrote_owned(100);
    slot.done();
    assert_eq!(budget.queued(), 0);
    assert!(
        slot.queue(50, std::iter::empty()),
        "queues again once written"
    );
    drop(slot);
    assert_eq!(
        budget.queued(),
        0,
        "a dropped slot gives back what it queued"
    );
}

#[test]
fn a_shared_body_counts_once_however_many_connections_write_it() {
    let budget = WriteBudget::new(1000);
    let shared = body(600);
    let slots: Vec<_> = (0..10).map(|_| budget.slot()).collect();
    for slot in &slots {
        assert!(slot.queue(10, [&shared].into_iter()));
    }
    assert_eq!(budget.queued(), 600 + 10 * 10);
    assert!(slots.iter().all(|s| !is_evicted(s)));
    slots[0].wrote_shared(&shared);
    assert_eq!(budget.queued(), 600 + 100, "others still write it");
    for slot in &slots[1..] {
        slot.wrote_shared(&shared);
    }
    assert_eq!(budget.queued(), 100, "the last writer gives it back");
}

#[test]
fn past_the_limit_the_connections_pending_longest_are_closed_first() {
    let budget = WriteBudget::new(1000);
    let oldest = budget.slot();
    let older = budget.slot();
    let idle = budget.slot();
    let newest = budget.slot();
    let (a, b) = (body(400), body(400));
    assert!(oldest.queue(0, [&a].into_iter()));
    assert!(older.queue(0, [&b].into_iter()));
    assert!(idle.queue(100, std::iter::empty()));
    idle.wrote_owned(100);
    idle.done();
    assert!(newest.queue(300, std::iter::empty()), "the newcomer stays");
    assert!(is_evicted(&oldest), "1100 > 1000: the oldest goes");
    assert!(!is_evicted(&older) && !is_evicted(&idle) && !is_evicted(&newest));
    assert_eq!(budget.queued(), 700);
    // A closed connection's late reports change nothing; its drop neither.
    oldest.wrote_shared(&a);
    drop(oldest);
    assert_eq!(budget.queued(), 700);
}

#[test]
fn an_answer_alone_over_the_limit_closes_only_its_own_connection() {
    let budget = WriteBudget::new(1000);
    let writing = budget.slot();
    assert!(writing.queue(500, std::iter::empty()));
    let huge = budget.slot();
    assert!(!huge.queue(0, [&body(1001)].into_iter()));
    assert!(is_evicted(&huge));
    assert!(!is_evicted(&writing), "others are not closed for it");
    assert_eq!(budget.queued(), 500);
}

#[test]
fn a_waiting_connection_is_woken_when_closed() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Wake;
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let budget = WriteBudget::new(100);
    let slow = budget.slot();
    assert!(slow.queue(80, std::iter::empty()));
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut evicted = std::pin::pin!(slow.evicted());
    assert!(evicted.as_mut().poll(&mut cx).is_pending());
    let other = budget.slot();
    assert!(other.queue(80, std::iter::empty()));
    assert!(
        flag.0.load(Ordering::SeqCst),
        "the evicted connection was woken"
    );
    assert!(evicted.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn a_connection_whose_queue_was_written_as_it_was_closed_stays_usable() {
    let budget = WriteBudget::new(100);
    let slot = budget.slot();
    assert!(slot.queue(80, std::iter::empty()));
    let other = budget.slot();
    assert!(other.queue(80, std::iter::empty()));
    assert!(is_evicted(&slot));
    slot.wrote_owned(80);
    slot.done();
    assert!(!is_evicted(&slot));
    assert_eq!(budget.queued(), 80, "only the other queue counts");
    other.wrote_owned(80);
    other.done();
    assert!(slot.queue(10, std::iter::empty()));
    assert_eq!(budget.queued(), 10);
}
