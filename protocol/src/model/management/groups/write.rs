//! [`GroupWrite`]: one durable change an operator asked for through a group endpoint (spec §10.4,
//! §10.7), already checked by [`super::validate`]. A store applies it in one transaction with the
//! log rows listed on each [`GroupChange`] variant; the log tables are Java's (`token` is written
//! empty: artemis stores no token, see docs/decisions.md).

/// Who asked for a write and why (Java `OperationContext` as the group writes use it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupOperator {
    /// The context's `operation`, written to every log row (and recorded as the group's
    /// operation by operate-group-operation).
    pub operation: String,
    pub operator_id: String,
    /// `None` when the client sent none: the log rows hold `NULL`, answered as `null`.
    pub reason: Option<String>,
    /// Free-form JSON text, `"{}"` when the client sent none.
    pub extensions: String,
}

/// One group write: what changes, and who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWrite {
    pub change: GroupChange,
    pub operator: GroupOperator,
}

/// A route rule as written (`RouteRuleModel`): its natural key is (`service_id`, `name`),
/// ignoring ASCII case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRouteRule {
    pub service_id: String,
    pub name: String,
    pub description: Option<String>,
    pub status: String,
    pub strategy: String,
}

/// A group as written (`GroupModel`): its natural key is (`service_id`, `region_id`, `zone_id`,
/// `name`), ignoring ASCII case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    pub service_id: String,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub app_id: String,
    pub description: Option<String>,
    pub status: String,
}

/// A group's weight in a rule as written (`RouteRuleGroupModel`): the key is
/// (`route_rule_id`, `group_id`); only the unreleased weight is ever written by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRouteRuleGroup {
    pub route_rule_id: i64,
    pub group_id: i64,
    pub unreleased_weight: Option<i32>,
}

/// A logical instance as written (`ServiceInstanceModel`): the key is (`service_id`,
/// `instance_id`); `metadata` is the JSON text of the map the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceInstance {
    pub service_id: String,
    pub instance_id: String,
    pub ip: String,
    pub machine_name: String,
    pub metadata: String,
    pub port: i32,
    pub protocol: String,
    pub region_id: String,
    pub zone_id: String,
    pub group_id: String,
    pub health_check_url: String,
    pub url: String,
    pub description: Option<String>,
}

/// What one group write changes. Ids that match no row change nothing and log nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChange {
    /// insert-route-rules, update-route-rules: upsert each rule by its key (description,
    /// status and strategy replaced, un-deleted); one `service_route_rule_log` row each.
    UpsertRouteRules(Vec<NewRouteRule>),
    /// delete-route-rules: soft-delete the live rules with these ids; one route-rule log row
    /// per rule deleted, as it was stored.
    DeleteRouteRules(Vec<i64>),
    /// create-route-rule: the rule and each distinct group are inserted if missing (an existing
    /// row, even soft-deleted, is only un-deleted), then each `(group index, weight)` of `links`
    /// upserts the unreleased weight of that group in the rule. Log rows: one for the rule, one
    /// per group, one per link (Java's `BusinessDao.createServiceRouteRules`).
    CreateRouteRule {
        rule: NewRouteRule,
        groups: Vec<NewGroup>,
        links: Vec<(usize, i32)>,
    },
    /// insert-route-rule-groups, update-route-rule-groups: upsert the unreleased weight; one
    /// `service_route_rule_group_log` row each (its `WEIGHT` is the unreleased weight).
    UpsertRouteRuleGroups(Vec<NewRouteRuleGroup>),
    /// release-route-rule-groups: `weight = unreleased_weight` for each (rule, group); one
    /// route-rule-group log row each, with the weight the request named.
    ReleaseRouteRuleGroups(Vec<NewRouteRuleGroup>),
    /// delete-route-rule-groups: delete the rows with these ids; one log row per row deleted.
    DeleteRouteRuleGroups(Vec<i64>),
    /// insert-groups, update-groups: upsert each group by its key (app id, description and
    /// status replaced, un-deleted); one `service_group_log` row each.
    UpsertGroups(Vec<NewGroup>),
    /// delete-groups: soft-delete the live groups with these ids; one log row per group deleted.
    DeleteGroups(Vec<i64>),
    /// insert-group-tags, update-group-tags: upsert each tag by (group, tag). No log row (Java
    /// writes none).
    UpsertGroupTags(Vec<(i64, String, String)>),
    /// delete-group-tags: delete every tag row matching all the given fields (at least one is
    /// given). No log row.
    DeleteGroupTags {
        group_id: Option<i64>,
        tag: Option<String>,
        value: Option<String>,
    },
    /// operate-group-operations: record (`complete == false`, a pull-out) or drop each
    /// `(group id, operation)`; one `service_group_operation_log` row each.
    OperateGroups {
        operations: Vec<(i64, String)>,
        complete: bool,
    },
    /// operate-group-operation: the group is inserted if missing (no group log row, as Java's
    /// `generateGroup`), then the operator's `operation` is recorded or dropped for it like
    /// [`GroupChange::OperateGroups`].
    OperateGroup { group: NewGroup, complete: bool },
    /// insert-group-instances: insert each `(group id, instance id)` not listed yet; one
    /// `service_group_instance_log` row each.
    InsertGroupInstances(Vec<(i64, String)>),
    /// delete-group-instances: delete the rows with these ids; one log row per row deleted.
    DeleteGroupInstances(Vec<i64>),
    /// insert-service-instances: upsert each logical instance by its key; one
    /// `service_instance_log` row each.
    UpsertServiceInstances(Vec<NewServiceInstance>),
    /// delete-service-instances: delete the rows with these ids; one log row per row deleted.
    DeleteServiceInstances(Vec<i64>),
    /// update-canary-ips (spec §10.7): ensure the active `canary-route-rule` of the service and
    /// the active group `{service, region, zone "canary", name = app id}` exist (inserted or
    /// un-deleted, not logged), link them with unreleased weight 5 unless the group is already
    /// in a rule (Java's `RouteRuleGroupDao.generateGroup`), then make the group's instance list
    /// exactly `instance_ids` (compared exactly): one group-instance log row per id removed or
    /// added.
    UpdateCanary {
        service_id: String,
        app_id: String,
        region_id: String,
        instance_ids: Vec<String>,
    },
}
