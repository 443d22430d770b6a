//! The management API. Traffic control (spec §10.1, §10.2, §10.5, §10.6): pull-outs of
//! instances, servers and zones, their views, and their operation logs; and, in [`groups`],
//! groups, route rules, canary IPs and their logs (§10.4, §10.6, §10.7).
//!
//! Writes go to the persistence thread (never blocking the core), are answered only once their
//! transaction committed and every shard applies the new pull-out snapshot (so the next lookup
//! on any connection sees them), and need a token when `management.tokens` is set. Reads of the
//! pull-out state come from this core's shard, which holds the same snapshot as every other
//! once a write was answered; log reads go to the store.

mod auth;
mod commit;
mod groups;
mod logs;
mod reads;
mod views;
mod writes;

use protocol::model::management::groups::validate::GroupEndpoint;
use protocol::model::management::groups::GroupLogKind;
use protocol::model::management::responses::{write_status_response, ResponseKind};
use protocol::model::{parse_optional, ResponseStatus};
use serde::Deserialize;

use super::{bad_json, Input};
use crate::server::core::Core;

/// The management endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manage {
    OperateInstance,
    OperateServer,
    InstanceOperations,
    ServerOperations,
    AllInstanceOperations,
    AllServerOperations,
    InstanceDown,
    ServerDown,
    Services,
    Service,
    OperateZones,
    AllZoneOperations,
    ZoneOperations,
    ZoneOperationsList,
    IsZoneDown,
    InstanceLogs,
    ServerLogs,
    ZoneLogs,
    /// A `group/*.json` endpoint or `canary/update-canary-ips.json`.
    Group(GroupEndpoint),
    /// One of the six group log endpoints.
    GroupLogs(GroupLogKind),
}

/// Every management route: traffic control's, then the groups'. One table, because a route's
/// position in it is its metrics id (`super::find_route`).
pub const ROUTES: [(&str, Manage); TRAFFIC_ROUTES.len() + groups::ROUTES.len()] = {
    let mut all = [TRAFFIC_ROUTES[0]; TRAFFIC_ROUTES.len() + groups::ROUTES.len()];
    let mut i = 0;
    while i < TRAFFIC_ROUTES.len() {
        all[i] = TRAFFIC_ROUTES[i];
        i += 1;
    }
    let mut j = 0;
    while j < groups::ROUTES.len() {
        all[i + j] = groups::ROUTES[j];
        j += 1;
    }
    all
};

const TRAFFIC_ROUTES: &[(&str, Manage)] = &[
    (
        "/api/management/operate-instance.json",
        Manage::OperateInstance,
    ),
    ("/api/management/operate-server.json", Manage::OperateServer),
    (
        "/api/management/instance-operations.json",
        Manage::InstanceOperations,
    ),
    (
        "/api/management/server-operations.json",
        Manage::ServerOperations,
    ),
    (
        "/api/management/all-instance-operations.json",
        Manage::AllInstanceOperations,
    ),
    (
        "/api/management/all-server-operations.json",
        Manage::AllServerOperations,
    ),
    ("/api/management/instance-down.json", Manage::InstanceDown),
    ("/api/management/server-down.json", Manage::ServerDown),
    ("/api/management/services.json", Manage::Services),
    ("/api/management/service.json", Manage::Service),
    (
        "/api/management/zone/operate-zone-operations.json",
        Manage::OperateZones,
    ),
    (
        "/api/management/zone/get-all-zone-operations.json",
        Manage::AllZoneOperations,
    ),
    (
        "/api/management/zone/get-zone-operations.json",
        Manage::ZoneOperations,
    ),
    (
        "/api/management/zone/get-zone-operations-list.json",
        Manage::ZoneOperationsList,
    ),
    ("/api/management/zone/is-zone-down.json", Manage::IsZoneDown),
    (
        "/api/management/log/instance-operation-logs.json",
        Manage::InstanceLogs,
    ),
    (
        "/api/management/log/server-operation-logs.json",
        Manage::ServerLogs,
    ),
    (
        "/api/management/log/zone-operation-logs.json",
        Manage::ZoneLogs,
    ),
];

impl Manage {
    /// Java mapped GET (query parameters) on these only.
    pub fn allows_get(self) -> bool {
        matches!(
            self,
            Manage::AllInstanceOperations | Manage::AllServerOperations | Manage::Services
        )
    }
}

pub async fn handle(core: &Core, endpoint: Manage, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    match endpoint {
        Manage::OperateInstance => writes::operate_instance(core, input, out).await,
        Manage::OperateServer => writes::operate_server(core, input, out).await,
        Manage::OperateZones => writes::operate_zones(core, input, out).await,
        Manage::InstanceOperations => reads::instance_operations(core, input, out),
        Manage::ServerOperations => reads::server_operations(core, input, out),
        Manage::AllInstanceOperations => reads::all_instance_operations(core, input, out),
        Manage::AllServerOperations => reads::all_server_operations(core, input, out),
        Manage::InstanceDown => reads::instance_down(core, input, out),
        Manage::ServerDown => reads::server_down(core, input, out),
        Manage::AllZoneOperations => reads::all_zone_operations(core, input, out),
        Manage::ZoneOperations => reads::zone_operations(core, input, out),
        Manage::ZoneOperationsList => reads::zone_operations_list(core, input, out),
        Manage::IsZoneDown => reads::is_zone_down(core, input, out),
        Manage::Services => views::services(core, out).await,
        Manage::Service => views::service(core, input, out).await,
        Manage::InstanceLogs => logs::query(core, logs_kind(endpoint), input, out).await,
        Manage::ServerLogs => logs::query(core, logs_kind(endpoint), input, out).await,
        Manage::ZoneLogs => logs::query(core, logs_kind(endpoint), input, out).await,
        Manage::Group(endpoint) => groups::handle(core, endpoint, input, out).await,
        Manage::GroupLogs(kind) => groups::group_logs(core, kind, input, out).await,
    }
}

fn logs_kind(endpoint: Manage) -> protocol::model::management::LogKind {
    use protocol::model::management::LogKind;
    match endpoint {
        Manage::ServerLogs => LogKind::Server,
        Manage::ZoneLogs => LogKind::Zone,
        _ => LogKind::Instance,
    }
}

/// A body as its request type (`None` when empty or `null`), or the 400 already written.
fn body<'a, T: Deserialize<'a>>(input: &Input<'a>, out: &mut Vec<u8>) -> Result<Option<T>, u16> {
    parse_optional::<T>(input.body).map_err(|e| bad_json(out, e))
}

/// A refused request: HTTP 200 with the response class's shape and Java's `responseStatus`.
fn refuse(out: &mut Vec<u8>, kind: ResponseKind, refusal: &ResponseStatus<'_>) -> u16 {
    out.clear();
    write_status_response(out, kind, refusal);
    200
}
