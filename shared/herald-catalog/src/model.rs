//! The catalog as it is on disk: `events/<source>/<DetailType>/` folders holding each version's
//! JSON Schema (`v<N>.schema.json`), its samples (`v<N>.sample[.<label>].json`), and an optional
//! `event.yaml` that declares what the code cannot show: producers outside this repository, and
//! consumers outside it or none on purpose.
//!
//! Loading only reads and parses; whether the files agree with each other, the template and the
//! functions is [`super::check`]'s business.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The name of the optional declarations file in an event's folder.
pub const DECLARATIONS_FILE: &str = "event.yaml";

/// Why the catalog cannot be read; every variant names the file or folder.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file or folder cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON file does not parse.
    #[error("{path}: not JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error, with line and column.
        source: serde_json::Error,
    },
    /// `event.yaml` does not parse or has unknown keys.
    #[error("{path}: {message}")]
    Declarations {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A file whose name is not one the catalog knows.
    #[error(
        "{path}: unexpected file; an event folder holds v<N>.schema.json, v<N>.sample.json, \
         v<N>.sample.<label>.json and {DECLARATIONS_FILE}"
    )]
    UnexpectedFile {
        /// The file.
        path: PathBuf,
    },
    /// A version with samples but no schema, or a schema but no sample.
    #[error("{path}: {message}")]
    Incomplete {
        /// The event's folder.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
}

/// Every catalogued event, by source then detail-type.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The catalog's folder (`events/`).
    pub root: PathBuf,
    /// Every event, sorted by source then detail-type.
    pub events: Vec<CatalogEvent>,
}

/// One detail-type of one source, with all its versions.
#[derive(Debug, Clone)]
pub struct CatalogEvent {
    /// `source`, the first folder level, e.g. `shop.orders`.
    pub source: String,
    /// `detail-type`, the second folder level, e.g. `OrderPlaced`.
    pub detail_type: String,
    /// The event's folder.
    pub dir: PathBuf,
    /// Its versions, ascending.
    pub versions: Vec<EventVersion>,
    /// What `event.yaml` declares (all empty without one).
    pub declared: Declarations,
}

/// One version of an event.
#[derive(Debug, Clone)]
pub struct EventVersion {
    /// `N` of `v<N>`.
    pub number: u32,
    /// `v<N>.schema.json`.
    pub schema_path: PathBuf,
    /// The schema of `detail`, as parsed JSON.
    pub schema: serde_json::Value,
    /// Its samples: the main one first, then labelled ones by label.
    pub samples: Vec<Sample>,
}

/// A sample: the whole event as EventBridge delivers it to a target.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The file.
    pub path: PathBuf,
    /// `<label>` of `v<N>.sample.<label>.json`; `None` for the main sample.
    pub label: Option<String>,
    /// The event.
    pub event: serde_json::Value,
}

/// `event.yaml`: what the catalog cannot derive.
///
/// ```yaml
/// # Systems outside this repository that publish the event.
/// external-producers: [order-service]
/// # Systems outside this repository that consume it (another account, a partner, …).
/// external-consumers: [data-warehouse]
/// # Or: nobody consumes it, on purpose, and why.
/// terminal: the end of the flow; kept for audit and replay
/// # Free text shown on the event's page.
/// description: …
/// ```
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Declarations {
    /// Producers outside this repository.
    #[serde(default)]
    pub external_producers: Vec<String>,
    /// Consumers outside this repository.
    #[serde(default)]
    pub external_consumers: Vec<String>,
    /// Why nobody consumes the event, when that is on purpose.
    #[serde(default)]
    pub terminal: Option<String>,
    /// A description for the catalog's page.
    #[serde(default)]
    pub description: Option<String>,
}

impl CatalogEvent {
    /// `source/DetailType`, the event's name in messages.
    pub fn name(&self) -> String {
        format!("{}/{}", self.source, self.detail_type)
    }

    /// The version numbered `number`.
    pub fn version(&self, number: u32) -> Option<&EventVersion> {
        self.versions.iter().find(|v| v.number == number)
    }

    /// The highest version.
    pub fn latest(&self) -> Option<&EventVersion> {
        self.versions.last()
    }
}

impl Catalog {
    /// Reads the catalog under `root`. Files at the top level (a README) are ignored; below it,
    /// every file must be one the catalog knows.
    ///
    /// # Errors
    /// The first file that cannot be read or parsed, or does not belong, named.
    pub fn load(root: &Path) -> Result<Self, CatalogError> {
        let mut events = Vec::new();
        for source_dir in subdirectories(root)? {
            let Some(source) = file_name(&source_dir) else {
                continue;
            };
            for event_dir in subdirectories(&source_dir)? {
                let Some(detail_type) = file_name(&event_dir) else {
                    continue;
                };
                events.push(load_event(source.clone(), detail_type, event_dir)?);
            }
            let stray = files(&source_dir)?.into_iter().next();
            if let Some(path) = stray {
                return Err(CatalogError::UnexpectedFile { path });
            }
        }
        events.sort_by(|a, b| (&a.source, &a.detail_type).cmp(&(&b.source, &b.detail_type)));
        Ok(Self {
            root: root.to_owned(),
            events,
        })
    }

    /// The event with this source and detail-type.
    pub fn event(&self, source: &str, detail_type: &str) -> Option<&CatalogEvent> {
        self.events
            .iter()
            .find(|e| e.source == source && e.detail_type == detail_type)
    }

    /// Every sample of every version of every event, with its event and version.
    pub fn samples(&self) -> impl Iterator<Item = (&CatalogEvent, &EventVersion, &Sample)> {
        self.events.iter().flat_map(|event| {
            event
                .versions
                .iter()
                .flat_map(move |version| version.samples.iter().map(move |sample| (event, version, sample)))
        })
    }
}

/// What a file name in an event folder says it is.
enum Entry {
    Schema(u32),
    Sample(u32, Option<String>),
    Declarations,
}

fn classify(name: &str) -> Option<Entry> {
    if name == DECLARATIONS_FILE {
        return Some(Entry::Declarations);
    }
    let stem = name.strip_suffix(".json")?;
    let (version, rest) = stem.strip_prefix('v')?.split_once('.')?;
    if version.starts_with('0') || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = version.parse().ok()?;
    match rest.split_once('.') {
        None if rest == "schema" => Some(Entry::Schema(number)),
        None if rest == "sample" => Some(Entry::Sample(number, None)),
        Some(("sample", label))
            if !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            Some(Entry::Sample(number, Some(label.to_owned())))
        }
        _ => None,
    }
}

fn load_event(source: String, detail_type: String, dir: PathBuf) -> Result<CatalogEvent, CatalogError> {
    let mut schemas = BTreeMap::new();
    let mut samples: BTreeMap<u32, Vec<Sample>> = BTreeMap::new();
    let mut declared = Declarations::default();
    if let Some(path) = subdirectories(&dir)?.into_iter().next() {
        return Err(CatalogError::UnexpectedFile { path });
    }
    for path in files(&dir)? {
        let entry = file_name(&path).as_deref().and_then(classify);
        match entry {
            Some(Entry::Schema(number)) => {
                let schema = read_json(&path)?;
                schemas.insert(number, (path, schema));
            }
            Some(Entry::Sample(number, label)) => {
                let event = read_json(&path)?;
                samples.entry(number).or_default().push(Sample { path, label, event });
            }
            Some(Entry::Declarations) => {
                let text = read(&path)?;
                declared = serde_yaml_ng::from_str(&text).map_err(|e| CatalogError::Declarations {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
            None => return Err(CatalogError::UnexpectedFile { path }),
        }
    }
    if let Some(number) = samples.keys().find(|n| !schemas.contains_key(n)) {
        return Err(CatalogError::Incomplete {
            path: dir,
            message: format!("v{number} has samples but no v{number}.schema.json"),
        });
    }
    let mut versions = Vec::new();
    for (number, (schema_path, schema)) in schemas {
        let mut samples = samples.remove(&number).unwrap_or_default();
        if samples.is_empty() {
            return Err(CatalogError::Incomplete {
                path: dir,
                message: format!("v{number} has a schema but no v{number}.sample.json"),
            });
        }
        samples.sort_by(|a, b| a.label.cmp(&b.label));
        versions.push(EventVersion {
            number,
            schema_path,
            schema,
            samples,
        });
    }
    if versions.is_empty() {
        return Err(CatalogError::Incomplete {
            path: dir,
            message: "no versions: add v1.schema.json and v1.sample.json".into(),
        });
    }
    Ok(CatalogEvent {
        source,
        detail_type,
        dir,
        versions,
        declared,
    })
}

fn read(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_json(path: &Path) -> Result<serde_json::Value, CatalogError> {
    serde_json::from_str(&read(path)?).map_err(|source| CatalogError::Json {
        path: path.to_owned(),
        source,
    })
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name().and_then(|n| n.to_str()).map(str::to_owned)
}

/// The entries of `dir`, sorted, split into folders and files.
fn entries(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), CatalogError> {
    let failed = |source| CatalogError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(failed)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    paths.sort();
    Ok(paths.into_iter().partition(|p| p.is_dir()))
}

fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    Ok(entries(dir)?.0)
}

fn files(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    Ok(entries(dir)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_catalog() -> Result<Catalog, CatalogError> {
        Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events"))
    }

    #[test]
    fn the_project_catalog_loads_every_event_with_its_versions_and_samples() -> Result<(), CatalogError> {
        let catalog = project_catalog()?;
        let placed = catalog.event("shop.orders", "OrderPlaced");
        let numbers: Vec<u32> = placed.iter().flat_map(|e| &e.versions).map(|v| v.number).collect();
        assert_eq!(numbers, [1, 2]);
        let labels: Vec<Option<&str>> = placed
            .and_then(|e| e.version(1))
            .iter()
            .flat_map(|v| &v.samples)
            .map(|s| s.label.as_deref())
            .collect();
        assert_eq!(labels, [None, Some("insured")]);
        assert!(catalog.samples().count() >= 14);
        Ok(())
    }

    #[test]
    fn file_names_are_classified_by_version_kind_and_label() {
        assert!(matches!(classify("v2.schema.json"), Some(Entry::Schema(2))));
        assert!(matches!(classify("v1.sample.json"), Some(Entry::Sample(1, None))));
        assert!(matches!(classify("v1.sample.thin-order.json"), Some(Entry::Sample(1, Some(l))) if l == "thin-order"));
        for wrong in [
            "v1.json",
            "v01.schema.json",
            "v1.sample.Big.json",
            "schema.json",
            "v1.schema.yaml",
            "vx.sample.json",
        ] {
            assert!(classify(wrong).is_none(), "{wrong}");
        }
    }

    #[test]
    fn a_stray_file_in_an_event_folder_is_named() -> Result<(), Box<dyn std::error::Error>> {
        let root = std::env::temp_dir().join(format!("herald-catalog-model-{}", uuid::Uuid::new_v4()));
        let dir = root.join("shop.test/Thing");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("v1.schema.json"), "{}")?;
        std::fs::write(dir.join("v1.sample.json"), "{}")?;
        std::fs::write(dir.join("notes.txt"), "")?;
        let error = Catalog::load(&root).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("shop.test/Thing/notes.txt: unexpected file"), "{error}");
        std::fs::remove_file(dir.join("notes.txt"))?;
        std::fs::remove_file(dir.join("v1.sample.json"))?;
        let error = Catalog::load(&root).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("v1 has a schema but no v1.sample.json"), "{error}");
        std::fs::remove_dir_all(&root)?;
        Ok(())
    }
}
