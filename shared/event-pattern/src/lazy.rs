//! Patterns whose `$or`s multiply out to more than [`MAX_EXPANDED`](crate::parse::MAX_EXPANDED)
//! sub-rules, kept as written and matched without multiplying them out.
//!
//! EventBridge takes an event pattern of up to 4096 characters (`PutRule`'s `EventPattern`), and
//! neither its user guide nor aws/event-ruler bounds how many sub-rules the `$or`s of one pattern
//! multiply out to: a few dozen two-way `$or`s side by side already mean more sub-rules than a
//! machine can hold. Such a pattern is accepted, and its meaning is still exactly the engine's
//! (the event matches when one of the sub-rules [`crate::parse`] would have multiplied out
//! matches), decided in up to three steps per event:
//!
//! 1. Each field write is judged on its own ([`Leaf::alone`]). A path is *settled* when every
//!    write of it gives one answer that the rest of a sub-rule cannot change: all hold with no
//!    value in an array element (array consistency cannot undo them), or all fail.
//! 2. The `$or` tree is read as a boolean formula. When no way through it can hold (a write that
//!    is the last of its path fails alone, or a settled path fails), nothing matches; when one
//!    way through has only settled paths that hold, its sub-rule matches.
//! 3. Otherwise (values in arrays of objects, or one path written twice with different answers),
//!    the sub-rules are taken one at a time and each is judged exactly as a multiplied-out one
//!    ([`Alternative`]), on its unsettled fields only (a settled field that holds adds no array
//!    element, so it changes no other field's answer). An `$or` alternative that step 2 rules out
//!    is not entered, the alternatives made only of settled paths count once, and a way through
//!    stops as soon as the fields taken so far that no later write replaces and that need a value
//!    cannot all hold together.
//!
//! Memory stays linear in the pattern. Matching time is linear in it for steps 1 and 2; in step 3
//! it grows with the product, over the `$or`s, of their alternatives that hold unsettled paths.

use std::ops::ControlFlow;

use crate::json::EventValue;
use crate::parse::{Conjunction, Item};
use crate::tree::{Alone, Alternative, Leaf};

/// How many sub-rules [`Lazy::most_fields_over`] takes one at a time before it gives up looking
/// for one with too many fields (see the crate's "Limits").
const FIELD_COUNT_BUDGET: usize = 100_000;

/// A pattern with its `$or`s as written.
#[derive(Debug, Clone)]
pub(crate) struct Lazy {
    root: Node,
    /// Every field write of the pattern, in document order.
    writes: Vec<Write>,
    /// For each path (by index), its writes.
    by_path: Vec<Vec<usize>>,
}

/// One field write: its path (as an index shared by every write of the same path) and its field.
#[derive(Debug, Clone)]
struct Write {
    path: usize,
    leaf: Leaf,
    /// Whether a later write of the same path can be in the same sub-rule and replace this one.
    replaceable: bool,
}

/// A pattern object as written: its writes and `$or`s in document order.
#[derive(Debug, Clone, Default)]
struct Node {
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    /// An index into [`Lazy::writes`].
    Write(usize),
    /// An `$or`'s alternatives.
    Or(Vec<Node>),
}

/// A sub-rule being taken: for each path in it, the write that holds it (the last one so far).
type Taken = Vec<(usize, usize)>;

impl Lazy {
    /// Keeps a parsed pattern as written.
    pub(crate) fn new(root: &Conjunction) -> Self {
        let mut paths = Vec::new();
        let mut writes = Vec::new();
        let mut root = Self::node(root, &mut paths, &mut writes);
        let mut later = vec![false; paths.len()];
        mark_replaceable(&root, &mut writes, &mut later);
        let mut by_path = vec![Vec::new(); paths.len()];
        for (index, write) in writes.iter().enumerate() {
            by_path[write.path].push(index);
        }
        unique_first(&mut root, &writes, &by_path);
        Self { root, writes, by_path }
    }

    fn node(conjunction: &Conjunction, paths: &mut Vec<String>, writes: &mut Vec<Write>) -> Node {
        let steps = conjunction
            .items
            .iter()
            .map(|item| match item {
                Item::Write(path, matchers) => {
                    let index = paths.iter().position(|known| known == path).unwrap_or_else(|| {
                        paths.push(path.clone());
                        paths.len() - 1
                    });
                    writes.push(Write {
                        path: index,
                        leaf: Leaf::new(path, matchers.clone()),
                        replaceable: false,
                    });
                    Step::Write(writes.len() - 1)
                }
                Item::Or(alternatives) => Step::Or(
                    alternatives
                        .iter()
                        .map(|alternative| Self::node(alternative, paths, writes))
                        .collect(),
                ),
            })
            .collect();
        Node { steps }
    }

    /// The number of fields of a sub-rule holding more than `limit`, if the pattern has one.
    ///
    /// Exact when every write is the last of its path in every sub-rule, or when the answer is
    /// found among the first [`FIELD_COUNT_BUDGET`] sub-rules; otherwise `None`.
    pub(crate) fn most_fields_over(&self, limit: usize) -> Option<usize> {
        // Counting every write gives an upper bound; counting only writes nothing replaces gives
        // a sub-rule with at least that many distinct paths.
        if self.fields(&self.root, true) <= limit {
            return None;
        }
        if self.fields(&self.root, false) > limit {
            let mut taken = Taken::new();
            self.take_largest(&self.root, &mut taken);
            return Some(taken.len());
        }
        let mut count = Count {
            limit,
            budget: FIELD_COUNT_BUDGET,
            found: None,
        };
        // Whether the walk ended early says nothing `found` does not.
        let _ = self.each(&mut vec![(&self.root, 0)], &mut Taken::new(), &mut count);
        count.found
    }

    /// The most writes one sub-rule takes from `node`: all of them, or only those nothing
    /// replaces.
    fn fields(&self, node: &Node, replaceable_too: bool) -> usize {
        node.steps
            .iter()
            .map(|step| match step {
                Step::Write(write) => usize::from(replaceable_too || !self.writes[*write].replaceable),
                Step::Or(alternatives) => alternatives
                    .iter()
                    .map(|alternative| self.fields(alternative, replaceable_too))
                    .max()
                    .unwrap_or(0),
            })
            .sum()
    }

    /// Takes the sub-rule with the most writes nothing replaces.
    fn take_largest(&self, node: &Node, taken: &mut Taken) {
        for step in &node.steps {
            match step {
                Step::Write(write) => take(taken, self.writes[*write].path, *write),
                Step::Or(alternatives) => {
                    if let Some(best) = alternatives.iter().max_by_key(|a| self.fields(a, false)) {
                        self.take_largest(best, taken);
                    }
                }
            }
        }
    }

    /// Whether the event (a JSON object) satisfies any sub-rule of the pattern.
    pub(crate) fn matches<E: EventValue>(&self, event: &E) -> bool {
        let mut judge = Judge {
            lazy: self,
            event,
            alone: vec![None; self.writes.len()],
            settled: vec![None; self.by_path.len()],
        };
        if !judge.possible(&self.root) {
            return false;
        }
        if judge.sure(&self.root) {
            return true;
        }
        self.each(&mut vec![(&self.root, 0)], &mut Taken::new(), &mut judge)
            .is_break()
    }

    /// Takes every sub-rule (each `$or` alternative in turn, later writes of a path replacing
    /// earlier ones, as the engine multiplies them out) as far as `guide` lets it, and hands each
    /// to the guide until it breaks. `todo` holds the nodes still to finish, each with its next
    /// step.
    fn each<'a>(
        &'a self,
        todo: &mut Vec<(&'a Node, usize)>,
        taken: &mut Taken,
        guide: &mut dyn Guide,
    ) -> ControlFlow<()> {
        let Some((node, at)) = todo.pop() else {
            return guide.visit(taken);
        };
        let flow = match node.steps.get(at) {
            None => self.each(todo, taken, guide),
            Some(Step::Write(write)) => {
                todo.push((node, at + 1));
                let flow = match guide.write(*write) {
                    Turn::Skip => self.each(todo, taken, guide),
                    Turn::Drop => ControlFlow::Continue(()),
                    Turn::Take => {
                        let path = self.writes[*write].path;
                        let replaced = taken.iter().position(|(p, _)| *p == path).map(|at| {
                            let before = taken[at].1;
                            taken[at].1 = *write;
                            (at, before)
                        });
                        if replaced.is_none() {
                            taken.push((path, *write));
                        }
                        let flow = if guide.keeps(*write, taken) {
                            self.each(todo, taken, guide)
                        } else {
                            ControlFlow::Continue(())
                        };
                        match replaced {
                            Some((at, before)) => taken[at].1 = before,
                            None => {
                                taken.pop();
                            }
                        }
                        flow
                    }
                };
                todo.pop();
                flow
            }
            Some(Step::Or(alternatives)) => {
                let mut flow = ControlFlow::Continue(());
                for alternative in guide.enter(alternatives, taken) {
                    todo.push((node, at + 1));
                    todo.push((&alternatives[alternative], 0));
                    flow = self.each(todo, taken, guide);
                    todo.pop();
                    todo.pop();
                    if flow.is_break() {
                        break;
                    }
                }
                flow
            }
        };
        todo.push((node, at));
        flow
    }
}

/// What [`Lazy::each`] does with a write.
enum Turn {
    /// Add it to the sub-rule being taken.
    Take,
    /// Go on without it (it cannot change the answer).
    Skip,
    /// Give up this way through (no sub-rule along it can match).
    Drop,
}

/// How [`Lazy::each`] walks the sub-rules.
trait Guide {
    /// What to do with a write.
    fn write(&mut self, write: usize) -> Turn;
    /// Whether a way through is worth following once `write` is taken.
    fn keeps(&mut self, write: usize, taken: &Taken) -> bool;
    /// The alternatives of an `$or` to enter, by index, in order, given the sub-rule taken so far.
    fn enter(&mut self, alternatives: &[Node], taken: &Taken) -> Vec<usize>;
    /// A whole sub-rule: break to stop the walk.
    fn visit(&mut self, taken: &Taken) -> ControlFlow<()>;
}

/// Looks for a sub-rule with more than `limit` fields, among the first `budget`.
struct Count {
    limit: usize,
    budget: usize,
    found: Option<usize>,
}

impl Guide for Count {
    fn write(&mut self, _: usize) -> Turn {
        Turn::Take
    }

    fn keeps(&mut self, _: usize, _: &Taken) -> bool {
        true
    }

    fn enter(&mut self, alternatives: &[Node], _: &Taken) -> Vec<usize> {
        (0..alternatives.len()).collect()
    }

    fn visit(&mut self, taken: &Taken) -> ControlFlow<()> {
        self.budget = self.budget.saturating_sub(1);
        if taken.len() > self.limit {
            self.found = Some(taken.len());
            ControlFlow::Break(())
        } else if self.budget == 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// One event against the pattern: each write judged alone once, each path's settled answer.
struct Judge<'p, 'e, E> {
    lazy: &'p Lazy,
    event: &'e E,
    alone: Vec<Option<Alone>>,
    /// Per path: `Some(answer)` once known, `answer` being `Some` when the path is settled.
    settled: Vec<Option<Option<bool>>>,
}

impl<E: EventValue> Judge<'_, '_, E> {
    fn alone(&mut self, write: usize) -> Alone {
        let (lazy, event) = (self.lazy, self.event);
        *self.alone[write].get_or_insert_with(|| lazy.writes[write].leaf.alone(event))
    }

    /// The path's answer when every write of it settles to the same one.
    fn settled(&mut self, path: usize) -> Option<bool> {
        if let Some(known) = self.settled[path] {
            return known;
        }
        let lazy = self.lazy;
        let mut answers = lazy.by_path[path].iter().map(|write| self.alone(*write).settled());
        let first = answers.next().flatten();
        let answer = first.filter(|first| answers.all(|answer| answer == Some(*first)));
        self.settled[path] = Some(answer);
        answer
    }

    /// Step 2, "can hold": whether some way through `node` can hold.
    fn possible(&mut self, node: &Node) -> bool {
        node.steps.iter().all(|step| match step {
            Step::Write(index) => {
                let write = &self.lazy.writes[*index];
                match self.settled(write.path) {
                    Some(answer) => answer,
                    None => write.replaceable || self.alone(*index).possible,
                }
            }
            Step::Or(alternatives) => alternatives.iter().any(|alternative| self.possible(alternative)),
        })
    }

    /// Step 2, "surely holds": whether some way through `node` has only settled paths that hold.
    fn sure(&mut self, node: &Node) -> bool {
        node.steps.iter().all(|step| match step {
            Step::Write(index) => self.settled(self.lazy.writes[*index].path) == Some(true),
            Step::Or(alternatives) => alternatives.iter().any(|alternative| self.sure(alternative)),
        })
    }

    /// Whether the taken fields that need a value and that nothing later replaces, with `more`
    /// such fields, can all hold together (fields that accept absence are left out: fewer fields
    /// before them can make them fail where more would not, so only fields that need a value
    /// answer the same for a part of a sub-rule as for the whole).
    fn together(&mut self, taken: &Taken, more: &[usize]) -> bool {
        let writes = &self.lazy.writes;
        let leaves: Vec<Leaf> = taken
            .iter()
            .map(|(_, index)| *index)
            .chain(more.iter().copied())
            .filter(|index| needs_value(&writes[*index]))
            .map(|index| writes[index].leaf.clone())
            .collect();
        Alternative::from_leaves(leaves).matches(self.event)
    }

    /// Whether every path written in `node` is settled.
    fn pure(&mut self, node: &Node) -> bool {
        node.steps.iter().all(|step| match step {
            Step::Write(index) => self.settled(self.lazy.writes[*index].path).is_some(),
            Step::Or(alternatives) => alternatives.iter().all(|alternative| self.pure(alternative)),
        })
    }
}

impl<E: EventValue> Guide for Judge<'_, '_, E> {
    fn write(&mut self, write: usize) -> Turn {
        match self.settled(self.lazy.writes[write].path) {
            Some(true) => Turn::Skip,
            Some(false) => Turn::Drop,
            None => Turn::Take,
        }
    }

    /// Taking a write that nothing later replaces and that needs a value can only make the
    /// fields taken so far harder to satisfy together (array consistency): when those fields
    /// fail together, so does every sub-rule along this way.
    fn keeps(&mut self, write: usize, taken: &Taken) -> bool {
        let writes = &self.lazy.writes;
        !needs_value(&writes[write]) || self.together(taken, &[])
    }

    /// The alternatives that can hold, alone and together with the fields taken so far; of
    /// those made only of settled paths (which then surely hold and add nothing to a sub-rule),
    /// the first alone.
    fn enter(&mut self, alternatives: &[Node], taken: &Taken) -> Vec<usize> {
        let mut entered = Vec::new();
        let mut pure_entered = false;
        for (index, alternative) in alternatives.iter().enumerate() {
            if !self.possible(alternative) {
                continue;
            }
            if self.pure(alternative) {
                if pure_entered {
                    continue;
                }
                pure_entered = true;
            } else {
                let own: Vec<usize> = alternative
                    .steps
                    .iter()
                    .filter_map(|step| match step {
                        Step::Write(index) => Some(*index),
                        Step::Or(_) => None,
                    })
                    .filter(|index| {
                        needs_value(&self.lazy.writes[*index]) && self.settled(self.lazy.writes[*index].path).is_none()
                    })
                    .collect();
                if !own.is_empty() && !self.together(taken, &own) {
                    continue;
                }
            }
            entered.push(index);
        }
        entered
    }

    fn visit(&mut self, taken: &Taken) -> ControlFlow<()> {
        let leaves = taken
            .iter()
            .map(|(_, write)| self.lazy.writes[*write].leaf.clone())
            .collect();
        if Alternative::from_leaves(leaves).matches(self.event) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// Whether a write, once taken, stays in every sub-rule along the way and needs a value there.
fn needs_value(write: &Write) -> bool {
    !write.replaceable && !write.leaf.accepts_absence()
}

/// Moves the writes of paths written only once to the front of their object, so that a walk of
/// the sub-rules meets the fields every sub-rule through that object has before it branches
/// (which order they are taken in cannot matter: nothing replaces them and they replace nothing).
fn unique_first(node: &mut Node, writes: &[Write], by_path: &[Vec<usize>]) {
    let unique = |step: &Step| matches!(step, Step::Write(index) if by_path[writes[*index].path].len() == 1);
    let (mut first, rest): (Vec<Step>, Vec<Step>) = std::mem::take(&mut node.steps).into_iter().partition(unique);
    first.extend(rest);
    node.steps = first;
    for step in &mut node.steps {
        if let Step::Or(alternatives) = step {
            for alternative in alternatives {
                unique_first(alternative, writes, by_path);
            }
        }
    }
}

/// Makes `write` the holder of `path` in a sub-rule being taken.
fn take(taken: &mut Taken, path: usize, write: usize) {
    match taken.iter_mut().find(|(p, _)| *p == path) {
        Some(entry) => entry.1 = write,
        None => taken.push((path, write)),
    }
}

/// Marks each write that a later write of its path can replace: walking the document backwards,
/// `later[path]` says whether a write of `path` can follow in the same sub-rule (alternatives of
/// one `$or` never share a sub-rule; an `$or` can add any of its alternatives' paths).
fn mark_replaceable(node: &Node, writes: &mut [Write], later: &mut Vec<bool>) {
    for step in node.steps.iter().rev() {
        match step {
            Step::Write(index) => {
                let write = &mut writes[*index];
                write.replaceable = later[write.path];
                later[write.path] = true;
            }
            Step::Or(alternatives) => {
                let mut union = later.clone();
                for alternative in alternatives {
                    let mut inner = later.clone();
                    mark_replaceable(alternative, writes, &mut inner);
                    for (all, one) in union.iter_mut().zip(inner) {
                        *all |= one;
                    }
                }
                *later = union;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use serde_json::Value;

    use super::*;
    use crate::json::Json;
    use crate::parse::{self, Form};
    use crate::tree::Rule;

    /// Both forms of one pattern: multiplied out, and as written.
    fn both(pattern: &str) -> Result<(Rule, Lazy), Box<dyn Error>> {
        let json = Json::from_text(pattern)?;
        let Form::Expanded(alternatives) = parse::parse(&json)?.form else {
            return Err(format!("{pattern} is not small enough to multiply out").into());
        };
        let root = parse::conjunction(&json)?;
        Ok((Rule::new(alternatives), Lazy::new(&root)))
    }

    #[test]
    fn a_pattern_kept_as_written_answers_as_its_multiplied_out_sub_rules() -> Result<(), Box<dyn Error>> {
        let patterns = [
            r#"{"source": ["s"], "$or": [{"a": ["x"]}, {"b": {"c": ["y"]}}], "d": {"$or": [{"e": [1]}, {"f": [{"exists": false}]}]}}"#,
            r#"{"a": ["x"], "$or": [{"a": ["y"]}, {"b": ["z"]}]}"#,
            r#"{"$or": [{"a": ["y"]}, {"b": ["z"]}], "a": ["x"]}"#,
            r#"{"$or": [{"a": ["x"], "$or": [{"b": [1]}, {"a": ["q"]}]}, {"c": [{"prefix": "p"}]}]}"#,
            r#"{"items": {"$or": [{"sku": ["A"], "qty": [1]}, {"sku": ["B"]}]}, "$or": [{"items": {"qty": [2]}}, {"x": [{"exists": true}]}]}"#,
            r#"{"items": {"sku": ["A"]}, "$or": [{"items": {"qty": [{"exists": false}]}}, {"items.qty": [1]}]}"#,
            r#"{"a": [{"exists": false}], "$or": [{"b": ["x"]}, {"a.b": ["y"]}]}"#,
        ];
        let events = [
            r#"{"source": "s", "a": "x", "d": {"e": 1}}"#,
            r#"{"source": "s", "b": {"c": "y"}, "d": {}}"#,
            r#"{"source": "s", "b.c": "y", "d": {"f": 2}}"#,
            r#"{"a": "y"}"#,
            r#"{"a": "x", "b": "z"}"#,
            r#"{"a": "q", "b": 1}"#,
            r#"{"a": "x", "b": 1}"#,
            r#"{"c": "pq"}"#,
            r#"{"items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}"#,
            r#"{"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]}"#,
            r#"{"items": [{"sku": "A"}, {"sku": "B", "qty": 2}]}"#,
            r#"{"items": [{"sku": "A", "qty": 3}], "x": 0}"#,
            r#"{"items": [{"sku": "A"}, {"qty": 1}]}"#,
            r#"{"items": {"sku": "A"}, "items.qty": 1}"#,
            r#"{"a": {"b": "y"}}"#,
            r#"{"a.b": "y", "b": "x"}"#,
            r#"{"b": "x"}"#,
        ];
        for pattern in patterns {
            let (expanded, lazy) = both(pattern)?;
            for event in events {
                let text = Json::from_text(event)?;
                let value: Value = serde_json::from_str(event)?;
                assert_eq!(lazy.matches(&text), expanded.matches(&text), "{pattern} on {event}");
                assert_eq!(lazy.matches(&value), expanded.matches(&value), "{pattern} on {event}");
            }
        }
        Ok(())
    }

    #[test]
    fn a_write_is_replaceable_only_by_a_later_write_of_its_path_in_the_same_sub_rule() -> Result<(), Box<dyn Error>> {
        let replaceable = |pattern: &str| -> Result<Vec<bool>, Box<dyn Error>> {
            let lazy = Lazy::new(&parse::conjunction(&Json::from_text(pattern)?)?);
            Ok(lazy.writes.iter().map(|write| write.replaceable).collect())
        };
        // a, then an $or whose first alternative writes a again.
        assert_eq!(
            replaceable(r#"{"a": [1], "$or": [{"a": [2]}, {"b": [3]}]}"#)?,
            [true, false, false]
        );
        // Two alternatives of one $or writing a never share a sub-rule.
        assert_eq!(
            replaceable(r#"{"$or": [{"a": [1]}, {"a": [2]}], "b": [3]}"#)?,
            [false, false, false]
        );
        // The same path spelled with a dot is the same path.
        assert_eq!(replaceable(r#"{"a": {"b": [1]}, "a.b": [2]}"#)?, [true, false]);
        Ok(())
    }

    /// A random pattern object: field writes (nested or dotted) and `$or`s, over few paths so that
    /// paths repeat, parents meet children, and arrays of objects meet `exists: false`.
    fn random_object(rng: &mut fastrand::Rng, depth: usize) -> String {
        const PATHS: [&[&str]; 6] = [
            &["a"],
            &["b"],
            &["a", "b"],
            &["items", "sku"],
            &["items", "qty"],
            &["c", "d"],
        ];
        const VALUES: [&str; 8] = [
            r#"["x"]"#,
            r#"["y"]"#,
            "[1]",
            "[2]",
            r#"[{"exists": false}]"#,
            r#"[{"exists": true}]"#,
            r#"[{"prefix": "x"}]"#,
            r#"[{"numeric": [">", 1]}]"#,
        ];
        let entries = rng.usize(1..=3);
        let mut fields = Vec::new();
        for _ in 0..entries {
            if depth > 0 && rng.usize(0..3) == 0 {
                let alternatives: Vec<String> = (0..rng.usize(2..=3)).map(|_| random_object(rng, depth - 1)).collect();
                fields.push(format!(r#""$or": [{}]"#, alternatives.join(", ")));
                continue;
            }
            let path = PATHS[rng.usize(0..PATHS.len())];
            let value = VALUES[rng.usize(0..VALUES.len())];
            if rng.bool() {
                fields.push(format!(r#""{}": {value}"#, path.join(".")));
            } else {
                let mut written = value.to_owned();
                for name in path.iter().rev() {
                    written = format!(r#"{{"{name}": {written}}}"#);
                }
                fields.push(written[1..written.len() - 1].to_owned());
            }
        }
        format!("{{{}}}", fields.join(", "))
    }

    #[test]
    fn random_patterns_kept_as_written_answer_as_their_multiplied_out_sub_rules() -> Result<(), Box<dyn Error>> {
        let events = [
            r#"{"a": "x", "b": 1}"#,
            r#"{"a": {"b": "x"}, "b": 2}"#,
            r#"{"a": [{"b": "y"}, {"b": "x"}], "c": {"d": 2}}"#,
            r#"{"a.b": "x", "b": "y", "c.d": 1}"#,
            r#"{"items": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": 2}]}"#,
            r#"{"items": [{"sku": "x"}, {"qty": 2}], "a": "y"}"#,
            r#"{"items": {"sku": "xy", "qty": 2}, "a": ["x", "y"]}"#,
            r#"{"items.sku": "x", "items": [{"qty": 1}], "c": [{"d": 2}, {"d": "x"}]}"#,
            r#"{"b": "x"}"#,
            "{}",
        ];
        let mut rng = fastrand::Rng::with_seed(17);
        let mut compared = 0;
        for _ in 0..3000 {
            let pattern = random_object(&mut rng, 2);
            // Random writes may be invalid together (an `$or` of one valid alternative cannot
            // happen, but a field both a leaf and an object can): only valid patterns count.
            let Ok((expanded, lazy)) = both(&pattern) else { continue };
            for event in events {
                let text = Json::from_text(event)?;
                assert_eq!(lazy.matches(&text), expanded.matches(&text), "{pattern} on {event}");
            }
            compared += 1;
        }
        assert!(compared > 2000, "only {compared} random patterns were valid");
        Ok(())
    }
}
