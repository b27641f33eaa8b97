//! Order history on Lambda: the framework serves [`handler::handle`](order_history::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {
    herald::run(order_history::handler::handle).await
}
