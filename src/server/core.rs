//! One core: an event loop (monoio runtime) that owns one shard, accepts connections on its own
//! descriptor of the node's listening socket, serves them, runs shard operations for other cores, and runs the
//! shard's lease clock.
//!
//! Cross-core calls follow Seastar's `sharded<>`: an operation is a type
//! ([`shards::ops::ShardOp`]) with its own reply, and [`Core::call`], [`Core::call_owners`] and
//! [`Core::map_reduce`] run it on the right shards. A shard on this core runs it in place (no
//! message, no wake-up); a remote one runs the very same `execute` on its own core.

mod reads;
pub use reads::ServedViews;
mod renewals;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monoio::net::TcpListener;
use persistence::SavedInstance;
use protocol::model::management::ManagementSnapshot;
use shards::mirror::Mirror;
use shards::ops::{
    Expire, RegisterItem, RegisterMissing, ShardOp, Subscribe, SubscribeAll, Unsubscribe,
    UnsubscribeAll,
};
use shards::{NodeShared, Router, Shard};
use smallvec::SmallVec;

use super::activity::Activity;
use super::app::App;
use super::budget::Budgets;
use super::gzip_cache::GzipCache;
use super::log_limit::LogLimiter;
use super::mailbox::{
    Inbox, NotServed, Outbox, Pending, PublishedViews, Reply, ReplyFuture, Request, Unavailable,
};
use super::metrics::{self, CoreMetrics, NodeSample, Scrape};
use super::rate_limit::{NodeWindows, RateLimits};
use super::reload::Swappable;
use super::signal::{yield_now, LocalNotify, LocalSignal};
use super::stream::{self, ChangeStream, FanOut};
use super::subscribers::{Session, Subscribers};
use super::trim::Trimmer;
use super::watchdog::Heartbeats;
use super::ws::open_sessions::OpenSessions;
use crate::clock::Clock;
use crate::cluster::replicator::Replicator;
use crate::cluster::{ClusterState, NodeStatus};
use crate::config::Config;

/// Node-wide state shared by every core: immutable after start, apart from atomics that are
/// touched on connect/disconnect, lease clock ticks and shutdown only (never per request), and
/// the values a reload replaces.
pub struct Node {
    pub config: Config,
    pub url: String,
    /// The cluster's nodes, this node's status, and what it knows of its peers.
    pub cluster: Arc<ClusterState>,
    pub router: Router,
    pub clock: Clock,
    pub outboxes: Vec<Outbox>,
    pub shared: Arc<NodeShared>,
    pub http_limits: protocol::http::Limits,
    pub shutdown: AtomicBool,
    pub connections: AtomicUsize,
    /// Cores that restored their shard and accept connections (each counts itself once).
    pub serving_cores: AtomicUsize,
    /// WebSocket sessions open on each core, by channel family.
    pub ws_sessions: OpenSessions,
    /// The address the listener is bound to (its real port when `listen` asked for port 0).
    pub local_addr: SocketAddr,
    pub driver: &'static str,
    /// The management store's thread: writes, log queries, the registry saved at shutdown.
    pub store: persistence::Handle,
    /// The pull-outs loaded at start; every shard applies them before it serves.
    pub initial_management: Arc<ManagementSnapshot>,
    /// Per shard, the saved instances not registered yet (see [`Node::take_saved`]). A core
    /// registers its shard's before it serves, but a node that starts `starting` keeps them
    /// aside: the bootstrap discards them once a peer's copy is registered (the peer's registry
    /// is newer), or registers them when the node goes `up` without a copy.
    pub restore: Mutex<Vec<Option<Vec<RegisterItem>>>>,
    /// Filled by each core as it stops (when `registry.restore_on_start`): the registry to save.
    pub saved: Mutex<Vec<SavedInstance>>,
    /// The rate limits' node-wide windows; cores take allowances from them (see `rate_limit`).
    pub rate_limit_windows: Arc<NodeWindows>,
    /// `management.tokens` in force: a SIGHUP reload replaces it (`config` keeps the value read
    /// at start).
    pub management_tokens: Swappable<Vec<String>>,
    /// Bumped by each core's lease clock; the watchdog pings systemd while they all move.
    pub heartbeats: Heartbeats,
    /// The CPU each core's thread is pinned to (`pin_cores`), or None when not pinned.
    pub pinned_cpus: Option<Vec<usize>>,
    /// Per core, connections handed to it by the core that accepted them (`handoff`).
    pub handoffs: Vec<super::handoff::Handoffs>,
    /// Per core, the connections it serves (its `live_connections`, readable by the others).
    pub live_by_core: Vec<AtomicUsize>,
}

/// Whether the node serves (`GET /ready`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    Serving,
    /// Some cores are still restoring their shard.
    Starting {
        serving: usize,
        cores: usize,
    },
    /// Draining after SIGTERM/SIGINT.
    ShuttingDown,
}

impl Node {
    /// Up to `max` of the saved instances of `shard` not registered yet; each is taken once.
    pub fn take_saved(&self, shard: usize, max: usize) -> Vec<RegisterItem> {
        let mut slots = self.restore.lock().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = slots[shard].as_mut() else {
            return Vec::new();
        };
        let taken = slot.split_off(slot.len().saturating_sub(max));
        if slot.is_empty() {
            slots[shard] = None;
        }
        taken
    }

    pub fn readiness(&self) -> Readiness {
        if self.shutdown.load(Ordering::Relaxed) {
            return Readiness::ShuttingDown;
        }
        let cores = self.router.shards();
        let serving = self.serving_cores.load(Ordering::Relaxed);
        assert!(serving <= cores, "each core counts itself once");
        if serving < cores {
            Readiness::Starting { serving, cores }
        } else {
            Readiness::Serving
        }
    }
}

pub struct Core {
    pub id: usize,
    pub node: Arc<Node>,
    /// This core's counters (`GET /metrics`); shared with its WebSocket writer tasks.
    pub metrics: Rc<CoreMetrics>,
    shard: RefCell<Shard>,
    pending: Rc<RefCell<Pending>>,
    changes: RefCell<ChangeStream>,
    pub shutdown: LocalSignal,
    /// Connections this core serves right now.
    pub live_connections: Cell<usize>,
    /// Client-triggered warnings (bad requests) are limited per core.
    pub bad_request_log: LogLimiter,
    /// Memory this core's HTTP connections hold for clients: bytes queued for writing and
    /// request bytes buffered, each under its configured limit.
    pub budgets: Budgets,
    /// Returns freed memory to the system after clients leave.
    pub trimmer: Trimmer,
    /// WebSocket sessions on this core and their subscriptions.
    subscribers: RefCell<Subscribers>,
    /// gzip fragments of the shared answer bytes this core sent (see `gzip_cache`).
    pub gzip_cache: RefCell<GzipCache>,
    /// Connections that ended on this core; wakes its accept loops (see `accept`).
    pub(super) closures: super::accept::Closures,
    /// Change batches on their way to this core's sessions.
    fanout: FanOut,
    /// Sessions closed because the core's push queues were full.
    push_budget_log: LogLimiter,
    /// Java's request rate limiters, counted on this core.
    pub rate_limits: RateLimits,
    /// What the shard did (expiries, self-preservation) and refused, for the log.
    pub activity: Activity,
    /// Subscriptions refused because the core's subscription budget was spent.
    subscription_budget_log: LogLimiter,
    /// This shard's writes on their way to the cluster's peers (one sender per peer).
    replicator: Replicator,
    /// What the other shards serve, as far as this core knows: discovery reads of their
    /// services are answered from here (see `shards::mirror` and [`Core::served_views`]).
    mirror: RefCell<Mirror>,
    /// This shard changed served views: publish them at the end of the loop turn.
    publish_wanted: LocalNotify,
    /// Client renewals and registrations for other cores, gathered during this loop turn (see
    /// `renewals`).
    renewal_batches: renewals::OpenBatches<shards::ops::Renew>,
    register_batches: renewals::OpenBatches<shards::ops::Register>,
    batches_wanted: LocalNotify,
}

/// Per item of a batch, in request order: None where the item went to no shard, else its owner's
/// answer.
pub type Answers<T> = SmallVec<[Option<Result<T, Unavailable>>; 8]>;

/// Messages (of each kind) the inbox task handles before letting connections run again.
const INBOX_BATCH: usize = 128;

impl Core {
    pub fn new(id: usize, node: Arc<Node>) -> Self {
        let config = shard_config(&node.config, &node.clock);
        let now = node.clock.now_ms();
        let mut shard = Shard::new(id, config, node.shared.clone(), now);
        shard.apply_management(node.initial_management.clone(), now);
        shard.set_replicating(node.cluster.has_peers());
        // Every core is built before the bootstrap may take the node out of `starting`.
        if node.cluster.status.get() != NodeStatus::Starting {
            // A single node, or one forced up: the saved registry is all it has. Registered as a
            // copy, never replicated: peers hold their own registry.
            RegisterMissing(node.take_saved(id, usize::MAX)).execute(&mut shard, now);
        }
        // Nobody subscribed yet: the restore's changes only count in versions and deltas. No
        // core mirrors anything yet either: nothing to publish.
        shard.drain_pushes().for_each(drop);
        drop(shard.take_publication());
        let activity = Activity::new(&shard);
        let limits = &node.config.limits;
        let budgets = Budgets::new(
            limits.max_queued_write_bytes_per_core,
            limits.max_buffered_request_bytes_per_core,
        );
        Core {
            id,
            metrics: Rc::default(),
            shard: RefCell::new(shard),
            pending: Rc::new(RefCell::new(Pending::default())),
            changes: RefCell::new(ChangeStream::default()),
            shutdown: LocalSignal::default(),
            live_connections: Cell::new(0),
            bad_request_log: LogLimiter::new(20),
            budgets,
            trimmer: Trimmer::default(),
            gzip_cache: RefCell::new(GzipCache::new(node.config.http.gzip_cache_bytes_per_core)),
            closures: super::accept::Closures::default(),
            subscribers: RefCell::new(Subscribers::new(
                node.config.ws.max_core_queued_bytes,
                node.config.ws.max_subscription_bytes_per_core,
            )),
            fanout: FanOut::new(
                node.config.changes.core_queue_capacity,
                node.outboxes[id].waiting_changes(),
            ),
            push_budget_log: LogLimiter::new(1),
            rate_limits: RateLimits::new(id, node.rate_limit_windows.clone(), node.clock.clone()),
            activity,
            subscription_budget_log: LogLimiter::new(1),
            replicator: Replicator::new(&node.cluster, &node.config),
            mirror: RefCell::new(Mirror::new(
                node.router.shards(),
                limits.mirror_max_services,
            )),
            publish_wanted: LocalNotify::default(),
            renewal_batches: Default::default(),
            register_batches: Default::default(),
            batches_wanted: LocalNotify::default(),
            node,
        }
    }

    /// Run `op` on `shard` and return its reply.
    pub async fn call<Op>(&self, shard: usize, op: Op) -> Result<Op::Reply, Unavailable>
    where
        Op: ShardOp + Send + 'static,
        Op::Reply: Send + 'static,
    {
        if shard == self.id {
            return Ok(self.run_here(op));
        }
        let reply = match self.send(shard, op).await {
            Ok(waiting) => Ok(waiting.await),
            Err(e) => Err(e),
        };
        // Even unanswered: the owner may have applied the write.
        self.replied::<Op>(shard);
        reply
    }

    /// An operation answered by another core's shard: if it may have changed served views, this
    /// core's mirror of that shard waits for the publication carrying them (read-your-writes).
    fn replied<Op: ShardOp>(&self, shard: usize) {
        if Op::CHANGES_VIEWS {
            let due = self.node.shared.publication_due(shard);
            self.mirror.borrow_mut().require(shard, due);
        }
    }

    /// Run one operation per owning shard of a batch. `service_ids` gives each item's service
    /// (None: the item goes nowhere); `make` builds a shard's operation from the positions of
    /// the items it owns, and the operation replies once per item, in that order. Remote owners
    /// work while the local one runs.
    pub async fn call_owners<'a, Op, T>(
        &self,
        service_ids: impl Iterator<Item = Option<&'a str>>,
        mut make: impl FnMut(&[u32]) -> Op,
    ) -> Answers<T>
    where
        Op: ShardOp + Send + 'static,
        Op::Reply: IntoIterator<Item = T> + Send + 'static,
    {
        let mut answers: Answers<T> = SmallVec::new();
        let split = self
            .node
            .router
            .split(service_ids.inspect(|_| answers.push(None)));
        let mut local = None;
        let mut remote: SmallVec<[_; 4]> = SmallVec::new();
        for (shard, positions) in split.groups {
            if shard == self.id {
                local = Some(positions);
                continue;
            }
            let sent = self.send(shard, make(&positions)).await;
            remote.push((shard, positions, sent));
        }
        if let Some(positions) = local {
            let reply = self.run_here(make(&positions));
            scatter(&mut answers, &positions, Ok(reply));
        }
        for (shard, positions, sent) in remote {
            let reply = match sent {
                Ok(waiting) => Ok(waiting.await),
                Err(e) => Err(e),
            };
            self.replied::<Op>(shard);
            scatter(&mut answers, &positions, reply);
        }
        answers
    }

    /// Run the operation `make` builds on every shard and fold the replies (remote shards first,
    /// this core's shard last).
    pub async fn map_reduce<Op, A>(
        &self,
        make: impl Fn() -> Op,
        init: A,
        mut fold: impl FnMut(A, Result<Op::Reply, Unavailable>) -> A,
    ) -> A
    where
        Op: ShardOp + Send + 'static,
        Op::Reply: Send + 'static,
    {
        let mut remote: SmallVec<[_; 8]> = SmallVec::new();
        for shard in (0..self.node.router.shards()).filter(|&s| s != self.id) {
            remote.push((shard, self.send(shard, make()).await));
        }
        let local = self.run_here(make());
        let mut acc = init;
        for (shard, sent) in remote {
            let reply = match sent {
                Ok(waiting) => Ok(waiting.await),
                Err(e) => Err(e),
            };
            self.replied::<Op>(shard);
            acc = fold(acc, reply);
        }
        fold(acc, Ok(local))
    }

    /// Run an operation on this core's shard, then hand the changes it made to the stream.
    fn run_here<Op: ShardOp>(&self, op: Op) -> Op::Reply {
        let now = self.node.clock.now_ms();
        let reply = op.execute(&mut self.shard.borrow_mut(), now);
        // Invalidations first: a core that delivers a pushed change must not then serve the
        // view from before it.
        self.publish_invalidations();
        self.publish_changes();
        self.publish_replicas();
        reply
    }

    /// Drop the views the last operation changed from every other core's mirror, before its
    /// answer leaves, and have the new views published at the end of the loop turn.
    fn publish_invalidations(&self) {
        if !self.shard.borrow().has_publication() {
            return;
        }
        self.publish_wanted.notify();
        if self.node.outboxes.len() == 1 {
            return;
        }
        let invalidations = self.shard.borrow_mut().take_invalidations();
        if let Some(p) = invalidations {
            self.send_publication(p);
        }
    }

    /// Apply the publications other cores sent this core's mirror (before a read, so that it
    /// never serves a view older than a write some core has answered).
    fn apply_publications(&self) -> usize {
        let arrived = self.node.outboxes[self.id].take_publications();
        let mut mirror = self.mirror.borrow_mut();
        for a in &arrived {
            mirror.apply(a.owner, a.seq, a.flush, &a.views);
        }
        arrived.len()
    }

    /// Runs the publications: once per loop turn at most, after the turn's other tasks, so a
    /// service changed many times in a turn is built and sent once.
    async fn run_publisher(self: Rc<Self>) {
        loop {
            self.publish_wanted.notified().await;
            yield_now().await;
            self.publish_views();
        }
    }

    /// Send the new served views of this loop turn to every other core's mirror.
    fn publish_views(&self) {
        let publication = self.shard.borrow_mut().take_publication();
        if let Some(p) = publication {
            if self.node.outboxes.len() > 1 {
                self.send_publication(p);
            }
        }
    }

    /// One publication to every other core's mirror (one shared list).
    fn send_publication(&self, publication: shards::mirror::Publication) {
        let views: PublishedViews = publication.entries.into();
        let max_views = self.node.config.limits.mirror_queue_entries;
        for (core, outbox) in self.node.outboxes.iter().enumerate() {
            if core != self.id {
                outbox.publish(
                    self.id,
                    publication.seq,
                    publication.flush,
                    &views,
                    max_views,
                );
            }
        }
    }

    /// Queue an operation for another core's shard (waiting for room in its queue).
    async fn send<Op>(&self, shard: usize, op: Op) -> Result<ReplyFuture<Op::Reply>, Unavailable>
    where
        Op: ShardOp + Send + 'static,
        Op::Reply: Send + 'static,
    {
        debug_assert_ne!(shard, self.id, "the local shard runs operations in place");
        // Until the request is handed over, dropping this future (its connection went away)
        // must give the token back.
        let token = OpenToken {
            pending: &self.pending,
            token: self.pending.borrow_mut().open(),
        };
        self.metrics.cross_core_requests.add(1);
        let request = Request {
            from: self.id,
            token: token.token,
            job: Box::new(op),
        };
        let sent = self.node.outboxes[shard].request(request).await;
        let token = token.disarm();
        match sent {
            Ok(()) => Ok(ReplyFuture::new(self.pending.clone(), token)),
            Err(NotServed::NotSent) => {
                self.pending.borrow_mut().cancel(token);
                Err(Unavailable)
            }
            Err(NotServed::MaybeAnswered) => {
                self.pending.borrow_mut().abandon(token);
                Err(Unavailable)
            }
        }
    }

    /// Every core's counters and shard figures, summed (a core that has stopped is left out).
    pub async fn scrape(&self) -> NodeSample {
        self.map_reduce(
            || Scrape,
            NodeSample::default(),
            |mut node, reply| {
                if let Ok(sample) = reply {
                    node.add(&sample);
                }
                node
            },
        )
        .await
    }

    /// This core's counters and what it holds now (run by [`Scrape`] on this core's thread).
    pub(super) fn metrics_sample(&self) -> metrics::CoreSample {
        let push_queue_bytes = self.subscribers.borrow().budget().used();
        let gzip_cache_bytes = self.gzip_cache.borrow().held_bytes();
        self.metrics.sample(
            self.live_connections.get(),
            push_queue_bytes,
            gzip_cache_bytes,
        )
    }

    /// Hand the changes the shard recorded to the change stream's sinks.
    fn publish_changes(&self) {
        let mut shard = self.shard.borrow_mut();
        if !shard.has_pushes() {
            return;
        }
        self.changes.borrow_mut().publish(
            shard.drain_pushes(),
            self.id,
            &self.fanout,
            &self.node.outboxes,
        );
    }

    /// Hand the writes the shard recorded for the cluster's peers to this core's senders.
    fn publish_replicas(&self) {
        let mut shard = self.shard.borrow_mut();
        if !shard.has_replicas() {
            return;
        }
        self.replicator.publish(shard.drain_replicas());
    }

    /// Every instance of this core's shard, hidden ones too: what a peer's resync sends.
    fn replica_snapshot(&self) -> Vec<Arc<[u8]>> {
        let shard = self.shard.borrow();
        let mut all = Vec::with_capacity(shard.instance_count());
        shard.for_each_instance(None, |view| all.push(view.json.clone()));
        all
    }

    pub fn new_session(&self) -> Rc<Session> {
        let ws = &self.node.config.ws;
        self.subscribers
            .borrow_mut()
            .open_session(ws.max_queued_messages, ws.max_queued_bytes)
    }

    /// Forget a session that ended (it unsubscribed and its writer is done).
    pub fn end_session(&self, id: u64) {
        self.subscribers.borrow_mut().end_session(id);
    }

    /// Keep the core's session queues within their budget after a reply numbered `seq` was
    /// queued (it is protected: a reply is not a reason to close its own session).
    pub fn enforce_push_budget(&self, seq: u64) {
        stream::enforce_budget(&self.subscribers.borrow(), seq, &self.push_budget_log);
    }

    /// Subscribe a session to a service's changes. Once this returns, every later change of the
    /// service reaches the session. The owning shard counts subscriptions per core, so each
    /// session's subscribe and unsubscribe go to it (they commute; see `shards::interest`).
    /// Returns the key for the session to keep (the core's one copy), or None when the core's
    /// subscriptions would pass `ws.max_subscription_bytes_per_core` (nothing is subscribed).
    pub async fn subscribe(&self, session: &Rc<Session>, service_key: &str) -> Option<Arc<str>> {
        let added = self.subscribers.borrow_mut().add(service_key, session);
        let key = match added {
            Ok(key) => key,
            Err(full) => {
                if self.subscription_budget_log.allow() {
                    tracing::warn!(
                        core = self.id,
                        held = full.held,
                        wanted = service_key.len(),
                        limit = full.limit,
                        "websocket subscription refused, session closed (1013): subscriptions \
                         on this core would pass ws.max_subscription_bytes_per_core"
                    );
                }
                return None;
            }
        };
        let op = Subscribe {
            service_key: service_key.into(),
            core: self.id as u16,
        };
        // Unavailable: the node is shutting down and the session is about to close.
        let _ = self.call(self.node.router.shard_of(service_key), op).await;
        Some(key)
    }

    /// End a subscription made by [`Core::subscribe`] (after it returned).
    pub async fn unsubscribe(&self, session_id: u64, service_key: &str) {
        self.subscribers
            .borrow_mut()
            .remove(service_key, session_id);
        let op = Unsubscribe {
            service_key: service_key.into(),
            core: self.id as u16,
        };
        let _ = self.call(self.node.router.shard_of(service_key), op).await;
    }

    /// Subscribe a session to every change of every service.
    pub async fn subscribe_all(&self, session: &Rc<Session>) {
        self.subscribers.borrow_mut().add_all(session);
        let core = self.id as u16;
        self.map_reduce(|| SubscribeAll { core }, (), |(), _| ())
            .await;
    }

    pub async fn unsubscribe_all(&self, session_id: u64) {
        self.subscribers.borrow_mut().remove_all(session_id);
        let core = self.id as u16;
        self.map_reduce(|| UnsubscribeAll { core }, (), |(), _| ())
            .await;
    }

    /// Expire every lease due by the clock's current time on every shard, step by step; returns
    /// when no shard has expiry work left (the manual clock's `advance` waits on it).
    pub async fn expire_due(&self) {
        let budget = self.node.config.lease.max_evictions_per_step;
        while self
            .map_reduce(
                || Expire { budget },
                false,
                |more, r| more | r.unwrap_or(false),
            )
            .await
        {
            yield_now().await;
        }
    }

    /// Serve other cores' shard requests, deliver replies to this core's waiters and changes to
    /// its subscribers; at most `INBOX_BATCH` of each per loop turn.
    /// When `stop` fires it closes the inbox, serves what is queued, and returns, so the inbox is
    /// dropped on this core's thread.
    async fn run_inbox(self: Rc<Self>, inbox: Inbox, stop: Rc<LocalSignal>) {
        loop {
            let stopping = monoio::select! {
                _ = inbox.ready() => false,
                _ = stop.wait() => true,
            };
            if stopping {
                inbox.close();
                while self.serve_inbox_batch(&inbox) > 0 {}
                return;
            }
            while self.serve_inbox_batch(&inbox) > 0 {
                // Let connections on this core run between batches.
                yield_now().await;
            }
        }
    }

    /// One turn of the inbox: at most `INBOX_BATCH` replies, change batches and requests.
    /// Returns how many messages it handled.
    fn serve_inbox_batch(&self, inbox: &Inbox) -> usize {
        let mut did = 0;
        while did < INBOX_BATCH {
            let Some(Reply { token, reply }) = inbox.try_reply() else {
                break;
            };
            self.pending.borrow_mut().complete(token, reply);
            did += 1;
        }
        if inbox.take_lossy() {
            stream::changes_lost(&self.subscribers.borrow());
        }
        did += self.apply_publications();
        for _ in 0..INBOX_BATCH {
            let Some(step) = inbox.try_changes() else {
                break;
            };
            self.fanout.push_step(step);
            did += 1;
        }
        let mut served = 0;
        while served < INBOX_BATCH {
            let Some(request) = inbox.try_request() else {
                break;
            };
            // Answer first, then fan the changes out: the requester's reply must not
            // queue behind (possibly thousands of) subscriber deliveries.
            let now = self.node.clock.now_ms();
            let reply = request.job.run(&mut self.shard.borrow_mut(), now);
            // Before the reply: no core serves a view older than the answered write.
            self.publish_invalidations();
            self.node.outboxes[request.from].reply(Reply {
                token: request.token,
                reply,
            });
            self.publish_changes();
            self.publish_replicas();
            served += 1;
        }
        if served > 0 {
            inbox.release_capacity();
        }
        did + served
    }

    /// The lease clock: expire due leases every tick, in bounded steps; each tick also proves
    /// to the watchdog that this core is alive, and logs the shard's activity once a second.
    async fn run_lease_clock(self: Rc<Self>) {
        let tick = Duration::from_millis(self.node.config.lease.wheel_tick_ms);
        let budget = self.node.config.lease.max_evictions_per_step;
        loop {
            monoio::time::sleep(tick).await;
            self.node.heartbeats.beat(self.id);
            if self.node.shutdown.load(Ordering::Relaxed) {
                self.shutdown.fire();
            }
            while self.run_here(Expire { budget }) {
                yield_now().await;
            }
            self.activity
                .tick(self.id, &self.shard.borrow(), Instant::now());
        }
    }

    /// Deliver change batches to this core's sessions (see [`FanOut::run`]).
    async fn run_fanout(self: Rc<Self>) {
        self.fanout
            .run(&self.subscribers, &self.push_budget_log, &self.metrics)
            .await;
    }

    /// Runs until shutdown has drained this node's connections (or the grace period ran out).
    pub async fn run<A: App>(self: Rc<Self>, listener: TcpListener, inbox: Inbox) {
        // Before the inbox runs other cores' operations (a scrape among them) on this thread.
        metrics::register_core(&self);
        let stop_inbox = Rc::new(LocalSignal::default());
        let inbox_task = monoio::spawn(self.clone().run_inbox(inbox, stop_inbox.clone()));
        monoio::spawn(self.clone().run_fanout());
        monoio::spawn(self.clone().run_publisher());
        monoio::spawn(self.clone().run_batch_sender());
        monoio::spawn(self.clone().run_lease_clock());
        let core = self.clone();
        monoio::spawn(async move { core.trimmer.run(core.id).await });
        if self.id == 0 {
            monoio::spawn(super::polled::run(self.clone()));
        }
        let core = self.clone();
        self.replicator.start(
            self.id,
            &self.node.cluster,
            Rc::new(move || core.replica_snapshot()),
        );
        // The shard was restored in `Core::new`: from here this core serves.
        self.node.serving_cores.fetch_add(1, Ordering::Relaxed);
        monoio::spawn(self.clone().adopt_loop::<A>());
        self.accept_loop::<A>(listener).await;
        let grace = Duration::from_millis(self.node.config.limits.shutdown_grace_ms);
        let deadline = Instant::now() + grace;
        // Keep serving other cores' shard requests until every connection on the node is done.
        while self.node.connections.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
            // A core that steered just before shutdown may hand one over after this core stopped
            // adopting: it is closed here, not waited for.
            self.close_handed();
            monoio::time::sleep(Duration::from_millis(5)).await;
        }
        let left = self.live_connections.get();
        if left > 0 {
            tracing::warn!(
                core = self.id,
                connections = left,
                "grace period over; closing"
            );
        }
        // From here other cores' calls to this shard answer `Unavailable` instead of waiting.
        stop_inbox.fire();
        inbox_task.await;
        // The shard takes no more writes. Whatever is still queued for the peers is abandoned:
        // they keep those instances until their own lease TTL.
        self.replicator.stop();
        if self.node.config.registry.restore_on_start {
            self.save_instances();
        }
    }

    /// Hand this shard's instances to the node for saving (the shard is no longer served).
    fn save_instances(&self) {
        let shard = self.shard.borrow();
        // Stopped while still starting, the node has its saved registry aside: save it again,
        // or the next start (maybe forced up) would have lost it. What the shard holds was
        // written since, by peers, and wins.
        let aside = self.node.take_saved(self.id, usize::MAX);
        let mut saved = Vec::with_capacity(shard.instance_count() + aside.len());
        shard.for_each_instance(None, |view| {
            saved.push(SavedInstance {
                service_id: view.service_id.to_string(),
                instance_id: view.instance_id.to_string(),
                legacy: view.legacy,
                json: view.json.to_vec(),
            });
        });
        let missing = aside
            .into_iter()
            .filter(|i| !shard.holds(&i.service_id, &i.instance_id));
        saved.extend(missing.map(|i| SavedInstance {
            service_id: i.service_id.into(),
            instance_id: i.instance_id.into(),
            legacy: i.legacy,
            json: i.json.to_vec(),
        }));
        self.node
            .saved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(saved);
    }

    /// The pull-outs in effect on this core (the same on every core once a write is answered).
    pub fn management(&self) -> Arc<ManagementSnapshot> {
        self.shard.borrow().management().clone()
    }
}

/// A reply token not yet handed to a request queue; cancelled if dropped.
struct OpenToken<'a> {
    pending: &'a Rc<RefCell<Pending>>,
    token: u32,
}

impl OpenToken<'_> {
    fn disarm(self) -> u32 {
        let token = self.token;
        std::mem::forget(self);
        token
    }
}

impl Drop for OpenToken<'_> {
    fn drop(&mut self) {
        self.pending.borrow_mut().cancel(self.token);
    }
}

/// Put each item's answer in its place.
fn scatter<T, R: IntoIterator<Item = T>>(
    answers: &mut Answers<T>,
    positions: &[u32],
    reply: Result<R, Unavailable>,
) {
    match reply {
        Ok(items) => {
            let mut items = items.into_iter();
            for &p in positions {
                let item = items
                    .next()
                    .expect("an operation answers every item it got");
                answers[p as usize] = Some(Ok(item));
            }
            assert!(items.next().is_none(), "one answer per item");
        }
        Err(e) => {
            for &p in positions {
                answers[p as usize] = Some(Err(e));
            }
        }
    }
}

pub fn shard_config(c: &Config, clock: &Clock) -> shards::ShardConfig {
    let sp = &c.self_preservation;
    let safe = shards::SafeConfig {
        enabled: sp.enabled,
        window_ms: sp.window_ms,
        percentage_threshold: sp.percentage_threshold,
        max_count_threshold: sp.max_count_threshold,
        max_count_reset_interval_ms: sp.max_count_reset_interval_ms,
    };
    shards::ShardConfig {
        ttl_ms: c.lease.ttl_ms,
        legacy_ttl_ms: c.lease.legacy_ttl_ms,
        wheel_tick_ms: c.lease.wheel_tick_ms,
        wheel_slots: 4096,
        self_preservation: safe,
        legacy_self_preservation: shards::SafeConfig {
            window_ms: sp.legacy_window_ms,
            ..safe
        },
        preserved_recheck_ms: 1000,
        change_log_capacity: c.changes.log_capacity,
        wall_clock_offset_ms: clock.wall_ms(0),
    }
}
