//! Order history as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
//! serves events with it; tests call it over tables and a bus of their own and hand it events.
//!
//! [`Config::backend`] chooses where the state is: DynamoDB, or this process's memory under
//! `herald dev`, where the DynamoDB client is built but never called.

use aws_config::SdkConfig;
use herald::Consumer;
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, IdempotencyConfig, IdempotencyGuard};

use crate::FUNCTION;
use crate::config::Config;
use crate::error::OrderHistoryError;
use crate::handler::{self, Deps, OrderHistoryEvent, Reaction};
use crate::store::HistoryStore;

/// The consumer of [`OrderHistoryEvent`]s: the guard on the idempotency store, and the handler
/// over the history, both of [`Config::backend`]. Clients are built here, once per cold start.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    ChosenStore,
    OrderHistoryEvent,
    impl Fn(OrderHistoryEvent) -> HandlerFuture<Reaction, OrderHistoryError> + Clone + Send + Sync + 'static + use<>,
> {
    wired(aws, config).consumer
}

/// What [`wired`] builds: the consumer, and a clone of the [`Deps`] its handler holds.
pub struct Wired<H> {
    /// The consumer `main.rs` runs.
    pub consumer: Consumer<ChosenStore, OrderHistoryEvent, H>,
    /// Its handler's dependencies. Clones share their state, so a test running order history
    /// in memory reads what was recorded through `deps.history`.
    pub deps: Deps,
}

/// [`consumer`], with the [`Deps`] its handler holds.
pub fn wired(
    aws: &SdkConfig,
    config: &Config,
) -> Wired<
    impl Fn(OrderHistoryEvent) -> HandlerFuture<Reaction, OrderHistoryError> + Clone + Send + Sync + 'static + use<>,
> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let history = match config.backend {
        Backend::Dynamo => HistoryStore::new(dynamodb.clone(), &config.history_table),
        Backend::Memory => HistoryStore::memory(),
    };
    let deps = Deps { history };
    let guard = IdempotencyGuard::new(
        ChosenStore::new(config.backend, dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    let handler_deps = deps.clone();
    let consumer = Consumer::new(
        guard,
        move |event: OrderHistoryEvent| -> HandlerFuture<Reaction, OrderHistoryError> {
            let deps = handler_deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    );
    Wired { consumer, deps }
}
