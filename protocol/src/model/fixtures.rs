//! Shared test data: the instance of the spec's §5.2 examples.

use std::borrow::Cow;

use super::instance::{Instance, Metadata};

fn s(v: &'static str) -> Option<Cow<'static, str>> {
    Some(Cow::Borrowed(v))
}

/// What a writer appends to an empty buffer, as text.
pub(crate) fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8(out).expect("writers produce UTF-8")
}

pub(crate) fn spec_instance() -> Instance<'static> {
    let mut metadata = Metadata::default();
    metadata.insert(Cow::Borrowed("k"), s("v"));
    Instance {
        region_id: s("SHA"),
        zone_id: s("SHAJQ"),
        group_id: None,
        service_id: s("myservice"),
        instance_id: s("10.0.0.1:8080"),
        machine_name: s("host1"),
        ip: s("10.0.0.1"),
        port: 8080,
        protocol: s("http"),
        url: s("http://10.0.0.1:8080/api"),
        health_check_url: s("http://10.0.0.1:8080/health"),
        status: s("up"),
        metadata: Some(metadata),
    }
}

/// [`spec_instance`] as Jackson writes it (the register example of §5.2, unwrapped).
pub(crate) const SPEC_INSTANCE_JSON: &str = concat!(
    r#"{"groupId":null,"healthCheckUrl":"http://10.0.0.1:8080/health","instanceId":"10.0.0.1:8080","#,
    r#""ip":"10.0.0.1","machineName":"host1","metadata":{"k":"v"},"port":8080,"protocol":"http","#,
    r#""regionId":"SHA","serviceId":"myservice","status":"up","url":"http://10.0.0.1:8080/api","zoneId":"SHAJQ"}"#
);
