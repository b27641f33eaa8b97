//! `infra/template.yaml`, translated by AWS SAM's own translator, holds every promise the
//! functions rely on: a rule, retries, a dead-letter queue and alarms per function, tables with
//! point-in-time recovery, least-privilege roles with no wildcard, and exactly the tables and
//! bus each function's code reads from its environment.

use std::collections::{BTreeMap, BTreeSet};

use herald_tests::TestResult;
use herald_tests::fixtures::catalog_samples;
use herald_tests::functions::FUNCTIONS;
use herald_tests::template::{
    Alarm, EventInvokeConfig, Function, Role, Rule, Table, Template, get_att, pascal, ref_id, sub,
};
use serde_json::Value;

fn function_id(name: &str) -> String {
    format!("{}Function", pascal(name))
}

fn queue_id(name: &str) -> String {
    format!("{}DeadLetterQueue", pascal(name))
}

fn buffer_id(name: &str) -> String {
    format!("{}BufferQueue", pascal(name))
}

/// The function's rule: the one that targets it, or, for a buffered function, its queue.
fn rule_of(template: &Template, name: &str) -> TestResult<Rule> {
    let buffered = FUNCTIONS.iter().any(|spec| spec.name == name && spec.buffer.is_some());
    let function = if buffered { buffer_id(name) } else { function_id(name) };
    let rules: Vec<Rule> = template
        .of_type("AWS::Events::Rule")
        .map(|(_, r)| r.properties::<Rule>())
        .collect::<TestResult<Vec<_>>>()?
        .into_iter()
        .filter(|rule| {
            rule.targets
                .iter()
                .any(|t| get_att(&t.arn) == Some((function.as_str(), "Arn")))
        })
        .collect();
    match <[Rule; 1]>::try_from(rules) {
        Ok([rule]) => Ok(rule),
        Err(rules) => Err(format!("{name}: expected exactly one rule, found {}", rules.len()).into()),
    }
}

#[test]
fn every_function_runs_on_arm64_al2023_built_by_cargo_lambda_from_its_own_binary() -> TestResult {
    let template = Template::load()?;
    let functions: Vec<_> = template.of_type("AWS::Lambda::Function").collect();
    assert_eq!(
        functions.len(),
        FUNCTIONS.len() + 1,
        "one Lambda per domain function, and redrive (tests/template_redrive.rs)"
    );
    for spec in FUNCTIONS.iter() {
        let resource = template
            .resources
            .get(&function_id(spec.name))
            .ok_or(format!("{} missing", spec.name))?;
        let function: Function = resource.properties()?;
        assert_eq!(function.runtime, "provided.al2023", "{}", spec.name);
        assert_eq!(function.architectures, vec!["arm64"], "{}", spec.name);
        assert_eq!(resource.metadata["BuildMethod"], "rust-cargolambda", "{}", spec.name);
        assert_eq!(
            resource.metadata["BuildProperties"]["Binary"], spec.name,
            "{}",
            spec.name
        );
        assert!(function.memory_size >= 128 && function.timeout >= 5, "{}", spec.name);
    }
    Ok(())
}

#[test]
fn every_function_has_one_rule_on_the_shop_bus_with_retries_and_its_dead_letter_queue() -> TestResult {
    let template = Template::load()?;
    for spec in FUNCTIONS.iter() {
        let rule = rule_of(template, spec.name)?;
        assert_eq!(ref_id(&rule.event_bus_name), Some("ShopBus"), "{}", spec.name);
        let target = &rule.targets[0];
        let retry = target
            .retry_policy
            .as_ref()
            .ok_or(format!("{}: no retry policy", spec.name))?;
        assert!(
            retry.maximum_retry_attempts > 0 && retry.maximum_event_age_in_seconds >= 60,
            "{}",
            spec.name
        );
        let dlq = target
            .dead_letter_config
            .as_ref()
            .ok_or(format!("{}: no dead-letter queue", spec.name))?;
        let queue = queue_id(spec.name);
        assert_eq!(get_att(&dlq.arn), Some((queue.as_str(), "Arn")), "{}", spec.name);
        assert!(
            template
                .resources
                .get(&queue)
                .is_some_and(|q| q.kind == "AWS::SQS::Queue"),
            "{}",
            spec.name
        );
        let policies: Vec<_> = template
            .of_type("AWS::SQS::QueuePolicy")
            .filter(|(_, p)| {
                p.properties["Queues"]
                    .as_array()
                    .is_some_and(|q| q.iter().any(|q| ref_id(q) == Some(&queue)))
            })
            .collect();
        assert_eq!(
            policies.len(),
            1,
            "{}: a queue policy lets EventBridge send to the DLQ",
            spec.name
        );
        let statement = &policies[0].1.properties["PolicyDocument"]["Statement"][0];
        assert_eq!(
            statement["Principal"]["Service"], "events.amazonaws.com",
            "{}",
            spec.name
        );
        assert_eq!(statement["Action"], "sqs:SendMessage", "{}", spec.name);
    }
    Ok(())
}

/// A direct consumer is retried by Lambda (at most twice) and what still fails goes to its queue.
/// A buffered one is drained in batches with partial batch responses, its queue hides a batch
/// for at least six times the function's timeout (Lambda developer guide, "Using Lambda with
/// Amazon SQS": "set the source queue's visibility timeout to at least six times the timeout
/// that you configure on your function"; moto enforces no timing, so the template stands for the
/// rule), and its redrive policy moves an event to the dead-letter queue one receive after the
/// consumer's own last one.
#[test]
fn every_function_retries_its_deliveries_and_sends_what_still_fails_to_its_queue() -> TestResult {
    let template = Template::load()?;
    let configs: Vec<EventInvokeConfig> = template
        .of_type("AWS::Lambda::EventInvokeConfig")
        .map(|(_, r)| r.properties())
        .collect::<TestResult<_>>()?;
    for spec in FUNCTIONS.iter() {
        let function = function_id(spec.name);
        let queue = queue_id(spec.name);
        let config = configs.iter().find(|c| ref_id(&c.function_name) == Some(&function));
        let Some(buffer) = spec.buffer else {
            let config = config.ok_or(format!("{}: no EventInvokeConfig", spec.name))?;
            assert!(config.maximum_retry_attempts <= 2, "{}", spec.name);
            assert_eq!(
                get_att(&config.destination_config.on_failure.destination),
                Some((queue.as_str(), "Arn"))
            );
            continue;
        };
        assert!(
            config.is_none(),
            "{}: a buffered function is not invoked asynchronously",
            spec.name
        );
        let buffer_queue = buffer_id(spec.name);
        let (_, mapping) = template
            .of_type("AWS::Lambda::EventSourceMapping")
            .find(|(_, m)| ref_id(&m.properties["FunctionName"]) == Some(&function))
            .ok_or(format!("{}: no event source mapping", spec.name))?;
        let mapping = &mapping.properties;
        assert_eq!(
            get_att(&mapping["EventSourceArn"]),
            Some((buffer_queue.as_str(), "Arn")),
            "{}",
            spec.name
        );
        assert_eq!(mapping["BatchSize"], buffer.batch_size, "{}", spec.name);
        assert_eq!(
            mapping["MaximumBatchingWindowInSeconds"], buffer.batching_window_seconds,
            "{}",
            spec.name
        );
        assert_eq!(
            mapping["FunctionResponseTypes"],
            serde_json::json!(["ReportBatchItemFailures"])
        );
        let properties = &template
            .resources
            .get(&buffer_queue)
            .ok_or(format!("{}: no buffer queue", spec.name))?
            .properties;
        let timeout: Function = template
            .resources
            .get(&function)
            .ok_or("function missing")?
            .properties()?;
        assert!(
            seconds(&properties["VisibilityTimeout"])? >= 6 * u64::from(timeout.timeout),
            "{}: visibility timeout under six function timeouts",
            spec.name
        );
        assert_eq!(
            get_att(&properties["RedrivePolicy"]["deadLetterTargetArn"]),
            Some((queue.as_str(), "Arn"))
        );
        assert_eq!(
            properties["RedrivePolicy"]["maxReceiveCount"],
            buffer.max_receives + 1,
            "{}",
            spec.name
        );
        let variables = &timeout.environment.variables;
        assert_eq!(ref_id(&variables["HERALD_DEAD_LETTER_QUEUE_URL"]), Some(queue.as_str()));
        assert_eq!(
            seconds(&variables["HERALD_MAX_RECEIVES"])?,
            u64::from(buffer.max_receives)
        );
    }
    Ok(())
}

#[test]
fn every_function_has_its_alarms_and_every_alarm_notifies_on_alarm_and_on_ok() -> TestResult {
    let template = Template::load()?;
    let alarms: Vec<Alarm> = template
        .of_type("AWS::CloudWatch::Alarm")
        .map(|(_, r)| r.properties())
        .collect::<TestResult<_>>()?;
    for alarm in &alarms {
        let topic = |actions: &[Value]| actions.iter().any(|a| ref_id(a) == Some("AlertTopic"));
        assert!(
            topic(&alarm.alarm_actions) && topic(&alarm.ok_actions),
            "{}: must notify on ALARM and OK",
            alarm.metric_name
        );
        // Counts page at the first one; a buffer's age pages at ten minutes.
        let threshold = if alarm.metric_name == "ApproximateAgeOfOldestMessage" {
            600.0
        } else {
            0.0
        };
        assert_eq!(
            (alarm.threshold, alarm.comparison_operator.as_str()),
            (threshold, "GreaterThanThreshold")
        );
    }
    for spec in FUNCTIONS.iter() {
        let watches = |namespace: &str, metric: &str, check: &dyn Fn(&Alarm) -> bool| {
            alarms
                .iter()
                .any(|a| a.namespace == namespace && a.metric_name == metric && check(a))
        };
        let dimension = |alarm: &Alarm, name: &str| {
            alarm
                .dimensions
                .iter()
                .find(|d| d.name == name)
                .map(|d| d.value.clone())
        };
        let function = function_id(spec.name);
        let queue = queue_id(spec.name);
        let of_function = |a: &Alarm| dimension(a, "FunctionName").as_ref().and_then(ref_id) == Some(function.as_str());
        if spec.buffer.is_some() {
            // A batch's failed event is no failed invocation: its own count pages.
            assert!(
                watches("Herald", "Events", &|a| dimension(a, "function")
                    == Some(Value::from(spec.name))
                    && dimension(a, "outcome") == Some(Value::from("error"))),
                "{}: failed events alarm",
                spec.name
            );
            let buffer = buffer_id(spec.name);
            assert!(
                watches("AWS/SQS", "ApproximateAgeOfOldestMessage", &|a| {
                    dimension(a, "QueueName").as_ref().and_then(get_att) == Some((buffer.as_str(), "QueueName"))
                }),
                "{}: buffer age alarm",
                spec.name
            );
        } else {
            assert!(
                watches("AWS/Lambda", "Errors", &of_function),
                "{}: Errors alarm",
                spec.name
            );
        }
        assert!(
            watches("AWS/Lambda", "Throttles", &of_function),
            "{}: Throttles alarm",
            spec.name
        );
        assert!(
            watches("AWS/SQS", "ApproximateNumberOfMessagesVisible", &|a| {
                dimension(a, "QueueName").as_ref().and_then(get_att) == Some((queue.as_str(), "QueueName"))
            }),
            "{}: dead-letter queue alarm",
            spec.name
        );
        let rule = rule_of(template, spec.name)?;
        assert!(
            watches("AWS/Events", "FailedInvocations", &|a| dimension(a, "RuleName")
                == Some(rule.name.clone())),
            "{}: FailedInvocations alarm on its rule",
            spec.name
        );
        assert!(
            watches("Herald", "UncataloguedEvents", &|a| dimension(a, "function")
                == Some(Value::from(spec.name))),
            "{}: UncataloguedEvents alarm",
            spec.name
        );
    }
    Ok(())
}

#[test]
fn no_iam_statement_has_a_wildcard_and_each_role_names_only_its_own_tables() -> TestResult {
    let template = Template::load()?;
    for spec in FUNCTIONS.iter() {
        let function: Function = template
            .resources
            .get(&function_id(spec.name))
            .ok_or("function missing")?
            .properties()?;
        let (role_id, _) = get_att(&function.role).ok_or(format!("{}: role must be the template's own", spec.name))?;
        let role: Role = template.resources.get(role_id).ok_or("role missing")?.properties()?;
        assert!(
            role.managed_policy_arns.is_empty(),
            "{}: managed policies carry wildcards",
            spec.name
        );
        let own_tables: BTreeSet<String> = function
            .environment
            .variables
            .iter()
            .filter(|(k, _)| k.ends_with("_TABLE") && k.as_str() != "IDEMPOTENCY_TABLE")
            .filter_map(|(_, v)| ref_id(v).map(str::to_owned))
            .collect();
        for statement in role.policies.iter().flat_map(|p| &p.policy_document.statement) {
            let sid = statement.sid.clone().unwrap_or_default();
            for action in statement.actions() {
                assert!(!action.contains('*'), "{}/{sid}: wildcard action {action}", spec.name);
            }
            // X-Ray's trace-writing actions take no resource-level permission (Service
            // Authorization Reference, "Actions defined by AWS X-Ray": no resource types for
            // PutTraceSegments and PutTelemetryRecords): `*` is their only resource.
            let writes_traces_only = statement.actions() == XRAY_ACTIONS;
            for resource in statement.resources() {
                assert!(
                    writes_traces_only || resource.as_str().is_none_or(|r| !r.contains('*')),
                    "{}/{sid}: wildcard resource",
                    spec.name
                );
                if let Some(("IdempotencyTable", _)) = get_att(&resource) {
                    let keys = statement
                        .condition
                        .as_ref()
                        .and_then(|c| c.pointer("/ForAllValues:StringLike/dynamodb:LeadingKeys"))
                        .cloned()
                        .unwrap_or_default();
                    assert_eq!(
                        keys,
                        serde_json::json!([format!("{}#*", spec.name)]),
                        "{}: LeadingKeys",
                        spec.name
                    );
                } else if let Some((table, "Arn")) = get_att(&resource).filter(|(id, _)| id.ends_with("Table")) {
                    assert!(
                        own_tables.contains(table),
                        "{}/{sid}: {table} is not its own",
                        spec.name
                    );
                }
            }
            if statement.actions().iter().any(|a| a == "events:PutEvents") {
                assert_eq!(
                    statement.resources().iter().filter_map(get_att).collect::<Vec<_>>(),
                    vec![("ShopBus", "Arn")]
                );
            }
        }
    }
    Ok(())
}

/// The only actions a statement with resource `*` may allow.
const XRAY_ACTIONS: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// With active tracing Lambda samples invocations, sends their segments to X-Ray and hands the
/// function its trace header (Lambda developer guide, "Visualize Lambda function invocations
/// using AWS X-Ray"), which Herald forwards on every event it publishes. A function whose role
/// cannot call `xray:PutTraceSegments` and `xray:PutTelemetryRecords` loses its segments (the
/// developer guide names both permissions). moto enforces no IAM, so the template stands for it:
/// every function, the redrive function too, traces actively and may write traces.
#[test]
fn every_function_is_traced_by_x_ray_and_its_role_may_write_traces() -> TestResult {
    let template = Template::load()?;
    let ids: Vec<String> = FUNCTIONS
        .iter()
        .map(|spec| function_id(spec.name))
        .chain(["RedriveFunction".to_owned()])
        .collect();
    for id in ids {
        let function: Function = template
            .resources
            .get(&id)
            .ok_or(format!("{id} missing"))?
            .properties()?;
        assert_eq!(
            function.tracing_config.map(|t| t.mode).as_deref(),
            Some("Active"),
            "{id}"
        );
        let (role_id, _) = get_att(&function.role).ok_or(format!("{id}: role must be the template's own"))?;
        let role: Role = template.resources.get(role_id).ok_or("role missing")?.properties()?;
        let writes_traces = role
            .policies
            .iter()
            .flat_map(|p| &p.policy_document.statement)
            .any(|s| s.actions() == XRAY_ACTIONS && s.resources() == [Value::from("*")]);
        assert!(writes_traces, "{id}: its role cannot write traces");
    }
    Ok(())
}

/// A number in a template: YAML gives an integer or (for environment variables) a string.
fn seconds(value: &Value) -> TestResult<u64> {
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("{n} is not whole seconds").into()),
        Value::String(text) => Ok(text.parse()?),
        other => Err(format!("{other} is not a number").into()),
    }
}

/// AWS keeps an event for a replay as long as the archive's `RetentionDays` (EventBridge user
/// guide, "Archiving and replaying events"), and a dead letter for the queue's
/// `MessageRetentionPeriod` (SQS, up to 14 days) after both retry phases, each bounded by its
/// maximum event age, gave up. moto keeps no real time, so the template stands for the rule: every
/// guard's window (`IDEMPOTENCY_EXPIRES_AFTER_SECONDS`) must outlast both, or a replay or redrive
/// after the record expired would run a handler that already completed a second time.
#[test]
fn every_guard_remembers_an_event_longer_than_the_archive_or_its_dead_letter_queue_can_bring_it_back() -> TestResult {
    let template = Template::load()?;
    let archive = template
        .parameters
        .get("ArchiveRetentionDays")
        .ok_or("no ArchiveRetentionDays parameter")?;
    let archive_days = seconds(
        archive
            .max_value
            .as_ref()
            .ok_or("ArchiveRetentionDays has no MaxValue: an archive may keep events longer than any guard")?,
    )?;
    let configs: Vec<EventInvokeConfig> = template
        .of_type("AWS::Lambda::EventInvokeConfig")
        .map(|(_, r)| r.properties())
        .collect::<TestResult<_>>()?;
    for spec in FUNCTIONS.iter() {
        let function: Function = template
            .resources
            .get(&function_id(spec.name))
            .ok_or("function missing")?
            .properties()?;
        let window = seconds(
            function
                .environment
                .variables
                .get("IDEMPOTENCY_EXPIRES_AFTER_SECONDS")
                .ok_or(format!("{}: no deduplication window", spec.name))?,
        )?;
        let queue: Value = template
            .resources
            .get(&queue_id(spec.name))
            .ok_or("queue missing")?
            .properties()?;
        let dead_letter = seconds(&queue["MessageRetentionPeriod"])?;
        let rule_age = rule_of(template, spec.name)?
            .targets
            .iter()
            .filter_map(|t| t.retry_policy.as_ref())
            .map(|p| u64::from(p.maximum_event_age_in_seconds))
            .max()
            .ok_or(format!("{}: no retry policy", spec.name))?;
        let function_id = function_id(spec.name);
        // Lambda's asynchronous retries, or the time a buffered event may wait in its queue.
        let invoke_age = match spec.buffer {
            None => configs
                .iter()
                .find(|c| ref_id(&c.function_name) == Some(&function_id))
                .map(|c| u64::from(c.maximum_event_age_in_seconds))
                .ok_or(format!("{}: no EventInvokeConfig", spec.name))?,
            Some(_) => {
                let buffer: Value = template
                    .resources
                    .get(&buffer_id(spec.name))
                    .ok_or("buffer queue missing")?
                    .properties()?;
                seconds(&buffer["MessageRetentionPeriod"])?
            }
        };
        assert!(
            window > archive_days * 86_400,
            "{}: window {window} s, archive up to {archive_days} days",
            spec.name
        );
        assert!(
            window > dead_letter + rule_age + invoke_age,
            "{}: window {window} s, dead letter {dead_letter} s after {rule_age} + {invoke_age} s of retries",
            spec.name
        );
    }
    Ok(())
}

#[test]
fn every_table_has_point_in_time_recovery_and_the_idempotency_table_expires_records() -> TestResult {
    let template = Template::load()?;
    let tables: BTreeMap<&String, Table> = template
        .of_type("AWS::DynamoDB::Table")
        .map(|(id, r)| Ok((id, r.properties()?)))
        .collect::<TestResult<_>>()?;
    for (id, table) in &tables {
        assert!(
            table
                .point_in_time_recovery_specification
                .as_ref()
                .is_some_and(|p| p.point_in_time_recovery_enabled),
            "{id}: PITR"
        );
        assert_eq!(table.billing_mode, "PAY_PER_REQUEST", "{id}");
    }
    let idempotency = tables
        .get(&"IdempotencyTable".to_owned())
        .ok_or("no idempotency table")?;
    let ttl = idempotency.time_to_live_specification.as_ref().ok_or("no TTL")?;
    assert!(ttl.enabled && ttl.attribute_name == "expires_at");
    assert_eq!(idempotency.key_schema[0].attribute_name, "id");
    Ok(())
}

#[test]
fn every_function_gets_exactly_the_tables_and_keys_its_code_reads() -> TestResult {
    let template = Template::load()?;
    for spec in FUNCTIONS.iter() {
        let function: Function = template
            .resources
            .get(&function_id(spec.name))
            .ok_or("function missing")?
            .properties()?;
        let variables: BTreeSet<&str> = function.environment.variables.keys().map(String::as_str).collect();
        let mut expected: BTreeSet<&str> = spec.tables.iter().map(|t| t.env).collect();
        expected.insert("IDEMPOTENCY_TABLE");
        expected.insert("IDEMPOTENCY_EXPIRES_AFTER_SECONDS");
        if spec.buffer.is_some() {
            expected.extend(["HERALD_DEAD_LETTER_QUEUE_URL", "HERALD_MAX_RECEIVES"]);
        }
        if function.environment.variables.contains_key("EVENT_BUS_NAME") {
            expected.insert("EVENT_BUS_NAME");
            assert_eq!(
                ref_id(&function.environment.variables["EVENT_BUS_NAME"]),
                Some("ShopBus")
            );
        }
        assert_eq!(variables, expected, "{}", spec.name);
        for table_spec in spec.tables {
            let id = ref_id(&function.environment.variables[table_spec.env]).ok_or("table must be a Ref")?;
            let table: Table = template.resources.get(id).ok_or("table missing")?.properties()?;
            let keys: Vec<(&str, &str)> = table
                .key_schema
                .iter()
                .map(|k| (k.attribute_name.as_str(), k.key_type.as_str()))
                .collect();
            let mut expected = vec![(table_spec.partition_key, "HASH")];
            expected.extend(table_spec.sort_key.map(|s| (s, "RANGE")));
            assert_eq!(keys, expected, "{}: {}", spec.name, table_spec.env);
        }
    }
    Ok(())
}

/// The shape every rule pattern of the template has: alternatives naming sources, detail-types
/// and schema versions.
#[derive(Debug, serde::Deserialize)]
struct Alternative {
    source: Vec<String>,
    #[serde(rename = "detail-type")]
    detail_type: Vec<String>,
    detail: AlternativeDetail,
}

#[derive(Debug, serde::Deserialize)]
struct AlternativeDetail {
    metadata: AlternativeMetadata,
}

#[derive(Debug, serde::Deserialize)]
struct AlternativeMetadata {
    schema_version: Vec<u32>,
}

#[derive(Debug, serde::Deserialize)]
struct RulePattern {
    #[serde(rename = "$or")]
    or: Option<Vec<Alternative>>,
    #[serde(flatten)]
    single: Option<Alternative>,
}

#[test]
fn every_rule_pattern_is_valid_and_matches_exactly_the_samples_of_the_types_it_lists() -> TestResult {
    let template = Template::load()?;
    let samples = catalog_samples()?;
    for spec in FUNCTIONS.iter() {
        let rule = rule_of(template, spec.name)?;
        // Valid EventBridge syntax, by the project's matcher.
        let pattern = event_pattern::Pattern::parse(&rule.event_pattern).map_err(|e| format!("{}: {e}", spec.name))?;
        // What it lists: (source, detail-type, version) triples.
        let shape: RulePattern = serde_json::from_value(rule.event_pattern.clone())?;
        let alternatives: Vec<Alternative> = shape.or.unwrap_or_default().into_iter().chain(shape.single).collect();
        let listed: BTreeSet<(String, String, u32)> = alternatives
            .iter()
            .flat_map(|a| {
                a.source.iter().flat_map(move |s| {
                    a.detail_type.iter().flat_map(move |d| {
                        a.detail
                            .metadata
                            .schema_version
                            .iter()
                            .map(move |v| (s.clone(), d.clone(), *v))
                    })
                })
            })
            .collect();
        assert!(!listed.is_empty(), "{}: the rule lists no type", spec.name);
        let mut matched_types = BTreeSet::new();
        for (path, sample) in &samples {
            // AWS's own events in the catalog carry no schema_version: no shop rule may match them.
            let Ok(version) = sample.schema_version() else {
                assert!(!pattern.matches(sample.as_value()), "{}: {}", spec.name, path.display());
                continue;
            };
            let triple = (
                sample.source().unwrap_or_default().to_owned(),
                sample.detail_type().unwrap_or_default().to_owned(),
                version,
            );
            let matches = pattern.matches(sample.as_value());
            assert_eq!(matches, listed.contains(&triple), "{}: {}", spec.name, path.display());
            if matches {
                matched_types.insert((triple.0, triple.1));
            }
        }
        let listed_types: BTreeSet<(String, String)> = listed.iter().map(|(s, d, _)| (s.clone(), d.clone())).collect();
        assert_eq!(
            matched_types, listed_types,
            "{}: a listed type matches no sample",
            spec.name
        );
    }
    Ok(())
}

#[test]
fn the_alert_topics_key_lets_this_stacks_alarms_and_only_them_publish_to_it() -> TestResult {
    // Stands for an AWS rule moto does not enforce (it ignores key policies): CloudWatch publishes
    // an alarm's notification to an encrypted SNS topic only when the key's policy lets
    // cloudwatch.amazonaws.com use kms:Decrypt and kms:GenerateDataKey* (SNS developer guide,
    // "compatibility between event sources from AWS services and encrypted topics"); the AWS
    // managed key alias/aws/sns never does, so with it every notification is dropped.
    // Given the template
    let template = Template::load()?;

    // When the alert topic's key is read
    let topic = template.resources.get("AlertTopic").ok_or("no AlertTopic")?;
    let key_id = ref_id(&topic.properties["KmsMasterKeyId"])
        .ok_or("the alert topic must be encrypted with a key of this stack, not alias/aws/sns")?;
    let key = template.resources.get(key_id).ok_or(format!("no {key_id}"))?;

    // Then it is a rotated customer managed key whose policy lets CloudWatch use it …
    assert_eq!(key.kind, "AWS::KMS::Key");
    assert_eq!(key.properties["EnableKeyRotation"], Value::Bool(true));
    let statements = key.properties["KeyPolicy"]["Statement"]
        .as_array()
        .ok_or("the key has no policy statements")?;
    let cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com")
        .ok_or("no statement for cloudwatch.amazonaws.com")?;
    assert_eq!(cloudwatch["Effect"], "Allow");
    let actions: BTreeSet<&str> = cloudwatch["Action"]
        .as_array()
        .ok_or("actions must be a list")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(actions, BTreeSet::from(["kms:Decrypt", "kms:GenerateDataKey*"]));

    // … on behalf of this account's alarms named after this stack only
    let condition = &cloudwatch["Condition"];
    assert_eq!(
        ref_id(&condition["StringEquals"]["aws:SourceAccount"]),
        Some("AWS::AccountId")
    );
    let scope = sub(&condition["ArnLike"]["aws:SourceArn"]).ok_or("aws:SourceArn must be a !Sub")?;
    assert_eq!(
        scope,
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-*"
    );

    // … which is every alarm of the template: none falls outside the key's scope
    for (id, alarm) in template.of_type("AWS::CloudWatch::Alarm") {
        let name = sub(&alarm.properties["AlarmName"]).ok_or(format!("{id}: AlarmName must be a !Sub"))?;
        assert!(name.starts_with("${AWS::StackName}-"), "{id}: {name}");
    }
    Ok(())
}

/// The unrouted rules of the template (the catalog's complement), as the project's matcher reads
/// them, with their patterns as written.
fn unrouted_rules(template: &Template) -> TestResult<Vec<(String, Rule, event_pattern::Pattern)>> {
    let rules: Vec<(String, Rule, event_pattern::Pattern)> = template
        .of_type("AWS::Events::Rule")
        .filter(|(id, _)| id.starts_with("UnroutedEventsRule"))
        .map(|(id, r)| {
            let rule: Rule = r.properties()?;
            let pattern = event_pattern::Pattern::parse(&rule.event_pattern).map_err(|e| format!("{id}: {e}"))?;
            Ok((id.clone(), rule, pattern))
        })
        .collect::<TestResult<_>>()?;
    if rules.is_empty() {
        return Err("no UnroutedEventsRule: events no consumer takes would vanish unseen".into());
    }
    Ok(rules)
}

/// `sample` with the JSON value at `pointer` replaced by `value`, or removed when `None`.
fn altered(sample: &herald::RawEvent, pointer: &str, value: Option<Value>) -> TestResult<Value> {
    let mut event = sample.as_value().clone();
    let (parent, key) = pointer.rsplit_once('/').ok_or("pointer without a key")?;
    let parent = event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .ok_or(format!("no object at {parent}"))?;
    match value {
        Some(value) => parent.insert(key.to_owned(), value),
        None => parent.remove(key),
    };
    Ok(event)
}

#[test]
fn an_event_no_consumer_can_take_is_caught_on_the_bus_and_no_catalogued_event_is() -> TestResult {
    let template = Template::load()?;
    let rules = unrouted_rules(template)?;
    let unrouted = |event: &Value| rules.iter().filter(|(_, _, p)| p.matches(event)).count();
    let mut herald_samples = 0;
    for (path, sample) in catalog_samples()? {
        // AWS's own events never reach a custom bus (PutEvents refuses `aws.*` sources).
        let Ok(version) = sample.schema_version() else {
            continue;
        };
        herald_samples += 1;
        // Every catalogued event is routed: no unrouted rule takes it.
        assert_eq!(unrouted(sample.as_value()), 0, "{}", path.display());
        // An uncatalogued version, detail-type or source, or no version, is taken by exactly one.
        for (what, event) in [
            (
                "uncatalogued version",
                altered(
                    &sample,
                    "/detail/metadata/schema_version",
                    Some(Value::from(version + 900)),
                )?,
            ),
            (
                "version as text",
                altered(
                    &sample,
                    "/detail/metadata/schema_version",
                    Some(Value::from(version.to_string())),
                )?,
            ),
            ("no version", altered(&sample, "/detail/metadata/schema_version", None)?),
            (
                "unknown detail-type",
                altered(&sample, "/detail-type", Some(Value::from("SomethingUnheardOf")))?,
            ),
            (
                "unknown source",
                altered(&sample, "/source", Some(Value::from("shop.unheard-of")))?,
            ),
        ] {
            assert_eq!(unrouted(&event), 1, "{}: {what}", path.display());
        }
    }
    assert!(herald_samples > 10, "only {herald_samples} samples read");
    Ok(())
}

/// EventBridge's quota on an event pattern (EventBridge quotas, "Event pattern size": 2048
/// characters by default) is not enforced by moto or the linters: a longer pattern deploys
/// locally and fails in a real account. Every rule's pattern, as compact JSON, must fit.
#[test]
fn every_rule_pattern_fits_eventbridges_default_pattern_size_quota() -> TestResult {
    let template = Template::load()?;
    for (id, resource) in template.of_type("AWS::Events::Rule") {
        let rule: Rule = resource.properties()?;
        let length = rule.event_pattern.to_string().len();
        assert!(length <= 2048, "{id}: its pattern is {length} characters");
    }
    Ok(())
}

#[test]
fn unrouted_events_wait_in_a_queue_only_their_rules_may_fill_and_page_on_alarm_and_on_ok() -> TestResult {
    let template = Template::load()?;
    let rules = unrouted_rules(template)?;
    for (id, rule, _) in &rules {
        assert_eq!(ref_id(&rule.event_bus_name), Some("ShopBus"), "{id}");
        let targets: Vec<Option<(&str, &str)>> = rule.targets.iter().map(|t| get_att(&t.arn)).collect();
        assert_eq!(targets, [Some(("UnroutedEventsQueue", "Arn"))], "{id}");
    }
    // The queue's policy lets EventBridge send only on behalf of those rules.
    let policy: Value = template
        .resources
        .get("UnroutedEventsQueuePolicy")
        .ok_or("no policy on the unrouted queue")?
        .properties()?;
    let statements = policy["PolicyDocument"]["Statement"]
        .as_array()
        .ok_or("no statements")?;
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Principal"]["Service"], "events.amazonaws.com");
    let allowed: BTreeSet<String> = match &statements[0]["Condition"]["ArnEquals"]["aws:SourceArn"] {
        Value::Array(arns) => arns.iter().map(Value::to_string).collect(),
        one => BTreeSet::from([one.to_string()]),
    };
    let expected: BTreeSet<String> = rules
        .iter()
        .map(|(id, _, _)| serde_json::json!({"Fn::GetAtt": [id, "Arn"]}).to_string())
        .collect();
    assert_eq!(allowed, expected);
    // Its depth pages, and its recovery says so.
    let alarm: Alarm = template
        .resources
        .get("UnroutedEventsAlarm")
        .ok_or("no alarm on the unrouted queue")?
        .properties()?;
    assert_eq!(
        (alarm.namespace.as_str(), alarm.metric_name.as_str()),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    );
    assert_eq!(
        get_att(&alarm.dimensions[0].value),
        Some(("UnroutedEventsQueue", "QueueName"))
    );
    assert!(alarm.threshold < 1.0 && alarm.comparison_operator == "GreaterThanThreshold");
    for actions in [&alarm.alarm_actions, &alarm.ok_actions] {
        assert_eq!(actions.iter().map(ref_id).collect::<Vec<_>>(), [Some("AlertTopic")]);
    }
    Ok(())
}

/// The redrive function redrives a consumer's dead-letter queue when the consumer's errors alarm
/// goes from ALARM to OK. CloudWatch returns an alarm to OK when fewer than `DatapointsToAlarm`
/// of its last `EvaluationPeriods` datapoints breach (CloudWatch user guide, "Evaluating an
/// alarm"), so with one period of one minute a single quiet minute — a lull, not a fix — would
/// redrive. moto keeps no real time: the template stands for the rule. Every errors alarm pages on
/// the first error and recovers only after at least five quiet minutes.
#[test]
fn an_errors_alarm_pages_on_the_first_error_and_signals_recovery_only_after_quiet_minutes() -> TestResult {
    let template = Template::load()?;
    for spec in FUNCTIONS.iter() {
        let id = format!("{}ErrorsAlarm", pascal(spec.name));
        let alarm: Alarm = template
            .resources
            .get(&id)
            .ok_or(format!("{}: no errors alarm", spec.name))?
            .properties()?;
        let metric = if spec.buffer.is_some() { "Events" } else { "Errors" };
        assert_eq!(alarm.metric_name, metric, "{id}");
        let to_alarm = alarm.datapoints_to_alarm.unwrap_or(alarm.evaluation_periods);
        assert_eq!(to_alarm, 1, "{id}: must page on the first error");
        let quiet = u64::from(alarm.period) * u64::from(alarm.evaluation_periods);
        assert!(quiet >= 300, "{id}: OK after {quiet} quiet seconds");
    }
    Ok(())
}

/// An event that arrives before the one it depends on (a payment before its order) fails once
/// and succeeds on Lambda's next attempt: a race of unordered delivery, which must neither page
/// nor, by the alarm's return to OK, set off a redrive. The consumer counts it as the EMF metric
/// `DeferredEvents` (namespace `Herald`, dimension `function`), and every errors alarm compares
/// Lambda's `Errors` less that count (CloudWatch metric math: `FILL` makes a minute without
/// deferrals count 0). One that never heals ends in the dead-letter queue, whose alarm pages.
/// A throttled asynchronous invocation is retried by Lambda, not lost (Lambda developer guide,
/// "Asynchronous invocation": throttles are retried for up to the event's maximum age), so the
/// throttles alarm pages only after five throttled minutes in a row.
#[test]
fn a_deferred_event_or_a_burst_of_throttles_does_not_page() -> TestResult {
    let template = Template::load()?;
    for spec in FUNCTIONS.iter() {
        let alarm = |kind: &str| -> TestResult<Alarm> {
            let id = format!("{}{kind}Alarm", pascal(spec.name));
            template.resources.get(&id).ok_or(format!("no {id}"))?.properties()
        };
        let errors = alarm("Errors")?;
        if spec.buffer.is_some() {
            // A buffered function's deferred event has its own outcome: only `error` is counted.
            let outcome = errors.dimensions.iter().find(|d| d.name == "outcome").map(|d| &d.value);
            assert_eq!(outcome, Some(&Value::from("error")), "{}", spec.name);
            assert!(errors.less.is_empty(), "{}", spec.name);
        }
        let less: Vec<(&str, &str, Vec<&Value>)> = errors
            .less
            .iter()
            .map(|m| {
                let dimensions = m
                    .dimensions
                    .iter()
                    .filter(|d| d.name == "function")
                    .map(|d| &d.value)
                    .collect();
                (m.namespace.as_str(), m.metric_name.as_str(), dimensions)
            })
            .collect();
        if spec.buffer.is_none() {
            assert_eq!(
                less,
                [("Herald", "DeferredEvents", vec![&Value::from(spec.name)])],
                "{}",
                spec.name
            );
            assert_eq!(errors.expression.as_deref(), Some("FILL(all, 0) - FILL(less, 0)"));
        }
        let throttles = alarm("Throttles")?;
        assert_eq!(throttles.metric_name, "Throttles");
        assert_eq!(
            (
                throttles.datapoints_to_alarm,
                throttles.evaluation_periods,
                throttles.period
            ),
            (Some(5), 5, 60),
            "{}",
            spec.name
        );
    }
    Ok(())
}

/// An operator sees every consumer on one page: the stack's dashboard has the unrouted queue and,
/// per consumer, its invocations and errors, duration, dead-letter queue, guard outcomes, and
/// uncatalogued and deferred events. CloudFormation resolves a `!Sub` placeholder only if it names
/// a resource (or its attribute) or a pseudo parameter, and fails the deployment otherwise; moto
/// deploys nothing of it, so the template stands for the rule: every placeholder resolves.
#[test]
fn the_dashboard_shows_every_consumer_and_every_placeholder_of_its_body_resolves() -> TestResult {
    let template = Template::load()?;
    let dashboard = template
        .resources
        .get("OperationsDashboard")
        .ok_or("no OperationsDashboard")?;
    let text = dashboard.properties["DashboardBody"]["Fn::Sub"]
        .as_str()
        .ok_or("the body is a !Sub of one string")?;
    let placeholders: BTreeSet<&str> = text
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect();
    for placeholder in &placeholders {
        let resource = placeholder.split('.').next().unwrap_or_default();
        assert!(
            resource.starts_with("AWS::") || template.resources.contains_key(resource),
            "${{{placeholder}}} names no resource"
        );
    }
    let body: Value = serde_json::from_str(text)?;
    let widgets = body["widgets"].as_array().ok_or("no widgets")?;
    let titles: Vec<&str> = widgets
        .iter()
        .filter_map(|w| w["properties"]["title"].as_str())
        .collect();
    assert!(titles.iter().any(|t| t.contains("unrouted")), "{titles:?}");
    for spec in FUNCTIONS.iter() {
        let prefix = pascal(spec.name);
        let of: Vec<&Value> = widgets
            .iter()
            .filter(|w| {
                w["properties"]["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&format!("{}:", spec.name)))
            })
            .collect();
        assert_eq!(of.len(), 5, "{}: {titles:?}", spec.name);
        let text = serde_json::to_string(&of)?;
        for expected in [
            format!("${{{prefix}Function}}"),
            format!("${{{prefix}DeadLetterQueue.QueueName}}"),
            format!("function=\\\"{}\\\"", spec.name),
            "UncataloguedEvents".to_owned(),
            "DeferredEvents".to_owned(),
        ] {
            assert!(
                text.contains(&expected),
                "{}: {expected} missing from {text}",
                spec.name
            );
        }
    }
    Ok(())
}
