//! Differential test against moto's pattern matcher (`moto.events.models.EventPattern`, the
//! version pinned in scripts/tools-requirements.txt): thousands of seeded random (pattern, event)
//! pairs go to one Python process (tests/moto_oracle.py) as JSON lines, and every verdict must equal
//! ours, except where moto is known to contradict the AWS documentation (see [`MOTO_IS_WRONG`]).
//!
//! Patterns come only from the subset moto implements (every matcher, `$or`, nesting; no pattern
//! moto cannot parse). Events are random but planted with values derived from the pattern, so that
//! about half of the pairs match.
//!
//! `HERALD_PATTERN_CASES` sets the number of pairs (default 3000), `HERALD_PATTERN_SEED` the seed.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use event_pattern::Pattern;
use serde_json::{Map, Value, json};

type TestResult = Result<(), Box<dyn Error>>;

const DEFAULT_CASES: usize = 3000;
const DEFAULT_SEED: u64 = 0x4845_5241_4c44; // "HERALD"

/// Where moto's verdict contradicts the AWS documentation (or, where the guide is silent, the
/// engine behind EventBridge, aws/event-ruler), with the sentence or source that says so. Pairs
/// that fall under one of these are not compared; [`moto_is_wrong`] is the precise predicate.
const MOTO_IS_WRONG: [(Deviation, &str); 8] = [
    (
        Deviation::ObjectsInArrays,
        "moto flattens only nested objects, never arrays, so a pattern cannot reach the fields of \
         objects inside an event array. AWS, \"Arrays in Amazon EventBridge event patterns\": \"If the \
         value in the event is an array, then the event pattern matches if the intersection of the \
         event pattern array and the event array is non-empty.\" The engine's README (JSON Array \
         Matching): \"any contained objects are treated as if they are the value of the parent field.\"",
    ),
    (
        Deviation::NonLeafValues,
        "moto treats [], {} and arrays holding arrays or objects as leaf values, so `exists: true` \
         matches [] and anything-but matches {}. AWS, content filtering, exists matching: \"Exists \
         matching only works on leaf nodes. It does not work on intermediate nodes.\"",
    ),
    (
        Deviation::BooleansAsNumbers,
        "moto compares with Python, where True == 1 and a bool is an int, so [1] matches true and \
         numeric matches booleans. AWS, content filtering: \"Numeric matching works with values that \
         are JSON numbers.\" The engine's README (JSON text matching): \"xyz\", \"true\" \"would match \
         only the JSON literal true\".",
    ),
    (
        Deviation::CidrOnNumbers,
        "moto passes any value to Python's ipaddress.ip_address, which reads an integer (or a bool) as \
         an address, so 5 falls in 0.0.0.0/24; the engine instead walks a number's text through the \
         block's hexadecimal digits when the field has no numeric matcher (ByteMachine.transitionOn), \
         so 0.0.0.0/0 matches 5.5 but not -5.5. Neither is an address; the two disagree on numbers.",
    ),
    (
        Deviation::RepeatedPath,
        "moto requires every write of a field path to hold; the engine keeps the last write in document \
         order (JsonRuleCompiler.writeRules: rule.put(name, values)), whether the two are inside and \
         outside an $or alternative or plain duplicates.",
    ),
    (
        Deviation::NumericBeyondRange,
        "moto compares event numbers of any size. AWS, content filtering: numeric matching \"is limited \
         to values between -5.0e9 and +5.0e9 inclusive\" (the engine's README: \"Numeric matching is \
         limited to value between -5.0e9 and +5.0e9 inclusive\").",
    ),
    (
        Deviation::WildcardAcrossNewline,
        "moto turns `*` into the regex `.*`, whose `.` does not match a newline. AWS Compute Blog, \
         \"Filtering events in Amazon EventBridge with wildcard pattern matching\": \"Wildcard filters \
         use the wildcard character (*) to match zero, single, or multiple characters in a string \
         value.\"",
    ),
    (
        Deviation::AnythingButBooleans,
        "moto's anything-but uses Python equality, so {\"anything-but\": [1]} excludes true. AWS, \
         content filtering: \"You can use anything-but matching with strings and numeric values, \
         including lists that contain only strings, or only numbers.\" true is neither.",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deviation {
    ObjectsInArrays,
    NonLeafValues,
    BooleansAsNumbers,
    CidrOnNumbers,
    RepeatedPath,
    NumericBeyondRange,
    WildcardAcrossNewline,
    AnythingButBooleans,
}

#[test]
fn random_patterns_get_the_same_verdict_as_moto() -> TestResult {
    // Given seeded random pairs of (pattern, event)
    let cases: usize = env_number("HERALD_PATTERN_CASES")?
        .unwrap_or(DEFAULT_CASES as u64)
        .try_into()?;
    let seed = env_number("HERALD_PATTERN_SEED")?.unwrap_or(DEFAULT_SEED);
    let mut generator = Generator {
        rng: fastrand::Rng::with_seed(seed),
    };
    let pairs: Vec<(Value, Value)> = (0..cases)
        .map(|_| {
            let pattern = generator.pattern();
            let event = generator.event(&pattern);
            (pattern, event)
        })
        .collect();

    // When moto and this crate judge each of them
    let (moto_version, verdicts) = moto_verdicts(&pairs)?;
    // Per deviation: pairs excluded, and how many of those moto actually got wrong.
    let mut excluded = vec![(0usize, 0usize); MOTO_IS_WRONG.len()];
    let mut compared = 0usize;
    let mut matched = 0usize;
    let mut disagreements = Vec::new();
    for ((pattern, event), moto) in pairs.iter().zip(&verdicts) {
        let ours = Pattern::parse(pattern).map_err(|e| format!("generated an invalid pattern {pattern}: {e}"))?;
        let ours = ours.matches(event);
        let agrees = match moto.as_str() {
            "1" => ours,
            "0" => !ours,
            _ => false,
        };
        if let Some(deviation) = moto_is_wrong(pattern, event) {
            if let Some(i) = MOTO_IS_WRONG.iter().position(|(d, _)| *d == deviation) {
                excluded[i].0 += 1;
                excluded[i].1 += usize::from(!agrees);
            }
            continue;
        }
        compared += 1;
        matched += usize::from(ours);
        if !agrees {
            disagreements.push(format!(
                "pattern {pattern}\n  event {event}\n  moto {moto}, ours {ours}"
            ));
        }
    }

    // Then they agree on every pair moto judges as the AWS documentation says
    eprintln!(
        "{cases} pairs (seed {seed:#x}, {moto_version}): {compared} compared, {matched} of them matching; \
         excluded as moto deviations (pairs, of which moto got wrong): {:?}",
        MOTO_IS_WRONG.iter().map(|(d, _)| d).zip(&excluded).collect::<Vec<_>>()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with {moto_version} (seed {seed:#x}); first ones:\n{}",
        disagreements.len(),
        disagreements.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
    );
    // And the comparison is meaningful: most pairs compared, both verdicts well represented
    assert!(compared * 10 >= cases * 7, "only {compared} of {cases} pairs compared");
    assert!(
        matched * 5 >= compared && matched * 5 <= compared * 4,
        "{matched} of {compared} pairs matched"
    );
    Ok(())
}

fn env_number(name: &str) -> Result<Option<u64>, Box<dyn Error>> {
    match std::env::var(name) {
        Ok(text) => {
            let text = text.trim();
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            Ok(Some(parsed.map_err(|e| format!("{name}={text}: {e}"))?))
        }
        Err(_) => Ok(None),
    }
}

/// Sends every pair to one moto process and returns its version line and verdicts, in order.
fn moto_verdicts(pairs: &[(Value, Value)]) -> Result<(String, Vec<String>), Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python: PathBuf = root.join("../../.tools/bin/python");
    if !python.exists() {
        panic!(
            "moto is not installed at {}: run `make tools` at the workspace root (it installs the pinned \
             moto into .tools/; `make test` does it too)",
            python.display()
        );
    }
    let mut child = Command::new(&python)
        .arg(root.join("tests/moto_oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut input = String::new();
    for (pattern, event) in pairs {
        input.push_str(&json!({ "pattern": pattern, "event": event }).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().ok_or("no stdin for the moto oracle")?;
    // Write from another thread so that neither side can block on a full pipe.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let stdout = child.stdout.take().ok_or("no stdout for the moto oracle")?;
    let mut lines = BufReader::new(stdout).lines();
    let version = lines.next().ok_or("the moto oracle printed nothing")??;
    let verdicts = lines.collect::<Result<Vec<_>, _>>()?;
    writer.join().map_err(|_| "the writer thread panicked")??;
    let status = child.wait()?;
    if !status.success() || verdicts.len() != pairs.len() {
        return Err(format!(
            "the moto oracle ({}) exited with {status} after {} of {} verdicts; `make tools` reinstalls it",
            python.display(),
            verdicts.len(),
            pairs.len()
        )
        .into());
    }
    Ok((version, verdicts))
}

/// Whether the pair falls under one of the documented moto deviations.
fn moto_is_wrong(pattern: &Value, event: &Value) -> Option<Deviation> {
    let mut leaves = Vec::new();
    leaf_paths(pattern, &mut Vec::new(), &mut leaves);
    let repeated = leaves
        .iter()
        .enumerate()
        .any(|(i, (path, _))| leaves[..i].iter().any(|(other, _)| other == path));
    if repeated {
        return Some(Deviation::RepeatedPath);
    }
    leaves
        .into_iter()
        .find_map(|(path, allowed)| deviation_at(&path, allowed, event))
}

/// Every leaf of the pattern, with `$or` alternatives flattened into their enclosing level.
fn leaf_paths<'a>(pattern: &'a Value, path: &mut Vec<&'a str>, out: &mut Vec<(Vec<&'a str>, &'a [Value])>) {
    let Value::Object(fields) = pattern else { return };
    for (field, value) in fields {
        match value {
            Value::Array(alternatives) if field == "$or" => {
                for alternative in alternatives {
                    leaf_paths(alternative, path, out);
                }
            }
            Value::Array(allowed) => {
                path.push(field);
                out.push((path.clone(), allowed));
                path.pop();
            }
            nested => {
                path.push(field);
                leaf_paths(nested, path, out);
                path.pop();
            }
        }
    }
}

fn deviation_at(path: &[&str], allowed: &[Value], event: &Value) -> Option<Deviation> {
    let (leaf, parents) = path.split_last()?;
    let mut level = event;
    for field in parents {
        match level.get(field) {
            Some(next @ Value::Object(_)) => level = next,
            Some(Value::Array(items)) if holds_object(items) => return Some(Deviation::ObjectsInArrays),
            _ => return None,
        }
    }
    let value = level.get(leaf)?;
    let scalars: Vec<&Value> = match value {
        Value::Object(fields) if fields.is_empty() => return Some(Deviation::NonLeafValues),
        Value::Object(_) => return None,
        Value::Array(items) if items.is_empty() || items.iter().any(|i| i.is_array() || i.is_object()) => {
            return Some(Deviation::NonLeafValues);
        }
        Value::Array(items) => items.iter().collect(),
        scalar => vec![scalar],
    };
    // Python reads a bool as the int 0 or 1; the JSON integers are what ip_address accepts.
    let as_python_int = |s: &&Value| match *s {
        Value::Bool(b) => Some(u64::from(*b)),
        Value::Number(n) => n.as_u64(),
        _ => None,
    };
    let bools: Vec<f64> = scalars
        .iter()
        .filter_map(|s| s.as_bool())
        .map(|b| f64::from(u8::from(b)))
        .collect();
    for matcher in allowed {
        match matcher {
            Value::Number(n) if n.as_f64().is_some_and(|n| bools.contains(&n)) => {
                return Some(Deviation::BooleansAsNumbers);
            }
            Value::Bool(b) if scalars.iter().any(|s| s.as_f64() == Some(f64::from(u8::from(*b)))) => {
                return Some(Deviation::BooleansAsNumbers);
            }
            Value::Object(m) => {
                if let Some(Value::Array(terms)) = m.get("numeric") {
                    if bools.iter().any(|&b| numeric_holds(terms, b)) {
                        return Some(Deviation::BooleansAsNumbers);
                    }
                    let mut huge = scalars.iter().filter_map(|s| s.as_f64()).filter(|n| n.abs() > 5.0e9);
                    if huge.any(|n| numeric_holds(terms, n)) {
                        return Some(Deviation::NumericBeyondRange);
                    }
                }
                if let Some(Value::String(cidr)) = m.get("cidr")
                    && (scalars.iter().any(|s| s.is_number())
                        || scalars
                            .iter()
                            .filter_map(as_python_int)
                            .any(|n| cidr_holds_integer(cidr, n)))
                {
                    return Some(Deviation::CidrOnNumbers);
                }
                let wildcard = m.contains_key("wildcard")
                    || m.get("anything-but")
                        .is_some_and(|inner| inner.get("wildcard").is_some());
                if wildcard && scalars.iter().any(|s| s.as_str().is_some_and(|t| t.contains('\n'))) {
                    return Some(Deviation::WildcardAcrossNewline);
                }
                if let Some(excluded) = m.get("anything-but") {
                    let listed = |n: &f64| match excluded {
                        Value::Array(items) => items.iter().any(|i| i.as_f64() == Some(*n)),
                        single => single.as_f64() == Some(*n),
                    };
                    if bools.iter().any(listed) {
                        return Some(Deviation::AnythingButBooleans);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// moto's (Python's) verdict for `numeric` on one number.
fn numeric_holds(terms: &[Value], n: f64) -> bool {
    terms
        .chunks(2)
        .all(|pair| match (pair[0].as_str(), pair.get(1).and_then(Value::as_f64)) {
            (Some("<"), Some(v)) => n < v,
            (Some("<="), Some(v)) => n <= v,
            (Some("="), Some(v)) => n == v,
            (Some(">="), Some(v)) => n >= v,
            (Some(">"), Some(v)) => n > v,
            _ => false,
        })
}

/// Whether Python's `ip_address(n) in ip_network(cidr)` holds: integers below 2^32 are IPv4.
fn cidr_holds_integer(cidr: &str, n: u64) -> bool {
    let Some((network, length)) = cidr.split_once('/') else {
        return false;
    };
    let Ok(length) = length.parse::<u32>() else {
        return false;
    };
    match network.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) if n < 1 << 32 => {
            let mask = u32::MAX.checked_shl(32 - length).unwrap_or(0);
            (n as u32) & mask == u32::from(v4) & mask
        }
        Ok(std::net::IpAddr::V6(v6)) if n >= 1 << 32 => {
            let mask = u128::MAX.checked_shl(128 - length).unwrap_or(0);
            u128::from(n) & mask == u128::from(v6) & mask
        }
        _ => false,
    }
}

fn holds_object(items: &[Value]) -> bool {
    items.iter().any(|item| match item {
        Value::Object(_) => true,
        Value::Array(inner) => holds_object(inner),
        _ => false,
    })
}

/// Field names per level: the pattern and the event draw from the same few, so they meet often.
const TOP_FIELDS: [&str; 4] = ["source", "detail-type", "resources", "detail"];
const DETAIL_FIELDS: [&str; 6] = ["state", "total", "ip", "name", "tags", "meta"];
const META_FIELDS: [&str; 2] = ["version", "kind"];

const STRINGS: [&str; 22] = [
    "shop.orders",
    "Shop.Orders",
    "shop.payments",
    "order",
    "ORDER-1",
    "",
    "running",
    "Running",
    "initializing",
    "stopped",
    "10.0.0.5",
    "10.0.1.7",
    "192.168.1.20",
    "2001:db8::1",
    "2001:db9::5",
    "a*b",
    "a\\b",
    "dir/sub/x.png",
    "x.PNG",
    "Ümlaut-été",
    "line\nbreak",
    "tab\tstop",
];
const NUMBERS: [f64; 12] = [
    0.0,
    1.0,
    -1.0,
    5.0,
    5.5,
    300.0,
    301.8,
    -3.25,
    4_999_999_999.0,
    5.0e9,
    6.0e9,
    1.0e12,
];
const CIDRS: [&str; 7] = [
    "10.0.0.0/24",
    "10.0.0.0/8",
    "10.0.1.0/24",
    "192.168.0.0/16",
    "0.0.0.0/0",
    "2001:db8::/32",
    "2001:db8::/64",
];

struct Generator {
    rng: fastrand::Rng,
}

impl Generator {
    fn chance(&mut self, percent: u32) -> bool {
        self.rng.u32(..100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.usize(..items.len())]
    }

    fn fields_at(depth: usize) -> &'static [&'static str] {
        match depth {
            0 => &TOP_FIELDS,
            1 => &DETAIL_FIELDS,
            _ => &META_FIELDS,
        }
    }

    // ---- patterns ------------------------------------------------------------------------------

    fn pattern(&mut self) -> Value {
        Value::Object(self.pattern_level(0, 0))
    }

    fn pattern_level(&mut self, depth: usize, or_depth: usize) -> Map<String, Value> {
        let mut level = Map::new();
        let fields = Self::fields_at(depth);
        for _ in 0..self.rng.usize(1..=3) {
            let field = self.pick(fields);
            let descends = depth < 2 && matches!(field, "detail" | "meta") && self.chance(85);
            let value = if descends || (depth < 2 && self.chance(4)) {
                Value::Object(self.pattern_level(depth + 1, or_depth))
            } else {
                self.leaf()
            };
            level.insert(field.to_owned(), value);
        }
        if or_depth < 2 && self.chance(12) {
            let alternatives = (0..self.rng.usize(2..=3))
                .map(|_| Value::Object(self.pattern_level(depth, or_depth + 1)))
                .collect();
            level.insert("$or".to_owned(), Value::Array(alternatives));
        }
        level
    }

    fn leaf(&mut self) -> Value {
        Value::Array((0..self.rng.usize(1..=3)).map(|_| self.matcher()).collect())
    }

    fn matcher(&mut self) -> Value {
        match self.rng.u32(..15) {
            0..=2 => self.scalar(),
            3 => json!({ "prefix": self.affix(true) }),
            4 => json!({ "prefix": { "equals-ignore-case": self.affix(true) } }),
            5 => json!({ "suffix": self.affix(false) }),
            6 => json!({ "suffix": { "equals-ignore-case": self.affix(false) } }),
            7 => json!({ "equals-ignore-case": self.string() }),
            8 => json!({ "wildcard": self.wildcard() }),
            9 | 10 => json!({ "anything-but": self.anything_but() }),
            11 | 12 => json!({ "numeric": self.numeric() }),
            13 => json!({ "exists": self.chance(50) }),
            _ => json!({ "cidr": self.pick(&CIDRS) }),
        }
    }

    fn string(&mut self) -> String {
        let s = self.pick(&STRINGS);
        if self.chance(30) { swap_case(s) } else { s.to_owned() }
    }

    fn number(&mut self) -> Value {
        let n = self.pick(&NUMBERS);
        if n.fract() == 0.0 && n.abs() < 1e15 && self.chance(50) {
            json!(n as i64)
        } else {
            json!(n)
        }
    }

    /// A number `numeric` and `anything-but` accept (within ±5e9).
    fn small_number(&mut self) -> Value {
        loop {
            let n = self.number();
            if n.as_f64().is_some_and(|f| f.abs() <= 5.0e9) {
                return n;
            }
        }
    }

    fn scalar(&mut self) -> Value {
        match self.rng.u32(..10) {
            0..=4 => Value::String(self.string()),
            5..=7 => self.number(),
            8 => Value::Bool(self.chance(50)),
            _ => Value::Null,
        }
    }

    /// A prefix (or suffix) of a pool string; possibly empty.
    fn affix(&mut self, prefix: bool) -> String {
        let chars: Vec<char> = self.string().chars().collect();
        let n = self.rng.usize(0..=chars.len());
        if prefix {
            chars[..n].iter().collect()
        } else {
            chars[chars.len() - n..].iter().collect()
        }
    }

    /// A valid wildcard made from a pool string: some characters become `*` (never two in a row),
    /// literal `*` and `\` are escaped.
    fn wildcard(&mut self) -> String {
        let mut out = String::new();
        let mut last_star = false;
        for c in self.string().chars() {
            if !last_star && self.chance(25) {
                out.push('*');
                last_star = true;
                if self.chance(50) {
                    continue;
                }
            }
            if matches!(c, '*' | '\\') {
                out.push('\\');
            }
            out.push(c);
            last_star = false;
        }
        if !last_star && self.chance(20) {
            out.push('*');
        }
        out
    }

    fn non_empty_affix(&mut self, prefix: bool) -> String {
        loop {
            let affix = self.affix(prefix);
            if !affix.is_empty() {
                return affix;
            }
        }
    }

    fn anything_but(&mut self) -> Value {
        match self.rng.u32(..8) {
            0 => Value::String(self.string()),
            1 => self.small_number(),
            2 => Value::Array(
                (0..self.rng.usize(1..=3))
                    .map(|_| Value::String(self.string()))
                    .collect(),
            ),
            3 => Value::Array((0..self.rng.usize(1..=3)).map(|_| self.small_number()).collect()),
            4 => json!({ "prefix": self.non_empty_affix(true) }),
            5 => json!({ "suffix": self.non_empty_affix(false) }),
            6 if self.chance(50) => json!({ "equals-ignore-case": self.string() }),
            6 => json!({ "equals-ignore-case": (0..self.rng.usize(1..=3)).map(|_| self.string()).collect::<Vec<_>>() }),
            _ if self.chance(50) => json!({ "wildcard": self.wildcard() }),
            _ => json!({ "wildcard": (0..self.rng.usize(1..=2)).map(|_| self.wildcard()).collect::<Vec<_>>() }),
        }
    }

    fn numeric(&mut self) -> Value {
        let a = self.small_number();
        if self.chance(50) {
            let operator = self.pick(&["<", "<=", "=", ">=", ">"]);
            return json!([operator, a]);
        }
        loop {
            let b = self.small_number();
            if a.as_f64() < b.as_f64() {
                return json!([self.pick(&[">", ">="]), a, self.pick(&["<", "<="]), b]);
            }
            if a.as_f64() > b.as_f64() {
                return json!([self.pick(&[">", ">="]), b, self.pick(&["<", "<="]), a]);
            }
        }
    }

    // ---- events --------------------------------------------------------------------------------

    /// A random event, then values derived from the pattern planted at most of its leaves.
    fn event(&mut self, pattern: &Value) -> Value {
        let mut event = self.event_level(0);
        let mut leaves = Vec::new();
        leaf_paths(pattern, &mut Vec::new(), &mut leaves);
        for (path, allowed) in leaves {
            if self.chance(75) {
                let matcher = allowed[self.rng.usize(..allowed.len())].clone();
                let planted = self.value_for(&matcher);
                plant(&mut event, &path, planted);
            }
        }
        event
    }

    fn event_level(&mut self, depth: usize) -> Value {
        let mut level = Map::new();
        for &field in Self::fields_at(depth) {
            if !self.chance(60) {
                continue;
            }
            let value = if depth < 2 && matches!(field, "detail" | "meta") && self.chance(85) {
                self.event_level(depth + 1)
            } else {
                self.event_value(depth)
            };
            level.insert(field.to_owned(), value);
        }
        Value::Object(level)
    }

    fn event_value(&mut self, depth: usize) -> Value {
        match self.rng.u32(..100) {
            0..=64 => self.scalar(),
            65..=84 => Value::Array((0..self.rng.usize(1..=3)).map(|_| self.scalar()).collect()),
            85..=88 => json!([]),
            89..=91 => json!({}),
            92..=94 => json!([[self.scalar()], self.scalar()]),
            _ if depth < 2 => json!([self.event_level(depth + 1), self.event_level(depth + 1)]),
            _ => self.scalar(),
        }
    }

    /// A value that likely satisfies the matcher (sometimes one that just misses, or `None` to
    /// remove the field for `exists: false`).
    fn value_for(&mut self, matcher: &Value) -> Option<Value> {
        let near = |g: &mut Self, s: &str| -> String {
            match g.rng.u32(..4) {
                0 => swap_case(s),
                1 => format!("{s}x"),
                _ => s.to_owned(),
            }
        };
        let value = match matcher {
            Value::Object(m) => {
                let (name, operand) = m.iter().next()?;
                match (name.as_str(), operand) {
                    ("prefix", Value::String(p)) => Value::String(format!("{}{}", near(self, p), self.string())),
                    ("prefix", Value::Object(o)) => {
                        let p = o.values().next()?.as_str()?;
                        Value::String(format!("{}{}", swap_case(p), self.string()))
                    }
                    ("suffix", Value::String(s)) => Value::String(format!("{}{}", self.string(), near(self, s))),
                    ("suffix", Value::Object(o)) => {
                        let s = o.values().next()?.as_str()?;
                        Value::String(format!("{}{}", self.string(), swap_case(s)))
                    }
                    ("equals-ignore-case", Value::String(s)) => Value::String(near(self, s)),
                    ("wildcard", Value::String(w)) => Value::String(self.instance_of(w)),
                    ("anything-but", excluded) => self.near_excluded(excluded),
                    ("numeric", Value::Array(terms)) => self.number_near(terms),
                    ("exists", Value::Bool(true)) => self.scalar(),
                    ("exists", _) => return None,
                    ("cidr", Value::String(c)) => Value::String(address_in(c, self.rng.u8(..))),
                    _ => self.scalar(),
                }
            }
            Value::Number(n) if self.chance(30) => json!(n.as_f64()),
            exact => exact.clone(),
        };
        Some(if self.chance(20) {
            json!([self.scalar(), value])
        } else {
            value
        })
    }

    fn instance_of(&mut self, wildcard: &str) -> String {
        let mut out = String::new();
        let mut chars = wildcard.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    for _ in 0..self.rng.usize(0..3) {
                        out.push(self.pick(&['x', '*', '/', 'é']));
                    }
                }
                '\\' => out.extend(chars.next()),
                other => out.push(other),
            }
        }
        out
    }

    fn near_excluded(&mut self, excluded: &Value) -> Value {
        if self.chance(40) {
            return self.scalar();
        }
        match excluded {
            Value::Array(items) if !items.is_empty() => items[self.rng.usize(..items.len())].clone(),
            Value::Object(m) => match m.iter().next() {
                Some((name, Value::String(s))) if name == "prefix" => Value::String(format!("{s}{}", self.string())),
                Some((name, Value::String(s))) if name == "suffix" => Value::String(format!("{}{s}", self.string())),
                Some((name, Value::String(s))) if name == "wildcard" => Value::String(self.instance_of(s)),
                Some((_, Value::String(s))) => Value::String(swap_case(s)),
                Some((name, Value::Array(items))) if !items.is_empty() => {
                    let item = items[self.rng.usize(..items.len())]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    Value::String(if name == "wildcard" {
                        self.instance_of(&item)
                    } else {
                        swap_case(&item)
                    })
                }
                _ => self.scalar(),
            },
            single => single.clone(),
        }
    }

    fn number_near(&mut self, terms: &[Value]) -> Value {
        let bounds: Vec<f64> = terms.iter().filter_map(Value::as_f64).collect();
        let base = bounds.first().copied().unwrap_or(0.0);
        match self.rng.u32(..5) {
            0 => json!(base),
            1 => json!(base + 0.5),
            2 => json!(base - 1.0),
            3 if bounds.len() == 2 => json!((bounds[0] + bounds[1]) / 2.0),
            _ => self.number(),
        }
    }
}

/// Sets `path` in the event to `value` (creating objects on the way), or removes it for `None`.
fn plant(event: &mut Value, path: &[&str], value: Option<Value>) {
    let Some((leaf, parents)) = path.split_last() else {
        return;
    };
    let mut level = event;
    for field in parents {
        let Value::Object(fields) = level else { return };
        let next = fields.entry(field.to_string()).or_insert_with(|| json!({}));
        if !next.is_object() {
            *next = json!({});
        }
        level = next;
    }
    if let Value::Object(fields) = level {
        match value {
            Some(value) => {
                fields.insert(leaf.to_string(), value);
            }
            None => {
                fields.remove(*leaf);
            }
        }
    }
}

fn swap_case(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let flipped: Vec<char> = if c.is_uppercase() {
                c.to_lowercase().collect()
            } else {
                c.to_uppercase().collect()
            };
            flipped
        })
        .collect()
}

/// An address inside the block, varying the last byte.
fn address_in(cidr: &str, last: u8) -> String {
    let network = cidr.split('/').next().unwrap_or_default();
    if network.contains(':') {
        format!("{}{last:x}", network.trim_end_matches(':').to_owned() + "::")
    } else {
        let mut octets: Vec<&str> = network.split('.').collect();
        let last = last.to_string();
        if let Some(slot) = octets.last_mut() {
            *slot = &last;
        }
        octets.join(".")
    }
}
