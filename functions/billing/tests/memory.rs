//! Billing in memory, as `herald dev` runs it (`HERALD_STORES=memory`): the consumer comes from
//! [`billing::wiring::consumer`] over a configuration read with `Config::from_lookup`, so the
//! order snapshots, the invoices and the guard's records live inside the test's process. The
//! tables it names exist nowhere: any DynamoDB call would fail. Only the bus is on moto, its rule
//! sending billing's events to an SQS queue the tests read. The behaviours are those
//! `tests/billing.rs` holds the DynamoDB tables to, and one test runs the same writes against
//! both and compares every answer.

use billing::FUNCTION;
use billing::config::Config;
use billing::error::BillingError;
use billing::handler::{self, Action, BillingEvent, Deps, Reaction};
use billing::store::{BillingStore, Issue, OrderSnapshot, StoredInvoice};
use billing::wiring;
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, GuardError, Guarded, Outcome};
use herald::{Classify, Consumer, ConsumerError, Detail, Envelope, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{Bus, Dev, Harness, memory_records};
use serde_json::json;
use shop_events::{InvoiceIssuedV1, InvoiceLine, PaymentCapturedV1};

const PLACED_V1: &str = "shop.orders/OrderPlaced/v1.sample.json";
const PLACED_V2: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CAPTURED: &str = "shop.payments/PaymentCaptured/v1.sample.json";

/// The handler [`wiring::consumer`] builds.
trait Handler: Fn(BillingEvent) -> HandlerFuture<Reaction, BillingError> + Clone + Send + Sync + 'static {}

impl<H> Handler for H where H: Fn(BillingEvent) -> HandlerFuture<Reaction, BillingError> + Clone + Send + Sync + 'static {}

/// Billing as `herald dev` wires it, publishing to a fresh bus.
struct World<H> {
    consumer: Consumer<ChosenStore, BillingEvent, H>,
    bus: Bus,
}

/// The consumer `main.rs` builds under `HERALD_STORES=memory`, and the queue its events reach.
async fn world() -> TestResult<World<impl Handler>> {
    let dev = Dev::new(
        "shop.billing",
        &["BILLING_ORDERS_TABLE", "INVOICES_TABLE"],
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
    async fn deliver(&self, raw: RawEvent) -> Result<Guarded<Reaction>, ConsumerError<BillingError>> {
        self.consumer.handle(raw, None).await
    }

    async fn emitted(&self, expected: usize) -> TestResult<Vec<Envelope<InvoiceIssuedV1>>> {
        self.bus.emitted_as(expected).await
    }

    /// How many records the guard holds in memory.
    fn guard_records(&self) -> TestResult<usize> {
        memory_records(self.consumer.guard())
    }
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
    let world = world().await?;
    let placed = world.deliver(fresh_sample(PLACED_V1)?).await?;
    let captured = fresh_sample(CAPTURED)?;
    let payment_event_id = captured.ids().event_id.clone();

    // When its payment of 1847.09 EUR is captured
    let answer = world.deliver(captured).await?;

    // Then InvoiceIssued for inv-1001, with lines adding up to the total, is on the bus
    assert_eq!(action(&placed), Some(Action::OrderRecorded));
    assert_eq!(answer.outcome, Outcome::Claimed);
    assert_eq!(action(&answer), Some(Action::Invoiced));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    let invoice = emitted[0].data();
    assert_eq!(
        (
            invoice.invoice_id.as_str(),
            invoice.payment_id.as_str(),
            invoice.customer_id.as_str()
        ),
        ("inv-1001", "pay-9001", "cus-42")
    );
    assert_eq!(invoice.lines.len(), 5);
    assert_eq!(invoice.lines.iter().map(|l| l.amount_minor).sum::<u64>(), 184_709);
    assert_eq!((invoice.total_minor, invoice.currency.as_str()), (184_709, "EUR"));
    assert_eq!(
        emitted[0].metadata().causation_id.map(|c| c.to_string()),
        payment_event_id
    );
    assert_eq!(emitted[0].metadata().producer, FUNCTION);
    assert_eq!(world.guard_records()?, 2);
    Ok(())
}

#[tokio::test]
async fn a_payment_before_its_order_is_retried_and_invoiced_once_the_order_arrives() -> TestResult {
    // Given a payment whose order has not arrived
    let world = world().await?;
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
async fn a_duplicate_payment_delivery_issues_no_second_invoice_and_no_second_event() -> TestResult {
    // Given ord-1001 placed, and its payment event
    let world = world().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;
    let captured = fresh_sample(CAPTURED)?;

    // When the payment is delivered twice
    let first = world.deliver(captured.clone()).await?;
    let second = world.deliver(captured).await?;

    // Then the second is answered from the warm process's cache of the record: one event
    assert_eq!(second.outcome, Outcome::Cached);
    assert_eq!(second.result, first.result);
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_second_order_placed_for_the_order_keeps_the_first_snapshot() -> TestResult {
    // Given ord-1001 placed (v1, itemised)
    let world = world().await?;
    let first = world.deliver(fresh_sample(PLACED_V1)?).await?;

    // When a thin v2 OrderPlaced for ord-1001 with another total arrives under a new event id
    let mut again = fresh_sample(PLACED_V2)?.as_value().clone();
    again["detail"]["data"]["order_id"] = json!("ord-1001");
    again["detail"]["data"]["total_minor"] = json!(1);
    let again = world.deliver(RawEvent::from_value(again)).await?;

    // Then the first snapshot stands: the payment is invoiced with its five lines
    assert_eq!(action(&first), Some(Action::OrderRecorded));
    assert_eq!(action(&again), Some(Action::OrderAlreadyRecorded));
    assert_eq!(
        action(&world.deliver(fresh_sample(CAPTURED)?).await?),
        Some(Action::Invoiced)
    );
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(
        (emitted[0].data().total_minor, emitted[0].data().lines.len()),
        (184_709, 5)
    );
    Ok(())
}

#[tokio::test]
async fn the_same_payment_under_a_new_event_id_issues_no_second_invoice_and_emits_nothing() -> TestResult {
    // Given ord-1001 placed and paid
    let world = world().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;
    assert_eq!(
        action(&world.deliver(fresh_sample(CAPTURED)?).await?),
        Some(Action::Invoiced)
    );

    // When the payment service publishes pay-9001 again under a new event id (the guard cannot tell)
    let again = world.deliver(fresh_sample(CAPTURED)?).await?;

    // Then the invoice in memory stands: nothing new is emitted
    assert_eq!(again.outcome, Outcome::Claimed);
    assert_eq!(action(&again), Some(Action::AlreadyInvoiced));
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_second_payment_for_an_invoiced_order_is_refused_for_good() -> TestResult {
    // Given ord-1001 placed and paid with pay-9001
    let world = world().await?;
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

    // Then it is refused, naming both payments, and only the first invoice was emitted
    assert_eq!(error.error_type(), "Billing.InvoicedForAnotherPayment");
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("pay-9003") && error.to_string().contains("pay-9001"));
    assert_eq!(world.emitted(1).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_payment_that_does_not_match_the_order_total_is_refused_for_good() -> TestResult {
    // Given ord-1001 placed for 1847.09 EUR
    let world = world().await?;
    world.deliver(fresh_sample(PLACED_V1)?).await?;

    // When 1000.00 is captured for it
    let error = world
        .deliver(payment("ord-1001", 100_000)?)
        .await
        .err()
        .ok_or("a mismatched payment must fail")?;

    // Then the error is typed and not retried; nothing is invoiced
    assert!(
        matches!(handler_error(&error), Some(BillingError::PaymentMismatch { .. })),
        "{error}"
    );
    assert!(!error.is_retryable());
    assert!(world.emitted(0).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_thin_order_is_invoiced_as_one_line() -> TestResult {
    // Given the thin ord-1003 of 458.97 EUR placed (v2)
    let world = world().await?;
    let placed = world.deliver(fresh_sample(PLACED_V2)?).await?;

    // When its payment is captured
    let answer = world.deliver(payment("ord-1003", 45_897)?).await?;

    // Then inv-1003 has the one line "Order ord-1003"
    assert_eq!(action(&placed), Some(Action::OrderRecorded));
    assert_eq!(action(&answer), Some(Action::Invoiced));
    let emitted = world.emitted(1).await?;
    assert_eq!(emitted.len(), 1);
    assert_eq!(
        emitted[0].data().lines,
        [InvoiceLine {
            description: "Order ord-1003".to_owned(),
            quantity: 1,
            amount_minor: 45_897,
        }]
    );
    Ok(())
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_event_from_memory() -> TestResult {
    // Given one memory store behind a publisher to a missing bus and one to a real bus, and ord-1001 placed
    let bus = Harness::new().await.bus("shop.billing").await?;
    let deps = Deps {
        store: BillingStore::memory(),
        publisher: bus.publisher(),
    };
    let broken = Deps {
        publisher: bus.broken_publisher(),
        ..deps.clone()
    };
    handler::handle(&deps, fresh_sample(PLACED_V1)?.decode_set()?).await?;
    let captured = fresh_sample(CAPTURED)?;
    let cause = captured.clone().decode::<PaymentCapturedV1>()?.metadata().clone();
    let failed = handler::handle(&broken, captured.clone().decode_set()?)
        .await
        .err()
        .ok_or("publishing to a missing bus must fail")?;
    assert!(failed.is_retryable(), "{failed}");

    // When the same payment event is handled again
    let retry = handler::handle(&deps, captured.decode_set()?).await?;

    // Then it publishes the invoice its first run wrote, under the event's stable id
    assert_eq!(retry.action, Action::Reissued);
    let emitted = bus.emitted_as::<InvoiceIssuedV1>(1).await?;
    assert_eq!(emitted.len(), 1);
    let stable = Detail::caused_by_stable(&cause, "", emitted[0].data().clone(), FUNCTION);
    assert_eq!(emitted[0].metadata().event_id, stable.metadata.event_id);
    assert_eq!(
        deps.store.invoice("ord-1001").await?.map(|i| i.issued_by),
        Some(cause.event_id)
    );
    Ok(())
}

/// What a store answered to [`conditional_writes`].
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    recorded: Vec<bool>,
    orders: Vec<Option<OrderSnapshot>>,
    issued: Vec<Issue>,
    invoices: Vec<Option<StoredInvoice>>,
}

/// `ord-7` recorded twice and invoiced twice, by different deliveries; `ord-8` never.
async fn conditional_writes(store: &BillingStore) -> TestResult<Answers> {
    let line = |description: &str, amount_minor| InvoiceLine {
        description: description.to_owned(),
        quantity: 1,
        amount_minor,
    };
    let order = |total_minor| OrderSnapshot {
        order_id: "ord-7".to_owned(),
        customer_id: "cus-7".to_owned(),
        total_minor,
        currency: "EUR".to_owned(),
        lines: vec![line("Thing x1", total_minor - 100), line("Shipping", 100)],
    };
    let invoice = |payment_id: &str, issued_by| StoredInvoice {
        invoice: InvoiceIssuedV1 {
            invoice_id: "inv-7".to_owned(),
            order_id: "ord-7".to_owned(),
            customer_id: "cus-7".to_owned(),
            payment_id: payment_id.to_owned(),
            total_minor: 1_000,
            currency: "EUR".to_owned(),
            lines: order(1_000).lines,
        },
        issued_by,
    };
    let (first, second) = (uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2));
    Ok(Answers {
        recorded: vec![
            store.record_order(&order(1_000)).await?,
            store.record_order(&order(2_000)).await?,
        ],
        orders: vec![store.order("ord-7").await?, store.order("ord-8").await?],
        issued: vec![
            store.issue(&invoice("pay-1", first)).await?,
            store.issue(&invoice("pay-2", second)).await?,
        ],
        invoices: vec![store.invoice("ord-7").await?, store.invoice("ord-8").await?],
    })
}

#[tokio::test]
async fn the_memory_store_answers_every_conditional_write_as_the_dynamodb_tables_do() -> TestResult {
    // Given the two tables on moto and a store in memory
    let moto = Harness::new().await;
    let orders = moto.table("billing-orders", "order_id", None).await?;
    let invoices = moto.table("invoices", "order_id", None).await?;

    // When both get the same writes
    let in_dynamodb = conditional_writes(&BillingStore::new(moto.dynamodb, orders, invoices)).await?;
    let in_memory = conditional_writes(&BillingStore::memory()).await?;

    // Then they answer alike: the first snapshot and the first invoice stand, and a refused
    // invoice hands back the stored one
    assert_eq!(in_memory, in_dynamodb);
    assert_eq!(in_memory.recorded, [true, false]);
    assert_eq!(in_memory.orders[0].as_ref().map(|o| o.total_minor), Some(1_000));
    assert_eq!(in_memory.orders[1], None);
    let Issue::AlreadyIssued(existing) = &in_memory.issued[1] else {
        return Err(format!("the second invoice must be refused: {:?}", in_memory.issued).into());
    };
    assert_eq!(in_memory.issued[0], Issue::Issued);
    assert_eq!(existing.invoice.payment_id, "pay-1");
    assert_eq!(in_memory.invoices[0].as_ref(), Some(existing));
    assert_eq!(in_memory.invoices[1], None);
    Ok(())
}
