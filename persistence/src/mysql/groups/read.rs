//! Reading the group tables: every live row at start (and after each group write, inside its
//! transaction), and the filtered reads of the `get-*` endpoints. Both go through the same
//! queries, so a row reads the same whichever way it is asked for.

use mysql::prelude::Queryable;
use mysql::{Params, Row, Value};
use protocol::model::management::groups::{
    Group, GroupFilter, GroupInstance, GroupInstanceFilter, GroupRows, GroupTag, RouteRuleFilter,
    RouteRuleGroup, RouteRuleGroupFilter, ServiceInstance, ServiceInstanceFilter, ServiceRouteRule,
};

use crate::mysql::rows::Columns;

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
            self.args.push(Value::from(value));
        }
        self
    }

    fn id(mut self, clause: &'static str, value: Option<i64>) -> Self {
        if let Some(value) = value {
            self.clauses.push(clause);
            self.args.push(Value::from(value));
        }
        self
    }

    /// `SELECT <columns> FROM <table> [WHERE ..] ORDER BY ID`, mapped by `row`.
    fn select<T>(
        self,
        tx: &mut impl Queryable,
        columns_and_table: &str,
        row: fn(&mut Columns) -> mysql::Result<T>,
    ) -> mysql::Result<Vec<T>> {
        let where_clause = if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        };
        let sql = format!("SELECT {columns_and_table}{where_clause} ORDER BY ID");
        let params = if self.args.is_empty() {
            Params::Empty
        } else {
            Params::Positional(self.args)
        };
        let rows: Vec<Row> = tx.exec(sql, params)?;
        rows.into_iter()
            .map(|r| row(&mut Columns::new(r)))
            .collect()
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

/// Java's `where deleted = false`.
const LIVE: &str = "DELETED = 0";

fn rule(c: &mut Columns) -> mysql::Result<ServiceRouteRule> {
    Ok(ServiceRouteRule {
        route_rule_id: c.next()?,
        service_id: c.next()?,
        name: c.next()?,
        description: c.next()?,
        status: c.next()?,
        strategy: c.next()?,
    })
}

fn link(c: &mut Columns) -> mysql::Result<RouteRuleGroup> {
    Ok(RouteRuleGroup {
        route_rule_group_id: c.next()?,
        route_rule_id: c.next()?,
        group_id: c.next()?,
        weight: c.next()?,
        unreleased_weight: c.next()?,
    })
}

fn group(c: &mut Columns) -> mysql::Result<Group> {
    Ok(Group {
        group_id: c.next()?,
        service_id: c.next()?,
        region_id: c.next()?,
        zone_id: c.next()?,
        name: c.next()?,
        app_id: c.next()?,
        description: c.next()?,
        status: c.next()?,
    })
}

fn tag(c: &mut Columns) -> mysql::Result<(i64, GroupTag)> {
    Ok((
        c.next()?,
        GroupTag {
            group_id: c.next()?,
            tag: c.next()?,
            value: c.next()?,
        },
    ))
}

fn operation(c: &mut Columns) -> mysql::Result<(i64, i64, String)> {
    Ok((c.next()?, c.next()?, c.next()?))
}

fn member(c: &mut Columns) -> mysql::Result<GroupInstance> {
    Ok(GroupInstance {
        id: c.next()?,
        group_id: c.next()?,
        instance_id: c.next()?,
    })
}

fn logic(c: &mut Columns) -> mysql::Result<ServiceInstance> {
    Ok(ServiceInstance {
        id: c.next()?,
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
        description: c.next()?,
    })
}

/// Every live row of the group tables.
pub(in crate::mysql) fn load(tx: &mut impl Queryable) -> mysql::Result<GroupRows> {
    Ok(GroupRows {
        route_rules: route_rules(tx, &RouteRuleFilter::default())?,
        route_rule_groups: route_rule_groups(tx, &RouteRuleGroupFilter::default())?,
        groups: groups(tx, &GroupFilter::default())?,
        tags: Conditions::default().select(tx, TAGS, tag)?,
        operations: Conditions::default().select(tx, OPERATIONS, operation)?,
        group_instances: group_instances(tx, &GroupInstanceFilter::default())?,
        service_instances: service_instances(tx, &ServiceInstanceFilter::default())?,
    })
}

pub(in crate::mysql) fn route_rules(
    tx: &mut impl Queryable,
    filter: &RouteRuleFilter,
) -> mysql::Result<Vec<ServiceRouteRule>> {
    Conditions::default()
        .always(LIVE)
        .id("ID = ?", filter.route_rule_id)
        .text("SERVICE_ID = ?", &filter.service_id)
        .text("NAME = ?", &filter.name)
        .text("STATUS = ?", &filter.status)
        .select(tx, RULES, rule)
}

pub(in crate::mysql) fn route_rule_groups(
    tx: &mut impl Queryable,
    filter: &RouteRuleGroupFilter,
) -> mysql::Result<Vec<RouteRuleGroup>> {
    Conditions::default()
        .id("ID = ?", filter.route_rule_group_id)
        .id("ROUTE_RULE_ID = ?", filter.route_rule_id)
        .id("GROUP_ID = ?", filter.group_id)
        .select(tx, LINKS, link)
}

pub(in crate::mysql) fn groups(
    tx: &mut impl Queryable,
    filter: &GroupFilter,
) -> mysql::Result<Vec<Group>> {
    Conditions::default()
        .always(LIVE)
        .text("SERVICE_ID = ?", &filter.service_id)
        .text("REGION_ID = ?", &filter.region_id)
        .text("ZONE_ID = ?", &filter.zone_id)
        .text("NAME = ?", &filter.name)
        .text("APP_ID = ?", &filter.app_id)
        .text("STATUS = ?", &filter.status)
        .select(tx, GROUPS, group)
}

pub(in crate::mysql) fn group_instances(
    tx: &mut impl Queryable,
    filter: &GroupInstanceFilter,
) -> mysql::Result<Vec<GroupInstance>> {
    Conditions::default()
        .id("GROUP_ID = ?", filter.group_id)
        .text("INSTANCE_ID = ?", &filter.instance_id)
        .select(tx, MEMBERS, member)
}

pub(in crate::mysql) fn service_instances(
    tx: &mut impl Queryable,
    filter: &ServiceInstanceFilter,
) -> mysql::Result<Vec<ServiceInstance>> {
    Conditions::default()
        .text("SERVICE_ID = ?", &filter.service_id)
        .text("INSTANCE_ID = ?", &filter.instance_id)
        .select(tx, LOGIC, logic)
}
