//! Dead-letter queues as EventBridge fills them, for the redrive tests: a queue, a message in
//! the shape EventBridge writes when a rule's target failed (the original event as the body,
//! the rule, target and error as message attributes), and the queue's depth.

use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};

use crate::TestResult;
use crate::aws::unique;

/// The account moto uses in every ARN.
pub const ACCOUNT: &str = "123456789012";

/// A fresh queue; returns its URL.
///
/// # Errors
/// When moto refuses.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> TestResult<String> {
    Ok(sqs
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await?
        .queue_url()
        .ok_or("CreateQueue returned no URL")?
        .to_owned())
}

/// The ARN of rule `rule` on bus `bus`, as EventBridge writes it into `RULE_ARN`.
pub fn rule_arn(bus: &str, rule: &str) -> String {
    format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/{bus}/{rule}")
}

/// Puts `event` into the queue as EventBridge does when the target of `rule_arn` kept failing
/// with `code`/`message`: `RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE`,
/// `EXHAUSTED_RETRY_CONDITION` and `RETRY_ATTEMPTS`.
///
/// # Errors
/// When moto refuses.
pub async fn dead_letter_from_rule(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    event: &serde_json::Value,
    rule_arn: &str,
    code: &str,
    message: &str,
) -> TestResult {
    let text = |value: &str| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
    };
    let function = rule_arn.rsplit('/').next().unwrap_or_default();
    sqs.send_message()
        .queue_url(queue_url)
        .message_body(event.to_string())
        .message_attributes("RULE_ARN", text(rule_arn)?)
        .message_attributes(
            "TARGET_ARN",
            text(&format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"))?,
        )
        .message_attributes("ERROR_CODE", text(code)?)
        .message_attributes("ERROR_MESSAGE", text(message)?)
        .message_attributes("EXHAUSTED_RETRY_CONDITION", text("MaximumRetryAttempts")?)
        .message_attributes(
            "RETRY_ATTEMPTS",
            MessageAttributeValue::builder()
                .data_type("Number")
                .string_value("8")
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// The queue's messages: (visible, in flight).
///
/// # Errors
/// When moto refuses or answers without the counts.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> TestResult<(usize, usize)> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let count = |name: &QueueAttributeName| -> TestResult<usize> {
        let value = attributes
            .attributes()
            .and_then(|a| a.get(name))
            .ok_or("missing attribute")?;
        Ok(value.parse()?)
    };
    Ok((
        count(&QueueAttributeName::ApproximateNumberOfMessages)?,
        count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
    ))
}
