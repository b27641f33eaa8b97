//! `infra/template.yaml` as plain CloudFormation: AWS SAM's own translator (from the tools venv)
//! turns it into JSON offline, and these types read what the tests check.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use crate::TestResult;

/// A CloudFormation template.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Template {
    /// Resources by logical id.
    pub resources: BTreeMap<String, Resource>,
    /// Parameters by name.
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
}

/// One resource.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    /// e.g. `AWS::Events::Rule`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Its properties, read into a typed struct with [`Resource::properties`].
    #[serde(default)]
    pub properties: Value,
    /// Resource metadata (the build method of functions).
    #[serde(default)]
    pub metadata: Value,
}

/// A template parameter.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parameter {
    /// Its default, if any.
    #[serde(default)]
    pub default: Option<Value>,
    /// The largest value a `Number` parameter allows, if bounded.
    #[serde(default)]
    pub max_value: Option<Value>,
}

impl Resource {
    /// The properties as `T`.
    ///
    /// # Errors
    /// When they do not fit `T`.
    pub fn properties<T: serde::de::DeserializeOwned>(&self) -> TestResult<T> {
        Ok(serde_json::from_value(self.properties.clone())?)
    }
}

impl Template {
    /// `infra/template.yaml` translated by `scripts/sam-translate.py`, once per test binary.
    ///
    /// # Errors
    /// When the translator fails (its stderr is in the message) or prints something else.
    pub fn load() -> TestResult<&'static Self> {
        static TEMPLATE: OnceLock<Result<Template, String>> = OnceLock::new();
        TEMPLATE
            .get_or_init(|| Self::translate().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| e.clone().into())
    }

    fn translate() -> TestResult<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let output = Command::new(root.join(".tools/bin/python"))
            .arg(root.join("scripts/sam-translate.py"))
            .arg(root.join("infra/template.yaml"))
            .output()
            .map_err(|e| format!("cannot run the SAM translator (run `make tools`): {e}"))?;
        if !output.status.success() {
            return Err(format!("SAM translation failed:\n{}", String::from_utf8_lossy(&output.stderr)).into());
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    /// Every resource of a type, by logical id.
    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Resource)> + 'a {
        self.resources.iter().filter(move |(_, r)| r.kind == kind)
    }
}

/// `{"Ref": id}` → `id`.
pub fn ref_id(value: &Value) -> Option<&str> {
    value.get("Ref").and_then(Value::as_str)
}

/// `{"Fn::GetAtt": [id, attribute]}` → `(id, attribute)`.
pub fn get_att(value: &Value) -> Option<(&str, &str)> {
    let parts = value.get("Fn::GetAtt")?.as_array()?;
    Some((parts.first()?.as_str()?, parts.get(1)?.as_str()?))
}

/// A function's name as the template's logical ids spell it: `order-history` → `OrderHistory`
/// (so `OrderHistoryFunction`, `OrderHistoryDeadLetterQueue`).
pub fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `{"Fn::Sub": text}` → `text`.
pub fn sub(value: &Value) -> Option<&str> {
    value.get("Fn::Sub").and_then(Value::as_str)
}

/// Properties of an `AWS::Events::Rule`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// The bus; `Null` for the default bus.
    #[serde(default)]
    pub event_bus_name: Value,
    /// The pattern.
    pub event_pattern: Value,
    /// The rule's name.
    pub name: Value,
    /// Its targets.
    pub targets: Vec<RuleTarget>,
}

/// A rule target.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleTarget {
    /// What it invokes.
    pub arn: Value,
    /// Where undeliverable events go.
    pub dead_letter_config: Option<ArnHolder>,
    /// How EventBridge retries.
    pub retry_policy: Option<RetryPolicy>,
}

/// `{ "Arn": … }`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArnHolder {
    /// The ARN (usually an intrinsic).
    pub arn: Value,
}

/// A rule target's retry policy.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    /// Retries before the dead-letter queue.
    pub maximum_retry_attempts: u32,
    /// Age after which an event is not retried.
    pub maximum_event_age_in_seconds: u32,
}

/// Properties of an `AWS::Lambda::Function` (what the tests read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    /// The runtime.
    pub runtime: String,
    /// The architectures.
    pub architectures: Vec<String>,
    /// Memory in MB.
    pub memory_size: u32,
    /// Timeout in seconds.
    pub timeout: u32,
    /// Its role.
    pub role: Value,
    /// Its environment.
    pub environment: Environment,
    /// X-Ray tracing (`Mode: Active` or `PassThrough`), when set.
    #[serde(default)]
    pub tracing_config: Option<TracingConfig>,
}

/// A function's `TracingConfig`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfig {
    /// `Active` or `PassThrough`.
    pub mode: String,
}

/// A function's environment.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    /// Variables by name.
    pub variables: BTreeMap<String, Value>,
}

/// Properties of an `AWS::Lambda::EventInvokeConfig`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventInvokeConfig {
    /// The function.
    pub function_name: Value,
    /// Lambda's retries of async invocations.
    pub maximum_retry_attempts: u32,
    /// How old an event may be and still be retried.
    pub maximum_event_age_in_seconds: u32,
    /// Where failed invocations go.
    pub destination_config: DestinationConfig,
}

/// Destinations of an invoke config.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    /// The failure destination.
    pub on_failure: Destination,
}

/// One destination.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Destination {
    /// Its ARN.
    pub destination: Value,
}

/// Properties of an `AWS::CloudWatch::Alarm`, read alike whether it watches one metric
/// (`Namespace`, `MetricName`, …) or a metric-math expression (`Metrics`): then its metric is the
/// first query's, and the others are in [`Alarm::less`].
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawAlarm")]
pub struct Alarm {
    /// The alarm's name (usually a `Fn::Sub`).
    pub alarm_name: Value,
    /// The metric's namespace.
    pub namespace: String,
    /// The metric.
    pub metric_name: String,
    /// Its dimensions.
    pub dimensions: Vec<Dimension>,
    /// Metrics subtracted from it by the alarm's expression (none for a one-metric alarm).
    pub less: Vec<Metric>,
    /// The expression whose value is compared (`None` for a one-metric alarm).
    pub expression: Option<String>,
    /// Who is told on ALARM.
    pub alarm_actions: Vec<Value>,
    /// Who is told on OK.
    pub ok_actions: Vec<Value>,
    /// The threshold.
    pub threshold: f64,
    /// How the metric is compared.
    pub comparison_operator: String,
    /// Seconds per datapoint.
    pub period: u32,
    /// Datapoints the alarm looks back over.
    pub evaluation_periods: u32,
    /// Breaching datapoints among them that make it ALARM (default: all of them).
    pub datapoints_to_alarm: Option<u32>,
}

/// One metric an alarm reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub metric_name: String,
    /// Its dimensions.
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

/// An alarm as the template writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawAlarm {
    #[serde(default)]
    alarm_name: Value,
    #[serde(flatten)]
    metric: Option<Metric>,
    #[serde(default)]
    period: Option<u32>,
    #[serde(default)]
    metrics: Vec<MetricQuery>,
    #[serde(default)]
    alarm_actions: Vec<Value>,
    #[serde(rename = "OKActions", default)]
    ok_actions: Vec<Value>,
    threshold: f64,
    comparison_operator: String,
    evaluation_periods: u32,
    #[serde(default)]
    datapoints_to_alarm: Option<u32>,
}

/// One query of a metric-math alarm: a metric, or the expression.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricQuery {
    #[serde(default)]
    metric_stat: Option<MetricStat>,
    #[serde(default)]
    expression: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetricStat {
    metric: Metric,
    period: u32,
}

impl TryFrom<RawAlarm> for Alarm {
    type Error = String;

    fn try_from(raw: RawAlarm) -> Result<Self, String> {
        let expression = raw.metrics.iter().find_map(|q| q.expression.clone());
        let mut stats = raw.metrics.into_iter().filter_map(|q| q.metric_stat);
        let (metric, period, less) = match (raw.metric, raw.period) {
            (Some(metric), Some(period)) => (metric, period, Vec::new()),
            _ => {
                let first = stats
                    .next()
                    .ok_or("an alarm with neither a metric nor metric queries")?;
                (first.metric, first.period, stats.map(|s| s.metric).collect())
            }
        };
        Ok(Self {
            alarm_name: raw.alarm_name,
            namespace: metric.namespace,
            metric_name: metric.metric_name,
            dimensions: metric.dimensions,
            less,
            expression,
            alarm_actions: raw.alarm_actions,
            ok_actions: raw.ok_actions,
            threshold: raw.threshold,
            comparison_operator: raw.comparison_operator,
            period,
            evaluation_periods: raw.evaluation_periods,
            datapoints_to_alarm: raw.datapoints_to_alarm,
        })
    }
}

/// An alarm dimension.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// Its name.
    pub name: String,
    /// Its value (often an intrinsic).
    pub value: Value,
}

/// Properties of an `AWS::DynamoDB::Table` (what the tests read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    /// Billing mode.
    pub billing_mode: String,
    /// Key schema.
    pub key_schema: Vec<KeyElement>,
    /// PITR.
    pub point_in_time_recovery_specification: Option<Pitr>,
    /// TTL.
    pub time_to_live_specification: Option<Ttl>,
}

/// A key schema element.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyElement {
    /// The attribute.
    pub attribute_name: String,
    /// HASH or RANGE.
    pub key_type: String,
}

/// Point-in-time recovery.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pitr {
    /// On or off.
    pub point_in_time_recovery_enabled: bool,
}

/// Time to live.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ttl {
    /// The attribute.
    pub attribute_name: String,
    /// On or off.
    pub enabled: bool,
}

/// Properties of an `AWS::IAM::Role` (what the tests read).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    /// Inline policies.
    #[serde(default)]
    pub policies: Vec<InlinePolicy>,
    /// Managed policies (there should be none: they carry `*` resources).
    #[serde(default)]
    pub managed_policy_arns: Vec<Value>,
}

/// An inline policy.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    /// The document.
    pub policy_document: PolicyDocument,
}

/// A policy document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    /// Its statements.
    pub statement: Vec<Statement>,
}

/// A policy statement.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// Statement id.
    #[serde(default)]
    pub sid: Option<String>,
    /// One action or a list.
    pub action: Value,
    /// One resource or a list (intrinsics or strings).
    pub resource: Value,
    /// Conditions.
    #[serde(default)]
    pub condition: Option<Value>,
}

impl Statement {
    /// Actions as strings.
    pub fn actions(&self) -> Vec<String> {
        one_or_many(&self.action)
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect()
    }

    /// Resources, each a string or an intrinsic.
    pub fn resources(&self) -> Vec<Value> {
        one_or_many(&self.resource)
    }
}

fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}
