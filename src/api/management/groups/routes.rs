//! The paths of the group endpoints, update-canary-ips and the group logs (Java's
//! `management/config/RestPaths`).

use protocol::model::management::groups::validate::GroupEndpoint as G;
use protocol::model::management::groups::GroupLogKind as L;

use super::super::Manage::{self, Group, GroupLogs};

pub const ROUTES: &[(&str, Manage)] = &[
    (
        "/api/management/group/insert-route-rules.json",
        Group(G::InsertRouteRules),
    ),
    (
        "/api/management/group/update-route-rules.json",
        Group(G::UpdateRouteRules),
    ),
    (
        "/api/management/group/delete-route-rules.json",
        Group(G::DeleteRouteRules),
    ),
    (
        "/api/management/group/get-all-route-rules.json",
        Group(G::GetAllRouteRules),
    ),
    (
        "/api/management/group/get-route-rules.json",
        Group(G::GetRouteRules),
    ),
    (
        "/api/management/group/create-route-rule.json",
        Group(G::CreateRouteRule),
    ),
    (
        "/api/management/group/insert-route-rule-groups.json",
        Group(G::InsertRouteRuleGroups),
    ),
    (
        "/api/management/group/update-route-rule-groups.json",
        Group(G::UpdateRouteRuleGroups),
    ),
    (
        "/api/management/group/release-route-rule-groups.json",
        Group(G::ReleaseRouteRuleGroups),
    ),
    (
        "/api/management/group/delete-route-rule-groups.json",
        Group(G::DeleteRouteRuleGroups),
    ),
    (
        "/api/management/group/get-all-route-rule-groups.json",
        Group(G::GetAllRouteRuleGroups),
    ),
    (
        "/api/management/group/get-route-rule-groups.json",
        Group(G::GetRouteRuleGroups),
    ),
    (
        "/api/management/group/insert-groups.json",
        Group(G::InsertGroups),
    ),
    (
        "/api/management/group/update-groups.json",
        Group(G::UpdateGroups),
    ),
    (
        "/api/management/group/delete-groups.json",
        Group(G::DeleteGroups),
    ),
    (
        "/api/management/group/get-all-groups.json",
        Group(G::GetAllGroups),
    ),
    ("/api/management/group/get-groups.json", Group(G::GetGroups)),
    (
        "/api/management/group/insert-group-tags.json",
        Group(G::InsertGroupTags),
    ),
    (
        "/api/management/group/update-group-tags.json",
        Group(G::UpdateGroupTags),
    ),
    (
        "/api/management/group/delete-group-tags.json",
        Group(G::DeleteGroupTags),
    ),
    (
        "/api/management/group/get-all-group-tags.json",
        Group(G::GetAllGroupTags),
    ),
    (
        "/api/management/group/get-group-tags.json",
        Group(G::GetGroupTags),
    ),
    (
        "/api/management/group/operate-group-operations.json",
        Group(G::OperateGroupOperations),
    ),
    (
        "/api/management/group/operate-group-operation.json",
        Group(G::OperateGroupOperation),
    ),
    (
        "/api/management/group/get-all-group-operations.json",
        Group(G::GetAllGroupOperations),
    ),
    (
        "/api/management/group/get-group-operations.json",
        Group(G::GetGroupOperations),
    ),
    (
        "/api/management/group/insert-group-instances.json",
        Group(G::InsertGroupInstances),
    ),
    (
        "/api/management/group/delete-group-instances.json",
        Group(G::DeleteGroupInstances),
    ),
    (
        "/api/management/group/get-group-instances.json",
        Group(G::GetGroupInstances),
    ),
    (
        "/api/management/group/insert-service-instances.json",
        Group(G::InsertServiceInstances),
    ),
    (
        "/api/management/group/delete-service-instances.json",
        Group(G::DeleteServiceInstances),
    ),
    (
        "/api/management/group/get-service-instances.json",
        Group(G::GetServiceInstances),
    ),
    (
        "/api/management/canary/update-canary-ips.json",
        Group(G::UpdateCanaryIps),
    ),
    (
        "/api/management/log/group-operation-logs.json",
        GroupLogs(L::GroupOperation),
    ),
    ("/api/management/log/group-logs.json", GroupLogs(L::Group)),
    (
        "/api/management/log/route-rule-logs.json",
        GroupLogs(L::RouteRule),
    ),
    (
        "/api/management/log/route-rule-group-logs.json",
        GroupLogs(L::RouteRuleGroup),
    ),
    (
        "/api/management/log/group-instance-logs.json",
        GroupLogs(L::GroupInstance),
    ),
    (
        "/api/management/log/service-instance-logs.json",
        GroupLogs(L::ServiceInstance),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_one_path_where_java_mapped_it() {
        let mut endpoints = Vec::new();
        let mut kinds = Vec::new();
        for &(path, route) in ROUTES {
            assert_eq!(
                ROUTES.iter().filter(|&&(p, _)| p == path).count(),
                1,
                "{path} is routed once"
            );
            match route {
                Group(G::UpdateCanaryIps) => {
                    assert_eq!(path, "/api/management/canary/update-canary-ips.json");
                    endpoints.push(G::UpdateCanaryIps);
                }
                Group(endpoint) => {
                    assert!(path.starts_with("/api/management/group/"), "{path}");
                    assert!(!endpoints.contains(&endpoint), "{endpoint:?} routed twice");
                    endpoints.push(endpoint);
                }
                GroupLogs(kind) => {
                    assert!(path.starts_with("/api/management/log/"), "{path}");
                    assert!(!kinds.contains(&kind), "{kind:?} routed twice");
                    kinds.push(kind);
                }
                other => panic!("{path} routes to {other:?}"),
            }
        }
        assert_eq!(
            endpoints.len(),
            32 + 1,
            "32 group endpoints and update-canary-ips"
        );
        assert_eq!(kinds.len(), 6, "six group logs");
    }
}
