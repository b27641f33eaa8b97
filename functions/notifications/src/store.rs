//! The outbox: one row per message sent, keyed by `message_id`, written once — in the DynamoDB
//! table, or in this process's memory under `herald dev` ([`Outbox::memory`]).
//!
//! Every write is conditional on `attribute_not_exists(message_id)`, so writing a message again
//! (a redelivered event) changes nothing and reports that it was already there. Rows hold the
//! whole message — `kind`, `to`, `subject`, `body`, `order_id`, `customer_id` — and `sent_at`.
//! The memory outbox keeps the same rows, typed, with the same put-if-absent and the same
//! reading order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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

/// The outbox. Clones share the same rows.
#[derive(Debug, Clone)]
pub struct Outbox {
    storage: Storage,
}

/// Where the rows are kept.
#[derive(Debug, Clone)]
enum Storage {
    /// The DynamoDB table.
    Dynamo { client: Client, table: String },
    /// This process's memory: nothing outlives the process.
    Memory(Arc<Mutex<MemoryOutbox>>),
}

/// The memory outbox's rows, by message id: the key the table's condition is on.
#[derive(Debug, Default)]
struct MemoryOutbox {
    rows: BTreeMap<String, Row>,
}

/// One memory row: the message and when it was written.
#[derive(Debug, Clone)]
struct Row {
    message: Message,
    /// As the table stores it (RFC 3339 UTC, milliseconds), so reads sort as the table's do.
    sent_at: String,
}

impl Outbox {
    /// The outbox in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            storage: Storage::Dynamo {
                client,
                table: table.into(),
            },
        }
    }

    /// An empty outbox in this process's memory, written and read as the table is.
    pub fn memory() -> Self {
        Self {
            storage: Storage::Memory(Arc::default()),
        }
    }

    /// Writes the message unless a row with its id exists. True when it was written now, false
    /// when it was there already.
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails.
    pub async fn record(&self, message: &Message) -> Result<bool, NotificationsError> {
        let sent_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
        match &self.storage {
            Storage::Dynamo { client, table } => put_if_absent(client, table, message, sent_at).await,
            Storage::Memory(outbox) => Ok(lock(outbox).record(message, sent_at)),
        }
    }

    /// The message with this id, if it was sent.
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails; `CorruptMessage` for an unreadable row.
    pub async fn sent(&self, message_id: &str) -> Result<Option<Message>, NotificationsError> {
        match &self.storage {
            Storage::Dynamo { client, table } => get(client, table, message_id).await,
            Storage::Memory(outbox) => Ok(lock(outbox).rows.get(message_id).map(|row| row.message.clone())),
        }
    }

    /// Every message sent to `email`, oldest first. A filtered scan of the whole table: for
    /// tests and for an operator answering "what did we send this customer?", never for the
    /// handler (a hot path would need an index on `to`).
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails; `CorruptMessage` for an unreadable row.
    pub async fn sent_to(&self, email: &str) -> Result<Vec<Message>, NotificationsError> {
        let rows = match &self.storage {
            Storage::Dynamo { client, table } => scan_to(client, table, email).await?,
            Storage::Memory(outbox) => lock(outbox).sent_to(email),
        };
        Ok(oldest_first(rows))
    }
}

impl MemoryOutbox {
    /// `attribute_not_exists(message_id)`: the first write of an id wins, later ones change nothing.
    fn record(&mut self, message: &Message, sent_at: String) -> bool {
        if self.rows.contains_key(&message.message_id) {
            return false;
        }
        let row = Row {
            message: message.clone(),
            sent_at,
        };
        self.rows.insert(message.message_id.clone(), row);
        true
    }

    fn sent_to(&self, email: &str) -> Vec<Row> {
        self.rows
            .values()
            .filter(|row| row.message.to == email)
            .cloned()
            .collect()
    }
}

/// The memory outbox, even if a panic poisoned its lock: every write is one insert, so the rows
/// are whole either way.
fn lock(outbox: &Mutex<MemoryOutbox>) -> MutexGuard<'_, MemoryOutbox> {
    outbox.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Rows sorted by when they were written, then by id: a scan has no order, and RFC 3339 UTC
/// timestamps of one width sort as text. Both backends read through this.
fn oldest_first(mut rows: Vec<Row>) -> Vec<Message> {
    rows.sort_by(|a, b| (&a.sent_at, &a.message.message_id).cmp(&(&b.sent_at, &b.message.message_id)));
    rows.into_iter().map(|row| row.message).collect()
}

async fn put_if_absent(
    client: &Client,
    table: &str,
    message: &Message,
    sent_at: String,
) -> Result<bool, NotificationsError> {
    let text = |value: &str| AttributeValue::S(value.to_owned());
    let result = client
        .put_item()
        .table_name(table)
        .item(attr::MESSAGE_ID, text(&message.message_id))
        .item(attr::KIND, text(message.kind.as_str()))
        .item(attr::TO, text(&message.to))
        .item(attr::SUBJECT, text(&message.subject))
        .item(attr::BODY, text(&message.body))
        .item(attr::ORDER_ID, text(&message.order_id))
        .item(attr::CUSTOMER_ID, text(&message.customer_id))
        .item(attr::SENT_AT, AttributeValue::S(sent_at))
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

async fn get(client: &Client, table: &str, message_id: &str) -> Result<Option<Message>, NotificationsError> {
    let output = client
        .get_item()
        .table_name(table)
        .key(attr::MESSAGE_ID, AttributeValue::S(message_id.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| store_error("GetItem", message_id, context(e)))?;
    output.item().map(message_from).transpose()
}

async fn scan_to(client: &Client, table: &str, email: &str) -> Result<Vec<Row>, NotificationsError> {
    let mut rows = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
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
            rows.push(Row {
                message: message_from(item)?,
                sent_at,
            });
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(rows),
        }
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
