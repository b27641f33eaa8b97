//! Wires order history: reads its configuration once, builds its consumer with
//! [`order_history::wiring::consumer`], and serves events.

use order_history::config::Config;
use order_history::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    wiring::consumer(&aws, &config).run().await
}
