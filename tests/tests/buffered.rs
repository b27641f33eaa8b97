//! A buffered consumer, fed as Lambda's SQS event source mapping feeds it, from a real queue on
//! moto: it acknowledges what it handled, sends bad input straight to its dead-letter queue with
//! the cause, leaves only what may succeed later in the queue, dead-letters an event on its last
//! receive, and claims and completes ten fresh events in two DynamoDB calls. Each behaviour runs
//! on both backends with a small function of the test's own.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_sqs::types::MessageAttributeValue;
use herald::consumer::NOT_RETRYABLE_PREFIX;
use herald::consumer::{Buffering, DeadLetters};
use herald::idempotency::{Backend, ChosenStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Call, ConfigError, Consumer, Env, Function};
use herald_tests::TestResult;
use herald_tests::buffer::Mapping;
use herald_tests::dynamodb::{counted_client, create_idempotency_table};
use herald_tests::fixtures::{HandlerError, fresh_sample};
use herald_tests::world::{FunctionWorld, Stores, on_every_backend, unknown_version};
use shop_events::OrderPlacedV1;

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";

/// The ARN Lambda gives the invocation; dead letters name it as their target.
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:shop-batching";

herald::event_set! {
    /// What the batching function consumes.
    #[derive(Debug)]
    pub enum Placed {
        /// A placed order.
        Order(OrderPlacedV1) from (OrderPlacedV1,),
    }
}

/// A function that counts its handler's runs; an order whose id starts with `flaky` fails
/// retryably every time.
#[derive(Debug, Default)]
struct Batching {
    runs: Arc<AtomicUsize>,
}

impl Function for Batching {
    const NAME: &'static str = "batching";
    type Event = Placed;
    type Reaction = String;
    type Error = HandlerError;

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self::default())
    }
}

async fn record(deps: &Batching, event: Placed) -> Result<String, HandlerError> {
    let Placed::Order(placed) = event;
    deps.runs.fetch_add(1, Ordering::SeqCst);
    if placed.data().order_id.starts_with("flaky") {
        return Err(HandlerError::Transient);
    }
    Ok(placed.data().order_id.clone())
}

/// The batching function on `stores`, its buffer queue and its dead-letter queue on moto; events
/// are received at most `max_receives` times, and come back at once after a failure.
async fn buffered(stores: Stores, max_receives: u32) -> TestResult<(FunctionWorld<Batching>, Mapping, Mapping)> {
    let world = FunctionWorld::with_tables(stores, record, &[], &[]).await?;
    let sqs = aws_sdk_sqs::Client::new(&world.moto.sdk);
    let queue = Mapping::new(sqs.clone(), "buffer", 0).await?;
    let dead_letters = Mapping::new(sqs.clone(), "dead-letters", 30).await?;
    let consumer = world.consumer.with_buffering(Buffering {
        dead_letters: Some(DeadLetters::new(sqs, dead_letters.queue_url.clone())),
        max_receives: Some(max_receives),
        report_outcomes: false,
    });
    Ok((FunctionWorld { consumer, ..world }, queue, dead_letters))
}

fn call() -> Call {
    Call {
        request_id: Some("batch-request".to_owned()),
        deadline_ms: Some(chrono::Utc::now().timestamp_millis() + 30_000),
        function_arn: Some(FUNCTION_ARN.to_owned()),
        ..Call::default()
    }
}

/// A fresh OrderPlaced sample's JSON text, its order id replaced by `order_id`.
fn placed(order_id: &str) -> TestResult<String> {
    let mut value = fresh_sample(PLACED)?.as_value().clone();
    if let Some(id) = value.pointer_mut("/detail/data/order_id") {
        *id = serde_json::Value::from(order_id);
    }
    Ok(value.to_string())
}

/// Each dead letter's attributes, by name, in the order received.
async fn dead_letters_of(queue: &Mapping) -> TestResult<Vec<BTreeMap<String, String>>> {
    let received = queue
        .sqs
        .receive_message()
        .queue_url(&queue.queue_url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .send()
        .await?;
    Ok(received
        .messages()
        .iter()
        .map(|message| {
            message
                .message_attributes()
                .into_iter()
                .flatten()
                .map(|(name, value): (&String, &MessageAttributeValue)| {
                    (name.clone(), value.string_value().unwrap_or_default().to_owned())
                })
                .collect()
        })
        .collect())
}

#[tokio::test]
async fn a_batch_acknowledges_what_it_handled_dead_letters_bad_input_and_leaves_only_what_may_succeed_later()
-> TestResult {
    on_every_backend(async |stores| {
        // Given a queue holding three fresh orders, the first of them twice, an event of a
        // version the function does not know, and a body that is not JSON
        let (world, queue, dead_letters) = buffered(stores, 5).await?;
        let first = placed("ord-1")?;
        let bodies = vec![
            first.clone(),
            placed("ord-2")?,
            placed("ord-3")?,
            first,
            unknown_version(PLACED)?.as_value().to_string(),
            "{not json".to_owned(),
        ];
        queue.send(&bodies).await?;

        // When one batch of them is handled and settled as Lambda's event source mapping does
        let received = queue.receive(10).await?;
        assert_eq!(received.event.records.len(), 6, "moto hands the whole batch over");
        // The later of the two messages holding the first order.
        let repeat = received
            .event
            .records
            .iter()
            .filter(|r| r.body.as_deref() == Some(bodies[0].as_str()))
            .filter_map(|r| r.message_id.clone())
            .nth(1)
            .ok_or("the repeat was received")?;
        let answer = world.consumer.handle_batch(received.event.clone(), call()).await;
        let left = queue.settle(&received, &answer.response).await?;

        // Then each order ran once; only the repeat of the first, which the first held, is left
        // to come back; the two bad inputs went straight to the dead-letter queue with their
        // cause and this function as their target; nothing else is left anywhere
        assert_eq!(world.deps().runs.load(Ordering::SeqCst), 3);
        assert_eq!(left.into_iter().collect::<Vec<_>>(), [repeat]);
        let mut outcomes: Vec<&str> = answer.outcomes.iter().map(|o| o.outcome.as_str()).collect();
        outcomes.sort_unstable();
        assert_eq!(
            outcomes,
            ["claimed", "claimed", "claimed", "error", "error", "in-progress"]
        );
        let letters = dead_letters_of(&dead_letters).await?;
        let mut codes: Vec<&str> = letters.iter().map(|l| l["ERROR_CODE"].as_str()).collect();
        codes.sort_unstable();
        assert_eq!(codes, ["Envelope.MalformedJson", "Envelope.UnsupportedVersion"]);
        for letter in &letters {
            assert!(letter["ERROR_MESSAGE"].starts_with(NOT_RETRYABLE_PREFIX), "{letter:?}");
            assert_eq!(letter["TARGET_ARN"], FUNCTION_ARN);
        }

        // And when the repeat comes back, it is answered from the record
        let again = queue.receive(10).await?;
        let answer = world.consumer.handle_batch(again.event.clone(), call()).await;
        queue.settle(&again, &answer.response).await?;
        assert_eq!(answer.outcomes.len(), 1);
        assert_eq!(answer.outcomes[0].outcome, "duplicate");
        assert_eq!(world.deps().runs.load(Ordering::SeqCst), 3);
        assert_eq!(queue.depth().await?, 0);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_on_its_last_receive_with_its_cause() -> TestResult {
    on_every_backend(async |stores| {
        // Given an order whose handler fails retryably every time, received at most twice
        let (world, queue, dead_letters) = buffered(stores, 2).await?;
        queue.send(&[placed("flaky-1")?]).await?;

        // When it is received, fails, and is received again
        let first = queue.receive(10).await?;
        let answer = world.consumer.handle_batch(first.event.clone(), call()).await;
        let left_first = queue.settle(&first, &answer.response).await?;
        let second = queue.receive(10).await?;
        let answer = world.consumer.handle_batch(second.event.clone(), call()).await;
        let left_second = queue.settle(&second, &answer.response).await?;

        // Then the first failure left it in the queue, the second sent it to the dead-letter
        // queue (a retryable cause: a redrive after a fix sends it again) and acknowledged it
        assert_eq!(left_first.len(), 1);
        assert!(left_second.is_empty());
        assert!(answer.outcomes[0].dead_lettered);
        assert_eq!(world.deps().runs.load(Ordering::SeqCst), 2);
        let letters = dead_letters_of(&dead_letters).await?;
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0]["ERROR_CODE"], "Test.Transient");
        assert!(!letters[0]["ERROR_MESSAGE"].starts_with(NOT_RETRYABLE_PREFIX));
        assert_eq!(letters[0]["RETRY_ATTEMPTS"], "1");
        assert_eq!(queue.depth().await?, 0);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn ten_fresh_events_in_one_batch_cost_the_guard_two_dynamodb_calls() -> TestResult {
    // Given the batching function whose guard's DynamoDB calls are counted, and ten fresh orders
    let world = FunctionWorld::with_tables(Stores::Moto, record, &[], &[]).await?;
    let (client, calls) = counted_client(&world.moto.sdk);
    let table = create_idempotency_table(&client).await?;
    let guard = IdempotencyGuard::new(
        ChosenStore::new(Backend::Dynamo, client, &table),
        IdempotencyConfig::new(Batching::NAME),
    );
    let consumer: Consumer<Batching> = world.consumer.with_guard(guard);
    let queue = Mapping::new(aws_sdk_sqs::Client::new(&world.moto.sdk), "buffer", 0).await?;
    let bodies = (0..10)
        .map(|n| placed(&format!("ord-{n}")))
        .collect::<TestResult<Vec<_>>>()?;
    queue.send(&bodies).await?;
    calls.reset();

    // When they arrive in one batch
    let received = queue.receive(10).await?;
    let answer = consumer.handle_batch(received.event.clone(), call()).await;

    // Then all ten ran, for one claim transaction and one completion transaction
    assert!(answer.response.batch_item_failures.is_empty());
    assert_eq!(world.deps().runs.load(Ordering::SeqCst), 10);
    assert_eq!(calls.by_operation().get("TransactWriteItems"), Some(&2));
    assert_eq!(calls.total(), 2, "{:?}", calls.by_operation());
    Ok(())
}

#[tokio::test]
async fn a_record_that_holds_the_typed_data_hash_of_an_earlier_release_still_answers_its_redelivery_in_a_batch()
-> TestResult {
    on_every_backend(async |stores| {
        // Given an order completed under the typed-data hash earlier releases wrote, and a fresh one
        let (world, queue, dead_letters) = buffered(stores, 5).await?;
        let earlier = placed("ord-earlier")?;
        let raw = herald::RawEvent::parse(earlier.as_bytes())?;
        let typed = herald::idempotency::Invocation::of(&raw.decode_set::<Placed>()?, None)?;
        assert_ne!(typed.payload_hash, raw.data_digest());
        world
            .consumer
            .guard()
            .run(typed, || async { Ok::<_, HandlerError>("ord-earlier".to_owned()) })
            .await?;
        queue.send(&[earlier, placed("ord-fresh")?]).await?;

        // When both arrive in one batch through this release's consumer
        let received = queue.receive(2).await?;
        let answer = world.consumer.handle_batch(received.event.clone(), call()).await;

        // Then the earlier one is a duplicate, not a mismatch: only the fresh one ran, and
        // nothing is retried or dead-lettered
        let mut outcomes: Vec<&str> = answer.outcomes.iter().map(|o| o.outcome.as_str()).collect();
        outcomes.sort_unstable();
        assert_eq!(outcomes, ["claimed", "duplicate"], "{:?}", answer.outcomes);
        assert_eq!(world.deps().runs.load(Ordering::SeqCst), 1);
        assert!(answer.response.batch_item_failures.is_empty());
        assert!(dead_letters_of(&dead_letters).await?.is_empty());
        Ok(())
    })
    .await
}
