//! Contracts on Lambda: the framework serves [`handler::handle`](contracts::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {
    herald::run(contracts::handler::handle).await
}
