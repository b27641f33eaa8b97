//! Who produces and who consumes each catalogued event, derived, never written by hand.
//!
//! - **Consumers**: every rule of the template runs, with the real matcher ([`event_pattern`]),
//!   over every sample of every version. A function consumes a version when one of its rules
//!   matches one of that version's samples.
//! - **Producers**: the functions whose crates declare the version in `emits`
//!   ([`super::emits`]), and the `external-producers` of the event's `event.yaml`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use event_pattern::Pattern;

use herald_infra::{Stack, StackRule};

use super::emits::{EmitsDeclaration, EventRef};
use super::model::{Catalog, CatalogEvent};

/// A function of the template, with what it declares it publishes.
#[derive(Debug, Clone)]
pub struct CatalogFunction {
    /// Binary name, e.g. `inventory`.
    pub binary: String,
    /// Logical id in the template.
    pub logical_id: String,
    /// The template's `Description`.
    pub description: Option<String>,
    /// Its rules.
    pub rules: Vec<StackRule>,
    /// Its crate's `Cargo.toml`, when the binary is in the workspace.
    pub manifest: Option<PathBuf>,
    /// What it declares it publishes; `None` without a declaration.
    pub emits: Option<Vec<EventRef>>,
}

/// Who publishes an event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Producer {
    /// A function of the template (binary name).
    Function(String),
    /// A system outside the repository, declared in `event.yaml`.
    External(String),
}

/// A function that receives an event, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// The function's binary name.
    pub function: String,
    /// The rule that matched: `RuleName` as written, or `<logical id>.<event>`.
    pub rule: String,
    /// The bus the rule is on.
    pub bus: String,
    /// The versions whose samples the rule matched, ascending.
    pub versions: Vec<u32>,
}

/// The producers and consumers of one event.
#[derive(Debug, Clone, Default)]
pub struct Links {
    /// Producers, functions first, each with the versions it publishes (external: all).
    pub producers: Vec<(Producer, Vec<u32>)>,
    /// Consumers, by function then rule.
    pub consumers: Vec<Consumer>,
}

/// The whole flow: every function, and every event's links.
#[derive(Debug, Clone)]
pub struct Flow {
    /// What the rules' `${AWS::StackName}` stands for: the template's local stack name.
    pub stack_name: String,
    /// The template's functions, by binary name.
    pub functions: Vec<CatalogFunction>,
    links: BTreeMap<(String, String), Links>,
    /// Every rule, with the number of catalogued samples it matched.
    pub rule_matches: Vec<RuleMatch>,
}

/// How many catalogued samples one rule matched.
#[derive(Debug, Clone)]
pub struct RuleMatch {
    /// The function's binary name.
    pub function: String,
    /// The function's logical id.
    pub logical_id: String,
    /// The event source's name under `Events`.
    pub event: String,
    /// The rule's display name.
    pub rule: String,
    /// For a pattern whose top level is an `$or`, which alternative this counts; `None` for
    /// the whole pattern.
    pub alternative: Option<usize>,
    /// Samples matched.
    pub samples: usize,
}

/// The parts of a pattern that must each match something: each alternative of a top-level `$or`
/// (with the keys beside it), or the whole pattern.
fn alternatives(rule: &StackRule) -> Vec<(Option<usize>, Pattern)> {
    let split = rule.pattern_json.as_object().and_then(|fields| {
        let branches = fields.get("$or")?.as_array()?;
        let rest: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .filter(|(k, _)| *k != "$or")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        branches
            .iter()
            .enumerate()
            .map(|(index, branch)| {
                let mut merged = rest.clone();
                merged.extend(branch.as_object()?.clone());
                Pattern::parse(&serde_json::Value::Object(merged))
                    .ok()
                    .map(|p| (Some(index), p))
            })
            .collect::<Option<Vec<_>>>()
    });
    split.unwrap_or_else(|| vec![(None, rule.pattern.clone())])
}

impl Flow {
    /// Derives the flow of `catalog` through `template`'s rules and the declarations.
    pub fn derive(catalog: &Catalog, template: &Stack, declarations: &BTreeMap<String, EmitsDeclaration>) -> Self {
        let mut functions: Vec<CatalogFunction> = template
            .functions
            .iter()
            .map(|f| {
                let declared = declarations.get(&f.binary);
                CatalogFunction {
                    binary: f.binary.clone(),
                    logical_id: f.logical_id.clone(),
                    description: f.description.clone(),
                    rules: f.rules.clone(),
                    manifest: declared.map(|d| d.manifest.clone()),
                    emits: declared.and_then(|d| d.emits.clone()),
                }
            })
            .collect();
        functions.sort_by(|a, b| a.binary.cmp(&b.binary));

        let mut links: BTreeMap<(String, String), Links> = BTreeMap::new();
        let mut rule_matches = Vec::new();
        for function in &functions {
            let dev = template.function(&function.binary);
            for rule in &function.rules {
                let name = dev.map_or_else(|| rule.event.clone(), |d| rule.display_name(d));
                for event in &catalog.events {
                    let versions: Vec<u32> = event
                        .versions
                        .iter()
                        .filter(|v| v.samples.iter().any(|s| rule.pattern.matches(&s.event)))
                        .map(|v| v.number)
                        .collect();
                    if !versions.is_empty() {
                        links.entry(key(event)).or_default().consumers.push(Consumer {
                            function: function.binary.clone(),
                            rule: name.clone(),
                            bus: rule.bus.clone(),
                            versions,
                        });
                    }
                }
                for (alternative, pattern) in alternatives(rule) {
                    rule_matches.push(RuleMatch {
                        function: function.binary.clone(),
                        logical_id: function.logical_id.clone(),
                        event: rule.event.clone(),
                        rule: name.clone(),
                        alternative,
                        samples: catalog.samples().filter(|(_, _, s)| pattern.matches(&s.event)).count(),
                    });
                }
            }
            for emitted in function.emits.iter().flatten() {
                let producers = &mut links
                    .entry((emitted.source.clone(), emitted.detail_type.clone()))
                    .or_default()
                    .producers;
                let producer = Producer::Function(function.binary.clone());
                match producers.iter_mut().find(|(p, _)| *p == producer) {
                    Some((_, versions)) => versions.push(emitted.version),
                    None => producers.push((producer, vec![emitted.version])),
                }
            }
        }
        for event in &catalog.events {
            let all: Vec<u32> = event.versions.iter().map(|v| v.number).collect();
            let entry = links.entry(key(event)).or_default();
            for name in &event.declared.external_producers {
                entry.producers.push((Producer::External(name.clone()), all.clone()));
            }
            for (_, versions) in &mut entry.producers {
                versions.sort_unstable();
                versions.dedup();
            }
        }
        Self {
            stack_name: template.name.clone(),
            functions,
            links,
            rule_matches,
        }
    }

    /// The links of `event` (empty when nothing touches it).
    pub fn links(&self, event: &CatalogEvent) -> Links {
        self.links.get(&key(event)).cloned().unwrap_or_default()
    }

    /// The function with this binary name.
    pub fn function(&self, binary: &str) -> Option<&CatalogFunction> {
        self.functions.iter().find(|f| f.binary == binary)
    }

    /// The events (source, detail-type) a function consumes, with the matching rule and versions.
    pub fn consumed_by(&self, binary: &str) -> Vec<(String, String, Consumer)> {
        self.links
            .iter()
            .flat_map(|((source, detail_type), links)| {
                links
                    .consumers
                    .iter()
                    .filter(|c| c.function == binary)
                    .map(|c| (source.clone(), detail_type.clone(), c.clone()))
            })
            .collect()
    }
}

fn key(event: &CatalogEvent) -> (String, String) {
    (event.source.clone(), event.detail_type.clone())
}
