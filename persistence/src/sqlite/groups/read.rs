//! Reading the group tables: every live row at start (and after each group write, inside its
//! transaction), and the filtered reads of the `get-*` endpoints. Both go through the same
//! queries, so a row reads the same whichever way it is asked for.

use protocol::model::management::groups::{
    Group, GroupFilter, GroupInstance, GroupInstanceFilter, GroupRows, GroupTag, RouteRuleFilter,
    RouteRuleGroup, RouteRuleGroupFilter, ServiceInstance, ServiceInstanceFilter, ServiceRouteRule,
};
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, Row};

/// The conditions of one query, each with its argument; none selects every row.
#[derive(Default)]
struct Conditions {
    clauses: Vec<&'static str>,
    args: Vec<Value>,
}

impl Conditions {
    /// A condition every row of the query must meet (soft deletion).
    fn always(mut self, clause: &'static str) -> Self {
        self.clauses.push(clause);
        self
    }

    fn text(mut self, clause: &'static str, value: &Option<String>) -> Self {
        if let Some(value) = value {
            self.clauses.push(clause);
            self.args.push(Value::Text(value.clone()));
        }
        self
    }

    fn id(mut self, clause: &'static str, value: Option<i64>) -> Self {
        if let Some(value) = value {
            self.clauses.push(clause);
            self.args.push(Value::Integer(value));
        }
        self
    }

    /// `SELECT <columns> FROM <table> [WHERE ..] ORDER BY ID`, mapped by `row`.
    fn select<T>(
        self,
        conn: &Connection,
        columns_and_table: &str,
        row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let where_clause = if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        };
        let sql = format!("SELECT {columns_and_table}{where_clause} ORDER BY ID");
        let mut statement = conn.prepare_cached(&sql)?;
        let rows = statement.query_map(params_from_iter(self.args), row)?;
        rows.collect()
    }
}

const RULES: &str = "ID, SERVICE_ID, NAME, DESCRIPTION, STATUS, strategy FROM service_route_rule";
const LINKS: &str =
    "ID, ROUTE_RULE_ID, GROUP_ID, WEIGHT, UNRELEASED_WEIGHT FROM service_route_rule_group";
const GROUPS: &str =
    "ID, SERVICE_ID, REGION_ID, ZONE_ID, NAME, APP_ID, DESCRIPTION, STATUS FROM service_group";
const TAGS: &str = "ID, GROUP_ID, TAG, VALUE FROM service_group_tag";
const OPERATIONS: &str = "ID, GROUP_ID, OPERATION FROM service_group_operation";
const MEMBERS: &str = "ID, GROUP_ID, INSTANCE_ID FROM service_group_instance";
const LOGIC: &str = "ID, SERVICE_ID, INSTANCE_ID, IP, MACHINE_NAME, METADATA, PORT, PROTOCOL, \
    REGION_ID, ZONE_ID, GROUP_ID, HEALTHY_CHECK_URL, URL, DESCRIPTION FROM service_instance";

const LIVE: &str = "DELETED = 0";

fn rule(row: &Row<'_>) -> rusqlite::Result<ServiceRouteRule> {
    Ok(ServiceRouteRule {
        route_rule_id: row.get(0)?,
        service_id: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        status: row.get(4)?,
        strategy: row.get(5)?,
    })
}

fn link(row: &Row<'_>) -> rusqlite::Result<RouteRuleGroup> {
    Ok(RouteRuleGroup {
        route_rule_group_id: row.get(0)?,
        route_rule_id: row.get(1)?,
        group_id: row.get(2)?,
        weight: row.get(3)?,
        unreleased_weight: row.get(4)?,
    })
}

fn group(row: &Row<'_>) -> rusqlite::Result<Group> {
    Ok(Group {
        group_id: row.get(0)?,
        service_id: row.get(1)?,
        region_id: row.get(2)?,
        zone_id: row.get(3)?,
        name: row.get(4)?,
        app_id: row.get(5)?,
        description: row.get(6)?,
        status: row.get(7)?,
    })
}

fn tag(row: &Row<'_>) -> rusqlite::Result<(i64, GroupTag)> {
    Ok((
        row.get(0)?,
        GroupTag {
            group_id: row.get(1)?,
            tag: row.get(2)?,
            value: row.get(3)?,
        },
    ))
}

fn operation(row: &Row<'_>) -> rusqlite::Result<(i64, i64, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

fn member(row: &Row<'_>) -> rusqlite::Result<GroupInstance> {
    Ok(GroupInstance {
        id: row.get(0)?,
        group_id: row.get(1)?,
        instance_id: row.get(2)?,
    })
}

fn logic(row: &Row<'_>) -> rusqlite::Result<ServiceInstance> {
    Ok(ServiceInstance {
        id: row.get(0)?,
        service_id: row.get(1)?,
        instance_id: row.get(2)?,
        ip: row.get(3)?,
        machine_name: row.get(4)?,
        metadata: row.get(5)?,
        port: row.get(6)?,
        protocol: row.get(7)?,
        region_id: row.get(8)?,
        zone_id: row.get(9)?,
        group_id: row.get(10)?,
        health_check_url: row.get(11)?,
        url: row.get(12)?,
        description: row.get(13)?,
    })
}

/// Every live row of the group tables.
pub(in crate::sqlite) fn load(conn: &Connection) -> rusqlite::Result<GroupRows> {
    Ok(GroupRows {
        route_rules: route_rules(conn, &RouteRuleFilter::default())?,
        route_rule_groups: route_rule_groups(conn, &RouteRuleGroupFilter::default())?,
        groups: groups(conn, &GroupFilter::default())?,
        tags: Conditions::default().select(conn, TAGS, tag)?,
        operations: Conditions::default().select(conn, OPERATIONS, operation)?,
        group_instances: group_instances(conn, &GroupInstanceFilter::default())?,
        service_instances: service_instances(conn, &ServiceInstanceFilter::default())?,
    })
}

pub(in crate::sqlite) fn route_rules(
    conn: &Connection,
    filter: &RouteRuleFilter,
) -> rusqlite::Result<Vec<ServiceRouteRule>> {
    Conditions::default()
        .always(LIVE)
        .id("ID = ?", filter.route_rule_id)
        .text("SERVICE_ID = ?", &filter.service_id)
        .text("NAME = ?", &filter.name)
        .text("STATUS = ?", &filter.status)
        .select(conn, RULES, rule)
}

pub(in crate::sqlite) fn route_rule_groups(
    conn: &Connection,
    filter: &RouteRuleGroupFilter,
) -> rusqlite::Result<Vec<RouteRuleGroup>> {
    Conditions::default()
        .id("ID = ?", filter.route_rule_group_id)
        .id("ROUTE_RULE_ID = ?", filter.route_rule_id)
        .id("GROUP_ID = ?", filter.group_id)
        .select(conn, LINKS, link)
}

pub(in crate::sqlite) fn groups(
    conn: &Connection,
    filter: &GroupFilter,
) -> rusqlite::Result<Vec<Group>> {
    Conditions::default()
        .always(LIVE)
        .text("SERVICE_ID = ?", &filter.service_id)
        .text("REGION_ID = ?", &filter.region_id)
        .text("ZONE_ID = ?", &filter.zone_id)
        .text("NAME = ?", &filter.name)
        .text("APP_ID = ?", &filter.app_id)
        .text("STATUS = ?", &filter.status)
        .select(conn, GROUPS, group)
}

pub(in crate::sqlite) fn group_instances(
    conn: &Connection,
    filter: &GroupInstanceFilter,
) -> rusqlite::Result<Vec<GroupInstance>> {
    Conditions::default()
        .id("GROUP_ID = ?", filter.group_id)
        .text("INSTANCE_ID = ?", &filter.instance_id)
        .select(conn, MEMBERS, member)
}

pub(in crate::sqlite) fn service_instances(
    conn: &Connection,
    filter: &ServiceInstanceFilter,
) -> rusqlite::Result<Vec<ServiceInstance>> {
    Conditions::default()
        .text("SERVICE_ID = ?", &filter.service_id)
        .text("INSTANCE_ID = ?", &filter.instance_id)
        .select(conn, LOGIC, logic)
}
