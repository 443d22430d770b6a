//! The rows of the group tables (spec §10.3, §10.8) as the store holds them and the endpoints
//! answer them. Groups and route rules are only ever live rows here: a soft-deleted row is
//! neither loaded nor returned. Every id is the table's `ID`.

use super::keys::group_key;
use crate::model::{is_null_or_whitespace, parse, Metadata};

/// `service_route_rule`, answered as `ServiceRouteRule`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRouteRule {
    pub route_rule_id: i64,
    pub service_id: String,
    /// The rule's name: the `routeId` clients see.
    pub name: String,
    pub description: Option<String>,
    /// `active` or `inactive` (compared ignoring case; anything else is inactive).
    pub status: String,
    /// `weighted-round-robin` or `close-by-visit`.
    pub strategy: String,
}

/// `service_route_rule_group`: one group's weights in one rule. Only `weight` (released) is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRuleGroup {
    pub route_rule_group_id: i64,
    pub route_rule_id: i64,
    pub group_id: i64,
    pub weight: Option<i32>,
    pub unreleased_weight: Option<i32>,
}

/// `service_group`, answered as `Group` (whose `metadata` Java leaves null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub group_id: i64,
    pub service_id: String,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub app_id: String,
    pub description: Option<String>,
    /// `active` or `inactive` (compared ignoring case; anything else is inactive).
    pub status: String,
}

impl Group {
    /// `Group.getGroupKey()`: lower-case `serviceId/regionId/zoneId/name`.
    pub fn group_key(&self) -> String {
        group_key(&[&self.service_id, &self.region_id, &self.zone_id, &self.name])
    }
}

/// One `service_group_tag` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTag {
    pub group_id: i64,
    pub tag: String,
    pub value: String,
}

/// `GroupTags`: every tag of one group, in the order the rows were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTags {
    pub group_id: i64,
    pub tags: Vec<(String, String)>,
}

/// `GroupOperations`: the pull-out operations recorded against one group (any makes it down).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOperations {
    pub group_id: i64,
    pub operations: Vec<String>,
}

/// `service_group_instance`, answered as `GroupInstance`: an instance id listed in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInstance {
    pub id: i64,
    pub group_id: i64,
    pub instance_id: String,
}

/// `service_instance`, answered as `ServiceInstance`: a logical instance served in
/// `Service.logicInstances`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    pub id: i64,
    pub service_id: String,
    pub instance_id: String,
    pub ip: String,
    pub machine_name: String,
    /// The JSON text of a `Map<String,String>` (parsed when answered; unreadable text reads as
    /// an empty map, as in Java).
    pub metadata: String,
    pub port: i32,
    pub protocol: String,
    pub region_id: String,
    pub zone_id: String,
    /// The instance's `groupId` (a name, not a group row's id).
    pub group_id: String,
    pub health_check_url: String,
    pub url: String,
    pub description: Option<String>,
}

/// Every live row of the group tables, as a store loads them (any order; [`super::GroupData`]
/// sorts them by id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRows {
    pub route_rules: Vec<ServiceRouteRule>,
    pub route_rule_groups: Vec<RouteRuleGroup>,
    pub groups: Vec<Group>,
    /// With their row id, which orders a group's tags.
    pub tags: Vec<(i64, GroupTag)>,
    /// `(row id, group id, operation)`.
    pub operations: Vec<(i64, i64, String)>,
    pub group_instances: Vec<GroupInstance>,
    pub service_instances: Vec<ServiceInstance>,
}

impl ServiceInstance {
    /// `metadata` as the map Java parses it into: blank or unreadable text is an empty map.
    pub fn metadata_map(&self) -> Metadata<'_> {
        if is_null_or_whitespace(Some(&self.metadata)) {
            return Metadata::default();
        }
        parse::<Metadata>(self.metadata.as_bytes()).unwrap_or_default()
    }
}
