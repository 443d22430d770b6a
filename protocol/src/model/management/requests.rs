//! Request bodies of the traffic-control endpoints (spec §10.1, §10.2, §10.5, §10.6), read like
//! Java's Jackson reads them: keys case-insensitive, scalars coerced, unknown keys ignored,
//! missing keys at their Java default. Field names and types follow the Java request classes
//! named on each struct; [`super::validate`] turns them into the shared management types.

use super::lenient_bool::{LenientBool, LenientOptBool};
use super::validate::java_trim;
use crate::model::de::{lenient_object, LenientStr, LenientStrList, Nullable};
use crate::model::{Instance, RegionZoneRequest, Str};

/// `InstanceKey` as sent; fields stay as the client wrote them (validation trims).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireInstanceKey<'a> {
    pub region_id: Str<'a>,
    pub service_id: Str<'a>,
    pub instance_id: Str<'a>,
}

/// `ServerKey` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireServerKey<'a> {
    pub region_id: Str<'a>,
    pub server_id: Str<'a>,
}

/// `management/zone/ZoneKey` as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireZoneKey<'a> {
    pub region_id: Str<'a>,
    pub service_id: Str<'a>,
    pub zone_id: Str<'a>,
}

/// `ZoneOperations`: one zone and the operations to record or end on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireZoneOperations<'a> {
    pub zone_key: Option<WireZoneKey<'a>>,
    pub operations: Option<Vec<Str<'a>>>,
}

/// `operate-instance.json` (`OperateInstanceRequest`; no `reason`/`extensions` in Java).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperateInstanceRequest<'a> {
    pub instance_key: Option<WireInstanceKey<'a>>,
    pub operation: Str<'a>,
    pub operation_complete: bool,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
}

/// `operate-server.json` (`OperateServerRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperateServerRequest<'a> {
    pub server_key: Option<WireServerKey<'a>>,
    pub operation: Str<'a>,
    pub operation_complete: bool,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
}

/// `zone/operate-zone-operations.json` (`OperateZoneOperationsRequest extends OperationContext`).
/// The context's own `operation` is read but unused, as in Java: each zone names its operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperateZoneOperationsRequest<'a> {
    pub zone_operations_list: Option<Vec<Option<WireZoneOperations<'a>>>>,
    pub operation_complete: bool,
    pub operator_id: Str<'a>,
    pub token: Str<'a>,
    pub operation: Str<'a>,
    pub reason: Str<'a>,
    /// `None` when absent or null; Java defaults an absent value to `"{}"`.
    pub extensions: Str<'a>,
}

/// `instance-operations.json` (`GetInstanceOperationsRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetInstanceOperationsRequest<'a> {
    pub instance_key: Option<WireInstanceKey<'a>>,
}

/// `server-operations.json` and `server-down.json` (`GetServerOperationsRequest`,
/// `IsServerDownRequest`: both only `serverKey`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerKeyRequest<'a> {
    pub server_key: Option<WireServerKey<'a>>,
}

/// `all-instance-operations.json`, `all-server-operations.json` and
/// `zone/get-all-zone-operations.json`: `{"regionId"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionRequest<'a> {
    pub region_id: Str<'a>,
}

/// `instance-down.json` (`IsInstanceDownRequest`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IsInstanceDownRequest<'a> {
    pub instance: Option<Instance<'a>>,
}

/// Management `services.json` (`management.GetServicesRequest`: `{regionId, zoneId}`, which
/// Java reads and ignores).
pub type ManagementServicesRequest<'a> = RegionZoneRequest<'a>;

/// Management `service.json` (`management.GetServiceRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagementServiceRequest<'a> {
    pub service_id: Str<'a>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
}

/// `zone/get-zone-operations.json` and `zone/is-zone-down.json` (`GetZoneOperationsRequest`,
/// `IsZoneDownRequest`: both only `zoneKey`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneKeyRequest<'a> {
    pub zone_key: Option<WireZoneKey<'a>>,
}

/// `zone/get-zone-operations-list.json` (`GetZoneOperationsListRequest`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetZoneOperationsListRequest<'a> {
    pub region_id: Str<'a>,
    pub service_id: Str<'a>,
    pub zone_id: Str<'a>,
}

/// The three operation-log filters (`GetInstanceOperationLogsRequest`,
/// `GetServerOperationLogsRequest`, `GetZoneOperationLogsRequest`) in one body type: each
/// endpoint reads only its own fields (see [`super::validate::log_filter`]), as Jackson ignores
/// the properties its class lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationLogsRequest<'a> {
    pub region_id: Str<'a>,
    pub service_id: Str<'a>,
    pub instance_id: Str<'a>,
    pub server_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub operation: Str<'a>,
    pub operator_id: Str<'a>,
    pub complete: Option<bool>,
}

/// The token trimmed as Java trims operate-* values ([`java_trim`]); a blank token is absent,
/// since no configured token is blank.
fn trimmed_token<'s>(token: &'s Str<'_>) -> Option<&'s str> {
    token.as_deref().map(java_trim).filter(|t| !t.is_empty())
}

impl OperateInstanceRequest<'_> {
    /// The body's `token`, trimmed, for the API's permission check; it never reaches the store.
    pub fn token(&self) -> Option<&str> {
        trimmed_token(&self.token)
    }
}

impl OperateServerRequest<'_> {
    /// The body's `token`, trimmed, for the API's permission check; it never reaches the store.
    pub fn token(&self) -> Option<&str> {
        trimmed_token(&self.token)
    }
}

impl OperateZoneOperationsRequest<'_> {
    /// The body's `token`, trimmed, for the API's permission check; it never reaches the store.
    pub fn token(&self) -> Option<&str> {
        trimmed_token(&self.token)
    }
}

/// A list of nullable objects (`List<ZoneOperations>`).
type NullableList<T> = Nullable<Vec<Option<T>>>;

lenient_object! {
    WireInstanceKey<'de>, "an InstanceKey object", {
        "regionId" => region_id: LenientStr<'de>,
        "serviceId" => service_id: LenientStr<'de>,
        "instanceId" => instance_id: LenientStr<'de>,
    }
}

lenient_object! {
    WireServerKey<'de>, "a ServerKey object", {
        "regionId" => region_id: LenientStr<'de>,
        "serverId" => server_id: LenientStr<'de>,
    }
}

lenient_object! {
    WireZoneKey<'de>, "a ZoneKey object", {
        "regionId" => region_id: LenientStr<'de>,
        "serviceId" => service_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
    }
}

lenient_object! {
    WireZoneOperations<'de>, "a ZoneOperations object", {
        "zoneKey" => zone_key: Nullable<WireZoneKey<'de>>,
        "operations" => operations: LenientStrList<'de>,
    }
}

lenient_object! {
    OperateInstanceRequest<'de>, "an OperateInstanceRequest object", {
        "instanceKey" => instance_key: Nullable<WireInstanceKey<'de>>,
        "operation" => operation: LenientStr<'de>,
        "operationComplete" => operation_complete: LenientBool,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
    }
}

lenient_object! {
    OperateServerRequest<'de>, "an OperateServerRequest object", {
        "serverKey" => server_key: Nullable<WireServerKey<'de>>,
        "operation" => operation: LenientStr<'de>,
        "operationComplete" => operation_complete: LenientBool,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
    }
}

lenient_object! {
    OperateZoneOperationsRequest<'de>, "an OperateZoneOperationsRequest object", {
        "zoneOperationsList" => zone_operations_list: NullableList<WireZoneOperations<'de>>,
        "operationComplete" => operation_complete: LenientBool,
        "operatorId" => operator_id: LenientStr<'de>,
        "token" => token: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "reason" => reason: LenientStr<'de>,
        "extensions" => extensions: LenientStr<'de>,
    }
}

lenient_object! {
    GetInstanceOperationsRequest<'de>, "a GetInstanceOperationsRequest object", {
        "instanceKey" => instance_key: Nullable<WireInstanceKey<'de>>,
    }
}

lenient_object! {
    ServerKeyRequest<'de>, "an object with serverKey", {
        "serverKey" => server_key: Nullable<WireServerKey<'de>>,
    }
}

lenient_object! {
    RegionRequest<'de>, "an object with regionId", {
        "regionId" => region_id: LenientStr<'de>,
    }
}

lenient_object! {
    IsInstanceDownRequest<'de>, "an IsInstanceDownRequest object", {
        "instance" => instance: Nullable<Instance<'de>>,
    }
}

lenient_object! {
    ManagementServiceRequest<'de>, "a GetServiceRequest object", {
        "serviceId" => service_id: LenientStr<'de>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
    }
}

lenient_object! {
    ZoneKeyRequest<'de>, "an object with zoneKey", {
        "zoneKey" => zone_key: Nullable<WireZoneKey<'de>>,
    }
}

lenient_object! {
    GetZoneOperationsListRequest<'de>, "a GetZoneOperationsListRequest object", {
        "regionId" => region_id: LenientStr<'de>,
        "serviceId" => service_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
    }
}

lenient_object! {
    OperationLogsRequest<'de>, "an operation logs request object", {
        "regionId" => region_id: LenientStr<'de>,
        "serviceId" => service_id: LenientStr<'de>,
        "instanceId" => instance_id: LenientStr<'de>,
        "serverId" => server_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "operation" => operation: LenientStr<'de>,
        "operatorId" => operator_id: LenientStr<'de>,
        "complete" => complete: LenientOptBool,
    }
}

#[cfg(test)]
mod tests;
