//! Billing's behaviour, each test run on both backends it runs on (memory, as under `herald dev`,
//! and DynamoDB on moto), built as `main.rs` builds it; what it publishes reaches a fresh bus on
//! moto whose rule sends it to a queue the tests read.

use billing::error::BillingError;
use billing::handler::{self, Action, BillingEvent, Deps, Reaction};
use billing::store::{BillingStore, Issue, OrderSnapshot, StoredInvoice};
use herald::idempotency::{Guarded, GuardedEvent, Outcome};
use herald::{Classify, Function, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::{ORDER_PLACED, PAYMENT_CAPTURED, THIN_ORDER_PLACED, fresh_sample, fresh_sample_with};
use herald_tests::world::{FunctionWorld, Stores, handler_error, on_every_backend};
use serde_json::json;
use shop_events::{InvoiceIssuedV1, InvoiceLine};
use uuid::Uuid;

/// Billing over fresh stores of `stores`.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Billing's order snapshots and invoices.
fn store(world: &FunctionWorld<Deps>) -> &BillingStore {
    &world.deps().store
}

/// The PaymentCaptured sample for another order or amount, with a fresh event id.
fn payment(order_id: &str, amount_minor: u64) -> TestResult<RawEvent> {
    fresh_sample_with(
        PAYMENT_CAPTURED,
        &[
            ("/detail/data/order_id", json!(order_id)),
            ("/detail/data/amount_minor", json!(amount_minor)),
        ],
    )
}

fn action(answer: &Guarded<Reaction>) -> Option<Action> {
    answer.result.as_ref().map(|r| r.action)
}

#[tokio::test]
async fn a_paid_order_gets_one_invoice_whose_lines_add_up_and_one_invoice_issued() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed
        let world = world(stores).await?;
        let placed = world.deliver(fresh_sample(ORDER_PLACED)?).await?;
        let captured = fresh_sample(PAYMENT_CAPTURED)?;
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
        let issued = world.bus.emitted_one::<InvoiceIssuedV1>().await?;
        assert_eq!(issued.data(), &stored.invoice);
        assert_eq!(issued.metadata().causation_id.map(|c| c.to_string()), payment_event_id);
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
async fn a_payment_before_its_order_is_retried_and_invoiced_once_the_order_arrives() -> TestResult {
    on_every_backend(async |stores| {
        // Given a payment whose order has not arrived
        let world = world(stores).await?;
        let captured = fresh_sample(PAYMENT_CAPTURED)?;
        let early = world.failure_of(captured.clone()).await?;
        assert!(
            matches!(handler_error(&early), Some(BillingError::OrderNotYetKnown { .. })),
            "{early}"
        );
        assert!(early.is_retryable());
        assert_eq!(early.error_type(), "Billing.OrderNotYetKnown");
        // deferred: counted as DeferredEvents, which the errors alarm subtracts (no page)
        assert!(early.is_deferred());

        // When the order arrives and the same payment event is delivered again
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;
        let retried = world.deliver(captured).await?;

        // Then the released claim let it run: inv-1001 is issued, once
        assert_eq!(retried.outcome, Outcome::Claimed);
        assert_eq!(action(&retried), Some(Action::Invoiced));
        let issued = world.bus.emitted_one::<InvoiceIssuedV1>().await?;
        assert_eq!(issued.data().invoice_id, "inv-1001");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_payment_that_does_not_match_the_order_total_is_refused_for_good() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed for 1847.09 EUR
        let world = world(stores).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;

        // When 1000.00 is captured for it
        let error = world.failure_of(payment("ord-1001", 100_000)?).await?;

        // Then the error is typed, names both amounts and is not retried; nothing is invoiced
        assert!(
            matches!(handler_error(&error), Some(BillingError::PaymentMismatch { .. })),
            "{error}"
        );
        assert!(!error.is_retryable());
        let message = error.to_string();
        assert!(message.contains("100000") && message.contains("184709"), "{message}");
        assert!(store(&world).invoice("ord-1001").await?.is_none());
        assert!(world.bus.emitted(0).await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_order_whose_lines_do_not_add_up_to_its_total_is_refused_for_good_and_nothing_is_written() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 with a total one cent more than its lines
        let world = world(stores).await?;
        let off = fresh_sample_with(ORDER_PLACED, &[("/detail/data/totals/total_minor", json!(184_710))])?;

        // When it is delivered
        let error = world.failure_of(off).await?;

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
        let first = world.deliver(fresh_sample(ORDER_PLACED)?).await?;

        // When a thin v2 OrderPlaced for ord-1001 with another total arrives under a new event id
        let again = fresh_sample_with(
            THIN_ORDER_PLACED,
            &[
                ("/detail/data/order_id", json!("ord-1001")),
                ("/detail/data/total_minor", json!(1)),
            ],
        )?;
        let again = world.deliver(again).await?;

        // Then the first snapshot stands: the payment is invoiced with its five lines
        assert_eq!(action(&first), Some(Action::OrderRecorded));
        assert_eq!(action(&again), Some(Action::OrderAlreadyRecorded));
        assert_eq!(
            action(&world.deliver(fresh_sample(PAYMENT_CAPTURED)?).await?),
            Some(Action::Invoiced)
        );
        let issued = world.bus.emitted_one::<InvoiceIssuedV1>().await?;
        assert_eq!((issued.data().total_minor, issued.data().lines.len()), (184_709, 5));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_same_payment_under_a_new_event_id_issues_no_second_invoice_and_emits_nothing() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed and paid
        let world = world(stores).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;
        let first = fresh_sample(PAYMENT_CAPTURED)?;
        let first_event_id = first.ids().event_id.clone();
        assert_eq!(action(&world.deliver(first).await?), Some(Action::Invoiced));

        // When the payment service publishes pay-9001 again under a new event id (the guard cannot tell)
        let again = world.deliver(fresh_sample(PAYMENT_CAPTURED)?).await?;

        // Then the invoice's condition holds: the first invoice stands, nothing new is emitted
        assert_eq!(again.outcome, Outcome::Claimed);
        assert_eq!(action(&again), Some(Action::AlreadyInvoiced));
        let stored = store(&world)
            .invoice("ord-1001")
            .await?
            .ok_or("inv-1001 must be stored")?;
        assert_eq!(Some(stored.issued_by.to_string()), first_event_id);
        world.bus.emitted_one::<InvoiceIssuedV1>().await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_second_payment_for_an_invoiced_order_is_refused_for_good() -> TestResult {
    on_every_backend(async |stores| {
        // Given ord-1001 placed and paid with pay-9001
        let world = world(stores).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;
        world.deliver(fresh_sample(PAYMENT_CAPTURED)?).await?;

        // When another capture, pay-9003, arrives for it
        let second = fresh_sample_with(PAYMENT_CAPTURED, &[("/detail/data/payment_id", json!("pay-9003"))])?;
        let error = world.failure_of(second).await?;

        // Then it is refused, naming both payments; the invoice still names the first, the only one emitted
        assert_eq!(error.error_type(), "Billing.InvoicedForAnotherPayment");
        assert!(!error.is_retryable());
        assert!(error.to_string().contains("pay-9003") && error.to_string().contains("pay-9001"));
        let stored = store(&world)
            .invoice("ord-1001")
            .await?
            .ok_or("inv-1001 must be stored")?;
        assert_eq!(stored.invoice.payment_id, "pay-9001");
        world.bus.emitted_one::<InvoiceIssuedV1>().await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_thin_order_is_invoiced_as_one_line() -> TestResult {
    on_every_backend(async |stores| {
        // Given the thin ord-1003 of 458.97 EUR placed (v2)
        let world = world(stores).await?;
        let placed = world.deliver(fresh_sample(THIN_ORDER_PLACED)?).await?;

        // When its payment is captured
        let answer = world.deliver(payment("ord-1003", 45_897)?).await?;

        // Then inv-1003 has the one line "Order ord-1003"
        assert_eq!(action(&placed), Some(Action::OrderRecorded));
        assert_eq!(action(&answer), Some(Action::Invoiced));
        let issued = world.bus.emitted_one::<InvoiceIssuedV1>().await?;
        let invoice = issued.data();
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
        // Given ord-1001 placed
        let world = world(stores).await?;
        world.deliver(fresh_sample(ORDER_PLACED)?).await?;
        let captured = fresh_sample(PAYMENT_CAPTURED)?;
        let payment = captured.metadata()?.event_id;

        // When its payment's first run cannot reach the bus, and the event is delivered again
        let (retry, issued) = world
            .retry_after_a_failed_publish::<InvoiceIssuedV1>(captured, |deps, publisher| Deps { publisher, ..deps })
            .await?;

        // Then the retry publishes the invoice its first run wrote, under the event's stable id
        assert_eq!(action(&retry), Some(Action::Reissued));
        assert_eq!(issued.data().invoice_id, "inv-1001");
        assert_eq!(
            store(&world).invoice("ord-1001").await?.map(|i| i.issued_by),
            Some(payment)
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
            announced: Default::default(),
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
    let event = fresh_sample(PAYMENT_CAPTURED)?.decode_set::<BillingEvent>()?;
    assert_eq!(event.detail_type(), "PaymentCaptured");
    Ok(())
}
