use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, TcpListener};

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::machine::reachable_ip;
use super::properties::{
    config_properties, deployment_properties, sources_of_command_line, DEFAULTS_SOURCE,
    FLAGS_SOURCE, PROPERTIES,
};
use crate::config::Config;

/// Walks a serde struct's shape: it offers every field the struct declares (nested structs
/// recursively) and a neutral value for each leaf, recording each leaf's `section.field` key.
/// What it records is exactly what the TOML file may set.
struct KeyWalker<'k> {
    key: String,
    keys: &'k RefCell<Vec<String>>,
}

impl KeyWalker<'_> {
    fn leaf(&self) {
        self.keys.borrow_mut().push(self.key.clone());
    }
}

impl<'de> Deserializer<'de> for KeyWalker<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::custom(format!(
            "{}: a value type the walker does not know; teach it",
            self.key
        )))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_map(Fields {
            prefix: self.key,
            fields: fields.iter(),
            pending: None,
            keys: self.keys,
        })
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_bool(false)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_u64(1)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_seq(SeqDeserializer::<_, Error>::new(
            std::iter::empty::<String>(),
        ))
    }

    /// A map of the file's choosing (`rate_limits.*.per_identity`) is one key.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_map(MapDeserializer::<_, Error>::new(std::iter::empty::<(
            String,
            u64,
        )>()))
    }

    /// An optional value (a table that sets only what it names) is still one key.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.leaf();
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u128 f32 f64 char bytes byte_buf unit
        unit_struct newtype_struct tuple tuple_struct enum identifier ignored_any
    }
}

struct Fields<'k> {
    prefix: String,
    fields: std::slice::Iter<'static, &'static str>,
    pending: Option<&'static str>,
    keys: &'k RefCell<Vec<String>>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(&field) = self.fields.next() else {
            return Ok(None);
        };
        self.pending = Some(field);
        seed.deserialize(IntoDeserializer::<Error>::into_deserializer(field))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let field = self
            .pending
            .take()
            .expect("serde asks for a key before its value");
        let key = if self.prefix.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.prefix)
        };
        seed.deserialize(KeyWalker {
            key,
            keys: self.keys,
        })
    }
}

fn config_keys() -> BTreeSet<String> {
    let keys = RefCell::new(Vec::new());
    Config::deserialize(KeyWalker {
        key: String::new(),
        keys: &keys,
    })
    .expect("the walker offers every field Config declares");
    keys.into_inner().into_iter().collect()
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
            "node_url",
            "path_prefix",
            "region_id",
            "shards",
            "zone_id"
        ]
    );
    assert_eq!(value_of(&deployment, "listen"), "127.0.0.1:8080");
}

fn sources(command_line: &[&str]) -> Vec<(String, i64)> {
    let args: Vec<String> = command_line.iter().map(|s| s.to_string()).collect();
    sources_of_command_line(&args)
}

fn source(id: &str, priority: i64) -> (String, i64) {
    (id.to_string(), priority)
}

#[test]
fn sources_are_defaults_then_file_then_flags() {
    let defaults = source(DEFAULTS_SOURCE, 0);
    let flags = source(FLAGS_SOURCE, 2);
    assert_eq!(
        sources(&["artemis", "server"]),
        std::slice::from_ref(&defaults)
    );
    assert_eq!(
        sources(&["artemis", "server", "--config", "/etc/artemis.toml"]),
        [defaults.clone(), source("/etc/artemis.toml", 1)]
    );
    assert_eq!(
        sources(&["/usr/bin/artemis", "server", "--listen", "0.0.0.0:8080"]),
        [defaults.clone(), flags.clone()]
    );
    assert_eq!(
        sources(&["artemis", "server", "--manual-clock", "--config", "a.toml"]),
        [defaults.clone(), source("a.toml", 1), flags]
    );
}

#[test]
fn anything_but_a_server_command_line_has_only_the_defaults() {
    let defaults = [source(DEFAULTS_SOURCE, 0)];
    assert_eq!(sources(&[]), defaults);
    assert_eq!(sources(&["artemis-tests", "--nocapture"]), defaults);
    assert_eq!(sources(&["artemis", "server", "--no-such-flag"]), defaults);
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
