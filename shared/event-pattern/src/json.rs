//! JSON as this crate reads it: [`Json`] keeps every number's text and every object's fields in
//! document order (duplicates included), which `serde_json::Value` cannot (without feature flags
//! that would change every crate of a workspace). Text is read with serde_json's own parser through
//! `RawValue`, so strings and syntax are exactly serde_json's.
//!
//! [`EventValue`] is what matching needs from an event, implemented both for `serde_json::Value`
//! (the fast path of [`Pattern::matches`](crate::Pattern::matches)) and for [`Json`]
//! ([`Pattern::matches_str`](crate::Pattern::matches_str)).

use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::number::EventNumber;

/// A JSON value with number texts and field order kept.
#[derive(Debug, Clone)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// The number's text, exactly as written.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Fields in document order; a repeated name appears as often as it was written.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Reads JSON text.
    pub(crate) fn from_text(text: &str) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: &RawValue) -> Result<Self, serde_json::Error> {
        let text = raw.get().trim();
        Ok(match text.as_bytes().first() {
            Some(b'{') => {
                let Fields(fields) = serde_json::from_str(text)?;
                Json::Object(
                    fields
                        .into_iter()
                        .map(|(name, value)| Ok((name, Self::from_raw(value)?)))
                        .collect::<Result<_, serde_json::Error>>()?,
                )
            }
            Some(b'[') => {
                let items: Vec<&RawValue> = serde_json::from_str(text)?;
                Json::Array(items.into_iter().map(Self::from_raw).collect::<Result<_, _>>()?)
            }
            Some(b'"') => Json::String(serde_json::from_str(text)?),
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'n') => Json::Null,
            _ => Json::Number(text.to_owned()),
        })
    }

    /// The same value with numbers as serde_json prints them (its integers exactly, its doubles
    /// as their shortest decimal) and fields in the map's order.
    pub(crate) fn from_value(value: &Value) -> Self {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.to_string()),
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(Self::from_value).collect()),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.clone(), Self::from_value(value)))
                    .collect(),
            ),
        }
    }

    /// Compact JSON for messages (numbers as written).
    pub(crate) fn shown(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(text) => out.push_str(text),
            Json::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(name.clone()).to_string());
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// An object's fields as raw values, in order, duplicates kept.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, &'de RawValue>()? {
                    fields.push((name, value));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A scalar event value, as the matchers see it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scalar<'a> {
    String(&'a str),
    Number(EventNumber<'a>),
    Bool(bool),
    Null,
}

/// What matching needs from an event value.
pub(crate) trait EventValue: Sized {
    /// The value of field `name` when this is an object holding it (the last one when repeated).
    fn field(&self, name: &str) -> Option<&Self>;
    /// Whether this is an object holding a key that starts with `name` and a dot (`"a.b"` for
    /// `a`): one pass over the keys, cheaper than looking up each dotted key that could matter.
    fn has_key_below(&self, name: &str) -> bool;
    /// Whether this is an object.
    fn is_object(&self) -> bool;
    /// The elements when this is an array.
    fn items(&self) -> Option<&[Self]>;
    /// The value when this is a string, number, boolean or null.
    fn scalar(&self) -> Option<Scalar<'_>>;
}

impl EventValue for Value {
    fn field(&self, name: &str) -> Option<&Self> {
        match self {
            Value::Object(fields) => fields.get(name),
            _ => None,
        }
    }

    fn has_key_below(&self, name: &str) -> bool {
        match self {
            // Sorted keys that start with `name` sit together, among those sharing its first
            // byte: the scan stops past them.
            Value::Object(fields) if !name.is_empty() && map_keys_sorted() => {
                let first = name.as_bytes().first();
                fields
                    .keys()
                    .skip_while(|key| key.as_bytes().first() < first)
                    .take_while(|key| key.as_bytes().first() == first)
                    .any(|key| is_below(key, name))
            }
            Value::Object(fields) => fields.keys().any(|key| is_below(key, name)),
            _ => false,
        }
    }

    fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    fn items(&self) -> Option<&[Self]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    fn scalar(&self) -> Option<Scalar<'_>> {
        Some(match self {
            Value::String(s) => Scalar::String(s),
            Value::Number(n) => Scalar::Number(if let Some(i) = n.as_i64() {
                EventNumber::Integer(i128::from(i))
            } else if let Some(u) = n.as_u64() {
                EventNumber::Integer(i128::from(u))
            } else {
                EventNumber::Float(n.as_f64().unwrap_or(f64::NAN))
            }),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Null => Scalar::Null,
            Value::Array(_) | Value::Object(_) => return None,
        })
    }
}

impl EventValue for Json {
    fn field(&self, name: &str) -> Option<&Self> {
        match self {
            Json::Object(fields) => fields.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    fn has_key_below(&self, name: &str) -> bool {
        match self {
            Json::Object(fields) => fields.iter().any(|(key, _)| is_below(key, name)),
            _ => false,
        }
    }

    fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    fn items(&self) -> Option<&[Self]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    fn scalar(&self) -> Option<Scalar<'_>> {
        Some(match self {
            Json::String(s) => Scalar::String(s),
            Json::Number(text) => Scalar::Number(EventNumber::Text(text)),
            Json::Bool(b) => Scalar::Bool(*b),
            Json::Null => Scalar::Null,
            Json::Array(_) | Json::Object(_) => return None,
        })
    }
}

/// Whether `serde_json::Map` gives its keys in sorted order: it does unless some crate of the
/// build enables serde_json's `preserve_order` (which keeps insertion order), so it is asked once
/// rather than assumed.
fn map_keys_sorted() -> bool {
    static SORTED: OnceLock<bool> = OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut map = serde_json::Map::new();
        map.insert("b".to_owned(), Value::Null);
        map.insert("a".to_owned(), Value::Null);
        map.keys().next().is_some_and(|key| key == "a")
    })
}

/// Whether `key` is `name`, a dot, and more: a key that reaches below the field `name`.
fn is_below(key: &str, name: &str) -> bool {
    key.as_bytes().get(name.len()) == Some(&b'.') && key.as_bytes().starts_with(name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_number_spellings_field_order_and_duplicates() -> Result<(), serde_json::Error> {
        let json = Json::from_text(r#" {"b": [1e400, 3.0e2], "a": {"x": "\u00e9"}, "b": null} "#)?;
        assert_eq!(json.shown(), r#"{"b":[1e400,3.0e2],"a":{"x":"é"},"b":null}"#);
        assert!(matches!(json.field("b"), Some(Json::Null)));
        assert!(Json::from_text("[1,]").is_err());
        Ok(())
    }
}
