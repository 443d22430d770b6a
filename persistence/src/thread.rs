//! The persistence thread: one named OS thread owns the [`Store`]; everything else talks to it
//! through a [`Handle`] and never blocks on storage.
//!
//! Management writes (traffic and group writes alike) are group-committed: after taking one
//! write the thread drains every write already queued (up to [`Limits::max_batch`]) and commits
//! them in one transaction, so the cost of an fsync is shared by every write that arrived while
//! the previous one was being made durable.
//!
//! With a store other nodes write too (a shared MySQL database), the thread also polls it
//! every [`Limits::poll_interval`] (or at once when asked, [`Handle::poll_now`]): when the
//! store's [`Fingerprint`] changed it reloads the management rows, and when they differ from
//! the state it holds it makes them the next generation and hands them to the server
//! ([`Handle::next_polled`]), which puts them in effect on every shard.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use protocol::model::management::groups::{
    Group, GroupFilter, GroupInstance, GroupInstanceFilter, GroupLogFilter, GroupLogKind,
    GroupLogRow, GroupWrite, RouteRuleFilter, RouteRuleGroup, RouteRuleGroupFilter,
    ServiceInstance, ServiceInstanceFilter, ServiceRouteRule,
};
use protocol::model::management::{
    LogFilter, LogKind, LogRow, ManagementSnapshot, ManagementWrite,
};

use crate::reply::{reply_channel, Completer};
use crate::{Change, Fingerprint, Reply, SavedInstance, Store, StoreError, StoreErrorKind};

mod health;
#[cfg(test)]
mod tests;
mod watch;

use health::Health;
use watch::Watch;

/// Queue bounds of the persistence thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Jobs that may wait for the thread; one more is refused at once with `Busy`.
    pub queue_capacity: usize,
    /// Most management writes committed in one transaction.
    pub max_batch: usize,
    /// How often to poll a store other nodes write too; `None` never polls.
    pub poll_interval: Option<Duration>,
}

/// Counters since start, readable from any thread (a benchmark divides `transactions` by
/// `writes` to report fsyncs per write).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Management-write transactions committed (one fsync each).
    pub transactions: u64,
    /// Management writes those transactions held.
    pub writes: u64,
    /// Management writes answered with a storage error (their transaction failed).
    pub failed_writes: u64,
    /// Jobs of any kind refused with `Busy` because the queue was full.
    pub refused_busy: u64,
}

/// State shared by the thread and every handle.
#[derive(Default)]
struct Shared {
    transactions: AtomicU64,
    writes: AtomicU64,
    failed_writes: AtomicU64,
    refused_busy: AtomicU64,
    /// Set when the thread stops taking jobs. A job queued after that is discarded (which
    /// answers it with an error) by whoever sees the flag: the thread on its way out, or the
    /// sender right after queueing. Checked after queueing, so no job is left unanswered in
    /// the queue whatever the interleaving (see [`Handle::send`]).
    closed: AtomicBool,
    /// The last poll or commit found the database unreachable.
    store_down: AtomicBool,
    watch: Watch,
}

/// A read run on the store, answering its own reply (dropped unrun, it answers an error).
type Read = Box<dyn FnOnce(&mut dyn Store) + Send>;

enum Job {
    Write(Change, Completer<Arc<ManagementSnapshot>>),
    Read(Read),
    Logs {
        kind: LogKind,
        filter: LogFilter,
        limit: usize,
        reply: Completer<Vec<LogRow>>,
    },
    SaveRegistry(Vec<SavedInstance>, Completer<()>),
    LoadRegistry(Completer<Vec<SavedInstance>>),
    /// Poll the store now (another node just wrote to it).
    PollNow,
    Shutdown,
}

/// The running persistence thread.
pub struct Persistence {
    thread: JoinHandle<()>,
}

/// Sends jobs to the persistence thread. Cheap to clone, usable from any thread; no method
/// blocks except [`Handle::shutdown`].
#[derive(Clone)]
pub struct Handle {
    jobs: Sender<Job>,
    /// The queue's other end, only to discard jobs queued after the thread stopped.
    backlog: Receiver<Job>,
    shared: Arc<Shared>,
}

impl Persistence {
    /// Start the thread that owns `store`. `initial` is the management state the store holds
    /// (from [`Store::load_management`]); every committed write batch builds the next snapshot
    /// from it with `generation` one higher.
    pub fn start(
        store: Box<dyn Store>,
        initial: ManagementSnapshot,
        limits: Limits,
    ) -> std::io::Result<(Persistence, Handle)> {
        assert!(
            limits.queue_capacity > 0 && limits.max_batch > 0,
            "persistence limits must be positive: {limits:?}"
        );
        let (jobs, queue) = crossbeam_channel::bounded(limits.queue_capacity);
        let shared = Arc::new(Shared::default());
        let worker = Worker {
            store,
            current: Arc::new(initial),
            queue: queue.clone(),
            max_batch: limits.max_batch,
            shared: shared.clone(),
            poll: limits.poll_interval.map(Poll::new),
            health: Health::new(),
        };
        let thread = std::thread::Builder::new()
            .name("artemis-persistence".into())
            .spawn(move || worker.run())?;
        let handle = Handle {
            jobs,
            backlog: queue,
            shared,
        };
        Ok((Persistence { thread }, handle))
    }

    /// Wait for the thread to end: after [`Handle::shutdown`], or once every [`Handle`] is
    /// dropped and the queue is drained. `Err` carries a panic of the thread.
    pub fn join(self) -> std::thread::Result<()> {
        self.thread.join()
    }
}

impl Handle {
    /// Commit one pull-out or pull-in (rows and log rows). Answers, once durable, with the
    /// management state that includes it.
    pub fn write(&self, write: ManagementWrite) -> Reply<Arc<ManagementSnapshot>> {
        self.commit(Change::Traffic(write))
    }

    /// Commit one group write (rows and log rows). Answers, once durable, with the management
    /// state that includes it.
    pub fn write_groups(&self, write: GroupWrite) -> Reply<Arc<ManagementSnapshot>> {
        self.commit(Change::Groups(write))
    }

    fn commit(&self, change: Change) -> Reply<Arc<ManagementSnapshot>> {
        let (completer, reply) = reply_channel();
        self.send(Job::Write(change, completer), reply)
    }

    /// Run `query` on the store, in queue order with the other jobs.
    fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&mut dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Reply<T> {
        let (completer, reply) = reply_channel();
        let job: Read = Box::new(move |store| completer.complete(query(store)));
        self.send(Job::Read(job), reply)
    }

    /// Group log rows of one table, newest first, at most `limit` (see [`Store::group_logs`]).
    pub fn group_logs(
        &self,
        kind: GroupLogKind,
        filter: GroupLogFilter,
        limit: usize,
    ) -> Reply<Vec<GroupLogRow>> {
        self.read(move |store| store.group_logs(kind, &filter, limit))
    }

    /// Live route rules matching `filter` (get-route-rules).
    pub fn route_rules(&self, filter: RouteRuleFilter) -> Reply<Vec<ServiceRouteRule>> {
        self.read(move |store| store.route_rules(&filter))
    }

    /// Route-rule-group rows matching `filter` (get-route-rule-groups).
    pub fn route_rule_groups(&self, filter: RouteRuleGroupFilter) -> Reply<Vec<RouteRuleGroup>> {
        self.read(move |store| store.route_rule_groups(&filter))
    }

    /// Live groups matching `filter` (get-groups).
    pub fn groups(&self, filter: GroupFilter) -> Reply<Vec<Group>> {
        self.read(move |store| store.groups(&filter))
    }

    /// Group instance rows matching `filter` (get-group-instances).
    pub fn group_instances(&self, filter: GroupInstanceFilter) -> Reply<Vec<GroupInstance>> {
        self.read(move |store| store.group_instances(&filter))
    }

    /// Logical instances matching `filter` (get-service-instances).
    pub fn service_instances(&self, filter: ServiceInstanceFilter) -> Reply<Vec<ServiceInstance>> {
        self.read(move |store| store.service_instances(&filter))
    }

    /// Log rows of one table, newest first, at most `limit` (see [`Store::logs`]).
    pub fn logs(&self, kind: LogKind, filter: LogFilter, limit: usize) -> Reply<Vec<LogRow>> {
        let (completer, reply) = reply_channel();
        let job = Job::Logs {
            kind,
            filter,
            limit,
            reply: completer,
        };
        self.send(job, reply)
    }

    /// Replace the saved registry with `instances`, in one transaction.
    pub fn save_registry(&self, instances: Vec<SavedInstance>) -> Reply<()> {
        let (completer, reply) = reply_channel();
        self.send(Job::SaveRegistry(instances, completer), reply)
    }

    /// The saved registry.
    pub fn load_registry(&self) -> Reply<Vec<SavedInstance>> {
        let (completer, reply) = reply_channel();
        self.send(Job::LoadRegistry(completer), reply)
    }

    /// Ask the thread to stop once the jobs queued before this one are done; jobs queued after
    /// it are answered with an error. Waits for queue space (the thread is draining it), so
    /// call it from a thread that may block, not from an event loop.
    pub fn shutdown(&self) {
        if self.shared.closed.load(Ordering::SeqCst) {
            return;
        }
        // Never disconnected (this handle holds a receiver), and never stuck on a full queue:
        // a stopping thread drains it.
        let _ = self.jobs.send(Job::Shutdown);
        self.discard_if_closed();
    }

    /// The next management state a poll found in the store that differs from the state the
    /// thread held (a write of another node), with a higher generation than any before it.
    /// Snapshots published while nobody waits are not queued: the newest one is kept. One
    /// waiter at a time; answered with an error once the thread stops.
    pub fn next_polled(&self) -> Reply<Arc<ManagementSnapshot>> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Reply::answered(Err(stopped()));
        }
        let reply = self.shared.watch.wait();
        if self.shared.closed.load(Ordering::SeqCst) {
            // The thread may have closed the watch before this waiter was registered.
            self.shared.watch.close();
        }
        reply
    }

    /// Ask the thread to poll the store as soon as the jobs queued before are done. Dropped
    /// when the queue is full: the thread is busy, and polls when due anyway.
    pub fn poll_now(&self) {
        let _ = self.jobs.try_send(Job::PollNow);
        self.discard_if_closed();
    }

    /// False while the last poll or commit found the database unreachable.
    pub fn store_up(&self) -> bool {
        !self.shared.store_down.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> Stats {
        let c = &self.shared;
        Stats {
            transactions: c.transactions.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            failed_writes: c.failed_writes.load(Ordering::Relaxed),
            refused_busy: c.refused_busy.load(Ordering::Relaxed),
        }
    }

    /// Queue `job` without waiting; a full queue or a stopped thread answers `reply` at once.
    ///
    /// Stopping is race-free because both sides write before they read: the thread sets
    /// `closed` and then drains the queue; a sender queues and then reads `closed`. A sender
    /// that reads `false` queued before the thread's drain began, so the drain takes its job;
    /// one that reads `true` drains the queue itself.
    fn send<T>(&self, job: Job, reply: Reply<T>) -> Reply<T> {
        let refusal = if self.shared.closed.load(Ordering::SeqCst) {
            stopped()
        } else {
            match self.jobs.try_send(job) {
                Ok(()) => {
                    self.discard_if_closed();
                    return reply;
                }
                Err(TrySendError::Full(_)) => {
                    self.shared.refused_busy.fetch_add(1, Ordering::Relaxed);
                    StoreError::new(
                        StoreErrorKind::Busy,
                        "the persistence queue is full; retry later",
                    )
                }
                Err(TrySendError::Disconnected(_)) => stopped(),
            }
        };
        // The refused job's completer answers `reply` with a generic error when it is dropped;
        // the caller gets a fresh reply carrying the precise one instead.
        drop(reply);
        Reply::answered(Err(refusal))
    }

    fn discard_if_closed(&self) {
        if self.shared.closed.load(Ordering::SeqCst) {
            // Dropping a job answers it with an error.
            while self.backlog.try_recv().is_ok() {}
        }
    }
}

fn stopped() -> StoreError {
    StoreError::new(StoreErrorKind::Other, "the persistence thread has stopped")
}

struct Worker {
    store: Box<dyn Store>,
    current: Arc<ManagementSnapshot>,
    queue: Receiver<Job>,
    max_batch: usize,
    shared: Arc<Shared>,
    /// `None` for a store only this node writes.
    poll: Option<Poll>,
    health: Health,
}

/// When the next poll is due and what the last one saw.
struct Poll {
    interval: Duration,
    due: Instant,
    /// The fingerprint the held state was last reloaded at; `None` forces a reload.
    seen: Option<Fingerprint>,
}

impl Poll {
    fn new(interval: Duration) -> Poll {
        assert!(!interval.is_zero(), "the poll interval must be positive");
        Poll {
            interval,
            due: Instant::now() + interval,
            seen: None,
        }
    }
}

impl Worker {
    fn run(mut self) {
        loop {
            let job = match &self.poll {
                None => self.queue.recv().ok(),
                Some(poll) => match self.queue.recv_deadline(poll.due) {
                    Ok(job) => Some(job),
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        self.poll_store();
                        continue;
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => None,
                },
            };
            let Some(job) = job else { return };
            if !self.handle(job) {
                return;
            }
            // A steady stream of jobs must not starve the poll.
            if self
                .poll
                .as_ref()
                .is_some_and(|poll| poll.due <= Instant::now())
            {
                self.poll_store();
            }
        }
    }

    /// Poll once, publish what changed, and schedule the next poll.
    fn poll_store(&mut self) {
        let outcome = self.reload_if_changed();
        self.health
            .observe(outcome.as_ref().map(|_| ()), &self.shared.store_down);
        if let Some(poll) = &mut self.poll {
            poll.due = Instant::now() + poll.interval;
        }
        if let Ok(Some(snapshot)) = outcome {
            self.shared.watch.publish(snapshot);
        }
    }

    /// The store's rows as the next generation, when they differ from the held state. The
    /// fingerprint is read before the rows, so a change committed between the two reads is
    /// either in the rows or seen by the next poll.
    fn reload_if_changed(&mut self) -> Result<Option<Arc<ManagementSnapshot>>, StoreError> {
        let Some(poll) = &mut self.poll else {
            return Ok(None);
        };
        let Some(fingerprint) = self.store.fingerprint()? else {
            return Ok(None);
        };
        if poll.seen.as_ref() == Some(&fingerprint) {
            return Ok(None);
        }
        let mut loaded = self.store.load_management()?;
        poll.seen = Some(fingerprint);
        loaded.generation = self.current.generation;
        if loaded == *self.current {
            // Most often this node's own write, already in the held state.
            return Ok(None);
        }
        loaded.generation += 1;
        self.current = Arc::new(loaded);
        Ok(Some(self.current.clone()))
    }

    /// Do one job; false when it asks the thread to stop.
    fn handle(&mut self, job: Job) -> bool {
        match job {
            Job::Write(change, reply) => {
                let next = self.commit_batch(change, reply);
                next.is_none_or(|job| self.handle(job))
            }
            Job::Read(read) => {
                read(&mut *self.store);
                true
            }
            Job::Logs {
                kind,
                filter,
                limit,
                reply,
            } => {
                reply.complete(self.store.logs(kind, &filter, limit));
                true
            }
            Job::SaveRegistry(instances, reply) => {
                reply.complete(self.store.save_registry(&instances));
                true
            }
            Job::LoadRegistry(reply) => {
                reply.complete(self.store.load_registry());
                true
            }
            Job::PollNow => {
                if let Some(poll) = &mut self.poll {
                    poll.due = Instant::now();
                }
                true
            }
            Job::Shutdown => false,
        }
    }

    /// Commit `first` with every write queued behind it (up to `max_batch`) in one transaction.
    /// Draining stops at the first job that is not a write; it is returned, to be done after
    /// the commit, so jobs still run in the order they were queued.
    fn commit_batch(
        &mut self,
        first: Change,
        reply: Completer<Arc<ManagementSnapshot>>,
    ) -> Option<Job> {
        let mut writes = vec![first];
        let mut replies = vec![reply];
        let mut next = None;
        while writes.len() < self.max_batch {
            match self.queue.try_recv() {
                Ok(Job::Write(write, reply)) => {
                    writes.push(write);
                    replies.push(reply);
                }
                Ok(other) => {
                    next = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let count = writes.len() as u64;
        match self.store.commit(&writes, now_ms()) {
            Ok(groups) => {
                let mut snapshot = (*self.current).clone();
                for write in &writes {
                    if let Change::Traffic(write) = write {
                        snapshot.apply(write);
                    }
                }
                if let Some(groups) = groups {
                    snapshot.set_groups(Arc::new(groups));
                }
                snapshot.generation += 1;
                self.current = Arc::new(snapshot);
                self.shared.transactions.fetch_add(1, Ordering::Relaxed);
                self.shared.writes.fetch_add(count, Ordering::Relaxed);
                self.health.observe(Ok(()), &self.shared.store_down);
                for reply in replies {
                    reply.complete(Ok(self.current.clone()));
                }
            }
            Err(error) => {
                tracing::warn!("{count} management write(s) failed: {error}");
                if error.kind == StoreErrorKind::Unavailable {
                    self.health.observe(Err(&error), &self.shared.store_down);
                }
                self.shared
                    .failed_writes
                    .fetch_add(count, Ordering::Relaxed);
                for reply in replies {
                    reply.complete(Err(error.clone()));
                }
            }
        }
        next
    }
}

/// Runs however the thread ends (shutdown, every handle dropped, or a panic in the store), so
/// queued jobs are answered rather than left waiting.
impl Drop for Worker {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.watch.close();
        // Dropping a job answers it with an error.
        while self.queue.try_recv().is_ok() {}
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}
