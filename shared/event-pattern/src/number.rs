//! JSON numbers as the engine reads them: from their text, never through another crate's float
//! parser. A number is *comparable* when its exact decimal value equals the shortest decimal of the
//! nearest binary64 double (`ComparableNumber.generate` in aws/event-ruler: `BigDecimal` of the text,
//! `doubleValue()`, then `BigDecimal.valueOf(double).compareTo(..) == 0`); only comparable numbers
//! take part in numeric comparisons, the others are matched by their text.

/// A number from a pattern: its text as written and, when comparable, its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Number {
    /// The JSON text of the number (`3.0e2`, `1e400`).
    pub(crate) text: String,
    /// The value when the number is comparable (see the module documentation).
    pub(crate) value: Option<f64>,
}

impl Number {
    /// Reads a JSON number's text.
    pub(crate) fn from_text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            value: comparable(text),
        }
    }

    /// Whether an event number equals this one: by value when both are comparable, by text when
    /// neither is (the engine matches `1e400` only against the same spelling).
    pub(crate) fn equals(&self, other: &EventNumber<'_>) -> bool {
        match (self.value, other.value()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => other.text_equals(&self.text),
            _ => false,
        }
    }

    /// Digits to the right of the decimal point of the exact value (`1.50` has 1, `1e-7` has 7).
    pub(crate) fn decimals(&self) -> u64 {
        Decimal::parse(&self.text).map_or(0, |d| d.decimals())
    }
}

/// A number found in an event: already a binary64 or an integer (from a `serde_json::Value`), or
/// still text (from event text read by this crate).
#[derive(Debug, Clone, Copy)]
pub(crate) enum EventNumber<'a> {
    /// A double, which is comparable by construction (its text is its shortest decimal).
    Float(f64),
    /// An integer, comparable when its decimal equals that of its nearest double.
    Integer(i128),
    /// The number's JSON text.
    Text(&'a str),
}

impl EventNumber<'_> {
    /// The value when the number is comparable.
    pub(crate) fn value(&self) -> Option<f64> {
        match *self {
            EventNumber::Float(f) => Some(f).filter(|f| f.is_finite()),
            // Every integer of magnitude up to 2^53 is its own shortest double.
            EventNumber::Integer(i) if i.unsigned_abs() <= 1 << 53 => Some(i as f64),
            EventNumber::Integer(i) => comparable(&i.to_string()),
            EventNumber::Text(text) => comparable(text),
        }
    }

    fn text_equals(&self, text: &str) -> bool {
        match *self {
            EventNumber::Float(_) => false,
            EventNumber::Integer(i) => i.to_string() == text,
            EventNumber::Text(own) => own == text,
        }
    }
}

/// The value of a JSON number's text when it is comparable (see the module documentation).
pub(crate) fn comparable(text: &str) -> Option<f64> {
    let value: f64 = text.parse().ok().filter(|f: &f64| f.is_finite())?;
    // `{:e}` prints the shortest digits that read back as the same double.
    let shortest = format!("{value:e}");
    (Decimal::parse(text)? == Decimal::parse(&shortest)?).then_some(value)
}

/// An exact decimal value: `digits × 10^exponent`, digits without leading or trailing zeros (none
/// at all for zero, whose sign is dropped as `BigDecimal` drops it).
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i128,
}

impl Decimal {
    /// Reads `-?digits(.digits)?([eE][+-]?digits)?`; `None` for anything else.
    fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], parse_exponent(&rest[at + 1..])?),
            None => (rest, 0),
        };
        let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if integer.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut digits = Vec::with_capacity(integer.len() + fraction.len());
        for b in integer.bytes().chain(fraction.bytes()) {
            if !b.is_ascii_digit() {
                return None;
            }
            digits.push(b - b'0');
        }
        let mut exponent = exponent - fraction.len() as i128;
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Some(Self {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        Some(Self {
            negative,
            digits,
            exponent,
        })
    }

    fn decimals(&self) -> u64 {
        u64::try_from(-self.exponent).unwrap_or(0)
    }
}

/// An exponent, saturated far beyond any double's range so that huge ones stay huge.
fn parse_exponent(text: &str) -> Option<i128> {
    const LIMIT: i128 = 1 << 64;
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits
        .bytes()
        .fold(0i128, |acc, b| (acc * 10 + i128::from(b - b'0')).min(LIMIT));
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparable_numbers_are_those_a_double_holds_exactly_in_decimal() {
        assert_eq!(comparable("300"), Some(300.0));
        assert_eq!(comparable("3.0e2"), Some(300.0));
        assert_eq!(comparable("-0"), Some(-0.0));
        assert_eq!(comparable("100.00000000000001"), Some(100.00000000000001));
        assert_eq!(comparable("100.000000000000001"), None);
        assert_eq!(comparable("1e400"), None);
        assert_eq!(comparable("1e-400"), None);
        assert_eq!(comparable("12345678901234567"), None);
        assert_eq!(comparable("1152921504606846976"), None);
        assert_eq!(comparable("5e-324"), Some(5e-324));
    }

    #[test]
    fn decimals_count_digits_of_the_exact_value() {
        let decimals = |t: &str| Number::from_text(t).decimals();
        assert_eq!(decimals("1.50"), 1);
        assert_eq!(decimals("1e-7"), 7);
        assert_eq!(decimals("1.0000010000000001"), 16);
        assert_eq!(decimals("12e3"), 0);
    }
}
