//! Group log queries (spec §10.6): filter by the fields each table has, newest first, bounded.

use protocol::model::management::groups::{
    GroupInstanceLog, GroupLog, GroupLogFilter, GroupLogKind, GroupLogRow, GroupOperationLog,
    LogMeta, RouteRuleGroupLog, RouteRuleLog, ServiceInstanceLog,
};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, Row};

/// Each table and its columns: first the eight of [`LogMeta`] (`NULL` where the table lacks
/// one), then the table's own, in the order [`log_row`] reads them.
fn select_list(kind: GroupLogKind) -> (&'static str, &'static str) {
    match kind {
        GroupLogKind::GroupOperation => (
            "service_group_operation_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, reason, EXTENSIONS, CREATE_TIME, \
             DataChange_LastTime, GROUP_ID, COMPLETE",
        ),
        GroupLogKind::Group => (
            "service_group_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, EXTENSIONS, CREATE_TIME, \
             DataChange_LastTime, SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, STATUS",
        ),
        GroupLogKind::RouteRule => (
            "service_route_rule_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, EXTENSIONS, CREATE_TIME, \
             DataChange_LastTime, SERVICE_ID, NAME, STATUS",
        ),
        GroupLogKind::RouteRuleGroup => (
            "service_route_rule_group_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, EXTENSIONS, CREATE_TIME, \
             DataChange_LastTime, ROUTE_RULE_ID, GROUP_ID, WEIGHT",
        ),
        GroupLogKind::GroupInstance => (
            "service_group_instance_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, REASON, NULL, CREATE_TIME, \
             DataChange_LastTime, GROUP_ID, INSTANCE_ID",
        ),
        GroupLogKind::ServiceInstance => (
            "service_instance_log",
            "ID, OPERATION, OPERATOR_ID, TOKEN, NULL, NULL, CREATE_TIME, DataChange_LastTime, \
             SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL, REGION_ID, \
             ZONE_ID, GROUP_ID, HEALTHY_CHECK_URL, URL",
        ),
    }
}

/// The conditions a table can apply, as (column, value). A field the table lacks has no
/// column to compare, so it matches every row.
fn conditions(kind: GroupLogKind, f: &GroupLogFilter) -> Vec<(&'static str, Value)> {
    let text = |column: &'static str, value: &Option<String>| {
        value
            .as_ref()
            .map(|value| (column, Value::Text(value.clone())))
    };
    let id = |column: &'static str, value: Option<i64>| value.map(|v| (column, Value::Integer(v)));
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
    conn: &Connection,
    kind: GroupLogKind,
    filter: &GroupLogFilter,
    limit: usize,
) -> rusqlite::Result<Vec<GroupLogRow>> {
    let (table, columns) = select_list(kind);
    let (clauses, mut args): (Vec<_>, Vec<_>) = conditions(kind, filter)
        .into_iter()
        .map(|(column, value)| (format!("{column} = ?"), value))
        .unzip();
    let where_clause = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let sql = format!("SELECT {columns} FROM {table}{where_clause} ORDER BY ID DESC LIMIT ?");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(args), |row| log_row(kind, row))?;
    rows.collect()
}

fn log_row(kind: GroupLogKind, row: &Row<'_>) -> rusqlite::Result<GroupLogRow> {
    let meta = LogMeta {
        id: row.get(0)?,
        operation: row.get(1)?,
        operator_id: row.get(2)?,
        token: row.get(3)?,
        reason: row.get(4)?,
        extensions: row.get(5)?,
        create_time_ms: row.get(6)?,
        update_time_ms: row.get(7)?,
    };
    Ok(match kind {
        GroupLogKind::GroupOperation => GroupLogRow::GroupOperation(GroupOperationLog {
            meta,
            group_id: row.get(8)?,
            complete: row.get(9)?,
        }),
        GroupLogKind::Group => GroupLogRow::Group(GroupLog {
            meta,
            service_id: row.get(8)?,
            region_id: row.get(9)?,
            zone_id: row.get(10)?,
            name: row.get(11)?,
            app_id: row.get(12)?,
            status: row.get(13)?,
        }),
        GroupLogKind::RouteRule => GroupLogRow::RouteRule(RouteRuleLog {
            meta,
            service_id: row.get(8)?,
            name: row.get(9)?,
            status: row.get(10)?,
        }),
        GroupLogKind::RouteRuleGroup => GroupLogRow::RouteRuleGroup(RouteRuleGroupLog {
            meta,
            route_rule_id: row.get(8)?,
            group_id: row.get(9)?,
            weight: row.get(10)?,
        }),
        GroupLogKind::GroupInstance => GroupLogRow::GroupInstance(GroupInstanceLog {
            meta,
            group_id: row.get(8)?,
            instance_id: row.get(9)?,
        }),
        GroupLogKind::ServiceInstance => GroupLogRow::ServiceInstance(ServiceInstanceLog {
            meta,
            service_id: row.get(8)?,
            instance_id: row.get(9)?,
            ip: row.get(10)?,
            machine_name: row.get(11)?,
            metadata: row.get(12)?,
            port: row.get(13)?,
            protocol: row.get(14)?,
            region_id: row.get(15)?,
            zone_id: row.get(16)?,
            group_id: row.get(17)?,
            health_check_url: row.get(18)?,
            url: row.get(19)?,
        }),
    })
}
