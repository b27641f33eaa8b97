//! Inventory with its state in memory, as `herald dev` runs it (`HERALD_STORES=memory`), held to
//! the behaviour `tests/inventory.rs` asks of DynamoDB. The consumer is built by the crate's own
//! wiring from a configuration whose tables do not exist: any DynamoDB call would fail. Only the
//! bus is on moto, whose rule sends inventory's events to an SQS queue the tests read.

use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, Guarded, Outcome};
use herald::{Classify, Consumer, ConsumerError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world;
use inventory::config::Config;
use inventory::error::InventoryError;
use inventory::handler::{Action, InventoryEvent, Reaction};
use inventory::store::{ReservationStatus, Reserve, StockStore};
use inventory::wiring;
use serde_json::json;
use shop_events::{StockLine, StockReservedV1, StockShortageV1};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";
const RETURNED: &str = "shop.orders/OrderReturned/v1.sample.json";

/// The environment `herald dev` gives inventory: table names nobody created, memory stores,
/// and a fresh bus whose rule feeds a queue the test reads.
type Dev = world::Dev<Config>;

async fn dev() -> TestResult<Dev> {
    let dev = Dev::new(
        "shop.inventory",
        &["STOCK_TABLE", "RESERVATIONS_TABLE"],
        Config::from_lookup,
    )
    .await?;
    assert_eq!(dev.config.backend, Backend::Memory);
    Ok(dev)
}

/// Inventory as `wiring::consumer` builds it in memory, and its stock store (sharing its state).
struct World<H> {
    dev: Dev,
    consumer: Consumer<ChosenStore, InventoryEvent, H>,
    stock: StockStore,
}

async fn world()
-> TestResult<World<impl Fn(InventoryEvent) -> HandlerFuture<Reaction, InventoryError> + Clone + Send + Sync + 'static>>
{
    let dev = dev().await?;
    let wired = wiring::wired(&dev.sdk, &dev.config);
    Ok(World {
        dev,
        consumer: wired.consumer,
        stock: wired.deps.stock,
    })
}

impl<H> World<H>
where
    H: Fn(InventoryEvent) -> HandlerFuture<Reaction, InventoryError> + Clone + Send + Sync + 'static,
{
    /// 5 laptops and 10 mice: enough for the sample order (1 laptop, 2 mice).
    async fn stocked(self) -> TestResult<Self> {
        self.stock.set_available("SKU-LAPTOP-14", 5).await?;
        self.stock.set_available("SKU-MOUSE-01", 10).await?;
        Ok(self)
    }

    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<InventoryError>> {
        self.consumer.handle(raw, None).await
    }

    async fn action(&self, raw: RawEvent) -> TestResult<Option<Action>> {
        Ok(self.deliver(raw).await?.result.map(|r| r.action))
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        self.dev.bus.emitted(expected).await
    }
}

/// The sample order (1 laptop, 2 mice) as another order, with a fresh event id.
fn placed(order_id: &str) -> TestResult<RawEvent> {
    let mut value = fresh_sample(PLACED)?.as_value().clone();
    value["detail"]["data"]["order_id"] = json!(order_id);
    Ok(RawEvent::from_value(value))
}

#[tokio::test]
async fn a_placed_order_reserves_every_line_and_emits_stock_reserved() -> TestResult {
    // Given 5 laptops and 10 mice in memory
    let world = world().await?.stocked().await?;
    let placed = fresh_sample(PLACED)?;
    let order_event_id = placed.ids().event_id.clone();

    // When ord-1001 (1 laptop, 2 mice) is placed
    let answer = world.deliver(placed).await?;

    // Then the units are held, the reservation is recorded and StockReserved is on the bus
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(answer.result.map(|r| r.action), Some(Action::Reserved));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (4, 1));
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (8, 2));
    let reservation = world.stock.reservation("ord-1001").await?.ok_or("no reservation")?;
    assert_eq!(reservation.status, ReservationStatus::Reserved);
    assert_eq!(reservation.customer_id, "cus-42");
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let reserved = RawEvent::from_value(emitted[0].clone()).decode::<StockReservedV1>()?;
    assert_eq!(reserved.data().order_id, "ord-1001");
    assert_eq!(reserved.data().lines, reservation.lines);
    assert_eq!(reserved.metadata().causation_id.map(|c| c.to_string()), order_event_id);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_reserves_once_and_emits_once() -> TestResult {
    // Given stock and an order event
    let world = world().await?.stocked().await?;
    let placed = fresh_sample(PLACED)?;

    // When it is delivered twice to the warm process
    let first = world.deliver(placed.clone()).await?;
    let second = world.deliver(placed).await?;

    // Then the second is answered with the first's result, stock moved once, one event emitted,
    // and the guard's one record is in memory
    assert_eq!(second.outcome, Outcome::Cached);
    assert_eq!(second.result, first.result);
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (4, 1));
    assert_eq!(world.emitted(1).await?.len(), 1);
    let ChosenStore::Memory(records) = world.consumer.guard().store() else {
        return Err("the guard's records are not in memory".into());
    };
    assert_eq!(records.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_same_order_under_another_event_id_holds_nothing_more_and_reports_its_reservation() -> TestResult {
    // Given a reserved order
    let world = world().await?.stocked().await?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // When the order service publishes it again under another event id
    let again = world.action(fresh_sample(PLACED)?).await?;

    // Then the recorded reservation answers: nothing more is held, and it is reported again
    assert_eq!(again, Some(Action::Reserved));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (4, 1));
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (8, 2));
    let emitted = world.emitted(2).await?;
    assert_eq!(emitted.len(), 2);
    for event in emitted {
        assert_eq!(
            RawEvent::from_value(event)
                .decode::<StockReservedV1>()?
                .data()
                .lines
                .len(),
            2
        );
    }
    Ok(())
}

#[tokio::test]
async fn an_order_with_a_short_sku_holds_nothing_and_emits_stock_shortage() -> TestResult {
    // Given laptops but only one mouse
    let world = world().await?;
    world.stock.set_available("SKU-LAPTOP-14", 5).await?;
    world.stock.set_available("SKU-MOUSE-01", 1).await?;

    // When the order for 2 mice arrives
    let answer = world.deliver(fresh_sample(PLACED)?).await?;

    // Then nothing is held, the order is recorded SHORT, and the shortage names the SKU
    assert_eq!(answer.result.map(|r| r.action), Some(Action::Shortage));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (5, 0), "all or nothing");
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (1, 0));
    assert_eq!(
        world.stock.reservation("ord-1001").await?.map(|r| r.status),
        Some(ReservationStatus::Short)
    );
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
async fn an_order_for_skus_never_stocked_is_short_of_every_line_with_none_available() -> TestResult {
    // Given a fresh process: no SKU was ever stocked
    let world = world().await?;

    // When the order arrives
    let action = world.action(fresh_sample(PLACED)?).await?;

    // Then both lines are short with nothing available, and no SKU appears in stock
    assert_eq!(action, Some(Action::Shortage));
    let emitted = world.emitted(1).await?;
    let shortage = RawEvent::from_value(emitted[0].clone()).decode::<StockShortageV1>()?;
    let short: Vec<(&str, u32, u32)> = shortage
        .data()
        .short
        .iter()
        .map(|s| (s.sku.as_str(), s.requested, s.available))
        .collect();
    assert_eq!(short, vec![("SKU-LAPTOP-14", 1, 0), ("SKU-MOUSE-01", 2, 0)]);
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (0, 0));
    Ok(())
}

#[tokio::test]
async fn a_cancellation_delivered_twice_releases_the_reservation_exactly_once() -> TestResult {
    // Given a reserved order
    let world = world().await?.stocked().await?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // When the order system publishes the cancellation twice (two event ids for one fact)
    let first = world.action(fresh_sample(CANCELLED)?).await?;
    let second = world.action(fresh_sample(CANCELLED)?).await?;

    // Then the units came back once
    assert_eq!(first, Some(Action::Released));
    assert_eq!(second, Some(Action::NothingToRelease));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (5, 0));
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (10, 0));
    assert_eq!(
        world.stock.reservation("ord-1001").await?.map(|r| r.status),
        Some(ReservationStatus::Released)
    );
    Ok(())
}

#[tokio::test]
async fn a_returned_order_gives_its_units_back_once() -> TestResult {
    // Given ord-1002 reserved (1 laptop, 2 mice)
    let world = world().await?.stocked().await?;
    world.deliver(placed("ord-1002")?).await?;

    // When its return is published twice
    let first = world.action(fresh_sample(RETURNED)?).await?;
    let second = world.action(fresh_sample(RETURNED)?).await?;

    // Then the reserved units went back to stock once
    assert_eq!(first, Some(Action::Released));
    assert_eq!(second, Some(Action::NothingToRelease));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (5, 0));
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (10, 0));
    Ok(())
}

#[tokio::test]
async fn a_cancellation_that_arrives_before_the_order_makes_the_order_hold_nothing() -> TestResult {
    // Given stock, and the cancellation arriving first
    let world = world().await?.stocked().await?;
    let early = world.action(fresh_sample(CANCELLED)?).await?;

    // When the order arrives afterwards
    let late = world.action(fresh_sample(PLACED)?).await?;

    // Then the cancellation was recorded and the order reserved nothing and emitted nothing
    assert_eq!(early, Some(Action::RecordedEarlyCancel));
    assert_eq!(late, Some(Action::SkippedCancelledOrder));
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (5, 0));
    assert_eq!(
        world.stock.reservation("ord-1001").await?.map(|r| r.status),
        Some(ReservationStatus::CancelledEarly)
    );
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_orders_racing_for_the_last_units_reserve_one_and_short_the_other() -> TestResult {
    // Given stock for exactly one sample order: 1 laptop, 2 mice
    let world = world().await?;
    world.stock.set_available("SKU-LAPTOP-14", 1).await?;
    world.stock.set_available("SKU-MOUSE-01", 2).await?;

    // When two orders for it are handled at the same time
    let (a, b) = tokio::join!(world.action(placed("ord-2001")?), world.action(placed("ord-2002")?));

    // Then one holds every unit and the other holds nothing: stock never goes below zero
    let mut actions = vec![a?, b?];
    actions.sort_by_key(|a| format!("{a:?}"));
    assert_eq!(actions, vec![Some(Action::Reserved), Some(Action::Shortage)]);
    assert_eq!(world.stock.available("SKU-LAPTOP-14").await?, (0, 1));
    assert_eq!(world.stock.available("SKU-MOUSE-01").await?, (0, 2));
    assert_eq!(world.emitted(2).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn thin_orders_are_refused_as_they_are_with_dynamodb() -> TestResult {
    let world = world().await?;

    // When a thin v2 order arrives
    let error = world
        .deliver(fresh_sample("shop.orders/OrderPlaced/v2.sample.json")?)
        .await
        .err()
        .ok_or("a thin order must fail")?;

    // Then it gets the same typed, non-retryable error, and nothing is recorded
    assert_eq!(error.error_type(), "Inventory.ThinOrder");
    assert!(!error.is_retryable());
    assert!(world.stock.reservation("ord-1003").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn the_consumer_main_runs_keeps_the_order_s_story_between_events() -> TestResult {
    // Given inventory exactly as `main.rs` builds it under `herald dev`
    let dev = dev().await?;
    let consumer = wiring::consumer(&dev.sdk, &dev.config);
    let action = |raw: RawEvent| {
        let consumer = consumer.clone();
        async move { TestResult::Ok(consumer.handle(raw, None).await?.result.map(|r| r.action)) }
    };

    // When the cancellation, then the order, then the cancellation again arrive
    let early = action(fresh_sample(CANCELLED)?).await?;
    let late = action(fresh_sample(PLACED)?).await?;
    let again = action(fresh_sample(CANCELLED)?).await?;

    // Then each found what the one before left in the process's memory
    assert_eq!(early, Some(Action::RecordedEarlyCancel));
    assert_eq!(late, Some(Action::SkippedCancelledOrder));
    assert_eq!(again, Some(Action::NothingToRelease));
    assert!(dev.bus.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_change_that_names_one_sku_twice_is_refused_whole() -> TestResult {
    // Given one laptop in memory
    let stock = StockStore::memory();
    stock.set_available("SKU-LAPTOP-14", 1).await?;
    let line = StockLine {
        sku: "SKU-LAPTOP-14".to_owned(),
        quantity: 1,
    };

    // When a reservation names the laptop twice, each line fitting on its own
    let refused = stock.reserve("ord-3001", "cus-1", &[line.clone(), line.clone()]).await;

    // Then it is refused, as DynamoDB refuses a transaction touching one item twice, and changes
    // nothing; one line alone still reserves
    assert!(matches!(refused, Err(InventoryError::Store { .. })), "{refused:?}");
    assert_eq!(stock.available("SKU-LAPTOP-14").await?, (1, 0));
    assert!(stock.reservation("ord-3001").await?.is_none());
    assert_eq!(stock.reserve("ord-3001", "cus-1", &[line]).await?, Reserve::Reserved);
    assert_eq!(stock.available("SKU-LAPTOP-14").await?, (0, 1));
    Ok(())
}
