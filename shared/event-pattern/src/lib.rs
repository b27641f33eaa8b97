//! EventBridge event patterns, offline: parse a pattern once into a typed tree (refusing what
//! EventBridge would refuse, with the path of the problem), then match events against it.
//!
//! ```
//! use event_pattern::Pattern;
//! use serde_json::json;
//!
//! let pattern = Pattern::parse(&json!({
//!     "source": ["shop.orders"],
//!     "detail": { "total": [{ "numeric": [">", 0, "<=", 500] }] }
//! }))?;
//! assert!(pattern.matches(&json!({ "source": "shop.orders", "detail": { "total": 120.5 } })));
//! assert!(!pattern.matches(&json!({ "source": "shop.orders", "detail": { "total": "120.5" } })));
//! # Ok::<(), event_pattern::PatternError>(())
//! ```
//!
//! A map of the parts:
//! - [`Pattern`] (this file): the public face, `parse`/`parse_str`/`matches`.
//! - `error`: [`PatternError`] (the path in the pattern) and [`ErrorKind`] (what is wrong there).
//! - `parse`: validation and the expansion of `$or` into `$or`-free alternatives.
//! - `tree`: one alternative as nested levels, and the walk over an event (array consistency).
//! - `matcher`: the typed matchers and how each tests one scalar value.
//!
//! The specification is the AWS EventBridge user guide ("Event patterns", "Content filtering in
//! Amazon EventBridge event patterns", "Arrays in event patterns") and, where the guide is silent,
//! the behaviour of `aws/event-ruler`, the open-source matching engine behind EventBridge.
//!
//! # Choices
//! Where the documentation is silent or the engine's behaviour is accidental, this crate chose:
//!
//! - **Objects inside arrays.** When the pattern descends into a field whose event value is an
//!   array of objects, one element must satisfy the whole nested pattern: fields from different
//!   elements of the same array never combine (the engine's "array-consistent" matching).
//!   `exists: false` is judged inside the chosen element. The engine's answer for `exists: false`
//!   next to an array can depend on the order of field names; this crate's does not.
//! - **What is a leaf value.** Strings, numbers, booleans and `null` are; arrays are unrolled at any
//!   depth; objects are not leaves ("Exists matching only works on leaf nodes"). So a field holding
//!   `[]`, `{}` or only objects counts as absent: `exists: true` fails and `exists: false` holds.
//! - **Exact numbers** compare by value as binary64 (exactly for two integers): `300` matches
//!   `300.0` and `3.0e2`. Exact values have no range limit (an account id written as a number still
//!   matches itself); strings never equal numbers and booleans never equal `0`/`1`.
//! - **`numeric`** operands must lie within ±5e9 and have at most six decimal places (the documented
//!   range and precision). Its shape is the engine's: one comparison, or a lower bound (`>`, `>=`)
//!   followed by an upper bound (`<`, `<=`) with lower < upper. Event values match only when they
//!   are JSON numbers within ±5e9: never strings, booleans or larger numbers.
//! - **`anything-but`** matches a present leaf value that is not excluded; a missing field never
//!   matches. With an array, one non-excluded element suffices. A value of another type is never
//!   excluded (`{"anything-but": "x"}` matches `5` and `null`; `{"anything-but": {"prefix": "x"}}`
//!   matches `5`). Numbers are compared by value and obey the `numeric` range and precision.
//!   Lists hold only strings or only numbers. `prefix`/`suffix` inside it take one non-empty
//!   string (the guide: "only works with a single prefix, not a list"); `equals-ignore-case` and
//!   `wildcard` inside it take a string or a list of strings.
//! - **Case-insensitive matchers** lowercase both sides character by character with Unicode's full
//!   lowercase mappings (no locale, no context-dependent final sigma).
//! - **`wildcard`**: `*` matches any run of characters (including none), `\*` a star, `\\` a
//!   backslash; any other escape and consecutive `*` are refused, as the engine does. The engine's
//!   "rule is too complex" limit on wildcards is not enforced.
//! - **`cidr`**: prefix lengths must be below 32 (IPv4) or 128 (IPv6), as in the engine; unlike the
//!   engine, a block with host bits set after the prefix (`10.0.0.1/24`) is refused as a likely
//!   typo. Only string event values are addresses; an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`)
//!   is an IPv6 address and does not fall in an IPv4 block. An exact string value that happens to
//!   be an address compares as a string.
//! - **`$or`** must hold an array of at least two non-empty objects (the engine keeps a legacy mode
//!   where anything else is an ordinary field named `$or`; this crate refuses it). Field names
//!   equal to a matcher name are refused inside `$or`, as the engine does. A field constrained both
//!   inside an `$or` alternative and outside it must satisfy both (the engine lets one replace the
//!   other, depending on key order). A pattern whose `$or`s multiply out to more than 1000
//!   alternatives is refused.
//! - **Empty objects** (including the pattern `{}`) are refused, as the engine does.
//! - **Duplicate keys** in pattern text: the last one wins (serde_json's behaviour, and what the
//!   guide says EventBridge does).
//! - **Dotted field names** are ordinary names: `"a.b"` is not the path `a` → `b` (the engine joins
//!   paths with dots and conflates them).
//! - **An event that is not a JSON object** matches nothing.

mod error;
mod matcher;
mod parse;
mod tree;

use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub use error::{ErrorKind, PatternError};

/// A validated EventBridge event pattern, compiled for matching.
///
/// Parse it once (at cold start, or when a rule is loaded) and call [`matches`](Self::matches)
/// for every event; matching never re-reads the pattern JSON.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern with every `$or` multiplied out: it matches when any alternative does.
    alternatives: Vec<tree::Node>,
}

impl Pattern {
    /// Validates a pattern given as JSON and compiles it.
    ///
    /// # Errors
    /// [`PatternError`] naming the path of the first problem found, for anything EventBridge
    /// would refuse (and the few stricter cases listed in the crate documentation).
    pub fn parse(pattern: &Value) -> Result<Self, PatternError> {
        Ok(Self {
            alternatives: parse::alternatives(pattern)?,
        })
    }

    /// Validates a pattern given as JSON text and compiles it.
    ///
    /// # Errors
    /// [`ErrorKind::NotJson`] when the text is not JSON, otherwise as [`Pattern::parse`].
    pub fn parse_str(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PatternError::new("", ErrorKind::NotJson(e)))?;
        Self::parse(&value)
    }

    /// Whether the event (as EventBridge delivers it: `source`, `detail-type`, `detail`, …)
    /// matches the pattern.
    pub fn matches(&self, event: &Value) -> bool {
        matches!(event, Value::Object(_)) && self.alternatives.iter().any(|node| node.matches(Some(event)))
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_str(text)
    }
}

/// Deserializes from the pattern's JSON (an object, as in a rule's `EventPattern`), validating it.
impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::parse(&value).map_err(serde::de::Error::custom)
    }
}
