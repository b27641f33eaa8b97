//! The customer-orders and voucher tables. Every write is a put conditional on the item's
//! absence, so a repeated write is a no-op that hands back what is stored. The tables live in
//! DynamoDB, or (under `herald dev`) in memory inside the warm process, with the same
//! conditions.
//!
//! - Customer orders (`customer_id`, sort key `order_id`): `total_minor`, `currency`,
//!   `placed_at` (RFC 3339, UTC).
//! - Vouchers (`qualifying_order_id`): the VoucherIssued data (`voucher_id`, `customer_id`,
//!   `rule`, `value_minor`, `currency`, `valid_until`) and `issued_by`, the `event_id` of the
//!   OrderPlaced delivery that issued it — a retry of that delivery re-emits the same event.

mod memory;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, SecondsFormat, Utc};
use shop_events::{VoucherIssuedV1, VoucherRule};
use uuid::Uuid;

use crate::error::CampaignsError;
use crate::rules::PlacedOrder;
use memory::Memory;

/// Attribute names, in one place.
pub mod attr {
    /// Customer-orders partition key.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// Customer-orders sort key.
    pub const ORDER_ID: &str = "order_id";
    /// The order's total, minor units.
    pub const TOTAL_MINOR: &str = "total_minor";
    /// ISO 4217 code of the order's total or the voucher's value.
    pub const CURRENCY: &str = "currency";
    /// When the order was placed.
    pub const PLACED_AT: &str = "placed_at";
    /// Vouchers key.
    pub const QUALIFYING_ORDER_ID: &str = "qualifying_order_id";
    /// The voucher's id.
    pub const VOUCHER_ID: &str = "voucher_id";
    /// The rule met: `third_order` or `big_spender`.
    pub const RULE: &str = "rule";
    /// What the voucher is worth, minor units.
    pub const VALUE_MINOR: &str = "value_minor";
    /// Last moment the voucher can be redeemed.
    pub const VALID_UNTIL: &str = "valid_until";
    /// `event_id` of the OrderPlaced delivery that issued the voucher.
    pub const ISSUED_BY: &str = "issued_by";
}

type Item = HashMap<String, AttributeValue>;

/// A voucher as stored: the event's data and the delivery that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVoucher {
    /// What VoucherIssued carries.
    pub voucher: VoucherIssuedV1,
    /// `event_id` of the OrderPlaced delivery that issued it.
    pub issued_by: Uuid,
}

/// What an attempt to issue a voucher found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The voucher is written now.
    Issued,
    /// The order already has this voucher.
    AlreadyIssued(StoredVoucher),
}

/// The two tables.
#[derive(Debug, Clone)]
pub struct CampaignStore {
    storage: Storage,
}

/// Where the tables are kept.
#[derive(Debug, Clone)]
enum Storage {
    /// In DynamoDB.
    Dynamo(Tables),
    /// Inside the warm process; clones share them.
    Memory(Memory),
}

impl CampaignStore {
    /// A store over the two tables in DynamoDB.
    pub fn new(client: Client, orders_table: impl Into<String>, vouchers_table: impl Into<String>) -> Self {
        Self {
            storage: Storage::Dynamo(Tables {
                client,
                orders_table: orders_table.into(),
                vouchers_table: vouchers_table.into(),
            }),
        }
    }

    /// An empty store in memory, for `herald dev`: nothing external is needed, nothing outlives
    /// the process. Clones share the same orders and vouchers.
    pub fn memory() -> Self {
        Self {
            storage: Storage::Memory(Memory::default()),
        }
    }

    /// Records the customer's order unless it is recorded already; returns the order as stored
    /// (the first recording wins, so every delivery judges the order by the same `placed_at`).
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable order.
    pub async fn record_order(&self, customer_id: &str, order: &PlacedOrder) -> Result<PlacedOrder, CampaignsError> {
        match &self.storage {
            Storage::Dynamo(tables) => tables.record_order(customer_id, order).await,
            Storage::Memory(memory) => Ok(memory.record_order(customer_id, order)),
        }
    }

    /// Every recorded order of the customer, in `order_id` order, read consistently (so the
    /// order just recorded is among them). The rules pick the window out of them.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable order.
    pub async fn orders(&self, customer_id: &str) -> Result<Vec<PlacedOrder>, CampaignsError> {
        match &self.storage {
            Storage::Dynamo(tables) => tables.orders(customer_id).await,
            Storage::Memory(memory) => Ok(memory.orders(customer_id)),
        }
    }

    /// The voucher the order earned, if any.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable voucher.
    pub async fn voucher(&self, order_id: &str) -> Result<Option<StoredVoucher>, CampaignsError> {
        match &self.storage {
            Storage::Dynamo(tables) => tables.voucher(order_id).await,
            Storage::Memory(memory) => Ok(memory.voucher(order_id)),
        }
    }

    /// Writes the voucher unless its order has one: one voucher per qualifying order, whatever
    /// the number of deliveries or their event ids.
    ///
    /// # Errors
    /// [`CampaignsError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable voucher.
    pub async fn issue(&self, stored: &StoredVoucher) -> Result<Issue, CampaignsError> {
        match &self.storage {
            Storage::Dynamo(tables) => tables.issue(stored).await,
            Storage::Memory(memory) => Ok(memory.issue(stored)),
        }
    }
}

/// The two tables in DynamoDB.
#[derive(Debug, Clone)]
struct Tables {
    client: Client,
    orders_table: String,
    vouchers_table: String,
}

impl Tables {
    /// [`CampaignStore::record_order`]: a `PutItem` conditional on the order's absence,
    /// returning the stored one when it fails.
    async fn record_order(&self, customer_id: &str, order: &PlacedOrder) -> Result<PlacedOrder, CampaignsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.orders_table)
            .item(attr::CUSTOMER_ID, AttributeValue::S(customer_id.to_owned()))
            .item(attr::ORDER_ID, AttributeValue::S(order.order_id.clone()))
            .item(attr::TOTAL_MINOR, number(order.total_minor))
            .item(attr::CURRENCY, AttributeValue::S(order.currency.clone()))
            .item(attr::PLACED_AT, AttributeValue::S(timestamp(order.placed_at)))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(order.clone()),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(existing) => match existing.item() {
                    Some(item) => order_from(&order.order_id, item),
                    None => self.order(customer_id, &order.order_id).await,
                },
                other => Err(store_error("PutItem", &order.order_id, context(other))),
            },
        }
    }

    /// [`CampaignStore::orders`]: a consistent `Query` of the customer's partition, every page.
    async fn orders(&self, customer_id: &str) -> Result<Vec<PlacedOrder>, CampaignsError> {
        let pages: Vec<_> = self
            .client
            .query()
            .table_name(&self.orders_table)
            .key_condition_expression("#customer_id = :customer_id")
            .expression_attribute_names("#customer_id", attr::CUSTOMER_ID)
            .expression_attribute_values(":customer_id", AttributeValue::S(customer_id.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        pages
            .into_iter()
            .map(|item| {
                let item = item.map_err(|e| store_error("Query", customer_id, context(e)))?;
                let order_id = text(&item, attr::ORDER_ID).unwrap_or_default();
                order_from(&order_id, &item)
            })
            .collect()
    }

    /// [`CampaignStore::voucher`]: a consistent `GetItem`.
    async fn voucher(&self, order_id: &str) -> Result<Option<StoredVoucher>, CampaignsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.vouchers_table)
            .key(attr::QUALIFYING_ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, context(e)))?;
        output.item().map(|item| voucher_from(order_id, item)).transpose()
    }

    /// [`CampaignStore::issue`]: a `PutItem` conditional on the voucher's absence, returning the
    /// stored one when it fails.
    async fn issue(&self, stored: &StoredVoucher) -> Result<Issue, CampaignsError> {
        let voucher = &stored.voucher;
        let order_id = voucher.qualifying_order_id.as_str();
        let result = self
            .client
            .put_item()
            .table_name(&self.vouchers_table)
            .item(attr::QUALIFYING_ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .item(attr::VOUCHER_ID, AttributeValue::S(voucher.voucher_id.clone()))
            .item(attr::CUSTOMER_ID, AttributeValue::S(voucher.customer_id.clone()))
            .item(attr::RULE, AttributeValue::S(rule_name(voucher.rule).to_owned()))
            .item(attr::VALUE_MINOR, number(voucher.value_minor))
            .item(attr::CURRENCY, AttributeValue::S(voucher.currency.clone()))
            .item(attr::VALID_UNTIL, AttributeValue::S(timestamp(voucher.valid_until)))
            .item(attr::ISSUED_BY, AttributeValue::S(stored.issued_by.to_string()))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::QUALIFYING_ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Issue::Issued),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(existing) => {
                    let found = match existing.item() {
                        Some(item) => Some(voucher_from(order_id, item)?),
                        None => self.voucher(order_id).await?,
                    };
                    found
                        .map(Issue::AlreadyIssued)
                        .ok_or_else(|| store_error("PutItem", order_id, "voucher exists but cannot be read".to_owned()))
                }
                other => Err(store_error("PutItem", order_id, context(other))),
            },
        }
    }

    async fn order(&self, customer_id: &str, order_id: &str) -> Result<PlacedOrder, CampaignsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.orders_table)
            .key(attr::CUSTOMER_ID, AttributeValue::S(customer_id.to_owned()))
            .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, context(e)))?;
        match output.item() {
            Some(item) => order_from(order_id, item),
            None => Err(store_error(
                "GetItem",
                order_id,
                "order exists but cannot be read".to_owned(),
            )),
        }
    }
}

fn order_from(order_id: &str, item: &Item) -> Result<PlacedOrder, CampaignsError> {
    let corrupt = |reason: &str| CampaignsError::CorruptRecord {
        what: "order",
        key: order_id.to_owned(),
        reason: reason.to_owned(),
    };
    Ok(PlacedOrder {
        order_id: text(item, attr::ORDER_ID).ok_or_else(|| corrupt("no order_id"))?,
        total_minor: amount(item, attr::TOTAL_MINOR).ok_or_else(|| corrupt("no total_minor"))?,
        currency: text(item, attr::CURRENCY).ok_or_else(|| corrupt("no currency"))?,
        placed_at: time(item, attr::PLACED_AT).ok_or_else(|| corrupt("no valid placed_at"))?,
    })
}

fn voucher_from(order_id: &str, item: &Item) -> Result<StoredVoucher, CampaignsError> {
    let corrupt = |reason: &str| CampaignsError::CorruptRecord {
        what: "voucher of order",
        key: order_id.to_owned(),
        reason: reason.to_owned(),
    };
    let voucher = VoucherIssuedV1 {
        voucher_id: text(item, attr::VOUCHER_ID).ok_or_else(|| corrupt("no voucher_id"))?,
        customer_id: text(item, attr::CUSTOMER_ID).ok_or_else(|| corrupt("no customer_id"))?,
        qualifying_order_id: order_id.to_owned(),
        rule: text(item, attr::RULE)
            .as_deref()
            .and_then(parse_rule)
            .ok_or_else(|| corrupt("missing or unknown rule"))?,
        value_minor: amount(item, attr::VALUE_MINOR).ok_or_else(|| corrupt("no value_minor"))?,
        currency: text(item, attr::CURRENCY).ok_or_else(|| corrupt("no currency"))?,
        valid_until: time(item, attr::VALID_UNTIL).ok_or_else(|| corrupt("no valid valid_until"))?,
    };
    let issued_by = text(item, attr::ISSUED_BY)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt("no valid issued_by"))?;
    Ok(StoredVoucher { voucher, issued_by })
}

fn rule_name(rule: VoucherRule) -> &'static str {
    match rule {
        VoucherRule::ThirdOrder => "third_order",
        VoucherRule::BigSpender => "big_spender",
    }
}

fn parse_rule(name: &str) -> Option<VoucherRule> {
    [VoucherRule::ThirdOrder, VoucherRule::BigSpender]
        .into_iter()
        .find(|rule| rule_name(*rule) == name)
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn amount(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

fn time(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// RFC 3339 in UTC at the instant's own precision, so it reads back exactly.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn store_error(operation: &'static str, key: &str, message: String) -> CampaignsError {
    CampaignsError::Store {
        operation,
        key: key.to_owned(),
        message,
    }
}

/// The SDK's error with its whole context, for messages.
fn context(error: impl std::error::Error) -> String {
    DisplayErrorContext(error).to_string()
}
