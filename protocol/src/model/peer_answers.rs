//! Answers a node reads from its peers (spec §8.2, §9.3): `status/node.json`, polled for the
//! peer's health, and `replication/registry/services.json`, the full registry a starting node
//! copies. Read as leniently as requests (Java nodes answer through Jackson too); everything a
//! node does not use (a peer's own `node`, logical instances, route rules) is skipped.

use super::de::{lenient_object, LenientStr, Nullable};
use super::instance::{Instance, Str};
use super::status::status_strings;

/// `ResponseStatus` as a peer wrote it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnswerStatus<'a> {
    pub status: Str<'a>,
    pub error_code: Str<'a>,
    pub message: Str<'a>,
}

impl AnswerStatus<'_> {
    /// `ResponseStatusUtil.isSuccess`: the status (not the error code) is exactly `success`.
    pub fn is_success(&self) -> bool {
        self.status.as_deref() == Some(status_strings::SUCCESS)
    }
}

/// Whether an answer's `responseStatus` is present and a success.
pub fn answered_success(status: Option<&AnswerStatus>) -> bool {
    status.is_some_and(AnswerStatus::is_success)
}

/// A peer's `ServiceNodeStatus`: its status and what it says it can serve. Flags Java left null
/// (a node that has not finished starting) are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerNodeStatus<'a> {
    pub status: Str<'a>,
    /// `node`: the URL the peer advertises to clients.
    pub node: Option<PeerNode<'a>>,
    pub can_service_registry: Option<bool>,
    pub can_service_discovery: Option<bool>,
    pub allow_registry_from_other_zone: Option<bool>,
    pub allow_discovery_from_other_zone: Option<bool>,
}

/// A `ServiceNode` as a peer describes itself: only its URL matters here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerNode<'a> {
    pub url: Str<'a>,
}

/// `GetClusterNodeStatusResponse`: `{"nodeStatus":{..},"responseStatus":{..}}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeStatusAnswer<'a> {
    pub node_status: Option<PeerNodeStatus<'a>>,
    pub response_status: Option<AnswerStatus<'a>>,
}

/// One `Service` of a registry copy: only its id and its instances matter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceInstances<'a> {
    pub service_id: Str<'a>,
    pub instances: Option<Vec<Option<Instance<'a>>>>,
}

/// `GetServicesResponse` of the replication endpoint: `{"responseStatus":..,"services":[..]}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServicesAnswer<'a> {
    pub response_status: Option<AnswerStatus<'a>>,
    pub services: Option<Vec<Option<ServiceInstances<'a>>>>,
}

lenient_object! {
    AnswerStatus<'de>, "a ResponseStatus object", {
        "status" => status: LenientStr<'de>,
        "errorCode" => error_code: LenientStr<'de>,
        "message" => message: LenientStr<'de>,
    }
}

lenient_object! {
    PeerNode<'de>, "a ServiceNode object", {
        "url" => url: LenientStr<'de>,
    }
}

lenient_object! {
    PeerNodeStatus<'de>, "a ServiceNodeStatus object", {
        "status" => status: LenientStr<'de>,
        "node" => node: Nullable<PeerNode<'de>>,
        "canServiceRegistry" => can_service_registry: Nullable<bool>,
        "canServiceDiscovery" => can_service_discovery: Nullable<bool>,
        "allowRegistryFromOtherZone" => allow_registry_from_other_zone: Nullable<bool>,
        "allowDiscoveryFromOtherZone" => allow_discovery_from_other_zone: Nullable<bool>,
    }
}

lenient_object! {
    NodeStatusAnswer<'de>, "a GetClusterNodeStatusResponse object", {
        "nodeStatus" => node_status: Nullable<PeerNodeStatus<'de>>,
        "responseStatus" => response_status: Nullable<AnswerStatus<'de>>,
    }
}

lenient_object! {
    ServiceInstances<'de>, "a Service object", {
        "serviceId" => service_id: LenientStr<'de>,
        "instances" => instances: Nullable<Vec<Option<Instance<'de>>>>,
    }
}

lenient_object! {
    ServicesAnswer<'de>, "a GetServicesResponse object", {
        "responseStatus" => response_status: Nullable<AnswerStatus<'de>>,
        "services" => services: Nullable<Vec<Option<ServiceInstances<'de>>>>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{spec_instance, SPEC_INSTANCE_JSON};
    use crate::model::parse;

    const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

    #[test]
    fn a_java_node_status_answer_is_read() {
        let body = format!(
            r#"{{"nodeStatus":{{"allowDiscoveryFromOtherZone":true,"allowRegistryFromOtherZone":false,"canServiceDiscovery":true,"canServiceRegistry":true,"node":{{"url":"http://127.0.0.1:8080/artemis-service/","zone":{{"metadata":null,"regionId":"SHA","zoneId":"sha-z1"}}}},"status":"up"}},"responseStatus":{OK}}}"#
        );
        let answer: NodeStatusAnswer = parse(body.as_bytes()).unwrap();
        assert!(answered_success(answer.response_status.as_ref()));
        let status = answer.node_status.unwrap();
        assert_eq!(status.status.as_deref(), Some("up"));
        assert_eq!(status.can_service_registry, Some(true));
        assert_eq!(status.can_service_discovery, Some(true));
        assert_eq!(status.allow_registry_from_other_zone, Some(false));
        assert_eq!(status.allow_discovery_from_other_zone, Some(true));
        let node = status.node.unwrap();
        assert_eq!(
            node.url.as_deref(),
            Some("http://127.0.0.1:8080/artemis-service/")
        );
    }

    #[test]
    fn a_starting_java_node_leaves_its_flags_null() {
        let body = br#"{"nodeStatus":{"allowDiscoveryFromOtherZone":false,"allowRegistryFromOtherZone":false,"canServiceDiscovery":null,"canServiceRegistry":null,"node":null,"status":"starting"},"responseStatus":{"status":"success"}}"#;
        let status = parse::<NodeStatusAnswer>(body)
            .unwrap()
            .node_status
            .unwrap();
        assert_eq!(status.status.as_deref(), Some("starting"));
        assert_eq!(status.can_service_registry, None);
        assert_eq!(status.can_service_discovery, None);
    }

    #[test]
    fn only_a_success_status_is_success() {
        let fail = br#"{"nodeStatus":null,"responseStatus":{"errorCode":"internal-service-error","message":"x","status":"fail"}}"#;
        let answer: NodeStatusAnswer = parse(fail).unwrap();
        assert!(!answered_success(answer.response_status.as_ref()));
        assert!(answer.node_status.is_none());
        let missing: NodeStatusAnswer = parse(b"{}").unwrap();
        assert!(!answered_success(missing.response_status.as_ref()));
        // The error code alone does not make a success (Java compares the status).
        let code_only: AnswerStatus = parse(br#"{"errorCode":"success"}"#).unwrap();
        assert!(!code_only.is_success());
    }

    #[test]
    fn a_registry_copy_lists_services_with_their_instances() {
        let body = format!(
            r#"{{"responseStatus":{OK},"services":[{{"instances":[{SPEC_INSTANCE_JSON},null],"logicInstances":null,"metadata":null,"routeRules":null,"serviceId":"myservice"}},null,{{"instances":null,"serviceId":"empty"}}]}}"#
        );
        let answer: ServicesAnswer = parse(body.as_bytes()).unwrap();
        assert!(answered_success(answer.response_status.as_ref()));
        let services = answer.services.unwrap();
        assert_eq!(services.len(), 3);
        let first = services[0].as_ref().unwrap();
        assert_eq!(first.service_id.as_deref(), Some("myservice"));
        let instances = first.instances.as_ref().unwrap();
        assert_eq!(instances.len(), 2);
        assert_eq!(
            instances[0].clone().map(Instance::into_owned),
            Some(spec_instance())
        );
        assert!(instances[1].is_none());
        assert!(services[1].is_none());
        assert!(services[2].as_ref().unwrap().instances.is_none());
    }

    #[test]
    fn an_empty_copy_and_a_null_list_differ() {
        let empty = format!(r#"{{"responseStatus":{OK},"services":[]}}"#);
        let empty: ServicesAnswer = parse(empty.as_bytes()).unwrap();
        assert_eq!(empty.services.map(|s| s.len()), Some(0));
        let null = format!(r#"{{"responseStatus":{OK},"services":null}}"#);
        let null: ServicesAnswer = parse(null.as_bytes()).unwrap();
        assert!(null.services.is_none());
    }
}
