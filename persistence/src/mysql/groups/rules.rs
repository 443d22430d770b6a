//! `service_route_rule` and `service_route_rule_group`: route rules and the weights of their
//! groups.

use mysql::prelude::Queryable;
use protocol::model::management::groups::{NewGroup, NewRouteRule, NewRouteRuleGroup};

use super::distinct_ids;
use super::log::Log;
use super::members::ensure_group;
use crate::mysql::seconds;

/// insert/update-route-rules: a rule's fields replace the stored ones and un-delete it.
const UPSERT_RULE: &str = "INSERT INTO service_route_rule
    (SERVICE_ID, NAME, DESCRIPTION, STATUS, strategy, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, 0, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE DESCRIPTION = VALUES(DESCRIPTION), STATUS = VALUES(STATUS),
        strategy = VALUES(strategy), DELETED = 0,
        DataChange_LastTime = VALUES(DataChange_LastTime)";
/// create-route-rule and canary (Java's `insert .. on duplicate key update deleted=false`): an
/// existing rule keeps its fields and is only un-deleted.
const ENSURE_RULE: &str = "INSERT INTO service_route_rule
    (SERVICE_ID, NAME, DESCRIPTION, STATUS, strategy, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, 0, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE DELETED = 0, DataChange_LastTime = VALUES(DataChange_LastTime)";
const RULE_ID: &str = "SELECT ID FROM service_route_rule WHERE SERVICE_ID = ? AND NAME = ?";
const LIVE_RULE: &str =
    "SELECT SERVICE_ID, NAME, STATUS FROM service_route_rule WHERE ID = ? AND DELETED = 0";
const SOFT_DELETE_RULE: &str =
    "UPDATE service_route_rule SET DELETED = 1, DataChange_LastTime = FROM_UNIXTIME(?) WHERE ID = ?";

const UPSERT_LINK: &str = "INSERT INTO service_route_rule_group
    (ROUTE_RULE_ID, GROUP_ID, UNRELEASED_WEIGHT, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE UNRELEASED_WEIGHT = VALUES(UNRELEASED_WEIGHT),
        DataChange_LastTime = VALUES(DataChange_LastTime)";
const RELEASE_LINK: &str = "UPDATE service_route_rule_group
    SET WEIGHT = UNRELEASED_WEIGHT, DataChange_LastTime = FROM_UNIXTIME(?)
    WHERE ROUTE_RULE_ID = ? AND GROUP_ID = ?";
const LINK: &str = "SELECT ROUTE_RULE_ID, GROUP_ID, UNRELEASED_WEIGHT
    FROM service_route_rule_group WHERE ID = ?";
const DELETE_LINK: &str = "DELETE FROM service_route_rule_group WHERE ID = ?";

fn insert_rule(
    tx: &mut impl Queryable,
    sql: &str,
    now_ms: i64,
    rule: &NewRouteRule,
) -> mysql::Result<()> {
    let at = seconds(now_ms);
    tx.exec_drop(
        sql,
        (
            &rule.service_id,
            &rule.name,
            &rule.description,
            &rule.status,
            &rule.strategy,
            at,
            at,
        ),
    )
}

pub(super) fn upsert_rules(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    rules: &[NewRouteRule],
) -> mysql::Result<()> {
    for rule in rules {
        insert_rule(tx, UPSERT_RULE, log.now_ms, rule)?;
        log.route_rule(tx, &rule.service_id, &rule.name, &rule.status)?;
    }
    Ok(())
}

/// Insert the rule unless it exists (un-deleting it), answering its id.
pub(super) fn ensure_rule(
    tx: &mut impl Queryable,
    now_ms: i64,
    rule: &NewRouteRule,
) -> mysql::Result<i64> {
    insert_rule(tx, ENSURE_RULE, now_ms, rule)?;
    let id: Option<i64> = tx.exec_first(RULE_ID, (&rule.service_id, &rule.name))?;
    Ok(id.expect("the rule was inserted or found by its key in this transaction"))
}

pub(super) fn delete_rules(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    ids: &[i64],
) -> mysql::Result<()> {
    for id in distinct_ids(ids) {
        let rule: Option<(String, String, String)> = tx.exec_first(LIVE_RULE, (id,))?;
        let Some((service_id, name, status)) = rule else {
            continue;
        };
        tx.exec_drop(SOFT_DELETE_RULE, (seconds(log.now_ms), id))?;
        log.route_rule(tx, &service_id, &name, &status)?;
    }
    Ok(())
}

/// create-route-rule: the rule, each group, then each link's unreleased weight.
pub(super) fn create_rule(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    rule: &NewRouteRule,
    groups: &[NewGroup],
    links: &[(usize, i32)],
) -> mysql::Result<()> {
    let rule_id = ensure_rule(tx, log.now_ms, rule)?;
    log.route_rule(tx, &rule.service_id, &rule.name, &rule.status)?;
    let mut group_ids = Vec::with_capacity(groups.len());
    for group in groups {
        group_ids.push(ensure_group(tx, log.now_ms, group)?);
        log.group(tx, group)?;
    }
    for &(index, weight) in links {
        let group_id = group_ids[index];
        upsert_link(tx, log.now_ms, rule_id, group_id, Some(weight))?;
        log.route_rule_group(tx, rule_id, group_id, Some(weight))?;
    }
    Ok(())
}

fn upsert_link(
    tx: &mut impl Queryable,
    now_ms: i64,
    rule_id: i64,
    group_id: i64,
    unreleased_weight: Option<i32>,
) -> mysql::Result<()> {
    let at = seconds(now_ms);
    tx.exec_drop(UPSERT_LINK, (rule_id, group_id, unreleased_weight, at, at))
}

pub(super) fn upsert_links(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    links: &[NewRouteRuleGroup],
) -> mysql::Result<()> {
    for link in links {
        upsert_link(
            tx,
            log.now_ms,
            link.route_rule_id,
            link.group_id,
            link.unreleased_weight,
        )?;
        log.route_rule_group(
            tx,
            link.route_rule_id,
            link.group_id,
            link.unreleased_weight,
        )?;
    }
    Ok(())
}

pub(super) fn release_links(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    links: &[NewRouteRuleGroup],
) -> mysql::Result<()> {
    for link in links {
        tx.exec_drop(
            RELEASE_LINK,
            (seconds(log.now_ms), link.route_rule_id, link.group_id),
        )?;
        log.route_rule_group(
            tx,
            link.route_rule_id,
            link.group_id,
            link.unreleased_weight,
        )?;
    }
    Ok(())
}

pub(super) fn delete_links(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    ids: &[i64],
) -> mysql::Result<()> {
    for id in distinct_ids(ids) {
        let link: Option<(i64, i64, Option<i32>)> = tx.exec_first(LINK, (id,))?;
        let Some((rule_id, group_id, unreleased_weight)) = link else {
            continue;
        };
        tx.exec_drop(DELETE_LINK, (id,))?;
        log.route_rule_group(tx, rule_id, group_id, unreleased_weight)?;
    }
    Ok(())
}
