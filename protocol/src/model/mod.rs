//! The Artemis JSON model (spec §3, §5, §6, §8).
//!
//! Input is read like the Java server reads it (Jackson with case-insensitive
//! property names, scalar coercion, unknown properties ignored), borrowing
//! strings from the body where possible. Output is written by hand into a
//! reused buffer in Jackson's shape: camelCase, alphabetical, nulls included.

mod cluster;
mod de;
#[cfg(test)]
mod fixtures;
mod heartbeat_scan;
mod instance;
mod json_writer;
pub mod management;
mod parse;
mod peer_answers;
mod replication;
mod requests;
mod responses;
mod service;
mod status;
mod status_reports;

pub use cluster::{
    node_status_text, write_node_status, write_service_node, NodeFlags, NodeInfo, NodeStatus,
    ReplicationFigures,
};
pub use heartbeat_scan::{scan_heartbeat, HeartbeatKey, HeartbeatScan};
pub use instance::{is_null_or_whitespace, FieldLimits, Instance, Metadata, MetadataEntry, Str};
pub use json_writer::{
    write_bool, write_i64, write_instance, write_metadata, write_opt_str, write_str,
};
pub use parse::{parse, parse_optional, JsonError, MAX_DEPTH};
pub use peer_answers::{
    answered_success, AnswerStatus, NodeStatusAnswer, PeerNode, PeerNodeStatus, ServiceInstances,
    ServicesAnswer,
};
pub use replication::{write_replication_services_failure, ReplicationServicesWriter};
pub use requests::{
    DiscoveryConfig, GetLeasesRequest, GetServiceRequest, GetServicesDeltaRequest,
    InstancesRequest, LookupRequest, RegionZoneRequest,
};
pub use responses::*;
pub use service::{
    write_instance_change, write_reload_instance, write_service, write_service_changes,
    write_service_fields, ChangeKind, ServiceLists,
};
pub use status::{
    error_codes, fail, status_strings, write_error_body, write_fail_body, write_failed_instance,
    write_instances_fail, write_instances_status, write_response_status, InstancesResponseWriter,
    ResponseStatus,
};
pub use status_reports::{
    write_cluster_status_response, write_config_status_response, write_connections_response,
    write_deployment_status_response, ConfigReport, DeploymentStatus,
};
