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
//! `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`), else from `RUST_LOG` (a level and
//! `target=level` directives, such as `warn,herald=debug`: tracing-subscriber's
//! [`Targets`](tracing_subscriber::filter::Targets), not `EnvFilter`'s span and field filters,
//! whose regex engine added 850 KB to every function's binary, 290 KB zipped), else `info`.
//! `HERALD_LOG_DEBUG_SAMPLE_RATE` (0 to 1, default 0: Powertools'
//! `POWERTOOLS_LOGGER_SAMPLE_RATE`) is the share of invocations that log at debug whatever the
//! level, drawn once per invocation ([`sample_invocation`]), so a rare failure in production
//! comes with its debug lines now and then without every invocation paying for them.
//!
//! Customer data stays out of every line: fields an event's type declares
//! [`Sensitive`](crate::Sensitive) print as `[redacted]`, and `lambda_runtime`'s trace line
//! holding the raw event is never written, whatever the level.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tracing::{Level, Subscriber};
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets, dynamic_filter_fn, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{Layer, Registry};

/// The variable naming the share of invocations that log at debug.
pub const DEBUG_SAMPLE_RATE: &str = "HERALD_LOG_DEBUG_SAMPLE_RATE";

/// The debug sample rate in force, as `f64` bits (0 until [`init`] or [`set_debug_sample_rate`]).
static RATE: AtomicU64 = AtomicU64::new(0);

/// Whether the invocation under way logs at debug: drawn by [`sample_invocation`]. A Lambda
/// process runs one invocation at a time, so one flag serves the process.
static SAMPLED: AtomicBool = AtomicBool::new(false);

/// Where `lambda_runtime` logs each raw event at trace level; never written (see [`subscriber`]).
const RAW_EVENT_TARGET: &str = "lambda_runtime::layers::api_response";

/// Where `lambda_runtime` logs a handler's error (and a handler's panic).
const HANDLER_ERROR_TARGET: &str = "lambda_runtime::layers::panic";

/// The variable Lambda sets from a function's advanced logging controls.
pub const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";

/// Installs the JSON subscriber on standard output once, its level from the process's
/// environment ([`filter`]); later calls do nothing (tests may call it repeatedly).
pub fn init() {
    let var = |name: &str| std::env::var(name).ok();
    set_debug_sample_rate(debug_sample_rate(var));
    let _already_installed = tracing::subscriber::set_global_default(subscriber(filter(var), std::io::stdout));
}

/// The share `var` (an environment lookup) asks for in `HERALD_LOG_DEBUG_SAMPLE_RATE`: a number
/// from 0 to 1; anything else is 0 (no sampling), as a typo must not turn debug logs on.
pub fn debug_sample_rate(var: impl Fn(&str) -> Option<String>) -> f64 {
    var(DEBUG_SAMPLE_RATE)
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|rate| (0.0..=1.0).contains(rate))
        .unwrap_or(0.0)
}

/// Sets the debug sample rate in force.
pub fn set_debug_sample_rate(rate: f64) {
    RATE.store(rate.clamp(0.0, 1.0).to_bits(), Ordering::Relaxed);
}

/// Draws whether the invocation starting now logs at debug, at the rate in force; returns it.
pub fn sample_invocation() -> bool {
    let rate = f64::from_bits(RATE.load(Ordering::Relaxed));
    let sampled = rate > 0.0 && fastrand::f64() < rate;
    SAMPLED.store(sampled, Ordering::Relaxed);
    sampled
}

/// The level filter `var` (an environment lookup) asks for: `AWS_LAMBDA_LOG_LEVEL` when it names
/// a level (`FATAL` is `error`: tracing has no higher level), else `RUST_LOG`'s directives when
/// they parse, else `info`.
pub fn filter(var: impl Fn(&str) -> Option<String>) -> Targets {
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
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// The subscriber [`init`] installs, writing to `writer`: one JSON object per line, the event's
/// fields at the top level with the current span's (the `event` span), no ANSI colours; what
/// `filter` lets through, and debug lines too while the invocation is sampled.
pub fn subscriber<W>(filter: Targets, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Dynamic: asked at every line, not once per callsite, as the flag changes per invocation.
    let sampled_debug =
        dynamic_filter_fn(|metadata, _| *metadata.level() <= Level::DEBUG && SAMPLED.load(Ordering::Relaxed));
    // Two lambda_runtime lines are never written. Every raw event, at trace ("raw JSON event
    // received from Lambda"): the whole event, customer data included, which `Sensitive` fields
    // keep out of every other line. And its `{error:?}` of a handler's error, outside the event's
    // span: the consumer's own `event failed` line says it with every field (a panic, which the
    // runtime logs with an `error` field, is still written).
    let runtime_repeats = filter_fn(|metadata| {
        let target = metadata.target();
        let raw_event = *metadata.level() == Level::TRACE && target.starts_with(RAW_EVENT_TARGET);
        let handler_error = target.starts_with(HANDLER_ERROR_TARGET) && metadata.fields().field("error").is_none();
        !(raw_event || handler_error)
    });
    // json-subscriber writes what tracing-subscriber's JSON format writes, but keeps each span's
    // fields serialized once instead of parsing them again for every line of the span.
    let lines = json_subscriber::fmt::layer()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
        .with_filter(filter.or(sampled_debug).and(runtime_repeats));
    Registry::default().with(lines)
}

/// What every log line of one invocation says about it, as a Powertools Logger line does: for a
/// function that is not a [`Consumer`](crate::Consumer) (whose `event` span carries the same
/// fields beside the event's), such as the redrive function, to put in the span of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// Lambda's request id.
    pub request_id: String,
    /// Whether this is the process's first invocation.
    pub cold_start: bool,
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// Its version (`AWS_LAMBDA_FUNCTION_VERSION`).
    pub function_version: String,
    /// The X-Ray trace header, when the invocation is traced.
    pub trace_header: Option<String>,
}

impl Invocation {
    /// The invocation `context` describes; `cold_start` says whether it is the process's first.
    pub fn of(context: &lambda_runtime::Context, cold_start: bool) -> Self {
        Self {
            request_id: context.request_id.clone(),
            cold_start,
            function_name: context.env_config.function_name.clone(),
            function_version: context.env_config.version.clone(),
            trace_header: context.xray_trace_id.clone(),
        }
    }

    /// The X-Ray trace id (the trace header's `Root`), when the invocation is traced.
    pub fn xray_trace_id(&self) -> Option<&str> {
        self.trace_header.as_deref().map(crate::trace::root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(pairs: &[(&str, &str)]) -> Targets {
        filter(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    fn level(pairs: &[(&str, &str)]) -> Option<LevelFilter> {
        targets(pairs).default_level()
    }

    #[test]
    fn a_sampled_invocation_logs_at_debug_and_an_unsampled_one_at_the_level() {
        // Given info logs written to memory, and a debug sample rate of 1, then of 0
        let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = written.clone();
        let subscriber = subscriber(Targets::new().with_default(LevelFilter::INFO), move || {
            Sink(sink.clone())
        });
        tracing::subscriber::with_default(subscriber, || {
            for rate in [1.0, 0.0] {
                set_debug_sample_rate(rate);
                let sampled = sample_invocation();
                tracing::debug!(rate, sampled, "a debug line");
                tracing::info!(rate, "an info line");
            }
        });
        set_debug_sample_rate(0.0);
        sample_invocation();

        // Then the sampled invocation wrote both lines, the other its info line only
        let text = String::from_utf8(written.lock().map(|w| w.clone()).unwrap_or_default()).unwrap_or_default();
        let messages: Vec<&str> = text
            .lines()
            .map(|line| if line.contains("a debug line") { "debug" } else { "info" })
            .collect();
        assert_eq!(messages, ["debug", "info", "info"], "{text}");
        assert_eq!(debug_sample_rate(|_| Some("0.1".to_owned())), 0.1);
        assert_eq!(debug_sample_rate(|_| Some("10%".to_owned())), 0.0);
        assert_eq!(debug_sample_rate(|_| Some("2".to_owned())), 0.0);
    }

    /// Log lines into shared memory.
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut written) = self.0.lock() {
                written.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
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
        assert_eq!(level(&[("RUST_LOG", "warn,=loud")]), Some(LevelFilter::INFO));
        assert_eq!(level(&[]), Some(LevelFilter::INFO));
    }

    #[test]
    fn rust_log_sets_a_level_per_target_beside_its_default() {
        let targets = targets(&[("RUST_LOG", "warn,herald::consumer=debug")]);
        assert!(targets.would_enable("herald::consumer", &Level::DEBUG));
        assert!(!targets.would_enable("herald::consumer", &Level::TRACE));
        assert!(!targets.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(targets.would_enable("aws_smithy_runtime", &Level::WARN));
    }
}
