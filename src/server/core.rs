//! One core: an event loop (monoio runtime) that owns one shard, accepts connections on its own
//! SO_REUSEPORT listener, serves them, executes shard requests from other cores, and runs the
//! shard's lease clock.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::{ListenerOpts, TcpListener};
use shards::{NodeShared, Router, Shard};

use super::log_limit::LogLimiter;
use super::mailbox::{Delivery, Inbox, Incoming, Outbox, Pending, ReplyFuture, Request};
use super::ops::{execute, ShardOp, ShardReply};
use super::signal::{yield_now, LocalSignal};
use super::subscribers::{Session, Subscribers};
use crate::clock::Clock;
use crate::config::Config;

/// Node-wide state shared by every core: immutable after start, apart from atomics that are
/// touched on connect/disconnect and shutdown only (never per request).
pub struct Node {
    pub config: Config,
    pub url: String,
    pub router: Router,
    pub clock: Clock,
    pub outboxes: Vec<Outbox>,
    pub shared: Arc<NodeShared>,
    pub http_limits: protocol::http::Limits,
    pub shutdown: AtomicBool,
    pub connections: AtomicUsize,
    pub driver: &'static str,
}

pub struct Core {
    pub id: usize,
    pub node: Arc<Node>,
    pub shard: RefCell<Shard>,
    pending: Rc<RefCell<Pending>>,
    pub shutdown: LocalSignal,
    /// Connections this core serves right now.
    pub live_connections: Cell<usize>,
    /// Client-triggered warnings (bad requests) are limited per core.
    pub bad_request_log: LogLimiter,
    /// WebSocket subscribers on this core.
    pub subscribers: RefCell<Subscribers>,
    next_session_id: Cell<u64>,
}

/// A shard call in flight.
pub enum Call {
    Ready(ShardReply),
    Waiting(ReplyFuture),
}

impl Call {
    pub async fn reply(self) -> ShardReply {
        match self {
            Call::Ready(r) => r,
            Call::Waiting(f) => f.await,
        }
    }
}

impl Core {
    pub fn new(id: usize, node: Arc<Node>) -> Self {
        let config = shard_config(&node.config, &node.clock);
        let shard = Shard::new(id, config, node.shared.clone(), node.clock.now_ms());
        Core {
            id,
            node,
            shard: RefCell::new(shard),
            pending: Rc::new(RefCell::new(Pending::default())),
            shutdown: LocalSignal::default(),
            live_connections: Cell::new(0),
            bad_request_log: LogLimiter::new(20),
            subscribers: RefCell::new(Subscribers::default()),
            next_session_id: Cell::new(0),
        }
    }

    /// Start an operation on `shard`. A local shard runs it now; a remote one gets it through its
    /// inbox (waiting while that inbox is full).
    pub async fn start(&self, shard: usize, op: ShardOp) -> Call {
        if shard == self.id {
            return Call::Ready(self.execute_here(op));
        }
        let token = self.pending.borrow_mut().open();
        let waiting = ReplyFuture::new(self.pending.clone(), token);
        let mut request = Request {
            from: self.id,
            token,
            op,
        };
        loop {
            match self.node.outboxes[shard].try_request(request) {
                Ok(()) => return Call::Waiting(waiting),
                Err(back) => {
                    if self.node.shutdown.load(Ordering::Relaxed) {
                        return Call::Ready(ShardReply::Unavailable);
                    }
                    request = back;
                    monoio::time::sleep(Duration::from_micros(200)).await;
                }
            }
        }
    }

    /// Start `op` on `shard` and wait for its reply.
    pub async fn call(&self, shard: usize, op: ShardOp) -> ShardReply {
        self.start(shard, op).await.reply().await
    }

    /// Renew leases on this core's shard (heartbeats make no changes, so nothing to push).
    pub fn renew_local<'a>(
        &self,
        keys: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> smallvec::SmallVec<[bool; 8]> {
        let now = self.node.clock.now_ms();
        let mut shard = self.shard.borrow_mut();
        keys.map(|(service, instance)| shard.heartbeat(service, instance, now))
            .collect()
    }

    /// Run an operation on this core's shard and send out the changes it made.
    fn execute_here(&self, op: ShardOp) -> ShardReply {
        let reply = execute(
            &mut self.shard.borrow_mut(),
            op,
            &self.node.clock,
            self.node.config.limits.max_listed_leases,
        );
        self.flush_pushes();
        reply
    }

    /// Deliver the shard's pending changes: to this core's subscribers directly, to other cores
    /// in one batch per core.
    fn flush_pushes(&self) {
        let mut shard = self.shard.borrow_mut();
        if !shard.has_pushes() {
            return;
        }
        let mut batches: Vec<Vec<Delivery>> = Vec::new();
        let subscribers = self.subscribers.borrow();
        for push in shard.drain_pushes() {
            for &core in &push.cores {
                let core = core as usize;
                if core == self.id {
                    subscribers.deliver(&push.service_key, &push.message);
                    continue;
                }
                if batches.len() <= core {
                    batches.resize_with(core + 1, Vec::new);
                }
                batches[core].push(Delivery {
                    service_key: push.service_key.clone(),
                    message: push.message.clone(),
                });
            }
        }
        for (core, batch) in batches.into_iter().enumerate() {
            if !batch.is_empty() {
                self.node.outboxes[core].send(Incoming::Changes(batch));
            }
        }
    }

    pub fn new_session(&self) -> Rc<Session> {
        let id = self.next_session_id.get();
        self.next_session_id.set(id + 1);
        Rc::new(Session::new(
            id,
            self.node.config.ws.max_queued_messages,
            self.node.config.ws.max_queued_bytes,
        ))
    }

    /// Subscribe a session to a service's changes. Once this returns, every later change of the
    /// service reaches the session. The shard counts subscriptions per core, so each session's
    /// subscribe and unsubscribe go to it (they commute; see `shards::interest`).
    pub async fn subscribe(&self, session: &Rc<Session>, service_key: &str) {
        self.subscribers.borrow_mut().add(service_key, session);
        let op = ShardOp::Subscribe {
            service_id: service_key.into(),
            core: self.id as u16,
        };
        self.call(self.node.router.shard_of(service_key), op).await;
    }

    /// End a subscription made by [`Core::subscribe`] (after it returned).
    pub async fn unsubscribe(&self, session_id: u64, service_key: &str) {
        self.subscribers
            .borrow_mut()
            .remove(service_key, session_id);
        let op = ShardOp::Unsubscribe {
            service_id: service_key.into(),
            core: self.id as u16,
        };
        self.call(self.node.router.shard_of(service_key), op).await;
    }

    /// Subscribe a session to every change of every service.
    pub async fn subscribe_all(&self, session: &Rc<Session>) {
        self.subscribers.borrow_mut().add_all(session);
        self.broadcast(|core| ShardOp::SubscribeAll { core }).await;
    }

    pub async fn unsubscribe_all(&self, session_id: u64) {
        self.subscribers.borrow_mut().remove_all(session_id);
        self.broadcast(|core| ShardOp::UnsubscribeAll { core })
            .await;
    }

    async fn broadcast(&self, op: impl Fn(u16) -> ShardOp) {
        let mut calls = Vec::with_capacity(self.node.router.shards());
        for shard in 0..self.node.router.shards() {
            calls.push(self.start(shard, op(self.id as u16)).await);
        }
        for call in calls {
            call.reply().await;
        }
    }

    /// Serve other cores' shard requests and deliver replies to this core's waiters.
    async fn run_inbox(self: Rc<Self>, inbox: Inbox) {
        const BATCH: usize = 128;
        loop {
            inbox.ready().await;
            loop {
                let mut did = 0;
                while let Some(incoming) = inbox.try_incoming() {
                    match incoming {
                        Incoming::Reply { token, reply } => {
                            self.pending.borrow_mut().complete(token, reply);
                        }
                        Incoming::Changes(batch) => {
                            let subscribers = self.subscribers.borrow();
                            for d in batch {
                                subscribers.deliver(&d.service_key, &d.message);
                            }
                        }
                    }
                    did += 1;
                }
                while did < BATCH {
                    let Some(request) = inbox.try_request() else {
                        break;
                    };
                    // Answer first, then fan the changes out: the requester's reply must not
                    // queue behind (possibly thousands of) subscriber deliveries.
                    let reply = execute(
                        &mut self.shard.borrow_mut(),
                        request.op,
                        &self.node.clock,
                        self.node.config.limits.max_listed_leases,
                    );
                    self.node.outboxes[request.from].send(Incoming::Reply {
                        token: request.token,
                        reply,
                    });
                    self.flush_pushes();
                    did += 1;
                }
                if did == 0 {
                    break;
                }
                // Let connections on this core run between batches.
                yield_now().await;
            }
        }
    }

    /// The lease clock: expire due leases every tick, in bounded steps.
    async fn run_lease_clock(self: Rc<Self>) {
        let tick = Duration::from_millis(self.node.config.lease.wheel_tick_ms);
        let budget = self.node.config.lease.max_evictions_per_step;
        loop {
            monoio::time::sleep(tick).await;
            if self.node.shutdown.load(Ordering::Relaxed) {
                self.shutdown.fire();
            }
            loop {
                let now = self.node.clock.now_ms();
                let more = self.shard.borrow_mut().tick(now, budget);
                self.flush_pushes();
                if !more {
                    break;
                }
                yield_now().await;
            }
        }
    }

    /// Runs until shutdown has drained this node's connections (or the grace period ran out).
    pub async fn run(self: Rc<Self>, listener: TcpListener, inbox: Inbox) {
        monoio::spawn(self.clone().run_inbox(inbox));
        monoio::spawn(self.clone().run_lease_clock());
        self.accept_loop(listener).await;
        let grace = Duration::from_millis(self.node.config.limits.shutdown_grace_ms);
        let deadline = Instant::now() + grace;
        // Keep serving other cores' shard requests until every connection on the node is done.
        while self.node.connections.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
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
    }
}

pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let opts = ListenerOpts::new()
        .reuse_port(true)
        .reuse_addr(true)
        .backlog(4096);
    TcpListener::bind_with_config(addr, &opts)
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
