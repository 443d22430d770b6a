//! The lazy read of a client heartbeat body (`heartbeat.json` and the WebSocket heartbeat
//! channel): one pass over the bytes that validates the whole body and extracts, per instance,
//! only what a heartbeat needs — regionId, zoneId, serviceId, instanceId, and whether `url` is
//! blank — without building an [`Instance`] (no metadata map, no allocation per field).
//!
//! The scan must answer exactly as [`parse_optional::<InstancesRequest>`] would. It does not try
//! to reproduce every corner of that parser: wherever it meets something it is not certain to
//! treat identically it answers [`HeartbeatScan::Fallback`] and the caller runs the full parse.
//! That covers every invalid body (the full parse writes the error message), escapes in property
//! names or in the four key fields and `url`, a repeated key field, `url` or `instances`, numbers
//! or booleans in the key fields and `url`, a string `port` other than up to nine digits,
//! fractions and exponents, integers of more than 18 digits, lone surrogate escapes, raw control
//! characters in strings, and whitespace other than JSON's four. What the
//! Java client sends (plain ids, a metadata object, an integer port) takes the fast path.
//!
//! An instance is parsed in full only to echo it in a failure ([`HeartbeatKey::parse_instance`]
//! re-reads its byte range). `heartbeat_scan_tests.rs` compares scan and full parse on mutated
//! and random bodies.
//!
//! [`parse_optional::<InstancesRequest>`]: super::parse_optional

use super::instance::{check_required_fields, is_null_or_whitespace, Instance};
use super::parse::{parse, strip_bom, JsonError, MAX_DEPTH};

/// What a heartbeat needs of one non-null instance of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatKey<'a> {
    pub region_id: Option<&'a str>,
    pub zone_id: Option<&'a str>,
    pub service_id: Option<&'a str>,
    pub instance_id: Option<&'a str>,
    /// `url` is null, missing or whitespace only (Java's `isNullOrWhitespace`).
    pub url_blank: bool,
    /// The instance's JSON object, from `{` to `}`.
    pub raw: &'a [u8],
}

impl<'a> HeartbeatKey<'a> {
    /// [`Instance::check_required`] of the instance this key was read from.
    pub fn check_required(&self) -> Result<(), &'static str> {
        check_required_fields(self.service_id, self.instance_id, self.url_blank)
    }

    /// The whole instance, parsed from its byte range (to echo it in a failure). The scan
    /// validated that range, so this succeeds unless scan and parser disagree.
    pub fn parse_instance(&self) -> Result<Instance<'a>, JsonError> {
        parse(self.raw)
    }
}

/// A heartbeat body as the scan read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeartbeatScan<'a> {
    /// The scan is not sure to read the body as the full parser does: run the full parse.
    Fallback,
    /// Empty, whitespace-only or `null`: a null request (`parse_optional` gives `Ok(None)`).
    NullRequest,
    /// `instances` as the full parse would give it: `None` when missing or null, null entries
    /// kept as `None`.
    Request(Option<Vec<Option<HeartbeatKey<'a>>>>),
}

/// Reads a heartbeat body, or answers [`HeartbeatScan::Fallback`].
pub fn scan_heartbeat(body: &[u8]) -> HeartbeatScan<'_> {
    let body = strip_bom(body);
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return HeartbeatScan::NullRequest;
    }
    let mut scanner = Scanner { b: body, i: 0 };
    match scanner.request() {
        Ok(instances) => HeartbeatScan::Request(instances),
        Err(Unsure) => HeartbeatScan::Fallback,
    }
}

// A metadata object nests at level 4 (body, instances, instance, metadata) and holds only
// scalars, so the scan does not check its depth.
const _: () = assert!(4 <= MAX_DEPTH);

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Where the first byte of `chunk` that ends a plain run of a string is: a quote, a backslash, a
/// control character (< 0x20) or a non-ASCII byte. Exact for every byte (unlike
/// [`special_bytes`], whose flags are exact only for the lowest one).
#[inline(always)]
fn first_stop_16(chunk: &[u8; 16]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of the x86_64 baseline; the load is unaligned and reads exactly
        // the 16 bytes of `chunk`.
        let mask = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            let limit = _mm_set1_epi8(0x1F);
            // Unsigned v <= 0x1F exactly when max(v, 0x1F) == 0x1F.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
            // Each flagged lane is 0xFF; a non-ASCII byte has its own high bit set.
            let stops = _mm_or_si128(_mm_or_si128(quote, backslash), _mm_or_si128(control, v));
            _mm_movemask_epi8(stops) as u32
        };
        (mask != 0).then(|| mask.trailing_zeros() as usize)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        chunk
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
    }
}

/// The bytes of `v` (eight bytes of a string, little-endian) that end a plain run: quotes,
/// backslashes and control characters (< 0x20), each flagged by its high bit. This is the classic
/// "has a byte below n" bit trick: a borrow only propagates past a flagged byte, so the lowest
/// flag is exact (higher ones may be spurious), which is all the scan uses.
fn special_bytes(v: u64) -> u64 {
    let below = |x: u64, n: u8| x.wrapping_sub(LOW_BITS * u64::from(n)) & !x & HIGH_BITS;
    let quote = below(v ^ (LOW_BITS * u64::from(b'"')), 1);
    let backslash = below(v ^ (LOW_BITS * u64::from(b'\\')), 1);
    quote | backslash | below(v, 0x20)
}

/// The scan gives up: the full parse decides.
struct Unsure;

type Scan<T> = Result<T, Unsure>;

/// Instance properties, matched case-insensitively as the full parser does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    RegionId,
    ZoneId,
    ServiceId,
    InstanceId,
    Url,
    Port,
    Metadata,
    /// groupId, machineName, ip, protocol, healthCheckUrl, status: a Java String not needed here.
    OtherString,
    Unknown,
}

impl Field {
    /// The property a [`fold_name`] is.
    fn of(name: u128) -> Field {
        const REGION_ID: u128 = fold_name(b"regionid");
        const ZONE_ID: u128 = fold_name(b"zoneid");
        const SERVICE_ID: u128 = fold_name(b"serviceid");
        const INSTANCE_ID: u128 = fold_name(b"instanceid");
        const URL: u128 = fold_name(b"url");
        const PORT: u128 = fold_name(b"port");
        const METADATA: u128 = fold_name(b"metadata");
        const GROUP_ID: u128 = fold_name(b"groupid");
        const MACHINE_NAME: u128 = fold_name(b"machinename");
        const IP: u128 = fold_name(b"ip");
        const PROTOCOL: u128 = fold_name(b"protocol");
        const HEALTH_CHECK_URL: u128 = fold_name(b"healthcheckurl");
        const STATUS: u128 = fold_name(b"status");
        match name {
            REGION_ID => Field::RegionId,
            ZONE_ID => Field::ZoneId,
            SERVICE_ID => Field::ServiceId,
            INSTANCE_ID => Field::InstanceId,
            URL => Field::Url,
            PORT => Field::Port,
            METADATA => Field::Metadata,
            GROUP_ID | MACHINE_NAME | IP | PROTOCOL | HEALTH_CHECK_URL | STATUS => {
                Field::OtherString
            }
            _ => Field::Unknown,
        }
    }

    /// Bit for duplicate detection of the properties whose value the scan keeps.
    fn bit(self) -> u8 {
        match self {
            Field::RegionId => 1,
            Field::ZoneId => 2,
            Field::ServiceId => 4,
            Field::InstanceId => 8,
            Field::Url => 16,
            _ => 0,
        }
    }
}

/// A property name of up to 16 bytes as one number, each byte OR 0x20. For names made of ASCII
/// letters (all of the model's) equal numbers mean equal names ignoring ASCII case, as the full
/// parser matches them: a byte OR 0x20 is a given lower-case letter only when it is that letter in
/// either case. The scan's names hold no byte below 0x20 (it refuses raw control characters),
/// so no byte folds to 0 and names of different lengths never collide.
const fn fold_name(name: &[u8]) -> u128 {
    debug_assert!(name.len() <= 16);
    let mut folded = 0u128;
    let mut i = 0;
    while i < name.len() && i < 16 {
        folded |= ((name[i] | 0x20) as u128) << (8 * i);
        i += 1;
    }
    folded
}

/// A string token: its content (between the quotes) and whether it holds escapes.
struct StrToken<'a> {
    /// Where the content starts in the body.
    start: usize,
    content: &'a [u8],
    escaped: bool,
}

impl<'a> StrToken<'a> {
    /// The content as it decodes, when it has no escapes (valid UTF-8: checked by the scan).
    fn plain(&self) -> Scan<&'a str> {
        if self.escaped {
            return Err(Unsure);
        }
        debug_assert!(std::str::from_utf8(self.content).is_ok());
        // SAFETY: a token exists only for content the scan checked to be UTF-8 (plain ASCII on
        // the fast path, `from_utf8` in `string_rest` once a non-ASCII byte was seen).
        Ok(unsafe { std::str::from_utf8_unchecked(self.content) })
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Skips whitespace, then consumes `c`.
    fn expect(&mut self, c: u8) -> Scan<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Unsure)
        }
    }

    /// Consumes `lit` (a `true`, `false` or `null` token) when it comes next.
    fn literal(&mut self, lit: &[u8]) -> bool {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    /// The whole body: an object whose `instances` is read, then only whitespace.
    fn request(&mut self) -> Scan<Option<Vec<Option<HeartbeatKey<'a>>>>> {
        self.expect(b'{')?;
        let mut instances = None;
        let mut seen = false;
        self.members(1, |s, name| {
            if name == const { fold_name(b"instances") } {
                if seen {
                    return Err(Unsure);
                }
                seen = true;
                instances = s.instances()?;
                Ok(())
            } else {
                s.skip_value(1)
            }
        })?;
        self.ws();
        if self.i == self.b.len() {
            Ok(instances)
        } else {
            Err(Unsure)
        }
    }

    /// [`fold_name`] of a property name within the body; 0 (no property's) when empty or longer
    /// than 16 bytes.
    fn fold(&self, name: &StrToken) -> u128 {
        let len = name.content.len();
        if len == 0 || len > 16 {
            return 0;
        }
        // The name is followed by at least its closing quote and a colon: most often there are
        // 16 bytes from its start, and one load folds it.
        match self.b[name.start..].first_chunk::<16>() {
            Some(chunk) => {
                let keep = u128::MAX >> (8 * (16 - len));
                (u128::from_le_bytes(*chunk) | const { u128::from_le_bytes([0x20; 16]) }) & keep
            }
            None => fold_name(name.content),
        }
    }

    /// The members of an object whose `{` was consumed, at nesting `depth`, up to and
    /// including its `}`. `member` reads each value (positioned after the colon and
    /// whitespace), given the [`fold`](Self::fold) of its name.
    fn members(
        &mut self,
        depth: usize,
        mut member: impl FnMut(&mut Self, u128) -> Scan<()>,
    ) -> Scan<()> {
        if depth > MAX_DEPTH {
            return Err(Unsure);
        }
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let name = self.string()?;
            // Property names are matched after unescaping: leave escaped ones to the parser.
            if name.escaped {
                return Err(Unsure);
            }
            self.expect(b':')?;
            self.ws();
            member(self, self.fold(&name))?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Unsure),
            }
        }
    }

    /// The elements of an array whose `[` was consumed, at nesting `depth`, up to and including
    /// its `]`. `element` reads each one (positioned on its first byte).
    fn elements(
        &mut self,
        depth: usize,
        mut element: impl FnMut(&mut Self) -> Scan<()>,
    ) -> Scan<()> {
        if depth > MAX_DEPTH {
            return Err(Unsure);
        }
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            element(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Unsure),
            }
        }
    }

    /// The value of `instances` (a member of the top-level object, nesting 1).
    fn instances(&mut self) -> Scan<Option<Vec<Option<HeartbeatKey<'a>>>>> {
        if self.literal(b"null") {
            return Ok(None);
        }
        if self.peek() != Some(b'[') {
            return Err(Unsure);
        }
        self.i += 1;
        let mut list = Vec::new();
        self.elements(2, |s| {
            if s.literal(b"null") {
                list.push(None);
                return Ok(());
            }
            list.push(Some(s.instance()?));
            Ok(())
        })?;
        Ok(Some(list))
    }

    /// One instance object (nesting 3).
    fn instance(&mut self) -> Scan<HeartbeatKey<'a>> {
        let start = self.i;
        if self.peek() != Some(b'{') {
            return Err(Unsure);
        }
        self.i += 1;
        let mut key = HeartbeatKey {
            region_id: None,
            zone_id: None,
            service_id: None,
            instance_id: None,
            url_blank: true,
            raw: &[],
        };
        let mut seen = 0u8;
        self.members(3, |s, name| {
            let field = Field::of(name);
            // Last one wins in the parser; the scan keeps it simple and lets it decide.
            if seen & field.bit() != 0 {
                return Err(Unsure);
            }
            seen |= field.bit();
            match field {
                Field::RegionId => key.region_id = s.key_string()?,
                Field::ZoneId => key.zone_id = s.key_string()?,
                Field::ServiceId => key.service_id = s.key_string()?,
                Field::InstanceId => key.instance_id = s.key_string()?,
                Field::Url => key.url_blank = is_null_or_whitespace(s.key_string()?),
                Field::Port => s.port()?,
                Field::Metadata => s.metadata()?,
                Field::OtherString => s.lenient_string()?,
                Field::Unknown => s.skip_value(3)?,
            }
            Ok(())
        })?;
        key.raw = &self.b[start..self.i];
        Ok(key)
    }

    /// A key field's value: `null` or a string without escapes (anything else: unsure).
    fn key_string(&mut self) -> Scan<Option<&'a str>> {
        if self.literal(b"null") {
            return Ok(None);
        }
        if self.peek() != Some(b'"') {
            return Err(Unsure);
        }
        self.string()?.plain().map(Some)
    }

    /// A Java String the heartbeat does not read: a string, an integer, a boolean or null.
    fn lenient_string(&mut self) -> Scan<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.integer().map(drop),
            _ if self.literal(b"null") || self.literal(b"true") || self.literal(b"false") => Ok(()),
            _ => Err(Unsure),
        }
    }

    /// A Java `int`: null, an integer in range, or a string of up to nine digits (empty reads
    /// as 0). Other numeric strings are left to the parser.
    fn port(&mut self) -> Scan<()> {
        match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                let digits_only = !s.escaped && s.content.iter().all(u8::is_ascii_digit);
                if digits_only && s.content.len() <= 9 {
                    Ok(())
                } else {
                    Err(Unsure)
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = self.integer()?;
                i32::try_from(n).map(drop).map_err(|_| Unsure)
            }
            _ if self.literal(b"null") => Ok(()),
            _ => Err(Unsure),
        }
    }

    /// `metadata`: null, or an object of Java Strings (nesting 4).
    fn metadata(&mut self) -> Scan<()> {
        if self.literal(b"null") {
            return Ok(());
        }
        if self.peek() != Some(b'{') {
            return Err(Unsure);
        }
        self.i += 1;
        self.metadata_members()
    }

    /// Metadata keys are data (any string, escapes included); only values are typed.
    fn metadata_members(&mut self) -> Scan<()> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.string()?;
            self.expect(b':')?;
            self.ws();
            self.lenient_string()?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(Unsure),
            }
        }
    }

    /// Any JSON value, as `IgnoredAny` skips it; `depth` is the nesting of the enclosing
    /// container.
    fn skip_value(&mut self, depth: usize) -> Scan<()> {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => {
                self.i += 1;
                self.members(depth + 1, |s, _| s.skip_value(depth + 1))
            }
            Some(b'[') => {
                self.i += 1;
                self.elements(depth + 1, |s| s.skip_value(depth + 1))
            }
            Some(b'-' | b'0'..=b'9') => self.integer().map(drop),
            _ if self.literal(b"null") || self.literal(b"true") || self.literal(b"false") => Ok(()),
            _ => Err(Unsure),
        }
    }

    /// `-?(0|[1-9][0-9]*)` of at most 18 digits (so it fits an i64 whatever the parser makes of
    /// it), not followed by a fraction or an exponent.
    fn integer(&mut self) -> Scan<i64> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n * 10 + i64::from(d - b'0');
            self.i += 1;
            if self.i - start > 18 {
                return Err(Unsure);
            }
        }
        let digits = self.i - start;
        if digits == 0 || (digits > 1 && self.b[start] == b'0') {
            return Err(Unsure);
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(Unsure);
        }
        Ok(if negative { -n } else { n })
    }

    /// A string token at the current `"`: valid escapes, no raw control characters, valid
    /// UTF-8. Lone surrogate escapes are left to the parser.
    #[inline]
    fn string(&mut self) -> Scan<StrToken<'a>> {
        if self.peek() != Some(b'"') {
            return Err(Unsure);
        }
        self.i += 1;
        let start = self.i;
        // The common case inline: plain ASCII bytes up to the closing quote.
        if self.skip_plain_ascii() && self.b[self.i] == b'"' {
            let content = &self.b[start..self.i];
            self.i += 1;
            return Ok(StrToken {
                start,
                content,
                escaped: false,
            });
        }
        self.string_rest(start)
    }

    /// Move past plain ASCII string bytes, sixteen at a time, then eight at a time in the last
    /// fifteen bytes of the body. True when stopped at a byte that ends the run (a quote, a
    /// backslash, a control character or a non-ASCII byte, at `self.i`); false when fewer than
    /// eight bytes are left to look at (the slow path takes them byte by byte).
    #[inline(always)]
    fn skip_plain_ascii(&mut self) -> bool {
        while let Some(chunk) = self.b[self.i..].first_chunk::<16>() {
            match first_stop_16(chunk) {
                Some(at) => {
                    self.i += at;
                    return true;
                }
                None => self.i += 16,
            }
        }
        while let Some(chunk) = self.b[self.i..].first_chunk::<8>() {
            let v = u64::from_le_bytes(*chunk);
            let stops = special_bytes(v) | v & HIGH_BITS;
            if stops != 0 {
                // The first byte that is special or non-ASCII (the lowest flag of each is exact).
                self.i += (stops.trailing_zeros() / 8) as usize;
                return true;
            }
            self.i += 8;
        }
        false
    }

    /// The rest of a string whose content starts at `start`, from where [`Self::string`]'s fast
    /// path stopped (having passed only plain ASCII bytes): escapes, non-ASCII bytes, control
    /// characters, the end of the body.
    #[inline(never)]
    fn string_rest(&mut self, start: usize) -> Scan<StrToken<'a>> {
        let mut escaped = false;
        // Non-ASCII bytes seen: the content must then be checked as UTF-8.
        let mut non_ascii = false;
        loop {
            // Plain bytes eight at a time up to the first quote, backslash or control character
            // (byte by byte only in the last seven bytes of the body).
            while let Some(chunk) = self.b[self.i..].first_chunk::<8>() {
                let v = u64::from_le_bytes(*chunk);
                let special = special_bytes(v);
                if special != 0 {
                    let plain = special.trailing_zeros() / 8;
                    // The bytes before the special one (none when it is the first).
                    non_ascii |= v & ((1u64 << (plain * 8)) - 1) & HIGH_BITS != 0;
                    self.i += plain as usize;
                    break;
                }
                non_ascii |= v & HIGH_BITS != 0;
                self.i += 8;
            }
            let c = *self.b.get(self.i).ok_or(Unsure)?;
            match c {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    self.escape()?;
                }
                0..=0x1F => return Err(Unsure),
                _ => {
                    non_ascii |= c >= 0x80;
                    self.i += 1;
                }
            }
        }
        let content = &self.b[start..self.i];
        self.i += 1;
        if non_ascii && std::str::from_utf8(content).is_err() {
            return Err(Unsure);
        }
        Ok(StrToken {
            start,
            content,
            escaped,
        })
    }

    /// The escape after a backslash.
    fn escape(&mut self) -> Scan<()> {
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.i += 1;
                Ok(())
            }
            Some(b'u') => {
                self.i += 1;
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A high surrogate must pair with a low one.
                        if !self.literal(b"\\u") {
                            return Err(Unsure);
                        }
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(Unsure),
                        }
                    }
                    0xDC00..=0xDFFF => Err(Unsure),
                    _ => Ok(()),
                }
            }
            _ => Err(Unsure),
        }
    }

    fn hex4(&mut self) -> Scan<u16> {
        let digits = self.b.get(self.i..self.i + 4).ok_or(Unsure)?;
        let mut unit = 0u16;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(Unsure)?;
            unit = unit << 4 | v as u16;
        }
        self.i += 4;
        Ok(unit)
    }
}

#[cfg(test)]
#[path = "heartbeat_scan_tests.rs"]
mod tests;
