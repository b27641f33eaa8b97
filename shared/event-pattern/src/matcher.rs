//! The typed matchers a leaf's array of allowed values turns into, and how each one tests a single
//! scalar value from the event (a string, number, boolean or null; arrays are unrolled by the caller).
//!
//! Each answers as aws/event-ruler 2.0.1 does: `ByteMachine.transitionOn` (numbers compared by
//! value only when comparable, see [`crate::number`]), `EqualsIgnoreCaseParser` (case folding),
//! `CIDR` (addresses and blocks), `WildcardParser` (wildcards).

use std::net::Ipv6Addr;

use crate::json::Scalar;
use crate::number::{EventNumber, Number};

/// The largest magnitude the EventBridge user guide documents for `numeric` operands and values.
pub(crate) const NUMERIC_LIMIT: f64 = 5.0e9;

/// One allowed value of a leaf: the leaf matches when any of its matchers does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    /// `"x"`, `3`, `true`, `null`.
    Exact(Exact),
    /// `"10.0.0.1"`: an exact string that is an IP address matches that address in any spelling
    /// the engine reads (`JsonRuleCompiler.writeRules` turns it into `CIDR.ipToRangeIfPossible`).
    Address(Box<IpRange>),
    /// `{"prefix": "x"}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": "x"}}`.
    PrefixIgnoreCase(Box<Folded>),
    /// `{"suffix": "x"}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": "x"}}`.
    SuffixIgnoreCase(Box<Folded>),
    /// `{"equals-ignore-case": "x"}`.
    EqualsIgnoreCase(Box<Folded>),
    /// `{"wildcard": "a*b"}`.
    Wildcard(Wildcard),
    /// `{"anything-but": ...}`.
    AnythingBut(AnythingBut),
    /// `{"numeric": [">", 0, "<=", 5]}`.
    Numeric(NumericRange),
    /// `{"exists": true}`: any value; `{"exists": false}` is judged by the leaf, on presence.
    Exists(bool),
    /// `{"cidr": "10.0.0.0/24"}`.
    Cidr(Box<IpRange>),
}

/// An exact value: strings compare byte for byte, numbers as [`Number::equals`] says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Exact {
    String(String),
    Number(Number),
    Bool(bool),
    Null,
}

/// What anything-but excludes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    Strings(Vec<String>),
    /// The values of comparable numbers.
    Numbers(Vec<f64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    IgnoreCase(Vec<Folded>),
    Wildcards(Vec<Wildcard>),
}

/// A numeric interval; `=` is the closed interval of one point. Bounds are `(value, inclusive)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NumericRange {
    pub(crate) lower: Option<(f64, bool)>,
    pub(crate) upper: Option<(f64, bool)>,
}

/// A wildcard split at its unescaped `*`s into literal pieces (escapes already resolved):
/// `a*b\*c*` is `["a", "b*c", ""]`. One piece means no `*` at all: exact equality.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Wildcard {
    pieces: Vec<String>,
}

/// A case-insensitive string as the engine compiles it (`EqualsIgnoreCaseParser`): for each UTF-16
/// unit of the pattern, the event must hold the UTF-8 bytes of that unit's lowercase or of its
/// uppercase (Java's `toLowerCase`/`toUpperCase` of the one-unit string, with full mappings: `ß`
/// accepts `ß` or `SS`). The event value is not folded, so `"STRASSE"` matches `"straße"` but
/// `"strasse"` does not. Half of a surrogate pair encodes as `?`, so a character outside the
/// Basic Multilingual Plane matches only `??`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Folded {
    /// Per unit: the accepted byte strings (one when lowercase and uppercase agree).
    units: Vec<Vec<Box<[u8]>>>,
    /// When every unit accepts only single bytes (so positions never branch): per unit, the two
    /// bytes accepted (the same one twice when case does not apply).
    single_bytes: Option<Vec<[u8; 2]>>,
}

/// A range of IP addresses as the engine compares them: uppercase hexadecimal digit strings (8 for
/// IPv4, 32 for IPv6), bounds of equal length, walked digit by digit (`CIDR`, `Range`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IpRange {
    bottom: Digits,
    top: Digits,
    open_bottom: bool,
    open_top: bool,
    /// Whether a number's JSON text is walked through the range as if it were digits: the engine
    /// does so whenever it matches a number as text (`ByteMachine.transitionOn`), that is when the
    /// field has no numeric matcher or the number is not comparable. So `0.0.0.0/0` matches `5.5`.
    numbers_as_text: bool,
}

/// The hexadecimal digits of an address: 8 or 32 of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digits {
    bytes: [u8; 32],
    len: usize,
}

impl Matcher {
    /// Whether one scalar event value satisfies this matcher. `exists: false` never does: it is
    /// about the absence of values, which the leaf judges.
    pub(crate) fn matches_scalar(&self, value: &Scalar<'_>) -> bool {
        let string = match value {
            Scalar::String(s) => Some(*s),
            _ => None,
        };
        match self {
            Matcher::Exact(exact) => exact.matches(value),
            Matcher::Address(range) | Matcher::Cidr(range) => match value {
                Scalar::String(s) => Digits::of_address(s).is_some_and(|d| range.contains(d.as_slice())),
                Scalar::Number(n) if range.numbers_as_text => range.contains_number(n),
                _ => false,
            },
            Matcher::Prefix(prefix) => string.is_some_and(|s| s.starts_with(prefix.as_str())),
            Matcher::PrefixIgnoreCase(folded) => string.is_some_and(|s| folded.is_prefix_of(s)),
            Matcher::Suffix(suffix) => string.is_some_and(|s| s.ends_with(suffix.as_str())),
            Matcher::SuffixIgnoreCase(folded) => string.is_some_and(|s| folded.is_suffix_of(s)),
            Matcher::EqualsIgnoreCase(folded) => string.is_some_and(|s| folded.equals(s)),
            Matcher::Wildcard(wildcard) => string.is_some_and(|s| wildcard.matches(s)),
            Matcher::AnythingBut(excluded) => !excluded.excludes(value),
            Matcher::Numeric(range) => numeric_value(value).is_some_and(|n| range.contains(n)),
            Matcher::Exists(wanted) => *wanted,
        }
    }
}

impl Exact {
    fn matches(&self, value: &Scalar<'_>) -> bool {
        match (self, value) {
            (Exact::String(want), Scalar::String(got)) => want == got,
            (Exact::Number(want), Scalar::Number(got)) => want.equals(got),
            (Exact::Bool(want), Scalar::Bool(got)) => want == got,
            (Exact::Null, Scalar::Null) => true,
            _ => false,
        }
    }
}

impl AnythingBut {
    /// Whether the value is one of the excluded ones. Values of another type are never excluded
    /// (`{"anything-but": "x"}` matches `5`), and neither are numbers that are not comparable.
    fn excludes(&self, value: &Scalar<'_>) -> bool {
        let string = match value {
            Scalar::String(s) => Some(*s),
            _ => None,
        };
        match self {
            AnythingBut::Strings(list) => string.is_some_and(|s| list.iter().any(|x| x == s)),
            AnythingBut::Numbers(list) => match value {
                Scalar::Number(n) => n.value().is_some_and(|n| list.contains(&n)),
                _ => false,
            },
            AnythingBut::Prefixes(list) => string.is_some_and(|s| list.iter().any(|p| s.starts_with(p.as_str()))),
            AnythingBut::Suffixes(list) => string.is_some_and(|s| list.iter().any(|x| s.ends_with(x.as_str()))),
            AnythingBut::IgnoreCase(list) => string.is_some_and(|s| list.iter().any(|x| x.equals(s))),
            AnythingBut::Wildcards(list) => string.is_some_and(|s| list.iter().any(|w| w.matches(s))),
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

/// A number `numeric` can compare: a comparable JSON number (never a string or boolean) within
/// the documented ±5e9.
fn numeric_value(value: &Scalar<'_>) -> Option<f64> {
    match value {
        Scalar::Number(n) => n.value().filter(|f| f.abs() <= NUMERIC_LIMIT),
        _ => None,
    }
}

impl Folded {
    pub(crate) fn new(text: &str) -> Self {
        let mut units: Vec<Vec<Box<[u8]>>> = Vec::with_capacity(text.len());
        for c in text.chars() {
            if c.len_utf16() == 2 {
                // Each half of the surrogate pair becomes `?` when encoded alone.
                units.push(vec![Box::from(&b"?"[..])]);
                units.push(vec![Box::from(&b"?"[..])]);
                continue;
            }
            let lower: String = c.to_lowercase().collect();
            let upper: String = c.to_uppercase().collect();
            let mut accepted: Vec<Box<[u8]>> = vec![Box::from(lower.as_bytes())];
            if upper != lower {
                accepted.push(Box::from(upper.as_bytes()));
            }
            units.push(accepted);
        }
        let single_bytes = units
            .iter()
            .map(|accepted| match accepted.as_slice() {
                [one] if one.len() == 1 => Some([one[0], one[0]]),
                [lower, upper] if lower.len() == 1 && upper.len() == 1 => Some([lower[0], upper[0]]),
                _ => None,
            })
            .collect();
        Self { units, single_bytes }
    }

    /// Whether the pattern holds a character outside the Basic Multilingual Plane (which then
    /// matches only `??`).
    pub(crate) fn has_astral(text: &str) -> bool {
        text.chars().any(|c| c.len_utf16() == 2)
    }

    pub(crate) fn equals(&self, value: &str) -> bool {
        let bytes = value.as_bytes();
        if let Some(table) = &self.single_bytes {
            return bytes.len() == table.len() && single_bytes_match(table, bytes);
        }
        self.ends_from_start(bytes).contains(&bytes.len())
    }

    fn is_prefix_of(&self, value: &str) -> bool {
        let bytes = value.as_bytes();
        if let Some(table) = &self.single_bytes {
            return bytes.len() >= table.len() && single_bytes_match(table, &bytes[..table.len()]);
        }
        !self.ends_from_start(bytes).is_empty()
    }

    fn is_suffix_of(&self, value: &str) -> bool {
        let bytes = value.as_bytes();
        if let Some(table) = &self.single_bytes {
            return bytes.len() >= table.len() && single_bytes_match(table, &bytes[bytes.len() - table.len()..]);
        }
        let mut positions = vec![bytes.len()];
        for accepted in self.units.iter().rev() {
            let mut next = Vec::new();
            for &end in &positions {
                for option in accepted {
                    if end >= option.len() && bytes[end - option.len()..end] == **option {
                        push_unique(&mut next, end - option.len());
                    }
                }
            }
            if next.is_empty() {
                return false;
            }
            positions = next;
        }
        true
    }

    /// Every byte offset at which the whole pattern can end when it starts at offset 0.
    fn ends_from_start(&self, bytes: &[u8]) -> Vec<usize> {
        let mut positions = vec![0];
        for accepted in &self.units {
            let mut next = Vec::new();
            for &start in &positions {
                for option in accepted {
                    if bytes[start..].starts_with(option) {
                        push_unique(&mut next, start + option.len());
                    }
                }
            }
            if next.is_empty() {
                return next;
            }
            positions = next;
        }
        positions
    }
}

fn single_bytes_match(table: &[[u8; 2]], bytes: &[u8]) -> bool {
    table
        .iter()
        .zip(bytes)
        .all(|([lower, upper], b)| b == lower || b == upper)
}

fn push_unique(positions: &mut Vec<usize>, position: usize) {
    if !positions.contains(&position) {
        positions.push(position);
    }
}

impl Digits {
    /// The digits of an IP address literal as the engine reads one (`CIDR.ipToBytes`): four
    /// dot-separated decimal parts (leading zeros allowed, at most 15 characters in all, each at
    /// most 255), or only hexadecimal digits and colons in IPv6 notation. An IPv4-mapped IPv6
    /// address (`::ffff:a00:1`) is the IPv4 address; `::ffff:10.0.0.1` and other dotted IPv6
    /// forms are not addresses at all.
    pub(crate) fn of_address(text: &str) -> Option<Self> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Self::of_ipv4(text);
        }
        let ipv6_shaped = text.contains(':') && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
        if !ipv6_shaped {
            return None;
        }
        let octets = text.parse::<Ipv6Addr>().ok()?.octets();
        match octets {
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d] => Some(Self::of_bytes(&[a, b, c, d])),
            _ => Some(Self::of_bytes(&octets)),
        }
    }

    fn of_ipv4(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 4 || text.len() > 15 || parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        let mut octets = [0u8; 4];
        for (octet, part) in octets.iter_mut().zip(&parts) {
            *octet = part.parse::<u64>().ok().and_then(|n| u8::try_from(n).ok())?;
        }
        Some(Self::of_bytes(&octets))
    }

    fn of_bytes(octets: &[u8]) -> Self {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut bytes = [0u8; 32];
        for (i, octet) in octets.iter().enumerate() {
            bytes[2 * i] = HEX[usize::from(octet >> 4)];
            bytes[2 * i + 1] = HEX[usize::from(octet & 0x0f)];
        }
        Self {
            bytes,
            len: octets.len() * 2,
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The address's bytes back from the digits.
    fn octets(&self) -> Vec<u8> {
        let value = |d: u8| if d.is_ascii_digit() { d - b'0' } else { d - b'A' + 10 };
        self.as_slice()
            .chunks(2)
            .map(|pair| (value(pair[0]) << 4) | value(pair[1]))
            .collect()
    }
}

impl IpRange {
    /// Marks whether the field this range belongs to matches numbers as text (see
    /// [`IpRange::numbers_as_text`]): when it has no numeric matcher.
    pub(crate) fn set_numbers_as_text(&mut self, numbers_as_text: bool) {
        self.numbers_as_text = numbers_as_text;
    }

    fn contains_number(&self, number: &EventNumber<'_>) -> bool {
        match number {
            EventNumber::Text(text) => self.contains(text.as_bytes()),
            EventNumber::Integer(i) => self.contains(i.to_string().as_bytes()),
            EventNumber::Float(f) => self.contains(
                serde_json::Number::from_f64(*f)
                    .map(|n| n.to_string())
                    .unwrap_or_default()
                    .as_bytes(),
            ),
        }
    }

    /// The one address an exact string names, as `CIDR.ipToRangeIfPossible` builds it.
    pub(crate) fn address(text: &str) -> Option<Self> {
        let digits = Digits::of_address(text)?;
        let last = digits.len - 1;
        let mut other = digits;
        Some(if digits.bytes[last] == b'F' {
            other.bytes[last] = b'E';
            Self {
                bottom: other,
                top: digits,
                open_bottom: true,
                open_top: false,
                numbers_as_text: true,
            }
        } else {
            other.bytes[last] = if digits.bytes[last] == b'9' {
                b'A'
            } else {
                digits.bytes[last] + 1
            };
            Self {
                bottom: digits,
                top: other,
                open_bottom: false,
                open_top: true,
                numbers_as_text: true,
            }
        })
    }

    /// Whether the address digits fall in the range, as the engine's digit-by-digit walk decides:
    /// an address at least as long as the bounds is compared on the bounds' length (so an IPv6
    /// address whose first 32 bits are `0a00..` is in `10.0.0.0/8`); a shorter one must already
    /// lie strictly between the bounds on its own length.
    fn contains(&self, value: &[u8]) -> bool {
        let (bottom, top) = (self.bottom.as_slice(), self.top.as_slice());
        if value.len() >= bottom.len() {
            let value = &value[..bottom.len()];
            (value > bottom || (!self.open_bottom && value == bottom))
                && (value < top || (!self.open_top && value == top))
        } else {
            value > &bottom[..value.len()] && value < &top[..value.len()]
        }
    }
}

/// A parsed `cidr` operand.
pub(crate) struct Cidr {
    pub(crate) range: IpRange,
    /// Whether the address had bits set after the prefix length (`10.0.0.1/24`), which the engine
    /// ignores.
    pub(crate) host_bits_set: bool,
}

impl Cidr {
    /// Parses `address/prefix-length` as `CIDR.cidr` does: Java's `split("/")` (trailing empty
    /// parts dropped) must give two parts, the length is a Java `int` below 32 (IPv4, including
    /// an IPv4-mapped IPv6 address) or 128 (IPv6) and not negative; bits after the prefix are
    /// ignored.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut parts: Vec<&str> = text.split('/').collect();
        while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        let [address, length] = parts[..] else {
            return Err("one `/` is required".to_owned());
        };
        let length = java_int(length).ok_or_else(|| "the prefix length must be an integer".to_owned())?;
        if length < 0 {
            return Err("the prefix length must not be negative".to_owned());
        }
        let digits = Digits::of_address(address).ok_or_else(|| format!("`{address}` is not an IP address"))?;
        let octets = digits.octets();
        let width = octets.len() * 8;
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        if length >= width {
            return Err(format!(
                "the prefix length must be below {width} for an {} address",
                if width == 32 { "IPv4" } else { "IPv6" }
            ));
        }
        let mut low = octets.clone();
        let mut high = octets.clone();
        let mut host_bits_set = false;
        for (i, (l, h)) in low.iter_mut().zip(high.iter_mut()).enumerate() {
            let fixed = length.saturating_sub(i * 8).min(8);
            let host_mask = if fixed == 8 { 0 } else { 0xffu8 >> fixed };
            host_bits_set |= *l & host_mask != 0;
            *l &= !host_mask;
            *h |= host_mask;
        }
        Ok(Self {
            range: IpRange {
                bottom: Digits::of_bytes(&low),
                top: Digits::of_bytes(&high),
                open_bottom: false,
                open_top: false,
                numbers_as_text: true,
            },
            host_bits_set,
        })
    }
}

/// Java's `Integer.parseInt`: an optional sign, then ASCII digits, within `i32`.
fn java_int(text: &str) -> Option<i32> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.strip_prefix('+').unwrap_or(text).parse().ok()
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

impl Wildcard {
    /// Whether the wildcard holds no unescaped `*`, so that it only matches one exact string.
    pub(crate) fn is_literal(&self) -> bool {
        self.pieces.len() == 1
    }
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

    fn cidr_contains(cidr: &str, address: &str) -> Result<bool, String> {
        let range = Cidr::parse(cidr)?.range;
        Ok(Digits::of_address(address).is_some_and(|d| range.contains(d.as_slice())))
    }

    #[test]
    fn cidr_compares_addresses_as_the_engine_reads_them() -> Result<(), String> {
        assert!(cidr_contains("10.0.0.0/24", "10.0.0.255")?);
        assert!(!cidr_contains("10.0.0.0/24", "10.0.1.0")?);
        assert!(cidr_contains("10.0.0.0/8", "10.0.0.01")?);
        assert!(cidr_contains("10.0.0.0/8", "::ffff:a00:1")?);
        assert!(!cidr_contains("10.0.0.0/8", "::ffff:10.0.0.1")?);
        assert!(
            cidr_contains("10.0.0.0/8", "a00::1")?,
            "the first 32 bits of an IPv6 address"
        );
        assert!(cidr_contains("2001:db8::/32", "2001:DB8:ffff::1")?);
        assert!(!cidr_contains("2001:db8::/32", "2001:db8::1.2.3.4")?);
        assert!(cidr_contains("10.0.0.1/8", "10.200.0.1")?, "host bits are ignored");
        assert!(
            cidr_contains("10.0.0.0/8/", "10.0.0.1")?,
            "Java's split drops the trailing empty part"
        );
        assert!(Cidr::parse("::ffff:a00:0/104").is_err(), "an IPv4-mapped block is IPv4");
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        Ok(())
    }

    #[test]
    fn ignore_case_accepts_each_character_in_its_lowercase_or_its_uppercase() {
        assert!(Folded::new("straße").equals("STRASSE"));
        assert!(!Folded::new("straße").equals("strasse"));
        assert!(!Folded::new("STRASSE").equals("straße"));
        assert!(Folded::new("ı").equals("I"));
        assert!(!Folded::new("I").equals("ı"));
        assert!(Folded::new("µ").equals("Μ"));
        assert!(!Folded::new("µ").equals("μ"));
        assert!(!Folded::new("a😀").equals("A😀"));
        assert!(Folded::new("a😀").equals("A??"));
        assert!(Folded::new("eventb").is_prefix_of("EVENTBRIDGE"));
        assert!(Folded::new(".png").is_suffix_of("photo.PNG"));
        assert!(!Folded::new(".png").is_suffix_of("png"));
        assert!(Folded::new("ß").is_suffix_of("xSS"));
    }
}
