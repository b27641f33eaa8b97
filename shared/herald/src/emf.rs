//! CloudWatch Embedded Metric Format (EMF): metrics written as structured log lines, which
//! CloudWatch Logs turns into metrics without any API call from the function.
//!
//! A consumer that receives a detail-type or version it does not know writes one
//! `UncataloguedEvents` line (namespace `Herald`), with the dimension sets `[function]` (what the
//! template's alarm watches) and `[function, source, detail-type, version]` (what to look at).

use serde::Serialize;

/// The namespace of Herald's metrics.
pub const NAMESPACE: &str = "Herald";

/// The metric a consumer emits for an event it does not know.
pub const UNCATALOGUED_EVENTS: &str = "UncataloguedEvents";

#[derive(Debug, Serialize)]
struct Line<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    function: &'a str,
    source: &'a str,
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    version: String,
    #[serde(rename = "UncataloguedEvents")]
    count: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: i64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: [&'a [&'a str]; 2],
    metrics: [MetricDefinition<'a>; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricDefinition<'a> {
    name: &'a str,
    unit: &'a str,
}

/// The EMF line recording one uncatalogued event.
pub fn uncatalogued_event(
    function: &str,
    source: &str,
    detail_type: &str,
    version: Option<u32>,
    now_ms: i64,
) -> String {
    let line = Line {
        aws: Metadata {
            timestamp: now_ms,
            cloud_watch_metrics: [Directive {
                namespace: NAMESPACE,
                dimensions: [&["function"], &["function", "source", "detail-type", "version"]],
                metrics: [MetricDefinition {
                    name: UNCATALOGUED_EVENTS,
                    unit: "Count",
                }],
            }],
        },
        function,
        source,
        detail_type,
        version: version.map_or_else(|| "unknown".to_owned(), |v| v.to_string()),
        count: 1,
    };
    // Serializing these plain fields cannot fail; an empty line would only lose one data point.
    serde_json::to_string(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The EMF specification's rules for a metric line, checked one by one.
    #[test]
    fn an_uncatalogued_event_line_has_every_field_the_emf_specification_requires() -> Result<(), serde_json::Error> {
        let line: serde_json::Value = serde_json::from_str(&uncatalogued_event(
            "inventory",
            "shop.orders",
            "OrderShipped",
            Some(3),
            1_800_000_000_000,
        ))?;

        // The root has `_aws` with an integer Timestamp (ms) and a CloudWatchMetrics array.
        let aws = &line["_aws"];
        assert_eq!(aws["Timestamp"], 1_800_000_000_000_i64);
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        // Each directive: a Namespace (1–255 chars), Dimensions as an array of arrays of at most
        // 30 strings, Metrics as an array of at most 100 objects with a Name.
        let namespace = directive["Namespace"].as_str().unwrap_or_default();
        assert!((1..=255).contains(&namespace.len()));
        let sets = directive["Dimensions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!sets.is_empty());
        for set in sets {
            let keys = set.as_array().map(Vec::as_slice).unwrap_or_default();
            assert!(!keys.is_empty() && keys.len() <= 30);
            // Every dimension key is a string member of the root.
            for key in keys {
                let key = key.as_str().unwrap_or_default();
                assert!(line[key].is_string(), "dimension {key} must be a root string member");
            }
        }
        let metrics = directive["Metrics"].as_array().map(Vec::as_slice).unwrap_or_default();
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for metric in metrics {
            // Every metric name is a numeric member of the root; the unit is a known one.
            let name = metric["Name"].as_str().unwrap_or_default();
            assert!(line[name].is_number(), "metric {name} must be a root number member");
            assert_eq!(metric["Unit"], "Count");
        }
        assert_eq!(line["function"], "inventory");
        assert_eq!(line["detail-type"], "OrderShipped");
        assert_eq!(line["version"], "3");
        Ok(())
    }
}
