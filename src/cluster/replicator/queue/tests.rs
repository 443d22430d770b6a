use protocol::rng::Rng;
use shards::ReplicaKind::{self, Heartbeat, Register, Unregister};

use super::*;

const WINDOW: u64 = 100;
const STALL: u64 = 30_000;

fn limits() -> Limits {
    Limits {
        capacity: 10,
        heartbeat_window_ms: WINDOW,
        heartbeat_batch: 4,
        write_batch: 3,
        stall_ms: STALL,
    }
}

fn json(tag: &str) -> Arc<[u8]> {
    Arc::from(tag.as_bytes())
}

fn push(q: &mut PeerQueue, kind: ReplicaKind, tag: &str, now: u64) -> Pushed {
    q.push(kind, json(tag), now)
}

fn tags(batch: &[Entry]) -> Vec<String> {
    batch
        .iter()
        .map(|e| String::from_utf8(e.json.to_vec()).unwrap())
        .collect()
}

/// Take the next batch at `now` (which must be due) and answer it with `verdict` for all.
fn send(q: &mut PeerQueue, now: u64, verdict: Verdict) -> (ReplicaKind, Vec<String>) {
    assert_eq!(q.next(now), Next::Send, "a batch is due at {now}");
    let mut batch = Vec::new();
    let ticket = q.take_batch(&mut batch);
    let verdicts = vec![verdict; batch.len()];
    q.complete(ticket, &batch, &verdicts, now);
    (ticket.kind, tags(&batch))
}

fn strings(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| t.to_string()).collect()
}

/// The instance a test entry is of: its tag up to a `:`.
fn key(json: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(json).ok()?;
    text.split(':').next().map(str::to_string)
}

/// Begin the resync due at `now` with a snapshot of these tags.
fn begin(q: &mut PeerQueue, snapshot: &[&str], now: u64) -> Began {
    assert_eq!(q.next(now), Next::Resync, "a resync is due at {now}");
    q.begin_resync(snapshot.iter().map(|t| json(t)).collect(), key, now)
}

/// Answer every batch due at `now` with `Accepted`, until the queue has none due.
fn send_all(q: &mut PeerQueue, now: u64) -> Vec<(ReplicaKind, Vec<String>)> {
    let mut sent = Vec::new();
    while q.next(now) == Next::Send {
        sent.push(send(q, now, Verdict::Accepted));
    }
    sent
}

/// What must hold between any two steps.
fn check_invariants(q: &PeerQueue) {
    let resync = q.resync_waiting();
    assert!(
        q.waiting.iter().take(resync).all(|e| e.resync),
        "resync first"
    );
    assert!(
        q.waiting.iter().skip(resync).all(|e| !e.resync),
        "then live"
    );
    assert!(
        q.waiting
            .iter()
            .zip(q.waiting.iter().skip(1))
            .all(|(a, b)| a.queued_ms <= b.queued_ms),
        "oldest first"
    );
    let run = match q.waiting.front() {
        Some(front) => q
            .waiting
            .iter()
            .take_while(|e| e.kind == front.kind)
            .count(),
        None => 0,
    };
    assert_eq!(q.head_run, run, "the head run");
    assert!(
        q.kept.len() <= q.limits.capacity,
        "kept unregisters bounded"
    );
    assert!(q.kept.iter().all(|e| e.kind == Unregister && !e.resync));
    assert!(
        q.kept.is_empty() || q.resync_marked,
        "kept for a marked resync"
    );
    let batch = q.limits.write_batch.max(q.limits.heartbeat_batch);
    assert!(
        q.live_len() <= q.limits.capacity + batch,
        "live entries bounded"
    );
}

#[test]
fn heartbeats_wait_for_the_window_then_go_together() {
    let mut q = PeerQueue::new(limits());
    assert_eq!(q.next(0), Next::Idle);
    push(&mut q, Heartbeat, "a", 10);
    push(&mut q, Heartbeat, "b", 50);
    assert_eq!(q.next(50), Next::Wait(10 + WINDOW), "timed from the first");
    assert_eq!(q.next(10 + WINDOW - 1), Next::Wait(10 + WINDOW));
    assert_eq!(
        send(&mut q, 10 + WINDOW, Verdict::Accepted),
        (Heartbeat, strings(&["a", "b"]))
    );
    assert_eq!(q.next(500), Next::Idle);
}

#[test]
fn a_full_heartbeat_run_goes_before_its_window_ends() {
    let mut q = PeerQueue::new(limits());
    for tag in ["a", "b", "c", "d", "e"] {
        push(&mut q, Heartbeat, tag, 10);
    }
    assert_eq!(
        send(&mut q, 11, Verdict::Accepted),
        (Heartbeat, strings(&["a", "b", "c", "d"]))
    );
    assert_eq!(q.next(11), Next::Wait(10 + WINDOW), "the rest waits");
}

#[test]
fn registers_and_unregisters_go_at_once_batched_only_when_queued_together() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Register, "a", 10);
    assert_eq!(
        send(&mut q, 10, Verdict::Accepted),
        (Register, strings(&["a"]))
    );
    for tag in ["b", "c", "d", "e"] {
        push(&mut q, Unregister, tag, 20);
    }
    assert_eq!(
        send(&mut q, 20, Verdict::Accepted),
        (Unregister, strings(&["b", "c", "d"]))
    );
    assert_eq!(
        send(&mut q, 20, Verdict::Accepted),
        (Unregister, strings(&["e"]))
    );
    assert_eq!(q.next(20), Next::Idle);
}

#[test]
fn runs_keep_the_order_between_kinds_and_a_closed_heartbeat_run_does_not_wait() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Heartbeat, "h1", 10);
    push(&mut q, Heartbeat, "h2", 11);
    push(&mut q, Unregister, "u1", 12);
    push(&mut q, Heartbeat, "h3", 13);
    push(&mut q, Register, "r1", 14);
    push(&mut q, Register, "r2", 15);
    assert_eq!(
        send(&mut q, 15, Verdict::Accepted),
        (Heartbeat, strings(&["h1", "h2"]))
    );
    assert_eq!(
        send(&mut q, 15, Verdict::Accepted),
        (Unregister, strings(&["u1"]))
    );
    assert_eq!(
        send(&mut q, 15, Verdict::Accepted),
        (Heartbeat, strings(&["h3"]))
    );
    assert_eq!(
        send(&mut q, 15, Verdict::Accepted),
        (Register, strings(&["r1", "r2"]))
    );
}

#[test]
fn a_failed_batch_is_retried_first_after_a_growing_bounded_backoff() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Heartbeat, "h1", 0);
    push(&mut q, Unregister, "u1", 1);
    let mut now = 1;
    let mut waits = Vec::new();
    for _ in 0..8 {
        assert_eq!(
            send(&mut q, now, Verdict::Retry),
            (Heartbeat, strings(&["h1"]))
        );
        let Next::Wait(until) = q.next(now) else {
            panic!("a failed request waits");
        };
        waits.push(until - now);
        now = until;
    }
    assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
    // The heartbeat still goes before the unregister queued after it.
    assert_eq!(
        send(&mut q, now, Verdict::Accepted),
        (Heartbeat, strings(&["h1"]))
    );
    assert_eq!(
        send(&mut q, now, Verdict::Accepted),
        (Unregister, strings(&["u1"]))
    );
    // Success resets the backoff.
    push(&mut q, Register, "r1", now);
    assert_eq!(send(&mut q, now, Verdict::Retry).1, strings(&["r1"]));
    assert_eq!(q.next(now), Next::Wait(now + FIRST_RETRY_MS));
    let f = q.take_figures();
    assert_eq!((f.sent, f.failed_requests), (2, 9));
}

#[test]
fn a_partial_answer_requeues_only_what_may_be_retried_in_order() {
    let mut q = PeerQueue::new(limits());
    for tag in ["a", "b", "c"] {
        push(&mut q, Register, tag, 5);
    }
    push(&mut q, Register, "d", 6);
    push(&mut q, Unregister, "x", 7);
    assert_eq!(q.next(7), Next::Send);
    let mut batch = Vec::new();
    let ticket = q.take_batch(&mut batch);
    assert_eq!(tags(&batch), strings(&["a", "b", "c"]));
    assert_eq!(q.unacked(), 5, "in flight counts as unacknowledged");
    let done = q.complete(
        ticket,
        &batch,
        &[Verdict::Retry, Verdict::Rejected, Verdict::Retry],
        20,
    );
    assert_eq!(
        done,
        Completed {
            accepted: 0,
            rejected: 1,
            retried: 2
        }
    );
    let now = 20 + FIRST_RETRY_MS;
    // The retried registers join the register waiting behind them, in their order.
    assert_eq!(
        send(&mut q, now, Verdict::Accepted),
        (Register, strings(&["a", "c", "d"]))
    );
    assert_eq!(
        send(&mut q, now, Verdict::Accepted),
        (Unregister, strings(&["x"]))
    );
    let f = q.take_figures();
    assert_eq!((f.sent, f.rejected, f.failed_requests), (4, 1, 1));
}

#[test]
fn the_lag_is_the_last_acks_or_the_oldest_pending_writes_age_whichever_is_larger() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Register, "a", 100);
    push(&mut q, Register, "b", 130);
    assert_eq!(q.next(140), Next::Send);
    let mut batch = Vec::new();
    let ticket = q.take_batch(&mut batch);
    assert_eq!(q.lag_ms(145), Some(45), "in flight since 100");
    q.complete(ticket, &batch, &[Verdict::Retry, Verdict::Accepted], 150);
    assert_eq!(q.take_figures().last_ack_ms, Some(150));
    assert_eq!(
        q.lag_ms(150),
        Some(50),
        "the retried entry is still pending"
    );
    send(&mut q, 400, Verdict::Accepted);
    assert_eq!(q.take_figures().last_ack_ms, Some(400));
    assert_eq!(q.lag_ms(400), Some(300));
    assert_eq!(q.lag_ms(900), Some(300), "nothing pending: the last ack's");
    push(&mut q, Register, "c", 500);
    assert_eq!(q.lag_ms(1_000), Some(500));
    send(&mut q, 1_000, Verdict::Rejected);
    assert_eq!(q.take_figures().last_ack_ms, None, "nothing acknowledged");
    assert_eq!(q.lag_ms(2_000), Some(300));
}

#[test]
fn a_full_queue_drops_heartbeats_before_any_write() {
    let mut q = PeerQueue::new(limits());
    for n in 0..5 {
        push(&mut q, Heartbeat, &format!("h{n}"), 1);
        push(&mut q, Register, &format!("r{n}"), 1);
    }
    assert_eq!(push(&mut q, Heartbeat, "late", 2), Pushed::DroppedHeartbeat);
    assert_eq!(q.unacked(), 10);
    assert_eq!(push(&mut q, Unregister, "u", 2), Pushed::MadeRoom);
    assert!(!q.resyncing());
    assert_eq!(q.unacked(), 6, "the five registers and the unregister");
    let f = q.take_figures();
    assert_eq!((f.dropped_heartbeats, f.resyncs), (6, 0));
    check_invariants(&q);
    assert_eq!(
        send_all(&mut q, 2),
        [
            (Register, strings(&["r0", "r1", "r2"])),
            (Register, strings(&["r3", "r4"])),
            (Unregister, strings(&["u"])),
        ]
    );
    assert_eq!(q.next(2), Next::Idle);
}

#[test]
fn a_queue_full_of_writes_resyncs_sending_first_the_unregisters_the_snapshot_does_not_undo() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Unregister, "a", 1);
    push(&mut q, Register, "b", 1);
    push(&mut q, Unregister, "c", 1);
    push(&mut q, Register, "c", 1);
    push(&mut q, Unregister, "d", 1);
    for tag in ["e", "f", "g", "h", "i"] {
        push(&mut q, Register, tag, 1);
    }
    assert_eq!(push(&mut q, Register, "j", 2), Pushed::MarkedResync);
    assert!(q.resyncing());
    assert_eq!(
        q.unacked(),
        4,
        "three unregisters kept, the write itself queued"
    );
    assert_eq!(q.take_figures().resyncs, 1);
    check_invariants(&q);
    // "c" was registered again: the snapshot has it, its unregister must not follow.
    let began = begin(&mut q, &["b", "c", "e", "f", "g", "h", "i", "j"], 3);
    assert_eq!(
        began,
        Began {
            unregisters: 2,
            registers: 8
        }
    );
    check_invariants(&q);
    assert_eq!(
        send_all(&mut q, 3),
        [
            (Unregister, strings(&["a", "d"])),
            (Register, strings(&["b", "c", "e"])),
            (Register, strings(&["f", "g", "h"])),
            (Register, strings(&["i", "j", "j"])),
        ]
    );
    assert!(!q.resyncing());
    assert_eq!(q.next(3), Next::Idle);
}

#[test]
fn snapshot_entries_do_not_count_against_the_capacity() {
    let mut q = PeerQueue::new(limits());
    for n in 0..10 {
        push(&mut q, Register, &format!("r{n}"), 1);
    }
    assert_eq!(push(&mut q, Register, "over", 1), Pushed::MarkedResync);
    let snapshot: Vec<Arc<[u8]>> = (0..50).map(|n| json(&format!("s{n}"))).collect();
    assert_eq!(q.next(1), Next::Resync);
    q.begin_resync(snapshot, key, 1);
    for n in 0..9 {
        assert!(
            matches!(
                push(&mut q, Heartbeat, &format!("h{n}"), 2),
                Pushed::Queued { .. }
            ),
            "{n}: the snapshot leaves room for the capacity"
        );
    }
    assert_eq!(q.unacked(), 60);
    assert_eq!(push(&mut q, Heartbeat, "h9", 2), Pushed::DroppedHeartbeat);
}

#[test]
fn a_mark_leaves_the_writes_of_the_batch_in_flight_that_the_peer_does_not_take_to_the_resync() {
    for (kind, tag) in [(Register, "a"), (Unregister, "x")] {
        let mut q = PeerQueue::new(limits());
        push(&mut q, kind, tag, 1);
        assert_eq!(q.next(1), Next::Send);
        let mut batch = Vec::new();
        let ticket = q.take_batch(&mut batch);
        for n in 0..9 {
            push(&mut q, Register, &format!("r{n}"), 2);
        }
        assert_eq!(push(&mut q, Register, "over", 2), Pushed::MarkedResync);
        push(&mut q, Register, "after", 2);
        q.complete(ticket, &batch, &[Verdict::Retry], 3);
        check_invariants(&q);
        let now = 3 + FIRST_RETRY_MS;
        assert_eq!(q.next(now), Next::Resync);
        q.begin_resync(vec![json("s")], key, now);
        let mut expected = Vec::new();
        if kind == Unregister {
            expected.push((Unregister, strings(&["x"])));
            assert_eq!(q.unacked(), 4, "the unregister was kept");
        } else {
            assert_eq!(
                q.unacked(),
                3,
                "the register was dropped: the snapshot has it"
            );
        }
        expected.push((Register, strings(&["s", "over", "after"])));
        assert_eq!(send_all(&mut q, now), expected, "{tag}");
        assert_eq!(q.next(now), Next::Idle);
    }
}

#[test]
fn an_overflow_during_a_resync_does_not_restart_it_but_follows_it() {
    let mut q = PeerQueue::new(limits());
    for n in 0..10 {
        push(&mut q, Register, &format!("r{n}"), 1);
    }
    assert_eq!(push(&mut q, Register, "over", 1), Pushed::MarkedResync);
    let snapshot: Vec<String> = (0..20).map(|n| format!("s{n}")).collect();
    let snapshot: Vec<&str> = snapshot.iter().map(String::as_str).collect();
    begin(&mut q, &snapshot, 1);
    let mut sent = vec![send(&mut q, 1, Verdict::Accepted)];
    for n in 0..9 {
        push(&mut q, Register, &format!("q{n}"), 2);
    }
    assert_eq!(push(&mut q, Unregister, "u", 2), Pushed::MarkedResync);
    push(&mut q, Register, "q9", 2);
    check_invariants(&q);
    // The snapshot being sent goes on.
    sent.extend(send_all(&mut q, 2));
    let snapshot_sent: Vec<String> = sent.iter().flat_map(|(_, tags)| tags.clone()).collect();
    assert_eq!(
        snapshot_sent,
        strings(&snapshot),
        "each snapshot entry once, in order"
    );
    assert!(sent.iter().all(|(kind, _)| *kind == Register));
    // Then the resync asked for meanwhile, ahead of what was queued after its mark.
    assert!(q.resyncing());
    begin(&mut q, &["t0", "t1"], 3);
    assert_eq!(
        send_all(&mut q, 3),
        [
            (Register, strings(&["t0", "t1"])),
            (Unregister, strings(&["u"])),
            (Register, strings(&["q9"])),
        ]
    );
    assert!(!q.resyncing());
    assert_eq!(q.take_figures().resyncs, 2);
}

/// The overload the review found: heartbeats and registers arriving faster than the peer takes
/// them while a snapshot is sent. The snapshot gets through, once, in as many requests as it
/// has batches; the resyncs asked for meanwhile follow it.
#[test]
fn a_snapshot_gets_through_a_steady_overload() {
    let mut q = PeerQueue::new(limits());
    for n in 0..10 {
        push(&mut q, Register, &format!("r{n}"), 0);
    }
    assert_eq!(push(&mut q, Register, "over", 0), Pushed::MarkedResync);
    let snapshot: Vec<String> = (0..100).map(|n| format!("s{n}")).collect();
    let snapshot: Vec<&str> = snapshot.iter().map(String::as_str).collect();
    begin(&mut q, &snapshot, 0);
    let mut accepted = Vec::new();
    let mut pushed = Vec::new();
    for now in 1..=34 {
        for n in 0..5 {
            pushed.push(push(&mut q, Heartbeat, &format!("h{now}.{n}"), now));
        }
        pushed.push(push(&mut q, Register, &format!("w{now}"), now));
        accepted.extend(send(&mut q, now, Verdict::Accepted).1);
        check_invariants(&q);
    }
    // The last batch may carry live registers queued behind the snapshot.
    assert_eq!(accepted[..100], strings(&snapshot));
    assert!(accepted[100..].iter().all(|tag| tag.starts_with('w')));
    assert!(pushed.contains(&Pushed::DroppedHeartbeat));
    assert!(pushed.contains(&Pushed::MadeRoom));
    assert!(pushed.contains(&Pushed::MarkedResync));
    assert_eq!(q.next(35), Next::Resync, "the resync asked for meanwhile");
}

#[test]
fn unregisters_beyond_the_capacity_of_a_pending_resync_are_dropped_and_counted() {
    let mut q = PeerQueue::new(Limits {
        capacity: 3,
        ..limits()
    });
    for tag in ["r0", "r1", "r2"] {
        push(&mut q, Register, tag, 1);
    }
    assert_eq!(push(&mut q, Register, "over", 1), Pushed::MarkedResync);
    begin(&mut q, &["s"], 1);
    q.take_figures();
    // The snapshot stays unsent while the queue overflows with unregisters three times.
    for n in 0..9 {
        push(&mut q, Unregister, &format!("u{n}"), 2);
        check_invariants(&q);
    }
    assert_eq!(q.kept.len(), 3, "u0..u2");
    let f = q.take_figures();
    assert_eq!((f.resyncs, f.dropped_unregisters), (1, 5), "u3..u7");
    assert_eq!(
        send_all(&mut q, 2),
        [(Register, strings(&["s"]))],
        "the live writes wait for the resync marked after them"
    );
    begin(&mut q, &[], 2);
    assert_eq!(
        send_all(&mut q, 2),
        [
            (Unregister, strings(&["u0", "u1", "u2"])),
            (Unregister, strings(&["u8"])),
        ]
    );
}

#[test]
fn a_peer_that_answers_nothing_for_the_ttl_is_marked_for_a_resync() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Heartbeat, "a", 0);
    let mut now = WINDOW;
    while now <= STALL {
        match q.next(now) {
            Next::Send => {
                send(&mut q, now, Verdict::Retry);
            }
            Next::Wait(until) => now = until,
            other => panic!("{other:?} before the TTL passed"),
        }
    }
    assert_eq!(q.next(now), Next::Resync);
    assert_eq!(q.unacked(), 0, "the queue was cleared");
    assert_eq!(q.take_figures().resyncs, 1);
    q.begin_resync(Vec::new(), key, now);
    assert!(!q.resyncing(), "an empty shard has nothing to resync");
    assert_eq!(q.next(now), Next::Idle);
}

#[test]
fn a_peer_that_keeps_answering_is_never_stalled() {
    let mut q = PeerQueue::new(limits());
    let mut now = 0;
    for n in 0..1000 {
        push(&mut q, Register, &format!("r{n}"), now);
        push(&mut q, Register, &format!("q{n}"), now);
        // One of two accepted per request: the backlog grows but the peer answers.
        assert_eq!(q.next(now), Next::Send);
        let mut batch = Vec::new();
        let ticket = q.take_batch(&mut batch);
        let verdicts: Vec<Verdict> = (0..batch.len())
            .map(|i| {
                if i == 0 {
                    Verdict::Accepted
                } else {
                    Verdict::Retry
                }
            })
            .collect();
        q.complete(ticket, &batch, &verdicts, now);
        now += 5_000;
        if q.next(now) == Next::Resync {
            panic!("resync at {now}");
        }
        while q.unacked() > 5 {
            send(&mut q, now, Verdict::Accepted);
        }
    }
    assert_eq!(q.take_figures().resyncs, 0);
}

#[test]
fn the_sender_is_woken_only_when_it_may_have_to_act() {
    let mut q = PeerQueue::new(limits());
    assert!(
        push(&mut q, Heartbeat, "a", 1).wakes(),
        "an empty queue's sender waits for anything"
    );
    assert!(
        !push(&mut q, Heartbeat, "b", 1).wakes(),
        "the window is unchanged"
    );
    assert!(!push(&mut q, Heartbeat, "c", 1).wakes());
    assert!(push(&mut q, Heartbeat, "d", 1).wakes(), "the run is full");
    assert!(!push(&mut q, Heartbeat, "e", 1).wakes());
    let mut q = PeerQueue::new(limits());
    push(&mut q, Heartbeat, "a", 1);
    assert!(push(&mut q, Register, "r", 1).wakes(), "the run is closed");
    assert!(!push(&mut q, Heartbeat, "b", 1).wakes());
}

#[test]
fn the_lag_of_a_peer_that_answers_nothing_grows_across_resyncs() {
    let mut q = PeerQueue::new(limits());
    assert_eq!(q.lag_ms(0), None, "nothing sent, nothing pending");
    push(&mut q, Register, "a", 0);
    let mut now = 0;
    let mut begun = 0;
    while now < 4 * STALL {
        match q.next(now) {
            Next::Send => {
                send(&mut q, now, Verdict::Retry);
            }
            Next::Wait(until) => now = until,
            Next::Resync => {
                q.begin_resync(vec![json("a")], key, now);
                begun += 1;
            }
            Next::Idle => panic!("the register is pending"),
        }
        check_invariants(&q);
        assert_eq!(q.lag_ms(now), Some(now), "as old as the register, at {now}");
    }
    assert_eq!(
        begun, 1,
        "the snapshot waits for the peer: no fresh one replaces it"
    );
    assert!(q.resyncing());
    // The peer answers again: its lag is that of the last batch it took, until the next one.
    let back = now;
    assert_eq!(
        send(&mut q, back, Verdict::Accepted),
        (Register, strings(&["a"]))
    );
    assert_eq!(q.lag_ms(back + 1_000), Some(back));
    // The resync a later stall asked for follows; once it is through, the lag stops growing.
    begin(&mut q, &["a"], back);
    send_all(&mut q, back);
    assert!(!q.resyncing());
    let lag = q.lag_ms(back).unwrap();
    assert!(
        lag < back,
        "{lag}: the snapshot stands for less than the first did"
    );
    assert_eq!(q.lag_ms(back + 60_000), Some(lag), "nothing pending");
    push(&mut q, Register, "b", back + 60_000);
    send(&mut q, back + 60_010, Verdict::Accepted);
    assert_eq!(q.lag_ms(back + 70_000), Some(10));
}

/// Random writes of a registry, answers (held in flight across pushes), clock steps and small
/// capacities, so heartbeats are dropped, queues overflow, resyncs are marked while others are
/// sent, and peers stall. A cooperative peer then takes what is left: the peer's registry (a
/// replicated heartbeat registers an unknown instance, as Java's does) equals the source's,
/// except for instances whose unregister was dropped and counted.
#[test]
fn random_traffic_leaves_the_peer_with_the_sources_registry() {
    const INSTANCES: usize = 12;
    type Registry = std::collections::BTreeMap<String, String>;
    fn text(e: &Entry) -> String {
        String::from_utf8(e.json.to_vec()).unwrap()
    }
    fn apply(peer: &mut Registry, e: &Entry) {
        let key = key(&e.json).unwrap();
        match e.kind {
            Register => {
                peer.insert(key, text(e));
            }
            Heartbeat => {
                peer.entry(key).or_insert_with(|| text(e));
            }
            Unregister => {
                peer.remove(&key);
            }
        }
    }
    /// The peer's answer to a batch: per instance, all accepted or all to retry.
    fn answer(
        q: &mut PeerQueue,
        peer: &mut Registry,
        (ticket, batch): (Ticket, Vec<Entry>),
        now: u64,
        rng: &mut Rng,
        cooperative: bool,
    ) {
        let accepted: Vec<bool> = (0..INSTANCES)
            .map(|_| cooperative || rng.chance(90))
            .collect();
        let verdicts: Vec<Verdict> = batch
            .iter()
            .map(|e| {
                let n: usize = key(&e.json).unwrap()[1..].parse().unwrap();
                if accepted[n] {
                    Verdict::Accepted
                } else {
                    Verdict::Retry
                }
            })
            .collect();
        for (e, v) in batch.iter().zip(&verdicts) {
            if *v == Verdict::Accepted {
                apply(peer, e);
            }
        }
        q.complete(ticket, &batch, &verdicts, now);
    }
    let (mut strict, mut resyncs, mut made_room, mut marked_during_resync) = (0, 0, 0, 0);
    for seed in 0..60 {
        let mut rng = Rng::new(seed);
        let mut q = PeerQueue::new(Limits {
            capacity: 8 + rng.below(24),
            heartbeat_window_ms: rng.below(50) as u64,
            heartbeat_batch: 1 + rng.below(6),
            write_batch: 1 + rng.below(6),
            stall_ms: 200 + rng.below(2_000) as u64,
        });
        let (mut source, mut peer) = (Registry::new(), Registry::new());
        let mut seq = 0u64;
        let mut now = 0u64;
        let mut in_flight: Option<(Ticket, Vec<Entry>)> = None;
        let mut dropped_unregisters = 0;
        // Bursts overflow the queue; calm spells let the peer catch up.
        let mut burst = false;
        for _ in 0..3_000 {
            burst ^= rng.chance(1);
            let writes = if burst { rng.below(4) } else { rng.below(2) };
            for _ in 0..writes {
                let key = format!("k{}", rng.below(INSTANCES));
                seq += 1;
                let (kind, json) = match (source.get(&key), rng.below(10)) {
                    (Some(stored), 0..=4) => (Heartbeat, stored.clone()),
                    (Some(stored), 5..=6) => {
                        let stored = stored.clone();
                        source.remove(&key);
                        (Unregister, stored)
                    }
                    // An unregister of an instance this node does not hold is replicated too.
                    (None, 0) => (Unregister, format!("{key}:{seq}")),
                    _ => {
                        let json = format!("{key}:{seq}");
                        source.insert(key, json.clone());
                        (Register, json)
                    }
                };
                let resync_being_sent = q.resync_left > 0;
                match q.push(kind, Arc::from(json.as_bytes()), now) {
                    Pushed::MadeRoom => made_room += 1,
                    Pushed::MarkedResync if resync_being_sent => marked_during_resync += 1,
                    _ => {}
                }
                check_invariants(&q);
            }
            if let Some(batch) = in_flight.take() {
                if rng.chance(70) {
                    answer(&mut q, &mut peer, batch, now, &mut rng, false);
                } else {
                    in_flight = Some(batch);
                }
            } else {
                match q.next(now) {
                    Next::Send => {
                        let mut batch = Vec::new();
                        let ticket = q.take_batch(&mut batch);
                        assert!(batch.iter().all(|e| e.kind == ticket.kind), "one kind");
                        in_flight = Some((ticket, batch));
                    }
                    Next::Resync => {
                        let snapshot = source.values().map(|j| json(j)).collect();
                        q.begin_resync(snapshot, key, now);
                    }
                    Next::Wait(until) => now = until.min(now + rng.below(30) as u64 + 1),
                    Next::Idle => {}
                }
            }
            check_invariants(&q);
            now += rng.below(3) as u64;
            let f = q.take_figures();
            resyncs += f.resyncs;
            dropped_unregisters += f.dropped_unregisters;
        }
        // A cooperative peer takes what is left.
        if let Some(batch) = in_flight.take() {
            answer(&mut q, &mut peer, batch, now, &mut rng, true);
        }
        while q.unacked() > 0 || q.resyncing() {
            match q.next(now) {
                Next::Send => {
                    let mut batch = Vec::new();
                    let ticket = q.take_batch(&mut batch);
                    answer(&mut q, &mut peer, (ticket, batch), now, &mut rng, true);
                }
                Next::Resync => {
                    let snapshot = source.values().map(|j| json(j)).collect();
                    q.begin_resync(snapshot, key, now);
                }
                Next::Wait(until) => now = until,
                Next::Idle => panic!("seed {seed}: idle with writes pending"),
            }
        }
        dropped_unregisters += q.take_figures().dropped_unregisters;
        let lingering: Vec<&String> = peer
            .iter()
            .filter(|(k, v)| source.get(*k) != Some(*v))
            .map(|(k, _)| k)
            .collect();
        assert!(
            source.iter().all(|(k, v)| peer.get(k) == Some(v)),
            "seed {seed}: the peer misses or has stale instances: {peer:?} vs {source:?}"
        );
        assert!(
            lingering.iter().all(|k| !source.contains_key(*k))
                && lingering.len() as u64 <= dropped_unregisters,
            "seed {seed}: {lingering:?} linger with {dropped_unregisters} unregisters dropped"
        );
        if dropped_unregisters == 0 {
            strict += 1;
        }
    }
    assert!(strict >= 30, "{strict} seeds without a dropped unregister");
    assert!(
        resyncs > 0 && made_room > 0 && marked_during_resync > 0,
        "the overflow paths ran"
    );
}
