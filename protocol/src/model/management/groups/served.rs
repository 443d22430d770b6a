//! What discovery serves of the group data for one service (Java `GroupDiscoveryFilter`, spec
//! §11.6): `Service.routeRules` and `Service.logicInstances`, built once per snapshot so a shard
//! only splices them into its cached bytes.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::keys::instance_group_key;
use super::rows::ServiceInstance;
use crate::model::{is_null_or_whitespace, write_i64, write_instance, write_str, Instance, Str};

/// `RouteRules.CANARY_ROUTE_RULE`: the rule whose groups are served with their instances.
pub const CANARY_ROUTE_RULE: &str = "canary-route-rule";

/// `ServiceGroups.fixWeight`: no weight or a negative one is 5, more than 10000 is 10000.
pub fn fix_weight(weight: Option<i32>) -> i32 {
    match weight {
        None => 5,
        Some(w) if w < 0 => 5,
        Some(w) => w.min(10_000),
    }
}

/// One `ServiceGroup` of a served rule: an active group with its released weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedGroup {
    pub group_key: String,
    /// The released weight, fixed by [`fix_weight`].
    pub weight: i32,
    /// The group's listed instance ids, in the order they were added (`[]` when none).
    pub instance_ids: Vec<String>,
    /// The group's tags as `metadata`; `None` (served `null`) when it has no tag.
    pub tags: Option<Vec<(String, String)>>,
}

/// One `RouteRule` served: an active rule with at least one active group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedRouteRule {
    /// The rule's name.
    pub route_id: String,
    pub strategy: String,
    pub groups: Vec<ServedGroup>,
}

impl ServedRouteRule {
    /// `RouteRules.isCanaryRouteRule`.
    pub fn is_canary(&self) -> bool {
        self.route_id.to_lowercase() == CANARY_ROUTE_RULE
    }
}

/// One logical instance as served: its row (for the pull-out checks a shard makes, Java's
/// `ManagementDiscoveryFilter`) and its `Instance` JSON with status `up`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicInstance {
    pub row: ServiceInstance,
    json: Box<[u8]>,
}

impl LogicInstance {
    /// `GroupRepository.getServiceInstances`: the row as an `Instance`, status forced `up`, its
    /// metadata parsed (an empty map when unreadable).
    pub fn new(row: ServiceInstance) -> LogicInstance {
        let json = served_json(&row);
        LogicInstance { row, json }
    }

    /// The instance as served.
    pub fn json(&self) -> &[u8] {
        &self.json
    }
}

fn text(s: &str) -> Str<'_> {
    Some(Cow::Borrowed(s))
}

/// The row as `GroupRepository.getServiceInstances` serves it: status forced `up`.
fn served_json(row: &ServiceInstance) -> Box<[u8]> {
    let instance = Instance {
        region_id: text(&row.region_id),
        zone_id: text(&row.zone_id),
        group_id: text(&row.group_id),
        service_id: text(&row.service_id),
        instance_id: text(&row.instance_id),
        machine_name: text(&row.machine_name),
        ip: text(&row.ip),
        port: row.port,
        protocol: text(&row.protocol),
        url: text(&row.url),
        health_check_url: text(&row.health_check_url),
        status: text("up"),
        metadata: Some(row.metadata_map()),
    };
    let mut json = Vec::new();
    write_instance(&mut json, &instance);
    json.into_boxed_slice()
}

/// A registered instance of the service, as a shard holds it, for resolving the instances of
/// canary groups.
#[derive(Debug, Clone, Copy)]
pub struct RegisteredInstance<'a> {
    pub service_id: &'a str,
    pub region_id: &'a str,
    pub zone_id: &'a str,
    pub group_id: Option<&'a str>,
    pub instance_id: &'a str,
    /// The instance as served.
    pub json: &'a [u8],
}

/// Everything the group data adds to one service's discovery answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceView {
    /// In rule id order; each rule's groups in route-rule-group id order.
    pub route_rules: Vec<ServedRouteRule>,
    /// In row id order.
    pub logic_instances: Vec<LogicInstance>,
}

impl ServiceView {
    /// `Service.logicInstances`: `[instance,..]` of the logical instances `keep` accepts (a
    /// shard drops the pulled-out ones, as Java's management filter does).
    pub fn write_logic_instances(
        &self,
        out: &mut Vec<u8>,
        keep: impl Fn(&ServiceInstance) -> bool,
    ) {
        out.push(b'[');
        let mut first = true;
        for instance in self.logic_instances.iter().filter(|i| keep(&i.row)) {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&instance.json);
        }
        out.push(b']');
    }

    /// `Service.routeRules`: `[{"groups":[..],"routeId","strategy"},..]`. Groups of the first
    /// canary rule carry `instances`, resolved from `registered` and the logical instances by
    /// listed id (a registered instance wins over a logical one with the same id) or by group
    /// key prefix (registered instances only), ordered by instance id; other groups serve
    /// `"instances":null`. Java resolves against the instances before pull-outs are removed.
    pub fn write_route_rules(&self, out: &mut Vec<u8>, registered: &[RegisteredInstance<'_>]) {
        let canary = self.route_rules.iter().position(ServedRouteRule::is_canary);
        out.push(b'[');
        for (n, rule) in self.route_rules.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let resolve = (canary == Some(n)).then_some(registered);
            self.write_rule(out, rule, resolve);
        }
        out.push(b']');
    }

    fn write_rule(
        &self,
        out: &mut Vec<u8>,
        rule: &ServedRouteRule,
        registered: Option<&[RegisteredInstance<'_>]>,
    ) {
        out.extend_from_slice(b"{\"groups\":[");
        for (n, group) in rule.groups.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let instances = registered.map(|r| self.group_instances(group, r));
            write_group(out, group, instances.as_deref());
        }
        out.extend_from_slice(b"],\"routeId\":");
        write_str(out, &rule.route_id);
        out.extend_from_slice(b",\"strategy\":");
        write_str(out, &rule.strategy);
        out.push(b'}');
    }

    /// `RouteRules.generateGroupInstances`: the group's listed ids found among the instances,
    /// plus the registered instances whose group key starts with the group's key (a plain
    /// string prefix, as in Java).
    fn group_instances<'a>(
        &'a self,
        group: &ServedGroup,
        registered: &[RegisteredInstance<'a>],
    ) -> Vec<&'a [u8]> {
        let mut by_id: HashMap<&str, &[u8]> = HashMap::new();
        for logic in &self.logic_instances {
            if !is_null_or_whitespace(Some(&logic.row.instance_id)) {
                by_id.insert(&logic.row.instance_id, &logic.json);
            }
        }
        let registered = registered
            .iter()
            .filter(|r| !is_null_or_whitespace(Some(r.instance_id)));
        for instance in registered.clone() {
            by_id.insert(instance.instance_id, instance.json);
        }
        let mut found: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for id in &group.instance_ids {
            if let Some((id, json)) = by_id.get_key_value(id.as_str()) {
                found.insert(id, json);
            }
        }
        if !is_null_or_whitespace(Some(&group.group_key)) {
            for instance in registered {
                let key = instance_group_key(
                    instance.service_id,
                    instance.region_id,
                    instance.zone_id,
                    instance.group_id,
                    instance.instance_id,
                );
                if key.starts_with(&group.group_key) {
                    found.insert(instance.instance_id, instance.json);
                }
            }
        }
        found.into_values().collect()
    }
}

/// `{"groupKey","instanceIds","instances","metadata","weight"}`.
fn write_group(out: &mut Vec<u8>, group: &ServedGroup, instances: Option<&[&[u8]]>) {
    out.extend_from_slice(b"{\"groupKey\":");
    write_str(out, &group.group_key);
    out.extend_from_slice(b",\"instanceIds\":[");
    for (n, id) in group.instance_ids.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, id);
    }
    out.extend_from_slice(b"],\"instances\":");
    match instances {
        None => out.extend_from_slice(b"null"),
        Some(instances) => {
            out.push(b'[');
            for (n, json) in instances.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(json);
            }
            out.push(b']');
        }
    }
    out.extend_from_slice(b",\"metadata\":");
    match &group.tags {
        None => out.extend_from_slice(b"null"),
        Some(tags) => write_tags(out, tags),
    }
    out.extend_from_slice(b",\"weight\":");
    write_i64(out, i64::from(group.weight));
    out.push(b'}');
}

/// A `Map<String,String>` of tags: `{"tag":"value",..}`.
pub(crate) fn write_tags(out: &mut Vec<u8>, tags: &[(String, String)]) {
    out.push(b'{');
    for (n, (tag, value)) in tags.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, tag);
        out.push(b':');
        write_str(out, value);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests;
