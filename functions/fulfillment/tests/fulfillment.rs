//! Fulfillment's behaviour, each test run on both backends it runs on (memory, as under
//! `herald dev`, and DynamoDB on moto), built as `main.rs` builds it. What it publishes goes to a
//! fresh bus on moto whose rule sends every event to a queue the tests read.

use fulfillment::error::FulfillmentError;
use fulfillment::handler::{self, Action, Deps, FulfillmentEvent};
use fulfillment::store::{KEY, Shipment, ShipmentStatus, ShipmentStore};
use herald::idempotency::{GuardedEvent, Outcome};
use herald::store::{Table, TableError};
use herald::{Classify, Function, PublishError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{ORDER_CANCELLED, STOCK_RESERVED, fresh_sample};
use herald_tests::world::{FunctionWorld, Stores, assert_catalogued, detail_types, on_every_backend, the};
use shop_events::{ShipmentCancelReason, ShipmentCancelledV1, ShipmentRequestedV1, StockLine};

/// Fulfillment over fresh stores of `stores`.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Fulfillment's shipments.
fn shipments(world: &FunctionWorld<Deps>) -> &ShipmentStore {
    &world.deps().shipments
}

/// The action of one delivery.
async fn action(world: &FunctionWorld<Deps>, raw: RawEvent) -> TestResult<Option<Action>> {
    Ok(world.deliver(raw).await?.result.map(|r| r.action))
}

/// Where the order's shipment stands.
async fn status(world: &FunctionWorld<Deps>, order_id: &str) -> TestResult<Option<ShipmentStatus>> {
    Ok(shipments(world).shipment(order_id).await?.map(|s| s.status))
}

/// The same shipments, publishing to a bus that does not exist: every publish fails.
fn broken(world: &FunctionWorld<Deps>) -> Deps {
    Deps {
        shipments: shipments(world).clone(),
        publisher: world.bus.broken_publisher(),
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
    on_every_backend(async |stores| {
        // Given a StockReserved for ord-1001 (1 laptop, 2 mice)
        let world = world(stores).await?;
        let reserved = fresh_sample(STOCK_RESERVED)?;
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
        let stored = shipments(&world).shipment("ord-1001").await?.ok_or("no shipment")?;
        assert_eq!(
            stored,
            Shipment {
                order_id: "ord-1001".to_owned(),
                shipment_id: "shp-1001".to_owned(),
                customer_id: "cus-42".to_owned(),
                status: ShipmentStatus::Requested,
                lines: lines.clone(),
                requested_by: cause_id.clone(),
                cancelled_by: None,
                announced: stored.announced.clone(),
            }
        );
        let emitted = world.bus.emitted(1).await?;
        assert_eq!(emitted.len(), 1);
        assert_catalogued(&emitted)?;
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
        assert_eq!(requested.metadata().producer, Deps::NAME);
        assert!(stored.announced.contains(requested.metadata().event_id));
        assert_eq!(
            reaction.emitted.first().map(|e| e.event_id),
            Some(requested.metadata().event_id)
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_second_reservation_event_for_the_order_requests_nothing_new() -> TestResult {
    on_every_backend(async |stores| {
        // Given a requested shipment
        let world = world(stores).await?;
        world.deliver(fresh_sample(STOCK_RESERVED)?).await?;
        let first = shipments(&world).shipment("ord-1001").await?;

        // When inventory's StockReserved arrives again under another event id
        let again = action(&world, fresh_sample(STOCK_RESERVED)?).await?;

        // Then the record is untouched and only the first ShipmentRequested is on the bus
        assert_eq!(again, Some(Action::AlreadyRequested));
        assert_eq!(shipments(&world).shipment("ord-1001").await?, first);
        assert_eq!(detail_types(&world.bus.emitted(1).await?), vec!["ShipmentRequested"]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancellation_cancels_a_requested_shipment_and_emits_shipment_cancelled() -> TestResult {
    on_every_backend(async |stores| {
        // Given a requested shipment
        let world = world(stores).await?;
        world.deliver(fresh_sample(STOCK_RESERVED)?).await?;
        let cancelled = fresh_sample(ORDER_CANCELLED)?;
        let cause_id = cancelled.ids().event_id.clone();

        // When the order is cancelled
        let action = action(&world, cancelled).await?;

        // Then the shipment is CANCELLED by that event and ShipmentCancelled, caused by it, follows
        assert_eq!(action, Some(Action::Cancelled));
        let shipment = shipments(&world).shipment("ord-1001").await?.ok_or("no shipment")?;
        assert_eq!(shipment.status, ShipmentStatus::Cancelled);
        assert_eq!(shipment.cancelled_by, cause_id);
        let emitted = world.bus.emitted(2).await?;
        assert_eq!(detail_types(&emitted), vec!["ShipmentCancelled", "ShipmentRequested"]);
        assert_catalogued(&emitted)?;
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
    })
    .await
}

#[tokio::test]
async fn a_cancellation_after_dispatch_leaves_the_shipment_dispatched_and_emits_nothing() -> TestResult {
    on_every_backend(async |stores| {
        // Given a shipment the warehouse scanner has dispatched, once, after its reservation
        let reserved = fresh_sample(STOCK_RESERVED)?;
        let world = world(stores).await?;
        world.deliver(reserved.clone()).await?;
        assert!(shipments(&world).mark_dispatched("ord-1001").await?);
        assert!(
            !shipments(&world).mark_dispatched("ord-1001").await?,
            "dispatched already"
        );

        // When the order is cancelled, and the reservation is replayed after its guard record
        // is gone
        let action = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;
        let replayed = world.deliver_after_the_guard_forgot(reserved).await?;

        // Then it is too late: the shipment stays DISPATCHED, the replay asks for nothing, and
        // only the first request was emitted
        assert_eq!(action, Some(Action::TooLateDispatched));
        assert_eq!(replayed.result.map(|r| r.action), Some(Action::MovedOnSince));
        assert_eq!(status(&world, "ord-1001").await?, Some(ShipmentStatus::Dispatched));
        assert_eq!(detail_types(&world.bus.emitted(1).await?), vec!["ShipmentRequested"]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancellation_before_the_reservation_makes_the_reservation_request_nothing() -> TestResult {
    on_every_backend(async |stores| {
        // Given the cancellation arriving first
        let world = world(stores).await?;
        let early = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // When the StockReserved arrives afterwards
        let late = action(&world, fresh_sample(STOCK_RESERVED)?).await?;

        // Then the tombstone stands, no shipment is requested and nothing is emitted
        assert_eq!(early, Some(Action::RecordedEarlyCancel));
        assert_eq!(late, Some(Action::SkippedCancelledOrder));
        assert_eq!(status(&world, "ord-1001").await?, Some(ShipmentStatus::CancelledEarly));
        assert!(
            !shipments(&world).mark_dispatched("ord-1001").await?,
            "nothing to dispatch"
        );
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_order_cancelled_before_its_reservation_stays_cancelled_through_every_later_event() -> TestResult {
    on_every_backend(async |stores| {
        // Given fulfillment as `main.rs` builds it
        let world = world(stores).await?;

        // When the cancellation, then the reservation, then the cancellation again (another event id) arrive
        let early = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;
        let late = action(&world, fresh_sample(STOCK_RESERVED)?).await?;
        let again = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // Then each found what the one before left, and nothing was emitted
        assert_eq!(early, Some(Action::RecordedEarlyCancel));
        assert_eq!(late, Some(Action::SkippedCancelledOrder));
        assert_eq!(again, Some(Action::AlreadyCancelled));
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn two_cancellation_events_for_one_order_emit_one_shipment_cancelled() -> TestResult {
    on_every_backend(async |stores| {
        // Given a requested shipment
        let world = world(stores).await?;
        world.deliver(fresh_sample(STOCK_RESERVED)?).await?;

        // When the order system publishes the cancellation twice (two event ids for one fact)
        let first = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;
        let second = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // Then the shipment was cancelled once and one ShipmentCancelled was emitted
        assert_eq!(first, Some(Action::Cancelled));
        assert_eq!(second, Some(Action::AlreadyCancelled));
        assert_eq!(
            detail_types(&world.bus.emitted(2).await?),
            vec!["ShipmentCancelled", "ShipmentRequested"]
        );
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_a_cancellation_racing_the_dispatch_either_cancels_or_is_too_late_never_both() -> TestResult {
    // In memory only: moto does not apply conditional writes atomically across concurrent
    // requests (two can both pass), where DynamoDB does; the DynamoDB store states the same rule
    // as write conditions, which the tests above exercise one delivery at a time.
    // Given a requested shipment
    let world = world(Stores::Memory).await?;
    world.deliver(fresh_sample(STOCK_RESERVED)?).await?;

    // When the cancellation and the warehouse scanner act at the same time
    let (cancelled, dispatched) = tokio::join!(
        action(&world, fresh_sample(ORDER_CANCELLED)?),
        shipments(&world).mark_dispatched("ord-1001")
    );

    // Then exactly one of them moved the shipment, and the cancellation knows which
    let (cancelled, dispatched) = (cancelled?, dispatched?);
    let status = status(&world, "ord-1001").await?;
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
    on_every_backend(async |stores| {
        // Given a reservation whose ShipmentRequested could not be published after the write
        let world = world(stores).await?;
        let reserved = fresh_sample(STOCK_RESERVED)?;
        let failed = handler::handle(&broken(&world), reserved.clone().decode_set()?)
            .await
            .err()
            .ok_or("publishing to a missing bus must fail")?;
        assert!(failed.is_retryable(), "{failed}");
        let written = shipments(&world).shipment("ord-1001").await?.ok_or("no shipment")?;
        assert!(written.announced.is_empty());

        // When the same event is retried through the consumer
        let retry = world.deliver(reserved).await?.result.ok_or("no result")?;

        // Then the record is untouched but for its event now recorded published, and the event
        // published carries the id the first try made
        assert_eq!(retry.action, Action::Requested);
        assert_eq!(retry.emitted.first().map(|e| e.event_id), unpublished(&failed));
        let after = shipments(&world).shipment("ord-1001").await?.ok_or("no shipment")?;
        assert!(unpublished(&failed).is_some_and(|id| after.announced.contains(id)));
        assert_eq!(
            Shipment {
                announced: written.announced.clone(),
                ..after
            },
            written
        );
        let requested = world.bus.emitted_one::<ShipmentRequestedV1>().await?;
        assert_eq!(
            retry.emitted.first().map(|e| e.event_id),
            Some(requested.metadata().event_id)
        );
        assert_eq!(requested.data().lines.len(), 2);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_shipment_cancelled() -> TestResult {
    on_every_backend(async |stores| {
        // Given a requested shipment, and a cancellation whose event could not be published
        let world = world(stores).await?;
        world.deliver(fresh_sample(STOCK_RESERVED)?).await?;
        let cancelled = fresh_sample(ORDER_CANCELLED)?;
        let failed = handler::handle(&broken(&world), cancelled.clone().decode_set()?)
            .await
            .err()
            .ok_or("publishing to a missing bus must fail")?;
        assert!(failed.is_retryable(), "{failed}");
        assert_eq!(status(&world, "ord-1001").await?, Some(ShipmentStatus::Cancelled));

        // When the same event is retried through the consumer
        let retry = world.deliver(cancelled).await?.result.ok_or("no result")?;

        // Then it publishes the ShipmentCancelled it could not publish before, with the same id
        assert_eq!(retry.action, Action::Cancelled);
        assert_eq!(retry.emitted.first().map(|e| e.event_id), unpublished(&failed));
        let emitted = world.bus.emitted(2).await?;
        assert_eq!(detail_types(&emitted), vec!["ShipmentCancelled", "ShipmentRequested"]);
        assert_eq!(
            retry.emitted.first().map(|e| e.event_id),
            Some(the::<ShipmentCancelledV1>(&emitted)?.metadata().event_id)
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(STOCK_RESERVED)?.decode_set::<FulfillmentEvent>()?;
    assert_eq!(event.detail_type(), "StockReserved");
    Ok(())
}

#[tokio::test]
async fn a_dynamodb_failure_is_a_retryable_store_error_that_keeps_the_sdk_error() -> TestResult {
    // Given shipments in a DynamoDB that refuses every connection
    let client = aws_sdk_dynamodb::Client::new(&herald_tests::aws::unreachable_config());
    let shipments = ShipmentStore::new(Table::dynamo(client, "shipments", KEY));

    // When an order's shipment is read
    let error = shipments
        .shipment("ord-1001")
        .await
        .err()
        .ok_or("read from an unreachable table")?;

    // Then it is a retryable store failure naming the call, whose source is the SDK's error
    assert!(
        matches!(&error, FulfillmentError::Store { order_id, source: TableError::Sdk { operation: "GetItem", .. } } if order_id == "ord-1001"),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(error.error_type(), "Fulfillment.Store");
    let sdk = std::error::Error::source(&error)
        .and_then(std::error::Error::source)
        .and_then(std::error::Error::source)
        .ok_or("no SDK error under the store error")?;
    assert!(sdk.is::<aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::get_item::GetItemError>>());
    Ok(())
}
