//! The event catalog of a Herald workspace, derived from the code, the template and the schemas
//! so that it cannot go stale: read, checked, and written as a browsable static site. The
//! `herald catalog check|build` commands are a thin layer over [`load_and_check`] and
//! [`site::write`].
//!
//! - [`model`] reads the catalog folder (`events/<source>/<DetailType>/vN.schema.json`, samples,
//!   `event.yaml`); [`emits`] reads what each function declares it publishes;
//! - [`graph`] derives producers and consumers: the template's rules (read by
//!   [`herald_infra::stack`]) run over the samples;
//! - [`schema`] and [`evolution`] read schemas and compare versions;
//! - [`check`] lists every disagreement, naming the file to fix;
//! - [`site`] writes the browsable static site, with its flow diagram.

pub mod check;
pub mod emits;
pub mod evolution;
pub mod graph;
pub mod model;
pub mod schema;
pub mod site;

use std::path::PathBuf;

use herald_infra::{InfraError, Stack};

pub use check::{Baseline, Problem};
pub use emits::EmitsError;
pub use graph::Flow;
pub use model::{Catalog, CatalogError};
pub use site::SiteError;

/// Where the catalog's inputs are.
#[derive(Debug, Clone)]
pub struct CatalogOptions {
    /// The catalog folder (`events`).
    pub events: PathBuf,
    /// The SAM template (`infra/template.yaml`).
    pub template: PathBuf,
    /// The Cargo workspace whose crates declare what they emit (`.`).
    pub workspace: PathBuf,
    /// The git revision holding the published schemas (`HEAD`).
    pub base: String,
}

/// Why the catalog's inputs cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The catalog cannot be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The template cannot be read.
    #[error(transparent)]
    Template(#[from] InfraError),
    /// The functions' declarations cannot be read.
    #[error(transparent)]
    Emits(#[from] EmitsError),
}

/// Everything read and derived, and what is wrong with it.
#[derive(Debug)]
pub struct Checked {
    /// The catalog.
    pub catalog: Catalog,
    /// The flow through the template.
    pub flow: Flow,
    /// What the schemas were compared with.
    pub baseline: Baseline,
    /// What to fix.
    pub problems: Vec<Problem>,
    /// What to look at, without failing the check ([`check::warnings`]).
    pub warnings: Vec<Problem>,
}

/// Reads the inputs, derives the flow and checks it.
///
/// # Errors
/// [`LoadError`] when an input cannot be read at all; problems with readable inputs are in
/// [`Checked::problems`].
pub fn load_and_check(options: &CatalogOptions) -> Result<Checked, LoadError> {
    let catalog = Catalog::load(&options.events)?;
    let template = Stack::load(&options.template)?;
    let declarations = emits::declarations(&options.workspace)?;
    let flow = Flow::derive(&catalog, &template, &declarations);
    let baseline = Baseline::from_git(&options.events, &options.base);
    let problems = check::check(&catalog, &options.template, &flow, &baseline);
    let warnings = check::warnings(&options.template, &flow.functions);
    Ok(Checked {
        catalog,
        flow,
        baseline,
        problems,
        warnings,
    })
}

impl Checked {
    /// One line saying what was checked and how it went: `catalog check: 12 events, …: ok`.
    pub fn summary(&self) -> String {
        let versions: usize = self.catalog.events.iter().map(|e| e.versions.len()).sum();
        format!(
            "catalog check: {} events, {versions} versions, {} samples, {} functions, {} rules; compared with {}: {}",
            self.catalog.events.len(),
            self.catalog.samples().count(),
            self.flow.functions.len(),
            self.flow.functions.iter().map(|f| f.rules.len()).sum::<usize>(),
            self.baseline.describe(),
            match (self.problems.len(), self.warnings.len()) {
                (0, 0) => "ok".to_owned(),
                (0, warnings) => format!("ok, {warnings} warning(s)"),
                (problems, 0) => format!("{problems} problem(s)"),
                (problems, warnings) => format!("{problems} problem(s), {warnings} warning(s)"),
            }
        )
    }
}
