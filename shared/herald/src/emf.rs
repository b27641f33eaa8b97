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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// The namespace of Herald's metrics.
pub const NAMESPACE: &str = "Herald";

/// The metric a consumer emits for an event it does not know.
pub const UNCATALOGUED_EVENTS: &str = "UncataloguedEvents";

/// The metric a consumer emits for an event its handler deferred.
pub const DEFERRED_EVENTS: &str = "DeferredEvents";

/// The metric every invocation writes once per event, with the guard's outcome (`claimed`,
/// `duplicate`, `cached`, `in-progress`, `failed`, … or `error`) as dimension `outcome`.
pub const EVENTS: &str = "Events";

/// How long the consumer took over one event, in milliseconds, by `function` and by
/// `function, detail-type`.
pub const HANDLING_TIME: &str = "HandlingTime";

/// Written once, by the first invocation of a process: the cold start.
pub const COLD_START: &str = "ColdStart";

/// Most keys one dimension set may have (the EMF specification's limit).
pub const MAX_DIMENSIONS: usize = 30;

/// Most metrics one EMF directive may name (the EMF specification's limit).
pub const MAX_METRICS_PER_LINE: usize = 100;

/// Most values one metric may carry in one line (the EMF specification's limit on an array).
pub const MAX_VALUES_PER_METRIC: usize = 100;

/// The longest metric name CloudWatch accepts.
pub const MAX_NAME_CHARS: usize = 255;

/// Where this process's metric lines go, when not standard output.
static OUTPUT: OnceLock<Output> = OnceLock::new();

/// A destination for metric lines.
type Output = Box<dyn Fn(&str) + Send + Sync>;

/// Sends every metric line this process writes to `output` instead of standard output (where
/// Lambda hands it to CloudWatch Logs), e.g. a benchmark's sink. Only the first call counts;
/// returns whether this one did.
pub fn write_to(output: impl Fn(&str) + Send + Sync + 'static) -> bool {
    OUTPUT.set(Box::new(output)).is_ok()
}

/// Writes one metric line: to standard output, or where [`write_to`] said.
pub fn emit(line: &str) {
    match OUTPUT.get() {
        Some(output) => output(line),
        None => {
            // A line that cannot be written (standard output closed) is lost, as a log line is.
            let _lost = writeln!(std::io::stdout().lock(), "{line}");
        }
    }
}

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    /// How many.
    Count,
    /// A duration.
    Milliseconds,
    /// A size.
    Bytes,
    /// A plain number.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Bytes => "Bytes",
            Self::None => "None",
        }
    }
}

/// What a handler recorded during one invocation: each metric's unit and values.
pub type Recorded = BTreeMap<String, (Unit, Vec<f64>)>;

tokio::task_local! {
    static RECORDED: RefCell<Recorded>;
}

/// Records a business metric of the function (`VouchersIssued`, `StockShortages`): written with
/// dimension `function` in the invocation's one flush, at its end. A name that CloudWatch would
/// refuse (empty, longer than [`MAX_NAME_CHARS`], or one of the line's own members), a value
/// that is not finite, a unit other than the metric's first, or a call outside an invocation is
/// dropped with a warning: a metric never fails an event.
pub fn record(name: &str, unit: Unit, value: f64) {
    let refused = if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        Some("a metric name has 1 to 255 characters")
    } else if matches!(name, "_aws" | "function" | "detail-type" | "outcome") {
        Some("the name is one of the line's own members")
    } else if !value.is_finite() {
        Some("the value is not a finite number")
    } else {
        None
    };
    if let Some(reason) = refused {
        tracing::warn!(metric = name, value, reason, "metric dropped");
        return;
    }
    let kept = RECORDED.try_with(|recorded| {
        let mut recorded = recorded.borrow_mut();
        let (first_unit, values) = recorded.entry(name.to_owned()).or_insert_with(|| (unit, Vec::new()));
        if *first_unit == unit {
            values.push(value);
            Ok(())
        } else {
            Err("the metric was recorded with another unit in this invocation")
        }
    });
    match kept {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => tracing::warn!(metric = name, value, reason, "metric dropped"),
        Err(_) => tracing::warn!(metric = name, value, reason = "outside an invocation", "metric dropped"),
    }
}

/// Runs `work`, collecting what [`record`] is given inside it.
///
/// A future of its own rather than an `async fn`: rustc keeps an `async fn`'s argument and the
/// future it awaits in separate fields, so wrapping `work` in one (and in an `async` block
/// inside it) made the consumer's event future several times the size of `work`, copied whole
/// on every move.
pub(crate) fn collecting<F: Future>(work: F) -> Collecting<F> {
    Collecting {
        scoped: RECORDED.scope(RefCell::new(Recorded::new()), work),
    }
}

pin_project_lite::pin_project! {
    /// [`collecting`]'s future: `work` inside the scope of its own metrics.
    pub(crate) struct Collecting<F: Future> {
        #[pin]
        scoped: tokio::task::futures::TaskLocalFuture<RefCell<Recorded>, F>,
    }
}

impl<F: Future> Future for Collecting<F> {
    type Output = (F::Output, Recorded);

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let mut scoped = self.project().scoped;
        let output = std::task::ready!(scoped.as_mut().poll(cx));
        // The scope's value, once its future is done: what `record` was given inside it.
        let recorded = scoped.take_value().map(RefCell::into_inner).unwrap_or_default();
        std::task::Poll::Ready((output, recorded))
    }
}

/// The invocation's one flush: Herald's line (`Events` by outcome, `HandlingTime`, and
/// `ColdStart` on the first invocation) and the handler's recorded metrics, at most
/// [`MAX_METRICS_PER_LINE`] per line and [`MAX_VALUES_PER_METRIC`] values per metric.
pub fn invocation_lines(
    function: &str,
    detail_type: &str,
    outcome: &str,
    handling_ms: f64,
    cold_start: bool,
    recorded: &Recorded,
    now_ms: i64,
) -> Vec<String> {
    let herald = HeraldLine {
        function,
        detail_type,
        outcome,
        events: 1,
        handling_time: handling_ms,
        cold_start: cold_start.then_some(1),
        aws: Aws {
            timestamp: now_ms,
            directives: if cold_start {
                &HERALD_DIRECTIVES
            } else {
                &HERALD_DIRECTIVES[..2]
            },
        },
    };
    // Serializing borrowed fields straight to text: this line is written for every event.
    let mut lines = vec![serde_json::to_string(&herald).unwrap_or_default()];
    let metrics: Vec<(&String, &(Unit, Vec<f64>))> = recorded.iter().collect();
    for chunk in metrics.chunks(MAX_METRICS_PER_LINE) {
        let mut root = Map::new();
        root.insert("function".to_owned(), Value::from(function));
        let mut definitions = Vec::new();
        // A metric with more values than a line may carry goes on in further lines.
        let mut overflow: Vec<(&str, Unit, &[f64])> = Vec::new();
        for (name, (unit, values)) in chunk {
            let (first, rest) = values.split_at(values.len().min(MAX_VALUES_PER_METRIC));
            root.insert((*name).clone(), number_or_array(first));
            definitions.push(json!({ "Name": name, "Unit": unit.as_str() }));
            for more in rest.chunks(MAX_VALUES_PER_METRIC) {
                overflow.push((name.as_str(), *unit, more));
            }
        }
        let directive = json!({ "Namespace": NAMESPACE, "Dimensions": [["function"]], "Metrics": definitions });
        lines.push(with_directives(root, vec![directive], now_ms));
        for (name, unit, values) in overflow {
            let mut root = Map::new();
            root.insert("function".to_owned(), Value::from(function));
            root.insert(name.to_owned(), number_or_array(values));
            let directive = json!({ "Namespace": NAMESPACE, "Dimensions": [["function"]],
                                    "Metrics": [{ "Name": name, "Unit": unit.as_str() }] });
            lines.push(with_directives(root, vec![directive], now_ms));
        }
    }
    lines
}

/// Herald's line of every invocation, serialized as it stands.
#[derive(serde::Serialize)]
struct HeraldLine<'a> {
    function: &'a str,
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    outcome: &'a str,
    #[serde(rename = "Events")]
    events: u8,
    #[serde(rename = "HandlingTime")]
    handling_time: f64,
    #[serde(rename = "ColdStart", skip_serializing_if = "Option::is_none")]
    cold_start: Option<u8>,
    #[serde(rename = "_aws")]
    aws: Aws<'a>,
}

/// The `_aws` member of a line.
#[derive(serde::Serialize)]
struct Aws<'a> {
    #[serde(rename = "Timestamp")]
    timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    directives: &'a [Directive],
}

/// One metric directive of Herald's line.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive {
    namespace: &'static str,
    dimensions: &'static [&'static [&'static str]],
    metrics: &'static [MetricName],
}

/// A metric's name and unit in a directive.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetricName {
    name: &'static str,
    unit: &'static str,
}

/// `Events` by `[function, outcome]`, `HandlingTime` by `[function]` and
/// `[function, detail-type]`, and (on a cold start only) `ColdStart` by `[function]`.
const HERALD_DIRECTIVES: [Directive; 3] = [
    Directive {
        namespace: NAMESPACE,
        dimensions: &[&["function", "outcome"]],
        metrics: &[MetricName {
            name: EVENTS,
            unit: "Count",
        }],
    },
    Directive {
        namespace: NAMESPACE,
        dimensions: &[&["function"], &["function", "detail-type"]],
        metrics: &[MetricName {
            name: HANDLING_TIME,
            unit: "Milliseconds",
        }],
    },
    Directive {
        namespace: NAMESPACE,
        dimensions: &[&["function"]],
        metrics: &[MetricName {
            name: COLD_START,
            unit: "Count",
        }],
    },
];

fn number_or_array(values: &[f64]) -> Value {
    match values {
        [one] => Value::from(*one),
        many => Value::from(many.to_vec()),
    }
}

fn with_directives(mut root: Map<String, Value>, directives: Vec<Value>, now_ms: i64) -> String {
    root.insert(
        "_aws".to_owned(),
        json!({ "Timestamp": now_ms, "CloudWatchMetrics": directives }),
    );
    Value::Object(root).to_string()
}

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

/// Every way `line` breaks the EMF specification (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>);
/// empty when CloudWatch Logs will turn it into metrics. The rules: a root object whose `_aws`
/// has an integer `Timestamp` (epoch ms) and a non-empty `CloudWatchMetrics` array; each
/// directive a `Namespace` of 1–255 characters, `Dimensions` as a non-empty array of dimension
/// sets of 1–30 keys, each key a string member of the root, and `Metrics` as 1–100 objects
/// whose `Name` (1–255 characters) is a root member holding a number or an array of at most 100
/// numbers, with a `Unit` CloudWatch knows, when it has one.
pub fn problems(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(line) else {
        return vec!["not a JSON object".to_owned()];
    };
    let aws = root.get("_aws");
    if !aws
        .and_then(|a| a.get("Timestamp"))
        .is_some_and(|t| t.is_i64() || t.is_u64())
    {
        found.push("_aws.Timestamp is not an integer of epoch milliseconds".to_owned());
    }
    let directives = aws
        .and_then(|a| a.get("CloudWatchMetrics"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if directives.is_empty() {
        found.push("_aws.CloudWatchMetrics is not a non-empty array".to_owned());
    }
    let text = |value: Option<&Value>| value.and_then(Value::as_str).unwrap_or_default().to_owned();
    for directive in directives {
        let namespace = text(directive.get("Namespace"));
        if !(1..=MAX_NAME_CHARS).contains(&namespace.chars().count()) {
            found.push(format!("namespace {namespace:?} is not 1 to 255 characters"));
        }
        let sets = directive.get("Dimensions").and_then(Value::as_array);
        if sets.is_none_or(Vec::is_empty) {
            found.push("Dimensions is not a non-empty array of dimension sets".to_owned());
        }
        for set in sets.into_iter().flatten() {
            let keys = set.as_array().map(Vec::as_slice).unwrap_or_default();
            if keys.is_empty() || keys.len() > MAX_DIMENSIONS {
                found.push(format!("dimension set {set} has not 1 to {MAX_DIMENSIONS} keys"));
            }
            for key in keys {
                let key = key.as_str().unwrap_or_default();
                if !root.get(key).is_some_and(Value::is_string) {
                    found.push(format!("dimension {key:?} is not a string member of the root"));
                }
            }
        }
        let metrics = directive
            .get("Metrics")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if metrics.is_empty() || metrics.len() > MAX_METRICS_PER_LINE {
            found.push(format!("{} metrics, not 1 to {MAX_METRICS_PER_LINE}", metrics.len()));
        }
        for metric in metrics {
            let name = text(metric.get("Name"));
            if !(1..=MAX_NAME_CHARS).contains(&name.chars().count()) {
                found.push(format!("metric name {name:?} is not 1 to 255 characters"));
            }
            let numbers = match root.get(&name) {
                Some(Value::Array(values)) if values.len() <= MAX_VALUES_PER_METRIC => {
                    values.iter().all(Value::is_number)
                }
                Some(value) => value.is_number(),
                None => false,
            };
            if !numbers {
                found.push(format!(
                    "metric {name:?} is not a root member holding a number or at most 100 numbers"
                ));
            }
            if let Some(unit) = metric.get("Unit")
                && !UNITS.contains(&unit.as_str().unwrap_or_default())
            {
                found.push(format!(
                    "metric {name:?} has unit {unit}, which CloudWatch does not know"
                ));
            }
        }
    }
    found
}

/// The units CloudWatch knows (`MetricDatum.Unit`).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

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

    #[tokio::test]
    async fn an_invocations_flush_holds_herald_metrics_and_the_handlers_within_the_emf_limits()
    -> Result<(), serde_json::Error> {
        // Given a handler that records 150 distinct metrics, one of them 120 times, and a bad one
        let ((), recorded) = collecting(async {
            for i in 0..150 {
                record(&format!("Metric{i}"), Unit::Count, 1.0);
            }
            for _ in 0..119 {
                record("Metric0", Unit::Count, 1.0);
            }
            record("Metric1", Unit::Milliseconds, 5.0);
            record("", Unit::Count, 1.0);
            record("Nan", Unit::Count, f64::NAN);
        })
        .await;

        // When the cold invocation flushes
        let lines = invocation_lines(
            "campaigns",
            "OrderPlaced",
            "claimed",
            12.5,
            true,
            &recorded,
            1_800_000_000_000,
        );

        // Then every line follows the specification, Herald's says outcome, time and cold start,
        // and the handler's 150 metrics fill two lines and the 120 values of one a third
        let lines: Vec<serde_json::Value> = lines
            .iter()
            .map(|line| follows_the_emf_specification(line))
            .collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 4);
        assert_eq!(
            (lines[0]["outcome"].clone(), lines[0][EVENTS].clone()),
            (json!("claimed"), json!(1))
        );
        assert_eq!(lines[0][HANDLING_TIME], 12.5);
        assert_eq!(lines[0][COLD_START], 1);
        assert_eq!(
            lines[1]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(Vec::len),
            Some(100)
        );
        assert_eq!(lines[1]["Metric0"].as_array().map(Vec::len), Some(100));
        assert_eq!(lines[2]["Metric0"].as_array().map(Vec::len), Some(20));
        assert_eq!(
            lines[3]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(Vec::len),
            Some(50)
        );
        assert_eq!(lines[1]["Metric1"], 1.0, "the value of another unit is dropped");
        assert!(lines.iter().all(|l| l.get("").is_none() && l.get("Nan").is_none()));
        Ok(())
    }

    /// The line as JSON, once [`problems`] finds nothing wrong with it.
    fn follows_the_emf_specification(text: &str) -> Result<serde_json::Value, serde_json::Error> {
        assert_eq!(problems(text), Vec::<String>::new(), "{text}");
        let line: serde_json::Value = serde_json::from_str(text)?;
        assert_eq!(line["_aws"]["Timestamp"], 1_800_000_000_000_i64);
        Ok(line)
    }

    #[test]
    fn a_line_that_breaks_the_specification_is_told_how() {
        let line = json!({
            "_aws": {"Timestamp": "now", "CloudWatchMetrics": [{
                "Namespace": "", "Dimensions": [["function"]],
                "Metrics": [{"Name": "Events", "Unit": "Hours"}, {"Name": "Lost"}]
            }]},
            "function": 7, "Events": "one"
        });
        let found = problems(&line.to_string());
        assert_eq!(found.len(), 6, "{found:#?}");
        assert_eq!(problems("not json"), ["not a JSON object"]);
    }
}
