//! The summary of the management tables a node polls to learn that another node (or a Java
//! node) changed them.
//!
//! `CHECKSUM TABLE` covers every column of every live row, so it changes with any insert,
//! delete or update in place. A cheaper `COUNT(*)` / `MAX(ID)` / `MAX(DataChange_LastTime)`
//! summary would miss an update in place written in the same second as the last one, or
//! written by a node whose clock is behind (writers stamp `DataChange_LastTime` themselves).
//! The management tables are small (operator-written rows), so reading them whole each poll
//! is cheap; the log tables, which grow without bound, are not read.

use mysql::prelude::Queryable;

/// Every table `load_management` reads.
const CHECKSUM: &str = "CHECKSUM TABLE instance, server, service_zone, service_group, \
    service_group_instance, service_group_operation, service_group_tag, service_instance, \
    service_route_rule, service_route_rule_group";

/// One checksum per management table, in a fixed order. A table that went missing reads as
/// `-1`, so its disappearance is a change too.
pub(super) fn read(conn: &mut impl Queryable) -> mysql::Result<Vec<i64>> {
    let rows: Vec<(String, Option<u64>)> = conn.query(CHECKSUM)?;
    Ok(rows
        .into_iter()
        .map(|(_, checksum)| checksum.map_or(-1, |sum| sum as i64))
        .collect())
}
