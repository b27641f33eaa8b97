//! Inventory against moto server: DynamoDB tables for stock, reservations and idempotency, and
//! an EventBridge bus whose rule sends inventory's events to an SQS queue the tests read.

use herald::idempotency::{DynamoStore, Guarded, GuardedEvent, IdempotencyGuard, Outcome};
use herald::{Classify, ConsumerError, EnvelopeError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{Bus, Harness, deliver, unknown_version, without};
use inventory::FUNCTION;
use inventory::error::InventoryError;
use inventory::handler::{self, Action, Deps, InventoryEvent, Reaction};
use inventory::store::{ReservationStatus, StockStore};
use shop_events::{StockReservedV1, StockShortageV1};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";

/// Inventory wired to fresh tables and a fresh bus, as `main.rs` wires it.
struct World {
    stock: StockStore,
    bus: Bus,
    deps: Deps,
    guard: IdempotencyGuard<DynamoStore>,
}

impl World {
    async fn new() -> TestResult<Self> {
        let moto = Harness::new().await;
        let bus = moto.bus("shop.inventory").await?;
        let stock = StockStore::new(
            moto.dynamodb.clone(),
            moto.table("stock", "sku", None).await?,
            moto.table("reservations", "order_id", None).await?,
        );
        Ok(Self {
            deps: Deps {
                stock: stock.clone(),
                publisher: bus.publisher(),
            },
            stock,
            bus,
            guard: moto.idempotency_guard(FUNCTION).await?,
        })
    }

    /// Delivers one event through the same consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<InventoryError>> {
        deliver(&self.guard, &self.deps, run, raw).await
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        self.bus.emitted(expected).await
    }
}

/// The handler over owned dependencies, as a consumer built per delivery runs it.
async fn run(deps: Deps, event: InventoryEvent) -> Result<Reaction, InventoryError> {
    handler::handle(&deps, event).await
}

#[tokio::test]
async fn a_placed_order_reserves_every_line_and_emits_stock_reserved() -> TestResult {
    // Given 5 laptops and 10 mice in stock
    let world = World::new().await?;
    world.stock.set_available("SKU-LAPTOP-14", 5).await?;
    world.stock.set_available("SKU-MOUSE-01", 10).await?;
    let placed = fresh_sample(PLACED)?;
    let order_event_id = placed.ids().event_id.clone();

    // When ord-1001 (1 laptop, 2 mice) is placed
    let answer = world.deliver(placed).await?;

    // Then the units are held and StockReserved, caused by the order, is on the bus
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(answer.result.as_ref().map(|r| r.action), Some(Action::Reserved));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (4, 1));
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (8, 2));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let reserved = RawEvent::from_value(emitted[0].clone()).decode::<StockReservedV1>()?;
    assert_eq!(reserved.data().order_id, "ord-1001");
    assert_eq!(reserved.data().lines.len(), 2);
    assert_eq!(reserved.metadata().causation_id.map(|c| c.to_string()), order_event_id);
    assert_eq!(reserved.metadata().producer, FUNCTION);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_reserves_once_and_emits_once() -> TestResult {
    // Given stock and an order event
    let world = World::new().await?;
    world.stock.set_available("SKU-LAPTOP-14", 5).await?;
    world.stock.set_available("SKU-MOUSE-01", 10).await?;
    let placed = fresh_sample(PLACED)?;

    // When it is delivered twice
    let first = world.deliver(placed.clone()).await?;
    let second = world.deliver(placed).await?;

    // Then the second is answered from the record, stock moved once, one event emitted
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result, first.result);
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (4, 1));
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn an_order_with_a_short_sku_holds_nothing_and_emits_stock_shortage() -> TestResult {
    // Given laptops but only one mouse
    let world = World::new().await?;
    world.stock.set_available("SKU-LAPTOP-14", 5).await?;
    world.stock.set_available("SKU-MOUSE-01", 1).await?;

    // When the order for 2 mice arrives
    let answer = world.deliver(fresh_sample(PLACED)?).await?;

    // Then nothing is held and the shortage names the SKU with what was available
    assert_eq!(answer.result.map(|r| r.action), Some(Action::Shortage));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (5, 0), "all or nothing");
    let emitted = world.emitted(1).await?;
    let shortage = RawEvent::from_value(emitted[0].clone()).decode::<StockShortageV1>()?;
    assert_eq!(shortage.data().short.len(), 1);
    assert_eq!(shortage.data().short[0].sku, "SKU-MOUSE-01");
    assert_eq!(
        (shortage.data().short[0].requested, shortage.data().short[0].available),
        (2, 1)
    );
    Ok(())
}

#[tokio::test]
async fn a_cancellation_delivered_twice_releases_the_reservation_exactly_once() -> TestResult {
    // Given a reserved order
    let world = World::new().await?;
    world.stock.set_available("SKU-LAPTOP-14", 5).await?;
    world.stock.set_available("SKU-MOUSE-01", 10).await?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // When the order system publishes the cancellation twice (two event ids for one fact)
    let first = world.deliver(fresh_sample(CANCELLED)?).await?;
    let second = world.deliver(fresh_sample(CANCELLED)?).await?;

    // Then the units came back once
    assert_eq!(first.result.map(|r| r.action), Some(Action::Released));
    assert_eq!(second.result.map(|r| r.action), Some(Action::NothingToRelease));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (5, 0));
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (10, 0));
    assert_eq!(
        world.stock.reservation("ord-1001").await?.map(|r| r.status),
        Some(ReservationStatus::Released)
    );
    Ok(())
}

#[tokio::test]
async fn a_cancellation_that_arrives_before_the_order_makes_the_order_hold_nothing() -> TestResult {
    // Given stock, and the cancellation arriving first
    let world = World::new().await?;
    world.stock.set_available("SKU-LAPTOP-14", 5).await?;
    world.stock.set_available("SKU-MOUSE-01", 10).await?;
    let early = world.deliver(fresh_sample(CANCELLED)?).await?;

    // When the order arrives afterwards
    let late = world.deliver(fresh_sample(PLACED)?).await?;

    // Then the cancellation was recorded and the order reserved nothing and emitted nothing
    assert_eq!(early.result.map(|r| r.action), Some(Action::RecordedEarlyCancel));
    assert_eq!(late.result.map(|r| r.action), Some(Action::SkippedCancelledOrder));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (5, 0));
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event() -> TestResult {
    let world = World::new().await?;

    // A thin v2 order: no lines to reserve
    let thin = fresh_sample("shop.orders/OrderPlaced/v2.sample.json")?;
    let thin_id = thin.ids().event_id.clone();
    let error = world.deliver(thin).await.err().ok_or("a thin order must fail")?;
    assert_eq!(error.error_type(), "Inventory.ThinOrder");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("ord-1003"), "{error}");

    // A version inventory does not know
    let error = world
        .deliver(unknown_version(PLACED)?)
        .await
        .err()
        .ok_or("v9 must fail")?;
    assert!(
        matches!(error, ConsumerError::Envelope(EnvelopeError::UnsupportedVersion { .. })),
        "{error}"
    );
    assert!(!error.is_retryable());

    // A missing field
    let (no_items, event_id) = without(PLACED, "/detail/data", "items")?;
    let error = world.deliver(no_items).await.err().ok_or("no items must fail")?;
    assert!(error.to_string().contains("detail.data.items"), "{error}");
    assert!(error.to_string().contains(&event_id), "{error}");
    assert!(!error.is_retryable());

    // Nothing was written for any of them, and the thin order's error names its event
    assert!(world.stock.reservation("ord-1003").await?.is_none());
    assert!(thin_id.is_some());
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(PLACED)?.decode_set::<InventoryEvent>()?;
    assert_eq!(event.detail_type(), "OrderPlaced");
    Ok(())
}
