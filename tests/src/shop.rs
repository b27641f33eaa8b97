//! The shop's EventBridge side, deployed on moto from `infra/template.yaml` itself: the bus,
//! every rule with its pattern, retry policy and dead-letter queue, and every alarm. Lambda
//! cannot run on moto, so each rule targets a stand-in SQS queue per function instead (a
//! buffered function's stand-in is its own queue, which its rule targets); tests read those
//! queues to see what each function would have received.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use aws_sdk_eventbridge::types::{DeadLetterConfig, RetryPolicy, Target};
use serde_json::Value;

use crate::TestResult;
use crate::aws::{queue_arn, unique};
use crate::template::{Alarm, Rule, Template};

/// What was deployed, by the template's names.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The stack name that `${AWS::StackName}` resolved to.
    pub stack_name: String,
    /// The bus name.
    pub bus_name: String,
    /// Function (binary name) → its stand-in queue URL.
    pub function_queues: BTreeMap<String, String>,
    /// Queue logical id → URL, for the template's own queues (the dead-letter queues).
    pub queues: BTreeMap<String, String>,
    /// Rule names created.
    pub rules: Vec<String>,
    /// Alarm names created.
    pub alarms: Vec<String>,
}

/// What `Ref`, `Fn::GetAtt` and `Fn::Sub` resolve to in this deployment.
#[derive(Debug, Default)]
struct Names {
    refs: BTreeMap<String, String>,
    atts: BTreeMap<(String, String), String>,
    pseudo: BTreeMap<&'static str, String>,
}

impl Names {
    fn resolve(&self, value: &Value) -> TestResult<String> {
        if let Some(text) = value.as_str() {
            return Ok(text.to_owned());
        }
        if let Some(id) = value.get("Ref").and_then(Value::as_str) {
            return self.reference(id);
        }
        if let Some([id, attribute]) = value.get("Fn::GetAtt").and_then(Value::as_array).map(Vec::as_slice) {
            let key = (
                id.as_str().unwrap_or_default().to_owned(),
                attribute.as_str().unwrap_or_default().to_owned(),
            );
            return self
                .atts
                .get(&key)
                .cloned()
                .ok_or_else(|| format!("unresolved GetAtt {key:?}").into());
        }
        if let Some(text) = value.get("Fn::Sub").and_then(Value::as_str) {
            let mut out = String::new();
            let mut rest = text;
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find('}').ok_or("unclosed ${ in Fn::Sub")? + start;
                let name = &rest[start + 2..end];
                let resolved = match name.split_once('.') {
                    Some((id, attribute)) => self
                        .atts
                        .get(&(id.to_owned(), attribute.to_owned()))
                        .cloned()
                        .ok_or_else(|| format!("unresolved ${{{name}}}"))?,
                    None => self.reference(name)?,
                };
                out.push_str(&resolved);
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            return Ok(out);
        }
        Err(format!("cannot resolve {value}").into())
    }

    /// `value` with every intrinsic inside it resolved (a pattern that lists `Fn::Sub` names).
    fn resolve_within(&self, value: &Value) -> TestResult<Value> {
        let intrinsic = value
            .as_object()
            .is_some_and(|o| o.len() == 1 && o.keys().all(|k| k == "Ref" || k.starts_with("Fn::")));
        Ok(match value {
            _ if intrinsic => Value::String(self.resolve(value)?),
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), self.resolve_within(v)?)))
                    .collect::<TestResult<_>>()?,
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.resolve_within(v))
                    .collect::<TestResult<_>>()?,
            ),
            other => other.clone(),
        })
    }

    /// A rule's bus: its `EventBusName` resolved, or `default` when it names none.
    fn bus_of(&self, rule: &Rule) -> TestResult<String> {
        if rule.event_bus_name.is_null() {
            Ok("default".to_owned())
        } else {
            self.resolve(&rule.event_bus_name)
        }
    }

    fn reference(&self, id: &str) -> TestResult<String> {
        self.pseudo
            .get(id)
            .or_else(|| self.refs.get(id))
            .cloned()
            .ok_or_else(|| format!("unresolved Ref {id}").into())
    }
}

/// Deploys the template's bus, queues, rules and alarms on moto.
///
/// # Errors
/// Any SDK error from moto, or an intrinsic this deployment cannot resolve.
pub async fn deploy(config: &SdkConfig, template: &Template) -> TestResult<Deployed> {
    let events = aws_sdk_eventbridge::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(config);
    let stack_name = unique("herald");
    let mut names = Names {
        pseudo: BTreeMap::from([
            ("AWS::StackName", stack_name.clone()),
            ("AWS::Region", "us-east-1".to_owned()),
            ("AWS::AccountId", "123456789012".to_owned()),
            ("AWS::Partition", "aws".to_owned()),
        ]),
        ..Names::default()
    };
    for (name, parameter) in &template.parameters {
        if let Some(default) = &parameter.default {
            names.refs.insert(
                name.clone(),
                default.as_str().map_or_else(|| default.to_string(), str::to_owned),
            );
        }
    }
    names.refs.insert(
        "AlertTopic".to_owned(),
        format!("arn:aws:sns:us-east-1:123456789012:{stack_name}-alerts"),
    );

    // The bus.
    let bus_name = unique("shop");
    events.create_event_bus().name(&bus_name).send().await?;
    for (id, _) in template.of_type("AWS::Events::EventBus") {
        names.refs.insert(id.clone(), bus_name.clone());
        names.atts.insert(
            (id.clone(), "Arn".to_owned()),
            format!("arn:aws:events:us-east-1:123456789012:event-bus/{bus_name}"),
        );
    }

    // The template's queues (dead-letter queues).
    let mut queues = BTreeMap::new();
    for (id, _) in template.of_type("AWS::SQS::Queue") {
        let name = unique(&id.to_lowercase());
        let url = sqs
            .create_queue()
            .queue_name(&name)
            .send()
            .await?
            .queue_url()
            .ok_or("no queue URL")?
            .to_owned();
        names.refs.insert(id.clone(), url.clone());
        names
            .atts
            .insert((id.clone(), "Arn".to_owned()), queue_arn(&sqs, &url).await?);
        names.atts.insert((id.clone(), "QueueName".to_owned()), name);
        queues.insert(id.clone(), url);
    }

    // A stand-in queue per function, and the function's name where the template refers to it.
    let mut function_queues = BTreeMap::new();
    let mut stand_in_arns = BTreeMap::new();
    for (id, resource) in template.of_type("AWS::Lambda::Function") {
        let binary = resource.metadata["BuildProperties"]["Binary"]
            .as_str()
            .ok_or("function without Binary")?;
        let url = sqs
            .create_queue()
            .queue_name(unique(&format!("fn-{binary}")))
            .send()
            .await?
            .queue_url()
            .ok_or("no URL")?
            .to_owned();
        stand_in_arns.insert(id.clone(), queue_arn(&sqs, &url).await?);
        names.refs.insert(id.clone(), binary.to_owned());
        function_queues.insert(binary.to_owned(), url);
    }

    // A buffered function's own queue is what it receives: its event source mapping's queue
    // stands in for it (its rules target that queue in the template already).
    for (_, mapping) in template.of_type("AWS::Lambda::EventSourceMapping") {
        let function = mapping.properties["FunctionName"]["Ref"]
            .as_str()
            .ok_or("an event source mapping without its function")?;
        let Some(binary) = names.refs.get(function).cloned() else {
            continue;
        };
        let queue = mapping.properties["EventSourceArn"]["Fn::GetAtt"][0]
            .as_str()
            .ok_or("an event source mapping without its queue")?;
        let url = queues
            .get(queue)
            .ok_or(format!("{queue}: not a queue of the template"))?;
        function_queues.insert(binary, url.clone());
    }

    // Every rule, targeting the stand-in queue of the function it targets in the template.
    let mut rules = Vec::new();
    for (id, resource) in template.of_type("AWS::Events::Rule") {
        let rule: Rule = resource.properties()?;
        let name = names.resolve(&rule.name)?;
        let rule_bus = names.bus_of(&rule)?;
        events
            .put_rule()
            .name(&name)
            .event_bus_name(&rule_bus)
            .event_pattern(names.resolve_within(&rule.event_pattern)?.to_string())
            .send()
            .await?;
        for (n, target) in rule.targets.iter().enumerate() {
            let function = target
                .arn
                .get("Fn::GetAtt")
                .and_then(|a| a[0].as_str())
                .ok_or(format!("{id}: target"))?;
            // A function's target goes to its stand-in queue; a queue's to the queue itself.
            let arn = match stand_in_arns.get(function) {
                Some(arn) => arn.clone(),
                None => names.resolve(&target.arn)?,
            };
            let mut built = Target::builder().id(format!("target-{n}")).arn(arn);
            if let Some(dlq) = &target.dead_letter_config {
                built = built.dead_letter_config(DeadLetterConfig::builder().arn(names.resolve(&dlq.arn)?).build());
            }
            if let Some(retry) = &target.retry_policy {
                built = built.retry_policy(
                    RetryPolicy::builder()
                        .maximum_retry_attempts(i32::try_from(retry.maximum_retry_attempts)?)
                        .maximum_event_age_in_seconds(i32::try_from(retry.maximum_event_age_in_seconds)?)
                        .build(),
                );
            }
            events
                .put_targets()
                .rule(&name)
                .event_bus_name(&rule_bus)
                .targets(built.build()?)
                .send()
                .await?;
        }
        rules.push(name);
    }

    // Every alarm, with its dimensions and actions resolved.
    let mut alarms = Vec::new();
    for (_, resource) in template.of_type("AWS::CloudWatch::Alarm") {
        let alarm: Alarm = resource.properties()?;
        let name = names.resolve(&resource.properties["AlarmName"])?;
        let mut request = cloudwatch
            .put_metric_alarm()
            .alarm_name(&name)
            .namespace(&alarm.namespace)
            .metric_name(&alarm.metric_name)
            .statistic(Statistic::from(
                resource.properties["Statistic"].as_str().unwrap_or("Sum"),
            ))
            .period(60)
            .evaluation_periods(1)
            .threshold(alarm.threshold)
            .comparison_operator(ComparisonOperator::from(alarm.comparison_operator.as_str()));
        for dimension in &alarm.dimensions {
            request = request.dimensions(
                Dimension::builder()
                    .name(&dimension.name)
                    .value(names.resolve(&dimension.value)?)
                    .build(),
            );
        }
        for action in &alarm.alarm_actions {
            request = request.alarm_actions(names.resolve(action)?);
        }
        for action in &alarm.ok_actions {
            request = request.ok_actions(names.resolve(action)?);
        }
        request.send().await?;
        alarms.push(name);
    }

    Ok(Deployed {
        stack_name,
        bus_name,
        function_queues,
        queues,
        rules,
        alarms,
    })
}
