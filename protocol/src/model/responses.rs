//! Response envelopes of the discovery, status and cluster endpoints (spec §6, §8), written by
//! hand in Jackson's shape: properties alphabetical, nulls included. Handlers decide *what* to
//! answer; these functions are the only place that knows how it is spelled on the wire.

use std::sync::Arc;

use super::cluster::{write_node_status, write_service_node, NodeInfo, NodeStatus};
use super::json_writer::{write_bool, write_i64, write_opt_str, write_str};
use super::service::{write_service, ServiceLists};
use super::status::{error_codes, fail, write_response_status, ResponseStatus};

/// `GET /health` while the process is alive.
pub const HEALTH_UP: &[u8] = br#"{"status":"up"}"#;

/// `lookup.json` success: one Service per requested config, in request order (spec §6.1).
pub fn write_lookup_response<'a>(
    out: &mut Vec<u8>,
    services: impl Iterator<Item = (Option<&'a str>, ServiceLists<'a>)>,
) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"services\":[");
    for (n, (service_id, lists)) in services.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_service(out, service_id, lists);
    }
    out.extend_from_slice(b"]}");
}

/// `lookup.json` refused as a whole: `{"responseStatus":{..},"services":null}`.
pub fn write_lookup_failure(out: &mut Vec<u8>, status: &ResponseStatus) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, status);
    out.extend_from_slice(b",\"services\":null}");
}

/// Where a body made of owned bytes and shared allocations goes (the server queues the shared
/// parts on the connection without copying them).
pub trait BodySink {
    /// Owned bytes to write next: append only (a sink may keep earlier parts' bytes in the same
    /// buffer, so truncating it would cut into them).
    fn owned(&mut self) -> &mut Vec<u8>;
    /// Shared bytes to write next.
    fn share(&mut self, bytes: &Arc<[u8]>);
}

/// A Service of a lookup answer: lists to write, or a cached served view (the fields before
/// `serviceId`, as [`write_service_fields`](super::service::write_service_fields) wrote them) to
/// share.
pub enum ServiceAnswer<'a> {
    Lists(ServiceLists<'a>),
    Shared(&'a Arc<[u8]>),
}

/// Served views shorter than this are copied: sharing costs a part and a separate write.
pub const SHARE_FIELDS_FROM: usize = 4096;

fn write_service_to(sink: &mut impl BodySink, service_id: Option<&str>, answer: ServiceAnswer) {
    match answer {
        ServiceAnswer::Shared(fields) if fields.len() >= SHARE_FIELDS_FROM => {
            sink.owned().push(b'{');
            sink.share(fields);
            let out = sink.owned();
            out.extend_from_slice(b",\"serviceId\":");
            write_opt_str(out, service_id);
            out.push(b'}');
        }
        ServiceAnswer::Shared(fields) => {
            write_service(sink.owned(), service_id, ServiceLists::Served(fields))
        }
        ServiceAnswer::Lists(lists) => write_service(sink.owned(), service_id, lists),
    }
}

/// [`write_lookup_response`], the large served views shared rather than copied.
pub fn write_lookup_response_to<'a>(
    sink: &mut impl BodySink,
    services: impl Iterator<Item = (Option<&'a str>, ServiceAnswer<'a>)>,
) {
    let out = sink.owned();
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"services\":[");
    for (n, (service_id, answer)) in services.enumerate() {
        if n > 0 {
            sink.owned().push(b',');
        }
        write_service_to(sink, service_id, answer);
    }
    sink.owned().extend_from_slice(b"]}");
}

/// [`write_service_response`] of a success, the large served view shared rather than copied.
pub fn write_service_response_to(
    sink: &mut impl BodySink,
    service_id: &str,
    answer: ServiceAnswer,
) {
    let out = sink.owned();
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"service\":");
    write_service_to(sink, Some(service_id), answer);
    sink.owned().push(b'}');
}

/// `service.json`: `{"responseStatus":{..},"service":{..}|null}` (spec §6.2).
pub fn write_service_response(
    out: &mut Vec<u8>,
    status: &ResponseStatus,
    service: Option<(&str, ServiceLists)>,
) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, status);
    out.extend_from_slice(b",\"service\":");
    match service {
        Some((id, lists)) => write_service(out, Some(id), lists),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// Joins comma-separated fragments (each a possibly empty list of JSON values without
/// brackets) into one list body.
fn write_joined<'a>(out: &mut Vec<u8>, fragments: impl Iterator<Item = &'a [u8]>) {
    let mut first = true;
    for fragment in fragments.filter(|f| !f.is_empty()) {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(fragment);
    }
}

/// `services.json`: every service, and the data version the list is at least as new as
/// (spec §6.3). `fragments` are comma-separated Service objects, one fragment per shard.
pub fn write_services_response<'a>(
    out: &mut Vec<u8>,
    fragments: impl Iterator<Item = &'a [u8]>,
    version: u64,
) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"services\":[");
    write_joined(out, fragments);
    out.extend_from_slice(b"],\"version\":");
    write_i64(out, version as i64);
    out.push(b'}');
}

/// `services.json` refused (the node cannot serve discovery):
/// `{"responseStatus":{..},"services":null,"version":0}`.
pub fn write_services_failure(out: &mut Vec<u8>, status: &ResponseStatus) {
    out.extend_from_slice(b"{\"responseStatus\":");
    write_response_status(out, status);
    out.extend_from_slice(b",\"services\":null,\"version\":0}");
}

/// `services-delta.json` success (spec §6.4). `fragments` are delta-map entries
/// (`"serviceId":[InstanceChange,..]`, comma-separated), one fragment per shard.
pub fn write_delta_response<'a>(
    out: &mut Vec<u8>,
    fragments: impl Iterator<Item = &'a [u8]>,
    version: u64,
) {
    out.extend_from_slice(b"{\"delta\":{");
    write_joined(out, fragments);
    out.extend_from_slice(b"},\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.extend_from_slice(b",\"version\":");
    write_i64(out, version as i64);
    out.push(b'}');
}

/// `services-delta.json` when no exact delta exists: the client fetches `services.json` again.
pub fn write_delta_not_found(out: &mut Vec<u8>) {
    write_delta_failure(
        out,
        &fail(error_codes::DATA_NOT_FOUND, "Delta is not found."),
    );
}

/// `services-delta.json` failed: `{"delta":null,"responseStatus":{..},"version":0}`.
pub fn write_delta_failure(out: &mut Vec<u8>, status: &ResponseStatus) {
    out.extend_from_slice(b"{\"delta\":null,\"responseStatus\":");
    write_response_status(out, status);
    out.extend_from_slice(b",\"version\":0}");
}

/// A calendar time in the server's time zone, as Java's `SimpleDateFormat` printed it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
}

/// `yyyy-MM-dd HH:mm:ss.SSS`.
pub fn write_local_time(out: &mut Vec<u8>, t: &LocalTime) {
    let fields: [(i64, usize, Option<u8>); 7] = [
        (t.year as i64, 4, Some(b'-')),
        (t.month as i64, 2, Some(b'-')),
        (t.day as i64, 2, Some(b' ')),
        (t.hour as i64, 2, Some(b':')),
        (t.minute as i64, 2, Some(b':')),
        (t.second as i64, 2, Some(b'.')),
        (t.millis as i64, 3, None),
    ];
    for (value, width, separator) in fields {
        write_padded(out, value, width);
        out.extend(separator);
    }
}

fn write_padded(out: &mut Vec<u8>, value: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = value.unsigned_abs();
    let mut n = 0;
    while v > 0 || n == 0 {
        digits[n] = b'0' + (v % 10) as u8;
        v /= 10;
        n += 1;
    }
    for _ in n..width {
        out.push(b'0');
    }
    out.extend(digits[..n].iter().rev());
}

/// One `LeaseStatus` of `status/leases.json` (spec §8.2). Java misspells `evitionTime`.
pub struct LeaseStatus<'a> {
    pub creation_time: LocalTime,
    pub eviction_time: LocalTime,
    /// `Instance.toString()`-style key of the leased instance.
    pub instance: &'a str,
    pub renewal_time: LocalTime,
    pub ttl_ms: u64,
}

pub fn write_lease_status(out: &mut Vec<u8>, lease: &LeaseStatus) {
    out.extend_from_slice(b"{\"creationTime\":\"");
    write_local_time(out, &lease.creation_time);
    out.extend_from_slice(b"\",\"evitionTime\":\"");
    write_local_time(out, &lease.eviction_time);
    out.extend_from_slice(b"\",\"instance\":");
    write_str(out, lease.instance);
    out.extend_from_slice(b",\"renewalTime\":\"");
    write_local_time(out, &lease.renewal_time);
    out.extend_from_slice(b"\",\"ttl\":");
    write_i64(out, lease.ttl_ms as i64);
    out.push(b'}');
}

/// Writes the entries of a leases map, `"serviceId":[LeaseStatus,..]`, from leases that arrive
/// grouped by service (no surrounding braces).
#[derive(Default)]
pub struct LeaseMapWriter {
    open: bool,
}

impl LeaseMapWriter {
    /// `first_of_service` is true for the first lease of each service.
    pub fn push(
        &mut self,
        out: &mut Vec<u8>,
        service_id: &str,
        first_of_service: bool,
        lease: &LeaseStatus,
    ) {
        if first_of_service {
            if self.open {
                out.extend_from_slice(b"],");
            }
            write_str(out, service_id);
            out.extend_from_slice(b":[");
            self.open = true;
        } else {
            assert!(self.open, "a service's first lease opens its list");
            out.push(b',');
        }
        write_lease_status(out, lease);
    }

    pub fn finish(self, out: &mut Vec<u8>) {
        if self.open {
            out.push(b']');
        }
    }
}

/// The self-preservation and count header of a leases answer.
pub struct LeasesSummary {
    pub is_safe: bool,
    pub is_safe_check_enabled: bool,
    pub lease_count: u64,
    pub window_count: u64,
    pub max_count: u64,
    /// Epoch milliseconds.
    pub max_count_updated_ms: i64,
}

/// `status/leases.json` / `legacy-leases.json`; `fragments` are lease-map entries, one fragment
/// per shard.
pub fn write_leases_response<'a>(
    out: &mut Vec<u8>,
    summary: &LeasesSummary,
    fragments: impl Iterator<Item = &'a [u8]>,
) {
    out.extend_from_slice(b"{\"isSafe\":");
    write_bool(out, summary.is_safe);
    out.extend_from_slice(b",\"isSafeCheckEnabled\":");
    write_bool(out, summary.is_safe_check_enabled);
    out.extend_from_slice(b",\"leaseCount\":");
    write_i64(out, summary.lease_count as i64);
    out.extend_from_slice(b",\"leaseUpdateCountLastTimeWindow\":");
    write_i64(out, summary.window_count as i64);
    out.extend_from_slice(b",\"leaseUpdateMaxCount\":");
    write_i64(out, summary.max_count as i64);
    out.extend_from_slice(b",\"leaseUpdateMaxCountLastUpdateTime\":");
    write_i64(out, summary.max_count_updated_ms);
    out.extend_from_slice(b",\"leases\":{");
    write_joined(out, fragments);
    out.extend_from_slice(b"},\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
}

/// `status/node.json`: `{"nodeStatus":{..},"responseStatus":{..}}` (spec §8.2).
pub fn write_node_status_response(out: &mut Vec<u8>, s: &NodeStatus) {
    out.extend_from_slice(b"{\"nodeStatus\":");
    write_node_status(out, s);
    out.extend_from_slice(b",\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
}

/// `up-registry-nodes.json` / `up-discovery-nodes.json` (spec §8.1): the nodes that may serve the
/// caller, or `data-not-found` with null nodes when none may.
pub fn write_up_nodes_response<'a>(out: &mut Vec<u8>, nodes: Option<&[NodeInfo<'a>]>) {
    let Some(nodes) = nodes else {
        out.extend_from_slice(b"{\"nodes\":null,\"responseStatus\":");
        write_response_status(
            out,
            &fail(error_codes::DATA_NOT_FOUND, "No available service nodes."),
        );
        out.push(b'}');
        return;
    };
    out.extend_from_slice(b"{\"nodes\":[");
    for (n, node) in nodes.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_service_node(out, node);
    }
    out.extend_from_slice(b"],\"responseStatus\":");
    write_response_status(out, &ResponseStatus::SUCCESS);
    out.push(b'}');
}

/// The test clock's answer: `{"nowMs":..}` (not part of Java's protocol).
pub fn write_clock_response(out: &mut Vec<u8>, now_ms: u64) {
    out.extend_from_slice(b"{\"nowMs\":");
    write_i64(out, now_ms as i64);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects a shared-parts body as the connection would write it.
    #[derive(Default)]
    struct Parts {
        bytes: Vec<u8>,
        shared: usize,
    }

    impl BodySink for Parts {
        fn owned(&mut self) -> &mut Vec<u8> {
            &mut self.bytes
        }
        fn share(&mut self, bytes: &Arc<[u8]>) {
            self.shared += 1;
            self.bytes.extend_from_slice(bytes);
        }
    }

    #[test]
    fn shared_parts_bodies_are_byte_identical_to_the_plain_writers() {
        let big = {
            let mut f = Vec::new();
            let instances = format!("[{}]", vec![r#"{"instanceId":"i"}"#; 400].join(","));
            super::super::service::write_service_fields(
                &mut f,
                |o| o.extend_from_slice(instances.as_bytes()),
                |o| o.extend_from_slice(b"[]"),
                |o| o.extend_from_slice(b"[]"),
            );
            Arc::<[u8]>::from(f)
        };
        assert!(big.len() >= SHARE_FIELDS_FROM);
        let small: Arc<[u8]> = Arc::from(
            &br#""instances":[],"logicInstances":[],"metadata":null,"routeRules":[]"#[..],
        );
        let ids = [
            Some("Big"),
            None,
            Some("small"),
            Some("q\"uote"),
            Some("gone"),
        ];
        let mut plain = Vec::new();
        write_lookup_response(
            &mut plain,
            ids.iter()
                .zip([
                    ServiceLists::Served(&big),
                    ServiceLists::Null,
                    ServiceLists::Served(&small),
                    ServiceLists::Served(&big),
                    ServiceLists::Empty,
                ])
                .map(|(id, l)| (*id, l)),
        );
        let mut parts = Parts::default();
        write_lookup_response_to(
            &mut parts,
            ids.iter()
                .zip([
                    ServiceAnswer::Shared(&big),
                    ServiceAnswer::Lists(ServiceLists::Null),
                    ServiceAnswer::Shared(&small),
                    ServiceAnswer::Shared(&big),
                    ServiceAnswer::Lists(ServiceLists::Empty),
                ])
                .map(|(id, a)| (*id, a)),
        );
        assert_eq!(
            String::from_utf8(parts.bytes).unwrap(),
            String::from_utf8(plain).unwrap()
        );
        assert_eq!(parts.shared, 2, "only the large views are shared");

        let mut plain = Vec::new();
        write_service_response(
            &mut plain,
            &ResponseStatus::SUCCESS,
            Some(("Big", ServiceLists::Served(&big))),
        );
        let mut parts = Parts::default();
        write_service_response_to(&mut parts, "Big", ServiceAnswer::Shared(&big));
        assert_eq!(parts.bytes, plain);
        assert_eq!(parts.shared, 1);
    }
    use crate::model::fixtures::text;

    const OK: &str = r#"{"errorCode":"success","message":"","status":"success"}"#;

    #[test]
    fn services_and_delta_join_non_empty_fragments() {
        let parts: [&[u8]; 3] = [b"{\"a\":1}", b"", b"{\"b\":2},{\"c\":3}"];
        assert_eq!(
            text(|o| write_services_response(o, parts.into_iter(), 7)),
            format!(
                r#"{{"responseStatus":{OK},"services":[{{"a":1}},{{"b":2}},{{"c":3}}],"version":7}}"#
            )
        );
        let parts: [&[u8]; 2] = [b"", b""];
        assert_eq!(
            text(|o| write_delta_response(o, parts.into_iter(), 9)),
            format!(r#"{{"delta":{{}},"responseStatus":{OK},"version":9}}"#)
        );
        assert!(text(write_delta_not_found)
            .starts_with(r#"{"delta":null,"responseStatus":{"errorCode":"data-not-found""#));
    }

    #[test]
    fn discovery_failures_null_their_data_and_zero_the_version() {
        let down = fail(error_codes::SERVICE_UNAVAILABLE, "down");
        let status = r#"{"errorCode":"service-unavailable","message":"down","status":"fail"}"#;
        assert_eq!(
            text(|o| write_services_failure(o, &down)),
            format!(r#"{{"responseStatus":{status},"services":null,"version":0}}"#)
        );
        assert_eq!(
            text(|o| write_delta_failure(o, &down)),
            format!(r#"{{"delta":null,"responseStatus":{status},"version":0}}"#)
        );
    }

    #[test]
    fn local_time_is_zero_padded() {
        let t = LocalTime {
            year: 2019,
            month: 2,
            day: 3,
            hour: 4,
            minute: 5,
            second: 6,
            millis: 7,
        };
        assert_eq!(text(|o| write_local_time(o, &t)), "2019-02-03 04:05:06.007");
    }

    #[test]
    fn lease_map_groups_by_service() {
        let lease = LeaseStatus {
            creation_time: LocalTime::default(),
            eviction_time: LocalTime::default(),
            instance: "k",
            renewal_time: LocalTime::default(),
            ttl_ms: 20_000,
        };
        let json = text(|o| {
            let mut w = LeaseMapWriter::default();
            w.push(o, "a", true, &lease);
            w.push(o, "a", false, &lease);
            w.push(o, "b", true, &lease);
            w.finish(o);
        });
        let one = r#"{"creationTime":"0000-00-00 00:00:00.000","evitionTime":"0000-00-00 00:00:00.000","instance":"k","renewalTime":"0000-00-00 00:00:00.000","ttl":20000}"#;
        assert_eq!(json, format!(r#""a":[{one},{one}],"b":[{one}]"#));
    }

    #[test]
    fn up_nodes_with_and_without_nodes() {
        let node = NodeInfo {
            url: "http://h/",
            region_id: "r",
            zone_id: "z",
        };
        assert_eq!(
            text(|o| write_up_nodes_response(o, Some(&[node]))),
            format!(
                r#"{{"nodes":[{{"url":"http://h/","zone":{{"metadata":null,"regionId":"r","zoneId":"z"}}}}],"responseStatus":{OK}}}"#
            )
        );
        assert!(text(|o| write_up_nodes_response(o, None))
            .starts_with(r#"{"nodes":null,"responseStatus":{"errorCode":"data-not-found""#));
    }
}
