//! Wires campaigns: configuration, rules, clients and the guard, built once; then serves events.

use campaigns::FUNCTION;
use campaigns::config::Config;
use campaigns::handler::{self, CampaignsEvent, Deps};
use campaigns::rules::Rules;
use campaigns::store::CampaignStore;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Consumer, Publisher, PublisherConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        store: CampaignStore::new(dynamodb.clone(), &config.orders_table, &config.vouchers_table),
        rules: Rules::default(),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(&aws),
            PublisherConfig::for_bus(&config.bus_name),
        ),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(guard, move |event: CampaignsEvent| {
        let deps = deps.clone();
        async move { handler::handle(&deps, event).await }
    })
    .run()
    .await
}
