//! operate-instance, operate-server, zone/operate-zone-operations: durable, then in effect on
//! every shard, then answered.

use std::sync::Arc;
use std::time::Instant;

use persistence::{StoreError, StoreErrorKind};
use protocol::model::management::requests::{
    OperateInstanceRequest, OperateServerRequest, OperateZoneOperationsRequest,
};
use protocol::model::management::responses::{write_status_response, ResponseKind};
use protocol::model::management::validate::{self, Refusal};
use protocol::model::management::{ManagementSnapshot, ManagementWrite};
use protocol::model::{error_codes, fail, ResponseStatus};
use shards::ops::ApplyManagement;

use super::super::Input;
use super::{auth, body, refuse};
use crate::server::core::Core;

const KIND: ResponseKind = ResponseKind::Operate;

pub async fn operate_instance(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = match body::<OperateInstanceRequest>(input, out) {
        Ok(r) => r,
        Err(status) => return status,
    };
    let token = request.as_ref().and_then(|r| r.token());
    let write = auth::check_write(core, input, token)
        .and_then(|()| validate::operate_instance(request.as_ref()));
    commit(core, write, "Update instance failed.", out).await
}

pub async fn operate_server(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = match body::<OperateServerRequest>(input, out) {
        Ok(r) => r,
        Err(status) => return status,
    };
    let token = request.as_ref().and_then(|r| r.token());
    let write = auth::check_write(core, input, token)
        .and_then(|()| validate::operate_server(request.as_ref()));
    commit(core, write, "Update server failed.", out).await
}

pub async fn operate_zones(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = match body::<OperateZoneOperationsRequest>(input, out) {
        Ok(r) => r,
        Err(status) => return status,
    };
    let token = request.as_ref().and_then(|r| r.token());
    let write = auth::check_write(core, input, token)
        .and_then(|()| validate::operate_zone_operations(request.as_ref()));
    commit(core, write, "operate zone-operations failed.", out).await
}

/// Commit a validated write, put it in effect on every shard, answer.
async fn commit(
    core: &Core,
    write: Result<ManagementWrite, Refusal>,
    failed: &str,
    out: &mut Vec<u8>,
) -> u16 {
    let write = match write {
        Ok(write) => write,
        Err(refusal) => return refuse(out, KIND, &refusal),
    };
    let started = Instant::now();
    let stored = core.node.store.write(write).await;
    core.metrics.store_writes.observe(started.elapsed());
    let snapshot = match stored {
        Ok(snapshot) => snapshot,
        Err(error) => return store_failed(core, out, failed, &error),
    };
    if !apply_everywhere(core, snapshot).await {
        // Durable, but a stopping core could not confirm it: the client retries (writes are
        // idempotent) against a node that is up.
        let message = "committed, but the node is stopping and could not confirm it is in effect";
        return refuse(out, KIND, &fail(error_codes::SERVICE_UNAVAILABLE, message));
    }
    out.clear();
    write_status_response(out, KIND, &ResponseStatus::SUCCESS);
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

fn store_failed(core: &Core, out: &mut Vec<u8>, failed: &str, error: &StoreError) -> u16 {
    let code = match error.kind {
        StoreErrorKind::Busy => error_codes::SERVICE_UNAVAILABLE,
        _ => error_codes::INTERNAL_SERVICE_ERROR,
    };
    if core.bad_request_log.allow() {
        tracing::warn!(error = %error, "management write failed");
    }
    let message = format!("{failed} {error}");
    refuse(out, KIND, &fail(code, &message))
}
