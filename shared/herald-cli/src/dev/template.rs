//! What `herald dev` reads from `infra/template.yaml`: each function's binary, rule pattern,
//! retries, timeout and environment, and the tables it names.
//!
//! The template is read as YAML with CloudFormation's short-form intrinsics (`!Ref`,
//! `!GetAtt`, `!Sub`). Only what a local run needs is interpreted; an environment variable that
//! refers to a table (`!Ref StockTable`) gets the table's logical id as its local name, and a
//! `!Sub` gets its references replaced the same way, with `${AWS::StackName}` standing for
//! [`LOCAL_STACK_NAME`] (so a rule that lists `!Sub ${AWS::StackName}-inventory-errors` matches
//! an alarm named `shop-inventory-errors` locally).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use event_pattern::Pattern;
use serde::Deserialize;
use serde_yaml_ng::Value as Yaml;

/// Why the template cannot be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The template.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a template of the expected shape.
    #[error("{path}: {place}: {message}")]
    Shape {
        /// The template.
        path: PathBuf,
        /// Where: a resource id and property path, or a YAML line and column.
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A rule's pattern is not a valid EventBridge pattern.
    #[error("{path}: Resources.{function}.Properties.Events.{event}.Properties.Pattern: {source}")]
    Pattern {
        /// The template.
        path: PathBuf,
        /// The function's logical id.
        function: String,
        /// The event source's name.
        event: String,
        /// The pattern error, with its own path.
        source: Box<event_pattern::PatternError>,
    },
}

/// A function as `herald dev` runs it.
#[derive(Debug, Clone)]
pub struct DevFunction {
    /// Binary (and package) name, e.g. `inventory`.
    pub binary: String,
    /// The function's logical id in the template, e.g. `InventoryFunction`.
    pub logical_id: String,
    /// Its `Description`.
    pub description: Option<String>,
    /// Its EventBridge rules, by event source name.
    pub rules: Vec<DevRule>,
    /// Lambda's retries of a failed asynchronous invocation.
    pub retries: u32,
    /// Invocation timeout.
    pub timeout_secs: u64,
    /// Memory size, passed on as `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u64,
    /// Environment variables: name → value, tables by their logical id.
    pub environment: BTreeMap<String, String>,
}

impl DevFunction {
    /// True when any of its rules matches the event.
    pub fn matches(&self, event: &serde_json::Value) -> bool {
        self.rules.iter().any(|rule| rule.pattern.matches(event))
    }
}

/// One `EventBridgeRule` event source of a function.
#[derive(Debug, Clone)]
pub struct DevRule {
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

impl DevRule {
    /// `RuleName`, or `<logical id>.<event>` when the template lets SAM name the rule.
    pub fn display_name(&self, function: &DevFunction) -> String {
        self.rule_name
            .clone()
            .unwrap_or_else(|| format!("{}.{}", function.logical_id, self.event))
    }
}

/// A table to create when `herald dev` runs against a DynamoDB endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevTable {
    /// Logical id, used as the local table name.
    pub logical_id: String,
    /// Partition key.
    pub partition_key: String,
    /// Sort key, if any.
    pub sort_key: Option<String>,
}

/// The parts of the template `herald dev` uses.
#[derive(Debug, Clone)]
pub struct DevTemplate {
    /// Every function, in logical-id order.
    pub functions: Vec<DevFunction>,
    /// Every DynamoDB table.
    pub tables: Vec<DevTable>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTemplate {
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

/// What `${AWS::StackName}` is locally.
pub const LOCAL_STACK_NAME: &str = "shop";

/// A `!Sub` format string with its `${…}` references replaced: pseudo-parameters by local
/// stand-ins, resources by their logical ids (their local names). `None` when a `${` is not
/// closed.
fn substitute(format: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let name = &rest[start + 2..end];
        out.push_str(match name {
            "AWS::StackName" => LOCAL_STACK_NAME,
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
fn resolve_local(value: &Yaml) -> Option<Yaml> {
    Some(match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => Yaml::String(tagged.value.as_str()?.to_owned()),
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => Yaml::String(substitute(tagged.value.as_str()?)?),
        Yaml::Tagged(_) => return None,
        Yaml::Sequence(items) => Yaml::Sequence(items.iter().map(resolve_local).collect::<Option<_>>()?),
        Yaml::Mapping(map) => Yaml::Mapping(
            map.iter()
                .map(|(k, v)| Some((k.clone(), resolve_local(v)?)))
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

impl DevTemplate {
    /// Reads the template at `path`.
    ///
    /// # Errors
    /// [`TemplateError`] naming the file and the place.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Reads a template from its text; `path` is only for messages.
    ///
    /// # Errors
    /// [`TemplateError`] naming the file and the place.
    pub fn parse(path: &Path, text: &str) -> Result<Self, TemplateError> {
        let shape = |place: String, message: String| TemplateError::Shape {
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
        let globals = raw.globals.and_then(|g| g.function).unwrap_or_default();
        let mut functions = Vec::new();
        let mut tables = Vec::new();
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
                    for (name, event) in &props.events {
                        if event.kind != "EventBridgeRule" {
                            continue;
                        }
                        let rule: RawRuleProps = serde_yaml_ng::from_value(event.properties.clone()).map_err(|e| {
                            shape(
                                format!("Resources.{id}.Properties.Events.{name}.Properties"),
                                e.to_string(),
                            )
                        })?;
                        let local = resolve_local(&rule.pattern).ok_or_else(|| {
                            shape(
                                format!("Resources.{id}.Properties.Events.{name}.Properties.Pattern"),
                                "only !Ref and !Sub can be resolved locally".into(),
                            )
                        })?;
                        let json = serde_json::to_value(&local).map_err(|e| {
                            shape(
                                format!("Resources.{id}.Properties.Events.{name}.Properties.Pattern"),
                                e.to_string(),
                            )
                        })?;
                        let pattern = Pattern::parse(&json).map_err(|source| TemplateError::Pattern {
                            path: path.to_owned(),
                            function: id.clone(),
                            event: name.clone(),
                            source: Box::new(source),
                        })?;
                        rules.push(DevRule {
                            event: name.clone(),
                            rule_name: rule.rule_name.as_ref().and_then(written),
                            bus: rule
                                .event_bus_name
                                .as_ref()
                                .and_then(written)
                                .unwrap_or_else(|| "default".to_owned()),
                            pattern,
                            pattern_json: json,
                        });
                    }
                    let mut environment = BTreeMap::new();
                    for (name, value) in props.environment.iter().flat_map(|e| &e.variables) {
                        let local = local_value(value).ok_or_else(|| {
                            shape(
                                format!("Resources.{id}.Properties.Environment.Variables.{name}"),
                                "unsupported value".into(),
                            )
                        })?;
                        environment.insert(name.clone(), local);
                    }
                    functions.push(DevFunction {
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
                    tables.push(DevTable {
                        logical_id: id.clone(),
                        partition_key: key("HASH")
                            .ok_or_else(|| shape(typed("Properties.KeySchema"), "no HASH key".into()))?,
                        sort_key: key("RANGE"),
                    });
                }
                _ => {}
            }
        }
        if functions.is_empty() {
            return Err(shape("Resources".into(), "no AWS::Serverless::Function".into()));
        }
        Ok(Self { functions, tables })
    }

    /// The function with this binary name.
    pub fn function(&self, binary: &str) -> Option<&DevFunction> {
        self.functions.iter().find(|f| f.binary == binary)
    }
}

/// A name as written: a scalar as it is, `!Ref X` as `X`, `!Sub 'format'` as its format string.
fn written(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str().map(str::to_owned),
        other => local_value(other),
    }
}

/// The local value of an environment variable: plain scalars as they are, `!Ref X` as `X`
/// (tables and the bus are named by their logical ids locally).
fn local_value(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(number) => Some(number.to_string()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(str::to_owned),
        Yaml::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str().and_then(substitute),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_template() -> Result<DevTemplate, TemplateError> {
        DevTemplate::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml"))
    }

    #[test]
    fn the_project_template_yields_every_function_with_its_rule_and_tables() -> Result<(), TemplateError> {
        let template = project_template()?;
        let names: Vec<&str> = template.functions.iter().map(|f| f.binary.as_str()).collect();
        assert_eq!(names.len(), 8, "seven domain functions and redrive: {names:?}");
        let inventory = template.function("inventory").ok_or_else(|| TemplateError::Shape {
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
        let error = DevTemplate::parse(Path::new("t.yaml"), text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with("t.yaml: Resources.AFunction.Properties.Events.Rule.Properties.Pattern: source"),
            "{error}"
        );
    }

    #[test]
    fn broken_yaml_is_reported_with_its_line() {
        let error = DevTemplate::parse(Path::new("t.yaml"), "Resources:\n  A: [unclosed\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.starts_with("t.yaml: line "), "{error}");
    }
}
