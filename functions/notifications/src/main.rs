//! Wires notifications: configuration, clients and the guard, built once; then serves events.

use herald::Consumer;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};
use notifications::FUNCTION;
use notifications::config::Config;
use notifications::handler::{self, Deps, NotificationsEvent};
use notifications::sender::OutboxSender;
use notifications::store::Outbox;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        sender: OutboxSender::new(Outbox::new(dynamodb.clone(), &config.outbox_table)),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(guard, move |event: NotificationsEvent| {
        let deps = deps.clone();
        async move { handler::handle(&deps, event).await }
    })
    .run()
    .await
}
