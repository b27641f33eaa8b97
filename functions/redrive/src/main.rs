//! Wires redrive: reads its configuration once, builds the redriver with
//! [`redrive::wiring::Redrive::new`], and serves alarm events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use herald::telemetry::Invocation;
use lambda_runtime::{LambdaEvent, service_fn};
use redrive::config::Config;
use redrive::wiring::Redrive;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    herald::telemetry::init();
    let config = Config::from_env()?;
    // Herald's SDK configuration: every call's timeouts, and Lambda's credentials read directly.
    let env = herald::Env::from_process().await?;
    let redrive = Redrive::new(env.aws(), config);
    let cold = Arc::new(AtomicBool::new(true));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let redrive = redrive.clone();
        let invocation = Invocation::of(&event.context, cold.swap(false, Ordering::Relaxed));
        async move { redrive.handle_invocation(event.payload, &invocation).await }
    }))
    .await
}
