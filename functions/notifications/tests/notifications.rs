//! Notifications' behaviour, each test run on both backends it runs on (memory, as under
//! `herald dev`, and DynamoDB on moto), built as `main.rs` builds it. It emits no events: the
//! outbox is what was sent.

use herald::idempotency::{GuardError, GuardedEvent, Outcome};
use herald::store::Table;
use herald::{Classify, ConsumerError, RawEvent};
use herald_tests::TestResult;
use herald_tests::fixtures::fresh_sample;
use herald_tests::world::{FunctionWorld, Stores, on_every_backend};
use notifications::error::NotificationsError;
use notifications::handler::{self, Action, Deps, NotificationsEvent, Reaction};
use notifications::sender::{MessageKind, OutboxSender};
use notifications::store::{KEY, Outbox};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const THIN: &str = "shop.orders/OrderPlaced/v2.sample.json";
const CONTRACT_CANCELLED: &str = "shop.contracts/ContractCancelled/v1.sample.json";

/// Notifications over fresh stores of `stores`.
async fn world(stores: Stores) -> TestResult<FunctionWorld<Deps>> {
    FunctionWorld::new(stores, handler::handle, &[]).await
}

/// Notifications' outbox: what was sent.
fn outbox(world: &FunctionWorld<Deps>) -> &Outbox {
    world.deps().sender.outbox()
}

fn event_id(raw: &RawEvent) -> TestResult<String> {
    Ok(raw.ids().event_id.clone().ok_or("the sample has an event_id")?)
}

#[tokio::test]
async fn a_placed_order_sends_exactly_one_receipt_to_its_customer() -> TestResult {
    on_every_backend(async |stores| {
        // Given notifications with an empty outbox, and ord-1001 placed by ada@example.com
        let world = world(stores).await?;
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
        let sent = outbox(&world).sent_to("ada@example.com").await?;
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
        assert_eq!(outbox(&world).sent(&message_id).await?.as_ref(), Some(receipt));
        assert_eq!(outbox(&world).sent("receipt-of-nothing").await?, None);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_duplicate_that_outlives_the_guards_record_is_not_sent_twice() -> TestResult {
    on_every_backend(async |stores| {
        // Given a receipt sent for an order event
        let world = world(stores).await?;
        let placed = world.delivered(PLACED).await?;

        // When the same event comes back after the guard's record is gone
        let late = world.forgetting().await?.handle(placed, None).await?;

        // Then the handler ran, found the outbox row, and sent nothing
        assert_eq!(late.outcome, Outcome::Claimed);
        assert_eq!(late.result.map(|r| r.action), Some(Action::AlreadySent));
        assert_eq!(outbox(&world).sent_to("ada@example.com").await?.len(), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_same_fact_republished_under_a_new_event_id_is_a_new_message() -> TestResult {
    on_every_backend(async |stores| {
        // Given a receipt sent for ord-1001
        let world = world(stores).await?;
        let first = world.deliver(fresh_sample(PLACED)?).await?;

        // When the order service publishes the same order again under a new event_id (its bug)
        let again = world.deliver(fresh_sample(PLACED)?).await?;

        // Then it is a different event, so a different message: deduplication is per event
        assert_eq!(again.result.as_ref().map(|r| r.action), Some(Action::SentReceipt));
        let mut sent: Vec<String> = outbox(&world)
            .sent_to("ada@example.com")
            .await?
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        sent.sort();
        let mut ids = [first.result, again.result].map(|r| r.map(|r| r.message_id).unwrap_or_default());
        ids.sort();
        assert_eq!(sent, ids);
        assert_ne!(ids[0], ids[1]);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_cancelled_contract_sends_one_notice_naming_the_contract_and_why() -> TestResult {
    on_every_backend(async |stores| {
        // Given notifications with an empty outbox
        let world = world(stores).await?;
        let cancelled = fresh_sample(CONTRACT_CANCELLED)?;
        let message_id = format!("contract-cancelled-{}", event_id(&cancelled)?);

        // When Ada's warranty ctr-1001 is cancelled because ord-1001 was
        let answer = world.deliver(cancelled).await?;

        // Then one notice went to her, naming the contract, its kind and plan, and the reason
        assert_eq!(answer.result.map(|r| r.action), Some(Action::SentContractCancelled));
        let sent = outbox(&world).sent_to("ada@example.com").await?;
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
    })
    .await
}

#[tokio::test]
async fn a_thin_v2_order_is_refused_naming_where_the_address_would_come_from_and_nothing_is_sent() -> TestResult {
    on_every_backend(async |stores| {
        // Given notifications with an empty outbox
        let world = world(stores).await?;

        // When the thin ord-1003 (no email address, no lines) arrives
        let error = world
            .deliver(fresh_sample(THIN)?)
            .await
            .err()
            .ok_or("a thin order must fail")?;

        // Then it is refused for good, naming the order and the customer service's endpoint,
        // and nothing is sent
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
        assert!(outbox(&world).sent_to("ada@example.com").await?.is_empty());
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_outbox_failure_on_dynamodb_is_retryable_and_leaves_the_event_to_be_delivered_again() -> TestResult {
    // Given notifications on moto whose outbox table does not exist
    let world = world(Stores::Moto).await?;
    let broken = world.consumer.with_deps(Deps {
        sender: OutboxSender::new(Outbox::new(Table::dynamo(
            world.moto.dynamodb.clone(),
            "no-such-outbox",
            KEY,
        ))),
    });
    let placed = fresh_sample(PLACED)?;

    // When an order arrives
    let error = broken
        .handle(placed.clone(), None)
        .await
        .err()
        .ok_or("a missing table must fail")?;

    // Then the error is retryable, and a redelivery once the outbox works sends the receipt
    assert_eq!(error.error_type(), "Notifications.Store");
    assert!(error.is_retryable());
    let retry = world.deliver(placed).await?;
    assert_eq!(retry.result.map(|r| r.action), Some(Action::SentReceipt));
    assert_eq!(outbox(&world).sent_to("ada@example.com").await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_decoded_event_exposes_its_detail_type_to_the_guard() -> TestResult {
    let event = fresh_sample(CONTRACT_CANCELLED)?.decode_set::<NotificationsEvent>()?;
    assert_eq!(event.detail_type(), "ContractCancelled");
    Ok(())
}
