//! Hand-written JSON output, appended to a reused buffer.
//!
//! Output mirrors the Java server's Jackson setup: camelCase names, properties
//! in alphabetical order, nulls written out. Property names are static ASCII,
//! so callers emit them as literal byte fragments; only values go through here.

use super::instance::{Instance, Metadata};

/// Escape for each byte: 0 = copy as is, `u` = `\u00XX`, else the char after `\`.
/// Matches Jackson's standard escapes (upper-case hex for the rest of C0).
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = b'u';
        i += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A JSON string literal with RFC 8259 escaping; non-ASCII passes through as UTF-8.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = ESCAPE[b as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[run_start..i]);
        if escape == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xF) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', escape]);
        }
        run_start = i + 1;
    }
    out.extend_from_slice(&bytes[run_start..]);
    out.push(b'"');
}

/// A string, or `null`.
pub fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

pub fn write_bool(out: &mut Vec<u8>, v: bool) {
    out.extend_from_slice(if v { b"true" } else { b"false" });
}

const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Decimal integer, two digits per step, without allocating.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    // 20 digits cover u64::MAX, and |i64::MIN| fits in u64.
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut n = v.unsigned_abs();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[pos..]);
}

/// A `Map<String,String>` in stored order (null values as `null`), or `null`.
pub fn write_metadata(out: &mut Vec<u8>, metadata: Option<&Metadata>) {
    let Some(metadata) = metadata else {
        out.extend_from_slice(b"null");
        return;
    };
    out.push(b'{');
    for (n, (key, value)) in metadata.entries.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        write_opt_str(out, value.as_deref());
    }
    out.push(b'}');
}

/// An Instance as Java serializes it (§3.1), properties in alphabetical order.
pub fn write_instance(out: &mut Vec<u8>, i: &Instance) {
    out.extend_from_slice(b"{\"groupId\":");
    write_opt_str(out, i.group_id.as_deref());
    out.extend_from_slice(b",\"healthCheckUrl\":");
    write_opt_str(out, i.health_check_url.as_deref());
    out.extend_from_slice(b",\"instanceId\":");
    write_opt_str(out, i.instance_id.as_deref());
    out.extend_from_slice(b",\"ip\":");
    write_opt_str(out, i.ip.as_deref());
    out.extend_from_slice(b",\"machineName\":");
    write_opt_str(out, i.machine_name.as_deref());
    out.extend_from_slice(b",\"metadata\":");
    write_metadata(out, i.metadata.as_ref());
    out.extend_from_slice(b",\"port\":");
    write_i64(out, i64::from(i.port));
    out.extend_from_slice(b",\"protocol\":");
    write_opt_str(out, i.protocol.as_deref());
    out.extend_from_slice(b",\"regionId\":");
    write_opt_str(out, i.region_id.as_deref());
    out.extend_from_slice(b",\"serviceId\":");
    write_opt_str(out, i.service_id.as_deref());
    out.extend_from_slice(b",\"status\":");
    write_opt_str(out, i.status.as_deref());
    out.extend_from_slice(b",\"url\":");
    write_opt_str(out, i.url.as_deref());
    out.extend_from_slice(b",\"zoneId\":");
    write_opt_str(out, i.zone_id.as_deref());
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::model::fixtures::{spec_instance, text, SPEC_INSTANCE_JSON};
    use crate::model::{parse, InstancesRequest};
    use crate::rng::Rng;

    fn s(v: &str) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(v))
    }

    #[test]
    fn instance_matches_the_spec_example() {
        assert_eq!(
            text(|o| write_instance(o, &spec_instance())),
            SPEC_INSTANCE_JSON
        );
    }

    #[test]
    fn empty_instance() {
        assert_eq!(
            text(|o| write_instance(o, &Instance::default())),
            r#"{"groupId":null,"healthCheckUrl":null,"instanceId":null,"ip":null,"machineName":null,"metadata":null,"port":0,"protocol":null,"regionId":null,"serviceId":null,"status":null,"url":null,"zoneId":null}"#
        );
    }

    #[test]
    fn metadata_keeps_order_and_nulls() {
        let mut m = Metadata::default();
        m.insert(Cow::Borrowed("z"), s("1"));
        m.insert(Cow::Borrowed("a"), None);
        m.insert(Cow::Borrowed("q\""), s(""));
        assert_eq!(
            text(|o| write_metadata(o, Some(&m))),
            r#"{"z":"1","a":null,"q\"":""}"#
        );
        assert_eq!(
            text(|o| write_metadata(o, Some(&Metadata::default()))),
            "{}"
        );
        assert_eq!(text(|o| write_metadata(o, None)), "null");
    }

    #[test]
    fn string_escaping() {
        assert_eq!(text(|o| write_str(o, "")), r#""""#);
        assert_eq!(text(|o| write_str(o, "plain")), r#""plain""#);
        assert_eq!(text(|o| write_str(o, "a\"b\\c/")), r#""a\"b\\c/""#);
        assert_eq!(
            text(|o| write_str(o, "\u{8}\u{c}\n\r\t")),
            r#""\b\f\n\r\t""#
        );
        assert_eq!(
            text(|o| write_str(o, "\0\u{1}\u{1f}\u{7f}")),
            "\"\\u0000\\u0001\\u001F\u{7f}\""
        );
        assert_eq!(text(|o| write_str(o, "é中😀\u{2028}")), "\"é中😀\u{2028}\"");
        assert_eq!(text(|o| write_str(o, "\"")), r#""\"""#);
        assert_eq!(text(|o| write_opt_str(o, None)), "null");
        assert_eq!(text(|o| write_opt_str(o, Some("x"))), r#""x""#);
    }

    #[test]
    fn every_control_char_round_trips_through_sonic() {
        let all: String = (0u8..0x80).map(char::from).collect();
        let json = text(|o| write_str(o, &all));
        let back: String = sonic_rs::from_str(&json).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn integers() {
        for (v, expected) in [
            (0, "0"),
            (7, "7"),
            (-7, "-7"),
            (10, "10"),
            (99, "99"),
            (100, "100"),
            (-1000, "-1000"),
            (1_550_800_000_000, "1550800000000"),
            (i64::MAX, "9223372036854775807"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            assert_eq!(text(|o| write_i64(o, v)), expected);
        }
        for v in (-2000..2000).chain([i64::from(i32::MAX), i64::from(i32::MIN)]) {
            assert_eq!(text(|o| write_i64(o, v)), v.to_string());
        }
        assert_eq!(text(|o| write_bool(o, true)), "true");
        assert_eq!(text(|o| write_bool(o, false)), "false");
    }

    #[test]
    fn appends_to_existing_content() {
        let mut out = b"[".to_vec();
        write_str(&mut out, "a");
        out.push(b',');
        write_i64(&mut out, -1);
        assert_eq!(out, br#"["a",-1"#);
    }

    /// A random string built from pieces that stress escaping and UTF-8.
    fn random_string(rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1f}", "\u{7f}",
            "é", "中", "😀", "\u{2028}", "{", "]", ":", ",", "null",
        ];
        let len = rng.below(12);
        (0..len).map(|_| rng.pick(PIECES)).collect()
    }

    fn random_opt_string(rng: &mut Rng) -> Option<Cow<'static, str>> {
        (rng.below(4) != 0).then(|| Cow::Owned(random_string(rng)))
    }

    fn random_instance(rng: &mut Rng) -> Instance<'static> {
        let metadata = (rng.below(3) != 0).then(|| {
            let mut m = Metadata::default();
            for _ in 0..rng.below(6) {
                let value = random_opt_string(rng);
                m.insert(Cow::Owned(random_string(rng)), value);
            }
            m
        });
        Instance {
            region_id: random_opt_string(rng),
            zone_id: random_opt_string(rng),
            group_id: random_opt_string(rng),
            service_id: random_opt_string(rng),
            instance_id: random_opt_string(rng),
            machine_name: random_opt_string(rng),
            ip: random_opt_string(rng),
            port: rng.next_u64() as i32,
            protocol: random_opt_string(rng),
            url: random_opt_string(rng),
            health_check_url: random_opt_string(rng),
            status: random_opt_string(rng),
            metadata,
        }
    }

    #[test]
    fn written_instances_parse_back_equal() {
        let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
        for _ in 0..200 {
            let original = random_instance(&mut rng);
            let mut body = b"{\"instances\":[".to_vec();
            write_instance(&mut body, &original);
            body.extend_from_slice(b"]}");
            let parsed: InstancesRequest = parse(&body).unwrap();
            // Metadata's SmallVec makes Instance invariant in its lifetime,
            // so compare as 'static.
            let back = parsed.instances.unwrap().remove(0).unwrap().into_owned();
            assert_eq!(back, original, "{}", String::from_utf8_lossy(&body));
        }
    }
}
