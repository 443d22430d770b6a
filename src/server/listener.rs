//! The node's listening sockets (`listen`, and `cluster.listen` when set), each shared by every
//! core.
//!
//! Core 0 binds each *without* SO_REUSEPORT, so the kernel refuses the address to any other
//! socket (another artemis, whatever its data dir, gets "address in use"). Every other core
//! accepts on its own duplicate of that descriptor: one socket, one accept queue, and each core's
//! event loop waits on it independently, so accepting stays per core and needs no cross-core
//! hand-off. A connection goes to whichever core's accept the kernel completes first.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use monoio::net::{ListenerOpts, TcpListener};

/// Pending connections the kernel queues for the node before it refuses new ones.
const BACKLOG: i32 = 4096;

/// Bind `addr` (the value of the config key `key`) exclusively, in the calling core's event
/// loop. The event loop decides the socket's blocking mode (non-blocking for epoll, left blocking
/// for io_uring), which its duplicates share, so every core must run the same driver, as
/// [`super::run`] ensures.
pub fn bind(key: &str, addr: SocketAddr) -> Result<TcpListener, String> {
    // SO_REUSEADDR only lets a restarted node bind while its old connections sit in TIME_WAIT;
    // unlike SO_REUSEPORT it does not let a second listener share the address.
    let opts = ListenerOpts::new()
        .reuse_port(false)
        .reuse_addr(true)
        .backlog(BACKLOG);
    TcpListener::bind_with_config(addr, &opts).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!("{key}: cannot bind {addr}: address in use (another process listens there)")
        } else {
            format!("{key}: cannot bind {addr}: {e}")
        }
    })
}

/// `count` duplicates of the listening socket, one for each other core.
pub fn share(listener: &TcpListener, count: usize) -> std::io::Result<Vec<OwnedFd>> {
    // SAFETY: the descriptor belongs to `listener`, which outlives this borrow.
    let fd = unsafe { BorrowedFd::borrow_raw(listener.as_raw_fd()) };
    (0..count).map(|_| fd.try_clone_to_owned()).collect()
}

/// A core's listener on a duplicate made by [`share`], registered with this core's event loop.
pub fn adopt(fd: OwnedFd) -> std::io::Result<TcpListener> {
    TcpListener::from_std(std::net::TcpListener::from(fd))
}
