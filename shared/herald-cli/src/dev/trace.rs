//! The causation trace of a local run: for each input event, the functions its rules matched,
//! how each invocation ended, and the events each one published, recursively.
//!
//! Printed as a tree for people, or with `--json` as one JSON object per line:
//! `{"kind":"event",…}`, `{"kind":"invocation",…}`, `{"kind":"dead-letter",…}`.

use std::io::Write;

use serde::Serialize;

/// One event in the trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventNode {
    /// `detail-type`.
    pub detail_type: String,
    /// `source`.
    pub source: String,
    /// `detail.metadata.schema_version`, when there is one.
    pub schema_version: Option<u64>,
    /// `detail.metadata.event_id`.
    pub event_id: String,
    /// `detail.metadata.correlation_id`.
    pub correlation_id: String,
    /// The function that published it; `None` for an input.
    pub published_by: Option<String>,
    /// `detail.metadata.causation_id`.
    pub caused_by: Option<String>,
    /// The X-Ray trace id it travelled in (the `Root` of the trace header the functions it
    /// reached were invoked with, which their log lines carry as `xray_trace_id`).
    pub trace_id: String,
    /// Each function its rules matched, in order.
    pub runs: Vec<FunctionRun>,
}

/// A function's handling of one event, retries included.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionRun {
    /// The function.
    pub function: String,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// True when every attempt failed and the event went to the dead-letter file.
    pub dead_lettered: bool,
    /// The events it published (across attempts).
    pub emitted: Vec<EventNode>,
}

/// One invocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// 1 for the first delivery.
    pub attempt: u32,
    /// The guard's outcome (`claimed`, `duplicate`, `cached`, …) or `error`.
    pub outcome: String,
    /// The function's reaction summary (`result.action`), when it answered with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// `errorType`, or `Timeout` / `Crash`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The error's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Wall time of the invocation.
    pub duration_ms: u64,
}

/// A JSON line of `--json` output.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Line<'a> {
    Event {
        source: &'a str,
        detail_type: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        schema_version: Option<u64>,
        event_id: &'a str,
        correlation_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        published_by: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        caused_by: Option<&'a str>,
        trace_id: &'a str,
        matched: Vec<&'a str>,
    },
    Invocation {
        event_id: &'a str,
        detail_type: &'a str,
        function: &'a str,
        #[serde(flatten)]
        attempt: &'a Attempt,
    },
    DeadLetter {
        event_id: &'a str,
        detail_type: &'a str,
        function: &'a str,
        attempts: usize,
    },
}

/// Writes the trace of one input event as JSON lines, depth first.
///
/// # Errors
/// When writing fails.
pub fn write_json(node: &EventNode, out: &mut impl Write) -> std::io::Result<()> {
    let line = Line::Event {
        source: &node.source,
        detail_type: &node.detail_type,
        schema_version: node.schema_version,
        event_id: &node.event_id,
        correlation_id: &node.correlation_id,
        published_by: node.published_by.as_deref(),
        caused_by: node.caused_by.as_deref(),
        trace_id: &node.trace_id,
        matched: node.runs.iter().map(|r| r.function.as_str()).collect(),
    };
    writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default())?;
    for run in &node.runs {
        for attempt in &run.attempts {
            let line = Line::Invocation {
                event_id: &node.event_id,
                detail_type: &node.detail_type,
                function: &run.function,
                attempt,
            };
            writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default())?;
        }
        if run.dead_lettered {
            let line = Line::DeadLetter {
                event_id: &node.event_id,
                detail_type: &node.detail_type,
                function: &run.function,
                attempts: run.attempts.len(),
            };
            writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default())?;
        }
        for emitted in &run.emitted {
            write_json(emitted, out)?;
        }
    }
    Ok(())
}

/// Writes the trace of one input event as a tree.
///
/// # Errors
/// When writing fails.
pub fn write_tree(node: &EventNode, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {}  correlation {}  trace {}",
        node.detail_type,
        short(&node.event_id),
        short(&node.correlation_id),
        node.trace_id
    )?;
    if node.runs.is_empty() {
        writeln!(out, "└─ (no rule matched)")?;
    }
    write_runs(node, "", out)
}

fn write_runs(node: &EventNode, indent: &str, out: &mut impl Write) -> std::io::Result<()> {
    for (i, run) in node.runs.iter().enumerate() {
        let last = i + 1 == node.runs.len();
        let branch = if last { "└─" } else { "├─" };
        let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
        let summary: Vec<String> = run.attempts.iter().map(|a| describe(a, a.attempt == 1)).collect();
        let dlq = if run.dead_lettered { "  → DLQ" } else { "" };
        writeln!(
            out,
            "{indent}{branch} {} {}{dlq}",
            run.function,
            summary.join(" → retry ")
        )?;
        for (j, emitted) in run.emitted.iter().enumerate() {
            let last_emitted = j + 1 == run.emitted.len();
            let twig = if last_emitted { "└─" } else { "├─" };
            writeln!(
                out,
                "{deeper}{twig} emits {} {}",
                emitted.detail_type,
                short(&emitted.event_id)
            )?;
            let nested = format!("{deeper}{}", if last_emitted { "   " } else { "│  " });
            write_runs(emitted, &nested, out)?;
        }
    }
    Ok(())
}

/// One attempt; a retry's message is left out (the JSON lines have it).
fn describe(attempt: &Attempt, with_message: bool) -> String {
    match (&attempt.error_type, &attempt.action) {
        (Some(error_type), _) if with_message => format!(
            "✗ {error_type} ({} ms): {}",
            attempt.duration_ms,
            attempt.error_message.as_deref().unwrap_or_default()
        ),
        (Some(error_type), _) => format!("✗ {error_type} ({} ms)", attempt.duration_ms),
        (None, Some(action)) => format!("✓ {} {} ({} ms)", attempt.outcome, action, attempt.duration_ms),
        (None, None) => format!("✓ {} ({} ms)", attempt.outcome, attempt.duration_ms),
    }
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
