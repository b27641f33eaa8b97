//! The template file: its hand-written text with generated regions between markers.
//!
//! ```yaml
//!   # BEGIN GENERATED consumers: any note may follow the region's name
//!   …rewritten by `cargo herald infra generate`…
//!   # END GENERATED consumers
//! ```
//!
//! A region's content is written at its begin marker's indentation. The regions are:
//!
//! - `consumers` (required): every consumer's resources, under `Resources`;
//! - `consumer-outputs`: their outputs (dead-letter queue URL, table names), under `Outputs`;
//! - `dead-letter-queue-arns`: a list of every consumer's `!GetAtt <Queue>.Arn` (the redrive
//!   role's resources);
//! - `errors-alarm-names`: a list of every consumer's errors alarm name (redrive's pattern);
//! - `redrive-queues`: the `REDRIVE_QUEUES` variable, alarm name = queue URL for each consumer;
//! - `unrouted`: the rule whose pattern is the catalog's complement, its queue and alarm
//!   ([`crate::unrouted`]), under `Resources`; `unrouted-outputs`: its queue's URL, under
//!   `Outputs`. Both need the catalog folder (`Metadata: Herald: Catalog`).
//!
//! The names of the hand-written resources the generated ones use come from the template's
//! `Metadata: Herald:` section ([`Platform`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value as Yaml;

use crate::InfraError;
use crate::declaration::{self, Declaration};
use crate::render::{self, Platform};
use crate::unrouted::{self, Catalogued};
use crate::yaml::{self, Node, get_att, sub};

const BEGIN: &str = "# BEGIN GENERATED ";
const END: &str = "# END GENERATED ";

/// Every region generation knows, and whether a template must have it.
const REGIONS: [(&str, bool); 8] = [
    ("consumers", true),
    ("dashboard", false),
    ("consumer-outputs", false),
    ("dead-letter-queue-arns", false),
    ("errors-alarm-names", false),
    ("redrive-queues", false),
    ("unrouted", false),
    ("unrouted-outputs", false),
];

/// A template as it is on disk and as generation makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The template file.
    pub path: PathBuf,
    /// Its text now.
    pub current: String,
    /// Its text with every region generated from the declarations.
    pub generated: String,
}

impl Generation {
    /// Reads the template at `template` and generates it from the declarations of the workspace
    /// at `workspace`.
    ///
    /// # Errors
    /// [`InfraError`] when the template cannot be read, has no valid regions or platform, or a
    /// declaration is malformed.
    pub fn of(template: &Path, workspace: &Path) -> Result<Self, InfraError> {
        let current = std::fs::read_to_string(template).map_err(|source| InfraError::Io {
            path: template.to_owned(),
            source,
        })?;
        let declarations = declaration::consumers(workspace)?;
        let generated = generate(template, &current, &declarations)?;
        Ok(Self {
            path: template.to_owned(),
            current,
            generated,
        })
    }

    /// True when the file already holds what generation gives.
    pub fn is_fresh(&self) -> bool {
        self.current == self.generated
    }

    /// Writes the generated text, when it differs. Returns whether it wrote.
    ///
    /// # Errors
    /// [`InfraError::Io`] when the file cannot be written.
    pub fn write(&self) -> Result<bool, InfraError> {
        if self.is_fresh() {
            return Ok(false);
        }
        std::fs::write(&self.path, &self.generated).map_err(|source| InfraError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(true)
    }
}

/// The template `text` (read from `path`, named in errors) with every region generated from
/// `declarations`.
///
/// # Errors
/// [`InfraError::TemplateYaml`] when the text is not YAML, [`InfraError::Platform`] when its
/// `Metadata: Herald:` is missing or wrong, [`InfraError::Region`] for missing, unknown,
/// repeated or unbalanced markers.
pub fn generate(path: &Path, text: &str, declarations: &[Declaration]) -> Result<String, InfraError> {
    let platform = platform(path, text)?;
    let catalogued = match &platform.catalog {
        Some(folder) => Some(unrouted::catalogued(
            &path.parent().unwrap_or_else(|| Path::new(".")).join(folder),
        )?),
        None => None,
    };
    let region_error = |line: usize, message: String| InfraError::Region {
        path: path.to_owned(),
        line,
        message,
    };
    let mut out = String::with_capacity(text.len());
    let mut seen = BTreeSet::new();
    let mut open: Option<(&str, usize)> = None;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let trimmed = line.trim();
        if let Some((name, begun)) = open {
            if let Some(rest) = trimmed.strip_prefix(END) {
                if region_name(rest) != name {
                    return Err(region_error(
                        number,
                        format!("ends `{}` inside region `{name}`", region_name(rest)),
                    ));
                }
                out.push_str(line);
                open = None;
            } else if trimmed.starts_with(BEGIN) {
                return Err(region_error(
                    number,
                    format!("region `{name}` (line {begun}) is not ended"),
                ));
            }
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix(BEGIN) {
            let name = region_name(rest);
            if !REGIONS.iter().any(|(known, _)| *known == name) {
                return Err(region_error(
                    number,
                    format!("unknown region `{name}`; known: {}", REGIONS.map(|(n, _)| n).join(", ")),
                ));
            }
            if !seen.insert(name) {
                return Err(region_error(number, format!("region `{name}` appears twice")));
            }
            out.push_str(line);
            let indent = line.len() - line.trim_start().len();
            let catalogued = match (name.starts_with("unrouted"), &catalogued) {
                (true, None) => {
                    return Err(region_error(
                        number,
                        format!(
                            "region `{name}` is the catalog's complement: name the catalog folder in Metadata.Herald.Catalog"
                        ),
                    ));
                }
                (_, catalogued) => catalogued.as_ref(),
            };
            out.push_str(&region(name, indent, declarations, &platform, catalogued));
            open = Some((name, number));
        } else if trimmed.starts_with(END) {
            return Err(region_error(
                number,
                "an end marker without its begin marker".to_owned(),
            ));
        } else {
            out.push_str(line);
        }
    }
    let lines = text.lines().count();
    if let Some((name, begun)) = open {
        return Err(region_error(
            lines,
            format!("region `{name}` (line {begun}) is not ended"),
        ));
    }
    if let Some((missing, _)) = REGIONS
        .iter()
        .find(|(name, required)| *required && !seen.contains(name))
    {
        return Err(region_error(
            lines,
            format!("no `{BEGIN}{missing}` … `{END}{missing}` markers under Resources"),
        ));
    }
    Ok(out)
}

/// The region's name: the marker's first word, before any `:` and note.
fn region_name(rest: &str) -> &str {
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// The `Metadata: Herald:` section of the template.
fn platform(path: &Path, text: &str) -> Result<Platform, InfraError> {
    let template: Yaml = serde_yaml_ng::from_str(text).map_err(|source| InfraError::TemplateYaml {
        path: path.to_owned(),
        source,
    })?;
    let section = template
        .get("Metadata")
        .and_then(|m| m.get("Herald"))
        .cloned()
        .ok_or_else(|| InfraError::Platform {
            path: path.to_owned(),
            message: "missing: name the Bus, BusEvent, IdempotencyTable, AlertTopic and LogRetentionDays \
                      the generated resources use"
                .to_owned(),
        })?;
    let platform: Platform = serde_yaml_ng::from_value(section).map_err(|e| InfraError::Platform {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let function_timeout = template
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Timeout"))
        .and_then(Yaml::as_u64)
        .and_then(|t| u32::try_from(t).ok());
    Ok(Platform {
        function_timeout,
        ..platform
    })
}

fn region(
    name: &str,
    indent: usize,
    declarations: &[Declaration],
    platform: &Platform,
    catalogued: Option<&Catalogued>,
) -> String {
    let mut out = String::new();
    match (name, catalogued) {
        ("unrouted", Some(catalogued)) => {
            for (id, resource) in unrouted::resources(catalogued, platform) {
                yaml::write_entry(&mut out, &id, &resource, indent);
                out.push('\n');
            }
        }
        ("unrouted-outputs", Some(_)) => yaml::write_entries(&mut out, &unrouted::outputs(), indent),
        _ => {}
    }
    match name {
        "unrouted" | "unrouted-outputs" => {}
        "dashboard" => {
            for (id, resource) in crate::dashboard::resources(declarations) {
                yaml::write_entry(&mut out, &id, &resource, indent);
                out.push('\n');
            }
        }
        "consumers" => {
            for declaration in declarations {
                out.push_str(&format!(
                    "{:indent$}# ---------------------------------------------------------------- {}\n",
                    "", declaration.name
                ));
                for (id, resource) in render::resources(declaration, platform) {
                    yaml::write_entry(&mut out, &id, &resource, indent);
                    out.push('\n');
                }
            }
        }
        "consumer-outputs" => {
            for declaration in declarations {
                yaml::write_entries(&mut out, &render::outputs(declaration), indent);
            }
        }
        "dead-letter-queue-arns" => {
            let arns: Vec<Node> = declarations
                .iter()
                .map(|d| get_att(&render::dead_letter_queue_id(&d.name), "Arn"))
                .collect();
            yaml::write_items(&mut out, &arns, indent);
        }
        "errors-alarm-names" => {
            let names: Vec<Node> = declarations
                .iter()
                .map(|d| sub(render::errors_alarm_name(&d.name)))
                .collect();
            yaml::write_items(&mut out, &names, indent);
        }
        _ => {
            yaml::write_entry(
                &mut out,
                "REDRIVE_QUEUES",
                &sub(render::redrive_queues(declarations)),
                indent,
            );
        }
    }
    out
}

/// What differs between two template texts: `Resources.<id>` and `Outputs.<id>` that changed,
/// appeared or disappeared, other top-level sections by name, and "comments or layout" when
/// only the text differs. Empty when the texts are equal.
pub fn stale_parts(current: &str, expected: &str) -> Vec<String> {
    if current == expected {
        return Vec::new();
    }
    let (Ok(now), Ok(then)) = (
        serde_yaml_ng::from_str::<Yaml>(current),
        serde_yaml_ng::from_str::<Yaml>(expected),
    ) else {
        return vec!["the whole file (it is not YAML)".to_owned()];
    };
    let mut parts = Vec::new();
    let keys = |value: &Yaml| -> BTreeSet<String> {
        value
            .as_mapping()
            .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    for section in keys(&now).union(&keys(&then)) {
        let (a, b) = (&now[section.as_str()], &then[section.as_str()]);
        if a == b {
            continue;
        }
        if matches!(section.as_str(), "Resources" | "Outputs") {
            for id in keys(a).union(&keys(b)) {
                if a.get(id.as_str()) != b.get(id.as_str()) {
                    parts.push(format!("{section}.{id}"));
                }
            }
        } else {
            parts.push(section.clone());
        }
    }
    if parts.is_empty() {
        parts.push("comments or layout".to_owned());
    }
    parts
}
