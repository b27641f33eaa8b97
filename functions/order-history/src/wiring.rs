//! Order history as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
//! serves events with it; tests call it over tables and a bus of their own and hand it events.

use aws_config::SdkConfig;
use herald::Consumer;
use herald::consumer::HandlerFuture;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};

use crate::FUNCTION;
use crate::config::Config;
use crate::error::OrderHistoryError;
use crate::handler::{self, Deps, OrderHistoryEvent, Reaction};
use crate::store::HistoryStore;

/// The consumer of [`OrderHistoryEvent`]s: the guard on the idempotency table, and the handler over
/// the history table. Clients are built here, once per cold start.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    DynamoStore,
    OrderHistoryEvent,
    impl Fn(OrderHistoryEvent) -> HandlerFuture<Reaction, OrderHistoryError> + Clone + Send + Sync + 'static,
> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let deps = Deps {
        history: HistoryStore::new(dynamodb.clone(), &config.history_table),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(
        guard,
        move |event: OrderHistoryEvent| -> HandlerFuture<Reaction, OrderHistoryError> {
            let deps = deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    )
}
