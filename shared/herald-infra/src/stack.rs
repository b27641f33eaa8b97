//! The template read as the stack it describes, for running it locally and deriving from it:
//! each function's binary, rule patterns, retries, timeout and environment, and the tables it
//! names. `herald dev` runs this stack; the catalog runs its rules over the samples.
//!
//! The template is read as YAML with CloudFormation's short-form intrinsics (`!Ref`,
//! `!GetAtt`, `!Sub`). Only what a local run needs is interpreted; an environment variable that
//! refers to a table (`!Ref StockTable`) gets the table's logical id as its local name, and a
//! `!Sub` gets its references replaced the same way, with `${AWS::StackName}` standing for the
//! template's local stack name ([`Stack::name`]): `LocalStackName` in its `Metadata: Herald:`
//! section, or [`DEFAULT_LOCAL_STACK_NAME`]. With `LocalStackName: orders`, a rule that lists
//! `!Sub ${AWS::StackName}-inventory-errors` matches an alarm named `orders-inventory-errors`.

use std::collections::BTreeMap;
use std::path::Path;

use event_pattern::Pattern;
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

use crate::InfraError;

/// A function of the stack, as it runs locally.
#[derive(Debug, Clone)]
pub struct StackFunction {
    /// Binary (and package) name, e.g. `inventory`.
    pub binary: String,
    /// The function's logical id in the template, e.g. `InventoryFunction`.
    pub logical_id: String,
    /// Its `Description`.
    pub description: Option<String>,
    /// Its EventBridge rules, by event source name.
    pub rules: Vec<StackRule>,
    /// Lambda's retries of a failed asynchronous invocation.
    pub retries: u32,
    /// Invocation timeout.
    pub timeout_secs: u64,
    /// Memory size, passed on as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u64,
    /// Environment variables: name → value, tables by their logical id.
    pub environment: BTreeMap<String, String>,
    /// The queue its rules send to and it drains in batches, for a buffered consumer.
    pub buffer: Option<StackBuffer>,
}

/// A buffered function's queue: an `SQS` event source on an `AWS::SQS::Queue` of the template,
/// which `AWS::Events::Rule`s target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackBuffer {
    /// The queue's logical id.
    pub queue: String,
    /// Events per invocation at most (`BatchSize`, default 10).
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds` (default 0).
    pub batching_window_seconds: u32,
}

impl StackFunction {
    /// True when any of its rules matches the event.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        self.rules.iter().any(|rule| rule.pattern.matches(event))
    }
}

/// One `EventBridgeRule` event source of a function, or an `AWS::Events::Rule` that targets the
/// queue a buffered function drains.
#[derive(Debug, Clone)]
pub struct StackRule {
    /// The event source's name under `Events`, e.g. `ShopEvents`.
    pub event: String,
    /// `RuleName` as written (a `!Sub` shows its format string), if set.
    pub rule_name: Option<String>,
    /// The bus: `EventBusName`'s logical id for `!Ref`, or `default`.
    pub bus: String,
    /// The rule's pattern.
    pub pattern: Pattern,
    /// The pattern as written, in JSON.
    pub pattern_json: serde_json::Value,
}

impl StackRule {
    /// `RuleName`, or `<logical id>.<event>` when the template lets SAM name the rule.
    pub fn display_name(&self, function: &StackFunction) -> String {
        self.rule_name
            .clone()
            .unwrap_or_else(|| format!("{}.{}", function.logical_id, self.event))
    }
}

/// A DynamoDB table of the stack (`herald dev` creates it when it runs against a DynamoDB endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackTable {
    /// Logical id, used as the local table name.
    pub logical_id: String,
    /// Partition key.
    pub partition_key: String,
    /// Sort key, if any.
    pub sort_key: Option<String>,
}

/// The stack a template describes, as far as running it locally needs.
#[derive(Debug, Clone)]
pub struct Stack {
    /// What `${AWS::StackName}` stands for locally: the template's
    /// `Metadata.Herald.LocalStackName`, or [`DEFAULT_LOCAL_STACK_NAME`].
    pub name: String,
    /// Every function, in logical-id order.
    pub functions: Vec<StackFunction>,
    /// Every DynamoDB table.
    pub tables: Vec<StackTable>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTemplate {
    #[serde(default)]
    metadata: Yaml,
    #[serde(default)]
    globals: Option<RawGlobals>,
    resources: BTreeMap<String, RawResource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawGlobals {
    #[serde(default)]
    function: Option<RawFunctionProps>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawResource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    properties: Yaml,
    #[serde(default)]
    metadata: Yaml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawFunctionProps {
    description: Option<String>,
    timeout: Option<u64>,
    memory_size: Option<u64>,
    #[serde(default)]
    environment: Option<RawEnvironment>,
    #[serde(default)]
    events: BTreeMap<String, RawEvent>,
    #[serde(default)]
    event_invoke_config: Option<RawInvokeConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEnvironment {
    #[serde(default)]
    variables: BTreeMap<String, Yaml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEvent {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    properties: Yaml,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRuleProps {
    pattern: Yaml,
    #[serde(default)]
    rule_name: Option<Yaml>,
    #[serde(default)]
    event_bus_name: Option<Yaml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawQueueEventProps {
    queue: Yaml,
    #[serde(default)]
    batch_size: Option<u32>,
    #[serde(default)]
    maximum_batching_window_in_seconds: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEventsRule {
    event_pattern: Yaml,
    #[serde(default)]
    name: Option<Yaml>,
    #[serde(default)]
    event_bus_name: Option<Yaml>,
    #[serde(default)]
    targets: Vec<RawRuleTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRuleTarget {
    arn: Yaml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawQueue {
    #[serde(default)]
    redrive_policy: Option<RawRedrivePolicy>,
}

#[derive(Debug, Deserialize)]
struct RawRedrivePolicy {
    #[serde(rename = "maxReceiveCount")]
    max_receive_count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawInvokeConfig {
    maximum_retry_attempts: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTable {
    key_schema: Vec<RawKey>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawKey {
    attribute_name: String,
    key_type: String,
}

/// What `${AWS::StackName}` stands for locally when the template's `Metadata: Herald:` section
/// names no `LocalStackName`.
pub const DEFAULT_LOCAL_STACK_NAME: &str = "local";

/// A `!Sub` format string with its `${…}` references replaced: pseudo-parameters by local
/// stand-ins (the stack's name is `stack_name`), resources by their logical ids (their local
/// names). `None` when a `${` is not closed.
fn substitute(format: &str, stack_name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let name = &rest[start + 2..end];
        out.push_str(match name {
            "AWS::StackName" => stack_name,
            "AWS::Region" => "us-east-1",
            "AWS::AccountId" => "123456789012",
            "AWS::Partition" => "aws",
            other => other.split('.').next().unwrap_or(other),
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `value` with every `!Ref` and `!Sub` replaced by its local string; `None` for any other tag.
fn resolve_local(value: &Yaml, stack_name: &str) -> Option<Yaml> {
    Some(match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => Yaml::String(tagged.value.as_str()?.to_owned()),
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => Yaml::String(substitute(tagged.value.as_str()?, stack_name)?),
        Yaml::Tagged(_) => return None,
        Yaml::Sequence(items) => Yaml::Sequence(
            items
                .iter()
                .map(|item| resolve_local(item, stack_name))
                .collect::<Option<_>>()?,
        ),
        Yaml::Mapping(map) => Yaml::Mapping(
            map.iter()
                .map(|(k, v)| Some((k.clone(), resolve_local(v, stack_name)?)))
                .collect::<Option<_>>()?,
        ),
        other => other.clone(),
    })
}

/// Lambda's default retries of asynchronous invocations.
const DEFAULT_RETRIES: u32 = 2;
/// Lambda's default timeout.
const DEFAULT_TIMEOUT_SECS: u64 = 3;
/// Lambda's default memory.
const DEFAULT_MEMORY_MB: u64 = 128;
/// Lambda's default `BatchSize` for an SQS event source.
const DEFAULT_BATCH_SIZE: u32 = 10;
/// Redeliveries of a buffered event when its queue has no redrive policy: SQS has no limit; a
/// local run stops where Lambda's asynchronous retries would.
const DEFAULT_SQS_RETRIES: u32 = DEFAULT_RETRIES;

impl Stack {
    /// Reads the template at `path`.
    ///
    /// # Errors
    /// [`InfraError`] naming the file and the place.
    pub fn load(path: &Path) -> Result<Self, InfraError> {
        let text = std::fs::read_to_string(path).map_err(|source| InfraError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Reads a template from its text; `path` is only for messages.
    ///
    /// # Errors
    /// [`InfraError`] naming the file and the place.
    pub fn parse(path: &Path, text: &str) -> Result<Self, InfraError> {
        let shape = |place: String, message: String| InfraError::Stack {
            path: path.to_owned(),
            place,
            message,
        };
        let deserializer = serde_yaml_ng::Deserializer::from_str(text);
        let raw: RawTemplate = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let place = match e.inner().location() {
                Some(at) => format!("line {} column {} ({})", at.line(), at.column(), e.path()),
                None => e.path().to_string(),
            };
            shape(place, e.inner().to_string())
        })?;
        let stack_name = match raw.metadata.get("Herald").and_then(|h| h.get("LocalStackName")) {
            None => DEFAULT_LOCAL_STACK_NAME.to_owned(),
            Some(Yaml::String(name)) if !name.is_empty() => name.clone(),
            Some(_) => {
                return Err(shape(
                    "Metadata.Herald.LocalStackName".into(),
                    "must be a non-empty string".into(),
                ));
            }
        };
        let globals = raw.globals.and_then(|g| g.function).unwrap_or_default();
        let mut functions = Vec::new();
        let mut tables = Vec::new();
        let mut queue_rules: BTreeMap<String, Vec<StackRule>> = BTreeMap::new();
        let mut receives: BTreeMap<String, u32> = BTreeMap::new();
        for (id, resource) in &raw.resources {
            let typed = |what: &str| format!("Resources.{id}.{what}");
            match resource.kind.as_str() {
                "AWS::Serverless::Function" => {
                    let props: RawFunctionProps = serde_yaml_ng::from_value(resource.properties.clone())
                        .map_err(|e| shape(typed("Properties"), e.to_string()))?;
                    let binary = resource
                        .metadata
                        .get("BuildProperties")
                        .and_then(|b| b.get("Binary"))
                        .and_then(Yaml::as_str)
                        .ok_or_else(|| {
                            shape(
                                format!("Resources.{id}.Metadata.BuildProperties.Binary"),
                                "missing".into(),
                            )
                        })?
                        .to_owned();
                    let mut rules = Vec::new();
                    let mut buffer = None;
                    for (name, event) in &props.events {
                        let place = format!("Resources.{id}.Properties.Events.{name}.Properties");
                        match event.kind.as_str() {
                            "EventBridgeRule" => {
                                let rule: RawRuleProps = serde_yaml_ng::from_value(event.properties.clone())
                                    .map_err(|e| shape(place.clone(), e.to_string()))?;
                                rules.push(stack_rule(
                                    path,
                                    &stack_name,
                                    (id, name, &place),
                                    &rule.pattern,
                                    rule.rule_name.as_ref(),
                                    rule.event_bus_name.as_ref(),
                                )?);
                            }
                            "SQS" => {
                                let queue: RawQueueEventProps = serde_yaml_ng::from_value(event.properties.clone())
                                    .map_err(|e| shape(place.clone(), e.to_string()))?;
                                let queue_id = arn_of(&queue.queue).ok_or_else(|| {
                                    shape(
                                        format!("{place}.Queue"),
                                        "a queue of the template, as !GetAtt <Queue>.Arn".into(),
                                    )
                                })?;
                                buffer = Some(StackBuffer {
                                    queue: queue_id.to_owned(),
                                    batch_size: queue.batch_size.unwrap_or(DEFAULT_BATCH_SIZE),
                                    batching_window_seconds: queue.maximum_batching_window_in_seconds.unwrap_or(0),
                                });
                            }
                            _ => {}
                        }
                    }
                    let mut environment = BTreeMap::new();
                    for (name, value) in props.environment.iter().flat_map(|e| &e.variables) {
                        let local = local_value(value, &stack_name).ok_or_else(|| {
                            shape(
                                format!("Resources.{id}.Properties.Environment.Variables.{name}"),
                                "unsupported value".into(),
                            )
                        })?;
                        environment.insert(name.clone(), local);
                    }
                    functions.push(StackFunction {
                        binary,
                        logical_id: id.clone(),
                        description: props.description.clone(),
                        rules,
                        retries: props
                            .event_invoke_config
                            .and_then(|c| c.maximum_retry_attempts)
                            .unwrap_or(DEFAULT_RETRIES),
                        timeout_secs: props.timeout.or(globals.timeout).unwrap_or(DEFAULT_TIMEOUT_SECS),
                        memory_mb: props.memory_size.or(globals.memory_size).unwrap_or(DEFAULT_MEMORY_MB),
                        environment,
                        buffer,
                    });
                }
                "AWS::DynamoDB::Table" => {
                    let table: RawTable = serde_yaml_ng::from_value(resource.properties.clone())
                        .map_err(|e| shape(typed("Properties"), e.to_string()))?;
                    let key = |kind: &str| {
                        table
                            .key_schema
                            .iter()
                            .find(|k| k.key_type == kind)
                            .map(|k| k.attribute_name.clone())
                    };
                    tables.push(StackTable {
                        logical_id: id.clone(),
                        partition_key: key("HASH")
                            .ok_or_else(|| shape(typed("Properties.KeySchema"), "no HASH key".into()))?,
                        sort_key: key("RANGE"),
                    });
                }
                "AWS::Events::Rule" => {
                    let place = typed("Properties");
                    let rule: RawEventsRule = serde_yaml_ng::from_value(resource.properties.clone())
                        .map_err(|e| shape(place.clone(), e.to_string()))?;
                    for target in &rule.targets {
                        if let Some(queue) = arn_of(&target.arn) {
                            let routed = stack_rule(
                                path,
                                &stack_name,
                                (id, id, &format!("{place}.EventPattern")),
                                &rule.event_pattern,
                                rule.name.as_ref(),
                                rule.event_bus_name.as_ref(),
                            )?;
                            queue_rules.entry(queue.to_owned()).or_default().push(routed);
                        }
                    }
                }
                "AWS::SQS::Queue" => {
                    let queue: RawQueue = serde_yaml_ng::from_value(resource.properties.clone()).unwrap_or_default();
                    if let Some(policy) = queue.redrive_policy {
                        receives.insert(id.clone(), policy.max_receive_count);
                    }
                }
                _ => {}
            }
        }
        // A buffered function receives what the rules targeting its queue route there, and an
        // event as often as its queue's redrive policy lets SQS deliver it.
        for function in &mut functions {
            if let Some(buffer) = &function.buffer {
                function
                    .rules
                    .extend(queue_rules.remove(&buffer.queue).unwrap_or_default());
                function.retries = receives
                    .get(&buffer.queue)
                    .map_or(DEFAULT_SQS_RETRIES, |count| count.saturating_sub(1));
            }
        }
        if functions.is_empty() {
            return Err(shape("Resources".into(), "no AWS::Serverless::Function".into()));
        }
        Ok(Self {
            name: stack_name,
            functions,
            tables,
        })
    }

    /// The function with this binary name.
    pub fn function(&self, binary: &str) -> Option<&StackFunction> {
        self.functions.iter().find(|f| f.binary == binary)
    }
}

/// One rule of the stack: its pattern resolved locally and compiled. `at` is the function (or
/// rule) logical id, the event's name, and the place of the properties, for messages.
fn stack_rule(
    path: &Path,
    stack_name: &str,
    at: (&str, &str, &str),
    pattern: &Yaml,
    rule_name: Option<&Yaml>,
    event_bus_name: Option<&Yaml>,
) -> Result<StackRule, InfraError> {
    let (id, event, place) = at;
    let shape = |message: String| InfraError::Stack {
        path: path.to_owned(),
        place: place.to_owned(),
        message,
    };
    let local =
        resolve_local(pattern, stack_name).ok_or_else(|| shape("only !Ref and !Sub can be resolved locally".into()))?;
    let json = serde_json::to_value(&local).map_err(|e| shape(e.to_string()))?;
    let compiled = Pattern::parse(&json).map_err(|source| InfraError::Pattern {
        path: path.to_owned(),
        function: id.to_owned(),
        event: event.to_owned(),
        source: Box::new(source),
    })?;
    Ok(StackRule {
        event: event.to_owned(),
        rule_name: rule_name.and_then(|value| written(value, stack_name)),
        bus: event_bus_name
            .and_then(|value| written(value, stack_name))
            .unwrap_or_else(|| "default".to_owned()),
        pattern: compiled,
        pattern_json: json,
    })
}

/// The resource of `!GetAtt <Resource>.Arn`.
fn arn_of(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "GetAtt" => tagged.value.as_str()?.strip_suffix(".Arn"),
        _ => None,
    }
}

/// A name as written: a scalar as it is, `!Ref X` as `X`, `!Sub 'format'` as its format string.
fn written(value: &Yaml, stack_name: &str) -> Option<String> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str().map(str::to_owned),
        other => local_value(other, stack_name),
    }
}

/// The local value of an environment variable: plain scalars as they are, `!Ref X` as `X`
/// (tables and the bus are named by their logical ids locally).
fn local_value(value: &Yaml, stack_name: &str) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(number) => Some(number.to_string()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => {
            tagged.value.as_str().and_then(|format| substitute(format, stack_name))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn project_template() -> Result<Stack, InfraError> {
        Stack::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml"))
    }

    #[test]
    fn the_project_template_yields_every_function_with_its_rule_and_tables() -> Result<(), InfraError> {
        let template = project_template()?;
        assert_eq!(template.name, "shop", "Metadata.Herald.LocalStackName");
        let names: Vec<&str> = template.functions.iter().map(|f| f.binary.as_str()).collect();
        assert_eq!(names.len(), 8, "seven domain functions and redrive: {names:?}");
        let inventory = template.function("inventory").ok_or_else(|| InfraError::Stack {
            path: PathBuf::new(),
            place: "inventory".into(),
            message: "missing".into(),
        })?;
        assert_eq!(
            inventory.environment.get("STOCK_TABLE").map(String::as_str),
            Some("StockTable")
        );
        assert_eq!(
            inventory.environment.get("EVENT_BUS_NAME").map(String::as_str),
            Some("ShopBus")
        );
        assert_eq!(
            (inventory.retries, inventory.timeout_secs, inventory.memory_mb),
            (2, 10, 128)
        );
        let placed = serde_json::json!({"source": "shop.orders", "detail-type": "OrderPlaced",
            "detail": {"metadata": {"schema_version": 1}}});
        assert!(inventory.matches(&placed));
        assert!(
            template
                .tables
                .iter()
                .any(|t| t.logical_id == "HistoryTable" && t.sort_key.as_deref() == Some("entry"))
        );
        Ok(())
    }

    #[test]
    fn an_invalid_pattern_is_reported_with_the_function_and_the_pattern_path() {
        let text = "Resources:\n  AFunction:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: a\n    Properties:\n      Events:\n        Rule:\n          Type: EventBridgeRule\n          Properties:\n            Pattern:\n              source: shop.orders\n";
        let error = Stack::parse(Path::new("t.yaml"), text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("t.yaml: Resources.AFunction.Properties.Events.Rule.Properties.Pattern: source"),
            "{error}"
        );
    }

    #[test]
    fn the_stack_name_comes_from_the_metadata_and_defaults_to_local() -> Result<(), InfraError> {
        // Given a function whose rule names an alarm by the stack's name
        let resources = "Resources:\n  AFunction:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: a\n    Properties:\n      Events:\n        Rule:\n          Type: EventBridgeRule\n          Properties:\n            Pattern:\n              resources:\n                - !Sub ${AWS::StackName}-a-errors\n";
        let named = format!("Metadata:\n  Herald:\n    LocalStackName: orders\n{resources}");

        // When the template names its local stack, and when it does not
        let named = Stack::parse(Path::new("t.yaml"), &named)?;
        let unnamed = Stack::parse(Path::new("t.yaml"), resources)?;

        // Then `${AWS::StackName}` stands for that name, or for the neutral default
        let alarm = |stack: &Stack| {
            stack
                .functions
                .first()
                .and_then(|f| f.rules.first())
                .map(|r| r.pattern_json.clone())
        };
        assert_eq!(named.name, "orders");
        assert_eq!(
            alarm(&named),
            Some(serde_json::json!({"resources": ["orders-a-errors"]}))
        );
        assert_eq!(unnamed.name, DEFAULT_LOCAL_STACK_NAME);
        assert_eq!(
            alarm(&unnamed),
            Some(serde_json::json!({"resources": ["local-a-errors"]}))
        );
        Ok(())
    }

    #[test]
    fn broken_yaml_is_reported_with_its_line() {
        let error = Stack::parse(Path::new("t.yaml"), "Resources:\n  A: [unclosed\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("t.yaml: line "), "{error}");
    }
}
