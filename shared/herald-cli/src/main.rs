//! The `herald` command.
//!
//! `herald show [PATH…]` decodes catalogued sample events (files, or directories searched for
//! `*.sample*.json`) into their typed envelopes and prints each business flow as a causation
//! tree: events grouped by correlation id, each under the event that caused it.

mod show;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Tools for Herald's event-driven consumers.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode sample events and print each flow as a causation tree.
    Show {
        /// Event files or directories to search for `*.sample*.json`.
        #[arg(default_value = "events")]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Show { paths } => show::run(&paths, &mut std::io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("herald: {error}");
            ExitCode::FAILURE
        }
    }
}
