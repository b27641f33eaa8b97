//! Contracts as its Lambda runs it, built in one place: `main.rs` calls [`consumer`] and
//! serves events with it; tests call it over tables and a bus of their own and hand it events.
//! The configuration's backend says where the tables are: DynamoDB, or memory under `herald dev`.

use aws_config::SdkConfig;
use herald::consumer::HandlerFuture;
use herald::idempotency::{Backend, ChosenStore, IdempotencyConfig, IdempotencyGuard};
use herald::{Consumer, Publisher, PublisherConfig};

use crate::FUNCTION;
use crate::config::Config;
use crate::error::ContractsError;
use crate::handler::{self, ContractsEvent, Deps, Reaction};
use crate::store::ContractStore;

/// The consumer of [`ContractsEvent`]s: the guard on the idempotency table, and the handler over
/// the contracts table and the bus. Clients are built here, once per cold start; in memory the
/// DynamoDB client is built but never called.
pub fn consumer(
    aws: &SdkConfig,
    config: &Config,
) -> Consumer<
    ChosenStore,
    ContractsEvent,
    impl Fn(ContractsEvent) -> HandlerFuture<Reaction, ContractsError> + Clone + Send + Sync + 'static + use<>,
> {
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let contracts = match config.backend {
        Backend::Dynamo => ContractStore::new(dynamodb.clone(), &config.contracts_table),
        Backend::Memory => ContractStore::memory(),
    };
    let deps = Deps {
        contracts,
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
        move |event: ContractsEvent| -> HandlerFuture<Reaction, ContractsError> {
            let deps = deps.clone();
            Box::pin(async move { handler::handle(&deps, event).await })
        },
    )
}
