//! The registry saved at a graceful stop (`registry_instance`), replaced whole by each save.

use rusqlite::{Connection, TransactionBehavior};

use crate::SavedInstance;

pub(super) fn save(conn: &mut Connection, instances: &[SavedInstance]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("DELETE FROM registry_instance", [])?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO registry_instance (SERVICE_ID, INSTANCE_ID, LEGACY, INSTANCE_JSON)
             VALUES (?1, ?2, ?3, ?4)",
        )?;
        for instance in instances {
            insert.execute((
                &instance.service_id,
                &instance.instance_id,
                instance.legacy,
                &instance.json,
            ))?;
        }
    }
    tx.commit()
}

pub(super) fn load(conn: &Connection) -> rusqlite::Result<Vec<SavedInstance>> {
    let mut select = conn.prepare(
        "SELECT SERVICE_ID, INSTANCE_ID, LEGACY, INSTANCE_JSON FROM registry_instance ORDER BY ID",
    )?;
    let rows = select.query_map([], |row| {
        Ok(SavedInstance {
            service_id: row.get(0)?,
            instance_id: row.get(1)?,
            legacy: row.get(2)?,
            json: row.get(3)?,
        })
    })?;
    rows.collect()
}
