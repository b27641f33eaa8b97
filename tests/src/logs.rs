//! A function's JSON log lines captured in memory: Herald's own subscriber
//! ([`herald::telemetry::subscriber`]) writing into a buffer the test reads back as JSON.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::TestResult;

/// Log lines written into memory; clones share the buffer.
#[derive(Debug, Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    /// Herald's JSON subscriber at the default level (`info`), writing here.
    ///
    /// The first call also installs the process's global default: a subscriber that records
    /// nothing and is interested in every callsite (see [`interested_everywhere`]).
    pub fn subscriber(&self) -> tracing::Dispatch {
        interested_everywhere();
        let lines = self.clone();
        tracing::Dispatch::new(herald::telemetry::subscriber(
            herald::telemetry::filter(|_| None),
            move || lines.clone(),
        ))
    }

    /// Every line written so far, parsed.
    ///
    /// # Errors
    /// When a line is not UTF-8 JSON.
    pub fn json(&self) -> TestResult<Vec<Value>> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Ok(String::from_utf8(bytes)?
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?)
    }
}

/// Installs, once per process, a global default subscriber that is interested in every callsite
/// and records nothing (a registry without layers).
///
/// `tracing` caches each callsite's interest for the whole process, decided when the callsite
/// is first reached. While a single dispatcher is registered, tracing-core asks only the
/// subscriber of the thread that reaches it first. Tests run in parallel threads of one process:
/// a test without a subscriber reaching a span first (its thread's default is then `NoSubscriber`)
/// would disable that span for every thread, so a test capturing lines through its own scoped
/// subscriber saw a line without its span (seen once in CI, in redrive's log test). With this
/// global default every thread's default is interested, so no callsite is disabled for the
/// others; each scoped subscriber still filters its own lines.
fn interested_everywhere() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        // Another global default already installed serves as well: nothing to do then.
        let _already_installed = tracing::subscriber::set_global_default(tracing_subscriber::registry());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a handler logs: one line inside its own span.
    fn handle_one() {
        tracing::info_span!("event", event_id = "e-1").in_scope(|| tracing::info!("handled"));
    }

    #[test]
    fn a_span_another_thread_reaches_first_without_a_subscriber_still_names_the_captured_lines() -> TestResult {
        // Given this test's capturing subscriber, and then a test thread without a subscriber
        // reaching the span and its line first (tracing decides the span's interest then)
        let lines = Lines::default();
        let subscriber = lines.subscriber();
        std::thread::spawn(handle_one)
            .join()
            .map_err(|_| "the other thread panicked")?;

        // When this test reaches them again with its lines captured
        tracing::dispatcher::with_default(&subscriber, handle_one);

        // Then its line is written inside the span
        let lines = lines.json()?;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["span"]["event_id"], "e-1", "{lines:?}");
        Ok(())
    }
}
