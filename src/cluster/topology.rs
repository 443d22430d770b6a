//! Which configured node is this one, and how to reach the others (spec §9.1).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use crate::config::cluster::{normalize_url, NodeEntry};
use crate::config::Config;

/// A peer's base URL split for the HTTP client.
#[derive(Debug)]
pub struct PeerAddress {
    /// `host:port` as written in the URL (the `Host` header).
    pub authority: String,
    /// The URL's path, ending with `/` (`/` or `/artemis-service/`).
    pub base_path: String,
    /// The addresses the host resolved to (empty until it resolves); see [`PeerAddress::resolve`].
    resolved: Mutex<Arc<[SocketAddr]>>,
}

impl PeerAddress {
    /// Split a normalised node URL (`http://host[:port]/path/`).
    pub fn parse(url: &str) -> Option<PeerAddress> {
        let rest = url.strip_prefix("http://")?;
        let slash = rest.find('/')?;
        let (authority, base_path) = (&rest[..slash], &rest[slash..]);
        Some(PeerAddress {
            authority: authority.to_string(),
            base_path: base_path.to_string(),
            resolved: Mutex::new(Arc::from(Vec::new())),
        })
    }

    /// `host:port`, with port 80 when the URL has none.
    pub fn host_port(&self) -> String {
        let has_port = match self.authority.rfind(':') {
            Some(i) => !self.authority[i..].contains(']'),
            None => false,
        };
        if has_port {
            self.authority.clone()
        } else {
            format!("{}:80", self.authority)
        }
    }

    /// The host without port or IPv6 brackets.
    pub fn host(&self) -> &str {
        let host_port = self.authority.as_str();
        let host = match host_port.rfind(':') {
            Some(i) if !host_port[i..].contains(']') => &host_port[..i],
            _ => host_port,
        };
        host.trim_start_matches('[').trim_end_matches(']')
    }

    /// Resolve the host now (blocking: call it off the event loops). Keeps the previous answer
    /// when resolution fails; returns whether the peer has an address.
    pub fn resolve(&self) -> bool {
        let found: Vec<SocketAddr> = match self.host_port().to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(_) => Vec::new(),
        };
        let mut slot = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
        if !found.is_empty() {
            *slot = Arc::from(found);
        }
        !slot.is_empty()
    }

    /// The addresses known now (cheap: a lock held for an `Arc` clone; not per request).
    pub fn addresses(&self) -> Arc<[SocketAddr]> {
        self.resolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The full target of an API path (`api/replication/...`, no leading slash).
    pub fn target(&self, api_path: &str) -> String {
        debug_assert!(!api_path.starts_with('/'));
        format!("{}{}", self.base_path, api_path)
    }
}

/// The configured nodes split into this node and its peers.
#[derive(Debug)]
pub struct Topology {
    /// This node's entry (its zone and URL); None for a single node without `cluster.nodes`.
    pub local: Option<NodeEntry>,
    /// Every other node, in configuration order. Peer ids are indexes into this list.
    pub peers: Vec<Peer>,
}

#[derive(Debug)]
pub struct Peer {
    pub id: usize,
    pub entry: NodeEntry,
    pub address: PeerAddress,
}

impl Topology {
    /// A node without peers.
    pub fn single() -> Topology {
        Topology {
            local: None,
            peers: Vec::new(),
        }
    }

    /// From `cluster.nodes`, recognising this node by one of its own URLs: the advertised one,
    /// or that of its cluster listener (`cluster.listen`). Errors say what to fix.
    pub fn from_config(config: &Config, own_urls: &[&str]) -> Result<Topology, String> {
        let entries = config.cluster.nodes.entries()?;
        if entries.is_empty() {
            return Ok(Topology::single());
        }
        let own: Vec<String> = own_urls
            .iter()
            .map(|u| normalize_url(u).unwrap_or_else(|| u.to_string()))
            .collect();
        let mut local = None;
        let mut peers = Vec::new();
        for entry in entries {
            if own.contains(&entry.url) {
                if local.is_some() {
                    return Err(format!(
                        "cluster.nodes: this node is listed twice ({} and {})",
                        local.as_ref().map_or("", |l: &NodeEntry| l.url.as_str()),
                        entry.url
                    ));
                }
                local = Some(entry);
                continue;
            }
            let address = PeerAddress::parse(&entry.url)
                .ok_or_else(|| format!("cluster.nodes: cannot use {}", entry.url))?;
            peers.push(Peer {
                id: peers.len(),
                entry,
                address,
            });
        }
        let Some(local) = local else {
            return Err(format!(
                "cluster.nodes: none of the nodes is this node ({}); list this node's URL, or \
                 set node_url to the URL the list uses for it",
                own.join(" or ")
            ));
        };
        if local.zone_id != config.zone_id {
            return Err(format!(
                "cluster.nodes: this node ({}) is listed in zone {:?} but zone_id is {:?}",
                local.url, local.zone_id, config.zone_id
            ));
        }
        Ok(Topology {
            local: Some(local),
            peers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cluster::NodesSpec;

    fn config(nodes: &str) -> Config {
        let mut c = Config {
            zone_id: "z1".into(),
            ..Config::default()
        };
        c.cluster.nodes = NodesSpec::Java(nodes.into());
        c
    }

    #[test]
    fn the_local_node_is_found_by_its_url_and_the_rest_are_peers() {
        let c = config("z1:http://127.0.0.1:8080,http://127.0.0.1:8081/;z2:http://10.0.0.9/a");
        let t = Topology::from_config(&c, &["http://127.0.0.1:8081/"]).unwrap();
        assert_eq!(t.local.unwrap().url, "http://127.0.0.1:8081/");
        let urls: Vec<&str> = t.peers.iter().map(|p| p.entry.url.as_str()).collect();
        assert_eq!(urls, ["http://127.0.0.1:8080/", "http://10.0.0.9/a/"]);
        assert_eq!(t.peers[1].id, 1);
        assert_eq!(t.peers[1].address.host_port(), "10.0.0.9:80");
        assert_eq!(t.peers[1].address.host(), "10.0.0.9");
        assert_eq!(
            t.peers[1].address.target("api/status/node.json"),
            "/a/api/status/node.json"
        );
    }

    #[test]
    fn a_list_without_this_node_or_in_another_zone_is_refused() {
        let c = config("z1:http://127.0.0.1:8080");
        let err = Topology::from_config(&c, &["http://127.0.0.1:9999/"]).unwrap_err();
        assert!(err.contains("none of the nodes is this node"), "{err}");
        let c = config("z2:http://127.0.0.1:8080");
        let err = Topology::from_config(&c, &["http://127.0.0.1:8080/"]).unwrap_err();
        assert!(err.contains("zone"), "{err}");
    }

    #[test]
    fn the_cluster_listener_url_also_names_this_node() {
        let c = config("z1:http://10.0.0.1:9090,http://10.0.0.2:9090");
        let own = ["http://client-name:8080/", "http://10.0.0.2:9090/"];
        let t = Topology::from_config(&c, &own).unwrap();
        assert_eq!(t.local.unwrap().url, "http://10.0.0.2:9090/");
        assert_eq!(t.peers.len(), 1);
        let c = config("z1:http://client-name:8080,http://10.0.0.2:9090");
        let err = Topology::from_config(&c, &own).unwrap_err();
        assert!(err.contains("listed twice"), "{err}");
    }

    #[test]
    fn no_nodes_is_a_single_node() {
        let t = Topology::from_config(&Config::default(), &["http://x:1/"]).unwrap();
        assert!(t.local.is_none() && t.peers.is_empty());
    }

    #[test]
    fn ipv6_hosts_keep_their_brackets_in_the_authority() {
        let a = PeerAddress::parse("http://[::1]:8080/").unwrap();
        assert_eq!(a.host(), "::1");
        assert_eq!(a.host_port(), "[::1]:8080");
        let a = PeerAddress::parse("http://[::1]/").unwrap();
        assert_eq!(a.host_port(), "[::1]:80");
        assert!(a.resolve());
        assert_eq!(a.addresses().len(), 1);
    }
}
