//! The filters of the `get-*` group endpoints that Java answers from its database rather than
//! from its cache (spec §10.4): each `Some` field must match (text ignoring ASCII case, as
//! MySQL's collation did); `None` (a blank or missing request field) matches everything. Only
//! live rows are ever returned.

/// get-route-rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRuleFilter {
    pub route_rule_id: Option<i64>,
    pub service_id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
}

/// get-route-rule-groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRuleGroupFilter {
    pub route_rule_group_id: Option<i64>,
    pub route_rule_id: Option<i64>,
    pub group_id: Option<i64>,
}

/// get-groups (Java reads the request's `groupId` and never uses it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFilter {
    pub service_id: Option<String>,
    pub region_id: Option<String>,
    pub zone_id: Option<String>,
    pub name: Option<String>,
    pub app_id: Option<String>,
    pub status: Option<String>,
}

/// get-group-instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupInstanceFilter {
    pub group_id: Option<i64>,
    pub instance_id: Option<String>,
}

/// get-service-instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceInstanceFilter {
    pub service_id: Option<String>,
    pub instance_id: Option<String>,
}
