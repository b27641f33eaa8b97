//! The Publisher against moto server's EventBridge: bus + rule → SQS target, then read the queue.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_eventbridge::config::interceptors::{
    BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_sdk_eventbridge::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_eventbridge::operation::put_events::{PutEventsInput, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use herald::publish::{MAX_ENTRY_BYTES, PublishError};
use herald::{Classify, Detail, Outgoing, Publisher, PublisherConfig, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::{BusToQueue, drain_queue, sdk_config};
use serde_json::json;
use shop_events::{CancelReason, OrderCancelledV1, OrderPlacedV1};
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn cancellations(count: usize) -> TestResult<Vec<Outgoing>> {
    cancellations_of(count, "cus-42")
}

/// `count` cancellations of orders of `customer_id`.
fn cancellations_of(count: usize, customer_id: &str) -> TestResult<Vec<Outgoing>> {
    (0..count)
        .map(|i| {
            let data = OrderCancelledV1 {
                order_id: format!("ord-{}", 5000 + i),
                customer_id: customer_id.into(),
                reason: CancelReason::CustomerRequest,
            };
            Ok(Outgoing::new(&Detail::new(data, "order-service"))?)
        })
        .collect()
}

fn pattern() -> serde_json::Value {
    json!({"source": ["shop.orders"], "detail-type": ["OrderCancelled"]})
}

/// Makes EventBridge "throttle" chosen entries of chosen PutEvents calls: the entries are taken
/// out of the request before it is sent (so moto never sees them) and put back into the response
/// as failed entries, exactly where EventBridge would report them. Also records every call's size.
#[derive(Debug, Default)]
struct ThrottleEntries {
    /// Per call number (0-based): entry positions to fail.
    plan: Vec<(usize, Vec<usize>)>,
    /// Positions failed in the call under way.
    current: Mutex<Vec<usize>>,
    /// Entries per call, in call order.
    calls: Arc<Mutex<Vec<usize>>>,
}

impl ThrottleEntries {
    fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, BoxError> {
        m.lock().map_err(|_| "poisoned".into())
    }
}

impl Intercept for ThrottleEntries {
    fn name(&self) -> &'static str {
        "ThrottleEntries"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(input) = context.input_mut().downcast_mut::<PutEventsInput>() else {
            return Ok(());
        };
        let entries = input.entries.get_or_insert_with(Vec::new);
        let mut calls = Self::lock(&self.calls)?;
        let call = calls.len();
        calls.push(entries.len());
        let fail: Vec<usize> = self
            .plan
            .iter()
            .filter(|(n, _)| *n == call)
            .flat_map(|(_, positions)| positions.iter().copied().filter(|p| *p < entries.len()))
            .collect();
        for position in fail.iter().rev() {
            entries.remove(*position);
        }
        *Self::lock(&self.current)? = fail;
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let fail = std::mem::take(&mut *Self::lock(&self.current)?);
        let Some(Ok(output)) = context.output_or_error_mut() else {
            return Ok(());
        };
        let Some(output) = output.downcast_mut::<PutEventsOutput>() else {
            return Ok(());
        };
        let entries = output.entries.get_or_insert_with(Vec::new);
        for position in &fail {
            let failed = PutEventsResultEntry::builder()
                .error_code("ThrottlingException")
                .error_message("injected by the test")
                .build();
            entries.insert(*position, failed);
        }
        output.failed_entry_count += i32::try_from(fail.len())?;
        Ok(())
    }
}

async fn publisher_with(interceptor: Option<ThrottleEntries>, bus_name: &str, max_attempts: u32) -> Publisher {
    let config = sdk_config().await;
    let mut builder = aws_sdk_eventbridge::config::Builder::from(&config);
    if let Some(interceptor) = interceptor {
        builder = builder.interceptor(interceptor);
    }
    let client = aws_sdk_eventbridge::Client::from_conf(builder.build());
    Publisher::new(
        client,
        PublisherConfig {
            max_attempts,
            base_delay: Duration::from_millis(5),
            ..PublisherConfig::for_bus(bus_name)
        },
    )
}

/// A publisher to `bus_name` (5 rounds) that records how many entries each PutEvents call held.
async fn counting_publisher(bus_name: &str) -> (Publisher, Arc<Mutex<Vec<usize>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let counter = ThrottleEntries {
        calls: calls.clone(),
        ..Default::default()
    };
    (publisher_with(Some(counter), bus_name, 5).await, calls)
}

fn ids(events: &[Outgoing]) -> BTreeSet<Uuid> {
    events.iter().map(Outgoing::event_id).collect()
}

fn received_ids(bodies: &[serde_json::Value]) -> TestResult<Vec<Uuid>> {
    bodies
        .iter()
        .map(|body| {
            Ok(RawEvent::from_value(body.clone())
                .decode::<OrderCancelledV1>()?
                .metadata()
                .event_id)
        })
        .collect()
}

#[tokio::test]
async fn twenty_five_events_arrive_complete_in_batches_of_ten() -> TestResult {
    // Given a bus whose rule sends cancellations to a queue
    let config = sdk_config().await;
    let wiring = BusToQueue::create(&config, &pattern()).await?;
    let (publisher, calls) = counting_publisher(&wiring.bus_name).await;
    let events = cancellations(25)?;

    // When 25 are published
    publisher.publish(&events).await?;

    // Then all 25 arrive exactly once, decode, and carry what was sent
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bodies = drain_queue(&sqs, &wiring.queue_url, 25, Duration::from_secs(20)).await?;
    let received = received_ids(&bodies)?;
    assert_eq!(received.len(), 25, "each event arrives once");
    assert_eq!(received.into_iter().collect::<BTreeSet<_>>(), ids(&events));
    let first = RawEvent::from_value(bodies[0].clone()).decode::<OrderCancelledV1>()?;
    assert_eq!(first.data().customer_id, "cus-42");
    assert_eq!(first.metadata().producer, "order-service");
    assert_eq!(*calls.lock().map_err(|_| "poisoned")?, vec![10, 10, 5]);
    Ok(())
}

/// PutEvents limits the whole request to 256 KB, not only each entry (EventBridge quotas,
/// "PutEvents request size"); moto accepts any size, so the calls' shapes stand for the rule.
#[tokio::test]
async fn events_that_together_pass_the_request_limit_are_split_into_requests_under_it_and_all_arrive() -> TestResult {
    // Given a bus to a queue, and four cancellations of about 100 KB each (400 KB together)
    let config = sdk_config().await;
    let wiring = BusToQueue::create(&config, &pattern()).await?;
    let (publisher, calls) = counting_publisher(&wiring.bus_name).await;
    let events = cancellations_of(4, &format!("cus-{}", "9".repeat(100 * 1024)))?;
    assert!(events.iter().map(Outgoing::size).sum::<usize>() > herald::publish::MAX_REQUEST_BYTES);

    // When they are published together
    publisher.publish(&events).await?;

    // Then they went out two by two (three would pass 256 KB), and every one arrived
    assert_eq!(*calls.lock().map_err(|_| "poisoned")?, vec![2, 2]);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bodies = drain_queue(&sqs, &wiring.queue_url, 4, Duration::from_secs(20)).await?;
    let received = received_ids(&bodies)?;
    assert_eq!(received.into_iter().collect::<BTreeSet<_>>(), ids(&events));
    Ok(())
}

#[tokio::test]
async fn an_oversize_entry_is_rejected_before_anything_is_sent() -> TestResult {
    // Given three events, the second one over 256 KB
    let config = sdk_config().await;
    let wiring = BusToQueue::create(&config, &json!({"source": ["shop.orders"]})).await?;
    let (publisher, calls) = counting_publisher(&wiring.bus_name).await;
    let placed_json = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../events/shop.orders/OrderPlaced/v1.sample.json"
    ))?;
    let mut huge = RawEvent::from_value(serde_json::from_str(&placed_json)?)
        .decode::<OrderPlacedV1>()?
        .detail
        .data;
    huge.items[0].name = "x".repeat(MAX_ENTRY_BYTES);
    let huge = Outgoing::new(&Detail::new(huge, "order-service"))?;
    let mut events = cancellations(2)?;
    events.insert(1, huge.clone());

    // When they are published
    let error = publisher
        .publish(&events)
        .await
        .err()
        .ok_or("an oversize entry must fail")?;

    // Then the error names the event, nothing was sent, and nothing arrives
    match &error {
        PublishError::EntryTooLarge {
            event_id, size, limit, ..
        } => {
            assert_eq!(*event_id, huge.event_id());
            assert!(size > limit);
        }
        other => return Err(format!("expected EntryTooLarge, got {other}").into()),
    }
    assert!(error.to_string().contains(&huge.event_id().to_string()));
    assert!(!error.is_retryable());
    assert!(
        calls.lock().map_err(|_| "poisoned")?.is_empty(),
        "no PutEvents call was made"
    );
    let sqs = aws_sdk_sqs::Client::new(&config);
    assert!(
        drain_queue(&sqs, &wiring.queue_url, 0, Duration::from_secs(1))
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn a_partially_failed_put_events_is_retried_for_the_failed_entries_only() -> TestResult {
    // Given EventBridge throttles entries 2, 5 and 9 of the first call and entry 0 of the fourth
    let config = sdk_config().await;
    let wiring = BusToQueue::create(&config, &pattern()).await?;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let throttle = ThrottleEntries {
        plan: vec![(0, vec![2, 5, 9]), (3, vec![0])],
        calls: calls.clone(),
        ..Default::default()
    };
    let publisher = publisher_with(Some(throttle), &wiring.bus_name, 5).await;
    let events = cancellations(25)?;

    // When 25 are published
    publisher.publish(&events).await?;

    // Then the resends carry only the failed entries and every event arrives exactly once
    assert_eq!(*calls.lock().map_err(|_| "poisoned")?, vec![10, 10, 5, 3, 1]);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let received = received_ids(&drain_queue(&sqs, &wiring.queue_url, 25, Duration::from_secs(20)).await?)?;
    assert_eq!(received.len(), 25, "no entry lost, none sent twice");
    assert_eq!(received.into_iter().collect::<BTreeSet<_>>(), ids(&events));
    Ok(())
}

#[tokio::test]
async fn an_entry_that_keeps_failing_is_returned_to_the_caller_not_dropped() -> TestResult {
    // Given EventBridge throttles the first entry on every one of three attempts
    let config = sdk_config().await;
    let wiring = BusToQueue::create(&config, &pattern()).await?;
    let throttle = ThrottleEntries {
        plan: vec![(0, vec![0]), (3, vec![0]), (4, vec![0])],
        ..Default::default()
    };
    let publisher = publisher_with(Some(throttle), &wiring.bus_name, 3).await;
    let events = cancellations(25)?;

    // When 25 are published
    let error = publisher
        .publish(&events)
        .await
        .err()
        .ok_or("the stuck entry must be reported")?;

    // Then exactly that entry is reported, with its attempts, and the other 24 arrived
    match &error {
        PublishError::EntriesFailed { failed, accepted } => {
            assert_eq!(*accepted, 24);
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0].event_id, events[0].event_id());
            assert_eq!(failed[0].error_code, "ThrottlingException");
            assert_eq!(failed[0].attempts, 3);
        }
        other => return Err(format!("expected EntriesFailed, got {other}").into()),
    }
    assert!(error.is_retryable(), "throttling may pass");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let received = received_ids(&drain_queue(&sqs, &wiring.queue_url, 24, Duration::from_secs(20)).await?)?;
    assert_eq!(received.len(), 24);
    assert!(!received.contains(&events[0].event_id()));
    Ok(())
}
