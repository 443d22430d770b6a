//! Who may call the replication endpoints (beyond Java, which let anyone): a replicated write
//! changes the registry without any client check, and `services.json` lists every instance.
//!
//! - With `cluster.listen` set, replication is served on that listener only (peers are expected
//!   on a private interface); the main port refuses it.
//! - With `cluster.secret` set, a request must carry it in `X-Artemis-Cluster-Secret`, compared
//!   in constant time; the sender's address does not matter.
//! - Without a secret (needed beside Java nodes, which send none), a request must come from the
//!   address of a configured node: a peer's resolved host, or this node's own URL's host (so a
//!   single node at `http://127.0.0.1:8080/` accepts replication from 127.0.0.1 only).
//!
//! A refusal is HTTP 403 with `no-permission`, and nothing changes.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use protocol::model::{error_codes, write_fail_body};

use super::super::Input;
use crate::config::cluster::SECRET_HEADER;
use crate::server::conn::ListenerRole;
use crate::server::core::Core;

/// Why a replication request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `cluster.listen` is set and the request came in on the main port.
    NotOnClusterListener,
    /// `cluster.secret` is set and the request does not carry the header.
    MissingSecret,
    /// `cluster.secret` is set and the header holds something else.
    WrongSecret,
    /// No secret is set and the request comes from none of the configured nodes' hosts.
    UnknownHost(IpAddr),
}

impl Refusal {
    fn message(&self) -> String {
        match self {
            Refusal::NotOnClusterListener => "replication is served on the cluster listener \
                (cluster.listen) only, not on this port"
                .into(),
            Refusal::MissingSecret => format!(
                "replication requires the cluster secret in header {SECRET_HEADER} \
                 (cluster.secret is set on this node)"
            ),
            Refusal::WrongSecret => {
                format!(
                    "replication refused: header {SECRET_HEADER} does not hold the cluster secret"
                )
            }
            Refusal::UnknownHost(ip) => format!(
                "replication is accepted only from the hosts of cluster.nodes, and {ip} is none \
                 of them (or set cluster.secret on every node to accept peers by secret)"
            ),
        }
    }
}

/// What the node requires of a replication request.
pub struct Policy<'a> {
    /// `cluster.listen` is set: replication comes in on that listener only.
    pub cluster_listener: bool,
    /// `cluster.secret` in force.
    pub secret: Option<&'a str>,
}

/// What a replication request shows of its sender.
pub struct Presented<'a> {
    pub listener: ListenerRole,
    /// The secret header, if any.
    pub secret: Option<&'a [u8]>,
    pub remote: IpAddr,
}

/// The rules of this module, in order; `is_node_host` says whether an address is a configured
/// node's (asked only without a secret).
pub fn authorize(
    policy: &Policy,
    presented: &Presented,
    is_node_host: impl FnOnce(IpAddr) -> bool,
) -> Result<(), Refusal> {
    if policy.cluster_listener && presented.listener != ListenerRole::Cluster {
        return Err(Refusal::NotOnClusterListener);
    }
    match (policy.secret, presented.secret) {
        (Some(_), None) => Err(Refusal::MissingSecret),
        (Some(secret), Some(given)) if !same_secret(secret.as_bytes(), given) => {
            Err(Refusal::WrongSecret)
        }
        (Some(_), Some(_)) => Ok(()),
        (None, _) if is_node_host(presented.remote) => Ok(()),
        (None, _) => Err(Refusal::UnknownHost(presented.remote)),
    }
}

/// Whether `given` is `secret`, in time that depends on `given`'s length only (never on where
/// the two differ, nor on the secret's length), so that timing does not guess it byte by byte.
fn same_secret(secret: &[u8], given: &[u8]) -> bool {
    assert!(!secret.is_empty(), "an empty cluster.secret is no secret");
    let mut difference = u8::from(secret.len() != given.len());
    for (i, &byte) in given.iter().enumerate() {
        difference |= byte ^ secret[i % secret.len()];
    }
    std::hint::black_box(difference) == 0
}

/// Refuse a replication request that [`authorize`] does not let in: 403 with the JSON error
/// body in `out`, and a (rate-limited) warning. None when it may go on.
pub fn refuse_unauthorized(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> Option<u16> {
    let node = &core.node;
    let policy = Policy {
        cluster_listener: !node.config.cluster.listen.trim().is_empty(),
        secret: node.cluster.secret.as_deref(),
    };
    let remote = input.connection.remote.ip().to_canonical();
    let presented = Presented {
        listener: input.connection.listener,
        secret: input.cluster_secret,
        remote,
    };
    let refusal = authorize(&policy, &presented, |ip| is_node_host(core, ip)).err()?;
    let message = refusal.message();
    if core.bad_request_log.allow() {
        tracing::warn!(peer = %input.connection.remote, reason = %message, "replication request refused");
    }
    out.clear();
    write_fail_body(out, error_codes::NO_PERMISSION, &message);
    Some(403)
}

/// Is `ip` (canonical) an address of a configured node: a peer's resolved host, or this node's
/// own URL's host?
fn is_node_host(core: &Core, ip: IpAddr) -> bool {
    let matches = |addrs: &[SocketAddr]| addrs.iter().any(|a| a.ip().to_canonical() == ip);
    let peers = &core.node.cluster.topology.peers;
    peers.iter().any(|p| matches(&p.address.addresses())) || own_host(&core.node.url).contains(&ip)
}

/// How often this node's own host name is looked up again (as peers' are, by the cluster's
/// resolver): quickly until it resolves, then now and then.
const RETRY_UNRESOLVED: Duration = Duration::from_secs(5);
const REFRESH_RESOLVED: Duration = Duration::from_secs(60);

/// The addresses of this node's own URL's host, looked up on first use: an IP address at once;
/// a host name by a background thread (a lookup may block, so never on an event loop), and
/// until it resolves the own host matches nothing. One node per process, so one URL.
fn own_host(url: &str) -> Arc<[IpAddr]> {
    static OWN: OnceLock<OwnHost> = OnceLock::new();
    let own = OWN.get_or_init(|| OwnHost::new(url));
    debug_assert_eq!(own.url, url, "one node, one URL");
    own.start_lookups(&OWN);
    own.ips.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

struct OwnHost {
    url: String,
    /// `host:port` to look up, when the host is a name.
    name: Option<String>,
    ips: Mutex<Arc<[IpAddr]>>,
    lookups_started: std::sync::Once,
}

impl OwnHost {
    fn new(url: &str) -> OwnHost {
        let (ips, name) = match host_and_port(url) {
            Some((host, port)) => match host.parse::<IpAddr>() {
                Ok(ip) => (vec![ip.to_canonical()], None),
                Err(_) => (Vec::new(), Some(format!("{host}:{port}"))),
            },
            None => (Vec::new(), None),
        };
        OwnHost {
            url: url.to_string(),
            name,
            ips: Mutex::new(ips.into()),
            lookups_started: std::sync::Once::new(),
        }
    }

    /// Start the background lookups of a host name (once).
    fn start_lookups(&self, cell: &'static OnceLock<OwnHost>) {
        if self.name.is_none() {
            return;
        }
        self.lookups_started.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("artemis-own-host".into())
                .spawn(move || {
                    // Started from a core, which may be pinned: blocking lookups belong elsewhere.
                    crate::server::affinity::unpin_current_thread();
                    let own = cell.get().expect("initialised before the lookups start");
                    loop {
                        let resolved = own.look_up();
                        std::thread::sleep(if resolved {
                            REFRESH_RESOLVED
                        } else {
                            RETRY_UNRESOLVED
                        });
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the own host lookup thread; replication from this node's own host is refused");
            }
        });
    }

    /// Look the host name up; keeps the previous answer when it fails. Whether it has one.
    fn look_up(&self) -> bool {
        let name = self.name.as_deref().expect("only a host name is looked up");
        let found: Vec<IpAddr> = match name.to_socket_addrs() {
            Ok(addrs) => addrs.map(|a| a.ip().to_canonical()).collect(),
            Err(_) => Vec::new(),
        };
        let mut ips = self.ips.lock().unwrap_or_else(|e| e.into_inner());
        if !found.is_empty() {
            *ips = found.into();
        }
        !ips.is_empty()
    }
}

/// The host (without IPv6 brackets) and port of an `http://` or `https://` URL, the port
/// defaulting to the scheme's; None for anything else.
pub fn host_and_port(url: &str) -> Option<(&str, u16)> {
    let (rest, default_port) = strip_scheme(url)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (authority, default_port),
        }
    };
    (!host.is_empty()).then_some((host, port))
}

fn strip_scheme(url: &str) -> Option<(&str, u16)> {
    let url = url.trim();
    for (scheme, port) in [("http://", 80), ("https://", 443)] {
        if url
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        {
            return Some((&url[scheme.len()..], port));
        }
    }
    None
}
