//! Where an instance runs — its region, zone and server (`ip`), and its group — which is what
//! pull-outs of a server, a zone or a group match: as a registration carries it ([`join`]), and
//! read back from the stored JSON when pull-outs change ([`of_stored`], [`group_of_stored`]).

/// Separates the parts of a place; ids never contain it.
const SEPARATOR: char = '\u{0}';

/// The joined form `region \0 zone \0 ip`, as [`RegisterItem`](crate::ops::RegisterItem) carries it.
pub fn join(region: &str, zone: &str, ip: &str) -> Box<str> {
    let mut out = String::with_capacity(region.len() + zone.len() + ip.len() + 2);
    out.push_str(region);
    out.push(SEPARATOR);
    out.push_str(zone);
    out.push(SEPARATOR);
    out.push_str(ip);
    out.into_boxed_str()
}

/// `(region, zone, ip)` of a joined place; missing parts are empty.
pub fn parts(place: &str) -> (&str, &str, &str) {
    let mut it = place.splitn(3, SEPARATOR);
    let region = it.next().unwrap_or("");
    let zone = it.next().unwrap_or("");
    let ip = it.next().unwrap_or("");
    (region, zone, ip)
}

/// `(region, zone, ip)` of an instance as the shard stores it: the output of
/// [`protocol::model::write_instance`], whose keys are in alphabetical order, so `ip` is the
/// first `"ip":` (only strings and nulls precede it) and `regionId` / `zoneId` are the last of
/// theirs (they follow `metadata`, whose keys may repeat those names). Leases keep no separate
/// copy of these: pull-outs are rare, so re-reading them from the JSON then is cheaper than
/// paying for them on every instance. Values are the raw JSON string contents (an id with an
/// escape sequence keeps it, so it matches a key spelled the same way); null or missing is "".
pub fn of_stored(json: &[u8]) -> (&str, &str, &str) {
    let region = find(json, b"\"regionId\":", true);
    let zone = find(json, b"\"zoneId\":", true);
    let ip = find(json, b"\"ip\":", false);
    (region, zone, ip)
}

/// The `groupId` of an instance as the shard stores it (what group pull-outs match), "" when
/// null: the first key [`protocol::model::write_instance`] writes, so its first occurrence.
pub fn group_of_stored(json: &[u8]) -> &str {
    find(json, b"\"groupId\":", false)
}

/// The string value after the first (or last) occurrence of `key`.
fn find<'j>(json: &'j [u8], key: &[u8], last: bool) -> &'j str {
    let mut positions = json
        .windows(key.len())
        .enumerate()
        .filter(|(_, w)| *w == key);
    let at = if last {
        positions.next_back()
    } else {
        positions.next()
    };
    let Some((at, _)) = at else { return "" };
    let rest = &json[at + key.len()..];
    if rest.first() != Some(&b'"') {
        return ""; // null
    }
    let mut end = 1;
    while end < rest.len() && rest[end] != b'"' {
        end += if rest[end] == b'\\' { 2 } else { 1 };
    }
    std::str::from_utf8(&rest[1..end.min(rest.len())]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_split() {
        let joined = join("sha", "zone-1", "10.0.0.1");
        assert_eq!(parts(&joined), ("sha", "zone-1", "10.0.0.1"));
        assert_eq!(parts(""), ("", "", ""));
    }

    #[test]
    fn places_are_read_back_from_the_stored_json() {
        use protocol::model::{parse, write_instance, Instance};
        let sent = br#"{"instanceId":"i\"ip\":1","ip":"10.0.0.9","metadata":{"ip":"x","regionId":"y","zoneId":"z"},"regionId":"SHA","serviceId":"s","zoneId":"Z1"}"#;
        let instance: Instance = parse(sent).unwrap();
        let mut stored = Vec::new();
        write_instance(&mut stored, &instance);
        assert_eq!(of_stored(&stored), ("SHA", "Z1", "10.0.0.9"));
        assert_eq!(group_of_stored(&stored), "");
        let grouped: Instance =
            parse(br#"{"groupId":"G1","metadata":{"groupId":"x"},"instanceId":"i"}"#).unwrap();
        stored.clear();
        write_instance(&mut stored, &grouped);
        assert_eq!(group_of_stored(&stored), "G1");
        let nulls: Instance = parse(br#"{"instanceId":"i"}"#).unwrap();
        stored.clear();
        write_instance(&mut stored, &nulls);
        assert_eq!(of_stored(&stored), ("", "", ""));
        assert_eq!(of_stored(b"{}"), ("", "", ""));
    }
}
