//! Redrive as its Lambda runs it, built in one place: `main.rs` builds a [`Redrive`] and hands
//! it each invocation; tests build the same over queues and a bus of their own.

use std::sync::Arc;

use aws_config::SdkConfig;
use herald::telemetry::Invocation;
use herald_ops::redrive::{RedriveConfig, Redriver};
use tracing::Instrument;

use crate::config::Config;
use crate::error::RedriveError;
use crate::handler::{self, Decision, Reaction};

/// The configuration and the redriver (SQS and EventBridge clients), built once per cold start.
#[derive(Clone)]
pub struct Redrive {
    config: Arc<Config>,
    redriver: Redriver,
}

impl Redrive {
    /// Builds the clients from `aws`.
    pub fn new(aws: &SdkConfig, config: Config) -> Self {
        Self {
            config: Arc::new(config),
            redriver: Redriver::new(aws_sdk_sqs::Client::new(aws), aws_sdk_eventbridge::Client::new(aws)),
        }
    }

    /// Handles one invocation: parses, decides, and redrives when an alarm recovered.
    ///
    /// # Errors
    /// [`RedriveError`], naming the event's `id`.
    pub async fn handle(&self, payload: serde_json::Value) -> Result<Reaction, RedriveError> {
        self.handle_invocation(payload, &Invocation::default()).await
    }

    /// Handles one invocation as [`Redrive::handle`] does, every log line of it carrying the
    /// invocation's request id, cold start, function name and version and X-Ray trace id beside
    /// the alarm event's `id` and alarm name, as a consumer's lines do.
    ///
    /// # Errors
    /// [`RedriveError`], naming the event's `id`.
    pub async fn handle_invocation(
        &self,
        payload: serde_json::Value,
        invocation: &Invocation,
    ) -> Result<Reaction, RedriveError> {
        let event = handler::parse(payload)?;
        let span = tracing::info_span!(
            "event",
            id = %event.id,
            alarm = %event.detail.alarm_name,
            request_id = invocation.request_id,
            cold_start = invocation.cold_start,
            function_name = invocation.function_name,
            function_version = invocation.function_version,
            xray_trace_id = invocation.xray_trace_id(),
        );
        self.decide_and_run(&event).instrument(span).await
    }

    async fn decide_and_run(&self, event: &handler::AlarmStateChange) -> Result<Reaction, RedriveError> {
        match handler::decide(&self.config, event)? {
            Decision::Ignore { alarm, reason } => {
                tracing::info!(%reason, "ignored");
                Ok(Reaction {
                    alarm,
                    action: "ignored",
                    queue: None,
                    reason: Some(reason),
                    received: 0,
                    redriven: 0,
                    left: 0,
                })
            }
            Decision::Redrive { alarm, queue } => {
                let mut run = RedriveConfig::new(queue.clone());
                run.max = self.config.max_messages;
                run.max_attempts = self.config.max_attempts;
                // A recovery fixes what was failing for a while, not bad input: that waits for a person.
                run.only_retryable = true;
                run.default_bus = Some(self.config.bus_name.clone());
                let report = self.redriver.run(&run).await.map_err(|source| RedriveError::Redrive {
                    id: event.id.clone(),
                    queue: queue.clone(),
                    source,
                })?;
                tracing::info!(
                    run = %report.run,
                    received = report.received,
                    redriven = report.redriven,
                    left = report.left.len(),
                    "redriven"
                );
                Ok(Reaction {
                    alarm,
                    action: "redriven",
                    queue: Some(queue),
                    reason: None,
                    received: report.received,
                    redriven: report.redriven,
                    left: report.left.len(),
                })
            }
        }
    }
}
