//! The group writes and update-canary-ips: the caller checked (node up, token), Java's checks
//! applied, then durable, in effect on every shard, and acknowledged.

use protocol::model::management::groups::validate::GroupEndpoint;
use protocol::model::management::groups::GroupWrite;
use protocol::model::management::responses::ResponseKind;
use protocol::model::management::validate::Refusal;
use serde::Deserialize;

use super::super::super::Input;
use super::super::{auth, body, commit::commit, refuse};
use crate::server::core::Core;

/// Parse the body as `T`, check the caller with the body's `token`, build the write with
/// `check` (given the body and the `Authorization: Bearer` token, which also satisfies Java's
/// operation-context check), commit it and answer.
pub async fn write<'a, T: Deserialize<'a>>(
    core: &Core,
    endpoint: GroupEndpoint,
    input: &Input<'a>,
    out: &mut Vec<u8>,
    token: for<'r> fn(&'r T) -> Option<&'r str>,
    check: impl FnOnce(Option<&T>, Option<&str>) -> Result<GroupWrite, Refusal>,
) -> u16 {
    let request = match body::<T>(input, out) {
        Ok(request) => request,
        Err(status) => return status,
    };
    let write = auth::check_write(core, input, request.as_ref().and_then(token))
        .and_then(|()| check(request.as_ref(), auth::bearer_token(input)));
    match write {
        Ok(write) => {
            let failed = endpoint.failure_message();
            commit(core, |store| store.write_groups(write), failed, out).await
        }
        Err(refusal) => refuse(out, ResponseKind::Operate, &refusal),
    }
}
