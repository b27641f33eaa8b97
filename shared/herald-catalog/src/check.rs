//! `herald catalog check`: everything the catalog, the template and the functions must agree on.
//! Each [`Problem`] names the file to fix and says what is wrong:
//!
//! - a schema is not a schema, or a sample does not validate against its version's schema, or
//!   sits in the wrong folder (its `source`, `detail-type` or `schema_version` says otherwise);
//! - a published schema changed incompatibly without a new version number: each version's schema
//!   is compared ([`super::evolution`]) with the same file at a git revision (`--base`, `HEAD` by
//!   default), so an edit that breaks consumers is caught before it is committed or merged;
//! - a rule of the template matches no catalogued sample;
//! - an event nobody consumes that `event.yaml` does not mark `external-consumers` or `terminal`;
//! - an event nobody produces (no function declares it, no `external-producers`);
//! - a function that declares nothing, or declares an event version the catalog does not have.
//!
//! [`warnings`] lists what does not fail the check: parts of the rules' patterns that EventBridge
//! accepts but that are probably mistakes (a CIDR block with host bits set, a wildcard without
//! `*`), as [`event_pattern::Pattern::lints`] finds them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::evolution;
use super::graph::{CatalogFunction, Flow};
use super::model::{Catalog, DECLARATIONS_FILE};
use super::schema::Schema;

/// One thing to fix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The file (or folder) to fix.
    pub path: PathBuf,
    /// Where in it, when that helps (a JSON path, a template property).
    pub place: Option<String>,
    /// What is wrong, and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.place {
            Some(place) => write!(f, "{}: {place}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

fn problem(path: &Path, place: Option<String>, message: String) -> Problem {
    Problem {
        path: path.to_owned(),
        place,
        message,
    }
}

/// The published schemas to compare with: each `*.schema.json` under the catalog at a revision.
#[derive(Debug, Clone)]
pub enum Baseline {
    /// The schemas at `reference`, by path relative to the catalog's folder.
    Git {
        /// The revision, as given.
        reference: String,
        /// Schema text by relative path.
        schemas: BTreeMap<PathBuf, String>,
    },
    /// No comparison was possible (not a git work tree, say); the reason is printed.
    Unavailable(String),
}

impl Baseline {
    /// The catalog's schemas at git revision `reference`. A catalog outside a git work tree, or
    /// a revision that does not exist yet (a first commit), gives [`Baseline::Unavailable`].
    pub fn from_git(catalog_root: &Path, reference: &str) -> Self {
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(catalog_root)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        };
        if git(&["rev-parse", "--verify", "--quiet", &format!("{reference}^{{commit}}")]).is_none() {
            return Self::Unavailable(format!(
                "no git revision `{reference}` at {}: schema evolution not checked",
                catalog_root.display()
            ));
        }
        let Some(listing) = git(&["ls-tree", "-r", "--name-only", reference, "--", "."]) else {
            return Self::Unavailable(format!("git ls-tree {reference} failed: schema evolution not checked"));
        };
        let mut schemas = BTreeMap::new();
        for relative in listing.lines().filter(|l| l.ends_with(".schema.json")) {
            if let Some(text) = git(&["show", &format!("{reference}:./{relative}")]) {
                schemas.insert(PathBuf::from(relative), text);
            }
        }
        Self::Git {
            reference: reference.to_owned(),
            schemas,
        }
    }

    /// What the baseline is, for the summary line.
    pub fn describe(&self) -> String {
        match self {
            Self::Git { reference, schemas } => format!("{} schemas at {reference}", schemas.len()),
            Self::Unavailable(reason) => reason.clone(),
        }
    }
}

/// What a sample says about itself.
#[derive(Deserialize)]
struct SampleHead {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: SampleDetail,
}

#[derive(Deserialize)]
struct SampleDetail {
    #[serde(default)]
    metadata: Option<SampleMetadata>,
}

#[derive(Deserialize)]
struct SampleMetadata {
    #[serde(default)]
    schema_version: Option<u32>,
}

/// Every problem of `catalog` with `flow` (derived from `template`) and `baseline`, sorted.
pub fn check(catalog: &Catalog, template: &Path, flow: &Flow, baseline: &Baseline) -> Vec<Problem> {
    let mut problems = Vec::new();
    schemas_and_samples(catalog, &mut problems);
    evolution_since(catalog, baseline, &mut problems);
    rules(template, flow, &mut problems);
    links(catalog, flow, &mut problems);
    declarations(catalog, template, flow, &mut problems);
    problems.sort();
    problems.dedup();
    problems
}

fn schemas_and_samples(catalog: &Catalog, problems: &mut Vec<Problem>) {
    for event in &catalog.events {
        for version in &event.versions {
            if let Err(error) = Schema::from_value(&version.schema) {
                problems.push(problem(&version.schema_path, None, error.to_string()));
            }
            let validator = match jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&version.schema)
            {
                Ok(validator) => validator,
                Err(error) => {
                    problems.push(problem(
                        &version.schema_path,
                        Some(error.instance_path().to_string()),
                        format!("not a valid JSON Schema: {error}"),
                    ));
                    continue;
                }
            };
            for sample in &version.samples {
                let head = match serde_json::from_value::<SampleHead>(sample.event.clone()) {
                    Ok(head) => head,
                    Err(error) => {
                        problems.push(problem(
                            &sample.path,
                            None,
                            format!("not an EventBridge event (source, detail-type, detail): {error}"),
                        ));
                        continue;
                    }
                };
                if head.source != event.source || head.detail_type != event.detail_type {
                    problems.push(problem(
                        &sample.path,
                        None,
                        format!(
                            "is a {}/{} event but sits in the folder of {}",
                            head.source,
                            head.detail_type,
                            event.name()
                        ),
                    ));
                }
                let declared = head.detail.metadata.and_then(|m| m.schema_version);
                if declared.is_some_and(|n| n != version.number) {
                    problems.push(problem(
                        &sample.path,
                        Some("detail.metadata.schema_version".into()),
                        format!(
                            "is {} but the file is a v{} sample",
                            declared.unwrap_or_default(),
                            version.number
                        ),
                    ));
                }
                let detail = sample.event.get("detail").unwrap_or(&serde_json::Value::Null);
                for error in validator.iter_errors(detail) {
                    problems.push(problem(
                        &sample.path,
                        Some(format!("detail{}", error.instance_path())),
                        format!(
                            "does not validate against {}: {error}",
                            version
                                .schema_path
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default()
                        ),
                    ));
                }
            }
        }
    }
}

fn evolution_since(catalog: &Catalog, baseline: &Baseline, problems: &mut Vec<Problem>) {
    let Baseline::Git { reference, schemas } = baseline else {
        return;
    };
    for event in &catalog.events {
        for version in &event.versions {
            let Ok(relative) = version.schema_path.strip_prefix(&catalog.root) else {
                continue;
            };
            let Some(published) = schemas.get(relative) else {
                continue;
            };
            // An unreadable schema on either side is reported by schemas_and_samples (now) or was
            // fine when published (then): nothing to compare.
            let (Ok(before), Ok(now)) = (
                Schema::from_slice(published.as_bytes()),
                Schema::from_value(&version.schema),
            ) else {
                continue;
            };
            let breaking: Vec<String> = evolution::compare(&before, &now)
                .into_iter()
                .filter(evolution::Change::is_breaking)
                .map(|change| change.to_string())
                .collect();
            if !breaking.is_empty() {
                problems.push(problem(
                    &version.schema_path,
                    None,
                    format!(
                        "changed incompatibly since {reference} ({}); a published version never changes \
                         incompatibly: restore it and publish the change as v{}",
                        breaking.join("; "),
                        event.versions.last().map_or(version.number, |v| v.number) + 1
                    ),
                ));
            }
        }
    }
}

fn rules(template: &Path, flow: &Flow, problems: &mut Vec<Problem>) {
    for rule in flow.rule_matches.iter().filter(|r| r.samples == 0) {
        problems.push(problem(
            template,
            Some(format!(
                "Resources.{}.Properties.Events.{}.Properties.Pattern{}",
                rule.logical_id,
                rule.event,
                rule.alternative.map(|i| format!(".$or[{i}]")).unwrap_or_default()
            )),
            format!(
                "the rule {} of {} matches no catalogued event{}: fix the pattern, or catalog the events it \
                 is for (with samples)",
                rule.rule,
                rule.function,
                if rule.alternative.is_some() {
                    " with this alternative"
                } else {
                    ""
                }
            ),
        ));
    }
}

fn links(catalog: &Catalog, flow: &Flow, problems: &mut Vec<Problem>) {
    for event in &catalog.events {
        let links = flow.links(event);
        let declared = &event.declared;
        if links.consumers.is_empty() && declared.external_consumers.is_empty() && declared.terminal.is_none() {
            problems.push(problem(
                &event.dir,
                None,
                format!(
                    "{} has no consumer: no rule of the template matches its samples. If that is on purpose, \
                     say so in {DECLARATIONS_FILE} with `external-consumers: [...]` or `terminal: <why>`",
                    event.name()
                ),
            ));
        }
        if links.producers.is_empty() {
            problems.push(problem(
                &event.dir,
                None,
                format!(
                    "{} has no producer: no function declares it in `emits` and {DECLARATIONS_FILE} names no \
                     `external-producers`",
                    event.name()
                ),
            ));
        }
    }
}

fn declarations(catalog: &Catalog, template: &Path, flow: &Flow, problems: &mut Vec<Problem>) {
    for function in &flow.functions {
        let Some(manifest) = &function.manifest else {
            problems.push(problem(
                template,
                Some(format!(
                    "Resources.{}.Metadata.BuildProperties.Binary",
                    function.logical_id
                )),
                format!("no crate of the workspace builds the binary `{}`", function.binary),
            ));
            continue;
        };
        let Some(emits) = &function.emits else {
            problems.push(problem(
                manifest,
                Some("package.metadata.herald.emits".into()),
                format!(
                    "{} does not declare what it publishes: add [package.metadata.herald] \
                     emits = [\"source/DetailType/vN\", …] (or emits = [] when it publishes nothing)",
                    function.binary
                ),
            ));
            continue;
        };
        for emitted in emits {
            let catalogued = catalog
                .event(&emitted.source, &emitted.detail_type)
                .is_some_and(|e| e.version(emitted.version).is_some());
            if !catalogued {
                problems.push(problem(
                    manifest,
                    Some("package.metadata.herald.emits".into()),
                    format!(
                        "{} publishes {emitted}, which is not catalogued: add {}/{}/{}/v{}.schema.json and a sample",
                        function.binary,
                        catalog.root.display(),
                        emitted.source,
                        emitted.detail_type,
                        emitted.version
                    ),
                ));
            }
        }
    }
}

/// What to look at without failing the check: every lint of every rule's pattern, placed at the
/// pattern's field in `template`, sorted.
pub fn warnings(template: &Path, functions: &[CatalogFunction]) -> Vec<Problem> {
    let mut warnings = Vec::new();
    for function in functions {
        for rule in &function.rules {
            for lint in rule.pattern.lints() {
                let field = if lint.path().is_empty() {
                    String::new()
                } else {
                    format!(".{}", lint.path())
                };
                warnings.push(problem(
                    template,
                    Some(format!(
                        "Resources.{}.Properties.Events.{}.Properties.Pattern{field}",
                        function.logical_id, rule.event
                    )),
                    lint.kind().to_string(),
                ));
            }
        }
    }
    warnings.sort();
    warnings.dedup();
    warnings
}

#[cfg(test)]
mod tests {
    use event_pattern::Pattern;
    use herald_infra::StackRule;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_pattern_eventbridge_accepts_but_that_looks_wrong_is_a_warning_at_its_field()
    -> Result<(), Box<dyn std::error::Error>> {
        // Given a function whose rule has a CIDR block with host bits set
        let pattern_json = json!({ "source": ["shop.orders"], "detail": { "ip": [{ "cidr": "10.0.0.1/24" }] } });
        let function = CatalogFunction {
            binary: "audit".into(),
            logical_id: "AuditFunction".into(),
            description: None,
            rules: vec![StackRule {
                event: "ShopEvents".into(),
                rule_name: None,
                bus: "default".into(),
                pattern: Pattern::parse(&pattern_json)?,
                pattern_json,
            }],
            manifest: None,
            emits: None,
        };

        // When the warnings are listed
        let warnings = warnings(Path::new("infra/template.yaml"), &[function]);

        // Then the pattern is accepted and its field is named, with what EventBridge does
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].to_string().starts_with(
            "infra/template.yaml: Resources.AuditFunction.Properties.Events.ShopEvents.Properties.Pattern.detail.ip: \
             the CIDR \"10.0.0.1/24\" has bits set after its prefix length"
        ));
        Ok(())
    }
}
