//! The outbox table: one row per message sent, keyed by `message_id`, written once.
//!
//! Every write is conditional on `attribute_not_exists(message_id)`, so writing a message again
//! (a redelivered event) changes nothing and reports that it was already there. Rows hold the
//! whole message — `kind`, `to`, `subject`, `body`, `order_id`, `customer_id` — and `sent_at`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{SecondsFormat, Utc};

use crate::error::NotificationsError;
use crate::sender::{Message, MessageKind};

/// Attribute names, in one place.
pub mod attr {
    /// Outbox key: `<kind>-<cause event_id>`.
    pub const MESSAGE_ID: &str = "message_id";
    /// `receipt` or `contract-cancelled`.
    pub const KIND: &str = "kind";
    /// The recipient's address (a DynamoDB reserved word: always behind `#to` in expressions).
    pub const TO: &str = "to";
    /// The subject line.
    pub const SUBJECT: &str = "subject";
    /// The plain-text body.
    pub const BODY: &str = "body";
    /// The order the message concerns.
    pub const ORDER_ID: &str = "order_id";
    /// The customer it went to.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// When it was written, RFC 3339 with milliseconds, UTC.
    pub const SENT_AT: &str = "sent_at";
}

type Item = HashMap<String, AttributeValue>;

/// The outbox table.
#[derive(Debug, Clone)]
pub struct Outbox {
    client: Client,
    table: String,
}

impl Outbox {
    /// The outbox in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Writes the message unless a row with its id exists. True when it was written now, false
    /// when it was there already.
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails.
    pub async fn record(&self, message: &Message) -> Result<bool, NotificationsError> {
        let text = |value: &str| AttributeValue::S(value.to_owned());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::MESSAGE_ID, text(&message.message_id))
            .item(attr::KIND, text(message.kind.as_str()))
            .item(attr::TO, text(&message.to))
            .item(attr::SUBJECT, text(&message.subject))
            .item(attr::BODY, text(&message.body))
            .item(attr::ORDER_ID, text(&message.order_id))
            .item(attr::CUSTOMER_ID, text(&message.customer_id))
            .item(
                attr::SENT_AT,
                text(&Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
            )
            .condition_expression("attribute_not_exists(#message_id)")
            .expression_attribute_names("#message_id", attr::MESSAGE_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(store_error("PutItem", &message.message_id, context(other))),
            },
        }
    }

    /// The message with this id, if it was sent.
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails; `CorruptMessage` for an unreadable row.
    pub async fn sent(&self, message_id: &str) -> Result<Option<Message>, NotificationsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::MESSAGE_ID, AttributeValue::S(message_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", message_id, context(e)))?;
        output.item().map(message_from).transpose()
    }

    /// Every message sent to `email`, oldest first. A filtered scan of the whole table: for
    /// tests and for an operator answering "what did we send this customer?", never for the
    /// handler (a hot path would need an index on `to`).
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails; `CorruptMessage` for an unreadable row.
    pub async fn sent_to(&self, email: &str) -> Result<Vec<Message>, NotificationsError> {
        let mut rows: Vec<(String, Message)> = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#to = :to")
                .expression_attribute_names("#to", attr::TO)
                .expression_attribute_values(":to", AttributeValue::S(email.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Scan", email, context(e)))?;
            for item in page.items() {
                let sent_at = item
                    .get(attr::SENT_AT)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                rows.push((sent_at, message_from(item)?));
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        // A scan has no order; RFC 3339 UTC timestamps of one width sort as text.
        rows.sort_by(|a, b| (&a.0, &a.1.message_id).cmp(&(&b.0, &b.1.message_id)));
        Ok(rows.into_iter().map(|(_, message)| message).collect())
    }
}

fn message_from(item: &Item) -> Result<Message, NotificationsError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let message_id = text(attr::MESSAGE_ID).unwrap_or_default();
    let corrupt = |reason: String| NotificationsError::CorruptMessage {
        message_id: message_id.clone(),
        reason,
    };
    let required = |name: &str| text(name).ok_or_else(|| corrupt(format!("missing `{name}`")));
    let kind = required(attr::KIND)?;
    Ok(Message {
        kind: MessageKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown kind `{kind}`")))?,
        to: required(attr::TO)?,
        subject: required(attr::SUBJECT)?,
        body: required(attr::BODY)?,
        order_id: required(attr::ORDER_ID)?,
        customer_id: required(attr::CUSTOMER_ID)?,
        message_id: message_id.clone(),
    })
}

fn store_error(operation: &'static str, message_id: &str, message: String) -> NotificationsError {
    NotificationsError::Store {
        operation,
        message_id: message_id.to_owned(),
        message,
    }
}

/// The SDK's error with its whole context, for messages.
fn context(error: impl std::error::Error) -> String {
    DisplayErrorContext(error).to_string()
}
