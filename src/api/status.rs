//! The status endpoints (spec §4, §8.2): node.json, cluster.json, config.json, deployment.json,
//! leases.json and legacy-leases.json, and message/connections.json.

mod machine;
mod properties;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use protocol::http::{query_pairs, Method};
use protocol::model::{
    parse_optional, write_cluster_status_response, write_config_status_response,
    write_connections_response, write_deployment_status_response, write_leases_response,
    write_node_status_response, ConfigReport, DeploymentStatus, GetLeasesRequest, LeasesSummary,
    NodeStatus,
};
use shards::ops::Leases;

use super::rate_limit::{refuse_over_limit, Shape};
use super::{bad_json, too_many, Input};
use crate::clock::local_time;
use crate::server::core::Core;
use crate::server::rate_limit::Identity;

/// The `appId` Java's deployment answer carried: the application this process is.
const APP_ID: &str = "artemis";

pub fn node(core: &Core, out: &mut Vec<u8>) -> u16 {
    write_node_status_response(out, &super::cluster::local_status(core));
    200
}

/// Every configured node: this one first, then the peers in configuration order.
pub fn cluster(core: &Core, out: &mut Vec<u8>) -> u16 {
    if let Some(status) = refuse_over_limit(core, Identity::GetCluster, Shape::ClusterStatus, out) {
        return status;
    }
    let nodes: Vec<NodeStatus> = std::iter::once(super::cluster::local_status(core))
        .chain(super::cluster::peer_statuses(core))
        .collect();
    let shared_store = !core.node.config.persistence.url.is_empty();
    let store_up = shared_store.then(|| core.node.store.store_up());
    write_cluster_status_response(out, &nodes, store_up);
    200
}

pub fn config(core: &Core, out: &mut Vec<u8>) -> u16 {
    if let Some(status) = refuse_over_limit(core, Identity::GetConfig, Shape::ConfigStatus, out) {
        return status;
    }
    let properties = properties::config_properties(&core.node.config);
    let sources = properties::config_sources(&core.node.config);
    let report = ConfigReport {
        properties: &properties,
        sources: &sources,
    };
    write_config_status_response(out, &report);
    200
}

pub fn deployment(core: &Core, out: &mut Vec<u8>) -> u16 {
    let identity = Identity::GetDeployment;
    if let Some(status) = refuse_over_limit(core, identity, Shape::DeploymentStatus, out) {
        return status;
    }
    let config = &core.node.config;
    let bound = core.node.local_addr;
    let machine_name = crate::config::host_name();
    let ip = machine::reachable_ip(bound.ip()).to_string();
    let properties = properties::deployment_properties(config);
    let sources = properties::config_sources(config);
    let path = if config.path_prefix.is_empty() {
        "/"
    } else {
        &config.path_prefix
    };
    let deployment = DeploymentStatus {
        region_id: &config.region_id,
        zone_id: &config.zone_id,
        app_id: APP_ID,
        machine_name: machine_name.as_deref(),
        ip: &ip,
        port: bound.port(),
        protocol: "http",
        path,
        config: ConfigReport {
            properties: &properties,
            sources: &sources,
        },
    };
    write_deployment_status_response(out, &deployment);
    200
}

/// WebSocket sessions open on the whole node, read from every core's counters.
pub fn connections(core: &Core, out: &mut Vec<u8>) -> u16 {
    let open = core.node.ws_sessions.totals();
    write_connections_response(out, open.registry, open.discovery);
    200
}

pub async fn leases(core: &Core, legacy: bool, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let filter: Vec<Box<str>> = if input.method == Method::Get {
        query_pairs(input.query)
            .filter(|(k, _)| k == "appIds" || k == "serviceIds")
            .map(|(_, v)| v.as_ref().into())
            .collect()
    } else {
        match parse_optional::<GetLeasesRequest>(input.body) {
            Ok(r) => r
                .and_then(|r| r.service_ids)
                .unwrap_or_default()
                .into_iter()
                .flatten()
                .map(|s| s.as_ref().into())
                .collect(),
            Err(e) => return bad_json(out, e),
        }
    };
    let identity = if legacy {
        Identity::GetLegacyLeases
    } else {
        Identity::GetLeases
    };
    if let Some(status) = refuse_over_limit(core, identity, Shape::LeasesStatus, out) {
        return status;
    }
    let limit = core.node.config.limits.max_services_per_request;
    if filter.len() > limit {
        return too_many(out, "serviceIds", filter.len(), limit);
    }
    let filter: Option<Arc<[Box<str>]>> = (!filter.is_empty()).then(|| filter.into());
    let max_listed = core.node.config.limits.max_listed_leases;
    let leases = || Leases {
        legacy,
        filter: filter.clone(),
        max_listed,
        local_time,
    };
    let parts = core
        .map_reduce(leases, Vec::new(), |mut parts, part| {
            parts.extend(part.ok());
            parts
        })
        .await;
    // The local shard answers last; its view of the node-wide verdict is reported.
    let safe = parts.last().expect("the local shard always answers").safe;
    let summary = LeasesSummary {
        is_safe: safe.safe,
        is_safe_check_enabled: safe.enabled,
        lease_count: parts.iter().map(|p| p.lease_count as u64).sum(),
        window_count: safe.window_count,
        max_count: safe.max_count,
        max_count_updated_ms: core.node.clock.wall_ms(safe.max_count_updated_ms),
    };
    write_leases_response(out, &summary, parts.iter().map(|p| &p.json[..]));
    200
}
