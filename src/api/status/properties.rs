//! The effective configuration as flat `"section.key": "value"` strings (top-level keys have no
//! section), and the sources it was built from: what `status/config.json` and
//! `status/deployment.json` report.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::Config;

/// One configuration key and how its value is shown.
pub(super) struct Property {
    /// The key as written in the TOML file (`section.field`, or `field` at the top level).
    pub key: &'static str,
    pub value: fn(&Config) -> String,
}

/// How a configured value is shown in a status answer.
trait Shown {
    fn shown(&self) -> String;
}

macro_rules! shown_by_display {
    ($($t:ty),*) => {
        $(impl Shown for $t {
            fn shown(&self) -> String {
                self.to_string()
            }
        })*
    };
}

shown_by_display!(String, u64, usize, bool);

impl Shown for PathBuf {
    fn shown(&self) -> String {
        self.display().to_string()
    }
}

/// A limit per identity, as Java's `rate-limit-map` was written: `get-leases:10,get-config:5`.
impl Shown for BTreeMap<String, u64> {
    fn shown(&self) -> String {
        let entries: Vec<String> = self.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        entries.join(",")
    }
}

/// A secret list: only how many entries it has is shown, never an entry.
fn count_of_secrets(secrets: &[String]) -> String {
    format!("<{} configured>", secrets.len())
}

/// A secret: whether it is set, never its value.
fn secret_is_set(secret: &str) -> String {
    if secret.is_empty() { "" } else { "<set>" }.to_string()
}

/// A database URL with its password (if any) replaced by `***`.
fn url_without_password(url: &str) -> String {
    persistence::redact_url(url)
}

/// The cluster's nodes in Java's syntax (`zoneA:url1,url2;zoneB:url3`), normalised.
fn cluster_nodes(nodes: &crate::config::cluster::NodesSpec) -> String {
    let Ok(entries) = nodes.entries() else {
        return String::new();
    };
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for e in entries {
        match groups.iter_mut().find(|(zone, _)| *zone == e.zone_id) {
            Some((_, urls)) => urls.push(e.url),
            None => groups.push((e.zone_id, vec![e.url])),
        }
    }
    let groups: Vec<String> = groups
        .into_iter()
        .map(|(zone, urls)| format!("{zone}:{}", urls.join(",")))
        .collect();
    groups.join(";")
}

/// The format's name as the config file spells it.
fn log_format_name(format: &crate::config::LogFormat) -> String {
    use crate::config::LogFormat;
    match format {
        LogFormat::Human => "human",
        LogFormat::Logfmt => "logfmt",
        LogFormat::Json => "json",
    }
    .to_owned()
}

/// `key`, `section.field` or `section.table.field` (optionally `: shown_by`) → a [`Property`]
/// whose key is spelled from the field it reads, so the key shown is always the one whose value
/// is shown.
macro_rules! properties {
    ($($key:ident $(. $field:ident)* $(: $shown_by:path)?;)*) => {
        &[$(Property {
            key: concat!(stringify!($key) $(, ".", stringify!($field))*),
            value: |c: &Config| properties!(@show $($shown_by)?)(&c.$key $(.$field)*),
        },)*]
    };
    (@show) => { Shown::shown };
    (@show $shown_by:path) => { $shown_by };
}

/// Every key of [`Config`], in the order of its definition. Secrets go through a function that
/// hides them (`management.tokens` shows its count only, `persistence.url` no password).
pub(super) const PROPERTIES: &[Property] = properties! {
    listen;
    region_id;
    zone_id;
    data_dir;
    shards;
    node_url;
    path_prefix;
    driver;
    pin_cores;
    steer_connections;
    log;
    log_format: log_format_name;
    lease.ttl_ms;
    lease.legacy_ttl_ms;
    lease.wheel_tick_ms;
    lease.max_evictions_per_step;
    self_preservation.enabled;
    self_preservation.window_ms;
    self_preservation.legacy_window_ms;
    self_preservation.percentage_threshold;
    self_preservation.max_count_threshold;
    self_preservation.max_count_reset_interval_ms;
    registry.allow_from_other_zone;
    registry.restore_on_start;
    discovery.allow_from_other_zone;
    management.tokens: count_of_secrets;
    management.max_log_rows;
    persistence.queue_capacity;
    persistence.max_batch;
    persistence.url: url_without_password;
    persistence.password_file;
    persistence.pool_size;
    persistence.connect_timeout_ms;
    persistence.query_timeout_ms;
    persistence.poll_interval_ms;
    limits.max_connections;
    limits.max_header_bytes;
    limits.max_headers;
    limits.max_body_bytes;
    limits.max_decoded_body_bytes;
    limits.max_instances_per_request;
    limits.max_services_per_request;
    limits.mirror_max_services;
    limits.mirror_queue_entries;
    limits.idle_timeout_ms;
    limits.request_timeout_ms;
    limits.write_timeout_ms;
    limits.shard_queue_capacity;
    limits.shutdown_grace_ms;
    limits.max_listed_leases;
    limits.max_queued_write_bytes_per_core;
    limits.max_buffered_request_bytes_per_core;
    limits.max_gzip_members;
    limits.max_gzip_cpu_ms;
    limits.max_id_bytes;
    limits.max_metadata_bytes;
    http.cors;
    http.gzip_answers;
    http.gzip_cache_bytes_per_core;
    changes.log_capacity;
    changes.core_queue_capacity;
    changes.core_queue_bytes;
    ws.max_message_bytes;
    ws.max_queued_messages;
    ws.max_queued_bytes;
    ws.session_ttl_ms;
    ws.idle_timeout_ms;
    ws.max_subscriptions_per_session;
    ws.max_subscription_bytes_per_session;
    ws.max_core_queued_bytes;
    ws.max_subscription_bytes_per_core;
    rate_limits.registry.enabled;
    rate_limits.registry.default_per_10s;
    rate_limits.registry.per_identity;
    rate_limits.registry_replication.enabled;
    rate_limits.registry_replication.default_per_10s;
    rate_limits.registry_replication.per_identity;
    rate_limits.cluster.enabled;
    rate_limits.cluster.default_per_10s;
    rate_limits.cluster.per_identity;
    rate_limits.status.enabled;
    rate_limits.status.default_per_10s;
    rate_limits.status.per_identity;
    rate_limits.management_group.enabled;
    rate_limits.management_group.default_per_10s;
    rate_limits.management_group.per_identity;
    cluster.nodes: cluster_nodes;
    cluster.force_up;
    cluster.secret: secret_is_set;
    cluster.secret_file;
    cluster.listen;
    cluster.health_check_interval_ms;
    cluster.health_check_timeout_ms;
    cluster.heartbeat_batch_window_ms;
    cluster.heartbeat_batch_size;
    cluster.write_batch_size;
    cluster.peer_queue_capacity;
    cluster.request_timeout_ms;
    cluster.bootstrap_timeout_ms;
    cluster.bootstrap_wait_ms;
    testing.manual_clock;
};

/// Every property of `config`, sorted by key (Java sorted its properties before answering).
pub fn config_properties(config: &Config) -> Vec<(&'static str, String)> {
    let mut properties: Vec<_> = PROPERTIES
        .iter()
        .map(|p| (p.key, (p.value)(config)))
        .collect();
    properties.sort_unstable_by_key(|&(key, _)| key);
    properties
}

/// The properties that say where and how this node is deployed: the top-level keys (address,
/// region and zone, URL, data directory, cores, driver, log filter).
pub fn deployment_properties(config: &Config) -> Vec<(&'static str, String)> {
    let mut properties = config_properties(config);
    properties.retain(|(key, _)| !key.contains('.'));
    properties
}

/// Lowest priority first (a higher priority wins, as in Java's configuration manager).
const DEFAULTS_PRIORITY: i64 = 0;
const FILE_PRIORITY: i64 = 1;
const FLAGS_PRIORITY: i64 = 2;
pub const DEFAULTS_SOURCE: &str = "defaults";
pub const FLAGS_SOURCE: &str = "command line";

/// The layers `config` was built from: the built-in defaults, the config file when one was given
/// (by its path as given), the command-line flags when any were.
pub fn config_sources(config: &Config) -> Vec<(String, i64)> {
    let mut sources = vec![(DEFAULTS_SOURCE.to_string(), DEFAULTS_PRIORITY)];
    if let Some(path) = &config.sources.file {
        sources.push((path.display().to_string(), FILE_PRIORITY));
    }
    if config.sources.flags {
        sources.push((FLAGS_SOURCE.to_string(), FLAGS_PRIORITY));
    }
    sources
}
