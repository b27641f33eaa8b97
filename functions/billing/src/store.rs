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

mod dynamodb;
mod memory;

use aws_sdk_dynamodb::Client;
use herald::store::Stored;
use shop_events::{InvoiceIssuedV1, InvoiceLine};
use uuid::Uuid;

use crate::error::BillingError;
use dynamodb::Tables;
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
    /// In DynamoDB, or inside the warm process (clones share them).
    storage: Stored<Tables, Memory>,
}

impl BillingStore {
    /// A store over the two tables in DynamoDB.
    pub fn new(client: Client, orders_table: impl Into<String>, invoices_table: impl Into<String>) -> Self {
        Self {
            storage: Stored::Dynamo(Tables::new(client, orders_table, invoices_table)),
        }
    }

    /// An empty store in memory, for `herald dev`: nothing external is needed, nothing outlives
    /// the process. Clones share the same snapshots and invoices.
    pub fn memory() -> Self {
        Self {
            storage: Stored::Memory(Memory::default()),
        }
    }

    /// Writes the order's snapshot unless it has one. Returns false when it had one (a
    /// redelivery, or the order published again): the first snapshot stands.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails.
    pub async fn record_order(&self, order: &OrderSnapshot) -> Result<bool, BillingError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.record_order(order).await,
            Stored::Memory(memory) => Ok(memory.record_order(order)),
        }
    }

    /// The order's snapshot, if its OrderPlaced has arrived.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable snapshot.
    pub async fn order(&self, order_id: &str) -> Result<Option<OrderSnapshot>, BillingError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.order(order_id).await,
            Stored::Memory(memory) => Ok(memory.order(order_id)),
        }
    }

    /// The order's invoice, if it has one.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable invoice.
    pub async fn invoice(&self, order_id: &str) -> Result<Option<StoredInvoice>, BillingError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.invoice(order_id).await,
            Stored::Memory(memory) => Ok(memory.invoice(order_id)),
        }
    }

    /// Writes the invoice unless its order has one: one invoice per order, whatever the number
    /// of deliveries or their event ids.
    ///
    /// # Errors
    /// [`BillingError::Store`] when DynamoDB fails; `CorruptRecord` for an unreadable invoice.
    pub async fn issue(&self, stored: &StoredInvoice) -> Result<Issue, BillingError> {
        match &self.storage {
            Stored::Dynamo(tables) => tables.issue(stored).await,
            Stored::Memory(memory) => Ok(memory.issue(stored)),
        }
    }
}
