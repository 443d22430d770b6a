//! Group rows for the tests of what shards serve of them: built up call by call, ids given in
//! order, turned into a management snapshot directly (no store involved).

use std::sync::Arc;

use protocol::model::management::groups::{
    Group, GroupData, GroupInstance, GroupRows, GroupTag, RouteRuleGroup, ServiceInstance,
    ServiceRouteRule,
};
use protocol::model::management::{ManagementSnapshot, Target};

/// The rows, and the next id to give.
#[derive(Clone, Default)]
pub struct Groups {
    rows: GroupRows,
    last_id: i64,
}

impl Groups {
    fn next_id(&mut self) -> i64 {
        self.last_id += 1;
        self.last_id
    }

    /// An active group `service/region/zone/name`; its id.
    pub fn group(&mut self, service: &str, region: &str, zone: &str, name: &str) -> i64 {
        let group_id = self.next_id();
        self.rows.groups.push(Group {
            group_id,
            service_id: service.into(),
            region_id: region.into(),
            zone_id: zone.into(),
            name: name.into(),
            app_id: "app".into(),
            description: None,
            status: "active".into(),
        });
        group_id
    }

    /// An active weighted-round-robin rule named `name`; its id.
    pub fn rule(&mut self, service: &str, name: &str) -> i64 {
        let route_rule_id = self.next_id();
        self.rows.route_rules.push(ServiceRouteRule {
            route_rule_id,
            service_id: service.into(),
            name: name.into(),
            description: None,
            status: "active".into(),
            strategy: "weighted-round-robin".into(),
        });
        route_rule_id
    }

    /// A group in a rule, with its released weight.
    pub fn link(&mut self, rule: i64, group: i64, weight: Option<i32>) {
        let route_rule_group_id = self.next_id();
        self.rows.route_rule_groups.push(RouteRuleGroup {
            route_rule_group_id,
            route_rule_id: rule,
            group_id: group,
            weight,
            unreleased_weight: None,
        });
    }

    /// Release another weight for a group of a rule.
    pub fn release(&mut self, rule: i64, group: i64, weight: i32) {
        let link = self
            .rows
            .route_rule_groups
            .iter_mut()
            .find(|l| l.route_rule_id == rule && l.group_id == group)
            .expect("the group is in the rule");
        link.weight = Some(weight);
    }

    pub fn tag(&mut self, group: i64, tag: &str, value: &str) {
        let id = self.next_id();
        let tag = GroupTag {
            group_id: group,
            tag: tag.into(),
            value: value.into(),
        };
        self.rows.tags.push((id, tag));
    }

    /// List an instance id in a group.
    pub fn member(&mut self, group: i64, instance_id: &str) {
        let id = self.next_id();
        self.rows.group_instances.push(GroupInstance {
            id,
            group_id: group,
            instance_id: instance_id.into(),
        });
    }

    /// A logical instance in region `r`, zone `z`, at `ip`, in group `g`.
    pub fn logical(&mut self, service: &str, instance_id: &str, ip: &str) {
        let id = self.next_id();
        self.rows.service_instances.push(ServiceInstance {
            id,
            service_id: service.into(),
            instance_id: instance_id.into(),
            ip: ip.into(),
            machine_name: "m".into(),
            metadata: String::new(),
            port: 80,
            protocol: "http".into(),
            region_id: "r".into(),
            zone_id: "z".into(),
            group_id: "g".into(),
            health_check_url: "http://h".into(),
            url: "http://u".into(),
            description: None,
        });
    }

    /// Pull a group out (one operation on it).
    pub fn pull_out(&mut self, group: i64) {
        let id = self.next_id();
        self.rows.operations.push((id, group, "pullout".into()));
    }

    /// Pull a group back in (every operation on it dropped).
    pub fn pull_in(&mut self, group: i64) {
        self.rows.operations.retain(|(_, g, _)| *g != group);
    }

    /// Whether a group is pulled out.
    pub fn is_pulled_out(&self, group: i64) -> bool {
        self.rows.operations.iter().any(|(_, g, _)| *g == group)
    }

    /// A snapshot of generation `generation` holding these rows and the pull-outs of `targets`.
    pub fn snapshot(&self, generation: u64, targets: &[Target]) -> Arc<ManagementSnapshot> {
        let mut snapshot = ManagementSnapshot::default();
        snapshot.generation = generation;
        for target in targets {
            snapshot.insert(target.clone(), "pullout");
        }
        snapshot.set_groups(Arc::new(GroupData::new(self.rows.clone())));
        Arc::new(snapshot)
    }
}
