//! One `$or`-free sub-rule of a pattern, compiled, and how it judges an event.
//!
//! The engine's meaning (aws/event-ruler 2.0.1, `Event`, `StructuredFinder`, `ArrayMembership`,
//! `NameState.getNameTransitions`): the event is a list of fields, each a dotted path (the names
//! from the root joined with `.`, so an event key `"a.b"` and the path a → b are the same field),
//! a scalar value, and the array elements it sits in (each array object or nested array an
//! element of). The sub-rule's field paths are visited in sorted order (Java `String` order); each
//! takes a value that one of its matchers accepts and that sits in no other element of an array
//! than the values taken before it (array consistency). A field with `exists: false` may instead
//! be absent: no value at its path sits in the elements taken so far, which makes the answer
//! depend on which paths sort first when arrays of objects are involved.
//!
//! [`Alternative::general`] is that search, exactly. Matching uses it only when it must: a walk of
//! the pattern as a tree alongside the event ([`Node`]) gives the same answer much faster whenever
//! no event key with a dot can add values and no `exists: false` is judged inside an array element,
//! and says so when it cannot decide. A level of the tree that fails is handed to the search only
//! when the event object above it holds a key that starts with the level's name and a dot (one
//! pass over that object's keys, whether or not the key names a field of the sub-rule).
//!
//! [`Rule`] gathers a pattern's sub-rules; the root fields they all test alike (the fields next to
//! an `$or`) are tested once for the pattern rather than once per sub-rule.

use crate::json::{EventValue, Scalar};
use crate::lazy::Lazy;
use crate::matcher::Matcher;

/// One sub-rule: its field paths in the engine's order, and the tree the fast walk uses.
#[derive(Debug, Clone)]
pub(crate) struct Alternative {
    /// Field paths sorted as Java sorts strings (by UTF-16 unit).
    leaves: Vec<Leaf>,
    /// `None` when a path is also the parent of another (`"a"` and `"a.b"`), which the tree
    /// cannot hold.
    tree: Option<Node>,
    /// Whether any field accepts absence (`exists: false`).
    has_absence: bool,
}

/// One field of a sub-rule: its path and its allowed values.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    /// The dotted path split at its dots.
    segments: Vec<String>,
    matchers: Vec<Matcher>,
    /// Whether absence satisfies the field (`exists: false` is among its matchers).
    absence: bool,
}

/// One field judged against an event on its own, without the rest of its sub-rule (for
/// [`crate::lazy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Alone {
    /// Whether the field can hold in a sub-rule that has it: a value at its path is accepted, or
    /// absence may satisfy it. When false, every sub-rule where this field is the last write of
    /// its path fails.
    pub(crate) possible: bool,
    /// Whether the field holds in every sub-rule that has it: it holds, and none of the values at
    /// its path sits in an array element, so array consistency with the other fields cannot undo
    /// it.
    pub(crate) sure: bool,
}

impl Alone {
    /// The field's answer in every sub-rule that has it, when its own values decide it: it
    /// surely holds, or it cannot hold. (A field that fails makes its sub-rule fail, so where its
    /// values sit cannot matter.)
    pub(crate) fn settled(self) -> Option<bool> {
        if self.sure {
            Some(true)
        } else if !self.possible {
            Some(false)
        } else {
            None
        }
    }
}

impl Leaf {
    /// A field from its dotted path and its allowed values.
    pub(crate) fn new(path: &str, matchers: Vec<Matcher>) -> Self {
        Self {
            segments: path.split('.').map(str::to_owned).collect(),
            absence: matchers.iter().any(|m| matches!(m, Matcher::Exists(false))),
            matchers,
        }
    }

    /// Whether absence satisfies the field (`exists: false` is among its matchers).
    pub(crate) fn accepts_absence(&self) -> bool {
        self.absence
    }

    /// Whether a value matcher of the field (any but `exists: false`) accepts the event value.
    fn accepts<E: EventValue>(&self, value: &E) -> bool {
        value.scalar().is_some_and(|scalar| {
            self.matchers
                .iter()
                .any(|m| !matches!(m, Matcher::Exists(false)) && m.matches_scalar(&scalar))
        })
    }

    /// The field judged on its own against an event (a JSON object), by the rules of
    /// [`Alternative::general`]: with no array element involved, a field holds when a value at its
    /// path is accepted, or when it accepts absence and no value is there.
    pub(crate) fn alone<E: EventValue>(&self, event: &E) -> Alone {
        let mut found = Vec::new();
        collect(event, &self.segments, 0, &mut Vec::new(), &mut found);
        let accepted = found.iter().any(|field| self.accepts(field.value));
        if found.iter().all(|field| field.membership.is_empty()) {
            let holds = accepted || (self.absence && found.is_empty());
            Alone {
                possible: holds,
                sure: holds,
            }
        } else {
            Alone {
                possible: accepted || self.absence,
                sure: false,
            }
        }
    }
}

/// One object level of the sub-rule as a tree.
#[derive(Debug, Clone, Default)]
struct Node {
    leaves: Vec<NodeLeaf>,
    objects: Vec<(String, Node)>,
    /// Event keys with a dot that would reach a field below this level (`"b.c"` for the field
    /// b → c): when an event object here holds one, the walk is not enough.
    dotted: Vec<String>,
    /// Whether this level is satisfied by an event with nothing here (only `exists: false` can
    /// be), computed once instead of on every event.
    matches_nothing: bool,
}

/// A field of one level: its name, the matchers that test values (all but `exists: false`), and
/// whether absence satisfies it, split once so that the walk does not re-examine them per event.
#[derive(Debug, Clone, PartialEq)]
struct NodeLeaf {
    name: String,
    values: Vec<Matcher>,
    absence: bool,
}

/// What the tree walk concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Match,
    Fail,
    /// The walk failed, but an event key with a dot could supply values it did not see.
    Dotted,
    /// An `exists: false` field is absent from the chosen array element: whether the engine
    /// counts it absent depends on the order of field paths.
    Unsure,
}

/// A whole pattern: its sub-rules, and the root fields that every sub-rule tests alike (the
/// fields next to an `$or`), taken out of each sub-rule's tree and tested once.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// Root fields present, with the same matchers, in the tree of every sub-rule.
    shared: Vec<NodeLeaf>,
    /// The sub-rules: the pattern matches when any does.
    alternatives: Vec<Alternative>,
    /// The pattern as written instead, when it multiplies out to too many sub-rules to keep
    /// (then `shared` and `alternatives` are empty). Looked at only once no sub-rule has
    /// matched, so that it costs the usual patterns nothing before that.
    unexpanded: Option<Box<Lazy>>,
}

impl Rule {
    /// Gathers the sub-rules, moving the root fields they all share out of their trees.
    ///
    /// A root field failing is final for a sub-rule whose tree is walked (no key with a dot can
    /// supply a field without one, see [`Alternative::matches`]), so when every sub-rule has a
    /// tree and tests a root field alike, that field failing decides the pattern and its passing
    /// tells each sub-rule nothing new.
    pub(crate) fn new(mut alternatives: Vec<Alternative>) -> Self {
        let mut shared = Vec::new();
        if alternatives.len() > 1 {
            let candidates = match alternatives.iter().map(|a| a.tree.as_ref()).collect::<Option<Vec<_>>>() {
                Some(trees) => trees.first().map(|tree| tree.leaves.clone()).unwrap_or_default(),
                None => Vec::new(),
            };
            for leaf in candidates {
                let everywhere = alternatives
                    .iter()
                    .all(|a| a.tree.as_ref().is_some_and(|tree| tree.leaves.contains(&leaf)));
                if everywhere {
                    for tree in alternatives.iter_mut().filter_map(|a| a.tree.as_mut()) {
                        if let Some(at) = tree.leaves.iter().position(|l| *l == leaf) {
                            tree.leaves.remove(at);
                        }
                    }
                    shared.push(leaf);
                }
            }
        }
        Self {
            shared,
            alternatives,
            unexpanded: None,
        }
    }

    /// A pattern kept as written.
    pub(crate) fn unexpanded(lazy: Lazy) -> Self {
        Self {
            shared: Vec::new(),
            alternatives: Vec::new(),
            unexpanded: Some(Box::new(lazy)),
        }
    }

    /// Whether the event (a JSON object) satisfies the shared fields and then any sub-rule.
    pub(crate) fn matches<E: EventValue>(&self, event: &E) -> bool {
        self.shared
            .iter()
            .all(|leaf| leaf.walk(event.field(&leaf.name), false) != Walk::Fail)
            && (self.alternatives.iter().any(|a| a.matches(event))
                || self.unexpanded.as_ref().is_some_and(|lazy| lazy.matches(event)))
    }
}

impl Alternative {
    /// Compiles a sub-rule given as dotted field paths and their matchers.
    pub(crate) fn new(rule: Vec<(String, Vec<Matcher>)>) -> Self {
        Self::from_leaves(
            rule.into_iter()
                .map(|(path, matchers)| Leaf::new(&path, matchers))
                .collect(),
        )
    }

    /// Compiles a sub-rule from its fields, in any order.
    pub(crate) fn from_leaves(mut leaves: Vec<Leaf>) -> Self {
        leaves.sort_by(|a, b| utf16_order(&a.segments, &b.segments));
        let has_absence = leaves.iter().any(|leaf| leaf.absence);
        let tree = Node::build(&leaves);
        Self {
            leaves,
            tree,
            has_absence,
        }
    }

    /// Whether the event (a JSON object) satisfies this sub-rule. (Inlined into
    /// [`Rule::matches`], the hot path, whatever else calls it.)
    #[inline(always)]
    pub(crate) fn matches<E: EventValue>(&self, event: &E) -> bool {
        let Some(tree) = &self.tree else {
            return self.general(event);
        };
        // A field of the root level has one source of values, its key: failing there is final.
        for leaf in &tree.leaves {
            if leaf.walk(event.field(&leaf.name), false) == Walk::Fail {
                return false;
            }
        }
        let mut unsure = false;
        for (field, node) in &tree.objects {
            match node.walk(event.field(field), false) {
                // A key such as `"detail.total"` here could supply values the walk did not see.
                Walk::Fail if event.has_key_below(field) => return self.general(event),
                Walk::Fail => return false,
                Walk::Dotted => return self.general(event),
                Walk::Unsure => unsure = true,
                Walk::Match => {}
            }
        }
        if unsure || (self.has_absence && tree.dotted_in(event)) {
            return self.general(event);
        }
        true
    }

    /// The engine's search (see the module documentation). Kept out of the walk's code, which
    /// rarely needs it.
    #[cold]
    #[inline(never)]
    fn general<E: EventValue>(&self, event: &E) -> bool {
        let fields: Vec<Vec<Field<'_, E>>> = self
            .leaves
            .iter()
            .map(|leaf| {
                let mut found = Vec::new();
                collect(event, &leaf.segments, 0, &mut Vec::new(), &mut found);
                found
            })
            .collect();
        self.search(0, &fields, &mut Vec::new())
    }

    fn search<E: EventValue>(
        &self,
        index: usize,
        fields: &[Vec<Field<'_, E>>],
        taken: &mut Vec<(usize, usize)>,
    ) -> bool {
        let Some(leaf) = self.leaves.get(index) else {
            return true;
        };
        let candidates = &fields[index];
        if leaf.absence
            && !candidates.iter().any(|f| consistent(taken, &f.membership))
            && self.search(index + 1, fields, taken)
        {
            return true;
        }
        for field in candidates {
            if !leaf.accepts(field.value) || !consistent(taken, &field.membership) {
                continue;
            }
            let before = taken.len();
            for entry in &field.membership {
                if !taken.contains(entry) {
                    taken.push(*entry);
                }
            }
            if self.search(index + 1, fields, taken) {
                return true;
            }
            taken.truncate(before);
        }
        false
    }
}

/// Java's `String.compareTo` on the dotted paths: by UTF-16 unit, not by code point.
fn utf16_order(a: &[String], b: &[String]) -> std::cmp::Ordering {
    a.join(".").encode_utf16().cmp(b.join(".").encode_utf16())
}

/// A scalar found at a field path, with the array elements it sits in: `(array, index)`, the array
/// named by its address in the event.
struct Field<'e, E> {
    value: &'e E,
    membership: Vec<(usize, usize)>,
}

/// The values at `segments[start..]` below an event object, reached through every key that joins
/// one or more segments (`"b"` then `"c"`, or `"b.c"`).
fn collect<'e, E: EventValue>(
    object: &'e E,
    segments: &[String],
    start: usize,
    membership: &mut Vec<(usize, usize)>,
    found: &mut Vec<Field<'e, E>>,
) {
    let mut name = String::new();
    for end in start..segments.len() {
        if end > start {
            name.push('.');
        }
        name.push_str(&segments[end]);
        if let Some(value) = object.field(&name) {
            if end + 1 == segments.len() {
                scalars(value, membership, found);
            } else {
                descend(value, segments, end + 1, membership, found);
            }
        }
    }
}

/// Into an object, or into the objects (and nested arrays) of an array, each an element.
fn descend<'e, E: EventValue>(
    value: &'e E,
    segments: &[String],
    next: usize,
    membership: &mut Vec<(usize, usize)>,
    found: &mut Vec<Field<'e, E>>,
) {
    if value.is_object() {
        collect(value, segments, next, membership, found);
    } else if let Some(items) = value.items() {
        let array = items.as_ptr() as usize;
        for (index, item) in items.iter().enumerate() {
            if item.is_object() || item.items().is_some() {
                membership.push((array, index));
                descend(item, segments, next, membership, found);
                membership.pop();
            }
        }
    }
}

/// The scalars of a field's value: itself, or those of an array at any depth (a scalar is not an
/// element of its own array, a nested array is; objects are not values of this path).
fn scalars<'e, E: EventValue>(value: &'e E, membership: &mut Vec<(usize, usize)>, found: &mut Vec<Field<'e, E>>) {
    if value.scalar().is_some() {
        found.push(Field {
            value,
            membership: membership.clone(),
        });
    } else if let Some(items) = value.items() {
        let array = items.as_ptr() as usize;
        for (index, item) in items.iter().enumerate() {
            if item.items().is_some() {
                membership.push((array, index));
                scalars(item, membership, found);
                membership.pop();
            } else if item.scalar().is_some() {
                found.push(Field {
                    value: item,
                    membership: membership.clone(),
                });
            }
        }
    }
}

/// Whether a value's elements agree with those taken so far (`ArrayMembership.checkArrayConsistency`).
fn consistent(taken: &[(usize, usize)], membership: &[(usize, usize)]) -> bool {
    membership
        .iter()
        .all(|(array, index)| taken.iter().all(|(a, i)| a != array || i == index))
}

impl Node {
    /// The tree of the sub-rule's paths, unless a path is also the parent of another.
    fn build(leaves: &[Leaf]) -> Option<Self> {
        let mut root = Node::default();
        for leaf in leaves {
            let (last, parents) = leaf.segments.split_last()?;
            let mut node = &mut root;
            for segment in parents {
                if node.leaves.iter().any(|leaf| leaf.name == *segment) {
                    return None;
                }
                let at = match node.objects.iter().position(|(name, _)| name == segment) {
                    Some(at) => at,
                    None => {
                        node.objects.push((segment.clone(), Node::default()));
                        node.objects.len() - 1
                    }
                };
                node = &mut node.objects[at].1;
            }
            if node.objects.iter().any(|(name, _)| name == last) {
                return None;
            }
            node.leaves.push(NodeLeaf {
                name: last.clone(),
                values: leaf
                    .matchers
                    .iter()
                    .filter(|m| !matches!(m, Matcher::Exists(false)))
                    .cloned()
                    .collect(),
                absence: leaf.absence,
            });
        }
        root.finish();
        Some(root)
    }

    /// Computes `matches_nothing` and `dotted` bottom-up.
    fn finish(&mut self) {
        for (_, node) in &mut self.objects {
            node.finish();
        }
        self.matches_nothing =
            self.leaves.iter().all(|leaf| leaf.absence) && self.objects.iter().all(|(_, node)| node.matches_nothing);
        let mut dotted = Vec::new();
        for (name, node) in &self.objects {
            for below in node.relative_paths() {
                let mut key = name.clone();
                for segment in below {
                    key.push('.');
                    key.push_str(segment);
                    if !dotted.contains(&key) {
                        dotted.push(key.clone());
                    }
                }
            }
        }
        self.dotted = dotted;
    }

    /// Every path from this level to a field below it, as segments.
    fn relative_paths(&self) -> Vec<Vec<&str>> {
        let mut paths: Vec<Vec<&str>> = self.leaves.iter().map(|leaf| vec![leaf.name.as_str()]).collect();
        for (name, node) in &self.objects {
            for mut below in node.relative_paths() {
                below.insert(0, name);
                paths.push(below);
            }
        }
        paths
    }

    /// Whether an event object at this level, or below it along the tree, holds a key with a dot
    /// that reaches one of the sub-rule's fields.
    fn dotted_in<E: EventValue>(&self, object: &E) -> bool {
        self.dotted.iter().any(|key| object.field(key).is_some())
            || self
                .objects
                .iter()
                .any(|(name, node)| object.field(name).is_some_and(|value| node.dotted_below(value)))
    }

    fn dotted_below<E: EventValue>(&self, value: &E) -> bool {
        if value.is_object() {
            return self.dotted_in(value);
        }
        value
            .items()
            .is_some_and(|items| items.iter().any(|item| self.dotted_below(item)))
    }

    /// The walk at this level, given the event value found here (if any).
    #[inline(always)]
    fn walk<E: EventValue>(&self, value: Option<&E>, in_array: bool) -> Walk {
        match value {
            Some(object) if object.is_object() => self.walk_object(object, in_array),
            Some(array) if array.items().is_some() => {
                let mut saw_object = false;
                let mut dotted = false;
                let mut unsure = false;
                let found = any_object(array, &mut |object| {
                    saw_object = true;
                    match self.walk_object(object, true) {
                        Walk::Match => true,
                        Walk::Dotted => {
                            dotted = true;
                            false
                        }
                        Walk::Unsure => {
                            unsure = true;
                            false
                        }
                        Walk::Fail => false,
                    }
                });
                if found || (!saw_object && self.matches_nothing) {
                    Walk::Match
                } else if dotted {
                    Walk::Dotted
                } else if unsure {
                    Walk::Unsure
                } else {
                    Walk::Fail
                }
            }
            // A scalar (or nothing) where the pattern expects an object: no field here exists.
            _ if self.matches_nothing => Walk::Match,
            _ => Walk::Fail,
        }
    }

    fn walk_object<E: EventValue>(&self, object: &E, in_array: bool) -> Walk {
        let mut unsure = false;
        for leaf in &self.leaves {
            match leaf.walk(object.field(&leaf.name), in_array) {
                Walk::Fail | Walk::Dotted => return Walk::Fail,
                Walk::Unsure => unsure = true,
                Walk::Match => {}
            }
        }
        for (field, node) in &self.objects {
            match node.walk(object.field(field), in_array) {
                Walk::Fail if object.has_key_below(field) => return Walk::Dotted,
                Walk::Fail => return Walk::Fail,
                Walk::Dotted => return Walk::Dotted,
                Walk::Unsure => unsure = true,
                Walk::Match => {}
            }
        }
        if unsure { Walk::Unsure } else { Walk::Match }
    }
}

impl NodeLeaf {
    /// Whether the field's allowed values accept the event value at its path. Only scalars are
    /// values: arrays are unrolled (at any depth) and objects inside them are not values here.
    fn walk<E: EventValue>(&self, value: Option<&E>, in_array: bool) -> Walk {
        let Some(value) = value else {
            return self.absent(in_array);
        };
        // The usual case, a scalar: one test, and absence cannot apply to a present value.
        if let Some(scalar) = value.scalar() {
            return if self.accepts(&scalar) { Walk::Match } else { Walk::Fail };
        }
        let accepted = any_scalar(value, &mut |scalar| scalar.scalar().is_some_and(|s| self.accepts(&s)));
        if accepted {
            Walk::Match
        } else if self.absence && !any_scalar(value, &mut |_| true) {
            self.absent(in_array)
        } else {
            Walk::Fail
        }
    }

    /// Whether one of the field's value matchers accepts the scalar.
    fn accepts(&self, scalar: &Scalar<'_>) -> bool {
        self.values.iter().any(|m| m.matches_scalar(scalar))
    }

    fn absent(&self, in_array: bool) -> Walk {
        match (self.absence, in_array) {
            (false, _) => Walk::Fail,
            // Absent from this element; another element may hold it, and whether that counts
            // depends on the order of paths.
            (true, true) => Walk::Unsure,
            (true, false) => Walk::Match,
        }
    }
}

fn any_scalar<E: EventValue>(value: &E, test: &mut impl FnMut(&E) -> bool) -> bool {
    match value.items() {
        Some(items) => items.iter().any(|item| any_scalar(item, test)),
        None if value.is_object() => false,
        None => test(value),
    }
}

fn any_object<E: EventValue>(value: &E, test: &mut impl FnMut(&E) -> bool) -> bool {
    value.items().is_some_and(|items| {
        items.iter().any(|item| {
            if item.is_object() {
                test(item)
            } else {
                any_object(item, test)
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use serde_json::Value;

    use super::*;
    use crate::json::Json;
    use crate::parse;

    /// A small pattern's sub-rules, multiplied out.
    fn expanded(pattern: &str) -> Result<Rule, Box<dyn Error>> {
        match parse::parse(&Json::from_text(pattern)?)?.form {
            parse::Form::Expanded(alternatives) => Ok(Rule::new(alternatives)),
            parse::Form::Unexpanded(_) => Err(format!("{pattern} is too large to multiply out").into()),
        }
    }

    /// Whether any sub-rule matches by the engine's search alone, without the walk or the shared
    /// fields (the sub-rules keep every field in `leaves`).
    fn searched<E: EventValue>(rule: &Rule, event: &E) -> bool {
        rule.alternatives.iter().any(|a| a.general(event))
    }

    #[test]
    fn the_walk_and_the_shared_fields_answer_as_the_search_does() -> Result<(), Box<dyn Error>> {
        let patterns = [
            r#"{"source": ["s"], "detail": {"$or": [{"total": [{"numeric": [">", 900]}]}, {"customer": {"tier": ["gold"]}}]}}"#,
            r#"{"source": ["s"], "$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}]}"#,
            r#"{"$or": [{"source": ["s"], "a": ["x"]}, {"source": ["t"], "a": ["x"]}]}"#,
            r#"{"a": [{"exists": false}], "$or": [{"b": ["x"]}, {"c": {"d": ["y"]}}]}"#,
            r#"{"source": ["s"], "$or": [{"source": ["s"], "b": ["x"]}, {"c": ["y"]}]}"#,
            r#"{"detail": {"total": [1], "metadata": {"v": ["1"]}}}"#,
        ];
        let events = [
            r#"{"source": "s", "detail": {"total": 950}}"#,
            r#"{"source": "s", "detail": {"total": 5, "customer": {"tier": "gold"}}}"#,
            r#"{"source": "s", "detail": {"total": 5}, "detail.total": 950}"#,
            r#"{"source": "s", "detail": {"total": 5, "customer.tier": "gold"}}"#,
            r#"{"source": "s", "detail.customer": {"tier": "gold"}}"#,
            r#"{"source": "s", "detail": {"total": 5}, "detail.other": 1}"#,
            r#"{"a": 1, "detail-type": "x", "source": "s", "detail": {"total": 5}, "detail.total": 950, "e": 1}"#,
            r#"{"source": "t", "a": "x"}"#,
            r#"{"source": "s", "b.c": "y"}"#,
            r#"{"source": ["x", "s"], "b": {"c": "y"}}"#,
            r#"{"b": {"c": "y"}, "c": "y"}"#,
            r#"{"a": 1, "b": "x"}"#,
            r#"{"source": "s", "b": "x", "c": {"d": "y"}}"#,
            r#"{"detail": {"total": 1, "metadata": {"v": "2"}}, "detail.metadata.v": "1"}"#,
            r#"{"detail": {"total": 1, "metadata": {"v": "2", "v.w": 1}}}"#,
            r#"{"detail": [{"total": 1}, {"metadata": {"v": "1"}}], "detail.total": 1}"#,
            r#"{"detail": [{"total": 2}, {"total": 1, "metadata": {"v": "1"}}]}"#,
        ];
        for pattern in patterns {
            let rule = expanded(pattern)?;
            for event in events {
                let text = Json::from_text(event)?;
                let value: Value = serde_json::from_str(event)?;
                let want = searched(&rule, &text);
                assert_eq!(rule.matches(&text), want, "{pattern} on {event}");
                assert_eq!(rule.matches(&value), searched(&rule, &value), "{pattern} on {event}");
            }
        }
        Ok(())
    }

    #[test]
    fn root_fields_every_alternative_tests_alike_are_tested_once() -> Result<(), Box<dyn Error>> {
        let shared = |pattern: &str| -> Result<Vec<String>, Box<dyn Error>> {
            let rule = expanded(pattern)?;
            Ok(rule.shared.iter().map(|leaf| leaf.name.clone()).collect())
        };
        assert_eq!(
            shared(r#"{"source": ["s"], "kind": [1], "$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}]}"#)?,
            ["kind", "source"]
        );
        assert!(shared(r#"{"$or": [{"source": ["s"], "a": ["x"]}, {"source": ["t"], "a": ["y"]}]}"#)?.is_empty());
        assert!(
            shared(r#"{"source": ["s"], "a": ["x"]}"#)?.is_empty(),
            "one sub-rule keeps its fields"
        );
        assert!(
            shared(r#"{"source": ["s"], "$or": [{"source.x": ["y"]}, {"b": ["z"]}]}"#)?.is_empty(),
            "a sub-rule without a tree is judged whole"
        );
        Ok(())
    }
}
