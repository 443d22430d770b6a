use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, TcpListener};

use super::machine::reachable_ip;
use super::properties::{
    config_properties, config_sources, deployment_properties, DEFAULTS_SOURCE, FLAGS_SOURCE,
    PROPERTIES,
};
use crate::config::{Config, Overrides};

/// Every key the TOML file may set: the leaves of the default configuration serialized (the
/// file's shape, since the same serde attributes read it).
fn config_keys() -> BTreeSet<String> {
    fn walk(prefix: &str, value: &toml::Value, keys: &mut BTreeSet<String>) {
        match value {
            // A table whose keys the operator chooses (`rate_limits.*.per_identity`) is one key.
            toml::Value::Table(_) if prefix.ends_with(".per_identity") => {
                keys.insert(prefix.to_owned());
            }
            toml::Value::Table(table) => {
                for (field, value) in table {
                    let key = if prefix.is_empty() {
                        field.clone()
                    } else {
                        format!("{prefix}.{field}")
                    };
                    walk(&key, value, keys);
                }
            }
            _ => {
                keys.insert(prefix.to_owned());
            }
        }
    }
    let value = toml::Value::try_from(Config::default()).expect("the configuration serializes");
    let mut keys = BTreeSet::new();
    walk("", &value, &mut keys);
    keys
}

#[test]
fn the_key_walker_sees_nested_keys() {
    let keys = config_keys();
    for key in [
        "listen",
        "lease.ttl_ms",
        "management.tokens",
        "testing.manual_clock",
    ] {
        assert!(keys.contains(key), "{key} in {keys:?}");
    }
    assert!(!keys.contains("max_connections_explicit"), "not a file key");
}

#[test]
fn every_config_key_is_a_property_and_every_property_a_config_key() {
    let properties: BTreeSet<String> = PROPERTIES.iter().map(|p| p.key.to_string()).collect();
    assert_eq!(properties.len(), PROPERTIES.len(), "a key listed twice");
    let keys = config_keys();
    let missing: Vec<_> = keys.difference(&properties).collect();
    let unknown: Vec<_> = properties.difference(&keys).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "config keys not shown: {missing:?}; shown keys that are no config key: {unknown:?}"
    );
}

fn value_of<'p>(properties: &'p [(&str, String)], key: &str) -> &'p str {
    properties
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} missing"))
}

#[test]
fn properties_show_the_effective_values_sorted_by_key() {
    let mut config = Config::default();
    config.lease.ttl_ms = 7000;
    config.http.cors = false;
    config.data_dir = "/var/lib/artemis".into();
    config.path_prefix = "/artemis-service".into();
    let properties = config_properties(&config);
    assert_eq!(properties.len(), PROPERTIES.len());
    assert!(properties.windows(2).all(|w| w[0].0 < w[1].0), "sorted");
    assert_eq!(value_of(&properties, "lease.ttl_ms"), "7000");
    assert_eq!(value_of(&properties, "http.cors"), "false");
    assert_eq!(value_of(&properties, "data_dir"), "/var/lib/artemis");
    assert_eq!(value_of(&properties, "path_prefix"), "/artemis-service");
    assert_eq!(value_of(&properties, "region_id"), "default");
    assert_eq!(value_of(&properties, "limits.max_connections"), "16384");
    assert_eq!(value_of(&properties, "node_url"), "");
}

#[test]
fn tokens_show_only_how_many_there_are() {
    let mut config = Config::default();
    let properties = config_properties(&config);
    assert_eq!(value_of(&properties, "management.tokens"), "<0 configured>");
    config.management.tokens = vec!["s3cret".into(), "other-token".into()];
    let properties = config_properties(&config);
    assert_eq!(value_of(&properties, "management.tokens"), "<2 configured>");
    for (key, value) in &properties {
        assert!(
            !value.contains("s3cret") && !value.contains("other-token"),
            "{key} shows a token: {value}"
        );
    }
}

#[test]
fn deployment_properties_are_the_top_level_keys() {
    let config = Config::default();
    let deployment = deployment_properties(&config);
    let keys: Vec<&str> = deployment.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        keys,
        [
            "data_dir",
            "driver",
            "listen",
            "log",
            "log_format",
            "node_url",
            "path_prefix",
            "pin_cores",
            "region_id",
            "shards",
            "steer_connections",
            "zone_id"
        ]
    );
    assert_eq!(value_of(&deployment, "listen"), "127.0.0.1:8080");
}

fn source(id: &str, priority: i64) -> (String, i64) {
    (id.to_string(), priority)
}

/// The sources of the configuration `Config::load` builds from `path` and `overrides`.
fn sources_of(path: Option<&std::path::Path>, overrides: Overrides) -> Vec<(String, i64)> {
    config_sources(&Config::load(path, overrides).expect("a valid configuration"))
}

#[test]
fn sources_are_defaults_then_file_then_flags() {
    let dir = std::env::temp_dir().join(format!("artemis-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("artemis.toml");
    std::fs::write(&file, "zone_id = \"z\"\n").unwrap();
    let defaults = source(DEFAULTS_SOURCE, 0);
    let flags = source(FLAGS_SOURCE, 2);
    let with_flag = || Overrides {
        listen: Some("0.0.0.0:8080".into()),
        ..Overrides::default()
    };
    let file_source = source(&file.display().to_string(), 1);
    assert_eq!(
        sources_of(None, Overrides::default()),
        std::slice::from_ref(&defaults)
    );
    assert_eq!(
        sources_of(Some(&file), Overrides::default()),
        [defaults.clone(), file_source.clone()]
    );
    assert_eq!(
        sources_of(None, with_flag()),
        [defaults.clone(), flags.clone()]
    );
    let manual_clock = Overrides {
        manual_clock: true,
        ..Overrides::default()
    };
    assert_eq!(
        sources_of(Some(&file), manual_clock),
        [defaults, file_source, flags]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_specific_listen_address_is_the_reachable_one() {
    let ip: IpAddr = "10.1.2.3".parse().unwrap();
    assert_eq!(reachable_ip(ip), ip);
    let loopback: IpAddr = "::1".parse().unwrap();
    assert_eq!(reachable_ip(loopback), loopback);
}

#[test]
fn a_wildcard_listener_reports_an_address_of_this_machine() {
    let ip = reachable_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert!(ip.is_ipv4() && !ip.is_unspecified(), "{ip}");
    // Only an address of one of this machine's interfaces can be bound.
    TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("{ip} is not local: {e}"));
}
