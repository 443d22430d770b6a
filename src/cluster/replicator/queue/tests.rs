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
fn lag_is_measured_from_the_oldest_accepted_entry_of_the_last_acknowledged_batch() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Register, "a", 100);
    push(&mut q, Register, "b", 130);
    assert_eq!(q.next(140), Next::Send);
    let mut batch = Vec::new();
    let ticket = q.take_batch(&mut batch);
    q.complete(ticket, &batch, &[Verdict::Retry, Verdict::Accepted], 150);
    assert_eq!(
        q.take_figures().last_ack,
        Some(Ack {
            at_ms: 150,
            lag_ms: 20
        }),
        "the retried entry is not acknowledged"
    );
    send(&mut q, 400, Verdict::Accepted);
    assert_eq!(
        q.take_figures().last_ack,
        Some(Ack {
            at_ms: 400,
            lag_ms: 300
        })
    );
    push(&mut q, Register, "c", 500);
    send(&mut q, 500, Verdict::Rejected);
    assert_eq!(q.take_figures().last_ack, None, "nothing acknowledged");
}

#[test]
fn a_full_queue_drops_heartbeats_but_a_register_marks_a_resync() {
    let mut q = PeerQueue::new(limits());
    for n in 0..10 {
        assert!(matches!(
            push(&mut q, Heartbeat, &format!("h{n}"), 1),
            Pushed::Queued { .. }
        ));
    }
    assert_eq!(
        push(&mut q, Heartbeat, "dropped", 2),
        Pushed::DroppedHeartbeat
    );
    assert_eq!(q.unacked(), 10);
    assert_eq!(push(&mut q, Unregister, "u", 3), Pushed::MarkedResync);
    assert!(q.resyncing());
    assert_eq!(q.unacked(), 1, "cleared, but the write itself is kept");
    let f = q.take_figures();
    assert_eq!((f.dropped_heartbeats, f.resyncs), (1, 1));

    assert_eq!(q.next(3), Next::Resync);
    q.begin_resync(vec![json("s1"), json("s2"), json("s3"), json("s4")], 3);
    assert!(q.resyncing());
    assert_eq!(q.next(3), Next::Send, "the resync goes at once");
    assert_eq!(
        send(&mut q, 3, Verdict::Accepted),
        (Register, strings(&["s1", "s2", "s3"]))
    );
    assert!(q.resyncing());
    assert_eq!(
        send(&mut q, 3, Verdict::Accepted),
        (Register, strings(&["s4"]))
    );
    assert!(!q.resyncing());
    assert_eq!(
        send(&mut q, 3, Verdict::Accepted),
        (Unregister, strings(&["u"]))
    );
    assert_eq!(q.take_figures().resyncs, 0);
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
    q.begin_resync(snapshot, 1);
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
fn marks_made_while_a_batch_is_in_flight_void_the_batch() {
    let mut q = PeerQueue::new(limits());
    push(&mut q, Register, "a", 1);
    assert_eq!(q.next(1), Next::Send);
    let mut batch = Vec::new();
    let ticket = q.take_batch(&mut batch);
    for n in 0..9 {
        push(&mut q, Register, &format!("r{n}"), 2);
    }
    assert_eq!(push(&mut q, Register, "over", 2), Pushed::MarkedResync);
    push(&mut q, Register, "after", 2);
    // The old batch fails: the resync covers it, it is not requeued.
    q.complete(ticket, &batch, &[Verdict::Retry], 3);
    assert_eq!(q.unacked(), 2);
    assert_eq!(q.next(3), Next::Resync);
    q.begin_resync(vec![json("s")], 3);
    let now = 3 + FIRST_RETRY_MS;
    assert_eq!(
        send(&mut q, now, Verdict::Accepted),
        (Register, strings(&["s", "over", "after"]))
    );
    assert_eq!(q.next(now), Next::Idle);
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
    q.begin_resync(Vec::new(), now);
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

/// Random pushes, answers and clock steps on a queue that never overflows: every write is
/// either accepted exactly once or refused, and the writes of each instance are accepted in the
/// order they were queued. The peer judges per instance (as its failed-instance list does), so
/// entries of one instance in a batch share a verdict.
#[test]
fn random_traffic_delivers_every_write_once_in_order_per_instance() {
    const INSTANCES: u64 = 5;
    fn parse(e: &Entry) -> (u64, u64) {
        let text = std::str::from_utf8(&e.json).unwrap();
        let (key, seq) = text.split_once(':').unwrap();
        (key.parse().unwrap(), seq.parse().unwrap())
    }
    for seed in 0..20 {
        let mut rng = Rng::new(seed);
        let mut q = PeerQueue::new(Limits {
            capacity: 100_000,
            heartbeat_window_ms: rng.below(50) as u64,
            heartbeat_batch: 1 + rng.below(8),
            write_batch: 1 + rng.below(8),
            stall_ms: u64::MAX / 4,
        });
        let kinds = [Heartbeat, Register, Unregister];
        let (mut now, mut pushed) = (0u64, 0u64);
        let mut accepted: Vec<(u64, u64)> = Vec::new();
        let mut rejected = 0u64;
        let mut batch = Vec::new();
        let mut step = |q: &mut PeerQueue, now: u64, rng: &mut Rng, cooperative: bool| {
            let ticket = q.take_batch(&mut batch);
            assert!(
                batch.iter().all(|e| e.kind == ticket.kind),
                "one kind per batch"
            );
            let per_instance: Vec<Verdict> = (0..INSTANCES)
                .map(|_| match rng.below(10) {
                    _ if cooperative => Verdict::Accepted,
                    0..=5 => Verdict::Accepted,
                    6 => Verdict::Rejected,
                    _ => Verdict::Retry,
                })
                .collect();
            let verdicts: Vec<Verdict> = batch
                .iter()
                .map(|e| per_instance[parse(e).0 as usize])
                .collect();
            for (e, v) in batch.iter().zip(&verdicts) {
                match v {
                    Verdict::Accepted => accepted.push(parse(e)),
                    Verdict::Rejected => rejected += 1,
                    Verdict::Retry => {}
                }
            }
            q.complete(ticket, &batch, &verdicts, now);
        };
        for _ in 0..2_000 {
            for _ in 0..rng.below(4) {
                let kind = rng.pick(&kinds);
                let key = rng.below(INSTANCES as usize);
                push(&mut q, kind, &format!("{key}:{pushed}"), now);
                pushed += 1;
            }
            match q.next(now) {
                Next::Send => step(&mut q, now, &mut rng, false),
                Next::Wait(until) => now = until.min(now + rng.below(30) as u64 + 1),
                Next::Idle => now += 1,
                Next::Resync => panic!("seed {seed}: no overflow, no stall"),
            }
        }
        // Drain what is left with a cooperative peer.
        while q.unacked() > 0 {
            match q.next(now) {
                Next::Send => step(&mut q, now, &mut rng, true),
                Next::Wait(until) => now = until,
                other => panic!("seed {seed}: {other:?} with writes queued"),
            }
        }
        for key in 0..INSTANCES {
            let seqs: Vec<u64> = accepted
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|&(_, seq)| seq)
                .collect();
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "seed {seed}: instance {key} accepted out of order: {seqs:?}"
            );
        }
        assert_eq!(
            accepted.len() as u64 + rejected,
            pushed,
            "seed {seed}: none lost"
        );
        let f = q.take_figures();
        assert_eq!((f.sent, f.rejected), (accepted.len() as u64, rejected));
    }
}
