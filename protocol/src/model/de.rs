//! Lenient, zero-copy deserialization building blocks.
//!
//! The Java server reads bodies with Jackson configured for case-insensitive
//! property names and scalar coercion, and real clients rely on both (the .NET
//! client sends `"ServiceId"`, some callers send `"port": "8080"`). These
//! helpers reproduce that behaviour on top of serde while borrowing strings from
//! the request body whenever they contain no escape sequences.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use serde::Deserialize;

use super::instance::Str;

/// Property-name matcher: resolves a key to the canonical spelling it matches
/// case-insensitively (Jackson's ACCEPT_CASE_INSENSITIVE_PROPERTIES), or `None`
/// for an unknown key that the caller must skip.
pub(crate) struct FieldSeed(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Option<&'static str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = Option<&'static str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().copied().find(|n| n.eq_ignore_ascii_case(v)))
    }
}

/// Generates a `Deserialize` impl for a request struct: keys are matched
/// case-insensitively, unknown keys are skipped, the last duplicate wins (as
/// with Jackson's setters) and missing keys keep their `Default`.
///
/// Each field names a wire type: a newtype whose `.0` is the field's value.
macro_rules! lenient_object {
    (
        $ty:ident < $de:lifetime >, $expecting:literal,
        { $($json:literal => $field:ident : $wire:ty),* $(,)? }
    ) => {
        impl<$de> serde::Deserialize<$de> for $ty<$de> {
            fn deserialize<D: serde::Deserializer<$de>>(d: D) -> Result<Self, D::Error> {
                struct ObjectVisitor;

                impl<$de> serde::de::Visitor<$de> for ObjectVisitor {
                    type Value = $ty<$de>;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: serde::de::MapAccess<$de>>(
                        self,
                        mut map: A,
                    ) -> Result<Self::Value, A::Error> {
                        const NAMES: &[&str] = &[$($json),*];
                        let mut value = $ty::default();
                        while let Some(key) =
                            map.next_key_seed($crate::model::de::FieldSeed(NAMES))?
                        {
                            match key {
                                $(Some($json) => value.$field = map.next_value::<$wire>()?.0,)*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(value)
                    }
                }

                d.deserialize_map(ObjectVisitor)
            }
        }
    };
}
pub(crate) use lenient_object;

/// A Java `String` property: JSON strings (borrowed when unescaped), numbers and
/// booleans (as their text, like Jackson's `getValueAsString`), `null` → `None`.
/// Objects and arrays are rejected, as Jackson does without UNWRAP_SINGLE_VALUE_ARRAYS.
///
/// Floats lose their original spelling (`1.50` becomes `"1.5"`) because the
/// parser hands us an `f64`; nobody sends floats for string properties.
pub(crate) struct LenientStr<'de>(pub Str<'de>);

impl<'de> Deserialize<'de> for LenientStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientStrVisitor).map(LenientStr)
    }
}

struct LenientStrVisitor;

impl<'de> Visitor<'de> for LenientStrVisitor {
    type Value = Str<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Debug keeps a fractional part ("100.0"), closer to the JSON text than Display.
        Ok(Some(Cow::Owned(format!("{v:?}"))))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(if v { "true" } else { "false" })))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A map key or other always-string value, borrowed when unescaped.
pub(crate) struct CowStr<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CowStrVisitor).map(CowStr)
    }
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A Java `int` property (Jackson's `_parseIntPrimitive` rules, see [`LenientInt`]).
pub(crate) type LenientI32 = LenientInt<i32>;
/// A Java `long` property.
pub(crate) type LenientI64 = LenientInt<i64>;

/// A Java primitive integer: integers, numeric strings (trimmed; `""` and
/// `"null"` read as 0), floats truncated toward zero (Jackson's default
/// ACCEPT_FLOAT_AS_INT) and `null` → 0. Out-of-range values, booleans and
/// non-numeric strings are errors, as in Jackson.
pub(crate) struct LenientInt<T>(pub T);

impl<'de, T> Deserialize<'de> for LenientInt<T>
where
    T: TryFrom<i64> + Default,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor(PhantomData)).map(LenientInt)
    }
}

struct IntVisitor<T>(PhantomData<T>);

impl<T: TryFrom<i64>> IntVisitor<T> {
    fn narrow<E: de::Error>(v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format_args!("integer {v} is out of range")))
    }
}

impl<'de, T: TryFrom<i64> + Default> Visitor<'de> for IntVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, a numeric string or null")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        Self::narrow(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        let v =
            i64::try_from(v).map_err(|_| E::custom(format_args!("integer {v} is out of range")))?;
        Self::narrow(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        let t = v.trunc();
        // The bounds are exact powers of two, so the comparison is precise.
        if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
            return Err(E::custom(format_args!("number {v} is out of range")));
        }
        Self::narrow(t as i64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        let text = java_trim(v);
        if text.is_empty() || text == "null" {
            return Ok(T::default());
        }
        match text.parse::<i64>() {
            Ok(n) => Self::narrow(n),
            Err(_) => Err(E::custom(format_args!(
                "\"{}\" is not a valid integer",
                v.escape_debug()
            ))),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

/// Java's `String.trim()`: strips every char up to U+0020 at both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// `null` → `None`, otherwise `T` (used for nested objects, maps and lists).
pub(crate) struct Nullable<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(Nullable)
    }
}

/// A nullable `List<String>` with lenient, possibly-null elements.
pub(crate) struct LenientStrList<'de>(pub Option<Vec<Str<'de>>>);

impl<'de> Deserialize<'de> for LenientStrList<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Option::<Vec<LenientStr<'de>>>::deserialize(d)?;
        Ok(LenientStrList(
            list.map(|items| items.into_iter().map(|s| s.0).collect()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lenient_str(json: &str) -> Result<Option<String>, sonic_rs::Error> {
        sonic_rs::from_str::<LenientStr>(json).map(|s| s.0.map(Cow::into_owned))
    }

    fn int32(json: &str) -> Result<i32, sonic_rs::Error> {
        sonic_rs::from_str::<LenientI32>(json).map(|v| v.0)
    }

    #[test]
    fn strings_coerce_scalars_like_jackson() {
        assert_eq!(lenient_str(r#""a""#).unwrap().as_deref(), Some("a"));
        assert_eq!(lenient_str("42").unwrap().as_deref(), Some("42"));
        assert_eq!(lenient_str("-7").unwrap().as_deref(), Some("-7"));
        assert_eq!(
            lenient_str("18446744073709551615").unwrap().as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(lenient_str("100.0").unwrap().as_deref(), Some("100.0"));
        assert_eq!(lenient_str("true").unwrap().as_deref(), Some("true"));
        assert_eq!(lenient_str("false").unwrap().as_deref(), Some("false"));
        assert_eq!(lenient_str("null").unwrap(), None);
        assert!(lenient_str("{}").is_err());
        assert!(lenient_str("[\"a\"]").is_err());
    }

    #[test]
    fn ints_accept_numbers_strings_and_null() {
        assert_eq!(int32("8080").unwrap(), 8080);
        assert_eq!(int32("-1").unwrap(), -1);
        assert_eq!(int32(r#""8080""#).unwrap(), 8080);
        assert_eq!(int32(r#"" +80 ""#).unwrap(), 80);
        assert_eq!(int32(r#""""#).unwrap(), 0);
        assert_eq!(int32(r#""null""#).unwrap(), 0);
        assert_eq!(int32("null").unwrap(), 0);
        assert_eq!(int32("80.0").unwrap(), 80);
        assert_eq!(int32("80.9").unwrap(), 80);
        assert_eq!(int32("-80.9").unwrap(), -80);
        assert_eq!(int32("2147483647").unwrap(), i32::MAX);
        assert_eq!(int32("-2147483648").unwrap(), i32::MIN);
    }

    #[test]
    fn ints_reject_garbage_and_overflow() {
        for bad in [
            "2147483648",
            "-2147483649",
            r#""2147483648""#,
            "1e300",
            "18446744073709551615",
            r#""80a""#,
            r#""80.0""#,
            "true",
            "[80]",
            "{}",
        ] {
            assert!(int32(bad).is_err(), "{bad} should be rejected");
        }
        let err = int32(r#""abc""#).unwrap_err().to_string();
        assert!(err.contains("not a valid integer"), "{err}");
    }

    #[test]
    fn longs_cover_the_i64_range() {
        let v = |json: &str| sonic_rs::from_str::<LenientI64>(json).map(|v| v.0);
        assert_eq!(v("9223372036854775807").unwrap(), i64::MAX);
        assert_eq!(v(r#""-9223372036854775808""#).unwrap(), i64::MIN);
        assert!(v("9223372036854775808").is_err());
        assert!(v("9.3e18").is_err());
    }
}
