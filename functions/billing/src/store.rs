//! The order-snapshot and invoice tables. Every write is a put conditional on the item's
//! absence, so a repeated write is a no-op that hands back what is stored. The tables live in
//! DynamoDB, or (under `herald dev`) in memory inside the warm process, with the same
//! conditions.
//!
//! - Order snapshots (`order_id`): `customer_id`, `total_minor`, `currency` and `lines`, the
//!   invoice lines the order will be billed with (a list of `{description, quantity,
//!   amount_minor}` maps).
//! - Invoices (`order_id`): the InvoiceIssued data (`invoice_id`, `customer_id`, `payment_id`,
//!   `total_minor`, `currency`, `lines`) and `issued_by`, the `event_id` of the PaymentCaptured
//!   delivery that issued it — a retry of that delivery re-emits the same event.

mod memory;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use shop_events::{InvoiceIssuedV1, InvoiceLine};
use uuid::Uuid;

use crate::error::BillingError;
use memory::Memory;

/// Attribute names, in one place.
pub mod attr {
    /// Key of both tables.
    pub const ORDER_ID: &str = "order_id";
    /// The order's customer.
    pub const CUSTOMER_ID: &str = "customer_id";
    /// The order's (and the invoice's) total, minor units.
    pub const TOTAL_MINOR: &str = "total_minor";
    /// ISO 4217 code of every amount.
    pub const CURRENCY: &str = "currency";
    /// Invoice lines: a list of `{description, quantity, amount_minor}` maps.
    pub const LINES: &str = "lines";
    /// Line text.
    pub const DESCRIPTION: &str = "description";
    /// Units a line covers.
    pub const QUANTITY: &str = "quantity";
    /// A line's total.
    pub const AMOUNT_MINOR: &str = "amount_minor";
    /// The invoice's id.
    pub const INVOICE_ID: &str = "invoice_id";
    /// The payment the invoice settles.
    pub const PAYMENT_ID: &str = "payment_id";
    /// `event_id` of the PaymentCaptured delivery that issued the invoice.
    pub const ISSUED_BY: &str = "issued_by";
}

type Item = HashMap<String, AttributeValue>;

/// What billing keeps of a placed order: enough to invoice it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSnapshot {
    /// The order.
    pub order_id: String,
    /// Its customer.
    pub customer_id: String,
    /// What the customer pays, minor units of `currency`.
    pub total_minor: u64,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// The lines it will be invoiced with; they add up to `total_minor`.
    pub lines: Vec<InvoiceLine>,
}

/// An invoice as stored: the event's data and the delivery that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    /// What InvoiceIssued carries.
    pub invoice: InvoiceIssuedV1,
    /// `event_id` of the PaymentCaptured delivery that issued it.
    pub issued_by: Uuid,
}

/// What an attempt to issue an invoice found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The invoice is written now.
    Issued,
    /// The order already has an invoice.
    AlreadyIssued(StoredInvoice),
}

/// The two tables.
#[derive(Debug, Clone)]
pub struct BillingStore {
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

impl BillingStore {
    /// A store over the two tables in DynamoDB.
    pub fn new(client: Client, orders_table: impl Into<String>, invoices_table: impl Into<String>) -> Self {
        Self {
            storage: Storage::Dynamo(Tables {
                client,
                orders_table: orders_table.into(),
                invoices_table: invoices_table.into(),
            }),
        }
    }

    /// An empty store in memory, for `herald dev`: nothing external is needed, nothing outlives
    /// the process. Clones share the same snapshots and invoices.
    pub fn memory() -> Self {
        Self {
            storage: Storage::Memory(Memory::default()),
        }
    }

    /// Writes the order's snapshot unless it has one. Returns false when it had one (a
    /// redelivery, or the order published again): the first snapshot stands.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails.
    pub async fn record_order(&self, order: &OrderSnapshot) -> Result<bool, BillingError> {
        match &self.storage {
            Storage::Dynamo(tables) => tables.record_order(order).await,
            Storage::Memory(memory) => Ok(memory.record_order(order)),
        }
    }

    /// The order's snapshot, if its OrderPlaced has arrived.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable snapshot.
    pub async fn order(&self, order_id: &str) -> Result<Option<OrderSnapshot>, BillingError> {
        match &self.storage {
            Storage::Dynamo(tables) => tables.order(order_id).await,
            Storage::Memory(memory) => Ok(memory.order(order_id)),
        }
    }

    /// The order's invoice, if it has one.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable invoice.
    pub async fn invoice(&self, order_id: &str) -> Result<Option<StoredInvoice>, BillingError> {
        match &self.storage {
            Storage::Dynamo(tables) => tables.invoice(order_id).await,
            Storage::Memory(memory) => Ok(memory.invoice(order_id)),
        }
    }

    /// Writes the invoice unless its order has one: one invoice per order, whatever the number
    /// of deliveries or their event ids.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable invoice.
    pub async fn issue(&self, stored: &StoredInvoice) -> Result<Issue, BillingError> {
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
    invoices_table: String,
}

impl Tables {
    /// [`BillingStore::record_order`]: a `PutItem` conditional on the snapshot's absence.
    async fn record_order(&self, order: &OrderSnapshot) -> Result<bool, BillingError> {
        let order_id = order.order_id.as_str();
        let result = self
            .client
            .put_item()
            .table_name(&self.orders_table)
            .item(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .item(attr::CUSTOMER_ID, AttributeValue::S(order.customer_id.clone()))
            .item(attr::TOTAL_MINOR, number(order.total_minor))
            .item(attr::CURRENCY, AttributeValue::S(order.currency.clone()))
            .item(attr::LINES, lines_value(&order.lines))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Ok(false),
                other => Err(store_error("PutItem", order_id, context(other))),
            },
        }
    }

    /// [`BillingStore::order`]: a consistent `GetItem`.
    async fn order(&self, order_id: &str) -> Result<Option<OrderSnapshot>, BillingError> {
        let item = self.get(&self.orders_table, order_id).await?;
        item.map(|item| order_from(order_id, &item)).transpose()
    }

    /// [`BillingStore::invoice`]: a consistent `GetItem`.
    async fn invoice(&self, order_id: &str) -> Result<Option<StoredInvoice>, BillingError> {
        let item = self.get(&self.invoices_table, order_id).await?;
        item.map(|item| invoice_from(order_id, &item)).transpose()
    }

    /// [`BillingStore::issue`]: a `PutItem` conditional on the invoice's absence, returning the
    /// stored one when it fails.
    async fn issue(&self, stored: &StoredInvoice) -> Result<Issue, BillingError> {
        let invoice = &stored.invoice;
        let order_id = invoice.order_id.as_str();
        let result = self
            .client
            .put_item()
            .table_name(&self.invoices_table)
            .item(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .item(attr::INVOICE_ID, AttributeValue::S(invoice.invoice_id.clone()))
            .item(attr::CUSTOMER_ID, AttributeValue::S(invoice.customer_id.clone()))
            .item(attr::PAYMENT_ID, AttributeValue::S(invoice.payment_id.clone()))
            .item(attr::TOTAL_MINOR, number(invoice.total_minor))
            .item(attr::CURRENCY, AttributeValue::S(invoice.currency.clone()))
            .item(attr::LINES, lines_value(&invoice.lines))
            .item(attr::ISSUED_BY, AttributeValue::S(stored.issued_by.to_string()))
            .condition_expression("attribute_not_exists(#order_id)")
            .expression_attribute_names("#order_id", attr::ORDER_ID)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Issue::Issued),
            Err(error) => match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(existing) => {
                    let found = match existing.item() {
                        Some(item) => Some(invoice_from(order_id, item)?),
                        None => self.invoice(order_id).await?,
                    };
                    found
                        .map(Issue::AlreadyIssued)
                        .ok_or_else(|| store_error("PutItem", order_id, "invoice exists but cannot be read".to_owned()))
                }
                other => Err(store_error("PutItem", order_id, context(other))),
            },
        }
    }

    async fn get(&self, table: &str, order_id: &str) -> Result<Option<Item>, BillingError> {
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key(attr::ORDER_ID, AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", order_id, context(e)))?;
        Ok(output.item)
    }
}

fn order_from(order_id: &str, item: &Item) -> Result<OrderSnapshot, BillingError> {
    let corrupt = |reason: &str| corrupt("order snapshot", order_id, reason);
    Ok(OrderSnapshot {
        order_id: order_id.to_owned(),
        customer_id: text(item, attr::CUSTOMER_ID).ok_or_else(|| corrupt("no customer_id"))?,
        total_minor: amount(item, attr::TOTAL_MINOR).ok_or_else(|| corrupt("no total_minor"))?,
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
        total_minor: amount(item, attr::TOTAL_MINOR).ok_or_else(|| corrupt("no total_minor"))?,
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
                    (
                        attr::DESCRIPTION.to_owned(),
                        AttributeValue::S(line.description.clone()),
                    ),
                    (attr::QUANTITY.to_owned(), number(u64::from(line.quantity))),
                    (attr::AMOUNT_MINOR.to_owned(), number(line.amount_minor)),
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
                quantity: amount(line, attr::QUANTITY).and_then(|q| u32::try_from(q).ok())?,
                amount_minor: amount(line, attr::AMOUNT_MINOR)?,
            })
        })
        .collect()
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn amount(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

fn number(n: u64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn corrupt(what: &'static str, order_id: &str, reason: &str) -> BillingError {
    BillingError::CorruptRecord {
        what,
        order_id: order_id.to_owned(),
        reason: reason.to_owned(),
    }
}

fn store_error(operation: &'static str, order_id: &str, message: String) -> BillingError {
    BillingError::Store {
        operation,
        order_id: order_id.to_owned(),
        message,
    }
}

/// The SDK's error with its whole context, for messages.
fn context(error: impl std::error::Error) -> String {
    DisplayErrorContext(error).to_string()
}
