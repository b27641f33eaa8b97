//! What every function gets from the framework, tested once here instead of in every function:
//! a consumer built from its environment as `main.rs` builds it (`Consumer::from_env`) answers a
//! duplicate without running the handler, refuses bad input for good with a typed error naming
//! the event, keeps its state where `HERALD_STORES` says, and names a missing variable at cold
//! start, and its AWS calls time out instead of hanging. Each behaviour runs on both backends
//! (memory, as under `herald dev`, and DynamoDB on moto) with a small function of the test's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald::envelope::EventDetail;
use herald::idempotency::Store as _;
use herald::idempotency::{IdempotencyConfig, IdempotencyGuard, Outcome};
use herald::store::s;
use herald::{Classify, ConfigError, Consumer, ConsumerError, Env, EnvelopeError, Function, IdempotencyKey, RawEvent};
use herald_tests::TestResult;
use herald_tests::aws::unreachable_config;
use herald_tests::fixtures::{HandlerError, event_id_of, fresh_sample, fresh_sample_with};
use herald_tests::world::{FunctionWorld, Stores, on_every_backend, unknown_version, without};
use shop_events::{OrderCancelledV1, OrderPlacedV1};

const PLACED: &str = "shop.orders/OrderPlaced/v1.sample.json";
const CANCELLED: &str = "shop.orders/OrderCancelled/v1.sample.json";

herald::event_set! {
    /// What the counting function consumes.
    #[derive(Debug)]
    pub enum Counted {
        /// A placed order.
        Placed(OrderPlacedV1) from (OrderPlacedV1,),
        /// A cancelled order.
        Cancelled(OrderCancelledV1) from (OrderCancelledV1,),
    }
}

/// A function that counts its handler's runs and answers with the order id.
#[derive(Debug, Default)]
struct Counting {
    runs: Arc<AtomicUsize>,
}

impl Function for Counting {
    const NAME: &'static str = "counting";
    type Event = Counted;
    type Reaction = String;
    type Error = HandlerError;

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self::default())
    }
}

async fn count(deps: &Counting, event: Counted) -> Result<String, HandlerError> {
    deps.runs.fetch_add(1, Ordering::SeqCst);
    Ok(match event {
        Counted::Placed(placed) => placed.data().order_id.clone(),
        Counted::Cancelled(cancelled) => cancelled.data().order_id.clone(),
    })
}

async fn world(stores: Stores) -> TestResult<FunctionWorld<Counting>> {
    FunctionWorld::with_tables(stores, count, &[], &[]).await
}

fn runs(world: &FunctionWorld<Counting>) -> usize {
    world.deps().runs.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_duplicate_delivery_is_answered_from_the_record_without_running_the_handler() -> TestResult {
    on_every_backend(async |stores| {
        // Given an order the function handled
        let world = world(stores).await?;
        let placed = fresh_sample(PLACED)?;
        let first = world.deliver(placed.clone()).await?;

        // When the same event is delivered again
        let second = world.deliver(placed).await?;

        // Then the guard answers with the first result and the handler ran once
        assert_eq!(first.outcome, Outcome::Claimed);
        assert_eq!(second.outcome, Outcome::Duplicate);
        assert_eq!(second.result, first.result);
        assert_eq!(first.result.as_deref(), Some("ord-1001"));
        assert_eq!(runs(&world), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn bad_input_gets_a_typed_non_retryable_error_naming_the_event_and_never_runs_the_handler() -> TestResult {
    on_every_backend(async |stores| {
        let world = world(stores).await?;

        // A version the function does not know
        let v9 = unknown_version(PLACED)?;
        let mut event_ids = vec![event_id_of(&v9)?];
        let error = world.deliver(v9).await.err().ok_or("v9 must fail")?;
        assert!(
            matches!(error, ConsumerError::Envelope(EnvelopeError::UnsupportedVersion { .. })),
            "{error}"
        );
        assert!(!error.is_retryable());

        // A missing field, named by its path and the event's id
        let (no_reason, event_id) = without(CANCELLED, "/detail/data", "reason")?;
        event_ids.push(event_id.clone());
        let error = world.deliver(no_reason).await.err().ok_or("no reason must fail")?;
        assert!(error.to_string().contains("detail.data.reason"), "{error}");
        assert!(error.to_string().contains(&event_id), "{error}");
        assert!(!error.is_retryable());

        // A detail-type the function does not consume
        let contract = fresh_sample("shop.contracts/ContractCancelled/v1.sample.json")?;
        event_ids.push(event_id_of(&contract)?);
        let error = world
            .deliver(contract)
            .await
            .err()
            .ok_or("ContractCancelled must fail")?;
        assert!(
            matches!(error, ConsumerError::Envelope(EnvelopeError::UnknownDetailType { .. })),
            "{error}"
        );
        assert!(!error.is_retryable());
        assert_eq!(error.error_type(), "Envelope.UnknownDetailType");

        // None of them reached the handler, and none left a record (the one of a type it takes
        // was claimed before it was decoded, and its claim released)
        assert_eq!(runs(&world), 0);
        for event_id in &event_ids {
            let key = world.consumer.guard().config().record_key(event_id);
            assert_eq!(world.consumer.guard().store().get(&key).await?, None, "{event_id}");
        }
        Ok(())
    })
    .await
}

/// How often an [`OrderPlacedV1`] was decoded, through [`Tallied`].
static DECODES: AtomicUsize = AtomicUsize::new(0);

/// An [`OrderPlacedV1`] that counts its decodes: [`DECODES`].
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
pub struct Tallied(OrderPlacedV1);

impl<'de> serde::Deserialize<'de> for Tallied {
    fn deserialize<De: serde::Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        DECODES.fetch_add(1, Ordering::SeqCst);
        OrderPlacedV1::deserialize(deserializer).map(Self)
    }
}

impl EventDetail for Tallied {
    const SOURCE: &'static str = OrderPlacedV1::SOURCE;
    const DETAIL_TYPE: &'static str = OrderPlacedV1::DETAIL_TYPE;
    const VERSION: u32 = OrderPlacedV1::VERSION;
}

herald::event_set! {
    /// What the tallying function consumes.
    #[derive(Debug)]
    pub enum TalliedEvents {
        /// A placed order, its decodes counted.
        Placed(Tallied) from (Tallied,),
    }
}

/// A function keyed by event id (the default) that counts its runs and answers with the order id.
#[derive(Debug, Default)]
struct Tallying {
    runs: Arc<AtomicUsize>,
}

impl Function for Tallying {
    const NAME: &'static str = "tallying";
    type Event = TalliedEvents;
    type Reaction = String;
    type Error = HandlerError;

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self::default())
    }
}

async fn tally(deps: &Tallying, event: TalliedEvents) -> Result<String, HandlerError> {
    deps.runs.fetch_add(1, Ordering::SeqCst);
    let TalliedEvents::Placed(placed) = event;
    Ok(placed.data().0.order_id.clone())
}

#[tokio::test]
async fn a_duplicate_the_store_answers_is_never_decoded_and_a_bad_event_leaves_no_claim_behind() -> TestResult {
    on_every_backend(async |stores| {
        // Given a function keyed by event id, its cache off, that handled an order
        let world: FunctionWorld<Tallying> = FunctionWorld::with_tables(stores, tally, &[], &[]).await?;
        let placed = fresh_sample(PLACED)?;
        let first = world.deliver(placed.clone()).await?;
        let decoded = DECODES.load(Ordering::SeqCst);

        // When the same event is delivered again
        let again = world.deliver(placed).await?;

        // Then the store answers it with the first result, and it was not decoded again
        assert_eq!(first.outcome, Outcome::Claimed);
        assert_eq!((again.outcome, again.result), (Outcome::Duplicate, first.result));
        assert_eq!(DECODES.load(Ordering::SeqCst), decoded, "a duplicate is not decoded");

        // And an order whose data does not decode (claimed, then read) is refused on its own
        // error, naming its event, each time it comes: its claim is released, no record is left
        let (no_totals, event_id) = without(PLACED, "/detail/data", "totals")?;
        for delivery in ["first", "second"] {
            let error = world
                .deliver(no_totals.clone())
                .await
                .err()
                .ok_or("an order without totals must fail")?;
            assert!(
                matches!(error, ConsumerError::Envelope(EnvelopeError::InvalidField { .. })),
                "{delivery}: {error}"
            );
            assert!(error.to_string().contains("detail.data.totals"), "{error}");
            assert!(error.to_string().contains(&event_id), "{error}");
            assert!(!error.is_retryable());
        }
        let key = world.consumer.guard().config().record_key(&event_id);
        assert_eq!(world.consumer.guard().store().get(&key).await?, None);
        assert_eq!(world.deps().runs.load(Ordering::SeqCst), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn in_memory_nothing_external_is_called_and_with_dynamodb_chosen_the_same_consumer_calls_out() -> TestResult {
    // Given the same function's environment over an AWS endpoint nothing listens on, once with
    // herald dev's memory stores and once without
    let vars = |stores: Option<&str>| {
        let mut vars = vec![("IDEMPOTENCY_TABLE", "idempotency")];
        vars.extend(stores.map(|s| ("HERALD_STORES", s)));
        Env::from_pairs(unreachable_config(), vars)
    };
    let memory = Consumer::from_env(&vars(Some("memory")), count)?;
    let dynamodb = Consumer::from_env(&vars(None), count)?;

    // When an order arrives at each
    let in_memory = memory.handle(fresh_sample(PLACED)?, None).await;
    let on_dynamodb = dynamodb.handle(fresh_sample(PLACED)?, None).await;

    // Then memory handles it, and DynamoDB fails retryably: the memory tests never call out
    assert_eq!(in_memory?.outcome, Outcome::Claimed);
    let error = on_dynamodb
        .err()
        .ok_or("DynamoDB is unreachable: the delivery must fail")?;
    assert!(error.is_retryable(), "{error}");
    Ok(())
}

#[tokio::test]
async fn two_cold_starts_in_memory_share_nothing() -> TestResult {
    // Given an order handled by one warm process in memory
    let env = Env::from_pairs(
        unreachable_config(),
        [("IDEMPOTENCY_TABLE", "idempotency"), ("HERALD_STORES", "memory")],
    );
    let first = Consumer::from_env(&env, count)?;
    let placed = fresh_sample(PLACED)?;
    first.handle(placed.clone(), None).await?;

    // When another process (a new cold start) gets the same event
    let second = Consumer::from_env(&env, count)?;
    let answer = second.handle(placed.clone(), None).await?;

    // Then it has its own memory and runs it, while the first still answers it without running
    assert_eq!(answer.outcome, Outcome::Claimed);
    let again = first.handle(placed, None).await?.outcome;
    assert!(!again.ran(), "{again:?}");
    Ok(())
}

#[tokio::test]
async fn a_missing_variable_at_cold_start_is_named_with_its_purpose() -> TestResult {
    // Given an environment without the idempotency table
    let env = Env::from_pairs(unreachable_config(), [("HERALD_STORES", "memory")]);

    // When the consumer is built
    let error = Consumer::from_env(&env, count).err().ok_or("the table is required")?;

    // Then the error names the variable and what it is for
    assert_eq!(
        error.to_string(),
        "environment variable IDEMPOTENCY_TABLE must be set (idempotency records)"
    );
    Ok(())
}

#[tokio::test]
async fn a_redelivery_after_the_record_is_gone_runs_the_handler_again() -> TestResult {
    on_every_backend(async |stores| {
        // Given an order the function handled
        let world = world(stores).await?;
        let placed: RawEvent = fresh_sample(PLACED)?;
        world.deliver(placed.clone()).await?;

        // When it comes back after the guard's record is gone
        let late = world.forgetting().await?.handle(placed, None).await?;

        // Then the handler runs again: from here on, only the function's own checks hold
        assert_eq!(late.outcome, Outcome::Claimed);
        assert_eq!(runs(&world), 2);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_aws_call_that_hangs_times_out_and_fails_instead_of_holding_the_invocation() -> TestResult {
    // Given a server that accepts connections and never answers, and the SDK configuration a
    // function loads at cold start, with short timeouts for the test
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            connections.push(socket);
        }
    });
    let env = Env::load(|name: &str| match name {
        "HERALD_SDK_ATTEMPT_TIMEOUT_MS" => Some("200".to_owned()),
        "HERALD_SDK_OPERATION_TIMEOUT_MS" => Some("1000".to_owned()),
        _ => None,
    })
    .await?;
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(env.aws())
            .endpoint_url(format!("http://{address}"))
            .build(),
    );

    // When a call goes to it (the test itself gives up after 30 s: a hang fails it)
    let call = dynamodb.get_item().table_name("hangs").key("id", s("x")).send();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), call).await;

    // Then the SDK gave up by itself with a timeout error, which a store reports as retryable
    held.abort();
    let error = answer
        .map_err(|_| "the call hung: no SDK timeout is set")?
        .err()
        .ok_or("a server that never answers cannot succeed")?;
    assert!(
        matches!(error, aws_sdk_dynamodb::error::SdkError::TimeoutError(_)),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_function_takes_the_credentials_the_environment_holds_as_lambda_sets_them() -> TestResult {
    use aws_sdk_dynamodb::config::ProvideCredentials as _;
    // Given credentials in the process environment, as Lambda puts the function role's there
    // (scripts/test.sh sets them for every test)
    let key = std::env::var("AWS_ACCESS_KEY_ID")?;
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY")?;

    // When a function loads its SDK configuration at cold start
    let env = Env::load(|_: &str| None).await?;

    // Then every call is signed with exactly those
    let provider = env.aws().credentials_provider().ok_or("no credentials provider")?;
    let credentials = provider.provide_credentials().await?;
    assert_eq!(
        (credentials.access_key_id(), credentials.secret_access_key()),
        (key.as_str(), secret.as_str())
    );
    Ok(())
}

#[tokio::test]
async fn a_timeout_setting_that_is_not_a_number_is_named_at_cold_start() -> TestResult {
    // Given an attempt timeout that is not a number of milliseconds
    let loaded = Env::load(|name: &str| (name == "HERALD_SDK_ATTEMPT_TIMEOUT_MS").then(|| "2s".to_owned())).await;

    // When the environment is loaded, then the error names the variable and its value
    let error = loaded.err().ok_or("2s is not a number of milliseconds")?.to_string();
    assert!(
        error.starts_with("environment variable HERALD_SDK_ATTEMPT_TIMEOUT_MS=\"2s\" is not valid"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn a_redrive_for_another_consumer_runs_nothing_and_writes_nothing_and_one_for_this_consumer_runs() -> TestResult {
    on_every_backend(async |stores| {
        // Given the function running as the Lambda function shop-counting
        let world =
            FunctionWorld::with_tables(stores, count, &[], &[("AWS_LAMBDA_FUNCTION_NAME", "shop-counting")]).await?;
        let redriven = |target: Option<&str>| {
            let mut mark = serde_json::json!({"run": "redrive-20261203T100000Z-0a1b", "queue": "q", "attempt": 1});
            if let Some(target) = target {
                mark["target"] = target.into();
            }
            fresh_sample_with(PLACED, &[("/detail/metadata/redrive", mark)])
        };

        // When inventory's dead letter is redriven onto the bus and reaches this function too
        let elsewhere = redriven(Some("shop-inventory"))?;
        let ignored = world.deliver(elsewhere.clone()).await?;

        // Then nothing ran and nothing was recorded: the same event, first delivered now, runs
        assert_eq!(ignored.outcome, Outcome::ForAnotherConsumer);
        assert_eq!(ignored.result, None);
        assert_eq!(runs(&world), 0);
        let mut plain = elsewhere.as_value().clone();
        if let Some(metadata) = plain.pointer_mut("/detail/metadata").and_then(|m| m.as_object_mut()) {
            metadata.remove("redrive");
        }
        assert_eq!(
            world.deliver(RawEvent::from_value(plain)).await?.outcome,
            Outcome::Claimed
        );
        assert_eq!(runs(&world), 1);

        // And a redrive of this function's own dead letter, or one naming no target, runs here
        assert_eq!(
            world.deliver(redriven(Some("shop-counting"))?).await?.outcome,
            Outcome::Claimed
        );
        assert_eq!(world.deliver(redriven(None)?).await?.outcome, Outcome::Claimed);
        assert_eq!(runs(&world), 3);
        Ok(())
    })
    .await
}

/// OrderPlaced v1 as a later deploy might type it: one more field, defaulted, and the rest kept.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct PlacedWithNote {
    order_id: String,
    #[serde(default)]
    gift_note: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

impl herald::EventDetail for PlacedWithNote {
    const SOURCE: &'static str = "shop.orders";
    const DETAIL_TYPE: &'static str = "OrderPlaced";
    const VERSION: u32 = 1;
}

herald::event_set! {
    /// What the redeployed counting function consumes.
    #[derive(Debug)]
    pub enum Noted {
        /// A placed order, typed with its new field.
        Placed(PlacedWithNote) from (PlacedWithNote,),
    }
}

/// The counting function after a deploy that changed its event type (same name, same records).
#[derive(Debug, Default)]
struct Redeployed;

impl Function for Redeployed {
    const NAME: &'static str = "counting";
    type Event = Noted;
    type Reaction = String;
    type Error = HandlerError;

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self)
    }
}

async fn note(_deps: &Redeployed, event: Noted) -> Result<String, HandlerError> {
    let Noted::Placed(placed) = event;
    Ok(placed.data().order_id.clone())
}

#[tokio::test]
async fn a_redelivery_after_a_deploy_that_changed_the_event_type_is_a_duplicate_not_a_mismatch() -> TestResult {
    on_every_backend(async |stores| {
        // Given an order the function completed, and a deploy whose type adds a defaulted field
        let world = world(stores).await?;
        let placed = fresh_sample(PLACED)?;
        world.deliver(placed.clone()).await?;
        let redeployed = Consumer::new(Redeployed, world.consumer.guard().clone(), note);

        // When the same event is delivered to the new code
        let again = redeployed.handle(placed, None).await?;

        // Then it is answered as the duplicate it is: the guard hashes the data as received
        assert_eq!(again.outcome, Outcome::Duplicate);
        assert_eq!(again.result.as_deref(), Some("ord-1001"));
        assert_eq!(runs(&world), 1);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_record_that_holds_the_typed_data_hash_of_an_earlier_release_still_answers_its_redelivery() -> TestResult {
    on_every_backend(async |stores| {
        // Given an event completed under the typed-data hash earlier releases wrote
        let world = world(stores).await?;
        let placed = fresh_sample(PLACED)?;
        let typed = placed.clone().decode_set::<Counted>()?;
        let earlier = herald::idempotency::Invocation::of(&typed, None)?;
        assert_ne!(earlier.payload_hash, placed.data_digest());
        world
            .consumer
            .guard()
            .run(earlier, || async { Ok::<_, HandlerError>("ord-1001".to_owned()) })
            .await?;

        // When it is delivered again through this release's consumer
        let again = world.deliver(placed).await?;

        // Then it is a duplicate, and the handler does not run
        assert_eq!(again.outcome, Outcome::Duplicate);
        assert_eq!(runs(&world), 0);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_delivery_racing_another_that_holds_the_event_is_left_to_it_without_an_error() -> TestResult {
    on_every_backend(async |stores| {
        // Given an invocation that holds an order event and has not finished
        let world = world(stores).await?;
        let placed = fresh_sample(PLACED)?;
        let typed = placed.clone().decode_set::<Counted>()?;
        let deadline = Some(chrono_now_ms() + 30_000);
        let holding = herald::idempotency::Invocation::of(&typed, deadline)?.hashing_raw_data(placed.data_digest());
        let (started, running) = tokio::sync::oneshot::channel::<()>();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let guard = world.consumer.guard().clone();
        let holder = tokio::spawn(async move {
            guard
                .run(holding, || async move {
                    let _ = started.send(());
                    let _ = finished.await;
                    Ok::<_, HandlerError>("ord-1001".to_owned())
                })
                .await
        });
        running.await?;

        // When a duplicate delivery of it arrives meanwhile
        let duplicate = world.deliver(placed.clone()).await;

        // Then it is answered in-progress, not as an error (which would count an invocation
        // error and page), and its handler does not run; the holder completes the event
        assert_eq!(
            duplicate.map(|g| g.outcome).map_err(|e| e.to_string()),
            Ok(Outcome::InProgress)
        );
        assert_eq!(runs(&world), 0);
        let _ = finish.send(());
        assert_eq!(
            holder.await?.map(|g| g.outcome).map_err(|e| e.to_string()),
            Ok(Outcome::Claimed)
        );
        assert_eq!(world.deliver(placed).await?.outcome, Outcome::Duplicate);
        Ok(())
    })
    .await
}

fn chrono_now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default(),
    )
    .unwrap_or(i64::MAX)
}

/// A function keyed by order id (the same order under two event ids is one fact), counting how
/// often its key is derived: the typed event exists only on the decoding path.
#[derive(Debug, Default)]
struct ByOrder {
    runs: Arc<AtomicUsize>,
}

static KEYS_DERIVED: AtomicUsize = AtomicUsize::new(0);

impl Function for ByOrder {
    const NAME: &'static str = "by-order";
    type Event = Counted;
    type Reaction = String;
    type Error = HandlerError;

    fn from_env(_env: &Env) -> Result<Self, ConfigError> {
        Ok(Self::default())
    }

    const IDEMPOTENCY_KEY: IdempotencyKey<Counted> = IdempotencyKey::Derived(|event| {
        KEYS_DERIVED.fetch_add(1, Ordering::SeqCst);
        match event {
            Counted::Placed(placed) => Some(format!("order#{}", placed.data().order_id)),
            Counted::Cancelled(_) => None,
        }
    });
}

async fn count_by_order(deps: &ByOrder, event: Counted) -> Result<String, HandlerError> {
    deps.runs.fetch_add(1, Ordering::SeqCst);
    Ok(match event {
        Counted::Placed(placed) => format!("placed {}", placed.data().order_id),
        Counted::Cancelled(cancelled) => format!("cancelled {}", cancelled.data().order_id),
    })
}

#[tokio::test]
async fn a_warm_duplicate_is_answered_before_it_is_decoded_with_exactly_the_decoding_paths_answer() -> TestResult {
    on_every_backend(async |stores| {
        // Given a warm consumer with its cache on, keyed by order id, that handled an order
        let world: FunctionWorld<ByOrder> = FunctionWorld::with_tables(stores, count_by_order, &[], &[]).await?;
        let guard = IdempotencyGuard::new(
            world.consumer.guard().store().clone(),
            IdempotencyConfig::new(ByOrder::NAME),
        );
        let consumer = world.consumer.with_guard(guard);
        let placed = fresh_sample(PLACED)?;
        let first = consumer.handle(placed.clone(), None).await?;
        let derived = KEYS_DERIVED.load(Ordering::SeqCst);

        // When the same event is delivered again (EventBridge's duplicate, Lambda's retry)
        let again = consumer.handle(placed.clone(), None).await?;

        // Then it is answered from the cache with the first result, without decoding (no key
        // derived) and without running the handler
        assert_eq!(first.outcome, Outcome::Claimed);
        assert_eq!(
            (again.outcome, again.result.as_deref()),
            (Outcome::Cached, Some("placed ord-1001"))
        );
        assert_eq!(KEYS_DERIVED.load(Ordering::SeqCst), derived, "no decode, no key");

        // And what is not the same event takes the decoding path to the answer it always had:
        // the same order re-published under new ids is keyed by order and cached; its replay is
        // decoded (a deliberate re-delivery) and answered from the record; the same event id
        // with other data is refused as a reused id
        let republished = {
            let mut value = placed.as_value().clone();
            for pointer in ["/id", "/detail/metadata/event_id"] {
                if let Some(id) = value.pointer_mut(pointer) {
                    *id = serde_json::Value::from(uuid::Uuid::new_v4().to_string());
                }
            }
            RawEvent::from_value(value)
        };
        let answer = consumer.handle(republished, None).await?;
        assert_eq!(
            (answer.outcome, answer.result.as_deref()),
            (Outcome::Cached, Some("placed ord-1001"))
        );
        let mut replay = placed.as_value().clone();
        replay["replay-name"] = serde_json::Value::from("after-the-fix");
        let answer = consumer.handle(RawEvent::from_value(replay), None).await?;
        assert!(
            matches!(answer.outcome, Outcome::Cached | Outcome::Duplicate),
            "{:?}",
            answer.outcome
        );
        let cancelled = fresh_sample(CANCELLED)?;
        consumer.handle(cancelled.clone(), None).await?;
        let mut reused = cancelled.as_value().clone();
        reused["id"] = serde_json::Value::from(uuid::Uuid::new_v4().to_string());
        reused["detail"]["data"]["reason"] = serde_json::Value::from("fraud_suspected");
        let mismatch = consumer.handle(RawEvent::from_value(reused), None).await;
        assert!(
            matches!(
                mismatch,
                Err(ConsumerError::Guard(
                    herald::idempotency::GuardError::PayloadMismatch { .. }
                ))
            ),
            "{mismatch:?}"
        );
        assert_eq!(
            world.deps().runs.load(Ordering::SeqCst),
            2,
            "the order once, the cancellation once"
        );
        Ok(())
    })
    .await
}
