//! Responses of the traffic-control endpoints (spec §10.1, §10.2, §10.5, §10.6) in Jackson's
//! shape: properties alphabetical, nulls written. Success writers take the data; a refusal (or
//! an operate-* success, which carries nothing else) goes through [`write_status_response`],
//! which writes the data fields as Java leaves them unset.

use std::borrow::Cow;

use super::groups::responses::write_service_groups;
use super::groups::{GroupData, RegisteredInstance, ServiceView};
use super::{Entry, InstanceKey, LogKind, LogRow, ServerKey, ZoneKey};
use crate::model::{
    parse, write_bool, write_i64, write_instance, write_response_status, write_service,
    write_service_fields, write_services_response, write_str, Instance, JsonError, ResponseStatus,
    ServiceLists,
};

/// Which response class an answer belongs to, for [`write_status_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// operate-instance, operate-server, zone/operate-zone-operations, every group write and
    /// canary/update-canary-ips: `{"responseStatus"}`.
    Operate,
    /// instance-operations, server-operations, zone/get-zone-operations.
    Operations,
    AllInstanceOperations,
    AllServerOperations,
    AllZoneOperations,
    ZoneOperationsList,
    /// instance-down, server-down, zone/is-zone-down (Java's primitive `down` stays false).
    Down,
    /// The operation-log endpoints, group logs included.
    Logs,
    /// Management `services.json` (Java's primitive `version` stays 0).
    Services,
    /// Management `service.json`.
    Service,
    /// group/get-all-route-rules, group/get-route-rules.
    RouteRules,
    /// group/get-all-route-rule-groups, group/get-route-rule-groups.
    RouteRuleGroups,
    /// group/get-all-groups, group/get-groups.
    Groups,
    /// group/get-all-group-tags.
    AllGroupTags,
    /// group/get-group-tags.
    GroupTags,
    /// group/get-all-group-operations.
    AllGroupOperations,
    /// group/get-group-operations.
    GroupOperations,
    /// group/get-group-instances.
    GroupInstances,
    /// group/get-service-instances.
    ServiceInstances,
}

/// A response holding only `status`: its other properties are null (false/0 for primitives).
pub fn write_status_response(out: &mut Vec<u8>, kind: ResponseKind, status: &ResponseStatus) {
    let (before, after): (&[u8], &[u8]) = match kind {
        ResponseKind::Operate => (b"{", b"}"),
        ResponseKind::Operations => (b"{\"operations\":null,", b"}"),
        ResponseKind::AllInstanceOperations => (b"{\"allInstanceOperations\":null,", b"}"),
        ResponseKind::AllServerOperations => (b"{\"allServerOperations\":null,", b"}"),
        ResponseKind::AllZoneOperations => (b"{\"allZoneOperations\":null,", b"}"),
        ResponseKind::ZoneOperationsList => (b"{", b",\"zoneOperationsList\":null}"),
        ResponseKind::Down => (b"{\"down\":false,", b"}"),
        ResponseKind::Logs => (b"{\"logs\":null,", b"}"),
        ResponseKind::Services => (b"{", b",\"services\":null,\"version\":0}"),
        ResponseKind::Service => (b"{\"groups\":null,", b",\"service\":null}"),
        ResponseKind::RouteRules => (b"{", b",\"routeRules\":null}"),
        ResponseKind::RouteRuleGroups => (b"{", b",\"routeRuleGroups\":null}"),
        ResponseKind::Groups => (b"{\"groups\":null,", b"}"),
        ResponseKind::AllGroupTags => (b"{\"allGroupTags\":null,", b"}"),
        ResponseKind::GroupTags => (b"{\"groupTags\":null,", b"}"),
        ResponseKind::AllGroupOperations => (b"{\"allGroupOperations\":null,", b"}"),
        ResponseKind::GroupOperations => (b"{\"groupOperations\":null,", b"}"),
        ResponseKind::GroupInstances => (b"{\"groupInstances\":null,", b"}"),
        ResponseKind::ServiceInstances => (b"{", b",\"serviceInstances\":null}"),
    };
    out.extend_from_slice(before);
    out.extend_from_slice(b"\"responseStatus\":");
    write_response_status(out, status);
    out.extend_from_slice(after);
}

/// `{"instanceId","regionId","serviceId"}`.
fn write_instance_key(out: &mut Vec<u8>, key: &InstanceKey) {
    out.extend_from_slice(b"{\"instanceId\":");
    write_str(out, &key.instance_id);
    out.extend_from_slice(b",\"regionId\":");
    write_str(out, &key.region_id);
    out.extend_from_slice(b",\"serviceId\":");
    write_str(out, &key.service_id);
    out.push(b'}');
}

/// `{"regionId","serverId"}`.
fn write_server_key(out: &mut Vec<u8>, key: &ServerKey) {
    out.extend_from_slice(b"{\"regionId\":");
    write_str(out, &key.region_id);
    out.extend_from_slice(b",\"serverId\":");
    write_str(out, &key.server_id);
    out.push(b'}');
}

/// `{"regionId","serviceId","zoneId"}`.
fn write_zone_key(out: &mut Vec<u8>, key: &ZoneKey) {
    out.extend_from_slice(b"{\"regionId\":");
    write_str(out, &key.region_id);
    out.extend_from_slice(b",\"serviceId\":");
    write_str(out, &key.service_id);
    out.extend_from_slice(b",\"zoneId\":");
    write_str(out, &key.zone_id);
    out.push(b'}');
}

fn write_str_list(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, item);
    }
    out.push(b']');
}

/// `InstanceOperations`: `{"instanceKey":{..},"operations":[..]}`.
fn write_instance_entry(out: &mut Vec<u8>, entry: &Entry<InstanceKey>) {
    out.extend_from_slice(b"{\"instanceKey\":");
    write_instance_key(out, &entry.key);
    out.extend_from_slice(b",\"operations\":");
    write_str_list(out, &entry.operations);
    out.push(b'}');
}

/// `ServerOperations`: `{"operations":[..],"serverKey":{..}}` (alphabetical, key last).
fn write_server_entry(out: &mut Vec<u8>, entry: &Entry<ServerKey>) {
    out.extend_from_slice(b"{\"operations\":");
    write_str_list(out, &entry.operations);
    out.extend_from_slice(b",\"serverKey\":");
    write_server_key(out, &entry.key);
    out.push(b'}');
}

/// `ZoneOperations`: `{"operations":[..],"zoneKey":{..}}`.
fn write_zone_entry(out: &mut Vec<u8>, entry: &Entry<ZoneKey>) {
    out.extend_from_slice(b"{\"operations\":");
    write_str_list(out, &entry.operations);
    out.extend_from_slice(b",\"zoneKey\":");
    write_zone_key(out, &entry.key);
    out.push(b'}');
}

/// `{"operations":<entry>|null,"responseStatus":SUCCESS}`.
fn write_operations_response<E>(
    out: &mut Vec<u8>,
    entry: Option<&E>,
    write_entry: fn(&mut Vec<u8>, &E),
) {
    out.extend_from_slice(b"{\"operations\":");
    match entry {
        Some(entry) => write_entry(out, entry),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
}

/// `instance-operations.json` success: the instance's operations, `null` when none.
pub fn write_instance_operations_response(out: &mut Vec<u8>, entry: Option<&Entry<InstanceKey>>) {
    write_operations_response(out, entry, write_instance_entry);
}

/// `server-operations.json` success.
pub fn write_server_operations_response(out: &mut Vec<u8>, entry: Option<&Entry<ServerKey>>) {
    write_operations_response(out, entry, write_server_entry);
}

/// `zone/get-zone-operations.json` success.
pub fn write_zone_operations_response(out: &mut Vec<u8>, entry: Option<&Entry<ZoneKey>>) {
    write_operations_response(out, entry, write_zone_entry);
}

/// `[entry,..]`.
fn write_entries<'a, E: 'a>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = &'a E>,
    write_entry: fn(&mut Vec<u8>, &E),
) {
    out.push(b'[');
    for (n, entry) in entries.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_entry(out, entry);
    }
    out.push(b']');
}

/// `all-instance-operations.json`: `{"allInstanceOperations":[..],"responseStatus"}`.
pub fn write_all_instance_operations_response<'a>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = &'a Entry<InstanceKey>>,
) {
    out.extend_from_slice(b"{\"allInstanceOperations\":");
    write_entries(out, entries, write_instance_entry);
    write_success_tail(out);
}

/// `all-server-operations.json`: `{"allServerOperations":[..],"responseStatus"}`.
pub fn write_all_server_operations_response<'a>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = &'a Entry<ServerKey>>,
) {
    out.extend_from_slice(b"{\"allServerOperations\":");
    write_entries(out, entries, write_server_entry);
    write_success_tail(out);
}

/// `zone/get-all-zone-operations.json`: `{"allZoneOperations":[..],"responseStatus"}`.
pub fn write_all_zone_operations_response<'a>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = &'a Entry<ZoneKey>>,
) {
    out.extend_from_slice(b"{\"allZoneOperations\":");
    write_entries(out, entries, write_zone_entry);
    write_success_tail(out);
}

/// `zone/get-zone-operations-list.json`: `{"responseStatus","zoneOperationsList":[..]}`.
pub fn write_zone_operations_list_response<'a>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = &'a Entry<ZoneKey>>,
) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"zoneOperationsList\":");
    write_entries(out, entries, write_zone_entry);
    out.push(b'}');
}

/// `,"responseStatus":SUCCESS}` closing a response whose other properties sort first.
fn write_success_tail(out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
}

/// instance-down, server-down, zone/is-zone-down success: `{"down":..,"responseStatus"}`.
pub fn write_down_response(out: &mut Vec<u8>, down: bool) {
    out.extend_from_slice(b"{\"down\":");
    write_bool(out, down);
    write_success_tail(out);
}

/// One log row with its table's properties (`InstanceOperationLog`, `ServerOperationLog`,
/// `ZoneOperationLog`), alphabetical. Times are epoch milliseconds: Java's mapper keeps
/// Jackson's default `WRITE_DATES_AS_TIMESTAMPS` (`CustomObjectMapper`).
pub fn write_log_row(out: &mut Vec<u8>, kind: LogKind, row: &LogRow) {
    out.extend_from_slice(b"{\"complete\":");
    write_bool(out, row.complete);
    out.extend_from_slice(b",\"createTime\":");
    write_i64(out, row.create_time_ms);
    if kind != LogKind::Zone {
        out.extend_from_slice(b",\"extensions\":");
        write_str(out, &row.extensions);
    }
    out.extend_from_slice(b",\"id\":");
    write_i64(out, row.id);
    if kind == LogKind::Instance {
        out.extend_from_slice(b",\"instanceId\":");
        write_str(out, &row.instance_id);
    }
    out.extend_from_slice(b",\"operation\":");
    write_str(out, &row.operation);
    out.extend_from_slice(b",\"operatorId\":");
    write_str(out, &row.operator_id);
    out.extend_from_slice(b",\"regionId\":");
    write_str(out, &row.region_id);
    if kind == LogKind::Server {
        out.extend_from_slice(b",\"serverId\":");
        write_str(out, &row.server_id);
    } else {
        out.extend_from_slice(b",\"serviceId\":");
        write_str(out, &row.service_id);
    }
    out.extend_from_slice(b",\"token\":");
    write_str(out, &row.token);
    out.extend_from_slice(b",\"updateTime\":");
    write_i64(out, row.update_time_ms);
    if kind == LogKind::Zone {
        out.extend_from_slice(b",\"zoneId\":");
        write_str(out, &row.zone_id);
    }
    out.push(b'}');
}

/// `log/{instance,server,zone}-operation-logs.json` success: `{"logs":[..],"responseStatus"}`.
pub fn write_logs_response<'a>(
    out: &mut Vec<u8>,
    kind: LogKind,
    rows: impl IntoIterator<Item = &'a LogRow>,
) {
    out.extend_from_slice(b"{\"logs\":[");
    for (n, row) in rows.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_log_row(out, kind, row);
    }
    out.push(b']');
    write_success_tail(out);
}

/// One instance of the management views (`ManagementRepository.setServiceInstances`): the
/// instance as discovery serves it, with `status` overwritten `"down"`/`"up"` and `metadata`
/// (created when null) given the lease's `creationTime`, `renewalTime` and `ttl` as decimal
/// strings of milliseconds. Existing keys keep their place and other entries are kept; Java's
/// clone is a `HashMap`, whose order JSON readers do not rely on. `out` is left untouched when
/// `served_instance_json` is not an instance.
pub fn write_management_instance(
    out: &mut Vec<u8>,
    served_instance_json: &[u8],
    down: bool,
    creation_ms: i64,
    renewal_ms: i64,
    ttl_ms: u64,
) -> Result<(), JsonError> {
    let mut instance: Instance = parse(served_instance_json)?;
    instance.status = Some(Cow::Borrowed(if down { "down" } else { "up" }));
    let metadata = instance.metadata.get_or_insert_with(Default::default);
    for (key, value) in [
        ("creationTime", creation_ms.to_string()),
        ("renewalTime", renewal_ms.to_string()),
        ("ttl", ttl_ms.to_string()),
    ] {
        metadata.insert(Cow::Borrowed(key), Some(Cow::Owned(value)));
    }
    write_instance(out, &instance);
    Ok(())
}

/// One Service of the management views (`ManagementRepository.getService(s)`). `instances` is
/// the `[..]` list of [`write_management_instance`] objects, or `None` for a service nobody
/// registered (Java's `new Service(serviceId)` leaves `instances` null). `groups` is the
/// service's group data, `None` when it has none (`[]` for both lists). Java runs only the
/// group filter here: `logicInstances` lists every logical instance, pulled out or not, and
/// `routeRules` the served rules with the canary groups resolved against `registered` — the
/// management instances themselves (status and lease times included), as Java resolves them
/// after overwriting the instances.
pub fn write_management_service(
    out: &mut Vec<u8>,
    service_id: &str,
    instances: Option<&[u8]>,
    groups: Option<&ServiceView>,
    registered: &[RegisteredInstance<'_>],
) {
    let mut fields = Vec::with_capacity(instances.map_or(0, <[u8]>::len) + 96);
    write_service_fields(
        &mut fields,
        |out| out.extend_from_slice(instances.unwrap_or(b"null")),
        |out| match groups {
            Some(view) => view.write_logic_instances(out, |_| true),
            None => out.extend_from_slice(b"[]"),
        },
        |out| match groups {
            Some(view) => view.write_route_rules(out, registered),
            None => out.extend_from_slice(b"[]"),
        },
    );
    write_service(out, Some(service_id), ServiceLists::Served(&fields));
}

/// Management `services.json`: `{"responseStatus","services":[..],"version"}` where `version`
/// is the clock in milliseconds (`ManagementServiceImpl.getServicesImpl`), not a data version.
/// `fragments` are comma-separated [`write_management_service`] objects, one fragment per shard.
pub fn write_management_services_response<'a>(
    out: &mut Vec<u8>,
    fragments: impl Iterator<Item = &'a [u8]>,
    now_ms: u64,
) {
    write_services_response(out, fragments, now_ms);
}

/// Management `service.json` success: `{"groups":[..],"responseStatus","service":{..}}`,
/// `service` written by [`write_management_service`], `groups` every live group of
/// `service_id` ([`write_service_groups`]).
pub fn write_management_service_response(
    out: &mut Vec<u8>,
    service: &[u8],
    groups: &GroupData,
    service_id: &str,
) {
    out.extend_from_slice(b"{\"groups\":");
    write_service_groups(out, groups, service_id);
    out.extend_from_slice(b",\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"service\":");
    out.extend_from_slice(service);
    out.push(b'}');
}

#[cfg(test)]
mod tests;
