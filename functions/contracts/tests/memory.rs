//! Contracts in memory, as `herald dev` runs it (`HERALD_STORES=memory`): the consumer comes from
//! [`contracts::wiring::consumer`] over a configuration read with `Config::from_lookup`, so the
//! contracts and the guard's records live inside the test's process. The tables it names exist
//! nowhere: any DynamoDB call would fail. Only the bus is on moto, its rule sending the contract
//! events to an SQS queue the tests read. The behaviours are those `tests/contracts.rs` holds the
//! DynamoDB table to, and one test runs the same writes against both and compares every answer.

use contracts::FUNCTION;
use contracts::config::Config;
use contracts::error::ContractsError;
use contracts::handler::{self, Action, ContractsEvent, Deps, Reaction};
use contracts::store::{Contract, ContractStatus, ContractStore, Create, OrderContracts, contract_id};
use contracts::wiring;
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, Guarded, Outcome};
use herald::{Classify, Consumer, ConsumerError, PublishError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{Bus, Dev, Harness, all_of, memory_records};
use serde_json::json;
use shop_events::{AddOnKind, ContractCancelReason, ContractCancelledV1, ContractCreatedV1};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const INSURED: &str = "shop.orders/OrderPlaced/v1.sample.insured.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";
const RETURNED: &str = "shop.orders/OrderReturned/v1.sample.json";

/// The handler [`wiring::consumer`] builds.
trait Handler: Fn(ContractsEvent) -> HandlerFuture<Reaction, ContractsError> + Clone + Send + Sync + 'static {}

impl<H> Handler for H where
    H: Fn(ContractsEvent) -> HandlerFuture<Reaction, ContractsError> + Clone + Send + Sync + 'static
{
}

/// Contracts as `herald dev` wires it, publishing to a fresh bus.
struct World<H> {
    consumer: Consumer<ChosenStore, ContractsEvent, H>,
    bus: Bus,
}

/// The consumer `main.rs` builds under `HERALD_STORES=memory`, and the queue its events reach.
async fn world() -> TestResult<World<impl Handler>> {
    let dev = Dev::new("shop.contracts", &["CONTRACTS_TABLE"], Config::from_lookup).await?;
    assert_eq!(dev.config.backend, Backend::Memory);
    Ok(World {
        consumer: wiring::consumer(&dev.sdk, &dev.config),
        bus: dev.bus,
    })
}

impl<H: Handler> World<H> {
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<ContractsError>> {
        self.consumer.handle(raw, None).await
    }

    /// The action of one delivery.
    async fn action(&self, raw: RawEvent) -> TestResult<Option<Action>> {
        Ok(self.deliver(raw).await?.result.map(|r| r.action))
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        self.bus.emitted(expected).await
    }

    /// How many records the guard holds in memory.
    fn guard_records(&self) -> TestResult<usize> {
        memory_records(self.consumer.guard())
    }
}

/// ord-1001 with an add-on on both lines: a warranty on the laptop and an insurance on the mice.
fn two_add_ons() -> TestResult<RawEvent> {
    let mut value = fresh_sample(PLACED)?.as_value().clone();
    value
        .pointer_mut("/detail/data/items/1")
        .and_then(|item| item.as_object_mut())
        .ok_or("the sample has no second line")?
        .insert(
            "add_on".to_owned(),
            json!({"kind": "insurance", "plan": "accidental-damage", "term_months": 12, "price_minor": 499}),
        );
    Ok(RawEvent::from_value(value))
}

fn created(emitted: &[serde_json::Value]) -> TestResult<Vec<herald::Envelope<ContractCreatedV1>>> {
    all_of(emitted, |c: &ContractCreatedV1| &c.contract_id)
}

fn cancelled(emitted: &[serde_json::Value]) -> TestResult<Vec<herald::Envelope<ContractCancelledV1>>> {
    all_of(emitted, |c: &ContractCancelledV1| &c.contract_id)
}

#[tokio::test]
async fn the_laptop_order_creates_one_warranty_contract_and_emits_one_contract_created() -> TestResult {
    // Given ord-1001: a laptop with an extended warranty, and two mice without add-on
    let world = world().await?;
    let placed = fresh_sample(PLACED)?;
    let cause_id = placed.ids().event_id.clone();

    // When it is placed
    let answer = world.deliver(placed).await?;

    // Then one ContractCreated, caused by the order, is on the bus, and the guard's record is in memory
    assert_eq!(answer.outcome, Outcome::Claimed);
    let reaction = answer.result.ok_or("no result")?;
    assert_eq!(reaction.action, Action::Created);
    let events = created(&world.emitted(1).await?)?;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(
        event.data(),
        &ContractCreatedV1 {
            contract_id: "ctr-1001-1".to_owned(),
            order_id: "ord-1001".to_owned(),
            customer_id: "cus-42".to_owned(),
            customer_email: "ada@example.com".to_owned(),
            kind: AddOnKind::Warranty,
            plan: "extended-3y".to_owned(),
            sku: "SKU-LAPTOP-14".to_owned(),
            quantity: 1,
            term_months: 36,
            price_minor: 19900,
            currency: "EUR".to_owned(),
        }
    );
    assert_eq!(event.metadata().causation_id.map(|c| c.to_string()), cause_id);
    assert_eq!(event.metadata().producer, FUNCTION);
    assert_eq!(
        reaction.emitted.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        vec![event.metadata().event_id]
    );
    assert_eq!(world.guard_records()?, 1);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_creates_once_and_emits_once() -> TestResult {
    // Given an order event
    let world = world().await?;
    let placed = fresh_sample(PLACED)?;

    // When it is delivered twice
    let first = world.deliver(placed.clone()).await?;
    let second = world.deliver(placed).await?;

    // Then the second is answered from the warm process's cache of the record: one event
    assert_eq!(second.outcome, Outcome::Cached);
    assert_eq!(second.result, first.result);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_second_order_placed_event_for_the_order_creates_nothing_new() -> TestResult {
    // Given an order whose contract exists
    let world = world().await?;
    assert_eq!(world.action(fresh_sample(PLACED)?).await?, Some(Action::Created));

    // When the order system publishes OrderPlaced again under another event id
    let again = world.action(fresh_sample(PLACED)?).await?;

    // Then nothing new is created or emitted
    assert_eq!(again, Some(Action::AlreadyCreated));
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_cancellation_cancels_every_contract_and_emits_one_contract_cancelled_each() -> TestResult {
    // Given ord-1001 with two contracts
    let world = world().await?;
    assert_eq!(world.action(two_add_ons()?).await?, Some(Action::Created));
    let cancellation = fresh_sample(CANCELLED)?;
    let cause_id = cancellation.ids().event_id.clone();

    // When the order is cancelled
    let action = world.action(cancellation).await?;

    // Then one ContractCancelled per contract follows, caused by the cancellation
    assert_eq!(action, Some(Action::Cancelled));
    let emitted = world.emitted(4).await?;
    assert_eq!(created(&emitted)?.len(), 2);
    let events = cancelled(&emitted)?;
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.data().contract_id.as_str(), e.data().kind, e.data().reason))
        .collect();
    assert_eq!(
        summary,
        [
            ("ctr-1001-1", AddOnKind::Warranty, ContractCancelReason::OrderCancelled),
            ("ctr-1001-2", AddOnKind::Insurance, ContractCancelReason::OrderCancelled),
        ]
    );
    for event in &events {
        assert_eq!(event.metadata().causation_id.map(|c| c.to_string()), cause_id);
    }
    Ok(())
}

#[tokio::test]
async fn a_return_cancels_the_contracts_with_reason_order_returned() -> TestResult {
    // Given the insured ord-1002
    let world = world().await?;
    assert_eq!(world.action(fresh_sample(INSURED)?).await?, Some(Action::Created));

    // When it is returned
    let action = world.action(fresh_sample(RETURNED)?).await?;

    // Then ContractCancelled says the order was returned
    assert_eq!(action, Some(Action::Cancelled));
    let events = cancelled(&world.emitted(2).await?)?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data().contract_id, "ctr-1002-1");
    assert_eq!(events[0].data().reason, ContractCancelReason::OrderReturned);
    Ok(())
}

#[tokio::test]
async fn a_cancellation_before_the_order_leaves_it_without_contracts_and_emits_nothing() -> TestResult {
    // Given the cancellation arriving first
    let world = world().await?;
    let early = world.action(fresh_sample(CANCELLED)?).await?;

    // When the order arrives afterwards
    let late = world.action(fresh_sample(PLACED)?).await?;

    // Then the tombstone in memory stands: no contract is created and nothing is emitted
    assert_eq!(early, Some(Action::RecordedEarlyCancel));
    assert_eq!(late, Some(Action::SkippedCancelledOrder));
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_duplicate_cancellation_emits_nothing_more() -> TestResult {
    // Given a cancelled order with one contract
    let world = world().await?;
    world.deliver(fresh_sample(PLACED)?).await?;
    let first = world.action(fresh_sample(CANCELLED)?).await?;

    // When the order system publishes the cancellation again under another event id
    let second = world.action(fresh_sample(CANCELLED)?).await?;

    // Then the contract was cancelled once: one ContractCreated, one ContractCancelled
    assert_eq!(first, Some(Action::Cancelled));
    assert_eq!(second, Some(Action::NothingToCancel));
    let emitted = world.emitted(2).await?;
    assert_eq!((created(&emitted)?.len(), cancelled(&emitted)?.len()), (1, 1));
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_events_from_memory() -> TestResult {
    // Given one memory store behind a publisher to a missing bus and one to a real bus
    let bus = Harness::new().await.bus("shop.contracts").await?;
    let deps = Deps {
        contracts: ContractStore::memory(),
        publisher: bus.publisher(),
    };
    let broken = Deps {
        publisher: bus.broken_publisher(),
        ..deps.clone()
    };
    let placed = two_add_ons()?;
    let cancellation = fresh_sample(CANCELLED)?;

    // When the order and its cancellation each fail to publish, then are retried
    let mut failures = Vec::new();
    let mut retries = Vec::new();
    for raw in [placed, cancellation] {
        let failed = handler::handle(&broken, raw.clone().decode_set()?)
            .await
            .err()
            .ok_or("publishing to a missing bus must fail")?;
        assert!(failed.is_retryable(), "{failed}");
        failures.push(unpublished(&failed));
        retries.push(handler::handle(&deps, raw.decode_set()?).await?);
    }

    // Then each retry publishes the events its first try could not, under the same ids
    assert_eq!(
        retries.iter().map(|r| r.action).collect::<Vec<_>>(),
        [Action::Created, Action::Cancelled]
    );
    for (retry, failed) in retries.iter().zip(&failures) {
        assert_eq!(failed.len(), 2);
        let mut ids: Vec<_> = retry.emitted.iter().map(|e| e.event_id).collect();
        ids.sort_unstable();
        assert_eq!(&ids, failed);
    }
    assert_eq!(bus.emitted(4).await?.len(), 4);
    let stored = deps.contracts.order("ord-1001").await?;
    assert!(stored.contracts.iter().all(|c| c.status == ContractStatus::Cancelled));
    Ok(())
}

/// The `event_id`s a failed publish could not send, sorted.
fn unpublished(error: &ContractsError) -> Vec<uuid::Uuid> {
    match error {
        ContractsError::Publish(PublishError::EntriesFailed { failed, .. }) => {
            let mut ids: Vec<_> = failed.iter().map(|f| f.event_id).collect();
            ids.sort_unstable();
            ids
        }
        _ => Vec::new(),
    }
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
        customer_email: "cus-7@example.com".to_owned(),
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
    answers.orders.push(store.order("ord-7").await?);
    answers.orders.push(store.order("ord-8").await?);
    answers.orders.push(store.order("ord-9").await?);
    Ok(answers)
}

#[tokio::test]
async fn the_memory_store_answers_every_conditional_write_as_the_dynamodb_table_does() -> TestResult {
    // Given the contracts table on moto and a store in memory
    let moto = Harness::new().await;
    let table = moto.table("contracts", "order_id", Some("contract_id")).await?;

    // When both get the same writes
    let in_dynamodb = conditional_writes(&ContractStore::new(moto.dynamodb, table)).await?;
    let in_memory = conditional_writes(&ContractStore::memory()).await?;

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
        [Create::Created, Create::Refused(_), Create::Refused(_)]
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
    Ok(())
}
