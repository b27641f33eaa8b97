//! The consumers' part of a Herald SAM template, generated from one declaration per function.
//!
//! A consumer crate declares, under `[package.metadata.herald]` in its `Cargo.toml`, what it
//! consumes and emits, its tables and its limits; everything else (names, the dead-letter
//! queue, the log group, the least-privilege role, the rule, the alarms) follows from fixed
//! conventions. The hand-written rest of the template (bus, idempotency table, alert topic, …)
//! marks where the generated parts go and names those shared resources in its
//! `Metadata: Herald:` section.
//!
//! - [`workspace`] reads every package's `[package.metadata.herald]` with `cargo metadata`.
//! - [`event_ref`]: `source/DetailType/vN`, the catalog's name of one event version.
//! - [`declaration`] validates a declaration into a [`Declaration`], naming manifest and key.
//! - [`render`] turns declarations into resources: the per-consumer block lives there, once.
//! - [`dashboard`]: the stack's CloudWatch dashboard, a row per consumer.
//! - [`yaml`] writes those resources as readable YAML with CloudFormation's short-form tags.
//! - [`template`] splices the rendered regions into the template, and compares a template
//!   with what generation gives (`herald infra check`).
//! - [`stack`] reads a whole template back as the stack it describes (functions, rules,
//!   retries, environment, tables), for running it locally and for the event catalog.

pub mod dashboard;
pub mod declaration;
pub mod event_ref;
pub mod render;
pub mod stack;
pub mod template;
pub mod unrouted;
pub mod workspace;
pub mod yaml;

use std::path::PathBuf;

pub use declaration::{Declaration, Retries, Table, consumers};
pub use event_ref::EventRef;
pub use render::Platform;
pub use stack::{Stack, StackFunction, StackRule, StackTable};
pub use template::{Generation, generate, stale_parts};

/// The command that regenerates the template, as printed by `herald infra check`.
pub const GENERATE_COMMAND: &str = "cargo herald infra generate";

/// Why the declarations cannot be read, or the template cannot be generated or read as a stack.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// `cargo metadata` could not run or failed.
    #[error("cargo metadata in {workspace}: {message}")]
    Cargo {
        /// The workspace folder.
        workspace: PathBuf,
        /// What went wrong (cargo's stderr, or why it could not start).
        message: String,
    },
    /// `cargo metadata` printed something that is not its JSON format.
    #[error("cargo metadata in {workspace}: unexpected output: {source}")]
    MetadataFormat {
        /// The workspace folder.
        workspace: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A `[package.metadata.herald]` declaration is malformed.
    #[error("{manifest}: {key}: {message}")]
    Declaration {
        /// The crate's `Cargo.toml`.
        manifest: PathBuf,
        /// The key, e.g. `package.metadata.herald.tables[0].partition-key`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two declarations claim the same table logical id in the template.
    #[error("{second}: {key}: `{name}` is already declared by {first}")]
    Duplicate {
        /// The manifest that declared it first.
        first: PathBuf,
        /// The manifest that declares it again.
        second: PathBuf,
        /// The key in the second manifest.
        key: String,
        /// The duplicated name.
        name: String,
    },
    /// A file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The template is not YAML.
    #[error("{path}: not YAML: {source}")]
    TemplateYaml {
        /// The template.
        path: PathBuf,
        /// The parser's error, with line and column.
        source: serde_yaml_ng::Error,
    },
    /// The template's `Metadata: Herald:` section is missing or incomplete.
    #[error("{path}: Metadata.Herald: {message}")]
    Platform {
        /// The template.
        path: PathBuf,
        /// What is missing or wrong.
        message: String,
    },
    /// A generated region's markers are missing, unbalanced or unknown.
    #[error("{path}: line {line}: {message}")]
    Region {
        /// The template.
        path: PathBuf,
        /// 1-based line of the marker (or of the end of the file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The template does not describe a stack of the expected shape ([`Stack`]).
    #[error("{path}: {place}: {message}")]
    Stack {
        /// The template.
        path: PathBuf,
        /// Where: a resource id and property path, or a YAML line and column.
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A rule's pattern is not a valid EventBridge pattern.
    #[error("{path}: Resources.{function}.Properties.Events.{event}.Properties.Pattern: {source}")]
    Pattern {
        /// The template.
        path: PathBuf,
        /// The function's logical id.
        function: String,
        /// The event source's name.
        event: String,
        /// The pattern error, with its own path.
        source: Box<event_pattern::PatternError>,
    },
}
