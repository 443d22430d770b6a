//! A `Service` as discovery serves it (spec §3.2, §3.3), owned, with what routing reads:
//! `instances`, `logicInstances` and `routeRules`.
//!
//! Parsed with [`crate::model::parse`]. Property names match case-insensitively and
//! unknown ones are skipped, like the rest of the model. Nulls the Java client skips are
//! dropped while parsing: a null list reads as empty and null instances, rules and
//! instance ids are left out, because `RouteRules` skips them before looking at anything
//! else. A null group reads as a group without a key (see [`RouteRule::groups`]).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::model::{Instance, Metadata};

/// A served `Service`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServedService {
    pub service_id: Option<String>,
    pub instances: Vec<Instance<'static>>,
    /// Logical instances (management table `service_instance`): routable by explicit
    /// group instance ids only, never by group key.
    pub logic_instances: Vec<Instance<'static>>,
    pub route_rules: Vec<RouteRule>,
}

/// A served `RouteRule`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteRule {
    /// The rule's name; `default-route-rule` and `canary-route-rule` are reserved.
    pub route_id: Option<String>,
    /// `weighted-round-robin` or `close-by-visit`.
    pub strategy: Option<String>,
    /// A null group on the wire is here as `ServiceGroup::default()`: Java skips both alike,
    /// but counts them when deciding whether the rule has groups at all.
    pub groups: Vec<ServiceGroup>,
}

/// A served `ServiceGroup`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceGroup {
    /// Lower-case `serviceId/regionId/zoneId/groupName`.
    pub group_key: Option<String>,
    /// The released weight (the server already fixed it; the client fixes it again).
    pub weight: Option<i32>,
    /// Members named explicitly, matched against instances and logical instances.
    pub instance_ids: Vec<String>,
    /// Members the server resolved itself; only read for the canary rule.
    pub instances: Vec<Instance<'static>>,
    /// The group's tags.
    pub metadata: Option<Metadata<'static>>,
}

/// An object read field by field: `NAMES` are its property names in their canonical spelling.
trait WireObject<'de>: Default {
    const EXPECTING: &'static str;
    const NAMES: &'static [&'static str];

    /// Reads the value of property `name` (one of `NAMES`) from `map`.
    fn read<A: MapAccess<'de>>(&mut self, name: &'static str, map: &mut A) -> Result<(), A::Error>;
}

impl<'de> WireObject<'de> for ServedService {
    const EXPECTING: &'static str = "a Service object";
    const NAMES: &'static [&'static str] =
        &["serviceId", "instances", "logicInstances", "routeRules"];

    fn read<A: MapAccess<'de>>(&mut self, name: &'static str, map: &mut A) -> Result<(), A::Error> {
        match name {
            "serviceId" => self.service_id = map.next_value()?,
            "instances" => self.instances = instances(map)?,
            "logicInstances" => self.logic_instances = instances(map)?,
            "routeRules" => self.route_rules = list(map)?,
            other => unreachable!("{other} is not in NAMES"),
        }
        Ok(())
    }
}

impl<'de> WireObject<'de> for RouteRule {
    const EXPECTING: &'static str = "a RouteRule object";
    const NAMES: &'static [&'static str] = &["routeId", "strategy", "groups"];

    fn read<A: MapAccess<'de>>(&mut self, name: &'static str, map: &mut A) -> Result<(), A::Error> {
        match name {
            "routeId" => self.route_id = map.next_value()?,
            "strategy" => self.strategy = map.next_value()?,
            "groups" => {
                // A null group must still count: Java keeps a rule whose group list is
                // `[null]` (with no groups) where it drops a rule with an empty list. A group
                // without a key is skipped exactly like a null one.
                let groups: Option<Vec<Option<ServiceGroup>>> = map.next_value()?;
                self.groups = groups
                    .into_iter()
                    .flatten()
                    .map(Option::unwrap_or_default)
                    .collect();
            }
            other => unreachable!("{other} is not in NAMES"),
        }
        Ok(())
    }
}

impl<'de> WireObject<'de> for ServiceGroup {
    const EXPECTING: &'static str = "a ServiceGroup object";
    const NAMES: &'static [&'static str] =
        &["groupKey", "weight", "instanceIds", "instances", "metadata"];

    fn read<A: MapAccess<'de>>(&mut self, name: &'static str, map: &mut A) -> Result<(), A::Error> {
        match name {
            "groupKey" => self.group_key = map.next_value()?,
            "weight" => self.weight = map.next_value()?,
            "instanceIds" => self.instance_ids = list(map)?,
            "instances" => self.instances = instances(map)?,
            "metadata" => {
                let metadata: Option<Metadata<'de>> = map.next_value()?;
                self.metadata = metadata.map(Metadata::into_owned);
            }
            other => unreachable!("{other} is not in NAMES"),
        }
        Ok(())
    }
}

/// A nullable list with nullable elements, nulls dropped.
fn list<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<T>, A::Error> {
    let items: Option<Vec<Option<T>>> = map.next_value()?;
    Ok(items.into_iter().flatten().flatten().collect())
}

fn instances<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<Instance<'static>>, A::Error> {
    let items: Vec<Instance<'de>> = list(map)?;
    Ok(items.into_iter().map(Instance::into_owned).collect())
}

macro_rules! deserialize_wire_object {
    ($($ty:ty),*) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_map(ObjectVisitor(PhantomData))
            }
        }
    )*};
}
deserialize_wire_object!(ServedService, RouteRule, ServiceGroup);

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: WireObject<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut value = T::default();
        while let Some(name) = map.next_key_seed(PropertyName(T::NAMES))? {
            match name {
                Some(name) => value.read(name, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(value)
    }
}

/// Resolves a property name to the canonical spelling it matches case-insensitively, or
/// `None` for a property to skip.
struct PropertyName(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for PropertyName {
    type Value = Option<&'static str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for PropertyName {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .iter()
            .copied()
            .find(|known| known.eq_ignore_ascii_case(name)))
    }
}
