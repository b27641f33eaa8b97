//! The history: one item per order event, in the DynamoDB table or in this process's memory
//! under `herald dev`, with the same semantics.
//!
//! The table: partition key `customer_id`, sort key `entry`
//! = `<occurred_at, RFC 3339 UTC with milliseconds>#<event_id>`. Timestamps of one width sort as
//! text, so a query reads a customer's history in the order the facts happened, whatever order
//! their events arrived in; two events of the same millisecond are ordered by `event_id`.
//!
//! Every write is conditional on `attribute_not_exists(entry)`, so writing an event's entry
//! again (a redelivery) changes nothing and reports that it was there. The table is a
//! [`Table`]: in DynamoDB, or (under `herald dev`) in memory inside the warm process, ordered by
//! the same sort key and written by the same rule.
//!
//! Items: `customer_id`, `entry`, `order_id`, `detail` (a map: its `kind`, placed, cancelled or
//! returned, and `total_minor`, `currency`, `item_count` for placed; `reason` for cancelled;
//! `reason` and `items`, a list of `{sku, quantity}`, for returned), `event_id`, `occurred_at`.

use chrono::{DateTime, SecondsFormat, Utc};
use herald::Metadata;
use herald::store::{Key, Table, TableError};
use serde::{Deserialize, Serialize};
use shop_events::{CancelReason, ReturnReason, ReturnedItem};

use crate::error::OrderHistoryError;

/// The table's key: the customer, then `<occurred_at>#<event_id>`.
pub const KEY: Key = Key::partition("customer_id").sorted_by("entry");

/// What kind of fact an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// The order was placed.
    Placed,
    /// The order was cancelled.
    Cancelled,
    /// Items of the order came back.
    Returned,
}

impl EntryKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::Cancelled => "cancelled",
            Self::Returned => "returned",
        }
    }
}

/// What the entry says about the order, by kind (stored with its `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EntryDetail {
    /// Placed: the summary every OrderPlaced version carries.
    Placed {
        /// The order's total, in minor units.
        total_minor: u64,
        /// Its currency.
        currency: String,
        /// Units across all lines.
        item_count: u32,
    },
    /// Cancelled: why.
    Cancelled {
        /// Why.
        reason: CancelReason,
    },
    /// Returned: what came back, and why.
    Returned {
        /// The returned lines.
        items: Vec<ReturnedItem>,
        /// Why.
        reason: ReturnReason,
    },
}

impl EntryDetail {
    /// The kind of fact.
    pub fn kind(&self) -> EntryKind {
        match self {
            Self::Placed { .. } => EntryKind::Placed,
            Self::Cancelled { .. } => EntryKind::Cancelled,
            Self::Returned { .. } => EntryKind::Returned,
        }
    }
}

/// One entry of a customer's history: one order event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The customer.
    pub customer_id: String,
    /// The sort key, `<occurred_at>#<event_id>` ([`Entry::key`]).
    pub entry: String,
    /// The order.
    pub order_id: String,
    /// What happened.
    pub detail: EntryDetail,
    /// The event recorded.
    pub event_id: String,
    /// When it happened, in the producer's clock.
    pub occurred_at: DateTime<Utc>,
}

impl Entry {
    /// The entry recording the event with metadata `cause`.
    pub fn of(cause: &Metadata, customer_id: &str, order_id: &str, detail: EntryDetail) -> Self {
        Self {
            customer_id: customer_id.to_owned(),
            entry: Self::key(cause),
            order_id: order_id.to_owned(),
            detail,
            event_id: cause.event_id.to_string(),
            occurred_at: cause.occurred_at,
        }
    }

    /// The sort key of the event with metadata `cause`: `<occurred_at>#<event_id>`, the time in
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-02T10:14:59.987Z#7c1e4b2a-…`.
    pub fn key(cause: &Metadata) -> String {
        format!(
            "{}#{}",
            cause.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            cause.event_id
        )
    }

    /// The kind of fact.
    pub fn kind(&self) -> EntryKind {
        self.detail.kind()
    }
}

/// The history. Clones share the same entries.
#[derive(Debug, Clone)]
pub struct HistoryStore {
    table: Table,
}

impl HistoryStore {
    /// The history in `table` (`HISTORY_TABLE`), keyed by [`KEY`].
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// Reads at most `items` entries per Query page (default: as many as fit in 1 MB), to bound
    /// one response's size; [`HistoryStore::history`] still reads every page.
    #[must_use]
    pub fn with_page_size(self, items: i32) -> Self {
        Self::new(self.table.with_page_size(items))
    }

    /// Writes the entry unless the customer's history has it. True when it was written now,
    /// false when it was there already.
    ///
    /// # Errors
    /// [`OrderHistoryError::Store`] when DynamoDB fails.
    pub async fn record(&self, entry: &Entry) -> Result<bool, OrderHistoryError> {
        self.table.insert(entry).await.map_err(failed(&entry.customer_id))
    }

    /// The customer's whole history, oldest fact first: a consistent, ascending query, page
    /// after page.
    ///
    /// # Errors
    /// [`OrderHistoryError::Store`] when DynamoDB fails or an entry is unreadable.
    pub async fn history(&self, customer_id: &str) -> Result<Vec<Entry>, OrderHistoryError> {
        self.table.query(customer_id).await.map_err(failed(customer_id))
    }
}

/// The table's error, for the customer whose history it was.
fn failed(customer_id: &str) -> impl FnOnce(TableError) -> OrderHistoryError {
    let customer_id = customer_id.to_owned();
    move |source| OrderHistoryError::Store { customer_id, source }
}
