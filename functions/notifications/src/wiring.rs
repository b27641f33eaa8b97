//! Notifications as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
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
use crate::error::NotificationsError;
use crate::handler::{self, Deps, NotificationsEvent, Reaction};
use crate::sender::OutboxSender;
use crate::store::Outbox;

/// The consumer of [`NotificationsEvent`]s: the guard on the idempotency store, and the handler
/// over the outbox, both of [`Config::backend`]. Clients are built here, once per cold start.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    ChosenStore,
    NotificationsEvent,
    impl Fn(NotificationsEvent) -> HandlerFuture<Reaction, NotificationsError> + Clone + Send + Sync + 'static + use<>,
> {
    wired(aws, config).consumer
}

/// What [`wired`] builds: the consumer, and a clone of the [`Deps`] its handler holds.
pub struct Wired<H> {
    /// The consumer `main.rs` runs.
    pub consumer: Consumer<ChosenStore, NotificationsEvent, H>,
    /// Its handler's dependencies. Clones share their state, so a test running notifications
    /// in memory reads what was sent through `deps.sender.outbox()`.
    pub deps: Deps,
}

/// [`consumer`], with the [`Deps`] its handler holds.
pub fn wired(
    aws: &SdkConfig,
    config: &Config,
) -> Wired<
    impl Fn(NotificationsEvent) -> HandlerFuture<Reaction, NotificationsError> + Clone + Send + Sync + 'static + use<>,
> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let outbox = match config.backend {
        Backend::Dynamo => Outbox::new(dynamodb.clone(), &config.outbox_table),
        Backend::Memory => Outbox::memory(),
    };
    let deps = Deps {
        sender: OutboxSender::new(outbox),
    };
    let guard = IdempotencyGuard::new(
        ChosenStore::new(config.backend, dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    let handler_deps = deps.clone();
    let consumer = Consumer::new(
        guard,
        move |event: NotificationsEvent| -> HandlerFuture<Reaction, NotificationsError> {
            let deps = handler_deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    );
    Wired { consumer, deps }
}
