//! Connections served by the core on the CPU that receives their packets.
//!
//! Every core accepts from the one listening socket, so a connection lands on whichever core
//! asked first. With cores pinned one per CPU (`pin_cores`), the kernel processes a
//! connection's incoming packets on one CPU (the NIC queue's, or for a client on the same
//! machine the client's own), and its socket says which (`SO_INCOMING_CPU`). Served by the core
//! pinned to that CPU, the packets' processing and the request's stay on one CPU: no
//! inter-processor wake-up per request, and the socket's data stays in that CPU's cache. Served
//! by the other core, each request crosses CPUs twice. Measured on 2 CPUs with wrk on the same
//! machine, one core and its client sharing a CPU answer ~175 k heartbeats/s each, while two
//! cores each serving both clients' connections answer ~200 k together (docs/decisions.md).
//!
//! So the accepting core hands a connection whose packets arrive on another core's CPU to that
//! core, unless it holds more than its share of connections already (a burst of connections
//! from one CPU must not leave the other cores idle). A handed connection travels as a plain
//! descriptor on an unbounded channel (bounded by `limits.max_connections`, which counts it
//! already) and the receiving core serves it like one it accepted.

use std::net::TcpStream as StdTcpStream;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::task::Poll;

use crossbeam_channel::{Receiver, Sender};
use futures_util::task::AtomicWaker;

use super::conn::ConnectionInfo;

/// A connection accepted by one core for another, counted in `Node::connections` already.
pub struct Handed {
    pub stream: StdTcpStream,
    pub info: ConnectionInfo,
    /// Served by the handing core until now (between requests), not just accepted.
    pub moved: bool,
}

/// One core's queue of handed connections.
pub struct Handoffs {
    sender: Sender<Handed>,
    receiver: Receiver<Handed>,
    waker: AtomicWaker,
}

impl Default for Handoffs {
    fn default() -> Self {
        let (sender, receiver) = crossbeam_channel::unbounded();
        Handoffs {
            sender,
            receiver,
            waker: AtomicWaker::new(),
        }
    }
}

impl Handoffs {
    /// Queue a connection for the core and wake it.
    pub fn hand(&self, handed: Handed) {
        // Never disconnected: this struct holds both ends.
        let _ = self.sender.send(handed);
        self.waker.wake();
    }

    /// The next connection handed to this core (only the core's own task waits here).
    pub async fn next(&self) -> Handed {
        std::future::poll_fn(|cx| {
            if let Ok(handed) = self.receiver.try_recv() {
                return Poll::Ready(handed);
            }
            self.waker.register(cx.waker());
            // One may have arrived before the waker was registered.
            match self.receiver.try_recv() {
                Ok(handed) => Poll::Ready(handed),
                Err(_) => Poll::Pending,
            }
        })
        .await
    }

    /// What is queued now (a core that stops closes these).
    pub fn drain(&self) -> Vec<Handed> {
        self.receiver.try_iter().collect()
    }
}

/// The CPU whose packet processing last touched the socket, if the kernel knows it.
pub fn incoming_cpu(fd: RawFd) -> Option<usize> {
    let mut cpu: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `cpu` and `len` are valid for writes of the sizes given; an invalid descriptor
    // only makes the call fail.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_INCOMING_CPU,
            (&mut cpu as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return None;
    }
    usize::try_from(cpu).ok()
}

/// The core pinned to `cpu` (`pinned[core]` is that core's CPU), if another than `this`.
pub fn core_of_cpu(pinned: &[usize], cpu: usize, this: usize) -> Option<usize> {
    pinned
        .iter()
        .position(|&c| c == cpu)
        .filter(|&core| core != this)
}

/// A std stream on a duplicate of `stream`'s descriptor, to travel to another core; the caller
/// then drops `stream` (so the runtime closes and forgets its own descriptor as for any dropped
/// stream). An error (no descriptor left) leaves `stream` as it was, to be served here.
pub fn duplicate(stream: &monoio::net::TcpStream) -> std::io::Result<StdTcpStream> {
    // SAFETY: the descriptor is open for as long as `stream` lives, which is past this call.
    let fd = unsafe { libc::fcntl(stream.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor this function owns.
    Ok(unsafe { StdTcpStream::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a std stream is still an open socket.
    fn is_open(stream: &StdTcpStream) -> bool {
        incoming_cpu(stream.as_raw_fd()).is_some() || stream.peer_addr().is_ok()
    }

    #[test]
    fn a_cpu_maps_to_the_core_pinned_there_unless_it_is_this_one() {
        let pinned = [2, 3, 5];
        assert_eq!(core_of_cpu(&pinned, 3, 0), Some(1));
        assert_eq!(core_of_cpu(&pinned, 5, 0), Some(2));
        assert_eq!(core_of_cpu(&pinned, 2, 0), None, "this core");
        assert_eq!(core_of_cpu(&pinned, 4, 0), None, "no core there");
    }

    #[test]
    fn a_loopback_connection_knows_its_incoming_cpu_and_travels() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = StdTcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (accepted, peer) = listener.accept().unwrap();
        let cpu = incoming_cpu(accepted.as_raw_fd()).expect("loopback sockets know their CPU");
        assert!(cpu < 4096);
        let handoffs = Handoffs::default();
        handoffs.hand(Handed {
            stream: accepted,
            info: ConnectionInfo {
                remote: peer,
                listener: super::super::conn::ListenerRole::Main,
            },
            moved: false,
        });
        let handed = handoffs.drain();
        assert_eq!(handed.len(), 1);
        assert!(is_open(&handed[0].stream));
        assert_eq!(handed[0].info.remote, client.local_addr().unwrap());
    }
}
