//! From pattern JSON to sub-rules: validation (every refusal names its path), then the expansion
//! of `$or` into `$or`-free sub-rules exactly as aws/event-ruler's `JsonRuleCompiler` does it, or,
//! for a pattern that would expand to more than [`MAX_EXPANDED`], the pattern as written for
//! [`crate::lazy`].
//!
//! The pattern is read in document order. A field path is its names joined with dots (so
//! `{"a.b": …}` and `{"a": {"b": …}}` name the same path), and writing a path that a sub-rule
//! already holds replaces its allowed values (`rule.put(name, values)`): the last one in the
//! document wins, whether the two are plain duplicates or one is inside an `$or` alternative. A
//! pattern whose `$or` is not an array of at least two objects is read again the way the engine's
//! legacy `RuleCompiler` reads it (`GenericMachine.addRule` falls back to it), with `$or` as an
//! ordinary field name.

use crate::error::{ErrorKind, PatternError, shown};
use crate::json::Json;
use crate::lazy::Lazy;
use crate::lint::{Lint, LintKind};
use crate::matcher::{AnythingBut, Cidr, Exact, Folded, IpRange, Matcher, NUMERIC_LIMIT, NumericRange, Wildcard};
use crate::number::Number;
use crate::tree::Alternative;

/// How many `$or`-free sub-rules a pattern is multiplied out to at most. A pattern beyond it is
/// kept with its `$or`s as written and matched by [`crate::lazy`], so the bound costs no pattern
/// EventBridge accepts, only speed; below it the multiplied-out form is the faster one.
pub(crate) const MAX_EXPANDED: usize = 1000;

/// The most fields one sub-rule may hold (`GenericMachine.MAXIMUM_RULE_SIZE`).
pub(crate) const MAX_FIELDS: usize = 256;

/// The matcher names, which EventBridge reserves as field names inside `$or`
/// (`Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP`).
const MATCHER_NAMES: [&str; 9] = [
    "prefix",
    "suffix",
    "equals-ignore-case",
    "wildcard",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "exact",
];

/// A pattern parsed: how it is matched, and what `herald catalog check` should warn about.
pub(crate) struct Parsed {
    pub(crate) form: Form,
    pub(crate) lints: Vec<Lint>,
}

/// How a parsed pattern is kept for matching.
pub(crate) enum Form {
    /// Its `$or`-free sub-rules, compiled.
    Expanded(Vec<Alternative>),
    /// Its `$or`s as written, because they multiply out beyond [`MAX_EXPANDED`] sub-rules.
    Unexpanded(Lazy),
}

/// One sub-rule while parsing: each field path (dotted) with its allowed values.
pub(crate) type Rule = Vec<(String, Vec<Matcher>)>;

/// A pattern object as written, in document order: the fields it writes (dotted paths) and its
/// `$or`s, each a list of alternatives.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conjunction {
    pub(crate) items: Vec<Item>,
}

/// One step of a [`Conjunction`].
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A field path and its allowed values.
    Write(String, Vec<Matcher>),
    /// An `$or`: exactly one alternative applies in each sub-rule.
    Or(Vec<Conjunction>),
}

/// Parses and validates a pattern into the form it is matched in.
pub(crate) fn parse(pattern: &Json) -> Result<Parsed, PatternError> {
    match parse_as(pattern, false) {
        Err(error) if holds_or(pattern) => parse_as(pattern, true).map_err(|_| error),
        parsed => parsed,
    }
}

fn parse_as(pattern: &Json, legacy: bool) -> Result<Parsed, PatternError> {
    let (root, lints) = read(pattern, legacy)?;
    let form = match expand(&root, MAX_EXPANDED) {
        Some(rules) => {
            drop(root);
            if let Some(rule) = rules.iter().find(|rule| rule.len() > MAX_FIELDS) {
                return Err(PatternError::new("", ErrorKind::TooManyFields(rule.len(), MAX_FIELDS)));
            }
            Form::Expanded(rules.into_iter().map(Alternative::new).collect())
        }
        None => {
            let lazy = Lazy::new(&root);
            if let Some(fields) = lazy.most_fields_over(MAX_FIELDS) {
                return Err(PatternError::new("", ErrorKind::TooManyFields(fields, MAX_FIELDS)));
            }
            Form::Unexpanded(lazy)
        }
    };
    Ok(Parsed { form, lints })
}

/// Validates a pattern into its object as written, and the lints found on the way.
fn read(pattern: &Json, legacy: bool) -> Result<(Conjunction, Vec<Lint>), PatternError> {
    let Json::Object(fields) = pattern else {
        return Err(PatternError::new("", ErrorKind::NotAnObject(shown(pattern))));
    };
    let mut parser = Parser {
        path: Vec::new(),
        names: Vec::new(),
        legacy,
        lints: Vec::new(),
    };
    let mut root = Conjunction::default();
    parser.object(fields, &mut root, false)?;
    Ok((root, parser.lints))
}

/// A valid pattern as written, whatever its size (for tests that compare both forms).
#[cfg(test)]
pub(crate) fn conjunction(pattern: &Json) -> Result<Conjunction, PatternError> {
    read(pattern, false).map(|(root, _)| root)
}

/// The pattern's `$or`-free sub-rules exactly as aws/event-ruler's `JsonRuleCompiler` multiplies
/// them out, or `None` when there would be more than `limit`.
fn expand(root: &Conjunction, limit: usize) -> Option<Vec<Rule>> {
    fn apply(conjunction: &Conjunction, rules: &mut Vec<Rule>, limit: usize) -> Option<()> {
        for item in &conjunction.items {
            match item {
                Item::Write(name, matchers) => {
                    for rule in rules.iter_mut() {
                        match rule.iter_mut().find(|(existing, _)| existing == name) {
                            Some((_, values)) => values.clone_from(matchers),
                            None => rule.push((name.clone(), matchers.clone())),
                        }
                    }
                }
                Item::Or(alternatives) => {
                    let before = std::mem::take(rules);
                    for alternative in alternatives {
                        let mut branch = before.clone();
                        apply(alternative, &mut branch, limit)?;
                        rules.extend(branch);
                        if rules.len() > limit {
                            return None;
                        }
                    }
                }
            }
        }
        Some(())
    }
    let mut rules = vec![Rule::new()];
    apply(root, &mut rules, limit)?;
    Some(rules)
}

fn holds_or(value: &Json) -> bool {
    match value {
        Json::Object(fields) => fields.iter().any(|(name, value)| name == "$or" || holds_or(value)),
        _ => false,
    }
}

struct Parser {
    /// The path shown in errors and lints (`detail.$or[1].price`).
    path: Vec<String>,
    /// The field names from the root to the current object, which make up field paths.
    names: Vec<String>,
    /// Whether `$or` is an ordinary field name (the legacy compiler).
    legacy: bool,
    lints: Vec<Lint>,
}

impl Parser {
    fn error(&self, kind: ErrorKind) -> PatternError {
        PatternError::new(self.path.join("."), kind)
    }

    fn error_at(&self, segment: &str, kind: ErrorKind) -> PatternError {
        let mut path = self.path.clone();
        path.push(segment.to_owned());
        PatternError::new(path.join("."), kind)
    }

    fn object(
        &mut self,
        fields: &[(String, Json)],
        into: &mut Conjunction,
        inside_or: bool,
    ) -> Result<(), PatternError> {
        if fields.is_empty() {
            return Err(self.error(ErrorKind::EmptyObject));
        }
        for (field, value) in fields {
            if field == "$or" && !self.legacy {
                let alternatives = self.or(value)?;
                into.items.push(Item::Or(alternatives));
                continue;
            }
            if inside_or && MATCHER_NAMES.contains(&field.as_str()) {
                return Err(self.error_at(field, ErrorKind::ReservedFieldInOr(field.clone())));
            }
            self.path.push(field.clone());
            self.names.push(field.clone());
            match value {
                Json::Object(nested) => self.object(nested, into, inside_or)?,
                Json::Array(allowed) => {
                    let matchers = self.leaf(allowed)?;
                    into.items.push(Item::Write(self.names.join("."), matchers));
                }
                _ if MATCHER_NAMES.contains(&field.as_str()) => {
                    return Err(self.error(ErrorKind::MatcherOutsideArray(field.clone())));
                }
                scalar => return Err(self.error(ErrorKind::LeafNotArray(shown(scalar)))),
            }
            self.path.pop();
            self.names.pop();
        }
        Ok(())
    }

    fn or(&mut self, value: &Json) -> Result<Vec<Conjunction>, PatternError> {
        let Json::Array(alternatives) = value else {
            return Err(self.error_at("$or", ErrorKind::OrNotArray(shown(value))));
        };
        if alternatives.len() < 2 {
            return Err(self.error_at("$or", ErrorKind::OrTooFew(alternatives.len())));
        }
        let mut parsed = Vec::with_capacity(alternatives.len());
        for (index, alternative) in alternatives.iter().enumerate() {
            self.path.push(format!("$or[{index}]"));
            let Json::Object(fields) = alternative else {
                return Err(self.error(ErrorKind::OrAlternative(shown(alternative))));
            };
            let mut conjunction = Conjunction::default();
            self.object(fields, &mut conjunction, true)?;
            parsed.push(conjunction);
            self.path.pop();
        }
        Ok(parsed)
    }

    fn leaf(&mut self, allowed: &[Json]) -> Result<Vec<Matcher>, PatternError> {
        if allowed.is_empty() {
            return Err(self.error(ErrorKind::EmptyArray));
        }
        let mut matchers = allowed
            .iter()
            .map(|value| self.allowed(value).map_err(|kind| self.error(kind)))
            .collect::<Result<Vec<_>, _>>()?;
        // The engine matches a comparable number by value only when the field has a numeric
        // matcher (an exact comparable number, `numeric`, anything-but numbers); otherwise by text.
        let numeric_field = matchers.iter().any(|m| match m {
            Matcher::Exact(Exact::Number(n)) => n.value.is_some(),
            Matcher::Numeric(_) | Matcher::AnythingBut(AnythingBut::Numbers(_)) => true,
            _ => false,
        });
        for matcher in &mut matchers {
            if let Matcher::Address(range) | Matcher::Cidr(range) = matcher {
                range.set_numbers_as_text(!numeric_field);
            }
        }
        Ok(matchers)
    }

    fn lint(&mut self, kind: LintKind) {
        self.lints.push(Lint::new(self.path.join("."), kind));
    }

    fn allowed(&mut self, value: &Json) -> Result<Matcher, ErrorKind> {
        Ok(match value {
            Json::String(s) => match IpRange::address(s) {
                Some(range) => Matcher::Address(Box::new(range)),
                None => Matcher::Exact(Exact::String(s.clone())),
            },
            Json::Number(text) => Matcher::Exact(Exact::Number(Number::from_text(text))),
            Json::Bool(b) => Matcher::Exact(Exact::Bool(*b)),
            Json::Null => Matcher::Exact(Exact::Null),
            Json::Array(_) => return Err(ErrorKind::BadValue(shown(value))),
            Json::Object(matcher) => return self.matcher(matcher),
        })
    }

    fn matcher(&mut self, matcher: &[(String, Json)]) -> Result<Matcher, ErrorKind> {
        let (name, operand) = single_key(matcher)?;
        match name {
            "exact" => Ok(Matcher::Exact(Exact::String(string(operand, "exact")?.to_owned()))),
            "prefix" => self.affix(operand, "prefix", Matcher::Prefix, Matcher::PrefixIgnoreCase),
            "suffix" => self.affix(operand, "suffix", Matcher::Suffix, Matcher::SuffixIgnoreCase),
            "equals-ignore-case" => Ok(Matcher::EqualsIgnoreCase(Box::new(
                self.folded(string(operand, "equals-ignore-case")?),
            ))),
            "wildcard" => Ok(Matcher::Wildcard(self.wildcard(operand, "wildcard")?)),
            "anything-but" => Ok(Matcher::AnythingBut(self.anything_but(operand)?)),
            "numeric" => Ok(Matcher::Numeric(numeric(operand)?)),
            "exists" => match operand {
                Json::Bool(wanted) => Ok(Matcher::Exists(*wanted)),
                other => Err(bad_operand("exists", "true or false", other)),
            },
            "cidr" => {
                let text = string(operand, "cidr")?;
                let cidr = Cidr::parse(text).map_err(|reason| ErrorKind::InvalidCidr {
                    cidr: shown(operand),
                    reason,
                })?;
                if cidr.host_bits_set {
                    self.lint(LintKind::CidrHostBits { cidr: text.to_owned() });
                }
                Ok(Matcher::Cidr(Box::new(cidr.range)))
            }
            unknown => Err(ErrorKind::UnknownMatcher(unknown.to_owned())),
        }
    }

    fn folded(&mut self, text: &str) -> Folded {
        if Folded::has_astral(text) {
            self.lint(LintKind::IgnoreCaseAstral { value: text.to_owned() });
        }
        Folded::new(text)
    }

    fn wildcard(&mut self, operand: &Json, matcher: &'static str) -> Result<Wildcard, ErrorKind> {
        let text = string(operand, matcher)?;
        let wildcard = Wildcard::parse(text).map_err(|reason| ErrorKind::InvalidWildcard {
            wildcard: shown(operand),
            reason,
        })?;
        if wildcard.is_literal() {
            self.lint(LintKind::WildcardWithoutStar {
                wildcard: text.to_owned(),
            });
        }
        Ok(wildcard)
    }

    /// `prefix`/`suffix`: a string, or `{"equals-ignore-case": string}`.
    fn affix(
        &mut self,
        operand: &Json,
        matcher: &'static str,
        exact: fn(String) -> Matcher,
        ignoring_case: fn(Box<Folded>) -> Matcher,
    ) -> Result<Matcher, ErrorKind> {
        const EXPECTED: &str = "a string or {\"equals-ignore-case\": string}";
        match operand {
            Json::String(s) => Ok(exact(s.clone())),
            Json::Object(inner) => match single_key(inner) {
                Ok(("equals-ignore-case", Json::String(s))) => Ok(ignoring_case(Box::new(self.folded(s)))),
                _ => Err(bad_operand(matcher, EXPECTED, operand)),
            },
            other => Err(bad_operand(matcher, EXPECTED, other)),
        }
    }

    fn anything_but(&mut self, operand: &Json) -> Result<AnythingBut, ErrorKind> {
        match operand {
            Json::String(s) => Ok(AnythingBut::Strings(vec![s.clone()])),
            Json::Number(text) => Ok(AnythingBut::Numbers(vec![comparable(text)?])),
            Json::Array(values) => anything_but_list(values, operand),
            Json::Object(inner) => {
                let (name, inner_operand) = single_key(inner)?;
                match name {
                    "prefix" => Ok(AnythingBut::Prefixes(affixes(inner_operand, "anything-but/prefix")?)),
                    "suffix" => Ok(AnythingBut::Suffixes(affixes(inner_operand, "anything-but/suffix")?)),
                    "equals-ignore-case" => {
                        let strings = one_or_many(inner_operand, "anything-but/equals-ignore-case")?;
                        Ok(AnythingBut::IgnoreCase(
                            strings.into_iter().map(|s| self.folded(s)).collect(),
                        ))
                    }
                    "wildcard" => {
                        let wildcards = one_or_many_values(inner_operand, "anything-but/wildcard")?;
                        wildcards
                            .into_iter()
                            .map(|w| self.wildcard(w, "anything-but/wildcard"))
                            .collect::<Result<_, _>>()
                            .map(AnythingBut::Wildcards)
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
}

/// The single `name: operand` pair of a matcher object.
fn single_key(matcher: &[(String, Json)]) -> Result<(&str, &Json), ErrorKind> {
    match matcher {
        [(name, operand)] => Ok((name, operand)),
        _ => Err(ErrorKind::MatcherKeyCount(matcher.len())),
    }
}

fn bad_operand(matcher: &'static str, expected: &'static str, found: &Json) -> ErrorKind {
    ErrorKind::BadOperand {
        matcher,
        expected,
        found: shown(found),
    }
}

fn string<'a>(operand: &'a Json, matcher: &'static str) -> Result<&'a str, ErrorKind> {
    match operand {
        Json::String(s) => Ok(s),
        other => Err(bad_operand(matcher, "a string", other)),
    }
}

fn anything_but_list(values: &[Json], operand: &Json) -> Result<AnythingBut, ErrorKind> {
    if values.is_empty() {
        return Err(ErrorKind::EmptyArray);
    }
    let strings: Vec<String> = values
        .iter()
        .filter_map(|v| match v {
            Json::String(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    if strings.len() == values.len() {
        return Ok(AnythingBut::Strings(strings));
    }
    let mut numbers = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Json::Number(text) => numbers.push(comparable(text)?),
            _ => return Err(ErrorKind::AnythingButList(shown(operand))),
        }
    }
    Ok(AnythingBut::Numbers(numbers))
}

/// Anything-but prefix and suffix take a non-empty string or a non-empty list of them
/// (`JsonRuleCompiler.processAnythingButValuesSetMatchExpression`).
fn affixes(operand: &Json, matcher: &'static str) -> Result<Vec<String>, ErrorKind> {
    let affix = matcher.trim_start_matches("anything-but/");
    let strings = one_or_many(operand, matcher).map_err(|error| match error {
        ErrorKind::BadOperand { found, .. } => ErrorKind::BadOperand {
            matcher,
            expected: "a non-empty string or a list of them",
            found,
        },
        other => other,
    })?;
    if strings.iter().any(|s| s.is_empty()) {
        return Err(ErrorKind::EmptyAffix(if affix == "prefix" {
            "prefix"
        } else {
            "suffix"
        }));
    }
    Ok(strings.into_iter().map(str::to_owned).collect())
}

fn one_or_many_values<'a>(operand: &'a Json, matcher: &'static str) -> Result<Vec<&'a Json>, ErrorKind> {
    match operand {
        Json::String(_) => Ok(vec![operand]),
        Json::Array(values) if values.is_empty() => Err(ErrorKind::EmptyArray),
        Json::Array(values) if values.iter().all(|v| matches!(v, Json::String(_))) => Ok(values.iter().collect()),
        other => Err(bad_operand(matcher, "a string or a list of strings", other)),
    }
}

fn one_or_many<'a>(operand: &'a Json, matcher: &'static str) -> Result<Vec<&'a str>, ErrorKind> {
    Ok(one_or_many_values(operand, matcher)?
        .into_iter()
        .filter_map(|v| match v {
            Json::String(s) => Some(s.as_str()),
            _ => None,
        })
        .collect())
}

/// An anything-but number: any number a double holds exactly (`ComparableNumber.generate`).
fn comparable(text: &str) -> Result<f64, ErrorKind> {
    Number::from_text(text)
        .value
        .ok_or_else(|| ErrorKind::NotComparable(text.to_owned()))
}

/// A `numeric` operand: within ±5e9 and at most six decimals, as the user guide documents, and
/// comparable.
fn checked_number(text: &str) -> Result<f64, ErrorKind> {
    let number = Number::from_text(text);
    let magnitude = text.parse::<f64>().map(f64::abs).unwrap_or(f64::INFINITY);
    if magnitude > NUMERIC_LIMIT {
        return Err(ErrorKind::NumberOutOfRange(text.to_owned()));
    }
    if number.decimals() > 6 {
        return Err(ErrorKind::TooPrecise(text.to_owned()));
    }
    number.value.ok_or_else(|| ErrorKind::NotComparable(text.to_owned()))
}

fn numeric(operand: &Json) -> Result<NumericRange, ErrorKind> {
    let pairs_error = || ErrorKind::NumericPairs(shown(operand));
    let Json::Array(items) = operand else {
        return Err(pairs_error());
    };
    if items.is_empty() || items.len() % 2 != 0 {
        return Err(pairs_error());
    }
    let mut comparisons = Vec::with_capacity(items.len() / 2);
    for pair in items.chunks(2) {
        let [Json::String(operator), Json::Number(number)] = pair else {
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
                    lower: (*low_text).clone(),
                    upper: (*high_text).clone(),
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
