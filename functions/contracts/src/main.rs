//! Wires contracts: configuration, clients and the guard, built once; then serves events.

use contracts::FUNCTION;
use contracts::config::Config;
use contracts::handler::{self, ContractsEvent, Deps};
use contracts::store::ContractStore;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Consumer, Publisher, PublisherConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        contracts: ContractStore::new(dynamodb.clone(), &config.contracts_table),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(&aws),
            PublisherConfig::for_bus(&config.bus_name),
        ),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(guard, move |event: ContractsEvent| {
        let deps = deps.clone();
        async move { handler::handle(&deps, event).await }
    })
    .run()
    .await
}
