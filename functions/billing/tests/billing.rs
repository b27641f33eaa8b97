//! Billing against moto server: DynamoDB tables for order snapshots, invoices and idempotency,
//! and an EventBridge bus whose rule sends billing's events to an SQS queue the tests read.

use billing::FUNCTION;
use billing::error::BillingError;
use billing::handler::{self, Action, BillingEvent, Deps, Reaction};
use billing::store::BillingStore;
use herald::idempotency::{DynamoStore, GuardError, Guarded, GuardedEvent, IdempotencyGuard, Outcome};
use herald::{Classify, ConsumerError, Detail, Envelope, EnvelopeError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::world::{Bus, Harness, deliver, unknown_version, without};
use serde_json::json;
use shop_events::{InvoiceIssuedV1, InvoiceLine, PaymentCapturedV1};

const PLACED_V1: &str = "shop.orders/OrderPlaced/v1.sample.json";
const PLACED_V2: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CAPTURED: &str = "shop.payments/PaymentCaptured/v1.sample.json";

/// Billing wired to fresh tables and a fresh bus, as `main.rs` wires it.
struct World {
    store: BillingStore,
    bus: Bus,
    deps: Deps,
    guard: IdempotencyGuard<DynamoStore>,
}

impl World {
    async fn new() -> TestResult<Self> {
        let moto = Harness::new().await;
        let bus = moto.bus("shop.billing").await?;
        let store = BillingStore::new(
            moto.dynamodb.clone(),
            moto.table("billing-orders", "order_id", None).await?,
            moto.table("invoices", "order_id", None).await?,
        );
        Ok(Self {
            deps: Deps {
                store: store.clone(),
                publisher: bus.publisher(),
            },
            store,
            bus,
            guard: moto.idempotency_guard(FUNCTION).await?,
        })
    }

    /// Delivers one event through the same consumer `main.rs` runs.
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<BillingError>> {
        self.deliver_with(self.deps.clone(), raw).await
    }

    /// Delivers one event with other dependencies (a broken publisher, say) but the same guard.
    async fn deliver_with(&self, deps: Deps, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<BillingError>> {
        deliver(&self.guard, &deps, run, raw).await
    }

    /// Dependencies whose publisher cannot reach EventBridge and does not retry.
    fn unreachable_bus(&self) -> Deps {
        Deps {
            publisher: self.bus.unreachable_publisher(),
            ..self.deps.clone()
        }
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<Envelope<InvoiceIssuedV1>>> {
        self.bus.emitted_as(expected).await
    }
}

/// The handler over owned dependencies, as a consumer built per delivery runs it.
async fn run(deps: Deps, event: BillingEvent) -> Result<Reaction, BillingError> {
    handler::handle(&deps, event).await
}

/// The PaymentCaptured sample for another order or amount, with a fresh event id.
fn payment(order_id: &str, amount_minor: u64) -> TestResult<RawEvent> {
    let mut value = fresh_sample(CAPTURED)?.as_value().clone();
    value["detail"]["data"]["order_id"] = json!(order_id);
    value["detail"]["data"]["amount_minor"] = json!(amount_minor);
    Ok(RawEvent::from_value(value))
}

fn action(answer: &Guarded<Reaction>) -> Option<Action> {
    answer.result.as_ref().map(|r| r.action)
}

fn handler_error(error: &ConsumerError<BillingError>) -> Option<&BillingError> {
    match error {
        ConsumerError::Guard(GuardError::Handler(error)) => Some(error),
        _ => None,
    }
}

#[tokio::test]
async fn a_paid_order_gets_one_invoice_whose_lines_add_up_and_one_invoice_issued() -> TestResult {
    // Given ord-1001 placed
    let world = World::new().await?;
    let placed = world.deliver(fresh_sample(PLACED_V1)?).await?;
    let captured = fresh_sample(CAPTURED)?;
    let payment_event_id = captured.ids().event_id.clone();

    // When its payment of 1847.09 EUR is captured
    let answer = world.deliver(captured).await?;

    // Then inv-1001 is stored with lines adding up to the total, and InvoiceIssued is on the bus
    assert_eq!(action(&placed), Some(Action::OrderRecorded));
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(action(&answer), Some(Action::Invoiced));
    let stored = world
        .store
        .invoice("ord-1001")
        .await?
        .ok_or("inv-1001 must be stored")?;
    assert_eq!(stored.invoice.invoice_id, "inv-1001");
    assert_eq!(stored.invoice.payment_id, "pay-9001");
    assert_eq!(stored.invoice.lines.len(), 5);
    assert_eq!(
        stored.invoice.lines.iter().map(|l| l.amount_minor).sum::<u64>(),
        184_709
    );
    assert_eq!(stored.invoice.total_minor, 184_709);
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(emitted[0].data(), &stored.invoice);
    assert_eq!(
        (
            emitted[0].data().customer_id.as_str(),
            emitted[0].data().currency.as_str()
        ),
        ("cus-42", "EUR")
    );
    assert_eq!(
        emitted[0].metadata().causation_id.map(|c| c.to_string()),
        payment_event_id
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
async fn a_payment_before_its_order_is_retried_and_invoiced_once_the_order_arrives() -> TestResult {
    // Given a payment whose order has not arrived
    let world = World::new().await?;
    let captured = fresh_sample(CAPTURED)?;
    let early = world
        .deliver(captured.clone())
        .await
        .err()
        .ok_or("an unknown order must fail")?;
    assert!(
        matches!(handler_error(&early), Some(BillingError::OrderNotYetKnown { .. })),
        "{early}"
    );
    assert!(early.is_retryable());
    assert_eq!(early.error_type(), "Billing.OrderNotYetKnown");

    // When the order arrives and the same payment event is delivered again
    world.deliver(fresh_sample(PLACED_V1)?).await?;
    let retried = world.deliver(captured).await?;

    // Then the released claim let it run: inv-1001 is issued, once
    assert_eq!(retried.outcome, Outcome::Claimed);
    assert_eq!(action(&retried), Some(Action::Invoiced));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(emitted[0].data().invoice_id, "inv-1001");
    Ok(())
}

#[tokio::test]
async fn a_payment_that_does_not_match_the_order_total_is_refused_for_good() -> TestResult {
    // Given ord-1001 placed for 1847.09 EUR
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;

    // When 1000.00 is captured for it
    let error = world
        .deliver(payment("ord-1001", 100_000)?)
        .await
        .err()
        .ok_or("a mismatched payment must fail")?;

    // Then the error is typed, names both amounts and is not retried; nothing is invoiced
    assert!(
        matches!(handler_error(&error), Some(BillingError::PaymentMismatch { .. })),
        "{error}"
    );
    assert!(!error.is_retryable());
    let message = error.to_string();
    assert!(message.contains("100000") && message.contains("184709"), "{message}");
    assert!(world.store.invoice("ord-1001").await?.is_none());
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_duplicate_payment_delivery_issues_no_second_invoice_and_no_second_event() -> TestResult {
    // Given ord-1001 placed, and its payment event
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;
    let captured = fresh_sample(CAPTURED)?;

    // When the payment is delivered twice
    let first = world.deliver(captured.clone()).await?;
    let second = world.deliver(captured).await?;

    // Then the second is answered from the record: one invoice, one event
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!(second.result, first.result);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn the_same_payment_under_a_new_event_id_issues_no_second_invoice_and_emits_nothing() -> TestResult {
    // Given ord-1001 placed and paid
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;
    let first = fresh_sample(CAPTURED)?;
    let first_event_id = first.ids().event_id.clone();
    world.deliver(first).await?;

    // When the payment service publishes pay-9001 again under a new event id (the guard cannot tell)
    let again = world.deliver(fresh_sample(CAPTURED)?).await?;

    // Then the invoice table's condition holds: the invoice stands, nothing new is emitted
    assert_eq!(again.outcome, Outcome::Claimed);
    assert_eq!(action(&again), Some(Action::AlreadyInvoiced));
    let stored = world
        .store
        .invoice("ord-1001")
        .await?
        .ok_or("inv-1001 must be stored")?;
    assert_eq!(Some(stored.issued_by.to_string()), first_event_id);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_second_payment_for_an_invoiced_order_is_refused_for_good() -> TestResult {
    // Given ord-1001 placed and paid with pay-9001
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;
    world.deliver(fresh_sample(CAPTURED)?).await?;

    // When another capture, pay-9003, arrives for it
    let mut second = payment("ord-1001", 184_709)?.as_value().clone();
    second["detail"]["data"]["payment_id"] = json!("pay-9003");
    let error = world
        .deliver(RawEvent::from_value(second))
        .await
        .err()
        .ok_or("a second payment must fail")?;

    // Then it is refused, naming both payments, and the invoice still names the first
    assert_eq!(error.error_type(), "Billing.InvoicedForAnotherPayment");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("pay-9003") && error.to_string().contains("pay-9001"));
    let stored = world
        .store
        .invoice("ord-1001")
        .await?
        .ok_or("inv-1001 must be stored")?;
    assert_eq!(stored.invoice.payment_id, "pay-9001");
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_thin_order_is_invoiced_as_one_line() -> TestResult {
    // Given the thin ord-1003 of 458.97 EUR placed (v2)
    let world = World::new().await?;
    let placed = world.deliver(fresh_sample(PLACED_V2)?).await?;

    // When its payment is captured
    let answer = world.deliver(payment("ord-1003", 45_897)?).await?;

    // Then inv-1003 has the one line "Order ord-1003"
    assert_eq!(action(&placed), Some(Action::OrderRecorded));
    assert_eq!(action(&answer), Some(Action::Invoiced));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let invoice = emitted[0].data();
    assert_eq!((invoice.invoice_id.as_str(), invoice.total_minor), ("inv-1003", 45_897));
    assert_eq!(
        invoice.lines,
        [InvoiceLine {
            description: "Order ord-1003".to_owned(),
            quantity: 1,
            amount_minor: 45_897,
        }]
    );
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_event_without_a_second_invoice() -> TestResult {
    // Given ord-1001 placed, and a payment whose first run cannot reach the bus
    let world = World::new().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;
    let captured = fresh_sample(CAPTURED)?;
    let cause = captured.clone().decode::<PaymentCapturedV1>()?.metadata().clone();
    let error = world
        .deliver_with(world.unreachable_bus(), captured.clone())
        .await
        .err()
        .ok_or("publishing to an unreachable bus must fail")?;
    assert!(error.is_retryable(), "{error}");
    assert!(
        world.store.invoice("ord-1001").await?.is_some(),
        "the invoice was written"
    );

    // When the same payment event is delivered again
    let retry = world.deliver(captured).await?;

    // Then it publishes the stored invoice under the event's stable id
    assert_eq!(retry.outcome, Outcome::Claimed);
    assert_eq!(action(&retry), Some(Action::Reissued));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let stable = Detail::caused_by_stable(&cause, "", emitted[0].data().clone(), FUNCTION);
    assert_eq!(emitted[0].metadata().event_id, stable.metadata.event_id);
    assert_eq!(emitted[0].data().invoice_id, "inv-1001");
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event() -> TestResult {
    let world = World::new().await?;

    // A version billing does not know
    let error = world
        .deliver(unknown_version(CAPTURED)?)
        .await
        .err()
        .ok_or("v9 must fail")?;
    assert!(
        matches!(error, ConsumerError::Envelope(EnvelopeError::UnsupportedVersion { .. })),
        "{error}"
    );
    assert!(!error.is_retryable());

    // A payment without its amount
    let (no_amount, event_id) = without(CAPTURED, "/detail/data", "amount_minor")?;
    let error = world.deliver(no_amount).await.err().ok_or("no amount must fail")?;
    assert!(error.to_string().contains("detail.data.amount_minor"), "{error}");
    assert!(error.to_string().contains(&event_id), "{error}");
    assert!(!error.is_retryable());

    // An order whose lines do not add up to its total
    let mut off = sample_json(PLACED_V1)?;
    off["detail"]["data"]["totals"]["total_minor"] = json!(184_710);
    let error = world
        .deliver(RawEvent::from_value(off))
        .await
        .err()
        .ok_or("an order that does not add up must fail")?;
    assert_eq!(error.error_type(), "Billing.OrderTotalsDisagree");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("ord-1001"), "{error}");

    // Nothing was written for any of them
    assert!(world.store.order("ord-1001").await?.is_none());
    assert!(world.store.invoice("ord-1001").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(CAPTURED)?.decode_set::<BillingEvent>()?;
    assert_eq!(event.detail_type(), "PaymentCaptured");
    Ok(())
}
