//! Campaigns in memory, as `herald dev` runs it (`HERALD_STORES=memory`): the consumer comes from
//! [`campaigns::wiring::consumer`] over a configuration read with `Config::from_lookup`, so the
//! customers' orders, the vouchers and the guard's records live inside the test's process. The
//! tables it names exist nowhere: any DynamoDB call would fail. Only the bus is on moto, its rule
//! sending campaigns' events to an SQS queue the tests read. The behaviours are those
//! `tests/campaigns.rs` holds the DynamoDB tables to, and one test runs the same writes against
//! both and compares every answer.

use campaigns::FUNCTION;
use campaigns::config::Config;
use campaigns::error::CampaignsError;
use campaigns::handler::{self, Action, CampaignsEvent, Deps, Reaction};
use campaigns::rules::{PlacedOrder, Rules};
use campaigns::store::{CampaignStore, Issue, StoredVoucher};
use campaigns::wiring;
use chrono::{DateTime, TimeDelta, Utc};
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, Guarded, Outcome};
use herald::{Classify, Consumer, ConsumerError, Detail, Envelope, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::world::{Bus, Dev, Harness, memory_records};
use serde_json::json;
use shop_events::{OrderPlacedV1, VoucherIssuedV1, VoucherRule};

const PLACED_V1: &str = "shop.orders/OrderPlaced/v1.sample.json";
const PLACED_V2: &str = "shop.orders/OrderPlaced/v2.sample.json";

/// The handler [`wiring::consumer`] builds.
trait Handler: Fn(CampaignsEvent) -> HandlerFuture<Reaction, CampaignsError> + Clone + Send + Sync + 'static {}

impl<H> Handler for H where
    H: Fn(CampaignsEvent) -> HandlerFuture<Reaction, CampaignsError> + Clone + Send + Sync + 'static
{
}

/// Campaigns as `herald dev` wires it, publishing to a fresh bus.
struct World<H> {
    consumer: Consumer<ChosenStore, CampaignsEvent, H>,
    bus: Bus,
}

/// The consumer `main.rs` builds under `HERALD_STORES=memory`, and the queue its events reach.
async fn world() -> TestResult<World<impl Handler>> {
    let dev = Dev::new(
        "shop.campaigns",
        &["CAMPAIGN_ORDERS_TABLE", "VOUCHERS_TABLE"],
        Config::from_lookup,
    )
    .await?;
    assert_eq!(dev.config.backend, Backend::Memory);
    Ok(World {
        consumer: wiring::consumer(&dev.sdk, &dev.config),
        bus: dev.bus,
    })
}

impl<H: Handler> World<H> {
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<CampaignsError>> {
        self.consumer.handle(raw, None).await
    }

    /// The action of each delivery, in turn.
    async fn actions(&self, raws: impl IntoIterator<Item = RawEvent>) -> TestResult<Vec<Option<Action>>> {
        let mut actions = Vec::new();
        for raw in raws {
            actions.push(action(&self.deliver(raw).await?));
        }
        Ok(actions)
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<Envelope<VoucherIssuedV1>>> {
        self.bus.emitted_as(expected).await
    }

    /// How many records the guard holds in memory.
    fn guard_records(&self) -> TestResult<usize> {
        memory_records(self.consumer.guard())
    }
}

/// A thin OrderPlaced of customer `cus-42` with a fresh event id.
fn placed(order_id: &str, total_minor: u64, occurred_at: &str) -> TestResult<RawEvent> {
    let mut value = fresh_sample(PLACED_V2)?.as_value().clone();
    value["detail"]["data"]["order_id"] = json!(order_id);
    value["detail"]["data"]["total_minor"] = json!(total_minor);
    value["detail"]["metadata"]["occurred_at"] = json!(occurred_at);
    Ok(RawEvent::from_value(value))
}

fn action(answer: &Guarded<Reaction>) -> Option<Action> {
    answer.result.as_ref().map(|r| r.action)
}

#[tokio::test]
async fn a_big_order_issues_one_big_spender_voucher_and_emits_voucher_issued() -> TestResult {
    // Given a customer without orders, and ord-1001 of 1847.09 EUR
    let world = world().await?;
    let order = fresh_sample(PLACED_V1)?;
    let order_event_id = order.ids().event_id.clone();
    let placed_at: DateTime<Utc> = "2026-11-02T10:14:59.987Z".parse()?;

    // When it is placed
    let answer = world.deliver(order).await?;

    // Then VoucherIssued for vch-1001, caused by the order, is on the bus
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(action(&answer), Some(Action::Issued));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(
        emitted[0].data(),
        &VoucherIssuedV1 {
            voucher_id: "vch-1001".to_owned(),
            customer_id: "cus-42".to_owned(),
            qualifying_order_id: "ord-1001".to_owned(),
            rule: VoucherRule::BigSpender,
            value_minor: 1_000,
            currency: "EUR".to_owned(),
            valid_until: placed_at + TimeDelta::days(90),
        }
    );
    assert_eq!(
        emitted[0].metadata().causation_id.map(|c| c.to_string()),
        order_event_id
    );
    assert_eq!(emitted[0].metadata().producer, FUNCTION);
    assert_eq!(world.guard_records()?, 1);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_issues_once_and_emits_once() -> TestResult {
    // Given a qualifying order event
    let world = world().await?;
    let order = fresh_sample(PLACED_V1)?;

    // When it is delivered twice
    let first = world.deliver(order.clone()).await?;
    let second = world.deliver(order).await?;

    // Then the second is answered from the warm process's cache of the record: one event
    assert_eq!(second.outcome, Outcome::Cached);
    assert_eq!(second.result, first.result);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn three_orders_under_the_threshold_issue_one_third_order_voucher_on_the_third() -> TestResult {
    // Given three orders of cus-42, 458.97 EUR each, a week apart
    let world = world().await?;
    let orders = [
        placed("ord-2001", 45_897, "2026-11-01T09:00:00Z")?,
        placed("ord-2002", 45_897, "2026-11-08T09:00:00Z")?,
        placed("ord-2003", 45_897, "2026-11-15T09:00:00Z")?,
    ];

    // When they are placed one after another
    let actions = world.actions(orders).await?;

    // Then only the third earns a voucher: vch-2003, third_order, 5.00 EUR
    assert_eq!(
        actions,
        [Some(Action::NoVoucher), Some(Action::NoVoucher), Some(Action::Issued)]
    );
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let voucher = emitted[0].data();
    assert_eq!(voucher.voucher_id, "vch-2003");
    assert_eq!((voucher.rule, voucher.value_minor), (VoucherRule::ThirdOrder, 500));
    Ok(())
}

#[tokio::test]
async fn orders_arriving_out_of_order_are_each_judged_on_the_orders_placed_before_them() -> TestResult {
    // Given the same three orders of cus-42
    let world = world().await?;

    // When the third-placed arrives first and the first-placed last
    let actions = world
        .actions([
            placed("ord-2003", 45_897, "2026-11-15T09:00:00Z")?,
            placed("ord-2002", 45_897, "2026-11-08T09:00:00Z")?,
            placed("ord-2001", 45_897, "2026-11-01T09:00:00Z")?,
        ])
        .await?;

    // Then none is third among the orders placed before it when it arrives: no voucher
    assert_eq!(actions, [Some(Action::NoVoucher); 3]);
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn the_same_order_under_a_new_event_id_issues_no_second_voucher_and_emits_nothing_new() -> TestResult {
    // Given ord-1001 placed and its voucher issued
    let world = world().await?;
    assert_eq!(
        action(&world.deliver(fresh_sample(PLACED_V1)?).await?),
        Some(Action::Issued)
    );

    // When the order system publishes the same order again, under a new event id (the guard cannot tell)
    let again = world.deliver(fresh_sample(PLACED_V1)?).await?;

    // Then the voucher in memory stands: no second voucher, nothing emitted
    assert_eq!(again.outcome, Outcome::Claimed);
    assert_eq!(action(&again), Some(Action::AlreadyIssued));
    assert_eq!(again.result.map(|r| r.emitted.len()), Some(0));
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_v2_order_counts_toward_the_rules() -> TestResult {
    // Given ord-1001 of 1100.00 EUR (v1) two days before the thin ord-1003 of 458.97 EUR (v2)
    let world = world().await?;
    let mut earlier = sample_json(PLACED_V1)?;
    earlier["detail"]["data"]["totals"]["total_minor"] = json!(110_000);
    let earlier = world.deliver(RawEvent::from_value(earlier)).await?;

    // When the v2 order arrives
    let answer = world.deliver(fresh_sample(PLACED_V2)?).await?;

    // Then it crosses 1500.00 in the window and earns the big-spender voucher
    assert_eq!(action(&earlier), Some(Action::NoVoucher));
    assert_eq!(action(&answer), Some(Action::Issued));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(emitted[0].data().voucher_id, "vch-1003");
    assert_eq!(emitted[0].data().rule, VoucherRule::BigSpender);
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_event_from_memory() -> TestResult {
    // Given one memory store behind a publisher to a missing bus and one to a real bus
    let bus = Harness::new().await.bus("shop.campaigns").await?;
    let deps = Deps {
        store: CampaignStore::memory(),
        rules: Rules::default(),
        publisher: bus.publisher(),
    };
    let broken = Deps {
        publisher: bus.broken_publisher(),
        ..deps.clone()
    };
    let order = fresh_sample(PLACED_V1)?;
    let cause = order.clone().decode::<OrderPlacedV1>()?.metadata().clone();
    let failed = handler::handle(&broken, order.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");

    // When the same event is handled again
    let retry = handler::handle(&deps, order.decode_set()?).await?;

    // Then it publishes the voucher its first run wrote, under the event's stable id
    assert_eq!(retry.action, Action::Reissued);
    let emitted = bus.emitted_as::<VoucherIssuedV1>(1).await?;
    assert_eq!(emitted.len(), 1);
    let stable = Detail::caused_by_stable(&cause, "", emitted[0].data().clone(), FUNCTION);
    assert_eq!(emitted[0].metadata().event_id, stable.metadata.event_id);
    assert_eq!(emitted[0].data().voucher_id, "vch-1001");
    Ok(())
}

/// What a store answered to [`conditional_writes`].
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    recorded: Vec<PlacedOrder>,
    orders: Vec<Vec<PlacedOrder>>,
    issued: Vec<Issue>,
    vouchers: Vec<Option<StoredVoucher>>,
}

/// Three orders of `cus-7` (so `ord-10` and `ord-100` sort before `ord-9`), `ord-10` recorded
/// twice with another total and time, its voucher issued twice by different deliveries.
async fn conditional_writes(store: &CampaignStore) -> TestResult<Answers> {
    let order = |order_id: &str, total_minor, placed_at: &str| -> TestResult<PlacedOrder> {
        Ok(PlacedOrder {
            order_id: order_id.to_owned(),
            total_minor,
            currency: "EUR".to_owned(),
            placed_at: placed_at.parse()?,
        })
    };
    let voucher = |issued_by| -> TestResult<StoredVoucher> {
        Ok(StoredVoucher {
            voucher: VoucherIssuedV1 {
                voucher_id: "vch-10".to_owned(),
                customer_id: "cus-7".to_owned(),
                qualifying_order_id: "ord-10".to_owned(),
                rule: VoucherRule::ThirdOrder,
                value_minor: 500,
                currency: "EUR".to_owned(),
                valid_until: "2027-01-30T09:00:00.123456789Z".parse()?,
            },
            issued_by: uuid::Uuid::from_u128(issued_by),
        })
    };
    let mut recorded = Vec::new();
    for order in [
        order("ord-9", 900, "2026-11-01T09:00:00Z")?,
        order("ord-10", 1_000, "2026-11-02T10:14:59.987654321Z")?,
        order("ord-100", 10_000, "2026-11-03T09:00:00Z")?,
        order("ord-10", 2_000, "2026-11-04T09:00:00Z")?,
    ] {
        recorded.push(store.record_order("cus-7", &order).await?);
    }
    Ok(Answers {
        recorded,
        orders: vec![store.orders("cus-7").await?, store.orders("cus-8").await?],
        issued: vec![store.issue(&voucher(1)?).await?, store.issue(&voucher(2)?).await?],
        vouchers: vec![store.voucher("ord-10").await?, store.voucher("ord-9").await?],
    })
}

#[tokio::test]
async fn the_memory_store_answers_every_conditional_write_as_the_dynamodb_tables_do() -> TestResult {
    // Given the two tables on moto and a store in memory
    let moto = Harness::new().await;
    let orders = moto.table("campaign-orders", "customer_id", Some("order_id")).await?;
    let vouchers = moto.table("vouchers", "qualifying_order_id", None).await?;

    // When both get the same writes
    let in_dynamodb = conditional_writes(&CampaignStore::new(moto.dynamodb, orders, vouchers)).await?;
    let in_memory = conditional_writes(&CampaignStore::memory()).await?;

    // Then they answer alike: the first recording and the first voucher stand and are handed
    // back, and a customer's orders read in sort-key order
    assert_eq!(in_memory, in_dynamodb);
    assert_eq!(in_memory.recorded[3], in_memory.recorded[1]);
    let ids: Vec<_> = in_memory.orders[0].iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(ids, ["ord-10", "ord-100", "ord-9"]);
    assert!(in_memory.orders[1].is_empty());
    assert_eq!(in_memory.issued[0], Issue::Issued);
    let Issue::AlreadyIssued(existing) = &in_memory.issued[1] else {
        return Err(format!("the second voucher must be refused: {:?}", in_memory.issued).into());
    };
    assert_eq!(existing.issued_by, uuid::Uuid::from_u128(1));
    assert_eq!(in_memory.vouchers, [Some(existing.clone()), None]);
    Ok(())
}
