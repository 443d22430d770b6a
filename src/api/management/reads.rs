//! Reads of the pull-out state (instance/server/zone operations and "is it down"), answered
//! from this core's snapshot: the same on every core once a write was answered.

use std::borrow::Cow;

use protocol::http::Method;
use protocol::model::management::requests::{
    GetInstanceOperationsRequest, GetZoneOperationsListRequest, IsInstanceDownRequest,
    RegionRequest, ServerKeyRequest, ZoneKeyRequest,
};
use protocol::model::management::responses::{
    write_all_instance_operations_response, write_all_server_operations_response,
    write_all_zone_operations_response, write_down_response, write_instance_operations_response,
    write_server_operations_response, write_zone_operations_list_response,
    write_zone_operations_response, ResponseKind,
};
use protocol::model::management::validate;

use super::super::{query_fields, Input};
use super::{body, refuse};
use crate::server::core::Core;

/// The parsed body, or return the 400 already written.
macro_rules! parse_or_return {
    ($input:expr, $out:expr, $ty:ty) => {
        match body::<$ty>($input, $out) {
            Ok(request) => request,
            Err(status) => return status,
        }
    };
}

pub fn instance_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GetInstanceOperationsRequest);
    match validate::instance_operations_key(request.as_ref()) {
        Ok(key) => write_instance_operations_response(out, core.management().instance(&key)),
        Err(refusal) => return refuse(out, ResponseKind::Operations, &refusal),
    }
    200
}

pub fn server_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, ServerKeyRequest);
    match validate::server_operations_key(request.as_ref()) {
        Ok(key) => write_server_operations_response(out, core.management().server(&key)),
        Err(refusal) => return refuse(out, ResponseKind::Operations, &refusal),
    }
    200
}

/// The `regionId` of a GET query or a POST body; blank means every region.
fn region<'a>(input: &Input<'a>, out: &mut Vec<u8>) -> Result<Option<Cow<'a, str>>, u16> {
    if input.method == Method::Get {
        let [region] = query_fields(input.query, ["regionId"]);
        return Ok(region.filter(|r| !r.trim().is_empty()));
    }
    let request = body::<RegionRequest>(input, out)?;
    Ok(validate::region_filter(request.as_ref()).map(|r| Cow::Owned(r.to_owned())))
}

pub fn all_instance_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let region = match region(input, out) {
        Ok(region) => region,
        Err(status) => return status,
    };
    let snapshot = core.management();
    let entries = snapshot
        .instances()
        .filter(|e| region.as_deref().is_none_or(|r| e.key.region_id == r));
    write_all_instance_operations_response(out, entries);
    200
}

pub fn all_server_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let region = match region(input, out) {
        Ok(region) => region,
        Err(status) => return status,
    };
    let snapshot = core.management();
    let entries = snapshot
        .servers()
        .filter(|e| region.as_deref().is_none_or(|r| e.key.region_id == r));
    write_all_server_operations_response(out, entries);
    200
}

pub fn instance_down(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, IsInstanceDownRequest);
    match validate::instance_down(request.as_ref()) {
        Ok(instance) => {
            let text = |s: &Option<Cow<'_, str>>| s.as_deref().unwrap_or_default().to_owned();
            let down = core.management().is_down(
                &text(&instance.region_id),
                &text(&instance.service_id),
                &text(&instance.instance_id),
                &text(&instance.ip),
                &text(&instance.zone_id),
            );
            write_down_response(out, down);
        }
        Err(refusal) => return refuse(out, ResponseKind::Down, &refusal),
    }
    200
}

pub fn server_down(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, ServerKeyRequest);
    match validate::server_down_key(request.as_ref()) {
        Ok(key) => write_down_response(out, core.management().server(&key).is_some()),
        Err(refusal) => return refuse(out, ResponseKind::Down, &refusal),
    }
    200
}

pub fn all_zone_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, RegionRequest);
    match validate::all_zone_operations(request.as_ref()) {
        Ok(()) => write_all_zone_operations_response(out, core.management().zones()),
        Err(refusal) => return refuse(out, ResponseKind::AllZoneOperations, &refusal),
    }
    200
}

pub fn zone_operations(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, ZoneKeyRequest);
    match validate::zone_key(request.as_ref()) {
        Ok(key) => {
            let snapshot = core.management();
            write_zone_operations_response(out, key.and_then(|k| snapshot.zone(&k)));
        }
        Err(refusal) => return refuse(out, ResponseKind::Operations, &refusal),
    }
    200
}

pub fn zone_operations_list(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, GetZoneOperationsListRequest);
    match validate::zone_operations_filter(request.as_ref()) {
        Ok(filter) => {
            let snapshot = core.management();
            let entries = snapshot.zones().filter(|e| filter.matches(&e.key));
            write_zone_operations_list_response(out, entries);
        }
        Err(refusal) => return refuse(out, ResponseKind::ZoneOperationsList, &refusal),
    }
    200
}

pub fn is_zone_down(core: &Core, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let request = parse_or_return!(input, out, ZoneKeyRequest);
    match validate::zone_key(request.as_ref()) {
        Ok(key) => {
            let snapshot = core.management();
            write_down_response(out, key.is_some_and(|k| snapshot.zone(&k).is_some()));
        }
        Err(refusal) => return refuse(out, ResponseKind::Down, &refusal),
    }
    200
}
