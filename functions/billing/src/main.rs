//! Billing on Lambda: the framework serves [`handler::handle`](billing::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {
    herald::run(billing::handler::handle).await
}
