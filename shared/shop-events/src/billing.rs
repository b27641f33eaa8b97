//! Facts from the billing service, source `shop.billing`.
//!
//! Money is always an integer amount in minor units (cents) of the event's `currency`.

use herald::EventDetail;
use serde::{Deserialize, Serialize};

/// The billing service's EventBridge source.
pub const SOURCE: &str = "shop.billing";

/// An invoice was issued for a paid order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceIssuedV1 {
    /// The invoice, e.g. `inv-1001`.
    pub invoice_id: String,
    /// The order invoiced.
    pub order_id: String,
    /// The customer invoiced.
    pub customer_id: String,
    /// The payment that settled the order, e.g. `pay-9001`.
    pub payment_id: String,
    /// The sum of every line's `amount_minor`.
    pub total_minor: u64,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Products, add-ons, tax and shipping; never empty.
    pub lines: Vec<InvoiceLine>,
}

impl EventDetail for InvoiceIssuedV1 {
    const SOURCE: &'static str = SOURCE;
    const DETAIL_TYPE: &'static str = "InvoiceIssued";
    const VERSION: u32 = 1;

    fn subject(&self) -> Option<&str> {
        Some(&self.order_id)
    }
}

/// One printed line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    /// Line text, e.g. `Wireless Mouse`.
    pub description: String,
    /// Units the line covers; at least 1.
    pub quantity: u32,
    /// The line's total, not a unit price.
    pub amount_minor: u64,
}
