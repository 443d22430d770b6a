//! The group tables (spec §10.8): applying a [`GroupWrite`] inside the batch's transaction,
//! loading every live row, and the filtered reads of the `get-*` endpoints.
//!
//! Natural keys are the tables' unique keys, whose `NOCASE` columns make them ignore ASCII case
//! as MySQL's collation did for Java; upserts are SQLite's `ON CONFLICT` (Java's `on duplicate
//! key update`). Groups and route rules are soft-deleted (`DELETED = 1`) and every read skips
//! them. Ids that match no row change nothing and log nothing.

mod canary;
mod log;
mod members;
mod read;
mod rules;

use protocol::model::management::groups::{GroupChange, GroupWrite};
use rusqlite::Transaction;

pub(super) use read::{
    group_instances, groups, load, route_rule_groups, route_rules, service_instances,
};

/// The write's rows and log rows, inside the caller's transaction.
pub(super) fn apply(tx: &Transaction<'_>, write: &GroupWrite, now_ms: i64) -> rusqlite::Result<()> {
    let log = log::Log {
        operator: &write.operator,
        now_ms,
    };
    match &write.change {
        GroupChange::UpsertRouteRules(rules) => rules::upsert_rules(tx, &log, rules),
        GroupChange::DeleteRouteRules(ids) => rules::delete_rules(tx, &log, ids),
        GroupChange::CreateRouteRule {
            rule,
            groups,
            links,
        } => rules::create_rule(tx, &log, rule, groups, links),
        GroupChange::UpsertRouteRuleGroups(links) => rules::upsert_links(tx, &log, links),
        GroupChange::ReleaseRouteRuleGroups(links) => rules::release_links(tx, &log, links),
        GroupChange::DeleteRouteRuleGroups(ids) => rules::delete_links(tx, &log, ids),
        GroupChange::UpsertGroups(groups) => members::upsert_groups(tx, &log, groups),
        GroupChange::DeleteGroups(ids) => members::delete_groups(tx, &log, ids),
        GroupChange::UpsertGroupTags(tags) => members::upsert_tags(tx, now_ms, tags),
        GroupChange::DeleteGroupTags {
            group_id,
            tag,
            value,
        } => members::delete_tags(tx, *group_id, tag.as_deref(), value.as_deref()),
        GroupChange::OperateGroups {
            operations,
            complete,
        } => members::operate_groups(tx, &log, operations, *complete),
        GroupChange::OperateGroup { group, complete } => {
            let group_id = members::ensure_group(tx, now_ms, group)?;
            let operation = (group_id, write.operator.operation.clone());
            members::operate_groups(tx, &log, &[operation], *complete)
        }
        GroupChange::InsertGroupInstances(members) => {
            members::insert_group_instances(tx, &log, members)
        }
        GroupChange::DeleteGroupInstances(ids) => members::delete_group_instances(tx, &log, ids),
        GroupChange::UpsertServiceInstances(instances) => {
            members::upsert_service_instances(tx, &log, instances)
        }
        GroupChange::DeleteServiceInstances(ids) => {
            members::delete_service_instances(tx, &log, ids)
        }
        GroupChange::UpdateCanary {
            service_id,
            app_id,
            region_id,
            instance_ids,
        } => canary::update(tx, &log, service_id, app_id, region_id, instance_ids),
    }
}

/// Each id once, in ascending order: a delete selects the rows it logs in id order, as Java's
/// `id in (..)` query returns them.
fn distinct_ids(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids
}
