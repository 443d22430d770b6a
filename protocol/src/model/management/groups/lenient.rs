//! Wire readers for the Java properties the group requests have and the traffic-control ones do
//! not: boxed `Long`/`Integer` (absent, `null`, `""` and `"null"` read as no value, as Jackson's
//! boxed deserializers do), lists of them, and a `String` whose absence differs from `null`
//! (`OperationContext.extensions` defaults to `"{}"` only when the key is missing).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::model::de::LenientStr;
use crate::model::Str;

/// A Java `Long` property.
pub(crate) type LenientOptI64 = LenientOptInt<i64>;
/// A Java `Integer` property.
pub(crate) type LenientOptI32 = LenientOptInt<i32>;

/// A boxed Java integer: integers, numeric strings (trimmed), floats truncated toward zero, and
/// no value for `null`, `""` and `"null"`. Out-of-range values, booleans, objects and other
/// strings are errors, as in Jackson.
pub(crate) struct LenientOptInt<T>(pub Option<T>);

impl<'de, T: TryFrom<i64>> Deserialize<'de> for LenientOptInt<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OptIntVisitor(PhantomData))
            .map(LenientOptInt)
    }
}

struct OptIntVisitor<T>(PhantomData<T>);

impl<T: TryFrom<i64>> OptIntVisitor<T> {
    fn narrow<E: de::Error>(v: i64) -> Result<Option<T>, E> {
        T::try_from(v)
            .map(Some)
            .map_err(|_| E::custom(format_args!("integer {v} is out of range")))
    }
}

impl<'de, T: TryFrom<i64>> Visitor<'de> for OptIntVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, a numeric string or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::narrow(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let v =
            i64::try_from(v).map_err(|_| E::custom(format_args!("integer {v} is out of range")))?;
        Self::narrow(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        let t = v.trunc();
        // The bounds are exact powers of two, so the comparison is precise.
        if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
            return Err(E::custom(format_args!("number {v} is out of range")));
        }
        Self::narrow(t as i64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // Java's String.trim(): every char up to U+0020.
        let text = v.trim_matches(|c: char| c <= ' ');
        if text.is_empty() || text == "null" {
            return Ok(None);
        }
        match text.parse::<i64>() {
            Ok(n) => Self::narrow(n),
            Err(_) => Err(E::custom(format_args!(
                "\"{}\" is not a valid integer",
                v.escape_debug()
            ))),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A nullable `List<Long>` with possibly-null elements (`routeRuleIds`, `groupIds`, ...).
pub(crate) struct LenientIdList(pub Option<Vec<Option<i64>>>);

impl<'de> Deserialize<'de> for LenientIdList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Option::<Vec<LenientOptI64>>::deserialize(d)?;
        Ok(LenientIdList(
            list.map(|ids| ids.into_iter().map(|id| id.0).collect()),
        ))
    }
}

/// A `String` property that was present: `Some(None)` is an explicit `null`, and a missing key
/// leaves the field at its default `None`.
pub(crate) struct PresentStr<'de>(pub Option<Str<'de>>);

impl<'de> Deserialize<'de> for PresentStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LenientStr::deserialize(d).map(|s| PresentStr(Some(s.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long(json: &str) -> Result<Option<i64>, sonic_rs::Error> {
        sonic_rs::from_str::<LenientOptI64>(json).map(|v| v.0)
    }

    #[test]
    fn boxed_integers_read_numbers_strings_and_no_value() {
        assert_eq!(long("42").unwrap(), Some(42));
        assert_eq!(long(r#"" 42 ""#).unwrap(), Some(42));
        assert_eq!(long("7.9").unwrap(), Some(7));
        assert_eq!(long("null").unwrap(), None);
        assert_eq!(long(r#""""#).unwrap(), None);
        assert_eq!(long(r#""null""#).unwrap(), None);
        for bad in ["true", r#""4x""#, "{}", "[1]", "9223372036854775808"] {
            assert!(long(bad).is_err(), "{bad} should be rejected");
        }
        let int = |json: &str| sonic_rs::from_str::<LenientOptI32>(json).map(|v| v.0);
        assert_eq!(int("-3").unwrap(), Some(-3));
        assert!(int("2147483648").is_err());
    }

    #[test]
    fn id_lists_keep_null_elements() {
        let ids = |json: &str| sonic_rs::from_str::<LenientIdList>(json).map(|v| v.0);
        assert_eq!(
            ids("[1,null,\"3\"]").unwrap(),
            Some(vec![Some(1), None, Some(3)])
        );
        assert_eq!(ids("null").unwrap(), None);
        assert!(ids("[\"x\"]").is_err());
    }

    #[test]
    fn a_present_null_differs_from_a_missing_key() {
        fn present(json: &str) -> Option<Option<String>> {
            let read = sonic_rs::from_str::<PresentStr>(json).unwrap().0;
            read.map(|value| value.map(|text| text.into_owned()))
        }
        assert_eq!(present("null"), Some(None));
        assert_eq!(present("\"{}\""), Some(Some("{}".to_owned())));
    }
}
