//! After a management write committed to the shared database, this node's peers are asked to
//! poll it at once (`POST api/replication/management/nudge.json`) rather than at their next
//! `persistence.poll_interval_ms`. Best effort: a peer that fails or answers 404 (a Java node)
//! is ignored, and polls on its own anyway.
//!
//! Per core and per peer, one task at a time sends nudges over a kept-alive connection; writes
//! committed while a nudge is on its way fold into one more nudge after it, so a burst of
//! writes costs each peer one request at a time, not one per write.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::client::PeerClient;
use crate::cluster::state::ClusterState;

const NUDGE_PATH: &str = "api/replication/management/nudge.json";

/// The answer is `{"responseStatus":..}` (or a Java node's 404 page): small.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Sending,
    /// Another write committed while sending: send once more.
    SendAgain,
}

struct Peer {
    state: Cell<State>,
    /// Kept between bursts for its connection; taken by the sending task.
    client: RefCell<Option<PeerClient>>,
}

struct Nudger {
    cluster: Arc<ClusterState>,
    timeout: Duration,
    peers: Vec<Peer>,
}

thread_local! {
    /// The calling core's nudger; made at its first nudge.
    static NUDGER: RefCell<Option<Rc<Nudger>>> = const { RefCell::new(None) };
}

/// Nudge every peer of `cluster` from the calling core's event loop; never waits.
pub fn peers(cluster: &Arc<ClusterState>, timeout: Duration) {
    if !cluster.has_peers() {
        return;
    }
    let nudger = NUDGER.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                Rc::new(Nudger {
                    cluster: cluster.clone(),
                    timeout,
                    peers: cluster
                        .peers
                        .iter()
                        .map(|_| Peer {
                            state: Cell::new(State::Idle),
                            client: RefCell::new(None),
                        })
                        .collect(),
                })
            })
            .clone()
    });
    for (index, peer) in nudger.peers.iter().enumerate() {
        match peer.state.get() {
            State::Idle => {
                peer.state.set(State::Sending);
                monoio::spawn(send(nudger.clone(), index));
            }
            State::Sending => peer.state.set(State::SendAgain),
            State::SendAgain => {}
        }
    }
}

async fn send(nudger: Rc<Nudger>, index: usize) {
    let peer = &nudger.peers[index];
    let address = &nudger.cluster.topology.peers[index].address;
    let mut client = peer
        .client
        .borrow_mut()
        .take()
        .unwrap_or_else(|| PeerClient::new(nudger.cluster.secret.clone(), MAX_ANSWER_BYTES));
    loop {
        if let Err(error) = client
            .post_json(address, NUDGE_PATH, b"{}", nudger.timeout)
            .await
        {
            tracing::debug!(peer = index, %error, "nudging a peer to poll the database failed");
        }
        match peer.state.get() {
            State::SendAgain => peer.state.set(State::Sending),
            State::Sending => break,
            State::Idle => unreachable!("a peer is Idle only while no task sends to it"),
        }
    }
    client.release_buffers();
    *peer.client.borrow_mut() = Some(client);
    peer.state.set(State::Idle);
}
