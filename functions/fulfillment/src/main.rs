//! Fulfillment on Lambda: the framework serves [`handler::handle`](fulfillment::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {
    herald::run(fulfillment::handler::handle).await
}
