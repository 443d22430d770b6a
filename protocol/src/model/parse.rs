//! Entry points that turn a request body into a model type, with errors fit
//! for an HTTP 400 body.

use std::fmt;

use serde::Deserialize;

/// Deepest nesting of arrays/objects accepted in a body, checked before parsing.
///
/// sonic-rs skips unknown values with unbounded recursion, so without a limit
/// a body of nested `[` overflows the stack. Unoptimised builds of sonic-rs
/// use about 50 KiB of stack per level (a 2 MiB thread dies near 40 levels;
/// optimised builds use ~150 bytes), hence a limit well below that. The
/// deepest real Artemis body (route rules → groups → instances → metadata)
/// nests under ten levels.
pub const MAX_DEPTH: usize = 24;

/// Why a body could not be read, as a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    message: String,
}

impl JsonError {
    /// `invalid JSON body: <reason> at line L column C`.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn new(reason: fmt::Arguments) -> Self {
        JsonError {
            message: format!("invalid JSON body: {reason}"),
        }
    }

    fn from_sonic(err: &sonic_rs::Error) -> Self {
        // sonic-rs appends a multi-line excerpt of the input after the
        // position; it is noise in a one-line message and echoes client data.
        let text = err.to_string();
        let reason = text.split('\n').next().unwrap_or_default().trim_end();
        let (head, tail) = shorten(reason);
        match tail {
            Some(tail) => Self::new(format_args!("{head} ... {tail}")),
            None => Self::new(format_args!("{head}")),
        }
    }
}

/// Longest reason kept whole. Type errors quote the offending value, which a
/// client can make arbitrarily long.
const MAX_REASON: usize = 300;

/// Splits an over-long reason into its start and its end (which holds the
/// position), dropping the middle.
fn shorten(reason: &str) -> (&str, Option<&str>) {
    if reason.len() <= MAX_REASON {
        return (reason, None);
    }
    let mut head_end = MAX_REASON - 100;
    while !reason.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = reason.len() - 60;
    while !reason.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    (&reason[..head_end], Some(&reason[tail_start..]))
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsonError {}

/// Parses a whole body as `T`. Trailing non-whitespace is an error.
pub fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, JsonError> {
    let body = strip_bom(body);
    check_depth(body)?;
    sonic_rs::from_slice(body).map_err(|e| JsonError::from_sonic(&e))
}

/// Like [`parse`], but an empty, whitespace-only or `null` body is `Ok(None)`:
/// Java sees a null request there and answers "request is null".
pub fn parse_optional<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<Option<T>, JsonError> {
    let trimmed = strip_bom(body).trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(None);
    }
    parse(body).map(Some)
}

/// Jackson skips a UTF-8 byte order mark, so some clients may send one.
pub(crate) fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// Rejects nesting deeper than [`MAX_DEPTH`] outside of strings. Malformed
/// input is left for the parser to report.
fn check_depth(body: &[u8]) -> Result<(), JsonError> {
    // Depth cannot exceed the number of bytes.
    if body.len() <= MAX_DEPTH {
        return Ok(());
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'"' => i = skip_string(body, i + 1),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(JsonError::new(format_args!(
                        "nesting deeper than {MAX_DEPTH} levels at byte {i}"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Index of the closing quote of a string whose content starts at `i`
/// (or `body.len()` when unterminated).
fn skip_string(body: &[u8], mut i: usize) -> usize {
    while i < body.len() {
        match body[i] {
            b'"' => return i,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::model::{
        DiscoveryConfig, GetLeasesRequest, GetServiceRequest, GetServicesDeltaRequest, Instance,
        InstancesRequest, LookupRequest, RegionZoneRequest,
    };
    use crate::rng::Rng;

    fn instances(json: &str) -> Vec<Option<Instance<'_>>> {
        parse::<InstancesRequest>(json.as_bytes())
            .unwrap()
            .instances
            .unwrap()
    }

    fn one(json: &str) -> Instance<'_> {
        instances(json).remove(0).unwrap()
    }

    const SPEC_REGISTER: &str = r#"{"instances":[{"groupId":null,"healthCheckUrl":"http://10.0.0.1:8080/health","instanceId":"10.0.0.1:8080",
 "ip":"10.0.0.1","machineName":"host1","metadata":{"k":"v"},"port":8080,"protocol":"http",
 "regionId":"SHA","serviceId":"myservice","status":"up","url":"http://10.0.0.1:8080/api","zoneId":"SHAJQ"}]}"#;

    #[test]
    fn parses_the_spec_register_example() {
        let i = one(SPEC_REGISTER);
        assert_eq!(i.group_id, None);
        assert_eq!(
            i.health_check_url.as_deref(),
            Some("http://10.0.0.1:8080/health")
        );
        assert_eq!(i.instance_id.as_deref(), Some("10.0.0.1:8080"));
        assert_eq!(i.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(i.machine_name.as_deref(), Some("host1"));
        assert_eq!(i.metadata.as_ref().unwrap().get("k"), Some("v"));
        assert_eq!(i.port, 8080);
        assert_eq!(i.protocol.as_deref(), Some("http"));
        assert_eq!(i.region_id.as_deref(), Some("SHA"));
        assert_eq!(i.service_id.as_deref(), Some("myservice"));
        assert_eq!(i.status.as_deref(), Some("up"));
        assert_eq!(i.url.as_deref(), Some("http://10.0.0.1:8080/api"));
        assert_eq!(i.zone_id.as_deref(), Some("SHAJQ"));
    }

    #[test]
    fn unescaped_strings_borrow_from_the_body() {
        let i = one(SPEC_REGISTER);
        assert!(matches!(i.service_id, Some(Cow::Borrowed(_))));
        assert!(matches!(i.url, Some(Cow::Borrowed(_))));
        let (k, v) = &i.metadata.as_ref().unwrap().entries[0];
        assert!(matches!(k, Cow::Borrowed(_)));
        assert!(matches!(v, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn escaped_strings_are_decoded_and_owned() {
        let i = one(
            r#"{"instances":[{"serviceId":"a\"b\\c\n\u00e9\ud83d\ude00","metadata":{"k\tx":"\/"}}]}"#,
        );
        assert_eq!(i.service_id.as_deref(), Some("a\"b\\c\né😀"));
        assert!(matches!(i.service_id, Some(Cow::Owned(_))));
        let (k, v) = &i.metadata.as_ref().unwrap().entries[0];
        assert_eq!((k.as_ref(), v.as_deref()), ("k\tx", Some("/")));
        assert!(matches!(k, Cow::Owned(_)));
    }

    #[test]
    fn pascal_case_from_the_dotnet_client() {
        let i = one(
            r#"{"Instances":[{"RegionId":"SHA","ZoneId":"SHAJQ","GroupId":"g","ServiceId":"a",
            "InstanceId":"i","MachineName":"m","IP":"1.2.3.4","Port":"80","Protocol":"http",
            "Url":"u","HealthCheckUrl":"h","Status":"up","Metadata":{"Key":"V"}}]}"#,
        );
        assert_eq!(i.region_id.as_deref(), Some("SHA"));
        assert_eq!(i.zone_id.as_deref(), Some("SHAJQ"));
        assert_eq!(i.group_id.as_deref(), Some("g"));
        assert_eq!(i.service_id.as_deref(), Some("a"));
        assert_eq!(i.instance_id.as_deref(), Some("i"));
        assert_eq!(i.machine_name.as_deref(), Some("m"));
        assert_eq!(i.ip.as_deref(), Some("1.2.3.4"));
        assert_eq!(i.port, 80);
        assert_eq!(i.protocol.as_deref(), Some("http"));
        assert_eq!(i.url.as_deref(), Some("u"));
        assert_eq!(i.health_check_url.as_deref(), Some("h"));
        assert_eq!(i.status.as_deref(), Some("up"));
        // Metadata keys are data: their case is preserved and significant.
        let m = i.metadata.unwrap();
        assert_eq!(m.get("Key"), Some("V"));
        assert_eq!(m.get("key"), None);
    }

    #[test]
    fn upper_case_and_escaped_property_names() {
        let i = one(r#"{"INSTANCES":[{"SERVICEID":"a","HEALTHCHECKURL":"h","\u0049P":"ip"}]}"#);
        assert_eq!(i.service_id.as_deref(), Some("a"));
        assert_eq!(i.health_check_url.as_deref(), Some("h"));
        assert_eq!(i.ip.as_deref(), Some("ip"));
    }

    #[test]
    fn unknown_properties_are_skipped_whatever_their_shape() {
        let i = one(
            r#"{"x":{"instances":"nope"},"instances":[{"a":[1,{"b":[null,true]}],"serviceId":"s",
            "z":{"q":{"r":"\"}"}},"n":-1.5e3,"t":false,"u":null}],"tail":[[[]]]}"#,
        );
        assert_eq!(i.service_id.as_deref(), Some("s"));
        assert_eq!(i.port, 0);
    }

    #[test]
    fn missing_and_null_properties() {
        let i = one(r#"{"instances":[{"serviceId":null,"port":null,"metadata":null}]}"#);
        assert_eq!(i, Instance::default());
        assert_eq!(one(r#"{"instances":[{}]}"#), Instance::default());
        let r: InstancesRequest = parse(b"{}").unwrap();
        assert_eq!(r.instances, None);
        let r: InstancesRequest = parse(br#"{"instances":null}"#).unwrap();
        assert_eq!(r.instances, None);
        let r: InstancesRequest = parse(br#"{"instances":[]}"#).unwrap();
        assert_eq!(r.instances, Some(vec![]));
    }

    #[test]
    fn scalar_coercions() {
        let i = one(
            r#"{"instances":[{"instanceId":42,"port":"8080","status":true,"ip":1.5,"zoneId":-3}]}"#,
        );
        assert_eq!(i.instance_id.as_deref(), Some("42"));
        assert_eq!(i.port, 8080);
        assert_eq!(i.status.as_deref(), Some("true"));
        assert_eq!(i.ip.as_deref(), Some("1.5"));
        assert_eq!(i.zone_id.as_deref(), Some("-3"));
        assert_eq!(one(r#"{"instances":[{"port":8080.0}]}"#).port, 8080);
    }

    #[test]
    fn bad_scalars_are_errors() {
        for body in [
            r#"{"instances":[{"port":"x"}]}"#,
            r#"{"instances":[{"port":4294967296}]}"#,
            r#"{"instances":[{"port":true}]}"#,
            r#"{"instances":[{"serviceId":{}}]}"#,
            r#"{"instances":[{"serviceId":["a"]}]}"#,
            r#"{"instances":[{"metadata":[]}]}"#,
            r#"{"instances":[{"metadata":{"k":{}}}]}"#,
            r#"{"instances":[{"metadata":"k"}]}"#,
        ] {
            assert!(
                parse::<InstancesRequest>(body.as_bytes()).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn null_list_entries_are_kept() {
        let list = instances(r#"{"instances":[null,{"serviceId":"a"},null]}"#);
        assert_eq!(list.len(), 3);
        assert!(list[0].is_none() && list[2].is_none());
        assert_eq!(list[1].as_ref().unwrap().service_id.as_deref(), Some("a"));
    }

    #[test]
    fn lists_must_be_lists() {
        for body in [
            r#"{"instances":{"serviceId":"a"}}"#,
            r#"{"instances":"a"}"#,
            r#"{"instances":[1]}"#,
            r#"{"instances":[[]]}"#,
        ] {
            assert!(
                parse::<InstancesRequest>(body.as_bytes()).is_err(),
                "{body}"
            );
        }
        assert!(parse::<LookupRequest>(br#"{"discoveryConfigs":{}}"#).is_err());
        assert!(parse::<GetLeasesRequest>(br#"{"serviceIds":"a"}"#).is_err());
    }

    #[test]
    fn metadata_null_values_and_duplicates() {
        let i = one(r#"{"instances":[{"metadata":{"a":"1","b":null,"c":2,"a":"3"}}]}"#);
        let m = i.metadata.unwrap();
        let entries: Vec<_> = m
            .entries
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_deref()))
            .collect();
        assert_eq!(entries, [("a", Some("3")), ("b", None), ("c", Some("2"))]);
    }

    #[test]
    fn duplicate_properties_last_wins() {
        let i = one(r#"{"instances":[{"serviceId":"a","ServiceId":"b"}]}"#);
        assert_eq!(i.service_id.as_deref(), Some("b"));
    }

    #[test]
    fn invalid_json_gives_a_one_line_message() {
        let err = parse::<InstancesRequest>(br#"{"instances":[{"serviceId":"a"]}"#).unwrap_err();
        let msg = err.message();
        assert!(msg.starts_with("invalid JSON body: "), "{msg}");
        assert!(msg.contains("line 1 column"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert_eq!(err.to_string(), msg);

        for body in [
            &b"{"[..],
            b"{\"instances\":}",
            b"{\"instances\":[]} x",
            b"\xff",
            b"{\"a\":\"\xff\"}",
            b"{'a':1}",
        ] {
            let err = parse::<InstancesRequest>(body).unwrap_err();
            assert!(err.message().starts_with("invalid JSON body: "));
        }
    }

    #[test]
    fn long_reasons_are_shortened_but_keep_the_position() {
        let body = format!(r#""{}""#, "é".repeat(5000));
        let err = parse::<InstancesRequest>(body.as_bytes()).unwrap_err();
        let msg = err.message();
        assert!(msg.len() < 400, "{msg}");
        assert!(msg.contains(" ... "), "{msg}");
        assert!(msg.ends_with("at line 1 column 10002"), "{msg}");
    }

    #[test]
    fn empty_and_null_bodies_are_none() {
        for body in [
            &b""[..],
            b"  \r\n\t",
            b"null",
            b" null \n",
            b"\xEF\xBB\xBFnull",
        ] {
            assert_eq!(parse_optional::<InstancesRequest>(body), Ok(None));
        }
        assert!(parse::<InstancesRequest>(b"").is_err());
        assert!(parse::<InstancesRequest>(b"null").is_err());
        assert!(parse_optional::<InstancesRequest>(b"nul").is_err());
        let r = parse_optional::<InstancesRequest>(b"\xEF\xBB\xBF{}").unwrap();
        assert_eq!(r, Some(InstancesRequest::default()));
    }

    #[test]
    fn top_level_must_be_an_object() {
        for body in [&b"[1]"[..], b"[]", b"\"x\"", b"1", b"true"] {
            assert!(parse::<InstancesRequest>(body).is_err());
            assert!(parse_optional::<InstancesRequest>(body).is_err());
            assert!(parse::<RegionZoneRequest>(body).is_err());
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing() {
        let depth = 100_000;
        let body = format!(
            r#"{{"x":{}{}, "instances":[]}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let err = parse::<InstancesRequest>(body.as_bytes()).unwrap_err();
        assert_eq!(
            err.message(),
            format!("invalid JSON body: nesting deeper than {MAX_DEPTH} levels at byte 28")
        );
        let body = format!(r#"{{"x":{}"#, "{\"a\":".repeat(depth));
        assert!(parse::<InstancesRequest>(body.as_bytes()).is_err());
    }

    #[test]
    fn nesting_inside_strings_does_not_count() {
        let deep = "[{".repeat(500);
        let body = format!(r#"{{"instances":[{{"serviceId":"{deep}\"\\","x":[[[1]]]}}]}}"#);
        let i = one(&body);
        assert_eq!(i.service_id.unwrap(), format!("{deep}\"\\"));

        let ok = format!(
            r#"{{"x":{}{}}}"#,
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse::<InstancesRequest>(ok.as_bytes()).is_ok());
        let bad = format!(
            r#"{{"x":{}{}}}"#,
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(parse::<InstancesRequest>(bad.as_bytes()).is_err());
    }

    /// Mutated variants of valid bodies must yield `Ok` or `Err`, never a panic.
    #[test]
    fn mutated_bodies_never_panic() {
        const SEEDS: &[&str] = &[
            SPEC_REGISTER,
            r#"{"discoveryConfigs":[{"serviceId":"s","discoveryData":{"a":"b"}}],"regionId":"r"}"#,
            r#"{"discoveryConfig":{"serviceId":"s"},"zoneId":"z","version":"12"}"#,
            r#"{"serviceIds":["a",null,"b\u0021"],"x":[[{}]]}"#,
        ];
        const TOKENS: &[&[u8]] = &[
            b"[",
            b"]",
            b"{",
            b"}",
            b"\"",
            b"\\",
            b":",
            b",",
            b"null",
            b"1e999",
            b"-",
            b"\\u12",
            b"\xff",
            b"\xc3",
            b"\"port\":",
            b"\"instances\":",
            b" ",
        ];
        let mut rng = Rng::new(0x2545_F491_4F6C_DD1D);
        for round in 0..3000 {
            let mut body = SEEDS[round % SEEDS.len()].as_bytes().to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(body.len() + 1);
                match rng.below(3) {
                    0 => {
                        let token = TOKENS[rng.below(TOKENS.len())];
                        body.splice(at..at, token.iter().copied());
                    }
                    1 if at < body.len() => {
                        let end = (at + 1 + rng.below(8)).min(body.len());
                        body.drain(at..end);
                    }
                    _ => body.truncate(at),
                }
            }
            let _ = parse_optional::<InstancesRequest>(&body);
            let _ = parse_optional::<LookupRequest>(&body);
            let _ = parse_optional::<GetServiceRequest>(&body);
            let _ = parse_optional::<GetServicesDeltaRequest>(&body);
            let _ = parse_optional::<GetLeasesRequest>(&body);
            let _ = parse_optional::<DiscoveryConfig>(&body);
        }
    }

    #[test]
    fn lookup_request() {
        let r: LookupRequest = parse(
            br#"{"DiscoveryConfigs":[{"ServiceId":"s1","RegionId":"r","ZoneId":"z",
            "DiscoveryData":{"appid":"100","subenv":null}},null,{"serviceId":"s2"}],
            "regionId":"SHA","zoneId":"SHAJQ"}"#,
        )
        .unwrap();
        assert_eq!(r.region_id.as_deref(), Some("SHA"));
        assert_eq!(r.zone_id.as_deref(), Some("SHAJQ"));
        let configs = r.discovery_configs.unwrap();
        assert_eq!(configs.len(), 3);
        let first = configs[0].as_ref().unwrap();
        assert_eq!(first.service_id.as_deref(), Some("s1"));
        assert_eq!(first.region_id.as_deref(), Some("r"));
        assert_eq!(first.zone_id.as_deref(), Some("z"));
        assert_eq!(
            first.discovery_data.as_ref().unwrap().get("appid"),
            Some("100")
        );
        assert!(configs[1].is_none());
        assert_eq!(
            configs[2].as_ref().unwrap().service_id.as_deref(),
            Some("s2")
        );
        let r: LookupRequest = parse(b"{}").unwrap();
        assert_eq!(r, LookupRequest::default());
    }

    #[test]
    fn get_service_request() {
        let r: GetServiceRequest =
            parse(br#"{"discoveryConfig":{"serviceId":"s"},"regionId":"r","zoneId":null}"#)
                .unwrap();
        let config = r.discovery_config.unwrap();
        assert_eq!(config.service_id.as_deref(), Some("s"));
        assert_eq!(config.discovery_data, None);
        assert_eq!(r.region_id.as_deref(), Some("r"));
        assert_eq!(r.zone_id, None);
        let r: GetServiceRequest = parse(br#"{"discoveryConfig":null}"#).unwrap();
        assert_eq!(r.discovery_config, None);
        assert!(parse::<GetServiceRequest>(br#"{"discoveryConfig":[]}"#).is_err());
    }

    #[test]
    fn websocket_discovery_config() {
        let c: DiscoveryConfig = parse(
            br#"{"discoveryData":null,"regionId":null,"serviceId":"myservice","zoneId":null}"#,
        )
        .unwrap();
        assert_eq!(c.service_id.as_deref(), Some("myservice"));
        let owned: DiscoveryConfig<'static> = c.clone().into_owned();
        assert_eq!(owned, c);
    }

    #[test]
    fn region_zone_and_delta_requests() {
        let r: RegionZoneRequest = parse(br#"{"RegionID":"SHA","zoneid":"z","other":1}"#).unwrap();
        assert_eq!(r.region_id.as_deref(), Some("SHA"));
        assert_eq!(r.zone_id.as_deref(), Some("z"));
        let d: GetServicesDeltaRequest =
            parse(br#"{"regionId":"r","version":1550800000000}"#).unwrap();
        assert_eq!(d.version, 1_550_800_000_000);
        assert_eq!(d.zone_id, None);
        let d: GetServicesDeltaRequest = parse(br#"{"Version":"42"}"#).unwrap();
        assert_eq!(d.version, 42);
        let d: GetServicesDeltaRequest = parse(br#"{"version":null}"#).unwrap();
        assert_eq!(d.version, 0);
    }

    #[test]
    fn leases_request() {
        let r: GetLeasesRequest = parse(br#"{"ServiceIds":["a",null,7,"b\u0021"]}"#).unwrap();
        let ids = r.service_ids.unwrap();
        assert_eq!(ids.len(), 4);
        assert!(matches!(ids[0], Some(Cow::Borrowed("a"))));
        assert_eq!(ids[1], None);
        assert_eq!(ids[2].as_deref(), Some("7"));
        assert_eq!(ids[3].as_deref(), Some("b!"));
        let r: GetLeasesRequest = parse(br#"{"serviceIds":null}"#).unwrap();
        assert_eq!(r.service_ids, None);
    }
}
