//! log/{group-operation, group, route-rule, route-rule-group, group-instance,
//! service-instance}-logs.json: filtered reads of the group log tables, run on the persistence
//! thread (newest first, at most `management.max_log_rows`). Java checks neither the node's
//! state nor a rate limit here.

use protocol::model::management::groups::requests::GroupLogsRequest;
use protocol::model::management::groups::responses::write_group_logs_response;
use protocol::model::management::groups::validate::group_log_filter;
use protocol::model::management::groups::GroupLogKind;
use protocol::model::management::responses::ResponseKind;
use protocol::model::{error_codes, fail};

use super::super::super::Input;
use super::super::{body, refuse};
use crate::server::core::Core;

pub async fn group_logs(
    core: &Core,
    kind: GroupLogKind,
    input: &Input<'_>,
    out: &mut Vec<u8>,
) -> u16 {
    let request = match body::<GroupLogsRequest>(input, out) {
        Ok(request) => request,
        Err(status) => return status,
    };
    let filter = match group_log_filter(kind, request.as_ref()) {
        Ok(filter) => filter,
        Err(refusal) => return refuse(out, ResponseKind::Logs, &refusal),
    };
    let limit = core.node.config.management.max_log_rows;
    match core.node.store.group_logs(kind, filter, limit).await {
        Ok(rows) => {
            out.clear();
            write_group_logs_response(out, &rows);
            200
        }
        Err(error) => {
            // Java answers its database's exception message.
            let message = error.to_string();
            let refusal = fail(error_codes::INTERNAL_SERVICE_ERROR, &message);
            refuse(out, ResponseKind::Logs, &refusal)
        }
    }
}
