//! The management state of the node at one generation: its pull-outs and its group data.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::groups::GroupData;
use super::keys::{fold_into, InstanceKey, ServerKey, ZoneKey};

thread_local! {
    static FOLDED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}
use super::{ManagementWrite, Target};

/// The operations recorded against one key, with the key as first written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<K> {
    pub key: K,
    /// In the order they were recorded; unique ignoring case (the table's unique key).
    pub operations: Vec<String>,
}

/// Every pull-out row, keyed by the case-folded key, and the group data. Built by the
/// persistence thread after a commit and never changed afterwards: shards hold it behind an
/// `Arc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagementSnapshot {
    /// Increases with every committed change; a shard ignores a snapshot older than its own.
    pub generation: u64,
    instances: BTreeMap<String, Entry<InstanceKey>>,
    servers: BTreeMap<String, Entry<ServerKey>>,
    zones: BTreeMap<String, Entry<ZoneKey>>,
    /// Shared between snapshots until a group write replaces it.
    groups: Arc<GroupData>,
}

/// What a new snapshot changes for discovery, compared with an older one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changed {
    /// A server row changed: any service may have an instance on that server.
    pub every_service: bool,
    /// Service ids (ASCII lower-case) whose instance or zone rows changed, or one of whose
    /// groups was pulled out or in: the visibility of their instances must be checked again.
    pub services: BTreeSet<String>,
    /// Service ids (ASCII lower-case) whose served `routeRules` or `logicInstances` changed:
    /// their cached bytes must be rebuilt and a `reload` pushed to their subscribers.
    pub reload: BTreeSet<String>,
}

impl ManagementSnapshot {
    /// No instance, server or zone is pulled out (groups are asked with
    /// [`GroupData::has_pulled_out_groups`]).
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.servers.is_empty() && self.zones.is_empty()
    }

    /// Record one operation (pull-out) or drop it (pull-in).
    pub fn apply(&mut self, write: &ManagementWrite) {
        for (target, operation) in &write.targets {
            if write.complete {
                self.remove(target, operation);
            } else {
                self.insert(target.clone(), operation);
            }
        }
    }

    pub fn insert(&mut self, target: Target, operation: &str) {
        match target {
            Target::Instance(key) => add(&mut self.instances, key.folded(), key, operation),
            Target::Server(key) => add(&mut self.servers, key.folded(), key, operation),
            Target::Zone(key) => add(&mut self.zones, key.folded(), key, operation),
        }
    }

    pub fn remove(&mut self, target: &Target, operation: &str) {
        match target {
            Target::Instance(key) => drop_op(&mut self.instances, &key.folded(), operation),
            Target::Server(key) => drop_op(&mut self.servers, &key.folded(), operation),
            Target::Zone(key) => drop_op(&mut self.zones, &key.folded(), operation),
        }
    }

    pub fn instance(&self, key: &InstanceKey) -> Option<&Entry<InstanceKey>> {
        self.instances.get(&key.folded())
    }

    pub fn server(&self, key: &ServerKey) -> Option<&Entry<ServerKey>> {
        self.servers.get(&key.folded())
    }

    pub fn zone(&self, key: &ZoneKey) -> Option<&Entry<ZoneKey>> {
        self.zones.get(&key.folded())
    }

    /// Every pulled-out instance, in key order.
    pub fn instances(&self) -> impl Iterator<Item = &Entry<InstanceKey>> {
        self.instances.values()
    }

    pub fn servers(&self) -> impl Iterator<Item = &Entry<ServerKey>> {
        self.servers.values()
    }

    pub fn zones(&self) -> impl Iterator<Item = &Entry<ZoneKey>> {
        self.zones.values()
    }

    /// Java `ManagementRepository.isInstanceDown` (spec §11.6, without groups): the instance,
    /// its server (`ip`) or its service's zone is pulled out.
    pub fn is_down(
        &self,
        region: &str,
        service: &str,
        instance: &str,
        ip: &str,
        zone: &str,
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        // One reused buffer per thread: a shard re-checks every instance of a service (of the
        // node, for a server row) when a snapshot changes, without an allocation per check.
        FOLDED.with_borrow_mut(|key| {
            let mut found = |parts: &[&str], map: &dyn Fn(&str) -> bool| {
                fold_into(key, parts);
                map(key)
            };
            (!self.instances.is_empty()
                && found(&[region, service, instance], &|k| {
                    self.instances.contains_key(k)
                }))
                || (!self.servers.is_empty()
                    && found(&[region, ip], &|k| self.servers.contains_key(k)))
                || (!self.zones.is_empty()
                    && found(&[region, service, zone], &|k| self.zones.contains_key(k)))
        })
    }

    /// The group data.
    pub fn groups(&self) -> &Arc<GroupData> {
        &self.groups
    }

    /// Replace the group data (after a commit that held a group write).
    pub fn set_groups(&mut self, groups: Arc<GroupData>) {
        self.groups = groups;
    }

    /// The group half of Java's `isInstanceDown` (spec §11.6): one of the instance's groups is
    /// pulled out (see [`GroupData::is_group_down`]).
    pub fn is_group_down(
        &self,
        service: &str,
        region: &str,
        zone: &str,
        group: Option<&str>,
        instance: &str,
    ) -> bool {
        self.groups
            .is_instance_down(service, region, zone, group, instance)
    }

    /// What differs from `older`: the services whose visible instances may change, and those
    /// whose served group view changed.
    pub fn changed_since(&self, older: &ManagementSnapshot) -> Changed {
        let mut changed = Changed {
            every_service: !same_keys(&self.servers, &older.servers),
            ..Changed::default()
        };
        if !Arc::ptr_eq(&self.groups, &older.groups) {
            changed.reload = self.groups.reloads_since(&older.groups);
            changed.services = self.groups.pull_outs_since(&older.groups);
        }
        // The service id comes from the entry's key, never from splitting the folded key: ids
        // may contain the separator.
        let instances = symmetric_difference(&self.instances, &older.instances)
            .map(|e| e.key.service_id.to_ascii_lowercase());
        let zones = symmetric_difference(&self.zones, &older.zones)
            .map(|e| e.key.service_id.to_ascii_lowercase());
        changed.services.extend(instances.chain(zones));
        changed
    }
}

fn add<K>(map: &mut BTreeMap<String, Entry<K>>, folded: String, key: K, operation: &str) {
    let entry = map.entry(folded).or_insert_with(|| Entry {
        key,
        operations: Vec::new(),
    });
    if !entry
        .operations
        .iter()
        .any(|o| o.eq_ignore_ascii_case(operation))
    {
        entry.operations.push(operation.to_owned());
    }
}

fn drop_op<K>(map: &mut BTreeMap<String, Entry<K>>, folded: &str, operation: &str) {
    if let Some(entry) = map.get_mut(folded) {
        entry
            .operations
            .retain(|o| !o.eq_ignore_ascii_case(operation));
        if entry.operations.is_empty() {
            map.remove(folded);
        }
    }
}

fn same_keys<K>(a: &BTreeMap<String, Entry<K>>, b: &BTreeMap<String, Entry<K>>) -> bool {
    a.len() == b.len() && a.keys().zip(b.keys()).all(|(x, y)| x == y)
}

/// The entries whose key is in only one of the two maps.
fn symmetric_difference<'a, K>(
    a: &'a BTreeMap<String, Entry<K>>,
    b: &'a BTreeMap<String, Entry<K>>,
) -> impl Iterator<Item = &'a Entry<K>> {
    let only = |x: &'a BTreeMap<String, Entry<K>>, y: &'a BTreeMap<String, Entry<K>>| {
        x.iter()
            .filter(move |(k, _)| !y.contains_key(*k))
            .map(|(_, e)| e)
    };
    only(a, b).chain(only(b, a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::management::Operator;

    fn instance(region: &str, service: &str, id: &str) -> Target {
        Target::Instance(InstanceKey {
            region_id: region.into(),
            service_id: service.into(),
            instance_id: id.into(),
        })
    }

    fn write(targets: Vec<(Target, &str)>, complete: bool) -> ManagementWrite {
        ManagementWrite {
            targets: targets
                .into_iter()
                .map(|(t, o)| (t, o.to_owned()))
                .collect(),
            complete,
            operator: Operator::default(),
        }
    }

    #[test]
    fn pull_out_and_in_by_instance_key_ignoring_case() {
        let mut s = ManagementSnapshot::default();
        s.apply(&write(
            vec![(instance("SHA", "Svc", "I1"), "pullout")],
            false,
        ));
        assert!(s.is_down("sha", "svc", "i1", "10.0.0.1", "z"));
        assert!(!s.is_down("sha", "svc", "i2", "10.0.0.1", "z"));
        s.apply(&write(
            vec![(instance("sha", "svc", "i1"), "PULLOUT")],
            true,
        ));
        assert!(s.is_empty());
    }

    #[test]
    fn a_key_stays_down_while_any_operation_remains() {
        let mut s = ManagementSnapshot::default();
        s.apply(&write(
            vec![
                (instance("r", "s", "i"), "a"),
                (instance("r", "s", "i"), "b"),
            ],
            false,
        ));
        assert_eq!(s.instances().next().unwrap().operations, ["a", "b"]);
        s.apply(&write(vec![(instance("r", "s", "i"), "a")], true));
        assert!(s.is_down("r", "s", "i", "", ""));
        s.apply(&write(vec![(instance("r", "s", "i"), "b")], true));
        assert!(!s.is_down("r", "s", "i", "", ""));
    }

    #[test]
    fn server_and_zone_rows_cover_their_instances() {
        let mut s = ManagementSnapshot::default();
        let server = Target::Server(ServerKey {
            region_id: "r".into(),
            server_id: "10.0.0.9".into(),
        });
        let zone = Target::Zone(ZoneKey {
            region_id: "r".into(),
            service_id: "svc".into(),
            zone_id: "Z1".into(),
        });
        s.apply(&write(vec![(server, "x"), (zone, "y")], false));
        assert!(s.is_down("R", "other", "i", "10.0.0.9", "z9"));
        assert!(s.is_down("r", "SVC", "i", "10.0.0.1", "z1"));
        assert!(!s.is_down("r", "other", "i", "10.0.0.1", "z1"));
    }

    #[test]
    fn changes_name_the_services_to_recheck() {
        let old = ManagementSnapshot::default();
        let mut new = old.clone();
        new.insert(instance("r", "SvcA", "i"), "x");
        let changed = new.changed_since(&old);
        assert!(!changed.every_service);
        assert_eq!(changed.services.into_iter().collect::<Vec<_>>(), ["svca"]);
        let mut with_server = new.clone();
        with_server.insert(
            Target::Server(ServerKey {
                region_id: "r".into(),
                server_id: "ip".into(),
            }),
            "x",
        );
        assert!(with_server.changed_since(&new).every_service);
        let mut odd = ManagementSnapshot::default();
        odd.insert(instance("r\nx", "Svc\nB", "i"), "x");
        let changed = odd.changed_since(&ManagementSnapshot::default());
        assert_eq!(changed.services.into_iter().collect::<Vec<_>>(), ["svc\nb"]);
        assert_eq!(new.changed_since(&new), Changed::default());
    }

    fn groups_with(operations: Vec<(i64, i64, String)>, weight: Option<i32>) -> Arc<GroupData> {
        use crate::model::management::groups::{
            Group, GroupRows, RouteRuleGroup, ServiceRouteRule,
        };
        Arc::new(GroupData::new(GroupRows {
            route_rules: vec![ServiceRouteRule {
                route_rule_id: 1,
                service_id: "SvcA".into(),
                name: "r".into(),
                description: None,
                status: "active".into(),
                strategy: "weighted-round-robin".into(),
            }],
            route_rule_groups: vec![RouteRuleGroup {
                route_rule_group_id: 1,
                route_rule_id: 1,
                group_id: 2,
                weight,
                unreleased_weight: None,
            }],
            groups: vec![Group {
                group_id: 2,
                service_id: "SvcA".into(),
                region_id: "r".into(),
                zone_id: "z".into(),
                name: "g".into(),
                app_id: "a".into(),
                description: None,
                status: "active".into(),
            }],
            operations,
            ..GroupRows::default()
        }))
    }

    #[test]
    fn group_changes_name_reloads_and_pull_outs_apart() {
        let mut old = ManagementSnapshot::default();
        old.set_groups(groups_with(vec![], Some(3)));
        let mut released = old.clone();
        released.set_groups(groups_with(vec![], Some(4)));
        let changed = released.changed_since(&old);
        assert_eq!(changed.reload.iter().collect::<Vec<_>>(), ["svca"]);
        assert!(changed.services.is_empty());

        let mut pulled = old.clone();
        pulled.set_groups(groups_with(vec![(1, 2, "pullout".into())], Some(3)));
        let changed = pulled.changed_since(&old);
        assert!(changed.reload.is_empty());
        assert_eq!(changed.services.iter().collect::<Vec<_>>(), ["svca"]);
        assert!(pulled.is_group_down("svca", "R", "z", Some("G"), "i"));
        assert!(!pulled.is_group_down("svca", "r", "z", None, "i"));
        assert!(pulled.is_empty(), "groups are not traffic pull-outs");

        // The same data shared by both snapshots changes nothing.
        assert_eq!(pulled.clone().changed_since(&pulled), Changed::default());
    }
}
