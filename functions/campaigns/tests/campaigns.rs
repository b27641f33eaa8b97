//! Campaigns against moto server: DynamoDB tables for customer orders, vouchers and idempotency,
//! and an EventBridge bus whose rule sends campaigns' events to an SQS queue the tests read.

use campaigns::FUNCTION;
use campaigns::error::CampaignsError;
use campaigns::handler::{self, Action, CampaignsEvent, Deps, Reaction};
use campaigns::rules::Rules;
use campaigns::store::CampaignStore;
use chrono::{DateTime, TimeDelta, Utc};
use herald::idempotency::{DynamoStore, Guarded, GuardedEvent, IdempotencyGuard, Outcome};
use herald::{Classify, ConsumerError, Detail, EnvelopeError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::world::{Bus, Harness, deliver, unknown_version, without};
use serde_json::json;
use shop_events::{OrderPlacedV1, VoucherIssuedV1, VoucherRule};

const PLACED_V1: &str = "shop.orders/OrderPlaced/v1.sample.json";
const PLACED_V2: &str = "shop.orders/OrderPlaced/v2.sample.json";

/// Campaigns wired to fresh tables and a fresh bus, as `main.rs` wires it.
struct World {
    store: CampaignStore,
    bus: Bus,
    deps: Deps,
    guard: IdempotencyGuard<DynamoStore>,
}

impl World {
    async fn new() -> TestResult<Self> {
        let moto = Harness::new().await;
        let bus = moto.bus("shop.campaigns").await?;
        let store = CampaignStore::new(
            moto.dynamodb.clone(),
            moto.table("campaign-orders", "customer_id", Some("order_id")).await?,
            moto.table("vouchers", "qualifying_order_id", None).await?,
        );
        Ok(Self {
            deps: Deps {
                store: store.clone(),
                rules: Rules::default(),
                publisher: bus.publisher(),
            },
            store,
            bus,
            guard: moto.idempotency_guard(FUNCTION).await?,
        })
    }

    /// Delivers one event through the same consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<CampaignsError>> {
        self.deliver_with(self.deps.clone(), raw).await
    }

    /// Delivers one event with other dependencies (a broken publisher, say) but the same guard.
    async fn deliver_with(
        &self,
        deps: Deps,
        raw: RawEvent,
    ) -> Result<Guarded<Reaction>, ConsumerError<CampaignsError>> {
        deliver(&self.guard, &deps, run, raw).await
    }

    /// Dependencies whose publisher cannot reach EventBridge and does not retry.
    fn unreachable_bus(&self) -> Deps {
        Deps {
            publisher: self.bus.unreachable_publisher(),
            ..self.deps.clone()
        }
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<VoucherIssuedEvent>> {
        self.bus.emitted_as(expected).await
    }
}

/// The handler over owned dependencies, as a consumer built per delivery runs it.
async fn run(deps: Deps, event: CampaignsEvent) -> Result<Reaction, CampaignsError> {
    handler::handle(&deps, event).await
}

type VoucherIssuedEvent = herald::Envelope<VoucherIssuedV1>;

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
    let world = World::new().await?;
    let order = fresh_sample(PLACED_V1)?;
    let order_event_id = order.ids().event_id.clone();
    let placed_at: DateTime<Utc> = "2026-11-02T10:14:59.987Z".parse()?;

    // When it is placed
    let answer = world.deliver(order).await?;

    // Then the order is recorded, vch-1001 is stored and VoucherIssued, caused by the order, is on the bus
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(action(&answer), Some(Action::Issued));
    let orders = world.store.orders("cus-42").await?;
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0].order_id.as_str(), orders[0].total_minor),
        ("ord-1001", 184_709)
    );
    assert_eq!((orders[0].currency.as_str(), orders[0].placed_at), ("EUR", placed_at));
    let stored = world
        .store
        .voucher("ord-1001")
        .await?
        .ok_or("vch-1001 must be stored")?;
    let expected = VoucherIssuedV1 {
        voucher_id: "vch-1001".to_owned(),
        customer_id: "cus-42".to_owned(),
        qualifying_order_id: "ord-1001".to_owned(),
        rule: VoucherRule::BigSpender,
        value_minor: 1_000,
        currency: "EUR".to_owned(),
        valid_until: placed_at + TimeDelta::days(90),
    };
    assert_eq!(stored.voucher, expected);
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(emitted[0].data(), &expected);
    assert_eq!(
        emitted[0].metadata().causation_id.map(|c| c.to_string()),
        order_event_id
    );
    assert_eq!(emitted[0].metadata().producer, FUNCTION);
    assert_eq!(
        answer
            .result
            .map(|r| r.emitted.iter().map(|e| e.event_id).collect::<Vec<_>>()),
        Some(vec![emitted[0].metadata().event_id])
    );
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_issues_once_and_emits_once() -> TestResult {
    // Given a qualifying order event
    let world = World::new().await?;
    let order = fresh_sample(PLACED_V1)?;

    // When it is delivered twice
    let first = world.deliver(order.clone()).await?;
    let second = world.deliver(order).await?;

    // Then the second is answered from the record and one event is on the bus
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result, first.result);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn three_orders_under_the_threshold_issue_one_third_order_voucher_on_the_third() -> TestResult {
    // Given three orders of cus-42, 458.97 EUR each, a week apart
    let world = World::new().await?;
    let orders = [
        placed("ord-2001", 45_897, "2026-11-01T09:00:00Z")?,
        placed("ord-2002", 45_897, "2026-11-08T09:00:00Z")?,
        placed("ord-2003", 45_897, "2026-11-15T09:00:00Z")?,
    ];
    let third_event_id = orders[2].ids().event_id.clone();

    // When they are placed one after another
    let mut actions = Vec::new();
    for order in orders {
        actions.push(action(&world.deliver(order).await?));
    }

    // Then only the third earns a voucher: vch-2003, third_order, 5.00 EUR
    assert_eq!(
        actions,
        [Some(Action::NoVoucher), Some(Action::NoVoucher), Some(Action::Issued)]
    );
    assert!(world.store.voucher("ord-2001").await?.is_none());
    assert!(world.store.voucher("ord-2002").await?.is_none());
    assert_eq!(world.store.orders("cus-42").await?.len(), 3);
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let voucher = emitted[0].data();
    assert_eq!(
        (voucher.voucher_id.as_str(), voucher.qualifying_order_id.as_str()),
        ("vch-2003", "ord-2003")
    );
    assert_eq!((voucher.rule, voucher.value_minor), (VoucherRule::ThirdOrder, 500));
    assert_eq!(
        emitted[0].metadata().causation_id.map(|c| c.to_string()),
        third_event_id
    );
    Ok(())
}

#[tokio::test]
async fn the_same_order_under_a_new_event_id_issues_no_second_voucher_and_emits_nothing_new() -> TestResult {
    // Given ord-1001 placed and its voucher issued
    let world = World::new().await?;
    let first = fresh_sample(PLACED_V1)?;
    let first_event_id = first.ids().event_id.clone();
    assert_eq!(action(&world.deliver(first).await?), Some(Action::Issued));

    // When the order system publishes the same order again, under a new event id (the guard cannot tell)
    let again = world.deliver(fresh_sample(PLACED_V1)?).await?;

    // Then the voucher table's condition holds: no second voucher, nothing emitted
    assert_eq!(again.outcome, Outcome::Claimed);
    assert_eq!(action(&again), Some(Action::AlreadyIssued));
    assert_eq!(again.result.map(|r| r.emitted.len()), Some(0));
    let stored = world
        .store
        .voucher("ord-1001")
        .await?
        .ok_or("vch-1001 must be stored")?;
    assert_eq!(Some(stored.issued_by.to_string()), first_event_id);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_v2_order_counts_toward_the_rules() -> TestResult {
    // Given ord-1001 of 1100.00 EUR (v1) two days before the thin ord-1003 of 458.97 EUR (v2)
    let world = World::new().await?;
    let mut earlier = sample_json(PLACED_V1)?;
    earlier["detail"]["data"]["totals"]["total_minor"] = json!(110_000);
    let earlier = world.deliver(RawEvent::from_value(earlier)).await?;

    // When the v2 order arrives
    let answer = world.deliver(fresh_sample(PLACED_V2)?).await?;

    // Then it is recorded, crosses 1500.00 in the window and earns the big-spender voucher
    assert_eq!(action(&earlier), Some(Action::NoVoucher));
    assert_eq!(action(&answer), Some(Action::Issued));
    let orders = world.store.orders("cus-42").await?;
    let thin = orders
        .iter()
        .find(|o| o.order_id == "ord-1003")
        .ok_or("ord-1003 must be recorded")?;
    assert_eq!(thin.total_minor, 45_897);
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(emitted[0].data().voucher_id, "vch-1003");
    assert_eq!(emitted[0].data().rule, VoucherRule::BigSpender);
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_event_without_a_second_voucher() -> TestResult {
    // Given a qualifying order whose first run cannot reach the bus
    let world = World::new().await?;
    let order = fresh_sample(PLACED_V1)?;
    let cause = order.clone().decode::<OrderPlacedV1>()?.metadata().clone();
    let error = world
        .deliver_with(world.unreachable_bus(), order.clone())
        .await
        .err()
        .ok_or("publishing to an unreachable bus must fail")?;
    assert!(error.is_retryable(), "{error}");
    assert!(
        world.store.voucher("ord-1001").await?.is_some(),
        "the voucher was written"
    );

    // When the same event is delivered again
    let retry = world.deliver(order).await?;

    // Then the released claim lets it run, and it publishes the voucher event under its stable id
    assert_eq!(retry.outcome, Outcome::Claimed);
    assert_eq!(action(&retry), Some(Action::Reissued));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let stable = Detail::caused_by_stable(&cause, "", emitted[0].data().clone(), FUNCTION);
    assert_eq!(emitted[0].metadata().event_id, stable.metadata.event_id);
    assert_eq!(emitted[0].metadata().causation_id, Some(cause.event_id));
    assert_eq!(emitted[0].data().voucher_id, "vch-1001");
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event() -> TestResult {
    let world = World::new().await?;

    // A version campaigns does not know
    let error = world
        .deliver(unknown_version(PLACED_V1)?)
        .await
        .err()
        .ok_or("v9 must fail")?;
    assert!(
        matches!(error, ConsumerError::Envelope(EnvelopeError::UnsupportedVersion { .. })),
        "{error}"
    );
    assert!(!error.is_retryable());

    // A thin order without its total
    let (no_total, event_id) = without(PLACED_V2, "/detail/data", "total_minor")?;
    let error = world.deliver(no_total).await.err().ok_or("no total must fail")?;
    assert!(error.to_string().contains("detail.data.total_minor"), "{error}");
    assert!(error.to_string().contains(&event_id), "{error}");
    assert!(!error.is_retryable());

    // A fat order without its customer
    let (no_customer, _) = without(PLACED_V1, "/detail/data", "customer")?;
    let error = world.deliver(no_customer).await.err().ok_or("no customer must fail")?;
    assert!(error.to_string().contains("detail.data.customer"), "{error}");
    assert!(!error.is_retryable());

    // Nothing was recorded for any of them
    assert!(world.store.orders("cus-42").await?.is_empty());
    assert!(world.store.voucher("ord-1001").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(PLACED_V2)?.decode_set::<CampaignsEvent>()?;
    assert_eq!(event.detail_type(), "OrderPlaced");
    Ok(())
}
