//! One consumer's resources, derived from its [`Declaration`] and the framework's conventions.
//!
//! For a package `order-history` the prefix is `OrderHistory`, and the function is
//! `OrderHistoryFunction` (binary `order-history`, named `${AWS::StackName}-order-history`, as
//! are its rule and log group). Around it: its tables; `OrderHistoryDeadLetterQueue`, which
//! EventBridge (its policy) and Lambda (the role) may send to; `OrderHistoryLogGroup`;
//! `OrderHistoryRole`, which may write its own logs, use exactly the declared actions on its
//! own tables, touch only idempotency records whose key starts with `order-history#`, send to
//! its own queue and, if it emits anything, put events of exactly its sources on the bus; and
//! five alarms (dead letters, errors, throttles, failed deliveries, uncatalogued events).
//!
//! A buffered consumer (`buffer = { … }` in its declaration) differs in how its rule reaches it:
//! `OrderHistoryRule` (an `AWS::Events::Rule`, same name, pattern, retries and dead-letter queue)
//! targets `OrderHistoryBufferQueue` (its visibility timeout six times the function's timeout, its
//! redrive policy to the dead-letter queue), which the function drains in batches through an
//! `SQS` event with `ReportBatchItemFailures`; its role may drain that queue only; its errors
//! alarm counts failed events (Herald's `Events` with `outcome = error`), since a batch's failed
//! event is no failed invocation; and a sixth alarm watches the age of the queue's oldest event.

use serde::Deserialize;

use crate::declaration::{Buffer, Declaration, Delivery, Table};
use crate::event_ref::EventRef;
use crate::yaml::{Node, get_att, map, reference, str, sub};

/// The hand-written resources the generated ones refer to, as the template's
/// `Metadata: Herald:` section names them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Platform {
    /// Logical id of the event bus every consumer's rule listens on.
    pub bus: String,
    /// Name of the rule under each function's `Events`, e.g. `ShopEvents`.
    pub bus_event: String,
    /// Logical id of the shared idempotency table.
    pub idempotency_table: String,
    /// Logical id of the SNS topic every alarm notifies.
    pub alert_topic: String,
    /// Name of the parameter giving the log groups' retention in days.
    pub log_retention_days: String,
    /// The event catalog folder, relative to the template's folder (e.g. `../events`): the
    /// `unrouted` region's rule is its complement ([`crate::unrouted`]). Required by that region.
    #[serde(default)]
    pub catalog: Option<String>,
    /// What `${AWS::StackName}` stands for when the stack runs locally; read by
    /// [`crate::stack`], unused by generation. Optional: [`crate::stack::DEFAULT_LOCAL_STACK_NAME`].
    #[serde(default)]
    pub local_stack_name: Option<String>,
    /// Not in this section: the template's `Globals.Function.Timeout`, which a buffered
    /// consumer's queue visibility timeout follows when its declaration sets none.
    #[serde(skip)]
    pub function_timeout: Option<u32>,
}

/// Dead letters wait the SQS maximum: time to fix the consumer and redrive.
const DEAD_LETTER_RETENTION_SECONDS: i64 = 1_209_600;

/// How long a buffered consumer's queue keeps an event it has not handled (SQS's default, four
/// days): time for a stopped consumer to come back before its events are gone.
const BUFFER_RETENTION_SECONDS: i64 = 345_600;

/// The environment variables of a buffered consumer (read by `herald`'s consumer).
const DEAD_LETTER_QUEUE_VARIABLE: &str = "HERALD_DEAD_LETTER_QUEUE_URL";
const MAX_RECEIVES_VARIABLE: &str = "HERALD_MAX_RECEIVES";

/// Lambda's default function timeout, when neither the declaration nor the template's Globals
/// set one.
const DEFAULT_TIMEOUT_SECONDS: u32 = 3;

/// How old the oldest event in a buffer may get before its alarm goes off: the consumer is not
/// keeping up, or is not draining its queue at all.
const BUFFER_AGE_ALARM_SECONDS: i64 = 600;

/// The longest the bus archive may keep an event for replay, in days: the template's archive
/// retention parameter must not allow more (the template tests hold the two together).
pub const ARCHIVE_RETENTION_MAX_DAYS: i64 = 30;

/// Environment variable of the guard's deduplication window (read by `herald`).
pub const EXPIRES_AFTER_VARIABLE: &str = "IDEMPOTENCY_EXPIRES_AFTER_SECONDS";

const DAY_SECONDS: i64 = 86_400;

/// How long a function's guard remembers an event: longer than any way the same event can reach
/// it again — a replay from the archive (up to [`ARCHIVE_RETENTION_MAX_DAYS`] after it was
/// published), or a redrive from its dead-letter queue (up to the queue's retention after both
/// retry phases gave up) — plus a day, so a replay or redrive inside those windows is answered
/// from the record instead of running the handler again.
pub fn deduplication_window_seconds(declaration: &Declaration) -> i64 {
    let waited = match declaration.delivery {
        Delivery::Direct { invoke_retries } => i64::from(invoke_retries.max_event_age_seconds),
        // An event may wait in the buffer for the queue's whole retention before it is handled.
        Delivery::Buffered(_) => BUFFER_RETENTION_SECONDS,
    };
    let retried = i64::from(declaration.rule_retries.max_event_age_seconds) + waited;
    (ARCHIVE_RETENTION_MAX_DAYS * DAY_SECONDS).max(DEAD_LETTER_RETENTION_SECONDS + retried) + DAY_SECONDS
}

/// The name of a buffered consumer's SQS event source under its function's `Events`.
pub const BUFFER_EVENT: &str = "Buffer";

/// The metric namespace of herald's own metrics (`UncataloguedEvents`).
const HERALD_NAMESPACE: &str = "Herald";

/// The metric a consumer writes for a deferred event (`herald::emf::DEFERRED_EVENTS`), which
/// the errors alarm subtracts from Lambda's `Errors`.
const DEFERRED_EVENTS: &str = "DeferredEvents";

/// The metric a consumer writes once per event, with its outcome (`herald::emf::EVENTS`).
const EVENTS: &str = "Events";

/// Environment variable naming the idempotency table (read by `herald`).
const IDEMPOTENCY_VARIABLE: &str = "IDEMPOTENCY_TABLE";

/// Environment variable naming the bus events are published to (read by `herald`).
const BUS_VARIABLE: &str = "EVENT_BUS_NAME";

/// The actions herald's idempotency guard uses on its records.
const IDEMPOTENCY_ACTIONS: [&str; 4] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];

/// A package name in PascalCase, the prefix of its logical ids: `order-history` → `OrderHistory`.
pub fn pascal(name: &str) -> String {
    name.split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Logical id of a buffered consumer's queue.
pub fn buffer_queue_id(name: &str) -> String {
    format!("{}BufferQueue", pascal(name))
}

/// Logical id of a buffered consumer's rule (a direct consumer's rule is SAM's, under the
/// function's `Events`).
pub fn rule_id(name: &str) -> String {
    format!("{}Rule", pascal(name))
}

/// Logical id of a consumer's dead-letter queue.
pub fn dead_letter_queue_id(name: &str) -> String {
    format!("{}DeadLetterQueue", pascal(name))
}

/// Name (a `!Sub` format) of a consumer's errors alarm, the one redrive watches.
pub fn errors_alarm_name(name: &str) -> String {
    format!("${{AWS::StackName}}-{name}-errors")
}

/// A consumer's resources, by logical id, in the template's order.
pub fn resources(declaration: &Declaration, platform: &Platform) -> Vec<(String, Node)> {
    let name = declaration.name.as_str();
    let prefix = pascal(name);
    let queue = dead_letter_queue_id(name);
    let log_group = format!("{prefix}LogGroup");
    let role = format!("{prefix}Role");
    let function = format!("{prefix}Function");
    let stack_named = format!("${{AWS::StackName}}-{name}");

    let mut resources: Vec<(String, Node)> = declaration.tables.iter().map(table).collect();
    resources.push((queue.clone(), retained_queue("time to fix and redrive")));
    let rule_arn = sub(format!(
        "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/${{{}}}/{stack_named}",
        platform.bus
    ));
    resources.push((
        format!("{queue}Policy"),
        events_may_send(&queue, "EventBridgeDeadLetters", rule_arn),
    ));
    resources.push((
        log_group.clone(),
        map([
            ("Type", str("AWS::Logs::LogGroup")),
            (
                "Properties",
                map([
                    ("LogGroupName", sub(format!("/aws/lambda/{stack_named}"))),
                    ("RetentionInDays", reference(&platform.log_retention_days)),
                ]),
            ),
        ]),
    ));
    if let Delivery::Buffered(buffer) = &declaration.delivery {
        let buffer_queue = buffer_queue_id(name);
        let timeout = declaration
            .timeout_seconds
            .or(platform.function_timeout)
            .unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        resources.push((buffer_queue.clone(), buffer_queue_resource(buffer, timeout, &queue)));
        let rule_arn = sub(format!(
            "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/${{{}}}/{stack_named}",
            platform.bus
        ));
        resources.push((
            format!("{buffer_queue}Policy"),
            events_may_send(&buffer_queue, "EventBridgeBuffer", rule_arn),
        ));
        resources.push((
            rule_id(name),
            buffered_rule(declaration, platform, &buffer_queue, &queue),
        ));
    }
    resources.push((role.clone(), role_resource(declaration, platform, &log_group, &queue)));
    resources.push((
        function.clone(),
        function_resource(declaration, platform, &role, &log_group, &queue),
    ));
    resources.extend(alarms(declaration, platform, &function, &queue));
    resources
}

/// A buffered consumer's queue. Its visibility timeout is six times the function's timeout plus
/// the batching window, as Lambda's guide for SQS event sources asks ("set the source queue's
/// visibility timeout to at least six times the timeout that you configure on your function"),
/// so a batch still being handled is not delivered to a second invocation; its redrive policy
/// moves an event received one time more than `max-receives` to the dead-letter queue (the
/// consumer dead-letters it itself on its last receive; this catches invocations that died).
fn buffer_queue_resource(buffer: &Buffer, timeout_seconds: u32, dead_letter_queue: &str) -> Node {
    let visibility = 6 * i64::from(timeout_seconds) + i64::from(buffer.batching_window_seconds);
    map([
        ("Type", str("AWS::SQS::Queue")),
        (
            "Properties",
            map([
                (
                    "VisibilityTimeout",
                    Node::Commented(
                        Box::new(Node::Int(visibility)),
                        "6 x the function's timeout + the batching window".to_owned(),
                    ),
                ),
                (
                    "MessageRetentionPeriod",
                    Node::Commented(
                        Box::new(Node::Int(BUFFER_RETENTION_SECONDS)),
                        "4 days: time for a stopped consumer to come back".to_owned(),
                    ),
                ),
                ("SqsManagedSseEnabled", Node::Bool(true)),
                (
                    "RedrivePolicy",
                    map([
                        ("deadLetterTargetArn", get_att(dead_letter_queue, "Arn")),
                        ("maxReceiveCount", Node::Int(i64::from(buffer.max_receives) + 1)),
                    ]),
                ),
            ]),
        ),
    ])
}

/// A buffered consumer's rule: its pattern, to its queue, with its retry policy and dead-letter
/// queue (SAM's `EventBridgeRule` event targets only the function itself).
fn buffered_rule(declaration: &Declaration, platform: &Platform, buffer_queue: &str, dead_letter_queue: &str) -> Node {
    let stack_named = format!("${{AWS::StackName}}-{}", declaration.name);
    map([
        ("Type", str("AWS::Events::Rule")),
        (
            "Properties",
            map([
                ("Name", sub(&stack_named)),
                ("Description", str(format!("{} (through its queue)", declaration.name))),
                ("EventBusName", reference(&platform.bus)),
                ("EventPattern", rule_pattern(&declaration.consumes)),
                ("State", str("ENABLED")),
                (
                    "Targets",
                    Node::Seq(vec![map([
                        ("Id", str("buffer")),
                        ("Arn", get_att(buffer_queue, "Arn")),
                        ("RetryPolicy", retry_policy(declaration)),
                        ("DeadLetterConfig", map([("Arn", get_att(dead_letter_queue, "Arn"))])),
                    ])]),
                ),
            ]),
        ),
    ])
}

/// The rule target's retry policy, from `rule-retries`.
fn retry_policy(declaration: &Declaration) -> Node {
    map([
        (
            "MaximumRetryAttempts",
            Node::Int(i64::from(declaration.rule_retries.attempts)),
        ),
        (
            "MaximumEventAgeInSeconds",
            Node::Int(i64::from(declaration.rule_retries.max_event_age_seconds)),
        ),
    ])
}

/// A consumer's outputs: its dead-letter queue's URL and each table's name.
pub fn outputs(declaration: &Declaration) -> Vec<(String, Node)> {
    let name = declaration.name.as_str();
    let queue = dead_letter_queue_id(name);
    let mut outputs = vec![(
        format!("{queue}Url"),
        map([
            (
                "Description",
                str(match declaration.delivery {
                    Delivery::Direct { .. } => {
                        format!("Dead-letter queue of {name} (rule target failures and failed async invocations)")
                    }
                    Delivery::Buffered(_) => {
                        format!("Dead-letter queue of {name} (rule target failures and events that failed in batches)")
                    }
                }),
            ),
            ("Value", reference(&queue)),
        ]),
    )];
    if declaration.delivery.buffer().is_some() {
        let buffer = buffer_queue_id(name);
        outputs.push((
            format!("{buffer}Url"),
            map([
                (
                    "Description",
                    str(format!("Queue {name} drains in batches (its rule sends here)")),
                ),
                ("Value", reference(&buffer)),
            ]),
        ));
    }
    outputs.extend(declaration.tables.iter().map(|table| {
        (
            format!("{}Name", table.logical_id),
            map([
                ("Description", str(format!("{} of {name}", table.env))),
                ("Value", reference(&table.logical_id)),
            ]),
        )
    }));
    outputs
}

/// The rule's pattern: one alternative per source and set of versions, listing the
/// detail-types that share them; `$or` only when there is more than one.
pub fn rule_pattern(consumes: &[EventRef]) -> Node {
    // (source, detail-type) → versions, in the order first declared.
    let mut types: Vec<((&str, &str), Vec<u32>)> = Vec::new();
    for event in consumes {
        let key = (event.source.as_str(), event.detail_type.as_str());
        match types.iter_mut().find(|(k, _)| *k == key) {
            Some((_, versions)) => versions.push(event.version),
            None => types.push((key, vec![event.version])),
        }
    }
    // (source, versions) → detail-types: types sharing a source and versions share an alternative.
    let mut alternatives: Vec<Alternative<'_>> = Vec::new();
    for ((source, detail_type), mut versions) in types {
        versions.sort_unstable();
        match alternatives
            .iter_mut()
            .find(|a| a.source == source && a.versions == versions)
        {
            Some(alternative) => alternative.detail_types.push(detail_type),
            None => alternatives.push(Alternative {
                source,
                versions,
                detail_types: vec![detail_type],
            }),
        }
    }
    let mut patterns: Vec<Node> = alternatives.into_iter().map(Alternative::pattern).collect();
    if patterns.len() == 1 {
        patterns.remove(0)
    } else {
        map([("$or", Node::Seq(patterns))])
    }
}

/// One alternative of a rule pattern: a source, some of its detail-types, the same versions.
struct Alternative<'a> {
    source: &'a str,
    versions: Vec<u32>,
    detail_types: Vec<&'a str>,
}

impl Alternative<'_> {
    fn pattern(self) -> Node {
        let versions = self.versions.into_iter().map(|v| Node::Int(i64::from(v))).collect();
        map([
            ("source", Node::Flow(vec![str(self.source)])),
            (
                "detail-type",
                Node::Flow(self.detail_types.into_iter().map(str).collect()),
            ),
            (
                "detail",
                map([("metadata", map([("schema_version", Node::Flow(versions))]))]),
            ),
        ])
    }
}

fn table(table: &Table) -> (String, Node) {
    let mut attributes = vec![map([
        ("AttributeName", str(&table.partition_key)),
        ("AttributeType", str("S")),
    ])];
    let mut keys = vec![map([
        ("AttributeName", str(&table.partition_key)),
        ("KeyType", str("HASH")),
    ])];
    if let Some(sort_key) = &table.sort_key {
        attributes.push(map([("AttributeName", str(sort_key)), ("AttributeType", str("S"))]));
        keys.push(map([("AttributeName", str(sort_key)), ("KeyType", str("RANGE"))]));
    }
    let mut properties = vec![("BillingMode".to_owned(), str("PAY_PER_REQUEST"))];
    if table.point_in_time_recovery {
        properties.push((
            "PointInTimeRecoverySpecification".to_owned(),
            map([("PointInTimeRecoveryEnabled", Node::Bool(true))]),
        ));
    }
    properties.push(("AttributeDefinitions".to_owned(), Node::Seq(attributes)));
    properties.push(("KeySchema".to_owned(), Node::Seq(keys)));
    if let Some(ttl) = &table.ttl {
        properties.push((
            "TimeToLiveSpecification".to_owned(),
            map([("AttributeName", str(ttl)), ("Enabled", Node::Bool(true))]),
        ));
    }
    (
        table.logical_id.clone(),
        map([
            ("Type", str("AWS::DynamoDB::Table")),
            // Business data outlives the stack.
            ("DeletionPolicy", str("Retain")),
            ("UpdateReplacePolicy", str("Retain")),
            ("Properties", Node::Map(properties)),
        ]),
    )
}

/// An SQS queue that keeps messages the maximum, 14 days, encrypted with SQS's own key;
/// `why` says what the time is for, in the template's comment.
pub(crate) fn retained_queue(why: &str) -> Node {
    map([
        ("Type", str("AWS::SQS::Queue")),
        (
            "Properties",
            map([
                (
                    "MessageRetentionPeriod",
                    Node::Commented(
                        Box::new(Node::Int(DEAD_LETTER_RETENTION_SECONDS)),
                        format!("14 days, the maximum: {why}"),
                    ),
                ),
                ("SqsManagedSseEnabled", Node::Bool(true)),
            ]),
        ),
    ])
}

/// The queue policy letting EventBridge send to `queue` on behalf of the rule(s) `source_arn`
/// only (`aws:SourceArn`).
pub(crate) fn events_may_send(queue: &str, sid: &str, source_arn: Node) -> Node {
    map([
        ("Type", str("AWS::SQS::QueuePolicy")),
        (
            "Properties",
            map([
                ("Queues", Node::Seq(vec![reference(queue)])),
                (
                    "PolicyDocument",
                    policy_document(vec![map([
                        ("Sid", str(sid)),
                        ("Effect", str("Allow")),
                        ("Principal", map([("Service", str("events.amazonaws.com"))])),
                        ("Action", str("sqs:SendMessage")),
                        ("Resource", get_att(queue, "Arn")),
                        ("Condition", map([("ArnEquals", map([("aws:SourceArn", source_arn)]))])),
                    ])]),
                ),
            ]),
        ),
    ])
}

fn policy_document(statements: Vec<Node>) -> Node {
    map([("Version", str("2012-10-17")), ("Statement", Node::Seq(statements))])
}

fn actions(actions: &[impl AsRef<str>]) -> Node {
    Node::Seq(actions.iter().map(|a| str(a.as_ref())).collect())
}

/// Active tracing (`Tracing: Active`, set in the template's `Globals`) needs the function's role
/// to send segments to X-Ray. These two actions support no resource-level permissions (the
/// Service Authorization Reference lists no resource types for them), so `"*"` is the only
/// resource they take; they write traces and read nothing.
pub const XRAY_ACTIONS: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

fn xray_statement() -> Node {
    map([
        ("Sid", str("WriteTraces")),
        ("Effect", str("Allow")),
        ("Action", actions(&XRAY_ACTIONS)),
        ("Resource", str("*")),
    ])
}

fn role_resource(declaration: &Declaration, platform: &Platform, log_group: &str, queue: &str) -> Node {
    let name = declaration.name.as_str();
    let mut statements = vec![map([
        ("Sid", str("OwnLogs")),
        ("Effect", str("Allow")),
        ("Action", actions(&["logs:CreateLogStream", "logs:PutLogEvents"])),
        ("Resource", get_att(log_group, "Arn")),
    ])];
    statements.extend(declaration.tables.iter().map(|table| {
        map([
            ("Sid", str(format!("Own{}", table.logical_id))),
            ("Effect", str("Allow")),
            ("Action", actions(&table.actions)),
            ("Resource", get_att(&table.logical_id, "Arn")),
        ])
    }));
    statements.push(map([
        ("Sid", str("OwnIdempotencyRecords")),
        ("Effect", str("Allow")),
        ("Action", actions(&IDEMPOTENCY_ACTIONS)),
        ("Resource", get_att(&platform.idempotency_table, "Arn")),
        (
            "Condition",
            map([(
                "ForAllValues:StringLike",
                map([("dynamodb:LeadingKeys", Node::Seq(vec![str(format!("{name}#*"))]))]),
            )]),
        ),
    ]));
    statements.push(xray_statement());
    statements.push(map([
        ("Sid", str("FailedInvocationsToOwnQueue")),
        ("Effect", str("Allow")),
        ("Action", str("sqs:SendMessage")),
        ("Resource", get_att(queue, "Arn")),
    ]));
    if declaration.delivery.buffer().is_some() {
        // What Lambda's event source mapping needs of the execution role to drain a queue
        // ("sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes"), on its own queue only.
        statements.push(map([
            ("Sid", str("DrainOwnBuffer")),
            ("Effect", str("Allow")),
            (
                "Action",
                actions(&["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]),
            ),
            ("Resource", get_att(&buffer_queue_id(name), "Arn")),
        ]));
    }
    let sources = emitted_sources(&declaration.emits);
    if !sources.is_empty() {
        statements.push(map([
            ("Sid", str(format!("PublishTo{}", platform.bus))),
            ("Effect", str("Allow")),
            ("Action", str("events:PutEvents")),
            ("Resource", get_att(&platform.bus, "Arn")),
            (
                "Condition",
                map([(
                    "ForAllValues:StringEquals",
                    map([("events:source", Node::Seq(sources.into_iter().map(str).collect()))]),
                )]),
            ),
        ]));
    }
    map([
        ("Type", str("AWS::IAM::Role")),
        (
            "Properties",
            map([
                (
                    "AssumeRolePolicyDocument",
                    policy_document(vec![map([
                        ("Effect", str("Allow")),
                        ("Principal", map([("Service", str("lambda.amazonaws.com"))])),
                        ("Action", str("sts:AssumeRole")),
                    ])]),
                ),
                (
                    "Policies",
                    Node::Seq(vec![map([
                        ("PolicyName", str(name)),
                        ("PolicyDocument", policy_document(statements)),
                    ])]),
                ),
            ]),
        ),
    ])
}

/// The distinct sources of what a function emits, sorted.
fn emitted_sources(emits: &[EventRef]) -> Vec<&str> {
    let mut sources: Vec<&str> = emits.iter().map(|e| e.source.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    sources
}

fn function_resource(declaration: &Declaration, platform: &Platform, role: &str, log_group: &str, queue: &str) -> Node {
    let name = declaration.name.as_str();
    let stack_named = format!("${{AWS::StackName}}-{name}");
    let mut variables = vec![
        (IDEMPOTENCY_VARIABLE.to_owned(), reference(&platform.idempotency_table)),
        (
            EXPIRES_AFTER_VARIABLE.to_owned(),
            Node::Commented(
                Box::new(str(deduplication_window_seconds(declaration).to_string())),
                "outlasts the archive and the dead-letter queue".to_owned(),
            ),
        ),
    ];
    variables.extend(
        declaration
            .tables
            .iter()
            .map(|t| (t.env.clone(), reference(&t.logical_id))),
    );
    if !declaration.emits.is_empty() {
        variables.push((BUS_VARIABLE.to_owned(), reference(&platform.bus)));
    }
    if let Delivery::Buffered(buffer) = &declaration.delivery {
        variables.push((DEAD_LETTER_QUEUE_VARIABLE.to_owned(), reference(queue)));
        variables.push((MAX_RECEIVES_VARIABLE.to_owned(), str(buffer.max_receives.to_string())));
    }
    variables.extend(declaration.environment.iter().map(|(k, v)| (k.clone(), str(v))));

    let mut properties = vec![
        ("FunctionName".to_owned(), sub(&stack_named)),
        ("Description".to_owned(), str(&declaration.description)),
        ("Role".to_owned(), get_att(role, "Arn")),
    ];
    if let Some(memory) = declaration.memory_mb {
        properties.push(("MemorySize".to_owned(), Node::Int(i64::from(memory))));
    }
    if let Some(timeout) = declaration.timeout_seconds {
        properties.push(("Timeout".to_owned(), Node::Int(i64::from(timeout))));
    }
    properties.extend([
        ("LoggingConfig".to_owned(), map([("LogGroup", reference(log_group))])),
        ("Environment".to_owned(), map([("Variables", Node::Map(variables))])),
    ]);
    match &declaration.delivery {
        Delivery::Direct { invoke_retries } => properties.extend([
            (
                "EventInvokeConfig".to_owned(),
                map([
                    ("MaximumRetryAttempts", Node::Int(i64::from(invoke_retries.attempts))),
                    (
                        "MaximumEventAgeInSeconds",
                        Node::Int(i64::from(invoke_retries.max_event_age_seconds)),
                    ),
                    (
                        "DestinationConfig",
                        map([(
                            "OnFailure",
                            map([("Type", str("SQS")), ("Destination", get_att(queue, "Arn"))]),
                        )]),
                    ),
                ]),
            ),
            (
                "Events".to_owned(),
                Node::Map(vec![(
                    platform.bus_event.clone(),
                    map([
                        ("Type", str("EventBridgeRule")),
                        (
                            "Properties",
                            map([
                                ("EventBusName", reference(&platform.bus)),
                                ("RuleName", sub(&stack_named)),
                                ("Pattern", rule_pattern(&declaration.consumes)),
                                ("RetryPolicy", retry_policy(declaration)),
                                ("DeadLetterConfig", map([("Arn", get_att(queue, "Arn"))])),
                            ]),
                        ),
                    ]),
                )]),
            ),
        ]),
        Delivery::Buffered(buffer) => properties.push((
            "Events".to_owned(),
            Node::Map(vec![(
                BUFFER_EVENT.to_owned(),
                map([
                    ("Type", str("SQS")),
                    (
                        "Properties",
                        map([
                            ("Queue", get_att(&buffer_queue_id(name), "Arn")),
                            ("BatchSize", Node::Int(i64::from(buffer.batch_size))),
                            (
                                "MaximumBatchingWindowInSeconds",
                                Node::Int(i64::from(buffer.batching_window_seconds)),
                            ),
                            ("FunctionResponseTypes", Node::Seq(vec![str("ReportBatchItemFailures")])),
                        ]),
                    ),
                ]),
            )]),
        )),
    }
    map([
        ("Type", str("AWS::Serverless::Function")),
        (
            "Metadata",
            map([
                ("BuildMethod", str("rust-cargolambda")),
                ("BuildProperties", map([("Binary", str(name))])),
            ]),
        ),
        ("Properties", Node::Map(properties)),
    ])
}

/// What distinguishes one of a consumer's alarms.
struct AlarmSpec {
    /// Logical id part: `<Prefix><id>Alarm`.
    id: &'static str,
    /// Name part: `${AWS::StackName}-<name>-<suffix>`.
    suffix: &'static str,
    /// What it means, after `<name>: `.
    why: &'static str,
    namespace: &'static str,
    metric: &'static str,
    dimensions: Vec<Node>,
    statistic: &'static str,
    /// A Herald metric (by `function`) subtracted from the one above before the threshold:
    /// deferred events are not failures that page.
    less: Option<&'static str>,
    /// Minutes without a breach before the alarm returns to OK.
    quiet_minutes: i64,
    /// Minutes in a row that must breach before it goes to ALARM.
    breaching_minutes: i64,
    /// The value the statistic must exceed.
    threshold: i64,
}

/// How long a consumer's errors alarm must stay quiet before it returns to OK. Its return to OK
/// is the redrive function's recovery signal, so one quiet minute (a lull, not a fix) must not
/// be enough: with `DatapointsToAlarm: 1` of `EvaluationPeriods: 10`, CloudWatch keeps the alarm
/// in ALARM until ten minutes in a row had no error.
const ERRORS_QUIET_MINUTES: i64 = 10;

/// Throttled invocations are not lost (Lambda keeps retrying an asynchronous one for up to its
/// event age), so a burst must not page: only throttling that lasts this many minutes in a row,
/// which says the function's concurrency is too low for its traffic.
const THROTTLES_BREACHING_MINUTES: i64 = 5;

/// One alarm per way a consumer can fail; each pages on ALARM and on recovery.
fn alarms(declaration: &Declaration, platform: &Platform, function: &str, queue: &str) -> Vec<(String, Node)> {
    let name = declaration.name.as_str();
    let prefix = pascal(name);
    let dimension = |key: &str, value: Node| map([("Name", str(key)), ("Value", value)]);
    let specs = [
        AlarmSpec {
            id: "DeadLetters",
            suffix: "dead-letters",
            why: "events are waiting in the dead-letter queue; fix, then redrive",
            namespace: "AWS/SQS",
            metric: "ApproximateNumberOfMessagesVisible",
            dimensions: vec![dimension("QueueName", get_att(queue, "QueueName"))],
            statistic: "Maximum",
            less: None,
            quiet_minutes: 1,
            breaching_minutes: 1,
            threshold: 0,
        },
        match declaration.delivery {
            Delivery::Direct { .. } => AlarmSpec {
                id: "Errors",
                suffix: "errors",
                why: "invocations are failing",
                namespace: "AWS/Lambda",
                metric: "Errors",
                dimensions: vec![dimension("FunctionName", reference(function))],
                statistic: "Sum",
                less: Some(DEFERRED_EVENTS),
                quiet_minutes: ERRORS_QUIET_MINUTES,
                breaching_minutes: 1,
                threshold: 0,
            },
            // A batch's failed event is not a failed invocation (the partial batch response
            // names it): the consumer's own count of failed events is what pages. A deferral is
            // counted under its own outcome, so nothing is subtracted.
            Delivery::Buffered(_) => AlarmSpec {
                id: "Errors",
                suffix: "errors",
                why: "events are failing",
                namespace: HERALD_NAMESPACE,
                metric: EVENTS,
                dimensions: vec![dimension("function", str(name)), dimension("outcome", str("error"))],
                statistic: "Sum",
                less: None,
                quiet_minutes: ERRORS_QUIET_MINUTES,
                breaching_minutes: 1,
                threshold: 0,
            },
        },
        AlarmSpec {
            id: "Throttles",
            suffix: "throttles",
            why: "invocations are throttled",
            namespace: "AWS/Lambda",
            metric: "Throttles",
            dimensions: vec![dimension("FunctionName", reference(function))],
            statistic: "Sum",
            less: None,
            quiet_minutes: THROTTLES_BREACHING_MINUTES,
            breaching_minutes: THROTTLES_BREACHING_MINUTES,
            threshold: 0,
        },
        AlarmSpec {
            id: "FailedInvocations",
            suffix: "failed-invocations",
            why: "EventBridge could not deliver events to the function",
            namespace: "AWS/Events",
            metric: "FailedInvocations",
            dimensions: vec![
                dimension("RuleName", sub(format!("${{AWS::StackName}}-{name}"))),
                dimension("EventBusName", reference(&platform.bus)),
            ],
            statistic: "Sum",
            less: None,
            quiet_minutes: 1,
            breaching_minutes: 1,
            threshold: 0,
        },
        AlarmSpec {
            id: "UncataloguedEvents",
            suffix: "uncatalogued-events",
            why: "received a detail-type or version it does not know",
            namespace: HERALD_NAMESPACE,
            metric: "UncataloguedEvents",
            dimensions: vec![dimension("function", str(name))],
            statistic: "Sum",
            less: None,
            quiet_minutes: 1,
            breaching_minutes: 1,
            threshold: 0,
        },
    ];
    let mut specs = Vec::from(specs);
    if declaration.delivery.buffer().is_some() {
        specs.push(AlarmSpec {
            id: "BufferAge",
            suffix: "buffer-age",
            why: "events wait in its queue for more than ten minutes: it is not keeping up, or not draining",
            namespace: "AWS/SQS",
            metric: "ApproximateAgeOfOldestMessage",
            dimensions: vec![dimension("QueueName", get_att(&buffer_queue_id(name), "QueueName"))],
            statistic: "Maximum",
            less: None,
            quiet_minutes: 5,
            breaching_minutes: 5,
            threshold: BUFFER_AGE_ALARM_SECONDS,
        });
    }
    specs
        .into_iter()
        .map(
            |AlarmSpec {
                 id,
                 suffix,
                 why,
                 namespace,
                 metric,
                 dimensions,
                 statistic,
                 less,
                 quiet_minutes,
                 breaching_minutes,
                 threshold,
             }| {
                let mut properties = vec![
                    ("AlarmName", sub(format!("${{AWS::StackName}}-{name}-{suffix}"))),
                    ("AlarmDescription", str(format!("{name}: {why}"))),
                ];
                match less {
                    None => properties.extend([
                        ("Namespace", str(namespace)),
                        ("MetricName", str(metric)),
                        ("Dimensions", Node::Seq(dimensions)),
                        ("Statistic", str(statistic)),
                        ("Period", Node::Int(60)),
                    ]),
                    Some(subtracted) => {
                        let stat = |id: &str, namespace: &str, metric: &str, dimensions: Vec<Node>| {
                            map([
                                ("Id", str(id)),
                                (
                                    "MetricStat",
                                    map([
                                        (
                                            "Metric",
                                            map([
                                                ("Namespace", str(namespace)),
                                                ("MetricName", str(metric)),
                                                ("Dimensions", Node::Seq(dimensions)),
                                            ]),
                                        ),
                                        ("Period", Node::Int(60)),
                                        ("Stat", str(statistic)),
                                    ]),
                                ),
                                ("ReturnData", Node::Bool(false)),
                            ])
                        };
                        let by_function = vec![dimension("function", str(name))];
                        properties.push((
                            "Metrics",
                            Node::Seq(vec![
                                stat("all", namespace, metric, dimensions),
                                stat("less", HERALD_NAMESPACE, subtracted, by_function),
                                map([
                                    ("Id", str("paging")),
                                    ("Label", str(format!("{metric} less {subtracted}"))),
                                    ("Expression", str("FILL(all, 0) - FILL(less, 0)")),
                                    ("ReturnData", Node::Bool(true)),
                                ]),
                            ]),
                        ));
                    }
                }
                properties.extend([
                    ("EvaluationPeriods", Node::Int(quiet_minutes)),
                    ("DatapointsToAlarm", Node::Int(breaching_minutes)),
                    ("Threshold", Node::Int(threshold)),
                    ("ComparisonOperator", str("GreaterThanThreshold")),
                    ("TreatMissingData", str("notBreaching")),
                    ("AlarmActions", Node::Seq(vec![reference(&platform.alert_topic)])),
                    ("OKActions", Node::Seq(vec![reference(&platform.alert_topic)])),
                ]);
                let alarm = map([
                    ("Type", str("AWS::CloudWatch::Alarm")),
                    (
                        "Properties",
                        Node::Map(properties.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
                    ),
                ]);
                (format!("{prefix}{id}Alarm"), alarm)
            },
        )
        .collect()
}

/// Redrive's `REDRIVE_QUEUES` (a `!Sub` format): each consumer's errors alarm name = its queue URL.
pub fn redrive_queues(declarations: &[Declaration]) -> String {
    declarations
        .iter()
        .map(|d| format!("{}=${{{}}}", errors_alarm_name(&d.name), dead_letter_queue_id(&d.name)))
        .collect::<Vec<_>>()
        .join(",")
}
