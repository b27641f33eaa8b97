//! `herald redrive`: puts the events of a dead-letter queue back on their bus and prints what
//! it did, grouped by rule (or function) and error. The work is [`herald_ops::redrive`]'s; this
//! reads the arguments, builds the clients from the usual AWS configuration (`AWS_REGION`,
//! `AWS_PROFILE`, `AWS_ENDPOINT_URL`, …) and prints the report.

use aws_config::BehaviorVersion;
use clap::Args;
use herald_ops::redrive::{RedriveConfig, Redriver};

/// `herald redrive` arguments.
#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The dead-letter queue's URL.
    #[arg(long, value_name = "URL")]
    queue: String,
    /// Handle at most this many messages in this run.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = parse_max)]
    max: usize,
    /// Print the summary and the events that would be sent; send, delete and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also re-run consumers that completed these events (each runs them once more).
    #[arg(long)]
    reprocess: bool,
    /// Park (leave in the queue) an event already redriven this many times: a failure that
    /// never heals cannot loop. Raise it to send a parked event again once its cause is fixed.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = parse_attempts)]
    max_attempts: u32,
    /// The bus for Lambda on-failure records, which name none (a rule's dead letter always
    /// goes back to the bus of its rule).
    #[arg(long, value_name = "NAME")]
    bus: Option<String>,
}

fn parse_attempts(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(max) if max > 0 => Ok(max),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

fn parse_max(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(max) if max > 0 => Ok(max),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

/// Runs `herald redrive` and prints its report on standard output.
///
/// # Errors
/// A message for the user when the run could not be done, or when (outside a dry run) messages
/// were left in the queue: the report above says which and why.
pub async fn run(args: RedriveArgs) -> Result<(), String> {
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let redriver = Redriver::new(aws_sdk_sqs::Client::new(&aws), aws_sdk_eventbridge::Client::new(&aws));
    let config = RedriveConfig {
        max: args.max,
        dry_run: args.dry_run,
        reprocess: args.reprocess,
        max_attempts: args.max_attempts,
        default_bus: args.bus,
        ..RedriveConfig::new(args.queue)
    };
    let report = redriver.run(&config).await.map_err(|e| e.to_string())?;
    print!("{report}");
    match report.left.len() {
        0 => Ok(()),
        _ if report.dry_run => Ok(()),
        1 => Err("1 message was left in the queue".to_owned()),
        left => Err(format!("{left} messages were left in the queue")),
    }
}
