//! The history table in DynamoDB: an entry written by a `PutItem` conditional on
//! `attribute_not_exists(entry)`, a customer's history read back by a consistent, ascending
//! `Query` of their partition, page after page.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use herald::store::{Item, SdkFailure, n, number, s, text, timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shop_events::ReturnedItem;

use super::{Entry, EntryDetail, EntryKind, attr};
use crate::error::OrderHistoryError;

/// The history table in DynamoDB.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    client: Client,
    /// The history table's name (`HISTORY_TABLE`).
    table: String,
    /// Items per Query page; `None` lets DynamoDB fill 1 MB pages.
    page_size: Option<i32>,
}

impl Tables {
    pub(super) fn new(client: Client, table: String) -> Self {
        Self {
            client,
            table,
            page_size: None,
        }
    }

    /// [`super::HistoryStore::with_page_size`].
    pub(super) fn with_page_size(self, items: i32) -> Self {
        Self {
            page_size: Some(items),
            ..self
        }
    }

    /// [`super::HistoryStore::record`]: one conditional `PutItem`; a failed condition is the
    /// entry already there.
    pub(super) async fn record(&self, entry: &Entry) -> Result<bool, OrderHistoryError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::CUSTOMER_ID, s(&entry.customer_id))
            .item(attr::ENTRY, s(&entry.entry))
            .item(attr::ORDER_ID, s(&entry.order_id))
            .item(attr::KIND, s(entry.kind().as_str()))
            .item(attr::DETAIL, AttributeValue::M(detail_item(&entry.detail)))
            .item(attr::EVENT_ID, s(&entry.event_id))
            .item(attr::OCCURRED_AT, timestamp(entry.occurred_at))
            .condition_expression("attribute_not_exists(#entry)")
            .expression_attribute_names("#entry", attr::ENTRY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(store_error("PutItem", &entry.customer_id, SdkFailure::new(other))),
            },
        }
    }

    /// [`super::HistoryStore::history`]: one consistent, ascending `Query` per page.
    pub(super) async fn history(&self, customer_id: &str) -> Result<Vec<Entry>, OrderHistoryError> {
        let mut entries = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#customer_id = :customer_id")
                .expression_attribute_names("#customer_id", attr::CUSTOMER_ID)
                .expression_attribute_values(":customer_id", s(customer_id))
                .scan_index_forward(true)
                .consistent_read(true)
                .set_limit(self.page_size)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Query", customer_id, SdkFailure::new(e)))?;
            for item in page.items() {
                entries.push(entry_from(customer_id, item)?);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(entries),
            }
        }
    }
}

fn detail_item(detail: &EntryDetail) -> Item {
    match detail {
        EntryDetail::Placed {
            total_minor,
            currency,
            item_count,
        } => HashMap::from([
            (attr::TOTAL_MINOR.to_owned(), n(total_minor)),
            (attr::CURRENCY.to_owned(), s(currency)),
            (attr::ITEM_COUNT.to_owned(), n(item_count)),
        ]),
        EntryDetail::Cancelled { reason } => HashMap::from([(attr::REASON.to_owned(), s(label(reason)))]),
        EntryDetail::Returned { items, reason } => {
            let items = items
                .iter()
                .map(|item| {
                    AttributeValue::M(HashMap::from([
                        (attr::SKU.to_owned(), s(&item.sku)),
                        (attr::QUANTITY.to_owned(), n(item.quantity)),
                    ]))
                })
                .collect();
            HashMap::from([
                (attr::REASON.to_owned(), s(label(reason))),
                (attr::ITEMS.to_owned(), AttributeValue::L(items)),
            ])
        }
    }
}

fn entry_from(customer_id: &str, item: &Item) -> Result<Entry, OrderHistoryError> {
    let entry = text(item, attr::ENTRY).unwrap_or_default();
    let corrupt = |reason: String| OrderHistoryError::CorruptEntry {
        customer_id: customer_id.to_owned(),
        entry: entry.clone(),
        reason,
    };
    let required = |map: &Item, name: &str| text(map, name).ok_or_else(|| corrupt(format!("missing `{name}`")));
    let count = |map: &Item, name: &str| {
        number::<u64>(map, name).ok_or_else(|| corrupt(format!("missing or invalid number `{name}`")))
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
    // Parsed here rather than with `herald::store::time`, so a corrupt entry says why the time
    // does not parse.
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

fn store_error(operation: &'static str, customer_id: &str, source: SdkFailure) -> OrderHistoryError {
    OrderHistoryError::Store {
        operation,
        customer_id: customer_id.to_owned(),
        source,
    }
}
