//! Request bodies of the registry, discovery, cluster and status endpoints
//! (spec §3.5, §5.1, §6, §8).

use std::borrow::Cow;

use super::de::{lenient_object, LenientI64, LenientStr, LenientStrList, Nullable};
use super::instance::{Instance, Metadata, Str};

/// A discovery subscription: lookup entries, `service.json`, and each
/// WebSocket `instance-change` message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiscoveryConfig<'a> {
    pub service_id: Str<'a>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub discovery_data: Option<Metadata<'a>>,
}

impl DiscoveryConfig<'_> {
    pub fn into_owned(self) -> DiscoveryConfig<'static> {
        let owned = |s: Str<'_>| s.map(|s| Cow::Owned(s.into_owned()));
        DiscoveryConfig {
            service_id: owned(self.service_id),
            region_id: owned(self.region_id),
            zone_id: owned(self.zone_id),
            discovery_data: self.discovery_data.map(Metadata::into_owned),
        }
    }
}

/// RegisterRequest, HeartbeatRequest and UnregisterRequest: `{"instances":[...]}`.
/// Null entries are kept as `None` because the server skips them silently.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstancesRequest<'a> {
    pub instances: Option<Vec<Option<Instance<'a>>>>,
}

/// `lookup.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookupRequest<'a> {
    pub discovery_configs: Option<Vec<Option<DiscoveryConfig<'a>>>>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
}

/// `service.json` (POST).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetServiceRequest<'a> {
    pub discovery_config: Option<DiscoveryConfig<'a>>,
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
}

/// `services.json`, `up-registry-nodes.json`, `up-discovery-nodes.json`, `node.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegionZoneRequest<'a> {
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
}

/// `services-delta.json`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetServicesDeltaRequest<'a> {
    pub region_id: Str<'a>,
    pub zone_id: Str<'a>,
    pub version: i64,
}

/// `status/leases.json` and `status/legacy-leases.json` (POST).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetLeasesRequest<'a> {
    pub service_ids: Option<Vec<Option<Cow<'a, str>>>>,
}

lenient_object! {
    DiscoveryConfig<'de>, "a DiscoveryConfig object", {
        "serviceId" => service_id: LenientStr<'de>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "discoveryData" => discovery_data: Nullable<Metadata<'de>>,
    }
}

lenient_object! {
    InstancesRequest<'de>, "a request object with \"instances\"", {
        "instances" => instances: Nullable<Vec<Option<Instance<'de>>>>,
    }
}

lenient_object! {
    LookupRequest<'de>, "a LookupRequest object", {
        "discoveryConfigs" => discovery_configs: Nullable<Vec<Option<DiscoveryConfig<'de>>>>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
    }
}

lenient_object! {
    GetServiceRequest<'de>, "a GetServiceRequest object", {
        "discoveryConfig" => discovery_config: Nullable<DiscoveryConfig<'de>>,
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
    }
}

lenient_object! {
    RegionZoneRequest<'de>, "an object with regionId and zoneId", {
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
    }
}

lenient_object! {
    GetServicesDeltaRequest<'de>, "a GetServicesDeltaRequest object", {
        "regionId" => region_id: LenientStr<'de>,
        "zoneId" => zone_id: LenientStr<'de>,
        "version" => version: LenientI64,
    }
}

lenient_object! {
    GetLeasesRequest<'de>, "a GetLeasesRequest object", {
        "serviceIds" => service_ids: LenientStrList<'de>,
    }
}
