//! Group keys (Java `ServiceGroupKeys`, spec §3.3, §11.6): the lower-case path
//! `serviceId/regionId/zoneId/name` of a group, and `serviceId/regionId/zoneId/groupId/instanceId`
//! of an instance, which belongs to every group whose key is a prefix path of its own.

use crate::model::is_null_or_whitespace;

/// The group of an instance whose `groupId` is blank (`ServiceGroups.DEFAULT_GROUP_ID`).
const DEFAULT_GROUP_ID: &str = "default";

/// caravan `StringValues.concatPathParts` then `toLowerCase`: blank parts are skipped, the others
/// trimmed (Java's `String.trim`) and joined by `/`, leading `/` of every part after the first
/// dropped and no `/` doubled after a part that ends with one.
pub fn group_key(parts: &[&str]) -> String {
    let mut key = String::new();
    let mut first = true;
    for part in parts {
        if is_null_or_whitespace(Some(part)) {
            continue;
        }
        let part = part.trim_matches(|c: char| c <= ' ');
        if first {
            key.push_str(part);
            first = false;
        } else {
            if !key.ends_with('/') {
                key.push('/');
            }
            key.push_str(part.trim_start_matches('/'));
        }
    }
    key.to_lowercase()
}

/// `ServiceGroups.isDefaultGroupId`: blank, or `default` ignoring case and surrounding spaces.
fn is_default_group_id(group_id: Option<&str>) -> bool {
    is_null_or_whitespace(group_id)
        || group_id.is_some_and(|g| {
            g.trim_matches(|c: char| c <= ' ')
                .eq_ignore_ascii_case(DEFAULT_GROUP_ID)
        })
}

/// `ServiceGroupKeys.of(instance)`: the key an instance is matched against group keys with, its
/// blank or `default` group spelled `default`.
pub fn instance_group_key(
    service_id: &str,
    region_id: &str,
    zone_id: &str,
    group_id: Option<&str>,
    instance_id: &str,
) -> String {
    let group = match group_id {
        Some(group) if !is_default_group_id(Some(group)) => group,
        _ => DEFAULT_GROUP_ID,
    };
    group_key(&[service_id, region_id, zone_id, group, instance_id])
}

/// A key as the list of its non-empty `/`-separated parts joined again by `/`
/// (`ServiceGroupKeys.toGroupIdList`, which the pull-out search tree walks), so that prefix
/// paths can be compared as string prefixes ending at a `/`.
pub(crate) fn key_path(key: &str) -> String {
    let mut path = String::with_capacity(key.len());
    for part in key.split('/').filter(|p| !p.is_empty()) {
        if !path.is_empty() {
            path.push('/');
        }
        path.push_str(part);
    }
    path.to_lowercase()
}

/// Every prefix path of `path` (as [`key_path`] builds it), shortest first, ending with `path`.
pub(crate) fn prefix_paths(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(at, _)| &path[..at])
        .chain(std::iter::once(path).filter(|p| !p.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_keys_join_trimmed_non_blank_parts_in_lower_case() {
        assert_eq!(group_key(&["Svc", "SHA", "Zone1", "G"]), "svc/sha/zone1/g");
        assert_eq!(group_key(&[" svc ", "", "  ", "z", "g"]), "svc/z/g");
        assert_eq!(group_key(&["svc/", "/r", "//z"]), "svc/r/z");
        assert_eq!(group_key(&["", " "]), "");
    }

    #[test]
    fn instances_without_a_group_are_in_the_default_one() {
        assert_eq!(
            instance_group_key("S", "R", "Z", None, "I"),
            "s/r/z/default/i"
        );
        assert_eq!(
            instance_group_key("s", "r", "z", Some(" Default "), "i"),
            "s/r/z/default/i"
        );
        assert_eq!(
            instance_group_key("s", "r", "z", Some("Canary"), "i"),
            "s/r/z/canary/i"
        );
        assert!(is_default_group_id(Some("\t")));
        assert!(!is_default_group_id(Some("defaults")));
    }

    #[test]
    fn paths_drop_empty_parts_and_list_their_prefixes() {
        assert_eq!(key_path("/A//b/c/"), "a/b/c");
        assert_eq!(
            prefix_paths("a/b/c").collect::<Vec<_>>(),
            ["a", "a/b", "a/b/c"]
        );
        assert_eq!(prefix_paths("a").collect::<Vec<_>>(), ["a"]);
        assert_eq!(prefix_paths("").count(), 0);
    }
}
