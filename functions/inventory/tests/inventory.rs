//! Inventory's behaviour, each test run on both backends it runs on (memory, as under
//! `herald dev`, and DynamoDB on moto), built as `main.rs` builds it, with a bus on moto whose
//! queue receives everything inventory publishes.

use herald::idempotency::{GuardedEvent, Outcome};
use herald::{Classify, Function, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{
    ORDER_CANCELLED, ORDER_PLACED, ORDER_RETURNED, THIN_ORDER_PLACED, fresh_sample, fresh_sample_with,
};
use herald_tests::world::{FunctionWorld, Stores, on_every_backend};
use inventory::error::InventoryError;
use inventory::handler::{self, Action, Deps, InventoryEvent};
use inventory::store::{ReservationStatus, Reserve, StockStore};
use serde_json::json;
use shop_events::{StockLine, StockReservedV1, StockShortageV1};

/// Inventory over fresh stores of `stores`: no SKU in stock.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Inventory with 5 laptops and 10 mice: enough for the sample order (1 laptop, 2 mice).
async fn stocked(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    let world = world(stores).await?;
    stock(&world).set_available("SKU-LAPTOP-14", 5).await?;
    stock(&world).set_available("SKU-MOUSE-01", 10).await?;
    Ok(world)
}

/// Inventory's stock and reservations.
fn stock(world: &FunctionWorld<Deps>) -> &StockStore {
    &world.deps().stock
}

/// What inventory did with `raw`.
async fn action(world: &FunctionWorld<Deps>, raw: RawEvent) -> TestResult<Option<Action>> {
    Ok(world.deliver(raw).await?.result.map(|r| r.action))
}

/// The sample order (1 laptop, 2 mice) as another order, with a fresh event id.
fn placed(order_id: &str) -> TestResult<RawEvent> {
    fresh_sample_with(ORDER_PLACED, &[("/detail/data/order_id", json!(order_id))])
}

#[tokio::test]
async fn a_placed_order_reserves_every_line_and_emits_stock_reserved() -> TestResult {
    on_every_backend(async |stores| {
        // Given 5 laptops and 10 mice in stock
        let world = stocked(stores).await?;
        let placed = fresh_sample(ORDER_PLACED)?;
        let order_event_id = placed.ids().event_id.clone();

        // When ord-1001 (1 laptop, 2 mice) is placed
        let answer = world.deliver(placed).await?;

        // Then the units are held, the reservation is recorded, and StockReserved, caused by the
        // order, is on the bus
        assert_eq!(answer.outcome, Outcome::Claimed);
        assert_eq!(answer.result.map(|r| r.action), Some(Action::Reserved));
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (4, 1));
        assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (8, 2));
        let reservation = stock(&world).reservation("ord-1001").await?.ok_or("no reservation")?;
        assert_eq!(reservation.status, ReservationStatus::Reserved);
        assert_eq!(reservation.customer_id, "cus-42");
        let reserved = world.bus.emitted_one::<StockReservedV1>().await?;
        assert_eq!(reserved.data().order_id, "ord-1001");
        assert_eq!(reserved.data().lines.len(), 2);
        assert_eq!(reserved.data().lines, reservation.lines);
        assert_eq!(reserved.metadata().causation_id.map(|c| c.to_string()), order_event_id);
        assert_eq!(reserved.metadata().producer, Deps::NAME);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_same_order_under_another_event_id_holds_nothing_more_and_reports_its_reservation() -> TestResult {
    on_every_backend(async |stores| {
        // Given a reserved order
        let world = stocked(stores).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;

        // When the order service publishes it again under another event id
        let again = action(&world, fresh_sample(ORDER_PLACED)?).await?;

        // Then the recorded reservation answers: nothing more is held, and it is reported again
        assert_eq!(again, Some(Action::Reserved));
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (4, 1));
        assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (8, 2));
        let emitted = world.bus.emitted_as::<StockReservedV1>(2).await?;
        assert_eq!(emitted.len(), 2);
        for reserved in emitted {
            assert_eq!(reserved.data().lines.len(), 2);
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_order_with_a_short_sku_holds_nothing_and_emits_stock_shortage() -> TestResult {
    on_every_backend(async |stores| {
        // Given laptops but only one mouse
        let world = world(stores).await?;
        stock(&world).set_available("SKU-LAPTOP-14", 5).await?;
        stock(&world).set_available("SKU-MOUSE-01", 1).await?;

        // When the order for 2 mice arrives
        let answer = action(&world, fresh_sample(ORDER_PLACED)?).await?;

        // Then nothing is held, the order is recorded SHORT, and the shortage names the SKU with
        // what was available
        assert_eq!(answer, Some(Action::Shortage));
        assert_eq!(
            stock(&world).available("SKU-LAPTOP-14").await?,
            (5, 0),
            "all or nothing"
        );
        assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (1, 0));
        assert_eq!(
            stock(&world).reservation("ord-1001").await?.map(|r| r.status),
            Some(ReservationStatus::Short)
        );
        let shortage = world.bus.emitted_one::<StockShortageV1>().await?;
        let short = &shortage.data().short;
        assert_eq!(short.len(), 1);
        assert_eq!(short[0].sku, "SKU-MOUSE-01");
        assert_eq!((short[0].requested, short[0].available), (2, 1));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_order_for_skus_never_stocked_is_short_of_every_line_with_none_available() -> TestResult {
    on_every_backend(async |stores| {
        // Given fresh stores: no SKU was ever stocked
        let world = world(stores).await?;

        // When the order arrives
        let answer = action(&world, fresh_sample(ORDER_PLACED)?).await?;

        // Then both lines are short with nothing available, and no SKU appears in stock
        assert_eq!(answer, Some(Action::Shortage));
        let emitted = world.bus.emitted_as::<StockShortageV1>(1).await?;
        let short: Vec<(&str, u32, u32)> = emitted
            .first()
            .ok_or("no shortage emitted")?
            .data()
            .short
            .iter()
            .map(|s| (s.sku.as_str(), s.requested, s.available))
            .collect();
        assert_eq!(short, vec![("SKU-LAPTOP-14", 1, 0), ("SKU-MOUSE-01", 2, 0)]);
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (0, 0));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancellation_delivered_twice_releases_the_reservation_exactly_once_and_the_order_is_not_announced_again()
-> TestResult {
    on_every_backend(async |stores| {
        // Given a reserved order
        let world = stocked(stores).await?;
        let order = world.delivered(ORDER_PLACED).await?;

        // When the order system publishes the cancellation twice (two event ids for one fact),
        // and the order is delivered again after its guard record is gone (a late replay)
        let first = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;
        let second = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;
        let replayed = world.deliver_after_the_guard_forgot(order).await?;

        // Then the units came back once, and the replay takes none and announces no reservation
        assert_eq!(first, Some(Action::Released));
        assert_eq!(second, Some(Action::NothingToRelease));
        assert_eq!(replayed.result.map(|r| r.action), Some(Action::ReleasedSince));
        assert_eq!(world.bus.emitted_as::<StockReservedV1>(1).await?.len(), 1);
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (5, 0));
        assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (10, 0));
        assert_eq!(
            stock(&world).reservation("ord-1001").await?.map(|r| r.status),
            Some(ReservationStatus::Released)
        );
        Ok(())
    })
    .await
}

/// An OrderReturned of ord-1002 bringing back `items` (SKU, units), with a fresh event id.
fn returned(items: &[(&str, u32)]) -> TestResult<RawEvent> {
    let items: Vec<serde_json::Value> = items
        .iter()
        .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
        .collect();
    fresh_sample_with(
        ORDER_RETURNED,
        &[
            ("/detail/data/order_id", json!("ord-1002")),
            ("/detail/data/items", json!(items)),
        ],
    )
}

#[tokio::test]
async fn a_return_gives_back_exactly_the_returned_units_once_and_the_kept_ones_stay_held() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1002 reserved: 1 laptop, 2 mice (stock 5 laptops, 10 mice)
        let world = stocked(stores).await?;
        world.deliver(placed("ord-1002")?).await?;
        let one_mouse = returned(&[("SKU-MOUSE-01", 1)])?;

        // When one mouse comes back, that return is delivered again after the guard forgot it,
        // and a phone the order never held comes back
        let first = action(&world, one_mouse.clone()).await?;
        let again = world.deliver_after_the_guard_forgot(one_mouse).await?;
        let phone = action(&world, returned(&[("SKU-PHONE-X", 1)])?).await?;

        // Then one mouse went back once; the laptop and the other mouse stay held
        assert_eq!(first, Some(Action::Released));
        assert_eq!(again.result.map(|r| r.action), Some(Action::NothingToRelease));
        assert_eq!(phone, Some(Action::NothingToRelease));
        assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (9, 1));
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (4, 1));
        let reservation = stock(&world).reservation("ord-1002").await?.ok_or("no reservation")?;
        assert_eq!(reservation.status, ReservationStatus::Reserved);
        assert_eq!(
            reservation.lines,
            [
                StockLine {
                    sku: "SKU-LAPTOP-14".into(),
                    quantity: 1
                },
                StockLine {
                    sku: "SKU-MOUSE-01".into(),
                    quantity: 1
                }
            ]
        );

        // When the rest comes back, more than was bought of the mouse
        let rest = action(&world, returned(&[("SKU-LAPTOP-14", 1), ("SKU-MOUSE-01", 5)])?).await?;

        // Then exactly what was still held went back, and nothing is held any more
        assert_eq!(rest, Some(Action::Released));
        assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (10, 0));
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (5, 0));
        assert_eq!(
            stock(&world).reservation("ord-1002").await?.map(|r| r.status),
            Some(ReservationStatus::Released)
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancellation_after_a_partial_return_gives_back_only_what_is_still_held() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1002 reserved (1 laptop, 2 mice), one mouse of which came back
        let world = stocked(stores).await?;
        world.deliver(placed("ord-1002")?).await?;
        action(&world, returned(&[("SKU-MOUSE-01", 1)])?).await?;

        // When the order is cancelled
        let cancelled = fresh_sample_with(ORDER_CANCELLED, &[("/detail/data/order_id", json!("ord-1002"))])?;
        let answer = action(&world, cancelled).await?;

        // Then the laptop and the other mouse go back, and no mouse twice
        assert_eq!(answer, Some(Action::Released));
        assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (10, 0));
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (5, 0));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancellation_that_arrives_before_the_order_makes_the_order_hold_nothing() -> TestResult {
    on_every_backend(async |stores| {
        // Given stock, and the cancellation arriving first
        let world = stocked(stores).await?;
        let early = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // When the order arrives afterwards, and then the cancellation again
        let late = action(&world, fresh_sample(ORDER_PLACED)?).await?;
        let again = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // Then the cancellation was recorded, the order reserved nothing and emitted nothing, and
        // the second cancellation found nothing to release
        assert_eq!(early, Some(Action::RecordedEarlyCancel));
        assert_eq!(late, Some(Action::SkippedCancelledOrder));
        assert_eq!(again, Some(Action::NothingToRelease));
        assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (5, 0));
        assert_eq!(
            stock(&world).reservation("ord-1001").await?.map(|r| r.status),
            Some(ReservationStatus::CancelledEarly)
        );
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_two_orders_racing_for_the_last_units_reserve_one_and_short_the_other() -> TestResult {
    // In memory only: moto does not apply conditional writes atomically across concurrent
    // requests (two can both pass), where DynamoDB does; the DynamoDB store states the same rule
    // as write conditions, which the tests above exercise one delivery at a time.
    // Given stock for exactly one sample order: 1 laptop, 2 mice
    let world = world(Stores::Memory).await?;
    stock(&world).set_available("SKU-LAPTOP-14", 1).await?;
    stock(&world).set_available("SKU-MOUSE-01", 2).await?;

    // When two orders for it are handled at the same time
    let (a, b) = tokio::join!(action(&world, placed("ord-2001")?), action(&world, placed("ord-2002")?));

    // Then one holds every unit and the other holds nothing: stock never goes below zero
    let mut actions = vec![a?, b?];
    actions.sort_by_key(|a| format!("{a:?}"));
    assert_eq!(actions, vec![Some(Action::Reserved), Some(Action::Shortage)]);
    assert_eq!(stock(&world).available("SKU-LAPTOP-14").await?, (0, 1));
    assert_eq!(stock(&world).available("SKU-MOUSE-01").await?, (0, 2));
    assert_eq!(world.bus.emitted(2).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_thin_v2_order_is_refused_with_a_typed_non_retryable_error_naming_the_order() -> TestResult {
    on_every_backend(async |stores| {
        // Given stock
        let world = stocked(stores).await?;

        // When a thin v2 order arrives: it carries no lines to reserve
        let error = world.failure_of(fresh_sample(THIN_ORDER_PLACED)?).await?;

        // Then it is refused for good, naming the order, and nothing is recorded or emitted
        assert_eq!(error.error_type(), "Inventory.ThinOrder");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("ord-1003"), "{error}");
        assert!(stock(&world).reservation("ord-1003").await?.is_none());
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_order_whose_lines_of_one_sku_overflow_a_count_is_refused_for_good_naming_it() -> TestResult {
    on_every_backend(async |stores| {
        // Given stock, and ord-1001 listing the laptop twice, 4 billion units each
        let world = stocked(stores).await?;
        let huge = json!(4_000_000_000_u32);
        let placed = fresh_sample_with(
            ORDER_PLACED,
            &[
                ("/detail/data/items/0/sku", json!("SKU-LAPTOP-14")),
                ("/detail/data/items/0/quantity", huge.clone()),
                ("/detail/data/items/1/sku", json!("SKU-LAPTOP-14")),
                ("/detail/data/items/1/quantity", huge),
            ],
        )?;

        // When it arrives
        let error = world.failure_of(placed).await?;

        // Then it is refused for good, naming the order and the SKU, and nothing is reserved
        assert_eq!(error.error_type(), "Inventory.QuantityOverflow");
        assert!(!error.is_retryable());
        let message = error.to_string();
        assert!(
            message.contains("ord-1001") && message.contains("SKU-LAPTOP-14"),
            "{message}"
        );
        assert!(stock(&world).reservation("ord-1001").await?.is_none());
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_change_that_names_one_sku_twice_is_refused_whole() -> TestResult {
    on_every_backend(async |stores| {
        // Given one laptop
        let world = world(stores).await?;
        let stock = stock(&world);
        stock.set_available("SKU-LAPTOP-14", 1).await?;
        let line = StockLine {
            sku: "SKU-LAPTOP-14".to_owned(),
            quantity: 1,
        };

        // When a reservation names the laptop twice, each line fitting on its own
        let refused = stock.reserve("ord-3001", "cus-1", &[line.clone(), line.clone()]).await;

        // Then it is refused, as a DynamoDB transaction touching one item twice is, and changes
        // nothing; one line alone still reserves
        assert!(matches!(refused, Err(InventoryError::Store { .. })), "{refused:?}");
        assert_eq!(stock.available("SKU-LAPTOP-14").await?, (1, 0));
        assert!(stock.reservation("ord-3001").await?.is_none());
        assert_eq!(stock.reserve("ord-3001", "cus-1", &[line]).await?, Reserve::Reserved);
        assert_eq!(stock.available("SKU-LAPTOP-14").await?, (0, 1));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(ORDER_PLACED)?.decode_set::<InventoryEvent>()?;
    assert_eq!(event.detail_type(), "OrderPlaced");
    Ok(())
}
