//! Black-box test harness for the `artemis` binary: the integration tests in `tests/*.rs` start the
//! real server on a free port and talk to it over plain TCP. Nothing here links the server's code.
//!
//! - [`process`]: start/stop the binary, signals, waiting for exit, one-shot runs.
//! - [`http`]: a blocking HTTP/1.1 client on one TCP connection, and connection probes.
//! - [`ws`]: WebSocket clients: `tungstenite` for well-formed traffic, hand-built frames for the
//!   rest.
//! - [`payload`]: Artemis request bodies (`Inst`, instances, lookups), gzip and chunked coding.
//! - [`latency`]: `/health` answer times while other work runs (frozen-core checks).
//! - [`api`]: one-call register / heartbeat / unregister / lookup that assert success.
//! - [`assertions`]: checks of the wire format shared by the suites.
//! - [`memory`]: the server's resident memory.
//! - [`management`]: one-call pull-out / pull-in, operation reads, logs and management views.
//! - [`groups`]: group, route-rule and canary writes and reads, and the group logs.
//! - [`durable`]: a node's data dir kept across restarts, and its SQLite database file.
//! - [`mariadb`]: a real MariaDB server for the shared management store (the persistence
//!   crate's test server, the same source file), one per test binary.
//! - [`cluster`]: addresses for the nodes of a local cluster, and what a node says of the cluster.
//! - [`local_cluster`]: several nodes replicating to each other, killed, stopped, frozen and
//!   restarted.
//!
//! Everything is re-exported at the root, so a test file needs only `use harness::*;`.
//!
//! Set `ARTEMIS_TEST_DRIVER=legacy|uring|auto` to run every server on one event-loop driver.

pub mod api;
pub mod assertions;
pub mod cluster;
pub mod durable;
pub mod groups;
pub mod http;
pub mod latency;
pub mod local_cluster;
pub mod management;
// The persistence crate's own test server, so both kinds of tests start MariaDB the same way.
#[path = "../../../persistence/src/test_support/mariadb.rs"]
pub mod mariadb;
pub mod memory;
pub mod payload;
pub mod process;
pub mod ws;

pub use api::*;
pub use assertions::*;
pub use cluster::*;
pub use durable::*;
pub use groups::*;
pub use http::*;
pub use latency::*;
pub use local_cluster::*;
pub use management::*;
pub use memory::*;
pub use payload::*;
pub use process::*;
pub use ws::*;

pub use sonic_rs::{JsonContainerTrait, JsonValueMutTrait, JsonValueTrait, Value};

use std::time::{Duration, Instant};

/// How long a single read may block before the test fails instead of hanging CI.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Generous bound for anything the server should do "at once": it only catches hangs, it is no
/// latency requirement.
pub const SOON: Duration = Duration::from_secs(5);

/// Polls `f` every 20 ms until it returns true or `timeout` passes; returns whether it did.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests;
