//! The examples of the AWS EventBridge user guide ("Event patterns", "Content filtering",
//! "Arrays in event patterns", "Matching null values and empty strings") and of the engine's README
//! (`aws/event-ruler`), as a table: each case is a sentence, a pattern, an event and the verdict.
//! A second table holds patterns EventBridge refuses, each with the path the error must name.

use std::error::Error;

use event_pattern::{ErrorKind, Pattern};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn Error>>;

struct Case {
    name: &'static str,
    pattern: Value,
    event: Value,
    matches: bool,
}

fn case(name: &'static str, pattern: Value, event: Value, matches: bool) -> Case {
    Case {
        name,
        pattern,
        event,
        matches,
    }
}

/// The EC2 state-change event the guide's "Event patterns" page uses throughout.
fn ec2_event() -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "time": "2017-12-22T18:43:48Z",
        "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": { "instance-id": "i-1234567890abcdef0", "state": "terminated" }
    })
}

fn detail(fields: Value) -> Value {
    json!({ "source": "test", "detail": fields })
}

fn exact_value_cases() -> Vec<Case> {
    vec![
        case(
            "the guide's EC2 pattern matches the instance-termination event",
            json!({
                "source": ["aws.ec2"],
                "detail-type": ["EC2 Instance State-change Notification"],
                "detail": { "state": ["terminated"] }
            }),
            ec2_event(),
            true,
        ),
        case(
            "fields of the event that the pattern does not name are ignored",
            json!({ "source": ["aws.ec2"] }),
            ec2_event(),
            true,
        ),
        case(
            "every field of the pattern must match",
            json!({ "source": ["aws.ec2"], "detail": { "state": ["running"] } }),
            ec2_event(),
            false,
        ),
        case(
            "a field of the pattern that is absent from the event does not match",
            json!({ "detail": { "reason": ["user"] } }),
            ec2_event(),
            false,
        ),
        case(
            "any one value of the leaf array may match",
            json!({ "source": ["aws.fargate", "aws.ec2"] }),
            ec2_event(),
            true,
        ),
        case(
            "an event array matches when it shares a value with the pattern array",
            json!({ "resources": [
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f"
            ]}),
            json!({ "resources": [
                "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b:autoScalingGroupName/ASGTerminate",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"
            ]}),
            true,
        ),
        case(
            "an event array with no value in common does not match",
            json!({ "resources": ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"] }),
            json!({ "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"] }),
            false,
        ),
        case(
            "exact strings are case-sensitive",
            json!({ "source": ["AWS.EC2"] }),
            ec2_event(),
            false,
        ),
        case(
            "a number matches the same number written differently",
            json!({ "detail": { "x-limit": [300] } }),
            detail(json!({ "x-limit": 3.0e2 })),
            true,
        ),
        case(
            "a float in the pattern matches the integer of the same value",
            json!({ "detail": { "x-limit": [300.0] } }),
            detail(json!({ "x-limit": 300 })),
            true,
        ),
        case(
            "a number does not match a string of the same digits",
            json!({ "detail": { "x-limit": [300] } }),
            detail(json!({ "x-limit": "300" })),
            false,
        ),
        case(
            "true matches only the JSON literal true, not 1",
            json!({ "detail": { "enabled": [true] } }),
            detail(json!({ "enabled": 1 })),
            false,
        ),
        case(
            "false matches the JSON literal false",
            json!({ "detail": { "enabled": [false] } }),
            detail(json!({ "enabled": false })),
            true,
        ),
        case(
            "null in the pattern matches a null value",
            json!({ "responseElements": [null] }),
            json!({ "responseElements": null }),
            true,
        ),
        case(
            "null in the pattern does not match a missing field",
            json!({ "responseElements": [null] }),
            json!({ "source": "aws.ec2" }),
            false,
        ),
        case(
            "an empty string matches an empty string",
            json!({ "detail": { "eventVersion": [""] } }),
            detail(json!({ "eventVersion": "" })),
            true,
        ),
        case(
            "an empty string does not match null",
            json!({ "detail": { "eventVersion": [""] } }),
            detail(json!({ "eventVersion": null })),
            false,
        ),
        case(
            "a nested pattern does not match where the event holds a scalar",
            json!({ "detail": { "state": { "name": ["running"] } } }),
            ec2_event(),
            false,
        ),
        case(
            "a number beyond the numeric range still matches itself exactly",
            json!({ "account": [111122223333u64] }),
            json!({ "account": 111122223333u64 }),
            true,
        ),
    ]
}

fn string_matcher_cases() -> Vec<Case> {
    vec![
        case(
            "prefix matches a string that starts with it",
            json!({ "time": [{ "prefix": "2017-10-02" }] }),
            json!({ "time": "2017-10-02T18:43:48Z" }),
            true,
        ),
        case(
            "prefix matches a string equal to the prefix",
            json!({ "time": [{ "prefix": "2017-10-02" }] }),
            json!({ "time": "2017-10-02" }),
            true,
        ),
        case(
            "prefix does not match a string that starts otherwise",
            json!({ "time": [{ "prefix": "2017-10-02" }] }),
            json!({ "time": "2017-10-03T18:43:48Z" }),
            false,
        ),
        case(
            "prefix matches only strings, not numbers with the same digits",
            json!({ "detail": { "code": [{ "prefix": "12" }] } }),
            detail(json!({ "code": 123 })),
            false,
        ),
        case(
            "prefix with equals-ignore-case ignores the case of the start",
            json!({ "detail": { "service": [{ "prefix": { "equals-ignore-case": "EventB" } }] } }),
            detail(json!({ "service": "eventbridge" })),
            true,
        ),
        case(
            "suffix matches a string that ends with it",
            json!({ "FileName": [{ "suffix": ".png" }] }),
            json!({ "FileName": "image.png" }),
            true,
        ),
        case(
            "suffix is case-sensitive",
            json!({ "FileName": [{ "suffix": ".png" }] }),
            json!({ "FileName": "image.PNG" }),
            false,
        ),
        case(
            "suffix with equals-ignore-case ignores the case of the end",
            json!({ "detail": { "FileName": [{ "suffix": { "equals-ignore-case": ".png" } }] } }),
            detail(json!({ "FileName": "image.PNG" })),
            true,
        ),
        case(
            "equals-ignore-case matches the same string in another case",
            json!({ "detail": { "name": [{ "equals-ignore-case": "alice" }] } }),
            detail(json!({ "name": "ALICE" })),
            true,
        ),
        case(
            "equals-ignore-case does not match a longer string",
            json!({ "detail": { "name": [{ "equals-ignore-case": "alice" }] } }),
            detail(json!({ "name": "Alice B" })),
            false,
        ),
        case(
            "a wildcard matches any run of characters in its place",
            json!({ "EventBusArn": [{ "wildcard": "arn:aws:events:us-east-1:*:event-bus/*" }] }),
            json!({ "EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus" }),
            true,
        ),
        case(
            "a wildcard in the middle may span slashes",
            json!({ "detail": { "path": [{ "wildcard": "dir/*.png" }] } }),
            detail(json!({ "path": "dir/subdir/image.png" })),
            true,
        ),
        case(
            "a wildcard still requires the literal parts",
            json!({ "detail": { "path": [{ "wildcard": "dir/*.png" }] } }),
            detail(json!({ "path": "dir/image.jpg" })),
            false,
        ),
        case(
            "a wildcard without a star matches only the same string",
            json!({ "detail": { "name": [{ "wildcard": "order" }] } }),
            detail(json!({ "name": "orders" })),
            false,
        ),
        case(
            "an escaped star in a wildcard matches only a star",
            json!({ "detail": { "name": [{ "wildcard": "a\\*b" }] } }),
            detail(json!({ "name": "aXb" })),
            false,
        ),
        case(
            "an escaped star in a wildcard matches a literal star",
            json!({ "detail": { "name": [{ "wildcard": "a\\*b" }] } }),
            detail(json!({ "name": "a*b" })),
            true,
        ),
    ]
}

fn anything_but_cases() -> Vec<Case> {
    vec![
        case(
            "anything-but a string matches any other string",
            json!({ "detail": { "state": [{ "anything-but": "initializing" }] } }),
            detail(json!({ "state": "running" })),
            true,
        ),
        case(
            "anything-but a string does not match that string",
            json!({ "detail": { "state": [{ "anything-but": "initializing" }] } }),
            detail(json!({ "state": "initializing" })),
            false,
        ),
        case(
            "anything-but a number excludes the same number written differently",
            json!({ "detail": { "x-limit": [{ "anything-but": 123 }] } }),
            detail(json!({ "x-limit": 123.0 })),
            false,
        ),
        case(
            "anything-but a list of strings excludes each of them",
            json!({ "detail": { "state": [{ "anything-but": ["stopped", "overloaded"] }] } }),
            detail(json!({ "state": "overloaded" })),
            false,
        ),
        case(
            "anything-but a list of numbers matches a number outside it",
            json!({ "detail": { "x-limit": [{ "anything-but": [100, 200, 300] }] } }),
            detail(json!({ "x-limit": 301.8 })),
            true,
        ),
        case(
            "anything-but prefix does not match a value with that prefix",
            json!({ "detail": { "state": [{ "anything-but": { "prefix": "init" } }] } }),
            detail(json!({ "state": "initializing" })),
            false,
        ),
        case(
            "anything-but prefix matches a value without that prefix",
            json!({ "source": [{ "anything-but": { "prefix": "aws." } }] }),
            json!({ "source": "shop.orders" }),
            true,
        ),
        case(
            "anything-but suffix does not match a value with that suffix",
            json!({ "FileName": [{ "anything-but": { "suffix": ".png" } }] }),
            json!({ "FileName": "image.png" }),
            false,
        ),
        case(
            "anything-but equals-ignore-case excludes every casing of the value",
            json!({ "detail": { "state": [{ "anything-but": { "equals-ignore-case": "initializing" } }] } }),
            detail(json!({ "state": "INITIALIZING" })),
            false,
        ),
        case(
            "anything-but equals-ignore-case with a list matches a value outside it",
            json!({ "detail": { "state": [{ "anything-but": { "equals-ignore-case": ["Stopped", "OverLoaded"] } }] } }),
            detail(json!({ "state": "running" })),
            true,
        ),
        case(
            "anything-but wildcard does not match a path containing /lib/",
            json!({ "FilePath": [{ "anything-but": { "wildcard": "*/lib/*" } }] }),
            json!({ "FilePath": "/usr/lib/libc.so" }),
            false,
        ),
        case(
            "anything-but wildcard with a list matches a path matching none of them",
            json!({ "FilePath": [{ "anything-but": { "wildcard": ["*/lib/*", "*.tmp"] } }] }),
            json!({ "FilePath": "/home/user/notes.txt" }),
            true,
        ),
        case(
            "anything-but does not match a missing field",
            json!({ "detail": { "state": [{ "anything-but": "initializing" }] } }),
            detail(json!({ "other": "x" })),
            false,
        ),
        case(
            "anything-but matches an array with one element that is not excluded",
            json!({ "detail": { "state": [{ "anything-but": "stopped" }] } }),
            detail(json!({ "state": ["stopped", "running"] })),
            true,
        ),
        case(
            "anything-but does not match an array whose elements are all excluded",
            json!({ "detail": { "state": [{ "anything-but": ["stopped", "running"] }] } }),
            detail(json!({ "state": ["stopped", "running"] })),
            false,
        ),
        case(
            "anything-but a string matches a value of another type",
            json!({ "detail": { "state": [{ "anything-but": "5" }] } }),
            detail(json!({ "state": 5 })),
            true,
        ),
    ]
}

fn numeric_and_address_cases() -> Vec<Case> {
    let counts = json!({
        "detail": {
            "c-count": [{ "numeric": [">", 0, "<=", 5] }],
            "d-count": [{ "numeric": ["<", 10] }],
            "x-limit": [{ "numeric": ["=", 3.018e2] }]
        }
    });
    vec![
        case(
            "numeric matches when every comparison holds",
            counts.clone(),
            detail(json!({ "c-count": 5, "d-count": 3, "x-limit": 301.8 })),
            true,
        ),
        case(
            "numeric does not match at an open lower bound",
            counts.clone(),
            detail(json!({ "c-count": 0, "d-count": 3, "x-limit": 301.8 })),
            false,
        ),
        case(
            "numeric equality compares values, not spellings",
            json!({ "detail": { "x-limit": [{ "numeric": ["=", 301.8] }] } }),
            detail(json!({ "x-limit": 3.018e2 })),
            true,
        ),
        case(
            "numeric does not match a number written as a string",
            json!({ "detail": { "c-count": [{ "numeric": [">", 0] }] } }),
            detail(json!({ "c-count": "5" })),
            false,
        ),
        case(
            "numeric does not match an event number beyond 5e9",
            json!({ "detail": { "c-count": [{ "numeric": [">", 0] }] } }),
            detail(json!({ "c-count": 6.0e9 })),
            false,
        ),
        case(
            "numeric matches an array with one number in range",
            json!({ "detail": { "c-count": [{ "numeric": [">=", 10, "<", 20] }] } }),
            detail(json!({ "c-count": [1, 15, 30] })),
            true,
        ),
        case(
            "cidr matches an IPv4 address inside the block",
            json!({ "detail": { "sourceIPAddress": [{ "cidr": "10.0.0.0/24" }] } }),
            detail(json!({ "sourceIPAddress": "10.0.0.255" })),
            true,
        ),
        case(
            "cidr does not match an IPv4 address outside the block",
            json!({ "detail": { "sourceIPAddress": [{ "cidr": "10.0.0.0/24" }] } }),
            detail(json!({ "sourceIPAddress": "10.0.1.0" })),
            false,
        ),
        case(
            "cidr matches an IPv6 address inside the block",
            json!({ "detail": { "source-ip": [{ "cidr": "2001:db8:1234:1a00::/64" }] } }),
            detail(json!({ "source-ip": "2001:db8:1234:1a00::9" })),
            true,
        ),
        case(
            "cidr does not match a string that is not an address",
            json!({ "detail": { "source-ip": [{ "cidr": "10.0.0.0/8" }] } }),
            detail(json!({ "source-ip": "10.0.0.1.example.com" })),
            false,
        ),
    ]
}

fn exists_cases() -> Vec<Case> {
    vec![
        case(
            "exists true matches an event that has the field",
            json!({ "detail": { "state": [{ "exists": true }] } }),
            ec2_event(),
            true,
        ),
        case(
            "exists true does not match an event without the field",
            json!({ "detail": { "state": [{ "exists": true }] } }),
            detail(json!({ "c-count": { "c1": 100 } })),
            false,
        ),
        case(
            "exists true does not match a field that holds an object, which is no leaf",
            json!({ "detail": { "c-count": [{ "exists": true }] } }),
            detail(json!({ "c-count": { "c1": 100 } })),
            false,
        ),
        case(
            "exists false matches an event without the field",
            json!({ "detail": { "c-count": [{ "exists": false }] } }),
            detail(json!({ "state": ["initializing", "running"] })),
            true,
        ),
        case(
            "exists false matches a field that holds an object, which is no leaf",
            json!({ "detail": { "c-count": [{ "exists": false }] } }),
            detail(json!({ "state": ["initializing", "running"], "c-count": { "c1": 100 } })),
            true,
        ),
        case(
            "exists false does not match a field that holds null",
            json!({ "detail": { "c-count": [{ "exists": false }] } }),
            detail(json!({ "c-count": null })),
            false,
        ),
        case(
            "exists false matches when the whole parent object is missing",
            json!({ "detail": { "c-count": [{ "exists": false }] } }),
            json!({ "source": "test" }),
            true,
        ),
        case(
            "exists true does not match an empty array, which holds no leaf",
            json!({ "resources": [{ "exists": true }] }),
            json!({ "resources": [] }),
            false,
        ),
    ]
}

fn or_and_array_cases() -> Vec<Case> {
    let metric_or_namespace = json!({
        "source": ["aws.cloudwatch"],
        "$or": [
            { "metricName": ["CPUUtilization", "ReadLatency"] },
            { "namespace": ["AWS/EC2", "AWS/ES"] }
        ]
    });
    let employees = json!({
        "employees": [
            { "firstName": "John", "lastName": "Doe" },
            { "firstName": "Anna", "lastName": "Smith" },
            { "firstName": "Peter", "lastName": "Jones" }
        ]
    });
    vec![
        case(
            "$or matches when the first alternative does",
            metric_or_namespace.clone(),
            json!({ "source": "aws.cloudwatch", "metricName": "ReadLatency" }),
            true,
        ),
        case(
            "$or matches when the second alternative does",
            metric_or_namespace.clone(),
            json!({ "source": "aws.cloudwatch", "namespace": "AWS/ES" }),
            true,
        ),
        case(
            "$or does not match when no alternative does",
            metric_or_namespace.clone(),
            json!({ "source": "aws.cloudwatch", "metricName": "Other", "namespace": "AWS/S3" }),
            false,
        ),
        case(
            "fields beside $or must still match",
            metric_or_namespace,
            json!({ "source": "aws.ec2", "metricName": "ReadLatency" }),
            false,
        ),
        case(
            "$or inside detail and $or at the top both apply",
            json!({
                "$or": [{ "metricName": ["CPUUtilization"] }, { "namespace": ["AWS/EC2"] }],
                "detail": { "$or": [{ "source": ["aws.cloudwatch"] }, { "detail-type": ["CloudWatch Alarm State Change"] }] }
            }),
            json!({ "namespace": "AWS/EC2", "detail": { "detail-type": "CloudWatch Alarm State Change" } }),
            true,
        ),
        case(
            "a nested $or inside an alternative is honoured",
            json!({
                "source": ["aws.cloudwatch"],
                "$or": [
                    { "metricName": ["CPUUtilization"] },
                    { "namespace": ["AWS/EC2"], "$or": [{ "metricId": [1234] }, { "spaceId": [1000] }] }
                ]
            }),
            json!({ "source": "aws.cloudwatch", "namespace": "AWS/EC2", "spaceId": 1000 }),
            true,
        ),
        case(
            "a field inside an array of objects matches through the array",
            json!({ "employees": { "firstName": ["Anna"] } }),
            employees.clone(),
            true,
        ),
        case(
            "fields from different elements of one array never combine",
            json!({ "employees": { "firstName": ["Anna"], "lastName": ["Jones"] } }),
            employees.clone(),
            false,
        ),
        case(
            "fields from the same element of an array match together",
            json!({ "employees": { "firstName": ["Peter"], "lastName": ["Jones"] } }),
            employees,
            true,
        ),
        case(
            "an $or alternative and its sibling must hold in the same array element",
            json!({
                "items": { "sku": ["A"] },
                "$or": [{ "items": { "quantity": [2] } }, { "priority": ["high"] }]
            }),
            json!({ "items": [{ "sku": "A", "quantity": 1 }, { "sku": "B", "quantity": 2 }] }),
            false,
        ),
    ]
}

#[test]
fn every_documented_case_gets_the_documented_verdict() -> TestResult {
    // Given every case of the guide and the engine's README
    let cases: Vec<Case> = [
        exact_value_cases(),
        string_matcher_cases(),
        anything_but_cases(),
        numeric_and_address_cases(),
        exists_cases(),
        or_and_array_cases(),
    ]
    .into_iter()
    .flatten()
    .collect();

    // When each pattern is parsed and matched against its event
    let mut wrong = Vec::new();
    for case in &cases {
        let pattern = Pattern::parse(&case.pattern).map_err(|e| format!("{}: {e}", case.name))?;
        if pattern.matches(&case.event) != case.matches {
            wrong.push(case.name);
        }
    }

    // Then every verdict is the documented one
    assert!(
        wrong.is_empty(),
        "{} of {} cases got the wrong verdict: {wrong:#?}",
        wrong.len(),
        cases.len()
    );
    Ok(())
}

struct Refusal {
    name: &'static str,
    pattern: Value,
    path: &'static str,
    message: &'static str,
}

fn refusal(name: &'static str, pattern: Value, path: &'static str, message: &'static str) -> Refusal {
    Refusal {
        name,
        pattern,
        path,
        message,
    }
}

fn refusals() -> Vec<Refusal> {
    vec![
        refusal(
            "a leaf holding a number instead of an array is refused",
            json!({ "detail": { "metadata": { "schema_version": 1 } } }),
            "detail.metadata.schema_version",
            "a leaf must be an array, found 1",
        ),
        refusal(
            "a leaf holding a string instead of an array is refused",
            json!({ "source": "aws.ec2" }),
            "source",
            "a leaf must be an array, found \"aws.ec2\"",
        ),
        refusal(
            "a matcher written outside its array is refused with a hint",
            json!({ "detail": { "state": { "prefix": "init" } } }),
            "detail.state.prefix",
            "`prefix` is a matcher and must be inside the array",
        ),
        refusal(
            "an empty array of allowed values is refused",
            json!({ "detail": { "state": [] } }),
            "detail.state",
            "must not be empty",
        ),
        refusal("an empty pattern is refused", json!({}), "", "at least one field"),
        refusal(
            "an empty nested object is refused",
            json!({ "detail": {} }),
            "detail",
            "at least one field",
        ),
        refusal(
            "a pattern that is not an object is refused",
            json!(["aws.ec2"]),
            "",
            "must be a JSON object",
        ),
        refusal(
            "a nested array as an allowed value is refused",
            json!({ "source": [["aws.ec2"]] }),
            "source",
            "an allowed value must be a string, number, boolean, null or matcher object",
        ),
        refusal(
            "an unknown matcher is refused by name",
            json!({ "detail": { "state": [{ "prefx": "init" }] } }),
            "detail.state",
            "unknown matcher `prefx`",
        ),
        refusal(
            "a matcher object with two keys is refused",
            json!({ "detail": { "state": [{ "prefix": "a", "suffix": "b" }] } }),
            "detail.state",
            "exactly one key, found 2",
        ),
        refusal(
            "a prefix that is not a string is refused",
            json!({ "time": [{ "prefix": 2017 }] }),
            "time",
            "`prefix` needs a string",
        ),
        refusal(
            "a prefix object other than equals-ignore-case is refused",
            json!({ "time": [{ "prefix": { "wildcard": "2017*" } }] }),
            "time",
            "`prefix` needs a string or {\"equals-ignore-case\": string}",
        ),
        refusal(
            "numeric with a dangling operator is refused",
            json!({ "detail": { "price": [{ "numeric": [">", 0, "<="] }] } }),
            "detail.price",
            "numeric needs operator/number pairs",
        ),
        refusal(
            "numeric with a number given as a string is refused",
            json!({ "detail": { "price": [{ "numeric": [">", "0"] }] } }),
            "detail.price",
            "numeric needs operator/number pairs",
        ),
        refusal(
            "numeric with an unknown operator is refused",
            json!({ "detail": { "price": [{ "numeric": ["!=", 0] }] } }),
            "detail.price",
            "unknown numeric operator \"!=\"",
        ),
        refusal(
            "numeric with the upper bound first is refused",
            json!({ "detail": { "price": [{ "numeric": ["<", 10, ">", 0] }] } }),
            "detail.price",
            "a lower bound (`>`, `>=`) followed by an upper bound",
        ),
        refusal(
            "numeric with three comparisons is refused",
            json!({ "detail": { "price": [{ "numeric": [">", 0, "<", 10, "=", 5] }] } }),
            "detail.price",
            "numeric takes one comparison",
        ),
        refusal(
            "a numeric range whose bounds cross is refused",
            json!({ "detail": { "price": [{ "numeric": [">=", 10, "<", 10] }] } }),
            "detail.price",
            "lower bound 10 must be below the upper bound 10",
        ),
        refusal(
            "a numeric bound beyond 5e9 is refused",
            json!({ "detail": { "price": [{ "numeric": [">", 5000000001u64] }] } }),
            "detail.price",
            "5000000001 is outside -5e9..=5e9",
        ),
        refusal(
            "a numeric bound with seven decimals is refused",
            json!({ "detail": { "price": [{ "numeric": ["=", 0.1234567] }] } }),
            "detail.price",
            "more than 6 decimal places",
        ),
        refusal(
            "exists with a string is refused",
            json!({ "detail": { "state": [{ "exists": "yes" }] } }),
            "detail.state",
            "`exists` needs true or false, found \"yes\"",
        ),
        refusal(
            "a CIDR without a prefix length is refused",
            json!({ "detail": { "ip": [{ "cidr": "10.0.0.0" }] } }),
            "detail.ip",
            "invalid CIDR \"10.0.0.0\": one `/` is required",
        ),
        refusal(
            "an IPv4-mapped CIDR block is an IPv4 block, so its length must be below 32 (CIDRTest)",
            json!({ "detail": { "ip": [{ "cidr": "::ffff:a00:0/104" }] } }),
            "detail.ip",
            "the prefix length must be below 32",
        ),
        refusal(
            "an empty string in an anything-but prefix list is refused",
            json!({ "source": [{ "anything-but": { "suffix": ["x", ""] } }] }),
            "source",
            "anything-but suffix must not be empty",
        ),
        refusal(
            "$or holding a single alternative is refused by both of the engine's compilers",
            json!({ "$or": [{ "state": ["running"] }] }),
            "$or",
            "$or needs at least two alternatives, found 1",
        ),
        refusal(
            "an IPv4 CIDR with a prefix length of 33 is refused",
            json!({ "detail": { "ip": [{ "cidr": "10.0.0.0/33" }] } }),
            "detail.ip",
            "the prefix length must be below 32",
        ),
        refusal(
            "a CIDR whose address is not an address is refused",
            json!({ "detail": { "ip": [{ "cidr": "10.0.0.300/24" }] } }),
            "detail.ip",
            "`10.0.0.300` is not an IP address",
        ),
        refusal(
            "a wildcard with consecutive stars is refused",
            json!({ "detail": { "path": [{ "wildcard": "dir/**.png" }] } }),
            "detail.path",
            "consecutive `*` at character 6",
        ),
        refusal(
            "a wildcard escaping a letter is refused",
            json!({ "detail": { "path": [{ "wildcard": "dir\\d" }] } }),
            "detail.path",
            "must be followed by `*` or `\\`",
        ),
        refusal(
            "anything-but inside anything-but is refused",
            json!({ "detail": { "state": [{ "anything-but": { "anything-but": "x" } }] } }),
            "detail.state",
            "anything-but cannot contain another anything-but",
        ),
        refusal(
            "anything-but around numeric is refused",
            json!({ "detail": { "state": [{ "anything-but": { "numeric": [">", 0] } }] } }),
            "detail.state",
            "anything-but applies only to prefix, suffix, equals-ignore-case and wildcard, found `numeric`",
        ),
        refusal(
            "anything-but with a mixed list is refused",
            json!({ "detail": { "state": [{ "anything-but": ["stopped", 1] }] } }),
            "detail.state",
            "only strings or only numbers",
        ),
        refusal(
            "anything-but with null is refused",
            json!({ "detail": { "state": [{ "anything-but": null }] } }),
            "detail.state",
            "`anything-but` needs",
        ),
        refusal(
            "anything-but with an empty list is refused",
            json!({ "detail": { "state": [{ "anything-but": [] }] } }),
            "detail.state",
            "must not be empty",
        ),
        refusal(
            "anything-but with an empty prefix is refused",
            json!({ "source": [{ "anything-but": { "prefix": "" } }] }),
            "source",
            "anything-but prefix must not be empty",
        ),
        refusal(
            "an invalid wildcard inside anything-but is refused",
            json!({ "FilePath": [{ "anything-but": { "wildcard": ["*/lib/*", "**"] } }] }),
            "FilePath",
            "consecutive `*`",
        ),
        refusal(
            "$or with one alternative is refused",
            json!({ "detail": { "$or": [{ "state": ["running"] }] } }),
            "detail.$or",
            "$or needs at least two alternatives, found 1",
        ),
        refusal(
            "an $or alternative that is not an object is refused",
            json!({ "$or": [{ "state": ["running"] }, ["stopped"]] }),
            "$or[1]",
            "an $or alternative must be an object",
        ),
        refusal(
            "an error inside an $or alternative names the alternative",
            json!({ "detail": { "$or": [{ "state": ["running"] }, { "count": 5 }] } }),
            "detail.$or[1].count",
            "a leaf must be an array, found 5",
        ),
        refusal(
            "a field named like a matcher inside $or is refused",
            json!({ "$or": [{ "numeric": [1] }, { "prefix": ["abc"] }] }),
            "$or[0].numeric",
            "`numeric` is a matcher name and cannot be a field inside $or",
        ),
    ]
}

#[test]
fn every_invalid_pattern_is_refused_with_its_path_and_reason() -> TestResult {
    let mut wrong = Vec::new();
    for refusal in refusals() {
        // When the invalid pattern is parsed
        match Pattern::parse(&refusal.pattern) {
            Ok(_) => wrong.push(format!("{}: accepted", refusal.name)),
            // Then the error names the path and says what is wrong
            Err(error) => {
                let text = error.to_string();
                let shown_path = if refusal.path.is_empty() {
                    "(root)"
                } else {
                    refusal.path
                };
                if error.path() != refusal.path
                    || !text.starts_with(&format!("{shown_path}: "))
                    || !text.contains(refusal.message)
                {
                    wrong.push(format!("{}: got `{text}`", refusal.name));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "refusals went wrong: {wrong:#?}");
    Ok(())
}

#[test]
fn text_that_is_not_json_is_refused_at_the_root() {
    // When the pattern text is not JSON
    let error = "{\"source\": [".parse::<Pattern>().err();

    // Then the error is NotJson at the root
    assert!(matches!(
        error.as_ref().map(|e| (e.path(), e.kind())),
        Some(("", ErrorKind::NotJson(_)))
    ));
    assert!(error.is_some_and(|e| e.to_string().starts_with("(root): not valid JSON")));
}

#[test]
fn a_pattern_deserializes_from_a_rule_definition_and_is_validated() -> TestResult {
    #[derive(serde::Deserialize)]
    struct Rule {
        #[serde(rename = "EventPattern")]
        pattern: Pattern,
    }

    // Given a rule definition holding a valid pattern and one holding an invalid one
    let rule: Rule = serde_json::from_value(json!({ "EventPattern": { "source": ["shop.orders"] } }))?;
    let invalid = serde_json::from_value::<Rule>(json!({ "EventPattern": { "source": "shop.orders" } }));

    // Then the valid one matches and the invalid one fails with the path in the message
    assert!(rule.pattern.matches(&json!({ "source": "shop.orders" })));
    assert!(invalid.is_err_and(|e| e.to_string().contains("source: a leaf must be an array")));
    Ok(())
}

#[test]
fn an_event_that_is_not_an_object_matches_nothing() -> TestResult {
    let pattern = Pattern::parse(&json!({ "x": [{ "exists": false }] }))?;
    assert!(pattern.matches(&json!({})));
    assert!(!pattern.matches(&json!([{}])));
    assert!(!pattern.matches(&json!("event")));
    Ok(())
}
