//! The replication endpoints (spec §9.2, §9.3). Peers post their clients' writes to
//! `/api/replication/registry/{register,heartbeat,unregister}.json`, which run the registry
//! algorithm with peer origin (`registry::handle`: never replicated on, no node-up or zone check,
//! a heartbeat for an unknown instance registers it); a starting peer copies the whole registry
//! from `services.json` ([`services`]). Beyond Java, only peers get in ([`auth`]), and a peer
//! that committed a management write to the shared database asks this node to poll it at once
//! ([`nudge`]).

pub mod auth;
#[cfg(test)]
mod tests;

use protocol::http::Method;
use protocol::model::management::responses::{write_status_response, ResponseKind};
use protocol::model::{
    error_codes, fail, parse_optional, write_replication_services_failure, RegionZoneRequest,
    ReplicationServicesWriter, ResponseStatus,
};
use shards::ops::RawServices;
use shards::shard::WalkCursor;

use super::{bad_json, query_fields, same_id, Endpoint, Input};
use crate::server::core::Core;
use crate::server::mailbox::Unavailable;
use crate::server::rate_limit::Identity;
use crate::server::shared_body::SharedBody;
use crate::server::signal::yield_now;

/// Instances one step of the copy lists before the core yields to its other tasks: about a
/// millisecond of copying JSON on the owning core, so a registry of 100,000 instances is listed
/// without holding any core for long.
const INSTANCES_PER_STEP: usize = 2000;

/// Room left for the response head within `limits.max_queued_write_bytes_per_core`, which an
/// answer (head and body) must fit to be sent at all. Heads are well under 1 KiB.
const HEAD_ROOM: usize = 4096;

/// `management/nudge.json` (not Java's): a peer committed a management write to the database
/// both share, so the persistence thread polls it now instead of at its next interval. The body
/// is ignored; with a store only this node writes it changes nothing.
pub fn nudge(core: &Core, out: &mut Vec<u8>) -> u16 {
    core.node.store.poll_now();
    write_status_response(out, ResponseKind::Operate, &ResponseStatus::SUCCESS);
    200
}

/// `services.json` (spec §9.3): every service with every instance as stored, pulled-out ones
/// included, unfiltered, without a version. Java's checks: the replication rate limiter, the
/// region (not the zone, not the node's status). The body goes to `shared` (it can be tens of
/// megabytes: the connection writes it without a copy). A registry whose listing would not fit
/// `limits.max_queued_write_bytes_per_core` (an answer the connection could never send) is
/// answered `internal-service-error` instead, saying so.
pub async fn services(
    core: &Core,
    input: &Input<'_>,
    out: &mut Vec<u8>,
    shared: &mut SharedBody,
) -> u16 {
    let region = if input.method == Method::Get {
        let [region] = query_fields(input.query, ["regionId"]);
        // Java's GET mapping requires the parameter (Spring answers 400 without it).
        let Some(region) = region else {
            return super::bad_request(out, "query parameter regionId is required");
        };
        Some(region)
    } else {
        match parse_optional::<RegionZoneRequest>(input.body) {
            Ok(request) => request.and_then(|r| r.region_id),
            Err(e) => return bad_json(out, e),
        }
    };
    if !core.rate_limits.admit(Identity::ReplicationGetServices) {
        core.metrics
            .requests
            .count_rate_limited(Endpoint::ReplicationServices.metric_id());
        write_replication_services_failure(out, &ResponseStatus::RATE_LIMITED);
        return 200;
    }
    let region_id = &core.node.config.region_id;
    if !same_id(region.as_deref(), region_id) {
        let message = format!(
            "regionId is not the same as the registry node. regionId: {}, registry node.regionId: {}",
            region.as_deref().unwrap_or("null"),
            region_id
        );
        write_replication_services_failure(out, &fail(error_codes::NO_PERMISSION, &message));
        return 200;
    }
    let limit = core
        .node
        .config
        .limits
        .max_queued_write_bytes_per_core
        .saturating_sub(HEAD_ROOM);
    match list_registry(core, limit).await {
        Ok(body) => {
            shared.shared(body.into());
        }
        Err(Unlisted::TooLarge) => {
            let message = format!(
                "the registry listing passes limits.max_queued_write_bytes_per_core ({} bytes), \
                 so it cannot be sent; raise that limit on this node",
                core.node.config.limits.max_queued_write_bytes_per_core
            );
            let status = fail(error_codes::INTERNAL_SERVICE_ERROR, &message);
            write_replication_services_failure(out, &status);
        }
        Err(Unlisted::ShuttingDown) => {
            let status = fail(
                error_codes::SERVICE_UNAVAILABLE,
                "the node is shutting down",
            );
            write_replication_services_failure(out, &status);
        }
    }
    200
}

/// Why [`list_registry`] gave up.
#[derive(Debug)]
enum Unlisted {
    /// The body would pass the byte limit.
    TooLarge,
    /// A shard no longer answers.
    ShuttingDown,
}

/// The whole `services.json` body: every shard's services in shard order, each shard listed in
/// steps of [`INSTANCES_PER_STEP`] instances with a yield between steps. Gives up once the body
/// passes `limit` bytes.
async fn list_registry(core: &Core, limit: usize) -> Result<Vec<u8>, Unlisted> {
    let mut body = Vec::new();
    let mut writer = ReplicationServicesWriter::begin(&mut body);
    for shard in 0..core.node.router.shards() {
        let mut from = Some(WalkCursor::default());
        while let Some(cursor) = from {
            let step = RawServices {
                from: cursor,
                max_instances: INSTANCES_PER_STEP,
            };
            let listed = core
                .call(shard, step)
                .await
                .map_err(|Unavailable| Unlisted::ShuttingDown)?;
            writer.push(&mut body, &listed.json);
            if body.len() > limit {
                return Err(Unlisted::TooLarge);
            }
            from = listed.next;
            yield_now().await;
        }
    }
    writer.finish(&mut body);
    Ok(body)
}
