//! The history: one item per order event, in the DynamoDB table or in this process's memory
//! under `herald dev` ([`HistoryStore::memory`]), with the same semantics.
//!
//! The table: partition key `customer_id`, sort key `entry`
//! = `<occurred_at, RFC 3339 UTC with milliseconds>#<event_id>`. Timestamps of one width sort as
//! text, so a query reads a customer's history in the order the facts happened, whatever order
//! their events arrived in; two events of the same millisecond are ordered by `event_id`.
//!
//! Every write is conditional on `attribute_not_exists(entry)`, so writing an event's entry
//! again (a redelivery) changes nothing and reports that it was there. The memory history keeps
//! typed [`Entry`]s per customer in a map ordered by the same sort key, written by the same rule.
//!
//! Items: `customer_id`, `entry`, `order_id`, `kind` (placed, cancelled or returned), `detail`
//! (a map: `total_minor`, `currency`, `item_count` for placed; `reason` for cancelled; `reason`
//! and `items`, a list of `{sku, quantity}`, for returned), `event_id`, `occurred_at`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use herald::Metadata;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shop_events::{CancelReason, ReturnReason, ReturnedItem};

use crate::error::OrderHistoryError;

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

type Item = HashMap<String, AttributeValue>;

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
    storage: Storage,
}

/// Where the entries are kept.
#[derive(Debug, Clone)]
enum Storage {
    /// The DynamoDB table.
    Dynamo {
        client: Client,
        table: String,
        /// Items per Query page; `None` lets DynamoDB fill 1 MB pages.
        page_size: Option<i32>,
    },
    /// This process's memory: nothing outlives the process.
    Memory(Arc<Mutex<MemoryHistory>>),
}

/// The memory history: customer → sort key → entry, so a customer's entries read in the
/// table's query order, and a second write of a key finds the first.
#[derive(Debug, Default)]
struct MemoryHistory {
    customers: BTreeMap<String, BTreeMap<String, Entry>>,
}

impl HistoryStore {
    /// The history in `table`, read in DynamoDB's 1 MB pages.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            storage: Storage::Dynamo {
                client,
                table: table.into(),
                page_size: None,
            },
        }
    }

    /// An empty history in this process's memory, written and read as the table is.
    pub fn memory() -> Self {
        Self {
            storage: Storage::Memory(Arc::default()),
        }
    }

    /// Reads at most `items` entries per Query page (default: as many as fit in 1 MB), to bound
    /// one response's size; [`HistoryStore::history`] still reads every page. The memory history
    /// has no pages: it is returned unchanged.
    pub fn with_page_size(self, items: i32) -> Self {
        match self.storage {
            Storage::Dynamo { client, table, .. } => Self {
                storage: Storage::Dynamo {
                    client,
                    table,
                    page_size: Some(items),
                },
            },
            Storage::Memory(_) => self,
        }
    }

    /// Writes the entry unless the customer's history has it. True when it was written now,
    /// false when it was there already.
    ///
    /// # Errors
    /// [`OrderHistoryError::Store`] when DynamoDB fails.
    pub async fn record(&self, entry: &Entry) -> Result<bool, OrderHistoryError> {
        match &self.storage {
            Storage::Dynamo { client, table, .. } => put_if_absent(client, table, entry).await,
            Storage::Memory(history) => Ok(lock(history).record(entry)),
        }
    }

    /// The customer's whole history, oldest fact first: a consistent, ascending query, page
    /// after page.
    ///
    /// # Errors
    /// [`OrderHistoryError::Store`] when DynamoDB fails; `CorruptEntry` for an unreadable item.
    pub async fn history(&self, customer_id: &str) -> Result<Vec<Entry>, OrderHistoryError> {
        match &self.storage {
            Storage::Dynamo {
                client,
                table,
                page_size,
            } => query(client, table, *page_size, customer_id).await,
            Storage::Memory(history) => Ok(lock(history).history(customer_id)),
        }
    }
}

impl MemoryHistory {
    /// `attribute_not_exists(entry)` on the item `(customer_id, entry)`: the first write of a key
    /// wins, later ones change nothing.
    fn record(&mut self, entry: &Entry) -> bool {
        let entries = self.customers.entry(entry.customer_id.clone()).or_default();
        if entries.contains_key(&entry.entry) {
            return false;
        }
        entries.insert(entry.entry.clone(), entry.clone());
        true
    }

    /// Ascending by sort key, as the query reads.
    fn history(&self, customer_id: &str) -> Vec<Entry> {
        self.customers
            .get(customer_id)
            .map(|entries| entries.values().cloned().collect())
            .unwrap_or_default()
    }
}

/// The memory history, even if a panic poisoned its lock: every write is one insert, so the
/// entries are whole either way.
fn lock(history: &Mutex<MemoryHistory>) -> MutexGuard<'_, MemoryHistory> {
    history.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn put_if_absent(client: &Client, table: &str, entry: &Entry) -> Result<bool, OrderHistoryError> {
    let text = |value: &str| AttributeValue::S(value.to_owned());
    let result = client
        .put_item()
        .table_name(table)
        .item(attr::CUSTOMER_ID, text(&entry.customer_id))
        .item(attr::ENTRY, text(&entry.entry))
        .item(attr::ORDER_ID, text(&entry.order_id))
        .item(attr::KIND, text(entry.kind().as_str()))
        .item(attr::DETAIL, AttributeValue::M(detail_item(&entry.detail)))
        .item(attr::EVENT_ID, text(&entry.event_id))
        .item(
            attr::OCCURRED_AT,
            text(&entry.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        )
        .condition_expression("attribute_not_exists(#entry)")
        .expression_attribute_names("#entry", attr::ENTRY)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error) => match error.into_service_error() {
            PutItemError::ConditionalCheckFailedException(_) => Ok(false),
            other => Err(store_error("PutItem", &entry.customer_id, context(other))),
        },
    }
}

async fn query(
    client: &Client,
    table: &str,
    page_size: Option<i32>,
    customer_id: &str,
) -> Result<Vec<Entry>, OrderHistoryError> {
    let mut entries = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .key_condition_expression("#customer_id = :customer_id")
            .expression_attribute_names("#customer_id", attr::CUSTOMER_ID)
            .expression_attribute_values(":customer_id", AttributeValue::S(customer_id.to_owned()))
            .scan_index_forward(true)
            .consistent_read(true)
            .set_limit(page_size)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| store_error("Query", customer_id, context(e)))?;
        for item in page.items() {
            entries.push(entry_from(customer_id, item)?);
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(entries),
        }
    }
}

fn detail_item(detail: &EntryDetail) -> Item {
    let text = |value: &str| AttributeValue::S(value.to_owned());
    let number = |n: u64| AttributeValue::N(n.to_string());
    match detail {
        EntryDetail::Placed {
            total_minor,
            currency,
            item_count,
        } => HashMap::from([
            (attr::TOTAL_MINOR.to_owned(), number(*total_minor)),
            (attr::CURRENCY.to_owned(), text(currency)),
            (attr::ITEM_COUNT.to_owned(), number(u64::from(*item_count))),
        ]),
        EntryDetail::Cancelled { reason } => HashMap::from([(attr::REASON.to_owned(), text(&label(reason)))]),
        EntryDetail::Returned { items, reason } => {
            let items = items
                .iter()
                .map(|item| {
                    AttributeValue::M(HashMap::from([
                        (attr::SKU.to_owned(), text(&item.sku)),
                        (attr::QUANTITY.to_owned(), number(u64::from(item.quantity))),
                    ]))
                })
                .collect();
            HashMap::from([
                (attr::REASON.to_owned(), text(&label(reason))),
                (attr::ITEMS.to_owned(), AttributeValue::L(items)),
            ])
        }
    }
}

fn entry_from(customer_id: &str, item: &Item) -> Result<Entry, OrderHistoryError> {
    let text = |map: &Item, name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
    let entry = text(item, attr::ENTRY).unwrap_or_default();
    let corrupt = |reason: String| OrderHistoryError::CorruptEntry {
        customer_id: customer_id.to_owned(),
        entry: entry.clone(),
        reason,
    };
    let required = |map: &Item, name: &str| text(map, name).ok_or_else(|| corrupt(format!("missing `{name}`")));
    let count = |map: &Item, name: &str| -> Result<u64, OrderHistoryError> {
        map.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| corrupt(format!("missing or invalid number `{name}`")))
    };
    let small = |n: u64, name: &str| u32::try_from(n).map_err(|_| corrupt(format!("`{name}` is too large")));
    let reason = |map: &Item| -> Result<String, OrderHistoryError> { required(map, attr::REASON) };
    let unknown = |what: &str, value: &str| corrupt(format!("unknown {what} `{value}`"));

    let kind = required(item, attr::KIND)?;
    let detail = item
        .get(attr::DETAIL)
        .and_then(|v| v.as_m().ok())
        .ok_or_else(|| corrupt(format!("missing `{}`", attr::DETAIL)))?;
    let detail = match EntryKind::parse(&kind).ok_or_else(|| unknown("kind", &kind))? {
        EntryKind::Placed => EntryDetail::Placed {
            total_minor: count(detail, attr::TOTAL_MINOR)?,
            currency: required(detail, attr::CURRENCY)?,
            item_count: small(count(detail, attr::ITEM_COUNT)?, attr::ITEM_COUNT)?,
        },
        EntryKind::Cancelled => {
            let reason = reason(detail)?;
            EntryDetail::Cancelled {
                reason: parse_label(&reason).ok_or_else(|| unknown("cancel reason", &reason))?,
            }
        }
        EntryKind::Returned => {
            let reason = reason(detail)?;
            let items = detail
                .get(attr::ITEMS)
                .and_then(|v| v.as_l().ok())
                .ok_or_else(|| corrupt(format!("missing `{}`", attr::ITEMS)))?
                .iter()
                .map(|line| {
                    let line = line
                        .as_m()
                        .map_err(|_| corrupt("a returned line is not a map".to_owned()))?;
                    Ok(ReturnedItem {
                        sku: required(line, attr::SKU)?,
                        quantity: small(count(line, attr::QUANTITY)?, attr::QUANTITY)?,
                    })
                })
                .collect::<Result<Vec<_>, OrderHistoryError>>()?;
            EntryDetail::Returned {
                items,
                reason: parse_label(&reason).ok_or_else(|| unknown("return reason", &reason))?,
            }
        }
    };
    let occurred_at = required(item, attr::OCCURRED_AT)?;
    Ok(Entry {
        customer_id: customer_id.to_owned(),
        order_id: required(item, attr::ORDER_ID)?,
        detail,
        event_id: required(item, attr::EVENT_ID)?,
        occurred_at: DateTime::parse_from_rfc3339(&occurred_at)
            .map_err(|e| corrupt(format!("`{}` {occurred_at:?}: {e}", attr::OCCURRED_AT)))?
            .with_timezone(&Utc),
        entry: entry.clone(),
    })
}

/// The name a catalogued enum value has in events, e.g. `customer_request`, so the table reads
/// like the catalog and follows it when a variant is added.
fn label<T: Serialize + std::fmt::Debug>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        // Unreachable for the catalog's unit enums; the Rust name is still better than nothing.
        _ => format!("{value:?}"),
    }
}

/// The catalogued enum value named `name`.
fn parse_label<T: DeserializeOwned>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

fn store_error(operation: &'static str, customer_id: &str, message: String) -> OrderHistoryError {
    OrderHistoryError::Store {
        operation,
        customer_id: customer_id.to_owned(),
        message,
    }
}

/// The SDK's error with its whole context, for messages.
fn context(error: impl std::error::Error) -> String {
    DisplayErrorContext(error).to_string()
}
