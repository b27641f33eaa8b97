//! What the function crates' tests set up alike, so each test's `World` keeps only its own
//! stores and `Deps`:
//!
//! - [`Harness`]: moto's SDK configuration and DynamoDB client, fresh tables, and an idempotency
//!   guard on a fresh table with its cache off, so a duplicate is answered from DynamoDB.
//! - [`Bus`]: a fresh bus whose rule sends a function's events to a queue the test reads, the
//!   publishers to it (and to no bus), and what arrived.
//! - [`Dev`]: the environment `herald dev` gives a function: tables nobody created, memory stores.
//! - [`deliver`]: one event through a consumer built as `main.rs` builds it.
//! - [`unknown_version`] and [`without`]: the bad inputs every function must refuse.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use herald::envelope::EventSet;
use herald::idempotency::{
    Backend, ChosenStore, DynamoStore, Guarded, GuardedEvent, IdempotencyConfig, IdempotencyGuard, STORES_VARIABLE,
    Store,
};
use herald::{Classify, Consumer, ConsumerError, Envelope, EventDetail, Publisher, PublisherConfig, RawEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::TestResult;
use crate::aws::{BusToQueue, drain_queue, sdk_config, unique, unreachable_config};
use crate::dynamodb::{create_idempotency_table, create_table};
use crate::fixtures::sample_json;

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

    /// A fresh bus whose rule sends the events of `source` (e.g. `shop.inventory`) to a queue.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn bus(&self, source: &str) -> TestResult<Bus> {
        let wiring = BusToQueue::create(&self.sdk, &serde_json::json!({ "source": [source] })).await?;
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

/// The environment `herald dev` gives a function (`HERALD_STORES=memory`, its `tables` named
/// but created nowhere, so any DynamoDB call would fail), with a fresh bus on moto, and the
/// function's configuration read from it.
#[derive(Debug, Clone)]
pub struct Dev<C> {
    /// SDK configuration pointed at moto: only the bus is called.
    pub sdk: SdkConfig,
    /// The bus the function publishes to.
    pub bus: Bus,
    /// The function's configuration.
    pub config: C,
}

impl<C> Dev<C> {
    /// Reads the function's configuration with `read` (its `Config::from_lookup`) from
    /// `herald dev`'s environment: every one of `tables` and `IDEMPOTENCY_TABLE` named after
    /// no table, `EVENT_BUS_NAME` the bus of `source`, and memory stores.
    ///
    /// # Errors
    /// Any SDK error from moto, or what `read` refuses.
    pub async fn new<E>(
        source: &str,
        tables: &[&str],
        read: impl FnOnce(&dyn Fn(&str) -> Option<String>) -> Result<C, E>,
    ) -> TestResult<Self>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let harness = Harness::new().await;
        let bus = harness.bus(source).await?;
        let mut env: Vec<(String, String)> = tables
            .iter()
            .chain(&["IDEMPOTENCY_TABLE"])
            .map(|name| ((*name).to_owned(), unique("no-such-table")))
            .collect();
        env.push(("EVENT_BUS_NAME".to_owned(), bus.name().to_owned()));
        env.push((STORES_VARIABLE.to_owned(), "memory".to_owned()));
        let lookup = |name: &str| env.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
        let config = read(&lookup)?;
        Ok(Self {
            sdk: harness.sdk,
            bus,
            config,
        })
    }
}

/// A memory guard for `function` that has seen nothing: a warm process's guard that forgot.
pub fn memory_guard(function: &str) -> IdempotencyGuard<ChosenStore> {
    IdempotencyGuard::new(
        ChosenStore::new(
            Backend::Memory,
            aws_sdk_dynamodb::Client::new(&unreachable_config()),
            "idempotency",
        ),
        IdempotencyConfig::new(function),
    )
}

/// How many records a guard holds in memory.
///
/// # Errors
/// When its records are in DynamoDB.
pub fn memory_records(guard: &IdempotencyGuard<ChosenStore>) -> TestResult<usize> {
    match guard.store() {
        ChosenStore::Memory(records) => Ok(records.len()),
        ChosenStore::Dynamo(_) => Err("the guard is on DynamoDB".into()),
    }
}

/// Delivers one event through a consumer of `guard` whose handler runs `handle` over a clone
/// of `deps`, as `main.rs` wires it; a consumer per call, so a test can swap the guard or the
/// dependencies between deliveries.
///
/// # Errors
/// [`ConsumerError`]: the decode error, or the guard's or handler's error.
pub async fn deliver<S, T, D, F, Fut, R, E>(
    guard: &IdempotencyGuard<S>,
    deps: &D,
    handle: F,
    raw: RawEvent,
) -> Result<Guarded<R>, ConsumerError<E>>
where
    S: Store,
    T: EventSet + GuardedEvent + Send + 'static,
    D: Clone + Send + Sync + 'static,
    F: Fn(D, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send,
    R: Serialize + DeserializeOwned + Send + 'static,
    E: Classify + fmt::Display + fmt::Debug + Send + 'static,
{
    let deps = deps.clone();
    Consumer::new(guard.clone(), move |event: T| handle(deps.clone(), event))
        .handle(raw, None)
        .await
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
