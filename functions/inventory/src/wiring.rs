//! Inventory as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
//! serves events with it; tests call it over tables and a bus of their own and hand it events.

use aws_config::SdkConfig;
use herald::consumer::HandlerFuture;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Consumer, Publisher, PublisherConfig};

use crate::FUNCTION;
use crate::config::Config;
use crate::error::InventoryError;
use crate::handler::{self, Deps, InventoryEvent, Reaction};
use crate::store::StockStore;

/// The consumer of [`InventoryEvent`]s: the guard on the idempotency table, and the handler over
/// the stock and reservation tables and the bus. Clients are built here, once per cold start.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    DynamoStore,
    InventoryEvent,
    impl Fn(InventoryEvent) -> HandlerFuture<Reaction, InventoryError> + Clone + Send + Sync + 'static,
> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let deps = Deps {
        stock: StockStore::new(dynamodb.clone(), &config.stock_table, &config.reservations_table),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(aws),
            PublisherConfig::for_bus(&config.bus_name),
        ),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(
        guard,
        move |event: InventoryEvent| -> HandlerFuture<Reaction, InventoryError> {
            let deps = deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    )
}
