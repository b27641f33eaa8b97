//! A consumer's declaration, from its crate's `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.herald]
//! description = "Reserves stock for placed orders; releases it on cancellation or return."
//! # Every event version the function handles, as catalog paths: source/DetailType/vN.
//! consumes = ["shop.orders/OrderPlaced/v1", "shop.orders/OrderPlaced/v2"]
//! # Every event version it may publish (`emits = []` when none): grants PutEvents for
//! # exactly these sources, and EVENT_BUS_NAME.
//! emits = ["shop.inventory/StockReserved/v1"]
//! # EventBridge's retries of a delivery (the rule target's RetryPolicy) …
//! rule-retries = { attempts = 8, max-event-age-seconds = 3600 }
//! # … and Lambda's retries of a failed asynchronous invocation (EventInvokeConfig).
//! invoke-retries = { attempts = 2, max-event-age-seconds = 3600 }
//! # Optional: memory-mb, timeout-seconds (else the template's Globals), and
//! # environment = { NAME = "value" } for extra variables.
//! # Or, instead of invoke-retries, a buffered consumer: its rule sends to its own SQS queue,
//! # which Lambda drains in batches (partial batch responses); an event is received at most
//! # max-receives times before it is dead-lettered.
//! # buffer = { batch-size = 10, batching-window-seconds = 1, max-receives = 5 }
//!
//! [[package.metadata.herald.tables]]
//! env = "STOCK_TABLE"            # the variable the code reads the table's name from
//! logical-id = "StockTable"      # the table's logical id in the template
//! partition-key = "sku"          # string keys
//! # sort-key = "…", ttl = "expires_at", point-in-time-recovery = true (the default)
//! actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
//! ```
//!
//! A package is a consumer when its herald table has `consumes`; its name is also its folder
//! and binary name. Every problem is an [`InfraError::Declaration`] naming the manifest and the
//! key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::InfraError;
use crate::event_ref::EventRef;
use crate::workspace::{self, Package};

/// Where every key of a declaration lives.
const PREFIX: &str = "package.metadata.herald";

/// Environment variables the framework sets itself; a declaration may not claim them.
pub const RESERVED_VARIABLES: [&str; 3] = [
    "IDEMPOTENCY_TABLE",
    "IDEMPOTENCY_EXPIRES_AFTER_SECONDS",
    "EVENT_BUS_NAME",
];

/// A validated consumer declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// Package, folder and binary name, e.g. `order-history`.
    pub name: String,
    /// The crate's `Cargo.toml`.
    pub manifest: PathBuf,
    /// The Lambda function's description.
    pub description: String,
    /// Event versions it consumes, in declaration order, without duplicates.
    pub consumes: Vec<EventRef>,
    /// Event versions it may publish.
    pub emits: Vec<EventRef>,
    /// Its own tables, in declaration order.
    pub tables: Vec<Table>,
    /// EventBridge's retries of a delivery to the function.
    pub rule_retries: Retries,
    /// How its rule reaches it: invoked asynchronously, or through its own queue.
    pub delivery: Delivery,
    /// Memory in MB, when it differs from the template's Globals.
    pub memory_mb: Option<u32>,
    /// Timeout in seconds, when it differs from the template's Globals.
    pub timeout_seconds: Option<u32>,
    /// Extra environment variables, by name.
    pub environment: BTreeMap<String, String>,
}

/// One of a consumer's own DynamoDB tables (on-demand, retained on delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The environment variable the code reads its name from, e.g. `STOCK_TABLE`.
    pub env: String,
    /// Its logical id in the template, e.g. `StockTable`.
    pub logical_id: String,
    /// String partition key.
    pub partition_key: String,
    /// String sort key, if any.
    pub sort_key: Option<String>,
    /// The attribute DynamoDB expires items by, if any.
    pub ttl: Option<String>,
    /// Point-in-time recovery (default on).
    pub point_in_time_recovery: bool,
    /// Exactly the DynamoDB actions the code uses on it, e.g. `dynamodb:GetItem`.
    pub actions: Vec<String>,
}

/// How a consumer's rule reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The rule invokes the function asynchronously, one event per invocation; Lambda retries a
    /// failed invocation `invoke-retries` times.
    Direct {
        /// Lambda's retries of a failed asynchronous invocation.
        invoke_retries: Retries,
    },
    /// The rule sends to the function's own SQS queue, which Lambda drains in batches.
    Buffered(Buffer),
}

impl Delivery {
    /// The buffer, for a buffered consumer.
    pub fn buffer(&self) -> Option<&Buffer> {
        match self {
            Self::Buffered(buffer) => Some(buffer),
            Self::Direct { .. } => None,
        }
    }
}

/// A buffered consumer's queue and batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Buffer {
    /// Events per invocation at most (the event source mapping's `BatchSize`).
    pub batch_size: u32,
    /// How long Lambda gathers a batch before invoking (`MaximumBatchingWindowInSeconds`).
    pub batching_window_seconds: u32,
    /// Receives of one event before the consumer dead-letters a retryable failure; the queue's
    /// `maxReceiveCount` is one more, for an invocation that dies before it answers.
    pub max_receives: u32,
}

/// Retry limits of one delivery mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Retries {
    /// Retry attempts after the first.
    pub attempts: u32,
    /// Events older than this are not retried but dead-lettered.
    pub max_event_age_seconds: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawDeclaration {
    description: String,
    consumes: Vec<String>,
    emits: Vec<String>,
    #[serde(default)]
    tables: Vec<RawTable>,
    rule_retries: Retries,
    #[serde(default)]
    invoke_retries: Option<Retries>,
    #[serde(default)]
    buffer: Option<Buffer>,
    #[serde(default)]
    memory_mb: Option<u32>,
    #[serde(default)]
    timeout_seconds: Option<u32>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawTable {
    env: String,
    logical_id: String,
    partition_key: String,
    #[serde(default)]
    sort_key: Option<String>,
    #[serde(default)]
    ttl: Option<String>,
    #[serde(default = "enabled")]
    point_in_time_recovery: bool,
    actions: Vec<String>,
}

fn enabled() -> bool {
    true
}

/// Every consumer of the workspace at `workspace`, by package name.
///
/// # Errors
/// [`InfraError`] when `cargo metadata` fails, a declaration is malformed, or two
/// declarations claim the same table logical id.
pub fn consumers(workspace: &Path) -> Result<Vec<Declaration>, InfraError> {
    let mut found = Vec::new();
    for package in workspace::packages(workspace)? {
        if let Some(declaration) = Declaration::from_package(&package)? {
            found.push(declaration);
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    check_unique(&found)?;
    Ok(found)
}

impl Declaration {
    /// The package's declaration; `None` when it is no consumer (no `consumes` key).
    ///
    /// # Errors
    /// [`InfraError::Declaration`] naming the manifest and the key that is wrong.
    pub fn from_package(package: &Package) -> Result<Option<Self>, InfraError> {
        let Some(herald) = &package.herald else {
            return Ok(None);
        };
        if herald.get("consumes").is_none() {
            return Ok(None);
        }
        let wrong = |key: &str, message: String| InfraError::Declaration {
            manifest: package.manifest.clone(),
            key: format!("{PREFIX}.{key}").trim_end_matches('.').to_owned(),
            message,
        };
        let raw: RawDeclaration = serde_path_to_error::deserialize(herald).map_err(|e| {
            let key = e.path().to_string();
            wrong(if key == "." { "" } else { &key }, e.into_inner().to_string())
        })?;
        if !package.binaries.contains(&package.name) {
            return Err(wrong(
                "",
                format!(
                    "a consumer's binary is named after its package: no binary `{}`",
                    package.name
                ),
            ));
        }
        let declaration = Self {
            name: package.name.clone(),
            manifest: package.manifest.clone(),
            description: validated_description(&raw.description).map_err(|m| wrong("description", m))?,
            consumes: event_refs("consumes", &raw.consumes, &wrong)?,
            emits: event_refs("emits", &raw.emits, &wrong)?,
            tables: raw
                .tables
                .into_iter()
                .enumerate()
                .map(|(i, table)| validated_table(table, &|key, m| wrong(&format!("tables[{i}].{key}"), m)))
                .collect::<Result<_, _>>()?,
            rule_retries: within(raw.rule_retries, 0..=185, 60..=86_400, "rule-retries", &wrong)?,
            delivery: match (raw.invoke_retries, raw.buffer) {
                (Some(retries), None) => Delivery::Direct {
                    invoke_retries: within(retries, 0..=2, 60..=21_600, "invoke-retries", &wrong)?,
                },
                (None, Some(buffer)) => Delivery::Buffered(validated_buffer(buffer, &wrong)?),
                (Some(_), Some(_)) => {
                    return Err(wrong(
                        "buffer",
                        "a buffered consumer is invoked by its queue, not asynchronously: drop invoke-retries \
                         (buffer.max-receives says how often an event is tried)"
                            .to_owned(),
                    ));
                }
                (None, None) => {
                    return Err(wrong(
                        "invoke-retries",
                        "say how the rule reaches the function: invoke-retries (asynchronous invocation) or \
                         buffer (through its own queue)"
                            .to_owned(),
                    ));
                }
            },
            memory_mb: raw
                .memory_mb
                .map(|m| in_range(m, 128..=10_240, "MB").map_err(|e| wrong("memory-mb", e)))
                .transpose()?,
            timeout_seconds: raw
                .timeout_seconds
                .map(|t| in_range(t, 1..=900, "seconds").map_err(|e| wrong("timeout-seconds", e)))
                .transpose()?,
            environment: raw.environment,
        };
        if declaration.consumes.is_empty() {
            return Err(wrong(
                "consumes",
                "a consumer consumes at least one event version".to_owned(),
            ));
        }
        let mut variables = BTreeSet::from(RESERVED_VARIABLES);
        for (i, table) in declaration.tables.iter().enumerate() {
            if !variables.insert(&table.env) {
                return Err(wrong(
                    &format!("tables[{i}].env"),
                    format!("`{}` is set by the framework or declared twice", table.env),
                ));
            }
        }
        for name in declaration.environment.keys() {
            let key = format!("environment.{name}");
            check_variable(name).map_err(|m| wrong(&key, m))?;
            if !variables.insert(name) {
                return Err(wrong(&key, format!("`{name}` is set by the framework or by a table")));
            }
        }
        Ok(Some(declaration))
    }
}

fn validated_description(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() || text.len() > 256 || text.contains(['\n', '\r']) {
        return Err("one line of 1 to 256 characters (Lambda's limit)".to_owned());
    }
    Ok(text.to_owned())
}

fn event_refs(
    key: &str,
    entries: &[String],
    wrong: &dyn Fn(&str, String) -> InfraError,
) -> Result<Vec<EventRef>, InfraError> {
    let mut seen = BTreeSet::new();
    let mut refs = Vec::new();
    for (i, text) in entries.iter().enumerate() {
        let parsed = EventRef::parse(text)
            .ok_or_else(|| wrong(&format!("{key}[{i}]"), format!("`{text}` is not source/DetailType/vN")))?;
        if !seen.insert(parsed.clone()) {
            return Err(wrong(&format!("{key}[{i}]"), format!("`{text}` is listed twice")));
        }
        refs.push(parsed);
    }
    Ok(refs)
}

fn validated_table(raw: RawTable, wrong: &dyn Fn(&str, String) -> InfraError) -> Result<Table, InfraError> {
    check_variable(&raw.env).map_err(|m| wrong("env", m))?;
    if raw.logical_id.is_empty() || !raw.logical_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(wrong(
            "logical-id",
            format!(
                "`{}` is not a CloudFormation logical id (letters and digits)",
                raw.logical_id
            ),
        ));
    }
    for (key, attribute) in [
        ("partition-key", Some(&raw.partition_key)),
        ("sort-key", raw.sort_key.as_ref()),
        ("ttl", raw.ttl.as_ref()),
    ] {
        if attribute.is_some_and(|a| a.is_empty() || a.len() > 255) {
            return Err(wrong(key, "an attribute name of 1 to 255 characters".to_owned()));
        }
    }
    if raw.actions.is_empty() {
        return Err(wrong("actions", "name the DynamoDB actions the code uses".to_owned()));
    }
    let mut seen = BTreeSet::new();
    for (i, action) in raw.actions.iter().enumerate() {
        let valid = action
            .strip_prefix("dynamodb:")
            .is_some_and(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()));
        if !valid {
            return Err(wrong(
                &format!("actions[{i}]"),
                format!("`{action}` is not one DynamoDB action such as dynamodb:GetItem (no wildcards)"),
            ));
        }
        if !seen.insert(action) {
            return Err(wrong(&format!("actions[{i}]"), format!("`{action}` is listed twice")));
        }
    }
    Ok(Table {
        env: raw.env,
        logical_id: raw.logical_id,
        partition_key: raw.partition_key,
        sort_key: raw.sort_key,
        ttl: raw.ttl,
        point_in_time_recovery: raw.point_in_time_recovery,
        actions: raw.actions,
    })
}

fn check_variable(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(format!("`{name}` is not an environment variable name (A-Z, 0-9, _)"))
    }
}

fn in_range(value: u32, range: std::ops::RangeInclusive<u32>, unit: &str) -> Result<u32, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is outside {}..={} {unit}", range.start(), range.end()))
    }
}

/// Lambda's and SQS's limits on a queue's event source mapping and redrive policy.
fn validated_buffer(buffer: Buffer, wrong: &dyn Fn(&str, String) -> InfraError) -> Result<Buffer, InfraError> {
    // "Standard queues: … The maximum is 10,000" (Lambda's `BatchSize` for SQS).
    in_range(buffer.batch_size, 1..=10_000, "events").map_err(|m| wrong("buffer.batch-size", m))?;
    // `MaximumBatchingWindowInSeconds`: 0 to 300.
    in_range(buffer.batching_window_seconds, 0..=300, "seconds")
        .map_err(|m| wrong("buffer.batching-window-seconds", m))?;
    // Lambda: "When you set BatchSize to a value greater than 10, you must set
    // MaximumBatchingWindowInSeconds to at least 1 second."
    if buffer.batch_size > 10 && buffer.batching_window_seconds == 0 {
        return Err(wrong(
            "buffer.batching-window-seconds",
            "a batch size above 10 needs a batching window of at least 1 second (Lambda's rule)".to_owned(),
        ));
    }
    // The queue's `maxReceiveCount` (one more) must stay within SQS's 1..=1000.
    in_range(buffer.max_receives, 1..=999, "receives").map_err(|m| wrong("buffer.max-receives", m))?;
    Ok(buffer)
}

fn within(
    retries: Retries,
    attempts: std::ops::RangeInclusive<u32>,
    age: std::ops::RangeInclusive<u32>,
    key: &str,
    wrong: &dyn Fn(&str, String) -> InfraError,
) -> Result<Retries, InfraError> {
    in_range(retries.attempts, attempts, "attempts").map_err(|m| wrong(&format!("{key}.attempts"), m))?;
    in_range(retries.max_event_age_seconds, age, "seconds")
        .map_err(|m| wrong(&format!("{key}.max-event-age-seconds"), m))?;
    Ok(retries)
}

/// Table logical ids must be unique across consumers: they share one template.
fn check_unique(declarations: &[Declaration]) -> Result<(), InfraError> {
    let mut ids: BTreeMap<&str, &Path> = BTreeMap::new();
    for declaration in declarations {
        for (i, table) in declaration.tables.iter().enumerate() {
            if let Some(first) = ids.insert(&table.logical_id, &declaration.manifest) {
                return Err(InfraError::Duplicate {
                    first: first.to_owned(),
                    second: declaration.manifest.clone(),
                    key: format!("{PREFIX}.tables[{i}].logical-id"),
                    name: table.logical_id.clone(),
                });
            }
        }
    }
    Ok(())
}
