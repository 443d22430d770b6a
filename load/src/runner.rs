//! The timed part of a run: one monoio event loop per generator thread, each driving its share of
//! the keep-alive connections.
//!
//! - Closed loop (default): every connection sends its next request as soon as the previous
//!   response arrived; latency is measured from the send.
//! - Open loop (`--rate`): each thread's pacer releases intended send times on a fixed schedule
//!   (threads interleaved, so the aggregate is evenly spaced) into a queue the connections take
//!   from. Latency is measured from the intended send time, so a slow server (or a busy
//!   generator) shows up as latency instead of silently lowering the rate: no coordinated
//!   omission. Intended sends still queued at the end are reported as `unsent`.
//!
//! Ctrl-C ends the measurement early ([`Window::measured_end`]): every thread stops at once,
//! abandoning requests in flight (they would have finished after the cut-off, so they would not
//! count anyway).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use monoio::time::error::Elapsed;

use crate::check::{check_answer, Answer, Check};
use crate::client::{Conn, ConnError};
use crate::histogram::Latency;
use crate::interrupt::Interrupt;
use crate::scenario::{Deck, Op, Tables, OPS};
use crate::timer::PreciseTimer;
use crate::ws::WsConn;

/// Pause after a failed connect before the same connection tries again.
pub const RECONNECT_BACKOFF: Duration = Duration::from_millis(50);

/// Everything the generator threads share (read-only, except the progress counters).
pub struct Shared {
    /// Ctrl-C, which ends the run early.
    pub stop: &'static Interrupt,
    pub addr: SocketAddr,
    /// Host header, and for WebSocket runs the channel's path.
    pub host: String,
    pub transport: Transport,
    pub tables: Tables,
    /// The operations of the run with their weights (one entry unless mixed).
    pub mix: Vec<(Op, u32)>,
    /// How each operation's responses are checked.
    pub checks: [Check; OPS],
    pub connections: usize,
    pub threads: usize,
    pub rate: Option<f64>,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    /// One slot per thread, written only by that thread, summed by the progress printer.
    pub progress: Vec<Progress>,
}

/// How requests travel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Http,
    /// One text message per request on a WebSocket to this path, one reply message each.
    WebSocket(String),
}

/// A keep-alive connection of either transport.
pub enum Client {
    Http(Conn),
    Ws(WsConn),
}

impl Client {
    pub async fn connect(shared: &Shared) -> Result<Client, ConnError> {
        match &shared.transport {
            Transport::Http => Conn::connect(shared.addr)
                .await
                .map(Client::Http)
                .map_err(ConnError::Io),
            Transport::WebSocket(path) => WsConn::connect(shared.addr, &shared.host, path)
                .await
                .map(Client::Ws),
        }
    }

    pub async fn round_trip<R: Clone + 'static>(
        &mut self,
        request: &[u8],
        check: impl FnOnce(u16, Answer<'_>) -> R,
    ) -> Result<(R, bool), ConnError> {
        match self {
            Client::Http(c) => c.round_trip(request, check).await,
            Client::Ws(c) => c.round_trip(request, check).await,
        }
    }
}

/// One generator thread's running totals for the progress line.
#[repr(align(128))]
#[derive(Default)]
pub struct Progress {
    /// Requests finished in any phase (the line's rate).
    pub finished: AtomicU64,
    /// Requests finished within the measurement, as the report counts them.
    pub measured: AtomicU64,
    /// Of those, the ones that failed.
    pub measured_errors: AtomicU64,
    /// Requests that failed during the warm-up (not in the report).
    pub warmup_errors: AtomicU64,
}

impl Progress {
    /// Counts one request finished in `phase`. Only the owning thread writes its slot, so a load
    /// and a store (no read-modify-write) keep it exact.
    pub fn count(&self, phase: Phase, failed: bool) {
        let bump = |counter: &AtomicU64| {
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        };
        bump(&self.finished);
        match phase {
            Phase::WarmUp if failed => bump(&self.warmup_errors),
            Phase::Measure => {
                bump(&self.measured);
                if failed {
                    bump(&self.measured_errors);
                }
            }
            Phase::WarmUp | Phase::After => {}
        }
    }
}

/// Where an instant falls in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    WarmUp,
    Measure,
    /// After the measurement: requests still in flight, push subscribers' grace period.
    After,
}

/// The run's clock: everything is measured against one start instant shared by all threads.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub measure: Instant,
    /// The planned end of the measurement (see [`Window::measured_end`]).
    pub end: Instant,
    /// Ends the measurement early.
    pub stop: &'static Interrupt,
}

impl Window {
    /// The end of the measurement: the planned end, or the Ctrl-C cut-off if that came first
    /// (which may be in the warm-up, before the measurement started).
    pub fn measured_end(&self) -> Instant {
        match self.stop.cutoff() {
            Some(cutoff) if cutoff < self.end => cutoff,
            _ => self.end,
        }
    }

    /// Whether Ctrl-C ended the measurement before its planned end.
    pub fn cut_short(&self) -> bool {
        self.measured_end() < self.end
    }

    /// This window as the report shows it: its end where the measurement really ended. A run
    /// interrupted in its warm-up measured nothing: its end is the measurement's start.
    pub fn settled(self) -> Window {
        Window {
            end: self.measured_end().max(self.measure),
            ..self
        }
    }

    /// The phase of an instant; a request finishing exactly at the end is still measured.
    pub fn phase(&self, at: Instant) -> Phase {
        if at > self.measured_end() {
            Phase::After
        } else if at < self.measure {
            Phase::WarmUp
        } else {
            Phase::Measure
        }
    }

    /// When the progress line after the one printed at `last` is due: at every whole second of
    /// each phase, counted from the phase's start, and at the phase's end, so that no line's
    /// interval spans two phases.
    pub fn next_tick(&self, last: Instant) -> Instant {
        let end = self.measured_end();
        let (from, until) = if last >= end {
            (end, None)
        } else if last < self.measure {
            (self.start, Some(self.measure.min(end)))
        } else {
            (self.measure, Some(end))
        };
        let next = from + Duration::from_secs((last - from).as_secs() + 1);
        until.map_or(next, |until| next.min(until))
    }
}

/// Statistics of one operation.
#[derive(Clone, Default)]
pub struct OpStats {
    pub requests: u64,
    pub errors: u64,
    pub ops: u64,
    pub latency: Latency,
}

/// One second of the measurement window.
#[derive(Clone)]
pub struct Interval {
    pub requests: u64,
    pub errors: u64,
    pub latency: Latency,
}

impl Interval {
    fn add(&mut self, other: &Interval) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latency.add(&other.latency);
    }
}

/// What one thread measured, merged by the caller.
#[derive(Default)]
pub struct Stats {
    pub per_op: [OpStats; OPS],
    pub errors: HashMap<String, u64>,
    /// Open loop: how late requests left compared to their intended send time.
    pub send_lag: Latency,
    pub timeline: Vec<Interval>,
    pub unsent: u64,
}

impl Stats {
    /// Empty statistics with a timeline of one interval per second of a `duration`-long
    /// measurement.
    pub fn for_duration(duration: Duration) -> Stats {
        let seconds = (duration.as_secs_f64().ceil() as usize).max(1);
        Stats {
            timeline: vec![
                Interval {
                    requests: 0,
                    errors: 0,
                    latency: Latency::coarse(),
                };
                seconds
            ],
            ..Stats::default()
        }
    }

    /// The timeline interval of the second of the measurement `at` falls in; an instant exactly
    /// at the end belongs to the last second.
    pub fn interval_at(&mut self, window: &Window, at: Instant) -> Option<&mut Interval> {
        let second =
            ((at - window.measure).as_secs() as usize).min(self.timeline.len().saturating_sub(1));
        self.timeline.get_mut(second)
    }

    /// Counts one request of `op` finished in the measurement: `ops` operations if it succeeded,
    /// else one error of its kind; its latency if known; for paced runs, how late it left.
    pub fn count_request(
        &mut self,
        op: Op,
        outcome: Result<(), String>,
        ops: u64,
        latency: Option<Duration>,
        send_lag: Option<Duration>,
    ) {
        let per_op = &mut self.per_op[op.index()];
        per_op.requests += 1;
        if let Some(latency) = latency {
            per_op.latency.record(latency);
        }
        match outcome {
            Ok(()) => per_op.ops += ops,
            Err(kind) => {
                per_op.errors += 1;
                *self.errors.entry(kind).or_default() += 1;
            }
        }
        if let Some(lag) = send_lag {
            self.send_lag.record(lag);
        }
    }

    /// Drops the timeline's seconds after a measurement cut short to `measured` by Ctrl-C. Only a
    /// request finished exactly at the cut-off of a whole number of seconds can be in them: it
    /// moves to the last second kept, as at a planned end.
    pub fn cut_timeline(&mut self, measured: Duration) {
        let keep = (measured.as_secs_f64().ceil() as usize).min(self.timeline.len());
        let cut = self.timeline.split_off(keep);
        if let Some(last) = self.timeline.last_mut() {
            for interval in cut {
                last.add(&interval);
            }
        }
    }

    pub fn merge(&mut self, other: Stats) {
        for (mine, theirs) in self.per_op.iter_mut().zip(other.per_op) {
            mine.requests += theirs.requests;
            mine.errors += theirs.errors;
            mine.ops += theirs.ops;
            mine.latency.add(&theirs.latency);
        }
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
        self.send_lag.add(&other.send_lag);
        for (i, theirs) in other.timeline.into_iter().enumerate() {
            if i < self.timeline.len() {
                self.timeline[i].add(&theirs);
            } else {
                self.timeline.push(theirs);
            }
        }
        self.unsent += other.unsent;
    }
}

/// Runs the generator threads and returns the merged statistics. `on_tick` is called about once a
/// second on the calling thread while the run is in progress (the progress line).
pub fn run(
    shared: Arc<Shared>,
    mut on_tick: impl FnMut(&[Progress], Window),
) -> Result<(Stats, Window), String> {
    let threads = shared.threads.max(1);
    let (results, window) = run_threads(
        "artemis-load",
        threads,
        shared.stop,
        shared.warmup,
        shared.duration,
        &shared.progress,
        &mut on_tick,
        {
            let shared = shared.clone();
            move |t, gate| thread_main(t, shared.clone(), gate)
        },
    )?;
    let mut total = Stats::default();
    for stats in results {
        total.merge(stats);
    }
    Ok((total, window))
}

/// A generator thread's side of the common start: it reports ready once connected (or why it
/// cannot run), then waits for the run's window.
pub struct StartGate {
    ready: mpsc::Sender<Result<(), String>>,
    start: mpsc::Receiver<Window>,
}

impl StartGate {
    /// Reports this thread ready and waits for the window all threads share.
    pub fn ready(self) -> Result<Window, String> {
        let _ = self.ready.send(Ok(()));
        // The caller stops waiting for readiness once every sender is gone.
        drop(self.ready);
        self.start
            .recv()
            .map_err(|_| "the run was abandoned before it started".to_string())
    }

    /// Reports that this thread cannot run, which abandons the run; returns `e` for the thread's
    /// result.
    pub fn fail(&self, e: String) -> String {
        let _ = self.ready.send(Err(e.clone()));
        e
    }
}

/// Runs `threads` threads named `<name>-<t>`, each `thread_main(t, gate)`. Once all are ready they
/// start on one shared window (warm-up, then the measured duration, cut short by `stop`) and
/// `on_tick` reports progress about once a second ([`Window::next_tick`]) until they all finish;
/// if one fails to get ready, none starts and its error is returned. Returns the threads' results
/// in thread order.
#[allow(clippy::too_many_arguments)]
pub fn run_threads<T, F>(
    name: &str,
    threads: usize,
    stop: &'static Interrupt,
    warmup: Duration,
    duration: Duration,
    progress: &[Progress],
    on_tick: &mut impl FnMut(&[Progress], Window),
    thread_main: F,
) -> Result<(Vec<T>, Window), String>
where
    T: Send + 'static,
    F: Fn(usize, StartGate) -> Result<T, String> + Clone + Send + 'static,
{
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut start_txs = Vec::with_capacity(threads);
    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let (start_tx, start_rx) = mpsc::channel::<Window>();
        start_txs.push(start_tx);
        let gate = StartGate {
            ready: ready_tx.clone(),
            start: start_rx,
        };
        let thread_main = thread_main.clone();
        let handle = std::thread::Builder::new()
            .name(format!("{name}-{t}"))
            .spawn(move || thread_main(t, gate))
            .map_err(|e| format!("cannot start a generator thread: {e}"))?;
        handles.push(handle);
    }
    drop(ready_tx);
    let mut failure = None;
    for _ in 0..threads {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(_) => break,
        }
    }
    if let Some(e) = failure {
        drop(start_txs);
        for h in handles {
            let _ = h.join();
        }
        return Err(e);
    }

    let start = Instant::now() + Duration::from_millis(20);
    let window = Window {
        start,
        measure: start + warmup,
        end: start + warmup + duration,
        stop,
    };
    for tx in &start_txs {
        let _ = tx.send(window);
    }
    let mut last_tick = start;
    while handles.iter().any(|h| !h.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
        // Recomputed each time: Ctrl-C moves the end of the measurement.
        if Instant::now() >= window.next_tick(last_tick) {
            on_tick(progress, window);
            last_tick = Instant::now();
        }
    }
    // The threads can finish before the tick at the end of the measurement is due (Ctrl-C): the
    // last measured stretch still gets its line.
    if last_tick < window.measured_end() {
        on_tick(progress, window);
    }

    let mut results = Vec::with_capacity(threads);
    for h in handles {
        match h.join() {
            Ok(Ok(result)) => results.push(result),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("a generator thread panicked".into()),
        }
    }
    Ok((results, window))
}

fn thread_main(t: usize, shared: Arc<Shared>, gate: StartGate) -> Result<Stats, String> {
    let mut rt = runtime().map_err(|e| gate.fail(e))?;
    let conns = connections_of_thread(shared.connections, shared.threads, t);
    // Connect before the clock starts, so connection set-up is never timed.
    let mut connected: Vec<Option<Client>> = rt.block_on(async {
        let mut v = Vec::with_capacity(conns);
        for _ in 0..conns {
            v.push(Client::connect(&shared).await.ok());
        }
        v
    });
    let window = gate.ready()?;
    let state = Rc::new(ThreadState::new(t, &shared, window));
    rt.block_on(async {
        monoio::time::sleep_until(monoio::time::Instant::from_std(window.start)).await;
        let due = shared.rate.map(|_| Rc::new(DueQueue::default()));
        let mut tasks = Vec::with_capacity(conns + 1);
        if let (Some(rate), Some(due)) = (shared.rate, &due) {
            let pacer = pacer(t, shared.threads, rate, window, due.clone());
            tasks.push(monoio::spawn(pacer));
        }
        for conn in connected.drain(..) {
            let task = connection(state.clone(), shared.clone(), conn, due.clone());
            tasks.push(monoio::spawn(task));
        }
        let all_done = async {
            for task in tasks {
                task.await;
            }
        };
        window
            .stop
            .unless_interrupted(Duration::ZERO, all_done)
            .await;
        if let Some(due) = due {
            state.stats.borrow_mut().unsent += due.len() as u64;
        }
    });
    let stats = std::mem::take(&mut *state.stats.borrow_mut());
    Ok(stats)
}

type Runtime = monoio::FusionRuntime<
    monoio::time::TimeDriver<monoio::IoUringDriver>,
    monoio::time::TimeDriver<monoio::LegacyDriver>,
>;

/// An event loop for one thread: io_uring where the kernel allows it, else epoll; with timers.
pub fn runtime() -> Result<Runtime, String> {
    monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .map_err(|e| format!("cannot build an event loop: {e}"))
}

/// Connections of thread `t` when `total` are spread over `threads`.
pub fn connections_of_thread(total: usize, threads: usize, t: usize) -> usize {
    let threads = threads.max(1);
    total / threads + usize::from(t < total % threads)
}

struct ThreadState {
    thread: usize,
    window: Window,
    /// Next request index per operation; threads start at their index and stride by the thread
    /// count so together they walk every table evenly.
    next: [Cell<usize>; OPS],
    stride: usize,
    deck: RefCell<Option<Deck>>,
    single: Op,
    stats: RefCell<Stats>,
}

impl ThreadState {
    fn new(t: usize, shared: &Shared, window: Window) -> ThreadState {
        let deck = (shared.mix.len() > 1).then(|| Deck::new(&shared.mix, t as u64 + 1));
        ThreadState {
            thread: t,
            window,
            next: std::array::from_fn(|_| Cell::new(t)),
            stride: shared.threads.max(1),
            deck: RefCell::new(deck),
            single: shared.mix[0].0,
            stats: RefCell::new(Stats::for_duration(shared.duration)),
        }
    }

    fn pick(&self) -> (Op, usize) {
        let op = match self.deck.borrow_mut().as_mut() {
            Some(deck) => deck.next(),
            None => self.single,
        };
        let slot = &self.next[op.index()];
        let j = slot.get();
        slot.set(j.wrapping_add(self.stride));
        (op, j)
    }

    /// Records one finished request. `intended` is when it should have left (open loop) or left
    /// (closed loop); `sent` when it actually left; `latency_known` is false for requests that
    /// got no response.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        shared: &Shared,
        op: Op,
        intended: Instant,
        sent: Instant,
        done: Instant,
        outcome: Result<(), String>,
        responded: bool,
    ) {
        let failed = outcome.is_err();
        let phase = self.window.phase(done);
        shared.progress[self.thread].count(phase, failed);
        if phase != Phase::Measure {
            return;
        }
        let latency = done - intended;
        let mut stats = self.stats.borrow_mut();
        stats.count_request(
            op,
            outcome,
            shared.tables.get(op).ops_per_request,
            responded.then_some(latency),
            shared
                .rate
                .map(|_| sent.saturating_duration_since(intended)),
        );
        if let Some(interval) = stats.interval_at(&self.window, done) {
            interval.requests += 1;
            interval.errors += u64::from(failed);
            if responded {
                interval.latency.record(latency);
            }
        }
    }
}

/// One connection's loop: take the next intended send time (open loop) or go at once (closed
/// loop), send, check, record; reconnect after any failure.
async fn connection(
    state: Rc<ThreadState>,
    shared: Arc<Shared>,
    mut conn: Option<Client>,
    due: Option<Rc<DueQueue>>,
) {
    let window = state.window;
    loop {
        let Some((intended, now)) = next_send(due.as_ref(), window, &state.stats).await else {
            break;
        };
        let (op, j) = state.pick();
        let request = shared.tables.get(op).get(j);
        let check_kind = shared.checks[op.index()];

        if conn.is_none() {
            match monoio::time::timeout(shared.timeout, Client::connect(&shared)).await {
                Ok(Ok(c)) => conn = Some(c),
                Ok(Err(_)) | Err(_) => {
                    let done = Instant::now();
                    state.record(&shared, op, intended, now, done, Err("io".into()), false);
                    monoio::time::sleep(RECONNECT_BACKOFF).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let sent = Instant::now();
        let exchange = c.round_trip(request, |status, answer| {
            check_answer(check_kind, status, answer)
        });
        let result = monoio::time::timeout(shared.timeout, exchange).await;
        let done = Instant::now();
        let (verdict, responded) = settle(&mut conn, result);
        state.record(&shared, op, intended, sent, done, verdict, responded);
    }
}

/// A round trip under a timeout: the check's verdict and whether the connection stays open, or
/// a connection error, or the timeout.
pub type TimedExchange = Result<Result<(Result<(), String>, bool), ConnError>, Elapsed>;

/// What a timed exchange on `conn` came to: the check's verdict, or the failure's error kind
/// (`timeout`, or the connection error's), and whether a response arrived. Drops the connection
/// unless the server kept it alive.
pub fn settle<C>(conn: &mut Option<C>, result: TimedExchange) -> (Result<(), String>, bool) {
    match result {
        Ok(Ok((verdict, keep_alive))) => {
            if !keep_alive {
                *conn = None;
            }
            (verdict, true)
        }
        Ok(Err(e)) => {
            *conn = None;
            (Err(e.kind().into()), false)
        }
        Err(_) => {
            *conn = None;
            (Err("timeout".into()), false)
        }
    }
}

/// When the next request should go: open loop waits for the pacer's next intended send time,
/// closed loop goes at once (intended = now). Returns `(intended, now)`, or None once the
/// measurement is over (an intended send past its end is counted as unsent).
pub async fn next_send(
    due: Option<&Rc<DueQueue>>,
    window: Window,
    stats: &RefCell<Stats>,
) -> Option<(Instant, Instant)> {
    let intended = match due {
        Some(queue) => Some(queue.pop().await?),
        None => None,
    };
    let now = Instant::now();
    if now >= window.measured_end() {
        if intended.is_some() {
            stats.borrow_mut().unsent += 1;
        }
        return None;
    }
    Some((intended.unwrap_or(now), now))
}

/// Releases this thread's intended send times: thread `t` of `threads` owns every `threads`-th
/// slot of the global schedule `start + k / rate`.
pub(super) async fn pacer(t: usize, threads: usize, rate: f64, window: Window, due: Rc<DueQueue>) {
    let timer = PreciseTimer::new().ok();
    let interval_ns = 1e9 / rate;
    let mut k = t as u64;
    let at = |k: u64| window.start + Duration::from_nanos((k as f64 * interval_ns) as u64);
    loop {
        let now = Instant::now();
        let end = window.measured_end();
        let mut next = at(k);
        while next <= now && next < end {
            due.push(next);
            k += threads as u64;
            next = at(k);
        }
        if next >= end {
            break;
        }
        let precise = match &timer {
            Some(timer) => timer.sleep_until(next).await.is_ok(),
            None => false,
        };
        if !precise {
            monoio::time::sleep_until(monoio::time::Instant::from_std(next)).await;
        }
    }
    // Let every connection finish the intended sends already released, then stop.
    let end = monoio::time::Instant::from_std(window.end);
    monoio::time::sleep_until(end).await;
    due.close();
}

/// A single-threaded queue of intended send times with waiting consumers.
#[derive(Default)]
pub(super) struct DueQueue {
    inner: RefCell<DueInner>,
}

#[derive(Default)]
struct DueInner {
    items: VecDeque<Instant>,
    waiters: VecDeque<Waker>,
    closed: bool,
}

impl DueQueue {
    pub(super) fn push(&self, t: Instant) {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            inner.items.push_back(t);
            inner.waiters.pop_front()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    pub(super) fn close(&self) {
        let waiters = {
            let mut inner = self.inner.borrow_mut();
            inner.closed = true;
            std::mem::take(&mut inner.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }

    pub(super) fn len(&self) -> usize {
        self.inner.borrow().items.len()
    }

    pub(super) async fn pop(&self) -> Option<Instant> {
        std::future::poll_fn(|cx| {
            let mut inner = self.inner.borrow_mut();
            if let Some(t) = inner.items.pop_front() {
                Poll::Ready(Some(t))
            } else if inner.closed {
                Poll::Ready(None)
            } else {
                inner.waiters.push_back(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests;
