//! Wires order history: configuration, clients and the guard, built once; then serves events.

use herald::Consumer;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};
use order_history::FUNCTION;
use order_history::config::Config;
use order_history::handler::{self, Deps, OrderHistoryEvent};
use order_history::store::HistoryStore;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        history: HistoryStore::new(dynamodb.clone(), &config.history_table),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(guard, move |event: OrderHistoryEvent| {
        let deps = deps.clone();
        async move { handler::handle(&deps, event).await }
    })
    .run()
    .await
}
