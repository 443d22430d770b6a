//! Java `boolean` and `Boolean` properties as Jackson 2.9 reads them (`_parseBooleanPrimitive`,
//! `BooleanDeserializer`): JSON booleans, integers (`0` is false, any other is true), the
//! strings `"true"`/`"True"`/`"false"`/`"False"` (trimmed), and `null`, `""` or `"null"` as no
//! value. Anything else is an error, as in Jackson.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A primitive `boolean` property (`operationComplete`): no value reads as `false`.
pub(crate) struct LenientBool(pub bool);

/// A boxed `Boolean` property (the `complete` filter of the log requests): no value is `None`.
pub(crate) struct LenientOptBool(pub Option<bool>);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor)
            .map(|v| LenientBool(v.unwrap_or(false)))
    }
}

impl<'de> Deserialize<'de> for LenientOptBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BoolVisitor).map(LenientOptBool)
    }
}

struct BoolVisitor;

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean, an integer, \"true\", \"false\" or null")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v != 0))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v != 0))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // Java's String.trim(): every char up to U+0020.
        match v.trim_matches(|c: char| c <= ' ') {
            "true" | "True" => Ok(Some(true)),
            "false" | "False" => Ok(Some(false)),
            "" | "null" => Ok(None),
            _ => Err(E::custom(format_args!(
                "\"{}\" is not a boolean: only \"true\" or \"false\" recognized",
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
