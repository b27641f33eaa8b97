//! Wires contracts: reads its configuration once, builds its consumer with
//! [`contracts::wiring::consumer`], and serves events.

use contracts::config::Config;
use contracts::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    wiring::consumer(&aws, &config).run().await
}
