//! `herald dev` and `herald invoke`: the template's functions as warm local processes behind a
//! Lambda Runtime API, a local bus that routes what they publish by the template's own rules,
//! Lambda's retries, a dead-letter file, and the causation trace of every input event.
//!
//! - the template is read as a [`Stack`] by [`herald_infra::stack`] (functions, rules, retries,
//!   environment, tables, and what `${AWS::StackName}` stands for locally).
//! - [`runtime`]: one function as a warm process behind its Runtime API.
//! - [`bus`]: the local `PutEvents` endpoint the functions publish to.
//! - [`moto`]: a moto server started on request (`--start-moto`).
//! - [`trace`]: the tree (or JSON lines) printed per input event.
//!
//! With no flag the functions keep their state in memory inside their warm process
//! (`HERALD_STORES=memory`), so nothing external is needed; with `--aws-endpoint URL` they use
//! the DynamoDB API there (moto server, say), and `herald dev` creates the template's tables.

pub mod bus;
pub mod moto;
pub mod runtime;
pub mod trace;

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use herald_infra::{InfraError, Stack, StackFunction};

use bus::LocalBus;
use runtime::{Ended, LocalFunction, RuntimeError};
use trace::{Attempt, EventNode, FunctionRun};

/// Emitted events are followed this deep at most: a loop of functions reacting to each other
/// is reported instead of running forever.
const MAX_DEPTH: usize = 16;

/// Why a local run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The template is unusable.
    #[error(transparent)]
    Template(#[from] InfraError),
    /// A function cannot be served.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// An input is not an event.
    #[error("{path}: {message}")]
    Input {
        /// The file (or `-` for standard input).
        path: String,
        /// What is wrong, with the place.
        message: String,
    },
    /// Building the function binaries failed.
    #[error("building the functions failed: {0}")]
    Build(String),
    /// A function named on the command line is not in the template.
    #[error("{template}: no function with binary `{name}`; the template has: {known}")]
    UnknownFunction {
        /// The template.
        template: String,
        /// The name asked for.
        name: String,
        /// The names it has.
        known: String,
    },
    /// Local I/O failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The DynamoDB endpoint could not be prepared.
    #[error("preparing tables at {endpoint}: {message}")]
    Tables {
        /// The endpoint.
        endpoint: String,
        /// What failed.
        message: String,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The SAM template.
    pub template: PathBuf,
    /// The workspace whose `target/debug` holds the function binaries.
    pub workspace: PathBuf,
    /// Build the binaries first (`cargo build`).
    pub build: bool,
    /// DynamoDB endpoint for the functions' stores; `None` keeps them in memory.
    pub aws_endpoint: Option<String>,
    /// Where dead letters go (JSON lines).
    pub dead_letters: PathBuf,
    /// Where each function's log goes.
    pub logs: PathBuf,
    /// Extra environment for every function (`--env NAME=VALUE`).
    pub environment: BTreeMap<String, String>,
}

/// Counts of a run, for the closing line and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Input deliveries (inputs × repeat).
    pub inputs: usize,
    /// Events routed, inputs and emitted ones.
    pub events: usize,
    /// Function invocations, retries included.
    pub invocations: usize,
    /// Events written to the dead-letter file.
    pub dead_letters: usize,
}

/// A running local stack: the template's functions, the bus, the dead-letter file.
pub struct LocalStack {
    functions: Vec<(StackFunction, LocalFunction)>,
    bus: LocalBus,
    dead_letters: std::fs::File,
    summary: Summary,
}

impl LocalStack {
    /// Reads the template, builds the binaries if asked, and serves every function (or only
    /// `only`).
    ///
    /// # Errors
    /// [`DevError`] naming what cannot be used.
    pub async fn start(options: &DevOptions, only: Option<&str>) -> Result<Self, DevError> {
        let template = Stack::load(&options.template)?;
        let chosen: Vec<StackFunction> = match only {
            None => template.functions.clone(),
            Some(name) => vec![template.function(name).cloned().ok_or_else(|| {
                DevError::UnknownFunction {
                    template: options.template.display().to_string(),
                    name: name.to_owned(),
                    known: template
                        .functions
                        .iter()
                        .map(|f| f.binary.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })?],
        };
        if options.build {
            build(&options.workspace, &chosen)?;
        }
        let io = |what: String| move |source| DevError::Io { what, source };
        std::fs::create_dir_all(&options.logs).map_err(io(options.logs.display().to_string()))?;
        if let Some(parent) = options.dead_letters.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent.display().to_string()))?;
        }
        let dead_letters = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&options.dead_letters)
            .map_err(io(options.dead_letters.display().to_string()))?;
        if let Some(endpoint) = &options.aws_endpoint {
            create_tables(endpoint, &template).await?;
        }
        let (bus, bus_url) = LocalBus::start()
            .await
            .map_err(io("serving the local bus".to_owned()))?;
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| options.workspace.join("target"), PathBuf::from);
        let mut functions = Vec::new();
        for function in chosen {
            let mut environment = function.environment.clone();
            environment.extend(local_environment(
                &bus_url,
                options.aws_endpoint.as_deref(),
                function.memory_mb,
            ));
            if function.buffer.is_some() {
                // Its dead letters are this run's dead-letter file: the function leaves every
                // failure to its (local) queue, which delivers it again as SQS would.
                environment.insert(herald::consumer::DEAD_LETTER_QUEUE_URL.to_owned(), String::new());
                environment.insert(herald::consumer::BATCH_OUTCOMES.to_owned(), "1".to_owned());
            }
            environment.extend(options.environment.clone());
            let local = LocalFunction::start(
                &function.binary,
                target.join("debug").join(&function.binary),
                environment,
                Duration::from_secs(function.timeout_secs),
                options.logs.join(format!("{}.log", function.binary)),
            )
            .await?;
            functions.push((function, local));
        }
        Ok(Self {
            functions,
            bus,
            dead_letters,
            summary: Summary::default(),
        })
    }

    /// Routes one input event through every matching function, and what they publish through
    /// theirs, depth first; returns the trace.
    pub async fn deliver(&mut self, event: serde_json::Value) -> EventNode {
        self.summary.inputs += 1;
        self.route(event, None, new_trace(), 0).await
    }

    /// Invokes one function once with an event (for `herald invoke`).
    pub async fn invoke_one(&mut self, event: &serde_json::Value) -> Option<Ended> {
        let (_, local) = self.functions.first_mut()?;
        Some(local.invoke(event, &new_trace()).await)
    }

    /// What has been done so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Stops every function process.
    pub async fn stop(&mut self) {
        for (_, local) in &mut self.functions {
            local.stop().await;
        }
    }

    fn route<'a>(
        &'a mut self,
        event: serde_json::Value,
        published_by: Option<String>,
        trace_header: String,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = EventNode> + 'a>> {
        Box::pin(async move {
            self.summary.events += 1;
            let mut node = node_of(&event, published_by);
            node.trace_id = herald::trace::root(&trace_header).to_owned();
            if depth >= MAX_DEPTH {
                tracing::warn!(event_id = %node.event_id, "event chain deeper than {MAX_DEPTH}: not routed further");
                return node;
            }
            let matched: Vec<usize> = (0..self.functions.len())
                .filter(|i| self.functions[*i].0.matches(&event))
                .collect();
            for index in matched {
                let retries = self.functions[index].0.retries;
                let name = self.functions[index].0.binary.clone();
                let mut run = FunctionRun {
                    function: name.clone(),
                    attempts: Vec::new(),
                    dead_lettered: false,
                    emitted: Vec::new(),
                };
                for attempt in 1..=retries + 1 {
                    let _stale = self.bus.take().await;
                    let started = Instant::now();
                    let ended = match &self.functions[index].0.buffer {
                        None => self.functions[index].1.invoke(&event, &trace_header).await,
                        Some(buffer) => {
                            let batch = sqs_batch(&buffer.queue, &event, attempt, &trace_header);
                            batch_outcome(self.functions[index].1.invoke(&batch, &trace_header).await)
                        }
                    };
                    self.summary.invocations += 1;
                    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    run.attempts.push(attempt_of(attempt, &ended, duration_ms));
                    for published in self.bus.take().await {
                        // As EventBridge does: the publisher's trace header goes on to the
                        // targets; an event published without one starts a trace of its own.
                        let trace = published.trace_header.unwrap_or_else(new_trace);
                        run.emitted
                            .push(self.route(published.event, Some(name.clone()), trace, depth + 1).await);
                    }
                    if ended.is_ok() {
                        break;
                    }
                }
                if run.attempts.last().is_some_and(|a| a.error_type.is_some()) {
                    run.dead_lettered = true;
                    self.summary.dead_letters += 1;
                    self.write_dead_letter(&name, &event, &run);
                }
                node.runs.push(run);
            }
            node
        })
    }

    fn write_dead_letter(&mut self, function: &str, event: &serde_json::Value, run: &FunctionRun) {
        let last = run.attempts.last();
        let line = serde_json::json!({
            "function": function,
            "error_type": last.and_then(|a| a.error_type.clone()),
            "error_message": last.and_then(|a| a.error_message.clone()),
            "attempts": run.attempts.len(),
            "failed_at": chrono::Utc::now().to_rfc3339(),
            "event": event,
        });
        if let Err(error) = writeln!(self.dead_letters, "{line}") {
            tracing::error!(%error, function, "cannot write the dead-letter file; the event is printed instead: {line}");
        }
    }
}

/// The variables every local function gets besides the template's.
fn local_environment(bus_url: &str, aws_endpoint: Option<&str>, memory_mb: u64) -> BTreeMap<String, String> {
    let mut environment = BTreeMap::from([
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION".to_owned(), "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "herald-dev".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "herald-dev".to_owned()),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE".to_owned(), bus_url.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(), memory_mb.to_string()),
        (
            "RUST_LOG".to_owned(),
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()),
        ),
    ]);
    match aws_endpoint {
        Some(endpoint) => environment.insert("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), endpoint.to_owned()),
        None => environment.insert("HERALD_STORES".to_owned(), "memory".to_owned()),
    };
    environment
}

/// A batch of one SQS message holding `event`, as Lambda hands a buffered function what its
/// queue delivers: `ApproximateReceiveCount` counts the deliveries, `AWSTraceHeader` carries the
/// trace. (Locally each event is its own batch, routed depth first like every other.)
fn sqs_batch(queue: &str, event: &serde_json::Value, receive: u32, trace_header: &str) -> serde_json::Value {
    serde_json::json!({
        "Records": [{
            "messageId": uuid::Uuid::new_v4().to_string(),
            "receiptHandle": uuid::Uuid::new_v4().to_string(),
            "body": event.to_string(),
            "attributes": {
                "ApproximateReceiveCount": receive.to_string(),
                "SentTimestamp": chrono::Utc::now().timestamp_millis().to_string(),
                "AWSTraceHeader": trace_header,
            },
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
            "awsRegion": "us-east-1",
        }]
    })
}

/// A batch invocation's end as its one event's: the outcome the function answered beside its
/// partial batch response (`HERALD_BATCH_OUTCOMES`), as a single event's response or error.
fn batch_outcome(ended: Ended) -> Ended {
    let Ended::Response(body) = ended else { return ended };
    let answer: herald::consumer::BatchAnswer = match serde_json::from_value(body) {
        Ok(answer) => answer,
        Err(error) => {
            return Ended::Error {
                error_type: "BatchResponse".to_owned(),
                error_message: format!("the function's batch answer is not one: {error}"),
            };
        }
    };
    match answer.outcomes.into_iter().next() {
        Some(item) if answer.response.batch_item_failures.is_empty() && item.error_type.is_none() => {
            Ended::Response(serde_json::json!({ "outcome": item.outcome, "result": { "action": item.action } }))
        }
        Some(item) => Ended::Error {
            error_type: item.error_type.unwrap_or_else(|| "BatchItemFailure".to_owned()),
            error_message: item.error.unwrap_or_default(),
        },
        None => Ended::Error {
            error_type: "BatchResponse".to_owned(),
            error_message: "the function answered no outcome for its event".to_owned(),
        },
    }
}

/// A new X-Ray trace header, as the producer of an input event would start one: `Root=1-` the
/// epoch seconds in 8 hex digits, `-` 24 random hex digits; sampled.
fn new_trace() -> String {
    let seconds = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{seconds:08x}-{};Sampled=1", &random[..24])
}

fn node_of(event: &serde_json::Value, published_by: Option<String>) -> EventNode {
    let text = |pointer: &str| {
        event
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    EventNode {
        detail_type: text("/detail-type").unwrap_or_default(),
        source: text("/source").unwrap_or_default(),
        schema_version: event
            .pointer("/detail/metadata/schema_version")
            .and_then(serde_json::Value::as_u64),
        event_id: text("/detail/metadata/event_id")
            .or_else(|| text("/id"))
            .unwrap_or_default(),
        correlation_id: text("/detail/metadata/correlation_id").unwrap_or_default(),
        caused_by: text("/detail/metadata/causation_id"),
        published_by,
        trace_id: String::new(),
        runs: Vec::new(),
    }
}

fn attempt_of(attempt: u32, ended: &Ended, duration_ms: u64) -> Attempt {
    let mut record = Attempt {
        attempt,
        outcome: String::new(),
        action: None,
        error_type: None,
        error_message: None,
        duration_ms,
    };
    match ended {
        Ended::Response(body) => {
            record.outcome = body.get("outcome").and_then(|o| o.as_str()).unwrap_or("ok").to_owned();
            record.action = body
                .pointer("/result/action")
                .and_then(|a| a.as_str())
                .map(str::to_owned);
        }
        Ended::Error {
            error_type,
            error_message,
        } => {
            record.outcome = "error".to_owned();
            record.error_type = Some(error_type.clone());
            record.error_message = Some(error_message.clone());
        }
        Ended::Timeout => {
            record.outcome = "error".to_owned();
            record.error_type = Some("Timeout".to_owned());
            record.error_message = Some("the invocation passed its deadline; the process was stopped".to_owned());
        }
        Ended::Crashed(reason) => {
            record.outcome = "error".to_owned();
            record.error_type = Some("Crash".to_owned());
            record.error_message = Some(reason.clone());
        }
    }
    record
}

/// `cargo build` of the chosen functions' binaries.
fn build(workspace: &Path, functions: &[StackFunction]) -> Result<(), DevError> {
    let mut command = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(workspace).args(["build", "--quiet"]);
    for function in functions {
        command.args(["-p", &function.binary]);
    }
    let status = command
        .status()
        .map_err(|e| DevError::Build(format!("cannot run cargo: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(DevError::Build(format!("cargo build exited with {status}")))
    }
}

/// Creates the template's tables at a DynamoDB endpoint, named by their logical ids; existing
/// tables are kept.
async fn create_tables(endpoint: &str, template: &Stack) -> Result<(), DevError> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "herald-dev",
            "herald-dev",
            None,
            None,
            "herald-dev",
        ))
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let failed = |message: String| DevError::Tables {
        endpoint: endpoint.to_owned(),
        message,
    };
    let existing = client
        .list_tables()
        .send()
        .await
        .map_err(|e| failed(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
    for table in &template.tables {
        if existing.table_names().contains(&table.logical_id) {
            continue;
        }
        let mut request = client
            .create_table()
            .table_name(&table.logical_id)
            .billing_mode(BillingMode::PayPerRequest);
        for (name, kind) in std::iter::once((&table.partition_key, KeyType::Hash))
            .chain(table.sort_key.as_ref().map(|s| (s, KeyType::Range)))
        {
            request = request
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .map_err(|e| failed(e.to_string()))?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(name)
                        .key_type(kind)
                        .build()
                        .map_err(|e| failed(e.to_string()))?,
                );
        }
        match request.send().await {
            Ok(_) => {}
            // Another `herald dev` against the same endpoint created it since the listing.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(error) => {
                return Err(failed(format!(
                    "{}: {}",
                    table.logical_id,
                    aws_sdk_dynamodb::error::DisplayErrorContext(error)
                )));
            }
        }
    }
    Ok(())
}

/// Reads input events: files, directories (their `*.json` files but schemas, sorted by path) or
/// `-` for standard input (one JSON event, a JSON array of events, or JSON lines). Events are
/// delivered in the order they happened (`detail.metadata.occurred_at`, then `time`).
///
/// # Errors
/// [`DevError::Input`] naming the file and the place of the first thing that is not an event.
pub fn read_inputs(paths: &[PathBuf]) -> Result<Vec<serde_json::Value>, DevError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    let mut events = Vec::new();
    for file in files {
        let (name, text) = if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| DevError::Input {
                    path: "-".to_owned(),
                    message: e.to_string(),
                })?;
            ("-".to_owned(), text)
        } else {
            let text = std::fs::read_to_string(&file).map_err(|e| DevError::Input {
                path: file.display().to_string(),
                message: e.to_string(),
            })?;
            (file.display().to_string(), text)
        };
        events.extend(parse_events(&name, &text)?);
    }
    let happened = |event: &serde_json::Value| {
        event
            .pointer("/detail/metadata/occurred_at")
            .or_else(|| event.get("time"))
            .and_then(serde_json::Value::as_str)
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    events.sort_by_key(|event| happened(event));
    Ok(events)
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), DevError> {
    if path.as_os_str() == "-" || !path.is_dir() {
        files.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| DevError::Input {
            path: path.display().to_string(),
            message: e.to_string(),
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if entry.is_dir() {
            collect(&entry, files)?;
        } else if name.ends_with(".json") && !name.ends_with(".schema.json") {
            files.push(entry);
        }
    }
    Ok(())
}

fn parse_events(name: &str, text: &str) -> Result<Vec<serde_json::Value>, DevError> {
    let place = |e: serde_json::Error| DevError::Input {
        path: name.to_owned(),
        message: format!("line {} column {}: {e}", e.line(), e.column()),
    };
    let values: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(single) => vec![single],
        Err(whole) => {
            // Not one document: JSON lines, or a broken document (reported at its own place).
            let mut lines = Vec::new();
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                match serde_json::from_str(line) {
                    Ok(value) => lines.push(value),
                    Err(_) if n == 0 => return Err(place(whole)),
                    Err(e) => {
                        return Err(DevError::Input {
                            path: name.to_owned(),
                            message: format!("line {}: {e}", n + 1),
                        });
                    }
                }
            }
            lines
        }
    };
    for (i, value) in values.iter().enumerate() {
        let routed = value.get("source").and_then(|s| s.as_str()).is_some()
            && value.get("detail-type").and_then(|s| s.as_str()).is_some()
            && value.get("detail").is_some_and(serde_json::Value::is_object);
        if !routed {
            return Err(DevError::Input {
                path: name.to_owned(),
                message: format!(
                    "event #{}: not an EventBridge event (needs source, detail-type and a detail object)",
                    i + 1
                ),
            });
        }
    }
    Ok(values)
}
