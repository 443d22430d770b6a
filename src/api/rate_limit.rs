//! Java's answers to a rate-limited request (spec §11.9): the endpoint's usual response with
//! `RATE_LIMITED` as its status and every other property at the value Java's constructor gave it
//! (null, 0 or false), HTTP 200, so a Java client retries instead of marking the node down.

use protocol::model::management::groups::validate::GroupEndpoint;
use protocol::model::{write_response_status, ResponseStatus};

use super::management::Manage;
use super::Endpoint;
use crate::server::core::Core;
use crate::server::rate_limit::Identity;

/// The response shape of a rate-limited endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Register/Heartbeat/UnregisterResponse.
    Instances,
    /// GetServiceNodesResponse (`up-*-nodes.json`).
    ServiceNodes,
    /// GetClusterStatusResponse.
    ClusterStatus,
    /// GetLeasesStatusResponse.
    LeasesStatus,
    /// GetConfigStatusResponse.
    ConfigStatus,
    /// GetDeploymentStatusResponse.
    DeploymentStatus,
    /// GetRouteRulesResponse (`group/get-route-rules.json`).
    RouteRules,
    /// GetRouteRuleGroupsResponse (`group/get-route-rule-groups.json`).
    RouteRuleGroups,
    /// GetGroupsResponse (`group/get-groups.json`).
    Groups,
}

impl Shape {
    /// The properties before and after `responseStatus`, alphabetical as Jackson wrote them.
    fn around_status(self) -> (&'static str, &'static str) {
        match self {
            Shape::Instances => (r#""failedInstances":null,"#, ""),
            Shape::ServiceNodes => (r#""nodes":null,"#, ""),
            Shape::ClusterStatus => (r#""nodeCount":0,"nodesStatus":null,"#, ""),
            Shape::LeasesStatus => (
                concat!(
                    r#""isSafe":false,"isSafeCheckEnabled":false,"leaseCount":0,"#,
                    r#""leaseUpdateCountLastTimeWindow":0,"leaseUpdateMaxCount":0,"#,
                    r#""leaseUpdateMaxCountLastUpdateTime":0,"leases":null,"#
                ),
                "",
            ),
            Shape::ConfigStatus => (r#""properties":null,"#, r#","sources":null"#),
            Shape::DeploymentStatus => (
                concat!(
                    r#""appId":null,"ip":null,"machineName":null,"path":null,"port":0,"#,
                    r#""properties":null,"protocol":null,"regionId":null,"#
                ),
                r#","sources":null,"zoneId":null"#,
            ),
            Shape::RouteRules => ("", r#","routeRules":null"#),
            Shape::RouteRuleGroups => ("", r#","routeRuleGroups":null"#),
            Shape::Groups => (r#""groups":null,"#, ""),
        }
    }
}

/// Count one request of `identity` on this core's limiter; when it is over the limit, write
/// Java's rate-limited answer in `shape` to `out` and return its HTTP status, for the handler to
/// return at once.
pub fn refuse_over_limit(
    core: &Core,
    identity: Identity,
    shape: Shape,
    out: &mut Vec<u8>,
) -> Option<u16> {
    if core.rate_limits.admit(identity) {
        return None;
    }
    core.metrics
        .requests
        .count_rate_limited(endpoint_of(identity).metric_id());
    write_rate_limited(out, shape);
    Some(200)
}

/// The endpoint whose requests an identity counts, for the request metrics (WebSocket
/// heartbeats count with `heartbeat.json`).
fn endpoint_of(identity: Identity) -> Endpoint {
    match identity {
        Identity::Register => Endpoint::Register,
        Identity::Heartbeat => Endpoint::Heartbeat,
        Identity::Unregister => Endpoint::Unregister,
        Identity::UpRegistryNodes => Endpoint::UpRegistryNodes,
        Identity::UpDiscoveryNodes => Endpoint::UpDiscoveryNodes,
        Identity::GetCluster => Endpoint::ClusterStatus,
        Identity::GetLeases => Endpoint::Leases,
        Identity::GetLegacyLeases => Endpoint::LegacyLeases,
        Identity::GetConfig => Endpoint::ConfigStatus,
        Identity::GetDeployment => Endpoint::DeploymentStatus,
        Identity::ReplicationRegister => Endpoint::ReplicationRegister,
        Identity::ReplicationHeartbeat => Endpoint::ReplicationHeartbeat,
        Identity::ReplicationUnregister => Endpoint::ReplicationUnregister,
        Identity::ReplicationGetServices => Endpoint::ReplicationServices,
        Identity::GetRouteRules => {
            Endpoint::Management(Manage::Group(GroupEndpoint::GetRouteRules))
        }
        Identity::GetRouteRuleGroups => {
            Endpoint::Management(Manage::Group(GroupEndpoint::GetRouteRuleGroups))
        }
        Identity::GetGroups => Endpoint::Management(Manage::Group(GroupEndpoint::GetGroups)),
    }
}

fn write_rate_limited(out: &mut Vec<u8>, shape: Shape) {
    let (before, after) = shape.around_status();
    out.push(b'{');
    out.extend_from_slice(before.as_bytes());
    out.extend_from_slice(b"\"responseStatus\":");
    write_response_status(out, &ResponseStatus::RATE_LIMITED);
    out.extend_from_slice(after.as_bytes());
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use sonic_rs::JsonContainerTrait;

    use super::super::route;
    use super::*;

    const RATE_LIMITED: &str =
        r#"{"errorCode":"rate-limited","message":"Request is rate limited.","status":"fail"}"#;

    fn written(shape: Shape) -> String {
        let mut out = Vec::new();
        write_rate_limited(&mut out, shape);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn answers_have_java_shapes() {
        assert_eq!(
            written(Shape::Instances),
            format!(r#"{{"failedInstances":null,"responseStatus":{RATE_LIMITED}}}"#)
        );
        assert_eq!(
            written(Shape::ServiceNodes),
            format!(r#"{{"nodes":null,"responseStatus":{RATE_LIMITED}}}"#)
        );
        assert_eq!(
            written(Shape::ClusterStatus),
            format!(r#"{{"nodeCount":0,"nodesStatus":null,"responseStatus":{RATE_LIMITED}}}"#)
        );
        assert_eq!(
            written(Shape::ConfigStatus),
            format!(r#"{{"properties":null,"responseStatus":{RATE_LIMITED},"sources":null}}"#)
        );
        assert_eq!(
            written(Shape::LeasesStatus),
            format!(
                "{{{}\"responseStatus\":{RATE_LIMITED}}}",
                concat!(
                    r#""isSafe":false,"isSafeCheckEnabled":false,"leaseCount":0,"#,
                    r#""leaseUpdateCountLastTimeWindow":0,"leaseUpdateMaxCount":0,"#,
                    r#""leaseUpdateMaxCountLastUpdateTime":0,"leases":null,"#
                )
            )
        );
        assert_eq!(
            written(Shape::DeploymentStatus),
            format!(
                "{{{}\"responseStatus\":{RATE_LIMITED},\"sources\":null,\"zoneId\":null}}",
                concat!(
                    r#""appId":null,"ip":null,"machineName":null,"path":null,"port":0,"#,
                    r#""properties":null,"protocol":null,"regionId":null,"#
                )
            )
        );
        assert_eq!(
            written(Shape::RouteRules),
            format!(r#"{{"responseStatus":{RATE_LIMITED},"routeRules":null}}"#)
        );
        assert_eq!(
            written(Shape::RouteRuleGroups),
            format!(r#"{{"responseStatus":{RATE_LIMITED},"routeRuleGroups":null}}"#)
        );
        assert_eq!(
            written(Shape::Groups),
            format!(r#"{{"groups":null,"responseStatus":{RATE_LIMITED}}}"#)
        );
    }

    #[test]
    fn the_group_identities_count_with_their_endpoints() {
        for (identity, path) in [
            (Identity::GetRouteRules, "get-route-rules"),
            (Identity::GetRouteRuleGroups, "get-route-rule-groups"),
            (Identity::GetGroups, "get-groups"),
        ] {
            let path = format!("/api/management/group/{path}.json");
            assert_eq!(
                Some(endpoint_of(identity)),
                route(&path, ""),
                "{identity:?}"
            );
        }
    }

    #[test]
    fn properties_are_alphabetical_and_responses_are_json_objects() {
        let shapes = [
            Shape::Instances,
            Shape::ServiceNodes,
            Shape::ClusterStatus,
            Shape::LeasesStatus,
            Shape::ConfigStatus,
            Shape::DeploymentStatus,
            Shape::RouteRules,
            Shape::RouteRuleGroups,
            Shape::Groups,
        ];
        for shape in shapes {
            let text = written(shape);
            let value: sonic_rs::Value = sonic_rs::from_str(&text)
                .unwrap_or_else(|e| panic!("{shape:?} is not JSON ({e}): {text}"));
            let object = value.as_object().expect("an object");
            let keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "{shape:?}");
            assert!(text.contains(&format!(r#""responseStatus":{RATE_LIMITED}"#)));
        }
    }
}
