//! The order-snapshot and invoice tables in DynamoDB: one item per order in each, every write a
//! `PutItem` conditional on the item's absence, every read consistent.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use herald::store::{Item, SdkFailure, n, number, s, text};
use shop_events::{InvoiceIssuedV1, InvoiceLine};

use super::{Issue, OrderSnapshot, StoredInvoice, attr};
use crate::error::BillingError;

/// The two tables.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    client: Client,
    orders_table: String,
    invoices_table: String,
}

impl Tables {
    pub(super) fn new(client: Client, orders_table: impl Into<String>, invoices_table: impl Into<String>) -> Self {
        Self {
            client,
            orders_table: orders_table.into(),
            invoices_table: invoices_table.into(),
        }
    }

    /// [`super::BillingStore::record_order`]: a `PutItem` conditional on the snapshot's absence.
    pub(super) async fn record_order(&self, order: &OrderSnapshot) -> Result<bool, BillingError> {
        let order_id = order.order_id.as_str();
        let result = self
            .client
            .put_item()
            .table_name(&self.orders_table)
            .item(attr::ORDER_ID, s(order_id))
            .item(attr::CUSTOMER_ID, s(&order.customer_id))
            .item(attr::TOTAL_MINOR, n(order.total_minor))
            .item(attr::CURRENCY, s(&order.currency))
            .item(attr::LINES, lines_value(&order.lines))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(store_error("PutItem", order_id, SdkFailure::new(other))),
            },
        }
    }

    /// [`super::BillingStore::order`]: a consistent `GetItem`.
    pub(super) async fn order(&self, order_id: &str) -> Result<Option<OrderSnapshot>, BillingError> {
        let item = self.get(&self.orders_table, order_id).await?;
        item.map(|item| order_from(order_id, &item)).transpose()
    }

    /// [`super::BillingStore::invoice`]: a consistent `GetItem`.
    pub(super) async fn invoice(&self, order_id: &str) -> Result<Option<StoredInvoice>, BillingError> {
        let item = self.get(&self.invoices_table, order_id).await?;
        item.map(|item| invoice_from(order_id, &item)).transpose()
    }

    /// [`super::BillingStore::issue`]: a `PutItem` conditional on the invoice's absence,
    /// returning the stored one when it fails.
    pub(super) async fn issue(&self, stored: &StoredInvoice) -> Result<Issue, BillingError> {
        let invoice = &stored.invoice;
        let order_id = invoice.order_id.as_str();
        let result = self
            .client
            .put_item()
            .table_name(&self.invoices_table)
            .item(attr::ORDER_ID, s(order_id))
            .item(attr::INVOICE_ID, s(&invoice.invoice_id))
            .item(attr::CUSTOMER_ID, s(&invoice.customer_id))
            .item(attr::PAYMENT_ID, s(&invoice.payment_id))
            .item(attr::TOTAL_MINOR, n(invoice.total_minor))
            .item(attr::CURRENCY, s(&invoice.currency))
            .item(attr::LINES, lines_value(&invoice.lines))
            .item(attr::ISSUED_BY, s(stored.issued_by.to_string()))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Issue::Issued),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(refused) => {
                    let found = match refused.item() {
                        Some(item) => Some(invoice_from(order_id, item)?),
                        None => self.invoice(order_id).await?,
                    };
                    // Refused for an invoice that no read finds: the refusal is the error, and a
                    // retry reads the table again.
                    found
                        .map(Issue::AlreadyIssued)
                        .ok_or_else(|| store_error("PutItem", order_id, SdkFailure::new(refused)))
                }
                other => Err(store_error("PutItem", order_id, SdkFailure::new(other))),
            },
        }
    }

    async fn get(&self, table: &str, order_id: &str) -> Result<Option<Item>, BillingError> {
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(attr::ORDER_ID, s(order_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, SdkFailure::new(e)))?;
        Ok(output.item)
    }
}

fn order_from(order_id: &str, item: &Item) -> Result<OrderSnapshot, BillingError> {
    let corrupt = |reason: &str| corrupt("order snapshot", order_id, reason);
    Ok(OrderSnapshot {
        order_id: order_id.to_owned(),
        customer_id: text(item, attr::CUSTOMER_ID).ok_or_else(|| corrupt("no customer_id"))?,
        total_minor: number(item, attr::TOTAL_MINOR).ok_or_else(|| corrupt("no total_minor"))?,
        currency: text(item, attr::CURRENCY).ok_or_else(|| corrupt("no currency"))?,
        lines: lines_from(item).ok_or_else(|| corrupt("a line lacks description, quantity or amount_minor"))?,
    })
}

fn invoice_from(order_id: &str, item: &Item) -> Result<StoredInvoice, BillingError> {
    let corrupt = |reason: &str| corrupt("invoice", order_id, reason);
    let invoice = InvoiceIssuedV1 {
        invoice_id: text(item, attr::INVOICE_ID).ok_or_else(|| corrupt("no invoice_id"))?,
        order_id: order_id.to_owned(),
        customer_id: text(item, attr::CUSTOMER_ID).ok_or_else(|| corrupt("no customer_id"))?,
        payment_id: text(item, attr::PAYMENT_ID).ok_or_else(|| corrupt("no payment_id"))?,
        total_minor: number(item, attr::TOTAL_MINOR).ok_or_else(|| corrupt("no total_minor"))?,
        currency: text(item, attr::CURRENCY).ok_or_else(|| corrupt("no currency"))?,
        lines: lines_from(item).ok_or_else(|| corrupt("a line lacks description, quantity or amount_minor"))?,
    };
    let issued_by = text(item, attr::ISSUED_BY)
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| corrupt("no valid issued_by"))?;
    Ok(StoredInvoice { invoice, issued_by })
}

fn lines_value(lines: &[InvoiceLine]) -> AttributeValue {
    AttributeValue::L(
        lines
            .iter()
            .map(|line| {
                AttributeValue::M(HashMap::from([
                    (attr::DESCRIPTION.to_owned(), s(&line.description)),
                    (attr::QUANTITY.to_owned(), n(line.quantity)),
                    (attr::AMOUNT_MINOR.to_owned(), n(line.amount_minor)),
                ]))
            })
            .collect(),
    )
}

/// The lines, or `None` when any of them is unreadable (an absent list reads as corrupt too).
fn lines_from(item: &Item) -> Option<Vec<InvoiceLine>> {
    item.get(attr::LINES)?
        .as_l()
        .ok()?
        .iter()
        .map(|value| {
            let line = value.as_m().ok()?;
            Some(InvoiceLine {
                description: text(line, attr::DESCRIPTION)?,
                quantity: number(line, attr::QUANTITY)?,
                amount_minor: number(line, attr::AMOUNT_MINOR)?,
            })
        })
        .collect()
}

fn corrupt(what: &'static str, order_id: &str, reason: &str) -> BillingError {
    BillingError::CorruptRecord {
        what,
        order_id: order_id.to_owned(),
        reason: reason.to_owned(),
    }
}

fn store_error(operation: &'static str, order_id: &str, source: SdkFailure) -> BillingError {
    BillingError::Store {
        operation,
        order_id: order_id.to_owned(),
        source,
    }
}
