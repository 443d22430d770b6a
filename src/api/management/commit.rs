//! How every management write is answered: committed by the persistence thread, then in effect
//! on every shard, then acknowledged; and how a store failure is answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use persistence::{Handle, Reply, StoreError, StoreErrorKind};
use protocol::model::management::responses::{write_status_response, ResponseKind};
use protocol::model::management::ManagementSnapshot;
use protocol::model::{error_codes, fail, ResponseStatus};
use shards::ops::ApplyManagement;

use super::refuse;
use crate::server::core::Core;
use crate::server::nudge;

/// Send a validated write with `send`, wait until it is durable, apply the snapshot that
/// includes it on every shard, and answer `{"responseStatus"}`. `failed` is Java's message for
/// the endpoint, the start of the answer when the store fails.
pub async fn commit(
    core: &Core,
    send: impl FnOnce(&Handle) -> Reply<Arc<ManagementSnapshot>>,
    failed: &str,
    out: &mut Vec<u8>,
) -> u16 {
    let started = Instant::now();
    let stored = send(&core.node.store).await;
    core.metrics.store_writes.observe(started.elapsed());
    let snapshot = match stored {
        Ok(snapshot) => snapshot,
        Err(error) => return store_failed(core, out, ResponseKind::Operate, failed, &error),
    };
    if !apply_everywhere(core, snapshot).await {
        // Durable, but a stopping core could not confirm it: the client retries (writes are
        // idempotent) against a node that is up.
        let message = "committed, but the node is stopping and could not confirm it is in effect";
        let refusal = fail(error_codes::SERVICE_UNAVAILABLE, message);
        return refuse(out, ResponseKind::Operate, &refusal);
    }
    if core.node.config.persistence.is_shared() {
        // The peers on the same database see the write at their next poll; ask for it now.
        let timeout = Duration::from_millis(core.node.config.cluster.request_timeout_ms);
        nudge::peers(&core.node.cluster, timeout);
    }
    out.clear();
    write_status_response(out, ResponseKind::Operate, &ResponseStatus::SUCCESS);
    200
}

/// Every shard applies `snapshot` (or already holds a newer one). False if a core has stopped.
async fn apply_everywhere(core: &Core, snapshot: Arc<ManagementSnapshot>) -> bool {
    core.map_reduce(
        || ApplyManagement(snapshot.clone()),
        true,
        |all, reply| all && reply.is_ok(),
    )
    .await
}

/// A store job that failed, answered in `kind`'s shape: Java's `failed` message for the
/// endpoint and what went wrong; `service-unavailable` when the store was too busy to take it
/// or the shared database cannot be reached (the client may retry; nothing was kept),
/// `internal-service-error` otherwise.
pub fn store_failed(
    core: &Core,
    out: &mut Vec<u8>,
    kind: ResponseKind,
    failed: &str,
    error: &StoreError,
) -> u16 {
    let code = match error.kind {
        StoreErrorKind::Busy | StoreErrorKind::Unavailable => error_codes::SERVICE_UNAVAILABLE,
        _ => error_codes::INTERNAL_SERVICE_ERROR,
    };
    if core.bad_request_log.allow() {
        tracing::warn!(error = %error, "management store job failed: {failed}");
    }
    let message = match error.kind {
        StoreErrorKind::Unavailable => format!(
            "{failed} the management database is unreachable, nothing was changed; retry \
             later: {error}"
        ),
        _ => format!("{failed} {error}"),
    };
    refuse(out, kind, &fail(code, &message))
}
