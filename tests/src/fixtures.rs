//! Catalogued samples as tests deliver them, and the events and handler errors the idempotency
//! tests share.

use std::fmt;

use herald::{Classify, Envelope, RawEvent};
use shop_events::OrderCancelledV1;

/// The OrderCancelled sample with a fresh `event_id`, so every test has its own key.
///
/// # Errors
/// When the sample cannot be read or decoded.
pub fn cancellation() -> crate::TestResult<Envelope<OrderCancelledV1>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/shop.orders/OrderCancelled/v1.sample.json"
    ))?;
    let mut event = RawEvent::from_value(serde_json::from_str(&text)?).decode::<OrderCancelledV1>()?;
    event.detail.metadata.event_id = uuid::Uuid::new_v4();
    Ok(event)
}

/// A catalogued sample, e.g. `shop.orders/OrderPlaced/v1.sample.json`, as raw JSON.
///
/// # Errors
/// When the file cannot be read or is not JSON.
pub fn sample_json(relative: &str) -> crate::TestResult<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(relative);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// A sample as a raw event with a fresh `event_id` (and EventBridge `id`), as a new delivery
/// of the same fact by another PutEvents would look, so tests do not share idempotency keys.
///
/// # Errors
/// When the sample cannot be read.
pub fn fresh_sample(relative: &str) -> crate::TestResult<RawEvent> {
    let mut value = sample_json(relative)?;
    if let Some(event_id) = value.pointer_mut("/detail/metadata/event_id") {
        *event_id = serde_json::Value::String(uuid::Uuid::new_v4().to_string());
    }
    if let Some(id) = value.pointer_mut("/id") {
        *id = serde_json::Value::String(uuid::Uuid::new_v4().to_string());
    }
    Ok(RawEvent::from_value(value))
}

/// Every catalogued sample of each event version (`source/DetailType/vN`), fresh as
/// [`fresh_sample`] makes them: the main sample and every labelled one, in name order.
///
/// # Errors
/// A malformed reference, a version with no sample, or a sample that cannot be read.
pub fn samples_of(versions: &[&str]) -> crate::TestResult<Vec<RawEvent>> {
    let catalog = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut samples = Vec::new();
    for version in versions {
        let (folder, v) = version
            .rsplit_once('/')
            .ok_or(format!("{version}: not source/DetailType/vN"))?;
        let mut names: Vec<String> = std::fs::read_dir(catalog.join(folder))
            .map_err(|e| format!("{version}: {e}"))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with(&format!("{v}.sample")) && name.ends_with(".json"))
            .collect();
        if names.is_empty() {
            return Err(format!("{version}: the catalog has no sample of it").into());
        }
        names.sort();
        for name in names {
            samples.push(fresh_sample(&format!("{folder}/{name}"))?);
        }
    }
    Ok(samples)
}

/// A handler error of either class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// A dependency was down: try again.
    Transient,
    /// The input can never succeed.
    Permanent,
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transient => f.write_str("warehouse API timed out"),
            Self::Permanent => f.write_str("order has no lines"),
        }
    }
}

impl std::error::Error for HandlerError {}

impl Classify for HandlerError {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient)
    }

    fn error_type(&self) -> &'static str {
        match self {
            Self::Transient => "Test.Transient",
            Self::Permanent => "Test.Permanent",
        }
    }
}
