//! Campaigns' behaviour, each test run on both backends it runs on (memory, as under
//! `herald dev`, and DynamoDB on moto), built as `main.rs` builds it. What it publishes reaches
//! a queue on moto the tests read.

use campaigns::handler::{self, Action, CampaignsEvent, Deps, Reaction};
use campaigns::rules::PlacedOrder;
use campaigns::store::{CampaignStore, Issue, StoredVoucher};
use chrono::{DateTime, TimeDelta, Utc};
use herald::idempotency::{Guarded, GuardedEvent, Outcome};
use herald::{Function, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{ORDER_PLACED, THIN_ORDER_PLACED, fresh_sample, fresh_sample_with};
use herald_tests::world::{FunctionWorld, Stores, on_every_backend};
use serde_json::json;
use shop_events::{VoucherIssuedV1, VoucherRule};

/// Campaigns over fresh stores of `stores`.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Campaigns' customer-orders and voucher tables.
fn store(world: &FunctionWorld<Deps>) -> &CampaignStore {
    &world.deps().store
}

/// The action of each delivery, in turn.
async fn actions(
    world: &FunctionWorld<Deps>,
    raws: impl IntoIterator<Item = RawEvent>,
) -> TestResult<Vec<Option<Action>>> {
    let mut actions = Vec::new();
    for raw in raws {
        actions.push(action(&world.deliver(raw).await?));
    }
    Ok(actions)
}

/// A thin OrderPlaced of customer `cus-42` with a fresh event id.
fn placed(order_id: &str, total_minor: u64, occurred_at: &str) -> TestResult<RawEvent> {
    fresh_sample_with(
        THIN_ORDER_PLACED,
        &[
            ("/detail/data/order_id", json!(order_id)),
            ("/detail/data/total_minor", json!(total_minor)),
            ("/detail/metadata/occurred_at", json!(occurred_at)),
        ],
    )
}

fn action(answer: &Guarded<Reaction>) -> Option<Action> {
    answer.result.as_ref().map(|r| r.action)
}

#[tokio::test]
async fn a_big_order_issues_one_big_spender_voucher_and_emits_voucher_issued() -> TestResult {
    on_every_backend(async |stores| {
        // Given a customer without orders, and ord-1001 of 1847.09 EUR
        let world = world(stores).await?;
        let order = fresh_sample(ORDER_PLACED)?;
        let order_event_id = order.ids().event_id.clone();
        let placed_at: DateTime<Utc> = "2026-11-02T10:14:59.987Z".parse()?;

        // When it is placed
        let answer = world.deliver(order).await?;

        // Then the order is recorded, vch-1001 is stored and VoucherIssued, caused by the order, is on the bus
        assert_eq!(answer.outcome, Outcome::Claimed);
        assert_eq!(action(&answer), Some(Action::Issued));
        let orders = store(&world).orders("cus-42").await?;
        assert_eq!(orders.len(), 1);
        assert_eq!(
            (orders[0].order_id.as_str(), orders[0].total_minor),
            ("ord-1001", 184_709)
        );
        assert_eq!((orders[0].currency.as_str(), orders[0].placed_at), ("EUR", placed_at));
        let stored = store(&world)
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
        let issued = world.bus.emitted_one::<VoucherIssuedV1>().await?;
        assert_eq!(issued.data(), &expected);
        assert_eq!(issued.metadata().causation_id.map(|c| c.to_string()), order_event_id);
        assert_eq!(issued.metadata().producer, Deps::NAME);
        assert_eq!(
            answer
                .result
                .map(|r| r.emitted.iter().map(|e| e.event_id).collect::<Vec<_>>()),
            Some(vec![issued.metadata().event_id])
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn three_orders_under_the_threshold_issue_one_third_order_voucher_on_the_third() -> TestResult {
    on_every_backend(async |stores| {
        // Given three orders of cus-42, 458.97 EUR each, a week apart
        let world = world(stores).await?;
        let orders = [
            placed("ord-2001", 45_897, "2026-11-01T09:00:00Z")?,
            placed("ord-2002", 45_897, "2026-11-08T09:00:00Z")?,
            placed("ord-2003", 45_897, "2026-11-15T09:00:00Z")?,
        ];
        let third_event_id = orders[2].ids().event_id.clone();

        // When they are placed one after another
        let actions = actions(&world, orders).await?;

        // Then only the third earns a voucher: vch-2003, third_order, 5.00 EUR
        assert_eq!(
            actions,
            [Some(Action::NoVoucher), Some(Action::NoVoucher), Some(Action::Issued)]
        );
        assert!(store(&world).voucher("ord-2001").await?.is_none());
        assert!(store(&world).voucher("ord-2002").await?.is_none());
        assert_eq!(store(&world).orders("cus-42").await?.len(), 3);
        let issued = world.bus.emitted_one::<VoucherIssuedV1>().await?;
        let voucher = issued.data();
        assert_eq!(
            (voucher.voucher_id.as_str(), voucher.qualifying_order_id.as_str()),
            ("vch-2003", "ord-2003")
        );
        assert_eq!((voucher.rule, voucher.value_minor), (VoucherRule::ThirdOrder, 500));
        assert_eq!(issued.metadata().causation_id.map(|c| c.to_string()), third_event_id);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn orders_arriving_out_of_order_are_each_judged_on_the_orders_placed_before_them() -> TestResult {
    on_every_backend(async |stores| {
        // Given the same three orders of cus-42
        let world = world(stores).await?;

        // When the third-placed arrives first and the first-placed last
        let actions = actions(
            &world,
            [
                placed("ord-2003", 45_897, "2026-11-15T09:00:00Z")?,
                placed("ord-2002", 45_897, "2026-11-08T09:00:00Z")?,
                placed("ord-2001", 45_897, "2026-11-01T09:00:00Z")?,
            ],
        )
        .await?;

        // Then none is third among the orders placed before it when it arrives: no voucher
        assert_eq!(actions, [Some(Action::NoVoucher); 3]);
        assert_eq!(store(&world).orders("cus-42").await?.len(), 3);
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn orders_arriving_out_of_order_earn_the_customer_one_voucher_per_rule() -> TestResult {
    use Action::{Issued, NoVoucher, RuleAlreadyRewarded};
    // Orders of cus-42 in arrival order as (order, total, placed), and what each earns: four
    // small orders placed a week apart arriving A, B, D, C (D and C each see two orders placed
    // before them), and three that each cross 1500.00 EUR in placing order arriving A, C, B
    let cases = [
        (
            vec![
                ("ord-3001", 10_000, "2026-11-01"),
                ("ord-3002", 10_000, "2026-11-08"),
                ("ord-3004", 10_000, "2026-11-22"),
                ("ord-3003", 10_000, "2026-11-15"),
            ],
            vec![NoVoucher, NoVoucher, Issued, RuleAlreadyRewarded],
            ("ord-3004", VoucherRule::ThirdOrder),
        ),
        (
            vec![
                ("ord-4001", 100_000, "2026-11-01"),
                ("ord-4003", 90_000, "2026-11-15"),
                ("ord-4002", 60_000, "2026-11-08"),
            ],
            vec![NoVoucher, Issued, RuleAlreadyRewarded],
            ("ord-4003", VoucherRule::BigSpender),
        ),
    ];
    for (arrivals, expected, winner) in &cases {
        on_every_backend(async |stores| {
            // Given a customer without orders
            let world = world(stores).await?;

            // When the orders arrive in that order
            let raws = arrivals
                .iter()
                .map(|(order, total, day)| placed(order, *total, &format!("{day}T09:00:00Z")))
                .collect::<TestResult<Vec<_>>>()?;
            let actions = actions(&world, raws).await?;

            // Then the first order to qualify earns the rule's voucher, and a later one none
            let expected: Vec<Option<Action>> = expected.iter().copied().map(Some).collect();
            assert_eq!(actions, expected);
            let issued = world.bus.emitted_as::<VoucherIssuedV1>(1).await?;
            let earned: Vec<(&str, VoucherRule)> = issued
                .iter()
                .map(|e| (e.data().qualifying_order_id.as_str(), e.data().rule))
                .collect();
            assert_eq!(earned, [*winner]);
            Ok(())
        })
        .await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_retry_after_the_rule_was_claimed_issues_the_claimed_voucher_even_if_the_window_grew() -> TestResult {
    on_every_backend(async |stores| {
        // Given three orders of cus-42 (the third holds the third-order voucher), and order D
        // holding the big-spender claim, as D's first run left it when it crashed before writing
        // the voucher, in a window that has grown since: the rules alone give D nothing now
        let world = world(stores).await?;
        for (order, at) in [("ord-5001", "01"), ("ord-5002", "08"), ("ord-5003", "15")] {
            world
                .deliver(placed(order, 10_000, &format!("2026-11-{at}T09:00:00Z"))?)
                .await?;
        }
        let third = store(&world)
            .claim("cus-42", VoucherRule::ThirdOrder, "ord-5004")
            .await?;
        assert_eq!(third, "ord-5003", "a held claim is handed back, not taken");
        assert_eq!(
            store(&world)
                .claim("cus-42", VoucherRule::BigSpender, "ord-5004")
                .await?,
            "ord-5004"
        );

        // When D is delivered again
        let answer = world
            .deliver(placed("ord-5004", 10_000, "2026-11-22T09:00:00Z")?)
            .await?;

        // Then it issues the voucher its claim holds
        assert_eq!(action(&answer), Some(Action::Issued));
        let stored = store(&world).voucher("ord-5004").await?.ok_or("D's voucher")?;
        assert_eq!(stored.voucher.rule, VoucherRule::BigSpender);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_same_order_under_a_new_event_id_issues_no_second_voucher_and_emits_nothing_new() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed and its voucher issued
        let world = world(stores).await?;
        let first = fresh_sample(ORDER_PLACED)?;
        let first_event_id = first.ids().event_id.clone();
        assert_eq!(action(&world.deliver(first).await?), Some(Action::Issued));

        // When the order system publishes the same order again, under a new event id (the guard cannot tell)
        let again = world.deliver(fresh_sample(ORDER_PLACED)?).await?;

        // Then the voucher table's condition holds: no second voucher, nothing emitted
        assert_eq!(again.outcome, Outcome::Claimed);
        assert_eq!(action(&again), Some(Action::AlreadyIssued));
        assert_eq!(again.result.map(|r| r.emitted.len()), Some(0));
        let stored = store(&world)
            .voucher("ord-1001")
            .await?
            .ok_or("vch-1001 must be stored")?;
        assert_eq!(Some(stored.issued_by.to_string()), first_event_id);
        world.bus.emitted_one::<VoucherIssuedV1>().await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_duplicate_that_outlives_the_guards_record_publishes_nothing_and_issues_nothing_new() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed and its voucher issued and published
        let world = world(stores).await?;
        let order = world.delivered(ORDER_PLACED).await?;
        let first = world.bus.emitted_one::<VoucherIssuedV1>().await?;
        let stored = store(&world).voucher("ord-1001").await?.ok_or("no voucher")?;
        assert!(stored.announced.contains(first.metadata().event_id));

        // When the same event comes back after the guard's record is gone
        let late = world.deliver_after_the_guard_forgot(order).await?;

        // Then the handler ran, found the voucher this event issued and its event published:
        // nothing reaches the bus (the customer is not mailed twice)
        assert_eq!(late.outcome, Outcome::Claimed);
        assert_eq!(action(&late), Some(Action::AlreadyAnnounced));
        assert_eq!(world.bus.emitted(0).await?, Vec::<serde_json::Value>::new());
        assert_eq!(store(&world).orders("cus-42").await?.len(), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_v2_order_counts_toward_the_rules() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 of 1100.00 EUR (v1) two days before the thin ord-1003 of 458.97 EUR (v2)
        let world = world(stores).await?;
        let earlier = fresh_sample_with(ORDER_PLACED, &[("/detail/data/totals/total_minor", json!(110_000))])?;
        let earlier = world.deliver(earlier).await?;

        // When the v2 order arrives
        let answer = world.deliver(fresh_sample(THIN_ORDER_PLACED)?).await?;

        // Then it is recorded, crosses 1500.00 in the window and earns the big-spender voucher
        assert_eq!(action(&earlier), Some(Action::NoVoucher));
        assert_eq!(action(&answer), Some(Action::Issued));
        let orders = store(&world).orders("cus-42").await?;
        let thin = orders
            .iter()
            .find(|o| o.order_id == "ord-1003")
            .ok_or("ord-1003 must be recorded")?;
        assert_eq!(thin.total_minor, 45_897);
        let issued = world.bus.emitted_one::<VoucherIssuedV1>().await?;
        assert_eq!(issued.data().voucher_id, "vch-1003");
        assert_eq!(issued.data().rule, VoucherRule::BigSpender);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_event_without_a_second_voucher() -> TestResult {
    on_every_backend(async |stores| {
        // Given a qualifying order
        let world = world(stores).await?;
        let order = fresh_sample(ORDER_PLACED)?;
        let cause = order.metadata()?.event_id;

        // When its first run cannot reach the bus, and the event is delivered again
        let (retry, issued) = world
            .retry_after_a_failed_publish::<VoucherIssuedV1>(order, |deps, publisher| Deps { publisher, ..deps })
            .await?;

        // Then the retry publishes the voucher its first run wrote, under the event's stable id
        assert_eq!(action(&retry), Some(Action::Reissued));
        assert_eq!(issued.data().voucher_id, "vch-1001");
        let stored = store(&world)
            .voucher("ord-1001")
            .await?
            .ok_or("vch-1001 must be stored")?;
        assert_eq!(stored.issued_by, cause);
        Ok(())
    })
    .await
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
            announced: Default::default(),
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
    // Given campaigns' store in memory and on moto, each as `main.rs` builds it
    let memory = world(Stores::Memory).await?;
    let moto = world(Stores::Moto).await?;

    // When both get the same writes
    let in_memory = conditional_writes(store(&memory)).await?;
    let in_dynamodb = conditional_writes(store(&moto)).await?;

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

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(THIN_ORDER_PLACED)?.decode_set::<CampaignsEvent>()?;
    assert_eq!(event.detail_type(), "OrderPlaced");
    Ok(())
}
