//! Server configuration: TOML file, then command-line flags on top, then validation.
//!
//! Every limit the server enforces is a named key here with a default chosen for a production
//! node; `artemis.example.toml` and the README list them all. Unknown keys are rejected so a typo
//! never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::server::rate_limit::Limiter;

pub mod cluster;
pub mod persistence;
pub use cluster::ClusterConfig;
pub use persistence::PersistenceConfig;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP/WebSocket listener binds: one socket, exclusively (no SO_REUSEPORT), that
    /// every core accepts from.
    pub listen: String,
    /// The region this node serves; registrations from other regions are refused.
    pub region_id: String,
    pub zone_id: String,
    /// Where durable state lives (created at start).
    pub data_dir: PathBuf,
    /// Number of shards = event-loop threads; 0 means one per available core.
    pub shards: usize,
    /// URL other nodes and clients use to reach this node; empty means `http://<listen><path_prefix>/`.
    pub node_url: String,
    /// Serve every path under this prefix too (Java ran under `/artemis-service`); empty for none.
    pub path_prefix: String,
    /// `auto` (io_uring when the kernel allows it, else epoll), `uring`, or `legacy` (epoll).
    pub driver: String,
    /// `auto`: each core's thread is pinned to one CPU of those the process may run on, when
    /// there are exactly as many as cores; `off`: the OS places the threads.
    pub pin_cores: String,
    /// `auto`: with cores pinned, a connection is served by the core pinned to the CPU that
    /// receives its packets (`SO_INCOMING_CPU`), handed over when accepted or between requests,
    /// as long as that core holds no more connections than the other (slack of 2); `off`: by
    /// the core that accepted it.
    pub steer_connections: String,
    /// `RUST_LOG`-style filter used when `RUST_LOG` is not set.
    pub log: String,
    /// How log lines are written to stderr.
    pub log_format: LogFormat,
    pub lease: LeaseConfig,
    pub self_preservation: SelfPreservationConfig,
    pub registry: RegistryConfig,
    pub discovery: ZonePolicy,
    pub management: ManagementConfig,
    pub persistence: PersistenceConfig,
    pub limits: LimitsConfig,
    pub http: HttpConfig,
    pub changes: ChangesConfig,
    pub ws: WsConfig,
    pub rate_limits: RateLimitsConfig,
    pub cluster: ClusterConfig,
    pub testing: TestingConfig,
    /// Whether the config file set `limits.max_connections` (decides what happens when the
    /// open-file hard limit cannot fit it: an explicit value is refused, the default shrinks).
    #[serde(skip)]
    pub max_connections_explicit: bool,
    /// Where the values came from besides the defaults (`status/config.json` reports it).
    #[serde(skip)]
    pub sources: ConfigSources,
}

/// The layers a configuration was built from on top of the built-in defaults.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigSources {
    /// The config file, as its path was given.
    pub file: Option<PathBuf>,
    /// Whether any command-line flag overrode a value.
    pub flags: bool,
}

/// The shape of a log line. Under journald (`JOURNAL_STREAM` names stderr) no format writes a
/// timestamp: the journal adds its own.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: aligned level and target, ANSI colours on a terminal unless `NO_COLOR` is set.
    #[default]
    Human,
    /// `key=value` pairs (`time`, `level`, `target`, `msg`, then the event's fields).
    Logfmt,
    /// One JSON object per line (`time`, `level`, `target`, `message`, then the event's fields).
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseConfig {
    pub ttl_ms: u64,
    /// TTL for instances whose metadata has a non-blank `java_registry` (spec §11.2).
    pub legacy_ttl_ms: u64,
    /// Expiry resolution: a lease leaves discovery within one tick of its deadline.
    pub wheel_tick_ms: u64,
    /// Most leases expired in one step before the event loop serves requests again.
    pub max_evictions_per_step: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SelfPreservationConfig {
    pub enabled: bool,
    pub window_ms: u64,
    pub legacy_window_ms: u64,
    pub percentage_threshold: u64,
    pub max_count_threshold: u64,
    pub max_count_reset_interval_ms: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ZonePolicy {
    /// Accept requests whose zoneId differs from this node's zone (Java's shipped default: true).
    pub allow_from_other_zone: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Accept registrations whose zoneId differs from this node's zone (Java's default: true).
    pub allow_from_other_zone: bool,
    /// Save the registered instances to the store on graceful shutdown and register them again
    /// (with a fresh lease) at the next start, before the node serves.
    pub restore_on_start: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ManagementConfig {
    /// Bearer tokens allowed to write (`Authorization: Bearer <token>` or the body's `token`).
    /// Empty: writes are open, as in Java — unsafe on a shared network.
    pub tokens: Vec<String>,
    /// Rows one operation-log query returns at most (newest first).
    pub max_log_rows: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Open connections per node; further connections are accepted and closed at once. At start
    /// the soft open-file limit is raised to fit them (plus descriptors for listeners and event
    /// loops); a node whose hard limit cannot fit them refuses to start.
    pub max_connections: usize,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Request body bytes as sent (compressed or not).
    pub max_body_bytes: usize,
    /// Request body bytes after gzip inflation.
    pub max_decoded_body_bytes: usize,
    /// Instances in one register/heartbeat/unregister request.
    pub max_instances_per_request: usize,
    /// Discovery configs in one lookup request / service ids in one leases request.
    pub max_services_per_request: usize,
    /// Served views of other cores' services a core mirrors at most, per owning core (see
    /// `shards::mirror`); past it, lookups of further services ask their owner each time.
    pub mirror_max_services: usize,
    /// Changed views (publications) waiting for one core's mirror at most; past it the waiting
    /// ones are replaced by "drop everything of that owner".
    pub mirror_queue_entries: usize,
    /// A keep-alive connection with no request for this long is closed.
    pub idle_timeout_ms: u64,
    /// A request must arrive completely within this long of its first byte (slow-client defence).
    pub request_timeout_ms: u64,
    /// A response must be written within this long (slow-reader defence).
    pub write_timeout_ms: u64,
    /// Pending cross-shard requests per shard before senders wait.
    pub shard_queue_capacity: usize,
    /// On SIGTERM/SIGINT, in-flight requests get this long to finish.
    pub shutdown_grace_ms: u64,
    /// Leases each shard lists in `status/leases.json` (all are counted in `leaseCount`).
    pub max_listed_leases: usize,
    /// Bytes of HTTP answers queued for writing on one core; a body shared by many connections
    /// (`services.json`) counts once. Past it, the connections whose answers have waited longest
    /// are closed; an answer larger than this alone is never sent.
    pub max_queued_write_bytes_per_core: usize,
    /// Request bytes one core buffers beyond each connection's first 16 KiB buffers: bodies
    /// still arriving, the de-chunked and inflated copies of requests being handled, and
    /// WebSocket messages arriving. A connection whose request needs more than is left is
    /// answered 503 and closed (a WebSocket session is closed with 1013).
    pub max_buffered_request_bytes_per_core: usize,
    /// Members (concatenated gzip streams) in one gzip request body; real clients send one.
    pub max_gzip_members: usize,
    /// CPU time one request's gzip body may take to inflate (it is inflated in slices between
    /// which the core serves other connections).
    pub max_gzip_cpu_ms: u64,
    /// UTF-8 bytes of each string field of an instance (ids, names, addresses, URLs, status)
    /// and of a subscribed service id. A longer field fails that instance of a
    /// register/heartbeat/unregister batch; a longer subscription closes the session (1008).
    pub max_id_bytes: usize,
    /// UTF-8 bytes of an instance's metadata (every key and value together); more fails that
    /// instance of the batch.
    pub max_metadata_bytes: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChangesConfig {
    /// Changes each shard keeps for `services-delta.json`; older versions get `data-not-found`.
    pub log_capacity: usize,
    /// Change batches waiting for one core's subscribers (one batch per shard step), in its inbox
    /// and again in its fan-out queue. Past it the core has lost changes, so it closes its
    /// subscribers (1013: reconnect, reload).
    pub core_queue_capacity: usize,
    /// Bytes of the change batches waiting for one core's subscribers, in its inbox and its
    /// fan-out queue together (a batch sent to several cores counts on each). A step that would
    /// pass it is dropped and the core closes its subscribers, as for `core_queue_capacity`;
    /// a step that finds nothing waiting is always taken, so one batch the server accepted never
    /// closes a subscriber that keeps up.
    pub core_queue_bytes: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TestingConfig {
    /// For tests only: the lease clock stands still and moves only by
    /// `POST /debug/clock/advance?ms=N`, so TTLs and self-preservation run without real waiting.
    pub manual_clock: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WsConfig {
    /// Largest message a client may send (after reassembling fragments); larger closes with 1009.
    pub max_message_bytes: usize,
    /// Entries waiting to be written to one session (a reply, or one shard step's changes of one
    /// service); a session that is further behind when the next arrives is closed with 1013 (it
    /// reconnects and reloads) instead of growing memory.
    pub max_queued_messages: usize,
    /// Bytes waiting to be written to one session behind what its writer is writing (same policy
    /// as `max_queued_messages`; a shared change batch counts at its full size: it says how far
    /// behind the session is). An entry is taken whatever its size by a session within the
    /// limit, so one batch the server accepted never closes a subscriber that keeps up. On the
    /// heartbeat channel, half of it queued pauses reading the client's next request.
    pub max_queued_bytes: usize,
    /// Every session is closed after this long regardless of activity (Java: ~6 min), so clients
    /// rebalance across nodes.
    pub session_ttl_ms: u64,
    /// A session that sends nothing (not even a ping) for this long is closed.
    pub idle_timeout_ms: u64,
    /// Services one instance-change session may subscribe to.
    pub max_subscriptions_per_session: usize,
    /// Bytes of the (lower-cased) service ids one instance-change session subscribes to; past it
    /// the session is closed with 1008.
    pub max_subscription_bytes_per_session: usize,
    /// Bytes of the service ids all instance-change sessions of one core subscribe to, each
    /// subscription counted with its id plus an allowance for the table entries it takes. A
    /// subscription that would pass it closes its session with 1013 (try again later).
    pub max_subscription_bytes_per_core: usize,
    /// Bytes all WebSocket session queues of one core hold together (a change batch shared by
    /// many sessions counts once, while any of them holds it). Past it, the sessions waiting
    /// longest are closed with 1013 until the rest fits; sessions holding only what is being
    /// delivered are never closed for it.
    pub max_core_queued_bytes: usize,
}

/// `[rate_limits]`: Java's request rate limiters (spec §11.9), one table per limiter. Each
/// identity (operation) of a limiter is admitted at most its limit of times in any 10 s window
/// (ten 1 s buckets) node-wide; a request over it is answered `rate-limited` (HTTP 200, the
/// endpoint's usual shape) and not counted.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(from = "RateLimitsFile")]
pub struct RateLimitsConfig {
    /// `artemis.service.registry`: register, heartbeat (HTTP and WebSocket), unregister.
    pub registry: LimiterConfig,
    /// `artemis.service.registry.replication`: the replication endpoints of a cluster (register,
    /// heartbeat, unregister, get-services).
    pub registry_replication: LimiterConfig,
    /// `artemis.service.cluster`: up-registry-nodes, up-discovery-nodes.
    pub cluster: LimiterConfig,
    /// `artemis.service.status`: get-cluster, get-leases, get-legacy-leases, get-config,
    /// get-deployment.
    pub status: LimiterConfig,
    /// `artemis.service.management.group`: get.route-rules, get.route-rule-groups, get.groups.
    pub management_group: LimiterConfig,
}

/// One limiter: Java's `<id>.rate-limiter.{enabled,default-rate-limit,rate-limit-map}`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LimiterConfig {
    pub enabled: bool,
    /// Requests of each identity admitted per 10 s window node-wide.
    pub default_per_10s: u64,
    /// Identities with their own limit (identity name → requests per 10 s window).
    pub per_identity: BTreeMap<String, u64>,
}

/// `[rate_limits]` as written: a table sets only what it names, the rest keeps that limiter's
/// own defaults (which differ per limiter, so serde's per-type default cannot supply them).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RateLimitsFile {
    registry: LimiterFile,
    registry_replication: LimiterFile,
    cluster: LimiterFile,
    status: LimiterFile,
    management_group: LimiterFile,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LimiterFile {
    enabled: Option<bool>,
    default_per_10s: Option<u64>,
    /// Merged into the defaults identity by identity.
    per_identity: BTreeMap<String, u64>,
}

impl LimiterFile {
    fn over(self, mut defaults: LimiterConfig) -> LimiterConfig {
        if let Some(enabled) = self.enabled {
            defaults.enabled = enabled;
        }
        if let Some(limit) = self.default_per_10s {
            defaults.default_per_10s = limit;
        }
        defaults.per_identity.extend(self.per_identity);
        defaults
    }
}

impl From<RateLimitsFile> for RateLimitsConfig {
    fn from(file: RateLimitsFile) -> Self {
        let d = RateLimitsConfig::default();
        RateLimitsConfig {
            registry: file.registry.over(d.registry),
            registry_replication: file.registry_replication.over(d.registry_replication),
            cluster: file.cluster.over(d.cluster),
            status: file.status.over(d.status),
            management_group: file.management_group.over(d.management_group),
        }
    }
}

/// Limits a `rate_limits` table accepts (Java's ranges were narrower per limiter, e.g. at least
/// 1,000 for the registry; artemis takes any positive limit so small nodes and tests can use
/// small ones).
const RATE_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 1..=1_000_000_000;

impl RateLimitsConfig {
    pub fn of(&self, limiter: Limiter) -> &LimiterConfig {
        match limiter {
            Limiter::Registry => &self.registry,
            Limiter::RegistryReplication => &self.registry_replication,
            Limiter::Cluster => &self.cluster,
            Limiter::Status => &self.status,
            Limiter::ManagementGroup => &self.management_group,
        }
    }

    /// Every limit in range, every `per_identity` key an identity of its limiter.
    fn validate(&self) -> Result<(), String> {
        let (min, max) = (RATE_LIMIT_RANGE.start(), RATE_LIMIT_RANGE.end());
        for limiter in Limiter::ALL {
            let config = self.of(limiter);
            let key = format!("rate_limits.{}", limiter.config_key());
            if !RATE_LIMIT_RANGE.contains(&config.default_per_10s) {
                let value = config.default_per_10s;
                return Err(format!(
                    "{key}.default_per_10s: {value} is outside {min}..={max}"
                ));
            }
            for (identity, &value) in &config.per_identity {
                if !limiter.identities().any(|i| i.name() == identity) {
                    let known: Vec<&str> = limiter.identities().map(|i| i.name()).collect();
                    return Err(format!(
                        "{key}.per_identity: {identity:?} is not one of {}",
                        known.join(", ")
                    ));
                }
                if !RATE_LIMIT_RANGE.contains(&value) {
                    return Err(format!(
                        "{key}.per_identity.{identity}: {value} is outside {min}..={max}"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Add the CORS headers Java's CrossDomainFilter sent, and answer OPTIONS preflights.
    pub cors: bool,
    /// Answer lookup, service and services.json requests that accept gzip with gzip (built from
    /// fragments each core compresses once per cached view).
    pub gzip_answers: bool,
    /// Bytes one core's gzip cache keeps alive: the compressed fragments and the views they were
    /// compressed from (a view larger than this alone is never compressed).
    pub gzip_cache_bytes_per_core: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            region_id: "default".into(),
            zone_id: "default".into(),
            data_dir: PathBuf::from("data"),
            shards: 0,
            node_url: String::new(),
            path_prefix: String::new(),
            driver: "auto".into(),
            pin_cores: "auto".into(),
            steer_connections: "auto".into(),
            log: "info".into(),
            log_format: LogFormat::Human,
            lease: LeaseConfig::default(),
            self_preservation: SelfPreservationConfig::default(),
            registry: RegistryConfig::default(),
            discovery: ZonePolicy::default(),
            management: ManagementConfig::default(),
            persistence: PersistenceConfig::default(),
            limits: LimitsConfig::default(),
            http: HttpConfig::default(),
            changes: ChangesConfig::default(),
            ws: WsConfig::default(),
            rate_limits: RateLimitsConfig::default(),
            cluster: ClusterConfig::default(),
            testing: TestingConfig::default(),
            max_connections_explicit: false,
            sources: ConfigSources::default(),
        }
    }
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            ttl_ms: 20_000,
            legacy_ttl_ms: 90_000,
            wheel_tick_ms: 10,
            max_evictions_per_step: 2_000,
        }
    }
}

impl Default for SelfPreservationConfig {
    fn default() -> Self {
        SelfPreservationConfig {
            enabled: true,
            window_ms: 10_000,
            legacy_window_ms: 60_000,
            percentage_threshold: 85,
            max_count_threshold: 50,
            max_count_reset_interval_ms: 600_000,
        }
    }
}

impl Default for ZonePolicy {
    fn default() -> Self {
        ZonePolicy {
            allow_from_other_zone: true,
        }
    }
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            allow_from_other_zone: true,
            restore_on_start: true,
        }
    }
}

impl Default for ManagementConfig {
    fn default() -> Self {
        ManagementConfig {
            tokens: Vec::new(),
            max_log_rows: 10_000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_connections: 16_384,
            max_header_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 8 * 1024 * 1024,
            max_decoded_body_bytes: 16 * 1024 * 1024,
            max_instances_per_request: 10_000,
            max_services_per_request: 10_000,
            mirror_max_services: 100_000,
            mirror_queue_entries: 65_536,
            idle_timeout_ms: 300_000,
            request_timeout_ms: 30_000,
            write_timeout_ms: 30_000,
            shard_queue_capacity: 65_536,
            shutdown_grace_ms: 5_000,
            max_listed_leases: 20_000,
            max_queued_write_bytes_per_core: 64 * 1024 * 1024,
            max_buffered_request_bytes_per_core: 64 * 1024 * 1024,
            max_gzip_members: 16,
            max_gzip_cpu_ms: 500,
            max_id_bytes: 1024,
            max_metadata_bytes: 64 * 1024,
        }
    }
}

impl Default for ChangesConfig {
    fn default() -> Self {
        ChangesConfig {
            log_capacity: 16_384,
            core_queue_capacity: 4096,
            core_queue_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            max_message_bytes: 1024 * 1024,
            max_queued_messages: 16_384,
            max_queued_bytes: 16 * 1024 * 1024,
            session_ttl_ms: 360_000,
            idle_timeout_ms: 60_000,
            max_subscriptions_per_session: 10_000,
            max_subscription_bytes_per_session: 256 * 1024,
            max_subscription_bytes_per_core: 64 * 1024 * 1024,
            max_core_queued_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Java's limiters as shipped: their built-in limits, and the `get-leases:10` override of
/// Java's shipped properties.
impl Default for RateLimitsConfig {
    fn default() -> Self {
        let limiter = |default_per_10s| LimiterConfig {
            enabled: true,
            default_per_10s,
            per_identity: BTreeMap::new(),
        };
        RateLimitsConfig {
            registry: limiter(100_000),
            registry_replication: limiter(1_000_000),
            cluster: limiter(10_000),
            status: LimiterConfig {
                per_identity: BTreeMap::from([("get-leases".to_string(), 10)]),
                ..limiter(30)
            },
            management_group: limiter(30),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cors: true,
            gzip_answers: true,
            gzip_cache_bytes_per_core: 16 * 1024 * 1024,
        }
    }
}

/// Values from the command line, which win over the file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    pub listen: Option<String>,
    pub region_id: Option<String>,
    pub zone_id: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub shards: Option<usize>,
    pub node_url: Option<String>,
    pub lease_ttl_ms: Option<u64>,
    pub path_prefix: Option<String>,
    pub driver: Option<String>,
    pub pin_cores: Option<String>,
    pub manual_clock: bool,
    pub cluster_nodes: Option<String>,
    pub force_up: bool,
    pub persistence_url: Option<String>,
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn load(path: Option<&Path>, overrides: Overrides) -> Result<Config, String> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                let mut config = Config::from_toml(&text)
                    .map_err(|e| format!("invalid config file {}: {e}", path.display()))?;
                config.max_connections_explicit = text
                    .parse::<toml::Table>()
                    .ok()
                    .and_then(|t| t.get("limits")?.get("max_connections").cloned())
                    .is_some();
                config
            }
            None => Config::default(),
        };
        config.sources = ConfigSources {
            file: path.map(Path::to_path_buf),
            flags: overrides != Overrides::default(),
        };
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    fn apply(&mut self, o: Overrides) {
        if let Some(v) = o.listen {
            self.listen = v;
        }
        if let Some(v) = o.region_id {
            self.region_id = v;
        }
        if let Some(v) = o.zone_id {
            self.zone_id = v;
        }
        if let Some(v) = o.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = o.shards {
            self.shards = v;
        }
        if let Some(v) = o.node_url {
            self.node_url = v;
        }
        if let Some(v) = o.lease_ttl_ms {
            self.lease.ttl_ms = v;
        }
        if let Some(v) = o.path_prefix {
            self.path_prefix = v;
        }
        if let Some(v) = o.driver {
            self.driver = v;
        }
        if let Some(v) = o.pin_cores {
            self.pin_cores = v;
        }
        if o.manual_clock {
            self.testing.manual_clock = true;
        }
        if let Some(v) = o.cluster_nodes {
            self.cluster.nodes = cluster::NodesSpec::Java(v);
        }
        if o.force_up {
            self.cluster.force_up = true;
        }
        if let Some(v) = o.persistence_url {
            self.persistence.url = v;
        }
    }

    /// Check every value and normalise the derived ones. Errors name the offending key.
    pub fn validate(&mut self) -> Result<(), String> {
        self.listen_addr()?;
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|e| format!("log: {:?} is not a log filter: {e}", self.log))?;
        non_blank("region_id", &self.region_id)?;
        non_blank("zone_id", &self.zone_id)?;
        if self.data_dir.as_os_str().is_empty() {
            return Err("data_dir: must not be empty".into());
        }
        if self.shards > 1024 {
            return Err(format!("shards: {} is more than 1024", self.shards));
        }
        self.path_prefix = normalize_prefix(&self.path_prefix)?;
        if !matches!(self.driver.as_str(), "auto" | "uring" | "legacy") {
            return Err(format!(
                "driver: {:?} is not one of \"auto\", \"uring\", \"legacy\"",
                self.driver
            ));
        }
        if !matches!(self.pin_cores.as_str(), "auto" | "off") {
            return Err(format!(
                "pin_cores: {:?} is not one of \"auto\", \"off\"",
                self.pin_cores
            ));
        }
        if !matches!(self.steer_connections.as_str(), "auto" | "off") {
            return Err(format!(
                "steer_connections: {:?} is not one of \"auto\", \"off\"",
                self.steer_connections
            ));
        }
        let url_ok = self.node_url.is_empty()
            || self.node_url.starts_with("http://")
            || self.node_url.starts_with("https://");
        if !url_ok {
            return Err(format!(
                "node_url: {:?} must start with http:// or https://",
                self.node_url
            ));
        }
        for key in NUMERIC_KEYS {
            key.check(self)?;
        }
        if self.management.tokens.iter().any(|t| t.trim().is_empty()) {
            return Err("management.tokens: a token must not be blank".into());
        }
        self.rate_limits.validate()?;
        self.cluster.validate()?;
        self.persistence.validate()?;
        // A peer with the same limits would refuse a larger batch (413), and a refused batch
        // is never retried.
        for (key, size) in [
            (
                "cluster.heartbeat_batch_size",
                self.cluster.heartbeat_batch_size,
            ),
            ("cluster.write_batch_size", self.cluster.write_batch_size),
        ] {
            if !self.cluster.nodes.is_empty() && size > self.limits.max_instances_per_request {
                return Err(format!(
                    "{key}: {size} is more than limits.max_instances_per_request ({}), which \
                     peers apply to replicated batches too",
                    self.limits.max_instances_per_request
                ));
            }
        }
        Ok(())
    }

    /// The node's SQLite file `<data_dir>/artemis.db`: the management store unless
    /// `persistence.url` names a shared one, and the saved registry in any case.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("artemis.db")
    }

    /// The address to bind: `listen` itself, or for a host name (`localhost:8080`) the first
    /// address it resolves to.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        if let Ok(addr) = self.listen.parse() {
            return Ok(addr);
        }
        let not_an_address = || {
            format!(
                "listen: {:?} is not an address like 127.0.0.1:8080 or localhost:8080",
                self.listen
            )
        };
        // Only HOST:PORT is looked up: anything else would be a typo sent to the resolver.
        let (host, port) = self.listen.rsplit_once(':').ok_or_else(not_an_address)?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(not_an_address());
        }
        let mut addrs = self
            .listen
            .to_socket_addrs()
            .map_err(|e| format!("listen: cannot resolve {:?}: {e}", self.listen))?;
        addrs
            .next()
            .ok_or_else(|| format!("listen: {:?} resolves to no address", self.listen))
    }

    pub fn shard_count(&self) -> usize {
        if self.shards > 0 {
            self.shards
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    /// The URL advertised in cluster answers: `node_url`, or one derived from the bound address.
    pub fn advertised_url(&self, bound: SocketAddr) -> String {
        let mut url = if self.node_url.is_empty() {
            // A wildcard address means nothing to a client elsewhere: advertise the host name.
            let host = if bound.ip().is_unspecified() {
                host_name().unwrap_or_else(|| "localhost".into())
            } else {
                bound.ip().to_string()
            };
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            format!("http://{host}:{}{}", bound.port(), self.path_prefix)
        } else {
            self.node_url.clone()
        };
        if !url.ends_with('/') {
            url.push('/');
        }
        url
    }
}

/// This machine's host name; None if it cannot be read.
pub fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..len]).ok()?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

fn non_blank(key: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{key}: must not be blank"));
    }
    Ok(())
}

/// A numeric key and the values it accepts (`min..=max`).
struct NumericKey {
    /// The key as written in the TOML file (`section.field`).
    key: &'static str,
    value: fn(&Config) -> u64,
    min: u64,
    max: u64,
}

impl NumericKey {
    fn check(&self, config: &Config) -> Result<(), String> {
        let (key, min, max) = (self.key, self.min, self.max);
        let value = (self.value)(config);
        if value < min || value > max {
            return Err(format!("{key}: {value} is outside {min}..={max}"));
        }
        Ok(())
    }
}

/// `section.field: min..=max` → a [`NumericKey`] whose name is spelled from the field it reads,
/// so the key named in an error is always the one that was checked.
macro_rules! numeric_keys {
    ($($section:ident . $field:ident : $min:expr, $max:expr;)*) => {
        &[$(NumericKey {
            key: concat!(stringify!($section), ".", stringify!($field)),
            value: |c: &Config| c.$section.$field as u64,
            min: $min,
            max: $max,
        },)*]
    };
}

const SECOND_MS: u64 = 1000;
const HOUR_MS: u64 = 3600 * SECOND_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// Every numeric key with a bounded range, checked in this order by [`Config::validate`].
const NUMERIC_KEYS: &[NumericKey] = numeric_keys! {
    lease.ttl_ms: 100, 7 * DAY_MS;
    lease.legacy_ttl_ms: 100, 7 * DAY_MS;
    lease.wheel_tick_ms: 1, 1000;
    lease.max_evictions_per_step: 1, u32::MAX as u64;
    self_preservation.window_ms: SECOND_MS, 300 * SECOND_MS;
    self_preservation.legacy_window_ms: SECOND_MS, 300 * SECOND_MS;
    self_preservation.percentage_threshold: 1, 100;
    self_preservation.max_count_threshold: 0, 1_000_000_000;
    self_preservation.max_count_reset_interval_ms: SECOND_MS, DAY_MS;
    limits.max_connections: 1, 10_000_000;
    limits.max_header_bytes: 256, 1 << 20;
    limits.max_headers: 4, 1024;
    limits.max_body_bytes: 1024, 1 << 30;
    limits.max_decoded_body_bytes: 1024, 1 << 30;
    limits.max_instances_per_request: 1, 1_000_000;
    limits.max_services_per_request: 1, 1_000_000;
    limits.mirror_max_services: 0, 100_000_000;
    limits.mirror_queue_entries: 1, 100_000_000;
    limits.idle_timeout_ms: 100, DAY_MS;
    limits.request_timeout_ms: 100, HOUR_MS;
    limits.write_timeout_ms: 100, HOUR_MS;
    limits.shard_queue_capacity: 16, 1 << 24;
    limits.shutdown_grace_ms: 0, HOUR_MS;
    limits.max_listed_leases: 1, 100_000_000;
    limits.max_queued_write_bytes_per_core: 64 * 1024, 1 << 40;
    limits.max_buffered_request_bytes_per_core: 64 * 1024, 1 << 40;
    limits.max_gzip_members: 1, 1_000_000;
    limits.max_gzip_cpu_ms: 1, 60 * SECOND_MS;
    limits.max_id_bytes: 16, 1 << 20;
    limits.max_metadata_bytes: 0, 1 << 30;
    http.gzip_cache_bytes_per_core: 0, 1 << 40;
    changes.log_capacity: 1, 100_000_000;
    changes.core_queue_capacity: 1, 1 << 24;
    changes.core_queue_bytes: 1024, 1 << 40;
    ws.max_message_bytes: 125, 1 << 30;
    ws.max_queued_messages: 1, 10_000_000;
    ws.max_queued_bytes: 1024, 1 << 34;
    ws.session_ttl_ms: SECOND_MS, 7 * DAY_MS;
    ws.idle_timeout_ms: 100, DAY_MS;
    ws.max_subscriptions_per_session: 1, 10_000_000;
    ws.max_subscription_bytes_per_session: 16, 1 << 30;
    ws.max_subscription_bytes_per_core: 1024, 1 << 40;
    ws.max_core_queued_bytes: 1024, 1 << 40;
    management.max_log_rows: 1, 10_000_000;
    persistence.queue_capacity: 1, 1 << 24;
    persistence.max_batch: 1, 1 << 20;
    persistence.pool_size: 1, 1024;
    persistence.connect_timeout_ms: 100, HOUR_MS;
    persistence.query_timeout_ms: 100, HOUR_MS;
    persistence.poll_interval_ms: 10, HOUR_MS;
    cluster.health_check_interval_ms: 100, HOUR_MS;
    cluster.health_check_timeout_ms: 10, HOUR_MS;
    cluster.heartbeat_batch_window_ms: 0, 60 * SECOND_MS;
    cluster.heartbeat_batch_size: 1, 10_000;
    cluster.write_batch_size: 1, 10_000;
    cluster.peer_queue_capacity: 16, 1 << 26;
    cluster.request_timeout_ms: 10, HOUR_MS;
    cluster.bootstrap_timeout_ms: 100, HOUR_MS;
    cluster.bootstrap_wait_ms: 0, DAY_MS;
};

/// `artemis-service`, `/artemis-service/` → `/artemis-service`; "" and "/" → "".
fn normalize_prefix(prefix: &str) -> Result<String, String> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b == b'?' || b == b'#' || b == b'%')
    {
        return Err(format!("path_prefix: {prefix:?} must be a plain path"));
    }
    Ok(format!("/{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicated_batches_fit_the_peers_request_limit() {
        let toml = "[limits]\nmax_instances_per_request = 100\n\
                    [cluster]\nnodes = \"z:http://127.0.0.1:1\"\nwrite_batch_size = 100\n";
        let mut c = Config::from_toml(toml).unwrap();
        let err = c.validate().unwrap_err();
        assert!(err.starts_with("cluster.heartbeat_batch_size"), "{err}");
        c.cluster.heartbeat_batch_size = 100;
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn defaults_are_valid() {
        let mut c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.lease.ttl_ms, 20_000);
        assert_eq!(c.lease.legacy_ttl_ms, 90_000);
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let err = Config::from_toml("listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap_err();
        assert!(err.contains("listen_port"), "{err}");
        let err = Config::from_toml("[lease]\nttl = 3\n").unwrap_err();
        assert!(err.contains("ttl"), "{err}");
    }

    #[test]
    fn invalid_values_are_rejected_by_name() {
        let mut c = Config::from_toml("[lease]\nttl_ms = 0\n").unwrap();
        assert!(c.validate().unwrap_err().starts_with("lease.ttl_ms"));
        let mut c = Config::from_toml("listen = \"nowhere\"").unwrap();
        assert!(c.validate().unwrap_err().starts_with("listen"));
        let mut c = Config::from_toml("driver = \"fast\"").unwrap();
        assert!(c.validate().unwrap_err().starts_with("driver"));
        let err = Config::from_toml("shards = \"two\"").unwrap_err();
        assert!(err.contains("shards"), "{err}");
    }

    #[test]
    fn every_numeric_key_rejects_values_outside_its_range_by_name() {
        for key in NUMERIC_KEYS {
            let (section, field) = key.key.split_once('.').expect("section.field");
            let at = |value: u64| {
                let mut c = Config::from_toml(&format!("[{section}]\n{field} = {value}\n"))
                    .unwrap_or_else(|e| panic!("{}: {e}", key.key));
                c.validate()
            };
            assert_eq!(at(key.min), Ok(()), "{} at its minimum", key.key);
            assert_eq!(at(key.max), Ok(()), "{} at its maximum", key.key);
            let outside = [key.min.checked_sub(1), key.max.checked_add(1)];
            for value in outside.into_iter().flatten() {
                assert_eq!(
                    at(value),
                    Err(format!(
                        "{}: {value} is outside {}..={}",
                        key.key, key.min, key.max
                    ))
                );
            }
        }
    }

    #[test]
    fn flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("artemis-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.toml");
        std::fs::write(
            &path,
            "region_id = \"SHA\"\nzone_id = \"z1\"\n[lease]\nttl_ms = 5000\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            Overrides {
                zone_id: Some("z2".into()),
                lease_ttl_ms: Some(7000),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(c.region_id, "SHA");
        assert_eq!(c.zone_id, "z2");
        assert_eq!(c.lease.ttl_ms, 7000);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn example_file_parses_and_matches_defaults() {
        let text = include_str!("../artemis.example.toml");
        let mut c = Config::from_toml(text).unwrap();
        c.validate().unwrap();
        let mut d = Config::default();
        d.validate().unwrap();
        assert_eq!(c, d, "artemis.example.toml documents the defaults");
    }

    #[test]
    fn a_rate_limit_table_sets_only_what_it_names() {
        let c = Config::from_toml(
            "[rate_limits.status]\nenabled = false\n\
             [rate_limits.registry]\nper_identity = { heartbeat = 50 }\n\
             [rate_limits.status.per_identity]\nget-config = 5\n",
        )
        .unwrap();
        let d = RateLimitsConfig::default();
        assert!(!c.rate_limits.status.enabled);
        assert_eq!(c.rate_limits.status.default_per_10s, 30);
        let status_overrides: Vec<_> = c.rate_limits.status.per_identity.into_iter().collect();
        assert_eq!(
            status_overrides,
            [
                ("get-config".to_string(), 5),
                ("get-leases".to_string(), 10)
            ],
            "merged with the shipped get-leases override"
        );
        assert!(c.rate_limits.registry.enabled);
        assert_eq!(c.rate_limits.registry.default_per_10s, 100_000);
        assert_eq!(c.rate_limits.registry.per_identity["heartbeat"], 50);
        assert_eq!(c.rate_limits.cluster, d.cluster);
    }

    #[test]
    fn every_limiter_has_its_table_with_java_defaults() {
        let java = [
            (Limiter::Registry, 100_000),
            (Limiter::RegistryReplication, 1_000_000),
            (Limiter::Cluster, 10_000),
            (Limiter::Status, 30),
            (Limiter::ManagementGroup, 30),
        ];
        for (limiter, per_10s) in java {
            let defaults = Config::default();
            assert!(defaults.rate_limits.of(limiter).enabled);
            assert_eq!(defaults.rate_limits.of(limiter).default_per_10s, per_10s);
            let table = format!(
                "[rate_limits.{}]\ndefault_per_10s = 7\n",
                limiter.config_key()
            );
            let c = Config::from_toml(&table).unwrap();
            assert_eq!(c.rate_limits.of(limiter).default_per_10s, 7, "{table}");
        }
        let err = Config::from_toml("[rate_limits.registry]\nlimit = 3\n").unwrap_err();
        assert!(err.contains("limit"), "{err}");
        let err = Config::from_toml("[rate_limits.discovery]\nenabled = false\n").unwrap_err();
        assert!(err.contains("discovery"), "{err}");
    }

    #[test]
    fn rate_limits_outside_their_range_or_for_unknown_identities_are_rejected_by_name() {
        for limiter in Limiter::ALL {
            let key = format!("rate_limits.{}", limiter.config_key());
            let identity = limiter.identities().next().unwrap().name();
            let at = |table: String| Config::from_toml(&table).unwrap().validate();
            for value in [1, 1_000_000_000] {
                assert_eq!(at(format!("[{key}]\ndefault_per_10s = {value}\n")), Ok(()));
                let table = format!("[{key}.per_identity]\n\"{identity}\" = {value}\n");
                assert_eq!(at(table), Ok(()));
            }
            for value in [0, 1_000_000_001] {
                assert_eq!(
                    at(format!("[{key}]\ndefault_per_10s = {value}\n")),
                    Err(format!(
                        "{key}.default_per_10s: {value} is outside 1..=1000000000"
                    ))
                );
                assert_eq!(
                    at(format!("[{key}.per_identity]\n\"{identity}\" = {value}\n")),
                    Err(format!(
                        "{key}.per_identity.{identity}: {value} is outside 1..=1000000000"
                    ))
                );
            }
            let err = at(format!("[{key}.per_identity]\nnope = 3\n")).unwrap_err();
            assert!(
                err.starts_with(&format!("{key}.per_identity: \"nope\" is not one of ")),
                "{err}"
            );
            assert!(err.contains(identity), "{err}");
        }
    }

    #[test]
    fn listen_accepts_host_names() {
        let c = Config {
            listen: "localhost:8080".into(),
            ..Config::default()
        };
        let addr = c.listen_addr().unwrap();
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), 8080);
        for bad in ["localhost", "localhost:http", ":8080", "localhost:70000"] {
            let c = Config {
                listen: bad.into(),
                ..Config::default()
            };
            let err = c.listen_addr().unwrap_err();
            assert!(err.starts_with("listen: "), "{bad}: {err}");
        }
    }

    #[test]
    fn log_format_and_filter_are_checked() {
        let c = Config::from_toml("log_format = \"json\"").unwrap();
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(Config::default().log_format, LogFormat::Human);
        let err = Config::from_toml("log_format = \"xml\"").unwrap_err();
        assert!(err.contains("log_format"), "{err}");
        let mut c = Config::from_toml("log = \"artemis=loud\"").unwrap();
        assert!(c.validate().unwrap_err().starts_with("log: "));
    }

    #[test]
    fn deploy_config_is_valid_and_serves_every_interface() {
        let mut c = Config::from_toml(include_str!("../deploy/artemis.toml")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.listen, "0.0.0.0:8080");
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/artemis"));
        assert_eq!(c.log_format, LogFormat::Logfmt);
        assert_eq!(c.limits, LimitsConfig::default());
    }

    #[test]
    fn prefix_and_url_are_normalised() {
        let mut c = Config {
            path_prefix: "artemis-service/".into(),
            ..Config::default()
        };
        c.validate().unwrap();
        assert_eq!(c.path_prefix, "/artemis-service");
        let bound: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            c.advertised_url(bound),
            "http://127.0.0.1:9000/artemis-service/"
        );
        c.node_url = "http://10.0.0.5:8080/x".into();
        assert_eq!(c.advertised_url(bound), "http://10.0.0.5:8080/x/");
    }
}
