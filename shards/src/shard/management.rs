//! Putting a management snapshot in effect on a shard (spec §7.4, §11.6). Pull-outs of
//! instances, servers, zones and groups hide the registered instances they cover (`delete` to
//! their subscribers) and bring back those they no longer cover (`new`). A service whose served
//! group data changed — its route rules or logical instances, including logical instances a
//! pull-out now hides or shows — has its cached bytes rebuilt and a `reload` recorded (pushed
//! and listed in deltas), as Java's `GroupRepository` and `ManagementRepository` announce it.

use std::collections::BTreeSet;
use std::sync::Arc;

use protocol::model::management::{Changed, ManagementSnapshot};
use protocol::model::ChangeKind;

use super::served::{logical_visible, Placed};
use super::{Registry, Shard};
use crate::place;

impl Shard {
    /// Put a newer management snapshot in effect (see the module doc). An older or equal
    /// generation is ignored, so snapshots may arrive in any order. Returns how many registered
    /// instances changed visibility.
    pub fn apply_management(&mut self, snapshot: Arc<ManagementSnapshot>, now_ms: u64) -> usize {
        let r = &mut self.registry;
        if snapshot.generation <= r.management.generation {
            return 0;
        }
        let older = std::mem::replace(&mut r.management, snapshot);
        // Other cores mirror this shard's views, group-only ones included: they drop them all
        // (management writes are rare; reads ask again).
        r.publishing.flush = true;
        let changed = r.management.changed_since(&older);
        // Built from the snapshot alone.
        r.groups_only.clear();
        let slots: Vec<u32> = if changed.every_service {
            r.services.iter().copied().collect()
        } else {
            changed
                .services
                .iter()
                .filter_map(|service| r.find_service(service))
                .collect()
        };
        let mut flipped = 0;
        for slot in slots {
            flipped += r.recheck_service(slot, now_ms);
        }
        let router = r.changes.shared().router;
        for service in reloads(&r.management, &older, &changed) {
            // Every shard applies the snapshot; the service's owner announces the reload, once.
            if router.shard_of(&service) == self.id {
                r.reload(&service, now_ms);
            }
        }
        flipped
    }

    /// The pull-outs and group data in effect.
    pub fn management(&self) -> &Arc<ManagementSnapshot> {
        &self.registry.management
    }
}

/// The lower-case ids of the services whose served group data differs between the snapshots:
/// those whose view changed, and those one of whose logical instances a pull-out now hides or
/// shows (Java's `ManagementRepository` answers that with a `reload` too).
fn reloads(
    newer: &ManagementSnapshot,
    older: &ManagementSnapshot,
    changed: &Changed,
) -> BTreeSet<String> {
    let mut reload = changed.reload.clone();
    let groups = newer.groups();
    let rechecked: Vec<&str> = if changed.every_service {
        groups.services().map(|(id, _)| id).collect()
    } else {
        changed.services.iter().map(String::as_str).collect()
    };
    for service in rechecked {
        if reload.contains(service) {
            continue;
        }
        // Not in `changed.reload`, so both snapshots serve this same view.
        let Some(view) = groups.service(service) else {
            continue;
        };
        let shown = |m: &ManagementSnapshot| -> Vec<bool> {
            view.logic_instances
                .iter()
                .map(|l| logical_visible(m, &l.row))
                .collect()
        };
        if shown(newer) != shown(older) {
            reload.insert(service.to_owned());
        }
    }
    reload
}

impl Registry {
    /// Re-evaluate the pull-outs for every instance of a service; returns how many flipped.
    fn recheck_service(&mut self, slot: u32, now_ms: u64) -> usize {
        let service_id = self.service(slot).id.clone();
        let members = self.service(slot).members.clone();
        let mut flipped = 0;
        for index in members {
            let lease = self.leases.live(index);
            let hidden = Placed::stored(&service_id, self.leases.id(index), lease.json())
                .is_down(&self.management);
            if hidden == lease.hidden() {
                continue;
            }
            let json = lease.json().clone();
            self.leases.get_mut(index).set_hidden(hidden);
            let kind = if hidden {
                ChangeKind::Delete
            } else {
                ChangeKind::New
            };
            self.changed(slot, kind, index, &json, now_ms);
            flipped += 1;
        }
        flipped
    }

    /// Is an instance being registered (`json` as it will be stored, `place` as
    /// [`place::join`] made it) covered by a pull-out?
    pub(super) fn is_pulled_out(
        &self,
        service_id: &str,
        instance_id: &str,
        place: &str,
        json: &[u8],
    ) -> bool {
        let management = &self.management;
        if management.is_empty() && !management.groups().has_pulled_out_groups() {
            return false;
        }
        let (region_id, zone_id, ip) = place::parts(place);
        Placed {
            service_id,
            instance_id,
            region_id,
            zone_id,
            ip,
            group_id: place::group_of_stored(json),
        }
        .is_down(management)
    }

    /// What discovery serves of a service besides its instances changed: rebuild its bytes and
    /// record a `reload`, carrying the registered spelling of the id, or the lower-case one
    /// for a service with no instance here.
    fn reload(&mut self, service: &str, now_ms: u64) {
        let spelled = match self.find_service(service) {
            Some(slot) => {
                self.invalidate(slot);
                self.service(slot).id.clone()
            }
            None => Arc::from(service),
        };
        self.changes.record_reload(&spelled, now_ms);
    }
}

#[cfg(test)]
mod tests;
