//! Events and handler errors shared by the idempotency tests.

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
