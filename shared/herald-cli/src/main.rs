//! The `herald` command.
//!
//! - `herald dev [INPUT…]`: runs the template's functions locally — real binaries behind a local
//!   Lambda Runtime API, a local bus routing by the template's rules — and prints each input
//!   event's causation trace (see [`dev`]).
//! - `herald invoke FUNCTION --event FILE`: one function, one event, through the same runtime.
//! - `herald show [PATH…]`: decodes catalogued sample events and prints each business flow as a
//!   causation tree (see [`show`]).
//! - `herald trace ID`: one flow's causation tree (a correlation id, an event id or an order id),
//!   rebuilt from the functions' logs in CloudWatch Logs or `herald dev`'s log files (see
//!   [`flow`]).
//! - `herald replay …`: replays an archive's events to chosen rules (see [`replay`]).
//! - `herald redrive …`: puts a dead-letter queue's events back on their bus (see [`redrive`]).
//! - `herald catalog check` / `herald catalog build`: checks the event catalog against the
//!   template and the functions, and writes it as a static site (see [`catalog`]).
//! - `herald infra generate` / `herald infra check`: writes, or checks, the template's consumer
//!   resources generated from the functions' declarations (see [`infra`]).
//! - `herald new NAME --consumes …`: scaffolds a consumer crate with its declaration and
//!   regenerates the template (see [`scaffold`]).

mod catalog;
mod dev;
mod flow;
mod infra;
mod redrive;
mod replay;
mod scaffold;
mod show;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

/// Tools for Herald's event-driven consumers.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the template's functions locally and print each input event's causation trace.
    Dev {
        /// Event files, directories of them (every `*.sample*.json` below), or `-` for
        /// standard input.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Deliver each input this many times (shows idempotency).
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// Print JSON lines instead of trees.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Invoke one function once with one event, through the same local runtime.
    Invoke {
        /// The function's binary name, e.g. `inventory`.
        function: String,
        /// The event file.
        #[arg(long)]
        event: PathBuf,
        #[command(flatten)]
        local: LocalArgs,
    },
    /// Replay an archive's events of a time window to chosen rules, following it to the end.
    Replay(replay::ReplayArgs),
    /// Rebuild one flow's causation tree from the functions' logs (CloudWatch Logs, or
    /// `herald dev`'s log files) and print it as `herald dev` does.
    Trace(flow::TraceArgs),
    /// Put the events of an EventBridge target dead-letter queue back on their bus.
    Redrive(redrive::RedriveArgs),
    /// Check the event catalog, or build its browsable site.
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
    },
    /// Scaffold a consumer: its crate (handler, error, test), its declaration, and the template
    /// regenerated, so `herald dev` and the tests take it at once.
    New {
        /// Package, folder and binary name, e.g. `loyalty`.
        name: String,
        /// An event version it consumes, as the catalog names it: `source/DetailType/vN`.
        #[arg(long, required = true, num_args = 1..)]
        consumes: Vec<String>,
        /// An event version it may publish (`source/DetailType/vN`).
        #[arg(long, num_args = 1..)]
        emits: Vec<String>,
        /// One line saying what it does (default: what it reacts to).
        #[arg(long)]
        description: Option<String>,
        /// The Cargo workspace.
        #[arg(long, default_value = ".")]
        workspace: PathBuf,
        /// The event catalog.
        #[arg(long, default_value = "events")]
        catalog: PathBuf,
        /// The SAM template to regenerate.
        #[arg(long, default_value = "infra/template.yaml")]
        template: PathBuf,
    },
    /// Generate the template's consumer resources from the functions' declarations, or check them.
    Infra {
        #[command(subcommand)]
        action: infra::InfraAction,
    },
    /// Decode sample events and print each flow as a causation tree.
    Show {
        /// Event files or directories to search for `*.sample*.json`.
        #[arg(default_value = "events")]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogAction {
    /// Fail, naming the file, when samples, schemas, rules and the functions' declarations disagree,
    /// or a published schema changed incompatibly.
    Check {
        #[command(flatten)]
        inputs: CatalogArgs,
    },
    /// Check, then write the catalog as a static HTML site (no server needed).
    Build {
        /// The site's folder.
        #[arg(long, default_value = "target/catalog")]
        out: PathBuf,
        #[command(flatten)]
        inputs: CatalogArgs,
    },
}

#[derive(Debug, Args)]
struct CatalogArgs {
    /// The catalog folder.
    #[arg(long, default_value = "events")]
    events: PathBuf,
    /// The SAM template whose rules decide the consumers.
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// The Cargo workspace whose function crates declare what they emit.
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
    /// The git revision holding the published schemas that may not change incompatibly.
    #[arg(long, default_value = "HEAD")]
    base: String,
}

impl CatalogArgs {
    fn options(self) -> herald_catalog::CatalogOptions {
        herald_catalog::CatalogOptions {
            events: self.events,
            template: self.template,
            workspace: self.workspace,
            base: self.base,
        }
    }
}

#[derive(Debug, Args)]
struct LocalArgs {
    /// The SAM template.
    #[arg(long, default_value = "infra/template.yaml")]
    template: PathBuf,
    /// Use the DynamoDB API at this URL (moto server, say) instead of in-memory stores.
    #[arg(long, conflicts_with = "start_moto")]
    aws_endpoint: Option<String>,
    /// Start a moto server on loopback (from .tools/, see `make tools`) and use its DynamoDB API.
    #[arg(long)]
    start_moto: bool,
    /// Extra environment for every function, e.g. `--env STOCK_SEED=SKU-1=5` (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    environment: Vec<(String, String)>,
    /// Dead-letter file (JSON lines): events whose every attempt failed.
    #[arg(long, default_value = "target/herald-dev/dead-letters.jsonl")]
    dead_letters: PathBuf,
    /// Directory for each function's log.
    #[arg(long, default_value = "target/herald-dev/logs")]
    logs: PathBuf,
    /// Use the binaries already in target/debug instead of running `cargo build`.
    #[arg(long)]
    no_build: bool,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

impl LocalArgs {
    fn options(&self, aws_endpoint: Option<String>) -> dev::DevOptions {
        dev::DevOptions {
            template: self.template.clone(),
            workspace: PathBuf::from("."),
            build: !self.no_build,
            aws_endpoint,
            dead_letters: self.dead_letters.clone(),
            logs: self.logs.clone(),
            environment: self.environment.iter().cloned().collect(),
        }
    }

    /// The DynamoDB endpoint to use, starting moto when asked; the guard stops it when dropped.
    fn endpoint(&self) -> Result<(Option<String>, Option<dev::moto::Moto>), String> {
        if self.start_moto {
            let moto = dev::moto::Moto::start().map_err(|e| e.to_string())?;
            Ok((Some(moto.endpoint().to_owned()), Some(moto)))
        } else {
            Ok((self.aws_endpoint.clone(), None))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Catalog { action } => {
            let mut out = std::io::stdout().lock();
            match action {
                CatalogAction::Check { inputs } => catalog::run_check(&inputs.options(), &mut out),
                CatalogAction::Build { out: site, inputs } => catalog::run_build(&inputs.options(), &site, &mut out),
            }
            .map_err(|e| e.to_string())
        }
        Command::Infra { action } => infra::run(action, &mut std::io::stdout().lock()),
        Command::New {
            name,
            consumes,
            emits,
            description,
            workspace,
            catalog,
            template,
        } => {
            let new = scaffold::NewFunction {
                name,
                consumes,
                emits,
                description,
            };
            let places = scaffold::Places {
                workspace,
                catalog,
                template,
            };
            scaffold::scaffold(&new, &places)
                .map_err(|e| e.to_string())
                .and_then(|written| {
                    let mut out = std::io::stdout().lock();
                    written
                        .iter()
                        .try_for_each(|path| writeln!(out, "wrote {}", path.display()))
                        .map_err(|e| format!("cannot write output: {e}"))
                })
        }
        Command::Replay(args) => run_async(replay::run(args)),
        Command::Trace(args) => run_async(flow::run(args)),
        Command::Redrive(args) => run_async(redrive::run(args)),
        Command::Show { paths } => show::run(&paths, &mut std::io::stdout().lock()).map_err(|e| e.to_string()),
        Command::Dev {
            inputs,
            repeat,
            json,
            local,
        } => run_async(run_dev(inputs, repeat, json, local)),
        Command::Invoke { function, event, local } => run_async(run_invoke(function, event, local)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("herald: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run_async(future: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init()
        .ok();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?
        .block_on(future)
}

async fn run_dev(inputs: Vec<PathBuf>, repeat: u32, json: bool, local: LocalArgs) -> Result<(), String> {
    let events = dev::read_inputs(&inputs).map_err(|e| e.to_string())?;
    let (endpoint, _moto) = local.endpoint()?;
    let mut stack = dev::LocalStack::start(&local.options(endpoint), None)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    for event in &events {
        for _ in 0..repeat.max(1) {
            let trace = stack.deliver(event.clone()).await;
            let written = if json {
                dev::trace::write_json(&trace, &mut out)
            } else {
                dev::trace::write_tree(&trace, &mut out)
            };
            written
                .and_then(|()| if json { Ok(()) } else { writeln!(out) })
                .map_err(|e| format!("cannot write: {e}"))?;
        }
    }
    stack.stop().await;
    let summary = stack.summary();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "herald dev: {} input deliveries, {} events routed, {} invocations, {} dead letters ({}) in {:.2} s ({:.0} events/s)",
        summary.inputs,
        summary.events,
        summary.invocations,
        summary.dead_letters,
        local.dead_letters.display(),
        seconds,
        summary.events as f64 / seconds.max(1e-9)
    );
    Ok(())
}

async fn run_invoke(function: String, event: PathBuf, local: LocalArgs) -> Result<(), String> {
    let mut events = dev::read_inputs(std::slice::from_ref(&event)).map_err(|e| e.to_string())?;
    let Some(first) = events.drain(..).next() else {
        return Err(format!("{}: no event", event.display()));
    };
    let (endpoint, _moto) = local.endpoint()?;
    let mut stack = dev::LocalStack::start(&local.options(endpoint), Some(&function))
        .await
        .map_err(|e| e.to_string())?;
    let ended = stack.invoke_one(&first).await;
    stack.stop().await;
    match ended {
        Some(dev::runtime::Ended::Response(body)) => {
            println!("{body}");
            Ok(())
        }
        Some(dev::runtime::Ended::Error {
            error_type,
            error_message,
        }) => Err(format!("{function}: {error_type}: {error_message}")),
        Some(dev::runtime::Ended::Timeout) => Err(format!("{function}: timed out")),
        Some(dev::runtime::Ended::Crashed(reason)) => Err(format!("{function}: {reason}")),
        None => Err(format!("{function}: not started")),
    }
}
