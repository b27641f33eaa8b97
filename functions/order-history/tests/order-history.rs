//! Order history against moto server: DynamoDB tables for the history and idempotency. It
//! emits no events, so there is no bus: the history table is the whole effect.

use herald::idempotency::{DynamoStore, Guarded, GuardedEvent, IdempotencyGuard, Outcome};
use herald::{Classify, ConsumerError, EnvelopeError, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::sdk_config;
use herald_tests::dynamodb::counted_client;
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::world::{Harness, deliver, unknown_version, without};
use order_history::FUNCTION;
use order_history::error::OrderHistoryError;
use order_history::handler::{self, Action, Deps, OrderHistoryEvent, Reaction};
use order_history::store::{EntryDetail, EntryKind, HistoryStore};
use serde_json::json;
use shop_events::{CancelReason, ReturnReason, ReturnedItem};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const THIN: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";
const RETURNED: &str = "shop.orders/OrderReturned/v1.sample.json";

/// Order history wired to fresh tables, as `main.rs` wires it.
struct World {
    history: HistoryStore,
    history_table: String,
    moto: Harness,
    deps: Deps,
    guard: IdempotencyGuard<DynamoStore>,
}

impl World {
    async fn new() -> TestResult<Self> {
        let moto = Harness::new().await;
        let table = moto.table("history", "customer_id", Some("entry")).await?;
        let history = HistoryStore::new(moto.dynamodb.clone(), &table);
        Ok(Self {
            deps: Deps {
                history: history.clone(),
            },
            history,
            history_table: table,
            guard: moto.idempotency_guard(FUNCTION).await?,
            moto,
        })
    }

    /// Delivers one event through the same consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<OrderHistoryError>> {
        deliver(&self.guard, &self.deps, run, raw).await
    }
}

/// The handler over owned dependencies, as a consumer built per delivery runs it.
async fn run(deps: Deps, event: OrderHistoryEvent) -> Result<Reaction, OrderHistoryError> {
    handler::handle(&deps, event).await
}

fn event_id(raw: &RawEvent) -> TestResult<String> {
    Ok(raw.ids().event_id.clone().ok_or("the sample has an event_id")?)
}

#[tokio::test]
async fn a_placed_order_is_recorded_in_its_customers_history_with_its_total() -> TestResult {
    // Given an empty history, and ord-1001 placed by cus-42
    let world = World::new().await?;
    let placed = fresh_sample(PLACED)?;
    let event_id = event_id(&placed)?;
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
    let history = world.history.history("cus-42").await?;
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
}

#[tokio::test]
async fn a_lifecycle_delivered_out_of_order_still_reads_placed_then_cancelled() -> TestResult {
    // Given an empty history
    let world = World::new().await?;

    // When ord-1001's cancellation arrives before its placement
    world.deliver(fresh_sample(CANCELLED)?).await?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // Then the history reads in the order the facts happened
    let history = world.history.history("cus-42").await?;
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
}

#[tokio::test]
async fn a_thin_v2_order_is_recorded_with_its_total() -> TestResult {
    // Given cus-42 with ord-1001 in their history
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // When the thin v2 ord-1003 arrives
    let answer = world.deliver(fresh_sample(THIN)?).await?;

    // Then it is in cus-42's history, after ord-1001, with its total: v2 carries all history needs
    assert_eq!(answer.result.map(|r| r.action), Some(Action::Recorded));
    let history = world.history.history("cus-42").await?;
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
}

#[tokio::test]
async fn a_returned_order_is_in_its_customers_history() -> TestResult {
    // Given an empty history
    let world = World::new().await?;

    // When ord-1002's return arrives
    world.deliver(fresh_sample(RETURNED)?).await?;

    // Then cus-77's history says what came back and why, and cus-42's is untouched
    let history = world.history.history("cus-77").await?;
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
    assert!(world.history.history("cus-42").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_history_longer_than_a_page_is_read_whole_and_in_order() -> TestResult {
    // Given a history read two entries per page, counting its queries
    let world = World::new().await?;
    let (client, calls) = counted_client(&sdk_config().await);
    let history = HistoryStore::new(client, &world.history_table).with_page_size(2);

    // When five of cus-42's events arrive, out of order, two of them re-dated
    let on = |day: &str| -> TestResult<RawEvent> {
        let mut placed = sample_json(PLACED)?;
        placed["detail"]["metadata"]["event_id"] = json!(uuid_like(day));
        placed["detail"]["metadata"]["occurred_at"] = json!(format!("2026-11-{day}T09:00:00.000Z"));
        Ok(RawEvent::from_value(placed))
    };
    for raw in [
        fresh_sample(THIN)?,
        on("03")?,
        fresh_sample(CANCELLED)?,
        on("01")?,
        fresh_sample(PLACED)?,
    ] {
        world.deliver(raw).await?;
    }

    // Then all three pages are read, and the entries come back oldest first
    let entries = history.history("cus-42").await?;
    assert_eq!(calls.by_operation().get("Query"), Some(&3));
    let read: Vec<&str> = entries.iter().filter_map(|e| e.entry.split('#').next()).collect();
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
}

#[tokio::test]
async fn two_events_of_the_same_millisecond_are_ordered_by_event_id() -> TestResult {
    // Given an empty history
    let world = World::new().await?;
    let at = |event_id: &str| -> TestResult<RawEvent> {
        let mut placed = sample_json(PLACED)?;
        placed["detail"]["metadata"]["event_id"] = json!(event_id);
        placed["detail"]["metadata"]["occurred_at"] = json!("2026-11-05T08:00:00.000Z");
        Ok(RawEvent::from_value(placed))
    };

    // When two orders of the same millisecond arrive, the larger event id first
    world.deliver(at("00000000-0000-4000-8000-0000000000bb")?).await?;
    world.deliver(at("00000000-0000-4000-8000-0000000000aa")?).await?;

    // Then they read in event id order, as the sort key sorts them
    let events: Vec<String> = world
        .history
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
}

/// A fixed event id per day, so the re-dated orders are distinct events.
fn uuid_like(day: &str) -> String {
    format!("00000000-0000-4000-8000-0000000000{day}")
}

#[tokio::test]
async fn a_duplicate_delivery_writes_nothing_more() -> TestResult {
    // Given an order recorded in the history
    let world = World::new().await?;
    let placed = fresh_sample(PLACED)?;
    let first = world.deliver(placed.clone()).await?;

    // When the same event is delivered again
    let second = world.deliver(placed).await?;

    // Then the guard answers from its record and the history holds one entry
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result, first.result);
    assert_eq!(world.history.history("cus-42").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_that_outlives_the_guards_record_writes_nothing_more() -> TestResult {
    // Given an order recorded in the history
    let world = World::new().await?;
    let placed = fresh_sample(PLACED)?;
    world.deliver(placed.clone()).await?;

    // When the same event comes back after the guard's record is gone (a fresh idempotency table)
    let forgetful = world.moto.idempotency_guard(FUNCTION).await?;
    let late = deliver(&forgetful, &world.deps, run, placed).await?;

    // Then the handler ran, found the entry, and wrote nothing
    assert_eq!(late.outcome, Outcome::Claimed);
    assert_eq!(late.result.map(|r| r.action), Some(Action::AlreadyRecorded));
    assert_eq!(world.history.history("cus-42").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event() -> TestResult {
    let world = World::new().await?;

    // A version order history does not know
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
    let (no_reason, event_id) = without(CANCELLED, "/detail/data", "reason")?;
    let error = world.deliver(no_reason).await.err().ok_or("no reason must fail")?;
    assert!(error.to_string().contains("detail.data.reason"), "{error}");
    assert!(error.to_string().contains(&event_id), "{error}");
    assert!(!error.is_retryable());

    // An event from another source
    let error = world
        .deliver(fresh_sample("shop.contracts/ContractCancelled/v1.sample.json")?)
        .await
        .err()
        .ok_or("ContractCancelled must fail")?;
    assert!(
        matches!(error, ConsumerError::Envelope(EnvelopeError::UnknownDetailType { .. })),
        "{error}"
    );
    assert!(!error.is_retryable());

    // Nothing was written for any of them
    assert!(world.history.history("cus-42").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_table_failure_is_retryable_and_leaves_the_event_to_be_delivered_again() -> TestResult {
    // Given order history whose table does not exist
    let world = World::new().await?;
    let broken = Deps {
        history: HistoryStore::new(world.moto.dynamodb.clone(), "no-such-history"),
    };
    let returned = fresh_sample(RETURNED)?;

    // When a return arrives
    let error = deliver(&world.guard, &broken, run, returned.clone())
        .await
        .err()
        .ok_or("a missing table must fail")?;

    // Then the error is retryable, and a redelivery once the table works records the entry
    assert_eq!(error.error_type(), "OrderHistory.Store");
    assert!(error.is_retryable());
    let retry = world.deliver(returned).await?;
    assert_eq!(retry.result.map(|r| r.action), Some(Action::Recorded));
    assert_eq!(world.history.history("cus-77").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_decoded_v1_order_is_read_as_its_v2_summary() -> TestResult {
    let event = fresh_sample(PLACED)?.decode_set::<OrderHistoryEvent>()?;
    assert_eq!(event.detail_type(), "OrderPlaced");
    let OrderHistoryEvent::Placed(placed) = event else {
        return Err("OrderPlaced must decode as Placed".into());
    };
    assert_eq!(placed.data().total_minor, 184_709);
    assert_eq!(placed.data().item_count, 3);
    Ok(())
}
