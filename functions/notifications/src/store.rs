//! The outbox: one row per message sent, keyed by `message_id`, written once — in the DynamoDB
//! table, or in this process's memory under `herald dev` ([`Outbox::memory`]).
//!
//! Every write is conditional on `attribute_not_exists(message_id)`, so writing a message again
//! (a redelivered event) changes nothing and reports that it was already there. Rows hold the
//! whole message — `kind`, `to`, `subject`, `body`, `order_id`, `customer_id` — and `sent_at`.
//! The memory outbox keeps the same rows, typed, with the same put-if-absent and the same
//! reading order.

mod dynamodb;
mod memory;

use aws_sdk_dynamodb::Client;
use chrono::{SecondsFormat, Utc};
use herald::store::Stored;

use crate::error::NotificationsError;
use crate::sender::Message;
use dynamodb::Tables;
use memory::Memory;

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

/// One outbox row: the message and when it was written.
#[derive(Debug, Clone)]
struct Row {
    message: Message,
    /// As the table stores it (RFC 3339 UTC, always with milliseconds), so rows sort by it as
    /// text; `herald::store::timestamp` drops a zero fraction, which would break that order.
    sent_at: String,
}

/// The outbox. Clones share the same rows.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// In DynamoDB, or inside the warm process (clones share its rows).
    storage: Stored<Tables, Memory>,
}

impl Outbox {
    /// The outbox in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            storage: Stored::Dynamo(Tables::new(client, table)),
        }
    }

    /// An empty outbox in this process's memory, written and read as the table is.
    pub fn memory() -> Self {
        Self {
            storage: Stored::Memory(Memory::default()),
        }
    }

    /// Writes the message unless a row with its id exists. True when it was written now, false
    /// when it was there already.
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails.
    pub async fn record(&self, message: &Message) -> Result<bool, NotificationsError> {
        let row = Row {
            message: message.clone(),
            sent_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        match &self.storage {
            Stored::Dynamo(tables) => tables.record(&row).await,
            Stored::Memory(memory) => Ok(memory.record(row)),
        }
    }

    /// The message with this id, if it was sent.
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails; `CorruptMessage` for an unreadable row.
    pub async fn sent(&self, message_id: &str) -> Result<Option<Message>, NotificationsError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.sent(message_id).await,
            Stored::Memory(memory) => Ok(memory.sent(message_id)),
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
            Stored::Dynamo(tables) => tables.sent_to(email).await?,
            Stored::Memory(memory) => memory.sent_to(email),
        };
        Ok(oldest_first(rows))
    }
}

/// Rows sorted by when they were written, then by id: a scan has no order, and RFC 3339 UTC
/// timestamps of one width sort as text. Both backends read through this.
fn oldest_first(mut rows: Vec<Row>) -> Vec<Message> {
    rows.sort_by(|a, b| (&a.sent_at, &a.message.message_id).cmp(&(&b.sent_at, &b.message.message_id)));
    rows.into_iter().map(|row| row.message).collect()
}
