//! log/{instance,server,zone}-operation-logs.json: filtered reads of the log tables, run on the
//! persistence thread (newest first, at most `management.max_log_rows`).

use protocol::model::management::requests::OperationLogsRequest;
use protocol::model::management::responses::{write_logs_response, ResponseKind};
use protocol::model::management::{validate, LogKind};
use protocol::model::{error_codes, fail};

use super::super::Input;
use super::{body, refuse};
use crate::server::core::Core;

pub async fn query(core: &Core, kind: LogKind, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = match body::<OperationLogsRequest>(input, out) {
        Ok(request) => request,
        Err(status) => return status,
    };
    let filter = match validate::log_filter(kind, request.as_ref()) {
        Ok(filter) => filter,
        Err(refusal) => return refuse(out, ResponseKind::Logs, &refusal),
    };
    let limit = core.node.config.management.max_log_rows;
    match core.node.store.logs(kind, filter, limit).await {
        Ok(rows) => {
            out.clear();
            write_logs_response(out, kind, &rows);
            200
        }
        Err(error) => {
            let message = error.to_string();
            refuse(
                out,
                ResponseKind::Logs,
                &fail(error_codes::INTERNAL_SERVICE_ERROR, &message),
            )
        }
    }
}
