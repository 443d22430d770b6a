//! What discovery serves of one service (spec §3.2, §11.6), as Java's `GroupDiscoveryFilter`
//! then `ManagementDiscoveryFilter` leave it: the registered instances no pull-out hides, the
//! logical instances no pull-out hides, and the route rules, canary groups resolved against
//! every registered instance (hidden ones too: Java resolves them before the management
//! filter). A shard builds these bytes when something they show changes and caches them, so a
//! lookup costs the same with route rules as without.

use std::sync::Arc;

use protocol::model::management::groups::{RegisteredInstance, ServedRouteRule, ServiceInstance};
use protocol::model::management::ManagementSnapshot;
use protocol::model::write_service_fields;

use crate::place;

/// A registered instance of the service being built.
#[derive(Clone, Copy)]
pub(super) struct Member<'a> {
    pub instance_id: &'a str,
    /// As stored ([`protocol::model::write_instance`]'s output).
    pub json: &'a [u8],
    pub hidden: bool,
}

/// The cached bytes of one service.
#[derive(Clone)]
pub(super) struct ServedFields {
    /// The Service's fields before `serviceId` ([`write_service_fields`]).
    pub fields: Arc<[u8]>,
    /// Some registered instance is visible (`services.json` lists only such services).
    pub has_instances: bool,
}

/// Where an instance is, as pull-outs match it (Java `ManagementRepository.isInstanceDown`).
pub(super) struct Placed<'a> {
    pub service_id: &'a str,
    pub instance_id: &'a str,
    pub region_id: &'a str,
    pub zone_id: &'a str,
    pub ip: &'a str,
    /// "" when the instance has none (the default group).
    pub group_id: &'a str,
}

impl<'a> Placed<'a> {
    /// A registered instance, read back from its stored JSON.
    pub fn stored(service_id: &'a str, instance_id: &'a str, json: &'a [u8]) -> Placed<'a> {
        let (region_id, zone_id, ip) = place::of_stored(json);
        Placed {
            service_id,
            instance_id,
            region_id,
            zone_id,
            ip,
            group_id: place::group_of_stored(json),
        }
    }

    fn logical(row: &'a ServiceInstance) -> Placed<'a> {
        Placed {
            service_id: &row.service_id,
            instance_id: &row.instance_id,
            region_id: &row.region_id,
            zone_id: &row.zone_id,
            ip: &row.ip,
            group_id: &row.group_id,
        }
    }

    /// Pulled out by the instance, its server, its zone or one of its groups (spec §11.6).
    pub fn is_down(&self, management: &ManagementSnapshot) -> bool {
        management.is_down(
            self.region_id,
            self.service_id,
            self.instance_id,
            self.ip,
            self.zone_id,
        ) || (management.groups().has_pulled_out_groups()
            && management.is_group_down(
                self.service_id,
                self.region_id,
                self.zone_id,
                Some(self.group_id),
                self.instance_id,
            ))
    }
}

/// Whether a logical instance is served (no pull-out hides it).
pub(super) fn logical_visible(management: &ManagementSnapshot, row: &ServiceInstance) -> bool {
    !Placed::logical(row).is_down(management)
}

/// Build what discovery serves of `service_id` with these registered instances (none for a
/// service only the group data knows).
pub(super) fn build<'a>(
    service_id: &str,
    members: impl Iterator<Item = Member<'a>> + Clone,
    management: &ManagementSnapshot,
) -> ServedFields {
    let view = management.groups().service(service_id);
    let visible = || members.clone().filter(|m| !m.hidden);
    let size: usize = visible().map(|m| m.json.len() + 1).sum();
    let mut out = Vec::with_capacity(size + 96);
    let mut has_instances = false;
    write_service_fields(
        &mut out,
        |out| {
            out.push(b'[');
            for member in visible() {
                if has_instances {
                    out.push(b',');
                }
                has_instances = true;
                out.extend_from_slice(member.json);
            }
            out.push(b']');
        },
        |out| match view {
            Some(view) => view.write_logic_instances(out, |row| logical_visible(management, row)),
            None => out.extend_from_slice(b"[]"),
        },
        |out| match view {
            Some(view) => {
                // Only a canary rule's groups list instances: the others need none parsed.
                let canary = view.route_rules.iter().any(ServedRouteRule::is_canary);
                let registered: Vec<RegisteredInstance<'_>> = if canary {
                    members.clone().map(|m| registered(service_id, m)).collect()
                } else {
                    Vec::new()
                };
                view.write_route_rules(out, &registered);
            }
            None => out.extend_from_slice(b"[]"),
        },
    );
    ServedFields {
        fields: out.into(),
        has_instances,
    }
}

fn registered<'a>(service_id: &'a str, member: Member<'a>) -> RegisteredInstance<'a> {
    let placed = Placed::stored(service_id, member.instance_id, member.json);
    RegisteredInstance {
        service_id,
        region_id: placed.region_id,
        zone_id: placed.zone_id,
        group_id: Some(placed.group_id),
        instance_id: member.instance_id,
        json: member.json,
    }
}

#[cfg(test)]
mod tests;
