//! Admitting connections: the file descriptors `limits.max_connections` needs (reserved once at
//! start-up), and each core's accept loop on each of the node's shared listening sockets (the
//! main one, and `cluster.listen`'s when it is set), which keeps to
//! that limit, leaves new connections to the other cores while it holds more than its share, and,
//! should the process or the system run out of descriptors anyway, pauses instead of spinning.

use super::app::App;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Poll, Waker};
use std::time::Duration;

use std::os::fd::AsRawFd;

use monoio::net::{TcpListener, TcpStream};

use super::conn::{ConnectionInfo, ListenerRole, Served};
use super::core::Core;
use super::handoff::{self, Handed};
use super::log_limit::{LogLimiter, INTERVAL};
use crate::config::Config;

/// Descriptors the process keeps open besides connections and per-core ones: stdin, stdout,
/// stderr, plus short-lived ones (the config file while it is read, name lookups, library
/// internals). A running node holds about 5; the rest is margin, because running out of
/// descriptors for these fails in places that cannot shed load the way accept can.
const FIXED_DESCRIPTORS: u64 = 64;
/// Descriptors each core keeps open: its listener (two with `cluster.listen`), its event-loop
/// driver (io_uring or epoll) and that driver's waker eventfd (3 or 4), with margin for the
/// io_uring probe the `auto` driver runs at start-up.
const DESCRIPTORS_PER_CORE: u64 = 8;

/// Retry delays of an accept that ran out of descriptors: doubling from the first to the last, so
/// a core whose connections do not close still notices within a second that another core's
/// (or another process's) did.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const LAST_BACKOFF: Duration = Duration::from_secs(1);
/// Pause after any other accept error (a connection reset before it was accepted, a transient
/// memory shortage) before accepting again.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// Connections a core may hold beyond an even share of the node's before it leaves new ones to
/// the other cores for a while.
const SHARE_SLACK: usize = 2;
/// How long a core over its share leaves new connections to the others (which accept on the same
/// socket) before it accepts again anyway: they may be busy.
const OVER_SHARE_PAUSE: Duration = Duration::from_millis(1);

/// Does a core serving `live` of the node's `total` connections hold more than an even share of
/// them across `cores` cores, slack included?
fn over_share(live: usize, total: usize, cores: usize) -> bool {
    live * cores > total + SHARE_SLACK * cores
}

/// Descriptors needed to serve `max_connections` connections on `cores` cores.
pub fn descriptors_needed(max_connections: usize, cores: usize) -> u64 {
    max_connections as u64 + FIXED_DESCRIPTORS + DESCRIPTORS_PER_CORE * cores as u64
}

/// Make sure this process may open the descriptors `limits.max_connections` needs: raise the soft
/// `RLIMIT_NOFILE` to that count when it is lower (the hard limit allowing). When even the hard
/// limit is too low, a value the config file set explicitly is refused (the error names the key,
/// the count needed and the count available; main exits 2 as for other config errors), while the
/// built-in default shrinks to what fits with a warning, so the server starts with working
/// defaults on any machine.
pub fn reserve_descriptors(config: &mut Config) -> Result<(), String> {
    let limit = nofile_limit().map_err(|e| format!("cannot read RLIMIT_NOFILE: {e}"))?;
    let cores = config.shard_count();
    let wanted = config.limits.max_connections;
    if !config.max_connections_explicit {
        let overhead = descriptors_needed(0, cores);
        let fits = limit.rlim_max.saturating_sub(overhead);
        if (fits as usize) < wanted && fits > 0 {
            tracing::warn!(
                default = wanted,
                hard_limit = limit.rlim_max,
                max_connections = fits,
                "the open file hard limit (RLIMIT_NOFILE) cannot fit the default \
                 limits.max_connections; serving fewer connections (raise the hard limit, e.g. \
                 systemd LimitNOFILE=, for more)"
            );
            config.limits.max_connections = fits as usize;
        }
    }
    let max_connections = config.limits.max_connections;
    let needed = descriptors_needed(max_connections, cores);
    match soft_limit_for(needed, limit) {
        SoftLimit::Enough => Ok(()),
        SoftLimit::RaiseTo(soft) => {
            set_nofile_limit(libc::rlimit {
                rlim_cur: soft,
                ..limit
            })
            .map_err(|e| format!("cannot raise RLIMIT_NOFILE to {soft}: {e}"))?;
            tracing::info!(
                from = limit.rlim_cur,
                to = soft,
                max_connections,
                "raised the open file limit (RLIMIT_NOFILE)"
            );
            Ok(())
        }
        SoftLimit::HardLimitTooLow => Err(format!(
            "limits.max_connections: {max_connections} connections need {needed} file \
             descriptors ({} more for listeners, event loops and files), but the hard limit \
             (RLIMIT_NOFILE) allows {}; lower limits.max_connections or raise the hard limit \
             (ulimit -Hn, systemd LimitNOFILE=)",
            needed - max_connections as u64,
            limit.rlim_max
        )),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SoftLimit {
    Enough,
    RaiseTo(u64),
    HardLimitTooLow,
}

/// The soft limit to set so that `needed` descriptors fit; never lowered (RLIM_INFINITY is
/// `u64::MAX`, so it compares as enough).
fn soft_limit_for(needed: u64, limit: libc::rlimit) -> SoftLimit {
    if limit.rlim_cur >= needed {
        SoftLimit::Enough
    } else if limit.rlim_max >= needed {
        SoftLimit::RaiseTo(needed)
    } else {
        SoftLimit::HardLimitTooLow
    }
}

fn nofile_limit() -> std::io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(limit)
}

fn set_nofile_limit(limit: libc::rlimit) -> std::io::Result<()> {
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// EMFILE (this process) or ENFILE (the whole system): no descriptor for a new connection until
/// one is closed. The connection stays in the listen backlog meanwhile.
fn out_of_descriptors(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// The accept loops one core runs: the main listener's and `cluster.listen`'s.
const MAX_CLOSURE_WAITERS: usize = 2;

/// Counts connections that ended on this core (accepted here or handed over, on either
/// listener) and wakes this core's accept loops (the main one and `cluster.listen`'s, so at most
/// two waiters), so one can retry an accept that ran out of descriptors as soon as one is free.
#[derive(Default)]
pub(super) struct Closures {
    count: Cell<u64>,
    waiters: RefCell<SmallVec<[Waker; 2]>>,
}

impl Closures {
    pub(super) fn record(&self) {
        self.count.set(self.count.get() + 1);
        for waker in self.waiters.take() {
            waker.wake();
        }
    }

    fn count(&self) -> u64 {
        self.count.get()
    }

    /// Resolves once a connection has ended since `count()` returned `seen`.
    async fn since(&self, seen: u64) {
        std::future::poll_fn(|cx| {
            if self.count.get() != seen {
                return Poll::Ready(());
            }
            let mut waiters = self.waiters.borrow_mut();
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                // Bounded whatever `will_wake` says: a loop that lost its place here waits for
                // its own timer (every wait has one) instead.
                if waiters.len() == MAX_CLOSURE_WAITERS {
                    waiters.remove(0);
                }
                waiters.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// The accept loop's warnings, each rate-limited: a client (connecting in bulk) or the system
/// (out of descriptors) can trigger them once per accept.
struct AcceptLogs {
    limit_reached: LogLimiter,
    out_of_descriptors: LogLimiter,
    failed: LogLimiter,
}

/// The messages of those warnings; a summary line repeats them.
const LIMIT_REACHED: &str = "connection limit reached; closing new connection";
const OUT_OF_DESCRIPTORS: &str = "out of file descriptors; new connections wait until one closes";
const ACCEPT_FAILED: &str = "accept failed";
/// The messages of the core's client errors ([`Core::bad_request_log`]), for their summary.
const CLIENT_ERRORS: &str = "bad request, websocket protocol error or refused replication request";

impl Default for AcceptLogs {
    fn default() -> Self {
        AcceptLogs {
            limit_reached: LogLimiter::new(1),
            out_of_descriptors: LogLimiter::new(1),
            failed: LogLimiter::new(1),
        }
    }
}

enum Accepted {
    Connection(std::io::Result<(monoio::net::TcpStream, std::net::SocketAddr)>),
    Shutdown,
}

impl Core {
    /// Accept connections on this core's descriptor of the main listener until shutdown (see
    /// [`Core::accept_on`]).
    pub(super) async fn accept_loop<A: App>(self: &Rc<Self>, listener: TcpListener) {
        self.accept_on::<A>(listener, ListenerRole::Main).await;
    }

    /// The same for the `cluster.listen` listener, as a task of its own beside the main one.
    pub(super) async fn accept_cluster_loop<A: App>(self: Rc<Self>, listener: TcpListener) {
        self.accept_on::<A>(listener, ListenerRole::Cluster).await;
    }

    /// Accept connections on one listener until shutdown, spawning one task per connection;
    /// connections over `limits.max_connections` (node-wide, both listeners together) are closed
    /// at once.
    async fn accept_on<A: App>(self: &Rc<Self>, listener: TcpListener, role: ListenerRole) {
        let max = self.node.config.limits.max_connections;
        let closures = &self.closures;
        let logs = Rc::new(AcceptLogs::default());
        monoio::spawn(self.clone().report_suppressed_logs(logs.clone(), role));
        let mut backoff = FIRST_BACKOFF;
        let cores = self.node.router.shards();
        loop {
            // All cores accept from one queue, and the kernel hands a burst of connections to
            // whichever core asks first, often all to one. A core holding more than its share
            // steps back briefly so the others take the next ones; it never refuses to accept.
            let total = self.node.connections.load(Ordering::Relaxed);
            // (Counting the connections handed to this core and not yet taken up.)
            let held = self.node.live_by_core[self.id].load(Ordering::Relaxed);
            if over_share(held, total, cores) {
                let seen = closures.count();
                let resumed = monoio::select! {
                    _ = closures.since(seen) => true,
                    _ = monoio::time::sleep(OVER_SHARE_PAUSE) => true,
                    _ = self.shutdown.wait() => false,
                };
                if !resumed {
                    break;
                }
            }
            let accepted = monoio::select! {
                r = listener.accept() => Accepted::Connection(r),
                _ = self.shutdown.wait() => Accepted::Shutdown,
            };
            let (stream, peer) = match accepted {
                Accepted::Shutdown => break,
                Accepted::Connection(Ok(connection)) => {
                    backoff = FIRST_BACKOFF;
                    connection
                }
                Accepted::Connection(Err(e)) if out_of_descriptors(&e) => {
                    if logs.out_of_descriptors.allow() {
                        tracing::warn!(
                            core = self.id,
                            listener = ?role,
                            error = %e,
                            connections = self.node.connections.load(Ordering::Relaxed),
                            retry_ms = backoff.as_millis() as u64,
                            "{OUT_OF_DESCRIPTORS}"
                        );
                    }
                    // Existing connections keep being served meanwhile; retrying at once would
                    // only spin on the same error.
                    let seen = closures.count();
                    let resumed = monoio::select! {
                        _ = closures.since(seen) => true,
                        _ = monoio::time::sleep(backoff) => true,
                        _ = self.shutdown.wait() => false,
                    };
                    if !resumed {
                        break;
                    }
                    backoff = (backoff * 2).min(LAST_BACKOFF);
                    continue;
                }
                Accepted::Connection(Err(e)) => {
                    if logs.failed.allow() {
                        tracing::warn!(core = self.id, listener = ?role, error = %e, "{ACCEPT_FAILED}");
                    }
                    monoio::time::sleep(ERROR_PAUSE).await;
                    continue;
                }
            };
            let open = self.node.connections.fetch_add(1, Ordering::Relaxed);
            if open >= max {
                self.node.connections.fetch_sub(1, Ordering::Relaxed);
                if logs.limit_reached.allow() {
                    tracing::warn!(core = self.id, listener = ?role, %peer, max, "{LIMIT_REACHED}");
                }
                drop(stream);
                self.metrics.connections_refused.add(1);
                continue;
            }
            self.metrics.connections_accepted.add(1);
            let _ = stream.set_nodelay(true);
            let info = ConnectionInfo {
                remote: peer,
                listener: role,
            };
            if let Some(target) = self.steer(&stream, false) {
                // Without a descriptor to spare it is served here.
                if let Ok(duplicate) = handoff::duplicate(&stream) {
                    drop(stream);
                    self.hand(target, duplicate, info, false);
                    continue;
                }
            }
            self.node.live_by_core[self.id].fetch_add(1, Ordering::Relaxed);
            self.serve_connection::<A>(stream, info, false);
        }
        drop(listener);
    }

    /// Serve a connection this core accepted or was handed, counted in `Node::connections` and
    /// in this core's `Node::live_by_core` already; `Core::closures` hears when it ends here.
    fn serve_connection<A: App>(
        self: &Rc<Self>,
        stream: TcpStream,
        info: ConnectionInfo,
        moved: bool,
    ) {
        self.live_connections.set(self.live_connections.get() + 1);
        let core = self.clone();
        monoio::spawn(async move {
            let served = super::conn::serve::<A>(&core, stream, info, moved).await;
            let live = core.live_connections.get();
            assert!(live > 0, "a served connection was counted");
            core.live_connections.set(live - 1);
            core.node.live_by_core[core.id].fetch_sub(1, Ordering::Relaxed);
            match served {
                // Still counted node-wide: the other core serves it now.
                Served::Moved { stream, to } => core.hand(to, stream, info, true),
                Served::Closed => core.closed_one(),
            }
            core.closures.record();
        });
    }

    /// Queue a connection for core `to`, counted as its own from now on (so that a burst of
    /// hand-overs sees the counts they make; see [`Core::steer`]).
    fn hand(&self, to: usize, stream: std::net::TcpStream, info: ConnectionInfo, moved: bool) {
        self.metrics.connections_handed.add(1);
        self.node.live_by_core[to].fetch_add(1, Ordering::Relaxed);
        self.node.handoffs[to].hand(Handed {
            stream,
            info,
            moved,
        });
    }

    /// A connection counted node-wide has closed.
    fn closed_one(&self) {
        let open = self.node.connections.fetch_sub(1, Ordering::Relaxed);
        assert!(open > 0, "a served connection was counted node-wide");
    }

    /// The core to hand a connection to: the one pinned to the CPU that receives its packets,
    /// when that is another core and it holds fewer connections than this one plus
    /// [`SHARE_SLACK`] (so connections from one busy CPU never pile up on one core: the split
    /// stays as even as accepting keeps it, and two connections on the wrong cores swap one
    /// step at a time). See `handoff`.
    /// `moving`: the connection is one this core serves (counted in its count), not one it
    /// just accepted. Nothing is steered until every core serves (a core still restoring its
    /// shard would leave handed connections waiting), during shutdown, or if a core's thread
    /// could not be pinned (the CPU map would be wrong).
    pub(super) fn steer(&self, stream: &TcpStream, moving: bool) -> Option<usize> {
        let pinned = self.node.pinned_cpus.as_deref()?;
        if self.node.shutdown.load(Ordering::Acquire)
            || self.node.serving_cores.load(Ordering::Acquire) < pinned.len()
            || super::affinity::a_pin_failed()
        {
            return None;
        }
        let cpu = handoff::incoming_cpu(stream.as_raw_fd())?;
        let target = handoff::core_of_cpu(pinned, cpu, self.id)?;
        let held = |core: usize| self.node.live_by_core[core].load(Ordering::Relaxed);
        let here = held(self.id).saturating_sub(usize::from(moving));
        (held(target) < here + SHARE_SLACK).then_some(target)
    }

    /// Close the connections handed to this core and not taken up (it has stopped adopting).
    pub(super) fn close_handed(&self) {
        for handed in self.node.handoffs[self.id].drain() {
            drop(handed);
            self.node.live_by_core[self.id].fetch_sub(1, Ordering::Relaxed);
            self.closed_one();
        }
    }

    /// Serve the connections other cores hand to this one, until shutdown; those still queued
    /// then are closed.
    pub(super) async fn adopt_loop<A: App>(self: Rc<Self>) {
        let handoffs = &self.node.handoffs[self.id];
        loop {
            let handed = monoio::select! {
                handed = handoffs.next() => Some(handed),
                _ = self.shutdown.wait() => None,
            };
            let Some(Handed {
                stream,
                info,
                moved,
            }) = handed
            else {
                break;
            };
            match TcpStream::from_std(stream) {
                Ok(stream) => self.serve_connection::<A>(stream, info, moved),
                Err(e) => {
                    tracing::warn!(core = self.id, error = %e, "a connection handed to this core could not be served");
                    self.node.live_by_core[self.id].fetch_sub(1, Ordering::Relaxed);
                    self.closed_one();
                    self.closures.record();
                }
            }
        }
        self.close_handed();
    }

    /// Every [`INTERVAL`] until shutdown (and once more then), log how many warnings of this core
    /// were suppressed in it: those of one listener's accept loop, and (by the main listener's
    /// reporter, so once per core) the core's client errors.
    async fn report_suppressed_logs(self: Rc<Self>, logs: Rc<AcceptLogs>, role: ListenerRole) {
        loop {
            let shutdown = monoio::select! {
                _ = monoio::time::sleep(INTERVAL) => false,
                _ = self.shutdown.wait() => true,
            };
            logs.limit_reached.report(LIMIT_REACHED, self.id);
            logs.out_of_descriptors.report(OUT_OF_DESCRIPTORS, self.id);
            logs.failed.report(ACCEPT_FAILED, self.id);
            if role == ListenerRole::Main {
                self.bad_request_log.report(CLIENT_ERRORS, self.id);
            }
            if shutdown {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::Context;

    use super::*;

    fn limit(soft: u64, hard: u64) -> libc::rlimit {
        libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        }
    }

    #[test]
    fn the_soft_limit_is_raised_only_when_short_and_never_past_the_hard_limit() {
        assert_eq!(soft_limit_for(1000, limit(1000, 1000)), SoftLimit::Enough);
        assert_eq!(soft_limit_for(1000, limit(4096, 8192)), SoftLimit::Enough);
        assert_eq!(
            soft_limit_for(1000, limit(libc::RLIM_INFINITY, libc::RLIM_INFINITY)),
            SoftLimit::Enough
        );
        assert_eq!(
            soft_limit_for(1000, limit(256, 1000)),
            SoftLimit::RaiseTo(1000)
        );
        assert_eq!(
            soft_limit_for(1000, limit(256, libc::RLIM_INFINITY)),
            SoftLimit::RaiseTo(1000)
        );
        assert_eq!(
            soft_limit_for(1000, limit(256, 999)),
            SoftLimit::HardLimitTooLow
        );
    }

    #[test]
    fn a_core_is_over_its_share_beyond_an_even_split_plus_slack() {
        // One core always holds every connection: never over its share.
        assert!(!over_share(1000, 1000, 1));
        // Two cores: an even split of 64 is 32 each, and 2 more are slack.
        assert!(!over_share(34, 64, 2));
        assert!(over_share(35, 64, 2));
        // The first connections of a burst all land on one core before the slack is used up.
        assert!(!over_share(4, 4, 2));
        assert!(over_share(5, 5, 2));
        assert!(!over_share(0, 0, 4));
    }

    #[test]
    fn headroom_grows_with_the_core_count() {
        assert_eq!(descriptors_needed(100, 1), 100 + 64 + 8);
        assert_eq!(descriptors_needed(100, 4), 100 + 64 + 32);
    }

    #[test]
    fn a_closed_connection_wakes_the_waiting_accept_loops() {
        struct Ignore;
        impl std::task::Wake for Ignore {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let closures = Closures::default();
        // One waker cloned for every poll, as a task's is (`Waker::noop()` need not compare
        // equal to itself with `will_wake` in unoptimised builds).
        let waker = Waker::from(std::sync::Arc::new(Ignore));
        let mut cx = Context::from_waker(&waker);
        let seen = closures.count();
        let mut wait = Box::pin(closures.since(seen));
        let mut other = Box::pin(closures.since(seen));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            closures.waiters.borrow().len(),
            1,
            "one waker per waiting task"
        );
        assert!(other.as_mut().poll(&mut cx).is_pending());
        closures.record();
        assert!(
            closures.waiters.borrow().is_empty(),
            "record woke every waiter"
        );
        assert!(wait.as_mut().poll(&mut cx).is_ready());
        assert!(other.as_mut().poll(&mut cx).is_ready());
        // A closure before the wait started counts too.
        assert!(Box::pin(closures.since(seen))
            .as_mut()
            .poll(&mut cx)
            .is_ready());
    }
}
