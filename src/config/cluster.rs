//! `[cluster]`: the nodes of this node's cluster and how it replicates to them (spec §9).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Header a replication request carries when `cluster.secret` is set.
pub const SECRET_HEADER: &str = "X-Artemis-Cluster-Secret";

#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Every node of the cluster, this one included: Java's `zoneA:url1,url2;zoneB:url3`, or a
    /// table `{ zoneA = ["url1", "url2"], zoneB = ["url3"] }`. Empty: a single node.
    pub nodes: NodesSpec,
    /// Report `up` at once instead of copying the registry from a peer first (Java's
    /// `artemis.service.cluster.node.status.force-up`): for the first node of a new cluster.
    pub force_up: bool,
    /// Shared secret every replication request carries (header `X-Artemis-Cluster-Secret`).
    /// Empty: replication is accepted from the hosts of the configured nodes only.
    pub secret: String,
    /// A file holding the secret (trailing whitespace ignored), instead of `secret`.
    pub secret_file: String,
    /// A separate address for replication (every `/api/replication/*` endpoint, the registry
    /// copy included; node status is served on both ports); empty: the main port serves it, as
    /// Java does. When set, the main port refuses replication, and `nodes` may list this node by
    /// the URL of its cluster listener (`http://<cluster.listen><path_prefix>/`) so peers reach it
    /// there.
    pub listen: String,
    /// How often every peer's `/api/status/node.json` is polled.
    pub health_check_interval_ms: u64,
    /// How long one poll of a peer's status may take.
    pub health_check_timeout_ms: u64,
    /// Heartbeats for a peer wait at most this long to be sent together.
    pub heartbeat_batch_window_ms: u64,
    /// Instances per replicated heartbeat request.
    pub heartbeat_batch_size: usize,
    /// Instances per replicated register/unregister request when several are queued.
    pub write_batch_size: usize,
    /// Replicated writes queued per peer on each core; past it heartbeats are dropped (the next
    /// one supersedes them) and a register/unregister marks the peer for a full resync.
    pub peer_queue_capacity: usize,
    /// How long a replication request may take before the peer counts as unreachable.
    pub request_timeout_ms: u64,
    /// How long the full-registry copy from a peer (bootstrap, resync) may take.
    pub bootstrap_timeout_ms: u64,
    /// A starting node goes `up` without a copy (with the registry saved at its last stop) once
    /// no peer was `up` for this long while at least one answered: a whole cluster restarting
    /// at once would otherwise wait forever. A node no peer answers stays `starting` until one
    /// does (`--force-up` starts a node without a copy).
    pub bootstrap_wait_ms: u64,
}

/// Written out without the secret, which must never reach a log line.
impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("nodes", &self.nodes)
            .field("force_up", &self.force_up)
            .field("secret", &if self.secret.is_empty() { "" } else { "<set>" })
            .field("secret_file", &self.secret_file)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: NodesSpec::default(),
            force_up: false,
            secret: String::new(),
            secret_file: String::new(),
            listen: String::new(),
            health_check_interval_ms: 5_000,
            health_check_timeout_ms: 2_000,
            heartbeat_batch_window_ms: 100,
            heartbeat_batch_size: 250,
            write_batch_size: 100,
            peer_queue_capacity: 100_000,
            request_timeout_ms: 2_000,
            bootstrap_timeout_ms: 30_000,
            bootstrap_wait_ms: 60_000,
        }
    }
}

/// `cluster.nodes` as written: Java's one-line syntax or a TOML table of zone → URLs.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum NodesSpec {
    Java(String),
    Table(BTreeMap<String, Vec<String>>),
}

impl Default for NodesSpec {
    fn default() -> Self {
        NodesSpec::Java(String::new())
    }
}

/// One configured node: its zone and its base URL (normalised to end with `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    pub zone_id: String,
    pub url: String,
}

impl NodesSpec {
    /// The configured nodes in the order written (table: zones sorted by name). Errors name the
    /// key and the offending entry.
    pub fn entries(&self) -> Result<Vec<NodeEntry>, String> {
        let mut entries = Vec::new();
        match self {
            NodesSpec::Java(text) => {
                for group in text.split(';').map(str::trim).filter(|g| !g.is_empty()) {
                    let (zone, urls) = group
                        .split_once(':')
                        .ok_or_else(|| format!("cluster.nodes: {group:?} is not zone:url1,url2"))?;
                    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
                        entries.push(entry(zone.trim(), url)?);
                    }
                }
            }
            NodesSpec::Table(zones) => {
                for (zone, urls) in zones {
                    for url in urls {
                        entries.push(entry(zone.trim(), url.trim())?);
                    }
                }
            }
        }
        for (n, e) in entries.iter().enumerate() {
            if entries[..n].iter().any(|o| o.url == e.url) {
                return Err(format!("cluster.nodes: {} is listed twice", e.url));
            }
        }
        Ok(entries)
    }

    pub fn is_empty(&self) -> bool {
        match self {
            NodesSpec::Java(text) => text.trim().trim_matches(';').trim().is_empty(),
            NodesSpec::Table(zones) => zones.values().all(Vec::is_empty),
        }
    }
}

fn entry(zone: &str, url: &str) -> Result<NodeEntry, String> {
    if zone.is_empty() {
        return Err(format!("cluster.nodes: the zone of {url:?} is empty"));
    }
    let url = normalize_url(url)
        .ok_or_else(|| format!("cluster.nodes: {url:?} is not an http:// URL with a host"))?;
    Ok(NodeEntry {
        zone_id: zone.to_string(),
        url,
    })
}

/// `http://Host:8080/x` → `http://host:8080/x/`; None when it is not an http URL with a host.
/// Scheme and host are case-insensitive, the path is kept as written.
pub fn normalize_url(url: &str) -> Option<String> {
    let rest = strip_prefix_ignore_case(url.trim(), "http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains(['@', ' ', '?', '#']) {
        return None;
    }
    let mut out = format!("http://{}{}", authority.to_ascii_lowercase(), path);
    if !out.ends_with('/') {
        out.push('/');
    }
    Some(out)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

impl ClusterConfig {
    /// The secret in force: `secret`, or the contents of `secret_file`. Read at start.
    pub fn load_secret(&self) -> Result<Option<String>, String> {
        if !self.secret.is_empty() && !self.secret_file.is_empty() {
            return Err("cluster.secret and cluster.secret_file: set one, not both".into());
        }
        if !self.secret_file.is_empty() {
            let text = std::fs::read_to_string(&self.secret_file).map_err(|e| {
                format!("cluster.secret_file: cannot read {}: {e}", self.secret_file)
            })?;
            let secret = text.trim_end().to_string();
            if secret.is_empty() {
                return Err(format!(
                    "cluster.secret_file: {} is empty",
                    self.secret_file
                ));
            }
            // It goes into a request header: a line break would end the header early.
            if secret.chars().any(|c| c.is_control()) {
                return Err(format!(
                    "cluster.secret_file: {} holds control characters (only trailing whitespace \
                     is ignored)",
                    self.secret_file
                ));
            }
            return Ok(Some(secret));
        }
        Ok((!self.secret.is_empty()).then(|| self.secret.clone()))
    }

    pub fn validate(&self) -> Result<(), String> {
        self.nodes.entries()?;
        if self.secret.chars().any(|c| c.is_control()) {
            return Err("cluster.secret: must not contain control characters".into());
        }
        if !self.listen.is_empty() && self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!(
                "cluster.listen: {:?} is not an address like 10.0.0.5:9090",
                self.listen
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_syntax_lists_zones_and_urls_in_order() {
        let spec = NodesSpec::Java(
            " zoneA:http://10.0.0.1:8080, http://10.0.0.2:8080/artemis-service ; zoneB:HTTP://Node3:80/ ;"
                .into(),
        );
        let entries = spec.entries().unwrap();
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.zone_id.as_str(), e.url.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("zoneA", "http://10.0.0.1:8080/"),
                ("zoneA", "http://10.0.0.2:8080/artemis-service/"),
                ("zoneB", "http://node3:80/"),
            ]
        );
        assert!(!spec.is_empty());
        assert!(NodesSpec::Java(" ; ".into()).is_empty());
        assert!(NodesSpec::default().entries().unwrap().is_empty());
    }

    #[test]
    fn table_syntax_is_the_same_list() {
        let toml = "[cluster.nodes]\nzoneA = [\"http://10.0.0.1:8080\"]\nzoneB = [\"http://10.0.0.3:8080/\"]\n";
        #[derive(Deserialize)]
        struct File {
            cluster: ClusterConfig,
        }
        let file: File = toml::from_str(toml).unwrap();
        let entries = file.cluster.nodes.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].zone_id, "zoneB");
        assert_eq!(entries[1].url, "http://10.0.0.3:8080/");
    }

    #[test]
    fn bad_entries_are_rejected_by_name() {
        for bad in [
            "http://10.0.0.1:8080",
            "zoneA:ftp://x",
            ":http://10.0.0.1:8080",
            "z:http://",
            "z:http://a:1,http://A:1/",
        ] {
            let err = NodesSpec::Java(bad.into()).entries().unwrap_err();
            assert!(err.starts_with("cluster.nodes"), "{bad}: {err}");
        }
    }
}
