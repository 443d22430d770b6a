//! Operation log queries (spec §10.6): filter by any field, newest first, bounded.

use mysql::prelude::Queryable;
use mysql::{Params, Row, Value};
use protocol::model::management::{LogFilter, LogKind, LogRow};

use super::rows::Columns;

/// Each table's columns in [`LogRow`] order, with `''` for the fields the table does not have,
/// so one row mapper serves every table. `REASON` is nullable in Java's schema; times are
/// epoch milliseconds.
fn select_list(kind: LogKind) -> (&'static str, &'static str) {
    match kind {
        LogKind::Instance => (
            "instance_log",
            "ID, REGION_ID, SERVICE_ID, INSTANCE_ID, '', '', OPERATION, OPERATOR_ID, TOKEN, '', \
             EXTENSIONS, COMPLETE, UNIX_TIMESTAMP(CREATE_TIME) * 1000, \
             UNIX_TIMESTAMP(DataChange_LastTime) * 1000",
        ),
        LogKind::Server => (
            "server_log",
            "ID, REGION_ID, '', '', SERVER_ID, '', OPERATION, OPERATOR_ID, TOKEN, '', \
             EXTENSIONS, COMPLETE, UNIX_TIMESTAMP(CREATE_TIME) * 1000, \
             UNIX_TIMESTAMP(DataChange_LastTime) * 1000",
        ),
        LogKind::Zone => (
            "service_zone_log",
            "ID, REGION_ID, SERVICE_ID, '', '', ZONE_ID, OPERATION, OPERATOR_ID, TOKEN, \
             COALESCE(REASON, ''), '', COMPLETE, UNIX_TIMESTAMP(CREATE_TIME) * 1000, \
             UNIX_TIMESTAMP(DataChange_LastTime) * 1000",
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
    tx: &mut impl Queryable,
    kind: LogKind,
    filter: &LogFilter,
    limit: usize,
) -> mysql::Result<Vec<LogRow>> {
    let (table, columns) = select_list(kind);
    let mut conditions = Vec::new();
    let mut args = Vec::new();
    for (column, value) in text_filters(kind, filter) {
        conditions.push(format!("{column} = ?"));
        args.push(Value::from(value));
    }
    if let Some(complete) = filter.complete {
        conditions.push("COMPLETE = ?".to_owned());
        args.push(Value::from(complete));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    args.push(Value::from(u64::try_from(limit).unwrap_or(u64::MAX)));
    let sql = format!("SELECT {columns} FROM {table}{where_clause} ORDER BY ID DESC LIMIT ?");
    let rows: Vec<Row> = tx.exec(sql, Params::Positional(args))?;
    rows.into_iter().map(log_row).collect()
}

fn log_row(row: Row) -> mysql::Result<LogRow> {
    let mut c = Columns::new(row);
    Ok(LogRow {
        id: c.next()?,
        region_id: c.next()?,
        service_id: c.next()?,
        instance_id: c.next()?,
        server_id: c.next()?,
        zone_id: c.next()?,
        operation: c.next()?,
        operator_id: c.next()?,
        token: c.next()?,
        reason: c.next()?,
        extensions: c.next()?,
        complete: c.next()?,
        create_time_ms: c.next()?,
        update_time_ms: c.next()?,
    })
}
