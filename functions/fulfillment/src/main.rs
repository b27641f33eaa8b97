//! Wires fulfillment: configuration, clients and the guard, built once; then serves events.

use fulfillment::FUNCTION;
use fulfillment::config::Config;
use fulfillment::handler::{self, Deps, FulfillmentEvent};
use fulfillment::store::ShipmentStore;
use herald::idempotency::{DynamoStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Consumer, Publisher, PublisherConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = Deps {
        shipments: ShipmentStore::new(dynamodb.clone(), &config.shipments_table),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(&aws),
            PublisherConfig::for_bus(&config.bus_name),
        ),
    };
    let guard = IdempotencyGuard::new(
        DynamoStore::new(dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(guard, move |event: FulfillmentEvent| {
        let deps = deps.clone();
        async move { handler::handle(&deps, event).await }
    })
    .run()
    .await
}
