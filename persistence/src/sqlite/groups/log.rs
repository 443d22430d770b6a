//! The log row each group write appends, one function per log table, with the columns Java's
//! log DAOs write (`TOKEN` empty: artemis stores no token).

use protocol::model::management::groups::{GroupOperator, NewGroup, NewServiceInstance};
use rusqlite::{params, Transaction};

/// Who wrote, and when: what every log row of one write shares.
pub(super) struct Log<'a> {
    pub(super) operator: &'a GroupOperator,
    pub(super) now_ms: i64,
}

const ROUTE_RULE: &str = "INSERT INTO service_route_rule_log
    (SERVICE_ID, NAME, STATUS, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?8)";
const ROUTE_RULE_GROUP: &str = "INSERT INTO service_route_rule_group_log
    (ROUTE_RULE_ID, GROUP_ID, WEIGHT, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, ?8, ?8)";
/// Java's group log has no group id (the column keeps its default 0) and no description.
const GROUP: &str = "INSERT INTO service_group_log
    (SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, STATUS, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', ?9, ?10, ?11, ?11)";
const GROUP_OPERATION: &str = "INSERT INTO service_group_operation_log
    (GROUP_ID, OPERATION, COMPLETE, OPERATOR_ID, TOKEN, EXTENSIONS, reason, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?7)";
const GROUP_INSTANCE: &str = "INSERT INTO service_group_instance_log
    (GROUP_ID, INSTANCE_ID, OPERATION, OPERATOR_ID, TOKEN, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?6)";
const SERVICE_INSTANCE: &str = "INSERT INTO service_instance_log
    (SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL, REGION_ID, ZONE_ID, GROUP_ID,
     HEALTHY_CHECK_URL, URL, OPERATION, OPERATOR_ID, TOKEN, CREATE_TIME, DataChange_LastTime)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, '', ?15, ?15)";

impl Log<'_> {
    pub(super) fn route_rule(
        &self,
        tx: &Transaction<'_>,
        service_id: &str,
        name: &str,
        status: &str,
    ) -> rusqlite::Result<()> {
        let o = self.operator;
        tx.prepare_cached(ROUTE_RULE)?.execute(params![
            service_id,
            name,
            status,
            o.operation,
            o.operator_id,
            o.extensions,
            o.reason,
            self.now_ms,
        ])?;
        Ok(())
    }

    /// `weight` is the unreleased weight the write named (Java logs the model's).
    pub(super) fn route_rule_group(
        &self,
        tx: &Transaction<'_>,
        route_rule_id: i64,
        group_id: i64,
        weight: Option<i32>,
    ) -> rusqlite::Result<()> {
        let o = self.operator;
        tx.prepare_cached(ROUTE_RULE_GROUP)?.execute(params![
            route_rule_id,
            group_id,
            weight,
            o.operation,
            o.operator_id,
            o.extensions,
            o.reason,
            self.now_ms,
        ])?;
        Ok(())
    }

    pub(super) fn group(&self, tx: &Transaction<'_>, group: &NewGroup) -> rusqlite::Result<()> {
        let o = self.operator;
        tx.prepare_cached(GROUP)?.execute(params![
            group.service_id,
            group.region_id,
            group.zone_id,
            group.name,
            group.app_id,
            group.status,
            o.operation,
            o.operator_id,
            o.extensions,
            o.reason,
            self.now_ms,
        ])?;
        Ok(())
    }

    /// `operation` is the group's (Java's `GroupOperationLogModel`), not the context's.
    pub(super) fn group_operation(
        &self,
        tx: &Transaction<'_>,
        group_id: i64,
        operation: &str,
        complete: bool,
    ) -> rusqlite::Result<()> {
        let o = self.operator;
        tx.prepare_cached(GROUP_OPERATION)?.execute(params![
            group_id,
            operation,
            complete,
            o.operator_id,
            o.extensions,
            o.reason,
            self.now_ms,
        ])?;
        Ok(())
    }

    pub(super) fn group_instance(
        &self,
        tx: &Transaction<'_>,
        group_id: i64,
        instance_id: &str,
    ) -> rusqlite::Result<()> {
        let o = self.operator;
        tx.prepare_cached(GROUP_INSTANCE)?.execute(params![
            group_id,
            instance_id,
            o.operation,
            o.operator_id,
            o.reason,
            self.now_ms,
        ])?;
        Ok(())
    }

    pub(super) fn service_instance(
        &self,
        tx: &Transaction<'_>,
        i: &NewServiceInstance,
    ) -> rusqlite::Result<()> {
        let o = self.operator;
        tx.prepare_cached(SERVICE_INSTANCE)?.execute(params![
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
            o.operation,
            o.operator_id,
            self.now_ms,
        ])?;
        Ok(())
    }
}
