//! [`GroupData`]: every live group row of one snapshot, immutable once built, with the indexes
//! the endpoints' reads and the shards' discovery folding need.

use std::collections::{BTreeMap, BTreeSet};

use super::keys::{instance_group_key, key_path, prefix_paths};
use super::rows::{
    Group, GroupInstance, GroupOperations, GroupRows, GroupTags, RouteRuleGroup, ServiceInstance,
    ServiceRouteRule,
};
use super::served::{fix_weight, LogicInstance, ServedGroup, ServedRouteRule, ServiceView};

/// `GroupRepository.GroupStatus.ACTIVE` / `RouteRuleStatus.ACTIVE`, compared ignoring case.
const ACTIVE: &str = "active";

/// The group half of a management snapshot. Built by the persistence thread from the rows a
/// store loaded and never changed afterwards: shards share it behind an `Arc`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupData {
    /// Live rules, by id.
    route_rules: BTreeMap<i64, ServiceRouteRule>,
    /// By id.
    route_rule_groups: BTreeMap<i64, RouteRuleGroup>,
    /// Live groups, by id.
    groups: BTreeMap<i64, Group>,
    /// By group id (tags of deleted or unknown groups included, as Java lists them).
    tags: BTreeMap<i64, GroupTags>,
    /// By group id (whatever the group's state, as Java lists them).
    operations: BTreeMap<i64, GroupOperations>,
    /// By id.
    group_instances: BTreeMap<i64, GroupInstance>,
    /// What discovery serves, by ASCII-lower-case service id; services without any served
    /// rule or logical instance are absent.
    views: BTreeMap<String, ServiceView>,
    /// The key path of every live group with an operation, and its lower-case service id.
    pulled_out: BTreeMap<String, String>,
}

impl GroupData {
    /// Index `rows` (Java's `GroupRepository.refreshCache`): the served view of every service
    /// and the pulled-out group paths.
    pub fn new(rows: GroupRows) -> GroupData {
        let route_rules: BTreeMap<i64, ServiceRouteRule> = rows
            .route_rules
            .into_iter()
            .map(|r| (r.route_rule_id, r))
            .collect();
        let route_rule_groups: BTreeMap<i64, RouteRuleGroup> = rows
            .route_rule_groups
            .into_iter()
            .map(|r| (r.route_rule_group_id, r))
            .collect();
        let groups: BTreeMap<i64, Group> =
            rows.groups.into_iter().map(|g| (g.group_id, g)).collect();
        let group_instances: BTreeMap<i64, GroupInstance> = rows
            .group_instances
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let tags = collect_tags(rows.tags);
        let operations = collect_operations(rows.operations);
        let mut data = GroupData {
            route_rules,
            route_rule_groups,
            groups,
            tags,
            operations,
            group_instances,
            views: BTreeMap::new(),
            pulled_out: BTreeMap::new(),
        };
        data.views = data.build_views(rows.service_instances);
        data.pulled_out = data.build_pulled_out();
        data
    }

    fn build_views(&self, mut logic: Vec<ServiceInstance>) -> BTreeMap<String, ServiceView> {
        let mut views: BTreeMap<String, ServiceView> = BTreeMap::new();
        let mut members: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for instance in self.group_instances.values() {
            members
                .entry(instance.group_id)
                .or_default()
                .push(instance.instance_id.clone());
        }
        let mut links: BTreeMap<i64, Vec<&RouteRuleGroup>> = BTreeMap::new();
        for link in self.route_rule_groups.values() {
            links.entry(link.route_rule_id).or_default().push(link);
        }
        for rule in self.route_rules.values() {
            if !rule.status.eq_ignore_ascii_case(ACTIVE) {
                continue;
            }
            let groups: Vec<ServedGroup> = links
                .get(&rule.route_rule_id)
                .into_iter()
                .flatten()
                .filter_map(|link| {
                    let group = self.groups.get(&link.group_id)?;
                    group
                        .status
                        .eq_ignore_ascii_case(ACTIVE)
                        .then(|| ServedGroup {
                            group_key: group.group_key(),
                            weight: fix_weight(link.weight),
                            instance_ids: members.get(&group.group_id).cloned().unwrap_or_default(),
                            tags: self.tags.get(&group.group_id).map(|t| t.tags.clone()),
                        })
                })
                .collect();
            // Java drops a rule with no active group.
            if groups.is_empty() {
                continue;
            }
            views
                .entry(rule.service_id.to_ascii_lowercase())
                .or_default()
                .route_rules
                .push(ServedRouteRule {
                    route_id: rule.name.clone(),
                    strategy: rule.strategy.clone(),
                    groups,
                });
        }
        logic.sort_by_key(|i| i.id);
        for instance in logic {
            views
                .entry(instance.service_id.to_ascii_lowercase())
                .or_default()
                .logic_instances
                .push(LogicInstance::new(instance));
        }
        views
    }

    fn build_pulled_out(&self) -> BTreeMap<String, String> {
        self.operations
            .keys()
            .filter_map(|id| self.groups.get(id))
            .map(|group| {
                (
                    key_path(&group.group_key()),
                    group.service_id.to_ascii_lowercase(),
                )
            })
            .collect()
    }

    /// Live route rules, by id (get-all-route-rules).
    pub fn route_rules(&self) -> impl Iterator<Item = &ServiceRouteRule> {
        self.route_rules.values()
    }

    /// Every route-rule-group row, by id (get-all-route-rule-groups).
    pub fn route_rule_groups(&self) -> impl Iterator<Item = &RouteRuleGroup> {
        self.route_rule_groups.values()
    }

    /// Live groups, by id (get-all-groups).
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Every group's tags, by group id (get-all-group-tags).
    pub fn all_group_tags(&self) -> impl Iterator<Item = &GroupTags> {
        self.tags.values()
    }

    /// One group's tags (get-group-tags), `None` when it has none.
    pub fn group_tags(&self, group_id: i64) -> Option<&GroupTags> {
        self.tags.get(&group_id)
    }

    /// Every group-instance row, by id: the instance ids listed in each group.
    pub fn group_instances(&self) -> impl Iterator<Item = &GroupInstance> {
        self.group_instances.values()
    }

    /// Every group's operations, by group id (get-all-group-operations).
    pub fn all_group_operations(&self) -> impl Iterator<Item = &GroupOperations> {
        self.operations.values()
    }

    /// One group's operations (get-group-operations), `None` when it has none.
    pub fn group_operations(&self, group_id: i64) -> Option<&GroupOperations> {
        self.operations.get(&group_id)
    }

    /// What discovery serves for a service (matched ignoring ASCII case); `None` serves `[]` as
    /// both `routeRules` and `logicInstances`.
    pub fn service(&self, service_id: &str) -> Option<&ServiceView> {
        if self.views.is_empty() {
            return None;
        }
        self.views.get(&service_id.to_ascii_lowercase())
    }

    /// Every service discovery serves group data for: its ASCII-lower-case id and its view.
    pub fn services(&self) -> impl Iterator<Item = (&str, &ServiceView)> {
        self.views.iter().map(|(id, view)| (id.as_str(), view))
    }

    /// Whether any live group is pulled out.
    pub fn has_pulled_out_groups(&self) -> bool {
        !self.pulled_out.is_empty()
    }

    /// `GroupRepository.isInstanceDown`: a pulled-out group's key is a prefix path of the
    /// instance's group key (see [`super::instance_group_key`]).
    pub fn is_group_down(&self, instance_group_key: &str) -> bool {
        if self.pulled_out.is_empty() {
            return false;
        }
        let path = key_path(instance_group_key);
        let mut prefixes = prefix_paths(&path);
        prefixes.any(|prefix| self.pulled_out.contains_key(prefix))
    }

    /// [`GroupData::is_group_down`] of an instance given by its fields.
    pub fn is_instance_down(
        &self,
        service_id: &str,
        region_id: &str,
        zone_id: &str,
        group_id: Option<&str>,
        instance_id: &str,
    ) -> bool {
        self.has_pulled_out_groups()
            && self.is_group_down(&instance_group_key(
                service_id,
                region_id,
                zone_id,
                group_id,
                instance_id,
            ))
    }

    /// Lower-case ids of the services whose served view differs from `older`'s: they need a
    /// `reload` pushed and their cached bytes rebuilt.
    pub fn reloads_since(&self, older: &GroupData) -> BTreeSet<String> {
        let mut services: BTreeSet<String> = BTreeSet::new();
        for (service, view) in &self.views {
            if older.views.get(service) != Some(view) {
                services.insert(service.clone());
            }
        }
        for service in older.views.keys() {
            if !self.views.contains_key(service) {
                services.insert(service.clone());
            }
        }
        services
    }

    /// Lower-case ids of the services one of whose groups was pulled out or back in since
    /// `older`: their instances' visibility must be checked again.
    pub fn pull_outs_since(&self, older: &GroupData) -> BTreeSet<String> {
        let only = |a: &BTreeMap<String, String>, b: &BTreeMap<String, String>| {
            a.iter()
                .filter(|(path, _)| !b.contains_key(*path))
                .map(|(_, service)| service.clone())
                .collect::<Vec<_>>()
        };
        let mut services: BTreeSet<String> = only(&self.pulled_out, &older.pulled_out)
            .into_iter()
            .collect();
        services.extend(only(&older.pulled_out, &self.pulled_out));
        services
    }
}

fn collect_tags(mut rows: Vec<(i64, super::rows::GroupTag)>) -> BTreeMap<i64, GroupTags> {
    rows.sort_by_key(|(id, _)| *id);
    let mut tags: BTreeMap<i64, GroupTags> = BTreeMap::new();
    for (_, tag) in rows {
        tags.entry(tag.group_id)
            .or_insert_with(|| GroupTags {
                group_id: tag.group_id,
                tags: Vec::new(),
            })
            .tags
            .push((tag.tag, tag.value));
    }
    tags
}

fn collect_operations(mut rows: Vec<(i64, i64, String)>) -> BTreeMap<i64, GroupOperations> {
    rows.sort_by_key(|(id, _, _)| *id);
    let mut operations: BTreeMap<i64, GroupOperations> = BTreeMap::new();
    for (_, group_id, operation) in rows {
        operations
            .entry(group_id)
            .or_insert_with(|| GroupOperations {
                group_id,
                operations: Vec::new(),
            })
            .operations
            .push(operation);
    }
    operations
}

#[cfg(test)]
mod tests;
