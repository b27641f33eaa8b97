//! `herald catalog check` and `herald catalog build`: the event catalog, derived from the code,
//! the template and the schemas, so that it cannot go stale.
//!
//! - [`model`] reads `events/`; [`emits`] reads what each function declares it publishes;
//!   [`graph`] derives producers and consumers (the template's rules run over the samples);
//! - [`schema`] and [`evolution`] read schemas and compare versions;
//! - [`check`] lists every disagreement, naming the file to fix;
//! - [`site`] writes the browsable static site.

pub mod check;
pub mod emits;
pub mod evolution;
pub mod graph;
pub mod model;
pub mod schema;
pub mod site;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::dev::template::{DevTemplate, TemplateError};

use self::check::{Baseline, Problem};
use self::emits::EmitsError;
use self::graph::Flow;
use self::model::{Catalog, CatalogError};

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

/// Why a catalog command failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogCommandError {
    /// The catalog cannot be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The template cannot be read.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The functions' declarations cannot be read.
    #[error(transparent)]
    Emits(#[from] EmitsError),
    /// The check found problems (already printed).
    #[error("catalog check: {0} problem(s)")]
    Problems(usize),
    /// The site cannot be written.
    #[error("{path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
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
}

/// Reads the inputs, derives the flow and checks it.
///
/// # Errors
/// When an input cannot be read at all; problems with readable inputs are in [`Checked`].
pub fn load_and_check(options: &CatalogOptions) -> Result<Checked, CatalogCommandError> {
    let catalog = Catalog::load(&options.events)?;
    let template = DevTemplate::load(&options.template)?;
    let declarations = emits::declarations(&options.workspace)?;
    let flow = Flow::derive(&catalog, &template, &declarations);
    let baseline = Baseline::from_git(&options.events, &options.base);
    let problems = check::check(&catalog, &options.template, &flow, &baseline);
    Ok(Checked {
        catalog,
        flow,
        baseline,
        problems,
    })
}

/// `herald catalog check`: prints each problem and a summary.
///
/// # Errors
/// [`CatalogCommandError::Problems`] when anything must be fixed.
pub fn run_check(options: &CatalogOptions, out: &mut impl Write) -> Result<(), CatalogCommandError> {
    let checked = load_and_check(options)?;
    report(&checked, out)
}

/// `herald catalog build`: checks, then writes the site to `site_dir`.
///
/// # Errors
/// [`CatalogCommandError::Problems`] when the check fails (nothing is written), or a write error.
pub fn run_build(options: &CatalogOptions, site_dir: &Path, out: &mut impl Write) -> Result<(), CatalogCommandError> {
    let checked = load_and_check(options)?;
    report(&checked, out)?;
    let pages = site::write(&checked.catalog, &checked.flow, site_dir).map_err(|e| CatalogCommandError::Write {
        path: e.path,
        source: e.source,
    })?;
    writeln!(
        out,
        "catalog build: {pages} pages in {} (open {})",
        site_dir.display(),
        site_dir.join("index.html").display()
    )
    .ok();
    Ok(())
}

fn report(checked: &Checked, out: &mut impl Write) -> Result<(), CatalogCommandError> {
    for problem in &checked.problems {
        writeln!(out, "{problem}").ok();
    }
    let versions: usize = checked.catalog.events.iter().map(|e| e.versions.len()).sum();
    writeln!(
        out,
        "catalog check: {} events, {versions} versions, {} samples, {} functions, {} rules; compared with {}: {}",
        checked.catalog.events.len(),
        checked.catalog.samples().count(),
        checked.flow.functions.len(),
        checked.flow.functions.iter().map(|f| f.rules.len()).sum::<usize>(),
        checked.baseline.describe(),
        if checked.problems.is_empty() {
            "ok".to_owned()
        } else {
            format!("{} problem(s)", checked.problems.len())
        }
    )
    .ok();
    if checked.problems.is_empty() {
        Ok(())
    } else {
        Err(CatalogCommandError::Problems(checked.problems.len()))
    }
}
