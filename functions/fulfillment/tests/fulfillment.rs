//! Fulfillment against moto server: DynamoDB tables for shipments and idempotency, and an
//! EventBridge bus whose rule sends fulfillment's events to an SQS queue the tests read.

use fulfillment::FUNCTION;
use fulfillment::error::FulfillmentError;
use fulfillment::handler::{self, Action, Deps, FulfillmentEvent, Reaction};
use fulfillment::store::{Shipment, ShipmentStatus, ShipmentStore};
use herald::idempotency::{DynamoStore, Guarded, GuardedEvent, IdempotencyGuard, Outcome};
use herald::{Classify, ConsumerError, EnvelopeError, PublishError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{Bus, Harness, deliver, detail_types, the, unknown_version, without};
use shop_events::{ShipmentCancelReason, ShipmentCancelledV1, ShipmentRequestedV1, StockLine};

const RESERVED: &str = "shop.inventory/StockReserved/v1.sample.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";

/// Fulfillment wired to a fresh table and a fresh bus, as `main.rs` wires it.
struct World {
    shipments: ShipmentStore,
    bus: Bus,
    deps: Deps,
    guard: IdempotencyGuard<DynamoStore>,
    /// The same table, publishing to a bus that does not exist: every publish fails.
    broken: Deps,
}

impl World {
    async fn new() -> TestResult<Self> {
        let moto = Harness::new().await;
        let bus = moto.bus("shop.fulfillment").await?;
        let shipments = ShipmentStore::new(moto.dynamodb.clone(), moto.table("shipments", "order_id", None).await?);
        Ok(Self {
            deps: Deps {
                shipments: shipments.clone(),
                publisher: bus.publisher(),
            },
            broken: Deps {
                shipments: shipments.clone(),
                publisher: bus.broken_publisher(),
            },
            shipments,
            bus,
            guard: moto.idempotency_guard(FUNCTION).await?,
        })
    }

    /// Delivers one event through the same consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<FulfillmentError>> {
        deliver(&self.guard, &self.deps, run, raw).await
    }

    /// The action of one delivery.
    async fn action(&self, raw: RawEvent) -> TestResult<Option<Action>> {
        Ok(self.deliver(raw).await?.result.map(|r| r.action))
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        self.bus.emitted(expected).await
    }

    async fn status(&self, order_id: &str) -> TestResult<Option<ShipmentStatus>> {
        Ok(self.shipments.shipment(order_id).await?.map(|s| s.status))
    }
}

/// The handler over owned dependencies, as a consumer built per delivery runs it.
async fn run(deps: Deps, event: FulfillmentEvent) -> Result<Reaction, FulfillmentError> {
    handler::handle(&deps, event).await
}

/// Fails unless an emitted event's detail validates against its schema in the catalog.
fn assert_catalogued(event: &serde_json::Value) -> TestResult {
    let source = event["source"].as_str().ok_or("no source")?;
    let detail_type = event["detail-type"].as_str().ok_or("no detail-type")?;
    let version = event["detail"]["metadata"]["schema_version"]
        .as_u64()
        .ok_or("no schema_version")?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(source)
        .join(detail_type)
        .join(format!("v{version}.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)?;
    let errors: Vec<String> = validator
        .iter_errors(&event["detail"])
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{detail_type}: {errors:?}");
    Ok(())
}

#[tokio::test]
async fn a_reservation_requests_a_shipment_and_emits_shipment_requested() -> TestResult {
    // Given a StockReserved for ord-1001 (1 laptop, 2 mice)
    let world = World::new().await?;
    let reserved = fresh_sample(RESERVED)?;
    let cause_id = reserved.ids().event_id.clone();

    // When it is delivered
    let answer = world.deliver(reserved).await?;

    // Then shp-1001 is REQUESTED with the lines, and ShipmentRequested, caused by it, is on the bus
    assert_eq!(answer.outcome, Outcome::Claimed);
    let reaction = answer.result.ok_or("no result")?;
    assert_eq!(reaction.action, Action::Requested);
    let lines = vec![
        StockLine {
            sku: "SKU-LAPTOP-14".to_owned(),
            quantity: 1,
        },
        StockLine {
            sku: "SKU-MOUSE-01".to_owned(),
            quantity: 2,
        },
    ];
    let shipment = world.shipments.shipment("ord-1001").await?.ok_or("no shipment")?;
    assert_eq!(
        shipment,
        Shipment {
            order_id: "ord-1001".to_owned(),
            shipment_id: "shp-1001".to_owned(),
            customer_id: "cus-42".to_owned(),
            status: ShipmentStatus::Requested,
            lines: lines.clone(),
            requested_by: cause_id.clone(),
            cancelled_by: None,
        }
    );
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_catalogued(&emitted[0])?;
    let requested = the::<ShipmentRequestedV1>(&emitted)?;
    assert_eq!(
        requested.data(),
        &ShipmentRequestedV1 {
            shipment_id: "shp-1001".to_owned(),
            order_id: "ord-1001".to_owned(),
            customer_id: "cus-42".to_owned(),
            lines,
        }
    );
    assert_eq!(requested.metadata().causation_id.map(|c| c.to_string()), cause_id);
    assert_eq!(requested.metadata().producer, FUNCTION);
    assert_eq!(
        reaction.emitted.first().map(|e| e.event_id),
        Some(requested.metadata().event_id)
    );
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_requests_once_and_emits_once() -> TestResult {
    // Given a StockReserved event
    let world = World::new().await?;
    let reserved = fresh_sample(RESERVED)?;

    // When it is delivered twice
    let first = world.deliver(reserved.clone()).await?;
    let second = world.deliver(reserved).await?;

    // Then the second is answered from the record and one event was emitted
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result, first.result);
    assert_eq!(world.status("ord-1001").await?, Some(ShipmentStatus::Requested));
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_second_reservation_event_for_the_order_requests_nothing_new() -> TestResult {
    // Given a requested shipment
    let world = World::new().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;

    // When inventory's StockReserved arrives again under another event id
    let again = world.action(fresh_sample(RESERVED)?).await?;

    // Then nothing new is requested and only the first ShipmentRequested is on the bus
    assert_eq!(again, Some(Action::AlreadyRequested));
    assert_eq!(detail_types(&world.emitted(1).await?), vec!["ShipmentRequested"]);
    Ok(())
}

#[tokio::test]
async fn a_cancellation_cancels_a_requested_shipment_and_emits_shipment_cancelled() -> TestResult {
    // Given a requested shipment
    let world = World::new().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;
    let cancelled = fresh_sample(CANCELLED)?;
    let cause_id = cancelled.ids().event_id.clone();

    // When the order is cancelled
    let action = world.action(cancelled).await?;

    // Then the shipment is CANCELLED and ShipmentCancelled, caused by the cancellation, follows
    assert_eq!(action, Some(Action::Cancelled));
    assert_eq!(world.status("ord-1001").await?, Some(ShipmentStatus::Cancelled));
    let emitted = world.emitted(2).await?;
    assert_eq!(detail_types(&emitted), vec!["ShipmentCancelled", "ShipmentRequested"]);
    for event in &emitted {
        assert_catalogued(event)?;
    }
    let shipment_cancelled = the::<ShipmentCancelledV1>(&emitted)?;
    assert_eq!(
        shipment_cancelled.data(),
        &ShipmentCancelledV1 {
            shipment_id: "shp-1001".to_owned(),
            order_id: "ord-1001".to_owned(),
            customer_id: "cus-42".to_owned(),
            reason: ShipmentCancelReason::OrderCancelled,
        }
    );
    assert_eq!(
        shipment_cancelled.metadata().causation_id.map(|c| c.to_string()),
        cause_id
    );
    Ok(())
}

#[tokio::test]
async fn a_cancellation_after_dispatch_leaves_the_shipment_dispatched_and_emits_nothing() -> TestResult {
    // Given a shipment the warehouse scanner has dispatched
    let world = World::new().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;
    assert!(world.shipments.mark_dispatched("ord-1001").await?);

    // When the order is cancelled
    let action = world.action(fresh_sample(CANCELLED)?).await?;

    // Then it is too late: the shipment stays DISPATCHED and only the request was emitted
    assert_eq!(action, Some(Action::TooLateDispatched));
    assert_eq!(world.status("ord-1001").await?, Some(ShipmentStatus::Dispatched));
    assert_eq!(detail_types(&world.emitted(1).await?), vec!["ShipmentRequested"]);
    Ok(())
}

#[tokio::test]
async fn a_cancellation_before_the_reservation_makes_the_reservation_request_nothing() -> TestResult {
    // Given the cancellation arriving first
    let world = World::new().await?;
    let early = world.action(fresh_sample(CANCELLED)?).await?;

    // When the StockReserved arrives afterwards
    let late = world.action(fresh_sample(RESERVED)?).await?;

    // Then the tombstone stands, no shipment is requested and nothing is emitted
    assert_eq!(early, Some(Action::RecordedEarlyCancel));
    assert_eq!(late, Some(Action::SkippedCancelledOrder));
    assert_eq!(world.status("ord-1001").await?, Some(ShipmentStatus::CancelledEarly));
    assert!(
        !world.shipments.mark_dispatched("ord-1001").await?,
        "nothing to dispatch"
    );
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn two_cancellation_events_for_one_order_emit_one_shipment_cancelled() -> TestResult {
    // Given a requested shipment
    let world = World::new().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;

    // When the order system publishes the cancellation twice (two event ids for one fact)
    let first = world.action(fresh_sample(CANCELLED)?).await?;
    let second = world.action(fresh_sample(CANCELLED)?).await?;

    // Then the shipment was cancelled once and one ShipmentCancelled was emitted
    assert_eq!(first, Some(Action::Cancelled));
    assert_eq!(second, Some(Action::AlreadyCancelled));
    assert_eq!(
        detail_types(&world.emitted(2).await?),
        vec!["ShipmentCancelled", "ShipmentRequested"]
    );
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_shipment_requested() -> TestResult {
    // Given a reservation whose ShipmentRequested could not be published after the write
    let world = World::new().await?;
    let reserved = fresh_sample(RESERVED)?;
    let failed = handler::handle(&world.broken, reserved.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");
    let written = world.shipments.shipment("ord-1001").await?;

    // When the same event is retried
    let retry = handler::handle(&world.deps, reserved.decode_set()?).await?;

    // Then the record is untouched and the event published carries the id the first try made
    assert_eq!(retry.action, Action::Requested);
    assert_eq!(retry.emitted.first().map(|e| e.event_id), unpublished(&failed));
    assert_eq!(world.shipments.shipment("ord-1001").await?, written);
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let requested = the::<ShipmentRequestedV1>(&emitted)?;
    assert_eq!(
        retry.emitted.first().map(|e| e.event_id),
        Some(requested.metadata().event_id)
    );
    assert_eq!(requested.data().lines.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_shipment_cancelled() -> TestResult {
    // Given a requested shipment, and a cancellation whose event could not be published
    let world = World::new().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;
    let cancelled = fresh_sample(CANCELLED)?;
    let failed = handler::handle(&world.broken, cancelled.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");
    assert_eq!(world.status("ord-1001").await?, Some(ShipmentStatus::Cancelled));

    // When the same event is retried
    let retry = handler::handle(&world.deps, cancelled.decode_set()?).await?;

    // Then it publishes the ShipmentCancelled it could not publish before, with the same id
    assert_eq!(retry.action, Action::Cancelled);
    assert_eq!(retry.emitted.first().map(|e| e.event_id), unpublished(&failed));
    let emitted = world.emitted(2).await?;
    assert_eq!(detail_types(&emitted), vec!["ShipmentCancelled", "ShipmentRequested"]);
    let shipment_cancelled = the::<ShipmentCancelledV1>(&emitted)?;
    assert_eq!(
        retry.emitted.first().map(|e| e.event_id),
        Some(shipment_cancelled.metadata().event_id)
    );
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event() -> TestResult {
    let world = World::new().await?;

    // A version fulfillment does not know
    let error = world
        .deliver(unknown_version(RESERVED)?)
        .await
        .err()
        .ok_or("v9 must fail")?;
    assert!(
        matches!(error, ConsumerError::Envelope(EnvelopeError::UnsupportedVersion { .. })),
        "{error}"
    );
    assert!(!error.is_retryable());

    // A missing field
    let (no_lines, event_id) = without(RESERVED, "/detail/data", "lines")?;
    let error = world.deliver(no_lines).await.err().ok_or("no lines must fail")?;
    assert!(error.to_string().contains("detail.data.lines"), "{error}");
    assert!(error.to_string().contains(&event_id), "{error}");
    assert!(!error.is_retryable());

    // Nothing was written for either
    assert!(world.shipments.shipment("ord-1001").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(RESERVED)?.decode_set::<FulfillmentEvent>()?;
    assert_eq!(event.detail_type(), "StockReserved");
    Ok(())
}

/// The `event_id` of the first event a failed publish could not send.
fn unpublished(error: &FulfillmentError) -> Option<uuid::Uuid> {
    match error {
        FulfillmentError::Publish(PublishError::EntriesFailed { failed, .. }) => failed.first().map(|f| f.event_id),
        _ => None,
    }
}
