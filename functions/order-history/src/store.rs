//! The history: one item per order event, in the DynamoDB table or in this process's memory
//! under `herald dev` ([`HistoryStore::memory`]), with the same semantics.
//!
//! The table: partition key `customer_id`, sort key `entry`
//! = `<occurred_at, RFC 3339 UTC with milliseconds>#<event_id>`. Timestamps of one width sort as
//! text, so a query reads a customer's history in the order the facts happened, whatever order
//! their events arrived in; two events of the same millisecond are ordered by `event_id`.
//!
//! Every write is conditional on `attribute_not_exists(entry)`, so writing an event's entry
//! again (a redelivery) changes nothing and reports that it was there. The table lives in
//! DynamoDB (`dynamodb`), or (under `herald dev`) in memory inside the warm process (`memory`),
//! which keeps typed [`Entry`]s per customer in a map ordered by the same sort key, written by
//! the same rule.
//!
//! Items: `customer_id`, `entry`, `order_id`, `kind` (placed, cancelled or returned), `detail`
//! (a map: `total_minor`, `currency`, `item_count` for placed; `reason` for cancelled; `reason`
//! and `items`, a list of `{sku, quantity}`, for returned), `event_id`, `occurred_at`.

mod dynamodb;
mod memory;

use aws_sdk_dynamodb::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use herald::Metadata;
use herald::store::Stored;
use shop_events::{CancelReason, ReturnReason, ReturnedItem};

use crate::error::OrderHistoryError;
use dynamodb::Tables;
use memory::Memory;

/// Attribute names, in one place.
pub mod attr {
    /// Partition key: the customer.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Sort key: `<occurred_at>#<event_id>`.
    pub const ENTRY: &str = "entry";
    /// The order.
    pub const ORDER_ID: &str = "order_id";
    /// `placed`, `cancelled` or `returned`.
    pub const KIND: &str = "kind";
    /// What happened, a map whose fields depend on the kind.
    pub const DETAIL: &str = "detail";
    /// The event the entry records.
    pub const EVENT_ID: &str = "event_id";
    /// When the fact happened, RFC 3339 UTC.
    pub const OCCURRED_AT: &str = "occurred_at";
    /// Placed: the order's total, in minor units.
    pub const TOTAL_MINOR: &str = "total_minor";
    /// Placed: the total's currency.
    pub const CURRENCY: &str = "currency";
    /// Placed: units across all lines.
    pub const ITEM_COUNT: &str = "item_count";
    /// Cancelled and returned: why, as the catalog names it (e.g. `customer_request`).
    pub const REASON: &str = "reason";
    /// Returned: the returned lines.
    pub const ITEMS: &str = "items";
    /// Returned line: the SKU.
    pub const SKU: &str = "sku";
    /// Returned line: units.
    pub const QUANTITY: &str = "quantity";
}

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

    fn parse(text: &str) -> Option<Self> {
        [Self::Placed, Self::Cancelled, Self::Returned]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// What the entry says about the order, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    storage: Stored<Tables, Memory>,
}

impl HistoryStore {
    /// The history in `table`, read in DynamoDB's 1 MB pages.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            storage: Stored::Dynamo(Tables::new(client, table.into())),
        }
    }

    /// An empty history in this process's memory, written and read as the table is.
    pub fn memory() -> Self {
        Self {
            storage: Stored::Memory(Memory::default()),
        }
    }

    /// Reads at most `items` entries per Query page (default: as many as fit in 1 MB), to bound
    /// one response's size; [`HistoryStore::history`] still reads every page. The memory history
    /// has no pages: it is returned unchanged.
    pub fn with_page_size(self, items: i32) -> Self {
        match self.storage {
            Stored::Dynamo(tables) => Self {
                storage: Stored::Dynamo(tables.with_page_size(items)),
            },
            Stored::Memory(_) => self,
        }
    }

    /// Writes the entry unless the customer's history has it. True when it was written now,
    /// false when it was there already.
    ///
    /// # Errors
    /// [`OrderHistoryError::Store`] when DynamoDB fails.
    pub async fn record(&self, entry: &Entry) -> Result<bool, OrderHistoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.record(entry).await,
            Stored::Memory(memory) => Ok(memory.record(entry)),
        }
    }

    /// The customer's whole history, oldest fact first: a consistent, ascending query, page
    /// after page.
    ///
    /// # Errors
    /// [`OrderHistoryError::Store`] when DynamoDB fails; `CorruptEntry` for an unreadable item.
    pub async fn history(&self, customer_id: &str) -> Result<Vec<Entry>, OrderHistoryError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.history(customer_id).await,
            Stored::Memory(memory) => Ok(memory.history(customer_id)),
        }
    }
}
