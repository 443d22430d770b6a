//! Reserved names, weight bounds and group keys: Java's `util/RouteRules.java`,
//! `util/ServiceGroups.java` and `util/ServiceGroupKeys.java`.

use crate::model::{is_null_or_whitespace, Instance};

/// The rule every service has: served, or synthesized over all its instances.
pub const DEFAULT_ROUTE_RULE: &str = "default-route-rule";
/// The rule whose groups may carry their instances inline (canary IPs).
pub const CANARY_ROUTE_RULE: &str = "canary-route-rule";
/// The key of the one group of a synthesized default rule.
pub const DEFAULT_GROUP_KEY: &str = "default-group-key";
/// The group id that stands in for a null, blank or `default` instance group id.
pub const DEFAULT_GROUP_ID: &str = "default";
/// A served weight that is null or negative becomes this.
pub const DEFAULT_WEIGHT: u32 = 5;
/// A served weight above this is clamped to it.
pub const MAX_WEIGHT: u32 = 10_000;

/// `ServiceGroups.fixWeight`: null or negative → [`DEFAULT_WEIGHT`], above
/// [`MAX_WEIGHT`] → [`MAX_WEIGHT`]. Zero stays zero: such a group takes no traffic.
pub fn fix_weight(weight: Option<i32>) -> u32 {
    match weight {
        Some(weight) if weight >= 0 => weight.unsigned_abs().min(MAX_WEIGHT),
        _ => DEFAULT_WEIGHT,
    }
}

/// `ServiceGroups.isDefaultGroupId`: null, blank, or `default` in any case once trimmed.
pub fn is_default_group_id(group_id: Option<&str>) -> bool {
    match group_id {
        None => true,
        Some(id) => {
            is_null_or_whitespace(Some(id)) || java_trim(id).eq_ignore_ascii_case(DEFAULT_GROUP_ID)
        }
    }
}

/// `ServiceGroupKeys.of(instance)`: lower-case
/// `serviceId/regionId/zoneId/(groupId or "default")/instanceId`, joined the way caravan's
/// `concatPathParts` joins (blank parts are left out, so a blank zone shortens the key).
pub fn instance_group_key(instance: &Instance<'_>) -> String {
    let group_id = if is_default_group_id(instance.group_id.as_deref()) {
        Some(DEFAULT_GROUP_ID)
    } else {
        instance.group_id.as_deref()
    };
    let key = concat_path_parts([
        instance.service_id.as_deref(),
        instance.region_id.as_deref(),
        instance.zone_id.as_deref(),
        group_id,
        instance.instance_id.as_deref(),
    ]);
    java_lower_case(&key)
}

/// caravan `StringValues.concatPathParts`: skips blank parts, trims the rest, and joins
/// them with exactly one `/` (a part's leading slashes are dropped, a trailing slash
/// on what came before is reused).
fn concat_path_parts<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let mut path = String::new();
    let mut first = true;
    for part in parts {
        if is_null_or_whitespace(part) {
            continue;
        }
        let part = java_trim(part.unwrap_or_default());
        if first {
            path.push_str(part);
            first = false;
            continue;
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(part.trim_start_matches('/'));
    }
    path
}

/// Whether the lower-cased group key `prefix` names `key` or one of its ancestors, path
/// segment by path segment: `svc/r/z/g1` contains `svc/r/z/g1/i1` but not `svc/r/z/g10/i1`.
pub fn is_path_prefix(prefix: &str, key: &str) -> bool {
    key.starts_with(prefix)
        && (key.len() == prefix.len()
            || prefix.ends_with('/')
            || key.as_bytes()[prefix.len()] == b'/')
}

/// `ServiceGroupKeys.toGroupIdList`: the lower-cased, non-empty segments of a group key.
pub fn group_key_segments(group_key: &str) -> Vec<String> {
    group_key
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(java_lower_case)
        .collect()
}

/// Java's `String.toLowerCase()` (ASCII fast path; Unicode rules otherwise).
pub fn java_lower_case(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// Java's `String.trim()`: strips every char up to U+0020 at both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}
