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
//! and says so when it cannot decide.

use crate::json::EventValue;
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

#[derive(Debug, Clone)]
struct Leaf {
    /// The dotted path split at its dots.
    segments: Vec<String>,
    matchers: Vec<Matcher>,
    /// Whether absence satisfies the field (`exists: false` is among its matchers).
    absence: bool,
}

/// One object level of the sub-rule as a tree.
#[derive(Debug, Clone, Default)]
struct Node {
    leaves: Vec<NodeLeaf>,
    objects: Vec<(String, Node)>,
    /// Event keys with a dot that would reach a field below this level (`"b.c"` for the field
    /// b → c): when an event object here holds one, the walk is not enough.
    dotted: Vec<String>,
    /// The keys with a dot, in the parent's object, that would reach into this level (`"a.b"`
    /// for this level `a` holding `b`): checked when this level fails, since they could supply
    /// values the walk did not see.
    reached_by: Vec<String>,
    /// Whether this level is satisfied by an event with nothing here (only `exists: false` can
    /// be), computed once instead of on every event.
    matches_nothing: bool,
}

/// A field of one level: its name, the matchers that test values (all but `exists: false`), and
/// whether absence satisfies it, split once so that the walk does not re-examine them per event.
#[derive(Debug, Clone)]
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

impl Alternative {
    /// Compiles a sub-rule given as dotted field paths and their matchers.
    pub(crate) fn new(rule: Vec<(String, Vec<Matcher>)>) -> Self {
        let mut leaves: Vec<Leaf> = rule
            .into_iter()
            .map(|(path, matchers)| Leaf {
                segments: path.split('.').map(str::to_owned).collect(),
                absence: matchers.iter().any(|m| matches!(m, Matcher::Exists(false))),
                matchers,
            })
            .collect();
        leaves.sort_by(|a, b| utf16_order(&a.segments, &b.segments));
        let has_absence = leaves.iter().any(|leaf| leaf.absence);
        let tree = Node::build(&leaves);
        Self {
            leaves,
            tree,
            has_absence,
        }
    }

    /// Whether the event (a JSON object) satisfies this sub-rule.
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
                Walk::Fail if node.reached_in(event) => return self.general(event),
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

    /// The engine's search (see the module documentation).
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
            let accepted = field.value.scalar().is_some_and(|scalar| {
                leaf.matchers
                    .iter()
                    .any(|m| !matches!(m, Matcher::Exists(false)) && m.matches_scalar(&scalar))
            });
            if !accepted || !consistent(taken, &field.membership) {
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
        for (name, node) in &mut self.objects {
            let prefix = format!("{name}.");
            node.reached_by = self.dotted.iter().filter(|k| k.starts_with(&prefix)).cloned().collect();
        }
    }

    /// Whether the parent's event object holds a key with a dot reaching into this level.
    fn reached_in<E: EventValue>(&self, parent: &E) -> bool {
        !self.reached_by.is_empty() && self.reached_by.iter().any(|key| parent.field(key).is_some())
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
                Walk::Fail if node.reached_in(object) => return Walk::Dotted,
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
        let accepted = any_scalar(value, &mut |scalar| {
            scalar
                .scalar()
                .is_some_and(|s| self.values.iter().any(|m| m.matches_scalar(&s)))
        });
        if accepted {
            Walk::Match
        } else if self.absence && !any_scalar(value, &mut |_| true) {
            self.absent(in_array)
        } else {
            Walk::Fail
        }
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
