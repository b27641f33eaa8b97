//! The order-snapshot and invoice tables. Every write is a put conditional on the item's
//! absence, so a repeated write is a no-op that hands back what is stored. The tables live in
//! DynamoDB, or (under `herald dev`) in memory inside the warm process, with the same
//! conditions.
//!
//! - Order snapshots (`order_id`): `customer_id`, `total_minor`, `currency` and `lines`, the
//!   invoice lines the order will be billed with (a list of `{description, quantity,
//!   amount_minor}` maps).
//! - Invoices (`order_id`): the InvoiceIssued data (`invoice_id`, `customer_id`, `payment_id`,
//!   `total_minor`, `currency`, `lines`), `issued_by`, the `event_id` of the PaymentCaptured
//!   delivery that issued it — a retry of that delivery re-emits the same event — and
//!   `announced`, the id of the InvoiceIssued once the bus accepted it: a later run publishes
//!   nothing.

use herald::Outgoing;
use herald::store::{Announced, Key, Table, TableError};
use serde::{Deserialize, Serialize};
use shop_events::{InvoiceIssuedV1, InvoiceLine};
use uuid::Uuid;

use crate::error::BillingError;

/// Both tables' key: the order.
pub const KEY: Key = Key::partition("order_id");

/// What billing keeps of a placed order: enough to invoice it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredInvoice {
    /// What InvoiceIssued carries, its fields the item's attributes.
    #[serde(flatten)]
    pub invoice: InvoiceIssuedV1,
    /// `event_id` of the PaymentCaptured delivery that issued it.
    pub issued_by: Uuid,
    /// The InvoiceIssued, once published.
    #[serde(default, skip_serializing_if = "Announced::is_empty")]
    pub announced: Announced,
}

/// What an attempt to issue an invoice found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// The invoice is written now.
    Issued,
    /// The order already has an invoice.
    AlreadyIssued(StoredInvoice),
}

/// The two tables. Clones share them.
#[derive(Debug, Clone)]
pub struct BillingStore {
    /// Order snapshots (`BILLING_ORDERS_TABLE`).
    pub orders: Table,
    /// Invoices (`INVOICES_TABLE`).
    pub invoices: Table,
}

impl BillingStore {
    /// Writes the order's snapshot unless it has one. Returns false when it had one (a
    /// redelivery, or the order published again): the first snapshot stands.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails.
    pub async fn record_order(&self, order: &OrderSnapshot) -> Result<bool, BillingError> {
        self.orders.insert(order).await.map_err(failed(&order.order_id))
    }

    /// The order's snapshot, if its OrderPlaced has arrived.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails or the snapshot is unreadable.
    pub async fn order(&self, order_id: &str) -> Result<Option<OrderSnapshot>, BillingError> {
        self.orders.get(order_id).await.map_err(failed(order_id))
    }

    /// The order's invoice, if it has one.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails or the invoice is unreadable.
    pub async fn invoice(&self, order_id: &str) -> Result<Option<StoredInvoice>, BillingError> {
        self.invoices.get(order_id).await.map_err(failed(order_id))
    }

    /// Writes the invoice unless its order has one: one invoice per order, whatever the number
    /// of deliveries or their event ids.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails or a standing invoice is unreadable.
    pub async fn issue(&self, stored: &StoredInvoice) -> Result<Issue, BillingError> {
        let standing = self.invoices.insert_or_get(stored).await;
        Ok(match standing.map_err(failed(&stored.invoice.order_id))? {
            None => Issue::Issued,
            Some(invoice) => Issue::AlreadyIssued(invoice),
        })
    }

    /// Records the invoice's `events` as published.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails or the invoice is gone.
    pub async fn announce(&self, order_id: &str, events: &[Outgoing]) -> Result<(), BillingError> {
        self.invoices
            .announce(order_id, None, events)
            .await
            .map_err(failed(order_id))
    }
}

/// A table's error, for the order it was about.
fn failed(order_id: &str) -> impl FnOnce(TableError) -> BillingError {
    let order_id = order_id.to_owned();
    move |source| BillingError::Store { order_id, source }
}
