//! The outbox: one row per message sent, keyed by `message_id`, written once — in the DynamoDB
//! table, or in this process's memory under `herald dev` .
//!
//! Every write is conditional on `attribute_not_exists(message_id)`, so writing a message again
//! (a redelivered event) changes nothing and reports that it was already there. Rows hold the
//! whole message — `kind`, `to`, `subject`, `body`, `order_id`, `customer_id` — and `sent_at`.
//! The memory outbox is a [`Table`] in memory: the same rows, the same put-if-absent, the same
//! reading order.

use chrono::{SecondsFormat, Utc};
use herald::store::{Key, Table, TableError};
use serde::{Deserialize, Serialize};

use crate::error::NotificationsError;
use crate::sender::Message;

/// The outbox's key: the message, `<kind>-<cause event_id>`.
pub const KEY: Key = Key::partition("message_id");

/// One outbox row: the message and when it was written.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Row {
    /// The message, its fields the item's attributes.
    #[serde(flatten)]
    message: Message,
    /// As the table stores it (RFC 3339 UTC, always with milliseconds), so rows sort by it as
    /// text; `herald::store::timestamp` drops a zero fraction, which would break that order.
    #[serde(default)]
    sent_at: String,
}

/// The outbox. Clones share the same rows.
#[derive(Debug, Clone)]
pub struct Outbox {
    table: Table,
}

impl Outbox {
    /// The outbox in `table` (`OUTBOX_TABLE`), keyed by [`KEY`].
    pub fn new(table: Table) -> Self {
        Self { table }
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
        self.table.insert(&row).await.map_err(failed(&message.message_id))
    }

    /// The message with this id, if it was sent.
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails or the row is unreadable.
    pub async fn sent(&self, message_id: &str) -> Result<Option<Message>, NotificationsError> {
        let row: Option<Row> = self.table.get(message_id).await.map_err(failed(message_id))?;
        Ok(row.map(|row| row.message))
    }

    /// Every message sent to `email`, oldest first. A filtered scan of the whole table: for
    /// tests and for an operator answering "what did we send this customer?", never for the
    /// handler (a hot path would need an index on `to`).
    ///
    /// # Errors
    /// [`NotificationsError::Store`] when DynamoDB fails or a row is unreadable.
    pub async fn sent_to(&self, email: &str) -> Result<Vec<Message>, NotificationsError> {
        let mut rows: Vec<Row> = self
            .table
            .scan_where("to", email)
            .await
            .map_err(failed(&format!("to {}", herald::sensitive::REDACTED)))?;
        // A scan has no order; RFC 3339 UTC timestamps of one width sort as text.
        rows.sort_by(|a, b| (&a.sent_at, &a.message.message_id).cmp(&(&b.sent_at, &b.message.message_id)));
        Ok(rows.into_iter().map(|row| row.message).collect())
    }
}

/// The table's error, for the message (or address) it was about.
fn failed(message_id: &str) -> impl FnOnce(TableError) -> NotificationsError {
    let message_id = message_id.to_owned();
    move |source| NotificationsError::Store { message_id, source }
}
