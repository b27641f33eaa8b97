//! CloudWatch Embedded Metric Format (EMF): metrics written as structured log lines, which
//! CloudWatch Logs turns into metrics without any API call from the function.
//!
//! A consumer writes one line (namespace `Herald`, unit `Count`) per:
//! - event whose detail-type or version it does not know: `UncataloguedEvents`, with the
//!   dimension sets `[function]` (what the template's alarm watches) and
//!   `[function, source, detail-type, version]` (what to look at);
//! - event its handler deferred (a retryable failure that heals on Lambda's next attempt, such
//!   as a payment that arrived before its order, see
//!   [`Classify::is_deferred`](crate::Classify::is_deferred)): `DeferredEvents`, with
//!   `[function]` (which the template's errors alarm subtracts from Lambda's `Errors`, so a
//!   deferral does not page) and `[function, detail-type, error-type]`.

use serde_json::{Map, Value, json};

/// The namespace of Herald's metrics.
pub const NAMESPACE: &str = "Herald";

/// The metric a consumer emits for an event it does not know.
pub const UNCATALOGUED_EVENTS: &str = "UncataloguedEvents";

/// The metric a consumer emits for an event its handler deferred.
pub const DEFERRED_EVENTS: &str = "DeferredEvents";

/// One EMF line counting one occurrence of `metric`: `dimensions` are the root's string
/// members, `sets` the dimension sets CloudWatch aggregates by (each key one of `dimensions`).
fn count(metric: &str, dimensions: &[(&str, &str)], sets: &[&[&str]], now_ms: i64) -> String {
    let mut root = Map::new();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": sets,
                "Metrics": [{ "Name": metric, "Unit": "Count" }],
            }],
        }),
    );
    for (key, value) in dimensions {
        root.insert((*key).to_owned(), Value::from(*value));
    }
    root.insert(metric.to_owned(), Value::from(1));
    Value::Object(root).to_string()
}

/// The EMF line recording one uncatalogued event.
pub fn uncatalogued_event(
    function: &str,
    source: &str,
    detail_type: &str,
    version: Option<u32>,
    now_ms: i64,
) -> String {
    let version = version.map_or_else(|| "unknown".to_owned(), |v| v.to_string());
    count(
        UNCATALOGUED_EVENTS,
        &[
            ("function", function),
            ("source", source),
            ("detail-type", detail_type),
            ("version", &version),
        ],
        &[&["function"], &["function", "source", "detail-type", "version"]],
        now_ms,
    )
}

/// The EMF line recording one deferred event.
pub fn deferred_event(function: &str, detail_type: &str, error_type: &str, now_ms: i64) -> String {
    count(
        DEFERRED_EVENTS,
        &[
            ("function", function),
            ("detail-type", detail_type),
            ("error-type", error_type),
        ],
        &[&["function"], &["function", "detail-type", "error-type"]],
        now_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncatalogued_event_line_has_every_field_the_emf_specification_requires() -> Result<(), serde_json::Error> {
        let line = follows_the_emf_specification(&uncatalogued_event(
            "inventory",
            "shop.orders",
            "OrderShipped",
            Some(3),
            1_800_000_000_000,
        ))?;
        assert_eq!(line["function"], "inventory");
        assert_eq!(line["detail-type"], "OrderShipped");
        assert_eq!(line["version"], "3");
        assert_eq!(line[UNCATALOGUED_EVENTS], 1);
        Ok(())
    }

    #[test]
    fn a_deferred_event_line_has_every_field_the_emf_specification_requires() -> Result<(), serde_json::Error> {
        let line = follows_the_emf_specification(&deferred_event(
            "billing",
            "PaymentCaptured",
            "Billing.OrderNotYetKnown",
            1_800_000_000_000,
        ))?;
        assert_eq!(line["function"], "billing");
        assert_eq!(line["error-type"], "Billing.OrderNotYetKnown");
        assert_eq!(line[DEFERRED_EVENTS], 1);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0],
            json!(["function"])
        );
        Ok(())
    }

    /// The EMF specification's rules for a metric line, checked one by one; the line as JSON.
    fn follows_the_emf_specification(text: &str) -> Result<serde_json::Value, serde_json::Error> {
        let line: serde_json::Value = serde_json::from_str(text)?;

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
        Ok(line)
    }
}
