//! Group log queries (spec §10.6): filter by the fields each table has, newest first, bounded.

use mysql::prelude::Queryable;
use mysql::{Params, Row, Value};
use protocol::model::management::groups::{
    GroupInstanceLog, GroupLog, GroupLogFilter, GroupLogKind, GroupLogRow, GroupOperationLog,
    LogMeta, RouteRuleGroupLog, RouteRuleLog, ServiceInstanceLog,
};

use super::rows::Columns;

/// Each table's log times as epoch milliseconds.
const TIMES: &str =
    "UNIX_TIMESTAMP(CREATE_TIME) * 1000, UNIX_TIMESTAMP(DataChange_LastTime) * 1000";

/// Each table, the six [`LogMeta`] fields before its times (`NULL` where the table lacks one),
/// and the table's own columns after them, in the order [`log_row`] reads them.
fn select_list(kind: GroupLogKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        GroupLogKind::GroupOperation => (
            "service_group_operation_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, reason, EXTENSIONS",
            "GROUP_ID, COMPLETE",
        ),
        GroupLogKind::Group => (
            "service_group_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, EXTENSIONS",
            "SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, STATUS",
        ),
        GroupLogKind::RouteRule => (
            "service_route_rule_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, EXTENSIONS",
            "SERVICE_ID, NAME, STATUS",
        ),
        GroupLogKind::RouteRuleGroup => (
            "service_route_rule_group_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, EXTENSIONS",
            "ROUTE_RULE_ID, GROUP_ID, WEIGHT",
        ),
        GroupLogKind::GroupInstance => (
            "service_group_instance_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, NULL",
            "GROUP_ID, INSTANCE_ID",
        ),
        GroupLogKind::ServiceInstance => (
            "service_instance_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, NULL, NULL",
            "SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL, REGION_ID, \
             ZONE_ID, GROUP_ID, HEALTHY_CHECK_URL, URL",
        ),
    }
}

/// The conditions a table can apply, as (column, value). A field the table lacks has no
/// column to compare, so it matches every row.
fn conditions(kind: GroupLogKind, f: &GroupLogFilter) -> Vec<(&'static str, Value)> {
    let text = |column: &'static str, value: &Option<String>| {
        value.as_ref().map(|value| (column, Value::from(value)))
    };
    let id = |column: &'static str, value: Option<i64>| value.map(|v| (column, Value::from(v)));
    let mut candidates = vec![
        text("OPERATION", &f.operation),
        text("OPERATOR_ID", &f.operator_id),
    ];
    match kind {
        GroupLogKind::GroupOperation => {
            candidates.push(id("GROUP_ID", f.group_id));
            candidates.push(id("COMPLETE", f.complete.map(i64::from)));
        }
        GroupLogKind::Group => {
            candidates.push(text("SERVICE_ID", &f.service_id));
            candidates.push(text("REGION_ID", &f.region_id));
            candidates.push(text("ZONE_ID", &f.zone_id));
            candidates.push(text("NAME", &f.name));
            candidates.push(text("APP_ID", &f.app_id));
        }
        GroupLogKind::RouteRule => {
            candidates.push(text("SERVICE_ID", &f.service_id));
            candidates.push(text("NAME", &f.name));
        }
        GroupLogKind::RouteRuleGroup => {
            candidates.push(id("ROUTE_RULE_ID", f.route_rule_id));
            candidates.push(id("GROUP_ID", f.group_id));
        }
        GroupLogKind::GroupInstance => {
            candidates.push(id("GROUP_ID", f.group_id));
            candidates.push(text("INSTANCE_ID", &f.instance_id));
        }
        GroupLogKind::ServiceInstance => {
            candidates.push(text("SERVICE_ID", &f.service_id));
            candidates.push(text("INSTANCE_ID", &f.instance_id));
        }
    }
    candidates.into_iter().flatten().collect()
}

pub(super) fn query(
    tx: &mut impl Queryable,
    kind: GroupLogKind,
    filter: &GroupLogFilter,
    limit: usize,
) -> mysql::Result<Vec<GroupLogRow>> {
    let (table, meta, own) = select_list(kind);
    let (clauses, mut args): (Vec<_>, Vec<_>) = conditions(kind, filter)
        .into_iter()
        .map(|(column, value)| (format!("{column} = ?"), value))
        .unzip();
    let where_clause = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    args.push(Value::from(u64::try_from(limit).unwrap_or(u64::MAX)));
    let sql = format!(
        "SELECT {meta}, {TIMES}, {own} FROM {table}{where_clause} ORDER BY ID DESC LIMIT ?"
    );
    let rows: Vec<Row> = tx.exec(sql, Params::Positional(args))?;
    rows.into_iter().map(|row| log_row(kind, row)).collect()
}

fn log_row(kind: GroupLogKind, row: Row) -> mysql::Result<GroupLogRow> {
    let mut c = Columns::new(row);
    let meta = LogMeta {
        id: c.next()?,
        operation: c.next()?,
        operator_id: c.next()?,
        token: c.next()?,
        reason: c.next()?,
        extensions: c.next()?,
        create_time_ms: c.next()?,
        update_time_ms: c.next()?,
    };
    Ok(match kind {
        GroupLogKind::GroupOperation => GroupLogRow::GroupOperation(GroupOperationLog {
            meta,
            group_id: c.next()?,
            complete: c.next()?,
        }),
        GroupLogKind::Group => GroupLogRow::Group(GroupLog {
            meta,
            service_id: c.next()?,
            region_id: c.next()?,
            zone_id: c.next()?,
            name: c.next()?,
            app_id: c.next()?,
            status: c.next()?,
        }),
        GroupLogKind::RouteRule => GroupLogRow::RouteRule(RouteRuleLog {
            meta,
            service_id: c.next()?,
            name: c.next()?,
            status: c.next()?,
        }),
        GroupLogKind::RouteRuleGroup => GroupLogRow::RouteRuleGroup(RouteRuleGroupLog {
            meta,
            route_rule_id: c.next()?,
            group_id: c.next()?,
            weight: c.next()?,
        }),
        GroupLogKind::GroupInstance => GroupLogRow::GroupInstance(GroupInstanceLog {
            meta,
            group_id: c.next()?,
            instance_id: c.next()?,
        }),
        GroupLogKind::ServiceInstance => GroupLogRow::ServiceInstance(ServiceInstanceLog {
            meta,
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
        }),
    })
}
