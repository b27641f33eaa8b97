//! Wires fulfillment: reads its configuration once, builds its consumer with
//! [`fulfillment::wiring::consumer`], and serves events.

use fulfillment::config::Config;
use fulfillment::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    wiring::consumer(&aws, &config).run().await
}
