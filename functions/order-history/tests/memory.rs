//! Order history in memory, as `herald dev` runs it (`HERALD_STORES=memory`): the same
//! behaviours as against DynamoDB, through the same wiring. Its AWS configuration points at a
//! port nothing listens on, so any call to DynamoDB would fail the test: in memory, nothing
//! external is needed.

use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, Guarded, Outcome};
use herald::{Classify, Consumer, ConsumerError, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::unreachable_config;
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::world::{deliver, memory_guard};
use order_history::FUNCTION;
use order_history::config::Config;
use order_history::error::OrderHistoryError;
use order_history::handler::{self, Action, Deps, OrderHistoryEvent, Reaction};
use order_history::store::{EntryDetail, EntryKind, HistoryStore};
use order_history::wiring::{self, Wired};
use serde_json::json;
use shop_events::{CancelReason, ReturnReason, ReturnedItem};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const THIN: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";
const RETURNED: &str = "shop.orders/OrderReturned/v1.sample.json";

/// The configuration `herald dev` gives order history (`HERALD_STORES=memory`), or with
/// `stores: None` the one AWS gives; table names as the template's.
fn config(stores: Option<&str>) -> TestResult<Config> {
    let lookup = |name: &str| match name {
        "HISTORY_TABLE" => Some("history".to_owned()),
        "IDEMPOTENCY_TABLE" => Some("idempotency".to_owned()),
        "HERALD_STORES" => stores.map(str::to_owned),
        _ => None,
    };
    Ok(Config::from_lookup(&lookup)?)
}

/// Order history wired in memory by [`wiring::wired`], as `main.rs` wires it.
struct World<H> {
    consumer: Consumer<ChosenStore, OrderHistoryEvent, H>,
    /// The handler's history: what was recorded.
    history: HistoryStore,
    deps: Deps,
}

fn world() -> TestResult<
    World<impl Fn(OrderHistoryEvent) -> HandlerFuture<Reaction, OrderHistoryError> + Clone + Send + Sync + 'static>,
> {
    let Wired { consumer, deps } = wiring::wired(&unreachable_config(), &config(Some("memory"))?);
    Ok(World {
        consumer,
        history: deps.history.clone(),
        deps,
    })
}

impl<H> World<H>
where
    H: Fn(OrderHistoryEvent) -> HandlerFuture<Reaction, OrderHistoryError> + Clone + Send + Sync + 'static,
{
    /// Delivers one event through the consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<OrderHistoryError>> {
        self.consumer.handle(raw, None).await
    }
}

fn event_id(raw: &RawEvent) -> TestResult<String> {
    Ok(raw.ids().event_id.clone().ok_or("the sample has an event_id")?)
}

/// The OrderPlaced v1 sample as event `event_id`, happened at `occurred_at`.
fn placed_at(event_id: &str, occurred_at: &str) -> TestResult<RawEvent> {
    let mut placed = sample_json(PLACED)?;
    placed["detail"]["metadata"]["event_id"] = json!(event_id);
    placed["detail"]["metadata"]["occurred_at"] = json!(occurred_at);
    Ok(RawEvent::from_value(placed))
}

#[test]
fn herald_devs_variable_chooses_memory_and_its_absence_dynamodb() -> TestResult {
    assert_eq!(config(Some("memory"))?.backend, Backend::Memory);
    assert_eq!(config(None)?.backend, Backend::Dynamo);
    assert_eq!(config(Some("dynamodb"))?.backend, Backend::Dynamo);
    Ok(())
}

#[tokio::test]
async fn with_dynamodb_chosen_the_same_wiring_calls_out_and_fails_here() -> TestResult {
    // Given order history wired for DynamoDB over the unreachable endpoint the other tests use
    let consumer = wiring::consumer(&unreachable_config(), &config(None)?);

    // When an order arrives
    let error = consumer
        .handle(fresh_sample(PLACED)?, None)
        .await
        .err()
        .ok_or("DynamoDB is unreachable: the delivery must fail")?;

    // Then it fails, retryably: so the memory tests passing means they never called DynamoDB
    assert!(error.is_retryable(), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_placed_order_is_recorded_in_its_customers_history_with_its_total() -> TestResult {
    // Given an empty history in memory, and ord-1001 placed by cus-42
    let world = world()?;
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
    // Given an empty history in memory
    let world = world()?;

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
    Ok(())
}

#[tokio::test]
async fn a_thin_v2_order_is_recorded_with_its_total() -> TestResult {
    // Given cus-42 with ord-1001 in their history
    let world = world()?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // When the thin v2 ord-1003 arrives
    let answer = world.deliver(fresh_sample(THIN)?).await?;

    // Then it is in cus-42's history, after ord-1001, with its total
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
async fn a_returned_order_is_in_its_customers_history_and_no_one_elses() -> TestResult {
    // Given an empty history in memory
    let world = world()?;

    // When ord-1002's return arrives
    world.deliver(fresh_sample(RETURNED)?).await?;

    // Then cus-77's history says what came back and why, and cus-42's is untouched
    let history = world.history.history("cus-77").await?;
    assert_eq!(history.len(), 1, "{history:#?}");
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
async fn a_history_is_read_whole_and_oldest_first_whatever_the_page_size() -> TestResult {
    // Given a history in memory, read through a store asking for two entries per page
    let world = world()?;
    let paged = world.history.clone().with_page_size(2);

    // When five of cus-42's events arrive, out of order, two of them re-dated
    for raw in [
        fresh_sample(THIN)?,
        placed_at("00000000-0000-4000-8000-000000000003", "2026-11-03T09:00:00.000Z")?,
        fresh_sample(CANCELLED)?,
        placed_at("00000000-0000-4000-8000-000000000001", "2026-11-01T09:00:00.000Z")?,
        fresh_sample(PLACED)?,
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
}

#[tokio::test]
async fn two_events_of_the_same_millisecond_are_ordered_by_event_id() -> TestResult {
    // Given an empty history in memory
    let world = world()?;
    let at = "2026-11-05T08:00:00.000Z";

    // When two orders of the same millisecond arrive, the larger event id first
    world
        .deliver(placed_at("00000000-0000-4000-8000-0000000000bb", at)?)
        .await?;
    world
        .deliver(placed_at("00000000-0000-4000-8000-0000000000aa", at)?)
        .await?;

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

#[tokio::test]
async fn a_duplicate_delivery_writes_nothing_more() -> TestResult {
    // Given an order recorded in the history
    let world = world()?;
    let placed = fresh_sample(PLACED)?;
    let first = world.deliver(placed.clone()).await?;

    // When the same event is delivered again
    let second = world.deliver(placed).await?;

    // Then the guard answers from its record (in this warm process's cache) without running the
    // handler, and the history holds one entry
    assert!(!second.outcome.ran(), "{:?}", second.outcome);
    assert_eq!(second.result, first.result);
    assert_eq!(world.history.history("cus-42").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_that_outlives_the_guards_record_writes_nothing_more() -> TestResult {
    // Given an order recorded in the history
    let world = world()?;
    let placed = fresh_sample(PLACED)?;
    world.deliver(placed.clone()).await?;

    // When the same event comes back to a guard that has forgotten it (a fresh memory store)
    let forgetful = memory_guard(FUNCTION);
    let late = deliver(
        &forgetful,
        &world.deps,
        |deps: Deps, event: OrderHistoryEvent| async move { handler::handle(&deps, event).await },
        placed,
    )
    .await?;

    // Then the handler ran, found the entry, and wrote nothing
    assert_eq!(late.outcome, Outcome::Claimed);
    assert_eq!(late.result.map(|r| r.action), Some(Action::AlreadyRecorded));
    assert_eq!(world.history.history("cus-42").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn bad_input_is_refused_and_writes_nothing() -> TestResult {
    // Given an empty history in memory
    let world = world()?;

    // When an unknown version and an event of another source arrive
    let mut v9 = sample_json(PLACED)?;
    v9["detail"]["metadata"]["schema_version"] = json!(9);
    let unknown_version = world.deliver(RawEvent::from_value(v9)).await.err();
    let other_source = world
        .deliver(fresh_sample("shop.contracts/ContractCancelled/v1.sample.json")?)
        .await
        .err();

    // Then both are refused for good, and nothing was written
    for error in [unknown_version, other_source] {
        let error = error.ok_or("bad input must fail")?;
        assert!(!error.is_retryable(), "{error}");
    }
    assert!(world.history.history("cus-42").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn two_cold_starts_share_nothing() -> TestResult {
    // Given an order recorded by one warm process
    let first = world()?;
    let placed = fresh_sample(PLACED)?;
    first.deliver(placed.clone()).await?;

    // When another process (a new cold start) gets the same event
    let second = world()?;
    let answer = second.deliver(placed).await?;

    // Then it has its own memory: it records the entry, and the first still holds one
    assert_eq!(answer.result.map(|r| r.action), Some(Action::Recorded));
    assert_eq!(first.history.history("cus-42").await?.len(), 1);
    assert_eq!(second.history.history("cus-42").await?.len(), 1);
    Ok(())
}
