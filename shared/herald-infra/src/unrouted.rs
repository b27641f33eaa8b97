//! The net under the consumers: one rule on the bus whose pattern is the complement of the
//! event catalog, so an event no consumer can take — an unknown source, an unknown detail-type
//! of a known source, a version the catalog does not have (OrderPlaced v3 before anyone
//! catalogued it), or no `detail.metadata.schema_version` at all — is kept in a queue for 14
//! days and pages through an alarm, instead of matching no rule and vanishing.
//!
//! Every consumer's rule lists catalogued `source`/`detail-type`/`schema_version` triples only
//! (`herald catalog check` refuses a declaration of an uncatalogued one), so "matches no
//! catalogued triple" covers "matches no consumer". A catalogued event nobody consumes is marked
//! terminal or external in the catalog, which is a decision, not an accident: it is not
//! unrouted. The pattern is regenerated from the catalog folder (`Metadata: Herald: Catalog`,
//! relative to the template), so it stays true as the catalog grows; `herald infra check` names
//! it when a new version was catalogued and the template was not regenerated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::InfraError;
use crate::render::{Platform, events_may_send, retained_queue};
use crate::yaml::{Node, get_att, map, reference, str, sub};

/// Catalogued versions by source and detail-type.
pub type Catalogued = BTreeMap<String, BTreeMap<String, BTreeSet<u32>>>;

/// Logical id of the queue that keeps unrouted events.
pub const QUEUE_ID: &str = "UnroutedEventsQueue";

/// Logical id of the (first) rule whose pattern is the catalog's complement.
pub const RULE_ID: &str = "UnroutedEventsRule";

/// Logical id of the alarm on the queue.
pub const ALARM_ID: &str = "UnroutedEventsAlarm";

/// Every catalogued version of a Herald event under the catalog folder `dir`:
/// `<source>/<DetailType>/v<N>.schema.json`. AWS services' own events (sources `aws.*`, which
/// PutEvents refuses from anyone else, delivered to the account's default bus) carry no Herald
/// metadata and are not counted: on the bus, they are unrouted like any unknown source.
///
/// # Errors
/// [`InfraError::Io`] when the folder cannot be read.
pub fn catalogued(dir: &Path) -> Result<Catalogued, InfraError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InfraError::Io { path, source }
    };
    let mut catalogued = Catalogued::new();
    for source in std::fs::read_dir(dir).map_err(io(dir))? {
        let source = source.map_err(io(dir))?.path();
        if !source.is_dir() || name(&source).is_some_and(|n| n.starts_with("aws.")) {
            continue;
        }
        for event in std::fs::read_dir(&source).map_err(io(&source))? {
            let event = event.map_err(io(&source))?.path();
            if !event.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&event).map_err(io(&event))? {
                let file = file.map_err(io(&event))?.path();
                let version = file.file_name().and_then(|name| name.to_str()).and_then(|name| {
                    name.strip_prefix('v')?
                        .strip_suffix(".schema.json")?
                        .parse::<u32>()
                        .ok()
                });
                if let (Some(version), Some(source), Some(detail_type)) = (version, name(&source), name(&event)) {
                    catalogued
                        .entry(source)
                        .or_default()
                        .entry(detail_type)
                        .or_default()
                        .insert(version);
                }
            }
        }
    }
    Ok(catalogued)
}

fn name(path: &Path) -> Option<String> {
    path.file_name().and_then(|n| n.to_str()).map(str::to_owned)
}

/// The default quota on an event pattern's size, in characters (EventBridge quotas: "Event
/// pattern size: 2048", adjustable to 4096 on request). moto does not enforce it; the template
/// tests hold every generated pattern to it.
pub const PATTERN_MAX_CHARS: usize = 2048;

/// The complement of `catalogued` as EventBridge pattern alternatives (an event is unrouted when
/// it matches any): an unknown source; for each source, an unknown detail-type, an uncatalogued
/// version of its detail-types (types with the same versions share an alternative), and a missing
/// version. Apart from the last, which overlaps the first two, they are disjoint.
pub fn alternatives(catalogued: &Catalogued) -> Vec<serde_json::Value> {
    use serde_json::json;
    let mut alternatives = vec![json!({"source": [{"anything-but": catalogued.keys().collect::<Vec<_>>()}]})];
    for (source, types) in catalogued {
        alternatives.push(json!({
            "source": [source],
            "detail-type": [{"anything-but": types.keys().collect::<Vec<_>>()}],
        }));
        let mut by_versions: BTreeMap<&BTreeSet<u32>, Vec<&String>> = BTreeMap::new();
        for (detail_type, versions) in types {
            by_versions.entry(versions).or_default().push(detail_type);
        }
        for (versions, detail_types) in by_versions {
            alternatives.push(json!({
                "source": [source],
                "detail-type": detail_types,
                "detail": {"metadata": {"schema_version": [{"anything-but": versions}]}},
            }));
        }
    }
    alternatives.push(json!({"detail": {"metadata": {"schema_version": [{"exists": false}]}}}));
    alternatives
}

/// The alternatives packed, in order, into as few patterns as keep each within
/// [`PATTERN_MAX_CHARS`] as compact JSON: one rule per pattern. (An event matching alternatives
/// of two rules reaches the queue twice; only an event with no version and an unknown source or
/// detail-type can.)
pub fn patterns(catalogued: &Catalogued) -> Vec<serde_json::Value> {
    let length = |alternatives: &[serde_json::Value]| serde_json::json!({"$or": alternatives}).to_string().len();
    let mut patterns: Vec<Vec<serde_json::Value>> = vec![Vec::new()];
    for alternative in alternatives(catalogued) {
        let mut with = patterns.last().cloned().unwrap_or_default();
        with.push(alternative.clone());
        match patterns.last_mut() {
            Some(last) if last.is_empty() || length(&with) <= PATTERN_MAX_CHARS => *last = with,
            _ => patterns.push(vec![alternative]),
        }
    }
    patterns
        .into_iter()
        .map(|alternatives| serde_json::json!({"$or": alternatives}))
        .collect()
}

/// A JSON value as a template node: objects as block mappings, lists of scalars in flow style.
fn node(value: &serde_json::Value) -> Node {
    use serde_json::Value;
    match value {
        Value::Object(entries) => Node::Map(entries.iter().map(|(k, v)| (k.clone(), node(v))).collect()),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            Node::Flow(items.iter().map(node).collect())
        }
        Value::Array(items) => Node::Seq(items.iter().map(node).collect()),
        Value::String(text) => str(text),
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(|| str(n.to_string()), Node::Int),
        Value::Null => str("null"),
    }
}

/// Logical id of the `n`th (0-based) unrouted rule.
pub fn rule_id(n: usize) -> String {
    match n {
        0 => RULE_ID.to_owned(),
        n => format!("{RULE_ID}{}", n + 1),
    }
}

/// The rules, their queue and the queue's policy, and the alarm, by logical id.
pub fn resources(catalogued: &Catalogued, platform: &Platform) -> Vec<(String, Node)> {
    let patterns = patterns(catalogued);
    let rule_arns: Vec<Node> = (0..patterns.len()).map(|n| get_att(&rule_id(n), "Arn")).collect();
    let mut resources = vec![
        (QUEUE_ID.to_owned(), retained_queue("time to catalogue and replay")),
        (
            format!("{QUEUE_ID}Policy"),
            events_may_send(QUEUE_ID, "UnroutedEvents", Node::Seq(rule_arns)),
        ),
    ];
    let count = patterns.len();
    for (n, pattern) in patterns.iter().enumerate() {
        let (name, part) = match n {
            0 => ("${AWS::StackName}-unrouted".to_owned(), String::new()),
            n => (
                format!("${{AWS::StackName}}-unrouted-{}", n + 1),
                format!(" (part {} of {count})", n + 1),
            ),
        };
        resources.push((
            rule_id(n),
            map([
                ("Type", str("AWS::Events::Rule")),
                (
                    "Properties",
                    map([
                        ("Name", sub(name)),
                        (
                            "Description",
                            str(format!("Every event on the bus that no catalogued source, detail-type and version describes: no consumer can take it{part}")),
                        ),
                        ("EventBusName", reference(&platform.bus)),
                        ("EventPattern", node(pattern)),
                        (
                            "Targets",
                            Node::Seq(vec![map([
                                ("Id", str("unrouted-events")),
                                ("Arn", get_att(QUEUE_ID, "Arn")),
                            ])]),
                        ),
                    ]),
                ),
            ]),
        ));
    }
    resources.push((
        ALARM_ID.to_owned(),
        map([
            ("Type", str("AWS::CloudWatch::Alarm")),
            (
                "Properties",
                map([
                    ("AlarmName", sub("${AWS::StackName}-unrouted-events")),
                    (
                        "AlarmDescription",
                        str("events reached the bus that no consumer can take (an uncatalogued source, detail-type or version); they wait in the unrouted queue"),
                    ),
                    ("Namespace", str("AWS/SQS")),
                    ("MetricName", str("ApproximateNumberOfMessagesVisible")),
                    (
                        "Dimensions",
                        Node::Seq(vec![map([
                            ("Name", str("QueueName")),
                            ("Value", get_att(QUEUE_ID, "QueueName")),
                        ])]),
                    ),
                    ("Statistic", str("Maximum")),
                    ("Period", Node::Int(60)),
                    ("EvaluationPeriods", Node::Int(1)),
                    ("Threshold", Node::Int(0)),
                    ("ComparisonOperator", str("GreaterThanThreshold")),
                    ("TreatMissingData", str("notBreaching")),
                    ("AlarmActions", Node::Seq(vec![reference(&platform.alert_topic)])),
                    ("OKActions", Node::Seq(vec![reference(&platform.alert_topic)])),
                ]),
            ),
        ]),
    ));
    resources
}

/// The queue's URL, as an output.
pub fn outputs() -> Vec<(String, Node)> {
    vec![(
        format!("{QUEUE_ID}Url"),
        map([
            (
                "Description",
                str("Events no consumer can take (uncatalogued source, detail-type or version)"),
            ),
            ("Value", reference(QUEUE_ID)),
        ]),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_read_as_versions_by_source_and_detail_type() -> Result<(), Box<dyn std::error::Error>> {
        // Given a catalog folder with two versions of one type and one of another
        let dir = std::env::temp_dir().join(format!("herald-unrouted-{}", std::process::id()));
        for file in [
            "shop.orders/OrderPlaced/v1.schema.json",
            "shop.orders/OrderPlaced/v2.schema.json",
            "shop.orders/OrderPlaced/v1.sample.json",
            "shop.orders/OrderPlaced/event.yaml",
            "shop.payments/PaymentCaptured/v1.schema.json",
            "aws.cloudwatch/CloudWatch Alarm State Change/v1.schema.json",
        ] {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
            std::fs::write(path, "{}")?;
        }

        // When it is read
        let catalogued = catalogued(&dir);
        std::fs::remove_dir_all(&dir)?;

        // Then only Herald events' schemas count, as versions
        let expected = Catalogued::from([
            (
                "shop.orders".to_owned(),
                BTreeMap::from([("OrderPlaced".to_owned(), BTreeSet::from([1, 2]))]),
            ),
            (
                "shop.payments".to_owned(),
                BTreeMap::from([("PaymentCaptured".to_owned(), BTreeSet::from([1]))]),
            ),
        ]);
        assert_eq!(catalogued?, expected);
        Ok(())
    }

    #[test]
    fn a_catalog_too_large_for_one_pattern_is_split_into_rules_that_each_fit_and_lose_nothing() {
        // Given a catalog of 40 sources of 6 detail-types each
        let catalogued: Catalogued = (0..40)
            .map(|s| {
                let types = (0..6)
                    .map(|t| (format!("SomethingHappened{t}"), BTreeSet::from([1, 2])))
                    .collect();
                (format!("team{s}.domain"), types)
            })
            .collect();

        // When its complement is packed into patterns
        let patterns = patterns(&catalogued);

        // Then there are several, each within the quota, holding every alternative in order
        assert!(patterns.len() > 1, "{} pattern", patterns.len());
        for pattern in &patterns {
            assert!(
                pattern.to_string().len() <= PATTERN_MAX_CHARS,
                "{}",
                pattern.to_string().len()
            );
        }
        let packed: Vec<serde_json::Value> = patterns
            .iter()
            .flat_map(|p| p["$or"].as_array().cloned().unwrap_or_default())
            .collect();
        assert_eq!(packed, alternatives(&catalogued));
    }
}
