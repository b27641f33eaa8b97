//! The cold-start baseline of `make bench-peer` (`tests/benches/cold.rs`): what a function's cold
//! start does, minus Herald. It loads the SDK configuration as a hello-world does (`aws_config`'s
//! defaults, default credentials chain included, with the attempt and operation timeouts
//! `herald::Env::load` sets; Env skips the chain when Lambda's credentials are in the environment,
//! a saving that counts for Herald), builds one DynamoDB and one
//! EventBridge client from it, and serves a handler that answers every event with a trivial
//! reply through `lambda_runtime::run`, as the runtime's `basic-shared-resource` example does.
//!
//! No logging is installed: this is the "no Herald" reference a function's start is compared
//! with, so Herald's JSON logs count against Herald.

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use herald::function::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_OPERATION_TIMEOUT};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

/// The clients a function builds at cold start and borrows while handling events.
struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    eventbridge: aws_sdk_eventbridge::Client,
}

/// The trivial reply; it touches the clients so that building them is not optimised away.
async fn answer(clients: &Clients, _event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let configured = clients.dynamodb.config().region().is_some() && clients.eventbridge.config().region().is_some();
    Ok(json!({ "ok": true, "configured": configured }))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let timeouts = TimeoutConfig::builder()
        .operation_attempt_timeout(DEFAULT_ATTEMPT_TIMEOUT)
        .operation_timeout(DEFAULT_OPERATION_TIMEOUT)
        .build();
    let aws = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&aws),
        eventbridge: aws_sdk_eventbridge::Client::new(&aws),
    };
    let clients = &clients;
    lambda_runtime::run(service_fn(move |event| answer(clients, event))).await
}
