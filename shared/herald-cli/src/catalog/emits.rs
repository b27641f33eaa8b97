//! What each function says it publishes, read from its crate's `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.herald]
//! # Every event the function may publish, as its catalog path: source/DetailType/vN.
//! emits = ["shop.inventory/StockReserved/v1", "shop.inventory/StockShortage/v1"]
//! ```
//!
//! A function that publishes nothing says `emits = []`. The declarations are read with
//! `cargo metadata`, so they are found wherever the crates live in the workspace; a test of the
//! project (`herald-cli/tests/catalog.rs`) runs every function over the catalog and holds each
//! declaration to what the code really published.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// Why the declarations cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EmitsError {
    /// `cargo metadata` could not run or failed.
    #[error("cargo metadata in {workspace}: {message}")]
    Cargo {
        /// The workspace folder.
        workspace: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A declaration is not `source/DetailType/vN`.
    #[error("{manifest}: package.metadata.herald.emits: `{text}` is not source/DetailType/vN")]
    Malformed {
        /// The crate's `Cargo.toml`.
        manifest: PathBuf,
        /// The entry.
        text: String,
    },
}

/// One event version a function declares it publishes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventRef {
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// Schema version.
    pub version: u32,
}

impl EventRef {
    /// Parses `source/DetailType/vN`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let (source, detail_type, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || source.is_empty() || detail_type.is_empty() {
            return None;
        }
        let version = version.strip_prefix('v')?.parse().ok().filter(|n| *n > 0)?;
        Some(Self {
            source: source.to_owned(),
            detail_type: detail_type.to_owned(),
            version,
        })
    }
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/v{}", self.source, self.detail_type, self.version)
    }
}

/// A crate's declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitsDeclaration {
    /// The crate's `Cargo.toml`.
    pub manifest: PathBuf,
    /// What it publishes; `None` when the crate has no `[package.metadata.herald]` `emits`.
    pub emits: Option<Vec<EventRef>>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    manifest_path: PathBuf,
    targets: Vec<Target>,
    #[serde(default)]
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct PackageMetadata {
    #[serde(default)]
    herald: Option<HeraldMetadata>,
}

#[derive(Deserialize)]
struct HeraldMetadata {
    #[serde(default)]
    emits: Option<Vec<String>>,
}

/// Every binary of the workspace at `workspace`, with its crate's declaration.
///
/// # Errors
/// [`EmitsError`] when `cargo metadata` fails or an entry is malformed.
pub fn declarations(workspace: &Path) -> Result<BTreeMap<String, EmitsDeclaration>, EmitsError> {
    let cargo = |message: String| EmitsError::Cargo {
        workspace: workspace.to_owned(),
        message,
    };
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace)
        .output()
        .map_err(|e| cargo(e.to_string()))?;
    if !output.status.success() {
        return Err(cargo(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout).map_err(|e| cargo(e.to_string()))?;
    let mut found = BTreeMap::new();
    for package in metadata.packages {
        let emits = match package.metadata.and_then(|m| m.herald).and_then(|h| h.emits) {
            Some(entries) => Some(
                entries
                    .into_iter()
                    .map(|text| {
                        EventRef::parse(&text).ok_or_else(|| EmitsError::Malformed {
                            manifest: package.manifest_path.clone(),
                            text,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        for target in package.targets.iter().filter(|t| t.kind.iter().any(|k| k == "bin")) {
            found.insert(
                target.name.clone(),
                EmitsDeclaration {
                    manifest: package.manifest_path.clone(),
                    emits: emits.clone(),
                },
            );
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reference_is_source_detail_type_and_version() {
        let parsed = EventRef::parse("shop.inventory/StockReserved/v1");
        assert_eq!(
            parsed.as_ref().map(ToString::to_string).as_deref(),
            Some("shop.inventory/StockReserved/v1")
        );
        for wrong in [
            "shop.inventory/StockReserved",
            "a/b/1",
            "a/b/v0",
            "/b/v1",
            "a/b/v1/x",
            "a/b/vx",
        ] {
            assert!(EventRef::parse(wrong).is_none(), "{wrong}");
        }
    }

    #[test]
    fn the_workspace_functions_declarations_are_found_by_binary_name() -> Result<(), EmitsError> {
        let found = declarations(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))?;
        let inventory = found.get("inventory").and_then(|d| d.emits.clone()).unwrap_or_default();
        assert!(
            inventory.contains(&EventRef {
                source: "shop.inventory".into(),
                detail_type: "StockReserved".into(),
                version: 1
            }),
            "{inventory:?}"
        );
        assert!(found.get("herald").is_some_and(|d| d.emits.is_none()));
        Ok(())
    }
}
