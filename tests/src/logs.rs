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
    pub fn subscriber(&self) -> tracing::Dispatch {
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
