//! The two shapes of message that land in a Herald dead-letter queue, each parsed once into a
//! [`DeadLetter`]:
//!
//! - **an EventBridge target's dead letter**: the body is the event as the target would have
//!   received it, and the message attributes `RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`,
//!   `ERROR_MESSAGE`, `EXHAUSTED_RETRY_CONDITION` and `RETRY_ATTEMPTS` say why it was not
//!   delivered. The rule ARN (`…:rule/BUS/RULE`, or `…:rule/RULE` on the default bus) names
//!   the bus to put it back on;
//! - **a Lambda on-failure destination's invocation record** (the template's
//!   `EventInvokeConfig.DestinationConfig.OnFailure`): the body is
//!   `{ version, timestamp, requestContext, requestPayload, responseContext, responsePayload }`,
//!   where `requestPayload` is the event and `responsePayload` the function's error. It names
//!   no bus.
//!
//! Anything else is unreadable: it stays in the queue with the reason.

use std::collections::HashMap;

use aws_sdk_sqs::types::{Message, MessageAttributeValue};
use serde::Deserialize;

use super::event::BusEvent;

/// The message attribute naming the rule whose target failed.
const RULE_ARN: &str = "RULE_ARN";
/// The message attribute naming the target that failed.
const TARGET_ARN: &str = "TARGET_ARN";
/// The message attribute with EventBridge's error code for the last attempt.
const ERROR_CODE: &str = "ERROR_CODE";
/// The message attribute with EventBridge's error message for the last attempt.
const ERROR_MESSAGE: &str = "ERROR_MESSAGE";

/// Where a dead letter came from, when the message says so.
const UNKNOWN_ORIGIN: &str = "(unknown origin)";

/// One received message, parsed.
#[derive(Debug)]
pub(crate) struct DeadLetter {
    /// SQS's id of the message.
    pub message_id: String,
    /// The rule ARN or the function ARN that failed to handle the event.
    pub origin: String,
    /// Why it failed, as the message reports it.
    pub error: FailureCause,
    /// The bus the message names (a rule dead letter's), if any.
    pub bus: Option<String>,
    /// The Lambda function that failed the event (the rule's target, or the invoked function),
    /// if the message names one: the only consumer a redrive of it is for.
    pub target: Option<String>,
    /// The event to put back, or why there is none.
    pub event: Result<BusEvent, String>,
}

/// What made the original delivery fail, as the dead letter reports it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FailureCause {
    /// EventBridge's `ERROR_CODE` (e.g. `SDK_CLIENT_ERROR`), or the function's `errorType`.
    pub code: String,
    /// EventBridge's `ERROR_MESSAGE`, or the function's `errorMessage`.
    pub message: String,
}

/// Lambda's record of an asynchronous invocation that failed for good.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvocationRecord {
    request_context: RequestContext,
    /// The event the function was invoked with; decoded on its own, so that a record whose
    /// payload is not an event says so.
    request_payload: serde_json::Value,
    #[serde(default)]
    response_context: Option<ResponseContext>,
    /// The function's error object when it failed; absent when it never ran (`EventAgeExceeded`).
    #[serde(default)]
    response_payload: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    function_arn: String,
    /// `RetriesExhausted` or `EventAgeExceeded`.
    condition: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResponseContext {
    /// `Unhandled` (or `Handled`) when the function returned an error.
    #[serde(default)]
    function_error: Option<String>,
}

/// The error a Rust (or any) Lambda runtime reports.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FunctionError {
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

impl FailureCause {
    /// False when the function said its error is not retryable (Herald's consumer starts the
    /// `errorMessage` of such an error with [`herald::consumer::NOT_RETRYABLE_PREFIX`]): the same
    /// event fails the same way until its code or data changes. A delivery failure
    /// (EventBridge's dead letter) or any other error may succeed later.
    pub fn is_retryable(&self) -> bool {
        !self.message.starts_with(herald::consumer::NOT_RETRYABLE_PREFIX)
    }
}

impl DeadLetter {
    /// Parses one received message. Never fails: what cannot be read becomes the reason in
    /// [`DeadLetter::event`].
    pub fn parse(message: &Message) -> Self {
        let message_id = message.message_id().unwrap_or_default().to_owned();
        let attributes = message.message_attributes();
        let body = message.body().unwrap_or_default();
        if let Ok(record) = serde_json::from_str::<InvocationRecord>(body) {
            return Self::from_record(message_id, record);
        }
        let rule_arn = attribute(attributes, RULE_ARN);
        let error = FailureCause {
            code: attribute(attributes, ERROR_CODE).unwrap_or_default(),
            message: attribute(attributes, ERROR_MESSAGE).unwrap_or_default(),
        };
        let event = serde_json::from_str::<BusEvent>(body)
            .map_err(|e| format!("the body is neither an EventBridge event nor a Lambda invocation record: {e}"));
        Self {
            message_id,
            target: attribute(attributes, TARGET_ARN).as_deref().and_then(function_of),
            bus: rule_arn.as_deref().and_then(bus_of_rule),
            origin: rule_arn.unwrap_or_else(|| UNKNOWN_ORIGIN.to_owned()),
            error,
            event,
        }
    }

    fn from_record(message_id: String, record: InvocationRecord) -> Self {
        let function_error = record
            .response_payload
            .and_then(|payload| FunctionError::deserialize(payload).ok())
            .unwrap_or_default();
        let code = function_error
            .error_type
            .or_else(|| record.response_context.and_then(|c| c.function_error))
            .unwrap_or_else(|| record.request_context.condition.clone());
        let message = function_error
            .error_message
            .unwrap_or_else(|| record.request_context.condition.clone());
        let event = BusEvent::deserialize(record.request_payload)
            .map_err(|e| format!("the Lambda invocation record's requestPayload is not an EventBridge event: {e}"));
        Self {
            message_id,
            target: function_of(&record.request_context.function_arn),
            origin: record.request_context.function_arn,
            error: FailureCause { code, message },
            bus: None,
            event,
        }
    }
}

fn attribute(attributes: Option<&HashMap<String, MessageAttributeValue>>, name: &str) -> Option<String> {
    attributes?
        .get(name)?
        .string_value()
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// The function name of a Lambda ARN, `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
fn function_of(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    match (parts.nth(2), parts.nth(2), parts.next()) {
        (Some("lambda"), Some("function"), Some(name)) if !name.is_empty() => Some(name.to_owned()),
        _ => None,
    }
}

/// The bus of a rule ARN: `arn:aws:events:REGION:ACCOUNT:rule/BUS/RULE` names `BUS`, and
/// `…:rule/RULE` the default bus. Partner buses have slashes in their names
/// (`aws.partner/example.com/123`), rule names never do.
fn bus_of_rule(rule_arn: &str) -> Option<String> {
    let resource = rule_arn.splitn(6, ':').nth(5)?.strip_prefix("rule/")?;
    match resource.rsplit_once('/') {
        Some((bus, _rule)) if !bus.is_empty() => Some(bus.to_owned()),
        Some(_) => None,
        None => Some("default".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_arn_names_its_bus_or_the_default_bus() {
        assert_eq!(
            bus_of_rule("arn:aws:events:us-east-1:123456789012:rule/shop/inventory").as_deref(),
            Some("shop")
        );
        assert_eq!(
            bus_of_rule("arn:aws:events:us-east-1:123456789012:rule/inventory").as_deref(),
            Some("default")
        );
        assert_eq!(
            bus_of_rule("arn:aws:events:us-east-1:123456789012:rule/aws.partner/example.com/1/r").as_deref(),
            Some("aws.partner/example.com/1")
        );
        assert_eq!(bus_of_rule("arn:aws:sqs:us-east-1:123456789012:queue"), None);
    }

    #[test]
    fn a_lambda_arn_names_its_function_with_or_without_a_qualifier() {
        for arn in [
            "arn:aws:lambda:us-east-1:123456789012:function:shop-inventory",
            "arn:aws:lambda:us-east-1:123456789012:function:shop-inventory:$LATEST",
        ] {
            assert_eq!(function_of(arn).as_deref(), Some("shop-inventory"), "{arn}");
        }
        assert_eq!(function_of("arn:aws:sqs:us-east-1:123456789012:queue"), None);
        assert_eq!(function_of("arn:aws:lambda:us-east-1:123456789012:layer:x"), None);
    }

    #[test]
    fn a_lambda_invocation_record_is_grouped_by_function_and_error_type() {
        let body = serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-11-23T05:30:00.000Z",
            "requestContext": {
                "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:shop-inventory:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": {
                "version": "0", "id": "1", "detail-type": "OrderCancelled", "source": "shop.orders",
                "time": "2026-11-23T05:29:00Z", "region": "us-east-1", "resources": [], "detail": {}
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "Inventory.Store", "errorMessage": "table is gone"}
        });
        let message = Message::builder().message_id("m-1").body(body.to_string()).build();

        let letter = DeadLetter::parse(&message);

        assert_eq!(
            letter.origin,
            "arn:aws:lambda:us-east-1:123456789012:function:shop-inventory:$LATEST"
        );
        assert_eq!(letter.error.code, "Inventory.Store");
        assert_eq!(letter.error.message, "table is gone");
        assert_eq!(letter.bus, None);
        assert_eq!(letter.target.as_deref(), Some("shop-inventory"));
        assert!(letter.event.is_ok());
    }

    #[test]
    fn a_body_that_is_not_an_event_is_unreadable_with_a_reason() {
        let message = Message::builder().message_id("m-2").body("{not json").build();

        let letter = DeadLetter::parse(&message);

        assert_eq!(letter.origin, UNKNOWN_ORIGIN);
        assert!(letter.event.is_err_and(|reason| reason.contains("neither")));
    }
}
