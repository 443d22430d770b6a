//! up-registry-nodes.json / up-discovery-nodes.json (spec §8.1). A single node answers with
//! itself when it may serve the caller's zone.

use protocol::http::Method;
use protocol::model::{parse_optional, write_up_nodes_response, NodeInfo, RegionZoneRequest};

use super::rate_limit::{refuse_over_limit, Shape};
use super::{bad_json, query_fields, Input};
use crate::server::core::Core;
use crate::server::rate_limit::Identity;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Registry,
    Discovery,
}

pub fn up_nodes(core: &Core, role: Role, input: &Input<'_>, out: &mut Vec<u8>) -> u16 {
    let (region, zone) = if input.method == Method::Get {
        let [region, zone] = query_fields(input.query, ["regionId", "zoneId"]);
        (region, zone)
    } else {
        match parse_optional::<RegionZoneRequest>(input.body) {
            Ok(Some(r)) => (r.region_id, r.zone_id),
            Ok(None) => (None, None),
            Err(e) => return bad_json(out, e),
        }
    };
    let identity = match role {
        Role::Registry => Identity::UpRegistryNodes,
        Role::Discovery => Identity::UpDiscoveryNodes,
    };
    if let Some(status) = refuse_over_limit(core, identity, Shape::ServiceNodes, out) {
        return status;
    }
    let config = &core.node.config;
    let allow_other_zone = match role {
        Role::Registry => config.registry.allow_from_other_zone,
        Role::Discovery => config.discovery.allow_from_other_zone,
    };
    // Java compares with Objects.equal here: exact case.
    let same_zone = region.as_deref() == Some(config.region_id.as_str())
        && zone.as_deref() == Some(config.zone_id.as_str());
    let nodes = [node_info(core)];
    let serving = (allow_other_zone || same_zone).then_some(&nodes[..]);
    write_up_nodes_response(out, serving);
    200
}

pub fn node_info(core: &Core) -> NodeInfo<'_> {
    NodeInfo {
        url: &core.node.url,
        region_id: &core.node.config.region_id,
        zone_id: &core.node.config.zone_id,
    }
}
