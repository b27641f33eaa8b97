//! `herald trace ID`: one flow's causation tree rebuilt from the functions' logs alone, printed
//! as `herald dev` prints it (the tree, or JSON lines with `--json`).
//!
//! Every line a Herald consumer logs while handling an event carries the event's ids in its
//! `span` (`event_id`, `correlation_id`, `causation_id`, `detail_type`, `source`,
//! `schema_version`, `subject`, `xray_trace_id`); the outcome line adds `outcome`, `action`,
//! `duration_ms` and, on failure, `error_type`, `error` and `retryable`; the publisher logs one
//! `event published` line per event the bus accepted (`published_event_id`, …). So the logs say,
//! for every event of a flow, which functions received it (the rules that matched), how each
//! attempt ended and how long it took, what each function published, and who received that.
//!
//! `ID` is a correlation id, an event id, or a subject (an order id: what
//! [`EventDetail::subject`](herald::EventDetail::subject) answers). The lines mentioning it give
//! the flows' correlation ids; the lines of those correlations are the flows. They are read from
//! - CloudWatch Logs (`--stack NAME`): `FilterLogEvents` with the quoted term over each function's
//!   log group, `/aws/lambda/<stack>-<function>` as the template names it, from `--since` on;
//! - a folder of log files (`--logs DIR`, by default `herald dev`'s): `<function>.log` each.
//!
//! A function whose last attempt at an event failed is shown `→ DLQ`, as `herald dev` shows it:
//! Lambda has given up on it, or will retry it (a later run of `herald trace` then shows the
//! retry). Durations are the handler's own (`duration_ms` of the outcome line); `herald dev`
//! prints the invocation's wall time around it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aws_config::BehaviorVersion;
use chrono::{DateTime, Utc};
use clap::Args;
use herald_infra::Stack;
use serde::Deserialize;

use crate::dev::trace::{Attempt, EventNode, FunctionRun, write_json, write_tree};

/// `herald trace` arguments.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// A correlation id, an event id, or an event's subject (an order id such as `ord-1001`).
    id: String,
    /// Read CloudWatch Logs: the log groups of this deployed stack's functions.
    #[arg(long, value_name = "NAME", conflicts_with = "logs")]
    stack: Option<String>,
    /// Read the log files in this folder (`<function>.log`), as `herald dev` writes them.
    #[arg(long, value_name = "DIR", default_value = "target/herald-dev/logs")]
    logs: PathBuf,
    /// The SAM template naming the functions.
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// With `--stack`: read log events from this time on: RFC 3339, or a time ago such as
    /// `-30m`, `-6h`, `-2d`.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, default_value = "-1d")]
    since: String,
    /// Print JSON lines instead of trees.
    #[arg(long)]
    json: bool,
}

/// Runs `herald trace`.
///
/// # Errors
/// A message for the user: an unreadable template or folder, a CloudWatch Logs call that failed,
/// or nothing logged about `ID`.
pub async fn run(args: TraceArgs) -> Result<(), String> {
    let stack = Stack::load(&args.template).map_err(|e| e.to_string())?;
    let functions: Vec<String> = stack.functions.iter().map(|f| f.binary.clone()).collect();
    let source = match &args.stack {
        Some(name) => {
            let since = crate::replay::parse_time(&args.since, Utc::now())?;
            let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
            Source::CloudWatch {
                client: aws_sdk_cloudwatchlogs::Client::new(&config),
                groups: functions
                    .iter()
                    .map(|f| (f.clone(), format!("/aws/lambda/{name}-{f}")))
                    .collect(),
                since,
            }
        }
        None => Source::Files(args.logs.clone()),
    };
    let roots = follow(&source, &args.id, &functions).await?;
    if roots.is_empty() {
        return Err(format!("no log line of {} mentions {}", source.describe(), args.id));
    }
    let mut out = std::io::stdout().lock();
    for root in &roots {
        let written = if args.json {
            write_json(root, &mut out)
        } else {
            write_tree(root, &mut out)
        };
        written.map_err(|e| format!("writing the trace: {e}"))?;
    }
    Ok(())
}

/// Where the logs are read.
pub enum Source {
    /// CloudWatch Logs: function → its log group, and the earliest time read.
    CloudWatch {
        /// The client.
        client: aws_sdk_cloudwatchlogs::Client,
        /// Function (binary name) → log group.
        groups: Vec<(String, String)>,
        /// The earliest log event read.
        since: DateTime<Utc>,
    },
    /// A folder of `<function>.log` files.
    Files(PathBuf),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Self::CloudWatch { groups, since, .. } => {
                format!("the {} log groups since {}", groups.len(), since.to_rfc3339())
            }
            Self::Files(dir) => dir.display().to_string(),
        }
    }

    /// Every log line mentioning `term`, with the function that wrote it.
    async fn mentioning(&self, term: &str) -> Result<Vec<Logged>, String> {
        let mut found = Vec::new();
        match self {
            Self::CloudWatch { client, groups, since } => {
                for (function, group) in groups {
                    let mut pages = client
                        .filter_log_events()
                        .log_group_name(group)
                        // A quoted term: the exact text, dashes included (CloudWatch Logs'
                        // filter pattern syntax).
                        .filter_pattern(format!("\"{term}\""))
                        .start_time(since.timestamp_millis())
                        .into_paginator()
                        .send();
                    while let Some(page) = pages.next().await {
                        let page = match page {
                            Ok(page) => page,
                            // A function that never logged has no log group yet.
                            Err(error)
                                if error
                                    .as_service_error()
                                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
                            {
                                break;
                            }
                            Err(error) => {
                                return Err(format!(
                                    "FilterLogEvents on {group}: {}",
                                    aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&error)
                                ));
                            }
                        };
                        for event in page.events() {
                            let message = event.message().unwrap_or_default();
                            if message.contains(term) {
                                found.extend(Logged::parse(function, message));
                            }
                        }
                    }
                }
            }
            Self::Files(dir) => {
                for (function, path) in log_files(dir)? {
                    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                    found.extend(
                        text.lines()
                            .filter(|line| line.contains(term))
                            .filter_map(|line| Logged::parse(&function, line)),
                    );
                }
            }
        }
        Ok(found)
    }
}

/// The `<function>.log` files of `dir`, by function name.
fn log_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if path.extension().is_some_and(|e| e == "log")
            && let Some(function) = path.file_stem().and_then(|s| s.to_str())
        {
            files.push((function.to_owned(), path));
        }
    }
    files.sort();
    Ok(files)
}

/// The flows `id` belongs to, as trees, oldest first: the lines mentioning `id` name their
/// correlation ids, and every line of those correlations makes the trees. `functions` orders
/// the functions under an event as the template lists them (as `herald dev` routes).
///
/// # Errors
/// When the logs cannot be read.
pub async fn follow(source: &Source, id: &str, functions: &[String]) -> Result<Vec<EventNode>, String> {
    let correlations: BTreeSet<String> = source
        .mentioning(id)
        .await?
        .iter()
        .filter_map(|logged| logged.line.correlation().map(str::to_owned))
        .collect();
    let mut lines = Vec::new();
    for correlation in &correlations {
        lines.extend(
            source
                .mentioning(correlation)
                .await?
                .into_iter()
                .filter(|logged| logged.line.correlation() == Some(correlation.as_str())),
        );
    }
    Ok(rebuild(lines, functions))
}

/// One log line and the function that wrote it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// The function (binary name).
    pub function: String,
    /// The line.
    pub line: Line,
}

impl Logged {
    /// The line, when it is one of a Herald consumer's JSON log lines; `None` for anything else
    /// (Lambda's own lines, EMF lines, text).
    pub fn parse(function: &str, text: &str) -> Option<Self> {
        let line: Line = serde_json::from_str(text.trim()).ok()?;
        line.span.as_ref()?.event_id.as_ref()?;
        Some(Self {
            function: function.to_owned(),
            line,
        })
    }
}

/// The fields of a consumer's log line that make the tree.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    timestamp: Option<String>,
    outcome: Option<String>,
    action: Option<String>,
    duration_ms: Option<u64>,
    error_type: Option<String>,
    error: Option<String>,
    retryable: Option<bool>,
    published_event_id: Option<String>,
    published_detail_type: Option<String>,
    published_source: Option<String>,
    published_schema_version: Option<u64>,
    published_correlation_id: Option<String>,
    span: Option<Span>,
}

/// The `event` span's fields.
#[derive(Debug, Clone, Deserialize)]
struct Span {
    event_id: Option<String>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    detail_type: Option<String>,
    source: Option<String>,
    schema_version: Option<u64>,
    xray_trace_id: Option<String>,
}

/// A logged text, `None` when absent or empty (the span logs a missing id as `""`).
fn text(field: Option<&String>) -> Option<&str> {
    field.map(String::as_str).filter(|t| !t.is_empty())
}

impl Line {
    fn span_field(&self, field: impl Fn(&Span) -> Option<&String>) -> Option<&str> {
        text(self.span.as_ref().and_then(field))
    }

    /// The correlation id of the flow the line belongs to.
    fn correlation(&self) -> Option<&str> {
        self.span_field(|s| s.correlation_id.as_ref())
            .or_else(|| text(self.published_correlation_id.as_ref()))
    }

    fn event_id(&self) -> Option<&str> {
        self.span_field(|s| s.event_id.as_ref())
    }

    /// The attempt this outcome line reports; `None` for any other line.
    fn attempt(&self) -> Option<Attempt> {
        let (outcome, duration_ms) = (self.outcome.as_ref()?, self.duration_ms?);
        let failed = self.error_type.is_some();
        Some(Attempt {
            attempt: 0,
            outcome: if failed { "error".to_owned() } else { outcome.clone() },
            action: self.action.clone(),
            error_type: self.error_type.clone(),
            // As Lambda's errorMessage says it (the consumer's `Diagnostic`).
            error_message: self.error.as_ref().map(|error| match self.retryable {
                Some(false) => format!("{}{error}", herald::consumer::NOT_RETRYABLE_PREFIX),
                _ => error.clone(),
            }),
            duration_ms,
        })
    }
}

/// What the lines say about one event.
#[derive(Debug, Default)]
struct Known {
    node: Option<EventNode>,
    /// Function → its attempts, in time order.
    attempts: BTreeMap<String, Vec<Attempt>>,
    /// Function → the events it published while handling this one, in time order.
    published: BTreeMap<String, Vec<String>>,
    /// When it was first seen, for ordering the roots.
    first_seen: Option<String>,
}

/// The trees the lines make, oldest root first; `functions` orders the runs under each event.
pub fn rebuild(mut lines: Vec<Logged>, functions: &[String]) -> Vec<EventNode> {
    // Stable: lines of one file (or one log stream) keep their order within a timestamp.
    lines.sort_by(|a, b| a.line.timestamp.cmp(&b.line.timestamp));
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    for Logged { function, line } in &lines {
        let Some(event_id) = line.event_id() else {
            continue;
        };
        let entry = known.entry(event_id.to_owned()).or_default();
        if entry.first_seen.is_none() {
            entry.first_seen.clone_from(&line.timestamp);
        }
        if entry.node.is_none()
            && let Some(span) = &line.span
        {
            entry.node = Some(EventNode {
                detail_type: span.detail_type.clone().unwrap_or_default(),
                source: span.source.clone().unwrap_or_default(),
                schema_version: span.schema_version,
                event_id: event_id.to_owned(),
                correlation_id: span.correlation_id.clone().unwrap_or_default(),
                published_by: None,
                caused_by: text(span.causation_id.as_ref()).map(str::to_owned),
                trace_id: span.xray_trace_id.clone().unwrap_or_default(),
                runs: Vec::new(),
            });
        }
        if let Some(attempt) = line.attempt() {
            entry.attempts.entry(function.clone()).or_default().push(attempt);
        }
        if let Some(published) = text(line.published_event_id.as_ref()) {
            entry
                .published
                .entry(function.clone())
                .or_default()
                .push(published.to_owned());
            let child = known.entry(published.to_owned()).or_default();
            if child.first_seen.is_none() {
                child.first_seen.clone_from(&line.timestamp);
            }
            // What the publisher said about it; the receivers' spans say the same, and are
            // the only word on an event nobody received.
            let from_publisher = EventNode {
                detail_type: line.published_detail_type.clone().unwrap_or_default(),
                source: line.published_source.clone().unwrap_or_default(),
                schema_version: line.published_schema_version,
                event_id: published.to_owned(),
                correlation_id: line.correlation().unwrap_or_default().to_owned(),
                published_by: Some(function.clone()),
                caused_by: Some(event_id.to_owned()),
                trace_id: line
                    .span_field(|s| s.xray_trace_id.as_ref())
                    .unwrap_or_default()
                    .to_owned(),
                runs: Vec::new(),
            };
            child.node = Some(match child.node.take() {
                Some(received) => EventNode {
                    published_by: Some(function.clone()),
                    ..received
                },
                None => from_publisher,
            });
        }
    }
    let order = |function: &str| functions.iter().position(|f| f == function).unwrap_or(usize::MAX);
    // The flow's inputs: events no function of the stack published (an input may name a cause
    // of its own, as a payment names its order).
    let mut roots: Vec<(&Option<String>, &str)> = known
        .iter()
        .filter(|(_, k)| k.node.as_ref().is_some_and(|n| n.published_by.is_none()))
        .map(|(id, k)| (&k.first_seen, id.as_str()))
        .collect();
    roots.sort();
    roots
        .into_iter()
        .filter_map(|(_, id)| build(id, &known, &order, 0))
        .collect()
}

/// The tree of `event_id`, as far as the lines know it.
fn build(
    event_id: &str,
    known: &BTreeMap<String, Known>,
    order: &dyn Fn(&str) -> usize,
    depth: usize,
) -> Option<EventNode> {
    let entry = known.get(event_id)?;
    let mut node = entry.node.clone()?;
    // A cycle in the logs (an event published as its own cause) must not recurse forever.
    if depth > 64 {
        return Some(node);
    }
    let mut functions: Vec<&String> = entry.attempts.keys().chain(entry.published.keys()).collect();
    functions.sort_by_key(|f| (order(f), f.as_str()));
    functions.dedup();
    for function in functions {
        let attempts: Vec<Attempt> = entry
            .attempts
            .get(function)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, attempt)| Attempt {
                attempt: u32::try_from(i + 1).unwrap_or(u32::MAX),
                ..attempt.clone()
            })
            .collect();
        let emitted = entry
            .published
            .get(function)
            .into_iter()
            .flatten()
            .filter_map(|child| build(child, known, order, depth + 1))
            .collect();
        node.runs.push(FunctionRun {
            function: function.clone(),
            dead_lettered: attempts.last().is_some_and(|a| a.error_type.is_some()),
            attempts,
            emitted,
        });
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(function: &str, line: serde_json::Value) -> Logged {
        Logged::parse(function, &line.to_string()).unwrap_or_else(|| panic!("not a consumer line: {line}"))
    }

    fn span(event_id: &str, detail_type: &str, causation: &str) -> serde_json::Value {
        serde_json::json!({
            "event_id": event_id, "correlation_id": "c-1", "causation_id": causation,
            "detail_type": detail_type, "source": "shop.test", "schema_version": 1,
            "xray_trace_id": "1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb"
        })
    }

    #[test]
    fn a_flow_is_rebuilt_from_outcome_and_published_lines_with_retries_and_dead_letters() {
        // Given inventory reserving stock for e-1 and publishing e-2, which fulfillment fails
        // twice for good, and an unrelated EMF line
        let lines = vec![
            logged(
                "inventory",
                serde_json::json!({"timestamp": "t1", "published_event_id": "e-2",
                    "published_detail_type": "StockReserved", "published_source": "shop.inventory",
                    "published_schema_version": 1, "published_correlation_id": "c-1",
                    "span": span("e-1", "OrderPlaced", "")}),
            ),
            logged(
                "inventory",
                serde_json::json!({"timestamp": "t2", "outcome": "claimed", "action": "reserved",
                    "duration_ms": 3, "span": span("e-1", "OrderPlaced", "")}),
            ),
            logged(
                "fulfillment",
                serde_json::json!({"timestamp": "t3", "outcome": "error", "error_type": "Bad",
                    "error": "no", "retryable": false, "duration_ms": 1,
                    "span": span("e-2", "StockReserved", "e-1")}),
            ),
            logged(
                "fulfillment",
                serde_json::json!({"timestamp": "t4", "outcome": "error", "error_type": "Bad",
                    "error": "no", "retryable": false, "duration_ms": 1,
                    "span": span("e-2", "StockReserved", "e-1")}),
            ),
        ];
        assert!(Logged::parse("inventory", r#"{"_aws":{"Timestamp":1},"Events":1}"#).is_none());

        // When the tree is rebuilt
        let roots = rebuild(lines, &["fulfillment".to_owned(), "inventory".to_owned()]);

        // Then it is the one flow, as herald dev would have printed it
        let mut out = Vec::new();
        for root in &roots {
            write_tree(root, &mut out).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            "OrderPlaced e-1  correlation c-1  trace 1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb\n\
             └─ inventory ✓ claimed reserved (3 ms)\n   \
             └─ emits StockReserved e-2\n      \
             └─ fulfillment ✗ Bad (1 ms): not retryable: no → retry ✗ Bad (1 ms)  → DLQ\n"
        );
        assert_eq!(roots[0].runs[0].emitted[0].published_by.as_deref(), Some("inventory"));
    }
}
