//! Why a pattern was refused: [`PatternError`] names where in the pattern (a dotted path such as
//! `detail.$or[1].price`) and [`ErrorKind`] says what is wrong there.

use crate::json::Json;

/// A pattern EventBridge would refuse, with the place in the pattern and the reason.
///
/// Displays as `path: reason`, for example
/// `detail.metadata.schema_version: a leaf must be an array, found 1`. Problems with the pattern
/// as a whole (not JSON, not an object) are reported at the path `(root)`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", shown_path(.path))]
pub struct PatternError {
    /// Dotted path of the offending field; `$or` alternatives appear as `$or[i]`. Empty for the root.
    path: String,
    kind: ErrorKind,
}

fn shown_path(path: &str) -> &str {
    if path.is_empty() { "(root)" } else { path }
}

impl PatternError {
    pub(crate) fn new(path: impl Into<String>, kind: ErrorKind) -> Self {
        Self {
            path: path.into(),
            kind,
        }
    }

    /// The dotted path in the pattern where the problem is (`""` for the pattern as a whole).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong at [`path`](Self::path).
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

/// What is wrong with a pattern. Values quoted in messages are shown as compact JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text given to [`Pattern::parse_str`](crate::Pattern::parse_str) is not JSON.
    #[error("not valid JSON: {0}")]
    NotJson(serde_json::Error),
    /// The pattern is not a JSON object.
    #[error("a pattern must be a JSON object, found {0}")]
    NotAnObject(String),
    /// An object (the pattern, a nested field or an `$or` alternative) has no fields.
    #[error("an object in a pattern must have at least one field")]
    EmptyObject,
    /// A field holds a string, number, boolean or null instead of an array of allowed values.
    #[error("a leaf must be an array, found {0}")]
    LeafNotArray(String),
    /// A matcher was written as a field (`"state": {"prefix": "x"}`) instead of inside an array.
    #[error("`{0}` is a matcher and must be inside the array of allowed values: [{{\"{0}\": ...}}]")]
    MatcherOutsideArray(String),
    /// An array of allowed values (or of anything-but values) is empty.
    #[error("an array of allowed values must not be empty")]
    EmptyArray,
    /// An allowed value is neither a scalar nor a matcher object (a nested array, say).
    #[error("an allowed value must be a string, number, boolean, null or matcher object, found {0}")]
    BadValue(String),
    /// A matcher object has zero or several keys.
    #[error("a matcher object must have exactly one key, found {0}")]
    MatcherKeyCount(usize),
    /// A matcher name EventBridge does not know (`prefx`).
    #[error("unknown matcher `{0}`")]
    UnknownMatcher(String),
    /// A matcher's operand has the wrong shape (`{"prefix": 1}`, `{"exists": "yes"}`).
    #[error("`{matcher}` needs {expected}, found {found}")]
    BadOperand {
        /// The matcher, such as `prefix` or `anything-but/wildcard`.
        matcher: &'static str,
        /// What the matcher takes.
        expected: &'static str,
        /// What the pattern holds instead.
        found: String,
    },
    /// A `numeric` array is not a sequence of operator/number pairs.
    #[error("numeric needs operator/number pairs, found {0}")]
    NumericPairs(String),
    /// A `numeric` operator other than `<`, `<=`, `=`, `>=`, `>`.
    #[error("unknown numeric operator {0}")]
    NumericOperator(String),
    /// Two comparisons that are not a lower bound followed by an upper bound, or more than two.
    #[error("numeric takes one comparison, or a lower bound (`>`, `>=`) followed by an upper bound (`<`, `<=`)")]
    NumericShape,
    /// A numeric range whose lower bound is not below its upper bound.
    #[error("numeric lower bound {lower} must be below the upper bound {upper}")]
    NumericBounds {
        /// The lower bound as written.
        lower: String,
        /// The upper bound as written.
        upper: String,
    },
    /// A `numeric` operand outside -5e9..=5e9.
    #[error("{0} is outside -5e9..=5e9, the range numeric supports")]
    NumberOutOfRange(String),
    /// A `numeric` operand with more than six decimal places.
    #[error("{0} has more than 6 decimal places, the precision numeric supports")]
    TooPrecise(String),
    /// A number in `numeric` or `anything-but` that no binary64 double holds exactly in decimal
    /// (`0.1000000000000000001`, `1e400`), which the engine cannot compare.
    #[error("{0} cannot be compared as a number: no double has exactly this decimal value")]
    NotComparable(String),
    /// A `cidr` operand that is not a valid IPv4 or IPv6 block.
    #[error("invalid CIDR {cidr}: {reason}")]
    InvalidCidr {
        /// The operand, as JSON.
        cidr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `wildcard` operand with consecutive `*` or a bad `\` escape.
    #[error("invalid wildcard {wildcard}: {reason}")]
    InvalidWildcard {
        /// The operand, as JSON.
        wildcard: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `{"anything-but": {"anything-but": ...}}`.
    #[error("anything-but cannot contain another anything-but")]
    NestedAnythingBut,
    /// `anything-but` applied to a matcher other than prefix, suffix, equals-ignore-case, wildcard.
    #[error("anything-but applies only to prefix, suffix, equals-ignore-case and wildcard, found `{0}`")]
    AnythingButMatcher(String),
    /// An anything-but list mixing strings and numbers, or holding null, booleans or objects.
    #[error("an anything-but list must hold only strings or only numbers, found {0}")]
    AnythingButList(String),
    /// An empty string in anything-but prefix or suffix, which would exclude every string.
    #[error("anything-but {0} must not be empty")]
    EmptyAffix(&'static str),
    /// `$or` does not hold an array.
    #[error("$or needs an array of alternative objects, found {0}")]
    OrNotArray(String),
    /// `$or` with fewer than two alternatives.
    #[error("$or needs at least two alternatives, found {0}")]
    OrTooFew(usize),
    /// An `$or` alternative that is not an object.
    #[error("an $or alternative must be an object, found {0}")]
    OrAlternative(String),
    /// A field inside an `$or` alternative named like a matcher, which EventBridge reserves there.
    #[error("`{0}` is a matcher name and cannot be a field inside $or")]
    ReservedFieldInOr(String),
    /// One `$or` combination holds more fields than the engine accepts in a rule.
    #[error("a combination of the pattern holds {0} fields, more than the {1} a rule may have")]
    TooManyFields(usize, usize),
}

/// A value from the pattern as compact JSON for a message (numbers as written), cut short when
/// long.
pub(crate) fn shown(value: &Json) -> String {
    const MAX_CHARS: usize = 60;
    let text = value.shown();
    if text.chars().count() <= MAX_CHARS {
        text
    } else {
        let mut cut: String = text.chars().take(MAX_CHARS).collect();
        cut.push('…');
        cut
    }
}
