//! Structured JSON logs for Lambda: one line per log event, carrying what a Powertools Logger line
//! carries.
//!
//! Every line a consumer writes while handling an event includes the `event` span's fields: the
//! event's (`event_id`, `correlation_id`, `causation_id`, `detail_type`, `replay_name`,
//! `redrive_run`, EventBridge's `id`) and the invocation's (`request_id`, `cold_start`,
//! `function_name`, `function_version`, and `xray_trace_id` when Lambda traces it), so CloudWatch
//! Logs Insights can follow one event, one invocation or one flow across functions.
//!
//! The level comes from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls: `TRACE`,
//! `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`), else from `RUST_LOG` (any `EnvFilter`
//! directives), else `info`.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The variable Lambda sets from a function's advanced logging controls.
pub const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";

/// Installs the JSON subscriber on standard output once, its level from the process's
/// environment ([`filter`]); later calls do nothing (tests may call it repeatedly).
pub fn init() {
    let filter = filter(|name| std::env::var(name).ok());
    let _already_installed = tracing::subscriber::set_global_default(subscriber(filter, std::io::stdout));
}

/// The level filter `var` (an environment lookup) asks for: `AWS_LAMBDA_LOG_LEVEL` when it names
/// a level (`FATAL` is `error`: tracing has no higher level), else `RUST_LOG`'s directives when
/// they parse, else `info`.
pub fn filter(var: impl Fn(&str) -> Option<String>) -> EnvFilter {
    let lambda = var(LAMBDA_LOG_LEVEL).and_then(|level| {
        let level = level.trim().to_ascii_lowercase();
        match level.as_str() {
            "trace" | "debug" | "info" | "warn" | "error" => Some(level),
            "fatal" => Some("error".to_owned()),
            _ => None,
        }
    });
    lambda
        .or_else(|| var("RUST_LOG"))
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

/// The subscriber [`init`] installs, writing to `writer`: one JSON object per line, the event's
/// fields at the top level with the current span's (the `event` span), no ANSI colours.
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Lambda adds its own timestamps and request ids to each line; keep ours for local runs.
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use tracing::level_filters::LevelFilter;

    use super::*;

    fn level(pairs: &[(&str, &str)]) -> Option<LevelFilter> {
        filter(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())).max_level_hint()
    }

    #[test]
    fn the_level_comes_from_lambdas_log_level_then_rust_log_then_info() {
        assert_eq!(
            level(&[(LAMBDA_LOG_LEVEL, "DEBUG"), ("RUST_LOG", "warn")]),
            Some(LevelFilter::DEBUG)
        );
        assert_eq!(level(&[(LAMBDA_LOG_LEVEL, "FATAL")]), Some(LevelFilter::ERROR));
        assert_eq!(
            level(&[(LAMBDA_LOG_LEVEL, "LOUD"), ("RUST_LOG", "warn")]),
            Some(LevelFilter::WARN)
        );
        assert_eq!(level(&[("RUST_LOG", "warn")]), Some(LevelFilter::WARN));
        assert_eq!(level(&[]), Some(LevelFilter::INFO));
    }
}
