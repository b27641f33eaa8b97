//! A typed reading of the JSON Schema subset the catalog uses, and the field table shown for each
//! event version.
//!
//! Schemas are draft 2020-12 descriptions of an event's `detail`. [`SchemaNode`] models the
//! keywords that describe shape and constraints (`type`, `properties`, `required`, `items`,
//! `enum`, `const`, `pattern`, bounds, `anyOf`/`oneOf`, local `$ref`s into `$defs`); any other
//! keyword is kept verbatim in [`SchemaNode::extra`] rather than rejected, so a richer schema (an
//! AWS one, say) still loads and [`super::evolution`] can still notice when such a keyword changes.
//! Boolean subschemas (`true`, `false`) are accepted wherever a schema may appear.
//!
//! Validating events is `jsonschema`'s job; this module only reads schemas so that people can.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use serde_path_to_error::Segment;

/// Keywords that annotate rather than constrain: kept in [`SchemaNode::extra`], shown nowhere and
/// never reported as changes.
pub const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// How deep [`Schema::type_name`] and [`Schema::type_set`] follow `items` and alternatives, so a
/// schema that contains itself through a `$ref` still gets a name.
const MAX_NESTING: usize = 16;

/// Why a schema cannot be read; `at` is a JSON pointer into the schema, e.g. `#/properties/data/type`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A keyword has a value of the wrong kind (or the text is not JSON at all).
    #[error("{at}: {message}")]
    Invalid {
        /// Where in the schema.
        at: String,
        /// What is wrong, from the parser.
        message: String,
    },
    /// A `$ref` that does not name a definition of the same schema.
    #[error(
        "{at}: $ref \"{reference}\" points nowhere; only \"#\" and \"#/$defs/<name>\" of the same schema are followed"
    )]
    UnresolvedRef {
        /// Where the `$ref` is.
        at: String,
        /// The `$ref` as written.
        reference: String,
    },
    /// A `$ref` that only leads to other `$ref`s and never to a schema.
    #[error("{at}: $ref \"{reference}\" only leads back to itself through other $refs")]
    RefCycle {
        /// Where the `$ref` is.
        at: String,
        /// The `$ref` as written.
        reference: String,
    },
}

/// A JSON Schema primitive type, as named by the `type` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// `"string"`.
    String,
    /// `"integer"`.
    Integer,
    /// `"number"`.
    Number,
    /// `"boolean"`.
    Boolean,
    /// `"object"`.
    Object,
    /// `"array"`.
    Array,
    /// `"null"`.
    Null,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::String => "string",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Object => "object",
            Self::Array => "array",
            Self::Null => "null",
        })
    }
}

/// One schema object (the root or any subschema), keyword by keyword. Absent keywords are `None`
/// or empty, which in JSON Schema means "no constraint".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SchemaNode {
    /// `type`, written as one name or a list (`["string", "null"]`); empty when absent.
    #[serde(rename = "type", default, deserialize_with = "one_or_many_types")]
    pub types: Vec<JsonType>,
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `$ref`; see [`Schema::resolve`].
    #[serde(rename = "$ref")]
    pub reference: Option<String>,
    /// `$defs` (or draft-07's `definitions`), by name; only the root's are reachable by `$ref`.
    #[serde(rename = "$defs", alias = "definitions", default, deserialize_with = "schema_map")]
    pub defs: BTreeMap<String, SchemaNode>,
    /// `properties`, in the order the parser delivered them: as written for
    /// [`Schema::from_slice`], alphabetical for [`Schema::from_value`] (a `serde_json::Value`
    /// object does not keep its order).
    #[serde(default, deserialize_with = "ordered_schemas")]
    pub properties: Vec<(String, SchemaNode)>,
    /// `required`: property names that must be present.
    #[serde(default)]
    pub required: Vec<String>,
    /// `additionalProperties`; `false` arrives as a node with [`accepts_nothing`](Self::accepts_nothing).
    #[serde(rename = "additionalProperties", default, deserialize_with = "boxed_schema")]
    pub additional_properties: Option<Box<SchemaNode>>,
    /// `items`: the schema of every element of an array.
    #[serde(default, deserialize_with = "boxed_schema")]
    pub items: Option<Box<SchemaNode>>,
    /// `enum`: the only values allowed.
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<Value>>,
    /// `const`: the one value allowed (which may be `null`).
    #[serde(rename = "const", default, deserialize_with = "present")]
    pub const_value: Option<Value>,
    /// `pattern`: a regular expression strings must match.
    pub pattern: Option<String>,
    /// `format`, e.g. `uuid`, `date-time`, `email`.
    pub format: Option<String>,
    /// `minimum` (inclusive).
    pub minimum: Option<Number>,
    /// `maximum` (inclusive).
    pub maximum: Option<Number>,
    /// `exclusiveMinimum`.
    #[serde(rename = "exclusiveMinimum")]
    pub exclusive_minimum: Option<Number>,
    /// `exclusiveMaximum`.
    #[serde(rename = "exclusiveMaximum")]
    pub exclusive_maximum: Option<Number>,
    /// `minItems`.
    #[serde(rename = "minItems")]
    pub min_items: Option<u64>,
    /// `maxItems`.
    #[serde(rename = "maxItems")]
    pub max_items: Option<u64>,
    /// `minLength`, in characters.
    #[serde(rename = "minLength")]
    pub min_length: Option<u64>,
    /// `maxLength`, in characters.
    #[serde(rename = "maxLength")]
    pub max_length: Option<u64>,
    /// `anyOf`: a value matches at least one of these.
    #[serde(rename = "anyOf", default, deserialize_with = "schema_list")]
    pub any_of: Vec<SchemaNode>,
    /// `oneOf`: a value matches exactly one of these.
    #[serde(rename = "oneOf", default, deserialize_with = "schema_list")]
    pub one_of: Vec<SchemaNode>,
    /// Every other keyword, verbatim (annotations such as `$id`, and keywords this model does not
    /// interpret, such as `allOf` or `uniqueItems`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
    /// True for the boolean schema `false`, which no value matches; `true` is the empty node.
    #[serde(skip)]
    pub accepts_nothing: bool,
}

impl SchemaNode {
    /// The schema of property `name`, if `properties` describes it.
    #[must_use]
    pub fn property(&self, name: &str) -> Option<&SchemaNode> {
        self.properties.iter().find(|(n, _)| n == name).map(|(_, node)| node)
    }

    /// Whether `required` lists `name`.
    #[must_use]
    pub fn is_required(&self, name: &str) -> bool {
        self.required.iter().any(|r| r == name)
    }

    /// The subschemas written inside this one, each with its JSON pointer segment.
    fn children(&self) -> Vec<(String, &SchemaNode)> {
        let mut children = Vec::new();
        children.extend(
            self.properties
                .iter()
                .map(|(n, s)| (format!("properties/{}", escape(n)), s)),
        );
        children.extend(self.items.as_deref().map(|s| ("items".to_owned(), s)));
        children.extend(
            self.additional_properties
                .as_deref()
                .map(|s| ("additionalProperties".to_owned(), s)),
        );
        children.extend(self.defs.iter().map(|(n, s)| (format!("$defs/{}", escape(n)), s)));
        children.extend(self.any_of.iter().enumerate().map(|(i, s)| (format!("anyOf/{i}"), s)));
        children.extend(self.one_of.iter().enumerate().map(|(i, s)| (format!("oneOf/{i}"), s)));
        children
    }
}

/// A whole schema: its root node, whose `$defs` every local `$ref` points into.
///
/// Every `$ref` is checked when the schema is read, so [`Schema::resolve`] and everything built
/// on it cannot fail.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    root: SchemaNode,
}

impl Schema {
    /// Reads a parsed schema. Properties come out in alphabetical order; use
    /// [`Schema::from_slice`] to keep the order they are written in.
    ///
    /// # Errors
    /// A keyword of the wrong kind, or a `$ref` that does not resolve, with where it is.
    pub fn from_value(value: &Value) -> Result<Self, SchemaError> {
        let Subschema(root) = serde_path_to_error::deserialize(value).map_err(invalid)?;
        Self::checked(root)
    }

    /// Reads a schema file's bytes, keeping properties in the order they are written.
    ///
    /// # Errors
    /// Text that is not JSON, a keyword of the wrong kind, or a `$ref` that does not resolve,
    /// with where it is.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SchemaError> {
        let mut parser = serde_json::Deserializer::from_slice(bytes);
        let Subschema(root) = serde_path_to_error::deserialize(&mut parser).map_err(invalid)?;
        parser.end().map_err(|e| SchemaError::Invalid {
            at: "#".to_owned(),
            message: e.to_string(),
        })?;
        Self::checked(root)
    }

    /// The root node.
    #[must_use]
    pub fn root(&self) -> &SchemaNode {
        &self.root
    }

    /// The node `node` stands for: itself, or what its `$ref` (and any `$ref` there) points to.
    ///
    /// Keywords written next to a `$ref` are not merged in. A node from another schema whose
    /// `$ref` does not resolve here comes back unchanged.
    #[must_use]
    pub fn resolve<'a>(&'a self, node: &'a SchemaNode) -> &'a SchemaNode {
        self.follow(node).unwrap_or(node)
    }

    /// The types `node` allows: its `type`, else the union of its `anyOf`/`oneOf` alternatives,
    /// else `object` or `array` when it has `properties` or `items`. Empty means any type.
    #[must_use]
    pub fn type_set(&self, node: &SchemaNode) -> BTreeSet<JsonType> {
        self.type_set_within(node, MAX_NESTING)
    }

    fn type_set_within(&self, node: &SchemaNode, depth: usize) -> BTreeSet<JsonType> {
        let node = self.resolve(node);
        if !node.types.is_empty() {
            return node.types.iter().copied().collect();
        }
        let alternatives: Vec<&SchemaNode> = node.any_of.iter().chain(&node.one_of).collect();
        if !alternatives.is_empty() && depth > 0 {
            let sets: Vec<BTreeSet<JsonType>> = alternatives
                .iter()
                .map(|a| self.type_set_within(a, depth - 1))
                .collect();
            // One alternative that allows anything makes the whole node allow anything.
            return if sets.iter().any(BTreeSet::is_empty) {
                BTreeSet::new()
            } else {
                sets.into_iter().flatten().collect()
            };
        }
        if !node.properties.is_empty() || node.additional_properties.is_some() {
            BTreeSet::from([JsonType::Object])
        } else if node.items.is_some() {
            BTreeSet::from([JsonType::Array])
        } else {
            BTreeSet::new()
        }
    }

    /// `node`'s types for people: `integer`, `string | null`, `array of object`; `any` when
    /// unconstrained, `nothing` for the schema `false`.
    #[must_use]
    pub fn type_name(&self, node: &SchemaNode) -> String {
        self.type_name_within(node, MAX_NESTING)
    }

    fn type_name_within(&self, node: &SchemaNode, depth: usize) -> String {
        let node = self.resolve(node);
        if node.accepts_nothing {
            return "nothing".to_owned();
        }
        let types = self.type_set(node);
        if types.is_empty() {
            return "any".to_owned();
        }
        let names: Vec<String> = types
            .into_iter()
            .map(|t| match (t, node.items.as_deref()) {
                (JsonType::Array, Some(items)) if depth > 0 => {
                    let inner = self.type_name_within(items, depth - 1);
                    if inner.contains(' ') && !inner.starts_with("array of") {
                        format!("array of ({inner})")
                    } else {
                        format!("array of {inner}")
                    }
                }
                (t, _) => t.to_string(),
            })
            .collect();
        names.join(" | ")
    }

    /// The schema as a table: one row per property at any depth, objects before their children,
    /// in [`SchemaNode::properties`] order. Elements of an array add `[]` to the path
    /// (`data.items[].sku`), values of a map-like object add `*`. `required` is relative to the
    /// parent: a required field of an optional object is present whenever the object is.
    #[must_use]
    pub fn fields(&self) -> Vec<Field> {
        let mut rows = Vec::new();
        self.field_rows(&self.root, "", &mut Vec::new(), &mut rows);
        rows
    }

    fn field_rows<'a>(
        &'a self,
        node: &'a SchemaNode,
        path: &str,
        open: &mut Vec<&'a SchemaNode>,
        rows: &mut Vec<Field>,
    ) {
        let node = self.resolve(node);
        // A schema that contains itself through a `$ref` is shown once.
        if open.iter().any(|o| std::ptr::eq(*o, node)) {
            return;
        }
        open.push(node);
        for (name, child) in &node.properties {
            let child_path = join(path, name);
            // Alternatives may describe the same property; the first one wins.
            if rows.iter().all(|r| r.path != child_path) {
                rows.push(self.field(child_path.clone(), child, node.is_required(name)));
                self.field_rows(child, &child_path, open, rows);
            }
        }
        if let Some(items) = &node.items {
            self.field_rows(items, &format!("{path}[]"), open, rows);
        }
        if let Some(values) = &node.additional_properties {
            self.field_rows(values, &join(path, "*"), open, rows);
        }
        for alternative in node.any_of.iter().chain(&node.one_of) {
            self.field_rows(alternative, path, open, rows);
        }
        open.pop();
    }

    fn field(&self, path: String, node: &SchemaNode, required: bool) -> Field {
        let target = self.resolve(node);
        Field {
            path,
            types: self.type_name(target),
            required,
            description: node.description.clone().or_else(|| target.description.clone()),
            constraints: self.constraints(target),
        }
    }

    fn constraints(&self, node: &SchemaNode) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(node.format.clone());
        out.extend(node.pattern.as_ref().map(|p| format!("pattern {p}")));
        if let Some(values) = &node.enum_values {
            out.push(format!(
                "one of: {}",
                values.iter().map(literal).collect::<Vec<_>>().join(", ")
            ));
        }
        out.extend(node.const_value.as_ref().map(|v| format!("= {}", literal(v))));
        out.extend(node.minimum.as_ref().map(|n| format!("≥ {n}")));
        out.extend(node.exclusive_minimum.as_ref().map(|n| format!("> {n}")));
        out.extend(node.maximum.as_ref().map(|n| format!("≤ {n}")));
        out.extend(node.exclusive_maximum.as_ref().map(|n| format!("< {n}")));
        out.extend(node.min_items.map(|n| format!("at least {}", count(n, "item"))));
        out.extend(node.max_items.map(|n| format!("at most {}", count(n, "item"))));
        out.extend(node.min_length.map(|n| format!("at least {}", count(n, "character"))));
        out.extend(node.max_length.map(|n| format!("at most {}", count(n, "character"))));
        if let Some(values) = node.additional_properties.as_deref().filter(|v| !v.accepts_nothing) {
            out.push(format!("other properties: {}", self.type_name(values)));
        }
        out.extend(
            node.extra
                .iter()
                .filter(|(keyword, _)| !ANNOTATIONS.contains(&keyword.as_str()))
                .map(|(keyword, value)| format!("{keyword}: {value}")),
        );
        out
    }

    /// Wraps a freshly read root after checking that every `$ref` in it resolves.
    fn checked(root: SchemaNode) -> Result<Self, SchemaError> {
        let schema = Self { root };
        let mut pending = vec![("#".to_owned(), &schema.root)];
        while let Some((at, node)) = pending.pop() {
            if let Err(failure) = schema.follow(node) {
                return Err(failure.at(at));
            }
            pending.extend(
                node.children()
                    .into_iter()
                    .map(|(segment, child)| (format!("{at}/{segment}"), child)),
            );
        }
        Ok(schema)
    }

    /// Follows `$ref`s from `node` until a node without one.
    fn follow<'a>(&'a self, node: &'a SchemaNode) -> Result<&'a SchemaNode, RefFailure> {
        let mut current = node;
        // Each hop lands on the root or a definition; more hops than that means a cycle.
        for _ in 0..self.root.defs.len() + 2 {
            let Some(reference) = &current.reference else {
                return Ok(current);
            };
            current = self
                .target(reference)
                .ok_or_else(|| RefFailure::Unresolved(reference.clone()))?;
        }
        Err(RefFailure::Cycle(node.reference.clone().unwrap_or_default()))
    }

    fn target(&self, reference: &str) -> Option<&SchemaNode> {
        if reference == "#" {
            return Some(&self.root);
        }
        let name = reference
            .strip_prefix("#/$defs/")
            .or_else(|| reference.strip_prefix("#/definitions/"))?;
        self.root.defs.get(&name.replace("~1", "/").replace("~0", "~"))
    }
}

/// Why a `$ref` could not be followed, before we know where it is written.
enum RefFailure {
    Unresolved(String),
    Cycle(String),
}

impl RefFailure {
    fn at(self, at: String) -> SchemaError {
        match self {
            Self::Unresolved(reference) => SchemaError::UnresolvedRef { at, reference },
            Self::Cycle(reference) => SchemaError::RefCycle { at, reference },
        }
    }
}

/// One row of an event version's field table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Dotted path from the root: `metadata.event_id`, `data.items[].sku`.
    pub path: String,
    /// The allowed types for people, e.g. `string`, `array of object`, `string | null`.
    pub types: String,
    /// Whether the enclosing object requires this field.
    pub required: bool,
    /// `description`, from the field or else from what its `$ref` points to.
    pub description: Option<String>,
    /// Constraints for people: `uuid` (a format), `pattern ^ord-[0-9]+$`, `one of: a, b`, `= 2`,
    /// `≥ 0`, `at least 1 item`, and any keyword the model does not interpret, as JSON.
    pub constraints: Vec<String>,
}

/// A subschema: an object of keywords, or a boolean schema.
struct Subschema(SchemaNode);

impl<'de> Deserialize<'de> for Subschema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SubschemaVisitor;

        impl<'de> Visitor<'de> for SubschemaVisitor {
            type Value = Subschema;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a schema (an object, true or false)")
            }

            fn visit_bool<E: de::Error>(self, accepts: bool) -> Result<Subschema, E> {
                Ok(Subschema(SchemaNode {
                    accepts_nothing: !accepts,
                    ..SchemaNode::default()
                }))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Subschema, A::Error> {
                SchemaNode::deserialize(de::value::MapAccessDeserializer::new(map)).map(Subschema)
            }
        }

        deserializer.deserialize_any(SubschemaVisitor)
    }
}

fn boxed_schema<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Box<SchemaNode>>, D::Error> {
    Subschema::deserialize(deserializer).map(|Subschema(node)| Some(Box::new(node)))
}

fn schema_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<SchemaNode>, D::Error> {
    Vec::<Subschema>::deserialize(deserializer).map(|list| list.into_iter().map(|Subschema(node)| node).collect())
}

fn schema_map<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, SchemaNode>, D::Error> {
    ordered_schemas(deserializer).map(|list| list.into_iter().collect())
}

/// An object of schemas, in the order the parser delivers its keys.
fn ordered_schemas<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, SchemaNode)>, D::Error> {
    struct OrderedVisitor;

    impl<'de> Visitor<'de> for OrderedVisitor {
        type Value = Vec<(String, SchemaNode)>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of schemas")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some((name, Subschema(node))) = map.next_entry::<String, Subschema>()? {
                entries.push((name, node));
            }
            Ok(entries)
        }
    }

    deserializer.deserialize_map(OrderedVisitor)
}

/// `type` as one name or a list of names.
fn one_or_many_types<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<JsonType>, D::Error> {
    struct TypesVisitor;

    impl<'de> Visitor<'de> for TypesVisitor {
        type Value = Vec<JsonType>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a type name or a list of type names")
        }

        fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
            JsonType::deserialize(de::value::StrDeserializer::<E>::new(name)).map(|t| vec![t])
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut types = Vec::new();
            while let Some(t) = seq.next_element()? {
                types.push(t);
            }
            Ok(types)
        }
    }

    deserializer.deserialize_any(TypesVisitor)
}

/// A keyword whose value may be `null` (`const`): present, even when null, is `Some`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn invalid<E: fmt::Display>(error: serde_path_to_error::Error<E>) -> SchemaError {
    let mut at = "#".to_owned();
    for segment in error.path() {
        at.push('/');
        match segment {
            Segment::Seq { index } => at.push_str(&index.to_string()),
            Segment::Map { key } => at.push_str(&escape(key)),
            Segment::Enum { variant } => at.push_str(variant),
            Segment::Unknown => at.push('?'),
        }
    }
    SchemaError::Invalid {
        at,
        message: error.inner().to_string(),
    }
}

/// Escapes a key for a JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `parent.name`, or `name` at the root.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// A value for a table: strings bare, anything else as JSON.
fn literal(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn count(n: u64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::error::Error;
    use std::path::{Path, PathBuf};

    use serde_json::json;

    use super::*;

    /// Every `v<N>.schema.json` under the project's `events/`, with its path.
    pub(crate) fn catalog_schemas() -> Result<Vec<(PathBuf, Vec<u8>)>, std::io::Error> {
        let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        let mut found = Vec::new();
        for source in std::fs::read_dir(&events)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", events.display())))?
        {
            let source = source?.path();
            if !source.is_dir() {
                continue;
            }
            for event in std::fs::read_dir(source)? {
                for file in std::fs::read_dir(event?.path())? {
                    let path = file?.path();
                    if path.to_string_lossy().ends_with(".schema.json") {
                        found.push((path.clone(), std::fs::read(path)?));
                    }
                }
            }
        }
        found.sort();
        Ok(found)
    }

    pub(crate) fn catalog_schema(relative: &str) -> Result<Schema, Box<dyn Error>> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../events")
            .join(relative);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Schema::from_slice(&bytes)?)
    }

    fn field<'a>(fields: &'a [Field], path: &str) -> Result<&'a Field, String> {
        fields
            .iter()
            .find(|f| f.path == path)
            .ok_or_else(|| format!("no field {path}"))
    }

    #[test]
    fn every_catalog_schema_reads_both_from_text_and_from_a_value() -> Result<(), Box<dyn Error>> {
        let schemas = catalog_schemas()?;
        assert!(schemas.len() >= 13, "found only {} schemas", schemas.len());
        for (path, bytes) in schemas {
            let from_text = Schema::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            let from_value = Schema::from_value(&serde_json::from_slice(&bytes)?)?;
            assert_eq!(
                from_text.fields().len(),
                from_value.fields().len(),
                "{}",
                path.display()
            );
        }
        Ok(())
    }

    #[test]
    fn the_order_placed_v1_table_shows_nested_lines_and_optional_metadata() -> Result<(), Box<dyn Error>> {
        let fields = catalog_schema("shop.orders/OrderPlaced/v1.schema.json")?.fields();

        let sku = field(&fields, "data.items[].sku")?;
        assert!(sku.required);
        assert_eq!(sku.types, "string");
        assert!(
            sku.constraints.iter().any(|c| c.contains("^SKU-[A-Z0-9-]+$")),
            "{:?}",
            sku.constraints
        );

        let causation = field(&fields, "metadata.causation_id")?;
        assert!(!causation.required);
        assert_eq!(causation.constraints, ["uuid"]);

        let items = field(&fields, "data.items")?;
        assert_eq!(items.types, "array of object");
        assert_eq!(items.constraints, ["at least 1 item"]);
        assert_eq!(field(&fields, "metadata.schema_version")?.constraints, ["= 1"]);
        assert_eq!(
            field(&fields, "data.items[].add_on.kind")?.constraints,
            ["one of: warranty, insurance"]
        );
        assert_eq!(field(&fields, "data.items[].quantity")?.constraints, ["≥ 1"]);
        assert_eq!(
            field(&fields, "metadata")?.description.as_deref(),
            Some("Envelope metadata written by the producer; identical shape for every event in the catalog.")
        );
        Ok(())
    }

    #[test]
    fn text_keeps_the_written_order_of_properties_and_a_value_sorts_them() -> Result<(), Box<dyn Error>> {
        let text = br#"{"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {"type": "integer"}}}"#;
        let paths = |schema: Schema| schema.fields().into_iter().map(|f| f.path).collect::<Vec<_>>();

        assert_eq!(paths(Schema::from_slice(text)?), ["zeta", "alpha"]);
        assert_eq!(
            paths(Schema::from_value(&serde_json::from_slice(text)?)?),
            ["alpha", "zeta"]
        );
        Ok(())
    }

    #[test]
    fn a_type_list_alternatives_and_nested_arrays_are_named_for_people() -> Result<(), SchemaError> {
        let schema = Schema::from_value(&json!({
            "type": "object",
            "properties": {
                "note": {"type": ["string", "null"]},
                "reason": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/nothing"}]},
                "grid": {"type": "array", "items": {"type": "array", "items": {"type": ["integer", "null"]}}},
                "anything": {}
            },
            "$defs": {"nothing": {"type": "null"}}
        }))?;
        let types: Vec<(String, String)> = schema.fields().into_iter().map(|f| (f.path, f.types)).collect();

        assert_eq!(
            types,
            [
                ("anything".to_owned(), "any".to_owned()),
                ("grid".to_owned(), "array of array of (integer | null)".to_owned()),
                ("note".to_owned(), "string | null".to_owned()),
                ("reason".to_owned(), "string | null".to_owned()),
            ]
        );
        Ok(())
    }

    #[test]
    fn unknown_keywords_and_boolean_schemas_are_kept_not_rejected() -> Result<(), SchemaError> {
        let schema = Schema::from_value(&json!({
            "type": "object",
            "$comment": "annotations are not shown",
            "properties": {
                "tags": {"type": "array", "items": true, "uniqueItems": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "gone": false
            }
        }))?;
        let fields = schema.fields();

        assert_eq!(
            schema.root().extra.get("$comment"),
            Some(&json!("annotations are not shown"))
        );
        let tags = fields.iter().find(|f| f.path == "tags");
        assert_eq!(
            tags.map(|f| f.constraints.clone()),
            Some(vec!["uniqueItems: true".to_owned()])
        );
        let labels = fields.iter().find(|f| f.path == "labels");
        assert_eq!(
            labels.map(|f| f.constraints.clone()),
            Some(vec!["other properties: string".to_owned()])
        );
        assert_eq!(
            fields.iter().find(|f| f.path == "gone").map(|f| f.types.as_str()),
            Some("nothing")
        );
        Ok(())
    }

    #[test]
    fn a_misspelt_type_is_reported_where_it_is_written() {
        let error = Schema::from_value(&json!({"properties": {"data": {"properties": {"id": {"type": "strng"}}}}}));

        match error {
            Err(SchemaError::Invalid { at, message }) => {
                assert_eq!(at, "#/properties/data/properties/id/type");
                assert!(message.contains("strng"), "{message}");
            }
            other => panic!("expected an invalid keyword, got {other:?}"),
        }
    }

    #[test]
    fn a_ref_to_a_missing_definition_is_named_with_its_place() {
        let error = Schema::from_value(&json!({
            "properties": {"metadata": {"$ref": "#/$defs/meta"}},
            "$defs": {"metadata": {"type": "object"}}
        }));

        assert_eq!(
            error,
            Err(SchemaError::UnresolvedRef {
                at: "#/properties/metadata".to_owned(),
                reference: "#/$defs/meta".to_owned(),
            })
        );
    }

    #[test]
    fn refs_that_only_point_at_each_other_are_a_cycle() {
        let error = Schema::from_value(&json!({
            "$ref": "#/$defs/a",
            "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}
        }));

        assert!(matches!(error, Err(SchemaError::RefCycle { at, .. }) if at == "#"));
    }

    #[test]
    fn a_schema_that_contains_itself_is_listed_once() -> Result<(), SchemaError> {
        let schema = Schema::from_value(&json!({
            "$ref": "#/$defs/part",
            "$defs": {"part": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "parts": {"type": "array", "items": {"$ref": "#/$defs/part"}}}
            }}
        }))?;
        let paths: Vec<String> = schema.fields().into_iter().map(|f| f.path).collect();

        assert_eq!(paths, ["name", "parts"]);
        Ok(())
    }
}
