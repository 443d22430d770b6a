//! The push scenario: `--subscribers` WebSocket sessions on `/ws/discovery/instance-change`, each
//! subscribed to one service (round-robin over `--services`), while `--connections` HTTP
//! connections register instances of those services (closed loop, or `--rate` registrations/s).
//!
//! Every registration carries a sequence number in its metadata (`version: seq-N`), and its send
//! time goes into a ring shared by all threads, so each subscriber matches a pushed change to
//! the registration that caused it and records register-send → receipt latency. Pushes expected
//! (successful registrations in the window × subscribers of the service) but not received within a
//! grace period after the run are counted as `push-missing` errors. After Ctrl-C no registration
//! is sent any more, and the subscribers get the same grace period.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::check::{check_answer, Check};
use crate::client::Conn;
use crate::runner::{
    next_send, pacer, run_threads, runtime, settle, DueQueue, Phase, Progress, StartGate, Stats,
    Window, RECONNECT_BACKOFF,
};
use crate::scenario::{Endpoint, Op, Population};
use crate::ws::WsConn;
use crate::Plan;

/// Send times of the last `RING` registrations.
const RING: usize = 1 << 20;
/// How long subscribers keep listening after the last registration.
const GRACE: Duration = Duration::from_secs(1);

pub struct PushShared {
    plan: Plan,
    /// Nanoseconds since the window's start + 1 at which registration `seq` was sent (0: none).
    sent: Box<[AtomicU64]>,
    pub progress: Vec<Progress>,
}

/// Subscribers of `service` when `subscribers` are spread round-robin over `services`.
pub fn subscribers_of(subscribers: usize, services: usize, service: usize) -> u64 {
    let services = services.max(1);
    (subscribers / services + usize::from(service < subscribers % services)) as u64
}

/// The `seq-N` tag of a pushed `new` (first registration) or `change` (re-registration with new
/// data) change, if it is one of ours.
pub fn pushed_seq(text: &[u8]) -> Option<u64> {
    find(text, b"\"changeType\":\"new\"").or_else(|| find(text, b"\"changeType\":\"change\""))?;
    let at = find(text, b"\"version\":\"seq-")? + b"\"version\":\"seq-".len();
    let digits = text[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || text.get(at + digits) != Some(&b'"') {
        return None;
    }
    std::str::from_utf8(&text[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn run(
    plan: &Plan,
    mut on_tick: impl FnMut(&[Progress], Window),
) -> Result<(Stats, Window), String> {
    let threads = plan.threads.max(1);
    let shared = Arc::new(PushShared {
        plan: plan.clone(),
        sent: (0..RING).map(|_| AtomicU64::new(0)).collect(),
        progress: (0..threads).map(|_| Progress::default()).collect(),
    });
    let (results, window) = run_threads(
        "artemis-push",
        threads,
        plan.stop,
        plan.warmup,
        plan.duration,
        &shared.progress,
        &mut on_tick,
        {
            let shared = shared.clone();
            move |t, gate| thread_main(t, threads, shared.clone(), gate)
        },
    )?;
    let mut total = Stats::default();
    let mut expected = 0;
    for (stats, exp) in results {
        total.merge(stats);
        expected += exp;
    }
    let received = total.per_op[Op::Push.index()].requests;
    if expected > received {
        let missing = expected - received;
        total.per_op[Op::Push.index()].errors += missing;
        *total.errors.entry("push-missing".into()).or_default() += missing;
    }
    Ok((total, window))
}

struct ThreadState {
    t: usize,
    window: Window,
    stats: std::cell::RefCell<Stats>,
    expected: Cell<u64>,
    next_seq: Cell<u64>,
}

impl ThreadState {
    fn in_window(&self, at: Instant) -> bool {
        self.window.phase(at) == Phase::Measure
    }

    fn error(&self, kind: &str) {
        let mut stats = self.stats.borrow_mut();
        *stats.errors.entry(kind.to_string()).or_default() += 1;
    }
}

/// One push thread: its share of the subscribers, and on thread 0 all registrars. Returns its
/// statistics and how many pushes its registrations should have caused.
fn thread_main(
    t: usize,
    threads: usize,
    shared: Arc<PushShared>,
    gate: StartGate,
) -> Result<(Stats, u64), String> {
    let plan = &shared.plan;
    let mut rt = runtime().map_err(|e| gate.fail(e))?;
    let path = format!("{}/ws/discovery/instance-change", plan.watch_endpoint.path);
    // Connect and subscribe before the clock starts.
    let subs: Result<Vec<WsConn>, String> = rt.block_on(async {
        let mut subs = Vec::new();
        let mut body = Vec::new();
        for i in (t..plan.subscribers).step_by(threads) {
            let mut ws = WsConn::connect(plan.watch_addr, &plan.watch_endpoint.host, &path)
                .await
                .map_err(|e| format!("push: subscriber cannot connect to {path}: {e}"))?;
            body.clear();
            plan.population
                .write_subscription(&mut body, i % plan.population.services.max(1));
            ws.send_text(&body)
                .await
                .map_err(|e| format!("push: cannot subscribe: {e}"))?;
            subs.push(ws);
        }
        Ok(subs)
    });
    let subs = subs.map_err(|e| gate.fail(e))?;
    let window = gate.ready()?;
    let state = Rc::new(ThreadState {
        t,
        window,
        stats: std::cell::RefCell::new(Stats::for_duration(plan.duration)),
        expected: Cell::new(0),
        // Tags must differ from every earlier run's: re-registering identical data pushes
        // nothing (docs/decisions.md).
        next_seq: Cell::new(crate::populate::unix_ms() * 1000),
    });
    rt.block_on(async {
        monoio::time::sleep_until(monoio::time::Instant::from_std(window.start)).await;
        let mut tasks = Vec::new();
        for ws in subs {
            tasks.push(monoio::spawn(subscriber(state.clone(), shared.clone(), ws)));
        }
        if t == 0 {
            let due = plan.rate.map(|_| Rc::new(DueQueue::default()));
            if let (Some(rate), Some(due)) = (plan.rate, &due) {
                // Registrations all come from this thread: it owns the whole schedule.
                tasks.push(monoio::spawn(pacer(0, 1, rate, window, due.clone())));
            }
            for _ in 0..plan.connections {
                tasks.push(monoio::spawn(registrar(
                    state.clone(),
                    shared.clone(),
                    due.clone(),
                )));
            }
        }
        let all_done = async {
            for task in tasks {
                task.await;
            }
        };
        window.stop.unless_interrupted(GRACE, all_done).await;
    });
    let stats = std::mem::take(&mut *state.stats.borrow_mut());
    Ok((stats, state.expected.get()))
}

/// Registers tagged instances until the window ends.
async fn registrar(state: Rc<ThreadState>, shared: Arc<PushShared>, due: Option<Rc<DueQueue>>) {
    let plan = &shared.plan;
    let pop: &Population = &plan.population;
    let endpoint: &Endpoint = &plan.endpoint;
    let window = state.window;
    let mut conn: Option<Conn> = None;
    let mut body = Vec::new();
    let mut request = Vec::new();
    loop {
        let Some((intended, _now)) = next_send(due.as_ref(), window, &state.stats).await else {
            break;
        };
        let seq = state.next_seq.get();
        state.next_seq.set(seq + 1);
        let instance = (seq as usize) % pop.instances.max(1);
        let service = instance % pop.services.max(1);
        body.clear();
        body.extend_from_slice(b"{\"instances\":[");
        pop.write_tagged_instance(&mut body, instance, Some(seq));
        body.extend_from_slice(b"]}");
        request.clear();
        endpoint.write_post(&mut request, Op::Register, &body);
        if conn.is_none() {
            match monoio::time::timeout(plan.timeout, Conn::connect(plan.addr)).await {
                Ok(Ok(c)) => conn = Some(c),
                _ => {
                    let now = Instant::now();
                    shared.progress[state.t].count(window.phase(now), true);
                    if state.in_window(now) {
                        state.error("io");
                        state.stats.borrow_mut().per_op[Op::Register.index()].errors += 1;
                    }
                    monoio::time::sleep(RECONNECT_BACKOFF).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let sent = Instant::now();
        let since_start = (sent - window.start).as_nanos() as u64 + 1;
        shared.sent[seq as usize % RING].store(since_start, Ordering::Release);
        let exchange = c.round_trip(&request, |status, answer| {
            check_answer(Check::Artemis, status, answer)
        });
        let result = monoio::time::timeout(plan.timeout, exchange).await;
        let done = Instant::now();
        let (outcome, _) = settle(&mut conn, result);
        shared.progress[state.t].count(window.phase(done), outcome.is_err());
        let counted = state.in_window(sent);
        if counted && outcome.is_ok() {
            let fanout = subscribers_of(plan.subscribers, pop.services, service);
            state.expected.set(state.expected.get() + fanout);
        }
        if state.in_window(done) {
            state.stats.borrow_mut().count_request(
                Op::Register,
                outcome,
                1,
                // Unlike the other scenarios, latency counts whether or not a response came.
                Some(done - intended),
                plan.rate.map(|_| sent.saturating_duration_since(intended)),
            );
        }
    }
}

/// Receives pushes until the grace period after the window; records the latency of each of ours.
async fn subscriber(state: Rc<ThreadState>, shared: Arc<PushShared>, mut ws: WsConn) {
    let window = state.window;
    loop {
        let now = Instant::now();
        let stop = window.measured_end() + GRACE;
        if now >= stop {
            break;
        }
        let next = ws.next_text(pushed_seq);
        match monoio::time::timeout(stop - now, next).await {
            Err(_) => break,
            Ok(Err(e)) => {
                if Instant::now() <= window.measured_end() {
                    state.error(e.kind());
                }
                break;
            }
            Ok(Ok(None)) => {}
            Ok(Ok(Some(seq))) => {
                let received = Instant::now();
                let at = shared.sent[seq as usize % RING].load(Ordering::Acquire);
                if at == 0 {
                    continue;
                }
                let sent = window.start + Duration::from_nanos(at - 1);
                if !state.in_window(sent) {
                    continue;
                }
                let latency = received.saturating_duration_since(sent);
                let mut stats = state.stats.borrow_mut();
                let push = &mut stats.per_op[Op::Push.index()];
                push.requests += 1;
                push.ops += 1;
                push.latency.record(latency);
                if let Some(iv) = stats.interval_at(&window, sent) {
                    iv.requests += 1;
                    iv.latency.record(latency);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_tags_are_found_in_new_changes_only() {
        let new = br#"{"changeTime":1,"changeType":"new","instance":{"metadata":{"app":"svc","env":"bench","version":"seq-42"},"port":8080}}"#;
        assert_eq!(pushed_seq(new), Some(42));
        let change = br#"{"changeTime":1,"changeType":"change","instance":{"metadata":{"version":"seq-7"}}}"#;
        assert_eq!(pushed_seq(change), Some(7));
        let delete = br#"{"changeTime":1,"changeType":"delete","instance":{"metadata":{"version":"seq-42"}}}"#;
        assert_eq!(pushed_seq(delete), None);
        let untagged = br#"{"changeType":"new","instance":{"metadata":{"version":"1.0.3"}}}"#;
        assert_eq!(pushed_seq(untagged), None);
        assert_eq!(
            pushed_seq(br#"{"changeType":"new","version":"seq-"}"#),
            None
        );
    }

    #[test]
    fn fan_out_per_service() {
        assert_eq!(subscribers_of(1000, 1, 0), 1000);
        assert_eq!(subscribers_of(20, 10, 3), 2);
        let total: u64 = (0..7).map(|s| subscribers_of(10, 7, s)).sum();
        assert_eq!(total, 10);
    }
}
