//! A cluster of real `artemis server` processes on this machine (spec §9): N nodes on pre-picked
//! ports of 127.0.0.1, each with its own data dir, all told the whole node list with
//! `--cluster-nodes`. The first node starts with `--force-up`; the others copy the registry from
//! an `up` peer before they report `up`. Nodes can be killed, stopped, frozen and restarted on
//! their own port and data dir, the way an operator's nodes come and go.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use crate::assertions::dump;
use crate::durable::NodeHome;
use crate::http::{Client, Response};
use crate::payload::{gzip, lookup_body, LOOKUP, ZONE};
use crate::process::Server;
use crate::{wait_until, JsonContainerTrait, JsonValueTrait, Value};

/// Bound on a node reaching `up` (and on other cluster-wide convergence): generous, since a
/// loaded CI machine runs several clusters of debug builds at once. It only catches hangs.
pub const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// The replication endpoints (spec §9.2, §9.3).
pub const REPLICATE_REGISTER: &str = "/api/replication/registry/register.json";
pub const REPLICATE_HEARTBEAT: &str = "/api/replication/registry/heartbeat.json";
pub const REPLICATE_UNREGISTER: &str = "/api/replication/registry/unregister.json";
pub const REPLICATE_SERVICES: &str = "/api/replication/registry/services.json";

/// The header a replication request carries the cluster's secret in.
pub const SECRET_HEADER: &str = "X-Artemis-Cluster-Secret";

const NODE_STATUS: &str = "/api/status/node.json";
const CLUSTER_STATUS: &str = "/api/status/cluster.json";

/// Attempts at starting a cluster whose pre-picked ports another process took in the meantime.
const PORT_ATTEMPTS: usize = 5;

/// What a cluster runs with: its size, `[cluster]` keys, other config sections and extra
/// arguments for every node.
pub struct ClusterSpec {
    size: usize,
    cluster_keys: BTreeMap<String, String>,
    extra_toml: String,
    args: Vec<String>,
}

impl ClusterSpec {
    /// `size` nodes. Peers are polled every 200 ms (not every 5 s), so a starting node finds an
    /// `up` peer to copy from at once, and the `status` rate limiter is lifted so tests can
    /// poll `cluster.json`.
    pub fn new(size: usize) -> ClusterSpec {
        assert!(size >= 2, "a cluster has at least two nodes");
        let mut cluster_keys = BTreeMap::new();
        cluster_keys.insert("health_check_interval_ms".into(), "200".into());
        ClusterSpec {
            size,
            cluster_keys,
            extra_toml: String::new(),
            args: Vec::new(),
        }
    }

    /// Sets `cluster.<key>` to `toml_value` (written as is: quote strings).
    pub fn cluster(mut self, key: &str, toml_value: &str) -> ClusterSpec {
        self.cluster_keys.insert(key.into(), toml_value.into());
        self
    }

    /// `cluster.secret`.
    pub fn secret(self, secret: &str) -> ClusterSpec {
        assert!(
            secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "keep test secrets plain so they need no TOML escaping"
        );
        self.cluster("secret", &format!("\"{secret}\""))
    }

    /// More config sections (not `[cluster]`, `[rate_limits.status]`: use [`ClusterSpec::cluster`]).
    pub fn toml(mut self, text: &str) -> ClusterSpec {
        self.extra_toml.push_str(text);
        self.extra_toml.push('\n');
        self
    }

    /// Extra `artemis server` arguments for every node.
    pub fn args(mut self, args: &[&str]) -> ClusterSpec {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub(crate) fn config_toml(&self) -> String {
        let mut toml = String::from("[cluster]\n");
        for (key, value) in &self.cluster_keys {
            toml.push_str(&format!("{key} = {value}\n"));
        }
        toml.push_str("[rate_limits.status]\ndefault_per_10s = 1000000\n");
        toml.push_str(&self.extra_toml);
        toml
    }

    /// Starts every node and waits until each reports `up`.
    pub fn start(self) -> Cluster {
        let cluster = self.start_nodes();
        for i in 0..cluster.len() {
            cluster.wait_up(i);
        }
        cluster
    }

    /// Starts every node (they listen) without waiting for them to be `up`. Ports are picked
    /// free beforehand and can be taken by another process before a node binds them: the
    /// whole cluster then starts again on new ones.
    fn start_nodes(&self) -> Cluster {
        let toml = self.config_toml();
        for _ in 0..PORT_ATTEMPTS {
            let ports = free_ports(self.size);
            let urls: Vec<String> = ports
                .iter()
                .map(|p| format!("http://127.0.0.1:{p}/"))
                .collect();
            let nodes_arg = format!("{ZONE}:{}", urls.join(","));
            let mut nodes = Vec::new();
            let mut port_taken = false;
            for (i, port) in ports.iter().enumerate() {
                let mut args: Vec<&str> = vec!["--cluster-nodes", &nodes_arg];
                if i == 0 {
                    args.push("--force-up");
                }
                args.extend(self.args.iter().map(String::as_str));
                let home = NodeHome::new(Some(&toml), &args);
                let listen = format!("127.0.0.1:{port}");
                match home.try_start_on(&listen) {
                    Ok(server) => nodes.push(ClusterNode {
                        listen,
                        url: urls[i].clone(),
                        home,
                        server: Some(server),
                        frozen: false,
                        past: Vec::new(),
                    }),
                    Err(e) if e.stderr.contains("address in use") => {
                        port_taken = true;
                        break;
                    }
                    Err(e) => panic!(
                        "cluster node {i} on {listen} exited ({:?}) before listening; \
                         config:\n{toml}\nstderr:\n{}",
                        e.status, e.stderr
                    ),
                }
            }
            if !port_taken {
                return Cluster { nodes };
            }
        }
        panic!(
            "no free ports for a {}-node cluster after {PORT_ATTEMPTS} attempts",
            self.size
        )
    }
}

/// `n` distinct ports free right now: listeners bound together on 127.0.0.1:0, then closed.
pub(crate) fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

struct ClusterNode {
    listen: String,
    url: String,
    home: NodeHome,
    /// The running process; None while the node is down.
    server: Option<Server>,
    /// Stopped by SIGSTOP (see [`Cluster::freeze`]).
    frozen: bool,
    /// Earlier processes of this node, kept so a failing test prints their stderr too.
    past: Vec<Server>,
}

/// A running cluster; every node is stopped when it is dropped.
pub struct Cluster {
    nodes: Vec<ClusterNode>,
}

impl Cluster {
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s running process; panics while it is down.
    pub fn node(&self, i: usize) -> &Server {
        self.nodes[i]
            .server
            .as_ref()
            .unwrap_or_else(|| panic!("node {i} is down"))
    }

    /// Node `i`'s URL as every node knows it (`http://127.0.0.1:<port>/`).
    pub fn url(&self, i: usize) -> &str {
        &self.nodes[i].url
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.nodes[i].listen.parse().expect("listen address")
    }

    pub fn client(&self, i: usize) -> Client {
        self.node(i).client()
    }

    /// Node `i`'s own status from its `node.json` (`starting`, `up`, ...); None while it cannot
    /// be reached or answers something else.
    pub fn status(&self, i: usize) -> Option<String> {
        let mut client = Client::try_connect(self.addr(i)).ok()?;
        let r = client.try_request("GET", NODE_STATUS, &[], b"").ok()?;
        if r.status != 200 {
            return None;
        }
        let v: Value = sonic_rs::from_slice(&r.body).ok()?;
        v["nodeStatus"]["status"].as_str().map(str::to_string)
    }

    /// Waits until node `i` reports `up`; panics with its last status after [`CLUSTER_TIMEOUT`].
    pub fn wait_up(&self, i: usize) {
        let mut last = None;
        let up = wait_until(CLUSTER_TIMEOUT, || {
            last = self.status(i);
            last.as_deref() == Some("up")
        });
        assert!(
            up,
            "node {i} ({}) not up within {CLUSTER_TIMEOUT:?}; last status {last:?}",
            self.url(i)
        );
    }

    /// The instanceIds node `i` serves for `service_id` (sorted); None when the lookup's
    /// instances are null, the answer of a node that cannot serve discovery (spec §6.1).
    pub fn served_ids(&self, i: usize, service_id: &str) -> Option<Vec<String>> {
        let (status, v) = self
            .client(i)
            .post_json(LOOKUP, &lookup_body(&[service_id]));
        assert_eq!(status, 200, "node {i} lookup {service_id}: {}", dump(&v));
        let instances = v["services"][0]["instances"].as_array()?;
        let mut ids: Vec<String> = instances
            .iter()
            .map(|inst| inst["instanceId"].as_str().unwrap_or_default().to_string())
            .collect();
        ids.sort();
        Some(ids)
    }

    /// `cluster.json` as node `i` answers it.
    pub fn cluster_status(&self, i: usize) -> Value {
        let r = self.client(i).request("GET", CLUSTER_STATUS, &[], b"");
        assert_eq!(r.status, 200, "node {i} {CLUSTER_STATUS}: {}", r.text());
        r.json()
    }

    /// Node `peer`'s entry in node `i`'s `cluster.json`.
    pub fn peer_entry(&self, i: usize, peer: usize) -> Value {
        let status = self.cluster_status(i);
        let url = self.url(peer);
        status["nodesStatus"]
            .as_array()
            .unwrap_or_else(|| panic!("node {i}: nodesStatus is not an array: {}", dump(&status)))
            .iter()
            .find(|n| n["node"]["url"].as_str() == Some(url))
            .cloned()
            .unwrap_or_else(|| panic!("node {i}: no entry for {url}: {}", dump(&status)))
    }

    /// `replication.<field>` of node `peer`'s entry in node `i`'s `cluster.json`.
    pub fn replication_figure(&self, i: usize, peer: usize, field: &str) -> u64 {
        let entry = self.peer_entry(i, peer);
        entry["replication"][field].as_u64().unwrap_or_else(|| {
            panic!(
                "node {i}: no replication.{field} for node {peer}: {}",
                dump(&entry)
            )
        })
    }

    /// SIGKILL node `i`: it ends at once, with no chance to save anything.
    pub fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let mut server = node
            .server
            .take()
            .unwrap_or_else(|| panic!("node {i} is down"));
        server.kill_hard();
        node.past.push(server);
    }

    /// SIGTERM node `i` and wait for its graceful exit (it saves its registry).
    pub fn stop(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let mut server = node
            .server
            .take()
            .unwrap_or_else(|| panic!("node {i} is down"));
        server.stop_gracefully();
        node.past.push(server);
    }

    /// Starts node `i` again on its port and data dir; it listens, and is `starting` until it
    /// has copied the registry (see [`Cluster::wait_up`]).
    pub fn restart(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.server.is_none(), "node {i} is still running");
        let server = node.home.try_start_on(&node.listen).unwrap_or_else(|e| {
            panic!(
                "node {i} did not start again on {} ({:?}):\n{}",
                node.listen, e.status, e.stderr
            )
        });
        node.server = Some(server);
    }

    /// SIGSTOP node `i`: its sockets stay open but it answers nothing, as a node that hangs or
    /// sits behind a partition.
    pub fn freeze(&mut self, i: usize) {
        self.node(i).signal(libc::SIGSTOP);
        self.nodes[i].frozen = true;
    }

    /// SIGCONT a node [`Cluster::freeze`] stopped.
    pub fn thaw(&mut self, i: usize) {
        assert!(self.nodes[i].frozen, "node {i} is not frozen");
        self.node(i).signal(libc::SIGCONT);
        self.nodes[i].frozen = false;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if node.frozen {
                if let Some(server) = &node.server {
                    server.signal(libc::SIGCONT);
                }
            }
            if std::thread::panicking() {
                eprintln!(
                    "==== cluster node {i} ({}): {} earlier process(es), then the current one ====",
                    node.url,
                    node.past.len()
                );
            }
            // Each process's Drop stops it and, when the test failed, prints its stderr.
            node.past.clear();
            node.server.take();
        }
    }
}

/// POSTs `body` (gzip, as Java nodes send it) to a replication endpoint, with `secret` in the
/// cluster's header when given.
pub fn post_replication(
    client: &mut Client,
    path: &str,
    body: &str,
    secret: Option<&str>,
) -> Response {
    let mut headers = vec![("Content-Encoding", "gzip")];
    if let Some(secret) = secret {
        headers.push((SECRET_HEADER, secret));
    }
    client.request("POST", path, &headers, &gzip(body.as_bytes()))
}
