//! Where the caller runs, and how close a group is to it (close-by-visit).

use super::keys::{group_key_segments, java_lower_case};
use crate::model::is_null_or_whitespace;

/// The caller's region and zone (Java: the client's `DeploymentConfig`), compared
/// case-insensitively. A blank one matches no group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locality {
    region_id: Option<String>,
    zone_id: Option<String>,
}

/// How close a group is to the caller; the derived order puts the closest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Closeness {
    SameZone,
    SameRegion,
    Elsewhere,
}

impl Locality {
    pub fn new(region_id: Option<&str>, zone_id: Option<&str>) -> Self {
        let lower = |id: Option<&str>| {
            id.filter(|id| !is_null_or_whitespace(Some(id)))
                .map(java_lower_case)
        };
        Locality {
            region_id: lower(region_id),
            zone_id: lower(zone_id),
        }
    }

    /// Region and zone are the second and third segments of a group key
    /// (`serviceId/regionId/zoneId/groupName`). As in Java's `ServiceGroups.isLocalZone`, a
    /// key with fewer segments (`default-group-key`) names no place and counts as local.
    pub(super) fn closeness(&self, group_key: &str) -> Closeness {
        let segments = group_key_segments(group_key);
        if segments.len() < 3 {
            return Closeness::SameZone;
        }
        let same_region = self.region_id.as_deref() == Some(segments[1].as_str());
        let same_zone = self.zone_id.as_deref() == Some(segments[2].as_str());
        match (same_region, same_zone) {
            (true, true) => Closeness::SameZone,
            (true, false) => Closeness::SameRegion,
            (false, _) => Closeness::Elsewhere,
        }
    }
}
