use super::super::properties::parse;
use super::*;

fn convert_text(text: &str) -> Result<Conversion, Vec<String>> {
    convert(&parse(text), "artemis.properties")
}

/// The deployment keys Java required, appended to files whose notes a test counts.
const DEPLOYMENT: &str = "region.id=SHA\nzone.id=zone-a\n";

/// The converted TOML as a validated config.
fn config_of(conversion: &Conversion) -> Config {
    let mut c = Config::from_toml(&conversion.toml).expect("the output is TOML artemis reads");
    c.validate().expect("the output is a valid config");
    c
}

/// A server file in the shape of the one Java Artemis ships: a cluster, lease and
/// self-preservation settings, zone policies, a rate-limit override, and empty values.
const SERVER_PROPERTIES: &str = "\
artemis.trace.enabled=true
artemis.service.cluster.nodes=zone-a:http://10.0.0.5:8080/artemis-service/
artemis.service.cluster.node.status.force-up=true
artemis.service.cluster.node.status.registry.force-up=
artemis.service.registry.instance.lease-manager.clean-task.run-interval=100
artemis.service.registry.instance.lease-manager.lease.ttl=30000
artemis.service.registry.instance.lease-manager.lease-update-safe-checker.time-window=12000
artemis.service.registry.legacy-instance.lease-manager.lease.ttl=90000
artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.time-window=60000
artemis.service.registry.heartbeat.replication.batching-enabled=
artemis.service.registry.allow-from-other-zone=true
artemis.service.discovery.allow-from-other-zone=false
artemis.service.status.rate-limiter.rate-limit-map=get-leases:10
artemis.management.data.cache-refresher.dynamic-scheduled-thread.run-interval=1000
artemis.service.websocket.session.ttl=600000
region.id=SHA
zone.id=zone-a
app.path=/artemis-service
artemis.service.registy.typo=1
";

#[test]
fn a_server_file_converts_to_the_same_settings() {
    let conversion = convert_text(SERVER_PROPERTIES).unwrap();
    assert_eq!(
        conversion.toml,
        "\
# artemis config converted by `artemis config from-java` from artemis.properties
region_id = \"SHA\"  # region.id (line 16)
zone_id = \"zone-a\"  # zone.id (line 17)
path_prefix = \"/artemis-service\"  # app.path (line 18)

[lease]
ttl_ms = 30000  # artemis.service.registry.instance.lease-manager.lease.ttl (line 6)
legacy_ttl_ms = 90000  # artemis.service.registry.legacy-instance.lease-manager.lease.ttl (line 8)

[self_preservation]
window_ms = 12000  # artemis.service.registry.instance.lease-manager.lease-update-safe-checker.time-window (line 7)
legacy_window_ms = 60000  # artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.time-window (line 9)

[registry]
allow_from_other_zone = true  # artemis.service.registry.allow-from-other-zone (line 11)

[discovery]
allow_from_other_zone = false  # artemis.service.discovery.allow-from-other-zone (line 12)

[ws]
session_ttl_ms = 600000  # artemis.service.websocket.session.ttl (line 15)

[rate_limits]
status.per_identity = { get-leases = 10 }  # artemis.service.status.rate-limiter.rate-limit-map (line 13)
"
    );
    let c = config_of(&conversion);
    assert_eq!(
        (c.region_id.as_str(), c.zone_id.as_str()),
        ("SHA", "zone-a")
    );
    assert_eq!(c.path_prefix, "/artemis-service");
    assert_eq!((c.lease.ttl_ms, c.lease.legacy_ttl_ms), (30_000, 90_000));
    assert_eq!(c.self_preservation.window_ms, 12_000);
    assert!(c.registry.allow_from_other_zone);
    assert!(!c.discovery.allow_from_other_zone);
    assert_eq!(c.ws.session_ttl_ms, 600_000);

    // Every key that was not converted is named, in file order; empty values left Java's
    // defaults alone and need no note.
    let mentioned: Vec<String> = conversion
        .notes
        .iter()
        .map(|n| {
            let key = n.split(": ").nth(1).unwrap_or_default();
            key.split(' ').next().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(
        mentioned,
        [
            "artemis.trace.enabled",
            "artemis.service.cluster.nodes",
            "artemis.service.cluster.node.status.force-up",
            "artemis.service.registry.instance.lease-manager.clean-task.run-interval",
            "artemis.management.data.cache-refresher.dynamic-scheduled-thread.run-interval",
            "artemis.service.registy.typo",
        ]
    );
    assert!(
        conversion.notes[1].contains("one node"),
        "{:?}",
        conversion.notes
    );
    assert_eq!(
        conversion.notes.last().unwrap(),
        "unknown key, not converted: artemis.service.registy.typo (line 19)"
    );
}

#[test]
fn keys_the_file_leaves_out_get_javas_defaults_where_artemis_differs() {
    let conversion = convert_text("").unwrap();
    let c = config_of(&conversion);
    // Java's LeaseManager and LeaseUpdateSafeChecker defaults hold for the legacy manager too,
    // and NodeManager refuses other zones unless told otherwise.
    assert_eq!(c.lease.legacy_ttl_ms, 20_000);
    assert_eq!(c.self_preservation.legacy_window_ms, 10_000);
    assert!(!c.registry.allow_from_other_zone);
    assert!(!c.discovery.allow_from_other_zone);
    // Where the defaults agree, nothing is written.
    for agreeing in ["\nttl_ms", "\nwindow_ms", "\nenabled", "\nsession_ttl_ms"] {
        assert!(!conversion.toml.contains(agreeing), "{}", conversion.toml);
    }
    assert!(conversion
        .toml
        .contains("legacy_ttl_ms = 20000  # Java's default for artemis.service.registry.legacy-instance.lease-manager.lease.ttl, which the file does not set"));
    assert_eq!(
        conversion.notes,
        [
            "region.id is not in the file (Java also read it from META-INF/app.properties or the environment): set region_id yourself",
            "zone.id is not in the file (Java also read it from META-INF/app.properties or the environment): set zone_id yourself",
        ]
    );
    // An empty value is no value.
    let empty = convert_text("artemis.service.registry.allow-from-other-zone=\n").unwrap();
    assert!(!config_of(&empty).registry.allow_from_other_zone);
}

#[test]
fn safe_checker_windows_are_corrected_as_java_corrects_them() {
    let text = "\
artemis.service.registry.instance.lease-manager.lease-update-safe-checker.time-window=12500
artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.time-window=5000
";
    let conversion = convert_text(&format!("{text}{DEPLOYMENT}")).unwrap();
    let c = config_of(&conversion);
    assert_eq!(c.self_preservation.window_ms, 12_000);
    assert_eq!(c.self_preservation.legacy_window_ms, 10_000);
    assert_eq!(conversion.notes.len(), 2, "{:?}", conversion.notes);
    assert!(conversion.notes[0].ends_with("12500 ms became 12000 ms, as Java corrects it"));
    let long = convert_text(
        "artemis.service.registry.instance.lease-manager.lease-update-safe-checker.time-window=900000",
    )
    .unwrap();
    assert_eq!(config_of(&long).self_preservation.window_ms, 300_000);
}

#[test]
fn legacy_self_preservation_settings_that_differ_are_reported() {
    let prefix = "artemis.service.registry";
    let text = format!(
        "{prefix}.instance.lease-manager.lease-update-safe-checker.percentage-threshold=70\n\
         {prefix}.legacy-instance.lease-manager.lease-update-safe-checker.percentage-threshold=70\n\
         {prefix}.legacy-instance.lease-manager.lease-update-safe-checker.enabled=false\n\
         {DEPLOYMENT}"
    );
    let conversion = convert_text(&text).unwrap();
    let c = config_of(&conversion);
    assert_eq!(c.self_preservation.percentage_threshold, 70);
    assert!(
        c.self_preservation.enabled,
        "the normal manager's default is kept"
    );
    assert_eq!(conversion.notes.len(), 1, "{:?}", conversion.notes);
    let note = &conversion.notes[0];
    assert!(note.contains("self_preservation.enabled"), "{note}");
    assert!(
        note.contains("it is true") && note.contains("used false"),
        "{note}"
    );

    // The normal manager's value alone differs from the legacy manager's default just as well.
    let text = format!(
        "{prefix}.instance.lease-manager.lease-update-safe-checker.enabled=false\n{DEPLOYMENT}"
    );
    let conversion = convert_text(&text).unwrap();
    assert!(!config_of(&conversion).self_preservation.enabled);
    assert_eq!(conversion.notes.len(), 1, "{:?}", conversion.notes);
}

#[test]
fn the_last_of_repeated_keys_wins_as_in_java() {
    let text = "zone.id=first\nzone.id=second\n";
    assert_eq!(config_of(&convert_text(text).unwrap()).zone_id, "second");
}

#[test]
fn unreadable_values_are_errors_naming_key_and_line() {
    let text = "\
artemis.service.registry.instance.lease-manager.lease.ttl=20s
artemis.service.registry.allow-from-other-zone=yes
artemis.service.websocket.session.ttl=-1
artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.enabled=maybe
";
    let errors = convert_text(text).unwrap_err();
    assert_eq!(
        errors,
        [
            "artemis.service.registry.instance.lease-manager.lease.ttl (line 1): \"20s\" is not a whole number from 0 to 2147483647",
            "artemis.service.registry.allow-from-other-zone (line 2): \"yes\" is not true or false",
            "artemis.service.websocket.session.ttl (line 3): \"-1\" is not a whole number from 0 to 2147483647",
            "artemis.service.registry.legacy-instance.lease-manager.lease-update-safe-checker.enabled (line 4): \"maybe\" is not true or false",
        ]
    );
}

#[test]
fn values_artemis_refuses_are_errors_naming_the_java_key() {
    let errors =
        convert_text("x=1\nartemis.service.registry.instance.lease-manager.lease.ttl=700000000\n")
            .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .starts_with("the converted config is not valid: lease.ttl_ms: 700000000 is outside"),
        "{}",
        errors[0]
    );
    assert!(
        errors[0]
            .ends_with("(from artemis.service.registry.instance.lease-manager.lease.ttl (line 2))"),
        "{}",
        errors[0]
    );
}

#[test]
fn every_mapping_names_an_artemis_key_and_sections_stay_together() {
    let mut seen_sections: Vec<&str> = Vec::new();
    for m in MAPPINGS {
        let sample = m.java_default.value().unwrap_or(match m.kind {
            Kind::Number | Kind::SafeCheckerWindow => "10000",
            Kind::Boolean => "true",
            Kind::Text => "x",
            Kind::LimitMap => "get-leases:1",
        });
        let (value, _) = read_value(m.kind, sample).expect("the Java default reads");
        let single = [Setting {
            artemis: m.artemis,
            value,
            origin: String::new(),
        }];
        Config::from_toml(&render(&single, "")).unwrap_or_else(|e| panic!("{}: {e}", m.artemis));
        let section = m.artemis.split_once('.').map_or("", |(s, _)| s);
        if seen_sections.last() != Some(&section) {
            assert!(
                !seen_sections.contains(&section),
                "{section} is split in MAPPINGS"
            );
            seen_sections.push(section);
        }
    }
    assert_eq!(
        seen_sections.first(),
        Some(&""),
        "top-level keys come first"
    );
    for (legacy, normal) in SHARED_WITH_LEGACY {
        assert!(MAPPINGS.iter().any(|m| m.java == *normal), "{normal}");
        assert!(known(legacy));
    }
}

#[test]
fn rate_limiter_settings_convert_per_limiter() {
    let text = format!(
        "{DEPLOYMENT}artemis.service.registry.rate-limiter.default-rate-limit=500000\n\
         artemis.service.cluster.rate-limiter.enabled=false\n\
         artemis.service.status.rate-limiter.rate-limit-map=get-leases:5, get-config:7\n"
    );
    let conversion = convert_text(&text).unwrap();
    let c = config_of(&conversion);
    let converted = toml::Value::try_from(&c.rate_limits).unwrap();
    assert_eq!(
        converted["registry"]["default_per_10s"].as_integer(),
        Some(500_000)
    );
    assert_eq!(converted["cluster"]["enabled"].as_bool(), Some(false));
    assert_eq!(
        converted["status"]["per_identity"]["get-leases"].as_integer(),
        Some(5)
    );
    assert_eq!(
        converted["status"]["per_identity"]["get-config"].as_integer(),
        Some(7)
    );
    assert!(conversion.notes.is_empty(), "{:?}", conversion.notes);
    let bad =
        format!("{DEPLOYMENT}artemis.service.status.rate-limiter.rate-limit-map=get-leases\n");
    assert!(convert_text(&bad).is_err());
}
