//! Dead-letter queue redrive against moto server: dead letters as EventBridge and Lambda write
//! them, a bus whose rule feeds a queue the tests read, and a real consumer with its idempotency
//! records in DynamoDB.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald::envelope::Detail;
use herald::idempotency::{ChosenStore, DynamoStore, GuardError, IdempotencyConfig, IdempotencyGuard, Outcome};
use herald::{ConfigError, Consumer, ConsumerError, Env, Envelope, Function, RawEvent};
use herald_ops::redrive::{LeftReason, RedriveConfig, RedriveReport, Redriver};
use herald_tests::TestResult;
use herald_tests::aws::{BusToQueue, drain_queue, sdk_config, unique};
use herald_tests::dead_letters;
use herald_tests::dynamodb::create_idempotency_table;
use herald_tests::fixtures::HandlerError;
use serde_json::{Value, json};
use shop_events::{CancelReason, OrderCancelledV1, ShopEvent};
use uuid::Uuid;

const ACCOUNT: &str = "123456789012";
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:shop-inventory:$LATEST";

/// The clients, a dead-letter queue, and a bus whose one rule sends shop.orders events to a queue.
struct Setup {
    sqs: aws_sdk_sqs::Client,
    redriver: Redriver,
    dlq_url: String,
    dlq_name: String,
    bus: BusToQueue,
}

impl Setup {
    async fn new() -> TestResult<Self> {
        let config = sdk_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let dlq_name = unique("dlq");
        let dlq_url = sqs
            .create_queue()
            .queue_name(&dlq_name)
            .send()
            .await?
            .queue_url()
            .ok_or("CreateQueue returned no URL")?
            .to_owned();
        let bus = BusToQueue::create(&config, &json!({"source": ["shop.orders"]})).await?;
        let redriver = Redriver::new(sqs.clone(), aws_sdk_eventbridge::Client::new(&config));
        Ok(Self {
            sqs,
            redriver,
            dlq_url,
            dlq_name,
            bus,
        })
    }

    fn rule_arn(&self, rule: &str) -> String {
        dead_letters::rule_arn(&self.bus.bus_name, rule)
    }

    fn config(&self) -> RedriveConfig {
        RedriveConfig::new(&self.dlq_url)
    }

    async fn redrive(&self, config: RedriveConfig) -> TestResult<RedriveReport> {
        let report = self.redriver.run(&config).await?;
        println!("{report}");
        Ok(report)
    }

    /// Puts an event into the dead-letter queue as EventBridge does when a rule's target failed.
    async fn dead_letter_from_rule(&self, event: &Value, rule: &str, code: &str, message: &str) -> TestResult {
        dead_letters::dead_letter_from_rule(&self.sqs, &self.dlq_url, event, &self.rule_arn(rule), code, message).await
    }

    /// Puts a body into the dead-letter queue without attributes (Lambda destinations set none).
    async fn dead_letter_body(&self, body: &str) -> TestResult {
        self.sqs
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(body)
            .send()
            .await?;
        Ok(())
    }

    /// Messages in the dead-letter queue: (visible, in flight).
    async fn dlq_depth(&self) -> TestResult<(usize, usize)> {
        dead_letters::queue_depth(&self.sqs, &self.dlq_url).await
    }

    /// The events the bus delivered to its queue.
    async fn delivered(&self, expected: usize) -> TestResult<Vec<Value>> {
        drain_queue(&self.sqs, &self.bus.queue_url, expected, Duration::from_secs(10)).await
    }
}

/// An OrderCancelled event as a target receives it from EventBridge.
fn cancellation(order_id: &str) -> TestResult<(Uuid, Value)> {
    let detail = Detail::new(
        OrderCancelledV1 {
            order_id: order_id.to_owned(),
            customer_id: "cus-42".into(),
            reason: CancelReason::CustomerRequest,
        },
        "order-service",
    );
    let event_id = detail.metadata.event_id;
    let envelope = Envelope {
        version: "0".into(),
        id: Uuid::new_v4().to_string(),
        detail_type: "OrderCancelled".into(),
        source: "shop.orders".into(),
        account: Some(ACCOUNT.into()),
        time: detail.metadata.occurred_at,
        region: "us-east-1".into(),
        resources: Vec::new(),
        replay_name: None,
        detail,
    };
    Ok((event_id, serde_json::to_value(envelope)?))
}

/// Lambda's record of an asynchronous invocation with `event` whose retries were exhausted.
fn invocation_record(event: &Value) -> Value {
    json!({
        "version": "1.0",
        "timestamp": "2026-11-23T05:30:00.000Z",
        "requestContext": {
            "requestId": Uuid::new_v4(),
            "functionArn": FUNCTION_ARN,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Inventory.Store", "errorMessage": "reservations table not found"}
    })
}

fn event_id_of(event: &Value) -> TestResult<Uuid> {
    let text = event
        .pointer("/detail/metadata/event_id")
        .and_then(Value::as_str)
        .ok_or("no detail.metadata.event_id")?;
    Ok(text.parse()?)
}

#[tokio::test]
async fn a_dead_letter_queue_goes_back_on_its_bus_except_the_event_eventbridge_rejects() -> TestResult {
    // Given 25 dead letters of two errors, one of them an event EventBridge rejects (empty detail-type)
    let setup = Setup::new().await?;
    let mut good = BTreeSet::new();
    let mut bad = None;
    for i in 0..25 {
        let (event_id, mut event) = cancellation(&format!("ord-{}", 7000 + i))?;
        if i == 12 {
            event["detail-type"] = json!("");
            bad = Some(event_id);
        } else {
            good.insert(event_id);
        }
        let (code, message) = if i % 5 == 0 {
            ("THROTTLING", "Lambda throttled the invocation")
        } else {
            ("SDK_CLIENT_ERROR", "Unable to invoke Lambda function")
        };
        setup.dead_letter_from_rule(&event, "inventory", code, message).await?;
    }
    let bad = bad.ok_or("no rejected event")?;

    // When a dry run looks at the queue
    let dry = setup
        .redrive(RedriveConfig {
            dry_run: true,
            ..setup.config()
        })
        .await?;

    // Then it summarises everything by rule and error and changes nothing
    assert!(dry.dry_run);
    assert_eq!(dry.received, 25);
    assert_eq!(dry.planned.len(), 25);
    assert_eq!((dry.redriven, dry.deleted), (0, 0));
    let groups: Vec<(&str, &str, usize)> = dry
        .groups
        .iter()
        .map(|g| (g.origin.as_str(), g.error.code.as_str(), g.count))
        .collect();
    let rule = setup.rule_arn("inventory");
    assert_eq!(
        groups,
        vec![
            (rule.as_str(), "SDK_CLIENT_ERROR", 20),
            (rule.as_str(), "THROTTLING", 5)
        ]
    );
    assert_eq!(
        setup.dlq_depth().await?,
        (25, 0),
        "every message is still there, visible"
    );
    assert!(setup.delivered(0).await?.is_empty(), "nothing was sent");

    // When the queue is redriven
    let report = setup.redrive(setup.config()).await?;

    // Then 24 events reach the bus, with their event_id and this run's mark, and only the rejected one stays
    assert_eq!((report.received, report.redriven, report.deleted), (25, 24, 24));
    assert_eq!(report.left.len(), 1);
    assert_eq!(report.left[0].event_id, Some(bad));
    assert!(
        matches!(&report.left[0].reason, LeftReason::Rejected { code, .. } if code == "InvalidArgument"),
        "{:?}",
        report.left[0].reason
    );
    let delivered = setup.delivered(24).await?;
    assert_eq!(delivered.len(), 24);
    let ids: BTreeSet<Uuid> = delivered.iter().map(event_id_of).collect::<TestResult<_>>()?;
    assert_eq!(ids, good);
    for event in &delivered {
        assert_eq!(
            event.pointer("/detail/metadata/redrive"),
            Some(&json!({"run": report.run, "queue": setup.dlq_name, "attempt": 1, "target": "inventory"}))
        );
    }
    assert_eq!(
        setup.dlq_depth().await?,
        (1, 0),
        "the rejected message is visible again"
    );

    // When it is run again
    let again = setup.redrive(setup.config()).await?;

    // Then nothing more is delivered and the rejected message is still there
    assert_eq!((again.received, again.redriven, again.deleted), (1, 0, 0));
    assert_eq!(again.left.len(), 1);
    assert!(setup.delivered(0).await?.is_empty());
    assert_eq!(setup.dlq_depth().await?, (1, 0));
    Ok(())
}

/// How often the test consumer's handler ran, by order id.
type Runs = Arc<Mutex<BTreeMap<String, usize>>>;

fn runs_of(runs: &Runs, order_id: &str) -> usize {
    runs.lock().map(|r| r.get(order_id).copied().unwrap_or(0)).unwrap_or(0)
}

/// A consumer standing in for inventory: counts its runs per order, and fails for good on
/// `ord-fail` the first time.
struct Releasing {
    runs: Runs,
}

impl Function for Releasing {
    const NAME: &'static str = "inventory";
    type Event = ShopEvent;
    type Reaction = String;
    type Error = HandlerError;

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { runs: Runs::default() })
    }
}

async fn release(deps: &Releasing, event: ShopEvent) -> Result<String, HandlerError> {
    let ShopEvent::OrderCancelledV1(cancelled) = event else {
        return Ok(String::from("not a cancellation"));
    };
    let order_id = cancelled.detail.data.order_id;
    let run = deps
        .runs
        .lock()
        .map(|mut r| {
            let count = r.entry(order_id.clone()).or_default();
            *count += 1;
            *count
        })
        .unwrap_or(0);
    if order_id == "ord-fail" && run == 1 {
        Err(HandlerError::Permanent)
    } else {
        Ok(format!("released stock of {order_id}, run {run}"))
    }
}

#[tokio::test]
async fn a_redrive_reruns_the_failed_event_but_not_the_completed_one_and_a_reprocess_reruns_both() -> TestResult {
    // Given a consumer on DynamoDB whose handler fails for good on ord-fail the first time
    let setup = Setup::new().await?;
    let config = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = create_idempotency_table(&dynamodb).await?;
    let guard = IdempotencyGuard::new(
        ChosenStore::Dynamo(DynamoStore::new(dynamodb, table)),
        IdempotencyConfig {
            cache_capacity: 0,
            ..IdempotencyConfig::new(Releasing::NAME)
        },
    );
    let runs: Runs = Arc::default();
    let consumer = Consumer::new(Releasing { runs: runs.clone() }, guard, release);
    let deadline = || Some(chrono::Utc::now().timestamp_millis() + 30_000);
    let handle = |event: Value| consumer.handle(RawEvent::from_value(event), deadline());

    // … which failed one event for good and completed another
    let (failed_id, failed) = cancellation("ord-fail")?;
    let (completed_id, completed) = cancellation("ord-ok")?;
    let first = handle(failed.clone()).await;
    assert!(matches!(
        first,
        Err(ConsumerError::Guard(GuardError::Handler(HandlerError::Permanent)))
    ));
    assert_eq!(handle(completed.clone()).await?.outcome, Outcome::Claimed);
    assert!(
        handle(failed.clone()).await.is_err(),
        "a plain redelivery does not run a FAILED event"
    );
    assert_eq!((runs_of(&runs, "ord-fail"), runs_of(&runs, "ord-ok")), (1, 1));

    // When both are in the dead-letter queue and are redriven
    for event in [&failed, &completed] {
        setup
            .dead_letter_from_rule(
                event,
                "inventory",
                "SDK_CLIENT_ERROR",
                "Unable to invoke Lambda function",
            )
            .await?;
    }
    let report = setup.redrive(setup.config()).await?;
    assert_eq!((report.redriven, report.deleted), (2, 2));

    // Then the consumer runs the failed one again and answers the completed one from its record
    let mut outcomes = BTreeMap::new();
    for event in setup.delivered(2).await? {
        outcomes.insert(event_id_of(&event)?, handle(event).await?.outcome);
    }
    assert_eq!(outcomes.get(&failed_id), Some(&Outcome::Reprocessed));
    assert_eq!(outcomes.get(&completed_id), Some(&Outcome::Duplicate));
    assert_eq!((runs_of(&runs, "ord-fail"), runs_of(&runs, "ord-ok")), (2, 1));

    // When both land in the queue again and a reprocess redrive sends them
    for event in [&failed, &completed] {
        setup
            .dead_letter_from_rule(
                event,
                "inventory",
                "SDK_CLIENT_ERROR",
                "Unable to invoke Lambda function",
            )
            .await?;
    }
    let reprocess = setup
        .redrive(RedriveConfig {
            reprocess: true,
            ..setup.config()
        })
        .await?;
    assert_eq!(reprocess.redriven, 2);
    let delivered = setup.delivered(2).await?;
    for event in &delivered {
        assert_eq!(event.pointer("/detail/metadata/redrive/reprocess"), Some(&json!(true)));
    }

    // Then each completed event runs once more, and only once per run
    for event in &delivered {
        assert_eq!(handle(event.clone()).await?.outcome, Outcome::Claimed);
    }
    for event in &delivered {
        assert_eq!(handle(event.clone()).await?.outcome, Outcome::Duplicate);
    }
    assert_eq!((runs_of(&runs, "ord-fail"), runs_of(&runs, "ord-ok")), (3, 2));
    Ok(())
}

#[tokio::test]
async fn a_lambda_on_failure_record_is_redriven_to_the_given_bus_and_an_unreadable_body_stays() -> TestResult {
    // Given two Lambda on-failure records of one function and error, and a body that is no event
    let setup = Setup::new().await?;
    let mut ids = BTreeSet::new();
    for order in ["ord-8001", "ord-8002"] {
        let (event_id, event) = cancellation(order)?;
        ids.insert(event_id);
        setup.dead_letter_body(&invocation_record(&event).to_string()).await?;
    }
    setup.dead_letter_body("order ord-8003 could not be cancelled").await?;

    // When the queue is redriven without a bus
    let without_bus = setup.redrive(setup.config()).await?;

    // Then nothing is sent, the records wait for --bus and the body is reported unreadable
    assert_eq!(
        (without_bus.received, without_bus.redriven, without_bus.deleted),
        (3, 0, 0)
    );
    let reasons: Vec<&LeftReason> = without_bus.left.iter().map(|l| &l.reason).collect();
    assert_eq!(reasons.iter().filter(|r| ***r == LeftReason::NoBus).count(), 2);
    assert_eq!(
        reasons
            .iter()
            .filter(|r| matches!(r, LeftReason::Unreadable(_)))
            .count(),
        1
    );
    assert!(without_bus.to_string().contains("pass --bus"));
    let record_group = without_bus
        .groups
        .iter()
        .find(|g| g.origin == FUNCTION_ARN)
        .ok_or("no group for the function")?;
    assert_eq!(
        (record_group.error.code.as_str(), record_group.count),
        ("Inventory.Store", 2)
    );
    assert!(setup.delivered(0).await?.is_empty());
    assert_eq!(setup.dlq_depth().await?, (3, 0));

    // When it is redriven with the bus
    let with_bus = setup
        .redrive(RedriveConfig {
            default_bus: Some(setup.bus.bus_name.clone()),
            ..setup.config()
        })
        .await?;

    // Then both events reach the bus, marked, and only the unreadable body stays
    assert_eq!((with_bus.redriven, with_bus.deleted), (2, 2));
    let delivered = setup.delivered(2).await?;
    let delivered_ids: BTreeSet<Uuid> = delivered.iter().map(event_id_of).collect::<TestResult<_>>()?;
    assert_eq!(delivered_ids, ids);
    assert!(
        delivered
            .iter()
            .all(|e| e.pointer("/detail/metadata/redrive/run") == Some(&json!(with_bus.run)))
    );
    assert_eq!(with_bus.left.len(), 1);
    assert!(matches!(with_bus.left[0].reason, LeftReason::Unreadable(_)));
    assert_eq!(setup.dlq_depth().await?, (1, 0));
    Ok(())
}

#[tokio::test]
async fn two_dead_letters_of_one_event_are_sent_once_and_both_deleted() -> TestResult {
    // Given one event whose delivery failed for two rules with the same dead-letter queue
    let setup = Setup::new().await?;
    let (event_id, event) = cancellation("ord-9001")?;
    setup
        .dead_letter_from_rule(
            &event,
            "inventory",
            "SDK_CLIENT_ERROR",
            "Unable to invoke Lambda function",
        )
        .await?;
    setup
        .dead_letter_from_rule(
            &event,
            "notifications",
            "SDK_CLIENT_ERROR",
            "Unable to invoke Lambda function",
        )
        .await?;

    // When the queue is redriven
    let report = setup.redrive(setup.config()).await?;

    // Then the event is sent once and both messages are gone
    assert_eq!((report.received, report.redriven, report.deleted), (2, 1, 2));
    let delivered = setup.delivered(1).await?;
    assert_eq!(delivered.len(), 1);
    assert_eq!(event_id_of(&delivered[0])?, event_id);
    assert_eq!(setup.dlq_depth().await?, (0, 0));
    Ok(())
}

#[tokio::test]
async fn two_dead_letters_of_one_event_id_with_different_data_are_both_sent() -> TestResult {
    // Given two dead letters that carry one event id, the second with another reason (a producer
    // that reused an id)
    let setup = Setup::new().await?;
    let (event_id, event) = cancellation("ord-9001")?;
    let mut other = event.clone();
    other["detail"]["data"]["reason"] = "payment_failed".into();
    for (body, rule) in [(&event, "inventory"), (&other, "notifications")] {
        setup
            .dead_letter_from_rule(body, rule, "SDK_CLIENT_ERROR", "Unable to invoke Lambda function")
            .await?;
    }

    // When the queue is redriven
    let report = setup.redrive(setup.config()).await?;

    // Then both are sent, neither deleted unsent: the consumer's guard is the one to refuse
    // the second as a payload mismatch
    assert_eq!((report.received, report.redriven, report.deleted), (2, 2, 2));
    let delivered = setup.delivered(2).await?;
    let reasons: std::collections::BTreeSet<String> = delivered
        .iter()
        .map(|event| event["detail"]["data"]["reason"].to_string())
        .collect();
    assert_eq!(reasons.len(), 2, "{delivered:?}");
    for event in &delivered {
        assert_eq!(event_id_of(event)?, event_id);
    }
    Ok(())
}

#[tokio::test]
async fn a_failure_that_never_heals_is_redriven_three_times_to_its_own_consumer_then_parked_with_its_reason()
-> TestResult {
    // Given inventory's dead letter of an event that fails every time it runs
    let setup = Setup::new().await?;
    let (event_id, event) = cancellation("ord-9001")?;
    setup.dead_letter_body(&invocation_record(&event).to_string()).await?;
    let config = RedriveConfig {
        default_bus: Some(setup.bus.bus_name.clone()),
        ..setup.config()
    };

    // When three recoveries each redrive the queue, and the event fails again after each
    for attempt in 1..=3 {
        let report = setup.redrive(config.clone()).await?;

        // Then each sends it once, counted, for inventory only (every other consumer ignores it)
        assert_eq!((report.redriven, report.deleted), (1, 1), "redrive {attempt}");
        let delivered = setup.delivered(1).await?;
        assert_eq!(delivered.len(), 1, "redrive {attempt}");
        assert_eq!(event_id_of(&delivered[0])?, event_id);
        assert_eq!(
            delivered[0].pointer("/detail/metadata/redrive/attempt"),
            Some(&json!(attempt))
        );
        assert_eq!(
            delivered[0].pointer("/detail/metadata/redrive/target"),
            Some(&json!("shop-inventory"))
        );
        setup
            .dead_letter_body(&invocation_record(&delivered[0]).to_string())
            .await?;
    }

    // When a fourth recovery redrives the queue
    let fourth = setup.redrive(config).await?;

    // Then the event is parked: not sent, left in the queue (whose alarm keeps paging), with why
    assert_eq!((fourth.received, fourth.redriven, fourth.deleted), (1, 0, 0));
    assert_eq!(fourth.left.len(), 1);
    assert_eq!(fourth.left[0].reason, LeftReason::Parked { attempts: 3, limit: 3 });
    assert!(fourth.to_string().contains("parked: redriven 3 times"), "{fourth}");
    assert!(setup.delivered(0).await?.is_empty());
    assert_eq!(setup.dlq_depth().await?, (1, 0));
    Ok(())
}

#[tokio::test]
async fn a_dead_letter_from_inventorys_queue_redriven_onto_the_bus_runs_in_inventory_only() -> TestResult {
    // Given two consumers of the bus, running as the Lambda functions inventory and billing
    let setup = Setup::new().await?;
    let config = sdk_config().await;
    let consumer_as = |function: &str| {
        let env = Env::from_pairs(
            config.clone(),
            [
                ("HERALD_STORES", "memory"),
                ("IDEMPOTENCY_TABLE", "idempotency"),
                ("AWS_LAMBDA_FUNCTION_NAME", function),
            ],
        );
        Consumer::<Releasing>::from_env(&env, release)
    };
    let (inventory, billing) = (consumer_as("inventory")?, consumer_as("billing")?);

    // When an event that failed in inventory (its rule's target) is redriven onto the bus
    let (event_id, event) = cancellation("ord-5005")?;
    setup
        .dead_letter_from_rule(
            &event,
            "inventory",
            "SDK_CLIENT_ERROR",
            "Unable to invoke Lambda function",
        )
        .await?;
    assert_eq!(setup.redrive(setup.config()).await?.redriven, 1);
    let delivered = setup.delivered(1).await?;
    assert_eq!(event_id_of(&delivered[0])?, event_id);

    // Then inventory runs it, and billing, which the bus delivers it to as well, runs nothing
    let raw = || RawEvent::from_value(delivered[0].clone());
    assert_eq!(inventory.handle(raw(), None).await?.outcome, Outcome::Claimed);
    assert_eq!(billing.handle(raw(), None).await?.outcome, Outcome::ForAnotherConsumer);
    assert_eq!(runs_of(&inventory.deps().runs, "ord-5005"), 1);
    assert_eq!(runs_of(&billing.deps().runs, "ord-5005"), 0);
    Ok(())
}

#[tokio::test]
async fn a_recovery_redrives_only_failures_that_may_succeed_later_and_a_person_can_send_the_rest() -> TestResult {
    // Given a timeout's dead letter and a refusal the function called not retryable
    let setup = Setup::new().await?;
    let (timed_out_id, timed_out) = cancellation("ord-6001")?;
    let (refused_id, refused) = cancellation("ord-6002")?;
    setup
        .dead_letter_body(&invocation_record(&timed_out).to_string())
        .await?;
    let mut record = invocation_record(&refused);
    record["responsePayload"] = json!({
        "errorType": "Inventory.QuantityOverflow",
        "errorMessage": format!("{}order ord-6002: SKU-1's lines overflow a count", herald::consumer::NOT_RETRYABLE_PREFIX)
    });
    setup.dead_letter_body(&record.to_string()).await?;
    let with_bus = RedriveConfig {
        default_bus: Some(setup.bus.bus_name.clone()),
        ..setup.config()
    };

    // When the automatic redrive (only retryable failures) runs after a recovery
    let automatic = setup
        .redrive(RedriveConfig {
            only_retryable: true,
            ..with_bus.clone()
        })
        .await?;

    // Then the timeout's event is sent and the refusal stays, saying why
    assert_eq!((automatic.redriven, automatic.deleted), (1, 1));
    assert_eq!(event_id_of(&setup.delivered(1).await?[0])?, timed_out_id);
    assert_eq!(automatic.left.len(), 1);
    assert_eq!(automatic.left[0].event_id, Some(refused_id));
    assert_eq!(
        automatic.left[0].reason,
        LeftReason::NotRetryable("Inventory.QuantityOverflow".to_owned())
    );

    // When a person redrives the queue after fixing the cause
    let by_hand = setup.redrive(with_bus).await?;

    // Then the refusal's event is sent too
    assert_eq!((by_hand.redriven, by_hand.deleted), (1, 1));
    assert_eq!(event_id_of(&setup.delivered(1).await?[0])?, refused_id);
    assert_eq!(setup.dlq_depth().await?, (0, 0));
    Ok(())
}
