//! The workspace's packages and their `[package.metadata.herald]` tables, read with
//! `cargo metadata --no-deps`, so crates are found wherever they live in the workspace.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::InfraError;

/// One package of the workspace.
#[derive(Debug, Clone)]
pub struct Package {
    /// Package name (for a Herald function also its folder and binary name).
    pub name: String,
    /// Its `Cargo.toml`.
    pub manifest: PathBuf,
    /// Names of its binary targets.
    pub binaries: Vec<String>,
    /// Its `[package.metadata.herald]` table, as JSON, if it has one.
    pub herald: Option<serde_json::Value>,
}

/// The workspace as `cargo metadata` describes it.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Its root folder.
    pub root: PathBuf,
    /// Its packages, in `cargo metadata`'s order.
    pub packages: Vec<Package>,
    /// Its `[workspace.metadata.herald]` table, as JSON, if it has one.
    pub herald: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Metadata {
    workspace_root: PathBuf,
    packages: Vec<RawPackage>,
    #[serde(default)]
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
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
    herald: Option<serde_json::Value>,
}

/// Every package of the workspace at `workspace`, in `cargo metadata`'s order.
///
/// # Errors
/// As [`read`].
pub fn packages(workspace: &Path) -> Result<Vec<Package>, InfraError> {
    read(workspace).map(|workspace| workspace.packages)
}

/// The workspace at `workspace`: its root, packages and Herald tables.
///
/// # Errors
/// [`InfraError::Cargo`] when cargo cannot run or fails, [`InfraError::MetadataFormat`] when
/// its output is not what `--format-version 1` promises.
pub fn read(workspace: &Path) -> Result<Workspace, InfraError> {
    let cargo = |message: String| InfraError::Cargo {
        workspace: workspace.to_owned(),
        message,
    };
    // Under `cargo run` / `cargo test`, CARGO names the cargo that is running us.
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace)
        .output()
        .map_err(|e| cargo(e.to_string()))?;
    if !output.status.success() {
        return Err(cargo(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout).map_err(|source| InfraError::MetadataFormat {
        workspace: workspace.to_owned(),
        source,
    })?;
    let packages = metadata
        .packages
        .into_iter()
        .map(|package| Package {
            name: package.name,
            manifest: package.manifest_path,
            binaries: package
                .targets
                .into_iter()
                .filter(|t| t.kind.iter().any(|k| k == "bin"))
                .map(|t| t.name)
                .collect(),
            herald: package.metadata.and_then(|m| m.herald),
        })
        .collect();
    Ok(Workspace {
        root: metadata.workspace_root,
        packages,
        herald: metadata.metadata.and_then(|m| m.herald),
    })
}
