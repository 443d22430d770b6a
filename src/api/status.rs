//! status/node.json and status/leases.json, legacy-leases.json (spec §8.2).

use protocol::http::{query_pairs, Method};
use protocol::model::{
    parse, parse_optional, write_bool, write_i64, write_node_status, write_response_status,
    write_str, GetLeasesRequest, Instance, ResponseStatus,
};
use shards::{SafeStatus, Shard};
use smallvec::SmallVec;

use super::{bad_json, too_many, Input};
use crate::clock::{write_local_time, Clock};
use crate::server::core::{Call, Core};
use crate::server::ops::{LeasesPart, ShardOp, ShardReply};

pub fn node(core: &Core, out: &mut Vec<u8>) -> u16 {
    let config = &core.node.config;
    out.extend_from_slice(b"{\"nodeStatus\":");
    write_node_status(
        out,
        &super::cluster::node_info(core),
        "up",
        true,
        true,
        config.registry.allow_from_other_zone,
        config.discovery.allow_from_other_zone,
    );
    out.extend_from_slice(b",\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
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
    let filter = (!filter.is_empty()).then_some(filter);
    let shards = core.node.router.shards();
    let mut calls: SmallVec<[Call; 8]> = SmallVec::new();
    for shard in (0..shards).filter(|&s| s != core.id).chain([core.id]) {
        let op = ShardOp::Leases {
            legacy,
            filter: filter.clone(),
        };
        calls.push(core.start(shard, op).await);
    }
    let mut lease_count = 0usize;
    let mut safe: Option<SafeStatus> = None;
    let mut leases: Vec<u8> = Vec::new();
    for call in calls {
        if let ShardReply::Leases(part) = call.reply().await {
            lease_count += part.lease_count;
            // The local shard answers last; its view of the node-wide verdict is reported.
            safe = Some(part.safe);
            if !part.json.is_empty() {
                if !leases.is_empty() {
                    leases.push(b',');
                }
                leases.extend_from_slice(&part.json);
            }
        }
    }
    let safe = safe.unwrap_or(SafeStatus {
        enabled: true,
        safe: true,
        max_count: 0,
        max_count_updated_ms: 0,
        window_count: 0,
    });
    let clock = &core.node.clock;
    out.extend_from_slice(b"{\"isSafe\":");
    write_bool(out, safe.safe);
    out.extend_from_slice(b",\"isSafeCheckEnabled\":");
    write_bool(out, safe.enabled);
    out.extend_from_slice(b",\"leaseCount\":");
    write_i64(out, lease_count as i64);
    out.extend_from_slice(b",\"leaseUpdateCountLastTimeWindow\":");
    write_i64(out, safe.window_count as i64);
    out.extend_from_slice(b",\"leaseUpdateMaxCount\":");
    write_i64(out, safe.max_count as i64);
    out.extend_from_slice(b",\"leaseUpdateMaxCountLastUpdateTime\":");
    write_i64(out, clock.wall_ms(safe.max_count_updated_ms));
    out.extend_from_slice(b",\"leases\":{");
    out.extend_from_slice(&leases);
    out.extend_from_slice(b"},\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
    200
}

/// One shard's part of a leases answer: `"serviceId":[LeaseStatus,...]` entries. Runs on the
/// shard's core (status pages are rare; this is not a hot path).
///
/// At most `max_listed` leases are listed (a status page must not stall the shard's core for
/// seconds on a huge registry); `leaseCount` still counts them all.
pub fn leases_part(
    shard: &Shard,
    legacy: bool,
    filter: Option<Vec<Box<str>>>,
    max_listed: usize,
    clock: &Clock,
) -> LeasesPart {
    let filter_refs: Option<Vec<&str>> = filter
        .as_ref()
        .map(|f| f.iter().map(|s| s.as_ref()).collect());
    let mut json = Vec::new();
    let mut current: Option<String> = None;
    let mut key = String::new();
    let mut listed = 0usize;
    shard.for_each_lease(legacy, filter_refs.as_deref(), |lease| {
        if listed == max_listed {
            return false;
        }
        listed += 1;
        if current.as_deref() != Some(lease.service_id) {
            if current.is_some() {
                json.extend_from_slice(b"],");
            }
            write_str(&mut json, lease.service_id);
            json.extend_from_slice(b":[");
            current = Some(lease.service_id.to_string());
        } else {
            json.push(b',');
        }
        key.clear();
        match parse::<Instance>(lease.instance_json) {
            Ok(instance) => instance.display_key(&mut key),
            Err(_) => key.push_str(lease.service_id),
        }
        json.extend_from_slice(b"{\"creationTime\":\"");
        write_local_time(&mut json, clock.wall_ms(lease.created_ms));
        json.extend_from_slice(b"\",\"evitionTime\":\"");
        write_local_time(&mut json, 0);
        json.extend_from_slice(b"\",\"instance\":");
        write_str(&mut json, &key);
        json.extend_from_slice(b",\"renewalTime\":\"");
        write_local_time(&mut json, clock.wall_ms(lease.renewed_ms));
        json.extend_from_slice(b"\",\"ttl\":");
        write_i64(&mut json, lease.ttl_ms as i64);
        json.push(b'}');
        true
    });
    if current.is_some() {
        json.push(b']');
    }
    LeasesPart {
        json,
        lease_count: shard.lease_count(legacy),
        safe: shard.safe_status(legacy),
    }
}
