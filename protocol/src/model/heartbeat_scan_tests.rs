//! The heartbeat scan against the full parse: hand-picked bodies, then a property test on
//! mutated Java heartbeat bodies, generated bodies and random bytes (fixed seeds).

use super::*;
use crate::model::fixtures::SPEC_INSTANCE_JSON;
use crate::model::{parse_optional, InstancesRequest};
use crate::rng::Rng;

/// What the heartbeat endpoint does with a body, as far as the body decides it.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// 400 with the parser's message (the scan never produces this: it falls back).
    BadJson,
    /// "request is null".
    NullRequest,
    /// `instances` (None: "request.instances is null or empty." as an empty list is).
    Instances(Option<Vec<Option<Keys>>>),
}

/// Per non-null instance: the key fields and the required-field verdict.
#[derive(Debug, PartialEq)]
struct Keys {
    region_id: Option<String>,
    zone_id: Option<String>,
    service_id: Option<String>,
    instance_id: Option<String>,
    required: Result<(), &'static str>,
}

fn full(body: &[u8]) -> Outcome {
    match parse_optional::<InstancesRequest>(body) {
        Err(_) => Outcome::BadJson,
        Ok(None) => Outcome::NullRequest,
        Ok(Some(request)) => Outcome::Instances(request.instances.map(|list| {
            list.iter()
                .map(|i| {
                    i.as_ref().map(|i| Keys {
                        region_id: i.region_id.as_deref().map(str::to_owned),
                        zone_id: i.zone_id.as_deref().map(str::to_owned),
                        service_id: i.service_id.as_deref().map(str::to_owned),
                        instance_id: i.instance_id.as_deref().map(str::to_owned),
                        required: i.check_required(),
                    })
                })
                .collect()
        })),
    }
}

/// The scan's outcome, or None when it falls back.
fn lazy(body: &[u8]) -> Option<Outcome> {
    match scan_heartbeat(body) {
        HeartbeatScan::Fallback => None,
        HeartbeatScan::NullRequest => Some(Outcome::NullRequest),
        HeartbeatScan::Request(instances) => Some(Outcome::Instances(instances.map(|list| {
            list.iter()
                .map(|k| {
                    k.map(|k| Keys {
                        region_id: k.region_id.map(str::to_owned),
                        zone_id: k.zone_id.map(str::to_owned),
                        service_id: k.service_id.map(str::to_owned),
                        instance_id: k.instance_id.map(str::to_owned),
                        required: k.check_required(),
                    })
                })
                .collect()
        }))),
    }
}

/// Asserts scan and full parse agree on `body` (when the scan answers), and that each scanned
/// instance re-parses from its byte range to the instance the full parse built. Returns whether
/// the scan answered.
fn agree(body: &[u8]) -> bool {
    let Some(scanned) = lazy(body) else {
        return false;
    };
    let whole = full(body);
    assert_eq!(
        scanned,
        whole,
        "scan and full parse disagree on {:?}",
        String::from_utf8_lossy(body)
    );
    if let HeartbeatScan::Request(Some(keys)) = scan_heartbeat(body) {
        let request = parse_optional::<InstancesRequest>(body).unwrap().unwrap();
        for (key, instance) in keys.iter().zip(request.instances.unwrap()) {
            if let Some(key) = key {
                assert_eq!(
                    key.parse_instance().as_ref(),
                    Ok(instance.as_ref().unwrap()),
                    "echo of {:?}",
                    String::from_utf8_lossy(key.raw)
                );
            }
        }
    }
    true
}

/// An instance as the Java client sends it (the load generator's shape: Jackson's alphabetical
/// order, three metadata entries, integer port).
fn java_instance(n: usize) -> String {
    let ip = format!("10.0.{}.{}", n / 256, n % 256);
    let service = format!("svc-{:05}", n % 7);
    format!(
        concat!(
            r#"{{"healthCheckUrl":"http://{ip}:8080/health","instanceId":"{ip}:8080","ip":"{ip}","#,
            r#""machineName":"host-{n}","metadata":{{"app":"{service}","env":"bench","version":"1.0.{v}"}},"#,
            r#""port":8080,"protocol":"http","regionId":"SHA","serviceId":"{service}","status":"up","#,
            r#""url":"http://{ip}:8080/{service}","zoneId":"SHAJQ"}}"#
        ),
        ip = ip,
        n = n,
        service = service,
        v = n % 100
    )
}

fn java_body(count: usize) -> String {
    let list: Vec<String> = (0..count).map(java_instance).collect();
    format!(r#"{{"instances":[{}]}}"#, list.join(","))
}

fn expect_keys(body: &str) -> Vec<Option<HeartbeatKey<'_>>> {
    match scan_heartbeat(body.as_bytes()) {
        HeartbeatScan::Request(Some(keys)) => {
            assert!(agree(body.as_bytes()));
            keys
        }
        other => panic!("{body}: expected instances, got {other:?}"),
    }
}

fn expect_fallback(body: &str) {
    assert_eq!(
        scan_heartbeat(body.as_bytes()),
        HeartbeatScan::Fallback,
        "{body}"
    );
}

#[test]
fn java_bodies_take_the_fast_path() {
    for count in [1, 2, 100] {
        let body = java_body(count);
        let keys = expect_keys(&body);
        assert_eq!(keys.len(), count);
        let first = keys[0].unwrap();
        assert_eq!(first.region_id, Some("SHA"));
        assert_eq!(first.zone_id, Some("SHAJQ"));
        assert_eq!(first.service_id, Some("svc-00000"));
        assert_eq!(first.instance_id, Some("10.0.0.0:8080"));
        assert!(!first.url_blank);
        assert_eq!(first.raw, java_instance(0).as_bytes());
    }
    let spec = format!(r#"{{"instances":[{SPEC_INSTANCE_JSON}]}}"#);
    assert_eq!(
        expect_keys(&spec)[0].unwrap().raw,
        SPEC_INSTANCE_JSON.as_bytes()
    );
}

#[test]
fn request_level_answers() {
    for body in ["", " \r\n", "null", " null ", "\u{FEFF}null"] {
        assert_eq!(scan_heartbeat(body.as_bytes()), HeartbeatScan::NullRequest);
        assert!(agree(body.as_bytes()));
    }
    for body in [
        "{}",
        r#"{"instances":null}"#,
        r#"{"other":[{"instances":[1]}],"INSTANCES":null}"#,
    ] {
        assert_eq!(
            scan_heartbeat(body.as_bytes()),
            HeartbeatScan::Request(None),
            "{body}"
        );
        assert!(agree(body.as_bytes()));
    }
    assert_eq!(
        scan_heartbeat(br#"{"instances":[ ]}"#),
        HeartbeatScan::Request(Some(vec![]))
    );
    let keys = expect_keys(r#"{"instances":[null, {}, null]}"#);
    assert!(keys[0].is_none() && keys[2].is_none());
    assert_eq!(
        keys[1].unwrap().check_required(),
        Err("argument instance.serviceId is null or whitespace")
    );
    // A byte order mark is skipped, as the parser does.
    let bom = format!("\u{FEFF}{}", java_body(1));
    assert_eq!(expect_keys(&bom)[0].unwrap().service_id, Some("svc-00000"));
}

#[test]
fn lenient_input_the_scan_reads_itself() {
    // Property names in any case, null and blank fields, scalars in other string fields, port as
    // a digit string, escapes in metadata and other string fields, unknown properties.
    let body = concat!(
        r#"{"x":{"y":[1,-2,true,null,"\u00e9\/"]},"Instances":[{"REGIONID":"sha","zoneid":null,"#,
        r#""ServiceId":"a b","instanceId":"\u00e9t\u00e9","URL":"  ","port":"8080","ip":1,"#,
        r#""status":true,"groupId":null,"metadata":{"k\"\n":"v\ud83d\ude00","n":-0,"z":null},"#,
        r#""unknown":{"deep":[[{}]]}}],"tail":"\t"}"#
    );
    // "\u00e9t\u00e9" contains escapes: the instanceId is only read raw when it has none.
    expect_fallback(body);
    let body = body.replace(r#""\u00e9t\u00e9""#, r#""été""#);
    let key = expect_keys(&body)[0].unwrap();
    assert_eq!(key.region_id, Some("sha"));
    assert_eq!(key.zone_id, None);
    assert_eq!(key.service_id, Some("a b"));
    assert_eq!(key.instance_id, Some("été"));
    assert!(key.url_blank);
    assert_eq!(
        key.check_required(),
        Err("argument instance.url is null or whitespace")
    );
    // Java whitespace beyond ASCII is blank; a no-break space is not.
    let ideographic =
        expect_keys(r#"{"instances":[{"serviceId":"s","instanceId":"i","url":"　"}]}"#);
    assert!(ideographic[0].unwrap().url_blank);
    let nbsp = expect_keys(
        "{\"instances\":[{\"serviceId\":\"s\",\"instanceId\":\"i\",\"url\":\"\u{A0}\"}]}",
    );
    assert!(!nbsp[0].unwrap().url_blank);
}

#[test]
fn unsure_input_falls_back() {
    for body in [
        // Escapes in property names or key fields, duplicate key fields or instances.
        r#"{"instances":[{"\u0073erviceId":"a"}]}"#,
        r#"{"\u0069nstances":[]}"#,
        r#"{"instances":[{"serviceId":"a\/b"}]}"#,
        r#"{"instances":[{"url":"\u0020"}]}"#,
        r#"{"instances":[{"serviceId":"a","SERVICEID":"b"}]}"#,
        r#"{"instances":[],"instances":null}"#,
        // Scalars other than strings in key fields.
        r#"{"instances":[{"instanceId":42}]}"#,
        r#"{"instances":[{"url":true}]}"#,
        // Numbers the scan does not read.
        r#"{"instances":[{"port":8080.0}]}"#,
        r#"{"instances":[{"port":" 80"}]}"#,
        r#"{"instances":[{"port":"1234567890"}]}"#,
        r#"{"instances":[{"port":2147483648}]}"#,
        r#"{"instances":[{"ip":1e3}]}"#,
        r#"{"x":1234567890123456789,"instances":[]}"#,
        // Lone surrogates, raw control characters, odd whitespace.
        r#"{"x":"\ud800","instances":[]}"#,
        r#"{"x":"\udc00\ud800","instances":[]}"#,
        "{\"x\":\"a\u{1}\",\"instances\":[]}",
        "{\"instances\":[]}\u{c}",
        // Invalid bodies: the parser writes the message.
        "{",
        r#"{"instances":[1]}"#,
        r#"{"instances":{}}"#,
        r#"{"instances":[{"serviceId":{}}]}"#,
        r#"{"instances":[{"metadata":{"k":[]}}]}"#,
        r#"{"instances":[{"port":true}]}"#,
        r#"{"instances":[],}"#,
        r#"{"instances":[]} x"#,
        r#"[]"#,
        "{\"a\":\"\u{0}\"}",
    ] {
        expect_fallback(body);
    }
    assert_eq!(scan_heartbeat(b"{\"x\":\"\xff\"}"), HeartbeatScan::Fallback);
}

#[test]
fn depth_limit_matches_the_parser() {
    let at_limit = format!(
        r#"{{"x":{}{},"instances":[]}}"#,
        "[".repeat(MAX_DEPTH - 1),
        "]".repeat(MAX_DEPTH - 1)
    );
    assert!(matches!(
        scan_heartbeat(at_limit.as_bytes()),
        HeartbeatScan::Request(Some(_))
    ));
    assert!(agree(at_limit.as_bytes()));
    let over = at_limit.replacen('[', "[[", 1).replacen(']', "]]", 1);
    expect_fallback(&over);
    let deep_instance = format!(
        r#"{{"instances":[{{"x":{}1{}}}]}}"#,
        "{\"a\":".repeat(MAX_DEPTH - 3),
        "}".repeat(MAX_DEPTH - 3)
    );
    assert!(agree(deep_instance.as_bytes()));
    expect_fallback(
        &deep_instance
            .replacen("{\"a\":", "{\"a\":{\"a\":", 1)
            .replacen('}', "}}", 1),
    );
}

// ---- the property test ----

/// Tokens inserted at random: structure, escapes, types, whitespace, bad bytes.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    "\"",
    "\\",
    ":",
    ",",
    "null",
    "true",
    "false",
    "0",
    "-",
    "1.5",
    "1e3",
    "-0",
    "12345678901234567890",
    "\\u0041",
    "\\u00e9",
    "\\ud83d\\ude00",
    "\\ud800",
    "\\udc00",
    "\\/",
    "\\n",
    "\\\"",
    "\\x",
    "\\u12",
    " ",
    "\t",
    "\n",
    "\u{c}",
    "\u{a0}",
    "\u{3000}",
    "é",
    "\u{1}",
    "\"port\":",
    "\"instances\":",
    "\"serviceId\":",
    "\"url\":",
    "\"metadata\":",
    "\"regionId\":\"SHA\",",
    "\"ServiceID\":\"x\",",
    "\"URL\":\" \",",
    "\"instances\":[],",
];

/// Values swapped in for an existing value (type swaps).
const VALUES: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-1",
    "8080",
    "2147483648",
    "-2147483649",
    "1.0",
    "1e2",
    "\"\"",
    "\" \"",
    "\"\\t\"",
    "\"\u{3000}\"",
    "\"\u{a0}\"",
    "\"8080\"",
    "\" 8080 \"",
    "\"x\"",
    "\"null\"",
    "\"\\u0041\"",
    "{}",
    "[]",
    "[null]",
    "{\"k\":\"v\"}",
    "{\"k\":1}",
    "{\"k\":{}}",
    "[{}]",
    "\"a\\\"b\"",
];

/// Property names for generated bodies, in assorted cases.
const NAMES: &[&str] = &[
    "regionId",
    "RegionId",
    "REGIONID",
    "zoneId",
    "ZoneId",
    "serviceId",
    "ServiceId",
    "instanceId",
    "InstanceID",
    "url",
    "Url",
    "URL",
    "port",
    "Port",
    "metadata",
    "Metadata",
    "groupId",
    "ip",
    "IP",
    "machineName",
    "protocol",
    "healthCheckUrl",
    "status",
    "other",
    "regionid2",
    "",
];

fn mutate(rng: &mut Rng, body: &mut Vec<u8>) {
    let at = rng.below(body.len() + 1);
    match rng.below(9) {
        0 if at < body.len() => {
            let end = (at + 1 + rng.below(8)).min(body.len());
            body.drain(at..end);
        }
        1 => {
            let token = TOKENS[rng.below(TOKENS.len())];
            body.splice(at..at, token.bytes());
        }
        2 if at < body.len() => body[at] = rng.next_u32() as u8,
        3 if at < body.len() => body[at] ^= 1 << rng.below(8),
        4 => body.truncate(at),
        5 => {
            // Swap the value after a random `":` for one of another type.
            let colons: Vec<usize> = body
                .windows(2)
                .enumerate()
                .filter(|(_, w)| w == b"\":")
                .map(|(i, _)| i + 2)
                .collect();
            if colons.is_empty() {
                return;
            }
            let start = colons[rng.below(colons.len())];
            let end = value_end(body, start);
            let value = VALUES[rng.below(VALUES.len())];
            body.splice(start..end, value.bytes());
        }
        6 => {
            // A duplicate or extra property right after a `{`.
            let opens: Vec<usize> = positions(body, b'{');
            if opens.is_empty() {
                return;
            }
            let at = opens[rng.below(opens.len())] + 1;
            let name = NAMES[rng.below(NAMES.len())];
            let value = VALUES[rng.below(VALUES.len())];
            let member = format!("\"{name}\":{value},");
            body.splice(at..at, member.bytes());
        }
        7 => {
            // Deep nesting around the limit.
            let opens: Vec<usize> = positions(body, b'{');
            if opens.is_empty() {
                return;
            }
            let at = opens[rng.below(opens.len())] + 1;
            let n = MAX_DEPTH - 4 + rng.below(8);
            let member = format!("\"deep\":{}{},", "[".repeat(n), "]".repeat(n));
            body.splice(at..at, member.bytes());
        }
        _ => {
            // An escape inside a string: after a random quote.
            let quotes = positions(body, b'"');
            if quotes.is_empty() {
                return;
            }
            let at = quotes[rng.below(quotes.len())] + 1;
            let escape = [
                "\\u0041",
                "\\/",
                "\\t",
                "\\u00e9",
                "\\ud83d\\ude00",
                "\\u3000",
                " ",
            ][rng.below(7)];
            body.splice(at..at, escape.bytes());
        }
    }
}

fn positions(body: &[u8], c: u8) -> Vec<usize> {
    body.iter()
        .enumerate()
        .filter(|&(_, &b)| b == c)
        .map(|(i, _)| i)
        .collect()
}

/// End of the (roughly delimited) value starting at `start`: a string, or up to the next
/// `,` `}` `]` at the same bracket level.
fn value_end(body: &[u8], start: usize) -> usize {
    let mut i = start;
    let mut level = 0i32;
    let mut in_string = false;
    while i < body.len() {
        let c = body[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => level += 1,
                b'}' | b']' if level == 0 => return i,
                b'}' | b']' => level -= 1,
                b',' if level == 0 => return i,
                _ => {}
            }
        }
        i += 1;
    }
    body.len()
}

/// A random, mostly valid heartbeat body: instances of random properties and values.
fn generated(rng: &mut Rng) -> Vec<u8> {
    let mut body = String::from("{");
    if rng.chance(20) {
        body.push_str("\"before\":[1,{\"a\":null}],");
    }
    body.push_str(["\"instances\":[", "\"Instances\" : [ ", "\"INSTANCES\":["][rng.below(3)]);
    let count = rng.below(4);
    for n in 0..count {
        if n > 0 {
            body.push(',');
        }
        if rng.chance(10) {
            body.push_str("null");
            continue;
        }
        body.push('{');
        let fields = rng.below(8);
        for f in 0..fields {
            if f > 0 {
                body.push(',');
            }
            let name = NAMES[rng.below(NAMES.len())];
            let value = if rng.chance(50) {
                [
                    "\"SHA\"",
                    "\"SHAJQ\"",
                    "\"svc\"",
                    "\"10.0.0.1:8080\"",
                    "\"http://x\"",
                ][rng.below(5)]
            } else {
                VALUES[rng.below(VALUES.len())]
            };
            body.push_str(&format!("\"{name}\":{value}"));
        }
        body.push('}');
    }
    body.push(']');
    if rng.chance(20) {
        body.push_str(",\"after\":\"x\"");
    }
    body.push('}');
    body.into_bytes()
}

/// Random bytes, biased toward JSON punctuation.
fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    const ALPHABET: &[u8] = b"{}[]\":,\\ nultrefas0123456789-.eEu \t\n";
    let len = rng.below(48);
    (0..len)
        .map(|_| {
            if rng.chance(90) {
                ALPHABET[rng.below(ALPHABET.len())]
            } else {
                rng.next_u32() as u8
            }
        })
        .collect()
}

#[test]
fn scan_agrees_with_the_full_parse_on_mutated_and_random_bodies() {
    let seeds: Vec<Vec<u8>> = vec![
        java_body(1).into_bytes(),
        java_body(3).into_bytes(),
        format!(r#"{{"instances":[{SPEC_INSTANCE_JSON},null]}}"#).into_bytes(),
        concat!(
            r#"{"Instances":[{"RegionId":"SHA","ZoneId":"SHAJQ","GroupId":"g","ServiceId":"a","#,
            r#""InstanceId":"i","MachineName":"m","IP":"1.2.3.4","Port":"80","Protocol":"http","#,
            r#""Url":"u","HealthCheckUrl":"h","Status":"up","Metadata":{"Key":"V"}}]}"#
        )
        .as_bytes()
        .to_vec(),
    ];
    let mut rng = Rng::new(0x1A2B_3C4D_5E6F_7081);
    // Cases, cases the scan answered, and valid cases it left to the parser.
    let (mut cases, mut answered, mut valid_fallbacks) = (0usize, 0usize, 0usize);
    for round in 0..30_000 {
        let body = match round % 6 {
            0..=3 => {
                let mut body = seeds[round % seeds.len()].clone();
                let mutations = [1, 1, 1, 1, 1, 1, 2, 2, 2, 3][rng.below(10)];
                for _ in 0..mutations {
                    mutate(&mut rng, &mut body);
                }
                body
            }
            4 => {
                let mut body = generated(&mut rng);
                if rng.chance(50) {
                    mutate(&mut rng, &mut body);
                }
                body
            }
            _ => random_bytes(&mut rng),
        };
        cases += 1;
        if agree(&body) {
            answered += 1;
        } else if full(&body) != Outcome::BadJson {
            valid_fallbacks += 1;
        }
    }
    eprintln!("{cases} cases: {answered} answered by the scan, {valid_fallbacks} valid ones left to the parser");
    // The comparison means something only if the scan answers a good share of the cases.
    assert!(
        answered * 5 > cases,
        "the scan answered only {answered} of {cases} cases"
    );
    for seed in &seeds {
        assert!(lazy(seed).is_some(), "seed bodies take the fast path");
    }
}

#[test]
fn chunk_test_finds_the_first_byte_that_ends_a_plain_run() {
    let first = |chunk: [u8; 8]| {
        chunk
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
    };
    let mut rng = Rng::new(7);
    for _ in 0..20_000 {
        let mut chunk = [0u8; 8];
        for c in &mut chunk {
            // Mostly bytes near the special ones, where an off-by-one would show.
            *c = match rng.below(4) {
                0 => rng.next_u32() as u8,
                1 => [
                    0x1F,
                    0x20,
                    0x21,
                    b'"' - 1,
                    b'"' + 1,
                    b'\\' - 1,
                    b'\\' + 1,
                    0x80,
                    0xFF,
                ][rng.below(9)],
                _ => b'a' + rng.below(26) as u8,
            };
        }
        for _ in 0..rng.below(3) {
            chunk[rng.below(8)] = [b'"', b'\\', 0, 0x1F, b'\n'][rng.below(5)];
        }
        let special = special_bytes(u64::from_le_bytes(chunk));
        let found = (special != 0).then(|| special.trailing_zeros() as usize / 8);
        assert_eq!(found, first(chunk), "{chunk:?}");
    }
}

#[test]
fn the_sixteen_byte_stop_is_the_first_quote_backslash_control_or_non_ascii_byte() {
    let stop = |c: u8| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c);
    // Every byte value at every position, among plain bytes before and after it.
    for value in 0..=255u8 {
        for at in 0..16 {
            let mut chunk = [b'a'; 16];
            chunk[at] = value;
            let expected = stop(value).then_some(at);
            assert_eq!(first_stop_16(&chunk), expected, "{value:#x} at {at}");
        }
    }
    let mut rng = Rng::new(0x5EED);
    for _ in 0..100_000 {
        let mut chunk = [0u8; 16];
        for c in &mut chunk {
            *c = match rng.below(4) {
                0 => rng.below(256) as u8,
                _ => b' ' + rng.below(95) as u8,
            };
        }
        assert_eq!(
            first_stop_16(&chunk),
            chunk.iter().position(|&c| stop(c)),
            "{chunk:?}"
        );
    }
}

#[test]
fn names_fold_the_same_with_or_without_sixteen_bytes_after_them() {
    for name in [
        "",
        "ip",
        "URL",
        "ServiceId",
        "healthCheckUrl",
        "abcdefghijklmnop",
        "x_y-z",
    ] {
        let quoted = format!("\"{name}\"");
        for tail in ["", "::::::::::::::::::"] {
            let body = format!("{quoted}{tail}");
            let mut scanner = Scanner {
                b: body.as_bytes(),
                i: 0,
            };
            let token = scanner.string().ok().expect("a plain string");
            let expected = if name.is_empty() {
                0
            } else {
                fold_name(name.as_bytes())
            };
            assert_eq!(scanner.fold(&token), expected, "{body}");
        }
    }
    assert_eq!(fold_name(b"ServiceId"), fold_name(b"serviceid"));
    assert_ne!(fold_name(b"ip"), fold_name(b"ip "));
    assert!(Field::of(fold_name(b"HEALTHCHECKURL")) == Field::OtherString);
    assert!(Field::of(fold_name(b"regionid\x00")) == Field::Unknown);
}
