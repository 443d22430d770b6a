//! The `Service` object as discovery serves it (spec §3.2), alphabetical like Java's Jackson:
//! `{"instances":..,"logicInstances":..,"metadata":null,"routeRules":..,"serviceId":..}`, and the
//! `InstanceChange` messages pushed and listed in deltas (spec §3.4, §6.4).

use super::json_writer::{write_i64, write_opt_str, write_str};

/// What goes in the list fields.
pub enum ServiceLists<'a> {
    /// A known service: its serialized `[{instance},...]`, empty logical instances and route rules.
    Instances(&'a [u8]),
    /// A service with no registered instance: every list empty (lookup of an unknown service).
    Empty,
    /// Java's "swallowed failure" shape: every list null (wrong region, bad config).
    Null,
    /// A service as the registry holds it, before any discovery filter (replication
    /// `services.json`): its serialized `[{instance},...]`, the other lists null (Java's
    /// `new Service(id)` with only its instances set).
    Raw(&'a [u8]),
}

/// `service_id` None is written as `null` (Java's answer for a config without a serviceId).
pub fn write_service(out: &mut Vec<u8>, service_id: Option<&str>, lists: ServiceLists<'_>) {
    let (instances, others): (&[u8], &[u8]) = match lists {
        ServiceLists::Instances(json) => (json, b"[]"),
        ServiceLists::Empty => (b"[]", b"[]"),
        ServiceLists::Null => (b"null", b"null"),
        ServiceLists::Raw(json) => (json, b"null"),
    };
    out.extend_from_slice(b"{\"instances\":");
    out.extend_from_slice(instances);
    out.extend_from_slice(b",\"logicInstances\":");
    out.extend_from_slice(others);
    out.extend_from_slice(b",\"metadata\":null,\"routeRules\":");
    out.extend_from_slice(others);
    out.extend_from_slice(b",\"serviceId\":");
    write_opt_str(out, service_id);
    out.push(b'}');
}

/// The `changeType` of an `InstanceChange`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    New,
    Delete,
    /// Re-registration with different data.
    Change,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Delete => "delete",
            ChangeKind::Change => "change",
        }
    }
}

/// `{"changeTime":..,"changeType":..,"instance":{...}}`, alphabetical like Java.
pub fn write_instance_change(
    out: &mut Vec<u8>,
    time_ms: i64,
    kind: ChangeKind,
    instance_json: &[u8],
) {
    out.extend_from_slice(b"{\"changeTime\":");
    write_i64(out, time_ms);
    out.extend_from_slice(b",\"changeType\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"instance\":");
    out.extend_from_slice(instance_json);
    out.push(b'}');
}

/// One entry of a delta map: `"serviceId":[InstanceChange,...]` (no surrounding braces).
pub fn write_service_changes<'a>(
    out: &mut Vec<u8>,
    service_id: &str,
    changes: impl Iterator<Item = (i64, ChangeKind, &'a [u8])>,
) {
    write_str(out, service_id);
    out.extend_from_slice(b":[");
    for (n, (time_ms, kind, instance_json)) in changes.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_instance_change(out, time_ms, kind, instance_json);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_alphabetical_and_grouped() {
        let mut out = Vec::new();
        let changes = [
            (5, ChangeKind::New, &b"{\"a\":1}"[..]),
            (6, ChangeKind::Delete, &b"{\"a\":2}"[..]),
        ];
        write_service_changes(&mut out, "svc", changes.into_iter());
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#""svc":[{"changeTime":5,"changeType":"new","instance":{"a":1}},{"changeTime":6,"changeType":"delete","instance":{"a":2}}]"#
        );
    }

    #[test]
    fn shapes_match_the_spec() {
        let mut out = Vec::new();
        write_service(&mut out, Some("x"), ServiceLists::Empty);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"instances":[],"logicInstances":[],"metadata":null,"routeRules":[],"serviceId":"x"}"#
        );
        out.clear();
        write_service(&mut out, None, ServiceLists::Null);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"instances":null,"logicInstances":null,"metadata":null,"routeRules":null,"serviceId":null}"#
        );
        out.clear();
        write_service(
            &mut out,
            Some("My\"Svc"),
            ServiceLists::Instances(b"[{\"a\":1}]"),
        );
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"instances":[{"a":1}],"logicInstances":[],"metadata":null,"routeRules":[],"serviceId":"My\"Svc"}"#
        );
        out.clear();
        write_service(&mut out, Some("raw"), ServiceLists::Raw(b"[{\"a\":1}]"));
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"instances":[{"a":1}],"logicInstances":null,"metadata":null,"routeRules":null,"serviceId":"raw"}"#
        );
    }
}
