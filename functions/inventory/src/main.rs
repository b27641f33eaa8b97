//! Inventory on Lambda: the framework serves [`handler::handle`](inventory::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {
    herald::run(inventory::handler::handle).await
}
