//! The redrive function in `infra/template.yaml` (translated by SAM's own translator): triggered
//! on the default bus only when one of the consumers' error alarms returns from ALARM to OK,
//! allowed to read and delete only the consumers' dead-letter queues and to publish only to the
//! shop bus, and, like every target, retried, dead-lettered and alarmed.

use std::collections::BTreeSet;

use herald_tests::TestResult;
use herald_tests::functions::FUNCTIONS;
use herald_tests::template::{Alarm, EventInvokeConfig, Function, Role, Rule, Template, get_att, pascal, ref_id, sub};
use serde_json::Value;

/// What `${AWS::StackName}` stands for in these tests, as in `herald dev` and the catalog sample.
const STACK: &str = "shop";

/// `value` with every `{"Fn::Sub": "${AWS::StackName}…"}` replaced by its text for [`STACK`].
fn resolved(value: &Value) -> Value {
    if let Some(text) = sub(value) {
        return Value::String(text.replace("${AWS::StackName}", STACK));
    }
    match value {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), resolved(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(resolved).collect()),
        other => other.clone(),
    }
}

fn redrive_rule(template: &Template) -> TestResult<Rule> {
    let rules: Vec<Rule> = template
        .of_type("AWS::Events::Rule")
        .map(|(_, r)| r.properties::<Rule>())
        .collect::<TestResult<Vec<_>>>()?
        .into_iter()
        .filter(|rule| {
            rule.targets
                .iter()
                .any(|t| get_att(&t.arn) == Some(("RedriveFunction", "Arn")))
        })
        .collect();
    <[Rule; 1]>::try_from(rules)
        .map(|[rule]| rule)
        .map_err(|rules| format!("expected one rule for redrive, found {}", rules.len()).into())
}

fn alarm_sample() -> TestResult<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/aws.cloudwatch/CloudWatch Alarm State Change/v1.sample.json");
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

#[test]
fn redrive_is_triggered_on_the_default_bus_only_when_a_consumers_error_alarm_returns_to_ok() -> TestResult {
    let template = Template::load()?;
    let rule = redrive_rule(template)?;
    assert!(
        rule.event_bus_name.is_null(),
        "CloudWatch sends alarm changes to the default bus"
    );
    let pattern = event_pattern::Pattern::parse(&resolved(&rule.event_pattern))?;

    // The catalog's sample (inventory's errors alarm, ALARM → OK) matches…
    let sample = alarm_sample()?;
    assert!(pattern.matches(&sample));
    // …but not the alarm going off, nor a recovery from INSUFFICIENT_DATA, nor another alarm.
    for (pointer, value) in [
        ("/detail/state/value", "ALARM"),
        ("/detail/previousState/value", "INSUFFICIENT_DATA"),
        ("/detail/alarmName", "shop-redrive-errors"),
        ("/source", "shop.orders"),
    ] {
        let mut other = sample.clone();
        if let Some(slot) = other.pointer_mut(pointer) {
            *slot = Value::from(value);
        }
        assert!(
            !pattern.matches(&other),
            "{pointer} = {value} must not trigger a redrive"
        );
    }

    // The alarm names it lists are exactly the consumers' errors alarms: Lambda's `Errors` of a
    // consumer's function, or a buffered consumer's count of failed events.
    let listed: BTreeSet<String> = rule.event_pattern["detail"]["alarmName"]
        .as_array()
        .ok_or("alarmName is a list")?
        .iter()
        .filter_map(|v| sub(v).map(str::to_owned))
        .collect();
    let errors_alarms: BTreeSet<String> = template
        .of_type("AWS::CloudWatch::Alarm")
        .map(|(_, r)| r.properties::<Alarm>())
        .collect::<TestResult<Vec<_>>>()?
        .into_iter()
        .filter(|a| {
            let of_a_consumer = |d: &herald_tests::template::Dimension| {
                ref_id(&d.value).is_some_and(|f| FUNCTIONS.iter().any(|s| f == format!("{}Function", pascal(s.name))))
            };
            let failed_events = |d: &herald_tests::template::Dimension| d.name == "outcome" && d.value == "error";
            (a.metric_name == "Errors" && a.dimensions.iter().any(of_a_consumer))
                || (a.namespace == "Herald" && a.metric_name == "Events" && a.dimensions.iter().any(failed_events))
        })
        .filter_map(|a| sub(&a.alarm_name).map(str::to_owned))
        .collect();
    assert_eq!(listed.len(), FUNCTIONS.len());
    assert_eq!(listed, errors_alarms);
    Ok(())
}

#[test]
fn redrive_may_only_read_the_consumers_dead_letter_queues_and_publish_to_the_shop_bus() -> TestResult {
    let template = Template::load()?;
    let function: Function = template
        .resources
        .get("RedriveFunction")
        .ok_or("no RedriveFunction")?
        .properties()?;
    let (role_id, _) = get_att(&function.role).ok_or("role must be the template's own")?;
    let role: Role = template.resources.get(role_id).ok_or("role missing")?.properties()?;
    assert!(role.managed_policy_arns.is_empty());
    let queues: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|s| format!("{}DeadLetterQueue", pascal(s.name)))
        .collect();
    let mut granted = BTreeSet::new();
    for statement in role.policies.iter().flat_map(|p| &p.policy_document.statement) {
        // Writing X-Ray traces takes no resource-level permission (`*`, as every function's
        // role has it: template.rs holds every role to exactly those two actions there).
        if statement.actions() == ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
            && statement.resources() == [serde_json::Value::from("*")]
        {
            continue;
        }
        let resources: Vec<(String, String)> = statement
            .resources()
            .iter()
            .map(|r| {
                get_att(r)
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or("resources are the template's own")
            })
            .collect::<Result<_, _>>()?;
        for action in statement.actions() {
            assert!(!action.contains('*'), "wildcard action {action}");
            granted.insert(action.clone());
            let expected: BTreeSet<(String, String)> = match action.as_str() {
                "sqs:ReceiveMessage" | "sqs:DeleteMessage" | "sqs:ChangeMessageVisibility" => {
                    queues.iter().map(|q| (q.clone(), "Arn".to_owned())).collect()
                }
                "sqs:SendMessage" => BTreeSet::from([("RedriveDeadLetterQueue".to_owned(), "Arn".to_owned())]),
                "events:PutEvents" => BTreeSet::from([("ShopBus".to_owned(), "Arn".to_owned())]),
                "logs:CreateLogStream" | "logs:PutLogEvents" => {
                    BTreeSet::from([("RedriveLogGroup".to_owned(), "Arn".to_owned())])
                }
                other => return Err(format!("redrive needs no {other}").into()),
            };
            assert_eq!(resources.iter().cloned().collect::<BTreeSet<_>>(), expected, "{action}");
        }
    }
    assert!(granted.contains("sqs:ReceiveMessage") && granted.contains("events:PutEvents"));

    // Each alarm it may be told about maps to that consumer's queue.
    let queues_variable = sub(&function.environment.variables["REDRIVE_QUEUES"]).ok_or("REDRIVE_QUEUES is a !Sub")?;
    for spec in FUNCTIONS.iter() {
        let pair = format!(
            "${{AWS::StackName}}-{}-errors=${{{}DeadLetterQueue}}",
            spec.name,
            pascal(spec.name)
        );
        assert!(
            queues_variable.split(',').any(|p| p == pair),
            "{pair} in {queues_variable}"
        );
    }
    assert_eq!(
        ref_id(&function.environment.variables["EVENT_BUS_NAME"]),
        Some("ShopBus")
    );
    Ok(())
}

#[test]
fn redrive_is_retried_dead_lettered_and_alarmed_like_every_target() -> TestResult {
    let template = Template::load()?;
    let rule = redrive_rule(template)?;
    let target = &rule.targets[0];
    assert!(
        target
            .retry_policy
            .as_ref()
            .is_some_and(|r| r.maximum_retry_attempts > 0)
    );
    assert_eq!(
        target.dead_letter_config.as_ref().and_then(|d| get_att(&d.arn)),
        Some(("RedriveDeadLetterQueue", "Arn"))
    );
    let config: EventInvokeConfig = template
        .of_type("AWS::Lambda::EventInvokeConfig")
        .map(|(_, r)| r.properties::<EventInvokeConfig>())
        .collect::<TestResult<Vec<_>>>()?
        .into_iter()
        .find(|c| ref_id(&c.function_name) == Some("RedriveFunction"))
        .ok_or("no EventInvokeConfig for redrive")?;
    assert_eq!(
        get_att(&config.destination_config.on_failure.destination),
        Some(("RedriveDeadLetterQueue", "Arn"))
    );
    let alarms: Vec<Alarm> = template
        .of_type("AWS::CloudWatch::Alarm")
        .map(|(_, r)| r.properties())
        .collect::<TestResult<_>>()?;
    assert!(
        alarms
            .iter()
            .any(|a| a.metric_name == "Errors"
                && a.dimensions.iter().any(|d| ref_id(&d.value) == Some("RedriveFunction")))
    );
    assert!(alarms.iter().any(|a| {
        a.metric_name == "ApproximateNumberOfMessagesVisible"
            && a.dimensions
                .iter()
                .any(|d| get_att(&d.value) == Some(("RedriveDeadLetterQueue", "QueueName")))
    }));
    Ok(())
}
