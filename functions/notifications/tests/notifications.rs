//! Notifications against moto server: DynamoDB tables for the outbox and idempotency. It emits
//! no events, so there is no bus: the outbox is what was sent.

use herald::idempotency::{DynamoStore, GuardError, Guarded, GuardedEvent, IdempotencyGuard, Outcome};
use herald::{Classify, ConsumerError, EnvelopeError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{Harness, deliver, unknown_version, without};
use notifications::FUNCTION;
use notifications::error::NotificationsError;
use notifications::handler::{self, Action, Deps, NotificationsEvent, Reaction};
use notifications::sender::{MessageKind, OutboxSender};
use notifications::store::Outbox;

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const THIN: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CONTRACT_CANCELLED: &str = "shop.contracts/ContractCancelled/v1.sample.json";

/// Notifications wired to fresh tables, as `main.rs` wires it.
struct World {
    outbox: Outbox,
    moto: Harness,
    deps: Deps,
    guard: IdempotencyGuard<DynamoStore>,
}

impl World {
    async fn new() -> TestResult<Self> {
        let moto = Harness::new().await;
        let outbox = Outbox::new(moto.dynamodb.clone(), moto.table("outbox", "message_id", None).await?);
        Ok(Self {
            deps: Deps {
                sender: OutboxSender::new(outbox.clone()),
            },
            outbox,
            guard: moto.idempotency_guard(FUNCTION).await?,
            moto,
        })
    }

    /// Delivers one event through the same consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<NotificationsError>> {
        deliver(&self.guard, &self.deps, run, raw).await
    }
}

/// The handler over owned dependencies, as a consumer built per delivery runs it.
async fn run(deps: Deps, event: NotificationsEvent) -> Result<Reaction, NotificationsError> {
    handler::handle(&deps, event).await
}

fn event_id(raw: &RawEvent) -> TestResult<String> {
    Ok(raw.ids().event_id.clone().ok_or("the sample has an event_id")?)
}

#[tokio::test]
async fn a_placed_order_sends_exactly_one_receipt_to_its_customer() -> TestResult {
    // Given notifications with an empty outbox, and ord-1001 placed by ada@example.com
    let world = World::new().await?;
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
        "ord-1001",
        "1 x Laptop 14\" (SKU-LAPTOP-14) at 1299.00 EUR: 1299.00 EUR",
        "with warranty extended-3y (36 months), 1 x 199.00 EUR: 199.00 EUR",
        "2 x Wireless Mouse (SKU-MOUSE-01) at 24.99 EUR: 49.98 EUR",
        "Total: 1847.09 EUR",
    ] {
        assert!(
            receipt.body.contains(expected),
            "missing {expected:?} in:\n{}",
            receipt.body
        );
    }
    assert_eq!(world.outbox.sent(&message_id).await?.as_ref(), Some(receipt));
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_sends_nothing_more() -> TestResult {
    // Given a receipt sent for an order event
    let world = World::new().await?;
    let placed = fresh_sample(PLACED)?;
    let first = world.deliver(placed.clone()).await?;

    // When the same event is delivered again
    let second = world.deliver(placed).await?;

    // Then the guard answers from its record and the outbox still holds one message
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result, first.result);
    assert_eq!(world.outbox.sent_to("ada@example.com").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_that_outlives_the_guards_record_is_not_sent_twice() -> TestResult {
    // Given a receipt sent for an order event
    let world = World::new().await?;
    let placed = fresh_sample(PLACED)?;
    world.deliver(placed.clone()).await?;

    // When the same event comes back after the guard's record is gone (a fresh idempotency table)
    let forgetful = world.moto.idempotency_guard(FUNCTION).await?;
    let late = deliver(&forgetful, &world.deps, run, placed).await?;

    // Then the handler ran, found the outbox row, and sent nothing
    assert_eq!(late.outcome, Outcome::Claimed);
    assert_eq!(late.result.map(|r| r.action), Some(Action::AlreadySent));
    assert_eq!(world.outbox.sent_to("ada@example.com").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_same_fact_republished_under_a_new_event_id_is_a_new_message() -> TestResult {
    // Given a receipt sent for ord-1001
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED)?).await?;

    // When the order service publishes the same order again under a new event_id (its bug)
    let again = world.deliver(fresh_sample(PLACED)?).await?;

    // Then it is a different event, so a different message: deduplication is per event
    assert_eq!(again.result.map(|r| r.action), Some(Action::SentReceipt));
    let sent = world.outbox.sent_to("ada@example.com").await?;
    assert_eq!(sent.len(), 2);
    assert_ne!(sent[0].message_id, sent[1].message_id);
    Ok(())
}

#[tokio::test]
async fn a_cancelled_contract_sends_one_notice_naming_the_contract_and_why() -> TestResult {
    // Given notifications with an empty outbox
    let world = World::new().await?;
    let cancelled = fresh_sample(CONTRACT_CANCELLED)?;
    let message_id = format!("contract-cancelled-{}", event_id(&cancelled)?);

    // When Ada's warranty ctr-1001 is cancelled because ord-1001 was
    let answer = world.deliver(cancelled).await?;

    // Then one notice went to her, naming the contract, its kind and plan, and the reason
    assert_eq!(answer.result.map(|r| r.action), Some(Action::SentContractCancelled));
    let sent = world.outbox.sent_to("ada@example.com").await?;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let notice = &sent[0];
    assert_eq!(notice.message_id, message_id);
    assert_eq!(notice.kind, MessageKind::ContractCancelled);
    assert_eq!(notice.order_id, "ord-1001");
    assert_eq!(notice.subject, "Your warranty extended-3y has been cancelled");
    for expected in [
        "your warranty contract ctr-1001 (plan extended-3y), sold with order ord-1001,",
        "has been cancelled because the order was cancelled.",
    ] {
        assert!(
            notice.body.contains(expected),
            "missing {expected:?} in:\n{}",
            notice.body
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_thin_v2_order_is_refused_naming_where_the_address_would_come_from() -> TestResult {
    // Given notifications
    let world = World::new().await?;

    // When the thin ord-1003 (no email address, no lines) arrives
    let error = world
        .deliver(fresh_sample(THIN)?)
        .await
        .err()
        .ok_or("a thin order must fail")?;

    // Then it is refused for good, naming the order and the customer service's endpoint
    assert!(
        matches!(
            &error,
            ConsumerError::Guard(GuardError::Handler(NotificationsError::ThinOrder { .. }))
        ),
        "{error}"
    );
    assert_eq!(error.error_type(), "Notifications.ThinOrder");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("ord-1003"), "{error}");
    assert!(error.to_string().contains("GET /customers/cus-42"), "{error}");
    assert!(world.outbox.sent_to("ada@example.com").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event() -> TestResult {
    let world = World::new().await?;

    // A version notifications does not know
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

    // A missing field: the address a receipt goes to
    let (no_email, event_id) = without(PLACED, "/detail/data/customer", "email")?;
    let error = world.deliver(no_email).await.err().ok_or("no email must fail")?;
    assert!(error.to_string().contains("detail.data.customer.email"), "{error}");
    assert!(error.to_string().contains(&event_id), "{error}");
    assert!(!error.is_retryable());

    // An event notifications does not handle at all
    let error = world
        .deliver(fresh_sample("shop.orders/OrderCancelled/v1.sample.json")?)
        .await
        .err()
        .ok_or("OrderCancelled must fail")?;
    assert!(
        matches!(error, ConsumerError::Envelope(EnvelopeError::UnknownDetailType { .. })),
        "{error}"
    );

    // Nothing was sent for any of them
    assert!(world.outbox.sent_to("ada@example.com").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_outbox_failure_is_retryable_and_leaves_the_event_to_be_delivered_again() -> TestResult {
    // Given notifications whose outbox table does not exist
    let world = World::new().await?;
    let broken = Deps {
        sender: OutboxSender::new(Outbox::new(world.moto.dynamodb.clone(), "no-such-outbox")),
    };
    let placed = fresh_sample(PLACED)?;

    // When an order arrives
    let error = deliver(&world.guard, &broken, run, placed.clone())
        .await
        .err()
        .ok_or("a missing table must fail")?;

    // Then the error is retryable, and a redelivery once the outbox works sends the receipt
    assert_eq!(error.error_type(), "Notifications.Store");
    assert!(error.is_retryable());
    let retry = world.deliver(placed).await?;
    assert_eq!(retry.result.map(|r| r.action), Some(Action::SentReceipt));
    assert_eq!(world.outbox.sent_to("ada@example.com").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(CONTRACT_CANCELLED)?.decode_set::<NotificationsEvent>()?;
    assert_eq!(event.detail_type(), "ContractCancelled");
    Ok(())
}
