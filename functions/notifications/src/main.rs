//! Notifications on Lambda: the framework serves [`handler::handle`](notifications::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {
    herald::run(notifications::handler::handle).await
}
