//! Notifications as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
//! serves events with it; tests call it over tables and a bus of their own and hand it events.

use aws_config::SdkConfig;
use herald::Consumer;
use herald::consumer::HandlerFuture;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};

use crate::FUNCTION;
use crate::config::Config;
use crate::error::NotificationsError;
use crate::handler::{self, Deps, NotificationsEvent, Reaction};
use crate::sender::OutboxSender;
use crate::store::Outbox;

/// The consumer of [`NotificationsEvent`]s: the guard on the idempotency table, and the handler
/// over the outbox. Clients are built here, once per cold start.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    DynamoStore,
    NotificationsEvent,
    impl Fn(NotificationsEvent) -> HandlerFuture<Reaction, NotificationsError> + Clone + Send + Sync + 'static,
> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let deps = Deps {
        sender: OutboxSender::new(Outbox::new(dynamodb.clone(), &config.outbox_table)),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(
        guard,
        move |event: NotificationsEvent| -> HandlerFuture<Reaction, NotificationsError> {
            let deps = deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    )
}
