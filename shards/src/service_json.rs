//! The `Service` object as discovery serves it (spec §3.2), alphabetical like Java's Jackson:
//! `{"instances":..,"logicInstances":..,"metadata":null,"routeRules":..,"serviceId":..}`.

use protocol::model::write_opt_str;

/// What goes in the list fields.
pub enum ServiceLists<'a> {
    /// A known service: its serialized `[{instance},...]`, empty logical instances and route rules.
    Instances(&'a [u8]),
    /// A service with no registered instance: every list empty (lookup of an unknown service).
    Empty,
    /// Java's "swallowed failure" shape: every list null (wrong region, bad config).
    Null,
}

/// `service_id` None is written as `null` (Java's answer for a config without a serviceId).
pub fn write_service(out: &mut Vec<u8>, service_id: Option<&str>, lists: ServiceLists<'_>) {
    let (instances, others): (&[u8], &[u8]) = match lists {
        ServiceLists::Instances(json) => (json, b"[]"),
        ServiceLists::Empty => (b"[]", b"[]"),
        ServiceLists::Null => (b"null", b"null"),
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
