//! Where the AWS user guide is silent, EventBridge answers as its engine, aws/event-ruler 2.0.1,
//! does. One test per class of behaviour; each case is a sentence, the pattern and the event as
//! JSON text (so that numbers keep their spelling), and the engine's verdict. The verdicts were
//! taken from event-ruler 2.0.1 itself (built from its source, `Machine.rulesForJSONEvent`) and are
//! tied to the source or unit test that explains them.

use std::error::Error;

use event_pattern::{LintKind, Pattern};
use serde_json::json;

type TestResult = Result<(), Box<dyn Error>>;

/// `(sentence, pattern, event, engine's verdict)`.
type Case = (&'static str, &'static str, &'static str, bool);

fn check(cases: &[Case]) -> TestResult {
    let mut wrong = Vec::new();
    for (name, pattern, event, verdict) in cases {
        let pattern = Pattern::parse_str(pattern).map_err(|e| format!("{name}: {e}"))?;
        if pattern.matches_str(event)? != *verdict {
            wrong.push(*name);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases differ from the engine: {wrong:#?}",
        wrong.len(),
        cases.len()
    );
    Ok(())
}

#[test]
fn anything_but_takes_a_list_of_prefixes_or_suffixes() -> TestResult {
    // JsonRuleCompiler.processAnythingButValuesSetMatchExpression; ByteMachineTest
    // testAnythingButPrefixSet / testAnythingButSuffixSet.
    check(&[
        (
            "a value with one of the prefixes is excluded",
            r#"{"a": [{"anything-but": {"prefix": ["x", "y"]}}]}"#,
            r#"{"a": "yes"}"#,
            false,
        ),
        (
            "a value with none of the prefixes matches",
            r#"{"a": [{"anything-but": {"prefix": ["x", "y"]}}]}"#,
            r#"{"a": "zed"}"#,
            true,
        ),
        (
            "a value with one of the suffixes is excluded",
            r#"{"a": [{"anything-but": {"suffix": ["x", "y"]}}]}"#,
            r#"{"a": "zedy"}"#,
            false,
        ),
        (
            "a number is never excluded by a prefix",
            r#"{"a": [{"anything-but": {"prefix": "x"}}]}"#,
            r#"{"a": 5}"#,
            true,
        ),
    ])
}

#[test]
fn dotted_field_names_and_nested_paths_are_the_same_field() -> TestResult {
    // Event.traverseObject joins names with "." (Path.extendedName); GenericMachine.isFieldStepUsed
    // ("rule: {"a.b" : [123]} and {"a" : { "b" : [123] }} will both result ..."); JsonRuleCompiler
    // writeRules puts each path once per sub-rule, the last write winning.
    check(&[
        (
            "a dotted pattern name reaches a nested field",
            r#"{"a.b": ["x"]}"#,
            r#"{"a": {"b": "x"}}"#,
            true,
        ),
        (
            "a nested pattern reaches a dotted event name",
            r#"{"a": {"b": ["x"]}}"#,
            r#"{"a.b": "x"}"#,
            true,
        ),
        (
            "dots split anywhere",
            r#"{"a": {"b.c": ["x"]}}"#,
            r#"{"a.b": {"c": "x"}}"#,
            true,
        ),
        (
            "exists false sees a dotted event name",
            r#"{"a": {"b": [{"exists": false}]}}"#,
            r#"{"a.b": "x"}"#,
            false,
        ),
        (
            "values of one path may come from a dotted name and from an array of objects",
            r#"{"a": {"b": [1], "c": [2]}}"#,
            r#"{"a": [{"b": 1}], "a.c": 2}"#,
            true,
        ),
        (
            "a path and its parent are separate fields; a scalar in an array is in no element",
            r#"{"a": [1], "a.b": [2]}"#,
            r#"{"a": [1, {"b": 2}]}"#,
            true,
        ),
        (
            "the last write of a path wins",
            r#"{"a": {"b": ["x"]}, "a.b": ["y"]}"#,
            r#"{"a": {"b": "y"}}"#,
            true,
        ),
        (
            "the last write of a path wins, reversed",
            r#"{"a.b": ["y"], "a": {"b": ["x"]}}"#,
            r#"{"a": {"b": "y"}}"#,
            false,
        ),
        (
            "a field after an $or replaces the alternatives' own",
            r#"{"$or": [{"a": ["y"]}, {"b": ["z"]}], "a": ["x"]}"#,
            r#"{"a": "y"}"#,
            false,
        ),
        (
            "an alternative's field replaces the one written before the $or",
            r#"{"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]}"#,
            r#"{"a": "y"}"#,
            true,
        ),
        (
            "$or that is not an array of alternatives is an ordinary field (the legacy RuleCompiler)",
            r#"{"$or": {"a": ["y"]}}"#,
            r#"{"$or": {"a": "y"}}"#,
            true,
        ),
    ])
}

#[test]
fn case_is_ignored_per_utf16_unit_with_the_patterns_own_lowercase_and_uppercase() -> TestResult {
    // input/EqualsIgnoreCaseParser.parse: per UTF-16 char, the UTF-8 bytes of toLowerCase(ROOT)
    // or of toUpperCase(ROOT); the event value is not folded. EqualsIgnoreCaseParserTest.
    let eic = |s: &str| json!({ "a": [{ "equals-ignore-case": s }] }).to_string();
    let cases: Vec<(String, String, bool, &str)> = vec![
        (
            eic("straße"),
            r#"{"a": "STRASSE"}"#.into(),
            true,
            "ß accepts its uppercase SS",
        ),
        (
            eic("straße"),
            r#"{"a": "strasse"}"#.into(),
            false,
            "ß does not accept ss",
        ),
        (
            eic("STRASSE"),
            r#"{"a": "straße"}"#.into(),
            false,
            "SS does not accept ß",
        ),
        (eic("ı"), r#"{"a": "I"}"#.into(), true, "dotless ı accepts I"),
        (eic("I"), r#"{"a": "ı"}"#.into(), false, "I does not accept dotless ı"),
        (eic("µ"), r#"{"a": "Μ"}"#.into(), true, "micro sign accepts capital mu"),
        (
            eic("µ"),
            r#"{"a": "μ"}"#.into(),
            false,
            "micro sign does not accept small mu",
        ),
        (
            eic("ǅ"),
            r#"{"a": "ǅ"}"#.into(),
            false,
            "a titlecase letter accepts only its lower and upper forms",
        ),
        (
            eic("a😀"),
            r#"{"a": "A😀"}"#.into(),
            false,
            "a character outside the BMP never matches itself",
        ),
        (eic("a😀"), r#"{"a": "a??"}"#.into(), true, "each half of it matches ?"),
        (
            json!({ "a": [{ "prefix": { "equals-ignore-case": "ß" } }] }).to_string(),
            r#"{"a": "SSx"}"#.into(),
            true,
            "prefix folding works the same way",
        ),
        (
            json!({ "a": [{ "anything-but": { "equals-ignore-case": "ß" } }] }).to_string(),
            r#"{"a": "SS"}"#.into(),
            false,
            "anything-but folding works the same way",
        ),
    ];
    let mut wrong = Vec::new();
    for (pattern, event, verdict, name) in &cases {
        if Pattern::parse_str(pattern)?.matches_str(event)? != *verdict {
            wrong.push(*name);
        }
    }
    assert!(wrong.is_empty(), "differ from the engine: {wrong:#?}");
    Ok(())
}

#[test]
fn exists_false_next_to_an_array_of_objects_depends_on_the_order_of_paths() -> TestResult {
    // StructuredFinder.handleAbsence / NameState.getNameTransitions(event, membership): absence is
    // judged against the array elements taken by the paths that sort before it.
    check(&[
        (
            "a path sorted before binds the element: absent there is absent",
            r#"{"a": {"b": [1], "c": [{"exists": false}]}}"#,
            r#"{"a": [{"b": 1}, {"c": 5}]}"#,
            true,
        ),
        (
            "nothing bound yet: present in any element is present",
            r#"{"a": {"z": [1], "c": [{"exists": false}]}}"#,
            r#"{"a": [{"z": 1}, {"c": 5}]}"#,
            false,
        ),
        (
            "alone, it needs the field absent from every element",
            r#"{"a": {"c": [{"exists": false}]}}"#,
            r#"{"a": [{"z": 1}, {"c": 5}]}"#,
            false,
        ),
        (
            "absent from every element is absent",
            r#"{"a": {"c": [{"exists": false}]}}"#,
            r#"{"a": [{"z": 1}, {"z": 5}]}"#,
            true,
        ),
    ])
}

#[test]
fn numbers_are_read_from_their_text() -> TestResult {
    // ComparableNumber.generate (BigDecimal, then doubleValue, then the exact-decimal check);
    // JsonRuleCompiler.writeRules registers numericEquals and the literal text; ByteMachine
    // transitionOn matches a comparable number by value, any other by its text.
    check(&[
        (
            "a number no double can hold equals its own spelling",
            r#"{"a": [1e400]}"#,
            r#"{"a": 1e400}"#,
            true,
        ),
        (
            "but not another spelling of it",
            r#"{"a": [1e400]}"#,
            r#"{"a": 1E400}"#,
            false,
        ),
        (
            "100.00000000000001 is not 100",
            r#"{"a": [100.00000000000001]}"#,
            r#"{"a": 100}"#,
            false,
        ),
        (
            "100 is not 100.00000000000001",
            r#"{"a": [100]}"#,
            r#"{"a": 100.00000000000001}"#,
            false,
        ),
        (
            "a number beyond a double's digits is its text",
            r#"{"a": [100.000000000000001]}"#,
            r#"{"a": 100}"#,
            false,
        ),
        (
            "a 17-digit integer no double holds equals itself",
            r#"{"a": [12345678901234567]}"#,
            r#"{"a": 12345678901234567}"#,
            true,
        ),
        ("3.0e2 is 300", r#"{"a": [300]}"#, r#"{"a": 3.0e2}"#, true),
        (
            "numeric = 1.000001 is not 1.0000010000000001",
            r#"{"a": [{"numeric": ["=", 1.000001]}]}"#,
            r#"{"a": 1.0000010000000001}"#,
            false,
        ),
        (
            "numeric never compares a number more precise than a double",
            r#"{"a": [{"numeric": [">", 0]}]}"#,
            r#"{"a": 1.00000000000000000001}"#,
            false,
        ),
        (
            "anything-but never excludes a number more precise than a double",
            r#"{"a": [{"anything-but": [5]}]}"#,
            r#"{"a": 5.00000000000000000001}"#,
            true,
        ),
        (
            "anything-but numbers have no range limit",
            r#"{"a": [{"anything-but": 6e9}]}"#,
            r#"{"a": 6e9}"#,
            false,
        ),
    ])?;
    // And a pattern number the engine cannot compare is refused in anything-but, not "not JSON".
    assert!(Pattern::parse_str(r#"{"a": [1e400]}"#).is_ok());
    let refused = Pattern::parse_str(r#"{"a": [{"anything-but": 0.1000000000000000001}]}"#).err();
    assert!(refused.is_some_and(|e| e.to_string().contains("cannot be compared as a number")));
    let too_precise = Pattern::parse_str(r#"{"a": [{"numeric": ["=", 1.0000010000000001]}]}"#).err();
    assert!(too_precise.is_some_and(|e| e.to_string().contains("more than 6 decimal places")));
    Ok(())
}

#[test]
fn addresses_are_read_as_the_engine_reads_them() -> TestResult {
    // CIDR.ipToBytes (Constants.IPv4_REGEX / IPv6_REGEX, then InetAddress, which turns an
    // IPv4-mapped address into IPv4), CIDR.cidr, CIDR.ipToRangeIfPossible; CIDRTest.
    let cidr = |c: &str| json!({ "a": [{ "cidr": c }] }).to_string();
    let exact = |s: &str| json!({ "a": [s] }).to_string();
    let event = |v: &str| json!({ "a": v }).to_string();
    let cases = [
        (
            cidr("10.0.0.0/8"),
            event("10.0.0.01"),
            true,
            "leading zeros are decimal",
        ),
        (
            cidr("10.0.0.0/8"),
            event("010.000.000.001"),
            true,
            "up to 15 characters",
        ),
        (cidr("10.0.0.0/8"), event("10.0.0.256"), false, "each part at most 255"),
        (
            cidr("10.0.0.0/8"),
            event("::ffff:a00:1"),
            true,
            "IPv4-mapped IPv6 is IPv4",
        ),
        (
            cidr("10.0.0.0/8"),
            event("::ffff:10.0.0.1"),
            false,
            "dotted IPv6 is no address",
        ),
        (
            cidr("2001:db8::/32"),
            event("2001:db8::1.2.3.4"),
            false,
            "dotted IPv6 is no address",
        ),
        (
            cidr("2001:db8::/32"),
            event("2001:DB8::1"),
            true,
            "hex digits in any case",
        ),
        (
            cidr("10.0.0.0/8"),
            event("a00::1"),
            true,
            "an IPv4 block compares the first 32 bits",
        ),
        (
            cidr("10.0.0.1/8"),
            event("10.200.0.1"),
            true,
            "host bits of the block are ignored",
        ),
        (
            cidr("10.0.0.0/8/"),
            event("10.0.0.1"),
            true,
            "a trailing slash is dropped",
        ),
        (
            exact("10.0.0.1"),
            event("10.0.0.01"),
            true,
            "an exact address matches its spellings",
        ),
        (
            exact("10.0.0.1"),
            event("::ffff:a00:1"),
            true,
            "an exact address matches its mapped form",
        ),
        (
            exact("2001:db8::1"),
            event("2001:0db8:0:0:0:0:0:1"),
            true,
            "an exact IPv6 address too",
        ),
    ];
    let mut wrong = Vec::new();
    for (pattern, event, verdict, name) in &cases {
        if Pattern::parse_str(pattern)?.matches_str(event)? != *verdict {
            wrong.push(*name);
        }
    }
    assert!(wrong.is_empty(), "differ from the engine: {wrong:#?}");
    // A number's text walks the block's digits when the field has no numeric matcher.
    assert!(Pattern::parse_str(&cidr("0.0.0.0/0"))?.matches_str(r#"{"a": 5.5}"#)?);
    assert!(!Pattern::parse_str(&cidr("0.0.0.0/0"))?.matches_str(r#"{"a": -5.5}"#)?);
    let with_numeric = r#"{"a": [{"cidr": "0.0.0.0/0"}, {"numeric": ["<", 0]}]}"#;
    assert!(!Pattern::parse_str(with_numeric)?.matches_str(r#"{"a": 5.5}"#)?);
    Ok(())
}

#[test]
fn what_eventbridge_accepts_but_is_likely_a_mistake_is_a_lint_not_a_refusal() -> TestResult {
    // Given patterns that EventBridge accepts but that probably do not say what was meant
    let pattern = Pattern::parse(&json!({
        "detail": {
            "ip": [{ "cidr": "10.0.0.1/24" }],
            "name": [{ "wildcard": "order" }],
            "tag": [{ "equals-ignore-case": "ok👍" }]
        }
    }))?;

    // Then they are accepted and each lint names its field
    let lints: Vec<(&str, &LintKind)> = pattern.lints().iter().map(|l| (l.path(), l.kind())).collect();
    assert!(matches!(
        lints[..],
        [
            ("detail.ip", LintKind::CidrHostBits { .. }),
            ("detail.name", LintKind::WildcardWithoutStar { .. }),
            ("detail.tag", LintKind::IgnoreCaseAstral { .. }),
        ]
    ));
    assert!(
        pattern.lints()[0]
            .to_string()
            .starts_with("detail.ip: the CIDR \"10.0.0.1/24\" has bits set")
    );
    assert!(
        Pattern::parse(&json!({ "a": [{ "wildcard": "order*" }] }))?
            .lints()
            .is_empty()
    );
    Ok(())
}

#[test]
fn a_value_and_its_text_get_the_same_verdict_when_the_value_holds_the_numbers() -> TestResult {
    // Given a pattern and an event whose numbers a double holds exactly
    let text = r#"{"detail": {"n": [{"numeric": [">", 1.5]}], "k": [300, "x"], "ip": [{"cidr": "10.0.0.0/8"}]}}"#;
    let event = r#"{"detail": {"n": [1, 2.25], "k": 3.0e2, "ip": "10.1.2.3"}}"#;

    // Then both entry points agree
    let pattern = Pattern::parse_str(text)?;
    let value: serde_json::Value = serde_json::from_str(event)?;
    assert!(pattern.matches_str(event)?);
    assert!(pattern.matches(&value));
    assert!(Pattern::parse(&serde_json::from_str(text)?)?.matches(&value));
    Ok(())
}
