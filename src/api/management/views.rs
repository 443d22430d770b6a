//! Management `services.json` and `service.json` (spec §10.2): every registered instance,
//! pulled-out ones included, with `status` "up"/"down" and its lease times in `metadata`, the
//! service's logical instances and route rules (Java's group filter only), and for
//! `service.json` the service's groups. Built per request, each shard formatting its own part
//! (an operator view, not a hot path).

use protocol::model::management::requests::ManagementServiceRequest;
use protocol::model::management::responses::{
    write_management_service, write_management_service_response,
    write_management_services_response, ResponseKind,
};
use protocol::model::management::validate;
use shards::ops::ManagementServices;

use super::super::Input;
use super::{body, refuse};
use crate::server::core::Core;

pub async fn services(core: &Core, out: &mut Vec<u8>) -> u16 {
    let fragments = core
        .map_reduce(
            || ManagementServices(None),
            Vec::new(),
            |mut fragments, part| {
                fragments.extend(part.ok().filter(|f| !f.is_empty()));
                fragments
            },
        )
        .await;
    let now = core.node.clock.wall_now_ms().max(0) as u64;
    out.clear();
    write_management_services_response(out, fragments.iter().map(|f| &f[..]), now);
    200
}

pub async fn service(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = match body::<ManagementServiceRequest>(input, out) {
        Ok(request) => request,
        Err(status) => return status,
    };
    let service_id = match validate::management_service_id(request.as_ref()) {
        Ok(id) => id,
        Err(refusal) => return refuse(out, ResponseKind::Service, &refusal),
    };
    let owner = core.node.router.shard_of(service_id);
    let mut service = core
        .call(owner, ManagementServices(Some(service_id.into())))
        .await
        .unwrap_or_default();
    // The groups come from this core's snapshot: like the owner's, it holds every group write
    // acknowledged before this request (a write is acknowledged once every core applied it).
    let management = core.management();
    let groups = management.groups();
    if service.is_empty() {
        // Nobody registered it: Java's `new Service(serviceId)` with null instances, still
        // given its logical instances and route rules by the group filter.
        let view = groups.service(service_id);
        write_management_service(&mut service, service_id, None, view, &[]);
    }
    out.clear();
    write_management_service_response(out, &service, groups, service_id);
    200
}
