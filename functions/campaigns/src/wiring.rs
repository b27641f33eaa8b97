//! Campaigns as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
//! serves events with it; tests call it over tables and a bus of their own and hand it events.
//! The configuration's backend says where the tables are: DynamoDB, or memory under `herald dev`.

use aws_config::SdkConfig;
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Consumer, Publisher, PublisherConfig};

use crate::FUNCTION;
use crate::config::Config;
use crate::error::CampaignsError;
use crate::handler::{self, CampaignsEvent, Deps, Reaction};
use crate::rules::Rules;
use crate::store::CampaignStore;

/// The consumer of [`CampaignsEvent`]s: the guard on the idempotency table, and the handler over
/// the customer-orders and voucher tables, the default rules and the bus. Clients are built here,
/// once per cold start; in memory the DynamoDB client is built but never called.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    ChosenStore,
    CampaignsEvent,
    impl Fn(CampaignsEvent) -> HandlerFuture<Reaction, CampaignsError> + Clone + Send + Sync + 'static + use<>,
> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let store = match config.backend {
        Backend::Dynamo => CampaignStore::new(dynamodb.clone(), &config.orders_table, &config.vouchers_table),
        Backend::Memory => CampaignStore::memory(),
    };
    let deps = Deps {
        store,
        rules: Rules::default(),
        publisher: Publisher::new(
            aws_sdk_eventbridge::Client::new(aws),
            PublisherConfig::for_bus(&config.bus_name),
        ),
    };
    let guard = IdempotencyGuard::new(
        ChosenStore::new(config.backend, dynamodb, &config.idempotency_table),
        IdempotencyConfig::new(FUNCTION),
    );
    Consumer::new(
        guard,
        move |event: CampaignsEvent| -> HandlerFuture<Reaction, CampaignsError> {
            let deps = deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    )
}
