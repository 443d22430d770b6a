//! lookup.json / service.json / services.json / services-delta.json (spec §6). While this node
//! cannot serve discovery (§11.8) each answers as Java's `DiscoveryServiceImpl` did: lookup
//! swallows the refusal per config (a Service with null lists, overall success), the others
//! fail `service-unavailable` with Java's "not in up state" message.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};

use protocol::http::Method;
use protocol::model::{
    error_codes, fail, is_null_or_whitespace, parse_optional, write_delta_failure,
    write_delta_not_found, write_delta_response, write_lookup_failure, write_lookup_response_to,
    write_service_response, write_service_response_to, write_services_failure,
    write_services_response, GetServiceRequest, GetServicesDeltaRequest, LookupRequest,
    RegionZoneRequest, ServiceAnswer, ServiceLists,
};
use shards::ops::{Delta, Services, ServicesPart};
use shards::Served;
use smallvec::SmallVec;

use super::cluster::Role;
use super::{bad_json, not_up_message, query_fields, same_id, too_many, Input};
use crate::server::core::{Core, ServedViews};
use crate::server::shared_body::SharedBody;
use crate::server::signal::yield_now;

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

/// Java's refusal while this node cannot serve discovery: `service-unavailable` with the
/// node's status in the message; None while it can.
fn unavailable(core: &Core) -> Option<String> {
    (!core.node.cluster.can_serve_discovery()).then(|| not_up_message(core, Role::Discovery))
}

/// Service ids looked up before the core yields to its other tasks, so a lookup of thousands of
/// services does not hold the core.
const SERVICES_PER_SLICE: usize = 1000;

/// What discovery serves of each requested service id (`Unknown` where the id is not looked
/// up), from this core's shard and mirror (see [`Core::served_views`]), slice by slice.
async fn fetch_served(core: &Core, ids: &[Option<&str>]) -> ServedViews {
    if ids.len() <= SERVICES_PER_SLICE {
        return core.served_views(ids).await;
    }
    let mut found = ServedViews::with_capacity(ids.len());
    for (n, slice) in ids.chunks(SERVICES_PER_SLICE).enumerate() {
        if n > 0 {
            yield_now().await;
        }
        found.extend(core.served_views(slice).await);
    }
    found
}

/// `lookup.json`: one Service per requested config, in request order. Per-config failures are
/// swallowed into a Service with null lists and the overall status stays success (spec §6.1).
pub async fn lookup(
    core: &Core,
    input: &Input<'_>,
    out: &mut Vec<u8>,
    shared: &mut SharedBody,
) -> u16 {
    let request: Option<LookupRequest> = match parse_optional(input.body) {
        Ok(r) => r,
        Err(e) => return bad_json(out, e),
    };
    let Some(configs) = request.as_ref().and_then(|r| r.discovery_configs.as_ref()) else {
        let status = fail(error_codes::BAD_REQUEST, "request.discoveryConfigs is null");
        write_lookup_failure(out, &status);
        return 200;
    };
    let request = request.as_ref().expect("configs came from the request");
    let limit = core.node.config.limits.max_services_per_request;
    if configs.len() > limit {
        return too_many(out, "request.discoveryConfigs", configs.len(), limit);
    }
    // Java's lookup swallows a node that cannot serve like a wrong region: per config.
    let allowed = core.node.cluster.can_serve_discovery()
        && region_zone_allowed(
            core,
            request.region_id.as_deref(),
            request.zone_id.as_deref(),
        )
        .is_ok();
    // A lookup asks for a few services: these fit without an allocation.
    let ids: SmallVec<[Option<&str>; 4]> = configs
        .iter()
        .map(|c| c.as_ref().and_then(|c| c.service_id.as_deref()))
        .collect();
    let valid: SmallVec<[Option<&str>; 4]> = ids
        .iter()
        .map(|id| id.filter(|id| allowed && !is_null_or_whitespace(Some(id))))
        .collect();
    let found = fetch_served(core, &valid).await;

    // Java runs its filters on an unknown service as on `new Service(id)`: empty instances, and
    // whatever logical instances and route rules the group data has for it.
    // The served views go out by reference (a 100-instance view is tens of kilobytes).
    let services = ids
        .iter()
        .zip(&valid)
        .zip(&found)
        .map(|((id, valid), served)| {
            let answer = match (valid, served) {
                (None, _) => ServiceAnswer::Lists(ServiceLists::Null),
                (Some(_), Served::Registered(fields) | Served::GroupsOnly(fields)) => {
                    ServiceAnswer::Shared(fields)
                }
                (Some(_), Served::Unknown) => ServiceAnswer::Lists(ServiceLists::Empty),
            };
            (*id, answer)
        });
    write_lookup_response_to(shared, services);
    200
}

/// `service.json`: one service; failures are reported, not swallowed (spec §6.2).
pub async fn service(
    core: &Core,
    input: &Input<'_>,
    out: &mut Vec<u8>,
    shared: &mut SharedBody,
) -> u16 {
    let (service_id, region, zone) = if input.method == Method::Get {
        let [service_id, region, zone] =
            query_fields(input.query, ["serviceId", "regionId", "zoneId"]);
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
    if let Some(message) = unavailable(core) {
        let status = fail(error_codes::SERVICE_UNAVAILABLE, &message);
        write_service_response(out, &status, None);
        return 200;
    }
    if let Err(message) = region_zone_allowed(core, region.as_deref(), zone.as_deref()) {
        write_service_response(out, &fail(error_codes::NO_PERMISSION, &message), None);
        return 200;
    }
    let served = core.served_views(&[Some(&service_id)]).await.pop();
    // Java runs its filters on a null service and answers a Service with null lists, whatever
    // the group data has for it.
    let answer = match &served {
        Some(Served::Registered(fields)) => ServiceAnswer::Shared(fields),
        _ => ServiceAnswer::Lists(ServiceLists::Null),
    };
    write_service_response_to(shared, &service_id, answer);
    200
}

/// `services.json`: every service with instances, and the data version (spec §6.3). Region and
/// zone are ignored, as in Java. The body goes to `shared`: built once per data version and
/// written by every connection that asks for it, on any core (it can be megabytes, and slow
/// readers must not each hold a copy).
pub async fn services(
    core: &Core,
    input: &Input<'_>,
    out: &mut Vec<u8>,
    shared: &mut SharedBody,
) -> u16 {
    if input.method == Method::Post {
        if let Err(e) = parse_optional::<RegionZoneRequest>(input.body) {
            return bad_json(out, e);
        }
    }
    if let Some(message) = unavailable(core) {
        let status = fail(error_codes::SERVICE_UNAVAILABLE, &message);
        write_services_failure(out, &status);
        return 200;
    }
    let mut parts = core
        .map_reduce(
            || Services,
            Vec::new(),
            |mut parts, part| {
                parts.extend(part.ok());
                parts
            },
        )
        .await;
    // map_reduce answers the other shards in ascending order, then this core's: put this core's
    // part in its place, so that every core lists the parts in shard order and so builds the
    // same body from the same parts.
    if parts.len() == core.node.router.shards() {
        let local = parts.pop().expect("every shard answered");
        parts.insert(core.id, local);
    }
    // The node version seen by the earliest-answering shard: every change after it is in the
    // change log, so a delta from it is exact (replaying a change already included is harmless).
    let version = parts
        .iter()
        .map(|p| p.version)
        .min()
        .unwrap_or_else(|| core.node.shared.current_version());
    shared.shared(services_body(parts, version));
    200
}

/// The last `services.json` body built (by any core; a lock taken twice per request at most,
/// never while building).
static SERVICES_BODY: Mutex<Option<Arc<ServicesBody>>> = Mutex::new(None);

/// The `services.json` body of these parts and version: the cached one if it is theirs, else a
/// new one, which replaces it. Every request for one version gets the very same bytes, even
/// when cores build it at the same time (the write budget counts distinct bodies).
fn services_body(parts: Vec<ServicesPart>, version: u64) -> Arc<[u8]> {
    let cache = || SERVICES_BODY.lock().unwrap_or_else(PoisonError::into_inner);
    let parts: Vec<Arc<[u8]>> = parts.into_iter().map(|p| p.json).collect();
    let cached = cache().clone();
    if let Some(cached) = cached.filter(|c| c.is_of(&parts, version)) {
        return cached.body.clone();
    }
    let mut body = Vec::new();
    write_services_response(&mut body, parts.iter().map(|p| &p[..]), version);
    let built = Arc::new(ServicesBody {
        parts,
        version,
        body: body.into(),
    });
    let mut cache = cache();
    match cache.as_ref() {
        // Another core built the same body meanwhile: answer with its bytes, drop ours.
        Some(other) if other.is_of(&built.parts, version) => other.body.clone(),
        // A newer body is cached already: keep it.
        Some(newer) if newer.version > version => built.body.clone(),
        _ => {
            *cache = Some(built.clone());
            built.body.clone()
        }
    }
}

/// A `services.json` body and what it was built from. The shards' parts are shared bytes that a
/// shard replaces whenever its services change, so the same parts (the very same allocations,
/// held here so they cannot be reused) and version give the same body.
struct ServicesBody {
    parts: Vec<Arc<[u8]>>,
    version: u64,
    body: Arc<[u8]>,
}

impl ServicesBody {
    fn is_of(&self, parts: &[Arc<[u8]>], version: u64) -> bool {
        self.version == version
            && self.parts.len() == parts.len()
            && self
                .parts
                .iter()
                .zip(parts)
                .all(|(cached, part)| Arc::ptr_eq(cached, part))
    }
}

/// `services-delta.json`: the `new`/`delete` changes since a version (spec §6.4), from the
/// shards' change logs. A version older than a log, or newer than the node's, answers
/// `data-not-found` so the client fetches `services.json` again.
pub async fn services_delta(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request: Option<GetServicesDeltaRequest> = match parse_optional(input.body) {
        Ok(r) => r,
        Err(e) => return bad_json(out, e),
    };
    if let Some(message) = unavailable(core) {
        let status = fail(error_codes::SERVICE_UNAVAILABLE, &message);
        write_delta_failure(out, &status);
        return 200;
    }
    let since = request.map_or(0, |r| r.version);
    let Ok(since) = u64::try_from(since) else {
        write_delta_not_found(out);
        return 200;
    };
    if since > core.node.shared.current_version() {
        write_delta_not_found(out);
        return 200;
    }
    // Every shard must answer exactly, or the client starts over from services.json.
    let parts = core
        .map_reduce(
            || Delta(since),
            Some(Vec::new()),
            |parts, part| {
                let mut parts = parts?;
                parts.push(part.ok().filter(|p| p.entries.is_ok())?);
                Some(parts)
            },
        )
        .await;
    let Some(parts) = parts.filter(|p| !p.is_empty()) else {
        write_delta_not_found(out);
        return 200;
    };
    let version = parts.iter().map(|p| p.version).min().expect("not empty");
    let entries = parts.iter().filter_map(|p| p.entries.as_deref().ok());
    write_delta_response(out, entries, version);
    200
}
