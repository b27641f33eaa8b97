//! AWS clients pointed at moto, and the bus → rule → queue wiring the tests observe through.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_eventbridge::config::Credentials;
use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::{TestResult, moto};

/// SDK configuration for moto: its endpoint, a fixed region and dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto::endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "herald-tests"))
        .load()
        .await
}

/// A name no other test uses: tests share one moto server and run in parallel.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A fresh bus whose one rule sends matching events to a fresh SQS queue.
#[derive(Debug, Clone)]
pub struct BusToQueue {
    /// The bus name.
    pub bus_name: String,
    /// The queue the rule targets.
    pub queue_url: String,
}

impl BusToQueue {
    /// Creates the bus, a queue, and a rule with `pattern` targeting the queue.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn create(config: &SdkConfig, pattern: &serde_json::Value) -> TestResult<Self> {
        let events = aws_sdk_eventbridge::Client::new(config);
        let sqs = aws_sdk_sqs::Client::new(config);
        let bus_name = unique("bus");
        events.create_event_bus().name(&bus_name).send().await?;
        let queue_url = sqs
            .create_queue()
            .queue_name(unique("queue"))
            .send()
            .await?
            .queue_url()
            .ok_or("CreateQueue returned no URL")?
            .to_owned();
        let queue_arn = queue_arn(&sqs, &queue_url).await?;
        let rule = unique("rule");
        events
            .put_rule()
            .name(&rule)
            .event_bus_name(&bus_name)
            .event_pattern(pattern.to_string())
            .send()
            .await?;
        events
            .put_targets()
            .rule(&rule)
            .event_bus_name(&bus_name)
            .targets(Target::builder().id("queue").arn(queue_arn).build()?)
            .send()
            .await?;
        Ok(Self { bus_name, queue_url })
    }
}

/// The ARN of a queue.
///
/// # Errors
/// Any SDK error, or a queue without an ARN.
pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> TestResult<String> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    let arn = attributes
        .attributes()
        .and_then(|a: &HashMap<QueueAttributeName, String>| a.get(&QueueAttributeName::QueueArn))
        .ok_or("queue has no ARN")?;
    Ok(arn.clone())
}

/// Receives and deletes messages until `expected` arrived or `within` passed, then waits a
/// little longer to catch extras (duplicates must be seen, not missed). Returns the bodies.
///
/// # Errors
/// Any SDK error, or a body that is not JSON.
pub async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    expected: usize,
    within: Duration,
) -> TestResult<Vec<serde_json::Value>> {
    let started = Instant::now();
    let mut bodies = Vec::new();
    let mut quiet_rounds = 0;
    while started.elapsed() < within && (bodies.len() < expected || quiet_rounds < 2) {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await?;
        let messages = received.messages();
        if messages.is_empty() {
            if bodies.len() >= expected {
                quiet_rounds += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        for message in messages {
            bodies.push(serde_json::from_str(message.body().unwrap_or_default())?);
            if let Some(handle) = message.receipt_handle() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
    }
    Ok(bodies)
}

/// AWS configuration whose every endpoint refuses connections, without retries: any call fails
/// at once. Tests of in-memory backends use it to prove nothing reaches AWS.
pub fn unreachable_config() -> SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_eventbridge::config::SharedCredentialsProvider::new(
            Credentials::new("test", "test", None, None, "memory-tests"),
        ))
        .retry_config(aws_sdk_eventbridge::config::retry::RetryConfig::disabled())
        .build()
}
