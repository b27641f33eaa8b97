//! What each function says it publishes, read from its crate's `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.herald]
//! # Every event the function may publish, as its catalog path: source/DetailType/vN.
//! emits = ["shop.inventory/StockReserved/v1", "shop.inventory/StockShortage/v1"]
//! ```
//!
//! A function that publishes nothing says `emits = []`. The declarations are read with
//! `cargo metadata` (through [`herald_infra::workspace`], which also reads the rest of each
//! consumer's declaration for the template), so they are found wherever the crates live in the workspace; a test of the
//! project (`herald-cli/tests/catalog.rs`) runs every function over the catalog and holds each
//! declaration to what the code really published.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use herald_infra::EventRef;
use herald_infra::InfraError;

/// Why the declarations cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EmitsError {
    /// `cargo metadata` could not run or failed.
    #[error(transparent)]
    Workspace(#[from] InfraError),
    /// A declaration is not `source/DetailType/vN`.
    #[error("{manifest}: package.metadata.herald.emits: `{text}` is not source/DetailType/vN")]
    Malformed {
        /// The crate's `Cargo.toml`.
        manifest: PathBuf,
        /// The entry.
        text: String,
    },
}

/// A crate's declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitsDeclaration {
    /// The crate's `Cargo.toml`.
    pub manifest: PathBuf,
    /// What it publishes; `None` when the crate has no `[package.metadata.herald]` `emits`.
    pub emits: Option<Vec<EventRef>>,
}

/// Every binary of the workspace at `workspace`, with its crate's declaration.
///
/// # Errors
/// [`EmitsError`] when `cargo metadata` fails or an entry is malformed.
pub fn declarations(workspace: &Path) -> Result<BTreeMap<String, EmitsDeclaration>, EmitsError> {
    let mut found = BTreeMap::new();
    for package in herald_infra::workspace::packages(workspace)? {
        let entries = package.herald.as_ref().and_then(|h| h.get("emits")).cloned();
        let emits = match entries {
            Some(entries) => {
                let texts: Vec<String> = serde_json::from_value(entries).map_err(|e| EmitsError::Malformed {
                    manifest: package.manifest.clone(),
                    text: e.to_string(),
                })?;
                Some(
                    texts
                        .into_iter()
                        .map(|text| {
                            EventRef::parse(&text).ok_or_else(|| EmitsError::Malformed {
                                manifest: package.manifest.clone(),
                                text,
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )
            }
            None => None,
        };
        for binary in &package.binaries {
            found.insert(
                binary.clone(),
                EmitsDeclaration {
                    manifest: package.manifest.clone(),
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
