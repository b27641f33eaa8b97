//! Wires notifications: reads its configuration once, builds its consumer with
//! [`notifications::wiring::consumer`], and serves events.

use notifications::config::Config;
use notifications::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    wiring::consumer(&aws, &config).run().await
}
