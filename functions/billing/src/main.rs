//! Wires billing: reads its configuration once, builds its consumer with
//! [`billing::wiring::consumer`], and serves events.

use billing::config::Config;
use billing::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    let aws = aws_config::load_from_env().await;
    wiring::consumer(&aws, &config).run().await
}
