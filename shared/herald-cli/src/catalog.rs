//! `herald catalog check` and `herald catalog build`: the event catalog ([`herald_catalog`])
//! checked, printed, and written as a static site.

use std::io::Write;
use std::path::Path;

use herald_catalog::{CatalogOptions, Checked, LoadError, SiteError};

/// Why a catalog command failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogCommandError {
    /// An input cannot be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The check found problems (already printed).
    #[error("catalog check: {0} problem(s)")]
    Problems(usize),
    /// The site cannot be written.
    #[error(transparent)]
    Write(#[from] SiteError),
}

/// `herald catalog check`: prints each problem, each warning and a summary.
///
/// # Errors
/// [`CatalogCommandError::Problems`] when anything must be fixed.
pub fn run_check(options: &CatalogOptions, out: &mut impl Write) -> Result<(), CatalogCommandError> {
    let checked = herald_catalog::load_and_check(options)?;
    report(&checked, out)
}

/// `herald catalog build`: checks, then writes the site to `site_dir`.
///
/// # Errors
/// [`CatalogCommandError::Problems`] when the check fails (nothing is written), or a write error.
pub fn run_build(options: &CatalogOptions, site_dir: &Path, out: &mut impl Write) -> Result<(), CatalogCommandError> {
    let checked = herald_catalog::load_and_check(options)?;
    report(&checked, out)?;
    let pages = herald_catalog::site::write(&checked.catalog, &checked.flow, site_dir)?;
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
    // Warnings are printed but never fail the check: EventBridge accepts what they point at.
    for warning in &checked.warnings {
        writeln!(out, "warning: {warning}").ok();
    }
    writeln!(out, "{}", checked.summary()).ok();
    if checked.problems.is_empty() {
        Ok(())
    } else {
        Err(CatalogCommandError::Problems(checked.problems.len()))
    }
}
