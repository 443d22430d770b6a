//! `InstanceKey`, `ServerKey` and `ZoneKey` (spec §3.8): equal when their fields are equal
//! ignoring ASCII case, as Java's `equals` lower-cases them.

/// `{"regionId","serviceId","instanceId"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceKey {
    pub region_id: String,
    pub service_id: String,
    pub instance_id: String,
}

/// `{"regionId","serverId"}`; `serverId` is an instance's `ip`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerKey {
    pub region_id: String,
    pub server_id: String,
}

/// `{"regionId","serviceId","zoneId"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneKey {
    pub region_id: String,
    pub service_id: String,
    pub zone_id: String,
}

/// The case-folded identity of a key: its fields lower-cased, joined by a byte no id contains
/// in practice (`\n`; ids with a newline only ever collide with each other).
pub(crate) fn fold(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    fold_into(&mut out, parts);
    out
}

/// [`fold`] into a reused buffer.
pub(crate) fn fold_into(out: &mut String, parts: &[&str]) {
    out.clear();
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.extend(part.chars().map(|c| c.to_ascii_lowercase()));
    }
}

impl InstanceKey {
    pub fn folded(&self) -> String {
        fold(&[&self.region_id, &self.service_id, &self.instance_id])
    }
}

impl ServerKey {
    pub fn folded(&self) -> String {
        fold(&[&self.region_id, &self.server_id])
    }
}

impl ZoneKey {
    pub fn folded(&self) -> String {
        fold(&[&self.region_id, &self.service_id, &self.zone_id])
    }
}
