//! The senders against a fake peer on the same event loop: a listener that records each
//! request (path, secret header, inflated body) and answers from a script.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use protocol::http::{inflate_gzip, GzipLimits};

use super::*;
use crate::cluster::topology::{Peer, PeerAddress, Topology};
use crate::config::cluster::NodeEntry;

const SECRET: &str = "s3cret";
const SUCCESS: &str = r#"{"failedInstances":null,"responseStatus":{"errorCode":"success","message":"","status":"success"}}"#;

/// A request as the peer saw it.
#[derive(Debug)]
struct Seen {
    path: String,
    secret: Option<String>,
    gzip: bool,
    body: String,
}

/// What the peer does with the next request (after the script: a success).
enum Reply {
    Json(u16, &'static str),
    /// Close the connection without an answer.
    Hang,
}

#[derive(Default)]
struct FakePeer {
    seen: RefCell<Vec<Seen>>,
    script: RefCell<VecDeque<Reply>>,
    arrived: Wake,
}

impl FakePeer {
    /// Wait until `n` requests arrived (the hang guard fails a test that never gets them).
    async fn requests(&self, n: usize) {
        let arrived = async {
            while self.seen.borrow().len() < n {
                self.arrived.wait().await;
            }
        };
        let guard = monoio::time::timeout(Duration::from_secs(30), arrived).await;
        assert!(guard.is_ok(), "only {:?} arrived", self.seen.borrow());
    }

    fn bodies(&self) -> Vec<(String, String)> {
        self.seen
            .borrow()
            .iter()
            .map(|s| (s.path.clone(), s.body.clone()))
            .collect()
    }
}

async fn serve(peer: Rc<FakePeer>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        monoio::spawn(serve_connection(peer.clone(), stream));
    }
}

async fn serve_connection(peer: Rc<FakePeer>, mut stream: TcpStream) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let (head_end, body_len) = loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len = header(&head, "content-length").map_or(0, |v| v.parse().unwrap());
                if buf.len() >= end + 4 + len {
                    break (end + 4, len);
                }
            }
            let (read, chunk) = stream.read(Vec::with_capacity(64 * 1024)).await;
            match read {
                Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let lower = head.to_ascii_lowercase();
        let path = head.split(' ').nth(1).unwrap().to_string();
        let gzip = header(&lower, "content-encoding") == Some("gzip");
        let secret_name = crate::config::cluster::SECRET_HEADER.to_ascii_lowercase();
        let secret = header(&lower, &secret_name).map(str::to_string);
        let raw = &buf[head_end..head_end + body_len];
        let mut body = Vec::new();
        let limits = GzipLimits {
            max_output: 1 << 24,
            max_members: 1,
        };
        inflate_gzip(raw, &mut body, limits).expect("a gzip body");
        buf.drain(..head_end + body_len);
        peer.seen.borrow_mut().push(Seen {
            path,
            secret,
            gzip,
            body: String::from_utf8(body).unwrap(),
        });
        peer.arrived.notify();
        let reply = peer
            .script
            .borrow_mut()
            .pop_front()
            .unwrap_or(Reply::Json(200, SUCCESS));
        let (status, json) = match reply {
            Reply::Json(status, json) => (status, json),
            Reply::Hang => return,
        };
        let answer = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        );
        let (written, _) = stream.write_all(answer.into_bytes()).await;
        if written.is_err() {
            return;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A header's value in a lower-cased head.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        (n.trim() == name).then(|| v.trim())
    })
}

/// A cluster of this node and one peer at `url`.
fn cluster_with_peer(url: &str) -> Arc<ClusterState> {
    let address = PeerAddress::parse(url).unwrap();
    assert!(address.resolve());
    let topology = Topology {
        local: None,
        peers: vec![Peer {
            id: 0,
            entry: NodeEntry {
                zone_id: "z".into(),
                url: url.into(),
            },
            address,
        }],
    };
    Arc::new(ClusterState::new(topology, true, Some(SECRET.into())))
}

fn instance(id: &str) -> Arc<[u8]> {
    Arc::from(format!(r#"{{"instanceId":"{id}","serviceId":"svc"}}"#).into_bytes())
}

fn replica(kind: ReplicaKind, id: &str) -> Replica {
    Replica {
        kind,
        json: instance(id),
    }
}

fn body_of(ids: &[&str]) -> String {
    let list: Vec<String> = ids
        .iter()
        .map(|id| format!(r#"{{"instanceId":"{id}","serviceId":"svc"}}"#))
        .collect();
    format!(r#"{{"instances":[{}]}}"#, list.join(","))
}

fn path(kind: &str) -> String {
    format!("/api/replication/registry/{kind}.json")
}

/// Run `test` on an event loop with a fake peer listening; `tune` adjusts the configuration.
fn with_peer<F, Fut>(tune: impl FnOnce(&mut Config), test: F)
where
    F: FnOnce(Rc<FakePeer>, Arc<ClusterState>, Replicator) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let peer = Rc::new(FakePeer::default());
        monoio::spawn(serve(peer.clone(), listener));
        let cluster = cluster_with_peer(&url);
        let mut config = Config::default();
        config.cluster.heartbeat_batch_window_ms = 10;
        tune(&mut config);
        let replicator = Replicator::new(&cluster, &config);
        test(peer, cluster, replicator).await;
    });
}

fn no_snapshot() -> Snapshot {
    Rc::new(|| panic!("no resync expected"))
}

#[test]
fn writes_reach_the_peer_in_order_gzipped_with_the_secret() {
    with_peer(
        |_| {},
        |peer, cluster, replicator| async move {
            replicator.start(0, &cluster, no_snapshot());
            replicator.publish(
                [
                    replica(ReplicaKind::Register, "a"),
                    replica(ReplicaKind::Register, "b"),
                    replica(ReplicaKind::Heartbeat, "a"),
                    replica(ReplicaKind::Unregister, "a"),
                ]
                .into_iter(),
            );
            peer.requests(3).await;
            // A later heartbeat: its request shows the sender took in the answers before it.
            replicator.publish([replica(ReplicaKind::Heartbeat, "b")].into_iter());
            peer.requests(4).await;
            assert_eq!(
                peer.bodies(),
                [
                    (path("register"), body_of(&["a", "b"])),
                    (path("heartbeat"), body_of(&["a"])),
                    (path("unregister"), body_of(&["a"])),
                    (path("heartbeat"), body_of(&["b"])),
                ]
            );
            for seen in peer.seen.borrow().iter() {
                assert!(seen.gzip, "{seen:?}");
                assert_eq!(seen.secret.as_deref(), Some(SECRET));
            }
            let r = &cluster.peers[0].replication;
            assert_eq!(r.sent_total.load(Ordering::Relaxed), 4);
            assert_eq!(r.failed_requests_total.load(Ordering::Relaxed), 0);
            assert!(r.last_ack_ms.load(Ordering::Relaxed) > 0);
            assert_eq!(r.queued.load(Ordering::Relaxed), 1, "the last heartbeat");
            replicator.stop();
        },
    );
}

#[test]
fn failures_are_retried_and_refused_instances_dropped() {
    with_peer(
        |_| {},
        |peer, cluster, replicator| async move {
            peer.script.borrow_mut().extend([
                Reply::Hang,
                Reply::Json(
                    200,
                    r#"{"failedInstances":null,"responseStatus":{"errorCode":"rate-limited","message":"","status":"fail"}}"#,
                ),
                Reply::Json(
                    200,
                    r#"{"failedInstances":[{"errorCode":"bad-request","errorMessage":"x","instance":{"serviceId":"SVC","instanceId":"B"}}],"responseStatus":{"errorCode":"partial_fail","message":"","status":"partial_fail"}}"#,
                ),
            ]);
            replicator.start(0, &cluster, no_snapshot());
            replicator.publish(
                [
                    replica(ReplicaKind::Register, "a"),
                    replica(ReplicaKind::Register, "b"),
                ]
                .into_iter(),
            );
            peer.requests(3).await;
            replicator.publish([replica(ReplicaKind::Unregister, "c")].into_iter());
            peer.requests(4).await;
            assert_eq!(
                peer.bodies(),
                [
                    (path("register"), body_of(&["a", "b"])),
                    (path("register"), body_of(&["a", "b"])),
                    (path("register"), body_of(&["a", "b"])),
                    (path("unregister"), body_of(&["c"])),
                ]
            );
            let r = &cluster.peers[0].replication;
            assert_eq!(r.sent_total.load(Ordering::Relaxed), 1, "a");
            assert_eq!(r.rejected_total.load(Ordering::Relaxed), 1, "b");
            assert_eq!(r.failed_requests_total.load(Ordering::Relaxed), 3);
            replicator.stop();
        },
    );
}

#[test]
fn an_overflowing_queue_resyncs_the_missed_unregisters_and_the_snapshot_before_later_writes() {
    with_peer(
        |c| {
            c.cluster.peer_queue_capacity = 2;
            c.cluster.write_batch_size = 2;
        },
        |peer, cluster, replicator| async move {
            // Queued before the sender runs: the register overflows a queue full of
            // unregisters, which the resync keeps.
            replicator.publish(
                [
                    replica(ReplicaKind::Unregister, "a"),
                    replica(ReplicaKind::Unregister, "y"),
                    replica(ReplicaKind::Register, "a"),
                ]
                .into_iter(),
            );
            // "a" was registered again: only "y"'s unregister is still owed.
            let snapshot: Snapshot = Rc::new(|| vec![instance("a"), instance("b")]);
            replicator.start(0, &cluster, snapshot);
            peer.requests(3).await;
            replicator.publish([replica(ReplicaKind::Heartbeat, "b")].into_iter());
            peer.requests(4).await;
            assert_eq!(
                peer.bodies(),
                [
                    (path("unregister"), body_of(&["y"])),
                    (path("register"), body_of(&["a", "b"])),
                    (path("register"), body_of(&["a"])),
                    (path("heartbeat"), body_of(&["b"])),
                ]
            );
            let r = &cluster.peers[0].replication;
            assert_eq!(r.resyncs_total.load(Ordering::Relaxed), 1);
            assert_eq!(r.resyncing.load(Ordering::Relaxed), 0, "done");
            assert_eq!(r.sent_total.load(Ordering::Relaxed), 4);
            replicator.stop();
        },
    );
}
