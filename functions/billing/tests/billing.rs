//! Billing's behaviour, each test run on both backends it runs on (memory, as under `herald dev`,
//! and DynamoDB on moto), built as `main.rs` builds it; what it publishes reaches a fresh bus on
//! moto whose rule sends it to a queue the tests read.

use billing::error::BillingError;
use billing::handler::{self, Action, BillingEvent, Deps, Reaction};
use billing::store::{BillingStore, Issue, OrderSnapshot, StoredInvoice};
use herald::idempotency::{GuardError, Guarded, GuardedEvent, Outcome};
use herald::{Classify, ConsumerError, Detail, Envelope, Function, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{fresh_sample, sample_json};
use herald_tests::world::{FunctionWorld, Stores, on_every_backend};
use serde_json::json;
use shop_events::{InvoiceIssuedV1, InvoiceLine, PaymentCapturedV1};
use uuid::Uuid;

const PLACED_V1: &str = "shop.orders/OrderPlaced/v1.sample.json";
const PLACED_V2: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CAPTURED: &str = "shop.payments/PaymentCaptured/v1.sample.json";

/// Billing over fresh stores of `stores`.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Billing's order snapshots and invoices.
fn store(world: &FunctionWorld<Deps>) -> &BillingStore {
    &world.deps().store
}

/// The InvoiceIssued events that reached the bus.
async fn emitted(world: &FunctionWorld<Deps>, expected: usize) -> TestResult<Vec<Envelope<InvoiceIssuedV1>>> {
    world.bus.emitted_as(expected).await
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
    on_every_backend(async |stores| {
        // Given ord-1001 placed
        let world = world(stores).await?;
        let placed = world.deliver(fresh_sample(PLACED_V1)?).await?;
        let captured = fresh_sample(CAPTURED)?;
        let payment_event_id = captured.ids().event_id.clone();

        // When its payment of 1847.09 EUR is captured
        let answer = world.deliver(captured).await?;

        // Then inv-1001 is stored with lines adding up to the total, and InvoiceIssued is on the bus
        assert_eq!(action(&placed), Some(Action::OrderRecorded));
        assert_eq!(answer.outcome, Outcome::Claimed);
        assert_eq!(action(&answer), Some(Action::Invoiced));
        let stored = store(&world)
            .invoice("ord-1001")
            .await?
            .ok_or("inv-1001 must be stored")?;
        assert_eq!(
            (
                stored.invoice.invoice_id.as_str(),
                stored.invoice.payment_id.as_str(),
                stored.invoice.customer_id.as_str()
            ),
            ("inv-1001", "pay-9001", "cus-42")
        );
        assert_eq!(stored.invoice.lines.len(), 5);
        assert_eq!(
            stored.invoice.lines.iter().map(|l| l.amount_minor).sum::<u64>(),
            184_709
        );
        assert_eq!(
            (stored.invoice.total_minor, stored.invoice.currency.as_str()),
            (184_709, "EUR")
        );
        let emitted = emitted(&world, 1).await?;
        assert_eq!(emitted.len(), 1);
        assert_eq!(emitted[0].data(), &stored.invoice);
        assert_eq!(
            emitted[0].metadata().causation_id.map(|c| c.to_string()),
            payment_event_id
        );
        assert_eq!(emitted[0].metadata().producer, Deps::NAME);
        assert_eq!(
            answer
                .result
                .map(|r| r.emitted.iter().map(|e| e.event_id).collect::<Vec<_>>()),
            Some(vec![emitted[0].metadata().event_id])
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_payment_before_its_order_is_retried_and_invoiced_once_the_order_arrives() -> TestResult {
    on_every_backend(async |stores| {
        // Given a payment whose order has not arrived
        let world = world(stores).await?;
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
        let emitted = emitted(&world, 1).await?;
        assert_eq!(emitted.len(), 1);
        assert_eq!(emitted[0].data().invoice_id, "inv-1001");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_payment_that_does_not_match_the_order_total_is_refused_for_good() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed for 1847.09 EUR
        let world = world(stores).await?;
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
        assert!(store(&world).invoice("ord-1001").await?.is_none());
        assert!(emitted(&world, 0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_order_whose_lines_do_not_add_up_to_its_total_is_refused_for_good_and_nothing_is_written() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 with a total one cent more than its lines
        let world = world(stores).await?;
        let mut off = sample_json(PLACED_V1)?;
        off["detail"]["data"]["totals"]["total_minor"] = json!(184_710);

        // When it is delivered
        let error = world
            .deliver(RawEvent::from_value(off))
            .await
            .err()
            .ok_or("an order that does not add up must fail")?;

        // Then it is refused, naming the order, and no snapshot or invoice is written
        assert_eq!(error.error_type(), "Billing.OrderTotalsDisagree");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("ord-1001"), "{error}");
        assert!(store(&world).order("ord-1001").await?.is_none());
        assert!(store(&world).invoice("ord-1001").await?.is_none());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_second_order_placed_for_the_order_keeps_the_first_snapshot() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed (v1, itemised)
        let world = world(stores).await?;
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
        let emitted = emitted(&world, 1).await?;
        assert_eq!(emitted.len(), 1);
        assert_eq!(
            (emitted[0].data().total_minor, emitted[0].data().lines.len()),
            (184_709, 5)
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_same_payment_under_a_new_event_id_issues_no_second_invoice_and_emits_nothing() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed and paid
        let world = world(stores).await?;
        world.deliver(fresh_sample(PLACED_V1)?).await?;
        let first = fresh_sample(CAPTURED)?;
        let first_event_id = first.ids().event_id.clone();
        assert_eq!(action(&world.deliver(first).await?), Some(Action::Invoiced));

        // When the payment service publishes pay-9001 again under a new event id (the guard cannot tell)
        let again = world.deliver(fresh_sample(CAPTURED)?).await?;

        // Then the invoice's condition holds: the first invoice stands, nothing new is emitted
        assert_eq!(again.outcome, Outcome::Claimed);
        assert_eq!(action(&again), Some(Action::AlreadyInvoiced));
        let stored = store(&world)
            .invoice("ord-1001")
            .await?
            .ok_or("inv-1001 must be stored")?;
        assert_eq!(Some(stored.issued_by.to_string()), first_event_id);
        assert_eq!(emitted(&world, 1).await?.len(), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_second_payment_for_an_invoiced_order_is_refused_for_good() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed and paid with pay-9001
        let world = world(stores).await?;
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

        // Then it is refused, naming both payments; the invoice still names the first, the only one emitted
        assert_eq!(error.error_type(), "Billing.InvoicedForAnotherPayment");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("pay-9003") && error.to_string().contains("pay-9001"));
        let stored = store(&world)
            .invoice("ord-1001")
            .await?
            .ok_or("inv-1001 must be stored")?;
        assert_eq!(stored.invoice.payment_id, "pay-9001");
        assert_eq!(emitted(&world, 1).await?.len(), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_thin_order_is_invoiced_as_one_line() -> TestResult {
    on_every_backend(async |stores| {
        // Given the thin ord-1003 of 458.97 EUR placed (v2)
        let world = world(stores).await?;
        let placed = world.deliver(fresh_sample(PLACED_V2)?).await?;

        // When its payment is captured
        let answer = world.deliver(payment("ord-1003", 45_897)?).await?;

        // Then inv-1003 has the one line "Order ord-1003"
        assert_eq!(action(&placed), Some(Action::OrderRecorded));
        assert_eq!(action(&answer), Some(Action::Invoiced));
        let emitted = emitted(&world, 1).await?;
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
    })
    .await
}

#[tokio::test]
async fn a_retry_after_a_failed_publish_re_emits_the_same_event_without_a_second_invoice() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed, and a payment whose first run cannot reach the bus
        let world = world(stores).await?;
        world.deliver(fresh_sample(PLACED_V1)?).await?;
        let unreachable = world.consumer.with_deps(Deps {
            publisher: world.bus.unreachable_publisher(),
            ..world.deps().clone()
        });
        let captured = fresh_sample(CAPTURED)?;
        let cause = captured.clone().decode::<PaymentCapturedV1>()?.metadata().clone();
        let error = unreachable
            .handle(captured.clone(), None)
            .await
            .err()
            .ok_or("publishing to an unreachable bus must fail")?;
        assert!(error.is_retryable(), "{error}");
        assert!(
            store(&world).invoice("ord-1001").await?.is_some(),
            "the invoice was written"
        );

        // When the same payment event is delivered again
        let retry = world.deliver(captured).await?;

        // Then it publishes the invoice its first run wrote, under the event's stable id
        assert_eq!(retry.outcome, Outcome::Claimed);
        assert_eq!(action(&retry), Some(Action::Reissued));
        let emitted = emitted(&world, 1).await?;
        assert_eq!(emitted.len(), 1);
        let stable = Detail::caused_by_stable(&cause, "", emitted[0].data().clone(), Deps::NAME);
        assert_eq!(emitted[0].metadata().event_id, stable.metadata.event_id);
        assert_eq!(emitted[0].data().invoice_id, "inv-1001");
        assert_eq!(
            store(&world).invoice("ord-1001").await?.map(|i| i.issued_by),
            Some(cause.event_id)
        );
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_store_keeps_the_first_snapshot_and_the_first_invoice_and_hands_back_the_stored_one() -> TestResult {
    on_every_backend(async |stores| {
        // Given billing's empty store, and ord-7 with its lines
        let world = world(stores).await?;
        let store = store(&world);
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
        let (first, second) = (
            invoice("pay-1", Uuid::from_u128(1)),
            invoice("pay-2", Uuid::from_u128(2)),
        );

        // When ord-7 is recorded twice and invoiced twice, by different deliveries
        let recorded = [
            store.record_order(&order(1_000)).await?,
            store.record_order(&order(2_000)).await?,
        ];
        let issued = [store.issue(&first).await?, store.issue(&second).await?];

        // Then the first snapshot and the first invoice stand, the refused invoice hands back the
        // stored one, and ord-8, never written, reads as absent
        assert_eq!(recorded, [true, false]);
        assert_eq!(store.order("ord-7").await?, Some(order(1_000)));
        assert_eq!(issued, [Issue::Issued, Issue::AlreadyIssued(first.clone())]);
        assert_eq!(store.invoice("ord-7").await?, Some(first));
        assert_eq!(store.order("ord-8").await?, None);
        assert_eq!(store.invoice("ord-8").await?, None);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(CAPTURED)?.decode_set::<BillingEvent>()?;
    assert_eq!(event.detail_type(), "PaymentCaptured");
    Ok(())
}
