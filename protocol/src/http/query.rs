//! Request targets: query-string and path percent-decoding (WHATWG
//! application/x-www-form-urlencoded rules, lenient) and the canonical form routes match.

use std::borrow::Cow;

/// `key=value` pairs of a query string, split on '&' (empty pieces skipped) and the first '='; a
/// piece without '=' has an empty value. Both sides are percent-decoded with '+' as space. Decoding
/// borrows unless something changed; invalid escapes are kept literally and invalid UTF-8 is
/// replaced with U+FFFD.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            (decode(key, true), decode(value, true))
        })
}

/// Percent-decodes a path ('+' stays '+'). Same leniency as [`query_pairs`]. Note "%2F" becomes
/// '/', so split the raw path into segments first if that distinction matters.
pub fn percent_decode_path(path: &str) -> Cow<'_, str> {
    decode(path, false)
}

fn decode(text: &str, plus_is_space: bool) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        match b {
            b'%' => match escaped_byte(rest) {
                Some(decoded) => {
                    out.push(decoded);
                    rest = rest.get(2..).unwrap_or_default();
                }
                None => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            _ => out.push(b),
        }
    }
    if out == bytes {
        return Cow::Borrowed(text);
    }
    match String::from_utf8(out) {
        Ok(decoded) => Cow::Owned(decoded),
        Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
    }
}

/// The byte encoded by the two hex digits at the start of `after_percent`, if they are hex digits.
fn escaped_byte(after_percent: &[u8]) -> Option<u8> {
    let hex = |b: &u8| char::from(*b).to_digit(16);
    let high = hex(after_percent.first()?)?;
    let low = hex(after_percent.get(1)?)?;
    u8::try_from(high * 16 + low).ok()
}

/// The path as the route tables spell it: without the configured prefix (paths work with or
/// without it) and without one trailing slash (Spring accepted both).
pub fn canonical_path<'p>(path: &'p str, prefix: &str) -> &'p str {
    let mut path = path;
    if !prefix.is_empty() {
        if let Some(rest) = path.strip_prefix(prefix) {
            if rest.starts_with('/') {
                path = rest;
            }
        }
    }
    if path.len() > 1 {
        path = path.strip_suffix('/').unwrap_or(path);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(query)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn owned(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn splits_pairs() {
        assert_eq!(pairs(""), owned(&[]));
        assert_eq!(pairs("a=1"), owned(&[("a", "1")]));
        assert_eq!(
            pairs("a=1&b=2&a=3"),
            owned(&[("a", "1"), ("b", "2"), ("a", "3")])
        );
        assert_eq!(pairs("&&a=1&&"), owned(&[("a", "1")]));
        assert_eq!(pairs("flag&x="), owned(&[("flag", ""), ("x", "")]));
        assert_eq!(pairs("=v"), owned(&[("", "v")]));
        assert_eq!(pairs("a=b=c"), owned(&[("a", "b=c")]));
    }

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(pairs("q=a+b%20c"), owned(&[("q", "a b c")]));
        assert_eq!(pairs("k%3D=v%26w"), owned(&[("k=", "v&w")]));
        assert_eq!(pairs("name=%E4%BD%A0%e5%a5%bd"), owned(&[("name", "你好")]));
        assert_eq!(pairs("plus=%2B"), owned(&[("plus", "+")]));
    }

    #[test]
    fn invalid_escapes_are_literal() {
        assert_eq!(pairs("p=100%"), owned(&[("p", "100%")]));
        assert_eq!(pairs("p=%4"), owned(&[("p", "%4")]));
        assert_eq!(pairs("p=%zz%41"), owned(&[("p", "%zzA")]));
        assert_eq!(pairs("p=%%41"), owned(&[("p", "%A")]));
        assert_eq!(pairs("p=%+1"), owned(&[("p", "% 1")]));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(pairs("b=%FF%FEok"), owned(&[("b", "\u{FFFD}\u{FFFD}ok")]));
        assert_eq!(pairs("b=%E4%BD"), owned(&[("b", "\u{FFFD}")]));
    }

    #[test]
    fn borrows_when_nothing_changes() {
        for (key, value) in query_pairs("plain=value&x=100%&y=%zz") {
            assert!(matches!(key, Cow::Borrowed(_)), "{key}");
            assert!(matches!(value, Cow::Borrowed(_)), "{value}");
        }
        let decoded: Vec<_> = query_pairs("a+b=c%21").collect();
        assert!(matches!(decoded[0].0, Cow::Owned(_)));
        assert!(matches!(decoded[0].1, Cow::Owned(_)));
    }

    #[test]
    fn path_decoding() {
        assert!(matches!(
            percent_decode_path("/api/registry"),
            Cow::Borrowed("/api/registry")
        ));
        assert!(matches!(percent_decode_path("/a+b"), Cow::Borrowed("/a+b")));
        assert_eq!(percent_decode_path("/a%20b/%2Fc"), "/a b//c");
        assert_eq!(percent_decode_path("/bad%G1%"), "/bad%G1%");
        assert_eq!(percent_decode_path("/%C3%A9t%C3%A9"), "/été");
        assert_eq!(percent_decode_path("/%80"), "/\u{FFFD}");
    }

    #[test]
    fn every_escape_byte_round_trips() {
        for byte in 0u8..=0x7F {
            let encoded = format!("%{byte:02X}");
            assert_eq!(percent_decode_path(&encoded).as_bytes(), [byte]);
            assert_eq!(
                percent_decode_path(&encoded.to_lowercase()).as_bytes(),
                [byte]
            );
        }
    }
}
