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
//! - [`Pattern`] (this file): the public face, `parse`/`parse_str`/`matches`/`matches_str`/`lints`.
//! - `error`: [`PatternError`] (the path in the pattern) and [`ErrorKind`] (what is wrong there).
//! - `lint`: [`Lint`] and [`LintKind`], what EventBridge accepts but is probably a mistake.
//! - `json`: JSON read with number texts and field order kept, and what matching needs from an
//!   event (`serde_json::Value` or that JSON).
//! - `number`: numbers as the engine reads them, from their text.
//! - `parse`: validation and the expansion of `$or` into `$or`-free sub-rules.
//! - `lazy`: a pattern whose `$or`s multiply out to more than 1000 sub-rules, matched as written.
//! - `tree`: one sub-rule, and how it judges an event (array consistency, absence); the sub-rules
//!   of a pattern together.
//! - `matcher`: the typed matchers and how each tests one scalar value.
//!
//! The specification is the AWS EventBridge user guide ("Event patterns", "Content filtering in
//! Amazon EventBridge event patterns", "Arrays in event patterns") and, wherever the guide is
//! silent, the behaviour of `aws/event-ruler` 2.0.1, the open-source matching engine behind
//! EventBridge: dotted field names are paths, case is folded per UTF-16 unit, numbers are read
//! from their text, addresses as `java.net.InetAddress` reads them, `exists: false` next to an
//! array of objects depends on the order of field paths, `anything-but` takes lists of prefixes
//! and suffixes, a field written twice keeps its last write. Each module names the engine source
//! it follows; `tests/engine.rs` holds the engine's answers, class by class. What EventBridge
//! accepts but is probably a mistake (a CIDR block with host bits set, a wildcard without `*`) is
//! a [`Lint`], never a refusal.
//!
//! # Choices
//! Where this crate departs from the engine, because the user guide documents otherwise:
//!
//! - **`numeric`** operands must lie within ±5e9 and have at most six decimal places, and only
//!   event numbers within ±5e9 are compared. The guide, content filtering: "Numeric matching works
//!   with values that are JSON numbers. It is limited to values between -5.0e9 and +5.0e9
//!   inclusive, with 15 digits of precision, or six digits to the right of the decimal point."
//!   (The engine 2.0.1 compares every double.)
//!
//! # Limits
//! Not EventBridge rules, but bounds and known gaps of this crate:
//!
//! - A pattern whose `$or`s multiply out to more than 1000 sub-rules is kept as written rather
//!   than multiplied out, and never refused for it: EventBridge bounds a pattern by its size in
//!   characters only, and the engine multiplies out without a bound. Its answers are the same.
//!   Matching it takes time linear in the pattern unless the event holds the values of its fields
//!   in arrays of objects, or a field path is written twice with different answers; then the
//!   sub-rules that field-by-field judgement cannot rule out are judged one at a time, which in
//!   the worst case grows with the product of the `$or`s involved (see `lazy`). Whether one of its
//!   sub-rules holds more than 256 fields (which the engine refuses, as this crate does) is
//!   decided exactly unless a path is written twice on one way through and the first 100,000
//!   sub-rules hold no such one; then the pattern is accepted.
//! - [`Pattern::parse`] and [`Pattern::matches`] take a `serde_json::Value`, which has already
//!   turned numbers into doubles and (without serde_json's `preserve_order`) sorted fields; use
//!   [`Pattern::parse_str`] and [`Pattern::matches_str`] for answers read from the text.
//! - Engine defects are not reproduced: in event-ruler 2.0.1 an exact string stops matching when a
//!   `numeric` range and a later string matcher share its array
//!   (`["RUNNING", {"numeric": ["<", 5]}, {"prefix": "x"}]` misses `"RUNNING"`), and a wildcard
//!   starting with `*` next to `equals-ignore-case` makes the latter match longer strings
//!   (`[{"wildcard": "*x"}, {"equals-ignore-case": "b"}]` matches `"bz"`).
//! - The engine shares one value matcher between `$or` sub-rules that begin alike, so a numeric
//!   matcher in one can change how a number is compared to a `cidr` in another; each sub-rule is
//!   judged on its own here.
//! - An event that is not a JSON object matches nothing (EventBridge accepts no other event).

mod error;
mod json;
mod lazy;
mod lint;
mod matcher;
mod number;
mod parse;
mod tree;

use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub use error::{ErrorKind, PatternError};
pub use lint::{Lint, LintKind};

use json::Json;

/// A validated EventBridge event pattern, compiled for matching.
///
/// Parse it once (at cold start, or when a rule is loaded) and call [`matches`](Self::matches)
/// for every event; matching never re-reads the pattern JSON.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The pattern compiled for matching: with every `$or` multiplied out (it matches when any
    /// sub-rule does), or, beyond [`parse::MAX_EXPANDED`] sub-rules, with them as written.
    rule: tree::Rule,
    /// What `herald catalog check` warns about.
    lints: Vec<Lint>,
}

impl Pattern {
    /// Validates a pattern given as a `serde_json::Value` and compiles it.
    ///
    /// A `Value` has lost what the text said: its numbers are already doubles or integers (a
    /// number such as `1e400` cannot be one at all) and, without serde_json's `preserve_order`,
    /// its fields are sorted, which decides which of two writes of one field path wins. Prefer
    /// [`Pattern::parse_str`] when the pattern is text.
    ///
    /// # Errors
    /// [`PatternError`] naming the path of the first problem found, for anything EventBridge
    /// would refuse.
    pub fn parse(pattern: &Value) -> Result<Self, PatternError> {
        Self::compile(&Json::from_value(pattern))
    }

    /// Validates a pattern given as JSON text and compiles it, reading every number from its text.
    ///
    /// # Errors
    /// [`ErrorKind::NotJson`] when the text is not JSON, otherwise as [`Pattern::parse`].
    pub fn parse_str(text: &str) -> Result<Self, PatternError> {
        let json = Json::from_text(text).map_err(|e| PatternError::new("", ErrorKind::NotJson(e)))?;
        Self::compile(&json)
    }

    fn compile(json: &Json) -> Result<Self, PatternError> {
        let parsed = parse::parse(json)?;
        let rule = match parsed.form {
            parse::Form::Expanded(alternatives) => tree::Rule::new(alternatives),
            parse::Form::Unexpanded(lazy) => tree::Rule::unexpanded(lazy),
        };
        Ok(Self {
            rule,
            lints: parsed.lints,
        })
    }

    /// Whether the event (as EventBridge delivers it: `source`, `detail-type`, `detail`, …)
    /// matches the pattern.
    ///
    /// The event's numbers are what the `Value` holds: a double is compared as that double, an
    /// integer as itself. [`Pattern::matches_str`] reads them from the event's text instead.
    pub fn matches(&self, event: &Value) -> bool {
        matches!(event, Value::Object(_)) && self.rule.matches(event)
    }

    /// Whether the event, given as JSON text, matches the pattern; every number is read from its
    /// text, as EventBridge reads it (so `1.00000000000000000001` is not a number `numeric` can
    /// compare, and `1e400` equals only `1e400`).
    ///
    /// # Errors
    /// [`ErrorKind::NotJson`] (at the root) when the event text is not JSON.
    pub fn matches_str(&self, event: &str) -> Result<bool, PatternError> {
        let event = Json::from_text(event).map_err(|e| PatternError::new("", ErrorKind::NotJson(e)))?;
        Ok(matches!(event, Json::Object(_)) && self.rule.matches(&event))
    }

    /// What EventBridge accepts in this pattern but is probably a mistake (a CIDR block with host
    /// bits set, a wildcard without `*`, …): warnings, never reasons to refuse the pattern.
    pub fn lints(&self) -> &[Lint] {
        &self.lints
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
