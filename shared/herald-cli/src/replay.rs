//! `herald replay`: replays an archive's events of a time window to chosen rules only, and
//! follows the replay to its end (the work is [`herald_ops::replay`]'s).
//!
//! The plan (archive, bus, window, rules and their ARNs) is resolved first, so an unknown rule
//! stops the command before anything starts; `--dry-run` prints it and stops there. Progress goes
//! to stderr: a bar on a terminal, otherwise one plain line per change, which CI logs and tests
//! can read. Ctrl-C cancels the replay and waits until EventBridge says CANCELLED. The final
//! state goes to stdout.

use std::io::IsTerminal;
use std::time::Duration;

use aws_config::BehaviorVersion;
use chrono::{DateTime, TimeDelta, Utc};
use clap::Args;
use herald_ops::replay::{ReplayRequest, ReplayStatus, Replayer};
use indicatif::{ProgressBar, ProgressStyle};

/// Steps of the progress bar: a tenth of a percent.
const BAR_STEPS: u64 = 1000;

/// `herald replay` arguments.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The archive's ARN (`arn:aws:events:REGION:ACCOUNT:archive/NAME`), or its name.
    #[arg(long, value_name = "ARN")]
    archive: String,
    /// Replay the events the archive received from this time on: RFC 3339
    /// (`2026-11-23T10:00:00Z`), `now`, or a time ago such as `-90s`, `-30m`, `-1h`, `-2d`, `-1w`.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    from: String,
    /// …up to this time, in the same forms.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, default_value = "now")]
    to: String,
    /// A rule on the archive's bus that receives the events (repeatable). Without any, every
    /// rule of the bus receives them, consumers that already handled them included.
    #[arg(long = "rule", value_name = "NAME")]
    rules: Vec<String>,
    /// The replay's name (at most 64 of `.-_A-Za-z0-9`); default `herald-<UTC yyyyMMddTHHmmss>`.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Print what would be replayed, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Make consumers run again events they completed, once for this replay (the name gets the
    /// `reprocess-` prefix). Without it they run again only events whose record is FAILED.
    #[arg(long)]
    reprocess: bool,
    /// Seconds between two looks at the replay's progress.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_interval)]
    poll_interval: Duration,
}

/// Runs `herald replay`.
///
/// # Errors
/// A message for the user: a time or name that is not valid, an unknown archive or rule, an AWS
/// call that failed, or a replay that FAILED or was cancelled.
pub async fn run(args: ReplayArgs) -> Result<(), String> {
    let now = Utc::now();
    let request = ReplayRequest {
        archive: args.archive,
        from: parse_time(&args.from, now)?,
        to: parse_time(&args.to, now)?,
        rules: args.rules,
        name: args.name,
        reprocess: args.reprocess,
    };
    let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let replayer = Replayer::new(aws_sdk_eventbridge::Client::new(&config));

    // Listening starts here: a Ctrl-C while the replay starts cancels it once it exists.
    let interrupted = interrupted();
    tokio::pin!(interrupted);
    let plan = tokio::select! {
        biased;
        () = &mut interrupted => return Err("cancelled before the replay started".to_owned()),
        plan = replayer.plan(&request) => plan.map_err(|e| e.to_string())?,
    };
    if args.dry_run {
        println!("{plan}");
        println!("dry run: no replay was started");
        return Ok(());
    }
    eprintln!("{plan}");
    replayer.start(&plan).await.map_err(|e| e.to_string())?;

    let bar = std::io::stderr().is_terminal().then(|| progress_bar(&plan.name));
    let mut last_line = String::new();
    let on_progress = |status: &ReplayStatus| show(bar.as_ref(), &mut last_line, status);
    let cancel_bar = bar.clone();
    let note = format!("Ctrl-C: cancelling replay {}", plan.name);
    let cancel = async move {
        interrupted.await;
        match &cancel_bar {
            Some(bar) => bar.println(note),
            None => eprintln!("{note}"),
        }
    };
    let ended = replayer
        .follow(&plan.name, args.poll_interval, on_progress, cancel)
        .await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let status = ended.map_err(|e| e.to_string())?;
    println!("{status}");
    Ok(())
}

/// Resolves at the first Ctrl-C; never when the signal cannot be listened to.
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn progress_bar(name: &str) -> ProgressBar {
    let bar = ProgressBar::new(BAR_STEPS).with_prefix(name.to_owned());
    if let Ok(style) = ProgressStyle::with_template("{spinner} replay {prefix} [{bar:40}] {percent:>3}% {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Shows a status: on the bar, or as a plain line when it differs from the last one printed.
fn show(bar: Option<&ProgressBar>, last_line: &mut String, status: &ReplayStatus) {
    match bar {
        Some(bar) => {
            bar.set_position((status.fraction * BAR_STEPS as f64).floor() as u64);
            let mut message = status.state.as_str().to_owned();
            if let Some(last) = status.last_replayed {
                message.push_str(&format!(", replayed up to {}", last.format("%Y-%m-%d %H:%M:%S UTC")));
            }
            bar.set_message(message);
        }
        None => {
            let line = status.to_string();
            if line != *last_line {
                eprintln!("{line}");
                *last_line = line;
            }
        }
    }
}

/// A time as RFC 3339, `now`, or `-N` seconds, minutes, hours, days or weeks before `now`.
pub(crate) fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let invalid = || {
        format!(
            "`{text}` is not a time: use RFC 3339 (2026-11-23T10:00:00Z), `now`, or a time ago \
             such as -90s, -30m, -1h, -2d, -1w"
        )
    };
    if text == "now" {
        return Ok(now);
    }
    if let Some(ago) = text.strip_prefix('-') {
        let digits = ago.find(|c: char| !c.is_ascii_digit()).unwrap_or(ago.len());
        let (count, unit) = ago.split_at(digits);
        let count: i64 = count.parse().map_err(|_| invalid())?;
        let unit_seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(invalid()),
        };
        return count
            .checked_mul(unit_seconds)
            .and_then(TimeDelta::try_seconds)
            .and_then(|ago| now.checked_sub_signed(ago))
            .ok_or_else(invalid);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| invalid())
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|seconds| *seconds > 0.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| format!("`{text}` is not a positive number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).map_or_else(|e| panic!("{text}: {e}"), |t| t.with_timezone(&Utc))
    }

    #[test]
    fn times_are_rfc_3339_now_or_a_time_ago() {
        let now = at("2026-11-23T10:00:00Z");

        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(
            parse_time("2026-11-23T09:15:00+01:00", now),
            Ok(at("2026-11-23T08:15:00Z"))
        );
        assert_eq!(parse_time("-90s", now), Ok(at("2026-11-23T09:58:30Z")));
        assert_eq!(parse_time("-30m", now), Ok(at("2026-11-23T09:30:00Z")));
        assert_eq!(parse_time("-1h", now), Ok(at("2026-11-23T09:00:00Z")));
        assert_eq!(parse_time("-2d", now), Ok(at("2026-11-21T10:00:00Z")));
        assert_eq!(parse_time("-1w", now), Ok(at("2026-11-16T10:00:00Z")));
    }

    #[test]
    fn other_times_are_refused_with_the_forms_that_work() {
        let now = Utc::now();

        for text in [
            "",
            "yesterday",
            "-1",
            "-h",
            "-1y",
            "-1h30m",
            "2026-11-23",
            "-99999999999999999w",
        ] {
            let refused = parse_time(text, now);
            assert!(
                refused.as_ref().is_err_and(|e| e.contains("RFC 3339")),
                "{text:?}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_poll_interval_is_a_positive_number_of_seconds() {
        assert_eq!(parse_interval("0.2"), Ok(Duration::from_millis(200)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
