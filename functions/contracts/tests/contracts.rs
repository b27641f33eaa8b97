//! Contracts against moto server: DynamoDB tables for contracts and idempotency, and an
//! EventBridge bus whose rule sends the contract events to an SQS queue the tests read.

use contracts::FUNCTION;
use contracts::error::ContractsError;
use contracts::handler::{self, Action, ContractsEvent, Deps, Reaction};
use contracts::store::{Contract, ContractStatus, ContractStore};
use herald::idempotency::{DynamoStore, Guarded, GuardedEvent, IdempotencyGuard, Outcome};
use herald::{Classify, ConsumerError, EnvelopeError, PublishError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::world::{Bus, Harness, all_of, deliver, unknown_version, without};
use serde_json::json;
use shop_events::{AddOnKind, ContractCancelReason, ContractCancelledV1, ContractCreatedV1};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const INSURED: &str = "shop.orders/OrderPlaced/v1.sample.insured.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";
const RETURNED: &str = "shop.orders/OrderReturned/v1.sample.json";

/// Contracts wired to a fresh table and a fresh bus, as `main.rs` wires it.
struct World {
    contracts: ContractStore,
    bus: Bus,
    deps: Deps,
    guard: IdempotencyGuard<DynamoStore>,
    /// The same table, publishing to a bus that does not exist: every publish fails.
    broken: Deps,
}

impl World {
    async fn new() -> TestResult<Self> {
        let moto = Harness::new().await;
        let bus = moto.bus("shop.contracts").await?;
        let table = moto.table("contracts", "order_id", Some("contract_id")).await?;
        let contracts = ContractStore::new(moto.dynamodb.clone(), table);
        Ok(Self {
            deps: Deps {
                contracts: contracts.clone(),
                publisher: bus.publisher(),
            },
            broken: Deps {
                contracts: contracts.clone(),
                publisher: bus.broken_publisher(),
            },
            contracts,
            bus,
            guard: moto.idempotency_guard(FUNCTION).await?,
        })
    }

    /// Delivers one event through the same consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<ContractsError>> {
        deliver(&self.guard, &self.deps, run, raw).await
    }

    /// The action of one delivery.
    async fn action(&self, raw: RawEvent) -> TestResult<Option<Action>> {
        Ok(self.deliver(raw).await?.result.map(|r| r.action))
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        self.bus.emitted(expected).await
    }

    /// The order's contracts as (id, status).
    async fn statuses(&self, order_id: &str) -> TestResult<Vec<(String, ContractStatus)>> {
        let stored = self.contracts.order(order_id).await?;
        Ok(stored
            .contracts
            .into_iter()
            .map(|c| (c.contract_id, c.status))
            .collect())
    }
}

/// The handler over owned dependencies, as a consumer built per delivery runs it.
async fn run(deps: Deps, event: ContractsEvent) -> Result<Reaction, ContractsError> {
    handler::handle(&deps, event).await
}

/// ord-1001 with an add-on on both lines: a warranty on the laptop and an insurance on the mice.
fn two_add_ons() -> TestResult<RawEvent> {
    let mut value = sample_json(PLACED)?;
    let mouse = value
        .pointer_mut("/detail/data/items/1")
        .and_then(|item| item.as_object_mut())
        .ok_or("the sample has no second line")?;
    mouse.insert(
        "add_on".to_owned(),
        json!({"kind": "insurance", "plan": "accidental-damage", "term_months": 12, "price_minor": 499}),
    );
    Ok(fresh(value))
}

/// A sample value as a new delivery: fresh `event_id` and EventBridge `id`.
fn fresh(mut value: serde_json::Value) -> RawEvent {
    value["detail"]["metadata"]["event_id"] = json!(uuid::Uuid::new_v4().to_string());
    value["id"] = json!(uuid::Uuid::new_v4().to_string());
    RawEvent::from_value(value)
}

/// Fails unless an emitted event's detail validates against its schema in the catalog.
fn assert_catalogued(event: &serde_json::Value) -> TestResult {
    let source = event["source"].as_str().ok_or("no source")?;
    let detail_type = event["detail-type"].as_str().ok_or("no detail-type")?;
    let version = event["detail"]["metadata"]["schema_version"]
        .as_u64()
        .ok_or("no schema_version")?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../events")
        .join(source)
        .join(detail_type)
        .join(format!("v{version}.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)?;
    let errors: Vec<String> = validator
        .iter_errors(&event["detail"])
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{detail_type}: {errors:?}");
    Ok(())
}

fn created(emitted: &[serde_json::Value]) -> TestResult<Vec<herald::Envelope<ContractCreatedV1>>> {
    all_of(emitted, |c: &ContractCreatedV1| &c.contract_id)
}

fn cancelled(emitted: &[serde_json::Value]) -> TestResult<Vec<herald::Envelope<ContractCancelledV1>>> {
    all_of(emitted, |c: &ContractCancelledV1| &c.contract_id)
}

/// The `event_id`s a failed publish could not send.
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

/// The `event_id`s a reaction reports, sorted.
fn reported(reaction: &Reaction) -> Vec<uuid::Uuid> {
    let mut ids: Vec<_> = reaction.emitted.iter().map(|e| e.event_id).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn the_laptop_order_creates_one_warranty_contract_and_emits_one_contract_created() -> TestResult {
    // Given ord-1001: a laptop with an extended warranty, and two mice without add-on
    let world = World::new().await?;
    let placed = fresh_sample(PLACED)?;
    let cause_id = placed.ids().event_id.clone().ok_or("no event_id")?;

    // When it is placed
    let answer = world.deliver(placed).await?;

    // Then one ACTIVE warranty contract is stored and one ContractCreated, caused by the order, is on the bus
    assert_eq!(answer.outcome, Outcome::Claimed);
    let reaction = answer.result.ok_or("no result")?;
    assert_eq!(reaction.action, Action::Created);
    let stored = world.contracts.order("ord-1001").await?;
    assert_eq!(
        stored.contracts,
        vec![Contract {
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
            status: ContractStatus::Active,
            created_by: cause_id.clone(),
            cancelled_by: None,
        }]
    );
    assert_eq!(stored.cancelled_by, None);
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_catalogued(&emitted[0])?;
    let events = created(&emitted)?;
    let event = events.first().ok_or("no ContractCreated")?;
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
    assert_eq!(event.metadata().causation_id.map(|c| c.to_string()), Some(cause_id));
    assert_eq!(event.metadata().producer, FUNCTION);
    assert_eq!(reported(&reaction), vec![event.metadata().event_id]);
    Ok(())
}

#[tokio::test]
async fn the_insured_order_creates_an_insurance_contract() -> TestResult {
    // Given ord-1002: a phone with theft-and-damage insurance
    let world = World::new().await?;

    // When it is placed
    let action = world.action(fresh_sample(INSURED)?).await?;

    // Then an ACTIVE insurance contract exists and its ContractCreated says so
    assert_eq!(action, Some(Action::Created));
    let stored = world.contracts.order("ord-1002").await?;
    let contract = stored.contracts.first().ok_or("no contract")?;
    assert_eq!(stored.contracts.len(), 1);
    assert_eq!(
        (contract.contract_id.as_str(), contract.kind, contract.status),
        ("ctr-1002-1", AddOnKind::Insurance, ContractStatus::Active)
    );
    let events = created(&world.emitted(1).await?)?;
    let event = events.first().ok_or("no ContractCreated")?;
    assert_eq!(events.len(), 1);
    assert_eq!(event.data().kind, AddOnKind::Insurance);
    assert_eq!(event.data().plan, "theft-and-damage");
    assert_eq!(event.data().customer_email, "grace@example.com");
    assert_eq!((event.data().term_months, event.data().price_minor), (24, 14900));
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_creates_once_and_emits_once() -> TestResult {
    // Given an order event
    let world = World::new().await?;
    let placed = fresh_sample(PLACED)?;

    // When it is delivered twice
    let first = world.deliver(placed.clone()).await?;
    let second = world.deliver(placed).await?;

    // Then the second is answered from the record: one contract, one event
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result, first.result);
    assert_eq!(world.contracts.order("ord-1001").await?.contracts.len(), 1);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_second_order_placed_event_for_the_order_creates_nothing_new() -> TestResult {
    // Given an order whose contract exists
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // When the order system publishes OrderPlaced again under another event id
    let again = world.action(fresh_sample(PLACED)?).await?;

    // Then nothing new is created or emitted
    assert_eq!(again, Some(Action::AlreadyCreated));
    assert_eq!(world.contracts.order("ord-1001").await?.contracts.len(), 1);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn an_order_without_add_ons_creates_nothing() -> TestResult {
    // Given ord-1001 with the laptop's warranty taken off
    let world = World::new().await?;
    let mut value = sample_json(PLACED)?;
    value
        .pointer_mut("/detail/data/items/0")
        .and_then(|item| item.as_object_mut())
        .ok_or("the sample has no first line")?
        .remove("add_on");

    // When it is placed
    let action = world.action(fresh(value)).await?;

    // Then there is nothing to create and nothing is emitted
    assert_eq!(action, Some(Action::NoAddOns));
    assert!(world.contracts.order("ord-1001").await?.contracts.is_empty());
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_cancellation_cancels_every_contract_and_emits_one_contract_cancelled_each() -> TestResult {
    // Given ord-1001 with two contracts
    let world = World::new().await?;
    assert_eq!(world.action(two_add_ons()?).await?, Some(Action::Created));
    let cancellation = fresh_sample(CANCELLED)?;
    let cause_id = cancellation.ids().event_id.clone();

    // When the order is cancelled
    let action = world.action(cancellation).await?;

    // Then both contracts are CANCELLED and one ContractCancelled per contract follows
    assert_eq!(action, Some(Action::Cancelled));
    assert_eq!(
        world.statuses("ord-1001").await?,
        vec![
            ("ctr-1001-1".to_owned(), ContractStatus::Cancelled),
            ("ctr-1001-2".to_owned(), ContractStatus::Cancelled),
        ]
    );
    let emitted = world.emitted(4).await?;
    for event in &emitted {
        assert_catalogued(event)?;
    }
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
                customer_email: "ada@example.com".to_owned(),
                kind: AddOnKind::Warranty,
                plan: "extended-3y".to_owned(),
                reason: ContractCancelReason::OrderCancelled,
            },
            ContractCancelledV1 {
                contract_id: "ctr-1001-2".to_owned(),
                order_id: "ord-1001".to_owned(),
                customer_id: "cus-42".to_owned(),
                customer_email: "ada@example.com".to_owned(),
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
}

#[tokio::test]
async fn a_return_cancels_the_contracts_with_reason_order_returned() -> TestResult {
    // Given the insured ord-1002
    let world = World::new().await?;
    world.deliver(fresh_sample(INSURED)?).await?;

    // When it is returned
    let action = world.action(fresh_sample(RETURNED)?).await?;

    // Then its contract is CANCELLED and ContractCancelled says the order was returned
    assert_eq!(action, Some(Action::Cancelled));
    assert_eq!(
        world.statuses("ord-1002").await?,
        vec![("ctr-1002-1".to_owned(), ContractStatus::Cancelled)]
    );
    let events = cancelled(&world.emitted(2).await?)?;
    assert_eq!(events.len(), 1);
    let event = events.first().ok_or("no ContractCancelled")?;
    assert_eq!(event.data().reason, ContractCancelReason::OrderReturned);
    assert_eq!(event.data().customer_email, "grace@example.com");
    assert_eq!(event.data().kind, AddOnKind::Insurance);
    Ok(())
}

#[tokio::test]
async fn a_cancellation_before_the_order_leaves_it_without_contracts_and_emits_nothing() -> TestResult {
    // Given the cancellation arriving first
    let world = World::new().await?;
    let early = world.action(fresh_sample(CANCELLED)?).await?;

    // When the order arrives afterwards
    let late = world.action(fresh_sample(PLACED)?).await?;

    // Then the tombstone stands, no contract exists and nothing is emitted
    assert_eq!(early, Some(Action::RecordedEarlyCancel));
    assert_eq!(late, Some(Action::SkippedCancelledOrder));
    let stored = world.contracts.order("ord-1001").await?;
    assert!(stored.contracts.is_empty(), "{stored:?}");
    assert!(stored.cancelled_by.is_some());
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_duplicate_cancellation_emits_nothing_more() -> TestResult {
    // Given a cancelled order with one contract
    let world = World::new().await?;
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
async fn a_retry_after_a_failed_publish_re_emits_the_same_contract_created_events() -> TestResult {
    // Given an order whose contracts were written but whose events could not be published
    let world = World::new().await?;
    let raw = two_add_ons()?;
    let failed = handler::handle(&world.broken, raw.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");
    let written = world.contracts.order("ord-1001").await?;
    assert_eq!(written.contracts.len(), 2);

    // When the same event is retried
    let retry = handler::handle(&world.deps, raw.decode_set()?).await?;

    // Then nothing is written again and the events carry the ids the first try made
    assert_eq!(retry.action, Action::Created);
    assert_eq!(world.contracts.order("ord-1001").await?, written);
    assert_eq!(reported(&retry), unpublished(&failed));
    let emitted = world.emitted(2).await?;
    let mut ids: Vec<_> = created(&emitted)?.iter().map(|e| e.metadata().event_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, unpublished(&failed));
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_contract_cancelled_events() -> TestResult {
    // Given two contracts, cancelled by an event whose ContractCancelled could not be published
    let world = World::new().await?;
    world.deliver(two_add_ons()?).await?;
    let raw = fresh_sample(CANCELLED)?;
    let failed = handler::handle(&world.broken, raw.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");
    assert_eq!(unpublished(&failed).len(), 2);

    // When the same event is retried
    let retry = handler::handle(&world.deps, raw.decode_set()?).await?;

    // Then it publishes the same two ContractCancelled it could not publish before
    assert_eq!(retry.action, Action::Cancelled);
    assert_eq!(reported(&retry), unpublished(&failed));
    let emitted = world.emitted(4).await?;
    let mut ids: Vec<_> = cancelled(&emitted)?.iter().map(|e| e.metadata().event_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, unpublished(&failed));
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event() -> TestResult {
    let world = World::new().await?;

    // A thin v2 order: it does not say which lines carry add-ons
    let error = world
        .deliver(fresh_sample("shop.orders/OrderPlaced/v2.sample.json")?)
        .await
        .err()
        .ok_or("a thin order must fail")?;
    assert_eq!(error.error_type(), "Contracts.ThinOrder");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("ord-1003"), "{error}");
    assert!(error.to_string().contains("GET /orders/"), "{error}");

    // A version contracts does not know
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
    let (no_email, event_id) = without(PLACED, "/detail/data/customer", "email")?;
    let error = world.deliver(no_email).await.err().ok_or("no email must fail")?;
    assert!(error.to_string().contains("detail.data.customer.email"), "{error}");
    assert!(error.to_string().contains(&event_id), "{error}");
    assert!(!error.is_retryable());

    // Nothing was written for any of them
    assert_eq!(world.contracts.order("ord-1003").await?, Default::default());
    assert_eq!(world.contracts.order("ord-1001").await?, Default::default());
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(RETURNED)?.decode_set::<ContractsEvent>()?;
    assert_eq!(event.detail_type(), "OrderReturned");
    Ok(())
}
