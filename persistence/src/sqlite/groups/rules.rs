//! `service_route_rule` and `service_route_rule_group`: route rules and the weights of their
//! groups.

use protocol::model::management::groups::{NewGroup, NewRouteRule, NewRouteRuleGroup};
use rusqlite::{OptionalExtension, Transaction};

use super::distinct_ids;
use super::log::Log;
use super::members::ensure_group;

/// insert/update-route-rules: a rule's fields replace the stored ones and un-delete it.
const UPSERT_RULE: &str = "INSERT INTO service_route_rule
    (SERVICE_ID, NAME, DESCRIPTION, STATUS, strategy, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)
    ON CONFLICT (SERVICE_ID, NAME) DO UPDATE SET DESCRIPTION = excluded.DESCRIPTION,
        STATUS = excluded.STATUS, strategy = excluded.strategy, DELETED = 0,
        DataChange_LastTime = excluded.DataChange_LastTime";
/// create-route-rule and canary (Java's `insert .. on duplicate key update deleted=false`): an
/// existing rule keeps its fields and is only un-deleted.
const ENSURE_RULE: &str = "INSERT INTO service_route_rule
    (SERVICE_ID, NAME, DESCRIPTION, STATUS, strategy, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)
    ON CONFLICT (SERVICE_ID, NAME) DO UPDATE SET DELETED = 0,
        DataChange_LastTime = excluded.DataChange_LastTime";
const RULE_ID: &str = "SELECT ID FROM service_route_rule WHERE SERVICE_ID = ?1 AND NAME = ?2";
const LIVE_RULE: &str =
    "SELECT SERVICE_ID, NAME, STATUS FROM service_route_rule WHERE ID = ?1 AND DELETED = 0";
const SOFT_DELETE_RULE: &str =
    "UPDATE service_route_rule SET DELETED = 1, DataChange_LastTime = ?2 WHERE ID = ?1";

const UPSERT_LINK: &str = "INSERT INTO service_route_rule_group
    (ROUTE_RULE_ID, GROUP_ID, UNRELEASED_WEIGHT, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?4)
    ON CONFLICT (ROUTE_RULE_ID, GROUP_ID) DO UPDATE SET
        UNRELEASED_WEIGHT = excluded.UNRELEASED_WEIGHT,
        DataChange_LastTime = excluded.DataChange_LastTime";
const RELEASE_LINK: &str = "UPDATE service_route_rule_group
    SET WEIGHT = UNRELEASED_WEIGHT, DataChange_LastTime = ?3
    WHERE ROUTE_RULE_ID = ?1 AND GROUP_ID = ?2";
const LINK: &str = "SELECT ROUTE_RULE_ID, GROUP_ID, UNRELEASED_WEIGHT
    FROM service_route_rule_group WHERE ID = ?1";
const DELETE_LINK: &str = "DELETE FROM service_route_rule_group WHERE ID = ?1";

pub(super) fn upsert_rules(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    rules: &[NewRouteRule],
) -> rusqlite::Result<()> {
    for rule in rules {
        tx.prepare_cached(UPSERT_RULE)?.execute((
            &rule.service_id,
            &rule.name,
            &rule.description,
            &rule.status,
            &rule.strategy,
            log.now_ms,
        ))?;
        log.route_rule(tx, &rule.service_id, &rule.name, &rule.status)?;
    }
    Ok(())
}

/// Insert the rule unless it exists (un-deleting it), answering its id.
pub(super) fn ensure_rule(
    tx: &Transaction<'_>,
    now_ms: i64,
    rule: &NewRouteRule,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(ENSURE_RULE)?.execute((
        &rule.service_id,
        &rule.name,
        &rule.description,
        &rule.status,
        &rule.strategy,
        now_ms,
    ))?;
    tx.prepare_cached(RULE_ID)?
        .query_row((&rule.service_id, &rule.name), |row| row.get(0))
}

pub(super) fn delete_rules(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    ids: &[i64],
) -> rusqlite::Result<()> {
    for id in distinct_ids(ids) {
        let rule: Option<(String, String, String)> = tx
            .prepare_cached(LIVE_RULE)?
            .query_row([id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        let Some((service_id, name, status)) = rule else {
            continue;
        };
        tx.prepare_cached(SOFT_DELETE_RULE)?
            .execute((id, log.now_ms))?;
        log.route_rule(tx, &service_id, &name, &status)?;
    }
    Ok(())
}

/// create-route-rule: the rule, each group, then each link's unreleased weight.
pub(super) fn create_rule(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    rule: &NewRouteRule,
    groups: &[NewGroup],
    links: &[(usize, i32)],
) -> rusqlite::Result<()> {
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
    tx: &Transaction<'_>,
    now_ms: i64,
    rule_id: i64,
    group_id: i64,
    unreleased_weight: Option<i32>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(UPSERT_LINK)?
        .execute((rule_id, group_id, unreleased_weight, now_ms))?;
    Ok(())
}

pub(super) fn upsert_links(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    links: &[NewRouteRuleGroup],
) -> rusqlite::Result<()> {
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
    tx: &Transaction<'_>,
    log: &Log<'_>,
    links: &[NewRouteRuleGroup],
) -> rusqlite::Result<()> {
    for link in links {
        tx.prepare_cached(RELEASE_LINK)?.execute((
            link.route_rule_id,
            link.group_id,
            log.now_ms,
        ))?;
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
    tx: &Transaction<'_>,
    log: &Log<'_>,
    ids: &[i64],
) -> rusqlite::Result<()> {
    for id in distinct_ids(ids) {
        let link: Option<(i64, i64, Option<i32>)> = tx
            .prepare_cached(LINK)?
            .query_row([id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        let Some((rule_id, group_id, unreleased_weight)) = link else {
            continue;
        };
        tx.prepare_cached(DELETE_LINK)?.execute([id])?;
        log.route_rule_group(tx, rule_id, group_id, unreleased_weight)?;
    }
    Ok(())
}
