//! An instance's identity as Java compares it (`InstanceKey`: ids lower-cased; one region): how
//! a peer's failed-instance list names the entries of a batch, and how a resync tells whether an
//! unregister's instance is in its snapshot.

use protocol::model::{parse, Instance};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InstanceKey {
    service_id: String,
    instance_id: String,
}

impl InstanceKey {
    /// The key of two ids as they were sent (None when either is missing).
    pub fn of_ids(service_id: Option<&str>, instance_id: Option<&str>) -> Option<InstanceKey> {
        Some(InstanceKey {
            service_id: service_id?.to_lowercase(),
            instance_id: instance_id?.to_lowercase(),
        })
    }

    /// The key of a stored instance's JSON (None when it is not an instance with both ids).
    pub fn of_json(json: &[u8]) -> Option<InstanceKey> {
        let instance = parse::<Instance>(json).ok()?;
        InstanceKey::of_ids(
            instance.service_id.as_deref(),
            instance.instance_id.as_deref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_without_case_and_both_are_needed() {
        let stored = br#"{"instanceId":"A-1","serviceId":"Svc","url":"http://x"}"#;
        assert_eq!(
            InstanceKey::of_json(stored),
            InstanceKey::of_ids(Some("svc"), Some("a-1"))
        );
        assert!(InstanceKey::of_json(stored).is_some());
        assert_eq!(InstanceKey::of_json(br#"{"serviceId":"s"}"#), None);
        assert_eq!(InstanceKey::of_json(b"not json"), None);
        assert_eq!(InstanceKey::of_ids(None, Some("a")), None);
    }
}
