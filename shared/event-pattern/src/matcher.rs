//! The typed matchers a leaf's array of allowed values turns into, and how each one tests a single
//! scalar value from the event (a string, number, boolean or null; arrays are unrolled by the caller).

use std::net::IpAddr;

use serde_json::{Number, Value};

/// The largest magnitude EventBridge accepts in `numeric` and `anything-but` numbers, and the
/// range of event values `numeric` can match.
pub(crate) const NUMERIC_LIMIT: f64 = 5.0e9;

/// One allowed value of a leaf: the leaf matches when any of its matchers does.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// `"x"`, `3`, `true`, `null`.
    Exact(Exact),
    /// `{"prefix": "x"}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": "x"}}`; holds the lowercased prefix.
    PrefixIgnoreCase(String),
    /// `{"suffix": "x"}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": "x"}}`; holds the lowercased suffix.
    SuffixIgnoreCase(String),
    /// `{"equals-ignore-case": "x"}`; holds the lowercased value.
    EqualsIgnoreCase(String),
    /// `{"wildcard": "a*b"}`.
    Wildcard(Wildcard),
    /// `{"anything-but": ...}`.
    AnythingBut(AnythingBut),
    /// `{"numeric": [">", 0, "<=", 5]}`.
    Numeric(NumericRange),
    /// `{"exists": true}`: handled by the leaf, because it looks at presence, not at a value.
    Exists(bool),
    /// `{"cidr": "10.0.0.0/24"}`.
    Cidr(Cidr),
}

/// An exact value: strings compare byte for byte, numbers by value (300 equals 300.0).
#[derive(Debug, Clone)]
pub(crate) enum Exact {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
}

/// What anything-but excludes. Lists hold lowercased strings for `IgnoreCase`.
#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    Prefix(String),
    Suffix(String),
    IgnoreCase(Vec<String>),
    Wildcard(Vec<Wildcard>),
}

/// A numeric interval; `=` is the closed interval of one point. Bounds are `(value, inclusive)`.
#[derive(Debug, Clone)]
pub(crate) struct NumericRange {
    pub(crate) lower: Option<(f64, bool)>,
    pub(crate) upper: Option<(f64, bool)>,
}

/// A wildcard split at its unescaped `*`s into literal pieces (escapes already resolved):
/// `a*b\*c*` is `["a", "b*c", ""]`. One piece means no `*` at all: exact equality.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    pieces: Vec<String>,
}

/// An IPv4 or IPv6 block as a network address and a mask over the address bits.
#[derive(Debug, Clone)]
pub(crate) struct Cidr {
    v6: bool,
    network: u128,
    mask: u128,
}

impl Matcher {
    /// Whether one scalar event value satisfies this matcher. `Exists` never gets here.
    pub(crate) fn matches_scalar(&self, value: &Value) -> bool {
        match self {
            Matcher::Exact(exact) => exact.matches(value),
            Matcher::Prefix(prefix) => as_str(value).is_some_and(|s| s.starts_with(prefix.as_str())),
            Matcher::PrefixIgnoreCase(prefix) => as_str(value).is_some_and(|s| starts_with_ignore_case(s, prefix)),
            Matcher::Suffix(suffix) => as_str(value).is_some_and(|s| s.ends_with(suffix.as_str())),
            Matcher::SuffixIgnoreCase(suffix) => as_str(value).is_some_and(|s| ends_with_ignore_case(s, suffix)),
            Matcher::EqualsIgnoreCase(lower) => as_str(value).is_some_and(|s| equals_ignore_case(s, lower)),
            Matcher::Wildcard(wildcard) => as_str(value).is_some_and(|s| wildcard.matches(s)),
            Matcher::AnythingBut(excluded) => !excluded.excludes(value),
            Matcher::Numeric(range) => numeric_value(value).is_some_and(|n| range.contains(n)),
            Matcher::Exists(_) => false,
            Matcher::Cidr(cidr) => as_str(value).is_some_and(|s| cidr.contains(s)),
        }
    }
}

impl Exact {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Exact::String(want), Value::String(got)) => want == got,
            (Exact::Number(want), Value::Number(got)) => numbers_equal(want, got),
            (Exact::Bool(want), Value::Bool(got)) => want == got,
            (Exact::Null, Value::Null) => true,
            _ => false,
        }
    }
}

impl AnythingBut {
    /// Whether the value is one of the excluded ones. Values of another type are never excluded:
    /// `{"anything-but": "x"}` matches `5`, `{"anything-but": {"prefix": "x"}}` matches `null`.
    fn excludes(&self, value: &Value) -> bool {
        match self {
            AnythingBut::Strings(list) => as_str(value).is_some_and(|s| list.iter().any(|x| x == s)),
            AnythingBut::Numbers(list) => value.as_f64().is_some_and(|n| list.contains(&n)),
            AnythingBut::Prefix(prefix) => as_str(value).is_some_and(|s| s.starts_with(prefix.as_str())),
            AnythingBut::Suffix(suffix) => as_str(value).is_some_and(|s| s.ends_with(suffix.as_str())),
            AnythingBut::IgnoreCase(list) => {
                as_str(value).is_some_and(|s| list.iter().any(|x| equals_ignore_case(s, x)))
            }
            AnythingBut::Wildcard(list) => as_str(value).is_some_and(|s| list.iter().any(|w| w.matches(s))),
        }
    }
}

impl NumericRange {
    fn contains(&self, n: f64) -> bool {
        let above = match self.lower {
            Some((bound, true)) => n >= bound,
            Some((bound, false)) => n > bound,
            None => true,
        };
        let below = match self.upper {
            Some((bound, true)) => n <= bound,
            Some((bound, false)) => n < bound,
            None => true,
        };
        above && below
    }
}

impl Wildcard {
    /// Parses a wildcard operand: `*` matches any run of characters, `\*` is a literal star and
    /// `\\` a literal backslash. Refuses consecutive `*` and any other escape, as EventBridge does.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut pieces = vec![String::new()];
        let mut previous_was_star = false;
        let mut chars = text.chars().enumerate();
        while let Some((index, c)) = chars.next() {
            match c {
                '*' if previous_was_star => {
                    return Err(format!("consecutive `*` at character {}", index + 1));
                }
                '*' => {
                    pieces.push(String::new());
                    previous_was_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => push_char(&mut pieces, escaped),
                    _ => {
                        return Err(format!(
                            "`\\` at character {} must be followed by `*` or `\\`",
                            index + 1
                        ));
                    }
                },
                other => push_char(&mut pieces, other),
            }
            previous_was_star = false;
        }
        Ok(Self { pieces })
    }

    pub(crate) fn matches(&self, text: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return text == first;
        };
        if text.len() < first.len() + last.len() || !text.starts_with(first.as_str()) || !text.ends_with(last.as_str())
        {
            return false;
        }
        // Between the fixed ends, the middle pieces must appear in order; taking the leftmost
        // occurrence of each leaves the most room for the next, so greedy search is exact.
        let mut window = &text[first.len()..text.len() - last.len()];
        for piece in middle {
            match window.find(piece.as_str()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

fn push_char(pieces: &mut [String], c: char) {
    if let Some(last) = pieces.last_mut() {
        last.push(c);
    }
}

impl Cidr {
    /// Parses `address/prefix-length`. Like EventBridge's engine it wants exactly one `/`, a
    /// decimal length below 32 (IPv4) or 128 (IPv6); unlike it, it also refuses host bits set
    /// after the prefix (`10.0.0.1/24`), which is almost always a typo.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let Some((address, length)) = text.split_once('/') else {
            return Err("one `/` is required".to_owned());
        };
        if length.contains('/') {
            return Err("one `/` is required".to_owned());
        }
        if length.is_empty() || !length.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the prefix length must be a decimal integer".to_owned());
        }
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IP address"))?;
        let (v6, bits, width) = match address {
            IpAddr::V4(v4) => (false, u128::from(u32::from(v4)), 32u32),
            IpAddr::V6(v6) => (true, u128::from(v6), 128u32),
        };
        let length: u32 = match length.parse() {
            Ok(n) if n < width => n,
            _ => return Err(format!("the prefix length must be below {width}")),
        };
        let all = if v6 { u128::MAX } else { u128::from(u32::MAX) };
        let host = all >> length;
        if bits & host != 0 {
            return Err("host bits are set after the prefix length".to_owned());
        }
        Ok(Self {
            v6,
            network: bits,
            mask: all & !host,
        })
    }

    fn contains(&self, text: &str) -> bool {
        match (text.parse::<IpAddr>(), self.v6) {
            (Ok(IpAddr::V4(v4)), false) => u128::from(u32::from(v4)) & self.mask == self.network,
            (Ok(IpAddr::V6(v6)), true) => u128::from(v6) & self.mask == self.network,
            _ => false,
        }
    }
}

fn as_str(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// A number `numeric` can compare: a JSON number (never a string or boolean) within ±5e9.
fn numeric_value(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64().filter(|f| f.abs() <= NUMERIC_LIMIT),
        _ => None,
    }
}

/// Numeric equality: exact for two integers, as binary64 otherwise (so 300 equals 300.0).
fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    a.as_f64() == b.as_f64()
}

/// Case-insensitive comparisons lowercase character by character (full Unicode lowercase
/// mappings); the pattern side is lowercased once at parse time.
fn lowercase(s: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn equals_ignore_case(value: &str, lower: &str) -> bool {
    lowercase(value).eq(lower.chars())
}

fn starts_with_ignore_case(value: &str, lower_prefix: &str) -> bool {
    let mut value = lowercase(value);
    lower_prefix.chars().all(|p| value.next() == Some(p))
}

fn ends_with_ignore_case(value: &str, lower_suffix: &str) -> bool {
    let mut value = lowercase(value).rev();
    lower_suffix.chars().rev().all(|p| value.next() == Some(p))
}

/// Lowercases a pattern string the same way event values are lowercased when compared.
pub(crate) fn to_lower(s: &str) -> String {
    lowercase(s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_pieces_match_in_order() -> Result<(), String> {
        let w = Wildcard::parse("a*b*c")?;
        assert!(w.matches("abc"));
        assert!(w.matches("aXbYc"));
        assert!(!w.matches("acb"));
        let overlapping = Wildcard::parse("ab*ba")?;
        assert!(!overlapping.matches("aba"), "the fixed ends must not overlap");
        assert!(overlapping.matches("abba"));
        assert!(Wildcard::parse("*")?.matches(""));
        assert!(Wildcard::parse(r"a\*")?.matches("a*"));
        assert!(!Wildcard::parse(r"a\*")?.matches("ab"));
        assert!(Wildcard::parse(r"a\\b")?.matches(r"a\b"));
        Ok(())
    }

    #[test]
    fn cidr_masks_ipv4_and_ipv6() -> Result<(), String> {
        let v4 = Cidr::parse("10.0.0.0/24")?;
        assert!(v4.contains("10.0.0.255"));
        assert!(!v4.contains("10.0.1.0"));
        assert!(!v4.contains("::ffff:10.0.0.1"));
        let v6 = Cidr::parse("2001:db8::/32")?;
        assert!(v6.contains("2001:db8:ffff::1"));
        assert!(!v6.contains("2001:db9::1"));
        assert!(Cidr::parse("0.0.0.0/0")?.contains("255.255.255.255"));
        Ok(())
    }

    #[test]
    fn ignore_case_handles_multi_char_lowercase() {
        assert!(equals_ignore_case("İ", &to_lower("i̇")));
        assert!(starts_with_ignore_case("EVENTBRIDGE", "eventb"));
        assert!(ends_with_ignore_case("photo.PNG", ".png"));
        assert!(!ends_with_ignore_case("png", ".png"));
    }
}
