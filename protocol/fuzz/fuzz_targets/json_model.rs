//! Feeds arbitrary bytes to the JSON model's request parsers (the first byte picks which) and checks
//! the properties the server relies on: no panic, and an instance that parses writes back as JSON
//! that parses to the same instance (what the registry stores is what a lookup returns).
//! Run by `scripts/fuzz.sh` (see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::model::{
    parse, parse_optional, write_instance, DiscoveryConfig, GetLeasesRequest, GetServiceRequest,
    GetServicesDeltaRequest, Instance, InstancesRequest, LookupRequest, RegionZoneRequest,
};

fn round_trips(instance: &Instance<'_>) {
    let mut json = Vec::new();
    write_instance(&mut json, instance);
    let again: Instance = parse(&json).expect("a written instance parses");
    assert_eq!(
        again.into_owned(),
        instance.clone().into_owned(),
        "{}",
        String::from_utf8_lossy(&json)
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 7 {
        0 => {
            if let Ok(Some(request)) = parse_optional::<InstancesRequest>(body) {
                for instance in request.instances.iter().flatten().flatten() {
                    round_trips(instance);
                }
            }
        }
        1 => {
            let _ = parse_optional::<LookupRequest>(body);
        }
        2 => {
            let _ = parse_optional::<GetServiceRequest>(body);
        }
        3 => {
            let _ = parse_optional::<GetServicesDeltaRequest>(body);
        }
        4 => {
            let _ = parse_optional::<GetLeasesRequest>(body);
        }
        5 => {
            let _ = parse_optional::<RegionZoneRequest>(body);
        }
        _ => {
            // A WebSocket subscription message.
            let _ = parse_optional::<DiscoveryConfig>(body);
        }
    }
});
