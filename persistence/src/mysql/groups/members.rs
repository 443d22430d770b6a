//! `service_group` and what hangs off a group: its tags, its operations (pull-outs) and its
//! listed instances; and `service_instance`, the logical instances.

use mysql::prelude::Queryable;
use mysql::{Params, Row, Value};
use protocol::model::management::groups::{NewGroup, NewServiceInstance};

use super::distinct_ids;
use super::log::Log;
use crate::mysql::rows::Columns;
use crate::mysql::seconds;

/// insert/update-groups: a group's fields replace the stored ones and un-delete it.
const UPSERT_GROUP: &str = "INSERT INTO service_group
    (SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, DESCRIPTION, STATUS, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, ?, ?, 0, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE APP_ID = VALUES(APP_ID), DESCRIPTION = VALUES(DESCRIPTION),
        STATUS = VALUES(STATUS), DELETED = 0, DataChange_LastTime = VALUES(DataChange_LastTime)";
/// Java's `GroupDao.insert` (`on duplicate key update deleted=false`): an existing group keeps
/// its fields and is only un-deleted.
const ENSURE_GROUP: &str = "INSERT INTO service_group
    (SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, DESCRIPTION, STATUS, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, ?, ?, 0, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE DELETED = 0, DataChange_LastTime = VALUES(DataChange_LastTime)";
const GROUP_ID: &str = "SELECT ID FROM service_group
    WHERE SERVICE_ID = ? AND REGION_ID = ? AND ZONE_ID = ? AND NAME = ?";
const LIVE_GROUP: &str = "SELECT SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, DESCRIPTION, STATUS
    FROM service_group WHERE ID = ? AND DELETED = 0";
const SOFT_DELETE_GROUP: &str =
    "UPDATE service_group SET DELETED = 1, DataChange_LastTime = FROM_UNIXTIME(?) WHERE ID = ?";

const UPSERT_TAG: &str = "INSERT INTO service_group_tag
    (GROUP_ID, TAG, VALUE, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE VALUE = VALUES(VALUE), DataChange_LastTime = VALUES(DataChange_LastTime)";

/// Java's `insert ignore`, without ignoring anything but the duplicate: a repeated pull-out
/// changes nothing but is logged again.
const INSERT_OPERATION: &str = "INSERT INTO service_group_operation
    (GROUP_ID, OPERATION, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE ID = ID";
const DELETE_OPERATION: &str =
    "DELETE FROM service_group_operation WHERE GROUP_ID = ? AND OPERATION = ?";

const INSERT_MEMBER: &str = "INSERT INTO service_group_instance
    (GROUP_ID, INSTANCE_ID, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE ID = ID";
const MEMBER: &str = "SELECT GROUP_ID, INSTANCE_ID FROM service_group_instance WHERE ID = ?";
const DELETE_MEMBER: &str = "DELETE FROM service_group_instance WHERE ID = ?";

const UPSERT_LOGIC: &str = "INSERT INTO service_instance
    (SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL, REGION_ID, ZONE_ID, GROUP_ID,
     HEALTHY_CHECK_URL, URL, DESCRIPTION, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE IP = VALUES(IP), MACHINE_NAME = VALUES(MACHINE_NAME),
        METADATA = VALUES(METADATA), PORT = VALUES(PORT), PROTOCOL = VALUES(PROTOCOL),
        REGION_ID = VALUES(REGION_ID), ZONE_ID = VALUES(ZONE_ID), GROUP_ID = VALUES(GROUP_ID),
        HEALTHY_CHECK_URL = VALUES(HEALTHY_CHECK_URL), URL = VALUES(URL),
        DESCRIPTION = VALUES(DESCRIPTION), DataChange_LastTime = VALUES(DataChange_LastTime)";
const LOGIC: &str = "SELECT SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL,
    REGION_ID, ZONE_ID, GROUP_ID, HEALTHY_CHECK_URL, URL, DESCRIPTION FROM service_instance WHERE ID = ?";
const DELETE_LOGIC: &str = "DELETE FROM service_instance WHERE ID = ?";

fn insert_group(
    tx: &mut impl Queryable,
    sql: &str,
    now_ms: i64,
    g: &NewGroup,
) -> mysql::Result<()> {
    let at = seconds(now_ms);
    tx.exec_drop(
        sql,
        (
            &g.service_id,
            &g.region_id,
            &g.zone_id,
            &g.name,
            &g.app_id,
            &g.description,
            &g.status,
            at,
            at,
        ),
    )
}

pub(super) fn upsert_groups(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    groups: &[NewGroup],
) -> mysql::Result<()> {
    for group in groups {
        insert_group(tx, UPSERT_GROUP, log.now_ms, group)?;
        log.group(tx, group)?;
    }
    Ok(())
}

/// Insert the group unless it exists (un-deleting it), answering its id (Java's
/// `GroupDao.generateGroup`; not logged).
pub(super) fn ensure_group(
    tx: &mut impl Queryable,
    now_ms: i64,
    group: &NewGroup,
) -> mysql::Result<i64> {
    insert_group(tx, ENSURE_GROUP, now_ms, group)?;
    let id: Option<i64> = tx.exec_first(
        GROUP_ID,
        (
            &group.service_id,
            &group.region_id,
            &group.zone_id,
            &group.name,
        ),
    )?;
    Ok(id.expect("the group was inserted or found by its key in this transaction"))
}

pub(super) fn delete_groups(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    ids: &[i64],
) -> mysql::Result<()> {
    for id in distinct_ids(ids) {
        let row: Option<Row> = tx.exec_first(LIVE_GROUP, (id,))?;
        let Some(row) = row else {
            continue;
        };
        let mut c = Columns::new(row);
        let group = NewGroup {
            service_id: c.next()?,
            region_id: c.next()?,
            zone_id: c.next()?,
            name: c.next()?,
            app_id: c.next()?,
            description: c.next()?,
            status: c.next()?,
        };
        tx.exec_drop(SOFT_DELETE_GROUP, (seconds(log.now_ms), id))?;
        log.group(tx, &group)?;
    }
    Ok(())
}

/// No log row: Java's tag writes log nothing.
pub(super) fn upsert_tags(
    tx: &mut impl Queryable,
    now_ms: i64,
    tags: &[(i64, String, String)],
) -> mysql::Result<()> {
    let at = seconds(now_ms);
    for (group_id, tag, value) in tags {
        tx.exec_drop(UPSERT_TAG, (group_id, tag, value, at, at))?;
    }
    Ok(())
}

/// Every tag row matching all the given fields (`GroupTagDao.delete`). No log row.
pub(super) fn delete_tags(
    tx: &mut impl Queryable,
    group_id: Option<i64>,
    tag: Option<&str>,
    value: Option<&str>,
) -> mysql::Result<()> {
    let mut conditions = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    if let Some(group_id) = group_id {
        conditions.push("GROUP_ID = ?");
        args.push(group_id.into());
    }
    for (column, text) in [("TAG = ?", tag), ("VALUE = ?", value)] {
        if let Some(text) = text {
            conditions.push(column);
            args.push(text.into());
        }
    }
    // Validation refuses a delete without a condition; should one come anyway, it deletes
    // nothing rather than every tag.
    if conditions.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM service_group_tag WHERE {}",
        conditions.join(" AND ")
    );
    tx.exec_drop(sql, Params::Positional(args))
}

/// Record (`complete == false`) or drop each `(group id, operation)`, logging each.
pub(super) fn operate_groups(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    operations: &[(i64, String)],
    complete: bool,
) -> mysql::Result<()> {
    let at = seconds(log.now_ms);
    for (group_id, operation) in operations {
        if complete {
            tx.exec_drop(DELETE_OPERATION, (group_id, operation))?;
        } else {
            tx.exec_drop(INSERT_OPERATION, (group_id, operation, at, at))?;
        }
        log.group_operation(tx, *group_id, operation, complete)?;
    }
    Ok(())
}

/// Java's `insert ignore`: an instance already listed is logged again and left as it was.
pub(super) fn insert_group_instances(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    members: &[(i64, String)],
) -> mysql::Result<()> {
    for (group_id, instance_id) in members {
        insert_group_instance(tx, log.now_ms, *group_id, instance_id)?;
        log.group_instance(tx, *group_id, instance_id)?;
    }
    Ok(())
}

pub(super) fn insert_group_instance(
    tx: &mut impl Queryable,
    now_ms: i64,
    group_id: i64,
    instance_id: &str,
) -> mysql::Result<()> {
    let at = seconds(now_ms);
    tx.exec_drop(INSERT_MEMBER, (group_id, instance_id, at, at))
}

pub(super) fn delete_group_instances(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    ids: &[i64],
) -> mysql::Result<()> {
    for id in distinct_ids(ids) {
        let member: Option<(i64, String)> = tx.exec_first(MEMBER, (id,))?;
        let Some((group_id, instance_id)) = member else {
            continue;
        };
        delete_group_instance(tx, id)?;
        log.group_instance(tx, group_id, &instance_id)?;
    }
    Ok(())
}

pub(super) fn delete_group_instance(tx: &mut impl Queryable, id: i64) -> mysql::Result<()> {
    tx.exec_drop(DELETE_MEMBER, (id,))
}

pub(super) fn upsert_service_instances(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    instances: &[NewServiceInstance],
) -> mysql::Result<()> {
    let at = seconds(log.now_ms);
    for i in instances {
        let values: Vec<Value> = vec![
            i.service_id.as_str().into(),
            i.instance_id.as_str().into(),
            i.ip.as_str().into(),
            i.machine_name.as_str().into(),
            i.metadata.as_str().into(),
            i.port.into(),
            i.protocol.as_str().into(),
            i.region_id.as_str().into(),
            i.zone_id.as_str().into(),
            i.group_id.as_str().into(),
            i.health_check_url.as_str().into(),
            i.url.as_str().into(),
            i.description.as_deref().into(),
            at.into(),
            at.into(),
        ];
        tx.exec_drop(UPSERT_LOGIC, Params::Positional(values))?;
        log.service_instance(tx, i)?;
    }
    Ok(())
}

fn logic_instance(row: Row) -> mysql::Result<NewServiceInstance> {
    let mut c = Columns::new(row);
    Ok(NewServiceInstance {
        service_id: c.next()?,
        instance_id: c.next()?,
        ip: c.next()?,
        machine_name: c.next()?,
        metadata: c.next()?,
        port: c.next()?,
        protocol: c.next()?,
        region_id: c.next()?,
        zone_id: c.next()?,
        group_id: c.next()?,
        health_check_url: c.next()?,
        url: c.next()?,
        description: c.next()?,
    })
}

pub(super) fn delete_service_instances(
    tx: &mut impl Queryable,
    log: &Log<'_>,
    ids: &[i64],
) -> mysql::Result<()> {
    for id in distinct_ids(ids) {
        let row: Option<Row> = tx.exec_first(LOGIC, (id,))?;
        let Some(row) = row else {
            continue;
        };
        let instance = logic_instance(row)?;
        tx.exec_drop(DELETE_LOGIC, (id,))?;
        log.service_instance(tx, &instance)?;
    }
    Ok(())
}
