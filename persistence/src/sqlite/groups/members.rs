//! `service_group` and what hangs off a group: its tags, its operations (pull-outs) and its
//! listed instances; and `service_instance`, the logical instances.

use protocol::model::management::groups::{NewGroup, NewServiceInstance};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, Row, Transaction};

use super::distinct_ids;
use super::log::Log;

/// insert/update-groups: a group's fields replace the stored ones and un-delete it.
const UPSERT_GROUP: &str = "INSERT INTO service_group
    (SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, DESCRIPTION, STATUS, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)
    ON CONFLICT (SERVICE_ID, REGION_ID, ZONE_ID, NAME) DO UPDATE SET APP_ID = excluded.APP_ID,
        DESCRIPTION = excluded.DESCRIPTION, STATUS = excluded.STATUS, DELETED = 0,
        DataChange_LastTime = excluded.DataChange_LastTime";
/// Java's `GroupDao.insert` (`on duplicate key update deleted=false`): an existing group keeps
/// its fields and is only un-deleted.
const ENSURE_GROUP: &str = "INSERT INTO service_group
    (SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, DESCRIPTION, STATUS, DELETED, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)
    ON CONFLICT (SERVICE_ID, REGION_ID, ZONE_ID, NAME) DO UPDATE SET DELETED = 0,
        DataChange_LastTime = excluded.DataChange_LastTime";
const GROUP_ID: &str = "SELECT ID FROM service_group
    WHERE SERVICE_ID = ?1 AND REGION_ID = ?2 AND ZONE_ID = ?3 AND NAME = ?4";
const LIVE_GROUP: &str = "SELECT SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, DESCRIPTION, STATUS
    FROM service_group WHERE ID = ?1 AND DELETED = 0";
const SOFT_DELETE_GROUP: &str =
    "UPDATE service_group SET DELETED = 1, DataChange_LastTime = ?2 WHERE ID = ?1";

const UPSERT_TAG: &str = "INSERT INTO service_group_tag
    (GROUP_ID, TAG, VALUE, CREATE_TIME, DataChange_LastTime) VALUES (?1, ?2, ?3, ?4, ?4)
    ON CONFLICT (GROUP_ID, TAG) DO UPDATE SET VALUE = excluded.VALUE,
        DataChange_LastTime = excluded.DataChange_LastTime";

/// Java's `insert ignore`: a repeated pull-out changes nothing but is logged again.
const INSERT_OPERATION: &str = "INSERT INTO service_group_operation
    (GROUP_ID, OPERATION, CREATE_TIME, DataChange_LastTime) VALUES (?1, ?2, ?3, ?3)
    ON CONFLICT (GROUP_ID, OPERATION) DO NOTHING";
const DELETE_OPERATION: &str =
    "DELETE FROM service_group_operation WHERE GROUP_ID = ?1 AND OPERATION = ?2";

const INSERT_MEMBER: &str = "INSERT INTO service_group_instance
    (GROUP_ID, INSTANCE_ID, CREATE_TIME, DataChange_LastTime) VALUES (?1, ?2, ?3, ?3)
    ON CONFLICT (GROUP_ID, INSTANCE_ID) DO NOTHING";
const MEMBER: &str = "SELECT GROUP_ID, INSTANCE_ID FROM service_group_instance WHERE ID = ?1";
const DELETE_MEMBER: &str = "DELETE FROM service_group_instance WHERE ID = ?1";

const UPSERT_LOGIC: &str = "INSERT INTO service_instance
    (SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL, REGION_ID, ZONE_ID, GROUP_ID,
     HEALTHY_CHECK_URL, URL, DESCRIPTION, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)
    ON CONFLICT (SERVICE_ID, INSTANCE_ID) DO UPDATE SET IP = excluded.IP,
        MACHINE_NAME = excluded.MACHINE_NAME, METADATA = excluded.METADATA, PORT = excluded.PORT,
        PROTOCOL = excluded.PROTOCOL, REGION_ID = excluded.REGION_ID, ZONE_ID = excluded.ZONE_ID,
        GROUP_ID = excluded.GROUP_ID, HEALTHY_CHECK_URL = excluded.HEALTHY_CHECK_URL,
        URL = excluded.URL, DESCRIPTION = excluded.DESCRIPTION,
        DataChange_LastTime = excluded.DataChange_LastTime";
const LOGIC: &str = "SELECT SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL,
    REGION_ID, ZONE_ID, GROUP_ID, HEALTHY_CHECK_URL, URL, DESCRIPTION FROM service_instance WHERE ID = ?1";
const DELETE_LOGIC: &str = "DELETE FROM service_instance WHERE ID = ?1";

fn insert_group(
    tx: &Transaction<'_>,
    sql: &str,
    now_ms: i64,
    g: &NewGroup,
) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute(params![
        g.service_id,
        g.region_id,
        g.zone_id,
        g.name,
        g.app_id,
        g.description,
        g.status,
        now_ms,
    ])?;
    Ok(())
}

pub(super) fn upsert_groups(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    groups: &[NewGroup],
) -> rusqlite::Result<()> {
    for group in groups {
        insert_group(tx, UPSERT_GROUP, log.now_ms, group)?;
        log.group(tx, group)?;
    }
    Ok(())
}

/// Insert the group unless it exists (un-deleting it), answering its id (Java's
/// `GroupDao.generateGroup`; not logged).
pub(super) fn ensure_group(
    tx: &Transaction<'_>,
    now_ms: i64,
    group: &NewGroup,
) -> rusqlite::Result<i64> {
    insert_group(tx, ENSURE_GROUP, now_ms, group)?;
    tx.prepare_cached(GROUP_ID)?.query_row(
        (
            &group.service_id,
            &group.region_id,
            &group.zone_id,
            &group.name,
        ),
        |row| row.get(0),
    )
}

pub(super) fn delete_groups(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    ids: &[i64],
) -> rusqlite::Result<()> {
    for id in distinct_ids(ids) {
        let group = tx
            .prepare_cached(LIVE_GROUP)?
            .query_row([id], |row| {
                Ok(NewGroup {
                    service_id: row.get(0)?,
                    region_id: row.get(1)?,
                    zone_id: row.get(2)?,
                    name: row.get(3)?,
                    app_id: row.get(4)?,
                    description: row.get(5)?,
                    status: row.get(6)?,
                })
            })
            .optional()?;
        let Some(group) = group else {
            continue;
        };
        tx.prepare_cached(SOFT_DELETE_GROUP)?
            .execute((id, log.now_ms))?;
        log.group(tx, &group)?;
    }
    Ok(())
}

/// No log row: Java's tag writes log nothing.
pub(super) fn upsert_tags(
    tx: &Transaction<'_>,
    now_ms: i64,
    tags: &[(i64, String, String)],
) -> rusqlite::Result<()> {
    for (group_id, tag, value) in tags {
        tx.prepare_cached(UPSERT_TAG)?
            .execute((group_id, tag, value, now_ms))?;
    }
    Ok(())
}

/// Every tag row matching all the given fields (`GroupTagDao.delete`). No log row.
pub(super) fn delete_tags(
    tx: &Transaction<'_>,
    group_id: Option<i64>,
    tag: Option<&str>,
    value: Option<&str>,
) -> rusqlite::Result<()> {
    let mut conditions = Vec::new();
    let mut args = Vec::new();
    if let Some(group_id) = group_id {
        conditions.push("GROUP_ID = ?");
        args.push(Value::Integer(group_id));
    }
    for (column, text) in [("TAG = ?", tag), ("VALUE = ?", value)] {
        if let Some(text) = text {
            conditions.push(column);
            args.push(Value::Text(text.to_owned()));
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
    tx.prepare_cached(&sql)?.execute(params_from_iter(args))?;
    Ok(())
}

/// Record (`complete == false`) or drop each `(group id, operation)`, logging each.
pub(super) fn operate_groups(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    operations: &[(i64, String)],
    complete: bool,
) -> rusqlite::Result<()> {
    for (group_id, operation) in operations {
        if complete {
            tx.prepare_cached(DELETE_OPERATION)?
                .execute((group_id, operation))?;
        } else {
            tx.prepare_cached(INSERT_OPERATION)?
                .execute((group_id, operation, log.now_ms))?;
        }
        log.group_operation(tx, *group_id, operation, complete)?;
    }
    Ok(())
}

/// Java's `insert ignore`: an instance already listed is logged again and left as it was.
pub(super) fn insert_group_instances(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    members: &[(i64, String)],
) -> rusqlite::Result<()> {
    for (group_id, instance_id) in members {
        insert_group_instance(tx, log.now_ms, *group_id, instance_id)?;
        log.group_instance(tx, *group_id, instance_id)?;
    }
    Ok(())
}

pub(super) fn insert_group_instance(
    tx: &Transaction<'_>,
    now_ms: i64,
    group_id: i64,
    instance_id: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(INSERT_MEMBER)?
        .execute((group_id, instance_id, now_ms))?;
    Ok(())
}

pub(super) fn delete_group_instances(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    ids: &[i64],
) -> rusqlite::Result<()> {
    for id in distinct_ids(ids) {
        let member: Option<(i64, String)> = tx
            .prepare_cached(MEMBER)?
            .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((group_id, instance_id)) = member else {
            continue;
        };
        delete_group_instance(tx, id)?;
        log.group_instance(tx, group_id, &instance_id)?;
    }
    Ok(())
}

pub(super) fn delete_group_instance(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(DELETE_MEMBER)?.execute([id])?;
    Ok(())
}

pub(super) fn upsert_service_instances(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    instances: &[NewServiceInstance],
) -> rusqlite::Result<()> {
    for i in instances {
        tx.prepare_cached(UPSERT_LOGIC)?.execute(params![
            i.service_id,
            i.instance_id,
            i.ip,
            i.machine_name,
            i.metadata,
            i.port,
            i.protocol,
            i.region_id,
            i.zone_id,
            i.group_id,
            i.health_check_url,
            i.url,
            i.description,
            log.now_ms,
        ])?;
        log.service_instance(tx, i)?;
    }
    Ok(())
}

fn logic_instance(row: &Row<'_>) -> rusqlite::Result<NewServiceInstance> {
    Ok(NewServiceInstance {
        service_id: row.get(0)?,
        instance_id: row.get(1)?,
        ip: row.get(2)?,
        machine_name: row.get(3)?,
        metadata: row.get(4)?,
        port: row.get(5)?,
        protocol: row.get(6)?,
        region_id: row.get(7)?,
        zone_id: row.get(8)?,
        group_id: row.get(9)?,
        health_check_url: row.get(10)?,
        url: row.get(11)?,
        description: row.get(12)?,
    })
}

pub(super) fn delete_service_instances(
    tx: &Transaction<'_>,
    log: &Log<'_>,
    ids: &[i64],
) -> rusqlite::Result<()> {
    for id in distinct_ids(ids) {
        let instance = tx
            .prepare_cached(LOGIC)?
            .query_row([id], logic_instance)
            .optional()?;
        let Some(instance) = instance else {
            continue;
        };
        tx.prepare_cached(DELETE_LOGIC)?.execute([id])?;
        log.service_instance(tx, &instance)?;
    }
    Ok(())
}
