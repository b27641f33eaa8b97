//! What changed between two versions of one event's schema, and which changes break someone.
//!
//! [`compare`] walks both schemas in parallel, following `$ref`s, and reports every difference
//! that can matter to a producer or a consumer. Titles, descriptions and other annotations
//! ([`ANNOTATIONS`]) are never reported; neither are `$defs` no `$ref` reaches.
//!
//! # The compatibility rule
//! A change is **breaking** when either side of the bus can be hurt:
//! - the new version rejects an event the old one accepted, so old producers, archived events
//!   and replays stop validating: a field added as required or made required, a tightened
//!   constraint (pattern, format, raised minimum, lowered maximum, closed object…), a narrowed
//!   enum, a changed constant;
//! - or a consumer written against the old version fails on an event the new one allows: a
//!   widened enum. Herald's consumers decode enums into closed Rust types (`CancelReason`), so a
//!   value they do not know fails their decoding — not retryable, straight to the dead-letter
//!   queue — for every event that carries it; a new value is a new version;
//! - or a consumer written against the old version loses something it relied on: a removed field,
//!   a field made optional (it must now cope with its absence), or any change of the set of
//!   types (a new `null` or a `string` where it parsed an `integer` fails its decoding as surely
//!   as a removed type does).
//!
//! Changes that only let producers say more within the shapes consumers already decode are
//! reported but **not breaking**: an added optional field (consumers ignore fields they do not
//! know), a relaxed constraint. This follows `events/README.md`, which names removing or renaming
//! a field, making a field required, tightening a constraint and changing an enum as the
//! incompatible changes.
//!
//! A rename cannot be told from a removal plus an addition, and is reported as both.
//! A keyword this model does not interpret (`allOf`, `uniqueItems`…) or a change in the number of
//! `anyOf`/`oneOf` alternatives cannot be judged, so it is reported as breaking.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Number, Value};

use super::schema::{ANNOTATIONS, JsonType, Schema, SchemaNode, join};

/// The one constant expected to change between versions: `metadata.schema_version` is `N` in
/// `v<N>.schema.json`, so [`compare`] does not report it.
const SCHEMA_VERSION: &str = "metadata.schema_version";

/// One difference between two versions, at one place.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Dotted path of the field, as in [`super::schema::Field::path`]; empty for the root.
    pub path: String,
    /// What changed.
    pub kind: ChangeKind,
}

impl Change {
    /// Whether the change breaks producers or consumers, by the rule in the [module docs](self).
    #[must_use]
    pub fn is_breaking(&self) -> bool {
        match self.kind {
            ChangeKind::FieldAdded { required } => required,
            ChangeKind::ConstraintRelaxed { .. } => false,
            _ => true,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() { "(root)" } else { &self.path };
        write!(f, "{path}: {}", self.kind)
    }
}

/// The kinds of difference [`compare`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// The field is gone. Breaking: consumers lose it, and in a closed object old events that
    /// carry it no longer validate.
    FieldRemoved,
    /// A new field. Breaking only when required: old events lack it.
    FieldAdded {
        /// Whether the new version requires it.
        required: bool,
    },
    /// An optional field became required. Breaking: old events may lack it.
    BecameRequired,
    /// A required field became optional. Breaking: consumers must now cope with its absence.
    BecameOptional,
    /// The set of allowed types changed, in either direction. Breaking.
    TypeChanged {
        /// The old types, e.g. `integer`, `string | null`, `any`.
        from: String,
        /// The new types.
        to: String,
    },
    /// Values the enum allowed are no longer allowed. Breaking.
    EnumNarrowed {
        /// The values no longer allowed.
        removed: Vec<Value>,
    },
    /// The enum allows new values. Not breaking.
    EnumWidened {
        /// The values now also allowed.
        added: Vec<Value>,
    },
    /// The constant changed. Breaking.
    ConstChanged {
        /// The old constant.
        from: Value,
        /// The new constant.
        to: Value,
    },
    /// A constraint now rejects values it accepted. Breaking. A pattern or format that changes
    /// in any way counts, since nothing proves the new one accepts all the old one did.
    ConstraintTightened {
        /// The keyword, e.g. `minimum`, `pattern`, `additionalProperties`.
        keyword: &'static str,
        /// The old setting; `none` when absent.
        from: String,
        /// The new setting; `none` when absent.
        to: String,
    },
    /// A constraint accepts values it rejected. Not breaking.
    ConstraintRelaxed {
        /// The keyword.
        keyword: &'static str,
        /// The old setting; `none` when absent.
        from: String,
        /// The new setting; `none` when absent.
        to: String,
    },
    /// A keyword this model cannot judge changed. Breaking, to be safe.
    KeywordChanged {
        /// The keyword, e.g. `uniqueItems`, or `anyOf` when the number of alternatives changed.
        keyword: String,
    },
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FieldRemoved => f.write_str("removed"),
            Self::FieldAdded { required: true } => f.write_str("added (required)"),
            Self::FieldAdded { required: false } => f.write_str("added (optional)"),
            Self::BecameRequired => f.write_str("now required"),
            Self::BecameOptional => f.write_str("now optional"),
            Self::TypeChanged { from, to } => write!(f, "type changed from {from} to {to}"),
            Self::EnumNarrowed { removed } => write!(f, "enum narrowed, no longer allows {}", values(removed)),
            Self::EnumWidened { added } => write!(f, "enum widened, now also allows {}", values(added)),
            Self::ConstChanged { from, to } => write!(f, "constant changed from {from} to {to}"),
            Self::ConstraintTightened { keyword, from, to } => write!(f, "{keyword} tightened from {from} to {to}"),
            Self::ConstraintRelaxed { keyword, from, to } => write!(f, "{keyword} relaxed from {from} to {to}"),
            Self::KeywordChanged { keyword } => write!(f, "{keyword} changed (not analysed, so taken as breaking)"),
        }
    }
}

/// Every difference between `old` and `new`, in schema order, parents before children.
///
/// A field present in only one version is reported once, without its children. The constant of
/// `metadata.schema_version` is expected to differ and is not reported.
#[must_use]
pub fn compare(old: &Schema, new: &Schema) -> Vec<Change> {
    let mut walk = Walk {
        old,
        new,
        open: Vec::new(),
        changes: Vec::new(),
    };
    walk.node("", old.root(), new.root());
    walk.changes
}

/// The state of one comparison.
struct Walk<'a> {
    old: &'a Schema,
    new: &'a Schema,
    /// The pairs of nodes being compared on the current path, so schemas that contain themselves
    /// through a `$ref` are compared once rather than forever.
    open: Vec<(&'a SchemaNode, &'a SchemaNode)>,
    changes: Vec<Change>,
}

impl<'a> Walk<'a> {
    fn push(&mut self, path: &str, kind: ChangeKind) {
        self.changes.push(Change {
            path: path.to_owned(),
            kind,
        });
    }

    fn constraint(&mut self, path: &str, tightened: bool, keyword: &'static str, from: String, to: String) {
        let kind = if tightened {
            ChangeKind::ConstraintTightened { keyword, from, to }
        } else {
            ChangeKind::ConstraintRelaxed { keyword, from, to }
        };
        self.push(path, kind);
    }

    fn node(&mut self, path: &str, old: &'a SchemaNode, new: &'a SchemaNode) {
        let (old, new) = (self.old.resolve(old), self.new.resolve(new));
        if self
            .open
            .iter()
            .any(|(o, n)| std::ptr::eq(*o, old) && std::ptr::eq(*n, new))
        {
            return;
        }
        self.open.push((old, new));
        self.types(path, old, new);
        self.values(path, old, new);
        self.constraints(path, old, new);
        self.properties(path, old, new);
        self.additional_properties(path, old, new);
        match (old.items.as_deref(), new.items.as_deref()) {
            (Some(o), Some(n)) => self.node(&format!("{path}[]"), o, n),
            (None, Some(n)) => self.constraint(path, true, "items", "any".to_owned(), self.new.type_name(n)),
            (Some(o), None) => self.constraint(path, false, "items", self.old.type_name(o), "any".to_owned()),
            (None, None) => {}
        }
        self.alternatives(path, "anyOf", &old.any_of, &new.any_of);
        self.alternatives(path, "oneOf", &old.one_of, &new.one_of);
        self.uninterpreted(path, old, new);
        self.open.pop();
    }

    fn types(&mut self, path: &str, old: &SchemaNode, new: &SchemaNode) {
        let (from, to) = (self.old.type_set(old), self.new.type_set(new));
        if from != to {
            self.push(
                path,
                ChangeKind::TypeChanged {
                    from: names(&from),
                    to: names(&to),
                },
            );
        }
        if old.accepts_nothing != new.accepts_nothing {
            let setting = |nothing: bool| if nothing { "false" } else { "true" }.to_owned();
            let (from, to) = (setting(old.accepts_nothing), setting(new.accepts_nothing));
            self.constraint(path, new.accepts_nothing, "schema", from, to);
        }
    }

    fn values(&mut self, path: &str, old: &SchemaNode, new: &SchemaNode) {
        match (&old.enum_values, &new.enum_values) {
            (Some(was), Some(is)) => {
                let removed: Vec<Value> = was.iter().filter(|v| !is.contains(v)).cloned().collect();
                let added: Vec<Value> = is.iter().filter(|v| !was.contains(v)).cloned().collect();
                if !removed.is_empty() {
                    self.push(path, ChangeKind::EnumNarrowed { removed });
                }
                if !added.is_empty() {
                    self.push(path, ChangeKind::EnumWidened { added });
                }
            }
            (None, Some(is)) => self.constraint(path, true, "enum", "none".to_owned(), values(is)),
            (Some(was), None) => self.constraint(path, false, "enum", values(was), "none".to_owned()),
            (None, None) => {}
        }
        match (&old.const_value, &new.const_value) {
            (Some(was), Some(is)) if was != is && path != SCHEMA_VERSION => self.push(
                path,
                ChangeKind::ConstChanged {
                    from: was.clone(),
                    to: is.clone(),
                },
            ),
            (None, Some(is)) => self.constraint(path, true, "const", "none".to_owned(), is.to_string()),
            (Some(was), None) => self.constraint(path, false, "const", was.to_string(), "none".to_owned()),
            _ => {}
        }
    }

    fn constraints(&mut self, path: &str, old: &SchemaNode, new: &SchemaNode) {
        self.text(path, "pattern", &old.pattern, &new.pattern);
        self.text(path, "format", &old.format, &new.format);
        let number = |n: &Option<Number>| n.as_ref().and_then(|n| Some((n.as_f64()?, n.to_string())));
        let count = |n: Option<u64>| n.map(|n| (n as f64, n.to_string()));
        self.bound(path, "minimum", true, number(&old.minimum), number(&new.minimum));
        self.bound(
            path,
            "exclusiveMinimum",
            true,
            number(&old.exclusive_minimum),
            number(&new.exclusive_minimum),
        );
        self.bound(path, "maximum", false, number(&old.maximum), number(&new.maximum));
        self.bound(
            path,
            "exclusiveMaximum",
            false,
            number(&old.exclusive_maximum),
            number(&new.exclusive_maximum),
        );
        self.bound(path, "minItems", true, count(old.min_items), count(new.min_items));
        self.bound(path, "maxItems", false, count(old.max_items), count(new.max_items));
        self.bound(path, "minLength", true, count(old.min_length), count(new.min_length));
        self.bound(path, "maxLength", false, count(old.max_length), count(new.max_length));
    }

    /// A keyword that constrains by its mere presence: adding or changing it tightens.
    fn text(&mut self, path: &str, keyword: &'static str, old: &Option<String>, new: &Option<String>) {
        if old != new {
            let setting = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".to_owned());
            self.constraint(path, new.is_some(), keyword, setting(old), setting(new));
        }
    }

    /// A lower (`lower`) or upper bound, as its value and its text.
    fn bound(
        &mut self,
        path: &str,
        keyword: &'static str,
        lower: bool,
        old: Option<(f64, String)>,
        new: Option<(f64, String)>,
    ) {
        let tightened = match (&old, &new) {
            (Some((was, _)), Some((is, _))) if was == is => return,
            (Some((was, _)), Some((is, _))) => (is > was) == lower,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => return,
        };
        let setting = |b: Option<(f64, String)>| b.map_or_else(|| "none".to_owned(), |(_, text)| text);
        self.constraint(path, tightened, keyword, setting(old), setting(new));
    }

    fn properties(&mut self, path: &str, old: &'a SchemaNode, new: &'a SchemaNode) {
        // A name may be required without a schema under `properties`; it is a field all the same.
        let mut names: Vec<&'a str> = Vec::new();
        let listed = |node: &'a SchemaNode| node.properties.iter().map(|(n, _)| n).chain(&node.required);
        for name in listed(old).chain(listed(new)) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        for name in names {
            let field = join(path, name);
            let (was, is) = (old.property(name), new.property(name));
            let (was_required, is_required) = (old.is_required(name), new.is_required(name));
            match (was.is_some() || was_required, is.is_some() || is_required) {
                (true, false) => self.push(&field, ChangeKind::FieldRemoved),
                (false, true) => self.push(&field, ChangeKind::FieldAdded { required: is_required }),
                _ => {
                    if is_required && !was_required {
                        self.push(&field, ChangeKind::BecameRequired);
                    } else if was_required && !is_required {
                        self.push(&field, ChangeKind::BecameOptional);
                    }
                    if let (Some(was), Some(is)) = (was, is) {
                        self.node(&field, was, is);
                    }
                }
            }
        }
    }

    fn additional_properties(&mut self, path: &str, old: &'a SchemaNode, new: &'a SchemaNode) {
        let (was, is) = (
            Extra::of(self.old, old.additional_properties.as_deref()),
            Extra::of(self.new, new.additional_properties.as_deref()),
        );
        match (was, is) {
            (Extra::Values(o), Extra::Values(n)) => self.node(&join(path, "*"), o, n),
            (was, is) if was.rank() != is.rank() => {
                let (from, to) = (was.describe(self.old), is.describe(self.new));
                self.constraint(path, is.rank() < was.rank(), "additionalProperties", from, to);
            }
            _ => {}
        }
    }

    /// `anyOf`/`oneOf`: alternatives are paired by position, as versions tend to append.
    fn alternatives(&mut self, path: &str, keyword: &str, old: &'a [SchemaNode], new: &'a [SchemaNode]) {
        if old.len() != new.len() {
            self.push(
                path,
                ChangeKind::KeywordChanged {
                    keyword: keyword.to_owned(),
                },
            );
            return;
        }
        for (index, (was, is)) in old.iter().zip(new).enumerate() {
            self.node(&join(path, &format!("{keyword}[{index}]")), was, is);
        }
    }

    fn uninterpreted(&mut self, path: &str, old: &SchemaNode, new: &SchemaNode) {
        let keywords: BTreeSet<&String> = old
            .extra
            .keys()
            .chain(new.extra.keys())
            .filter(|k| !ANNOTATIONS.contains(&k.as_str()))
            .collect();
        for keyword in keywords {
            if old.extra.get(keyword) != new.extra.get(keyword) {
                self.push(
                    path,
                    ChangeKind::KeywordChanged {
                        keyword: keyword.clone(),
                    },
                );
            }
        }
    }
}

/// What an object says about properties it does not list.
enum Extra<'a> {
    /// Anything goes: `additionalProperties` absent, `true` or `{}`.
    Open,
    /// Each must match this schema.
    Values(&'a SchemaNode),
    /// None allowed: `additionalProperties: false`.
    Closed,
}

impl<'a> Extra<'a> {
    fn of(schema: &'a Schema, node: Option<&'a SchemaNode>) -> Self {
        match node.map(|n| schema.resolve(n)) {
            None => Self::Open,
            Some(n) if n.accepts_nothing => Self::Closed,
            Some(n) if *n == SchemaNode::default() => Self::Open,
            Some(n) => Self::Values(n),
        }
    }

    /// How much it lets through; lower is tighter.
    fn rank(&self) -> u8 {
        match self {
            Self::Closed => 0,
            Self::Values(_) => 1,
            Self::Open => 2,
        }
    }

    fn describe(&self, schema: &Schema) -> String {
        match self {
            Self::Open => "any".to_owned(),
            Self::Values(node) => schema.type_name(node),
            Self::Closed => "none".to_owned(),
        }
    }
}

fn names(types: &BTreeSet<JsonType>) -> String {
    if types.is_empty() {
        return "any".to_owned();
    }
    types.iter().map(JsonType::to_string).collect::<Vec<_>>().join(" | ")
}

fn values(list: &[Value]) -> String {
    list.iter().map(Value::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use serde_json::json;

    use super::*;
    use crate::schema::SchemaError;
    use crate::schema::tests::{catalog_schema, catalog_schemas};

    /// A root with one object `data` holding `properties` and `required`.
    fn data(properties: Value, required: &[&str]) -> Result<Schema, SchemaError> {
        Schema::from_value(&json!({
            "type": "object",
            "properties": {"data": {"type": "object", "properties": properties, "required": required}}
        }))
    }

    /// `old` → `new` rendered as sentences, each prefixed with `!` when breaking.
    fn changes(old: &Schema, new: &Schema) -> Vec<String> {
        compare(old, new)
            .into_iter()
            .map(|c| format!("{}{c}", if c.is_breaking() { "!" } else { "" }))
            .collect()
    }

    #[test]
    fn every_catalog_schema_is_unchanged_against_itself() -> Result<(), Box<dyn Error>> {
        for (path, bytes) in catalog_schemas()? {
            let schema = Schema::from_slice(&bytes)?;
            let again = Schema::from_slice(&bytes)?;

            assert_eq!(compare(&schema, &again), [], "{}", path.display());
        }
        Ok(())
    }

    #[test]
    fn order_placed_v2_drops_the_fat_fields_and_keeps_the_envelope() -> Result<(), Box<dyn Error>> {
        let v1 = catalog_schema("shop.orders/OrderPlaced/v1.schema.json")?;
        let v2 = catalog_schema("shop.orders/OrderPlaced/v2.schema.json")?;

        let found = changes(&v1, &v2);

        for expected in [
            "!data.customer: removed",
            "!data.items: removed",
            "!data.totals: removed",
            "!data.customer_id: added (required)",
            "!data.total_minor: added (required)",
        ] {
            assert!(found.iter().any(|c| c == expected), "{expected} not in {found:?}");
        }
        assert!(found.iter().all(|c| !c.contains("metadata")), "{found:?}");
        assert!(found.iter().all(|c| !c.contains("data.items[]")), "{found:?}");
        Ok(())
    }

    #[test]
    fn a_removed_field_is_breaking() -> Result<(), SchemaError> {
        let old = data(json!({"sku": {"type": "string"}, "note": {"type": "string"}}), &["sku"])?;
        let new = data(json!({"sku": {"type": "string"}}), &["sku"])?;

        assert_eq!(changes(&old, &new), ["!data.note: removed"]);
        Ok(())
    }

    #[test]
    fn an_added_field_breaks_only_when_required() -> Result<(), SchemaError> {
        let old = data(json!({"sku": {"type": "string"}}), &[])?;
        let new = data(
            json!({"sku": {"type": "string"}, "note": {"type": "string"}, "email": {}}),
            &["email"],
        )?;

        assert_eq!(
            changes(&old, &new),
            ["!data.email: added (required)", "data.note: added (optional)"]
        );
        Ok(())
    }

    #[test]
    fn making_a_field_required_or_optional_is_breaking() -> Result<(), SchemaError> {
        let props = json!({"email": {"type": "string"}, "phone": {"type": "string"}});
        let old = data(props.clone(), &["phone"])?;
        let new = data(props, &["email"])?;

        assert_eq!(
            changes(&old, &new),
            ["!data.email: now required", "!data.phone: now optional"]
        );
        Ok(())
    }

    #[test]
    fn a_rename_is_a_removal_and_an_addition() -> Result<(), SchemaError> {
        let old = data(json!({"total": {"type": "integer"}}), &["total"])?;
        let new = data(json!({"total_minor": {"type": "integer"}}), &["total_minor"])?;

        assert_eq!(
            changes(&old, &new),
            ["!data.total: removed", "!data.total_minor: added (required)"]
        );
        Ok(())
    }

    #[test]
    fn any_change_of_the_types_is_breaking() -> Result<(), SchemaError> {
        let old = data(
            json!({"total_minor": {"type": "integer"}, "note": {"type": "string"}}),
            &[],
        )?;
        let new = data(
            json!({"total_minor": {"type": "string"}, "note": {"type": ["string", "null"]}}),
            &[],
        )?;

        assert_eq!(
            changes(&old, &new),
            [
                "!data.note: type changed from string to string | null",
                "!data.total_minor: type changed from integer to string",
            ]
        );
        Ok(())
    }

    #[test]
    fn a_narrowed_enum_breaks_and_so_does_a_widened_one_as_consumers_enums_are_closed() -> Result<(), SchemaError> {
        let old = data(json!({"reason": {"enum": ["damaged", "other"]}}), &[])?;
        let new = data(json!({"reason": {"enum": ["damaged", "late"]}}), &[])?;

        assert_eq!(
            changes(&old, &new),
            [
                "!data.reason: enum narrowed, no longer allows \"other\"",
                "!data.reason: enum widened, now also allows \"late\"",
            ]
        );
        Ok(())
    }

    #[test]
    fn a_changed_constant_breaks_except_the_schema_version() -> Result<(), SchemaError> {
        let schema = |version: u32, producer: &str| {
            Schema::from_value(&json!({
                "properties": {"metadata": {"properties": {
                    "schema_version": {"const": version},
                    "producer": {"const": producer}
                }}}
            }))
        };

        assert_eq!(
            changes(&schema(1, "orders")?, &schema(2, "order-service")?),
            ["!metadata.producer: constant changed from \"orders\" to \"order-service\""]
        );
        Ok(())
    }

    #[test]
    fn tightened_constraints_break_and_relaxed_ones_do_not() -> Result<(), SchemaError> {
        let old = data(
            json!({
                "quantity": {"type": "integer", "minimum": 1, "maximum": 10},
                "sku": {"type": "string"},
                "lines": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {"id": {"format": "uuid"}}}}
            }),
            &[],
        )?;
        let new = data(
            json!({
                "quantity": {"type": "integer", "minimum": 0, "maximum": 5},
                "sku": {"type": "string", "pattern": "^SKU-"},
                "lines": {"type": "array", "items": {"type": "object", "properties": {"id": {"format": "uri"}}}}
            }),
            &[],
        )?;

        assert_eq!(
            changes(&old, &new),
            [
                "data.lines: minItems relaxed from 1 to none",
                "!data.lines[].id: format tightened from uuid to uri",
                "data.quantity: minimum relaxed from 1 to 0",
                "!data.quantity: maximum tightened from 10 to 5",
                "!data.sku: pattern tightened from none to ^SKU-",
            ]
        );
        Ok(())
    }

    #[test]
    fn closing_an_object_breaks_and_opening_it_does_not() -> Result<(), Box<dyn Error>> {
        let open = Schema::from_value(&json!({"type": "object"}))?;
        let closed = Schema::from_value(&json!({"type": "object", "additionalProperties": false}))?;
        let map = Schema::from_value(&json!({"type": "object", "additionalProperties": {"type": "integer"}}))?;
        let text_map = Schema::from_value(&json!({"type": "object", "additionalProperties": {"type": "string"}}))?;

        assert_eq!(
            changes(&open, &closed),
            ["!(root): additionalProperties tightened from any to none"]
        );
        assert_eq!(
            changes(&closed, &map),
            ["(root): additionalProperties relaxed from none to integer"]
        );
        assert_eq!(changes(&map, &text_map), ["!*: type changed from integer to string"]);
        Ok(())
    }

    #[test]
    fn titles_descriptions_and_annotations_are_not_changes() -> Result<(), SchemaError> {
        let old = Schema::from_value(&json!({"$id": "v1", "title": "A v1", "description": "old", "type": "object"}))?;
        let new = Schema::from_value(&json!({"$id": "v2", "title": "A v2", "description": "new", "type": "object"}))?;

        assert_eq!(compare(&old, &new), []);
        Ok(())
    }

    #[test]
    fn a_change_behind_a_ref_is_reported_where_the_ref_is_used() -> Result<(), SchemaError> {
        let schema = |pattern: &str| {
            Schema::from_value(&json!({
                "properties": {"data": {"properties": {"order_id": {"$ref": "#/$defs/order_id"}}}},
                "$defs": {"order_id": {"type": "string", "pattern": pattern}}
            }))
        };

        assert_eq!(
            changes(&schema("^ord-")?, &schema("^ord-[0-9]+$")?),
            ["!data.order_id: pattern tightened from ^ord- to ^ord-[0-9]+$"]
        );
        Ok(())
    }

    #[test]
    fn keywords_the_model_cannot_judge_are_breaking_when_they_change() -> Result<(), SchemaError> {
        let old = data(
            json!({"tags": {"type": "array", "uniqueItems": true}, "id": {"anyOf": [{"type": "string"}]}}),
            &[],
        )?;
        let new = data(
            json!({"tags": {"type": "array"}, "id": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}),
            &[],
        )?;

        assert_eq!(
            changes(&old, &new),
            [
                "!data.id: type changed from string to string | integer",
                "!data.id: anyOf changed (not analysed, so taken as breaking)",
                "!data.tags: uniqueItems changed (not analysed, so taken as breaking)",
            ]
        );
        Ok(())
    }

    #[test]
    fn a_schema_that_contains_itself_is_compared_once_per_level() -> Result<(), SchemaError> {
        let schema = |leaf: &str| {
            Schema::from_value(&json!({
                "$ref": "#/$defs/part",
                "$defs": {"part": {"type": "object", "properties": {
                    "name": {"type": leaf},
                    "parts": {"type": "array", "items": {"$ref": "#/$defs/part"}}
                }}}
            }))
        };

        assert_eq!(
            changes(&schema("string")?, &schema("integer")?),
            ["!name: type changed from string to integer"]
        );
        Ok(())
    }
}
