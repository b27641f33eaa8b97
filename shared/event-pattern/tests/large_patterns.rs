//! Patterns whose `$or`s multiply out beyond what any machine could hold one by one.
//!
//! EventBridge bounds a pattern by its size only (the quotas page: "Event pattern size", 2,048 by
//! default, adjustable, "Maximum size of an event pattern, in characters"), and aws/event-ruler
//! multiplies every `$or` out without a bound of its own. So a rule EventBridge accepts can stand
//! for more sub-rules than there are atoms; this crate must still accept it and answer exactly.
//! Beyond 1000 sub-rules the crate keeps the pattern as written; the crate's own tests compare
//! that form with the multiplied-out one on small and random patterns, and these tests hold it to
//! answers worked out by hand where multiplying out is impossible.

use std::error::Error;

use event_pattern::{ErrorKind, Pattern};

type TestResult = Result<(), Box<dyn Error>>;

/// EventBridge's default quota on a pattern's size, in characters.
const SIZE_QUOTA: usize = 2048;

/// `count` fields `a0`, `a1`, … each holding a two-way `$or` (`x` is its number, or `y` starts
/// with `p`): 2^count sub-rules.
fn ors(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!(r#""a{i}":{{"$or":[{{"x":[{i}]}},{{"y":[{{"prefix":"p"}}]}}]}}"#))
        .collect()
}

/// An event giving each `aN` the JSON that `value(N)` writes.
fn event(count: usize, value: impl Fn(usize) -> String, rest: &str) -> String {
    let mut fields: Vec<String> = (0..count).map(|i| format!(r#""a{i}":{}"#, value(i))).collect();
    if !rest.is_empty() {
        fields.push(rest.to_owned());
    }
    format!("{{{}}}", fields.join(","))
}

/// An event giving each `aN` `{"x": N}`, except `a<at>`, which gets `value`.
fn x_except(count: usize, at: usize, value: &str) -> String {
    event(
        count,
        |i| {
            if i == at {
                value.to_owned()
            } else {
                format!(r#"{{"x":{i}}}"#)
            }
        },
        "",
    )
}

#[test]
fn a_pattern_within_the_size_quota_is_accepted_however_far_its_ors_multiply_out() -> TestResult {
    // Given 40 two-way `$or`s side by side: 2^40 sub-rules, in under 2,048 characters
    let count = 40;
    let text = format!("{{{}}}", ors(count).join(","));
    assert!(text.len() <= SIZE_QUOTA, "{} characters", text.len());
    let pattern = Pattern::parse_str(&text)?;

    // Then each sub-rule is judged as if it had been multiplied out
    let every_x = event(count, |i| format!(r#"{{"x":{i}}}"#), "");
    assert!(
        pattern.matches_str(&every_x)?,
        "x everywhere takes the first alternatives"
    );
    let one_y = x_except(count, 7, r#"{"y":"pq"}"#);
    assert!(pattern.matches_str(&one_y)?, "one y takes a second alternative");
    let one_neither = x_except(count, 7, r#"{"y":"q"}"#);
    assert!(!pattern.matches_str(&one_neither)?, "a7 satisfies neither alternative");
    let one_missing = event(count, |i| format!(r#"{{"x":{i}}}"#), "").replace(r#""a39":{"x":39}"#, r#""b":1"#);
    assert!(!pattern.matches_str(&one_missing)?, "a39 is absent");
    let both = event(count, |i| format!(r#"{{"x":{i},"y":"p"}}"#), "");
    assert!(pattern.matches_str(&both)?);
    assert!(
        pattern.matches(&serde_json::from_str(&both)?),
        "a Value gets the text's answer"
    );
    Ok(())
}

#[test]
fn values_in_arrays_of_objects_keep_array_consistency_in_a_pattern_too_large_to_multiply_out() -> TestResult {
    // Given 50 two-way `$or`s and, after them, a sku and a quantity that must sit in one line
    let count = 50;
    let mut fields = ors(count);
    fields.push(r#""lines":{"sku":["A"],"qty":[2]}"#.to_owned());
    let pattern = Pattern::parse_str(&format!("{{{}}}", fields.join(",")))?;

    // When every `aN` is an array of objects where both alternatives can hold (2^50 ways through)
    let both_in_arrays = |i: usize| format!(r#"[{{"x":{i}}},{{"y":"p"}}]"#);

    // Then the line decides, and a wrong line is found without trying every way through
    let one_line = event(count, both_in_arrays, r#""lines":[{"sku":"A","qty":2}]"#);
    assert!(pattern.matches_str(&one_line)?);
    let split = event(
        count,
        both_in_arrays,
        r#""lines":[{"sku":"A","qty":1},{"sku":"B","qty":2}]"#,
    );
    assert!(
        !pattern.matches_str(&split)?,
        "sku A and quantity 2 sit in different lines"
    );
    Ok(())
}

#[test]
fn array_consistency_inside_one_alternative_is_kept_in_a_pattern_too_large_to_multiply_out() -> TestResult {
    // Given 40 `$or`s whose first alternative needs two fields of one array element
    let count = 40;
    let fields: Vec<String> = (0..count)
        .map(|i| format!(r#""a{i}":{{"$or":[{{"x":[{i}],"z":[{i}]}},{{"y":["p"]}}]}}"#))
        .collect();
    let pattern = Pattern::parse_str(&format!("{{{}}}", fields.join(",")))?;

    // Then x and z in one element match, and in two elements do not
    let together = event(count, |i| format!(r#"[{{"x":{i},"z":{i}}}]"#), "");
    assert!(pattern.matches_str(&together)?);
    let apart = event(count, |i| format!(r#"[{{"x":{i}}},{{"z":{i}}}]"#), "");
    assert!(!pattern.matches_str(&apart)?, "x and z sit in different elements");
    let apart_but_y = event(
        count,
        |i| {
            if i == 39 {
                r#"[{"x":39},{"z":39},{"y":"p"}]"#.into()
            } else {
                format!(r#"[{{"x":{i},"z":{i}}}]"#)
            }
        },
        "",
    );
    assert!(pattern.matches_str(&apart_but_y)?, "a39 takes its second alternative");
    Ok(())
}

#[test]
fn a_sub_rule_of_more_than_256_fields_is_refused_in_a_pattern_too_large_to_multiply_out() -> TestResult {
    // Given 250 plain fields next to 11 two-way `$or`s: 2,048 sub-rules of 261 fields each
    let mut fields: Vec<String> = (0..250).map(|i| format!(r#""f{i}":[0]"#)).collect();
    fields.extend(ors(11));
    let refused = Pattern::parse_str(&format!("{{{}}}", fields.join(",")));

    // Then it is refused as the engine refuses a rule of more than 256 fields
    let error = refused.err().ok_or("accepted")?;
    assert!(matches!(error.kind(), ErrorKind::TooManyFields(261, 256)), "{error}");
    Ok(())
}

#[test]
fn a_path_written_again_inside_an_or_counts_once_towards_the_256_fields() -> TestResult {
    // Given 250 plain fields next to 11 `$or`s whose alternatives write f0 or f1 again
    let mut fields: Vec<String> = (0..250).map(|i| format!(r#""f{i}":[0]"#)).collect();
    fields.extend((0..11).map(|i| format!(r#""$or":[{{"f0":[{i}]}},{{"f1":[{i}]}}]"#)));
    let pattern = Pattern::parse_str(&format!("{{{}}}", fields.join(",")))?;

    // Then every sub-rule has 250 fields, and the last write of f0 and f1 is the one tested
    let plain: Vec<String> = (2..250).map(|i| format!(r#""f{i}":0"#)).collect();
    let with = |f0: usize, f1: usize| format!(r#"{{"f0":{f0},"f1":{f1},{}}}"#, plain.join(","));
    assert!(
        pattern.matches_str(&with(10, 0))?,
        "every $or writes f0, so f1 keeps its first write"
    );
    assert!(!pattern.matches_str(&with(10, 10))?, "only the last $or writes 10");
    assert!(
        !pattern.matches_str(&with(0, 0))?,
        "every way through rewrites f0 or f1 away from 0"
    );
    assert!(
        pattern.matches_str(&with(10, 9))?,
        "f0 from the last $or, f1 from the one before it"
    );
    Ok(())
}
