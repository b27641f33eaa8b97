//! Order history's behaviour, each test run on both backends it runs on (memory, as under
//! `herald dev`, and DynamoDB on moto), built as `main.rs` builds it. It emits no events: the
//! history is the whole effect.

use herald::idempotency::{GuardedEvent, Outcome};
use herald::store::Table;
use herald::{Classify, RawEvent};
use herald_tests::TestResult;
use herald_tests::dynamodb::counted_client;
use herald_tests::fixtures::{
    ORDER_CANCELLED, ORDER_PLACED, ORDER_RETURNED, THIN_ORDER_PLACED, event_id_of, fresh_sample, fresh_sample_with,
};
use herald_tests::world::{FunctionWorld, Stores, failure_of, on_every_backend};
use order_history::handler::{self, Action, Deps, OrderHistoryEvent, Reaction};
use order_history::store::{EntryDetail, EntryKind, HistoryStore, KEY};
use serde_json::json;
use shop_events::{CancelReason, ReturnReason, ReturnedItem};

/// Order history over fresh stores of `stores`.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Order history's history.
fn history(world: &FunctionWorld<Deps>) -> &HistoryStore {
    &world.deps().history
}

/// The OrderPlaced v1 sample as event `event_id`, happened at `occurred_at`.
fn placed_at(event_id: &str, occurred_at: &str) -> TestResult<RawEvent> {
    fresh_sample_with(
        ORDER_PLACED,
        &[
            ("/detail/metadata/event_id", json!(event_id)),
            ("/detail/metadata/occurred_at", json!(occurred_at)),
        ],
    )
}

#[tokio::test]
async fn a_placed_order_is_recorded_in_its_customers_history_with_its_total() -> TestResult {
    on_every_backend(async |stores| {
        // Given an empty history, and ord-1001 placed by cus-42
        let world = world(stores).await?;
        let placed = fresh_sample(ORDER_PLACED)?;
        let event_id = event_id_of(&placed)?;
        let key = format!("2026-11-02T10:14:59.987Z#{event_id}");

        // When the order is delivered
        let answer = world.deliver(placed).await?;

        // Then cus-42's history holds one placed entry, keyed by when it happened and which event it was
        assert_eq!(answer.outcome, Outcome::Claimed);
        assert_eq!(
            answer.result,
            Some(Reaction {
                action: Action::Recorded,
                customer_id: "cus-42".to_owned(),
                entry: key.clone(),
            })
        );
        let history = history(&world).history("cus-42").await?;
        assert_eq!(history.len(), 1, "{history:#?}");
        let entry = &history[0];
        assert_eq!(entry.entry, key);
        assert_eq!(entry.order_id, "ord-1001");
        assert_eq!(entry.kind(), EntryKind::Placed);
        assert_eq!(
            entry.detail,
            EntryDetail::Placed {
                total_minor: 184_709,
                currency: "EUR".to_owned(),
                item_count: 3,
            }
        );
        assert_eq!(entry.event_id, event_id);
        assert_eq!(entry.occurred_at.to_rfc3339(), "2026-11-02T10:14:59.987+00:00");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_lifecycle_delivered_out_of_order_still_reads_placed_then_cancelled() -> TestResult {
    on_every_backend(async |stores| {
        // Given an empty history
        let world = world(stores).await?;

        // When ord-1001's cancellation arrives before its placement
        world.deliver(fresh_sample(ORDER_CANCELLED)?).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;

        // Then the history reads in the order the facts happened
        let history = history(&world).history("cus-42").await?;
        let kinds: Vec<(EntryKind, &str)> = history.iter().map(|e| (e.kind(), e.order_id.as_str())).collect();
        assert_eq!(
            kinds,
            [(EntryKind::Placed, "ord-1001"), (EntryKind::Cancelled, "ord-1001")]
        );
        assert_eq!(
            history[1].detail,
            EntryDetail::Cancelled {
                reason: CancelReason::CustomerRequest
            }
        );
        assert!(history[0].occurred_at < history[1].occurred_at);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_thin_v2_order_is_recorded_with_its_total() -> TestResult {
    on_every_backend(async |stores| {
        // Given cus-42 with ord-1001 in their history
        let world = world(stores).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;

        // When the thin v2 ord-1003 arrives
        let answer = world.deliver(fresh_sample(THIN_ORDER_PLACED)?).await?;

        // Then it is in cus-42's history, after ord-1001, with its total: v2 carries all history needs
        assert_eq!(answer.result.map(|r| r.action), Some(Action::Recorded));
        let history = history(&world).history("cus-42").await?;
        let orders: Vec<&str> = history.iter().map(|e| e.order_id.as_str()).collect();
        assert_eq!(orders, ["ord-1001", "ord-1003"]);
        assert_eq!(
            history[1].detail,
            EntryDetail::Placed {
                total_minor: 45_897,
                currency: "EUR".to_owned(),
                item_count: 3,
            }
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_returned_order_is_in_its_customers_history_and_no_one_elses() -> TestResult {
    on_every_backend(async |stores| {
        // Given an empty history
        let world = world(stores).await?;

        // When ord-1002's return arrives
        world.deliver(fresh_sample(ORDER_RETURNED)?).await?;

        // Then cus-77's history says what came back and why, and cus-42's is untouched
        let history_of = |customer| history(&world).history(customer);
        let history = history_of("cus-77").await?;
        assert_eq!(history.len(), 1, "{history:#?}");
        assert_eq!(history[0].order_id, "ord-1002");
        assert_eq!(
            history[0].detail,
            EntryDetail::Returned {
                items: vec![ReturnedItem {
                    sku: "SKU-PHONE-X".to_owned(),
                    quantity: 1,
                }],
                reason: ReturnReason::Damaged,
            }
        );
        assert!(history_of("cus-42").await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_history_is_read_whole_and_oldest_first_whatever_the_page_size() -> TestResult {
    on_every_backend(async |stores| {
        // Given a history read through a store asking for two entries per page
        let world = world(stores).await?;
        let paged = history(&world).clone().with_page_size(2);

        // When five of cus-42's events arrive, out of order, two of them re-dated
        for raw in [
            fresh_sample(THIN_ORDER_PLACED)?,
            placed_at("00000000-0000-4000-8000-000000000003", "2026-11-03T09:00:00.000Z")?,
            fresh_sample(ORDER_CANCELLED)?,
            placed_at("00000000-0000-4000-8000-000000000001", "2026-11-01T09:00:00.000Z")?,
            fresh_sample(ORDER_PLACED)?,
        ] {
            world.deliver(raw).await?;
        }

        // Then all five come back, oldest first
        let read: Vec<String> = paged
            .history("cus-42")
            .await?
            .into_iter()
            .filter_map(|e| e.entry.split('#').next().map(str::to_owned))
            .collect();
        assert_eq!(
            read,
            [
                "2026-11-01T09:00:00.000Z",
                "2026-11-02T10:14:59.987Z",
                "2026-11-02T11:02:09.991Z",
                "2026-11-03T09:00:00.000Z",
                "2026-11-04T07:59:59.990Z",
            ]
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_history_longer_than_a_page_is_read_with_one_query_per_page_in_dynamodb() -> TestResult {
    // Given a history on moto read two entries per page, counting its queries
    let world = world(Stores::Moto).await?;
    let (client, calls) = counted_client(&world.moto.sdk);
    let history = HistoryStore::new(Table::dynamo(client, &world.env["HISTORY_TABLE"], KEY)).with_page_size(2);

    // When five of cus-42's events arrive
    for day in ["01", "03", "05", "07", "09"] {
        let event_id = format!("00000000-0000-4000-8000-0000000000{day}");
        world
            .deliver(placed_at(&event_id, &format!("2026-11-{day}T09:00:00.000Z"))?)
            .await?;
    }

    // Then reading them takes three queries, one per page
    assert_eq!(history.history("cus-42").await?.len(), 5);
    assert_eq!(calls.by_operation().get("Query"), Some(&3));
    Ok(())
}

#[tokio::test]
async fn two_events_of_the_same_millisecond_are_ordered_by_event_id() -> TestResult {
    on_every_backend(async |stores| {
        // Given an empty history
        let world = world(stores).await?;
        let at = |event_id: &str| placed_at(event_id, "2026-11-05T08:00:00.000Z");

        // When two orders of the same millisecond arrive, the larger event id first
        world.deliver(at("00000000-0000-4000-8000-0000000000bb")?).await?;
        world.deliver(at("00000000-0000-4000-8000-0000000000aa")?).await?;

        // Then they read in event id order, as the sort key sorts them
        let events: Vec<String> = history(&world)
            .history("cus-42")
            .await?
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(
            events,
            [
                "00000000-0000-4000-8000-0000000000aa",
                "00000000-0000-4000-8000-0000000000bb"
            ]
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_duplicate_that_outlives_the_guards_record_writes_nothing_more() -> TestResult {
    on_every_backend(async |stores| {
        // Given an order recorded in the history
        let world = world(stores).await?;
        let placed = world.delivered(ORDER_PLACED).await?;

        // When the same event comes back after the guard's record is gone
        let late = world.deliver_after_the_guard_forgot(placed).await?;

        // Then the handler ran, found the entry, and wrote nothing
        assert_eq!(late.outcome, Outcome::Claimed);
        assert_eq!(late.result.map(|r| r.action), Some(Action::AlreadyRecorded));
        assert_eq!(history(&world).history("cus-42").await?.len(), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_table_failure_is_retryable_and_leaves_the_event_to_be_delivered_again() -> TestResult {
    // Given order history on moto whose history table does not exist
    let world = world(Stores::Moto).await?;
    let broken = world.consumer.with_deps(Deps {
        history: HistoryStore::new(Table::dynamo(world.moto.dynamodb.clone(), "no-such-history", KEY)),
    });
    let returned = fresh_sample(ORDER_RETURNED)?;

    // When a return arrives
    let error = failure_of(&broken, returned.clone()).await?;

    // Then the error is retryable, and a redelivery once the table works records the entry
    assert_eq!(error.error_type(), "OrderHistory.Store");
    assert!(error.is_retryable());
    let retry = world.deliver(returned).await?;
    assert_eq!(retry.result.map(|r| r.action), Some(Action::Recorded));
    assert_eq!(history(&world).history("cus-77").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_decoded_v1_order_is_read_as_its_v2_summary() -> TestResult {
    let event = fresh_sample(ORDER_PLACED)?.decode_set::<OrderHistoryEvent>()?;
    assert_eq!(event.detail_type(), "OrderPlaced");
    let OrderHistoryEvent::Placed(placed) = event else {
        return Err("OrderPlaced must decode as Placed".into());
    };
    assert_eq!(placed.data().total_minor, 184_709);
    assert_eq!(placed.data().item_count, 3);
    Ok(())
}
