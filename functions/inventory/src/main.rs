//! Wires inventory: reads its configuration once, builds its consumer with
//! [`inventory::wiring::consumer`], and serves events.

use inventory::config::Config;
use inventory::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    wiring::consumer(&aws, &config).run().await
}
