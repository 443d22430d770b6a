//! status/node.json and status/leases.json, legacy-leases.json (spec §8.2).

use std::sync::Arc;

use protocol::http::{query_pairs, Method};
use protocol::model::{
    parse_optional, write_leases_response, write_node_status_response, GetLeasesRequest,
    LeasesSummary, NodeStatus,
};
use shards::ops::Leases;

use super::{bad_json, too_many, Input};
use crate::clock::local_time;
use crate::server::core::Core;

pub fn node(core: &Core, out: &mut Vec<u8>) -> u16 {
    let config = &core.node.config;
    let status = NodeStatus {
        node: super::cluster::node_info(core),
        status: "up",
        can_discovery: true,
        can_registry: true,
        allow_registry_other_zone: config.registry.allow_from_other_zone,
        allow_discovery_other_zone: config.discovery.allow_from_other_zone,
    };
    write_node_status_response(out, &status);
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
