//! Operation log queries (spec §10.6): filter by any field, newest first, bounded.

use protocol::model::management::{LogFilter, LogKind, LogRow};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, Row};

/// Each table's columns in [`LogRow`] order, with `''` for the fields the table does not have,
/// so one row mapper serves every table. `REASON` is nullable in Java's schema.
fn select_list(kind: LogKind) -> (&'static str, &'static str) {
    match kind {
        LogKind::Instance => (
            "instance_log",
            "ID, REGION_ID, SERVICE_ID, INSTANCE_ID, '', '', OPERATION, OPERATOR_ID, TOKEN, '', \
             EXTENSIONS, COMPLETE, CREATE_TIME, DataChange_LastTime",
        ),
        LogKind::Server => (
            "server_log",
            "ID, REGION_ID, '', '', SERVER_ID, '', OPERATION, OPERATOR_ID, TOKEN, '', \
             EXTENSIONS, COMPLETE, CREATE_TIME, DataChange_LastTime",
        ),
        LogKind::Zone => (
            "service_zone_log",
            "ID, REGION_ID, SERVICE_ID, '', '', ZONE_ID, OPERATION, OPERATOR_ID, TOKEN, \
             COALESCE(REASON, ''), '', COMPLETE, CREATE_TIME, DataChange_LastTime",
        ),
    }
}

/// The text filters a table can apply, as (column, value). Java's DAOs drop blank values, and
/// a field the table lacks has no column to compare, so both match every row.
fn text_filters(kind: LogKind, filter: &LogFilter) -> Vec<(&'static str, &str)> {
    let candidates = match kind {
        LogKind::Instance => vec![
            ("REGION_ID", &filter.region_id),
            ("SERVICE_ID", &filter.service_id),
            ("INSTANCE_ID", &filter.instance_id),
            ("OPERATION", &filter.operation),
            ("OPERATOR_ID", &filter.operator_id),
        ],
        LogKind::Server => vec![
            ("REGION_ID", &filter.region_id),
            ("SERVER_ID", &filter.server_id),
            ("OPERATION", &filter.operation),
            ("OPERATOR_ID", &filter.operator_id),
        ],
        LogKind::Zone => vec![
            ("REGION_ID", &filter.region_id),
            ("SERVICE_ID", &filter.service_id),
            ("ZONE_ID", &filter.zone_id),
            ("OPERATION", &filter.operation),
            ("OPERATOR_ID", &filter.operator_id),
        ],
    };
    candidates
        .into_iter()
        .filter_map(|(column, value)| {
            let value = value.as_deref()?;
            (!value.trim().is_empty()).then_some((column, value))
        })
        .collect()
}

pub(super) fn query(
    conn: &Connection,
    kind: LogKind,
    filter: &LogFilter,
    limit: usize,
) -> rusqlite::Result<Vec<LogRow>> {
    let (table, columns) = select_list(kind);
    let mut conditions = Vec::new();
    let mut args = Vec::new();
    for (column, value) in text_filters(kind, filter) {
        conditions.push(format!("{column} = ?"));
        args.push(Value::Text(value.to_owned()));
    }
    if let Some(complete) = filter.complete {
        conditions.push("COMPLETE = ?".to_owned());
        args.push(Value::Integer(complete.into()));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let sql = format!("SELECT {columns} FROM {table}{where_clause} ORDER BY ID DESC LIMIT ?");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(args), log_row)?;
    rows.collect()
}

fn log_row(row: &Row<'_>) -> rusqlite::Result<LogRow> {
    Ok(LogRow {
        id: row.get(0)?,
        region_id: row.get(1)?,
        service_id: row.get(2)?,
        instance_id: row.get(3)?,
        server_id: row.get(4)?,
        zone_id: row.get(5)?,
        operation: row.get(6)?,
        operator_id: row.get(7)?,
        token: row.get(8)?,
        reason: row.get(9)?,
        extensions: row.get(10)?,
        complete: row.get(11)?,
        create_time_ms: row.get(12)?,
        update_time_ms: row.get(13)?,
    })
}
