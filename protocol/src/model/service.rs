//! The `Service` object as discovery serves it (spec §3.2), alphabetical like Java's Jackson:
//! `{"instances":..,"logicInstances":..,"metadata":null,"routeRules":..,"serviceId":..}`, and the
//! `InstanceChange` messages pushed and listed in deltas (spec §3.4, §6.4).

use std::borrow::Cow;

use super::instance::Instance;
use super::json_writer::{write_i64, write_instance, write_opt_str, write_str};

/// What goes in the list fields.
pub enum ServiceLists<'a> {
    /// A service as discovery serves it: its fields before `serviceId`, as
    /// [`write_service_fields`] wrote them.
    Served(&'a [u8]),
    /// Its serialized `[{instance},...]`, empty logical instances and route rules.
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
    let same = |json: &'static [u8]| move |out: &mut Vec<u8>| out.extend_from_slice(json);
    out.push(b'{');
    match lists {
        ServiceLists::Served(fields) => out.extend_from_slice(fields),
        ServiceLists::Instances(json) => {
            write_service_fields(out, |o| o.extend_from_slice(json), same(b"[]"), same(b"[]"));
        }
        ServiceLists::Empty => write_service_fields(out, same(b"[]"), same(b"[]"), same(b"[]")),
        ServiceLists::Null => {
            write_service_fields(out, same(b"null"), same(b"null"), same(b"null"));
        }
        ServiceLists::Raw(json) => {
            write_service_fields(
                out,
                |o| o.extend_from_slice(json),
                same(b"null"),
                same(b"null"),
            );
        }
    }
    out.extend_from_slice(b",\"serviceId\":");
    write_opt_str(out, service_id);
    out.push(b'}');
}

/// The fields of a Service that sort before `serviceId`:
/// `"instances":..,"logicInstances":..,"metadata":null,"routeRules":..`, each list written by
/// its function. A shard caches these per service, so that the one copy answers a lookup
/// whatever spelling of the id it echoes.
pub fn write_service_fields(
    out: &mut Vec<u8>,
    instances: impl FnOnce(&mut Vec<u8>),
    logic_instances: impl FnOnce(&mut Vec<u8>),
    route_rules: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(b"\"instances\":");
    instances(out);
    out.extend_from_slice(b",\"logicInstances\":");
    logic_instances(out);
    out.extend_from_slice(b",\"metadata\":null,\"routeRules\":");
    route_rules(out);
}

/// `InstanceChanges.RELOAD_FAKE_URL`: the literal text, not the service id substituted.
const RELOAD_URL: &str = "http://serviceId/reload";

/// The fake instance a `reload` change carries (`InstanceChanges.newReloadInstanceChange`):
/// instance id `reload`, ip `0.0.0.0`, url `http://serviceId/reload`, port 0, the rest null.
pub fn write_reload_instance(out: &mut Vec<u8>, service_id: &str) {
    let instance = Instance {
        service_id: Some(Cow::Borrowed(service_id)),
        instance_id: Some(Cow::Borrowed(ChangeKind::Reload.as_str())),
        ip: Some(Cow::Borrowed("0.0.0.0")),
        url: Some(Cow::Borrowed(RELOAD_URL)),
        ..Instance::default()
    };
    write_instance(out, &instance);
}

/// The `changeType` of an `InstanceChange`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    New,
    Delete,
    /// Re-registration with different data.
    Change,
    /// What discovery serves of the service besides its instances changed (route rules,
    /// logical instances): the client looks the service up again. Carries the fake instance
    /// of [`write_reload_instance`].
    Reload,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Delete => "delete",
            ChangeKind::Change => "change",
            ChangeKind::Reload => "reload",
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

    #[test]
    fn served_fields_are_completed_with_the_echoed_id() {
        let mut fields = Vec::new();
        write_service_fields(
            &mut fields,
            |o| o.extend_from_slice(b"[{\"a\":1}]"),
            |o| o.extend_from_slice(b"[{\"l\":2}]"),
            |o| o.extend_from_slice(b"[{\"routeId\":\"r\"}]"),
        );
        let mut out = Vec::new();
        write_service(&mut out, Some("SVC"), ServiceLists::Served(&fields));
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"instances":[{"a":1}],"logicInstances":[{"l":2}],"metadata":null,"routeRules":[{"routeId":"r"}],"serviceId":"SVC"}"#
        );
    }

    #[test]
    fn a_reload_carries_javas_fake_instance() {
        let mut instance = Vec::new();
        write_reload_instance(&mut instance, "My.Svc");
        let mut out = Vec::new();
        write_instance_change(&mut out, 7, ChangeKind::Reload, &instance);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            concat!(
                r#"{"changeTime":7,"changeType":"reload","instance":{"groupId":null,"#,
                r#""healthCheckUrl":null,"instanceId":"reload","ip":"0.0.0.0","machineName":null,"#,
                r#""metadata":null,"port":0,"protocol":null,"regionId":null,"serviceId":"My.Svc","#,
                r#""status":null,"url":"http://serviceId/reload","zoneId":null}}"#
            )
        );
    }
}
