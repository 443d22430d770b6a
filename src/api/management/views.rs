//! Management `services.json` and `service.json` (spec §10.2): every registered instance,
//! pulled-out ones included, with `status` "up"/"down" and its lease times in `metadata`.
//! Built per request from the shards (an operator view, not a hot path).

use protocol::model::management::requests::ManagementServiceRequest;
use protocol::model::management::responses::{
    write_management_instance, write_management_service, write_management_service_response,
    write_management_services_response, ResponseKind,
};
use protocol::model::management::validate;
use shards::ops::{ManagedInstances, ManagedService};

use super::super::Input;
use super::{body, refuse};
use crate::server::core::Core;

pub async fn services(core: &Core, out: &mut Vec<u8>) -> u16 {
    let fragments = core
        .map_reduce(
            || ManagedInstances(None),
            Vec::new(),
            |mut fragments, part| {
                if let Ok(services) = part {
                    fragments.push(write_services(&services));
                }
                fragments
            },
        )
        .await;
    let now = core.node.clock.wall_now_ms().max(0) as u64;
    out.clear();
    write_management_services_response(
        out,
        fragments.iter().filter(|f| !f.is_empty()).map(|f| &f[..]),
        now,
    );
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
    let found = core
        .call(owner, ManagedInstances(Some(service_id.into())))
        .await
        .unwrap_or_default();
    let mut service = Vec::new();
    match found.first() {
        Some(found) => {
            let instances = write_instances(found);
            write_management_service(&mut service, &found.service_id, Some(&instances));
        }
        None => write_management_service(&mut service, service_id, None),
    }
    out.clear();
    write_management_service_response(out, &service);
    200
}

/// Comma-separated Service objects of one shard.
fn write_services(services: &[ManagedService]) -> Vec<u8> {
    let mut out = Vec::new();
    for service in services {
        if !out.is_empty() {
            out.push(b',');
        }
        let instances = write_instances(service);
        write_management_service(&mut out, &service.service_id, Some(&instances));
    }
    out
}

/// `[..]` of a service's instances as the management views show them.
fn write_instances(service: &ManagedService) -> Vec<u8> {
    let mut out = Vec::with_capacity(service.instances.len() * 320 + 2);
    out.push(b'[');
    for instance in &service.instances {
        let mark = out.len();
        if out.len() > 1 {
            out.push(b',');
        }
        let written = write_management_instance(
            &mut out,
            &instance.json,
            instance.down,
            instance.created_wall_ms,
            instance.renewed_wall_ms,
            instance.ttl_ms,
        );
        if written.is_err() {
            // Stored JSON is the server's own output; a failure would be a bug, not input.
            debug_assert!(false, "stored instance JSON must parse");
            out.truncate(mark);
        }
    }
    out.push(b']');
    out
}
