//! The route rules a client routes on: Java's `RouteRules.newRouteRules`, which the Java
//! client applies to every service it receives (`ServiceContext.newService`).

use std::collections::HashMap;
use std::sync::Arc;

use super::keys::{
    fix_weight, instance_group_key, is_path_prefix, java_lower_case, CANARY_ROUTE_RULE,
    DEFAULT_GROUP_KEY, DEFAULT_ROUTE_RULE,
};
use super::served::{RouteRule, ServedService, ServiceGroup};
use crate::model::{is_null_or_whitespace, Instance, Metadata};

/// How a rule chooses between its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `weighted-round-robin`, the default: every group by its weight.
    WeightedRoundRobin,
    /// `close-by-visit`: only the groups closest to the caller, by their weights.
    CloseByVisit,
}

impl Strategy {
    /// `close-by-visit` in any case is [`Strategy::CloseByVisit`]; anything else, absent
    /// included, routes as the default strategy.
    pub fn from_served(strategy: Option<&str>) -> Self {
        match strategy {
            Some(name) if name.eq_ignore_ascii_case("close-by-visit") => Strategy::CloseByVisit,
            _ => Strategy::WeightedRoundRobin,
        }
    }
}

/// A rule with its groups resolved to instances.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveRule {
    /// As served (the synthesized default rule: `default-route-rule`).
    pub route_id: String,
    pub strategy: Strategy,
    /// Only groups with a key and at least one instance, except the synthesized default
    /// rule's one group, which holds every instance and so may be empty.
    pub groups: Vec<EffectiveGroup>,
}

/// A group of a rule with its members.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveGroup {
    /// As served (the synthesized default group: `default-group-key`).
    pub group_key: String,
    /// Fixed by [`super::fix_weight`].
    pub weight: u32,
    pub instances: Vec<Arc<Instance<'static>>>,
    /// The group's tags.
    pub metadata: Option<Metadata<'static>>,
}

/// `RouteRules.newRouteRules`: the served rules that have an id and groups, each keeping
/// only its groups that have a key and resolve to instances (weights fixed), then a
/// synthesized `default-route-rule` over every instance when none was served.
///
/// A rule whose groups all resolve to nothing is kept with no groups, as Java keeps it.
/// Members come out in a fixed order (explicit ids in served order, then key matches in
/// instance order) where Java's hash maps leave it unspecified.
pub fn route_rules(service: &ServedService) -> Vec<EffectiveRule> {
    let index = InstanceIndex::new(service);
    let mut rules = Vec::new();
    let mut has_default_rule = false;
    for rule in &service.route_rules {
        let Some(route_id) = routable_id(rule) else {
            continue;
        };
        let lower_id = java_lower_case(route_id);
        let is_canary = lower_id == CANARY_ROUTE_RULE;
        has_default_rule |= lower_id == DEFAULT_ROUTE_RULE;
        rules.push(EffectiveRule {
            route_id: route_id.to_owned(),
            strategy: Strategy::from_served(rule.strategy.as_deref()),
            groups: rule
                .groups
                .iter()
                .filter_map(|group| effective_group(group, &index, is_canary))
                .collect(),
        });
    }
    if !has_default_rule {
        rules.push(default_rule(&index));
    }
    rules
}

/// `RouteRules.filterRouteRules`: a rule needs a non-blank id and a non-empty group list.
fn routable_id(rule: &RouteRule) -> Option<&str> {
    let route_id = rule.route_id.as_deref();
    if is_null_or_whitespace(route_id) || rule.groups.is_empty() {
        return None;
    }
    route_id
}

/// `RouteRules.newDefaultRouteRule`: one group of weight 5 holding every instance (not the
/// logical ones), routed by weighted round robin.
fn default_rule(index: &InstanceIndex) -> EffectiveRule {
    EffectiveRule {
        route_id: DEFAULT_ROUTE_RULE.to_owned(),
        strategy: Strategy::WeightedRoundRobin,
        groups: vec![EffectiveGroup {
            group_key: DEFAULT_GROUP_KEY.to_owned(),
            weight: fix_weight(None),
            instances: index.by_group_key.values().cloned().collect(),
            metadata: None,
        }],
    }
}

/// One group of `newRouteRules`: skipped without a key or without members.
fn effective_group(
    group: &ServiceGroup,
    index: &InstanceIndex,
    is_canary: bool,
) -> Option<EffectiveGroup> {
    let group_key = group
        .group_key
        .as_deref()
        .filter(|key| !is_null_or_whitespace(Some(key)))?;
    let mut members = resolve_members(group, group_key, index);
    if is_canary {
        // The canary group also carries the instances the server resolved for its canary
        // IPs; they join unless an instance with the same id is already a member.
        for instance in group.instances.iter().filter(|i| has_instance_id(i)) {
            let id = instance_id(instance);
            if !members.contains(id) {
                members.put(id, Arc::new(instance.clone()));
            }
        }
    }
    if members.is_empty() {
        return None;
    }
    Some(EffectiveGroup {
        group_key: group_key.to_owned(),
        weight: fix_weight(group.weight),
        instances: members.into_values(),
        metadata: group.metadata.clone(),
    })
}

/// `RouteRules.generateGroupInstances`: the instances or logical instances named by the
/// group's instance ids, then every instance whose group key lies under the group's key.
///
/// Java tests the key with a bare `startsWith`, under which group `g1` would also take the
/// instances of `g10`; here the key must match whole path segments (spec §11.6).
fn resolve_members(group: &ServiceGroup, group_key: &str, index: &InstanceIndex) -> Members {
    let mut members = Members::default();
    for id in &group.instance_ids {
        if is_null_or_whitespace(Some(id)) {
            continue;
        }
        if let Some(instance) = index.by_id.get(id.as_str()) {
            members.put(id, instance.clone());
        }
    }
    let group_key = java_lower_case(group_key);
    for (key, instance) in index.by_group_key.iter() {
        if is_path_prefix(&group_key, key) {
            members.put(instance_id(instance), instance.clone());
        }
    }
    members
}

/// `RouteRules.filterInstances`: instances without an id are never routed to.
fn has_instance_id(instance: &Instance<'_>) -> bool {
    !is_null_or_whitespace(instance.instance_id.as_deref())
}

fn instance_id<'a>(instance: &'a Instance<'_>) -> &'a str {
    let id = instance.instance_id.as_deref();
    assert!(
        !is_null_or_whitespace(id),
        "instances without an id are filtered out first"
    );
    id.unwrap_or_default()
}

/// The service's instances as `RouteRules` looks them up.
struct InstanceIndex {
    /// `generateInstanceId2Instance`: logical instances, then instances (which win on the
    /// same id), by exact instance id.
    by_id: HashMap<String, Arc<Instance<'static>>>,
    /// `generateGroupKey2Instance`: instances only, by their group key.
    by_group_key: OrderedMap<Arc<Instance<'static>>>,
}

impl InstanceIndex {
    fn new(service: &ServedService) -> Self {
        let mut by_id = HashMap::new();
        for instance in service
            .logic_instances
            .iter()
            .filter(|i| has_instance_id(i))
        {
            by_id.insert(instance_id(instance).to_owned(), Arc::new(instance.clone()));
        }
        let mut by_group_key = OrderedMap::default();
        for instance in service.instances.iter().filter(|i| has_instance_id(i)) {
            let instance = Arc::new(instance.clone());
            by_id.insert(instance_id(&instance).to_owned(), instance.clone());
            by_group_key.put(&instance_group_key(&instance), instance);
        }
        InstanceIndex {
            by_id,
            by_group_key,
        }
    }
}

/// A group's members by instance id.
type Members = OrderedMap<Arc<Instance<'static>>>;

/// Java's `HashMap.put` semantics (one value per key, the last put wins) in the order keys
/// first arrived, so the result does not depend on hashing.
struct OrderedMap<V> {
    positions: HashMap<String, usize>,
    entries: Vec<(String, V)>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap {
            positions: HashMap::new(),
            entries: Vec::new(),
        }
    }
}

impl<V> OrderedMap<V> {
    fn put(&mut self, key: &str, value: V) {
        match self.positions.get(key) {
            Some(&position) => self.entries[position].1 = value,
            None => {
                self.positions.insert(key.to_owned(), self.entries.len());
                self.entries.push((key.to_owned(), value));
            }
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.positions.contains_key(key)
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }

    fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }

    fn into_values(self) -> Vec<V> {
        self.entries.into_iter().map(|(_, value)| value).collect()
    }
}
