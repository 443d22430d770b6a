//! operate-instance, operate-server, zone/operate-zone-operations: durable, then in effect on
//! every shard, then answered.

use protocol::model::management::requests::{
    OperateInstanceRequest, OperateServerRequest, OperateZoneOperationsRequest,
};
use protocol::model::management::responses::ResponseKind;
use protocol::model::management::validate::{self, Refusal};
use protocol::model::management::ManagementWrite;

use super::super::Input;
use super::{auth, body, commit, refuse};
use crate::server::core::Core;

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

/// Commit a validated write, or answer its refusal.
async fn commit(
    core: &Core,
    write: Result<ManagementWrite, Refusal>,
    failed: &str,
    out: &mut Vec<u8>,
) -> u16 {
    match write {
        Ok(write) => commit::commit(core, |store| store.write(write), failed, out).await,
        Err(refusal) => refuse(out, ResponseKind::Operate, &refusal),
    }
}
