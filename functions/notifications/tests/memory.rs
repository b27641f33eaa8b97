//! Notifications in memory, as `herald dev` runs it (`HERALD_STORES=memory`): the same
//! behaviours as against DynamoDB, through the same wiring. Its AWS configuration points at a
//! port nothing listens on, so any call to DynamoDB would fail the test: in memory, nothing
//! external is needed.

use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, GuardError, Guarded, Outcome};
use herald::{Classify, Consumer, ConsumerError, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::unreachable_config;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{deliver, memory_guard};
use notifications::FUNCTION;
use notifications::config::Config;
use notifications::error::NotificationsError;
use notifications::handler::{self, Action, Deps, NotificationsEvent, Reaction};
use notifications::sender::MessageKind;
use notifications::store::Outbox;
use notifications::wiring::{self, Wired};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const THIN: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CONTRACT_CANCELLED: &str = "shop.contracts/ContractCancelled/v1.sample.json";

/// The configuration `herald dev` gives notifications (`HERALD_STORES=memory`), or with
/// `stores: None` the one AWS gives; table names as the template's.
fn config(stores: Option<&str>) -> TestResult<Config> {
    let lookup = |name: &str| match name {
        "OUTBOX_TABLE" => Some("outbox".to_owned()),
        "IDEMPOTENCY_TABLE" => Some("idempotency".to_owned()),
        "HERALD_STORES" => stores.map(str::to_owned),
        _ => None,
    };
    Ok(Config::from_lookup(&lookup)?)
}

/// Notifications wired in memory by [`wiring::wired`], as `main.rs` wires it.
struct World<H> {
    consumer: Consumer<ChosenStore, NotificationsEvent, H>,
    /// The handler's outbox: what was sent.
    outbox: Outbox,
    deps: Deps,
}

fn world() -> TestResult<
    World<impl Fn(NotificationsEvent) -> HandlerFuture<Reaction, NotificationsError> + Clone + Send + Sync + 'static>,
> {
    let Wired { consumer, deps } = wiring::wired(&unreachable_config(), &config(Some("memory"))?);
    Ok(World {
        consumer,
        outbox: deps.sender.outbox().clone(),
        deps,
    })
}

impl<H> World<H>
where
    H: Fn(NotificationsEvent) -> HandlerFuture<Reaction, NotificationsError> + Clone + Send + Sync + 'static,
{
    /// Delivers one event through the consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<NotificationsError>> {
        self.consumer.handle(raw, None).await
    }
}

fn event_id(raw: &RawEvent) -> TestResult<String> {
    Ok(raw.ids().event_id.clone().ok_or("the sample has an event_id")?)
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
    // Given notifications wired for DynamoDB over the unreachable endpoint the other tests use
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
async fn a_placed_order_sends_exactly_one_receipt_to_its_customer() -> TestResult {
    // Given notifications in memory, and ord-1001 placed by ada@example.com
    let world = world()?;
    let placed = fresh_sample(PLACED)?;
    let message_id = format!("receipt-{}", event_id(&placed)?);

    // When the order is delivered
    let answer = world.deliver(placed).await?;

    // Then one receipt went to Ada, naming the order, its lines, the add-on and the total
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(
        answer.result,
        Some(Reaction {
            action: Action::SentReceipt,
            message_id: message_id.clone(),
        })
    );
    let sent = world.outbox.sent_to("ada@example.com").await?;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let receipt = &sent[0];
    assert_eq!(receipt.message_id, message_id);
    assert_eq!(receipt.kind, MessageKind::Receipt);
    assert_eq!(
        (receipt.order_id.as_str(), receipt.customer_id.as_str()),
        ("ord-1001", "cus-42")
    );
    assert_eq!(receipt.subject, "Your receipt for order ord-1001");
    for expected in [
        "1 x Laptop 14\" (SKU-LAPTOP-14) at 1299.00 EUR: 1299.00 EUR",
        "with warranty extended-3y (36 months), 1 x 199.00 EUR: 199.00 EUR",
        "Total: 1847.09 EUR",
    ] {
        assert!(
            receipt.body.contains(expected),
            "missing {expected:?} in:\n{}",
            receipt.body
        );
    }
    assert_eq!(world.outbox.sent(&message_id).await?.as_ref(), Some(receipt));
    assert_eq!(world.outbox.sent("receipt-of-nothing").await?, None);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_sends_nothing_more() -> TestResult {
    // Given a receipt sent for an order event
    let world = world()?;
    let placed = fresh_sample(PLACED)?;
    let first = world.deliver(placed.clone()).await?;

    // When the same event is delivered again
    let second = world.deliver(placed).await?;

    // Then the guard answers from its record (in this warm process's cache) without running the
    // handler, and the outbox still holds one message
    assert!(!second.outcome.ran(), "{:?}", second.outcome);
    assert_eq!(second.result, first.result);
    assert_eq!(world.outbox.sent_to("ada@example.com").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_that_outlives_the_guards_record_is_not_sent_twice() -> TestResult {
    // Given a receipt sent for an order event
    let world = world()?;
    let placed = fresh_sample(PLACED)?;
    world.deliver(placed.clone()).await?;

    // When the same event comes back to a guard that has forgotten it (a fresh memory store)
    let forgetful = memory_guard(FUNCTION);
    let late = deliver(
        &forgetful,
        &world.deps,
        |deps: Deps, event: NotificationsEvent| async move { handler::handle(&deps, event).await },
        placed,
    )
    .await?;

    // Then the handler ran, found the outbox row, and sent nothing
    assert_eq!(late.outcome, Outcome::Claimed);
    assert_eq!(late.result.map(|r| r.action), Some(Action::AlreadySent));
    assert_eq!(world.outbox.sent_to("ada@example.com").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_same_fact_republished_under_a_new_event_id_is_a_new_message() -> TestResult {
    // Given a receipt sent for ord-1001
    let world = world()?;
    let first = world.deliver(fresh_sample(PLACED)?).await?;

    // When the order service publishes the same order again under a new event_id
    let again = world.deliver(fresh_sample(PLACED)?).await?;

    // Then it is a different event, so a different message: deduplication is per event
    assert_eq!(again.result.as_ref().map(|r| r.action), Some(Action::SentReceipt));
    let mut sent: Vec<String> = world
        .outbox
        .sent_to("ada@example.com")
        .await?
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    sent.sort();
    let mut ids = [first.result, again.result].map(|r| r.map(|r| r.message_id).unwrap_or_default());
    ids.sort();
    assert_eq!(sent, ids);
    Ok(())
}

#[tokio::test]
async fn a_cancelled_contract_sends_one_notice_naming_the_contract_and_why() -> TestResult {
    // Given notifications in memory
    let world = world()?;
    let cancelled = fresh_sample(CONTRACT_CANCELLED)?;
    let message_id = format!("contract-cancelled-{}", event_id(&cancelled)?);

    // When Ada's warranty ctr-1001 is cancelled because ord-1001 was
    let answer = world.deliver(cancelled).await?;

    // Then one notice went to her, naming the contract, its plan, and the reason
    assert_eq!(answer.result.map(|r| r.action), Some(Action::SentContractCancelled));
    let sent = world.outbox.sent_to("ada@example.com").await?;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let notice = &sent[0];
    assert_eq!(notice.message_id, message_id);
    assert_eq!(notice.kind, MessageKind::ContractCancelled);
    assert_eq!(notice.subject, "Your warranty extended-3y has been cancelled");
    assert!(
        notice
            .body
            .contains("has been cancelled because the order was cancelled."),
        "{}",
        notice.body
    );
    Ok(())
}

#[tokio::test]
async fn a_thin_v2_order_is_refused_and_nothing_is_sent() -> TestResult {
    // Given notifications in memory
    let world = world()?;

    // When the thin ord-1003 (no email address, no lines) arrives
    let error = world
        .deliver(fresh_sample(THIN)?)
        .await
        .err()
        .ok_or("a thin order must fail")?;

    // Then it is refused for good, and the outbox is empty
    assert!(
        matches!(
            &error,
            ConsumerError::Guard(GuardError::Handler(NotificationsError::ThinOrder { .. }))
        ),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert!(world.outbox.sent_to("ada@example.com").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn two_cold_starts_share_nothing() -> TestResult {
    // Given a receipt sent by one warm process
    let first = world()?;
    let placed = fresh_sample(PLACED)?;
    first.deliver(placed.clone()).await?;

    // When another process (a new cold start) gets the same event
    let second = world()?;
    let answer = second.deliver(placed).await?;

    // Then it has its own memory: it sends the receipt, and the first still holds one message
    assert_eq!(answer.result.map(|r| r.action), Some(Action::SentReceipt));
    assert_eq!(first.outbox.sent_to("ada@example.com").await?.len(), 1);
    assert_eq!(second.outbox.sent_to("ada@example.com").await?.len(), 1);
    Ok(())
}
