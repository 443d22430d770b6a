//! Java Artemis server properties (spec §9.1, §11, §12; key names and built-in defaults from
//! the Java sources) → artemis TOML that behaves the same where artemis has the setting.
//!
//! Three kinds of keys: [`MAPPINGS`] become artemis keys (a key the file does not set becomes
//! the Java server's built-in default where that differs from artemis's own); [`NO_EQUIVALENT`]
//! keys are Java settings artemis has nothing for, each with the reason; every other key is
//! unknown. Both of the last two are reported, never silently dropped. The result is checked
//! with the server's own validation before it is printed.

use std::collections::HashMap;

use super::properties::Property;
use crate::config::Config;

/// The converted file and what the operator should read about it.
#[derive(Debug)]
pub struct Conversion {
    pub toml: String,
    /// One line each: keys not converted (unknown or without equivalent), values Java would
    /// have corrected, settings artemis shares where Java had two.
    pub notes: Vec<String>,
}

/// How a Java value is read.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A non-negative whole number (milliseconds, counts, percentages).
    Number,
    Boolean,
    Text,
    /// `lease-update-safe-checker.time-window`: Java clamps it to 10 s..5 min and rounds it
    /// down to whole seconds (`LeaseUpdateSafeChecker._timeWindowCorrector`).
    SafeCheckerWindow,
    /// caravan's `rate-limit-map`: `identity:limit` pairs separated by commas
    /// (`get-leases:10,get-config:5`), read into a table of limits per identity.
    LimitMap,
}

/// A Java key artemis has a setting for.
struct Mapping {
    java: &'static str,
    /// `section.key`, or a top-level `key`.
    artemis: &'static str,
    kind: Kind,
    /// What the Java server did when no property set the key.
    java_default: JavaDefault,
}

#[derive(Clone, Copy, Debug)]
enum JavaDefault {
    /// It used this value.
    Value(&'static str),
    /// It refused to start (`ClusterManager.init` checks region and zone).
    Required,
    /// Nothing: the setting is optional.
    Unset,
}

impl JavaDefault {
    fn value(self) -> Option<&'static str> {
        match self {
            JavaDefault::Value(v) => Some(v),
            JavaDefault::Required | JavaDefault::Unset => None,
        }
    }
}

const fn map(
    java: &'static str,
    artemis: &'static str,
    kind: Kind,
    java_default: JavaDefault,
) -> Mapping {
    Mapping {
        java,
        artemis,
        kind,
        java_default,
    }
}

/// In output order (top-level keys first, then one section after another).
/// `<java id>.rate-limiter.<java key>` → `rate_limits.<limiter>.<key>`; a key the file does not
/// set keeps artemis's default, which is Java's.
macro_rules! rate_limit {
    ($java_id:literal, $limiter:literal, $java_key:literal, $key:literal, $kind:expr) => {
        map(
            concat!($java_id, ".rate-limiter.", $java_key),
            concat!("rate_limits.", $limiter, ".", $key),
            $kind,
            JavaDefault::Unset,
        )
    };
}

const MAPPINGS: &[Mapping] = &[
    // DeploymentConfig (`META-INF/app.properties` or the environment, spec §11.8).
    map("region.id", "region_id", Kind::Text, JavaDefault::Required),
    map("zone.id", "zone_id", Kind::Text, JavaDefault::Required),
    map("app.path", "path_prefix", Kind::Text, JavaDefault::Unset),
    // LeaseManager: `<manager>.lease-manager.lease.ttl`, 20 s by default for both managers.
    map(
        "artemis.service.registry.instance.lease-manager.lease.ttl",
        "lease.ttl_ms",
        Kind::Number,
        JavaDefault::Value("20000"),
    ),
    map(
        "artemis.service.registry.legacy-instance.lease-manager.lease.ttl",
        "lease.legacy_ttl_ms",
        Kind::Number,
        JavaDefault::Value("20000"),
    ),
    // LeaseUpdateSafeChecker of the normal lease manager (self-preservation).
    map(
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.enabled",
        "self_preservation.enabled",
        Kind::Boolean,
        JavaDefault::Value("true"),
    ),
    map(
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.time-window",
        "self_preservation.window_ms",
        Kind::SafeCheckerWindow,
        JavaDefault::Value("10000"),
    ),
    map(
        "artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.time-window",
        "self_preservation.legacy_window_ms",
        Kind::SafeCheckerWindow,
        JavaDefault::Value("10000"),
    ),
    map(
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.percentage-threshold",
        "self_preservation.percentage_threshold",
        Kind::Number,
        JavaDefault::Value("85"),
    ),
    map(
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.max-count-threshold",
        "self_preservation.max_count_threshold",
        Kind::Number,
        JavaDefault::Value("50"),
    ),
    map(
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.max-count-reset-interval",
        "self_preservation.max_count_reset_interval_ms",
        Kind::Number,
        JavaDefault::Value("600000"),
    ),
    // NodeManager: both default to false in Java's code (the shipped properties set true).
    map(
        "artemis.service.registry.allow-from-other-zone",
        "registry.allow_from_other_zone",
        Kind::Boolean,
        JavaDefault::Value("false"),
    ),
    map(
        "artemis.service.discovery.allow-from-other-zone",
        "discovery.allow_from_other_zone",
        Kind::Boolean,
        JavaDefault::Value("false"),
    ),
    // WebSocketSessionContext-side session lifetime on the server.
    map(
        "artemis.service.websocket.session.ttl",
        "ws.session_ttl_ms",
        Kind::Number,
        JavaDefault::Value("360000"),
    ),
    // caravan DefaultRateLimiter per limiter id (spec §11.9); artemis's defaults are Java's.
    rate_limit!("artemis.service.registry", "registry", "enabled", "enabled", Kind::Boolean),
    rate_limit!("artemis.service.registry", "registry", "default-rate-limit", "default_per_10s", Kind::Number),
    rate_limit!("artemis.service.registry", "registry", "rate-limit-map", "per_identity", Kind::LimitMap),
    rate_limit!("artemis.service.registry.replication", "registry_replication", "enabled", "enabled", Kind::Boolean),
    rate_limit!("artemis.service.registry.replication", "registry_replication", "default-rate-limit", "default_per_10s", Kind::Number),
    rate_limit!("artemis.service.registry.replication", "registry_replication", "rate-limit-map", "per_identity", Kind::LimitMap),
    rate_limit!("artemis.service.cluster", "cluster", "enabled", "enabled", Kind::Boolean),
    rate_limit!("artemis.service.cluster", "cluster", "default-rate-limit", "default_per_10s", Kind::Number),
    rate_limit!("artemis.service.cluster", "cluster", "rate-limit-map", "per_identity", Kind::LimitMap),
    rate_limit!("artemis.service.status", "status", "enabled", "enabled", Kind::Boolean),
    rate_limit!("artemis.service.status", "status", "default-rate-limit", "default_per_10s", Kind::Number),
    rate_limit!("artemis.service.status", "status", "rate-limit-map", "per_identity", Kind::LimitMap),
    rate_limit!("artemis.service.management.group", "management_group", "enabled", "enabled", Kind::Boolean),
    rate_limit!("artemis.service.management.group", "management_group", "default-rate-limit", "default_per_10s", Kind::Number),
    rate_limit!("artemis.service.management.group", "management_group", "rate-limit-map", "per_identity", Kind::LimitMap),
];

/// Settings Java had per lease manager and artemis has once, for both kinds of lease:
/// (legacy manager's key, normal manager's key). The normal one is converted; a legacy value
/// that differs is reported.
const SHARED_WITH_LEGACY: &[(&str, &str)] = &[
    (
        "artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.enabled",
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.enabled",
    ),
    (
        "artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.percentage-threshold",
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.percentage-threshold",
    ),
    (
        "artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.max-count-threshold",
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.max-count-threshold",
    ),
    (
        "artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.max-count-reset-interval",
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.max-count-reset-interval",
    ),
];

/// Which keys a [`NO_EQUIVALENT`] entry covers.
enum Keys {
    Prefix(&'static str),
    Containing(&'static str),
}

/// Known Java settings artemis has no setting for, and why; the first match applies.
const NO_EQUIVALENT: &[(Keys, &str)] = &[
    (
        Keys::Containing(".rate-limiter."),
        "only enabled, default-rate-limit and rate-limit-map of Java's five limiters carry over",
    ),
    (
        Keys::Containing(".replication."),
        "artemis runs as one node and replicates nothing",
    ),
    (
        Keys::Prefix("artemis.service.registry.replicaton."),
        "artemis runs as one node and replicates nothing",
    ),
    (
        Keys::Prefix("artemis.service.cluster."),
        "artemis runs as one node: no cluster membership, node status overrides or start-up sync",
    ),
    (
        Keys::Containing(".lease-update-safe-checker."),
        "artemis checks self-preservation on its own schedule; only enabled, time-window, percentage-threshold, max-count-threshold and max-count-reset-interval carry over",
    ),
    (
        Keys::Containing(".lease-manager."),
        "leases expire on a timing wheel in each shard (lease.wheel_tick_ms): no thread pools, clean task or initial capacity",
    ),
    (
        Keys::Prefix("artemis.service.registry.data."),
        "registry maps size themselves; recent changes are kept per shard (changes.log_capacity)",
    ),
    (
        Keys::Prefix("artemis.service.discovery."),
        "services.json is versioned by every change (changes.log_capacity), not by a refreshed snapshot cache",
    ),
    (
        Keys::Containing(".ws-ip.black-list"),
        "artemis has no WebSocket client IP black list",
    ),
    (
        Keys::Prefix("artemis.service.websocket."),
        "artemis times WebSocket sessions itself (ws.idle_timeout_ms, ws.session_ttl_ms)",
    ),
    (
        Keys::Prefix("artemis.service.inet-socket-address."),
        "artemis never resolves client host names",
    ),
    (
        Keys::Prefix("artemis.trace."),
        "artemis logs through its log filter (log, RUST_LOG), with no trace factory",
    ),
    (
        Keys::Prefix("artemis.metric."),
        "artemis has no pluggable metric provider",
    ),
    (
        Keys::Prefix("artemis.management."),
        "management writes are visible to lookups when answered: no cache refresher or db-sync wait",
    ),
    (
        Keys::Prefix("app."),
        "set the node's address with listen and node_url",
    ),
];

/// One artemis key with its value and where it came from.
struct Setting {
    artemis: &'static str,
    value: toml::Value,
    origin: String,
}

/// Converts `properties` (read from `source`, named in the output's header). `Err` lists every
/// value that could not be read, or why the result is not a valid artemis config.
pub fn convert(properties: &[Property], source: &str) -> Result<Conversion, Vec<String>> {
    let by_key = effective_entries(properties);
    let mut notes = Vec::new();
    let mut errors = Vec::new();
    let settings = mapped_settings(&by_key, &mut notes, &mut errors);
    notes.extend(shared_differences(&by_key, &mut errors));
    notes.extend(unconverted(&by_key));
    if !errors.is_empty() {
        return Err(errors);
    }
    let toml = render(&settings, source);
    validate(&toml, &settings)?;
    Ok(Conversion { toml, notes })
}

/// The entries Java acted on: the last of repeated keys, and no empty value of a key this
/// converter knows (caravan reads an empty value as unset, leaving the Java default).
fn effective_entries(properties: &[Property]) -> HashMap<&str, &Property> {
    let mut by_key: HashMap<&str, &Property> = HashMap::new();
    for p in properties {
        by_key.insert(p.key.as_str(), p);
    }
    by_key.retain(|_, p| !p.value.trim().is_empty() || !known(&p.key));
    by_key
}

/// The artemis settings [`MAPPINGS`] make of the file; corrections and missing required keys
/// go to `notes`, unreadable values to `errors`.
fn mapped_settings(
    by_key: &HashMap<&str, &Property>,
    notes: &mut Vec<String>,
    errors: &mut Vec<String>,
) -> Vec<Setting> {
    let mut settings = Vec::new();
    for m in MAPPINGS {
        let (raw, origin) = match (by_key.get(m.java), m.java_default) {
            (Some(p), _) => (p.value.as_str(), format!("{} (line {})", m.java, p.line)),
            (None, JavaDefault::Value(default)) if default_differs(m, default) => (
                default,
                format!("Java's default for {}, which the file does not set", m.java),
            ),
            (None, JavaDefault::Required) => {
                notes.push(format!(
                    "{} is not in the file (Java also read it from META-INF/app.properties or the environment): set {} yourself",
                    m.java, m.artemis
                ));
                continue;
            }
            (None, _) => continue,
        };
        match read_value(m.kind, raw) {
            Ok((value, corrected)) => {
                if let Some(corrected) = corrected {
                    notes.push(format!("{}: {corrected}", m.java));
                }
                settings.push(Setting {
                    artemis: m.artemis,
                    value,
                    origin,
                });
            }
            Err(why) => errors.push(format!("{origin}: {raw:?} {why}")),
        }
    }
    settings
}

/// A note for every key neither mapped nor shared, in file order: why artemis has no
/// equivalent, or that the key is unknown.
fn unconverted(by_key: &HashMap<&str, &Property>) -> Vec<String> {
    let mut skipped: Vec<&Property> = by_key
        .values()
        .copied()
        .filter(|p| !MAPPINGS.iter().any(|m| m.java == p.key))
        .filter(|p| {
            !SHARED_WITH_LEGACY
                .iter()
                .any(|(legacy, _)| *legacy == p.key)
        })
        .collect();
    skipped.sort_by_key(|p| p.line);
    skipped
        .into_iter()
        .map(|p| match no_equivalent(&p.key) {
            Some(reason) => format!("not converted: {} (line {}): {reason}", p.key, p.line),
            None => format!("unknown key, not converted: {} (line {})", p.key, p.line),
        })
        .collect()
}

/// True for keys this converter has an answer for (mapped, shared or without equivalent).
fn known(key: &str) -> bool {
    MAPPINGS.iter().any(|m| m.java == key)
        || SHARED_WITH_LEGACY.iter().any(|(legacy, _)| *legacy == key)
        || no_equivalent(key).is_some()
}

fn no_equivalent(key: &str) -> Option<&'static str> {
    NO_EQUIVALENT.iter().find_map(|(keys, reason)| {
        let covered = match keys {
            Keys::Prefix(prefix) => key.starts_with(prefix),
            Keys::Containing(part) => key.contains(part),
        };
        covered.then_some(*reason)
    })
}

/// True when Java's built-in default for `m` configures artemis differently from artemis's
/// own default, so the output must say it.
fn default_differs(m: &Mapping, java_default: &str) -> bool {
    let Ok((value, _)) = read_value(m.kind, java_default) else {
        unreachable!("the Java default of {} reads as {:?}", m.java, m.kind)
    };
    let single = [Setting {
        artemis: m.artemis,
        value,
        origin: String::new(),
    }];
    Config::from_toml(&render(&single, "")).map_or(true, |c| c != Config::default())
}

/// The artemis value of a Java one, and a note when Java would have corrected it.
fn read_value(kind: Kind, raw: &str) -> Result<(toml::Value, Option<String>), &'static str> {
    let raw = raw.trim();
    // Java reads these as `int`.
    let number = || match raw.parse::<i32>() {
        Ok(n) if n >= 0 => Ok(i64::from(n)),
        _ => Err("is not a whole number from 0 to 2147483647"),
    };
    match kind {
        Kind::Number => Ok((toml::Value::Integer(number()?), None)),
        Kind::Boolean if raw.eq_ignore_ascii_case("true") => Ok((toml::Value::Boolean(true), None)),
        Kind::Boolean if raw.eq_ignore_ascii_case("false") => {
            Ok((toml::Value::Boolean(false), None))
        }
        Kind::Boolean => Err("is not true or false"),
        Kind::Text => Ok((toml::Value::String(raw.to_string()), None)),
        Kind::SafeCheckerWindow => {
            let given = number()?;
            let corrected = given.clamp(10_000, 300_000) / 1000 * 1000;
            let note = (corrected != given)
                .then(|| format!("{given} ms became {corrected} ms, as Java corrects it"));
            Ok((toml::Value::Integer(corrected), note))
        }
        Kind::LimitMap => {
            let mut limits = toml::map::Map::new();
            for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (identity, limit) = pair
                    .split_once(':')
                    .ok_or("is not a list of identity:limit pairs")?;
                let limit = match limit.trim().parse::<i32>() {
                    Ok(n) if n >= 0 => i64::from(n),
                    _ => return Err("has a limit that is not a whole number from 0 to 2147483647"),
                };
                limits.insert(identity.trim().to_string(), toml::Value::Integer(limit));
            }
            Ok((toml::Value::Table(limits), None))
        }
    }
}

/// Settings Java had twice (normal and legacy leases) whose two values differ: artemis keeps
/// the normal one for both. A legacy value that cannot be read goes to `errors`.
fn shared_differences(by_key: &HashMap<&str, &Property>, errors: &mut Vec<String>) -> Vec<String> {
    let mut notes = Vec::new();
    for (legacy, normal) in SHARED_WITH_LEGACY {
        let Some(m) = MAPPINGS.iter().find(|m| m.java == *normal) else {
            unreachable!("{normal} is in MAPPINGS")
        };
        // What each lease manager used: the file's value, else Java's default.
        let effective = |key: &str| match by_key.get(key) {
            Some(p) => read_value(m.kind, &p.value)
                .map(|(v, _)| v)
                .map_err(|why| format!("{key} (line {}): {:?} {why}", p.line, p.value)),
            None => read_value(m.kind, m.java_default.value().unwrap_or_default())
                .map(|(v, _)| v)
                .map_err(|why| format!("the Java default of {key} {why}")),
        };
        match (effective(normal), effective(legacy)) {
            (Ok(kept), Ok(dropped)) if kept != dropped => notes.push(format!(
                "not converted: {legacy}: artemis has one {} for normal and legacy leases; \
                 it is {kept} (from the normal lease manager), Java's legacy leases used {dropped}",
                m.artemis
            )),
            (Ok(_), Ok(_)) => {}
            // The normal key's error is already reported by the mapping.
            (_, Err(e)) if by_key.contains_key(legacy) => errors.push(e),
            _ => {}
        }
    }
    notes
}

/// The TOML text: a header, top-level keys, then each section once, every key commented with
/// where its value came from.
fn render(settings: &[Setting], source: &str) -> String {
    let mut out = String::new();
    if !source.is_empty() {
        out.push_str(&format!(
            "# artemis config converted by `artemis config from-java` from {source}\n"
        ));
    }
    let mut section = "";
    for s in settings {
        let (this_section, key) = s.artemis.split_once('.').unwrap_or(("", s.artemis));
        if this_section != section {
            out.push_str(&format!("\n[{this_section}]\n"));
            section = this_section;
        }
        out.push_str(&format!("{key} = {}", s.value));
        if !s.origin.is_empty() {
            out.push_str(&format!("  # {}", s.origin));
        }
        out.push('\n');
    }
    out
}

/// Runs the server's own validation on `toml`; an error names the artemis key and, when a
/// converted setting caused it, where that setting came from.
fn validate(toml: &str, settings: &[Setting]) -> Result<(), Vec<String>> {
    let outcome = Config::from_toml(toml).and_then(|mut c| c.validate());
    outcome.map_err(|e| {
        // Validation errors start with the key they are about (`lease.ttl_ms: ...`).
        let origin = settings
            .iter()
            .find(|s| e.starts_with(&format!("{}:", s.artemis)))
            .map(|s| format!(" (from {})", s.origin))
            .unwrap_or_default();
        vec![format!("the converted config is not valid: {e}{origin}")]
    })
}

#[cfg(test)]
mod tests;
