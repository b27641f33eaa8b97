//! Fulfillment as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
//! serves events with it; tests call it over tables and a bus of their own and hand it events.
//!
//! [`Config::backend`] chooses where the state is: DynamoDB, or this process's memory under
//! `herald dev`, where the DynamoDB client is built but never called.

use aws_config::SdkConfig;
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Consumer, Publisher, PublisherConfig};

use crate::FUNCTION;
use crate::config::Config;
use crate::error::FulfillmentError;
use crate::handler::{self, Deps, FulfillmentEvent, Reaction};
use crate::store::ShipmentStore;

/// The consumer of [`FulfillmentEvent`]s: the guard on the idempotency store, and the handler
/// over the shipments and the bus; both stores of [`Config::backend`]. Clients are built here,
/// once per cold start.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    ChosenStore,
    FulfillmentEvent,
    impl Fn(FulfillmentEvent) -> HandlerFuture<Reaction, FulfillmentError> + Clone + Send + Sync + 'static + use<>,
> {
    wired(aws, config).consumer
}

/// What [`wired`] builds: the consumer, and a clone of the [`Deps`] its handler holds.
pub struct Wired<H> {
    /// The consumer `main.rs` runs.
    pub consumer: Consumer<ChosenStore, FulfillmentEvent, H>,
    /// Its handler's dependencies. Clones share their state, so a test running fulfillment in
    /// memory dispatches shipments and reads them through `deps.shipments`.
    pub deps: Deps,
}

/// [`consumer`], with the [`Deps`] its handler holds.
pub fn wired(
    aws: &SdkConfig,
    config: &Config,
) -> Wired<impl Fn(FulfillmentEvent) -> HandlerFuture<Reaction, FulfillmentError> + Clone + Send + Sync + 'static + use<>>
{
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let shipments = match config.backend {
        Backend::Dynamo => ShipmentStore::new(dynamodb.clone(), &config.shipments_table),
        Backend::Memory => ShipmentStore::memory(),
    };
    let deps = Deps {
        shipments,
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(aws),
            PublisherConfig::for_bus(&config.bus_name),
        ),
    };
    let guard = IdempotencyGuard::new(
        ChosenStore::new(config.backend, dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    let handler_deps = deps.clone();
    let consumer = Consumer::new(
        guard,
        move |event: FulfillmentEvent| -> HandlerFuture<Reaction, FulfillmentError> {
            let deps = handler_deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    );
    Wired { consumer, deps }
}
