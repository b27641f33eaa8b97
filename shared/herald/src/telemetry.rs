//! Structured JSON logs for Lambda: one line per log event, carrying the event's span fields.
//!
//! Every line a consumer writes while handling an event includes the `event` span's fields
//! (`event_id`, `correlation_id`, `causation_id`, `detail_type`, `replay_name`, `redrive_run`), so CloudWatch
//! Logs Insights can follow one event or one flow across functions. The level comes from
//! `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once; later calls do nothing (tests may call it repeatedly).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Lambda adds its own timestamps and request ids to each line; keep ours for local runs.
    let _already_installed = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}
