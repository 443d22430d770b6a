//! Pull-out rows (`instance`, `server`, `service_zone`) and their log rows, written as Java's
//! DAOs write them (`on duplicate key update`).

use mysql::prelude::Queryable;
use protocol::model::management::{
    InstanceKey, ManagementSnapshot, ManagementWrite, ServerKey, Target, ZoneKey,
};

use super::seconds;

/// Java upserts the row and refreshes who asked. The key columns keep their first spelling, as
/// the snapshot's entries do.
const UPSERT_INSTANCE: &str = "INSERT INTO instance
    (REGION_ID, SERVICE_ID, INSTANCE_ID, OPERATION, OPERATOR_ID, TOKEN, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, '', FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE OPERATOR_ID = VALUES(OPERATOR_ID),
        DataChange_LastTime = VALUES(DataChange_LastTime)";
const DELETE_INSTANCE: &str = "DELETE FROM instance
    WHERE REGION_ID = ? AND SERVICE_ID = ? AND INSTANCE_ID = ? AND OPERATION = ?";
const LOG_INSTANCE: &str = "INSERT INTO instance_log
    (REGION_ID, SERVICE_ID, INSTANCE_ID, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, COMPLETE, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, '', ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";

const UPSERT_SERVER: &str = "INSERT INTO server
    (REGION_ID, SERVER_ID, OPERATION, OPERATOR_ID, TOKEN, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, '', FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE OPERATOR_ID = VALUES(OPERATOR_ID),
        DataChange_LastTime = VALUES(DataChange_LastTime)";
const DELETE_SERVER: &str =
    "DELETE FROM server WHERE REGION_ID = ? AND SERVER_ID = ? AND OPERATION = ?";
const LOG_SERVER: &str = "INSERT INTO server_log
    (REGION_ID, SERVER_ID, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, COMPLETE, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, '', ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";

/// `service_zone` has no operator columns: a repeated pull-out only refreshes the update time.
const UPSERT_ZONE: &str = "INSERT INTO service_zone
    (REGION_ID, SERVICE_ID, ZONE_ID, OPERATION, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))
    ON DUPLICATE KEY UPDATE DataChange_LastTime = VALUES(DataChange_LastTime)";
const DELETE_ZONE: &str = "DELETE FROM service_zone
    WHERE REGION_ID = ? AND SERVICE_ID = ? AND ZONE_ID = ? AND OPERATION = ?";
const LOG_ZONE: &str = "INSERT INTO service_zone_log
    (REGION_ID, SERVICE_ID, ZONE_ID, OPERATION, OPERATOR_ID, TOKEN, REASON, COMPLETE, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, '', ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";

/// One write's rows and log rows, inside the caller's transaction.
pub(super) fn apply(
    tx: &mut impl Queryable,
    write: &ManagementWrite,
    now_ms: i64,
) -> mysql::Result<()> {
    let at = seconds(now_ms);
    let operator = &write.operator;
    for (target, operation) in &write.targets {
        match target {
            Target::Instance(InstanceKey {
                region_id,
                service_id,
                instance_id,
            }) => {
                let key = (region_id, service_id, instance_id, operation);
                if write.complete {
                    tx.exec_drop(DELETE_INSTANCE, key)?;
                } else {
                    tx.exec_drop(
                        UPSERT_INSTANCE,
                        (key.0, key.1, key.2, key.3, &operator.operator_id, at, at),
                    )?;
                }
                tx.exec_drop(
                    LOG_INSTANCE,
                    (
                        key.0,
                        key.1,
                        key.2,
                        key.3,
                        &operator.operator_id,
                        &operator.extensions,
                        write.complete,
                        at,
                        at,
                    ),
                )?;
            }
            Target::Server(ServerKey {
                region_id,
                server_id,
            }) => {
                if write.complete {
                    tx.exec_drop(DELETE_SERVER, (region_id, server_id, operation))?;
                } else {
                    tx.exec_drop(
                        UPSERT_SERVER,
                        (
                            region_id,
                            server_id,
                            operation,
                            &operator.operator_id,
                            at,
                            at,
                        ),
                    )?;
                }
                tx.exec_drop(
                    LOG_SERVER,
                    (
                        region_id,
                        server_id,
                        operation,
                        &operator.operator_id,
                        &operator.extensions,
                        write.complete,
                        at,
                        at,
                    ),
                )?;
            }
            Target::Zone(ZoneKey {
                region_id,
                service_id,
                zone_id,
            }) => {
                let key = (region_id, service_id, zone_id, operation);
                if write.complete {
                    tx.exec_drop(DELETE_ZONE, key)?;
                } else {
                    tx.exec_drop(UPSERT_ZONE, (key.0, key.1, key.2, key.3, at, at))?;
                }
                tx.exec_drop(
                    LOG_ZONE,
                    (
                        key.0,
                        key.1,
                        key.2,
                        key.3,
                        &operator.operator_id,
                        &operator.reason,
                        write.complete,
                        at,
                        at,
                    ),
                )?;
            }
        }
    }
    Ok(())
}

/// Every pull-out row, oldest first, so each snapshot entry keeps the spelling first written.
pub(super) fn load(tx: &mut impl Queryable) -> mysql::Result<ManagementSnapshot> {
    let mut snapshot = ManagementSnapshot::default();
    let instances: Vec<(String, String, String, String)> =
        tx.query("SELECT REGION_ID, SERVICE_ID, INSTANCE_ID, OPERATION FROM instance ORDER BY ID")?;
    for (region_id, service_id, instance_id, operation) in instances {
        let key = InstanceKey {
            region_id,
            service_id,
            instance_id,
        };
        snapshot.insert(Target::Instance(key), &operation);
    }
    let servers: Vec<(String, String, String)> =
        tx.query("SELECT REGION_ID, SERVER_ID, OPERATION FROM server ORDER BY ID")?;
    for (region_id, server_id, operation) in servers {
        let key = ServerKey {
            region_id,
            server_id,
        };
        snapshot.insert(Target::Server(key), &operation);
    }
    let zones: Vec<(String, String, String, String)> =
        tx.query("SELECT REGION_ID, SERVICE_ID, ZONE_ID, OPERATION FROM service_zone ORDER BY ID")?;
    for (region_id, service_id, zone_id, operation) in zones {
        let key = ZoneKey {
            region_id,
            service_id,
            zone_id,
        };
        snapshot.insert(Target::Zone(key), &operation);
    }
    Ok(snapshot)
}
