//! The compiled form of one `$or`-free alternative of a pattern, and how it walks an event.
//!
//! A [`Node`] is an object level of the pattern: leaf conditions (field → matchers) and nested
//! nodes (field → node). Matching walks the event alongside it. When the event holds an array of
//! objects where the pattern descends, one element must satisfy the whole nested node: matches
//! never combine fields from different elements of the same array (EventBridge's "array
//! consistency").

use serde_json::{Map, Value};

use crate::matcher::Matcher;

/// One object level of a pattern alternative, with no `$or` left in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Leaf conditions, all of which must hold. A field may appear twice when `$or` alternatives
    /// and the enclosing object both constrain it: both conditions apply.
    leaves: Vec<(String, Vec<Matcher>)>,
    /// Nested levels, one per field (alternatives that descend into the same field are merged so
    /// that one array element has to satisfy all of them).
    objects: Vec<(String, Node)>,
    /// Whether this level is satisfied by an event with nothing here (only `exists: false` can be),
    /// computed once by [`Node::finish`] instead of on every event.
    matches_nothing: bool,
}

impl Node {
    pub(crate) fn add_leaf(&mut self, field: String, matchers: Vec<Matcher>) {
        self.leaves.push((field, matchers));
    }

    pub(crate) fn add_object(&mut self, field: String, node: Node) {
        match self.objects.iter_mut().find(|(name, _)| *name == field) {
            Some((_, existing)) => existing.merge(node),
            None => self.objects.push((field, node)),
        }
    }

    /// Adds every condition of `other` (a sibling alternative at the same level) to this node.
    pub(crate) fn merge(&mut self, other: Node) {
        self.leaves.extend(other.leaves);
        for (field, node) in other.objects {
            self.add_object(field, node);
        }
    }

    /// Precomputes [`matches_nothing`](Self::matches_nothing) bottom-up; call once when built.
    pub(crate) fn finish(&mut self) {
        for (_, node) in &mut self.objects {
            node.finish();
        }
        self.matches_nothing = self.leaves.iter().all(|(_, matchers)| leaf_matches(matchers, None))
            && self.objects.iter().all(|(_, node)| node.matches_nothing);
    }

    /// Whether the event value found at this level (if any) satisfies the node.
    pub(crate) fn matches(&self, value: Option<&Value>) -> bool {
        match value {
            Some(Value::Object(fields)) => self.matches_object(fields),
            Some(Value::Array(items)) => {
                let mut saw_object = false;
                let found = any_object(items, &mut |fields| {
                    saw_object = true;
                    self.matches_object(fields)
                });
                found || (!saw_object && self.matches_nothing)
            }
            // A scalar where the pattern expects an object: no field of this level exists.
            _ => self.matches_nothing,
        }
    }

    fn matches_object(&self, fields: &Map<String, Value>) -> bool {
        self.leaves
            .iter()
            .all(|(field, matchers)| leaf_matches(matchers, fields.get(field)))
            && self.objects.iter().all(|(field, node)| node.matches(fields.get(field)))
    }
}

/// Whether a leaf's allowed values accept the event value at its path. Only scalars are leaf
/// values: arrays are unrolled (at any depth) and objects inside them are not leaves.
fn leaf_matches(matchers: &[Matcher], value: Option<&Value>) -> bool {
    matchers.iter().any(|matcher| match (matcher, value) {
        (Matcher::Exists(wanted), _) => value.is_some_and(has_scalar) == *wanted,
        (_, Some(value)) => any_scalar(value, &mut |scalar| matcher.matches_scalar(scalar)),
        (_, None) => false,
    })
}

fn has_scalar(value: &Value) -> bool {
    any_scalar(value, &mut |_| true)
}

fn any_scalar(value: &Value, test: &mut impl FnMut(&Value) -> bool) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| any_scalar(item, test)),
        Value::Object(_) => false,
        scalar => test(scalar),
    }
}

fn any_object(items: &[Value], test: &mut impl FnMut(&Map<String, Value>) -> bool) -> bool {
    items.iter().any(|item| match item {
        Value::Object(fields) => test(fields),
        Value::Array(inner) => any_object(inner, test),
        _ => false,
    })
}
