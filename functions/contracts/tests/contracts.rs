//! Contracts' behaviour, each test run on both backends it runs on (memory, as under `herald dev`,
//! and DynamoDB on moto), built as `main.rs` builds it. What it publishes reaches a queue on moto
//! that the tests read.

use contracts::error::ContractsError;
use contracts::handler::{self, Action, ContractsEvent, Deps, Reaction};
use contracts::store::{Contract, ContractStatus, ContractStore, Create, OrderContracts, contract_id};
use herald::idempotency::{GuardedEvent, Outcome};
use herald::{Classify, ConsumerError, Function, PublishError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{
    INSURED_ORDER_PLACED, ORDER_CANCELLED, ORDER_PLACED, ORDER_RETURNED, THIN_ORDER_PLACED, fresh_sample,
    fresh_sample_with,
};
use herald_tests::world::{
    FunctionWorld, Stores, all_of, assert_catalogued, failure_of, handler_error, on_every_backend, without,
};
use serde_json::json;
use shop_events::{AddOnKind, ContractCancelReason, ContractCancelledV1, ContractCreatedV1};

/// Contracts over fresh stores of `stores`.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Contracts' table.
fn contracts(world: &FunctionWorld<Deps>) -> &ContractStore {
    &world.deps().contracts
}

/// The action of one delivery.
async fn action(world: &FunctionWorld<Deps>, raw: RawEvent) -> TestResult<Option<Action>> {
    Ok(world.deliver(raw).await?.result.map(|r| r.action))
}

/// The order's contracts as (id, status).
async fn statuses(world: &FunctionWorld<Deps>, order_id: &str) -> TestResult<Vec<(String, ContractStatus)>> {
    let stored = contracts(world).order(order_id).await?;
    Ok(stored
        .contracts
        .into_iter()
        .map(|c| (c.contract_id, c.status))
        .collect())
}

/// ord-1001 with an add-on on both lines: a warranty on the laptop and an insurance on the mice.
fn two_add_ons() -> TestResult<RawEvent> {
    fresh_sample_with(
        ORDER_PLACED,
        &[(
            "/detail/data/items/1/add_on",
            json!({"kind": "insurance", "plan": "accidental-damage", "term_months": 12, "price_minor": 499}),
        )],
    )
}

/// Contracts publishing to a bus that does not exist: every publish fails, retryably.
fn broken(world: &FunctionWorld<Deps>) -> herald::Consumer<Deps> {
    world.publishing_through(world.bus.broken_publisher(), |deps, publisher| Deps {
        publisher,
        ..deps
    })
}

fn created(emitted: &[serde_json::Value]) -> TestResult<Vec<herald::Envelope<ContractCreatedV1>>> {
    all_of(emitted, |c: &ContractCreatedV1| &c.contract_id)
}

fn cancelled(emitted: &[serde_json::Value]) -> TestResult<Vec<herald::Envelope<ContractCancelledV1>>> {
    all_of(emitted, |c: &ContractCancelledV1| &c.contract_id)
}

/// The `event_id`s a failed publish could not send, sorted.
fn unpublished(error: &ConsumerError<ContractsError>) -> Vec<uuid::Uuid> {
    match handler_error(error) {
        Some(ContractsError::Publish(PublishError::EntriesFailed { failed, .. })) => {
            let mut ids: Vec<_> = failed.iter().map(|f| f.event_id).collect();
            ids.sort_unstable();
            ids
        }
        _ => Vec::new(),
    }
}

/// The `event_id`s a reaction reports, sorted.
fn reported(reaction: &Reaction) -> Vec<uuid::Uuid> {
    let mut ids: Vec<_> = reaction.emitted.iter().map(|e| e.event_id).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn the_laptop_order_creates_one_warranty_contract_and_emits_one_contract_created() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001: a laptop with an extended warranty, and two mice without add-on
        let world = world(stores).await?;
        let placed = fresh_sample(ORDER_PLACED)?;
        let cause_id = placed.ids().event_id.clone().ok_or("no event_id")?;

        // When it is placed
        let answer = world.deliver(placed).await?;

        // Then one ACTIVE warranty contract is stored and one ContractCreated, caused by the order, is on the bus
        assert_eq!(answer.outcome, Outcome::Claimed);
        let reaction = answer.result.ok_or("no result")?;
        assert_eq!(reaction.action, Action::Created);
        let stored = contracts(&world).order("ord-1001").await?;
        let announced = stored
            .contracts
            .first()
            .map(|c| c.announced.clone())
            .unwrap_or_default();
        assert_eq!(
            stored.contracts,
            vec![Contract {
                contract_id: "ctr-1001-1".to_owned(),
                order_id: "ord-1001".to_owned(),
                customer_id: "cus-42".to_owned(),
                customer_email: "ada@example.com".into(),
                kind: AddOnKind::Warranty,
                plan: "extended-3y".to_owned(),
                sku: "SKU-LAPTOP-14".to_owned(),
                quantity: 1,
                term_months: 36,
                price_minor: 19900,
                currency: "EUR".to_owned(),
                status: ContractStatus::Active,
                created_by: cause_id.clone(),
                cancelled_by: None,
                announced: announced.clone(),
            }]
        );
        assert_eq!(stored.cancelled_by, None);
        let emitted = world.bus.emitted(1).await?;
        assert_eq!(emitted.len(), 1);
        assert_catalogued(&emitted)?;
        let events = created(&emitted)?;
        let event = events.first().ok_or("no ContractCreated")?;
        assert!(announced.contains(event.metadata().event_id));
        assert_eq!(
            event.data(),
            &ContractCreatedV1 {
                contract_id: "ctr-1001-1".to_owned(),
                order_id: "ord-1001".to_owned(),
                customer_id: "cus-42".to_owned(),
                customer_email: "ada@example.com".into(),
                kind: AddOnKind::Warranty,
                plan: "extended-3y".to_owned(),
                sku: "SKU-LAPTOP-14".to_owned(),
                quantity: 1,
                term_months: 36,
                price_minor: 19900,
                currency: "EUR".to_owned(),
            }
        );
        assert_eq!(event.metadata().causation_id.map(|c| c.to_string()), Some(cause_id));
        assert_eq!(event.metadata().producer, Deps::NAME);
        assert_eq!(reported(&reaction), vec![event.metadata().event_id]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_insured_order_creates_an_insurance_contract() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1002: a phone with theft-and-damage insurance
        let world = world(stores).await?;

        // When it is placed
        let action = action(&world, fresh_sample(INSURED_ORDER_PLACED)?).await?;

        // Then an ACTIVE insurance contract exists and its ContractCreated says so
        assert_eq!(action, Some(Action::Created));
        let stored = contracts(&world).order("ord-1002").await?;
        let contract = stored.contracts.first().ok_or("no contract")?;
        assert_eq!(stored.contracts.len(), 1);
        assert_eq!(
            (contract.contract_id.as_str(), contract.kind, contract.status),
            ("ctr-1002-1", AddOnKind::Insurance, ContractStatus::Active)
        );
        let events = created(&world.bus.emitted(1).await?)?;
        let event = events.first().ok_or("no ContractCreated")?;
        assert_eq!(events.len(), 1);
        assert_eq!(event.data().kind, AddOnKind::Insurance);
        assert_eq!(event.data().plan, "theft-and-damage");
        assert_eq!(event.data().customer_email.expose(), "grace@example.com");
        assert_eq!((event.data().term_months, event.data().price_minor), (24, 14900));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_second_order_placed_event_for_the_order_creates_nothing_new() -> TestResult {
    on_every_backend(async |stores| {
        // Given an order whose contract exists
        let world = world(stores).await?;
        assert_eq!(
            action(&world, fresh_sample(ORDER_PLACED)?).await?,
            Some(Action::Created)
        );

        // When the order system publishes OrderPlaced again under another event id
        let again = action(&world, fresh_sample(ORDER_PLACED)?).await?;

        // Then nothing new is created or emitted
        assert_eq!(again, Some(Action::AlreadyCreated));
        assert_eq!(contracts(&world).order("ord-1001").await?.contracts.len(), 1);
        assert_eq!(world.bus.emitted(1).await?.len(), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_order_without_add_ons_creates_nothing() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 with the laptop's warranty taken off
        let world = world(stores).await?;
        let (placed, _) = without(ORDER_PLACED, "/detail/data/items/0", "add_on")?;

        // When it is placed
        let action = action(&world, placed).await?;

        // Then there is nothing to create and nothing is emitted
        assert_eq!(action, Some(Action::NoAddOns));
        assert!(contracts(&world).order("ord-1001").await?.contracts.is_empty());
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_thin_v2_order_is_refused_with_a_typed_non_retryable_error_naming_what_is_missing() -> TestResult {
    on_every_backend(async |stores| {
        // Given contracts with nothing stored
        let world = world(stores).await?;

        // When the thin v2 ord-1003 arrives: it does not say which lines carry add-ons
        let error = world.failure_of(fresh_sample(THIN_ORDER_PLACED)?).await?;

        // Then it is refused for good, naming the order and where its lines would come from, and nothing is written
        assert_eq!(error.error_type(), "Contracts.ThinOrder");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("ord-1003"), "{error}");
        assert!(error.to_string().contains("GET /orders/"), "{error}");
        assert_eq!(contracts(&world).order("ord-1003").await?, OrderContracts::default());
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancellation_cancels_every_contract_and_emits_one_contract_cancelled_each() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 with two contracts
        let world = world(stores).await?;
        assert_eq!(action(&world, two_add_ons()?).await?, Some(Action::Created));
        let cancellation = fresh_sample(ORDER_CANCELLED)?;
        let cause_id = cancellation.ids().event_id.clone();

        // When the order is cancelled
        let action = action(&world, cancellation).await?;

        // Then both contracts are CANCELLED and one ContractCancelled per contract follows
        assert_eq!(action, Some(Action::Cancelled));
        assert_eq!(
            statuses(&world, "ord-1001").await?,
            vec![
                ("ctr-1001-1".to_owned(), ContractStatus::Cancelled),
                ("ctr-1001-2".to_owned(), ContractStatus::Cancelled),
            ]
        );
        let emitted = world.bus.emitted(4).await?;
        assert_catalogued(&emitted)?;
        assert_eq!(created(&emitted)?.len(), 2);
        let events = cancelled(&emitted)?;
        let data: Vec<_> = events.iter().map(|e| e.data().clone()).collect();
        assert_eq!(
            data,
            vec![
                ContractCancelledV1 {
                    contract_id: "ctr-1001-1".to_owned(),
                    order_id: "ord-1001".to_owned(),
                    customer_id: "cus-42".to_owned(),
                    customer_email: "ada@example.com".into(),
                    kind: AddOnKind::Warranty,
                    plan: "extended-3y".to_owned(),
                    reason: ContractCancelReason::OrderCancelled,
                },
                ContractCancelledV1 {
                    contract_id: "ctr-1001-2".to_owned(),
                    order_id: "ord-1001".to_owned(),
                    customer_id: "cus-42".to_owned(),
                    customer_email: "ada@example.com".into(),
                    kind: AddOnKind::Insurance,
                    plan: "accidental-damage".to_owned(),
                    reason: ContractCancelReason::OrderCancelled,
                },
            ]
        );
        for event in &events {
            assert_eq!(event.metadata().causation_id.map(|c| c.to_string()), cause_id);
        }
        assert_ne!(events[0].metadata().event_id, events[1].metadata().event_id);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_return_cancels_the_contracts_with_reason_order_returned() -> TestResult {
    on_every_backend(async |stores| {
        // Given the insured ord-1002
        let world = world(stores).await?;
        let order = fresh_sample(INSURED_ORDER_PLACED)?;
        assert_eq!(action(&world, order.clone()).await?, Some(Action::Created));

        // When it is returned, and the order is replayed after its guard record is gone
        let action = action(&world, fresh_sample(ORDER_RETURNED)?).await?;
        let replayed = world.deliver_after_the_guard_forgot(order).await?;

        // Then its contract is CANCELLED and ContractCancelled says the order was returned; the
        // replay announces no ended contract again
        assert_eq!(action, Some(Action::Cancelled));
        assert_eq!(replayed.result.map(|r| r.action), Some(Action::EndedSince));
        assert_eq!(
            statuses(&world, "ord-1002").await?,
            vec![("ctr-1002-1".to_owned(), ContractStatus::Cancelled)]
        );
        let events = cancelled(&world.bus.emitted(2).await?)?;
        assert_eq!(events.len(), 1);
        let event = events.first().ok_or("no ContractCancelled")?;
        assert_eq!(event.data().contract_id, "ctr-1002-1");
        assert_eq!(event.data().reason, ContractCancelReason::OrderReturned);
        assert_eq!(event.data().customer_email.expose(), "grace@example.com");
        assert_eq!(event.data().kind, AddOnKind::Insurance);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_partial_return_ends_only_the_contracts_of_the_returned_skus() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 with a warranty on the laptop and an insurance on the mice
        let world = world(stores).await?;
        assert_eq!(action(&world, two_add_ons()?).await?, Some(Action::Created));
        let returning = |sku: &str| {
            fresh_sample_with(
                ORDER_RETURNED,
                &[
                    ("/detail/data/order_id", json!("ord-1001")),
                    ("/detail/data/items", json!([{"sku": sku, "quantity": 1}])),
                ],
            )
        };

        // When the mice come back (the laptop is kept), and later the laptop
        for (sku, emitted_since, ended, statuses_after) in [
            (
                "SKU-MOUSE-01",
                3,
                "ctr-1001-2",
                [ContractStatus::Active, ContractStatus::Cancelled],
            ),
            ("SKU-LAPTOP-14", 1, "ctr-1001-1", [ContractStatus::Cancelled; 2]),
        ] {
            let answer = action(&world, returning(sku)?).await?;

            // Then only the contract of the returned SKU ends, and none ends twice
            assert_eq!(answer, Some(Action::Cancelled), "{sku}");
            let now: Vec<ContractStatus> = statuses(&world, "ord-1001")
                .await?
                .into_iter()
                .map(|(_, s)| s)
                .collect();
            assert_eq!(now, statuses_after, "{sku}");
            let events = cancelled(&world.bus.emitted(emitted_since).await?)?;
            let ids: Vec<&str> = events.iter().map(|e| e.data().contract_id.as_str()).collect();
            assert_eq!(ids, [ended], "{sku}");
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_partial_return_before_its_order_leaves_the_kept_sku_its_contract() -> TestResult {
    on_every_backend(async |stores| {
        // Given the return of the mice arriving before ord-1001 (a laptop with a warranty, mice
        // with an insurance), as when the order was dead-lettered and redriven days later
        let world = world(stores).await?;
        let mice_back = fresh_sample_with(
            ORDER_RETURNED,
            &[
                ("/detail/data/order_id", json!("ord-1001")),
                ("/detail/data/customer_id", json!("cus-42")),
                ("/detail/data/items", json!([{"sku": "SKU-MOUSE-01", "quantity": 2}])),
            ],
        )?;
        let early = action(&world, mice_back).await?;

        // When the order arrives
        let late = action(&world, two_add_ons()?).await?;

        // Then the kept laptop gets its warranty, the returned mice no insurance
        assert_eq!(early, Some(Action::RecordedEarlyCancel));
        assert_eq!(late, Some(Action::Created));
        assert_eq!(
            statuses(&world, "ord-1001").await?,
            [("ctr-1001-1".to_owned(), ContractStatus::Active)]
        );
        let events = created(&world.bus.emitted(1).await?)?;
        let ids: Vec<&str> = events.iter().map(|e| e.data().contract_id.as_str()).collect();
        assert_eq!(ids, ["ctr-1001-1"]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancellation_before_the_order_leaves_it_without_contracts_and_emits_nothing() -> TestResult {
    on_every_backend(async |stores| {
        // Given the cancellation arriving first
        let world = world(stores).await?;
        let early = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // When the order arrives afterwards
        let late = action(&world, fresh_sample(ORDER_PLACED)?).await?;

        // Then the tombstone stands, no contract exists and nothing is emitted
        assert_eq!(early, Some(Action::RecordedEarlyCancel));
        assert_eq!(late, Some(Action::SkippedCancelledOrder));
        let stored = contracts(&world).order("ord-1001").await?;
        assert!(stored.contracts.is_empty(), "{stored:?}");
        assert!(stored.cancelled_by.is_some());
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_duplicate_cancellation_emits_nothing_more() -> TestResult {
    on_every_backend(async |stores| {
        // Given a cancelled order with one contract
        let world = world(stores).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;
        let first = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // When the order system publishes the cancellation again under another event id
        let second = action(&world, fresh_sample(ORDER_CANCELLED)?).await?;

        // Then the contract was cancelled once: one ContractCreated, one ContractCancelled
        assert_eq!(first, Some(Action::Cancelled));
        assert_eq!(second, Some(Action::NothingToCancel));
        let emitted = world.bus.emitted(2).await?;
        assert_eq!((created(&emitted)?.len(), cancelled(&emitted)?.len()), (1, 1));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_contract_created_events() -> TestResult {
    on_every_backend(async |stores| {
        // Given an order whose contracts were written but whose events could not be published
        let world = world(stores).await?;
        let raw = two_add_ons()?;
        let failed = failure_of(&broken(&world), raw.clone()).await?;
        assert!(failed.is_retryable(), "{failed}");
        assert_eq!(unpublished(&failed).len(), 2);
        let written = contracts(&world).order("ord-1001").await?;
        assert_eq!(written.contracts.len(), 2);

        // When the same event is delivered again
        let retry = world.deliver(raw).await?.result.ok_or("no result")?;

        // Then no contract is written again (each only records its event published), and the
        // events carry the ids the first try made
        assert_eq!(retry.action, Action::Created);
        let after = contracts(&world).order("ord-1001").await?;
        for (now, before) in after.contracts.iter().zip(&written.contracts) {
            assert!(before.announced.is_empty());
            assert_eq!(
                Contract {
                    announced: before.announced.clone(),
                    ..now.clone()
                },
                *before
            );
        }
        assert_eq!(reported(&retry), unpublished(&failed));
        let emitted = world.bus.emitted(2).await?;
        let mut ids: Vec<_> = created(&emitted)?.iter().map(|e| e.metadata().event_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, unpublished(&failed));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_contract_cancelled_events() -> TestResult {
    on_every_backend(async |stores| {
        // Given two contracts, cancelled by an event whose ContractCancelled could not be published
        let world = world(stores).await?;
        world.deliver(two_add_ons()?).await?;
        let raw = fresh_sample(ORDER_CANCELLED)?;
        let failed = failure_of(&broken(&world), raw.clone()).await?;
        assert!(failed.is_retryable(), "{failed}");
        assert_eq!(unpublished(&failed).len(), 2);

        // When the same event is delivered again
        let retry = world.deliver(raw).await?.result.ok_or("no result")?;

        // Then it publishes the same two ContractCancelled it could not publish before
        assert_eq!(retry.action, Action::Cancelled);
        assert_eq!(reported(&retry), unpublished(&failed));
        let emitted = world.bus.emitted(4).await?;
        let mut ids: Vec<_> = cancelled(&emitted)?.iter().map(|e| e.metadata().event_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, unpublished(&failed));
        assert!(
            contracts(&world)
                .order("ord-1001")
                .await?
                .contracts
                .iter()
                .all(|c| c.status == ContractStatus::Cancelled)
        );
        Ok(())
    })
    .await
}

/// What a store answered to [`conditional_writes`].
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    created: Vec<Create>,
    cancelled: Vec<bool>,
    orders: Vec<OrderContracts>,
}

/// Eleven contracts of `ord-7` (so `ctr-7-10` sorts before `ctr-7-2`), written twice, cancelled
/// twice, tombstoned twice; and `ord-8`, tombstoned before its contracts arrive.
async fn conditional_writes(store: &ContractStore) -> TestResult<Answers> {
    let contract = |order_id: &str, n: usize| Contract {
        contract_id: contract_id(order_id, n),
        order_id: order_id.to_owned(),
        customer_id: "cus-7".to_owned(),
        customer_email: "cus-7@example.com".into(),
        kind: AddOnKind::Warranty,
        plan: "extended-3y".to_owned(),
        sku: format!("SKU-{n}"),
        quantity: 1,
        term_months: 36,
        price_minor: 100,
        currency: "EUR".to_owned(),
        status: ContractStatus::Active,
        created_by: "placed-1".to_owned(),
        cancelled_by: None,
        announced: Default::default(),
    };
    let seven: Vec<_> = (1..=11).map(|n| contract("ord-7", n)).collect();
    let again: Vec<_> = seven
        .iter()
        .map(|c| Contract {
            created_by: "placed-2".to_owned(),
            ..c.clone()
        })
        .collect();
    let mut answers = Answers {
        created: vec![
            store.create("ord-7", &seven).await?,
            store.create("ord-7", &again).await?,
        ],
        cancelled: Vec::new(),
        orders: vec![store.order("ord-7").await?],
    };
    let missing = contract("ord-7", 12);
    for (contract, cause) in [(&seven[0], "cancel-1"), (&seven[0], "cancel-2"), (&missing, "cancel-1")] {
        answers.cancelled.push(store.cancel(contract, cause).await?);
    }
    store.record_cancel("ord-7", "cus-7", "cancel-1").await?;
    store.record_cancel("ord-7", "cus-7", "cancel-2").await?;
    store.record_cancel("ord-8", "cus-7", "cancel-3").await?;
    answers
        .created
        .push(store.create("ord-8", &[contract("ord-8", 1)]).await?);
    let returned = std::collections::BTreeSet::from(["SKU-1".to_owned()]);
    store.record_return("ord-10", "cus-7", "return-1", &returned).await?;
    store.record_return("ord-10", "cus-7", "return-2", &returned).await?;
    answers
        .created
        .push(store.create("ord-10", &[contract("ord-10", 1)]).await?);
    answers
        .created
        .push(store.create("ord-10", &[contract("ord-10", 2)]).await?);
    answers.orders.push(store.order("ord-7").await?);
    answers.orders.push(store.order("ord-8").await?);
    answers.orders.push(store.order("ord-9").await?);
    answers.orders.push(store.order("ord-10").await?);
    Ok(answers)
}

#[tokio::test]
async fn the_memory_store_answers_every_conditional_write_as_the_dynamodb_table_does() -> TestResult {
    // Given the contracts table on moto and a store in memory
    let on_moto = world(Stores::Moto).await?;
    let in_process = world(Stores::Memory).await?;

    // When both get the same writes
    let in_dynamodb = conditional_writes(contracts(&on_moto)).await?;
    let in_memory = conditional_writes(contracts(&in_process)).await?;

    // Then they answer alike: contracts only if absent and untombstoned, in sort-key order,
    // cancelled only from ACTIVE, the first tombstone standing
    assert_eq!(in_memory, in_dynamodb);
    let ids: Vec<_> = in_memory.orders[0]
        .contracts
        .iter()
        .map(|c| c.contract_id.as_str())
        .collect();
    assert_eq!(&ids[..3], ["ctr-7-1", "ctr-7-10", "ctr-7-11"]);
    assert!(matches!(
        in_memory.created[..],
        [
            Create::Created,
            Create::Refused(_),
            Create::Refused(_),
            Create::Refused(_),
            Create::Created
        ]
    ));
    assert_eq!(in_memory.cancelled, [true, false, false]);
    assert_eq!(
        in_memory.orders[1].contracts[0].cancelled_by.as_deref(),
        Some("cancel-1")
    );
    assert_eq!(in_memory.orders[1].cancelled_by.as_deref(), Some("cancel-1"));
    assert_eq!(
        (
            in_memory.orders[2].contracts.len(),
            in_memory.orders[2].cancelled_by.as_deref()
        ),
        (0, Some("cancel-3"))
    );
    assert_eq!(in_memory.orders[3], OrderContracts::default());
    // A returned SKU's tombstone refuses only its own contracts, and the first return stands
    let ord_10 = &in_memory.orders[4];
    assert_eq!(
        ord_10.contracts.iter().map(|c| c.sku.as_str()).collect::<Vec<_>>(),
        ["SKU-2"]
    );
    assert_eq!(ord_10.returned.get("SKU-1").map(String::as_str), Some("return-1"));
    assert_eq!(ord_10.cancelled_by, None);
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(ORDER_RETURNED)?.decode_set::<ContractsEvent>()?;
    assert_eq!(event.detail_type(), "OrderReturned");
    Ok(())
}
