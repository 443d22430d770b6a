//! canary/update-canary-ips (spec §10.7, Java's `CanaryServiceImpl`): the canary rule, the
//! canary group, their link, and the group's instance list made exactly the canary IPs.

use mysql::prelude::Queryable;
use protocol::model::management::groups::{NewGroup, NewRouteRule, CANARY_ROUTE_RULE};

use super::log::Log;
use super::members::{delete_group_instance, ensure_group, insert_group_instance};
use super::rules::ensure_rule;
use crate::mysql::seconds;

/// `CanaryServices.CANARY_ZONE_ID`.
const CANARY_ZONE: &str = "canary";
/// `ServiceGroups.DEFAULT_WEIGHT_VALUE`, the canary group's unreleased weight.
const CANARY_WEIGHT: i32 = 5;

/// Java's `RouteRuleGroupDao.generateGroup` looks the link up by group only.
const GROUP_LINKED: &str = "SELECT 1 FROM service_route_rule_group WHERE GROUP_ID = ? LIMIT 1";
const LINK: &str = "INSERT INTO service_route_rule_group
    (ROUTE_RULE_ID, GROUP_ID, UNRELEASED_WEIGHT, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE ID = ID";
const MEMBERS: &str =
    "SELECT ID, INSTANCE_ID FROM service_group_instance WHERE GROUP_ID = ? ORDER BY ID";

pub(super) fn update(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    service_id: &str,
    app_id: &str,
    region_id: &str,
    instance_ids: &[String],
) -> mysql::Result<()> {
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
    let linked: Option<i64> = tx.exec_first(GROUP_LINKED, (group_id,))?;
    if linked.is_none() {
        let at = seconds(log.now_ms);
        tx.exec_drop(LINK, (rule_id, group_id, CANARY_WEIGHT, at, at))?;
    }
    let members: Vec<(i64, String)> = tx.exec(MEMBERS, (group_id,))?;
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
