//! Server start-up and shutdown: one thread per shard, each running its own event loop.

pub mod accept;
mod activity;
pub mod affinity;
pub mod app;
mod bootstrap;
pub mod budget;
pub mod conn;
pub mod core;
mod data_dir;
pub mod durable;
pub mod gzip_cache;
pub mod handoff;
mod listener;
mod log_limit;
pub mod mailbox;
pub mod metrics;
mod notify;
pub mod nudge;
mod outgoing;
mod polled;
pub mod rate_limit;
pub mod reload;
pub mod shared_body;
pub mod signal;
mod stream;
pub mod subscribers;
mod supervise;
pub mod trim;
mod watchdog;
pub mod ws;

use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::net::TcpListener;
use shards::{NodeShared, Router};

use self::app::App;
use self::core::{Core, Node};
use self::notify::Notifier;
use self::reload::{Reloader, Swappable};
use self::supervise::Supervisor;
use self::watchdog::{Heartbeats, Watchdog};
use crate::clock::Clock;
use crate::cluster::{ClusterState, NodeStatus, Topology};
use crate::config::Config;

/// Why the node stopped with an error, and the process exit code that says so.
pub struct Failure {
    pub message: String,
    /// 2: the configuration or the database needs an operator; 1: the environment (address in
    /// use, data dir held by another server) or a crash.
    pub exit_code: u8,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            message,
            exit_code: 1,
        }
    }
}

/// The CPU of each core's thread (`pin_cores`), logged either way.
fn pin_plan(mode: &str, shards: usize) -> Option<Vec<usize>> {
    let allowed = match affinity::allowed_cpus() {
        Ok(allowed) => allowed,
        Err(e) => {
            tracing::warn!("cores not pinned: cannot read the process's CPUs: {e}");
            return None;
        }
    };
    affinity::remember_process_cpus(&allowed);
    let plan = affinity::plan(mode, shards, &allowed);
    match &plan {
        Some(cpus) => tracing::info!(?cpus, "each core's thread pinned to its own CPU"),
        None if mode == "off" => tracing::info!("cores not pinned (pin_cores = \"off\")"),
        None => tracing::info!(
            cpus = allowed.len(),
            shards,
            "cores not pinned: the process may use another number of CPUs than it has shards"
        ),
    }
    plan
}

/// Start the node, serve until SIGTERM/SIGINT (reloading the configuration on SIGHUP), drain,
/// and return. Under systemd (`NOTIFY_SOCKET`) it reports each phase.
pub fn run<A: App>(config: Config, reloader: Reloader) -> Result<(), Failure> {
    // First: a signal during start-up waits for the node to serve, then drains or reloads it.
    supervise::block_signals();
    // Shared with core 0, whose bootstrap reports `READY=1` when a node of a cluster is up.
    let notifier = Arc::new(Notifier::from_env());
    // Held until run returns, that is for the process's whole life.
    let _data_dir = data_dir::lock(&config.data_dir)?;
    let shards = config.shard_count();
    let addr = config.listen_addr()?;
    let cluster_addr = cluster_listen_addr(&config, addr)?;
    let driver = pick_driver(&config.driver)?;
    let pinned = pin_plan(&config.pin_cores, shards);
    let router = Router::new(shards);
    let cluster_secret = config.cluster.load_secret().map_err(|message| Failure {
        message,
        exit_code: 2,
    })?;
    notifier.status("opening the store");
    // Before any socket is bound: a database that cannot be opened stops the start.
    let durable = durable::open(&config, &router).map_err(|e| Failure {
        message: e.0,
        exit_code: 2,
    })?;
    let restoring: usize = durable.restore.iter().map(Vec::len).sum();
    // A cluster node that will copy the registry from a peer only sets its saved one aside.
    let saved_verb = if config.cluster.nodes.is_empty() || config.cluster.force_up {
        "restoring"
    } else {
        "setting aside"
    };
    notifier.status(&format!(
        "starting {}, {saved_verb} {}",
        counted(shards, "shard"),
        counted(restoring, "saved instance")
    ));

    let mut outboxes = Vec::with_capacity(shards);
    let mut inboxes = Vec::with_capacity(shards);
    for _ in 0..shards {
        let (outbox, inbox) = mailbox::inbox(
            config.limits.shard_queue_capacity,
            config.changes.core_queue_capacity,
            config.changes.core_queue_bytes,
        );
        outboxes.push(outbox);
        inboxes.push(inbox);
    }
    let limits = protocol::http::Limits {
        max_header_bytes: config.limits.max_header_bytes,
        max_headers: config.limits.max_headers,
        max_body_bytes: config.limits.max_body_bytes,
        max_decoded_body_bytes: config.limits.max_decoded_body_bytes,
    };

    // Core 0 binds the node's listening sockets (so a port of 0 resolves to one real port) and
    // duplicates them for the other cores; each core reports back once it listens.
    let (bound_tx, bound_rx) = std::sync::mpsc::channel::<Result<Bound, String>>();
    // Each core says when it serves: its shard is built (restored registry included).
    let (serving_tx, serving_rx) = std::sync::mpsc::channel::<usize>();
    let node_slot: Arc<std::sync::OnceLock<Arc<Node>>> = Arc::new(std::sync::OnceLock::new());
    let mut threads = Vec::with_capacity(shards);
    let mut inboxes = inboxes.into_iter();
    let mut spawn_core = |id: usize, listen: Listen| {
        let node_slot = node_slot.clone();
        // Core 0 runs the cluster's tasks (health poller, bootstrap).
        let notifier = (id == 0).then(|| notifier.clone());
        let inbox = inboxes.next().expect("one inbox per shard");
        let bound_tx = bound_tx.clone();
        let cpu = pinned.as_ref().map(|cpus| cpus[id]);
        let started = CoreStart {
            bound: bound_tx,
            serving: serving_tx.clone(),
            notifier,
        };
        let thread = std::thread::Builder::new()
            .name(format!("artemis-core-{id}"))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    if let Err(e) = affinity::pin_current_thread(cpu) {
                        tracing::warn!(core = id, cpu, "cannot pin the core's thread: {e}");
                    }
                }
                core_thread::<A>(id, listen, driver, inbox, node_slot, started)
            })
            .map_err(|e| format!("cannot start core thread: {e}"))?;
        threads.push(thread);
        bound_rx
            .recv()
            .map_err(|_| format!("core {id} exited during start-up"))?
    };
    let first = spawn_core(
        0,
        Listen::Bind {
            addr,
            cluster: cluster_addr,
            others: shards - 1,
        },
    )?;
    let bound = first.local;
    assert_eq!(first.shares.len(), shards - 1, "one share per other core");
    let (cluster_bound, mut cluster_shares) = match first.cluster {
        Some((local, shares)) => {
            assert_eq!(shares.len(), shards - 1, "one cluster share per other core");
            (Some(local), shares.into_iter().map(Some).collect())
        }
        None => (None, Vec::new()),
    };
    cluster_shares.resize_with(shards - 1, || None);
    for ((id, main), cluster) in (1..shards).zip(first.shares).zip(cluster_shares) {
        spawn_core(id, Listen::Share { main, cluster })?;
    }

    let url = config.advertised_url(bound);
    // The node's own entry in `cluster.nodes` is known only now (its URL may name the port the
    // listener got).
    let cluster_url = cluster_bound.map(|addr| cluster_listener_url(addr, &url, &config));
    let own_urls: Vec<&str> = std::iter::once(url.as_str())
        .chain(cluster_url.as_deref())
        .collect();
    let topology = Topology::from_config(&config, &own_urls).map_err(|message| Failure {
        message,
        exit_code: 2,
    })?;
    let cluster = Arc::new(ClusterState::new(
        topology,
        config.cluster.force_up,
        cluster_secret,
    ));
    crate::cluster::resolver::start(&cluster);
    let clock = if config.testing.manual_clock {
        tracing::warn!(
            "testing.manual_clock is on: leases expire only when a test moves the clock"
        );
        Clock::manual()
    } else {
        Clock::new()
    };
    let first_version = first_version(&clock);
    let restore_on_start = config.registry.restore_on_start;
    let node = Arc::new(Node {
        url,
        cluster,
        router,
        store: durable.handle.clone(),
        initial_management: durable.management.clone(),
        restore: std::sync::Mutex::new(durable.restore.into_iter().map(Some).collect()),
        saved: std::sync::Mutex::new(Vec::new()),
        rate_limit_windows: Arc::new(rate_limit::NodeWindows::new(&config.rate_limits, shards)),
        clock,
        outboxes,
        shared: Arc::new(NodeShared::new(shards, first_version)),
        http_limits: limits,
        shutdown: AtomicBool::new(false),
        connections: AtomicUsize::new(0),
        serving_cores: AtomicUsize::new(0),
        ws_sessions: ws::open_sessions::OpenSessions::new(shards),
        local_addr: bound,
        driver: driver.name(),
        management_tokens: Swappable::new(config.management.tokens.clone()),
        heartbeats: Heartbeats::new(shards),
        // Steering needs to know which core runs on which CPU.
        pinned_cpus: pinned
            .clone()
            .filter(|_| config.steer_connections == "auto"),
        handoffs: (0..shards).map(|_| handoff::Handoffs::default()).collect(),
        live_by_core: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
        config,
    });
    // Decided before any core runs: only the bootstrap changes the status, once the cores serve.
    let bootstrapping = node.cluster.status.get() == NodeStatus::Starting;
    let _ = node_slot.set(node.clone());
    for t in &threads {
        t.thread().unpark();
    }
    drop(serving_tx);
    wait_until_serving(&serving_rx, &threads)?;
    if durable.clear_saved_registry {
        durable::clear_saved_registry(&durable.handle);
    }
    if let Some(cluster) = cluster_bound {
        tracing::info!(address = %cluster, "cluster listener serving; replication is accepted there only");
        // Machine-readable, like the listening line below (which comes last).
        println!("artemis cluster listener on {cluster}");
    }
    tracing::info!(
        address = %bound,
        shards,
        driver = driver.name(),
        region = %node.config.region_id,
        zone = %node.config.zone_id,
        url = %node.url,
        "artemis serving"
    );
    // A machine-readable line for scripts and tests that start the server on port 0.
    println!("artemis listening on {bound}");
    let serving_status = serving_status(&node);
    if bootstrapping {
        tracing::info!(
            peers = node.cluster.peers.len(),
            "the node is starting: it copies the registry from an up peer before it reports up"
        );
    } else {
        notifier.ready(&serving_status);
    }

    let watchdog = Watchdog::interval_from_env()
        .map(|interval| Watchdog::new(interval, node.heartbeats.snapshot(), Instant::now()));
    let outcome = Supervisor {
        node: &node,
        threads: &threads,
        notifier: &notifier,
        reloader,
        watchdog,
        serving_status,
    }
    .serve_until_stopped();
    let grace_ms = node.config.limits.shutdown_grace_ms;
    notifier.stopping(&match &outcome {
        Ok(()) => format!("draining connections (at most {grace_ms} ms)"),
        Err(e) => format!("stopping: {e}"),
    });
    let deadline = Instant::now() + Duration::from_millis(grace_ms);
    node.shutdown.store(true, Ordering::SeqCst);
    let mut failed = outcome.is_err();
    for t in threads {
        if t.join().is_err() {
            failed = true;
        }
    }
    let mut store_done = true;
    if restore_on_start && !failed {
        let saved = std::mem::take(&mut *node.saved.lock().unwrap_or_else(|e| e.into_inner()));
        notifier.status(&format!(
            "saving the registry ({})",
            counted(saved.len(), "instance")
        ));
        store_done = durable::save_registry(&durable.handle, saved, deadline);
    }
    if store_done {
        // Jobs queued before this finish; the thread then ends.
        durable.handle.shutdown();
        if durable.persistence.join().is_err() {
            failed = true;
        }
    }
    // Otherwise the store is stuck (a hung disk): exit anyway; an unfinished transaction is
    // rolled back when the database is next opened.
    if failed {
        return Err(outcome
            .err()
            .unwrap_or_else(|| "a core thread panicked".into())
            .into());
    }
    tracing::info!("artemis stopped");
    Ok(())
}

/// The systemd `STATUS=` of a node that serves.
fn serving_status(node: &Node) -> String {
    format!(
        "serving {} on {}",
        counted(node.router.shards(), "shard"),
        node.local_addr
    )
}

/// The URL peers reach this node's cluster listener at: its address, or for a wildcard address
/// (`0.0.0.0`, `[::]`) the host of the advertised URL with the listener's port.
fn cluster_listener_url(addr: SocketAddr, advertised: &str, config: &Config) -> String {
    let host = if addr.ip().is_unspecified() {
        let authority = advertised
            .strip_prefix("http://")
            .or_else(|| advertised.strip_prefix("https://"))
            .unwrap_or(advertised);
        let authority = authority.split('/').next().unwrap_or_default();
        match authority.rfind(':') {
            Some(i) if !authority[i..].contains(']') => authority[..i].to_string(),
            _ => authority.to_string(),
        }
    } else {
        match addr.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        }
    };
    format!("http://{host}:{}{}/", addr.port(), config.path_prefix)
}

/// "1 shard", "2 shards": for status lines people read.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Versions start from the wall clock (microsecond scale) so that a version a client kept from
/// an earlier run of the node is always older than anything this run's change log holds.
fn first_version(clock: &Clock) -> u64 {
    (clock.wall_now_ms().max(0) as u64).saturating_mul(1000)
}

/// Wait until every core serves; Err if one ended during start-up.
fn wait_until_serving(
    serving: &std::sync::mpsc::Receiver<usize>,
    threads: &[std::thread::JoinHandle<()>],
) -> Result<(), String> {
    let mut waiting = threads.len();
    while waiting > 0 {
        match serving.recv_timeout(Duration::from_millis(50)) {
            Ok(_) => waiting -= 1,
            Err(_) => {
                if let Some(i) = threads.iter().position(|t| t.is_finished()) {
                    return Err(format!("core {i} stopped during start-up"));
                }
            }
        }
    }
    Ok(())
}

/// What a core reports during start-up: where it listens, then that it serves; and for core 0
/// the notifier its cluster tasks report to.
struct CoreStart {
    bound: std::sync::mpsc::Sender<Result<Bound, String>>,
    serving: std::sync::mpsc::Sender<usize>,
    notifier: Option<Arc<Notifier>>,
}

/// How a core gets its listeners: the main one, and the cluster one with `cluster.listen`.
enum Listen {
    /// Core 0: bind the addresses, and duplicate the sockets for the `others` cores.
    Bind {
        addr: SocketAddr,
        cluster: Option<SocketAddr>,
        others: usize,
    },
    /// Every other core: accept on duplicates of core 0's sockets.
    Share {
        main: OwnedFd,
        cluster: Option<OwnedFd>,
    },
}

/// A core listens: on which address, and (from core 0) the duplicates for the other cores; the
/// same for the cluster listener when there is one.
struct Bound {
    local: SocketAddr,
    shares: Vec<OwnedFd>,
    cluster: Option<(SocketAddr, Vec<OwnedFd>)>,
}

/// `cluster.listen` as an address, or None when it is empty. The same address as `listen`
/// (port 0 aside, which picks a free port each time) would only fail to bind later with a
/// misleading "in use": it is a configuration error.
fn cluster_listen_addr(config: &Config, main: SocketAddr) -> Result<Option<SocketAddr>, Failure> {
    let text = config.cluster.listen.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let config_error = |message: String| Failure {
        message,
        exit_code: 2,
    };
    let addr: SocketAddr = text
        .parse()
        .map_err(|e| config_error(format!("cluster.listen: {text:?}: {e}")))?;
    if addr == main && addr.port() != 0 {
        return Err(config_error(format!(
            "cluster.listen: {addr} is the address of listen; give the cluster listener its own \
             address, or leave cluster.listen empty to serve peers on the main port"
        )));
    }
    Ok(Some(addr))
}

#[derive(Clone, Copy)]
enum Driver {
    Auto,
    Uring,
    Legacy,
}

impl Driver {
    fn name(self) -> &'static str {
        match self {
            Driver::Auto if monoio::utils::detect_uring() => "io_uring",
            Driver::Auto | Driver::Legacy => "epoll",
            Driver::Uring => "io_uring",
        }
    }
}

/// How each core's io_uring is set up: with `IORING_SETUP_COOP_TASKRUN` where the kernel has
/// it (5.19+). Without it, every completion of a socket operation interrupts the core's thread
/// (an IPI and a signal-like task-work run) even while it is busy in user space; with it the
/// completions wait for the thread's next system call, which a busy core makes within
/// microseconds and an idle one is parked in. Heartbeats with wrk: +25 % (`docs/decisions.md`).
fn ring_setup() -> io_uring::Builder {
    static COOP_TASKRUN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let coop = *COOP_TASKRUN.get_or_init(|| {
        io_uring::IoUring::<io_uring::squeue::Entry>::builder()
            .setup_coop_taskrun()
            .build(2)
            .is_ok()
    });
    let mut setup = io_uring::IoUring::builder();
    if coop {
        setup.setup_coop_taskrun();
    }
    setup
}

fn pick_driver(name: &str) -> Result<Driver, String> {
    match name {
        "auto" => Ok(Driver::Auto),
        "legacy" => Ok(Driver::Legacy),
        "uring" if monoio::utils::detect_uring() => Ok(Driver::Uring),
        "uring" => Err("driver: \"uring\" requested but io_uring is not available here".into()),
        other => Err(format!("driver: unknown driver {other:?}")),
    }
}

fn core_thread<A: App>(
    id: usize,
    listen: Listen,
    driver: Driver,
    inbox: mailbox::Inbox,
    node_slot: Arc<std::sync::OnceLock<Arc<Node>>>,
    started: CoreStart,
) {
    let CoreStart {
        bound,
        serving,
        notifier,
    } = started;
    let body = async move {
        let (listener, cluster_listener) = match listen_on(id, listen) {
            Ok((listeners, local)) => {
                let _ = bound.send(Ok(local));
                listeners
            }
            Err(e) => {
                let _ = bound.send(Err(e));
                return;
            }
        };
        drop(bound);
        // Wait until every core is bound and the node is assembled.
        let node = loop {
            if let Some(node) = node_slot.get() {
                break node.clone();
            }
            std::thread::park_timeout(Duration::from_millis(50));
        };
        let core = Rc::new(Core::new(id, node));
        if let Some(notifier) = notifier {
            start_cluster_tasks(&core, notifier);
        }
        let _ = serving.send(id);
        drop(serving);
        if let Some(cluster_listener) = cluster_listener {
            // Starts once `run` first waits, after it set the core up.
            monoio::spawn(core.clone().accept_cluster_loop::<A>(cluster_listener));
        }
        core.run::<A>(listener, inbox).await;
    };
    let result = match driver {
        Driver::Auto => monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .uring_builder(ring_setup())
            .enable_timer()
            .build()
            .map(|mut rt| rt.block_on(body)),
        Driver::Uring => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .uring_builder(ring_setup())
            .enable_timer()
            .build()
            .map(|mut rt| rt.block_on(body)),
        Driver::Legacy => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map(|mut rt| rt.block_on(body)),
    };
    if let Err(e) = result {
        tracing::error!(core = id, error = %e, "cannot build the event loop");
    }
}

/// On core 0 of a node with peers: poll the peers' health, and copy the registry from one of
/// them while the node is `starting`.
fn start_cluster_tasks(core: &Rc<Core>, notifier: Arc<Notifier>) {
    let cluster = &core.node.cluster;
    if !cluster.has_peers() {
        return;
    }
    let settings = crate::cluster::health::PollerSettings::from_config(&core.node.config.cluster);
    crate::cluster::health::spawn_poller(cluster.clone(), settings);
    if cluster.status.get() == NodeStatus::Starting {
        let status = serving_status(&core.node);
        monoio::spawn(bootstrap::run(core.clone(), notifier, status));
    }
}

/// A core's listeners: the main one, and the cluster one with `cluster.listen`.
type Listeners = (TcpListener, Option<TcpListener>);

/// This core's listeners, inside its event loop (which registers the sockets with its driver).
fn listen_on(id: usize, listen: Listen) -> Result<(Listeners, Bound), String> {
    match listen {
        Listen::Bind {
            addr,
            cluster,
            others,
        } => {
            let (main, local, shares) = bind_shared("listen", addr, others)?;
            let (cluster_listener, cluster) = match cluster {
                Some(addr) => {
                    let (listener, local, shares) = bind_shared("cluster.listen", addr, others)?;
                    (Some(listener), Some((local, shares)))
                }
                None => (None, None),
            };
            let bound = Bound {
                local,
                shares,
                cluster,
            };
            Ok(((main, cluster_listener), bound))
        }
        Listen::Share { main, cluster } => {
            let main = adopt_shared("listen", id, main)?;
            let local = local_addr("listen", &main)?;
            let cluster = cluster
                .map(|fd| adopt_shared("cluster.listen", id, fd))
                .transpose()?;
            let bound = Bound {
                local,
                shares: Vec::new(),
                cluster: None,
            };
            Ok(((main, cluster), bound))
        }
    }
}

/// Bind `addr` (config key `key`) and duplicate the socket for `others` cores.
fn bind_shared(
    key: &str,
    addr: SocketAddr,
    others: usize,
) -> Result<(TcpListener, SocketAddr, Vec<OwnedFd>), String> {
    let listener = listener::bind(key, addr)?;
    let shares = listener::share(&listener, others)
        .map_err(|e| format!("{key}: cannot share the socket of {addr}: {e}"))?;
    let local = local_addr(key, &listener)?;
    Ok((listener, local, shares))
}

fn adopt_shared(key: &str, id: usize, fd: OwnedFd) -> Result<TcpListener, String> {
    listener::adopt(fd)
        .map_err(|e| format!("{key}: core {id} cannot accept on the shared socket: {e}"))
}

fn local_addr(key: &str, listener: &TcpListener) -> Result<SocketAddr, String> {
    listener
        .local_addr()
        .map_err(|e| format!("{key}: no local address: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_wildcard_cluster_listener_is_reached_at_the_advertised_host() {
        let config = crate::config::Config::default();
        let url = |addr: &str, advertised: &str| {
            super::cluster_listener_url(addr.parse().unwrap(), advertised, &config)
        };
        assert_eq!(
            url("10.0.0.5:9090", "http://pub:8080/"),
            "http://10.0.0.5:9090/"
        );
        assert_eq!(
            url("0.0.0.0:9090", "http://pub:8080/x/"),
            "http://pub:9090/"
        );
        assert_eq!(
            url("[::]:9090", "http://[fd00::1]:8080/"),
            "http://[fd00::1]:9090/"
        );
        assert_eq!(url("[::1]:9090", "http://a/"), "http://[::1]:9090/");
    }
}
