//! Fulfillment with its state in memory, as `herald dev` runs it (`HERALD_STORES=memory`), held to
//! the behaviour `tests/fulfillment.rs` asks of DynamoDB. The consumer is built by the crate's own
//! wiring from a configuration whose tables do not exist: any DynamoDB call would fail. Only the
//! bus is on moto, whose rule sends fulfillment's events to an SQS queue the tests read.

use fulfillment::FUNCTION;
use fulfillment::config::Config;
use fulfillment::error::FulfillmentError;
use fulfillment::handler::{self, Action, Deps, FulfillmentEvent, Reaction};
use fulfillment::store::{Shipment, ShipmentStatus, ShipmentStore};
use fulfillment::wiring;
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, Guarded, Outcome};
use herald::{Classify, Consumer, ConsumerError, PublishError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{self, detail_types, the};
use shop_events::{ShipmentCancelReason, ShipmentCancelledV1, ShipmentRequestedV1, StockLine};

const RESERVED: &str = "shop.inventory/StockReserved/v1.sample.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";

/// The environment `herald dev` gives fulfillment: table names nobody created, memory stores,
/// and a fresh bus whose rule feeds a queue the test reads.
type Dev = world::Dev<Config>;

async fn dev() -> TestResult<Dev> {
    let dev = Dev::new("shop.fulfillment", &["SHIPMENTS_TABLE"], Config::from_lookup).await?;
    assert_eq!(dev.config.backend, Backend::Memory);
    Ok(dev)
}

/// Fulfillment as `wiring::consumer` builds it in memory, and its shipments (sharing its state).
struct World<H> {
    dev: Dev,
    consumer: Consumer<ChosenStore, FulfillmentEvent, H>,
    shipments: ShipmentStore,
}

async fn world() -> TestResult<
    World<impl Fn(FulfillmentEvent) -> HandlerFuture<Reaction, FulfillmentError> + Clone + Send + Sync + 'static>,
> {
    let dev = dev().await?;
    let wired = wiring::wired(&dev.sdk, &dev.config);
    Ok(World {
        dev,
        consumer: wired.consumer,
        shipments: wired.deps.shipments,
    })
}

impl<H> World<H>
where
    H: Fn(FulfillmentEvent) -> HandlerFuture<Reaction, FulfillmentError> + Clone + Send + Sync + 'static,
{
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<FulfillmentError>> {
        self.consumer.handle(raw, None).await
    }

    async fn action(&self, raw: RawEvent) -> TestResult<Option<Action>> {
        Ok(self.deliver(raw).await?.result.map(|r| r.action))
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        self.dev.bus.emitted(expected).await
    }

    async fn status(&self, order_id: &str) -> TestResult<Option<ShipmentStatus>> {
        Ok(self.shipments.shipment(order_id).await?.map(|s| s.status))
    }

    /// The same shipments, publishing to a bus that does not exist: every publish fails.
    fn broken(&self) -> Deps {
        Deps {
            shipments: self.shipments.clone(),
            publisher: self.dev.bus.broken_publisher(),
        }
    }
}

/// The `event_id` of the first event a failed publish could not send.
fn unpublished(error: &FulfillmentError) -> Option<uuid::Uuid> {
    match error {
        FulfillmentError::Publish(PublishError::EntriesFailed { failed, .. }) => failed.first().map(|f| f.event_id),
        _ => None,
    }
}

#[tokio::test]
async fn a_reservation_requests_a_shipment_and_emits_shipment_requested() -> TestResult {
    // Given a StockReserved for ord-1001 (1 laptop, 2 mice)
    let world = world().await?;
    let reserved = fresh_sample(RESERVED)?;
    let cause_id = reserved.ids().event_id.clone();

    // When it is delivered
    let answer = world.deliver(reserved).await?;

    // Then shp-1001 is REQUESTED with the lines, and ShipmentRequested, caused by it, is on the bus
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(answer.result.map(|r| r.action), Some(Action::Requested));
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
    assert_eq!(
        world.shipments.shipment("ord-1001").await?,
        Some(Shipment {
            order_id: "ord-1001".to_owned(),
            shipment_id: "shp-1001".to_owned(),
            customer_id: "cus-42".to_owned(),
            status: ShipmentStatus::Requested,
            lines: lines.clone(),
            requested_by: cause_id.clone(),
            cancelled_by: None,
        })
    );
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let requested = the::<ShipmentRequestedV1>(&emitted)?;
    assert_eq!(requested.data().shipment_id, "shp-1001");
    assert_eq!(requested.data().lines, lines);
    assert_eq!(requested.metadata().causation_id.map(|c| c.to_string()), cause_id);
    assert_eq!(requested.metadata().producer, FUNCTION);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_requests_once_and_emits_once() -> TestResult {
    // Given a StockReserved event
    let world = world().await?;
    let reserved = fresh_sample(RESERVED)?;

    // When it is delivered twice to the warm process
    let first = world.deliver(reserved.clone()).await?;
    let second = world.deliver(reserved).await?;

    // Then the second is answered with the first's result, one event was emitted, and the
    // guard's one record is in memory
    assert_eq!(second.outcome, Outcome::Cached);
    assert_eq!(second.result, first.result);
    assert_eq!(world.status("ord-1001").await?, Some(ShipmentStatus::Requested));
    assert_eq!(world.emitted(1).await?.len(), 1);
    let ChosenStore::Memory(records) = world.consumer.guard().store() else {
        return Err("the guard's records are not in memory".into());
    };
    assert_eq!(records.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_second_reservation_event_for_the_order_requests_nothing_new() -> TestResult {
    // Given a requested shipment
    let world = world().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;
    let first = world.shipments.shipment("ord-1001").await?;

    // When inventory's StockReserved arrives again under another event id
    let again = world.action(fresh_sample(RESERVED)?).await?;

    // Then the record is untouched and only the first ShipmentRequested is on the bus
    assert_eq!(again, Some(Action::AlreadyRequested));
    assert_eq!(world.shipments.shipment("ord-1001").await?, first);
    assert_eq!(detail_types(&world.emitted(1).await?), vec!["ShipmentRequested"]);
    Ok(())
}

#[tokio::test]
async fn a_cancellation_cancels_a_requested_shipment_and_emits_shipment_cancelled() -> TestResult {
    // Given a requested shipment
    let world = world().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;
    let cancelled = fresh_sample(CANCELLED)?;
    let cause_id = cancelled.ids().event_id.clone();

    // When the order is cancelled
    let action = world.action(cancelled).await?;

    // Then the shipment is CANCELLED by that event and ShipmentCancelled follows
    assert_eq!(action, Some(Action::Cancelled));
    let shipment = world.shipments.shipment("ord-1001").await?.ok_or("no shipment")?;
    assert_eq!(shipment.status, ShipmentStatus::Cancelled);
    assert_eq!(shipment.cancelled_by, cause_id);
    let emitted = world.emitted(2).await?;
    assert_eq!(detail_types(&emitted), vec!["ShipmentCancelled", "ShipmentRequested"]);
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
    Ok(())
}

#[tokio::test]
async fn a_cancellation_after_dispatch_leaves_the_shipment_dispatched_and_emits_nothing() -> TestResult {
    // Given a shipment the warehouse scanner has dispatched, once
    let world = world().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;
    assert!(world.shipments.mark_dispatched("ord-1001").await?);
    assert!(
        !world.shipments.mark_dispatched("ord-1001").await?,
        "dispatched already"
    );

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
    let world = world().await?;
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
    let world = world().await?;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancellation_racing_the_dispatch_either_cancels_or_is_too_late_never_both() -> TestResult {
    // Given a requested shipment
    let world = world().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;

    // When the cancellation and the warehouse scanner act at the same time
    let (cancelled, dispatched) = tokio::join!(
        world.action(fresh_sample(CANCELLED)?),
        world.shipments.mark_dispatched("ord-1001")
    );

    // Then exactly one of them moved the shipment, and the cancellation knows which
    let (cancelled, dispatched) = (cancelled?, dispatched?);
    let status = world.status("ord-1001").await?;
    if dispatched {
        assert_eq!(cancelled, Some(Action::TooLateDispatched));
        assert_eq!(status, Some(ShipmentStatus::Dispatched));
    } else {
        assert_eq!(cancelled, Some(Action::Cancelled));
        assert_eq!(status, Some(ShipmentStatus::Cancelled));
    }
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_shipment_requested() -> TestResult {
    // Given a reservation whose ShipmentRequested could not be published after the write
    let world = world().await?;
    let reserved = fresh_sample(RESERVED)?;
    let failed = handler::handle(&world.broken(), reserved.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");
    let written = world.shipments.shipment("ord-1001").await?;

    // When the same event is retried through the consumer
    let retry = world.deliver(reserved).await?.result.ok_or("no result")?;

    // Then the record is untouched and the event published carries the id the first try made
    assert_eq!(retry.action, Action::Requested);
    assert_eq!(retry.emitted.first().map(|e| e.event_id), unpublished(&failed));
    assert_eq!(world.shipments.shipment("ord-1001").await?, written);
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(
        retry.emitted.first().map(|e| e.event_id),
        Some(the::<ShipmentRequestedV1>(&emitted)?.metadata().event_id)
    );
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_shipment_cancelled() -> TestResult {
    // Given a requested shipment, and a cancellation whose event could not be published
    let world = world().await?;
    world.deliver(fresh_sample(RESERVED)?).await?;
    let cancelled = fresh_sample(CANCELLED)?;
    let failed = handler::handle(&world.broken(), cancelled.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");
    assert_eq!(world.status("ord-1001").await?, Some(ShipmentStatus::Cancelled));

    // When the same event is retried through the consumer
    let retry = world.deliver(cancelled).await?.result.ok_or("no result")?;

    // Then it publishes the ShipmentCancelled it could not publish before, with the same id
    assert_eq!(retry.action, Action::Cancelled);
    assert_eq!(retry.emitted.first().map(|e| e.event_id), unpublished(&failed));
    let emitted = world.emitted(2).await?;
    assert_eq!(detail_types(&emitted), vec!["ShipmentCancelled", "ShipmentRequested"]);
    assert_eq!(
        retry.emitted.first().map(|e| e.event_id),
        Some(the::<ShipmentCancelledV1>(&emitted)?.metadata().event_id)
    );
    Ok(())
}

#[tokio::test]
async fn the_consumer_main_runs_keeps_the_order_s_story_between_events() -> TestResult {
    // Given fulfillment exactly as `main.rs` builds it under `herald dev`
    let dev = dev().await?;
    let consumer = wiring::consumer(&dev.sdk, &dev.config);
    let action = |raw: RawEvent| {
        let consumer = consumer.clone();
        async move { TestResult::Ok(consumer.handle(raw, None).await?.result.map(|r| r.action)) }
    };

    // When the cancellation, then the reservation, then the cancellation again arrive
    let early = action(fresh_sample(CANCELLED)?).await?;
    let late = action(fresh_sample(RESERVED)?).await?;
    let again = action(fresh_sample(CANCELLED)?).await?;

    // Then each found what the one before left in the process's memory
    assert_eq!(early, Some(Action::RecordedEarlyCancel));
    assert_eq!(late, Some(Action::SkippedCancelledOrder));
    assert_eq!(again, Some(Action::AlreadyCancelled));
    assert!(dev.bus.emitted(0).await?.is_empty());
    Ok(())
}
