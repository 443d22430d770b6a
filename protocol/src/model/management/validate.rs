//! Java's checks of the traffic-control requests, turning a parsed body (`None` when the body
//! was empty or `null`) into the shared management types, or into the `ResponseStatus` Java
//! answers, message text included. Each message names the Java file it comes from.
//!
//! What stays with the API: the node-status check that Java runs *before* these (writes answer
//! `service-unavailable` while the node is not up), and the token check (each write request's
//! `token()`; the token never enters a [`ManagementWrite`]).

use super::requests::{
    GetInstanceOperationsRequest, GetZoneOperationsListRequest, IsInstanceDownRequest,
    ManagementServiceRequest, OperateInstanceRequest, OperateServerRequest,
    OperateZoneOperationsRequest, OperationLogsRequest, RegionRequest, ServerKeyRequest,
    WireServerKey, ZoneKeyRequest,
};
use super::{
    InstanceKey, LogFilter, LogKind, ManagementWrite, Operator, ServerKey, Target, ZoneKey,
};
use crate::model::{error_codes, fail, is_null_or_whitespace, Instance, ResponseStatus, Str};

/// Why a request is refused: a ready `responseStatus` (every message is a Java constant).
pub type Refusal = ResponseStatus<'static>;

const fn bad_request(message: &'static str) -> Refusal {
    fail(error_codes::BAD_REQUEST, message)
}

/// Every management endpoint's answer to a missing body (`ManagementServiceImpl`,
/// `ZoneServiceImpl.check`, `ManagementLogServiceImpl.check`).
pub const REQUEST_IS_NULL: Refusal = bad_request("request is null");

/// Java's `extensions` when the client sent none (`OperationContext()`, `InstanceLogModel.of`).
const NO_EXTENSIONS: &str = "{}";

/// caravan `StringValues.trim`: strips what `Character.isWhitespace` accepts at both ends (not
/// `String.trim()`'s "every char up to U+0020": NUL stays, U+3000 goes).
pub(super) fn java_trim(s: &str) -> &str {
    s.trim_matches(is_java_whitespace)
}

/// `Character.isWhitespace`, asked of [`is_null_or_whitespace`] so the definition stays in one
/// place.
fn is_java_whitespace(c: char) -> bool {
    let mut buf = [0; 4];
    is_null_or_whitespace(Some(c.encode_utf8(&mut buf)))
}

/// A trimmed field that `ModelUtil.check` requires non-blank.
fn required(value: &Str<'_>, message: &'static str) -> Result<String, Refusal> {
    let value = value.as_deref().map(java_trim);
    if is_null_or_whitespace(value) {
        return Err(bad_request(message));
    }
    Ok(value.unwrap_or_default().to_owned())
}

/// A key field as sent; Java's null becomes "" (no stored key has a blank field).
fn field(value: &Str<'_>) -> String {
    value.as_deref().unwrap_or_default().to_owned()
}

/// A filter value: blank means "no filter" (the DAOs drop blank conditions), anything else is
/// used as sent (Java does not trim filters).
fn filter_value(value: &Str<'_>) -> Option<String> {
    value
        .as_deref()
        .filter(|v| !is_null_or_whitespace(Some(v)))
        .map(str::to_owned)
}

/// `operate-instance.json`: one pull-out (or pull-in) of one instance (`ModelUtil.newInstance`
/// trims every value, then `ModelUtil.check`). A missing `instanceKey` makes Java throw a
/// NullPointerException (HTTP 500); here it is a bad request about its first field instead.
pub fn operate_instance(
    request: Option<&OperateInstanceRequest>,
) -> Result<ManagementWrite, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    let key = request.instance_key.clone().unwrap_or_default();
    // Messages and their order: ModelUtil.check(InstanceModel).
    let key = InstanceKey {
        region_id: required(&key.region_id, "regionId is null or empty")?,
        service_id: required(&key.service_id, "serviceId is null or empty")?,
        instance_id: required(&key.instance_id, "instanceId is null or empty")?,
    };
    let operation = required(&request.operation, "operation is null or empty")?;
    let operator_id = required(&request.operator_id, "operatorId is null or empty")?;
    Ok(single_write(
        Target::Instance(key),
        operation,
        request.operation_complete,
        operator_id,
    ))
}

/// `operate-server.json`: like [`operate_instance`] for a server (`ModelUtil.newServer`,
/// `ModelUtil.check(ServerModel)`).
pub fn operate_server(request: Option<&OperateServerRequest>) -> Result<ManagementWrite, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    let key = request.server_key.clone().unwrap_or_default();
    // Messages and their order: ModelUtil.check(ServerModel).
    let key = ServerKey {
        region_id: required(&key.region_id, "regionId is null or empty")?,
        server_id: required(&key.server_id, "serverId is null or empty")?,
    };
    let operation = required(&request.operation, "operation is null or empty")?;
    let operator_id = required(&request.operator_id, "operatorId is null or empty")?;
    Ok(single_write(
        Target::Server(key),
        operation,
        request.operation_complete,
        operator_id,
    ))
}

/// Instance and server writes carry no reason, and their log rows `"{}"` as extensions
/// (`OperateInstanceRequest` has neither field; `InstanceLogModel.of`, `ServerLogModel.of`).
fn single_write(
    target: Target,
    operation: String,
    complete: bool,
    operator_id: String,
) -> ManagementWrite {
    ManagementWrite {
        targets: vec![(target, operation)],
        complete,
        operator: Operator {
            operator_id,
            reason: String::new(),
            extensions: NO_EXTENSIONS.to_owned(),
        },
    }
}

/// A failure of `operate-zone-operations`: `ZoneServiceImpl` catches the DAO's
/// `IllegalArgumentException` and answers `internal-service-error` with
/// `"operate zone-operations failed." + ex.getMessage()` (no space between).
macro_rules! zone_write_failed {
    ($dao_message:literal) => {
        fail(
            error_codes::INTERNAL_SERVICE_ERROR,
            concat!("operate zone-operations failed.", $dao_message),
        )
    };
}

/// `zone/operate-zone-operations.json`: every non-blank operation of every zone, in request
/// order (`ZoneOperationsUtil.newZoneOperationModels` skips null entries, null keys and blank
/// operations, and trims nothing). Java reports what is left invalid from its DAO's argument
/// checks, caught as `internal-service-error`; the same codes and messages are kept here.
pub fn operate_zone_operations(
    request: Option<&OperateZoneOperationsRequest>,
) -> Result<ManagementWrite, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    let mut zones = Vec::new();
    for zone in request.zone_operations_list.iter().flatten().flatten() {
        let (Some(key), Some(operations)) = (&zone.zone_key, &zone.operations) else {
            continue;
        };
        for operation in operations.iter().flatten() {
            if is_null_or_whitespace(Some(operation)) {
                continue;
            }
            let key = ZoneKey {
                region_id: field(&key.region_id),
                service_id: field(&key.service_id),
                zone_id: field(&key.zone_id),
            };
            zones.push((key, operation.to_string()));
        }
    }
    let complete = request.operation_complete;
    if zones.is_empty() {
        // ZoneOperationDao.delete / insertOrUpdate: ValueCheckers.notNullOrEmpty(list, name),
        // caravan CollectionArgumentChecker's message.
        return Err(if complete {
            zone_write_failed!("argument group operations is null or empty")
        } else {
            zone_write_failed!("argument models is null or empty")
        });
    }
    if !complete {
        // ZoneOperationDao.checkInsertOrUpdateArgument, in its order (the operation is
        // non-blank already), with caravan StringArgumentChecker's message. A pull-in checks
        // nothing: a blank key deletes no row.
        for (key, _) in &zones {
            let checks = [
                (
                    &key.service_id,
                    zone_write_failed!("argument zoneOperation.serviceId is null or whitespace"),
                ),
                (
                    &key.region_id,
                    zone_write_failed!("argument zoneOperation.regionId is null or whitespace"),
                ),
                (
                    &key.zone_id,
                    zone_write_failed!("argument zoneOperation.zoneId is null or whitespace"),
                ),
            ];
            for (value, refusal) in checks {
                if is_null_or_whitespace(Some(value)) {
                    return Err(refusal);
                }
            }
        }
    }
    let targets = zones
        .into_iter()
        .map(|(key, operation)| (Target::Zone(key), operation))
        .collect();
    Ok(ManagementWrite {
        targets,
        complete,
        operator: Operator {
            operator_id: field(&request.operator_id),
            reason: field(&request.reason),
            extensions: request
                .extensions
                .as_deref()
                .unwrap_or(NO_EXTENSIONS)
                .to_owned(),
        },
    })
}

/// `instance-operations.json`: the key to look up, as sent (`ManagementServiceImpl`).
pub fn instance_operations_key(
    request: Option<&GetInstanceOperationsRequest>,
) -> Result<InstanceKey, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    let key = request
        .instance_key
        .as_ref()
        .ok_or(bad_request("request.instanceKey is null"))?;
    Ok(InstanceKey {
        region_id: field(&key.region_id),
        service_id: field(&key.service_id),
        instance_id: field(&key.instance_id),
    })
}

/// `server-operations.json` (`ManagementServiceImpl.getServerOperationsImpl`).
pub fn server_operations_key(request: Option<&ServerKeyRequest>) -> Result<ServerKey, Refusal> {
    server_key(request, "request.serverKey is null")
}

/// `server-down.json`: Java's message lacks the "is" of its sibling
/// (`ManagementServiceImpl.isServerDownImpl`).
pub fn server_down_key(request: Option<&ServerKeyRequest>) -> Result<ServerKey, Refusal> {
    server_key(request, "request.serverKey null")
}

fn server_key(
    request: Option<&ServerKeyRequest>,
    missing: &'static str,
) -> Result<ServerKey, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    let WireServerKey {
        region_id,
        server_id,
    } = request.server_key.as_ref().ok_or(bad_request(missing))?;
    Ok(ServerKey {
        region_id: field(region_id),
        server_id: field(server_id),
    })
}

/// `instance-down.json`: the instance whose instance, server and zone rows decide
/// (`ManagementServiceImpl.isInstanceDownImpl`).
pub fn instance_down<'r, 'a>(
    request: Option<&'r IsInstanceDownRequest<'a>>,
) -> Result<&'r Instance<'a>, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    request
        .instance
        .as_ref()
        .ok_or(bad_request("request.instance is null"))
}

/// `all-instance-operations.json` / `all-server-operations.json` never fail: the region to keep
/// (compared with `String.equals`, so exactly), or `None` for every region when the body or
/// `regionId` is missing or blank (`ManagementRepository.getAllInstanceOperations`).
pub fn region_filter<'r>(request: Option<&'r RegionRequest>) -> Option<&'r str> {
    request
        .and_then(|r| r.region_id.as_deref())
        .filter(|region| !is_null_or_whitespace(Some(region)))
}

/// `zone/get-all-zone-operations.json` only needs a body: Java reads `regionId` and answers
/// every zone anyway (`ZoneRepository.getAllZoneOperations` ignores it).
pub fn all_zone_operations(request: Option<&RegionRequest>) -> Result<(), Refusal> {
    request.map(|_| ()).ok_or(REQUEST_IS_NULL)
}

/// `zone/get-zone-operations.json` and `zone/is-zone-down.json`: the zone to look up, or `None`
/// when `zoneKey` is missing, which finds nothing (Java's `HashMap.get(null)`), so the answer is
/// `"operations":null` / `"down":false`.
pub fn zone_key(request: Option<&ZoneKeyRequest>) -> Result<Option<ZoneKey>, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    Ok(request.zone_key.as_ref().map(|key| ZoneKey {
        region_id: field(&key.region_id),
        service_id: field(&key.service_id),
        zone_id: field(&key.zone_id),
    }))
}

/// `zone/get-zone-operations-list.json`: which zones to list (`ZoneOperationDao.select`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneOperationsFilter {
    pub region_id: Option<String>,
    pub service_id: Option<String>,
    pub zone_id: Option<String>,
}

impl ZoneOperationsFilter {
    /// Every `Some` field equals the key's, ignoring ASCII case: Java compared in MySQL, whose
    /// default `utf8_general_ci` collation ignores case.
    pub fn matches(&self, key: &ZoneKey) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_deref()
                .is_none_or(|want| want.eq_ignore_ascii_case(have))
        };
        same(&self.region_id, &key.region_id)
            && same(&self.service_id, &key.service_id)
            && same(&self.zone_id, &key.zone_id)
    }
}

/// The filter of `zone/get-zone-operations-list.json`; blank fields match everything.
pub fn zone_operations_filter(
    request: Option<&GetZoneOperationsListRequest>,
) -> Result<ZoneOperationsFilter, Refusal> {
    let request = request.ok_or(REQUEST_IS_NULL)?;
    Ok(ZoneOperationsFilter {
        region_id: filter_value(&request.region_id),
        service_id: filter_value(&request.service_id),
        zone_id: filter_value(&request.zone_id),
    })
}

/// Management `service.json`: the service to show, as sent. A missing body and a blank id share
/// one message, typo included (`ManagementServiceImpl.getServiceImpl`).
pub fn management_service_id<'r>(
    request: Option<&'r ManagementServiceRequest>,
) -> Result<&'r str, Refusal> {
    let service_id = request.and_then(|r| r.service_id.as_deref());
    if is_null_or_whitespace(service_id) {
        return Err(bad_request("Request is null or request.servcieId is null."));
    }
    Ok(service_id.unwrap_or_default())
}

/// The three `log/*-operation-logs.json` filters: each kind reads only the fields of its Java
/// request class, blank values match everything and the rest are used as sent
/// (`ManagementLogServiceImpl`, `InstanceLogDao.select`, `ServerLogDao.select`,
/// `ZoneOperationLogDao.select`).
pub fn log_filter(
    kind: LogKind,
    request: Option<&OperationLogsRequest>,
) -> Result<LogFilter, Refusal> {
    let r = request.ok_or(REQUEST_IS_NULL)?;
    let (instance, server, zone) = match kind {
        LogKind::Instance => (true, false, false),
        LogKind::Server => (false, true, false),
        LogKind::Zone => (false, false, true),
    };
    let when = |wanted: bool, value: &Str<'_>| wanted.then(|| filter_value(value)).flatten();
    Ok(LogFilter {
        region_id: filter_value(&r.region_id),
        service_id: when(instance || zone, &r.service_id),
        instance_id: when(instance, &r.instance_id),
        server_id: when(server, &r.server_id),
        zone_id: when(zone, &r.zone_id),
        operation: filter_value(&r.operation),
        operator_id: filter_value(&r.operator_id),
        complete: r.complete,
    })
}

#[cfg(test)]
mod tests;
