//! lookup.json / service.json / services.json (spec §6).

use std::borrow::Cow;
use std::sync::Arc;

use protocol::http::{query_pairs, Method};
use protocol::model::{
    error_codes, fail, is_null_or_whitespace, parse_optional, write_i64, write_response_status,
    GetServiceRequest, GetServicesDeltaRequest, LookupRequest, RegionZoneRequest, ResponseStatus,
};
use shards::{write_service, ServiceLists};
use smallvec::SmallVec;

use super::{bad_json, same_id, too_many, Input};
use crate::server::core::{Call, Core};
use crate::server::ops::{ShardOp, ShardReply};

/// May this node answer discovery for a client of that region and zone (Java's checks)?
fn region_zone_allowed(
    core: &Core,
    region: Option<&str>,
    zone: Option<&str>,
) -> Result<(), String> {
    let config = &core.node.config;
    if !same_id(region, &config.region_id) {
        return Err(format!(
            "regionId is not the same as the discovery node. regionId: {}, discovery node.regionId: {}",
            region.unwrap_or("null"),
            config.region_id
        ));
    }
    if !config.discovery.allow_from_other_zone && !same_id(zone, &config.zone_id) {
        return Err(format!(
            "zoneId is not the same as the discovery node. zoneId: {}, discovery node.zoneId: {}",
            zone.unwrap_or("null"),
            config.zone_id
        ));
    }
    Ok(())
}

/// Instances JSON of each requested service id (None where the id is not looked up or unknown),
/// fetched from the owning shards in parallel.
async fn fetch_instances(core: &Core, ids: &[Option<&str>]) -> Vec<Option<Arc<[u8]>>> {
    let mut found: Vec<Option<Arc<[u8]>>> = vec![None; ids.len()];
    let split = core.node.router.split(ids.iter().copied());
    let mut groups: SmallVec<[_; 4]> = split.groups.into_iter().collect();
    groups.sort_by_key(|(shard, _)| *shard == core.id);
    let mut calls: SmallVec<[(SmallVec<[u32; 8]>, Call); 4]> = SmallVec::new();
    for (shard, positions) in groups {
        let wanted = positions
            .iter()
            .map(|&p| ids[p as usize].unwrap_or_default().into())
            .collect();
        let call = core.start(shard, ShardOp::Lookup(wanted)).await;
        calls.push((positions, call));
    }
    for (positions, call) in calls {
        if let ShardReply::Lookup(results) = call.reply().await {
            for (&p, json) in positions.iter().zip(results) {
                found[p as usize] = json;
            }
        }
    }
    found
}

/// `lookup.json`: one Service per requested config, in request order. Per-config failures are
/// swallowed into a Service with null lists and the overall status stays success (spec §6.1).
pub async fn lookup(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request: Option<LookupRequest> = match parse_optional(input.body) {
        Ok(r) => r,
        Err(e) => return bad_json(out, e),
    };
    let Some(configs) = request.as_ref().and_then(|r| r.discovery_configs.as_ref()) else {
        out.extend_from_slice(b"{\"responseStatus\":");
        write_response_status(
            out,
            &fail(error_codes::BAD_REQUEST, "request.discoveryConfigs is null"),
        );
        out.extend_from_slice(b",\"services\":null}");
        return 200;
    };
    let request = request.as_ref().expect("configs came from the request");
    let limit = core.node.config.limits.max_services_per_request;
    if configs.len() > limit {
        return too_many(out, "request.discoveryConfigs", configs.len(), limit);
    }
    let allowed = region_zone_allowed(
        core,
        request.region_id.as_deref(),
        request.zone_id.as_deref(),
    )
    .is_ok();
    let ids: Vec<Option<&str>> = configs
        .iter()
        .map(|c| c.as_ref().and_then(|c| c.service_id.as_deref()))
        .collect();
    let valid: Vec<Option<&str>> = ids
        .iter()
        .map(|id| id.filter(|id| allowed && !is_null_or_whitespace(Some(id))))
        .collect();
    let found = fetch_instances(core, &valid).await;

    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"services\":[");
    for (n, ((id, valid), json)) in ids.iter().zip(&valid).zip(&found).enumerate() {
        if n > 0 {
            out.push(b',');
        }
        let lists = match (valid, json) {
            (None, _) => ServiceLists::Null,
            (Some(_), Some(json)) => ServiceLists::Instances(json),
            (Some(_), None) => ServiceLists::Empty,
        };
        write_service(out, *id, lists);
    }
    out.extend_from_slice(b"]}");
    200
}

/// `service.json`: one service; failures are reported, not swallowed (spec §6.2).
pub async fn service(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let (service_id, region, zone) = if input.method == Method::Get {
        let mut service_id = None;
        let mut region = None;
        let mut zone = None;
        for (key, value) in query_pairs(input.query) {
            match key.as_ref() {
                "serviceId" => service_id = Some(value),
                "regionId" => region = Some(value),
                "zoneId" => zone = Some(value),
                _ => {}
            }
        }
        (service_id, region, zone)
    } else {
        let request: Option<GetServiceRequest> = match parse_optional(input.body) {
            Ok(r) => r,
            Err(e) => return bad_json(out, e),
        };
        match request {
            Some(r) => (
                r.discovery_config.and_then(|c| c.service_id),
                r.region_id,
                r.zone_id,
            ),
            None => (None, None, None),
        }
    };
    let service_id: Option<Cow<str>> =
        service_id.filter(|s| !is_null_or_whitespace(Some(s.as_ref())));
    let Some(service_id) = service_id else {
        write_service_response(
            out,
            &fail(
                error_codes::BAD_REQUEST,
                "Request is null or request.discoveryConfig is null.",
            ),
            None,
        );
        return 200;
    };
    if let Err(message) = region_zone_allowed(core, region.as_deref(), zone.as_deref()) {
        write_service_response(out, &fail(error_codes::NO_PERMISSION, &message), None);
        return 200;
    }
    let shard = core.node.router.shard_of(&service_id);
    let reply = core
        .call(shard, ShardOp::Lookup(vec![service_id.as_ref().into()]))
        .await;
    let json = match reply {
        ShardReply::Lookup(mut results) => results.pop().flatten(),
        _ => None,
    };
    // Java runs its filters on a null service and answers a Service with null lists.
    let lists = match &json {
        Some(json) => ServiceLists::Instances(json),
        None => ServiceLists::Null,
    };
    write_service_response(out, &ResponseStatus::SUCCESS, Some((&service_id, lists)));
    200
}

fn write_service_response(
    out: &mut Vec<u8>,
    status: &ResponseStatus,
    service: Option<(&str, ServiceLists)>,
) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, status);
    out.extend_from_slice(b",\"service\":");
    match service {
        Some((id, lists)) => write_service(out, Some(id), lists),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// `services.json`: every service with instances, and the data version (spec §6.3). Region and
/// zone are ignored, as in Java.
pub async fn services(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    if input.method == Method::Post {
        if let Err(e) = parse_optional::<RegionZoneRequest>(input.body) {
            return bad_json(out, e);
        }
    }
    let shards = core.node.router.shards();
    let mut calls: SmallVec<[Call; 8]> = SmallVec::new();
    for shard in (0..shards).filter(|&s| s != core.id).chain([core.id]) {
        calls.push(core.start(shard, ShardOp::Services).await);
    }
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"services\":[");
    // The node version seen by the earliest-answering shard: every change after it is in the
    // change log, so a delta from it is exact (replaying a change already included is harmless).
    let mut version = u64::MAX;
    let mut first = true;
    for call in calls {
        if let ShardReply::Services(json, shard_version) = call.reply().await {
            version = version.min(shard_version);
            if json.is_empty() {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&json);
        }
    }
    if version == u64::MAX {
        version = core.node.shared.current_version();
    }
    out.extend_from_slice(b"],\"version\":");
    write_i64(out, version as i64);
    out.push(b'}');
    200
}

/// `services-delta.json`: the `new`/`delete` changes since a version (spec §6.4), from the
/// shards' change logs. A version older than a log, or newer than the node's, answers
/// `data-not-found` so the client fetches `services.json` again.
pub async fn services_delta(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request: Option<GetServicesDeltaRequest> = match parse_optional(input.body) {
        Ok(r) => r,
        Err(e) => return bad_json(out, e),
    };
    let since = request.map_or(0, |r| r.version);
    let not_found = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"{\"delta\":null,\"responseStatus\":");
        write_response_status(
            out,
            &fail(error_codes::DATA_NOT_FOUND, "Delta is not found."),
        );
        out.extend_from_slice(b",\"version\":0}");
        200
    };
    let Ok(since) = u64::try_from(since) else {
        return not_found(out);
    };
    if since > core.node.shared.current_version() {
        return not_found(out);
    }
    let shards = core.node.router.shards();
    let mut calls: SmallVec<[Call; 8]> = SmallVec::new();
    for shard in (0..shards).filter(|&s| s != core.id).chain([core.id]) {
        calls.push(core.start(shard, ShardOp::Delta(since)).await);
    }
    let mut delta: Vec<u8> = Vec::new();
    let mut version = u64::MAX;
    let mut complete = true;
    for call in calls {
        match call.reply().await {
            ShardReply::Delta(Ok(part), shard_version) => {
                version = version.min(shard_version);
                if !part.is_empty() {
                    if !delta.is_empty() {
                        delta.push(b',');
                    }
                    delta.extend_from_slice(&part);
                }
            }
            _ => complete = false,
        }
    }
    if !complete || version == u64::MAX {
        return not_found(out);
    }
    out.extend_from_slice(b"{\"delta\":{");
    out.extend_from_slice(&delta);
    out.extend_from_slice(b"},\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"version\":");
    write_i64(out, version as i64);
    out.push(b'}');
    200
}
