//! `Instance` and its `metadata` map (spec §3.1), plus the Java helpers that
//! operate on a single instance.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use smallvec::SmallVec;

use super::de::{lenient_object, CowStr, LenientI32, LenientStr, Nullable};

/// A nullable Java `String`, borrowed from the request body when possible.
pub type Str<'a> = Option<Cow<'a, str>>;

/// A registered service instance, exactly as a client sent it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Instance<'a> {
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub group_id: Str<'a>,
    pub service_id: Str<'a>,
    pub instance_id: Str<'a>,
    pub machine_name: Str<'a>,
    pub ip: Str<'a>,
    pub port: i32,
    pub protocol: Str<'a>,
    pub url: Str<'a>,
    pub health_check_url: Str<'a>,
    pub status: Str<'a>,
    pub metadata: Option<Metadata<'a>>,
}

/// A Java `Map<String,String>` in insertion order; values may be null.
/// Keys are data, so they are case-sensitive. Duplicate keys are resolved as a
/// Java `LinkedHashMap.put` would: the first position, the last value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata<'a> {
    pub entries: SmallVec<[MetadataEntry<'a>; 4]>,
}

/// One metadata key and its nullable value.
pub type MetadataEntry<'a> = (Cow<'a, str>, Option<Cow<'a, str>>);

/// Up to this many entries duplicates are resolved while inserting; beyond it
/// a single sort at the end keeps hostile bodies with many keys from costing
/// quadratic time.
const LINEAR_DEDUPE_LIMIT: usize = 16;

impl<'a> Metadata<'a> {
    /// The value for `key` (exact match); `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_deref())
    }

    /// `LinkedHashMap.put`: replaces the value in place, or appends.
    pub fn insert(&mut self, key: Cow<'a, str>, value: Option<Cow<'a, str>>) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn into_owned(self) -> Metadata<'static> {
        Metadata {
            entries: self
                .entries
                .into_iter()
                .map(|(k, v)| (owned(k), v.map(owned)))
                .collect(),
        }
    }

    /// Resolves duplicates appended past [`LINEAR_DEDUPE_LIMIT`].
    fn dedupe(&mut self) {
        let n = self.entries.len();
        let mut order: Vec<usize> = (0..n).collect();
        // Ties broken by position, so each run of equal keys is in input order.
        order.sort_unstable_by(|&a, &b| self.entries[a].0.cmp(&self.entries[b].0).then(a.cmp(&b)));
        let mut drop = vec![false; n];
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && self.entries[order[end]].0 == self.entries[order[start]].0 {
                end += 1;
            }
            if end - start > 1 {
                let last_value = self.entries[order[end - 1]].1.take();
                self.entries[order[start]].1 = last_value;
                for &i in &order[start + 1..end] {
                    drop[i] = true;
                }
            }
            start = end;
        }
        let mut index = 0;
        self.entries.retain(|_| {
            let keep = !drop[index];
            index += 1;
            keep
        });
    }
}

fn owned(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

fn owned_str(s: Str<'_>) -> Str<'static> {
    s.map(owned)
}

/// caravan `StringValues.isNullOrWhitespace`: null, or only chars that Java's
/// `Character.isWhitespace` accepts.
pub fn is_null_or_whitespace(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.chars().all(is_java_whitespace))
}

/// `java.lang.Character.isWhitespace`: Unicode space separators except the
/// no-break ones, line/paragraph separators, and the ASCII/C0 separators.
fn is_java_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\u{1C}'..='\u{20}'
            | '\u{1680}'
            | '\u{2000}'..='\u{2006}'
            | '\u{2008}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

/// Java's `String.toLowerCase()` for one piece of `Instance.toString()`.
fn push_lower(out: &mut String, s: Option<&str>) {
    let s = s.unwrap_or("null");
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&s.to_lowercase());
    }
}

/// Most UTF-8 bytes the strings of an [`Instance`] may hold (`limits.max_id_bytes`,
/// `limits.max_metadata_bytes`): what one instance may pin in a registry and in each change
/// pushed about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLimits {
    /// Each string field (ids, names, addresses, URLs, status).
    pub max_id_bytes: usize,
    /// Every metadata key and value together.
    pub max_metadata_bytes: usize,
}

impl Instance<'_> {
    pub fn into_owned(self) -> Instance<'static> {
        Instance {
            region_id: owned_str(self.region_id),
            zone_id: owned_str(self.zone_id),
            group_id: owned_str(self.group_id),
            service_id: owned_str(self.service_id),
            instance_id: owned_str(self.instance_id),
            machine_name: owned_str(self.machine_name),
            ip: owned_str(self.ip),
            port: self.port,
            protocol: owned_str(self.protocol),
            url: owned_str(self.url),
            health_check_url: owned_str(self.health_check_url),
            status: owned_str(self.status),
            metadata: self.metadata.map(Metadata::into_owned),
        }
    }

    /// `RegistryRepository.isLegacyInstance`: a non-blank `java_registry`
    /// metadata value puts the instance under the legacy lease manager.
    pub fn is_legacy(&self) -> bool {
        let value = self.metadata.as_ref().and_then(|m| m.get("java_registry"));
        !is_null_or_whitespace(value)
    }

    /// Java `Instance.toString()`, appended to `out`: lower-case
    /// `region/zone/service[/group]/instance`, nulls as `null`. It prefixes
    /// every per-instance error message.
    pub fn display_key(&self, out: &mut String) {
        push_lower(out, self.region_id.as_deref());
        out.push('/');
        push_lower(out, self.zone_id.as_deref());
        out.push('/');
        push_lower(out, self.service_id.as_deref());
        if !is_null_or_whitespace(self.group_id.as_deref()) {
            out.push('/');
            push_lower(out, self.group_id.as_deref());
        }
        out.push('/');
        push_lower(out, self.instance_id.as_deref());
    }

    /// `InstanceChecker.check(instance, "instance")`: the first blank required
    /// field, as the exception message Java reports.
    pub fn check_required(&self) -> Result<(), &'static str> {
        check_required_fields(
            self.service_id.as_deref(),
            self.instance_id.as_deref(),
            is_null_or_whitespace(self.url.as_deref()),
        )
    }
}

/// [`Instance::check_required`] from the fields it reads; `url` only matters by its blankness,
/// which is all a heartbeat scan ([`super::heartbeat_scan`]) keeps of it.
pub(crate) fn check_required_fields(
    service_id: Option<&str>,
    instance_id: Option<&str>,
    url_blank: bool,
) -> Result<(), &'static str> {
    if is_null_or_whitespace(service_id) {
        return Err("argument instance.serviceId is null or whitespace");
    }
    if is_null_or_whitespace(instance_id) {
        return Err("argument instance.instanceId is null or whitespace");
    }
    if url_blank {
        return Err("argument instance.url is null or whitespace");
    }
    Ok(())
}

impl Instance<'_> {
    /// The first string field (in wire order, metadata last) longer than `limits` allows, as the
    /// message of an argument exception like [`Instance::check_required`]'s.
    pub fn check_lengths(&self, limits: FieldLimits) -> Result<(), String> {
        let fields = [
            ("regionId", &self.region_id),
            ("zoneId", &self.zone_id),
            ("groupId", &self.group_id),
            ("serviceId", &self.service_id),
            ("instanceId", &self.instance_id),
            ("machineName", &self.machine_name),
            ("ip", &self.ip),
            ("protocol", &self.protocol),
            ("url", &self.url),
            ("healthCheckUrl", &self.health_check_url),
            ("status", &self.status),
        ];
        for (name, value) in fields {
            if value
                .as_ref()
                .is_some_and(|v| v.len() > limits.max_id_bytes)
            {
                return Err(format!(
                    "argument instance.{name} is longer than {} bytes",
                    limits.max_id_bytes
                ));
            }
        }
        let metadata_bytes: usize = self.metadata.as_ref().map_or(0, |m| {
            m.entries
                .iter()
                .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()))
                .sum()
        });
        if metadata_bytes > limits.max_metadata_bytes {
            return Err(format!(
                "argument instance.metadata is longer than {} bytes (keys and values)",
                limits.max_metadata_bytes
            ));
        }
        Ok(())
    }
}

lenient_object! {
    Instance<'de>, "an Instance object", {
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "groupId" => group_id: LenientStr<'de>,
        "serviceId" => service_id: LenientStr<'de>,
        "instanceId" => instance_id: LenientStr<'de>,
        "machineName" => machine_name: LenientStr<'de>,
        "ip" => ip: LenientStr<'de>,
        "port" => port: LenientI32,
        "protocol" => protocol: LenientStr<'de>,
        "url" => url: LenientStr<'de>,
        "healthCheckUrl" => health_check_url: LenientStr<'de>,
        "status" => status: LenientStr<'de>,
        "metadata" => metadata: Nullable<Metadata<'de>>,
    }
}

impl<'de> Deserialize<'de> for Metadata<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = Metadata<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut metadata = Metadata::default();
        let mut needs_dedupe = false;
        while let Some(CowStr(key)) = map.next_key()? {
            let LenientStr(value) = map.next_value()?;
            if metadata.entries.len() < LINEAR_DEDUPE_LIMIT {
                metadata.insert(key, value);
            } else {
                metadata.entries.push((key, value));
                needs_dedupe = true;
            }
        }
        if needs_dedupe {
            metadata.dedupe();
        }
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cow(s: &str) -> Cow<'_, str> {
        Cow::Borrowed(s)
    }

    fn instance<'a>(region: &'a str, zone: &'a str, service: &'a str, id: &'a str) -> Instance<'a> {
        Instance {
            region_id: Some(cow(region)),
            zone_id: Some(cow(zone)),
            service_id: Some(cow(service)),
            instance_id: Some(cow(id)),
            url: Some(cow("http://x")),
            ..Instance::default()
        }
    }

    fn key(i: &Instance) -> String {
        let mut s = String::new();
        i.display_key(&mut s);
        s
    }

    #[test]
    fn display_key_matches_java_to_string() {
        let mut i = instance("SHA", "SHAJQ", "MyService", "10.0.0.1:8080");
        assert_eq!(key(&i), "sha/shajq/myservice/10.0.0.1:8080");
        i.group_id = Some(cow("  "));
        assert_eq!(key(&i), "sha/shajq/myservice/10.0.0.1:8080");
        i.group_id = Some(cow("G1"));
        assert_eq!(key(&i), "sha/shajq/myservice/g1/10.0.0.1:8080");
        assert_eq!(key(&Instance::default()), "null/null/null/null");
        let unicode = instance("ÄÖ", "z", "Σvc", "İd");
        assert_eq!(key(&unicode), "äö/z/σvc/i\u{307}d");
    }

    #[test]
    fn display_key_appends() {
        let mut s = String::from("prefix ");
        instance("a", "b", "c", "d").display_key(&mut s);
        assert_eq!(s, "prefix a/b/c/d");
    }

    #[test]
    fn check_required_reports_fields_in_java_order() {
        let mut i = Instance::default();
        assert_eq!(
            i.check_required(),
            Err("argument instance.serviceId is null or whitespace")
        );
        i.service_id = Some(cow("svc"));
        i.url = Some(cow("\t"));
        assert_eq!(
            i.check_required(),
            Err("argument instance.instanceId is null or whitespace")
        );
        i.instance_id = Some(cow("id"));
        assert_eq!(
            i.check_required(),
            Err("argument instance.url is null or whitespace")
        );
        i.url = Some(cow("http://x"));
        assert_eq!(i.check_required(), Ok(()));
        i.service_id = Some(cow("\u{3000}\u{2029}"));
        assert!(i.check_required().is_err());
        // No-break space is not whitespace to Java.
        i.service_id = Some(cow("\u{A0}"));
        assert_eq!(i.check_required(), Ok(()));
    }

    #[test]
    fn check_lengths_names_the_first_field_over_its_limit() {
        let limits = FieldLimits {
            max_id_bytes: 4,
            max_metadata_bytes: 6,
        };
        let mut i = instance("abcd", "z", "svc", "id");
        i.url = Some(cow("u"));
        assert_eq!(i.check_lengths(limits), Ok(()), "at the limit is fine");
        i.health_check_url = Some(cow("ééé"));
        assert_eq!(
            i.check_lengths(limits),
            Err("argument instance.healthCheckUrl is longer than 4 bytes".into()),
            "bytes, not characters"
        );
        i.zone_id = Some(cow("zzzzz"));
        assert_eq!(
            i.check_lengths(limits),
            Err("argument instance.zoneId is longer than 4 bytes".into()),
            "the first field in wire order"
        );
        let mut i = instance("a", "b", "c", "d");
        i.url = Some(cow("u"));
        let mut m = Metadata::default();
        m.insert(cow("ab"), Some(cow("cd")));
        m.insert(cow("e"), None);
        m.insert(cow("f"), None);
        i.metadata = Some(m.clone());
        assert_eq!(
            i.check_lengths(limits),
            Ok(()),
            "6 bytes of keys and values"
        );
        m.insert(cow("g"), None);
        i.metadata = Some(m);
        assert_eq!(
            i.check_lengths(limits),
            Err("argument instance.metadata is longer than 6 bytes (keys and values)".into())
        );
    }

    #[test]
    fn legacy_needs_a_non_blank_exact_key() {
        let mut i = instance("a", "b", "c", "d");
        assert!(!i.is_legacy());
        let mut m = Metadata::default();
        m.insert(cow("JAVA_REGISTRY"), Some(cow("x")));
        m.insert(cow("java_registry"), Some(cow(" ")));
        i.metadata = Some(m.clone());
        assert!(!i.is_legacy());
        m.insert(cow("java_registry"), None);
        i.metadata = Some(m.clone());
        assert!(!i.is_legacy());
        m.insert(cow("java_registry"), Some(cow("true")));
        i.metadata = Some(m);
        assert!(i.is_legacy());
    }

    #[test]
    fn metadata_insert_replaces_in_place() {
        let mut m = Metadata::default();
        m.insert(cow("a"), Some(cow("1")));
        m.insert(cow("b"), None);
        m.insert(cow("a"), Some(cow("2")));
        assert_eq!(m.len(), 2);
        assert_eq!(m.entries[0], (cow("a"), Some(cow("2"))));
        assert_eq!(m.get("a"), Some("2"));
        assert_eq!(m.get("b"), None);
        assert_eq!(m.get("A"), None);
    }

    #[test]
    fn many_duplicate_keys_keep_first_position_and_last_value() {
        let mut json = String::from("{");
        for i in 0..200 {
            if i > 0 {
                json.push(',');
            }
            // keys k0..k39 repeat five times; value records the round.
            json.push_str(&format!("\"k{}\":\"{}\"", i % 40, i / 40));
        }
        json.push('}');
        let m: Metadata = sonic_rs::from_str(&json).unwrap();
        assert_eq!(m.len(), 40);
        for (n, (k, v)) in m.entries.iter().enumerate() {
            assert_eq!(k, &format!("k{n}"));
            assert_eq!(v.as_deref(), Some("4"));
        }
    }

    #[test]
    fn into_owned_preserves_everything() {
        let mut i = instance("a", "b", "c", "d");
        let mut m = Metadata::default();
        m.insert(cow("k"), None);
        i.metadata = Some(m);
        i.port = 9;
        let owned: Instance<'static> = i.clone().into_owned();
        assert_eq!(owned, i);
        assert!(matches!(owned.region_id, Some(Cow::Owned(_))));
    }
}
