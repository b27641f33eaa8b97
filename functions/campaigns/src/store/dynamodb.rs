//! The customer-orders and voucher tables in DynamoDB: every write is a `PutItem` conditional on
//! the item's absence that hands back the stored item when refused, every read is consistent.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use herald::store::{Item, SdkFailure, n, number, s, text, time, timestamp};
use shop_events::{VoucherIssuedV1, VoucherRule};

use super::{Issue, StoredVoucher, attr};
use crate::error::CampaignsError;
use crate::rules::PlacedOrder;

/// The two tables in DynamoDB.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    pub(super) client: Client,
    /// `CAMPAIGN_ORDERS_TABLE`.
    pub(super) orders_table: String,
    /// `VOUCHERS_TABLE`.
    pub(super) vouchers_table: String,
}

impl Tables {
    /// [`super::CampaignStore::record_order`]: a `PutItem` conditional on the order's absence,
    /// returning the stored one when it fails.
    pub(super) async fn record_order(
        &self,
        customer_id: &str,
        order: &PlacedOrder,
    ) -> Result<PlacedOrder, CampaignsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.orders_table)
            .item(attr::CUSTOMER_ID, s(customer_id))
            .item(attr::ORDER_ID, s(&order.order_id))
            .item(attr::TOTAL_MINOR, n(order.total_minor))
            .item(attr::CURRENCY, s(&order.currency))
            .item(attr::PLACED_AT, timestamp(order.placed_at))
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
                other => Err(store_error("PutItem", &order.order_id, other)),
            },
        }
    }

    /// [`super::CampaignStore::orders`]: a consistent `Query` of the customer's partition, every
    /// page.
    pub(super) async fn orders(&self, customer_id: &str) -> Result<Vec<PlacedOrder>, CampaignsError> {
        let pages: Vec<_> = self
            .client
            .query()
            .table_name(&self.orders_table)
            .key_condition_expression("#customer_id = :customer_id")
            .expression_attribute_names("#customer_id", attr::CUSTOMER_ID)
            .expression_attribute_values(":customer_id", s(customer_id))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        pages
            .into_iter()
            .map(|item| {
                let item = item.map_err(|e| store_error("Query", customer_id, e))?;
                let order_id = text(&item, attr::ORDER_ID).unwrap_or_default();
                order_from(&order_id, &item)
            })
            .collect()
    }

    /// [`super::CampaignStore::voucher`]: a consistent `GetItem`.
    pub(super) async fn voucher(&self, order_id: &str) -> Result<Option<StoredVoucher>, CampaignsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.vouchers_table)
            .key(attr::QUALIFYING_ORDER_ID, s(order_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, e))?;
        output.item().map(|item| voucher_from(order_id, item)).transpose()
    }

    /// [`super::CampaignStore::issue`]: a `PutItem` conditional on the voucher's absence,
    /// returning the stored one when it fails.
    pub(super) async fn issue(&self, stored: &StoredVoucher) -> Result<Issue, CampaignsError> {
        let voucher = &stored.voucher;
        let order_id = voucher.qualifying_order_id.as_str();
        let result = self
            .client
            .put_item()
            .table_name(&self.vouchers_table)
            .item(attr::QUALIFYING_ORDER_ID, s(order_id))
            .item(attr::VOUCHER_ID, s(&voucher.voucher_id))
            .item(attr::CUSTOMER_ID, s(&voucher.customer_id))
            .item(attr::RULE, s(rule_name(voucher.rule)))
            .item(attr::VALUE_MINOR, n(voucher.value_minor))
            .item(attr::CURRENCY, s(&voucher.currency))
            .item(attr::VALID_UNTIL, timestamp(voucher.valid_until))
            .item(attr::ISSUED_BY, s(stored.issued_by.to_string()))
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
                        .ok_or_else(|| vanished("PutItem", order_id, "voucher"))
                }
                other => Err(store_error("PutItem", order_id, other)),
            },
        }
    }

    /// The order a refused `PutItem` collided with, read consistently.
    async fn order(&self, customer_id: &str, order_id: &str) -> Result<PlacedOrder, CampaignsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.orders_table)
            .key(attr::CUSTOMER_ID, s(customer_id))
            .key(attr::ORDER_ID, s(order_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, e))?;
        match output.item() {
            Some(item) => order_from(order_id, item),
            None => Err(vanished("GetItem", order_id, "order")),
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
        total_minor: number(item, attr::TOTAL_MINOR).ok_or_else(|| corrupt("no total_minor"))?,
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
        value_minor: number(item, attr::VALUE_MINOR).ok_or_else(|| corrupt("no value_minor"))?,
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

fn store_error(
    operation: &'static str,
    key: &str,
    error: impl std::error::Error + Send + Sync + 'static,
) -> CampaignsError {
    CampaignsError::Store {
        operation,
        key: key.to_owned(),
        source: SdkFailure::new(error),
    }
}

fn vanished(operation: &'static str, key: &str, what: &'static str) -> CampaignsError {
    CampaignsError::Vanished {
        operation,
        key: key.to_owned(),
        what,
    }
}
