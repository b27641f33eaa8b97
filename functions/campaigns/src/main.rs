//! Campaigns on Lambda: the framework serves [`handler::handle`](campaigns::handler::handle).

#[tokio::main]
async fn main() -> Result<(), herald::RunError> {
    herald::run(campaigns::handler::handle).await
}
