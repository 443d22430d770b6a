//! Pull-out rows (`instance`, `server`, `service_zone`) and their log rows.
//!
//! SQL is written once per statement and prepared through the connection's statement cache, so a
//! group commit of many writes parses nothing twice. The upsert is SQLite's `ON CONFLICT` (MySQL
//! spells it `ON DUPLICATE KEY UPDATE`, as Java's DAOs do); the rest is plain SQL.

use protocol::model::management::{
    InstanceKey, ManagementSnapshot, ManagementWrite, ServerKey, Target, ZoneKey,
};
use rusqlite::{params, Connection, Transaction};

/// Java upserts the row and refreshes who asked (`on duplicate key update operator_id, token`).
/// The key columns keep their first spelling, as the snapshot's entries do.
const UPSERT_INSTANCE: &str = "INSERT INTO instance
    (REGION_ID, SERVICE_ID, INSTANCE_ID, OPERATION, OPERATOR_ID, TOKEN, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?6)
    ON CONFLICT (INSTANCE_ID, SERVICE_ID, REGION_ID, OPERATION)
    DO UPDATE SET OPERATOR_ID = excluded.OPERATOR_ID, DataChange_LastTime = excluded.DataChange_LastTime";
const DELETE_INSTANCE: &str = "DELETE FROM instance
    WHERE REGION_ID = ?1 AND SERVICE_ID = ?2 AND INSTANCE_ID = ?3 AND OPERATION = ?4";
const LOG_INSTANCE: &str = "INSERT INTO instance_log
    (REGION_ID, SERVICE_ID, INSTANCE_ID, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, COMPLETE, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?8)";

const UPSERT_SERVER: &str = "INSERT INTO server
    (REGION_ID, SERVER_ID, OPERATION, OPERATOR_ID, TOKEN, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, '', ?5, ?5)
    ON CONFLICT (SERVER_ID, REGION_ID, OPERATION)
    DO UPDATE SET OPERATOR_ID = excluded.OPERATOR_ID, DataChange_LastTime = excluded.DataChange_LastTime";
const DELETE_SERVER: &str =
    "DELETE FROM server WHERE REGION_ID = ?1 AND SERVER_ID = ?2 AND OPERATION = ?3";
const LOG_SERVER: &str = "INSERT INTO server_log
    (REGION_ID, SERVER_ID, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, COMPLETE, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?7)";

/// `service_zone` has no operator columns: a repeated pull-out only refreshes the update time.
const UPSERT_ZONE: &str = "INSERT INTO service_zone
    (REGION_ID, SERVICE_ID, ZONE_ID, OPERATION, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, ?5)
    ON CONFLICT (SERVICE_ID, REGION_ID, ZONE_ID, OPERATION)
    DO UPDATE SET DataChange_LastTime = excluded.DataChange_LastTime";
const DELETE_ZONE: &str = "DELETE FROM service_zone
    WHERE REGION_ID = ?1 AND SERVICE_ID = ?2 AND ZONE_ID = ?3 AND OPERATION = ?4";
const LOG_ZONE: &str = "INSERT INTO service_zone_log
    (REGION_ID, SERVICE_ID, ZONE_ID, OPERATION, OPERATOR_ID, TOKEN, REASON, COMPLETE, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?8)";

/// One write's rows and log rows, inside the caller's transaction.
pub(super) fn apply(
    tx: &Transaction<'_>,
    write: &ManagementWrite,
    now_ms: i64,
) -> rusqlite::Result<()> {
    for (target, operation) in &write.targets {
        match target {
            Target::Instance(key) => instance(tx, key, operation, write, now_ms)?,
            Target::Server(key) => server(tx, key, operation, write, now_ms)?,
            Target::Zone(key) => zone(tx, key, operation, write, now_ms)?,
        }
    }
    Ok(())
}

fn instance(
    tx: &Transaction<'_>,
    key: &InstanceKey,
    operation: &str,
    write: &ManagementWrite,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let (region, service, id) = (&key.region_id, &key.service_id, &key.instance_id);
    let operator = &write.operator;
    if write.complete {
        tx.prepare_cached(DELETE_INSTANCE)?
            .execute((region, service, id, operation))?;
    } else {
        tx.prepare_cached(UPSERT_INSTANCE)?.execute((
            region,
            service,
            id,
            operation,
            &operator.operator_id,
            now_ms,
        ))?;
    }
    tx.prepare_cached(LOG_INSTANCE)?.execute(params![
        region,
        service,
        id,
        operation,
        &operator.operator_id,
        &operator.extensions,
        write.complete,
        now_ms,
    ])?;
    Ok(())
}

fn server(
    tx: &Transaction<'_>,
    key: &ServerKey,
    operation: &str,
    write: &ManagementWrite,
    now_ms: i64,
) -> rusqlite::Result<()> {
    if write.complete {
        tx.prepare_cached(DELETE_SERVER)?
            .execute((&key.region_id, &key.server_id, operation))?;
    } else {
        tx.prepare_cached(UPSERT_SERVER)?.execute((
            &key.region_id,
            &key.server_id,
            operation,
            &write.operator.operator_id,
            now_ms,
        ))?;
    }
    tx.prepare_cached(LOG_SERVER)?.execute((
        &key.region_id,
        &key.server_id,
        operation,
        &write.operator.operator_id,
        &write.operator.extensions,
        write.complete,
        now_ms,
    ))?;
    Ok(())
}

fn zone(
    tx: &Transaction<'_>,
    key: &ZoneKey,
    operation: &str,
    write: &ManagementWrite,
    now_ms: i64,
) -> rusqlite::Result<()> {
    let (region, service, id) = (&key.region_id, &key.service_id, &key.zone_id);
    let operator = &write.operator;
    if write.complete {
        tx.prepare_cached(DELETE_ZONE)?
            .execute((region, service, id, operation))?;
    } else {
        tx.prepare_cached(UPSERT_ZONE)?
            .execute((region, service, id, operation, now_ms))?;
    }
    tx.prepare_cached(LOG_ZONE)?.execute(params![
        region,
        service,
        id,
        operation,
        &operator.operator_id,
        &operator.reason,
        write.complete,
        now_ms,
    ])?;
    Ok(())
}

/// Every pull-out row, oldest first, so each snapshot entry keeps the spelling first written.
pub(super) fn load(conn: &Connection) -> rusqlite::Result<ManagementSnapshot> {
    let mut snapshot = ManagementSnapshot::default();
    let mut rows = conn.prepare(
        "SELECT REGION_ID, SERVICE_ID, INSTANCE_ID, OPERATION FROM instance ORDER BY ID",
    )?;
    let mut rows = rows.query([])?;
    while let Some(row) = rows.next()? {
        let key = InstanceKey {
            region_id: row.get(0)?,
            service_id: row.get(1)?,
            instance_id: row.get(2)?,
        };
        snapshot.insert(Target::Instance(key), &row.get::<_, String>(3)?);
    }
    let mut rows =
        conn.prepare("SELECT REGION_ID, SERVER_ID, OPERATION FROM server ORDER BY ID")?;
    let mut rows = rows.query([])?;
    while let Some(row) = rows.next()? {
        let key = ServerKey {
            region_id: row.get(0)?,
            server_id: row.get(1)?,
        };
        snapshot.insert(Target::Server(key), &row.get::<_, String>(2)?);
    }
    let mut rows = conn.prepare(
        "SELECT REGION_ID, SERVICE_ID, ZONE_ID, OPERATION FROM service_zone ORDER BY ID",
    )?;
    let mut rows = rows.query([])?;
    while let Some(row) = rows.next()? {
        let key = ZoneKey {
            region_id: row.get(0)?,
            service_id: row.get(1)?,
            zone_id: row.get(2)?,
        };
        snapshot.insert(Target::Zone(key), &row.get::<_, String>(3)?);
    }
    Ok(snapshot)
}
