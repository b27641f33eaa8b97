//! What the function crates' tests set up alike, so each test's `World` keeps only its own
//! stores and `Deps`:
//!
//! - [`Harness`]: moto's SDK configuration and DynamoDB client, fresh tables, and an idempotency
//!   guard on a fresh table with its cache off, so a duplicate is answered from DynamoDB.
//! - [`Bus`]: a fresh bus whose rule sends a function's events to a queue the test reads, the
//!   publishers to it (and to no bus), and what arrived.
//! - [`FunctionWorld`]: a function built as its `main.rs` builds it, over fresh stores of either
//!   [`Stores`] backend, and [`on_every_backend`] to run one test body on both.
//! - [`unknown_version`] and [`without`]: the bad inputs every function must refuse.
//! - [`failure_of`] and [`handler_error`]: the error a delivery must end in, and the handler's
//!   own error inside it.
//! - [`detail_types`], [`the`], [`all_of`] and [`assert_catalogued`]: what a function emitted, and
//!   whether the catalog's schemas allow it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use herald::envelope::Detail;
use herald::envelope::EventSet;
use herald::function::Handler;
use herald::idempotency::{
    ChosenStore, DynamoStore, GuardError, Guarded, IdempotencyConfig, IdempotencyGuard, MemoryStore, Outcome,
    STORES_VARIABLE,
};
use herald::store::{Key, Table};
use herald::{
    Classify, Consumer, ConsumerError, Env, Envelope, EventDetail, Function, Publisher, PublisherConfig, RawEvent,
};

use crate::fixtures::sample_json;

use crate::TestResult;
use crate::aws::{BusToQueue, drain_queue, sdk_config, unique};
use crate::dynamodb::{create_idempotency_table, create_table};
use crate::functions::{FUNCTIONS, TableSpec};

/// How long [`Bus::emitted`] waits for the events a test expects.
const EMITTED_WITHIN: Duration = Duration::from_secs(10);

/// Moto, as one test sees it.
#[derive(Debug, Clone)]
pub struct Harness {
    /// SDK configuration pointed at moto.
    pub sdk: SdkConfig,
    /// DynamoDB on moto.
    pub dynamodb: aws_sdk_dynamodb::Client,
}

impl Harness {
    /// Clients on this test binary's moto server.
    pub async fn new() -> Self {
        let sdk = sdk_config().await;
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sdk,
        }
    }

    /// A fresh table, as [`create_table`] makes it. Returns its name.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn table(&self, prefix: &str, partition_key: &str, sort_key: Option<&str>) -> TestResult<String> {
        create_table(&self.dynamodb, prefix, partition_key, sort_key).await
    }

    /// A fresh, empty [`Table`] with primary key `key` on the `stores` backend: a table created
    /// on moto, or one in this process's memory.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn fresh_table(&self, stores: Stores, key: Key) -> TestResult<Table> {
        Ok(match stores {
            Stores::Memory => Table::memory(unique("memory"), key),
            Stores::Moto => {
                let name = self.table("records", key.partition_key(), key.sort_key()).await?;
                Table::dynamo(self.dynamodb.clone(), name, key)
            }
        })
    }

    /// A guard for `function` on a fresh idempotency table, its cache off: every duplicate is
    /// answered from the table, as a cold start would answer it. A second call forgets the first.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn idempotency_guard(&self, function: &str) -> TestResult<IdempotencyGuard<DynamoStore>> {
        let table = create_idempotency_table(&self.dynamodb).await?;
        Ok(IdempotencyGuard::new(
            DynamoStore::new(self.dynamodb.clone(), table),
            IdempotencyConfig {
                cache_capacity: 0,
                ..IdempotencyConfig::new(function)
            },
        ))
    }

    /// A fresh bus whose rule sends every event to a queue.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn bus_of_everything(&self) -> TestResult<Bus> {
        self.bus_matching(&serde_json::json!({ "source": [{ "exists": true }] }))
            .await
    }

    /// A fresh bus whose rule sends the events of `source` (e.g. `shop.inventory`) to a queue.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn bus(&self, source: &str) -> TestResult<Bus> {
        self.bus_matching(&serde_json::json!({ "source": [source] })).await
    }

    async fn bus_matching(&self, pattern: &serde_json::Value) -> TestResult<Bus> {
        let wiring = BusToQueue::create(&self.sdk, pattern).await?;
        Ok(Bus {
            events: aws_sdk_eventbridge::Client::new(&self.sdk),
            sqs: aws_sdk_sqs::Client::new(&self.sdk),
            sdk: self.sdk.clone(),
            wiring,
        })
    }
}

/// A function's bus on moto, and the queue its rule feeds: what the function published.
#[derive(Debug, Clone)]
pub struct Bus {
    /// The bus and the queue.
    pub wiring: BusToQueue,
    sdk: SdkConfig,
    events: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
}

impl Bus {
    /// The bus's name, as `EVENT_BUS_NAME` gives it.
    pub fn name(&self) -> &str {
        &self.wiring.bus_name
    }

    /// A publisher to this bus, as `main.rs` builds one.
    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.events.clone(), PublisherConfig::for_bus(self.name()))
    }

    /// A publisher to a bus that does not exist, trying once: every publish fails, retryably.
    pub fn broken_publisher(&self) -> Publisher {
        Publisher::new(
            self.events.clone(),
            PublisherConfig {
                max_attempts: 1,
                ..PublisherConfig::for_bus(unique("missing-bus"))
            },
        )
    }

    /// A publisher to this bus over an endpoint that refuses connections, trying once and
    /// without SDK retries: every publish fails at once, retryably.
    pub fn unreachable_publisher(&self) -> Publisher {
        let events = aws_sdk_eventbridge::config::Builder::from(&self.sdk)
            .endpoint_url("http://127.0.0.1:1")
            .retry_config(RetryConfig::disabled())
            .build();
        Publisher::new(
            aws_sdk_eventbridge::Client::from_conf(events),
            PublisherConfig {
                max_attempts: 1,
                ..PublisherConfig::for_bus(self.name())
            },
        )
    }

    /// What reached the queue, as [`drain_queue`] reads it: `expected` events, and any extras.
    ///
    /// # Errors
    /// Any SDK error, or a body that is not JSON.
    pub async fn emitted(&self, expected: usize) -> TestResult<Vec<serde_json::Value>> {
        drain_queue(&self.sqs, &self.wiring.queue_url, expected, EMITTED_WITHIN).await
    }

    /// The one event that reached the queue, decoded as a `D`.
    ///
    /// # Errors
    /// As [`Bus::emitted_as`], or when not exactly one event arrived.
    pub async fn emitted_one<D: EventDetail>(&self) -> TestResult<Envelope<D>> {
        let mut emitted = self.emitted_as::<D>(1).await?;
        match (emitted.len(), emitted.pop()) {
            (1, Some(event)) => Ok(event),
            (count, _) => Err(format!("expected one {} emitted, got {count}", D::DETAIL_TYPE).into()),
        }
    }

    /// [`Bus::emitted`], each decoded as a `D`.
    ///
    /// # Errors
    /// As [`Bus::emitted`], or an event that is not a `D`.
    pub async fn emitted_as<D: EventDetail>(&self, expected: usize) -> TestResult<Vec<Envelope<D>>> {
        self.emitted(expected)
            .await?
            .into_iter()
            .map(|body| Ok(RawEvent::from_value(body).decode::<D>()?))
            .collect()
    }
}

/// Where a function's tests keep its state: the two backends a function runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stores {
    /// Memory inside the process, as under `herald dev` (`HERALD_STORES=memory`): the tables
    /// are named but exist nowhere, so any DynamoDB call would fail.
    Memory,
    /// DynamoDB on moto: every table created fresh for the test.
    Moto,
}

impl fmt::Display for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "in memory",
            Self::Moto => "on moto",
        })
    }
}

/// Runs one test body on every backend, memory first; a failure says which backend failed.
///
/// # Errors
/// The body's first error, prefixed with the backend.
pub async fn on_every_backend(body: impl AsyncFn(Stores) -> TestResult) -> TestResult {
    for stores in [Stores::Memory, Stores::Moto] {
        body(stores).await.map_err(|error| format!("{stores}: {error}"))?;
    }
    Ok(())
}

/// A function as its `main.rs` builds it ([`Consumer::from_env`] over the function's own
/// handler), over fresh stores of either backend and a fresh bus on moto whose rule sends what
/// it publishes to a queue. The guard's cache is off (`IDEMPOTENCY_CACHE_CAPACITY=0`), so a
/// duplicate is answered from the store, as after a cold start.
#[derive(Debug)]
pub struct FunctionWorld<D: Function> {
    /// The consumer: deliver events to it, read its stores through [`Consumer::deps`].
    pub consumer: Consumer<D>,
    /// Where the function publishes (`EVENT_BUS_NAME`), and the queue that receives everything
    /// published to it; a function that publishes nothing leaves the queue empty.
    pub bus: Bus,
    /// Moto's clients.
    pub moto: Harness,
    /// The backend.
    pub stores: Stores,
    /// Every variable the function was given: its tables, the bus, the stores.
    pub env: BTreeMap<String, String>,
}

impl<D: Function> FunctionWorld<D> {
    /// `D` with `handler`, its tables as its declaration lists them ([`FUNCTIONS`]), and
    /// `extra` variables (e.g. a stock seed).
    ///
    /// # Errors
    /// When its code does not accept exactly the event versions its declaration consumes (from
    /// which its rule is generated: every function's tests hold the two together); any SDK error
    /// from moto, or what [`Consumer::from_env`] refuses.
    pub async fn new<H>(stores: Stores, handler: H, extra: &[(&str, &str)]) -> TestResult<Self>
    where
        H: for<'a> Handler<'a, D>,
    {
        let spec = FUNCTIONS.iter().find(|spec| spec.name == D::NAME).ok_or(format!(
            "{} declares no consumer: its Cargo.toml has no package.metadata.herald.consumes",
            D::NAME
        ))?;
        // The declaration generates the function's rule: the code must accept exactly that.
        let accepted: BTreeSet<(&str, &str, u32)> = <D::Event as EventSet>::accepted()
            .iter()
            .flat_map(|a| a.versions.iter().map(move |v| (a.source, a.detail_type, *v)))
            .collect();
        let declared: BTreeSet<(&str, &str, u32)> = spec
            .consumes
            .iter()
            .map(|c| (c.source, c.detail_type, c.version))
            .collect();
        if accepted != declared {
            return Err(format!(
                "{}: its code accepts {accepted:?}, but its declaration consumes {declared:?}",
                D::NAME
            )
            .into());
        }
        Self::with_tables(stores, handler, spec.tables, extra).await
    }

    /// As [`FunctionWorld::new`], for a function of the tests' own with the given `tables`.
    ///
    /// # Errors
    /// Any SDK error from moto, or what [`Consumer::from_env`] refuses.
    pub async fn with_tables<H>(
        stores: Stores,
        handler: H,
        tables: &[TableSpec],
        extra: &[(&str, &str)],
    ) -> TestResult<Self>
    where
        H: for<'a> Handler<'a, D>,
    {
        let moto = Harness::new().await;
        let bus = moto.bus_of_everything().await?;
        let mut env = BTreeMap::from([
            ("EVENT_BUS_NAME".to_owned(), bus.name().to_owned()),
            ("IDEMPOTENCY_CACHE_CAPACITY".to_owned(), "0".to_owned()),
        ]);
        for table in tables {
            let prefix = table.env.trim_end_matches("_TABLE").to_lowercase();
            let name = match stores {
                Stores::Moto => moto.table(&prefix, table.partition_key, table.sort_key).await?,
                Stores::Memory => unique("no-such-table"),
            };
            env.insert(table.env.to_owned(), name);
        }
        let idempotency = match stores {
            Stores::Moto => create_idempotency_table(&moto.dynamodb).await?,
            Stores::Memory => {
                env.insert(STORES_VARIABLE.to_owned(), "memory".to_owned());
                unique("no-such-table")
            }
        };
        env.insert("IDEMPOTENCY_TABLE".to_owned(), idempotency);
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let consumer = Consumer::from_env(&Env::from_pairs(moto.sdk.clone(), env.clone()), handler)?;
        Ok(Self {
            consumer,
            bus,
            moto,
            stores,
            env,
        })
    }

    /// The function's dependencies: its stores, shared with the consumer.
    pub fn deps(&self) -> &D {
        self.consumer.deps()
    }

    /// Delivers one event through the consumer, as the Lambda runtime would (no deadline).
    ///
    /// # Errors
    /// [`ConsumerError`]: the decode error, or the guard's or handler's error.
    pub async fn deliver(&self, raw: RawEvent) -> Result<Guarded<D::Reaction>, ConsumerError<D::Error>> {
        self.consumer.handle(raw, None).await
    }

    /// The error delivering `raw` ends in, as [`failure_of`] reads it.
    ///
    /// # Errors
    /// When the delivery succeeds.
    pub async fn failure_of(&self, raw: RawEvent) -> TestResult<ConsumerError<D::Error>> {
        failure_of(&self.consumer, raw).await
    }

    /// The same function over the same stores, publishing through `publisher` (e.g.
    /// [`Bus::unreachable_publisher`]), which `with_publisher` puts into a copy of its
    /// dependencies: `|deps, publisher| Deps { publisher, ..deps }`.
    pub fn publishing_through(
        &self,
        publisher: Publisher,
        with_publisher: impl FnOnce(D, Publisher) -> D,
    ) -> Consumer<D>
    where
        D: Clone,
    {
        self.consumer.with_deps(with_publisher(self.deps().clone(), publisher))
    }

    /// A retry after a failed publish, as every function that writes and then publishes must
    /// survive it: delivers `raw` through this function publishing to a bus it cannot reach
    /// (`with_publisher` puts that publisher into its dependencies), which must fail retryably,
    /// then delivers it again. Returns the retry's answer, which must have run (`Claimed`), and
    /// the one `E` it published, which must carry the stable id of `raw`'s event
    /// (`Detail::caused_by_stable`, no discriminator): the id the first run would have published.
    ///
    /// # Errors
    /// When any of that does not hold, or moto fails.
    pub async fn retry_after_a_failed_publish<E: EventDetail + Clone>(
        &self,
        raw: RawEvent,
        with_publisher: impl FnOnce(D, Publisher) -> D,
    ) -> TestResult<(Guarded<D::Reaction>, Envelope<E>)>
    where
        D: Clone,
    {
        let unreachable = self.publishing_through(self.bus.unreachable_publisher(), with_publisher);
        let cause = raw.metadata()?;
        let error = failure_of(&unreachable, raw.clone()).await?;
        if !error.is_retryable() {
            return Err(format!("a failed publish must be retryable: {error}").into());
        }
        let retry = self
            .deliver(raw)
            .await
            .map_err(|error| format!("the retry failed: {error}"))?;
        if retry.outcome != Outcome::Claimed {
            return Err(format!("the retry must run, not {:?}", retry.outcome).into());
        }
        let emitted = self.bus.emitted_one::<E>().await?;
        let stable = Detail::caused_by_stable(&cause, "", emitted.data().clone(), D::NAME);
        if emitted.metadata().event_id != stable.metadata.event_id
            || emitted.metadata().causation_id != Some(cause.event_id)
        {
            return Err(format!(
                "{} is not the stable event of {}",
                emitted.metadata().event_id,
                cause.event_id
            )
            .into());
        }
        Ok((retry, emitted))
    }

    /// Delivers a fresh copy of the catalogued sample at `relative` (as
    /// [`fresh_sample`](crate::fixtures::fresh_sample) makes it) and returns it, for a test
    /// that delivers the same event again later.
    ///
    /// # Errors
    /// When the sample cannot be read, or the delivery fails.
    pub async fn delivered(&self, relative: &str) -> TestResult<RawEvent> {
        let raw = crate::fixtures::fresh_sample(relative)?;
        self.deliver(raw.clone())
            .await
            .map_err(|error| format!("{relative}: {error}"))?;
        Ok(raw)
    }

    /// Delivers `raw` to [`FunctionWorld::forgetting`]: a redelivery after the guard's record
    /// expired, so the handler runs again.
    ///
    /// # Errors
    /// Any SDK error from moto, or the consumer's error, as text.
    pub async fn deliver_after_the_guard_forgot(&self, raw: RawEvent) -> TestResult<Guarded<D::Reaction>> {
        let forgetting = self.forgetting().await?;
        Ok(forgetting.handle(raw, None).await.map_err(|error| format!("{error}"))?)
    }

    /// The same function after its guard forgot every record (a fresh store of the backend): a
    /// redelivery after the record expired, or in a warm process that never saw the event.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn forgetting(&self) -> TestResult<Consumer<D>> {
        let store = match self.stores {
            Stores::Moto => ChosenStore::Dynamo(DynamoStore::new(
                self.moto.dynamodb.clone(),
                create_idempotency_table(&self.moto.dynamodb).await?,
            )),
            Stores::Memory => ChosenStore::Memory(MemoryStore::new()),
        };
        Ok(self
            .consumer
            .with_guard(IdempotencyGuard::new(store, self.consumer.guard().config().clone())))
    }
}

/// The error `consumer` answers to `raw`, which must fail: delivered as the Lambda runtime would
/// (no deadline).
///
/// # Errors
/// When the delivery succeeds, naming the event and what the consumer answered.
pub async fn failure_of<D: Function>(consumer: &Consumer<D>, raw: RawEvent) -> TestResult<ConsumerError<D::Error>> {
    let event = format!("{} ({})", raw.detail_type().unwrap_or("an event"), raw.ids());
    match consumer.handle(raw, None).await {
        Err(error) => Ok(error),
        Ok(answer) => Err(format!(
            "{event} must fail, but {} answered {:?} {}",
            D::NAME,
            answer.outcome,
            serde_json::to_string(&answer.result)?
        )
        .into()),
    }
}

/// The handler's own error, when the guard ran the handler and it failed; `None` for a decode or
/// guard error.
pub fn handler_error<E>(error: &ConsumerError<E>) -> Option<&E> {
    match error {
        ConsumerError::Guard(GuardError::Handler(error)) => Some(error),
        _ => None,
    }
}

/// A catalogued sample, e.g. `shop.orders/OrderPlaced/v1.sample.json`, at `schema_version` 9,
/// which no consumer knows.
///
/// # Errors
/// When the sample cannot be read.
pub fn unknown_version(relative: &str) -> TestResult<RawEvent> {
    let mut value = sample_json(relative)?;
    value["detail"]["metadata"]["schema_version"] = serde_json::json!(9);
    Ok(RawEvent::from_value(value))
}

/// A catalogued sample without `field` of the object at `pointer` (e.g. `/detail/data`), and the
/// `event_id` it carries, which the decode error must name.
///
/// # Errors
/// When the sample cannot be read.
pub fn without(relative: &str, pointer: &str, field: &str) -> TestResult<(RawEvent, String)> {
    let mut value = sample_json(relative)?;
    if let Some(object) = value.pointer_mut(pointer).and_then(|o| o.as_object_mut()) {
        object.remove(field);
    }
    let event_id = value["detail"]["metadata"]["event_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok((RawEvent::from_value(value), event_id))
}

/// The detail-types that arrived, sorted: the queue does not promise an order.
pub fn detail_types(emitted: &[serde_json::Value]) -> Vec<&str> {
    let mut types: Vec<&str> = emitted.iter().filter_map(|e| e["detail-type"].as_str()).collect();
    types.sort_unstable();
    types
}

/// The one emitted event of this detail-type, decoded.
///
/// # Errors
/// When none arrived, or it is not a `D`.
pub fn the<D: EventDetail>(emitted: &[serde_json::Value]) -> TestResult<Envelope<D>> {
    let raw = emitted
        .iter()
        .find(|e| e["detail-type"] == D::DETAIL_TYPE)
        .ok_or(format!("no {} emitted", D::DETAIL_TYPE))?;
    Ok(RawEvent::from_value(raw.clone()).decode::<D>()?)
}

/// Every emitted event of this detail-type, decoded, in the order of `key`.
///
/// # Errors
/// When one of them is not a `D`.
pub fn all_of<D: EventDetail>(emitted: &[serde_json::Value], key: impl Fn(&D) -> &str) -> TestResult<Vec<Envelope<D>>> {
    let mut events = emitted
        .iter()
        .filter(|e| e["detail-type"] == D::DETAIL_TYPE)
        .map(|e| RawEvent::from_value(e.clone()).decode::<D>())
        .collect::<Result<Vec<_>, _>>()?;
    events.sort_by(|a, b| key(a.data()).cmp(key(b.data())));
    Ok(events)
}

/// Fails unless the detail of every emitted event validates against its version's schema in the
/// catalog (`events/<source>/<DetailType>/v<N>.schema.json`, formats checked).
///
/// # Errors
/// An event without a source, detail-type or `schema_version`, or a schema that cannot be read.
pub fn assert_catalogued(emitted: &[serde_json::Value]) -> TestResult {
    for event in emitted {
        let source = event["source"].as_str().ok_or("no source")?;
        let detail_type = event["detail-type"].as_str().ok_or("no detail-type")?;
        let version = event["detail"]["metadata"]["schema_version"]
            .as_u64()
            .ok_or("no schema_version")?;
        let schema = sample_json(&format!("{source}/{detail_type}/v{version}.schema.json"))?;
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)?;
        let errors: Vec<String> = validator
            .iter_errors(&event["detail"])
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{detail_type}: {errors:?}");
    }
    Ok(())
}
