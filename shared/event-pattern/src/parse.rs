//! From pattern JSON to the typed tree: validation (every refusal names its path) and the
//! expansion of `$or` into alternatives that each hold no `$or`.

use serde_json::{Map, Number, Value};

use crate::error::{ErrorKind, PatternError, shown};
use crate::matcher::{AnythingBut, Cidr, Exact, Matcher, NUMERIC_LIMIT, NumericRange, Wildcard, to_lower};
use crate::tree::Node;

/// How many `$or`-free alternatives a pattern may expand to. EventBridge documents no number;
/// this bound keeps a pathological pattern from costing unbounded memory and time.
pub(crate) const MAX_ALTERNATIVES: usize = 1000;

/// The matcher names, which EventBridge reserves as field names inside `$or`.
const MATCHER_NAMES: [&str; 8] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
];

/// Parses and validates a pattern into its `$or`-free alternatives, each [`Node::finish`]ed.
pub(crate) fn alternatives(pattern: &Value) -> Result<Vec<Node>, PatternError> {
    let Value::Object(fields) = pattern else {
        return Err(PatternError::new("", ErrorKind::NotAnObject(shown(pattern))));
    };
    let level = parse_level(fields, &mut Path::default(), false)?;
    let mut alternatives = expand(level)?;
    for node in &mut alternatives {
        node.finish();
    }
    Ok(alternatives)
}

/// A pattern object level before `$or` expansion.
struct Level {
    leaves: Vec<(String, Vec<Matcher>)>,
    /// Nested levels: field, its path (for errors) and its level.
    objects: Vec<(String, String, Level)>,
    /// Each `$or` at this level: its path (for errors) and its alternatives.
    ors: Vec<(String, Vec<Level>)>,
}

/// The dotted path being parsed, for error messages.
#[derive(Default)]
struct Path {
    segments: Vec<String>,
}

impl Path {
    fn error(&self, kind: ErrorKind) -> PatternError {
        PatternError::new(self.to_string(), kind)
    }

    fn error_at(&mut self, segment: &str, kind: ErrorKind) -> PatternError {
        self.segments.push(segment.to_owned());
        let error = self.error(kind);
        self.segments.pop();
        error
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.segments.join("."))
    }
}

fn parse_level(fields: &Map<String, Value>, path: &mut Path, inside_or: bool) -> Result<Level, PatternError> {
    if fields.is_empty() {
        return Err(path.error(ErrorKind::EmptyObject));
    }
    let mut level = Level {
        leaves: Vec::new(),
        objects: Vec::new(),
        ors: Vec::new(),
    };
    for (field, value) in fields {
        if field == "$or" {
            level.ors.push((path_with(path, "$or"), parse_or(value, path)?));
            continue;
        }
        if inside_or && MATCHER_NAMES.contains(&field.as_str()) {
            return Err(path.error_at(field, ErrorKind::ReservedFieldInOr(field.clone())));
        }
        path.segments.push(field.clone());
        match value {
            Value::Object(nested) => {
                let nested = parse_level(nested, path, inside_or)?;
                level.objects.push((field.clone(), path.to_string(), nested));
            }
            Value::Array(allowed) => level.leaves.push((field.clone(), parse_leaf(allowed, path)?)),
            _ if MATCHER_NAMES.contains(&field.as_str()) => {
                return Err(path.error(ErrorKind::MatcherOutsideArray(field.clone())));
            }
            scalar => return Err(path.error(ErrorKind::LeafNotArray(shown(scalar)))),
        }
        path.segments.pop();
    }
    Ok(level)
}

fn path_with(path: &Path, segment: &str) -> String {
    if path.segments.is_empty() {
        segment.to_owned()
    } else {
        format!("{path}.{segment}")
    }
}

fn parse_or(value: &Value, path: &mut Path) -> Result<Vec<Level>, PatternError> {
    let Value::Array(alternatives) = value else {
        return Err(path.error_at("$or", ErrorKind::OrNotArray(shown(value))));
    };
    if alternatives.len() < 2 {
        return Err(path.error_at("$or", ErrorKind::OrTooFew(alternatives.len())));
    }
    let mut levels = Vec::with_capacity(alternatives.len());
    for (index, alternative) in alternatives.iter().enumerate() {
        path.segments.push(format!("$or[{index}]"));
        let Value::Object(fields) = alternative else {
            return Err(path.error(ErrorKind::OrAlternative(shown(alternative))));
        };
        levels.push(parse_level(fields, path, true)?);
        path.segments.pop();
    }
    Ok(levels)
}

fn parse_leaf(allowed: &[Value], path: &Path) -> Result<Vec<Matcher>, PatternError> {
    if allowed.is_empty() {
        return Err(path.error(ErrorKind::EmptyArray));
    }
    allowed
        .iter()
        .map(|value| parse_allowed(value).map_err(|kind| path.error(kind)))
        .collect()
}

fn parse_allowed(value: &Value) -> Result<Matcher, ErrorKind> {
    Ok(Matcher::Exact(match value {
        Value::String(s) => Exact::String(s.clone()),
        Value::Number(n) => Exact::Number(n.clone()),
        Value::Bool(b) => Exact::Bool(*b),
        Value::Null => Exact::Null,
        Value::Array(_) => return Err(ErrorKind::BadValue(shown(value))),
        Value::Object(matcher) => return parse_matcher(matcher),
    }))
}

/// The single `name: operand` pair of a matcher object.
fn single_key(matcher: &Map<String, Value>) -> Result<(&str, &Value), ErrorKind> {
    match matcher.iter().next() {
        Some((name, operand)) if matcher.len() == 1 => Ok((name, operand)),
        _ => Err(ErrorKind::MatcherKeyCount(matcher.len())),
    }
}

fn parse_matcher(matcher: &Map<String, Value>) -> Result<Matcher, ErrorKind> {
    let (name, operand) = single_key(matcher)?;
    match name {
        "prefix" => affix(operand, "prefix", Matcher::Prefix, Matcher::PrefixIgnoreCase),
        "suffix" => affix(operand, "suffix", Matcher::Suffix, Matcher::SuffixIgnoreCase),
        "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(to_lower(string(
            operand,
            "equals-ignore-case",
        )?))),
        "wildcard" => Ok(Matcher::Wildcard(wildcard(operand, "wildcard")?)),
        "anything-but" => Ok(Matcher::AnythingBut(anything_but(operand)?)),
        "numeric" => Ok(Matcher::Numeric(numeric(operand)?)),
        "exists" => match operand {
            Value::Bool(wanted) => Ok(Matcher::Exists(*wanted)),
            other => Err(bad_operand("exists", "true or false", other)),
        },
        "cidr" => {
            let text = string(operand, "cidr")?;
            let cidr = Cidr::parse(text).map_err(|reason| ErrorKind::InvalidCidr {
                cidr: shown(operand),
                reason,
            })?;
            Ok(Matcher::Cidr(cidr))
        }
        unknown => Err(ErrorKind::UnknownMatcher(unknown.to_owned())),
    }
}

fn bad_operand(matcher: &'static str, expected: &'static str, found: &Value) -> ErrorKind {
    ErrorKind::BadOperand {
        matcher,
        expected,
        found: shown(found),
    }
}

fn string<'a>(operand: &'a Value, matcher: &'static str) -> Result<&'a str, ErrorKind> {
    operand
        .as_str()
        .ok_or_else(|| bad_operand(matcher, "a string", operand))
}

fn wildcard(operand: &Value, matcher: &'static str) -> Result<Wildcard, ErrorKind> {
    let text = string(operand, matcher)?;
    Wildcard::parse(text).map_err(|reason| ErrorKind::InvalidWildcard {
        wildcard: shown(operand),
        reason,
    })
}

/// `prefix`/`suffix`: a string, or `{"equals-ignore-case": string}`.
fn affix(
    operand: &Value,
    matcher: &'static str,
    exact: fn(String) -> Matcher,
    ignoring_case: fn(String) -> Matcher,
) -> Result<Matcher, ErrorKind> {
    const EXPECTED: &str = "a string or {\"equals-ignore-case\": string}";
    match operand {
        Value::String(s) => Ok(exact(s.clone())),
        Value::Object(inner) => match single_key(inner) {
            Ok(("equals-ignore-case", Value::String(s))) => Ok(ignoring_case(to_lower(s))),
            _ => Err(bad_operand(matcher, EXPECTED, operand)),
        },
        other => Err(bad_operand(matcher, EXPECTED, other)),
    }
}

fn anything_but(operand: &Value) -> Result<AnythingBut, ErrorKind> {
    match operand {
        Value::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
        Value::Number(n) => Ok(AnythingBut::Numbers(vec![checked_number(n)?])),
        Value::Array(values) => anything_but_list(values, operand),
        Value::Object(inner) => {
            let (name, inner_operand) = single_key(inner)?;
            match name {
                "prefix" => Ok(AnythingBut::Prefix(non_empty_affix(inner_operand, "prefix")?)),
                "suffix" => Ok(AnythingBut::Suffix(non_empty_affix(inner_operand, "suffix")?)),
                "equals-ignore-case" => {
                    let strings = one_or_many(inner_operand, "anything-but/equals-ignore-case")?;
                    Ok(AnythingBut::IgnoreCase(strings.into_iter().map(to_lower).collect()))
                }
                "wildcard" => {
                    let wildcards = one_or_many_values(inner_operand, "anything-but/wildcard")?;
                    wildcards
                        .into_iter()
                        .map(|w| wildcard(w, "anything-but/wildcard"))
                        .collect::<Result<_, _>>()
                        .map(AnythingBut::Wildcard)
                }
                "anything-but" => Err(ErrorKind::NestedAnythingBut),
                other => Err(ErrorKind::AnythingButMatcher(other.to_owned())),
            }
        }
        other => Err(bad_operand(
            "anything-but",
            "a string, a number, a list of strings or of numbers, or a prefix, suffix, equals-ignore-case or wildcard",
            other,
        )),
    }
}

fn anything_but_list(values: &[Value], operand: &Value) -> Result<AnythingBut, ErrorKind> {
    if values.is_empty() {
        return Err(ErrorKind::EmptyArray);
    }
    if values.iter().all(Value::is_string) {
        return Ok(AnythingBut::Strings(
            values.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        ));
    }
    let mut numbers = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Value::Number(n) => numbers.push(checked_number(n)?),
            _ => return Err(ErrorKind::AnythingButList(shown(operand))),
        }
    }
    Ok(AnythingBut::Numbers(numbers))
}

/// Anything-but prefix and suffix take one non-empty string (the AWS docs: "only works with a
/// single prefix, not a list").
fn non_empty_affix(operand: &Value, matcher: &'static str) -> Result<String, ErrorKind> {
    match operand {
        Value::String(s) if s.is_empty() => Err(ErrorKind::EmptyAffix(matcher)),
        Value::String(s) => Ok(s.clone()),
        other => Err(bad_operand(
            if matcher == "prefix" {
                "anything-but/prefix"
            } else {
                "anything-but/suffix"
            },
            "a single non-empty string",
            other,
        )),
    }
}

fn one_or_many_values<'a>(operand: &'a Value, matcher: &'static str) -> Result<Vec<&'a Value>, ErrorKind> {
    match operand {
        Value::String(_) => Ok(vec![operand]),
        Value::Array(values) if values.is_empty() => Err(ErrorKind::EmptyArray),
        Value::Array(values) if values.iter().all(Value::is_string) => Ok(values.iter().collect()),
        other => Err(bad_operand(matcher, "a string or a list of strings", other)),
    }
}

fn one_or_many<'a>(operand: &'a Value, matcher: &'static str) -> Result<Vec<&'a str>, ErrorKind> {
    Ok(one_or_many_values(operand, matcher)?
        .into_iter()
        .filter_map(Value::as_str)
        .collect())
}

/// A number usable in `numeric` or `anything-but`: within ±5e9, at most six decimals.
fn checked_number(n: &Number) -> Result<f64, ErrorKind> {
    let value = n
        .as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| ErrorKind::NumberOutOfRange(n.to_string()))?;
    if value.abs() > NUMERIC_LIMIT {
        return Err(ErrorKind::NumberOutOfRange(n.to_string()));
    }
    // `Display` for f64 never uses an exponent and prints the shortest digits that round-trip.
    let text = value.to_string();
    let decimals = text.split_once('.').map_or(0, |(_, fraction)| fraction.len());
    if decimals > 6 {
        return Err(ErrorKind::TooPrecise(n.to_string()));
    }
    Ok(value)
}

fn numeric(operand: &Value) -> Result<NumericRange, ErrorKind> {
    let pairs_error = || ErrorKind::NumericPairs(shown(operand));
    let Value::Array(items) = operand else {
        return Err(pairs_error());
    };
    if items.is_empty() || items.len() % 2 != 0 {
        return Err(pairs_error());
    }
    let mut comparisons = Vec::with_capacity(items.len() / 2);
    for pair in items.chunks(2) {
        let [Value::String(operator), Value::Number(number)] = pair else {
            return Err(pairs_error());
        };
        if !matches!(operator.as_str(), "<" | "<=" | "=" | ">=" | ">") {
            return Err(ErrorKind::NumericOperator(shown(&pair[0])));
        }
        comparisons.push((operator.as_str(), checked_number(number)?, number));
    }
    match comparisons.as_slice() {
        [("=", value, _)] => Ok(NumericRange {
            lower: Some((*value, true)),
            upper: Some((*value, true)),
        }),
        [(op, value, _)] if op.starts_with('<') => Ok(NumericRange {
            lower: None,
            upper: Some((*value, *op == "<=")),
        }),
        [(op, value, _)] => Ok(NumericRange {
            lower: Some((*value, *op == ">=")),
            upper: None,
        }),
        [(low_op, low, low_text), (high_op, high, high_text)]
            if low_op.starts_with('>') && high_op.starts_with('<') =>
        {
            if low >= high {
                return Err(ErrorKind::NumericBounds {
                    lower: low_text.to_string(),
                    upper: high_text.to_string(),
                });
            }
            Ok(NumericRange {
                lower: Some((*low, *low_op == ">=")),
                upper: Some((*high, *high_op == "<=")),
            })
        }
        _ => Err(ErrorKind::NumericShape),
    }
}

/// Multiplies out every `$or` (and every nested level's `$or`) into `$or`-free alternatives.
fn expand(level: Level) -> Result<Vec<Node>, PatternError> {
    let mut alternatives = vec![Node::default()];
    for (field, matchers) in level.leaves {
        for node in &mut alternatives {
            node.add_leaf(field.clone(), matchers.clone());
        }
    }
    for (field, path, nested) in level.objects {
        let nested = expand(nested)?;
        alternatives = product(&alternatives, &nested, &path, |node, inner| {
            node.add_object(field.clone(), inner)
        })?;
    }
    for (path, branches) in level.ors {
        let mut choices = Vec::new();
        for branch in branches {
            choices.extend(expand(branch)?);
        }
        alternatives = product(&alternatives, &choices, &path, Node::merge)?;
    }
    Ok(alternatives)
}

fn product(
    left: &[Node],
    right: &[Node],
    path: &str,
    mut combine: impl FnMut(&mut Node, Node),
) -> Result<Vec<Node>, PatternError> {
    let count = left.len().saturating_mul(right.len());
    if count > MAX_ALTERNATIVES {
        return Err(PatternError::new(
            path,
            ErrorKind::TooManyCombinations(MAX_ALTERNATIVES),
        ));
    }
    let mut out = Vec::with_capacity(count);
    for l in left {
        for r in right {
            let mut node = l.clone();
            combine(&mut node, r.clone());
            out.push(node);
        }
    }
    Ok(out)
}
