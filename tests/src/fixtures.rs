//! Catalogued samples as tests deliver them, and the events and handler errors the idempotency
//! tests share.
//!
//! - The samples the function crates' tests deliver, by name ([`ORDER_PLACED`] and the rest).
//! - [`sample_json`], [`fresh_sample`] and [`fresh_sample_with`]: a sample as raw JSON, as a new
//!   delivery, and as a new delivery of another order, amount or time.
//! - [`event_id_of`]: the id a delivery is keyed by.
//! - [`samples_of`]: every sample of some event versions.
//! - [`cancellation`] and [`HandlerError`]: what the idempotency tests share.

use std::fmt;

use herald::{Classify, Envelope, RawEvent};
use shop_events::OrderCancelledV1;

/// ord-1001 placed (v1, itemised) by cus-42: a laptop with an extended warranty and two mice,
/// 1847.09 EUR.
pub const ORDER_PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
/// ord-1002 placed (v1, itemised) by grace@example.com: a phone with theft-and-damage insurance.
pub const INSURED_ORDER_PLACED: &str = "shop.orders/OrderPlaced/v1.sample.insured.json";
/// ord-1003 placed (v2, thin: a total and an item count, no lines) by cus-42: 458.97 EUR.
pub const THIN_ORDER_PLACED: &str = "shop.orders/OrderPlaced/v2.sample.json";
/// ord-1001 cancelled at cus-42's request.
pub const ORDER_CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";
/// ord-1002 returned damaged by cus-77.
pub const ORDER_RETURNED: &str = "shop.orders/OrderReturned/v1.sample.json";
/// pay-9001 captured for ord-1001: 1847.09 EUR.
pub const PAYMENT_CAPTURED: &str = "shop.payments/PaymentCaptured/v1.sample.json";
/// ord-1001's stock reserved: 1 laptop, 2 mice.
pub const STOCK_RESERVED: &str = "shop.inventory/StockReserved/v1.sample.json";

/// The OrderCancelled sample with a fresh `event_id`, so every test has its own key.
///
/// # Errors
/// When the sample cannot be read or decoded.
pub fn cancellation() -> crate::TestResult<Envelope<OrderCancelledV1>> {
    let mut event = RawEvent::from_value(sample_json(ORDER_CANCELLED)?).decode::<OrderCancelledV1>()?;
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
    fresh_sample_with(relative, &[])
}

/// The `detail.metadata.event_id` a sample carries.
///
/// # Errors
/// When it has none.
pub fn event_id_of(raw: &RawEvent) -> crate::TestResult<String> {
    Ok(raw.ids().event_id.clone().ok_or("the sample has no event_id")?)
}

/// [`fresh_sample`] with each JSON pointer's value set, e.g. `("/detail/data/order_id",
/// json!("ord-1002"))`: the sample as another order, amount or time. A pointer whose last field
/// is missing from its object adds it; the changes apply in order, after the fresh ids.
///
/// # Errors
/// When the sample cannot be read, or a pointer names nothing in it.
pub fn fresh_sample_with(relative: &str, changes: &[(&str, serde_json::Value)]) -> crate::TestResult<RawEvent> {
    let mut value = sample_json(relative)?;
    for pointer in ["/detail/metadata/event_id", "/id"] {
        if let Some(id) = value.pointer_mut(pointer) {
            *id = serde_json::Value::String(uuid::Uuid::new_v4().to_string());
        }
    }
    for (pointer, new) in changes {
        let missing = || format!("{relative} has no {pointer}");
        if value.pointer(pointer).is_none() {
            let (parent, field) = pointer.rsplit_once('/').ok_or_else(missing)?;
            value
                .pointer_mut(parent)
                .and_then(serde_json::Value::as_object_mut)
                .ok_or_else(missing)?
                .insert(field.to_owned(), serde_json::Value::Null);
        }
        *value.pointer_mut(pointer).ok_or_else(missing)? = new.clone();
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

/// Every sample of the catalog (`events/<source>/<DetailType>/v<N>.sample*.json`), with its
/// path, in path order; AWS's own events (`aws.*`) too.
///
/// # Errors
/// A folder or sample that cannot be read, or a sample that is not JSON.
pub fn catalog_samples() -> crate::TestResult<Vec<(std::path::PathBuf, RawEvent)>> {
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")];
    let mut found = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name.contains(".sample") && name.ends_with(".json") {
                let raw = RawEvent::parse(&std::fs::read(&path)?)?;
                found.push((path, raw));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}
