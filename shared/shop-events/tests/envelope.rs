//! Decoding real catalogued events: every `EnvelopeError` variant comes from a malformed input
//! and names the event; versions upcast; a consumer's event set dispatches once.

use std::error::Error;
use std::path::Path;

use herald::envelope::{EventIds, EventSet};
use herald::{Classify, Detail, EnvelopeError, RawEvent};
use serde_json::{Value, json};
use shop_events::{OrderCancelledV1, OrderPlacedV1, OrderPlacedV2, PaymentCapturedV1};

type TestResult = Result<(), Box<dyn Error>>;

const PLACED_ID: &str = "d2a94f60-1c7b-4e35-8f02-6a9b3c5d7e21";
const PLACED_EVENT_ID: &str = "7c1e4b2a-5d3f-4e8b-a916-2b7d9c4e0f11";

fn sample(relative: &str) -> Result<Value, Box<dyn Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(relative);
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

fn placed_v1() -> Result<Value, Box<dyn Error>> {
    sample("shop.orders/OrderPlaced/v1.sample.json")
}

fn set(value: &mut Value, pointer: &str, new: Value) {
    if let Some(slot) = value.pointer_mut(pointer) {
        *slot = new;
    }
}

fn decode_v1(value: Value) -> Result<herald::Envelope<OrderPlacedV1>, EnvelopeError> {
    RawEvent::from_value(value).decode::<OrderPlacedV1>()
}

fn assert_names_the_event(error: &EnvelopeError) {
    let message = error.to_string();
    assert!(message.contains(PLACED_ID), "no EventBridge id in: {message}");
    assert!(message.contains(PLACED_EVENT_ID), "no event_id in: {message}");
    assert!(!error.is_retryable(), "envelope errors are never retryable: {message}");
}

herald::event_set! {
    /// A consumer that reads OrderPlaced at both versions as v2, and OrderCancelled.
    #[derive(Debug)]
    enum Incoming {
        Placed(OrderPlacedV2) from (OrderPlacedV1, OrderPlacedV2),
        Cancelled(OrderCancelledV1) from (OrderCancelledV1,),
    }
}

#[test]
fn malformed_json_is_reported_with_the_ids_found_in_the_text() -> TestResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/shop.orders/OrderPlaced/v1.sample.json");
    let text = std::fs::read(path)?;
    let truncated = &text[..text.len() / 2];

    let error = RawEvent::parse(truncated).err().ok_or("truncated JSON must fail")?;

    assert!(matches!(error, EnvelopeError::MalformedJson { .. }), "{error}");
    assert_names_the_event(&error);
    assert_eq!(error.error_type(), "Envelope.MalformedJson");
    Ok(())
}

#[test]
fn a_missing_field_is_reported_with_its_json_path() -> TestResult {
    let mut event = placed_v1()?;
    if let Some(customer) = event
        .pointer_mut("/detail/data/customer")
        .and_then(Value::as_object_mut)
    {
        customer.remove("email");
    }

    let error = decode_v1(event).err().ok_or("missing email must fail")?;

    match &error {
        EnvelopeError::InvalidField { path, reason, .. } => {
            assert_eq!(path, "detail.data.customer.email");
            assert!(reason.contains("missing field"), "{reason}");
        }
        other => return Err(format!("expected InvalidField, got {other}").into()),
    }
    assert_names_the_event(&error);
    Ok(())
}

#[test]
fn an_invalid_field_is_reported_with_its_json_path() -> TestResult {
    let mut event = placed_v1()?;
    set(&mut event, "/detail/data/items/1/quantity", json!("two"));

    let error = decode_v1(event).err().ok_or("a string quantity must fail")?;

    assert!(
        matches!(&error, EnvelopeError::InvalidField { path, .. } if path == "detail.data.items[1].quantity"),
        "{error}"
    );
    assert_names_the_event(&error);
    Ok(())
}

#[test]
fn an_event_id_that_is_not_a_uuid_is_an_invalid_field_and_still_named() -> TestResult {
    let mut event = placed_v1()?;
    set(&mut event, "/detail/metadata/event_id", json!("order-1001-placed"));

    let error = decode_v1(event).err().ok_or("a non-UUID event_id must fail")?;

    assert!(
        matches!(&error, EnvelopeError::InvalidField { path, .. } if path == "detail.metadata.event_id"),
        "{error}"
    );
    assert!(error.to_string().contains("order-1001-placed"), "{error}");
    Ok(())
}

#[test]
fn a_missing_schema_version_is_an_invalid_field() -> TestResult {
    let mut event = placed_v1()?;
    if let Some(metadata) = event.pointer_mut("/detail/metadata").and_then(Value::as_object_mut) {
        metadata.remove("schema_version");
    }

    let error = decode_v1(event).err().ok_or("no schema_version must fail")?;

    assert!(
        matches!(&error, EnvelopeError::InvalidField { path, .. } if path == "detail.metadata.schema_version"),
        "{error}"
    );
    assert_names_the_event(&error);
    Ok(())
}

#[test]
fn an_unknown_detail_type_is_rejected_listing_what_is_accepted() -> TestResult {
    let mut event = placed_v1()?;
    set(&mut event, "/detail-type", json!("OrderShipped"));

    let error = RawEvent::from_value(event)
        .decode_set::<Incoming>()
        .err()
        .ok_or("must fail")?;

    match &error {
        EnvelopeError::UnknownDetailType {
            detail_type, accepted, ..
        } => {
            assert_eq!(detail_type, "OrderShipped");
            assert_eq!(accepted, "shop.orders/OrderPlaced v1|v2, shop.orders/OrderCancelled v1");
        }
        other => return Err(format!("expected UnknownDetailType, got {other}").into()),
    }
    assert_names_the_event(&error);
    Ok(())
}

#[test]
fn an_unsupported_version_is_rejected_listing_the_supported_ones() -> TestResult {
    let mut event = placed_v1()?;
    set(&mut event, "/detail/metadata/schema_version", json!(3));

    let single = decode_v1(event.clone()).err().ok_or("v3 must fail")?;
    let in_set = RawEvent::from_value(event)
        .decode_set::<Incoming>()
        .err()
        .ok_or("v3 must fail")?;

    assert!(
        matches!(&single, EnvelopeError::UnsupportedVersion { version: 3, supported, .. } if supported == &[1]),
        "{single}"
    );
    assert!(
        matches!(&in_set, EnvelopeError::UnsupportedVersion { version: 3, supported, .. } if supported == &[1, 2]),
        "{in_set}"
    );
    assert_names_the_event(&single);
    assert_names_the_event(&in_set);
    Ok(())
}

#[test]
fn a_known_detail_type_from_another_source_is_a_source_mismatch() -> TestResult {
    let mut event = placed_v1()?;
    set(&mut event, "/source", json!("shop.payments"));

    let error = decode_v1(event).err().ok_or("wrong source must fail")?;

    assert!(
        matches!(&error, EnvelopeError::SourceMismatch { expected, actual, .. }
            if expected == "shop.orders" && actual == "shop.payments"),
        "{error}"
    );
    assert_names_the_event(&error);
    Ok(())
}

#[test]
fn a_fat_v1_order_is_upcast_to_the_thin_v2_summary() -> TestResult {
    let placed =
        RawEvent::from_value(placed_v1()?).decode_versions::<OrderPlacedV2, (OrderPlacedV1, OrderPlacedV2)>()?;

    assert_eq!(placed.data().order_id, "ord-1001");
    assert_eq!(placed.data().customer_id, "cus-42");
    assert_eq!(placed.data().item_count, 3);
    assert_eq!(placed.data().total_minor, 184_709);
    assert_eq!(
        placed.metadata().schema_version,
        1,
        "the metadata still says what arrived"
    );
    assert_eq!(placed.metadata().event_id.to_string(), PLACED_EVENT_ID);
    Ok(())
}

#[test]
fn an_event_set_decodes_each_member_once_into_its_variant() -> TestResult {
    let v1 = RawEvent::from_value(placed_v1()?).decode_set::<Incoming>()?;
    let v2 = RawEvent::from_value(sample("shop.orders/OrderPlaced/v2.sample.json")?).decode_set::<Incoming>()?;
    let cancelled =
        RawEvent::from_value(sample("shop.orders/OrderCancelled/v1.sample.json")?).decode_set::<Incoming>()?;

    assert!(
        matches!(&v1, Incoming::Placed(e) if e.data().order_id == "ord-1001"),
        "{v1:?}"
    );
    assert!(
        matches!(&v2, Incoming::Placed(e) if e.data().order_id == "ord-1003"),
        "{v2:?}"
    );
    assert!(
        matches!(&cancelled, Incoming::Cancelled(e) if e.data().order_id == "ord-1001"),
        "{cancelled:?}"
    );
    assert_eq!(Incoming::accepted().len(), 2);
    Ok(())
}

#[test]
fn a_payment_is_not_an_order_event() -> TestResult {
    let payment = sample("shop.payments/PaymentCaptured/v1.sample.json")?;

    assert!(
        RawEvent::from_value(payment.clone())
            .decode::<PaymentCapturedV1>()
            .is_ok()
    );
    let error = RawEvent::from_value(payment)
        .decode_set::<Incoming>()
        .err()
        .ok_or("must fail")?;

    assert!(matches!(error, EnvelopeError::UnknownDetailType { .. }), "{error}");
    Ok(())
}

#[test]
fn an_event_without_ids_says_they_were_unreadable() {
    let error = RawEvent::from_value(json!({"source": "shop.orders"})).decode::<OrderPlacedV1>();

    let message = error.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("id=<unreadable> event_id=<unreadable>"), "{message}");
    assert!(message.contains("detail-type"), "{message}");
    assert_eq!(EventIds::default().to_string(), "id=<unreadable> event_id=<unreadable>");
}

#[test]
fn a_caused_event_carries_the_correlation_and_names_its_cause() -> TestResult {
    let placed = decode_v1(placed_v1()?)?;
    let cancelled = OrderCancelledV1 {
        order_id: "ord-1001".into(),
        customer_id: "cus-42".into(),
        reason: shop_events::CancelReason::CustomerRequest,
    };

    let first = Detail::new(cancelled.clone(), "order-service");
    let caused = Detail::caused_by(placed.metadata(), cancelled, "order-service");

    assert_eq!(
        first.metadata.correlation_id, first.metadata.event_id,
        "a new flow starts its own correlation"
    );
    assert_eq!(first.metadata.causation_id, None);
    assert_eq!(caused.metadata.correlation_id, placed.metadata().correlation_id);
    assert_eq!(caused.metadata.causation_id, Some(placed.metadata().event_id));
    assert_ne!(caused.metadata.event_id, placed.metadata().event_id);
    assert_eq!(caused.metadata.schema_version, 1);
    assert_eq!(caused.metadata.producer, "order-service");
    Ok(())
}

#[test]
fn a_v1_order_whose_quantities_overflow_a_count_reads_as_v2_with_the_count_saturated() -> TestResult {
    // Given OrderPlaced v1 with two lines of 4 billion units each
    let mut placed = sample("shop.orders/OrderPlaced/v1.sample.json")?;
    placed["detail"]["data"]["items"][0]["quantity"] = json!(4_000_000_000_u32);
    placed["detail"]["data"]["items"][1]["quantity"] = json!(4_000_000_000_u32);

    // When it is read as the v2 summary
    let summary = RawEvent::from_value(placed).decode_versions::<OrderPlacedV2, (OrderPlacedV1, OrderPlacedV2)>()?;

    // Then the count stops at the largest it can hold instead of panicking or wrapping
    assert_eq!(summary.data().item_count, u32::MAX);
    Ok(())
}
