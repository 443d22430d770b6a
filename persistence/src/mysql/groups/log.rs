//! The log row each group write appends, one function per log table, with the columns Java's
//! log DAOs write (`TOKEN` empty: artemis stores no token).

use mysql::prelude::Queryable;
use mysql::{Params, Value};
use protocol::model::management::groups::{GroupOperator, NewGroup, NewServiceInstance};

use crate::mysql::seconds;

/// Who wrote, and when: what every log row of one write shares.
pub(super) struct Log<'a> {
    pub(super) operator: &'a GroupOperator,
    pub(super) now_ms: i64,
}

const ROUTE_RULE: &str = "INSERT INTO service_route_rule_log
    (SERVICE_ID, NAME, STATUS, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, '', ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";
const ROUTE_RULE_GROUP: &str = "INSERT INTO service_route_rule_group_log
    (ROUTE_RULE_ID, GROUP_ID, WEIGHT, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, '', ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";
/// Java's group log has no group id (the column keeps its default 0) and no description.
const GROUP: &str = "INSERT INTO service_group_log
    (SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, STATUS, OPERATION, OPERATOR_ID, TOKEN, EXTENSIONS, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";
const GROUP_OPERATION: &str = "INSERT INTO service_group_operation_log
    (GROUP_ID, OPERATION, COMPLETE, OPERATOR_ID, TOKEN, EXTENSIONS, reason, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, '', ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";
const GROUP_INSTANCE: &str = "INSERT INTO service_group_instance_log
    (GROUP_ID, INSTANCE_ID, OPERATION, OPERATOR_ID, TOKEN, REASON, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, '', ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))";
const SERVICE_INSTANCE: &str = "INSERT INTO service_instance_log
    (SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL, REGION_ID, ZONE_ID, GROUP_ID,
     HEALTHY_CHECK_URL, URL, OPERATION, OPERATOR_ID, TOKEN, CREATE_TIME, DataChange_LastTime)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', FROM_UNIXTIME(?), FROM_UNIXTIME(?))";

impl Log<'_> {
    fn at(&self) -> i64 {
        seconds(self.now_ms)
    }

    pub(super) fn route_rule(
        &self,
        tx: &mut impl Queryable,
        service_id: &str,
        name: &str,
        status: &str,
    ) -> mysql::Result<()> {
        let o = self.operator;
        tx.exec_drop(
            ROUTE_RULE,
            (
                service_id,
                name,
                status,
                &o.operation,
                &o.operator_id,
                &o.extensions,
                &o.reason,
                self.at(),
                self.at(),
            ),
        )
    }

    /// `weight` is the unreleased weight the write named (Java logs the model's).
    pub(super) fn route_rule_group(
        &self,
        tx: &mut impl Queryable,
        route_rule_id: i64,
        group_id: i64,
        weight: Option<i32>,
    ) -> mysql::Result<()> {
        let o = self.operator;
        tx.exec_drop(
            ROUTE_RULE_GROUP,
            (
                route_rule_id,
                group_id,
                weight,
                &o.operation,
                &o.operator_id,
                &o.extensions,
                &o.reason,
                self.at(),
                self.at(),
            ),
        )
    }

    pub(super) fn group(&self, tx: &mut impl Queryable, group: &NewGroup) -> mysql::Result<()> {
        let o = self.operator;
        let values: Vec<Value> = vec![
            group.service_id.as_str().into(),
            group.region_id.as_str().into(),
            group.zone_id.as_str().into(),
            group.name.as_str().into(),
            group.app_id.as_str().into(),
            group.status.as_str().into(),
            o.operation.as_str().into(),
            o.operator_id.as_str().into(),
            o.extensions.as_str().into(),
            o.reason.as_deref().into(),
            self.at().into(),
            self.at().into(),
        ];
        tx.exec_drop(GROUP, Params::Positional(values))
    }

    /// `operation` is the group's (Java's `GroupOperationLogModel`), not the context's.
    pub(super) fn group_operation(
        &self,
        tx: &mut impl Queryable,
        group_id: i64,
        operation: &str,
        complete: bool,
    ) -> mysql::Result<()> {
        let o = self.operator;
        tx.exec_drop(
            GROUP_OPERATION,
            (
                group_id,
                operation,
                complete,
                &o.operator_id,
                &o.extensions,
                &o.reason,
                self.at(),
                self.at(),
            ),
        )
    }

    pub(super) fn group_instance(
        &self,
        tx: &mut impl Queryable,
        group_id: i64,
        instance_id: &str,
    ) -> mysql::Result<()> {
        let o = self.operator;
        tx.exec_drop(
            GROUP_INSTANCE,
            (
                group_id,
                instance_id,
                &o.operation,
                &o.operator_id,
                &o.reason,
                self.at(),
                self.at(),
            ),
        )
    }

    pub(super) fn service_instance(
        &self,
        tx: &mut impl Queryable,
        i: &NewServiceInstance,
    ) -> mysql::Result<()> {
        let o = self.operator;
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
            o.operation.as_str().into(),
            o.operator_id.as_str().into(),
            self.at().into(),
            self.at().into(),
        ];
        tx.exec_drop(SERVICE_INSTANCE, Params::Positional(values))
    }
}
