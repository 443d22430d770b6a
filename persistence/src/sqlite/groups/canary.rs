//! canary/update-canary-ips (spec §10.7, Java's `CanaryServiceImpl`): the canary rule, the
//! canary group, their link, and the group's instance list made exactly the canary IPs.

use protocol::model::management::groups::{NewGroup, NewRouteRule, CANARY_ROUTE_RULE};
use rusqlite::Transaction;

use super::log::Log;
use super::members::{delete_group_instance, ensure_group, insert_group_instance};
use super::rules::ensure_rule;

/// `CanaryServices.CANARY_ZONE_ID`.
const CANARY_ZONE: &str = "canary";
/// `ServiceGroups.DEFAULT_WEIGHT_VALUE`, the canary group's unreleased weight.
const CANARY_WEIGHT: i32 = 5;

/// Java's `RouteRuleGroupDao.generateGroup` looks the link up by group only.
const GROUP_LINKED: &str = "SELECT 1 FROM service_route_rule_group WHERE GROUP_ID = ?1 LIMIT 1";
const LINK: &str = "INSERT INTO service_route_rule_group
    (ROUTE_RULE_ID, GROUP_ID, UNRELEASED_WEIGHT, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?4)
    ON CONFLICT (ROUTE_RULE_ID, GROUP_ID) DO NOTHING";
const MEMBERS: &str =
    "SELECT ID, INSTANCE_ID FROM service_group_instance WHERE GROUP_ID = ?1 ORDER BY ID";

pub(super) fn update(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    service_id: &str,
    app_id: &str,
    region_id: &str,
    instance_ids: &[String],
) -> rusqlite::Result<()> {
    let rule = NewRouteRule {
        service_id: service_id.to_owned(),
        name: CANARY_ROUTE_RULE.to_owned(),
        description: None,
        status: "active".to_owned(),
        strategy: "weighted-round-robin".to_owned(),
    };
    let rule_id = ensure_rule(tx, log.now_ms, &rule)?;
    let group = NewGroup {
        service_id: service_id.to_owned(),
        region_id: region_id.to_owned(),
        zone_id: CANARY_ZONE.to_owned(),
        name: app_id.to_owned(),
        app_id: app_id.to_owned(),
        description: None,
        status: "active".to_owned(),
    };
    let group_id = ensure_group(tx, log.now_ms, &group)?;
    if !tx.prepare_cached(GROUP_LINKED)?.exists([group_id])? {
        tx.prepare_cached(LINK)?
            .execute((rule_id, group_id, CANARY_WEIGHT, log.now_ms))?;
    }
    let members: Vec<(i64, String)> = tx
        .prepare_cached(MEMBERS)?
        .query_map([group_id], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // Compared exactly, as Java's HashSet does.
    for (id, instance_id) in &members {
        if !instance_ids.contains(instance_id) {
            delete_group_instance(tx, *id)?;
            log.group_instance(tx, group_id, instance_id)?;
        }
    }
    for instance_id in instance_ids {
        if !members.iter().any(|(_, listed)| listed == instance_id) {
            insert_group_instance(tx, log.now_ms, group_id, instance_id)?;
            log.group_instance(tx, group_id, instance_id)?;
        }
    }
    Ok(())
}
