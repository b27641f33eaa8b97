//! The outbox table in DynamoDB: one item per message, written by a `PutItem` conditional on
//! its absence, read consistently.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use herald::store::{Item, SdkFailure, s, text};

use super::{Row, attr};
use crate::error::NotificationsError;
use crate::sender::{Message, MessageKind};

/// The outbox table.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    client: Client,
    table: String,
}

impl Tables {
    pub(super) fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// [`super::Outbox::record`]: a `PutItem` conditional on `attribute_not_exists(message_id)`.
    pub(super) async fn record(&self, row: &Row) -> Result<bool, NotificationsError> {
        let message = &row.message;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::MESSAGE_ID, s(&message.message_id))
            .item(attr::KIND, s(message.kind.as_str()))
            .item(attr::TO, s(&message.to))
            .item(attr::SUBJECT, s(&message.subject))
            .item(attr::BODY, s(&message.body))
            .item(attr::ORDER_ID, s(&message.order_id))
            .item(attr::CUSTOMER_ID, s(&message.customer_id))
            .item(attr::SENT_AT, s(&row.sent_at))
            .condition_expression("attribute_not_exists(#message_id)")
            .expression_attribute_names("#message_id", attr::MESSAGE_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(store_error("PutItem", &message.message_id, SdkFailure::new(other))),
            },
        }
    }

    /// [`super::Outbox::sent`]: a consistent `GetItem`.
    pub(super) async fn sent(&self, message_id: &str) -> Result<Option<Message>, NotificationsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::MESSAGE_ID, s(message_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", message_id, SdkFailure::new(e)))?;
        output.item().map(message_from).transpose()
    }

    /// [`super::Outbox::sent_to`]: a consistent `Scan` filtered on `to`, every page.
    pub(super) async fn sent_to(&self, email: &str) -> Result<Vec<Row>, NotificationsError> {
        let mut rows = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#to = :to")
                .expression_attribute_names("#to", attr::TO)
                .expression_attribute_values(":to", s(email))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Scan", email, SdkFailure::new(e)))?;
            for item in page.items() {
                rows.push(Row {
                    message: message_from(item)?,
                    sent_at: text(item, attr::SENT_AT).unwrap_or_default(),
                });
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(rows),
            }
        }
    }
}

fn message_from(item: &Item) -> Result<Message, NotificationsError> {
    let message_id = text(item, attr::MESSAGE_ID).unwrap_or_default();
    let corrupt = |reason: String| NotificationsError::CorruptMessage {
        message_id: message_id.clone(),
        reason,
    };
    let required = |name: &str| text(item, name).ok_or_else(|| corrupt(format!("missing `{name}`")));
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

fn store_error(operation: &'static str, message_id: &str, source: SdkFailure) -> NotificationsError {
    NotificationsError::Store {
        operation,
        message_id: message_id.to_owned(),
        source,
    }
}
